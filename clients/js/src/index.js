// The notify.v1 client for browsers and Node >= 20: one connection at a time, kept alive,
// refreshed, resumed without gaps. Same behaviour as clients/python (docs/clients.md):
// - connects with the subprotocols "notify.v1" and the token from getToken() (called for every
//   connection, so a reconnect always carries a fresh token);
// - reconnects after any close with capped exponential backoff and jitter, and by itself before
//   API Gateway's 2-hour limit (maxConnectionMs);
// - keeps the connection alive within the 10-minute idle timeout with a `poll` sent only when
//   nothing else was sent for keepaliveMs (at most one small frame per 9 minutes);
// - refreshes the token before its `exp` with the `refresh` action and a new getToken();
// - after every (re)connect, pages through `poll` from the cursor (the largest id processed)
//   and drops every id already delivered, live or from history.

export const SUBPROTOCOL = "notify.v1";

/** An `error` envelope (code, message), a refused handshake or a client-side failure (CLIENT_*). */
export class NotifyError extends Error {
  /** @param {string} code @param {string} message @param {object} [frame] */
  constructor(code, message, frame) {
    super(`${code}: ${message}`);
    this.name = "NotifyError";
    this.code = code;
    this.frame = frame;
  }
}

/** The `exp` claim of a JWT in epoch seconds (read, not verified), or null.
 * @param {string} token @returns {number | null} */
export function tokenExpiry(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
    return typeof claims.exp === "number" ? claims.exp : null;
  } catch {
    return null;
  }
}

/** Capped exponential backoff with "equal jitter": half fixed, half random (milliseconds).
 * @param {number} attempt @param {number} initialMs @param {number} maxMs */
export function backoffDelay(attempt, initialMs, maxMs) {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

const DEFAULTS = {
  cursor: null,
  pollLimit: 100,
  backoffInitialMs: 1000,
  backoffMaxMs: 30000,
  keepaliveMs: 540000,
  maxConnectionMs: 7000000,
  refreshMarginMs: 60000,
  requestTimeoutMs: 30000,
  dedupSize: 5000,
  WebSocket: undefined,
};

export class NotifyClient extends EventTarget {
  /**
   * @param {string} url the stage URL (wss://.../prod)
   * @param {() => string | Promise<string>} getToken
   * @param {Partial<typeof DEFAULTS>} [options]
   */
  constructor(url, getToken, options = {}) {
    super();
    const opts = { ...DEFAULTS, ...options };
    this.url = url;
    this.getToken = getToken;
    this.options = opts;
    /** @type {string | null} the largest notification id processed */
    this.cursor = opts.cursor;
    /** @type {"connecting" | "open" | "disconnected" | "closed"} */
    this.state = "closed";
    this.connects = 0;
    this.WebSocket = opts.WebSocket ?? globalThis.WebSocket;
    if (!this.WebSocket) {
      throw new NotifyError("CLIENT_NO_WEBSOCKET", "no global WebSocket: Node 20 needs --experimental-websocket (22+ has it), or pass options.WebSocket");
    }
    /** @type {Map<string, true>} */
    this._seen = new Map();
    this._ws = null;
    this._stopping = false;
    this._pending = null;
    this._queue = Promise.resolve();
    this._timer = null;
    this._wake = null;
    this._expiresAt = null;
    this._lastSent = 0;
    this._refreshTried = 0;
    this._resuming = false;
    this._liveMax = null;
  }

  /** Starts connecting in the background; returns at once (see waitForState). */
  start() {
    if (this._running) return;
    this._stopping = false;
    this._running = this._run().finally(() => { this._running = null; });
  }

  /** Closes the connection (code 1000) and stops reconnecting. */
  async close() {
    this._stopping = true;
    this._ws?.close(1000);
    this._wake?.();
    await this._running;
    this._setState("closed");
  }

  /** Resolves when the client reaches `state`; rejects after timeoutMs.
   * @param {string} state @param {number} [timeoutMs] */
  waitForState(state, timeoutMs = 30000) {
    if (this.state === state) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.removeEventListener("state", on); reject(new NotifyError("CLIENT_TIMEOUT", `state ${state} not reached`)); }, timeoutMs);
      const on = (/** @type {any} */ ev) => {
        if (ev.detail === state) { clearTimeout(timer); this.removeEventListener("state", on); resolve(undefined); }
      };
      this.addEventListener("state", on);
    });
  }

  /** One `poll` page ({items, next}) of the user's own history or, with `topic`, of that
   * topic's (subscribers only); items are not dispatched (resume does that for the user's own).
   * @param {string | null} [after] @param {number} [limit] @param {string} [topic] */
  async poll(after = null, limit, topic) {
    const frame = { action: "poll", limit: limit ?? this.options.pollLimit };
    if (after) frame.after = after;
    if (topic !== undefined && topic !== null) frame.topic = topic; // "" is refused, not dropped
    return (await this.request(frame)).data;
  }

  /** Subscribes the connection's user (not the connection: it lasts across reconnects until
   * unsubscribed) where the deployment allows it; the ack's data. @param {string} topic */
  async subscribe(topic) {
    return (await this.request({ action: "subscribe", topic })).data;
  }

  /** Ends the user's subscription to `topic`; the ack's data. @param {string} topic */
  async unsubscribe(topic) {
    return (await this.request({ action: "unsubscribe", topic })).data;
  }

  /** A client `push` (only when the deployment enables it); the ack's data. @param {object} req */
  async push(req) {
    return (await this.request({ ...req, action: "push" })).data;
  }

  /** Sends one frame and resolves with its answer (`history` or `ack`); rejects with NotifyError
   * on an `error` answer. Answers carry the gateway's request id, so requests go one at a time.
   * @param {object} frame @returns {Promise<any>} */
  request(frame) {
    const run = this._queue.then(() => this._request(frame));
    this._queue = run.catch(() => {});
    return run;
  }

  async _request(frame) {
    const ws = this._ws;
    if (!ws || this.state !== "open") throw new NotifyError("CLIENT_NOT_CONNECTED", "no open connection");
    const answer = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this._pending = null; reject(new NotifyError("CLIENT_TIMEOUT", `no answer to ${frame.action}`)); }, this.options.requestTimeoutMs);
      this._pending = {
        resolve: (/** @type {any} */ value) => { clearTimeout(timer); this._pending = null; resolve(value); },
        reject: (/** @type {any} */ error) => { clearTimeout(timer); this._pending = null; reject(error); },
      };
      try { ws.send(JSON.stringify(frame)); this._lastSent = Date.now(); } catch (e) { this._pending.reject(new NotifyError("CLIENT_NOT_CONNECTED", String(e))); }
    });
    if (answer.type === "error") throw new NotifyError(String(answer.error?.code), String(answer.error?.message), answer);
    if (!("type" in answer)) throw new NotifyError("GATEWAY", String(answer.message), answer);
    return answer;
  }

  // ---------------------------------------------------------------- internals

  _emit(type, detail) {
    try { this.dispatchEvent(new CustomEvent(type, { detail })); } catch (e) { console.error(`a ${type} listener failed`, e); }
  }

  _setState(state) {
    if (state === this.state) return;
    this.state = state;
    this._emit("state", state);
  }

  _sleep(ms) {
    return new Promise((resolve) => {
      this._timer = setTimeout(resolve, Math.max(0, ms));
      this._wake = () => { clearTimeout(this._timer); resolve(undefined); };
    });
  }

  async _run() {
    let attempt = 0;
    while (!this._stopping) {
      this._setState("connecting");
      let resumed = false;
      try {
        const token = await this.getToken();
        this._expiresAt = tokenExpiry(token);
        const ws = await this._open(token);
        this.connects += 1;
        resumed = await this._session(ws);
      } catch (e) {
        this._emit("error", e instanceof NotifyError ? e : new NotifyError("CLIENT_CONNECT_FAILED", String(e)));
      }
      if (this._stopping) break;
      this._setState("disconnected");
      attempt = resumed ? 0 : attempt + 1;
      await this._sleep(backoffDelay(attempt, this.options.backoffInitialMs, this.options.backoffMaxMs));
    }
  }

  /** Opens one socket. Browsers hide a refused handshake's status (401/400/403): see the
   * server's logs (docs/protocol.md, Troubleshooting). */
  _open(token) {
    return new Promise((resolve, reject) => {
      const ws = new this.WebSocket(this.url, [SUBPROTOCOL, token]);
      this._ws = ws;
      const fail = () => { this._ws = null; reject(new NotifyError("CLIENT_CONNECT_FAILED", "handshake refused or network error (401: token refused, 400: subprotocol)")); };
      ws.addEventListener("error", fail, { once: true });
      ws.addEventListener("open", () => { ws.removeEventListener("error", fail); resolve(ws); }, { once: true });
      ws.addEventListener("close", () => reject(new NotifyError("CLIENT_CONNECT_FAILED", "closed during the handshake")), { once: true });
    });
  }

  async _session(ws) {
    const opened = (this._lastSent = Date.now());
    let closed = false;
    ws.addEventListener("message", (/** @type {MessageEvent} */ ev) => this._onFrame(ev.data));
    ws.addEventListener("close", () => {
      closed = true;
      this._pending?.reject(new NotifyError("CLIENT_NOT_CONNECTED", "connection closed"));
      if (this._ws === ws) this._wake?.();
    });
    this._setState("open");
    let resumed = false;
    try {
      resumed = await this._resume();
      while (!closed && !this._stopping) {
        const now = Date.now();
        const due = [["keepalive", this._lastSent + this.options.keepaliveMs], ["rotate", opened + this.options.maxConnectionMs]];
        if (this._expiresAt !== null) {
          const lifetime = this._expiresAt * 1000 - now;
          const margin = Math.min(this.options.refreshMarginMs, Math.max(1000, lifetime / 4));
          due.push(["refresh", Math.max(now + lifetime - margin, this._refreshTried + 1000)]);
        }
        const [what, when] = due.reduce((a, b) => (b[1] < a[1] ? b : a));
        if (when > now) { await this._sleep(when - now); continue; }
        if (what === "rotate" || !(await this._maintain(what))) break;
      }
    } finally {
      this._ws = null;
      if (!closed) ws.close(1000);
    }
    return resumed;
  }

  async _maintain(what) {
    try {
      if (what === "keepalive") {
        const frame = { action: "poll", limit: 1 };
        if (this.cursor) frame.after = this.cursor;
        this._deliverPage(await this.request(frame));
        return true;
      }
      this._refreshTried = Date.now();
      const token = await this.getToken();
      const ack = await this.request({ action: "refresh", token });
      this._expiresAt = ack.data?.expiresAt ?? tokenExpiry(token);
      return true;
    } catch (e) {
      this._emit("error", e instanceof NotifyError ? e : new NotifyError("CLIENT_TOKEN_FAILED", String(e)));
      return false;
    }
  }

  async _resume() {
    this._resuming = true;
    this._liveMax = null;
    let after = this.cursor;
    try {
      for (;;) {
        const frame = { action: "poll", limit: this.options.pollLimit };
        if (after) frame.after = after;
        after = this._deliverPage(await this.request(frame));
        if (!after) return true;
      }
    } catch (e) {
      this._emit("error", e);
      return false;
    } finally {
      this._resuming = false;
      if (this._liveMax) this._advance(this._liveMax);
    }
  }

  _deliverPage(answer) {
    for (const envelope of answer.data?.items ?? []) this._deliver(envelope, false);
    return answer.data?.next || null;
  }

  _advance(id) {
    if (this.cursor === null || id > this.cursor) this.cursor = id;
  }

  _deliver(envelope, live) {
    const id = String(envelope.id);
    if (this._seen.has(id)) return;
    this._seen.set(id, true);
    while (this._seen.size > this.options.dedupSize) this._seen.delete(this._seen.keys().next().value);
    if (live && this._resuming) {
      // Not the cursor yet: a resume cut short must restart below the ids it skipped.
      if (this._liveMax === null || id > this._liveMax) this._liveMax = id;
    } else {
      this._advance(id);
    }
    this._emit("notification", envelope);
  }

  _onFrame(raw) {
    let frame;
    try { frame = JSON.parse(raw); } catch { this._emit("error", new NotifyError("CLIENT_BAD_FRAME", String(raw).slice(0, 200))); return; }
    if (frame === null || typeof frame !== "object") return;
    if (frame.type === "notification") this._deliver(frame, true);
    else if (this._pending) this._pending.resolve(frame);
    else if (frame.type === "error") this._emit("error", new NotifyError(String(frame.error?.code), String(frame.error?.message), frame));
  }
}

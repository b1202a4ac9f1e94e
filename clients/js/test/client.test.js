// clients/js against the local stack. Run by tests/e2e/test_client_js.py, which brings the stack
// up and passes NOTIFY_WS_URL and NOTIFY_HELPER_URL (a helper that mints tokens and pushes as a
// backend would). Forced drops go through a TCP proxy whose sockets the test destroys.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { NotifyClient, backoffDelay, tokenExpiry } from "../src/index.js";

const WS_URL = process.env.NOTIFY_WS_URL;
const HELPER = process.env.NOTIFY_HELPER_URL;

async function helper(path, body) {
  const res = await fetch(`${HELPER}${path}`, { method: "POST", body: JSON.stringify(body) });
  assert.equal(res.status, 200, await res.clone().text());
  return res.json();
}
const push = (request) => helper("/push", request);
const mint = async (user, ttl = 3600) => (await helper("/token", { user, ttl })).token;

/** A TCP proxy to the stack's WebSocket port; drop() destroys every socket through it. */
async function proxy(target) {
  const { hostname, port, pathname, search } = new URL(target);
  const sockets = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    for (const s of [client, upstream]) { sockets.add(s); s.on("error", () => {}); s.on("close", () => sockets.delete(s)); }
    client.pipe(upstream).pipe(client);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `ws://127.0.0.1:${server.address().port}${pathname}${search}`,
    drop: () => { for (const s of sockets) s.destroy(); },
    close: () => { for (const s of sockets) s.destroy(); server.close(); },
  };
}

/** A client for `user` plus what its events carried; `gate` holds getToken() closed. */
function recorder(url, user, { ttl = 3600, ...options } = {}) {
  const rec = { seen: [], data: [], states: [], errors: [], tokensAsked: 0, open: true, waiters: [] };
  rec.client = new NotifyClient(url, async () => {
    while (!rec.open) await new Promise((r) => setTimeout(r, 20));
    rec.tokensAsked += 1;
    return mint(user, ttl);
  }, options);
  rec.client.addEventListener("notification", (ev) => { rec.seen.push(ev.detail.id); rec.data.push(ev.detail.data); });
  rec.client.addEventListener("state", (ev) => rec.states.push(ev.detail));
  rec.client.addEventListener("error", (ev) => rec.errors.push(ev.detail));
  rec.until = async (count, timeoutMs = 15000) => {
    const deadline = Date.now() + timeoutMs;
    while (rec.seen.length < count) {
      assert.ok(Date.now() < deadline, `only ${rec.seen.length} of ${count} notifications`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return rec;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test("helpers", () => {
  assert.equal(tokenExpiry("x.eyJleHAiOjEyM30.y"), 123);
  assert.equal(tokenExpiry("not a jwt"), null);
  for (let attempt = 0; attempt < 12; attempt++) {
    const ceiling = Math.min(30000, 1000 * 2 ** attempt);
    const delay = backoffDelay(attempt, 1000, 30000);
    assert.ok(delay >= ceiling / 2 && delay <= ceiling);
  }
});

test("a forced drop loses and duplicates nothing", async () => {
  const tcp = await proxy(WS_URL);
  const rec = recorder(tcp.url, "jsc-drop", { backoffInitialMs: 200 });
  try {
    rec.client.start();
    await rec.client.waitForState("open", 10000);
    const first = await push({ userId: "jsc-drop", message: "before" });
    await rec.until(1);
    rec.open = false;
    tcp.drop();
    await rec.client.waitForState("disconnected", 10000);
    const missed = await push({ userId: "jsc-drop", message: "while away" });
    assert.equal(missed.ok, true);
    rec.open = true;
    await rec.until(2);
    const after = await push({ userId: "jsc-drop", message: "after" });
    await rec.until(3);
    await sleep(1500); // a duplicate (lookback page, repeated frame) would show up by now
    await rec.client.close();
    assert.deepEqual(rec.seen, [first.notificationId, missed.notificationId, after.notificationId]);
    assert.deepEqual(rec.data, ["before", "while away", "after"]);
    assert.equal(rec.client.cursor, after.notificationId);
    assert.equal(rec.client.connects, 2);
    assert.equal(rec.states.at(-1), "closed");
  } finally {
    await rec.client.close();
    tcp.close();
  }
});

test("refresh before expiry keeps the connection", async () => {
  const rec = recorder(WS_URL, "jsc-refresh", { ttl: 4 });
  try {
    rec.client.start();
    await rec.client.waitForState("open", 10000);
    await sleep(9000); // two token lifetimes; the stack's sweeper runs every 2 s
    const out = await push({ userId: "jsc-refresh", message: "still here" });
    assert.equal(out.delivered, 1);
    await rec.until(1);
    assert.equal(rec.client.connects, 1);
    assert.ok(rec.tokensAsked >= 3);
    assert.deepEqual(rec.errors, []);
  } finally {
    await rec.client.close();
  }
});

test("resume across a server-side close", async () => {
  const rec = recorder(WS_URL, "jsc-revoked", { backoffInitialMs: 200 });
  try {
    rec.client.start();
    await rec.client.waitForState("open", 10000);
    const first = await push({ userId: "jsc-revoked", message: 1 });
    await rec.until(1);
    rec.open = false;
    const closed = await push({ disconnect: { userId: "jsc-revoked" } });
    assert.equal(closed.closed, 1);
    await rec.client.waitForState("disconnected", 10000);
    const missed = await push({ userId: "jsc-revoked", message: 2 });
    rec.open = true;
    await rec.until(2);
    await sleep(1500);
    assert.deepEqual(rec.seen, [first.notificationId, missed.notificationId]);
    assert.equal(rec.client.connects, 2);
  } finally {
    await rec.client.close();
  }
});

test("a refused token is reported and retried", async () => {
  const client = new NotifyClient(WS_URL, () => "not-a-jwt", { backoffInitialMs: 100 });
  const errors = [];
  client.addEventListener("error", (ev) => errors.push(ev.detail));
  client.start();
  const deadline = Date.now() + 10000;
  while (errors.length < 2 && Date.now() < deadline) await sleep(50);
  await client.close();
  assert.ok(errors.length >= 2);
  assert.equal(errors[0].code, "CLIENT_CONNECT_FAILED");
  assert.equal(client.connects, 0);
  await assert.rejects(client.poll(), /CLIENT_NOT_CONNECTED/);
});

test("a topic subscription outlives reconnects; the topic's history pages", async () => {
  const topic = `news:jsc-${Date.now()}`;
  const rec = recorder(WS_URL, "jsc-topics", { backoffInitialMs: 200 });
  const topics = [];
  rec.client.addEventListener("notification", (ev) => topics.push(ev.detail.topic));
  try {
    rec.client.start();
    await rec.client.waitForState("open", 10000);
    const ack = await rec.client.subscribe(topic);
    assert.deepEqual([ack.subscribed, ack.created, ack.topic], [true, true, topic]);
    assert.equal((await rec.client.subscribe(topic)).created, false); // idempotent
    // The user is subscribed, not the socket: after a server-side close and a reconnect the
    // topic's pushes still arrive.
    const closed = await push({ disconnect: { userId: "jsc-topics" } });
    assert.equal(closed.closed, 1);
    const deadline = Date.now() + 10000;
    while (!(rec.client.connects === 2 && rec.client.state === "open")) {
      assert.ok(Date.now() < deadline, String(rec.states));
      await sleep(50);
    }
    const pushed = await push({ topic, message: "to subscribers" });
    await rec.until(1);
    assert.deepEqual(rec.seen, [pushed.notificationId]);
    assert.deepEqual(topics, [topic]);
    const page = await rec.client.poll(null, undefined, topic);
    assert.deepEqual(page.items.map((item) => item.id), [pushed.notificationId]);
    const gone = await rec.client.unsubscribe(topic);
    assert.deepEqual([gone.subscribed, gone.removed], [false, true]);
    await push({ topic, message: "after unsubscribe" });
    await sleep(1500);
    assert.deepEqual(rec.seen, [pushed.notificationId]);
    await assert.rejects(rec.client.poll(null, undefined, topic), /FORBIDDEN/);
  } finally {
    await rec.client.close();
  }
});

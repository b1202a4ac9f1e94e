"""The notify.v1 client: one connection at a time, kept alive, refreshed, resumed without gaps.

Behaviour (docs/clients.md, rules from docs/protocol.md):

- connects with the subprotocols ``notify.v1`` and the token from ``get_token()`` (called for
  every connection, so a reconnect always carries a fresh token);
- reconnects after any close with capped exponential backoff and jitter, and by itself before
  API Gateway's 2-hour limit (``max_connection_s``);
- keeps the connection alive within the 10-minute idle timeout with a ``poll`` sent only when
  nothing else was sent for ``keepalive_s`` (at most one small frame per 9 minutes);
- refreshes the token before its ``exp`` with the ``refresh`` action and a new ``get_token()``;
- after every (re)connect, pages through ``poll`` from the cursor (the largest id processed)
  and drops every id already delivered, live or from history.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

from notify_client.support import NotifyError, backoff_delay, status_hint, token_expiry

log = logging.getLogger("notify_client")

SUBPROTOCOL = "notify.v1"
State = Literal["connecting", "open", "disconnected", "closed"]
EventName = Literal["notification", "state", "error"]
TokenSource = Callable[[], str | Awaitable[str]]


class NotifyClient:
    """Usage: ``client = NotifyClient(url, get_token)``, ``client.on("notification", fn)``,
    ``await client.start()`` ... ``await client.close()`` (or ``async with``)."""

    def __init__(
        self,
        url: str,
        get_token: TokenSource,
        *,
        cursor: str | None = None,
        poll_limit: int = 100,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 30.0,
        keepalive_s: float = 540.0,
        max_connection_s: float = 7000.0,
        refresh_margin_s: float = 60.0,
        request_timeout_s: float = 30.0,
        open_timeout_s: float = 10.0,
        dedup_size: int = 5000,
    ) -> None:
        self.url = url
        self.get_token = get_token
        self.cursor = cursor
        self.poll_limit = poll_limit
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.keepalive_s = keepalive_s
        self.max_connection_s = max_connection_s
        self.refresh_margin_s = refresh_margin_s
        self.request_timeout_s = request_timeout_s
        self.open_timeout_s = open_timeout_s
        self.state: State = "closed"
        self.connects = 0  # successful handshakes so far
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._dedup_size = dedup_size
        self._listeners: dict[str, list[Callable[[Any], Any]]] = {
            "notification": [],
            "state": [],
            "error": [],
        }
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._state_changed = asyncio.Condition()
        self._lock = asyncio.Lock()
        self._pending: asyncio.Future[dict[str, Any]] | None = None
        self._resuming = False
        self._live_max: str | None = None
        self._last_sent = 0.0
        self._expires_at: float | None = None
        self._refresh_tried = 0.0
        self._background: set[asyncio.Future[Any]] = set()

    # ------------------------------------------------------------------ public API

    def on(self, event: EventName, listener: Callable[[Any], Any]) -> Callable[[], None]:
        """Calls ``listener`` for each ``notification`` (the envelope), ``state`` change (the new
        state) or ``error`` (a NotifyError); a coroutine function runs as a task. Returns a
        function that removes the listener."""
        self._listeners[event].append(listener)
        return lambda: self._listeners[event].remove(listener)

    async def start(self) -> None:
        """Starts connecting in the background; returns at once (see ``wait_for_state``)."""
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Closes the connection (code 1000) and stops reconnecting."""
        self._stopping.set()
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self._set_state("closed")

    async def __aenter__(self) -> NotifyClient:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def wait_for_state(self, state: State, timeout: float | None = None) -> None:
        async with asyncio.timeout(timeout), self._state_changed:
            await self._state_changed.wait_for(lambda: self.state == state)

    @property
    def connection(self) -> ClientConnection | None:
        """The current socket (None between connections)."""
        return self._ws

    async def push(self, request: dict[str, Any]) -> dict[str, Any]:
        """A client ``push`` (only when the deployment enables it); the ack's ``data``."""
        answer = await self.request({**request, "action": "push"})
        return dict(answer.get("data") or {})

    async def poll(
        self, after: str | None = None, limit: int | None = None, topic: str | None = None
    ) -> dict[str, Any]:
        """One ``poll`` page: ``{"items": [...], "next": ...}``, of the user's own history or,
        with ``topic``, of that topic's (subscribers only). Items are not delivered to the
        listeners (resume does that for the user's own history)."""
        frame: dict[str, Any] = {"action": "poll", "limit": limit or self.poll_limit}
        if after is not None:
            frame["after"] = after
        if topic is not None:
            frame["topic"] = topic
        return dict((await self.request(frame))["data"])

    async def subscribe(self, topic: str) -> dict[str, Any]:
        """Subscribes the connection's user (not the connection: it lasts across reconnects
        until unsubscribed) where the deployment allows it; the ack's ``data``."""
        return dict((await self.request({"action": "subscribe", "topic": topic}))["data"])

    async def unsubscribe(self, topic: str) -> dict[str, Any]:
        """Ends the user's subscription to ``topic``; the ack's ``data``."""
        return dict((await self.request({"action": "unsubscribe", "topic": topic}))["data"])

    async def request(self, frame: dict[str, Any]) -> dict[str, Any]:
        """Sends one frame and returns its answer (``history`` or ``ack``); raises NotifyError
        for an ``error`` answer. Answers carry the gateway's request id, not one of ours, so
        requests go one at a time."""
        async with self._lock:
            ws = self._ws
            if ws is None or self.state != "open":
                raise NotifyError("CLIENT_NOT_CONNECTED", "no open connection")
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._pending = future
            try:
                await ws.send(json.dumps(frame))
                self._last_sent = time.monotonic()
                async with asyncio.timeout(self.request_timeout_s):
                    answer = await future
            except TimeoutError:
                raise NotifyError("CLIENT_TIMEOUT", f"no answer to {frame.get('action')}") from None
            except websockets.ConnectionClosed as exc:
                raise NotifyError("CLIENT_NOT_CONNECTED", f"connection closed: {exc}") from None
            finally:
                self._pending = None
        if answer.get("type") == "error":
            error = answer.get("error") or {}
            raise NotifyError(str(error.get("code")), str(error.get("message")), answer)
        if "type" not in answer:  # API Gateway's own {"message": ...} frame
            raise NotifyError("GATEWAY", str(answer.get("message")), answer)
        return answer

    # ------------------------------------------------------------------ internals

    def _emit(self, event: str, value: Any) -> None:
        for listener in list(self._listeners[event]):
            try:
                result = listener(value)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    self._background.add(task)
                    task.add_done_callback(self._background.discard)
            except Exception:
                log.exception("a %s listener failed", event)

    async def _set_state(self, state: State) -> None:
        if state == self.state:
            return
        self.state = state
        async with self._state_changed:
            self._state_changed.notify_all()
        self._emit("state", state)

    async def _token(self) -> str:
        token = self.get_token()
        return await token if inspect.isawaitable(token) else token

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            await self._set_state("connecting")
            resumed = False
            try:
                token = await self._token()
                self._expires_at = token_expiry(token)
                ws = await websockets.connect(
                    self.url,
                    subprotocols=[Subprotocol(SUBPROTOCOL), Subprotocol(token)],
                    open_timeout=self.open_timeout_s,
                    max_size=2**20,
                )
            except websockets.InvalidStatus as exc:
                status = exc.response.status_code
                self._emit("error", NotifyError(f"HTTP_{status}", status_hint(status)))
            except Exception as exc:  # network errors, timeouts, a failing get_token()
                self._emit("error", NotifyError("CLIENT_CONNECT_FAILED", repr(exc)))
            else:
                self.connects += 1
                resumed = await self._session(ws)
            if self._stopping.is_set():
                break
            await self._set_state("disconnected")
            attempt = 0 if resumed else attempt + 1
            delay = backoff_delay(attempt, self.backoff_initial_s, self.backoff_max_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def _session(self, ws: ClientConnection) -> bool:
        """One connection until it closes. True when the resume completed (a healthy session:
        the next reconnect starts without delay growth)."""
        self._ws = ws
        opened = self._last_sent = time.monotonic()
        reader = asyncio.create_task(self._read(ws))
        resumed = False
        try:
            await self._set_state("open")
            resumed = await self._resume()
            while not reader.done() and not self._stopping.is_set():
                now = time.monotonic()
                due = {
                    "keepalive": self._last_sent + self.keepalive_s,
                    "rotate": opened + self.max_connection_s,
                }
                if self._expires_at is not None:
                    lifetime = self._expires_at - time.time()
                    margin = min(self.refresh_margin_s, max(1.0, lifetime / 4))
                    # At most one attempt a second when get_token() keeps an old token.
                    due["refresh"] = max(now + lifetime - margin, self._refresh_tried + 1.0)
                what, when = min(due.items(), key=lambda item: item[1])
                if when > now:
                    await asyncio.wait({reader}, timeout=when - now)
                    continue
                if what == "rotate":
                    log.info("closing before API Gateway's 2-hour limit")
                    break
                if not await self._maintain(what):
                    break
        finally:
            self._ws = None
            if self._pending is not None and not self._pending.done():
                self._pending.set_exception(websockets.ConnectionClosedOK(None, None))
            await ws.close()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        return resumed

    async def _maintain(self, what: str) -> bool:
        """Keepalive or refresh; False when the connection should be replaced."""
        try:
            if what == "keepalive":
                frame: dict[str, Any] = {"action": "poll", "limit": 1}
                if self.cursor is not None:
                    frame["after"] = self.cursor
                await self._deliver_page(await self.request(frame))
                return True
            self._refresh_tried = time.monotonic()
            token = await self._token()
            ack = await self.request({"action": "refresh", "token": token})
            expires = (ack.get("data") or {}).get("expiresAt")
            self._expires_at = float(expires) if expires else token_expiry(token)
            return True
        except NotifyError as exc:
            self._emit("error", exc)
            return False
        except Exception as exc:  # a failing get_token()
            self._emit("error", NotifyError("CLIENT_TOKEN_FAILED", repr(exc)))
            return False

    async def _resume(self) -> bool:
        """The documented resume: poll after the cursor, page while ``next``, drop seen ids."""
        self._resuming, self._live_max = True, None
        after = self.cursor
        try:
            while True:
                frame: dict[str, Any] = {"action": "poll", "limit": self.poll_limit}
                if after is not None:
                    frame["after"] = after
                after = await self._deliver_page(await self.request(frame))
                if after is None:
                    return True
        except NotifyError as exc:
            self._emit("error", exc)
            return False
        finally:
            self._resuming = False
            if self._live_max is not None:
                self._advance(self._live_max)

    async def _deliver_page(self, answer: dict[str, Any]) -> str | None:
        data = answer.get("data") or {}
        for envelope in data.get("items") or []:
            self._deliver(envelope, live=False)
        following = data.get("next")
        return str(following) if following else None

    def _advance(self, notification_id: str) -> None:
        if self.cursor is None or notification_id > self.cursor:
            self.cursor = notification_id

    def _deliver(self, envelope: dict[str, Any], *, live: bool) -> None:
        notification_id = str(envelope.get("id"))
        if notification_id in self._seen:
            return
        self._seen[notification_id] = None
        while len(self._seen) > self._dedup_size:
            self._seen.popitem(last=False)
        if live and self._resuming:
            # Not the cursor yet: a resume cut short must restart below the ids it skipped.
            if self._live_max is None or notification_id > self._live_max:
                self._live_max = notification_id
        else:
            self._advance(notification_id)
        self._emit("notification", envelope)

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                try:
                    frame = json.loads(raw)
                except ValueError:
                    self._emit("error", NotifyError("CLIENT_BAD_FRAME", str(raw)[:200]))
                    continue
                if not isinstance(frame, dict):
                    continue
                if frame.get("type") == "notification":
                    self._deliver(frame, live=True)
                elif self._pending is not None and not self._pending.done():
                    self._pending.set_result(frame)
                elif frame.get("type") == "error":
                    error = frame.get("error") or {}
                    self._emit("error", NotifyError(str(error.get("code")), str(error), frame))
        except websockets.ConnectionClosed:
            pass
        finally:
            if self._pending is not None and not self._pending.done():
                self._pending.set_exception(websockets.ConnectionClosedOK(None, None))

"""Many WebSocket clients on one event loop thread, recording when each notification arrives.

Each client reads frames and notes (arrival time, marker) for notifications whose `data` carries
a `bench` marker; a waiter wakes the benchmark when every expected client has its copy."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

CONNECT_ATTEMPTS = 3


class SwarmError(RuntimeError):
    pass


@dataclass
class Waiter:
    expected: int
    times: list[float] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)


class Swarm:
    def __init__(self, url: str) -> None:
        self.url = url
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="swarm", daemon=True)
        self._session: aiohttp.ClientSession | None = None
        self._sockets: list[aiohttp.ClientWebSocketResponse] = []
        self._readers: set[asyncio.Task[None]] = set()
        self._waiters: dict[str, Waiter] = {}
        self._lock = threading.Lock()
        self._closing = False
        self.closed_unexpectedly = 0
        self.stray_frames = 0

    def start(self) -> None:
        self._thread.start()
        self._call(self._open_session())

    def _call(self, coro: Any, timeout: float = 600.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _open_session(self) -> None:
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    # ------------------------------------------------------------------ connections

    def connect(self, clients: list[tuple[str, str]], concurrency: int = 48) -> float:
        """Open one connection per (user, token); returns the seconds it took."""
        t0 = time.monotonic()
        self._call(self._connect_all(clients, concurrency))
        return time.monotonic() - t0

    async def _connect_all(self, clients: list[tuple[str, str]], concurrency: int) -> None:
        gate = asyncio.Semaphore(concurrency)
        failures: list[str] = []

        async def one(user: str, token: str) -> None:
            async with gate:
                error = ""
                for attempt in range(CONNECT_ATTEMPTS):
                    try:
                        assert self._session is not None
                        ws = await self._session.ws_connect(
                            self.url,
                            params={"token": token},
                            protocols=("notify.v1",),
                            timeout=aiohttp.ClientWSTimeout(ws_close=5),
                            autoping=True,
                            max_msg_size=256 * 1024,
                        )
                    except (aiohttp.ClientError, TimeoutError) as exc:
                        error = f"{type(exc).__name__}: {exc}"
                        await asyncio.sleep(0.2 * (attempt + 1))
                        continue
                    self._sockets.append(ws)
                    task = asyncio.create_task(self._read(ws))
                    self._readers.add(task)
                    task.add_done_callback(self._readers.discard)
                    return
                failures.append(f"{user}: {error}")

        await asyncio.gather(*(one(u, t) for u, t in clients))
        if failures:
            raise SwarmError(
                f"{len(failures)} of {len(clients)} connections failed, e.g. {failures[0]}"
            )

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            now = time.monotonic()
            try:
                frame = json.loads(msg.data)
                marker = frame["data"]["bench"]
            except (ValueError, KeyError, TypeError):
                self.stray_frames += 1
                continue
            with self._lock:
                waiter = self._waiters.get(marker)
                if waiter is None:
                    self.stray_frames += 1
                    continue
                waiter.times.append(now)
                if len(waiter.times) >= waiter.expected:
                    waiter.done.set()
        if not self._closing:
            self.closed_unexpectedly += 1

    @property
    def open_count(self) -> int:
        return sum(1 for ws in self._sockets if not ws.closed)

    # ------------------------------------------------------------------ measurements

    def expect(self, marker: str, count: int) -> Waiter:
        waiter = Waiter(count)
        with self._lock:
            self._waiters[marker] = waiter
        return waiter

    def forget(self, marker: str) -> None:
        with self._lock:
            self._waiters.pop(marker, None)

    # ------------------------------------------------------------------ teardown

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        self._closing = True
        try:
            self._call(self._close_all(), timeout=120)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)

    async def _close_all(self) -> None:
        gate = asyncio.Semaphore(128)

        async def one(ws: aiohttp.ClientWebSocketResponse) -> None:
            async with gate:
                await ws.close()

        await asyncio.gather(*(one(ws) for ws in self._sockets), return_exceptions=True)
        for task in list(self._readers):
            task.cancel()
        if self._session is not None:
            await self._session.close()

"""The demo step that uses the project's Python client (clients/python) as an app would."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from local import tokens

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "clients" / "python"))

from notify_client import NotifyClient

Push = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


async def reconnect_and_catch_up(stack: dict[str, Any], push: Push, wait_s: float) -> str:
    """dave's app (NotifyClient) loses its network, a notification is stored meanwhile, and the
    client reconnects by itself and resumes with poll: every notification once, in order."""
    minter = tokens.Minter(stack)
    online = asyncio.Event()
    online.set()

    async def get_token() -> str:
        await online.wait()  # "offline": the app cannot reach its identity provider either
        return minter.mint("dave", 3600)

    got: list[Any] = []
    arrived = asyncio.Event()

    def on_notification(envelope: dict[str, Any]) -> None:
        got.append(envelope["data"])
        arrived.set()

    async def until(count: int) -> None:
        async with asyncio.timeout(wait_s):
            while len(got) < count:
                arrived.clear()
                await arrived.wait()

    client = NotifyClient(stack["websocket_url"], get_token, backoff_initial_s=0.3)
    client.on("notification", on_notification)
    async with client:
        await client.wait_for_state("open", wait_s)
        await push({"userId": "dave", "message": "one"})
        await until(1)
        online.clear()
        ws = client.connection
        if ws is not None:
            ws.transport.abort()  # the network goes away: no close frame
        await client.wait_for_state("disconnected", wait_s)
        await push({"userId": "dave", "message": "two (sent while dave was offline)"})
        online.set()
        await until(2)
        await push({"userId": "dave", "message": "three"})
        await until(3)
        await asyncio.sleep(1.0)  # a duplicate would arrive by now
    if len(got) != 3:
        raise AssertionError(f"dave's client delivered {got}")
    return f"{client.connects} connections, delivered once each: {got}"

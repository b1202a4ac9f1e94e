"""Token lifetime and revocation end to end (security review items 3 and 4): real WebSocket
clients against `python -m local up`, whose EventBridge rule fires the sweeper every 2 s
(LOCAL_RULE_INTERVAL_S) instead of every minute."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import websockets
from conftest import run
from test_system import apush, connect, recv, rows
from websockets.asyncio.client import ClientConnection

from local import tokens

CLOSE_WITHIN_S = 15.0


async def closed_by_server(ws: ClientConnection, within: float = CLOSE_WITHIN_S) -> int | None:
    """The close code once the server closes the socket (frames before it are skipped)."""
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            await asyncio.wait_for(ws.recv(), deadline - time.monotonic())
    except websockets.ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else None
    except TimeoutError:
        pass
    return None


def test_connection_with_short_lived_token_is_closed_after_expiry(stack: dict[str, Any]) -> None:
    async def body() -> None:
        minter = tokens.Minter(stack)
        token = minter.mint("exp-short", ttl_seconds=3)
        # `exp` is whole seconds, so the token lives 2-3 s: compare with the claim itself.
        payload = token.split(".")[1]
        exp = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"]
        ws = await websockets.connect(f"{stack['websocket_url']}?token={token}")
        assert rows(stack, "exp-short")
        code = await closed_by_server(ws)
        assert code == 1000, "DeleteConnection closes normally"
        assert time.time() >= exp, "not before the token expired"
        deadline = time.monotonic() + 5
        while rows(stack, "exp-short") and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert rows(stack, "exp-short") == []

    run(body())


def test_refreshed_connection_stays_open(stack: dict[str, Any]) -> None:
    async def body() -> None:
        minter = tokens.Minter(stack)
        ws = await websockets.connect(
            f"{stack['websocket_url']}?token={minter.mint('exp-refresh', ttl_seconds=4)}"
        )
        other = await websockets.connect(
            f"{stack['websocket_url']}?token={minter.mint('exp-refresh', ttl_seconds=4)}"
        )
        # A bad refresh (another user's token) changes nothing.
        await ws.send(f'{{"action":"refresh","token":"{minter.mint("mallory")}"}}')
        assert (await recv(ws))["error"]["code"] == "INVALID_TOKEN"
        await ws.send(f'{{"action":"refresh","token":"{minter.mint("exp-refresh", 3600)}"}}')
        ack = await recv(ws)
        assert ack["type"] == "ack" and ack["data"]["expiresAt"] > time.time() + 3000
        # The un-refreshed sibling is closed; the refreshed one stays and still receives.
        assert await closed_by_server(other) == 1000
        await asyncio.sleep(3)  # more sweeps after the original expiry
        out = await apush(stack, {"userId": "exp-refresh", "message": "still here"})
        assert out["delivered"] == 1
        assert (await recv(ws))["data"] == "still here"
        await ws.close()

    run(body())


def test_revoked_users_sockets_close(stack: dict[str, Any]) -> None:
    async def body() -> None:
        phone = await connect(stack, "revoked")
        laptop = await connect(stack, "revoked")
        bystander = await connect(stack, "not-revoked")
        out = await apush(stack, {"disconnect": {"userId": "revoked"}})
        assert out == {"ok": True, "closed": 2, "alreadyGone": 0, "failed": 0}
        assert await closed_by_server(phone, 5) == 1000
        assert await closed_by_server(laptop, 5) == 1000
        assert rows(stack, "revoked") == []
        one = rows(stack, "not-revoked")
        assert len(one) == 1
        out = await apush(stack, {"disconnect": {"connectionId": one[0]}})
        assert out["closed"] == 1
        assert await closed_by_server(bystander, 5) == 1000

    run(body())

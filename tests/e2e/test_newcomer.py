"""What a newcomer met following the README (issue 14): a client leaving during $connect, frames
over API Gateway's 32 KB limit, `python -m local` outside the virtualenv."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import websockets
from conftest import REPO, run
from test_system import connect, recv, rows

from local import tokens

UP_LOG = REPO / ".local" / "e2e" / "up.log"


async def _leave_during_connect(url: str, token: str) -> None:
    """Sends a valid upgrade request and goes away before the answer: no close, no wait."""
    parts = urlsplit(url)
    _reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET {parts.path}?token={token} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    writer.transport.abort()


def test_client_leaving_during_connect_leaves_nothing_behind(stack: dict[str, Any]) -> None:
    offset = UP_LOG.stat().st_size

    async def gone(user: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while rows(stack, user) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)

    async def body() -> None:
        minter = tokens.Minter(stack)
        for _ in range(3):  # one at a time: a second $disconnect worker may start cold
            await _leave_during_connect(stack["websocket_url"], minter.mint("left-early"))
            await asyncio.sleep(0.5)
            await gone("left-early")
        # A refused handshake (bad token) that leaves too: nothing stored, no $disconnect.
        await _leave_during_connect(stack["websocket_url"], "not-a-jwt")
        await asyncio.sleep(1.0)  # time for a late row or a late traceback

    run(body())
    assert rows(stack, "left-early") == []
    with UP_LOG.open("rb") as log:
        log.seek(offset)
        added = log.read().decode(errors="replace")
    assert "Traceback" not in added and "ConnectionResetError" not in added, added[-3000:]


def test_client_frame_over_32_kb_closes_1009_like_aws(stack: dict[str, Any]) -> None:
    async def body() -> tuple[dict[str, Any], int | None]:
        ws = await connect(stack, "big-frames")
        # Just under the limit: routed and answered (poll refuses the unknown field).
        frame = json.dumps({"action": "poll", "pad": ""})
        await ws.send(frame[:-2] + "x" * (32 * 1024 - len(frame)) + '"}')
        answer = await recv(ws)
        await ws.send(json.dumps({"action": "poll", "pad": "x" * (32 * 1024)}))
        await asyncio.wait_for(ws.wait_closed(), 10)
        return answer, ws.close_code

    answer, code = run(body())
    assert answer["type"] == "error" and answer["error"]["code"] == "INVALID_REQUEST"
    assert code == 1009


def test_python_m_local_outside_the_venv_prints_the_command_that_works() -> None:
    bare = [sys.executable, "-S"]  # no site-packages: what an interpreter outside the venv sees
    out = subprocess.run(  # noqa: S603
        [*bare, "-m", "local", "token", "bob"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 1, out.stderr
    assert f"cd {REPO} && .venv/bin/python -m local token bob" in out.stderr
    assert "Traceback" not in out.stderr


def test_stack_json_says_how_to_mint_a_token(stack: dict[str, Any]) -> None:
    command = stack["token"]["mint"]
    assert command == f"cd {REPO} && .venv/bin/python -m local token <userId>"
    shell = command.replace("<userId>", "bob") + f" --stack {UP_LOG.parent / 'stack.json'}"
    token = subprocess.run(  # noqa: S603
        ["/bin/bash", "-c", shell], capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()

    async def body() -> str | None:
        async with websockets.connect(f"{stack['websocket_url']}?token={token}") as ws:
            return ws.subprotocol

    assert run(body()) is None  # accepted: the minted token works

"""`python -m local up --example DIR` serves any Terraform-defined WebSocket API, not only this
project's: tests/e2e/foreign_echo has one echo function, no authorizer and none of the module's
outputs. The stack starts, prints no demo token (it cannot mint one), and echoes frames."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import websockets

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = Path(__file__).parent / "foreign_echo"


def test_up_serves_a_foreign_configuration_without_an_authorizer() -> None:
    state = REPO / ".local" / "e2e-foreign"
    state.mkdir(parents=True, exist_ok=True)
    stack_file = state / "stack.json"
    stack_file.unlink(missing_ok=True)
    out_path = state / "up.log"
    with out_path.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "local",
                "up",
                "--state-dir",
                str(state),
                "--example",
                str(EXAMPLE),
            ],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 300
            while not stack_file.exists():
                assert proc.poll() is None, out_path.read_text()[-4000:]
                assert time.monotonic() < deadline, out_path.read_text()[-4000:]
                time.sleep(0.25)
            stack = json.loads(stack_file.read_text())
            # The usage text is printed right after stack.json is written.
            while "Ctrl-C stops everything" not in out_path.read_text():
                assert proc.poll() is None, out_path.read_text()[-4000:]
                time.sleep(0.1)
            printed = out_path.read_text()
            assert stack["token"]["mode"] == "none"
            assert stack["routes"] == ["$default"] and stack["stage"] == "live"
            assert "Traceback" not in printed
            assert "?token=" not in printed and "push from a backend" not in printed
            assert f"npx wscat -c '{stack['websocket_url']}'" in printed

            async def echo() -> str:
                async with websockets.connect(stack["websocket_url"]) as ws:
                    await ws.send('{"action": "anything", "n": 1}')
                    return str(await asyncio.wait_for(ws.recv(), 15))

            assert json.loads(asyncio.run(echo())) == {"action": "anything", "n": 1}
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert proc.returncode == 0, out_path.read_text()[-3000:]
    assert not stack_file.exists()

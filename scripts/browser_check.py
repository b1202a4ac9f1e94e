"""`make browser-check`: the JS client in headless Chromium against the local stack.

Brings a local stack up (its own state directory), pushes a persisted notification and a second
one once the page is connected, serves clients/js over HTTP, loads clients/js/example/index.html
in headless Chromium (driven over the DevTools protocol), and waits until the page shows both
notifications (the first arrives through the client's resume `poll`, the second live). Saves a
screenshot to docs/img/browser-check.png. Exit 0 only if the page showed both.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import boto3  # noqa: E402
import websockets  # noqa: E402

from local import tokens  # noqa: E402

STATE = REPO / ".local" / "browser"
SHOT = REPO / "docs" / "img" / "browser-check.png"
USER = "browser-user"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--window-size=900,420",
]
FLAGS += ["--remote-debugging-port=0"]


def say(text: str) -> None:
    print(f"[browser-check] {text}", flush=True)


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("chromium is not installed (Debian: apt-get install chromium)")


def push(stack: dict[str, Any], message: Any, *, persist: bool = True) -> dict[str, Any]:
    lam = boto3.client(
        "lambda",
        endpoint_url=stack["lambda_endpoint"],
        region_name=stack["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - the local stack's fixed credentials
    )
    out = lam.invoke(
        FunctionName=stack["push_function_name"],
        Payload=json.dumps({"userId": USER, "message": message, "persist": persist}).encode(),
    )
    return json.loads(out["Payload"].read())  # type: ignore[no-any-return]


def start_stack() -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    STATE.mkdir(parents=True, exist_ok=True)
    stack_file = STATE / "stack.json"
    stack_file.unlink(missing_ok=True)
    log = (STATE / "up.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "local", "up", "--state-dir", str(STATE)],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the stack did not start: see {STATE / 'up.log'}")
        if stack_file.exists():
            stack = json.loads(stack_file.read_text())
            if stack.get("pid") == proc.pid:
                return proc, stack
        time.sleep(0.5)
    raise SystemExit("the stack did not come up in 300 s")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_args: Any) -> None:
        pass


def serve() -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_Quiet, directory=str(REPO / "clients" / "js"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/example/index.html"


class Browser:
    """Headless Chromium driven over the DevTools protocol: load a page, read its DOM, shoot it."""

    def __init__(self, binary: str, profile: Path) -> None:
        self.proc = subprocess.Popen(  # noqa: S603
            [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if line.startswith("DevTools listening on "):
                port = line.split("127.0.0.1:")[1].split("/")[0]
                break
        else:
            raise SystemExit("chromium exited before opening its DevTools port")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as answer:
            pages = [t for t in json.load(answer) if t["type"] == "page"]
        self.target = pages[0]["webSocketDebuggerUrl"]
        self.ids = 0

    async def call(self, ws: Any, method: str, **params: Any) -> dict[str, Any]:
        self.ids += 1
        await ws.send(json.dumps({"id": self.ids, "method": method, "params": params}))
        while True:
            message = json.loads(await ws.recv())
            if message.get("id") == self.ids:
                return message.get("result", {})  # type: ignore[no-any-return]

    async def show(self, url: str, wanted: list[str], shot: Path, timeout: float = 30) -> str:
        """Loads ``url``, waits until the page's text holds every ``wanted`` string, shoots."""
        async with websockets.connect(self.target, max_size=2**25) as ws:
            await self.call(ws, "Page.enable")
            await self.call(ws, "Page.navigate", url=url)
            deadline = time.monotonic() + timeout
            text = ""
            while time.monotonic() < deadline:
                result = await self.call(
                    ws, "Runtime.evaluate", expression="document.body.innerText", returnByValue=True
                )
                text = str(result.get("result", {}).get("value", ""))
                if all(w in text for w in wanted):
                    break
                await asyncio.sleep(0.2)
            shot.write_bytes(
                base64.b64decode((await self.call(ws, "Page.captureScreenshot"))["data"])
            )
            return text

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def main() -> int:
    binary = chromium()
    say("starting the local stack (about two minutes)")
    proc, stack = start_stack()
    server, page = serve()
    try:
        first = push(stack, {"text": "stored while the page was closed"})
        say(f"pushed {first['notificationId']} (persisted, nobody connected)")
        url = (
            page
            + "?"
            + urlencode({"url": stack["websocket_url"], "token": tokens.mint(stack, USER)})
        )

        def push_live() -> None:  # once the page has connected: delivered to a live socket
            for _ in range(150):
                time.sleep(0.2)
                out = push(stack, {"text": "pushed live to the open page"}, persist=False)
                if out.get("delivered"):
                    say(f"pushed {out['notificationId']} live")
                    return

        pusher = threading.Thread(target=push_live)
        pusher.start()
        SHOT.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as profile:
            browser = Browser(binary, Path(profile))
            wanted = [first["notificationId"], "pushed live to the open page"]
            text = asyncio.run(browser.show(url, wanted, SHOT))
            browser.close()
        pusher.join()
        ok = all(w in text for w in wanted) and "open" in text
        say(f"page shows the stored and the live notification: {ok}; screenshot {SHOT.name}")
        if not ok:
            say(f"page text:\n{text}")
        return 0 if ok else 1
    finally:
        server.shutdown()
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        say("stopped")


if __name__ == "__main__":
    sys.exit(main())

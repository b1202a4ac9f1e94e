"""clients/js against the local stack: runs its Node test-runner suite (clients/js/test) as a
subprocess, with a helper HTTP server that mints tokens and pushes like a backend (boto3), so the
JavaScript tests need no AWS SDK. Also checks that `npm pack` builds an installable tarball."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO
from test_system import push

from local import tokens

JS = REPO / "clients" / "js"
NODE = shutil.which("node")


@pytest.fixture(scope="module")
def helper(stack: dict[str, Any]) -> Iterator[str]:
    minter = tokens.Minter(stack)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path == "/token":
                out: Any = {"token": minter.mint(body["user"], int(body["ttl"]))}
            elif self.path == "/push":
                out = push(stack, body)
            else:
                self.send_error(404)
                return
            data = json.dumps(out).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.skipif(NODE is None, reason="node (>= 20) is not installed")
def test_node_suite_against_the_local_stack(stack: dict[str, Any], helper: str) -> None:
    assert NODE is not None
    out = subprocess.run(  # noqa: S603
        [NODE, "--experimental-websocket", "--test", "--test-reporter=spec", "test/"],
        cwd=JS,
        env={"PATH": str(Path(NODE).parent), "NOTIFY_WS_URL": stack["websocket_url"]}
        | {"NOTIFY_HELPER_URL": helper},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    print(out.stdout[-6000:], out.stderr[-3000:])
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-3000:]
    passed = re.search(r"^\N{INFORMATION SOURCE} pass (\d+)$", out.stdout, re.MULTILINE)
    assert passed and int(passed.group(1)) >= 5 and "\N{INFORMATION SOURCE} fail 0" in out.stdout


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_npm_pack_builds_an_installable_tarball(tmp_path: Path) -> None:
    subprocess.run(  # noqa: S603
        [str(shutil.which("npm")), "pack", "--pack-destination", str(tmp_path)],
        cwd=JS,
        check=True,
        capture_output=True,
        timeout=120,
    )
    (tarball,) = tmp_path.glob("*.tgz")
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    assert {"package/src/index.js", "package/src/index.d.ts", "package/package.json"} <= names
    # Installable: Node resolves the package by name and imports its exports.
    project = tmp_path / "app"
    project.mkdir()
    (project / "package.json").write_text('{"name": "app", "type": "module"}')
    subprocess.run(  # noqa: S603
        [str(shutil.which("npm")), "install", "--no-audit", "--no-fund", str(tarball)],
        cwd=project,
        check=True,
        capture_output=True,
        timeout=120,
    )
    script = "import {NotifyClient} from '@notify/client'; console.log(typeof NotifyClient)"
    out = subprocess.run(  # noqa: S603
        [str(NODE), "--input-type=module", "-e", script],
        cwd=project,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.strip() == "function"

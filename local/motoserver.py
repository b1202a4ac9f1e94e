"""Lifecycle of the emulated AWS control plane (moto's server on a free loopback port)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from local import procs

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


class MotoError(RuntimeError):
    pass


class MotoServer:
    """``with MotoServer(log) as moto: moto.endpoint`` starts moto and always stops it."""

    def __init__(self, log_path: Path, startup_timeout: float = 30.0) -> None:
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        last = ""
        for _attempt in range(3):  # a free port can be taken between probe and bind
            self.port = procs.free_port()
            # AWS managed policies (e.g. AmazonAPIGatewayPushToCloudWatchLogs) exist in every
            # real account; moto loads them only on request.
            env = {**os.environ, **FAKE_CREDENTIALS, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
            self._proc = procs.spawn(
                [sys.executable, "-m", "local.moto_main", "-H", "127.0.0.1", "-p", str(self.port)],
                env=env,
                log_path=str(self.log_path),
                cwd=str(Path(__file__).resolve().parent.parent),
            )
            try:
                self._wait_ready()
                return self.endpoint
            except MotoError as exc:
                last = str(exc)
                self.stop()
        raise MotoError(f"moto did not start: {last} (log: {self.log_path})")

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise MotoError(f"moto exited with status {self._proc.returncode}")
            try:
                with urllib.request.urlopen(  # noqa: S310 - loopback URL we built
                    f"{self.endpoint}/moto-api/data.json", timeout=1
                ) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        raise MotoError(f"moto not answering on port {self.port} after {self.startup_timeout}s")

    def stop(self) -> None:
        if self._proc is not None:
            procs.stop(self._proc)
            self._proc = None

    def __enter__(self) -> MotoServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

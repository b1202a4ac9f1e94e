"""The local stack as a child process (`python -m local up`), so its gateway event loop does not
share this process's interpreter lock with the benchmark's clients."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 300.0


class StackError(RuntimeError):
    pass


class LocalStack:
    """`with LocalStack(state_dir, latency_ms) as stack: stack.description` starts the stack,
    waits for its stack.json, and always stops it (SIGTERM, then SIGKILL)."""

    def __init__(self, state_dir: Path, latency_ms: float, log: Path) -> None:
        self.state_dir = state_dir
        self.latency_ms = latency_ms
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.description: dict[str, Any] = {}
        self.started_in_s = 0.0

    @property
    def stack_file(self) -> Path:
        return self.state_dir / "stack.json"

    def start(self) -> dict[str, Any]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.stack_file.unlink(missing_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "local",
            "up",
            "--state-dir",
            str(self.state_dir),
            "--connections-latency-ms",
            str(self.latency_ms),
            # The benchmark holds its clients for minutes without sending a frame.
            "--idle-timeout",
            "3600",
        ]
        t0 = time.monotonic()
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
                cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = t0 + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StackError(
                    f"the local stack exited with {self.proc.returncode} while starting; "
                    f"see {self.log_path}"
                )
            if self.stack_file.exists():
                try:
                    description: dict[str, Any] | None = json.loads(self.stack_file.read_text())
                except ValueError:  # being written
                    description = None
                if description and description.get("pid") == self.proc.pid:
                    self.description = description
                    self.started_in_s = time.monotonic() - t0
                    return description
            time.sleep(0.5)
        raise StackError(f"the local stack was not up after {START_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)  # `local up` tears everything down on SIGTERM
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def __enter__(self) -> LocalStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

"""Child processes and ports: every process the local stack starts dies with it."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago (the caller binds it right away)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def die_with_parent() -> Callable[[], None] | None:
    """preexec_fn that asks Linux to SIGTERM the child when its parent dies, so even a SIGKILLed
    stack leaves no orphan behind. None elsewhere (plain terminate-on-exit still applies)."""
    if not sys.platform.startswith("linux"):
        return None

    def _set() -> None:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return _set


def stop(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds. Safe to call twice."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(timeout=grace)


def spawn(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    log_path: str | None = None,
    cwd: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start a child in its own session (Ctrl-C reaches only us; we stop it in order)."""
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        return subprocess.Popen(  # noqa: S603
            args,
            env=env if env is not None else dict(os.environ),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
    finally:
        if log_path:
            out.close()  # type: ignore[union-attr]

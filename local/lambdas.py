"""Lambda execution: each deployed function in warm worker processes, as Lambda runs them.

A worker imports the handler once and serves one invocation at a time. Overlapping invocations
start more workers (Lambda scaling out), up to the function's reserved concurrency (beyond it:
429 TooManyRequestsException, as Lambda throttles) and up to ``max_workers`` per function (a
machine limit: beyond it invocations wait for a free worker). A worker that exceeds the
configured timeout is killed and replaced, and the caller gets Lambda's timeout error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local import procs
from local.controlplane import FunctionSpec
from local.motoserver import FAKE_CREDENTIALS

BOOTSTRAP = str(Path(__file__).resolve().parent / "_bootstrap.py")
_PIPE_LIMIT = 16 * 1024 * 1024  # Lambda's 6 MB response limit, with room for JSON escaping
_INIT_TIMEOUT_S = 10.0  # Lambda's init phase limit


@dataclass(frozen=True)
class InvokeResult:
    """What Lambda's Invoke returns: the payload, and whether it is a function error."""

    payload: Any
    function_error: bool = False
    throttled: bool = False

    def error_message(self) -> str:
        if isinstance(self.payload, dict):
            return str(self.payload.get("errorMessage", ""))
        return ""


class _Worker:
    def __init__(self, proc: asyncio.subprocess.Process, log_task: asyncio.Task[None]) -> None:
        self.proc = proc
        self.log_task = log_task
        self.ready: dict[str, Any] | None = None

    async def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await self.proc.stdout.readline()
        if not line:
            raise EOFError("worker exited")
        return json.loads(line)  # type: ignore[no-any-return]

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()


class FunctionPool:
    """The warm workers of one function."""

    def __init__(
        self,
        spec: FunctionSpec,
        *,
        task_root: Path,
        layer_paths: list[Path],
        env: dict[str, str],
        log_path: Path,
        max_workers: int,
    ) -> None:
        self.spec = spec
        self.task_root = task_root
        self.layer_paths = layer_paths
        self.env = env
        self.log_path = log_path
        self.max_workers = max_workers
        self._idle: list[_Worker] = []
        self._busy = 0
        self._starting = 0
        self._freed = asyncio.Condition()
        self._all: set[_Worker] = set()
        self._log = log_path.open("a", encoding="utf-8", buffering=1)
        self.invocations = 0

    @property
    def in_use(self) -> int:
        """Invocations running or waiting for a starting worker (what concurrency counts)."""
        return self._busy + self._starting

    async def _start_worker(self) -> _Worker:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            BOOTSTRAP,
            str(self.task_root),
            self.spec.handler,
            *map(str, self.layer_paths),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
            limit=_PIPE_LIMIT,
            start_new_session=True,
            preexec_fn=procs.die_with_parent(),
        )
        worker = _Worker(proc, asyncio.create_task(self._copy_log(proc)))
        self._all.add(worker)
        try:
            worker.ready = await asyncio.wait_for(worker.read(), _INIT_TIMEOUT_S)
        except (TimeoutError, EOFError, ValueError) as exc:
            worker.ready = {
                "type": "init_error",
                "error": {"errorMessage": f"init failed: {exc!r}", "errorType": "Runtime.Unknown"},
            }
        return worker

    async def _copy_log(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        async for line in proc.stderr:
            self._log.write(line.decode("utf-8", "replace"))

    async def prewarm(self) -> None:
        if self.spec.reserved_concurrency == 0 or self._all:
            return
        worker = await self._start_worker()
        if worker.ready and worker.ready.get("type") == "ready":
            self._idle.append(worker)
        else:
            await self._discard(worker)

    async def _acquire(self) -> _Worker | None:
        """An idle worker, a new one, or None when reserved concurrency is exhausted."""
        reserved = self.spec.reserved_concurrency
        async with self._freed:
            while True:
                if self._idle:
                    worker = self._idle.pop()
                    self._busy += 1
                    return worker
                in_use = self.in_use
                if reserved is not None and in_use >= reserved:
                    return None
                if in_use < self.max_workers:
                    self._starting += 1
                    break
                await self._freed.wait()
        try:
            worker = await self._start_worker()
        except BaseException:
            async with self._freed:
                self._starting -= 1
                self._freed.notify()
            raise
        async with self._freed:
            self._starting -= 1
            self._busy += 1
        return worker

    async def _release(self, worker: _Worker | None) -> None:
        async with self._freed:
            self._busy -= 1
            if worker is not None:
                self._idle.append(worker)
            self._freed.notify()

    async def _discard(self, worker: _Worker) -> None:
        worker.kill()
        self._all.discard(worker)
        with contextlib.suppress(Exception):
            await worker.proc.wait()
            await worker.log_task

    def kill_busy(self) -> int:
        """SIGKILL the workers serving an invocation (fault injection: a crash mid-fan-out)."""
        busy = [w for w in self._all if w not in self._idle]
        for worker in busy:
            worker.kill()
        return len(busy)

    async def invoke(self, event: Any, request_id: str | None = None) -> InvokeResult:
        """Run one invocation. Shielded: a caller that goes away does not kill the invocation."""
        return await asyncio.shield(self._invoke(event, request_id or str(uuid.uuid4())))

    async def _invoke(self, event: Any, request_id: str) -> InvokeResult:
        try:
            worker = await self._acquire()
        except OSError as exc:  # the interpreter could not be started at all
            return InvokeResult(
                {
                    "errorMessage": f"could not start a worker: {exc}",
                    "errorType": "Runtime.Unknown",
                },
                function_error=True,
            )
        if worker is None:
            return InvokeResult(
                {
                    "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
                    "Type": "User",
                    "message": "Rate Exceeded.",
                },
                throttled=True,
            )
        self.invocations += 1
        started = time.monotonic()
        self._log.write(f"START RequestId: {request_id} Version: $LATEST\n")
        keep: _Worker | None = None
        try:
            if worker.ready is None or worker.ready.get("type") != "ready":
                error = dict((worker.ready or {}).get("error") or {})
                error["requestId"] = request_id
                return InvokeResult(error, function_error=True)
            deadline_ms = int(time.time() * 1000) + self.spec.timeout_s * 1000
            request = {"requestId": request_id, "deadlineMs": deadline_ms, "event": event}
            assert worker.proc.stdin is not None
            worker.proc.stdin.write(json.dumps(request, separators=(",", ":")).encode() + b"\n")
            await worker.proc.stdin.drain()
            try:
                reply = await asyncio.wait_for(worker.read(), self.spec.timeout_s)
            except TimeoutError:
                stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
                message = (
                    f"{stamp} {request_id} Task timed out after {self.spec.timeout_s:.2f} seconds"
                )
                self._log.write(message + "\n")
                return InvokeResult({"errorMessage": message}, function_error=True)
            except (EOFError, ConnectionError, ValueError) as exc:
                return InvokeResult(
                    {
                        "errorMessage": f"RequestId: {request_id} Error: Runtime exited ({exc})",
                        "errorType": "Runtime.ExitError",
                    },
                    function_error=True,
                )
            keep = worker
            if reply["type"] == "result":
                return InvokeResult(reply.get("result"))
            return InvokeResult(reply["error"], function_error=True)
        finally:
            elapsed = (time.monotonic() - started) * 1000
            self._log.write(
                f"END RequestId: {request_id}\nREPORT RequestId: {request_id}\t"
                f"Duration: {elapsed:.2f} ms\tMemory Size: {self.spec.memory_mb} MB\n"
            )
            if keep is None:
                await self._discard(worker)
            await self._release(keep)

    async def close(self) -> None:
        for worker in list(self._all):
            await self._discard(worker)
        self._idle.clear()
        self._log.close()


def worker_env(
    spec: FunctionSpec, *, aws_endpoint: str, region: str, connections_endpoint: str | None
) -> dict[str, str]:
    """The function's own environment plus what the Lambda runtime and the emulator add.

    Emulator substitutions (docs/architecture.md): AWS_ENDPOINT_URL points every SDK call at
    moto, and CONNECTIONS_ENDPOINT at the local @connections server (set even when the function
    has none, because deriving it from the event's domainName would reach the real AWS).
    """
    env = dict(spec.environment)
    env.update(
        {
            "AWS_ENDPOINT_URL": aws_endpoint,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            **FAKE_CREDENTIALS,
            "AWS_SESSION_TOKEN": "testing",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/[$LATEST]{uuid.uuid4().hex}",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime or 'python3.11'}",
            "LAMBDA_RUNTIME_DIR": str(Path(sys.executable).parent),
            "_HANDLER": spec.handler,
            "LOCAL_FUNCTION_ARN": spec.arn,
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if connections_endpoint:
        env["CONNECTIONS_ENDPOINT"] = connections_endpoint
    return env

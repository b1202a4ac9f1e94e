"""Two stacks, each brought up once per session and always torn down:

- ``stack``: ``python -m local up`` exactly as ``make local`` runs it (moto, terraform apply of
  examples/complete, the runtime), in its own state directory, read through its stack.json;
- ``sample``: moto plus a purpose-built API deployed with boto3 (tests/e2e/sample_api.py) and
  the runtime in-process with short limits, for gateway behaviours the project's handlers never
  show (Deny policies, crashing authorizers, timeouts, idle/duration limits).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).parent))

import sample_api  # noqa: E402
from jwks_server import Issuer  # noqa: E402

from local.motoserver import MotoServer  # noqa: E402
from local.runtime import BackgroundRuntime, CodeSource, Runtime  # noqa: E402
from local.settings import Settings  # noqa: E402

STACK_START_TIMEOUT_S = 300
SAMPLE_IDLE_S = 2.0
SAMPLE_MAX_DURATION_S = 6.0
FAULTS_FILE = "faults.json"
CLOCK_FILE = "scheduler-clock.json"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def _port_open(url: str) -> bool:
    host, port = url.split("//")[1].split("/")[0].split(":")
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, int(port))) == 0


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc: no psutil needed)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="session")
def stack() -> Iterator[dict[str, Any]]:
    state = REPO / ".local" / "e2e"
    state.mkdir(parents=True, exist_ok=True)
    stack_file = state / "stack.json"
    stack_file.unlink(missing_ok=True)
    (state / FAULTS_FILE).unlink(missing_ok=True)
    (state / CLOCK_FILE).unlink(missing_ok=True)
    log = (state / "up.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "local",
            "up",
            "--state-dir",
            str(state),
            "--drop-abnormal-disconnects",
        ],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={
            **os.environ,
            "LOCAL_CONNECTIONS_LATENCY_MS": "0",
            # Scheduled rules (the token-expiry sweeper) every 2 s instead of every minute.
            "LOCAL_RULE_INTERVAL_S": "2",
            # EventBridge Scheduler (local/scheduler.py): recurring schedules every 2 s, quick
            # retries, and a clock the `scheduler_clock` fixture can move forward.
            "LOCAL_SCHEDULE_INTERVAL_S": "2",
            "LOCAL_SCHEDULE_RETRY_DELAY_S": "0.5",
            "LOCAL_SCHEDULE_CLOCK_FILE": str(state / CLOCK_FILE),
            # Fan-out jobs: a handful of sockets make a job of several shards, and a failed shard
            # comes back after 5 s instead of 6x the worker's timeout (local/sqs_esm.py). The
            # tests' slowest shard (2 s of injected send delay) stays well under it: a shard
            # still running when its message turns visible again would be delivered twice.
            "LOCAL_SHARD_SIZE": "2",
            "LOCAL_SQS_VISIBILITY_S": "5",
            # Fault injection (local/faults.py): rules the `faults` fixture writes.
            "LOCAL_FAULTS_FILE": str(state / FAULTS_FILE),
        },
    )
    described: dict[str, Any] = {}
    try:
        deadline = time.monotonic() + STACK_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"`python -m local up` exited with {proc.returncode}:\n"
                    + (state / "up.log").read_text()[-4000:]
                )
            if stack_file.exists():
                described = json.loads(stack_file.read_text())
                if described.get("pid") == proc.pid:
                    break
            time.sleep(0.25)
        else:
            raise RuntimeError(
                "the stack did not come up in time:\n" + (state / "up.log").read_text()[-4000:]
            )
        yield described
    finally:
        children = _descendants(proc.pid)
        proc.send_signal(signal.SIGINT)  # what Ctrl-C does
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        finally:
            log.close()
        orphans = [pid for pid in children if _alive(pid)]
        assert not orphans, f"processes left behind: {orphans}"
        if described:
            # Teardown freed every port and removed the description.
            for key in ("websocket_url", "lambda_endpoint", "aws_endpoint"):
                assert not _port_open(described[key]), f"{key} still open after teardown"
            assert not stack_file.exists()
        assert proc.returncode == 0, (state / "up.log").read_text()[-3000:]


class Faults:
    """Writes the stack's fault rules (local/faults.py); `clear` removes them."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def set(self, **sections: list[dict[str, Any]]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(sections))
        tmp.replace(self.path)  # atomic: the stack never reads half a file

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


@pytest.fixture
def faults(stack: dict[str, Any]) -> Iterator[Faults]:
    rules = Faults(REPO / ".local" / "e2e" / FAULTS_FILE)
    rules.clear()
    yield rules
    rules.clear()


class Sample:
    def __init__(
        self, api: sample_api.SampleApi, runtime: BackgroundRuntime, aws: str, issuer: Issuer
    ) -> None:
        self.api = api
        self.issuer = issuer
        self.runtime = runtime
        self.aws_endpoint = aws
        assert runtime.endpoints is not None
        self.endpoints = runtime.endpoints
        self.url = runtime.endpoints.websocket_url
        self.http_url = runtime.endpoints.http_api_urls[api.http_api_id]

    def pool(self, role: str) -> Any:
        return self.runtime.runtime.pools[self.api.functions[role]]

    def recorded(self, kind: str, connection_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The event a sample handler stored in DynamoDB (through the emulated AWS)."""
        from local.controlplane import aws_client

        ddb = aws_client("dynamodb", self.aws_endpoint, sample_api.REGION)
        deadline = time.monotonic() + timeout
        while True:
            item = ddb.get_item(
                TableName=self.api.events_table, Key={"pk": {"S": f"{kind}#{connection_id}"}}
            ).get("Item")
            if item:
                return {
                    "event": json.loads(item["event"]["S"]),
                    "env": json.loads(item["env"]["S"]),
                    "remainingMs": int(item["remainingMs"]["N"]),
                }
            if time.monotonic() > deadline:
                raise AssertionError(f"no {kind} event recorded for {connection_id}")
            time.sleep(0.05)


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sample]:
    work = tmp_path_factory.mktemp("sample")
    with MotoServer(work / "moto.log") as moto, Issuer() as issuer:
        api = sample_api.deploy(moto.endpoint, work, issuer.url)
        runtime = BackgroundRuntime(
            Runtime(
                aws_endpoint=moto.endpoint,
                region=sample_api.REGION,
                code=CodeSource(
                    function_zips={name: api.zip_path for name in api.functions.values()}
                ),
                work_dir=work,
                settings=Settings(
                    idle_timeout_s=SAMPLE_IDLE_S, max_duration_s=SAMPLE_MAX_DURATION_S
                ),
                max_workers=4,
            )
        )
        runtime.start()
        try:
            yield Sample(api, runtime, moto.endpoint, issuer)
        finally:
            runtime.stop()


def run(coro: Any) -> Any:
    """Run one async test body with a hard bound, so a hung socket fails instead of stalling."""
    return asyncio.run(asyncio.wait_for(coro, 60))

"""The options for the @connections transport, measured with the fan-out core itself
(wsnotify.delivery.fanout) in a separate process, against the same endpoint, latency and
clients as the end-to-end runs: the evidence for the push function's tuning."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from bench.fanout import DELIVERY_TIMEOUT_S, MeasureError
from bench.swarm import Swarm

FUNCTIONS = Path(__file__).resolve().parent.parent / "functions"

# One process per measurement: a warm-up fan-out (threads, sockets), then the timed one.
_CHILD = r"""
import json, sys, time
spec = json.loads(sys.stdin.read())
sys.path.insert(0, spec["functions"])
from botocore.config import Config
import boto3
from wsnotify import delivery

def boto_sender(validate):
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=spec["endpoint"],
        config=Config(
            max_pool_connections=spec["concurrency"],
            retries={"total_max_attempts": 1, "mode": "standard"},
            parameter_validation=validate,
            tcp_keepalive=True,
        ),
    )
    class Sender:
        def post(self, connection_id, data):
            client.post_to_connection(ConnectionId=connection_id, Data=data)
    return Sender()

kind = spec["transport"]
def make():
    if kind == "boto3":
        return boto_sender(True)
    if kind == "boto3-no-validation":
        return boto_sender(False)
    return delivery.HttpSender(spec["endpoint"], spec["concurrency"])

warm = make()
delivery.fanout(warm, spec["warm_ids"], spec["warm_frame"].encode(), spec["concurrency"], print)
sender = make() if kind == "lean" else warm  # lean: a new invocation reuses the pool
frame = spec["frame"].encode()
cpu0 = time.process_time()
t0 = time.monotonic()
result = delivery.fanout(sender, spec["ids"], frame, spec["concurrency"], print)
t1 = time.monotonic()
print(json.dumps({"t0": t0, "fanout_s": t1 - t0, "cpu_s": time.process_time() - cpu0,
                  "delivered": result.delivered, "failed": len(result.failed)}))
"""


def one(
    swarm: Swarm,
    stack: dict[str, Any],
    transport: str,
    ids: list[str],
    concurrency: int,
) -> dict[str, Any]:
    marker = uuid.uuid4().hex
    warm_marker = uuid.uuid4().hex
    waiter = swarm.expect(marker, len(ids))
    warm_ids = ids[: min(len(ids), concurrency)]
    warm_waiter = swarm.expect(warm_marker, len(warm_ids))
    creds = stack["credentials"]
    env = {
        "AWS_ACCESS_KEY_ID": creds["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": creds["aws_secret_access_key"],
        "AWS_REGION": stack["region"],
        "AWS_DEFAULT_REGION": stack["region"],
        "PATH": "/usr/bin:/bin",
    }
    spec = {
        "functions": str(FUNCTIONS),
        "endpoint": stack["connections_url"],
        "transport": transport,
        "concurrency": concurrency,
        "ids": ids,
        "warm_ids": warm_ids,
        "frame": json.dumps({"type": "notification", "data": {"bench": marker}}),
        "warm_frame": json.dumps({"type": "notification", "data": {"bench": warm_marker}}),
    }
    try:
        proc = subprocess.run(  # noqa: S603 (our interpreter, our script)
            [sys.executable, "-I", "-c", _CHILD],
            input=json.dumps(spec).encode(),
            env=env,
            capture_output=True,
            timeout=DELIVERY_TIMEOUT_S,
            check=False,
        )
        if proc.returncode != 0:
            raise MeasureError(f"transport {transport}: {proc.stderr.decode()[-400:]}")
        out: dict[str, Any] = json.loads(proc.stdout.decode().strip().splitlines()[-1])
        if not waiter.done.wait(30):
            raise MeasureError(f"transport {transport}: {len(waiter.times)} of {len(ids)} arrived")
        warm_waiter.done.wait(5)
    finally:
        swarm.forget(marker)
        swarm.forget(warm_marker)
    out["seconds"] = max(waiter.times) - out["t0"]
    out["cpu_ms_per_send"] = 1000 * out["cpu_s"] / len(ids)
    return out


def compare(
    swarm: Swarm,
    stack: dict[str, Any],
    ids: list[str],
    latency_s: float,
    concurrency: int,
    sweep: list[int],
    runs: int,
) -> dict[str, Any]:
    def series(transport: str, conc: int) -> dict[str, Any]:
        samples = [one(swarm, stack, transport, ids, conc) for _ in range(runs)]
        median = statistics.median(s["seconds"] for s in samples)
        bound = len(ids) * latency_s / conc
        return {
            "transport": transport,
            "concurrency": conc,
            "n": len(ids),
            "median_s": median,
            "bound_s": bound,
            "vs_bound": median / bound,
            "cpu_ms_per_send": statistics.median(s["cpu_ms_per_send"] for s in samples),
            "samples": samples,
        }

    options = [series(t, concurrency) for t in ("boto3", "boto3-no-validation", "lean")]
    sweep_rows = [series("lean", c) for c in sweep if c != concurrency]
    sweep_rows.append(next(o for o in options if o["transport"] == "lean"))
    sweep_rows.sort(key=lambda r: r["concurrency"])
    return {"options": options, "concurrency_sweep": sweep_rows}

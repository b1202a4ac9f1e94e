"""The two delivery strategies, timed from the backend's call to the last client's frame.

ours:     lambda.invoke of the deployed push function (GSI Query + concurrent posts).
baseline: the tutorial's approach, here in the benchmark only: Scan the whole connections table
          (filtered to the user for a targeted push) and post to each connection in turn."""

from __future__ import annotations

import json
import statistics
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from bench.swarm import Swarm

DELIVERY_TIMEOUT_S = 300.0


class MeasureError(RuntimeError):
    pass


@dataclass
class Run:
    seconds: float  # call start -> last client frame
    returned_s: float  # call start -> the call returned
    received: int
    counts: dict[str, Any] = field(default_factory=dict)


@dataclass
class Series:
    strategy: str
    target: str
    n: int
    runs: list[Run] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "target": self.target,
            "n": self.n,
            "median_s": self.median_s,
            "min_s": min(r.seconds for r in self.runs),
            "max_s": max(r.seconds for r in self.runs),
            "deliveries_per_s": self.n / self.median_s if self.median_s else None,
            "runs": [asdict(r) for r in self.runs],
        }


def _wait(swarm: Swarm, marker: str, waiter: Any, expected: int, t0: float) -> tuple[float, int]:
    if not waiter.done.wait(DELIVERY_TIMEOUT_S):
        swarm.forget(marker)
        raise MeasureError(
            f"only {len(waiter.times)} of {expected} clients received {marker} within "
            f"{DELIVERY_TIMEOUT_S:.0f} s"
        )
    swarm.forget(marker)
    return max(waiter.times) - t0, len(waiter.times)


def ours(swarm: Swarm, lam: Any, function: str, request: dict[str, Any], expected: int) -> Run:
    marker = uuid.uuid4().hex
    waiter = swarm.expect(marker, expected)
    payload = json.dumps({**request, "message": {"bench": marker}, "persist": False})
    t0 = time.monotonic()
    response = lam.invoke(FunctionName=function, Payload=payload)
    returned = time.monotonic() - t0
    result = json.load(response["Payload"])
    if response.get("FunctionError") or not result.get("ok"):
        swarm.forget(marker)
        raise MeasureError(f"push failed: {str(result)[:300]}")
    seconds, received = _wait(swarm, marker, waiter, expected, t0)
    if "job" in result:
        # Over SHARD_SIZE the push is a fan-out job (a broadcast of the 3,111 connections is 4
        # shards): the clients got it from the fanout workers; the figures are the job's.
        result = _finished_job(lam, function, result["notificationId"])
        counts = {k: result[k] for k in ("targeted", "delivered", "stale", "failed")}
    else:
        counts = {k: result[k] for k in ("targeted", "delivered", "stale")}
        counts["failed"] = len(result["failed"])
    return Run(seconds, returned, received, counts)


def _finished_job(lam: Any, function: str, notification_id: str) -> dict[str, Any]:
    """The job document once every shard is recorded (direct invoke of `job` `get`)."""
    request = json.dumps({"job": {"action": "get", "notificationId": notification_id}})
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while True:
        answer = json.load(lam.invoke(FunctionName=function, Payload=request)["Payload"])
        job = answer.get("job", {})
        if job.get("state") in ("done", "failed", "cancelled"):
            return dict(job)
        if time.monotonic() > deadline:
            raise MeasureError(f"job {notification_id} not finished: {str(answer)[:300]}")
        time.sleep(0.2)


def baseline(swarm: Swarm, ddb: Any, mgmt: Any, table: str, user: str | None, expected: int) -> Run:
    marker = uuid.uuid4().hex
    waiter = swarm.expect(marker, expected)
    frame = json.dumps({"type": "notification", "data": {"bench": marker}}).encode()
    t0 = time.monotonic()
    kwargs: dict[str, Any] = {"TableName": table}
    if user is not None:
        kwargs["FilterExpression"] = "userId = :u"
        kwargs["ExpressionAttributeValues"] = {":u": {"S": user}}
    ids: list[str] = []
    scanned = 0
    while True:
        page = ddb.scan(**kwargs)
        scanned += page.get("ScannedCount", 0)
        ids.extend(item["connectionId"]["S"] for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    delivered = stale = failed = 0
    for cid in ids:
        try:
            mgmt.post_to_connection(ConnectionId=cid, Data=frame)
            delivered += 1
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 410:
                stale += 1
            else:
                failed += 1
    returned = time.monotonic() - t0
    seconds, received = _wait(swarm, marker, waiter, expected, t0)
    counts = {
        "targeted": len(ids),
        "delivered": delivered,
        "stale": stale,
        "failed": failed,
        "scanned": scanned,
    }
    return Run(seconds, returned, received, counts)

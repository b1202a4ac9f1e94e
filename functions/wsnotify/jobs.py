"""Sharded fan-out jobs (docs/architecture.md, "Fan-out jobs").

An audience larger than SHARD_SIZE is not delivered by the push invocation: push persists what
must be persisted (history rows, before anything is enqueued), writes the job header (the frame
is stored once there, never per shard), sends one SQS message per shard and answers at once.
The `fanout` function (wsnotify.shard_worker) delivers each shard. A job is read and cancelled
by its notification id: GET/DELETE /v1/notifications/{id}, or direct invoke
``{"job": {"action": "get"|"cancel", "notificationId": ...}}``."""

from __future__ import annotations

import math
import time
from typing import Any

from wsnotify import delivery, jobstore
from wsnotify.config import Config
from wsnotify.errors import INVALID_REQUEST, NOT_FOUND, RequestError
from wsnotify.ids import is_ulid

# How long a job's progress stays readable after it was created (the items' TTL).
RETENTION_SECONDS = 7 * 86_400
# The header lists finished shards in a number set: this bound keeps it far below 400 KB.
MAX_SHARDS = 10_000
ACTIONS = ("get", "cancel")


def wanted(config: Config, audience_size: int) -> bool:
    """Whether an audience goes to a job: larger than one shard, on a deployment with jobs."""
    return bool(config.jobs_table and config.fanout_queue_url) and audience_size > config.shard_size


def broadcast_size(config: Config) -> int:
    """Live connections now (parallel COUNT Scan over BROADCAST_SCAN_SEGMENTS segments)."""
    total = config.broadcast_scan_segments
    now_s = int(time.time())
    table = config.require("connections_table")
    counts = delivery.map_concurrently(
        lambda seg: jobstore.count_segment(table, seg, total, now_s),
        list(range(total)),
        config.send_concurrency,
    )
    return sum(counts)


def shard_messages(
    job_id: str, user_ids: list[str] | None, audience: int, shard_size: int
) -> list[dict[str, Any]]:
    """The SQS message bodies: user ids per shard, or one Scan segment per shard (broadcast)."""
    if user_ids is not None:
        return [
            {"jobId": job_id, "shard": index, "userIds": user_ids[start : start + shard_size]}
            for index, start in enumerate(range(0, len(user_ids), shard_size))
        ]
    shards = min(MAX_SHARDS, max(1, math.ceil(audience / shard_size)))
    return [
        {"jobId": job_id, "shard": index, "segment": index, "totalSegments": shards}
        for index in range(shards)
    ]


def start(
    config: Config,
    notification_id: str,
    created_at: int,
    frame: bytes,
    sender: str,
    user_ids: list[str] | None,
    audience: int,
    persisted: bool,
) -> dict[str, Any]:
    """Write the header, enqueue the shards; returns the publish answer. A repeat with the same
    idempotency key (same notification id) finds the header and enqueues again: shards already
    finished are skipped by the worker, so only unfinished ones can be delivered twice."""
    table = config.require("jobs_table")
    messages = shard_messages(notification_id, user_ids, audience, config.shard_size)
    if len(messages) > MAX_SHARDS:
        raise RequestError(
            INVALID_REQUEST, f"the audience needs more than {MAX_SHARDS} shards (SHARD_SIZE)"
        )
    header = {
        "jobId": {"S": notification_id},
        "item": {"S": jobstore.HEADER},
        "frame": {"B": frame},
        "kind": {"S": "broadcast" if user_ids is None else "users"},
        "audience": {"N": str(audience)},
        "shards": {"N": str(len(messages))},
        "sender": {"S": sender},
        "persisted": {"BOOL": persisted},
        "createdAt": {"N": str(created_at)},
        "updatedAt": {"N": str(created_at)},
        "expiresAt": {"N": str(int(time.time()) + RETENTION_SECONDS)},
        "shardErrors": {"M": {}},
        **{name: {"N": "0"} for name in (*jobstore.COUNTERS, jobstore.FAILED_SENDS)},
    }
    jobstore.put_header(table, header)
    jobstore.enqueue(config.require("fanout_queue_url"), messages)
    return {
        "ok": True,
        "notificationId": notification_id,
        "persisted": persisted,
        "job": {"state": "running", "shards": len(messages), "audience": audience},
    }


def document(header: dict[str, Any]) -> dict[str, Any]:
    """The progress of a job, from its header item."""

    def number(name: str) -> int:
        return int(header.get(name, {}).get("N", "0"))

    shards = number("shards")
    finished = number("shardsDone") + number("shardsFailed") + number("shardsCancelled")
    if "cancelledAt" in header:
        state = "cancelled"
    elif finished >= shards:
        state = "failed" if number("shardsFailed") else "done"
    else:
        state = "running"
    errors = header.get("shardErrors", {}).get("M", {})
    job: dict[str, Any] = {
        "state": state,
        "kind": header["kind"]["S"],
        "audience": number("audience"),
        "shards": shards,
        **{name: number(name) for name in jobstore.COUNTERS},
        "failed": number(jobstore.FAILED_SENDS),
        "failedShards": [
            {"shard": int(index), "error": value["S"]}
            for index, value in sorted(errors.items(), key=lambda kv: int(kv[0]))
        ][:100],
        "createdAt": number("createdAt"),
        "updatedAt": number("updatedAt"),
    }
    if "cancelledAt" in header:
        job["cancelledAt"] = number("cancelledAt")
    return {
        "ok": True,
        "notificationId": header["jobId"]["S"],
        "persisted": bool(header.get("persisted", {}).get("BOOL", False)),
        "job": job,
    }


def job_id(value: Any) -> str:
    if not is_ulid(value):
        raise RequestError(INVALID_REQUEST, "notificationId must be a notification id (ULID)")
    return str(value)


def get(config: Config, notification_id: str) -> dict[str, Any]:
    header = jobstore.get_header(config.require("jobs_table"), job_id(notification_id))
    if header is None:
        raise RequestError(NOT_FOUND, f"no fan-out job {notification_id}")
    return document(header)


def cancel(config: Config, notification_id: str) -> dict[str, Any]:
    """Cancel the shards not yet started. Idempotent: a job already cancelled or finished is
    answered as it is (its state says which); only an unknown id is an error."""
    table = config.require("jobs_table")
    jobstore.cancel(table, job_id(notification_id), int(time.time() * 1000))
    return get(config, notification_id)


def request(config: Config, value: Any) -> dict[str, Any]:
    """Direct invoke ``{"job": {"action": "get"|"cancel", "notificationId": ...}}``."""
    if not isinstance(value, dict):
        raise RequestError(INVALID_REQUEST, "job must be an object")
    unknown = sorted(str(k)[:40] for k in value if k not in ("action", "notificationId"))
    if unknown:
        raise RequestError(INVALID_REQUEST, f"job: unknown field(s): {', '.join(unknown[:5])}")
    action = value.get("action")
    if action not in ACTIONS:
        raise RequestError(INVALID_REQUEST, "job.action must be get or cancel")
    if "notificationId" not in value:
        raise RequestError(INVALID_REQUEST, "job.notificationId is required")
    if action == "get":
        return get(config, value["notificationId"])
    return cancel(config, value["notificationId"])

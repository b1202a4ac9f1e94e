"""The fan-out worker's core: deliver one shard of a job (one SQS record).

Per record: skip it when the header lists the shard as finished (an SQS redelivery) or the job
is cancelled (the shard is then recorded as cancelled); otherwise deliver, then record the
shard and add its figures to the header in one conditional write (wsnotify.jobstore). Guarantee:
exactly once per completed shard; a shard interrupted mid-way (timeout, crash, error) is sent
again in full by the redelivery, so its connections get the frame at least once.

A shard that fails on its last allowed receive (ApproximateReceiveCount >= MAX_RECEIVE_COUNT)
is recorded as failed in the job before the failure is reported: SQS then moves the message to
the dead-letter queue, and the job's state says which shard did not go out."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from wsnotify import delivery, envelope, jobstore, log, store
from wsnotify.config import Config


class ShardIncomplete(Exception):
    """The invocation's time ran out before every connection of the shard was tried."""


@dataclass(frozen=True)
class ShardMessage:
    job_id: str
    index: int
    user_ids: tuple[str, ...] | None
    segment: int | None
    total_segments: int | None


def parse(body: str) -> ShardMessage:
    """The shard message push enqueued; ValueError for anything else."""
    value = json.loads(body)
    if not isinstance(value, dict) or not isinstance(value.get("jobId"), str):
        raise ValueError("not a shard message")
    index = value.get("shard")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValueError("shard must be a non-negative integer")
    if "userIds" in value:
        users = value["userIds"]
        if not isinstance(users, list) or not all(isinstance(u, str) for u in users):
            raise ValueError("userIds must be a list of strings")
        return ShardMessage(value["jobId"], index, tuple(users), None, None)
    segment, total = value.get("segment"), value.get("totalSegments")
    if not (isinstance(segment, int) and isinstance(total, int) and 0 <= segment < total):
        raise ValueError("a broadcast shard needs 0 <= segment < totalSegments")
    return ShardMessage(value["jobId"], index, None, segment, total)


def connections(config: Config, shard: ShardMessage) -> list[str]:
    table = config.require("connections_table")
    now_s = int(time.time())
    if shard.user_ids is None:
        assert shard.segment is not None and shard.total_segments is not None
        return store.scan_segment(table, shard.segment, shard.total_segments, now_s)
    parts = delivery.map_concurrently(
        lambda user: store.user_connections(table, config.connections_user_index, user, now_s),
        list(shard.user_ids),
        config.send_concurrency,
    )
    return [cid for part in parts for cid in part]


def process(
    config: Config,
    record: dict[str, Any],
    endpoint: str,
    deadline: float | None,
    totals: dict[str, int],
) -> bool:
    """Handle one SQS record; False asks SQS to deliver it again (a batch item failure)."""
    try:
        shard = parse(str(record.get("body", "")))
    except ValueError as exc:
        # Never deliverable: failing it sends it to the dead-letter queue after its receives.
        log.warning("malformed shard message", messageId=record.get("messageId"), error=str(exc))
        return False
    table = config.require("jobs_table")
    header = jobstore.get_header(table, shard.job_id)
    if header is None:  # expired (TTL) or never written: nothing to deliver, nothing to record
        log.warning("shard of an unknown job dropped", jobId=shard.job_id, shard=shard.index)
        return True
    finished = {int(n) for n in header.get("finished", {}).get("NS", [])}
    if shard.index in finished:
        totals["skipped"] = totals.get("skipped", 0) + 1
        return True
    if "cancelledAt" in header:
        _record(table, shard, "cancelled", {}, None)
        totals["cancelled"] = totals.get("cancelled", 0) + 1
        return True
    try:
        figures = _deliver(config, shard, header["frame"]["B"], endpoint, deadline)
    except Exception as exc:
        receives = int((record.get("attributes") or {}).get("ApproximateReceiveCount", "1"))
        log.warning(
            "shard failed",
            jobId=shard.job_id,
            shard=shard.index,
            receives=receives,
            error=delivery.error_code(exc),
        )
        if receives >= config.max_receive_count:  # SQS moves it to the DLQ next
            _record(table, shard, "failed", {}, delivery.error_code(exc))
        return False
    _record(table, shard, "done", figures, None)
    for name, value in figures.items():
        totals[name] = totals.get(name, 0) + value
    return True


def _deliver(
    config: Config, shard: ShardMessage, frame: bytes, endpoint: str, deadline: float | None
) -> dict[str, int]:
    table = config.require("connections_table")
    young_since_ms = envelope.now_ms() - config.connect_grace_seconds * 1000
    outcome = delivery.fanout(
        delivery.get_sender(endpoint, config.send_concurrency),
        connections(config, shard),
        frame,
        config.send_concurrency,
        on_gone=lambda cid: store.delete_stale_connection(table, cid, young_since_ms),
        deadline=deadline,
    )
    if outcome.not_attempted:
        raise ShardIncomplete(f"{outcome.not_attempted} connection(s) not attempted")
    return {
        "targeted": outcome.targeted,
        "delivered": outcome.delivered,
        "stale": len(outcome.stale),
        jobstore.FAILED_SENDS: len(outcome.failed),
    }


def _record(
    table: str, shard: ShardMessage, outcome: str, figures: dict[str, int], error: str | None
) -> None:
    now = envelope.now_ms()
    if not jobstore.finish_shard(table, shard.job_id, shard.index, outcome, figures, error, now):
        return  # a concurrent copy of this message recorded it first
    item: dict[str, Any] = {
        "state": {"S": outcome},
        "finishedAt": {"N": str(now)},
        "expiresAt": {"N": str(int(time.time()) + 7 * 86_400)},
        **{name: {"N": str(value)} for name, value in figures.items()},
    }
    if error is not None:
        item["error"] = {"S": error[:200]}
    try:
        jobstore.put_shard(table, shard.job_id, shard.index, item)
    except Exception:  # the header holds the figures; the shard item is detail
        log.exception("shard item write failed")

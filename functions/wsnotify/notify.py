"""The push core shared by direct invoke, the `push` route and the HTTP API."""

from __future__ import annotations

import json
import time
from typing import Any

from wsnotify import audience, delivery, envelope, idempotency, ids, jobs, log, mobile, store
from wsnotify.config import Config
from wsnotify.errors import PAYLOAD_TOO_LARGE, RequestError
from wsnotify.validation import PushRequest

BACKEND = "backend"


def sender_of_user(user_id: str) -> str:
    return f"user:{user_id}"


def deadline_of(context: Any, margin_ms: int) -> float | None:
    """The `time.monotonic()` after which no new send starts: the invocation's remaining time
    less a margin to store the idempotency record and answer. None outside Lambda."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    return time.monotonic() + (int(remaining()) - margin_ms) / 1000


def push(
    config: Config,
    request: PushRequest,
    sender: str,
    endpoint: str,
    counts: dict[str, Any],
    deadline: float | None = None,
    allow_job: bool = False,
) -> dict[str, Any]:
    """Persist (when asked) then deliver one notification; returns the result document.

    With `allow_job` (backends), an audience larger than SHARD_SIZE becomes a sharded fan-out
    job (wsnotify.jobs) and the answer comes at once. `counts` receives the figures for the
    invocation's log line."""
    created_at = envelope.now_ms()
    notification_id = ids.new_ulid(created_at)
    frame = envelope.dumps(
        envelope.notification(notification_id, created_at, request.message, sender)
    )
    if len(frame) > envelope.MAX_NOTIFICATION_BYTES:
        raise RequestError(
            PAYLOAD_TOO_LARGE,
            f"the notification envelope is {len(frame)} bytes; "
            f"the limit is {envelope.MAX_NOTIFICATION_BYTES}",
        )

    claim = None
    if request.idempotency_key is not None:
        claim = idempotency.claim(
            config.require("notifications_table"),
            sender,
            request,
            notification_id,
            created_at,
            config.idempotency_window_seconds,
        )
        counts.update(repeat=claim.repeat)
        if claim.first_result is not None:
            # The first attempt reached every connection: answer with its figures, send nothing.
            return {**claim.first_result, "repeat": True}
        if claim.repeat:
            # Same id and time as the first attempt (same length, so the size check holds).
            notification_id, created_at = claim.notification_id, claim.created_at
            frame = envelope.dumps(
                envelope.notification(notification_id, created_at, request.message, sender)
            )

    job = _job_audience(config, request) if allow_job else None
    if request.persist:
        counts.update(stored=_persist(config, request, sender, notification_id, created_at))
    if job is not None:
        user_ids, size = job
        started = jobs.start(
            config, notification_id, created_at, frame, sender, user_ids, size, request.persist
        )
        counts.update(job=True, shards=started["job"]["shards"], audience=size, bytes=len(frame))
        if claim is not None:
            started["repeat"] = claim.repeat
            _complete(claim, started)
        return started

    table = config.require("connections_table")
    by_user = _targets(config, table, request)
    connection_ids = [cid for part in by_user for cid in part]
    sender_transport = delivery.get_sender(endpoint, config.send_concurrency)
    young_since_ms = envelope.now_ms() - config.connect_grace_seconds * 1000
    outcome = delivery.fanout(
        sender_transport,
        connection_ids,
        frame,
        config.send_concurrency,
        on_gone=lambda cid: store.delete_stale_connection(table, cid, young_since_ms),
        deadline=deadline,
    )
    counts.update(
        users=len(request.user_ids),
        targeted=outcome.targeted,
        delivered=outcome.delivered,
        stale=len(outcome.stale),
        failed=len(outcome.failed),
        notAttempted=outcome.not_attempted,
        bytes=len(frame),
        persisted=request.persist,
    )
    result: dict[str, Any] = {
        "ok": True,
        "notificationId": notification_id,
        "targeted": outcome.targeted,
        "delivered": outcome.delivered,
        "stale": len(outcome.stale),
        "failed": outcome.failed[: delivery.MAX_LISTED_FAILURES],
        "failedCount": len(outcome.failed),
        "notAttempted": outcome.not_attempted,
        "persisted": request.persist,
    }
    if request.mobile is not None:
        figures = _mobile(config, request, by_user, outcome, notification_id, deadline)
        result["mobile"] = figures
        counts.update({f"mobile{k[0].upper()}{k[1:]}": v for k, v in figures.items()})
    if claim is not None:
        result["repeat"] = claim.repeat
        if not outcome.failed and not outcome.not_attempted:
            _complete(claim, result)
    return result


def _job_audience(config: Config, request: PushRequest) -> tuple[list[str] | None, int] | None:
    """(user ids or None for broadcast, audience size) when the request becomes a job."""
    if request.mobile is not None or not config.jobs_table or not config.fanout_queue_url:
        return None
    target = audience.resolve(config, request)
    if isinstance(target, audience.Broadcast):
        size = jobs.broadcast_size(config)
        return (None, size) if jobs.wanted(config, size) else None
    users = audience.users(target)
    return (users, len(users)) if jobs.wanted(config, len(users)) else None


def _persist(
    config: Config, request: PushRequest, sender: str, notification_id: str, created_at: int
) -> int:
    """History first: a client that misses the live frame still finds it when it polls.

    One conditional PutItem per user, in parallel; throttling is retried by botocore (standard
    mode). All or nothing per attempt: when any write fails, the others still in flight are
    waited for and the failure propagates, so nothing is sent that history does not hold, and a
    retry with the same key writes only the rows still missing. Returns the rows written now."""
    table_name = config.require("notifications_table")
    content = json.dumps(
        request.message, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    expires_at = int(time.time()) + request.ttl_seconds
    written = delivery.map_concurrently(
        lambda user: store.put_notification(
            table_name, user, notification_id, content, created_at, expires_at, sender
        ),
        list(request.user_ids),
        config.send_concurrency,
    )
    return sum(1 for new in written if new)


def _complete(claim: idempotency.Claim, result: dict[str, Any]) -> None:
    try:
        idempotency.complete(claim, {k: v for k, v in result.items() if k != "repeat"})
    except Exception:  # delivery happened; a later repeat re-sends, which clients de-duplicate
        log.exception("idempotency record update failed")


def _mobile(
    config: Config,
    request: PushRequest,
    by_user: list[list[str]],
    outcome: delivery.FanoutResult,
    notification_id: str,
    deadline: float | None,
) -> dict[str, int]:
    """The devices' part: every user ("always"), the users none of whose live connections
    received the frame ("fallback"), nobody ("never")."""
    mode = request.mobile.mode
    if mode == "never":
        users: list[str] = []
    elif mode == "always":
        users = list(request.user_ids)
    else:
        reached = set(outcome.delivered_ids)
        users = [
            user
            for user, conns in zip(request.user_ids, by_user, strict=True)
            if not reached.intersection(conns)
        ]
    return mobile.send(config, request.mobile, users, notification_id, deadline)


def _targets(config: Config, table: str, request: PushRequest) -> list[list[str]]:
    """Connection ids per user (in request.user_ids order), or per scan segment (broadcast)."""
    if request.broadcast:
        total = config.broadcast_scan_segments
        now_s = int(time.time())
        parts = delivery.map_concurrently(
            lambda seg: store.scan_segment(table, seg, total, now_s),
            list(range(total)),
            config.send_concurrency,
        )
    else:
        index = config.connections_user_index
        now_s = int(time.time())
        parts = delivery.map_concurrently(
            lambda user: store.user_connections(table, index, user, now_s),
            list(request.user_ids),
            config.send_concurrency,
        )
    return parts

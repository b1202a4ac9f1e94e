"""The push core shared by direct invoke, the `push` route and the HTTP API."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

from wsnotify import audience, delivery, envelope, idempotency, ids, log, store
from wsnotify.config import Config
from wsnotify.errors import INVALID_REQUEST, PAYLOAD_TOO_LARGE, RequestError
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
    topic = request.topic.name if request.topic is not None else None
    frame = envelope.dumps(
        envelope.notification(notification_id, created_at, request.message, sender, topic)
    )
    if len(frame) > envelope.MAX_NOTIFICATION_BYTES:
        raise RequestError(
            PAYLOAD_TOO_LARGE,
            f"the notification envelope is {len(frame)} bytes; "
            f"the limit is {envelope.MAX_NOTIFICATION_BYTES}",
        )
    if request.dry_run:  # validated like a push (size included); nothing claimed, stored, sent
        return _dry_run(config, request, counts)

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
                envelope.notification(notification_id, created_at, request.message, sender, topic)
            )

    jobs_on = allow_job and _jobs_available(config, request)
    request = _resolved(config, request, jobs_on)
    if request.persist:
        counts.update(stored=_persist(config, request, sender, notification_id, created_at))
    if topic is not None:
        # The audience is whoever is subscribed now, read after the history row is written: a
        # user subscribing meanwhile finds the notification by polling the topic.
        request = dataclasses.replace(request, user_ids=audience.users(config, request) or ())
    size = _job_size(config, request) if jobs_on else None
    if size is not None:
        from wsnotify import jobs  # the job path's code: loaded by the pushes that take it

        user_ids = None if request.broadcast else list(request.user_ids)
        started = jobs.start(
            config, notification_id, created_at, frame, sender, user_ids, size, request.persist
        )
        if topic is not None:
            started["topic"] = topic
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
    if topic is not None:
        result["topic"] = topic
        result["subscribers"] = len(request.user_ids)
    if request.mobile is not None:
        figures = _mobile(config, request, by_user, outcome, notification_id, deadline)
        result["mobile"] = figures
        counts.update({f"mobile{k[0].upper()}{k[1:]}": v for k, v in figures.items()})
    if claim is not None:
        result["repeat"] = claim.repeat
        if not outcome.failed and not outcome.not_attempted:
            _complete(claim, result)
    return result


def _jobs_available(config: Config, request: PushRequest) -> bool:
    """Whether this deployment can shard this request: a job queue, and no `mobile` part (the
    devices' part runs inline, after the live delivery it falls back from)."""
    return request.mobile is None and bool(config.jobs_table and config.fanout_queue_url)


def _job_size(config: Config, request: PushRequest) -> int | None:
    """The audience size when the request becomes a job (more than SHARD_SIZE), else None."""
    if request.broadcast:
        from wsnotify import jobs  # counting the live connections is the job path's code

        size = jobs.broadcast_size(config)
    else:
        size = len(request.user_ids)
    return size if size > config.shard_size else None


def _resolved(config: Config, request: PushRequest, jobs_on: bool) -> PushRequest:
    """The request with a segment turned into user ids (after the idempotency claim, so that a
    completed repeat costs no resolution). Without the job path a segment is delivered by this
    invocation, so its size is capped."""
    if request.segment is None:
        return request
    from wsnotify import segments  # a segment push's code: loaded by the pushes that have one

    users = audience.users(config, request) or ()
    if not jobs_on and len(users) > segments.MAX_INLINE_SEGMENT_USERS:
        raise RequestError(
            INVALID_REQUEST,
            f"the segment matches {len(users)} users; a push delivers to at most "
            f"{segments.MAX_INLINE_SEGMENT_USERS} (narrow the segment)",
        )
    return dataclasses.replace(request, user_ids=users, segment=None)


def _dry_run(config: Config, request: PushRequest, counts: dict[str, Any]) -> dict[str, Any]:
    users = audience.users(config, request)
    resolved = request if users is None else dataclasses.replace(request, user_ids=users)
    connections = sum(
        len(part) for part in _targets(config, config.require("connections_table"), resolved)
    )
    document = audience.dry_run(config, users, connections)
    counts.update(dryRun=True, audience=document["audience"], connections=connections)
    return document


def _persist(
    config: Config, request: PushRequest, sender: str, notification_id: str, created_at: int
) -> int:
    """History first: a client that misses the live frame still finds it when it polls.

    One conditional PutItem per user, in parallel; throttling is retried by botocore (standard
    mode). All or nothing per attempt: when any write fails, the others still in flight are
    waited for and the failure propagates, so nothing is sent that history does not hold, and a
    retry with the same key writes only the rows still missing. Returns the rows written now."""
    content = json.dumps(
        request.message, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    expires_at = int(time.time()) + request.ttl_seconds
    if request.topic is not None:
        # Once per topic, never per subscriber: subscribers read it with a topic poll.
        return int(
            store.put_notification(
                config.require("topic_history_table"),
                request.topic.name,
                notification_id,
                content,
                created_at,
                expires_at,
                sender,
                key="topic",
            )
        )
    table_name = config.require("notifications_table")
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
    from wsnotify import mobile  # SNS code: loaded by the pushes with a mobile part

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

"""The push core shared by direct invoke, the `push` route and the HTTP API."""

from __future__ import annotations

import json
import time
from typing import Any

from wsnotify import delivery, envelope, ids, store
from wsnotify.config import Config
from wsnotify.errors import PAYLOAD_TOO_LARGE, RequestError
from wsnotify.validation import PushRequest

BACKEND = "backend"


def sender_of_user(user_id: str) -> str:
    return f"user:{user_id}"


def push(
    config: Config, request: PushRequest, sender: str, endpoint: str, counts: dict[str, Any]
) -> dict[str, Any]:
    """Persist (when asked) then deliver one notification; returns the result document.

    `counts` receives the figures for the invocation's log line."""
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

    if request.persist:
        # History first: a client that misses the live frame still finds it when it polls.
        # One PutItem per user, in parallel; throttling is retried by botocore (standard mode)
        # and any failure propagates, so nothing is sent that history does not hold.
        table_name = config.require("notifications_table")
        content = json.dumps(
            request.message, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        expires_at = int(time.time()) + request.ttl_seconds
        delivery.map_concurrently(
            lambda user: store.put_notification(
                table_name, user, notification_id, content, created_at, expires_at, sender
            ),
            list(request.user_ids),
            config.send_concurrency,
        )

    table = config.require("connections_table")
    connection_ids = _targets(config, table, request)
    sender_transport = delivery.get_sender(endpoint, config.send_concurrency)
    outcome = delivery.fanout(
        sender_transport,
        connection_ids,
        frame,
        config.send_concurrency,
        on_gone=lambda cid: store.delete_connection(table, cid),
    )
    counts.update(
        users=len(request.user_ids),
        targeted=outcome.targeted,
        delivered=outcome.delivered,
        stale=len(outcome.stale),
        failed=len(outcome.failed),
        bytes=len(frame),
        persisted=request.persist,
    )
    return {
        "ok": True,
        "notificationId": notification_id,
        "targeted": outcome.targeted,
        "delivered": outcome.delivered,
        "stale": len(outcome.stale),
        "failed": outcome.failed,
        "persisted": request.persist,
    }


def _targets(config: Config, table: str, request: PushRequest) -> list[str]:
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
    return [cid for part in parts for cid in part]

"""History pages for poll: bounded by count and by the 128 KB frame limit."""

from __future__ import annotations

import json
import time
from typing import Any

from wsnotify import envelope, store
from wsnotify.validation import PollRequest

# `],"next":"<26-char id>"}}`: the largest possible tail of a history frame.
_MAX_TAIL = len(b'],"next":""}}') + 26


def page(
    table: str, user_id: str, request: PollRequest, request_id: str, counts: dict[str, Any]
) -> bytes:
    """The caller's history strictly after the cursor, oldest first, as one history frame."""
    budget = envelope.MAX_FRAME_BYTES - len(envelope.history_prefix(request_id)) - _MAX_TAIL
    items: list[bytes] = []
    used = 0
    last_id: str | None = None
    more = False
    skipped = 0
    now_s = int(time.time())
    # One extra item tells whether another page exists.
    for item in store.query_history(table, user_id, request.after, now_s, request.limit + 1):
        if len(items) == request.limit:
            more = True
            break
        data = envelope.dumps(_notification(item))
        if len(data) > budget:
            # Cannot fit in any frame (push keeps notifications smaller, so this is a row written
            # by something else): step over it rather than block the client's history forever.
            skipped += 1
            last_id = item["notificationId"]["S"]
            more = True
            break
        cost = len(data) + (1 if items else 0)
        if used + cost > budget:
            more = True
            break
        items.append(data)
        used += cost
        last_id = item["notificationId"]["S"]
    counts.update(items=len(items), skipped=skipped, more=more)
    return envelope.history(request_id, items, last_id if more else None)


def _notification(item: dict[str, Any]) -> dict[str, Any]:
    return envelope.notification(
        item["notificationId"]["S"],
        int(item["createdAt"]["N"]),
        json.loads(item["content"]["S"]),
        item["sender"]["S"],
    )


# Lambda's 6 MB response limit, with room for the wrapper and the proxy answer's escaping.
MAX_LISTING_BYTES = 4_000_000


def listing(
    table: str, user_id: str, request: PollRequest, counts: dict[str, Any]
) -> dict[str, Any]:
    """The same history as ``page`` as an HTTP API document: ``notifications`` oldest first and
    ``next``, the cursor of the following page (null when there is none)."""
    notifications: list[dict[str, Any]] = []
    used = 0
    last_id: str | None = None
    more = False
    for item in store.query_history(
        table, user_id, request.after, int(time.time()), request.limit + 1
    ):
        if len(notifications) == request.limit:
            more = True
            break
        value = _notification(item)
        used += len(envelope.dumps(value))
        if notifications and used > MAX_LISTING_BYTES:
            more = True
            break
        notifications.append(value)
        last_id = item["notificationId"]["S"]
    counts.update(items=len(notifications), more=more)
    return {"ok": True, "notifications": notifications, "next": last_id if more else None}

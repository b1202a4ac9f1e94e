"""History pages for poll: bounded by count, by the 128 KB frame limit and by DynamoDB pages.

Two reads per poll with a cursor: the items strictly after it (the page proper, which moves the
cursor), and a lookback over the window just before it for items written after the cursor's
time (a slower push whose id is older landed late: docs/protocol.md, "Delivery guarantees")."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from wsnotify import envelope, ids, store
from wsnotify.validation import PollRequest

# `],"next":"<26-char id>"}}`: the largest possible tail of a history frame.
_MAX_TAIL = len(b'],"next":""}}') + 26
# Bounded work: expired rows DynamoDB has not removed yet are read and filtered out, so a poll
# reads at most this many Query pages after the cursor and then hands the client a cursor past
# what it evaluated, instead of looping over them.
MAX_QUERY_PAGES = 4
# Items evaluated by the pages after the first (which asks for just one more than the limit):
# once expired rows showed up, larger pages step over them in fewer round trips.
LATER_PAGE_ITEMS = 200
LOOKBACK_QUERY_PAGES = 2


def page(
    table: str,
    user_id: str,
    request: PollRequest,
    request_id: str,
    counts: dict[str, Any],
    lookback_seconds: int = 0,
    key: str = "userId",
) -> bytes:
    """The caller's history strictly after the cursor, oldest first, as one history frame,
    preceded by the late-written items of the lookback window (ids the client may have seen).
    `key` names the partition key: `userId` (notifications table), or `topic` (topic-history
    table, where `user_id` is the topic)."""
    budget = envelope.MAX_FRAME_BYTES - len(envelope.history_prefix(request_id)) - _MAX_TAIL
    now_s = int(time.time())
    items, used, next_cursor = _after_cursor(table, user_id, request, now_s, budget, counts, key)
    late: list[bytes] = []
    if request.after and lookback_seconds > 0:
        cursor_ms = ids.time_ms(request.after)
        rows = store.late_history(
            table,
            user_id,
            ids.lowest_at(cursor_ms - lookback_seconds * 1000),
            request.after,
            cursor_ms,
            now_s,
            LOOKBACK_QUERY_PAGES,
            key,
        )
        # The page proper comes first (it moves the cursor); late items fill what is left.
        for row in rows[: request.limit]:
            data = envelope.dumps(_notification(row))
            cost = len(data) + 1
            if used + cost > budget:
                break
            late.append(data)
            used += cost
    counts.update(late=len(late))
    return envelope.history(request_id, late + items, next_cursor)


@dataclass(frozen=True)
class _Cut:
    """The page budget ran out before the partition did: continue after this id (every row up
    to it was returned or has expired)."""

    after: str


def _rows_after(
    table: str,
    user_id: str,
    request: PollRequest,
    now_s: int,
    counts: dict[str, Any],
    key: str = "userId",
) -> Iterator[dict[str, Any] | _Cut]:
    """Unexpired rows strictly after the cursor, oldest first, over at most MAX_QUERY_PAGES
    DynamoDB pages (fetched lazily: a caller that stops early reads no more); a `_Cut` last when
    the pages ran out. `counts["pages"]` says how many were read."""
    start_key: dict[str, Any] | None = None
    for pages in range(1, MAX_QUERY_PAGES + 1):
        # The first page asks for one extra item, which tells whether another page exists.
        limit = request.limit + 1 if pages == 1 else LATER_PAGE_ITEMS
        rows, evaluated_to = store.history_page(
            table, user_id, request.after, now_s, limit, start_key, key
        )
        counts["pages"] = pages
        yield from rows
        if evaluated_to is None:
            return
        if pages == MAX_QUERY_PAGES:
            yield _Cut(evaluated_to)
        start_key = {key: {"S": user_id}, "notificationId": {"S": evaluated_to}}


def _after_cursor(
    table: str,
    user_id: str,
    request: PollRequest,
    now_s: int,
    budget: int,
    counts: dict[str, Any],
    key: str = "userId",
) -> tuple[list[bytes], int, str | None]:
    """The page proper: its serialized items, their size with separators, and `next`."""
    items: list[bytes] = []
    used = 0
    last_id: str | None = None
    more = False
    skipped = 0
    for row in _rows_after(table, user_id, request, now_s, counts, key):
        if isinstance(row, _Cut):
            more, last_id = True, row.after
            break
        if len(items) == request.limit:
            more = True
            break
        data = envelope.dumps(_notification(row))
        if len(data) > budget:
            # Cannot fit in any frame (push keeps notifications smaller, so this is a row
            # written by something else): step over it rather than block the history forever.
            skipped += 1
            last_id = row["notificationId"]["S"]
            more = True
            break
        cost = len(data) + (1 if items else 0)
        if used + cost > budget:
            more = True
            break
        items.append(data)
        used += cost
        last_id = row["notificationId"]["S"]
    counts.update(items=len(items), skipped=skipped, more=more)
    return items, used, last_id if more else None


def _notification(item: dict[str, Any]) -> dict[str, Any]:
    return envelope.notification(
        item["notificationId"]["S"],
        int(item["createdAt"]["N"]),
        json.loads(item["content"]["S"]),
        item["sender"]["S"],
        item["topic"]["S"] if "topic" in item else None,
    )


# Lambda's 6 MB response limit, with room for the wrapper and the proxy answer's escaping.
MAX_LISTING_BYTES = 4_000_000


def listing(
    table: str,
    user_id: str,
    request: PollRequest,
    counts: dict[str, Any],
    key: str = "userId",
) -> dict[str, Any]:
    """The same history as ``page`` as an HTTP API document: ``notifications`` oldest first and
    ``next``, the cursor of the following page (null when there is none). The same bounded work:
    at most MAX_QUERY_PAGES DynamoDB pages, then a cursor past what was evaluated."""
    notifications: list[dict[str, Any]] = []
    used = 0
    last_id: str | None = None
    more = False
    for row in _rows_after(table, user_id, request, int(time.time()), counts, key):
        if isinstance(row, _Cut):
            more, last_id = True, row.after
            break
        if len(notifications) == request.limit:
            more = True
            break
        value = _notification(row)
        used += len(envelope.dumps(value))
        if notifications and used > MAX_LISTING_BYTES:
            more = True
            break
        notifications.append(value)
        last_id = row["notificationId"]["S"]
    counts.update(items=len(notifications), more=more)
    return {"ok": True, "notifications": notifications, "next": last_id if more else None}

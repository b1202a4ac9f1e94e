"""poll route: the caller's own history after a cursor, sent back as one history frame."""

from __future__ import annotations

from typing import Any

from wsnotify import events, history, log, routes
from wsnotify.config import Config
from wsnotify.errors import FORBIDDEN, RequestError
from wsnotify.validation import poll_request


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return routes.handle("poll", event, context, _poll)


def _poll(cfg: Config, event: dict[str, Any], inv: log.Invocation, body: dict[str, Any]) -> bytes:
    request = poll_request(body)
    # The user is the authenticated caller, never a field of the frame: no one reads another's
    # history.
    user = events.caller_user(cfg, event)
    if user is None:
        raise RequestError(FORBIDDEN, "no authenticated user on this connection")
    inv.set(userId=user, limit=request.limit)
    counts: dict[str, Any] = {}
    if request.topic is not None:
        # A topic's history, stored once for every subscriber: subscribers only. Imported
        # here: most polls read the user's own history, and a cold start skips the module.
        from wsnotify import topics

        topic = topics.readable_history(cfg, request.topic, user)
        inv.set(topic=topic.name)
        frame = history.page(
            cfg.require("topic_history_table"),
            topic.name,
            request,
            inv.request_id,
            counts,
            cfg.poll_lookback_seconds,
            key="topic",
        )
        inv.set(**counts)
        return frame
    frame = history.page(
        cfg.require("notifications_table"),
        user,
        request,
        inv.request_id,
        counts,
        cfg.poll_lookback_seconds,
    )
    inv.set(**counts)
    return frame

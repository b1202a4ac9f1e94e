"""HTTP API, end users (JWT): ``GET /v1/me/notifications?after=&limit=``, the caller's own
history, the same items as the WebSocket ``poll`` (for an app that is not connected); with
``?topic=``, the history of a topic the caller is subscribed to."""

from __future__ import annotations

from typing import Any

from wsnotify import config, history, httpapi, log, topics
from wsnotify.errors import INVALID_REQUEST, RequestError
from wsnotify.validation import poll_request


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return httpapi.run("me", event, context, _notifications)


def _notifications(
    cfg: config.Config, event: dict[str, Any], inv: log.Invocation
) -> dict[str, Any]:
    user = httpapi.token_user(event)  # the token's subject: no one reads another's history
    request: dict[str, Any] = {}
    after = httpapi.query_parameter(event, "after")
    if after:
        request["after"] = after
    limit = httpapi.query_parameter(event, "limit")
    if limit is not None:
        if not limit.isdigit():
            raise RequestError(INVALID_REQUEST, "limit must be an integer")
        request["limit"] = int(limit)
    topic = httpapi.query_parameter(event, "topic")
    if topic is not None:
        request["topic"] = topic
    valid = poll_request(request)
    inv.set(userId=user, limit=valid.limit)
    counts: dict[str, Any] = {}
    if valid.topic is not None:
        # A topic's history (`?topic=`), stored once for every subscriber: subscribers only.
        name = topics.readable_history(cfg, valid.topic, user).name
        inv.set(topic=name)
        document = history.listing(
            cfg.require("topic_history_table"), name, valid, counts, key="topic"
        )
        inv.set(**counts)
        return document
    document = history.listing(cfg.require("notifications_table"), user, valid, counts)
    inv.set(**counts)
    return document

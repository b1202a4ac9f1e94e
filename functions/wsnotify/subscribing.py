"""Subscription management behind every surface of the `topics` function (WebSocket, HTTP API,
direct invoke): the answer documents of docs/openapi.yaml, built once here."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from wsnotify import subscriptions
from wsnotify.config import Config
from wsnotify.errors import INVALID_REQUEST, NOT_FOUND, RequestError
from wsnotify.topics import Topic
from wsnotify.validation import MAX_USER_ID_LENGTH

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def path_topic(value: str) -> str:
    """A topic from a URL path: API Gateway hands path parameters on decoded, but a client
    that encoded `:` as `%3A` twice, or a proxy that left it encoded, must not see another
    topic. A topic never holds `%`, so decoding once more is safe."""
    return unquote(value) if "%" in value else value


def limit_of(value: Any) -> int:
    """`limit` of a listing, from a query string (text) or a direct invoke (a number)."""
    if value is None:
        return DEFAULT_LIMIT
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise RequestError(INVALID_REQUEST, f"limit must be an integer 1..{MAX_LIMIT}")
    return value


def cursor_of(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_USER_ID_LENGTH:
        raise RequestError(INVALID_REQUEST, "after must be the next cursor of a previous page")
    return value


def subscribe(cfg: Config, topic: Topic, user: str, source: str) -> dict[str, Any]:
    created = subscriptions.subscribe(cfg.require("subscriptions_table"), topic.name, user, source)
    return {"ok": True, "topic": topic.name, "userId": user, "subscribed": True, "created": created}


def unsubscribe(cfg: Config, topic: Topic, user: str) -> dict[str, Any]:
    removed = subscriptions.unsubscribe(cfg.require("subscriptions_table"), topic.name, user)
    return {
        "ok": True,
        "topic": topic.name,
        "userId": user,
        "subscribed": False,
        "removed": removed,
    }


def subscription(cfg: Config, topic: Topic, user: str) -> dict[str, Any]:
    """One subscription, or NOT_FOUND (404) when the user is not subscribed."""
    found = subscriptions.get(cfg.require("subscriptions_table"), topic.name, user)
    if found is None:
        raise RequestError(NOT_FOUND, f"not subscribed to {topic.name}")
    return {"ok": True, **found}


def subscribers(cfg: Config, topic: Topic, after: Any, limit: Any) -> dict[str, Any]:
    items, next_cursor = subscriptions.subscribers(
        cfg.require("subscriptions_table"), topic.name, cursor_of(after), limit_of(limit)
    )
    return {
        "ok": True,
        "topic": topic.name,
        "subscribers": [{k: v for k, v in i.items() if k != "topic"} for i in items],
        "next": next_cursor,
    }


def user_topics(cfg: Config, user: str, after: Any, limit: Any) -> dict[str, Any]:
    found, next_cursor = subscriptions.user_topics(
        cfg.require("subscriptions_table"),
        cfg.subscriptions_user_index,
        user,
        cursor_of(after),
        limit_of(limit),
    )
    return {"ok": True, "userId": user, "topics": found, "next": next_cursor}

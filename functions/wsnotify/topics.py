"""Topics: names, namespaces and who may subscribe (docs/protocol.md, "Topics").

A topic name is an optional namespace, a colon, then the name proper: `news:sports`, or
`weather` (the default namespace). Namespaces are configured in the module (TOPIC_NAMESPACES,
key "" for the default namespace): whether end users may subscribe themselves, whether the
namespace keeps history and for how long. A namespace that is not configured does not exist.

End users (the WebSocket's subscribe/unsubscribe, /v1/me/subscriptions) may manage their own
subscription to a topic when its namespace allows self-subscription or when their token's claim
(TOPICS_CLAIM, default `topics`) lists the topic, exactly or by a pattern with a trailing `*`
(`news:*`). Backends (IAM, direct invoke) manage anybody's subscriptions."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from wsnotify import claims, events, subscriptions
from wsnotify.claims import NAME_PATTERN, NAMESPACE_PATTERN
from wsnotify.config import Config
from wsnotify.errors import FORBIDDEN, INVALID_REQUEST, RequestError

MAX_TOPIC_LENGTH = 128
_TOPIC = re.compile(rf"(?:(?P<namespace>{NAMESPACE_PATTERN}):)?(?P<name>{NAME_PATTERN})")
# Key of the claim's patterns in the authorizers' context (a JSON array; wsnotify.claims).
CONTEXT_KEY = claims.TOPIC_PATTERNS_KEY
# The patterns of a token claim, or None when absent or malformed.
parse_claim = claims.topic_patterns
DEFAULT_HISTORY_TTL_SECONDS = 604_800
DEFAULT_CLAIM = "topics"


@dataclass(frozen=True)
class Namespace:
    name: str  # "" for the default namespace
    self_subscribe: bool = False
    history: bool = True
    history_ttl_seconds: int = DEFAULT_HISTORY_TTL_SECONDS


@dataclass(frozen=True)
class Topic:
    name: str
    namespace: Namespace


def enabled(cfg: Config) -> bool:
    return bool(cfg.subscriptions_table)


def require_enabled(cfg: Config) -> None:
    if not enabled(cfg):
        raise RequestError(INVALID_REQUEST, "topics are not enabled on this deployment (topics)")


def namespaces(cfg: Config) -> dict[str, Namespace]:
    """The configured namespaces; the default namespace exists even when not listed."""
    found = {"": Namespace("")}
    for key, options in cfg.topic_namespaces.items():
        found[key] = Namespace(
            key,
            bool(options.get("self_subscribe", False)),
            bool(options.get("history", True)),
            int(options.get("history_ttl_seconds", DEFAULT_HISTORY_TTL_SECONDS)),
        )
    return found


def resolve(cfg: Config, value: Any, field: str = "topic") -> Topic:
    """A valid topic of a configured namespace, or INVALID_REQUEST saying what is wrong."""
    require_enabled(cfg)
    if not isinstance(value, str):
        raise RequestError(INVALID_REQUEST, f"{field} must be a string")
    if not 1 <= len(value) <= MAX_TOPIC_LENGTH:
        raise RequestError(INVALID_REQUEST, f"{field} must be 1..{MAX_TOPIC_LENGTH} characters")
    match = _TOPIC.fullmatch(value)
    if match is None:
        raise RequestError(
            INVALID_REQUEST,
            f"{field} must be [namespace:]name: a namespace of {NAMESPACE_PATTERN}, "
            "a name of letters, digits and _ . @ = -",
        )
    namespace = match.group("namespace") or ""
    known = namespaces(cfg)
    if namespace not in known:
        raise RequestError(INVALID_REQUEST, f"{field}: unknown namespace {namespace!r}")
    return Topic(value, known[namespace])


def matches(patterns: list[str], topic: str) -> bool:
    return any(p == topic or (p.endswith("*") and topic.startswith(p[:-1])) for p in patterns)


def websocket_patterns(event: Any) -> list[str]:
    """The patterns the authorizer put into the connection's context at $connect."""
    auth = events.request_context(event).get("authorizer")
    raw = auth.get(CONTEXT_KEY) if isinstance(auth, dict) else None
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        value = None
    return parse_claim(value) or []


def http_patterns(cfg: Config, event: Any) -> list[str]:
    """The patterns of an HTTP API request's token: the JWT authorizer's claims (jwks mode) or
    the Lambda authorizer's context (hs256 mode, the same key as on the WebSocket)."""
    auth = events.request_context(event).get("authorizer")
    auth = auth if isinstance(auth, dict) else {}
    jwt = auth.get("jwt")
    claims = jwt.get("claims") if isinstance(jwt, dict) else None
    if isinstance(claims, dict):
        return parse_claim(claims.get(cfg.topics_claim or DEFAULT_CLAIM)) or []
    lam = auth.get("lambda")
    raw = lam.get(CONTEXT_KEY) if isinstance(lam, dict) else None
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        value = None
    return parse_claim(value) or []


def authorize_self(topic: Topic, patterns: list[str]) -> None:
    """An end user may manage their own subscription to `topic`: FORBIDDEN unless the namespace
    allows self-subscription or the token's claim lists the topic."""
    if topic.namespace.self_subscribe or matches(patterns, topic.name):
        return
    raise RequestError(
        FORBIDDEN, f"you may not subscribe to {topic.name[:128]} (namespace and token claims)"
    )


def readable_history(cfg: Config, value: Any, user_id: str) -> Topic:
    """The topic whose history `user_id` asks for (poll, /v1/me/notifications?topic=): its
    namespace must keep history and the user must be subscribed now (FORBIDDEN otherwise)."""
    topic = resolve(cfg, value)
    if not topic.namespace.history:
        raise RequestError(INVALID_REQUEST, f"topic {topic.name}: its namespace keeps no history")
    if not subscriptions.is_subscribed(cfg.require("subscriptions_table"), topic.name, user_id):
        raise RequestError(FORBIDDEN, f"you are not subscribed to {topic.name}")
    return topic

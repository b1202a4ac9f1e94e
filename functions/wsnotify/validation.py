"""Validation of push and poll requests: precise messages, never exceptions other than
RequestError."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from wsnotify.config import Config
from wsnotify.errors import FORBIDDEN, INVALID_REQUEST, RequestError
from wsnotify.ids import is_ulid

MAX_USER_ID_LENGTH = 128
MAX_USER_IDS = 100  # a client push's cap (CLIENT_MAX_RECIPIENTS <= this)
# A backend's cap: lists over SHARD_SIZE become sharded fan-out jobs (wsnotify.jobs).
MAX_BACKEND_USER_IDS = 10_000
POLL_DEFAULT_LIMIT = 20
POLL_MAX_LIMIT = 100
MAX_IDEMPOTENCY_KEY_LENGTH = 128
_PUSH_FIELDS = frozenset(
    {
        "userId",
        "userIds",
        "broadcast",
        "message",
        "persist",
        "ttlSeconds",
        "idempotencyKey",
        "mobile",
        "topic",
        "segment",
        "dryRun",
    }
)
# A publish request with one of these is scheduled (wsnotify.timing validates the values); the
# check lives here so that an immediate push loads none of the scheduling code.
TIME_FIELDS = ("sendAt", "delaySeconds", "localTime", "recurrence")
_POLL_FIELDS = frozenset({"after", "limit", "topic"})
# The largest integer every JSON consumer reads exactly (JavaScript's Number.MAX_SAFE_INTEGER).
MAX_SAFE_INTEGER = 2**53 - 1
MAX_JSON_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")


def _invalid(message: str) -> RequestError:
    return RequestError(INVALID_REQUEST, message)


def parse_json_object(body: Any, is_base64: bool = False) -> dict[str, Any]:
    """Parse a frame or HTTP body that must be one JSON object."""
    if body is None or body == "":
        raise _invalid("the request body is empty")
    if not isinstance(body, str):
        raise _invalid("the request body must be JSON text")
    if is_base64:
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise _invalid("the request body is not valid base64 UTF-8") from None
    try:
        value = json.loads(body, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, RecursionError):
        raise _invalid("the request body is not valid JSON") from None
    except ValueError as exc:
        raise _invalid(str(exc)) from None
    if not isinstance(value, dict):
        raise _invalid("the request must be a JSON object")
    portable_json(value, "the request")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259 has no NaN or Infinity)")


def portable_json(value: Any, where: str = "message") -> None:
    """Refuse what other JSON consumers cannot read back: NaN and infinities (Python's json
    reads and writes them, nobody else does), lone UTF-16 surrogates (not encodable as UTF-8),
    integers beyond 2^53-1 (JavaScript rounds them) and nesting deeper than 64.

    Direct invokes arrive already parsed by the Lambda runtime, which accepts NaN, so every
    entry point checks the parsed value, not only the text."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise _invalid(f"{where} is nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise _invalid(f"{where} holds a lone UTF-16 surrogate (not valid Unicode)")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if abs(item) > MAX_SAFE_INTEGER:
                raise _invalid(f"{where} holds an integer beyond +-(2^53-1); send it as a string")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise _invalid(f"{where} holds NaN or Infinity, which JSON does not have")
        elif isinstance(item, dict):
            for key, child in item.items():
                stack.append((key, depth + 1))
                stack.append((child, depth + 1))
        elif isinstance(item, list | tuple):
            stack.extend((child, depth + 1) for child in item)
        else:
            raise _invalid(f"{where} holds a value that is not JSON")


def user_id(value: Any, name: str = "userId") -> str:
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a string")
    if not 1 <= len(value) <= MAX_USER_ID_LENGTH:
        raise _invalid(f"{name} must be 1..{MAX_USER_ID_LENGTH} characters")
    return value


def _check_fields(request: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(k for k in request if k not in allowed)
    if unknown:
        raise _invalid(f"unknown field(s): {', '.join(str(k)[:40] for k in unknown[:5])}")


@dataclass(frozen=True)
class PushRequest:
    user_ids: tuple[str, ...]  # empty for broadcast
    broadcast: bool
    message: Any
    persist: bool
    ttl_seconds: int
    idempotency_key: str | None = None
    mobile: Any = None  # wsnotify.mobile.Mobile when the request has a `mobile` part
    topic: Any = None  # wsnotify.topics.Topic of a topic push (user_ids empty until resolved)
    # The `segment` target (wsnotify.segments), resolved to user_ids when the push runs.
    segment: dict[str, tuple[str, ...]] | None = None
    dry_run: bool = False


def idempotency_key(value: Any) -> str:
    if not isinstance(value, str):
        raise _invalid("idempotencyKey must be a string")
    if not 1 <= len(value) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        raise _invalid(f"idempotencyKey must be 1..{MAX_IDEMPOTENCY_KEY_LENGTH} characters")
    if not value.isprintable():
        raise _invalid("idempotencyKey must hold printable characters only")
    return value


def push_request(request: dict[str, Any], config: Config, from_client: bool) -> PushRequest:
    """Validate a push request (the `action` key of a WebSocket frame is removed by the caller)."""
    _check_fields(request, _PUSH_FIELDS)
    portable_json(request, "the request")
    targets = [k for k in ("userId", "userIds", "broadcast", "topic", "segment") if k in request]
    if len(targets) != 1:
        raise _invalid("exactly one of userId, userIds, broadcast, topic, segment")
    if "message" not in request:
        raise _invalid("message is required")

    broadcast = False
    user_ids: tuple[str, ...] = ()
    topic = None
    segment = None
    dry_run = request.get("dryRun", False)
    if not isinstance(dry_run, bool):
        raise _invalid("dryRun must be true or false")
    if dry_run and from_client:
        raise RequestError(FORBIDDEN, "clients may not dry-run a push")
    if "topic" in request:
        if from_client:
            # A topic reaches every subscriber: a backend's decision, like broadcast.
            raise RequestError(FORBIDDEN, "clients may not push to topics")
        from wsnotify import topics  # imported here: connect and poll validate no push

        topic = topics.resolve(config, request["topic"])
    elif "segment" in request:
        from wsnotify import segments  # imported here, like topics

        segment = segments.parse(config, request["segment"], from_client)
    elif "userId" in request:
        user_ids = (user_id(request["userId"]),)
    elif "userIds" in request:
        raw = request["userIds"]
        cap = (
            min(MAX_USER_IDS, config.client_max_recipients) if from_client else MAX_BACKEND_USER_IDS
        )
        if not isinstance(raw, list) or not 1 <= len(raw) <= cap:
            who = " in a client push" if from_client else ""
            raise _invalid(f"userIds must be a list of 1..{cap} user ids{who}")
        user_ids = tuple(user_id(u, "userIds[]") for u in raw)
        if len(set(user_ids)) != len(user_ids):
            raise _invalid("userIds must be unique")
    else:
        if request["broadcast"] is not True:
            raise _invalid("broadcast must be true when present")
        if from_client:
            raise RequestError(FORBIDDEN, "clients may not broadcast")
        if not config.allow_broadcast:
            raise RequestError(FORBIDDEN, "broadcast is disabled (ALLOW_BROADCAST)")
        broadcast = True

    persist = request.get("persist")
    if persist is None:
        persist = config.persist_default and not broadcast
        # A topic's history is its namespace's choice.
        persist = topic.namespace.history if topic is not None else persist
    elif not isinstance(persist, bool):
        raise _invalid("persist must be true or false")
    elif persist and broadcast:
        raise _invalid("broadcasts are not persisted: omit persist or set it to false")
    elif persist and topic is not None and not topic.namespace.history:
        raise _invalid("persist: this topic's namespace keeps no history")

    # A client's notification lands in other users' history: a shorter cap than backends get.
    max_ttl = config.history_max_ttl_seconds
    if from_client:
        max_ttl = min(max_ttl, config.client_history_max_ttl_seconds)
    ttl = request.get("ttlSeconds")
    if ttl is None:
        default_ttl = config.history_ttl_seconds
        if topic is not None:
            default_ttl = topic.namespace.history_ttl_seconds
        ttl = min(default_ttl, max_ttl)
    elif isinstance(ttl, bool) or not isinstance(ttl, int):
        raise _invalid("ttlSeconds must be an integer")
    elif not 1 <= ttl <= max_ttl:
        raise _invalid(f"ttlSeconds must be 1..{max_ttl}")
    key = request.get("idempotencyKey")
    key = None if key is None else idempotency_key(key)
    mobile_part = None
    if "mobile" in request:
        if from_client:
            raise RequestError(FORBIDDEN, "clients may not send mobile notifications")
        if broadcast:
            raise _invalid("mobile: broadcasts do not reach devices; name the users")
        # Imported here: mobile pulls in the SNS and delivery code, which connect, poll and the
        # authorizer (they validate user ids and polls) would otherwise load at every cold start.
        from wsnotify import mobile

        mobile_part = mobile.parse(request["mobile"])
        if len(user_ids) > MAX_USER_IDS:
            # Devices are reached inline by push (never a sharded job): the cap it always had.
            raise _invalid(f"mobile: at most {MAX_USER_IDS} users per request")
        if mobile_part.mode != "never" and not config.devices_table:
            raise _invalid("mobile: mobile push is not enabled on this deployment (mobile_push)")
    return PushRequest(
        user_ids,
        broadcast,
        request["message"],
        persist,
        ttl,
        key,
        mobile_part,
        topic,
        segment,
        dry_run,
    )


@dataclass(frozen=True)
class PollRequest:
    after: str | None
    limit: int
    topic: str | None = None  # a topic's history (the caller must be subscribed)


def poll_request(request: dict[str, Any]) -> PollRequest:
    _check_fields(request, _POLL_FIELDS)
    after = request.get("after")
    if after is not None and not is_ulid(after):
        raise _invalid("after must be a notification id (26-character ULID) or null")
    limit = request.get("limit", POLL_DEFAULT_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise _invalid("limit must be an integer")
    if not 1 <= limit <= POLL_MAX_LIMIT:
        raise _invalid(f"limit must be 1..{POLL_MAX_LIMIT}")
    topic = request.get("topic")
    if topic is not None and not isinstance(topic, str):
        raise _invalid("topic must be a string")
    return PollRequest(after, limit, topic)


def time_field(request: dict[str, Any]) -> str | None:
    """The request's time field, or None for an immediate send. Raises on more than one."""
    present = [f for f in TIME_FIELDS if f in request]
    if len(present) > 1:
        raise _invalid(f"at most one of {', '.join(TIME_FIELDS)} (got {', '.join(present)})")
    return present[0] if present else None

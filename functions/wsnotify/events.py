"""Reading API Gateway events: request context, caller identity, management endpoint."""

from __future__ import annotations

from typing import Any

from wsnotify import store
from wsnotify.config import Config

# The key of EventBridge Scheduler's fire event for push (wsnotify.schedule_parts writes it).
SCHEDULED_PUSH = "scheduledPush"


def request_context(event: Any) -> dict[str, Any]:
    rc = event.get("requestContext") if isinstance(event, dict) else None
    return rc if isinstance(rc, dict) else {}


def is_http_api(event: Any) -> bool:
    """API Gateway HTTP API, payload format 2.0 (the optional POST /notifications endpoint)."""
    return (
        isinstance(event, dict)
        and event.get("version") == "2.0"
        and isinstance(request_context(event).get("http"), dict)
    )


def is_websocket_message(event: Any) -> bool:
    rc = request_context(event)
    return rc.get("eventType") == "MESSAGE" and isinstance(rc.get("connectionId"), str)


def endpoint(config: Config, event: Any) -> str | None:
    """The @connections endpoint: configured, else https://{domainName}/{stage} of the event."""
    if config.connections_endpoint:
        return config.connections_endpoint
    rc = request_context(event)
    domain, stage = rc.get("domainName"), rc.get("stage")
    if isinstance(domain, str) and domain and isinstance(stage, str) and stage:
        return f"https://{domain}/{stage}"
    return None


def authorizer_user(event: Any) -> str | None:
    auth = request_context(event).get("authorizer")
    user = auth.get("userId") if isinstance(auth, dict) else None
    return user if isinstance(user, str) and user else None


def authorizer_token_expiry(event: Any) -> int | None:
    """The token expiry (epoch seconds) the authorizer passed in its context. API Gateway may
    hand context numbers on as strings, so both are read."""
    auth = request_context(event).get("authorizer")
    value = auth.get("tokenExpiresAt") if isinstance(auth, dict) else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def caller_user(config: Config, event: Any) -> str | None:
    """The user behind a WebSocket MESSAGE event: the authorizer's userId, captured at connect.

    Only when no authorizer ran (AUTH_MODE=disabled, a development setting) does the user come
    from the connection row written by connect."""
    user = authorizer_user(event)
    if user is not None:
        return user
    rc = request_context(event)
    if rc.get("authorizer") or not config.connections_table:
        return None
    return store.connection_user(config.connections_table, rc["connectionId"])

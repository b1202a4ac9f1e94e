"""Closing connections on the server's initiative (DeleteConnection): revoking a user or one
connection, and closing connections whose token has expired (wsnotify.expiry).

`revoke_connections` is the entry point of the push function's `{"disconnect": ...}` request and
of the HTTP API's `DELETE /v1/users/{userId}/connections`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from wsnotify import clients, config, delivery, log, store
from wsnotify.errors import INVALID_REQUEST, ConfigError, RequestError
from wsnotify.validation import user_id as valid_user_id

MAX_CONNECTION_ID_LENGTH = 128


@dataclass
class Closed:
    closed: int = 0  # open sockets that DeleteConnection closed
    gone: int = 0  # already closed (410); their rows are removed too
    failed: list[str] = field(default_factory=list)  # error codes; rows kept for a retry


def close_connections(cfg: config.Config, connection_ids: Iterable[str]) -> Closed:
    """DeleteConnection each id (the client sees a normal closure and $disconnect runs), then
    delete its row. A connection that is already gone counts as gone, not closed."""
    endpoint = cfg.connections_endpoint
    if not endpoint:
        raise ConfigError("CONNECTIONS_ENDPOINT is not set")
    table = cfg.require("connections_table")
    client = clients.management(endpoint, cfg.send_concurrency)

    def close(connection_id: str) -> str:
        try:
            client.delete_connection(ConnectionId=connection_id)
            outcome = "closed"
        except Exception as exc:  # classified below; one failure never stops the others
            outcome = delivery.error_code(exc)
        if outcome in ("closed", delivery.GONE):
            # $disconnect deletes the row too, but is best effort: do not leave it to chance.
            store.delete_connection(table, connection_id)
        return outcome

    ids = list(dict.fromkeys(connection_ids))
    result = Closed()
    for outcome in delivery.map_concurrently(close, ids, cfg.send_concurrency):
        if outcome == "closed":
            result.closed += 1
        elif outcome == delivery.GONE:
            result.gone += 1
        else:
            result.failed.append(outcome)
    return result


def revoke(cfg: config.Config, *, user_id: str | None, connection_id: str | None) -> Closed:
    if (user_id is None) == (connection_id is None):
        raise RequestError(INVALID_REQUEST, "exactly one of userId, connectionId")
    if user_id is not None:
        user = valid_user_id(user_id)
        # Every row of the user, expired tokens included: revocation closes all of them.
        ids = store.user_connections(
            cfg.require("connections_table"), cfg.connections_user_index, user
        )
    else:
        if not isinstance(connection_id, str) or not (
            1 <= len(connection_id) <= MAX_CONNECTION_ID_LENGTH
        ):
            raise RequestError(
                INVALID_REQUEST, f"connectionId must be 1..{MAX_CONNECTION_ID_LENGTH} characters"
            )
        ids = [connection_id]
    return close_connections(cfg, ids)


def revoke_connections(*, user_id: str | None = None, connection_id: str | None = None) -> int:
    """Close every live connection of a user, or one connection; the number closed.

    Raises RequestError (INVALID_REQUEST) for bad arguments and ConfigError when the function
    is not configured for it."""
    return revoke(config.load(), user_id=user_id, connection_id=connection_id).closed


def handle_request(request: dict[str, Any], context: Any) -> dict[str, Any]:
    """The push function's `{"disconnect": {"userId": ...}}` or `{"disconnect":
    {"connectionId": ...}}` (direct invoke by a backend). Always a result document."""
    inv = log.Invocation("push", request, context)
    inv.set(source="invoke", action="disconnect")
    try:
        target = request.get("disconnect")
        if len(request) != 1 or not isinstance(target, dict):
            raise RequestError(
                INVALID_REQUEST,
                'a disconnect request is {"disconnect": {"userId": ...}} or '
                '{"disconnect": {"connectionId": ...}} and nothing else',
            )
        unknown = sorted(str(k)[:40] for k in target if k not in ("userId", "connectionId"))
        if unknown:
            raise RequestError(INVALID_REQUEST, f"unknown field(s): {', '.join(unknown[:5])}")
        outcome = revoke(
            config.load(), user_id=target.get("userId"), connection_id=target.get("connectionId")
        )
        result: dict[str, Any] = {
            "ok": True,
            "closed": outcome.closed,
            "alreadyGone": outcome.gone,
            "failed": len(outcome.failed),
        }
        inv.set(ok=True, closed=outcome.closed, gone=outcome.gone, failed=len(outcome.failed))
    except RequestError as exc:
        result = {"ok": False, "error": {"code": exc.code, "message": exc.message}}
        inv.set(ok=False, error=exc.code)
    except Exception:
        log.exception("disconnect failed")
        result = {
            "ok": False,
            "error": {
                "code": "INTERNAL_ERROR",
                "message": f"internal error (request id: {inv.request_id or '-'})",
            },
        }
        inv.set(ok=False, error="INTERNAL_ERROR")
    inv.emit()
    return result

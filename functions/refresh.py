"""refresh route: `{"action": "refresh", "token": "<new jwt>"}` moves the connection's token
expiry, so the sweeper does not close it. The token is verified like at $connect and must name
the same user; a refused refresh changes nothing and gets an error frame."""

from __future__ import annotations

import time
from typing import Any

from wsnotify import auth, envelope, events, log, routes, store
from wsnotify.config import Config
from wsnotify.errors import FORBIDDEN, INVALID_REQUEST, INVALID_TOKEN, TOKEN_EXPIRED, RequestError


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return routes.handle("refresh", event, context, _refresh)


def _refresh(
    cfg: Config, event: dict[str, Any], inv: log.Invocation, body: dict[str, Any]
) -> bytes:
    unknown = sorted(str(k)[:40] for k in body if k != "token")
    if unknown:
        raise RequestError(INVALID_REQUEST, f"unknown field(s): {', '.join(unknown[:5])}")
    token = body.get("token")
    if not isinstance(token, str) or not token:
        raise RequestError(INVALID_REQUEST, "token must be a non-empty string (a JWT)")
    user = events.authorizer_user(event)
    if user is None:
        raise RequestError(FORBIDDEN, "no authenticated user on this connection")
    inv.set(userId=user)
    try:
        identity = auth.verify(cfg, token)
    except auth.Unauthorized as exc:
        log.warning("refresh token refused", reason=str(exc))
        inv.set(reason=str(exc))
        raise RequestError(INVALID_TOKEN, "the token was refused") from None
    if identity.user_id != user:
        inv.set(reason="OtherSubject")
        raise RequestError(INVALID_TOKEN, "the token names another user than this connection's")
    connection_id = str(events.request_context(event)["connectionId"])
    table = cfg.require("connections_table")
    if not store.extend_token_expiry(
        table, connection_id, user, identity.expires_at, int(time.time())
    ):
        raise RequestError(TOKEN_EXPIRED, "this connection's token has expired: reconnect")
    inv.set(tokenExpiresAt=identity.expires_at)
    return envelope.ack(inv.request_id, {"ok": True, "expiresAt": identity.expires_at})

"""$connect: store connectionId -> userId with a TTL; echo one offered subprotocol."""

from __future__ import annotations

import time
from typing import Any

from wsnotify import auth, config, events, log, store
from wsnotify.errors import RequestError
from wsnotify.validation import user_id as valid_user_id


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    inv = log.Invocation("connect", event, context)
    try:
        response = _connect(event, inv)
    except Exception:
        log.exception("connect failed")
        response = {"statusCode": 500}
    inv.set(status=response["statusCode"])
    inv.emit()
    return response


def _connect(event: dict[str, Any], inv: log.Invocation) -> dict[str, Any]:
    cfg = config.load()
    rc = events.request_context(event)
    user = _user(cfg, event)
    if user is None:
        return {"statusCode": 401}
    inv.set(userId=user)
    offered = auth.offered_subprotocols(event)
    protocol = auth.chosen_subprotocol(offered)
    if offered and protocol is None:
        # Only a token was offered: a browser needs one value echoed and the token must never be.
        inv.set(reason="subprotocol missing (offer notify.v1 with the token)")
        return {"statusCode": 400}
    now_ms = int(time.time() * 1000)
    store.put_connection(
        cfg.require("connections_table"),
        str(rc["connectionId"]),
        user,
        int(rc.get("connectedAt") or now_ms),
        now_ms // 1000 + cfg.connection_ttl_seconds,
        # The sweeper closes the connection when the token expires, unless the client refreshes.
        events.authorizer_token_expiry(event) if cfg.auth_mode != "disabled" else None,
    )
    if protocol is None:
        return {"statusCode": 200}
    return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": protocol}}


def _user(cfg: config.Config, event: dict[str, Any]) -> str | None:
    if cfg.auth_mode != "disabled":
        return events.authorizer_user(event)
    # Development setting only: anyone may claim any user id.
    query = event.get("queryStringParameters")
    claimed = query.get("userId") if isinstance(query, dict) else None
    if claimed is None:
        return None
    try:
        return valid_user_id(claimed)
    except RequestError:
        return None

"""HTTP API, backends (AWS_IAM): a user's connections.

- ``GET /v1/users/{userId}/connections``: presence (how many live connections, since when);
  connection ids only with ``?include=connectionIds``, and only for the admin principals
  (ADMIN_PRINCIPAL_ARNS).
- ``DELETE /v1/users/{userId}/connections``: revocation (wsnotify.revoke), the number closed."""

from __future__ import annotations

from typing import Any

from wsnotify import config, httpapi, log, revoke, store
from wsnotify.errors import FORBIDDEN, INVALID_REQUEST, RequestError
from wsnotify.validation import user_id as valid_user_id


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return httpapi.run("users", event, context, _route)


def _route(cfg: config.Config, event: dict[str, Any], inv: log.Invocation) -> dict[str, Any]:
    user = valid_user_id(httpapi.path_parameter(event, "userId"))
    inv.set(userId=user, caller=httpapi.iam_caller(event))
    method = event.get("requestContext", {}).get("http", {}).get("method")
    if method == "DELETE":
        closed = revoke.revoke_connections(user_id=user)
        inv.set(closed=closed)
        return {"ok": True, "userId": user, "closed": closed}
    return _presence(cfg, event, user)


def _presence(cfg: config.Config, event: dict[str, Any], user: str) -> dict[str, Any]:
    include = httpapi.query_parameter(event, "include")
    if include not in (None, "connectionIds"):
        raise RequestError(INVALID_REQUEST, "include must be connectionIds")
    if include and httpapi.iam_caller(event) not in cfg.admin_principal_arns:
        raise RequestError(FORBIDDEN, "only an admin principal may list connection ids")
    found = store.connections_since(
        cfg.require("connections_table"), cfg.connections_user_index, user
    )
    document: dict[str, Any] = {
        "ok": True,
        "userId": user,
        "connections": len(found),
        "connectedSince": found[0][1] if found else None,
    }
    if include:
        document["connectionIds"] = [cid for cid, _ in found]
    return document

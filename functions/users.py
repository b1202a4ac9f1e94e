"""users: a user's connections and profile, behind two entry points.

- HTTP API, backends (AWS_IAM, payload format 2.0, docs/openapi.yaml):
  ``GET /v1/users/{userId}/connections``: presence (how many live connections, since when);
  connection ids only with ``?include=connectionIds``, and only for the admin principals
  (ADMIN_PRINCIPAL_ARNS). ``DELETE /v1/users/{userId}/connections``: revocation
  (wsnotify.revoke), the number closed. ``PUT|GET|DELETE /v1/users/{userId}``: the profile
  (wsnotify.profiles: attributes, timezone, locale; PUT replaces it whole).
- Direct invoke by a backend without the HTTP API:
  ``{"profiles": {"action": "put"|"get"|"delete", "userId": ..., "attributes"?, "timezone"?,
  "locale"?}}``; the answer is the HTTP route's document."""

from __future__ import annotations

from typing import Any

from wsnotify import config, events, httpapi, log, profiles, revoke, store
from wsnotify.errors import FORBIDDEN, INTERNAL_ERROR, INVALID_REQUEST, NOT_FOUND, RequestError
from wsnotify.validation import parse_json_object
from wsnotify.validation import user_id as valid_user_id

PROFILE_ACTIONS = ("put", "get", "delete")


def handler(event: Any, context: Any) -> dict[str, Any]:
    if events.is_http_api(event):
        return httpapi.run("users", event, context, _route)
    return _invoke(event, context)


def _route(cfg: config.Config, event: dict[str, Any], inv: log.Invocation) -> dict[str, Any]:
    user = valid_user_id(httpapi.path_parameter(event, "userId"))
    inv.set(userId=user, caller=httpapi.iam_caller(event))
    method, _, path = str(event.get("routeKey", "")).partition(" ")
    if not path.endswith("/connections"):
        body = None
        if method == "PUT":
            body = parse_json_object(event.get("body"), bool(event.get("isBase64Encoded")))
        return _profile(cfg, inv, method.lower(), user, body)
    if method == "DELETE":
        closed = revoke.revoke_connections(user_id=user)
        inv.set(closed=closed)
        return {"ok": True, "userId": user, "closed": closed}
    return _presence(cfg, event, user)


def _profile(
    cfg: config.Config, inv: log.Invocation, action: str, user: str, body: Any
) -> dict[str, Any]:
    inv.set(action=f"profile.{action}")
    if action == "put":
        done = profiles.put(cfg, user, profiles.profile_body(body))
        inv.set(created=done["created"])
        return done
    if action == "get":
        found = profiles.get(cfg, user)
        if found is None:
            raise RequestError(NOT_FOUND, f"user {user!r} has no profile")
        return found
    if action != "delete":  # a route this function does not serve
        raise RequestError(INVALID_REQUEST, f"unsupported profile operation {action!r}")
    if not profiles.delete(cfg, user):
        raise RequestError(NOT_FOUND, f"user {user!r} has no profile")
    return {"ok": True, "userId": user, "deleted": True}


def _invoke(event: Any, context: Any) -> dict[str, Any]:
    inv = log.Invocation("users", event, context)
    inv.set(source="invoke")
    try:
        cfg = config.load()
        request = event.get("profiles") if isinstance(event, dict) else None
        if not isinstance(request, dict) or len(event) != 1:
            raise RequestError(INVALID_REQUEST, 'the request must be {"profiles": {...}}')
        action = request.get("action")
        if action not in PROFILE_ACTIONS:
            raise RequestError(
                INVALID_REQUEST, f"profiles.action must be one of {', '.join(PROFILE_ACTIONS)}"
            )
        user = valid_user_id(request.get("userId"))
        inv.set(userId=user)
        body = {k: v for k, v in request.items() if k not in ("action", "userId")}
        if action != "put" and body:
            unknown = ", ".join(sorted(str(k)[:40] for k in body)[:5])
            raise RequestError(INVALID_REQUEST, f"unknown field(s): {unknown}")
        result = _profile(cfg, inv, action, user, body)
    except RequestError as exc:
        result = httpapi.failure(exc.code, exc.message)
    except Exception:
        log.exception("users failed")
        result = httpapi.failure(
            INTERNAL_ERROR, f"internal error (request id: {inv.request_id or '-'})"
        )
    inv.set(ok=result["ok"], **({} if result["ok"] else {"error": result["error"]["code"]}))
    inv.emit()
    return result


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

"""devices: the device registry of mobile push (wsnotify.devices), behind two entry points.

- HTTP API (payload format 2.0, docs/openapi.yaml):
  ``PUT|DELETE /v1/me/devices/{token}``, ``GET /v1/me/devices`` (JWT: the token's subject) and
  ``PUT|DELETE /v1/users/{userId}/devices/{token}``, ``GET /v1/users/{userId}/devices`` (IAM).
- Direct invoke by a backend without the HTTP API:
  ``{"devices": {"action": "register", "userId", "token", "platform", "app", "locale"?,
  "timezone"?}}``, ``{"devices": {"action": "unregister", "userId", "token"}}`` and
  ``{"devices": {"action": "list", "userId"}}``; the answer is the HTTP route's document."""

from __future__ import annotations

from typing import Any

from wsnotify import config, devices, events, httpapi, log
from wsnotify.errors import INTERNAL_ERROR, INVALID_REQUEST, RequestError
from wsnotify.validation import parse_json_object
from wsnotify.validation import user_id as valid_user_id

ACTIONS = ("register", "unregister", "list")


def handler(event: Any, context: Any) -> dict[str, Any]:
    if events.is_http_api(event):
        return httpapi.run("devices", event, context, _http)
    return _invoke(event, context)


def _http(cfg: config.Config, event: dict[str, Any], inv: log.Invocation) -> dict[str, Any]:
    route = str(event.get("routeKey", ""))
    if " /v1/me/" in route:
        user = httpapi.token_user(event)  # the caller's own devices, never a parameter
    else:
        user = valid_user_id(httpapi.path_parameter(event, "userId"))
        inv.set(caller=httpapi.iam_caller(event))
    inv.set(userId=user)
    method = route.split(" ")[0]
    if method == "GET":
        return devices.listing(cfg, user)
    token = httpapi.path_parameter(event, "token")
    if method == "DELETE":
        return _unregister(cfg, inv, user, token)
    body = parse_json_object(event.get("body"), bool(event.get("isBase64Encoded")))
    return _register(cfg, inv, user, token, body)


def _register(
    cfg: config.Config, inv: log.Invocation, user: str, token: Any, body: Any
) -> dict[str, Any]:
    reg = devices.registration(cfg, token, body)
    done = devices.register(cfg, user, reg)
    inv.set(action="register", platform=reg.platform, created=done["created"], moved=done["moved"])
    return {"ok": True, "userId": user, **done}


def _unregister(cfg: config.Config, inv: log.Invocation, user: str, token: Any) -> dict[str, Any]:
    removed = devices.unregister(cfg, user, devices.valid_token(token))
    inv.set(action="unregister", removed=removed)
    return {"ok": True, "userId": user, "removed": removed}


def _invoke(event: Any, context: Any) -> dict[str, Any]:
    inv = log.Invocation("devices", event, context)
    inv.set(source="invoke")
    try:
        cfg = config.load()
        request = event.get("devices") if isinstance(event, dict) else None
        if not isinstance(request, dict) or len(event) != 1:
            raise RequestError(INVALID_REQUEST, 'the request must be {"devices": {...}}')
        action = request.get("action")
        if action not in ACTIONS:
            raise RequestError(
                INVALID_REQUEST, f"devices.action must be one of {', '.join(ACTIONS)}"
            )
        user = valid_user_id(request.get("userId"))
        inv.set(userId=user)
        allowed = {"action", "userId"} | ({"token"} if action != "list" else set())
        if action == "register":
            allowed |= {"platform", "app", "locale", "timezone"}
        unknown = sorted(str(k)[:40] for k in request if k not in allowed)
        if unknown:
            raise RequestError(INVALID_REQUEST, f"unknown field(s): {', '.join(unknown[:5])}")
        if action == "list":
            result = devices.listing(cfg, user)
        elif action == "unregister":
            result = _unregister(cfg, inv, user, request.get("token"))
        else:
            body = {k: v for k, v in request.items() if k not in ("action", "userId", "token")}
            result = _register(cfg, inv, user, request.get("token"), body)
    except RequestError as exc:
        result = httpapi.failure(exc.code, exc.message)
    except Exception:
        log.exception("devices failed")
        result = httpapi.failure(
            INTERNAL_ERROR, f"internal error (request id: {inv.request_id or '-'})"
        )
    inv.set(ok=result["ok"], **({} if result["ok"] else {"error": result["error"]["code"]}))
    inv.emit()
    return result

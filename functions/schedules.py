"""schedules: manage scheduled sends (creating one is a publish with a time field, in push).

- HTTP API (AWS_IAM): ``GET /v1/schedules`` (``?target=&limit=&cursor=``),
  ``GET /v1/schedules/{scheduleId}``, ``PATCH /v1/schedules/{scheduleId}`` (a body with one time
  field: the new time), ``DELETE /v1/schedules/{scheduleId}`` (cancel);
- direct invoke: ``{"schedules": {"action": "list"|"get"|"update"|"cancel", ...}}``, answered
  with the same documents (errors as ``{"ok": false, "error": {...}}``)."""

from __future__ import annotations

from typing import Any

from wsnotify import config, events, httpapi, log, schedule_settings
from wsnotify import schedules as domain
from wsnotify.errors import INTERNAL_ERROR, INVALID_REQUEST, RequestError
from wsnotify.validation import parse_json_object

_ACTIONS = ("list", "get", "update", "cancel")


def handler(event: Any, context: Any) -> dict[str, Any]:
    if events.is_http_api(event):
        return httpapi.run("schedules", event, context, _route)
    return _invoke(event, context)


def _route(cfg: config.Config, event: dict[str, Any], inv: log.Invocation) -> dict[str, Any]:
    method = event.get("requestContext", {}).get("http", {}).get("method")
    params = event.get("pathParameters")
    inv.set(caller=httpapi.iam_caller(event))
    if not isinstance(params, dict) or "scheduleId" not in params:
        limit = httpapi.query_parameter(event, "limit")
        return _dispatch(
            cfg,
            inv,
            {
                "action": "list",
                "target": httpapi.query_parameter(event, "target"),
                "limit": _integer(limit) if limit is not None else None,
                "cursor": httpapi.query_parameter(event, "cursor"),
            },
        )
    schedule_id = httpapi.path_parameter(event, "scheduleId")
    if method == "DELETE":
        return _dispatch(cfg, inv, {"action": "cancel", "scheduleId": schedule_id})
    if method == "PATCH":
        body = parse_json_object(event.get("body"), bool(event.get("isBase64Encoded")))
        # The body is only the time: its keys never reach the command (no "action" smuggling).
        return _dispatch(cfg, inv, {"action": "update", "scheduleId": schedule_id}, body)
    return _dispatch(cfg, inv, {"action": "get", "scheduleId": schedule_id})


def _integer(text: str) -> int:
    if not text.isdigit():
        raise RequestError(INVALID_REQUEST, "limit must be an integer")
    return int(text)


def _dispatch(
    cfg: config.Config, inv: log.Invocation, command: Any, body: Any = None
) -> dict[str, Any]:
    if not isinstance(command, dict) or command.get("action") not in _ACTIONS:
        raise RequestError(
            INVALID_REQUEST, f"schedules.action must be one of {', '.join(_ACTIONS)}"
        )
    settings = schedule_settings.load()
    now = domain.now_utc()
    action = command["action"]
    inv.set(action=action, scheduleId=command.get("scheduleId"))
    if action == "list":
        unknown = sorted(k for k in command if k not in ("action", "target", "limit", "cursor"))
        if unknown:
            raise RequestError(INVALID_REQUEST, f"unknown field(s): {', '.join(unknown[:5])}")
        return domain.list_page(
            settings, command.get("target"), command.get("limit"), command.get("cursor"), now
        )
    if action == "get":
        return domain.get(settings, command.get("scheduleId"), now)
    if action == "cancel":
        return domain.cancel(settings, command.get("scheduleId"), now)
    if body is None:
        body = {k: v for k, v in command.items() if k not in ("action", "scheduleId")}
    return domain.update(cfg, settings, command.get("scheduleId"), body, now)


def _invoke(event: Any, context: Any) -> dict[str, Any]:
    inv = log.Invocation("schedules", event, context)
    inv.set(source="invoke")
    try:
        if not isinstance(event, dict) or not isinstance(event.get("schedules"), dict):
            raise RequestError(INVALID_REQUEST, 'the event must be {"schedules": {"action": ...}}')
        document = _dispatch(config.load(), inv, event["schedules"])
    except RequestError as exc:
        document = httpapi.failure(exc.code, exc.message)
    except Exception:
        log.exception("schedules failed")
        document = httpapi.failure(
            INTERNAL_ERROR, f"internal error (request id: {inv.request_id or '-'})"
        )
    inv.set(ok=document["ok"])
    if not document["ok"]:
        inv.set(error=document["error"]["code"])
    inv.emit()
    return document

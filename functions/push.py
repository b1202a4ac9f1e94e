"""push: one core behind three entry points.

- direct invoke by a backend (the event is the request; the result document is returned),
- the `push` WebSocket route (client push, off by default; the reply is an ack/error frame),
- the HTTP API's IAM-authorized `POST /v1/notifications` (payload format 2.0): the same request
  and result document, with the HTTP status of docs/openapi.yaml (202 when it started a job);
- fan-out jobs (wsnotify.jobs): `GET|DELETE /v1/notifications/{notificationId}` and direct
  invoke `{"job": {"action": "get"|"cancel", "notificationId": ...}}`."""

from __future__ import annotations

from typing import Any

from wsnotify import config, envelope, events, httpapi, log, notify, routes
from wsnotify.errors import (
    FORBIDDEN,
    INTERNAL_ERROR,
    INVALID_REQUEST,
    PAYLOAD_TOO_LARGE,
    PUSH_DISABLED,
    ConfigError,
    RequestError,
)
from wsnotify.validation import parse_json_object, push_request, time_field

_HTTP_STATUS = {PAYLOAD_TOO_LARGE: 413, FORBIDDEN: 403, INTERNAL_ERROR: 500}


def handler(event: Any, context: Any) -> dict[str, Any]:
    if events.is_http_api(event):
        return _http(event, context)
    if events.is_websocket_message(event):
        return routes.handle(
            "push",
            event,
            context,
            lambda cfg, ev, inv, body: _client_push(cfg, ev, inv, body, context),
        )
    if isinstance(event, dict) and "disconnect" in event:
        from wsnotify import revoke  # each entry point's code loads with its first event

        return revoke.handle_request(event, context)
    if isinstance(event, dict) and events.SCHEDULED_PUSH in event:
        return _backend(event.get("request"), context, "schedule", event)
    if isinstance(event, dict) and "job" in event:
        return _job(event, context)
    return _backend(event, context, "invoke")


def _job(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Direct invoke of a job action: the job document or an error document, never a raise."""
    inv = log.Invocation("push", event, context)
    inv.set(source="invoke", job=True)
    try:
        if len(event) != 1:
            raise RequestError(INVALID_REQUEST, "a job request holds the job field only")
        from wsnotify import jobs  # as revoke: loaded by the first job request

        result = jobs.request(config.load(), event["job"])
    except RequestError as exc:
        result = _failure(exc.code, exc.message)
    except Exception:
        log.exception("job request failed")
        result = _failure(INTERNAL_ERROR, f"internal error (request id: {inv.request_id or '-'})")
    inv.set(ok=result["ok"])
    if not result["ok"]:
        inv.set(error=result["error"]["code"])
    inv.emit()
    return result


def _job_route(cfg: config.Config, event: dict[str, Any], inv: log.Invocation) -> dict[str, Any]:
    """GET (progress) and DELETE (cancel) /v1/notifications/{notificationId}."""
    notification_id = httpapi.path_parameter(event, "notificationId")
    inv.set(notificationId=notification_id, caller=httpapi.iam_caller(event))
    from wsnotify import jobs

    if events.request_context(event).get("http", {}).get("method") == "DELETE":
        return jobs.cancel(cfg, notification_id)
    return jobs.get(cfg, notification_id)


def _backend(request: Any, context: Any, source: str, event: Any = None) -> dict[str, Any]:
    """Validate and deliver a backend's request; always a result document, never a raise.

    A request with a time field is scheduled instead (wsnotify/schedules.py); an event from
    EventBridge Scheduler (source "schedule") delivers the request it carries."""
    inv = log.Invocation("push", event if event is not None else request, context)
    inv.set(source=source)
    counts: dict[str, Any] = {}
    try:
        cfg = config.load()
        if source == "schedule":
            from wsnotify import schedule_settings, schedules  # scheduling code: only when used

            request, figures = schedules.fire(schedule_settings.load(), event)
            counts.update(figures)
            if request is None:  # cancelled meanwhile, or a localTime zone left empty
                skipped = counts.get("skipped", "cancelled")
                return _logged(inv, counts, {"ok": True, "skipped": skipped})
        if not isinstance(request, dict):
            raise RequestError(INVALID_REQUEST, "the request must be a JSON object")
        field = time_field(request)
        if field is not None:
            from wsnotify import schedule_settings, schedules  # imported here, as above

            settings = schedule_settings.load()
            result = schedules.create(cfg, settings, request, field, schedules.now_utc())
            counts.update(scheduleId=result["scheduleId"], scheduled=field)
            return _logged(inv, counts, result)
        valid = push_request(request, cfg, from_client=False)
        # Backends and the HTTP API are not WebSocket events: only the configuration knows where
        # the WebSocket API's @connections endpoint is.
        endpoint = events.endpoint(cfg, None)
        if endpoint is None:
            raise ConfigError("CONNECTIONS_ENDPOINT is not set")
        deadline = notify.deadline_of(context, cfg.send_time_margin_ms)
        result = notify.push(cfg, valid, notify.BACKEND, endpoint, counts, deadline, allow_job=True)
    except RequestError as exc:
        result = _failure(exc.code, exc.message)
    except Exception:
        log.exception("push failed")
        result = _failure(INTERNAL_ERROR, f"internal error (request id: {inv.request_id or '-'})")
    return _logged(inv, counts, result)


def _logged(inv: log.Invocation, counts: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    inv.set(ok=result["ok"], **counts)
    if not result["ok"]:
        inv.set(error=result["error"]["code"])
    inv.emit()
    return result


def _failure(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}


def _http(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if events.request_context(event).get("http", {}).get("method") in ("GET", "DELETE"):
        return httpapi.run("push", event, context, _job_route)
    try:
        request = parse_json_object(event.get("body"), bool(event.get("isBase64Encoded")))
    except RequestError as exc:
        inv = log.Invocation("push", event, context)
        inv.set(source="http", ok=False, error=exc.code)
        inv.emit()
        result = _failure(exc.code, exc.message)
    else:
        result = _backend(request, context, "http", event)
    request_id = events.request_context(event).get("requestId") or getattr(
        context, "aws_request_id", ""
    )
    # 202 Accepted: a scheduled publish is stored, a job's shards are on their way (GET reports
    # progress); neither is delivered yet.
    status = httpapi.status_of(result)
    if status == 200 and (result.get("scheduled") or "job" in result):
        status = 202
    return httpapi.answer(status, result, str(request_id))


def _client_push(
    cfg: config.Config,
    event: dict[str, Any],
    inv: log.Invocation,
    body: dict[str, Any],
    context: Any,
) -> bytes:
    if not cfg.allow_client_push:
        raise RequestError(PUSH_DISABLED, "client push is disabled on this API")
    user = events.caller_user(cfg, event)
    if user is None:
        raise RequestError(FORBIDDEN, "no authenticated user on this connection")
    inv.set(userId=user)
    if time_field(body) is not None:
        raise RequestError(FORBIDDEN, "clients may not schedule notifications")
    # The sender is the authenticated user; a `sender` field in the frame is refused as unknown.
    request = push_request(body, cfg, from_client=True)
    from wsnotify import client_push  # the push route's policy code, loaded by its first frame

    client_push.authorize(cfg, event, user, request)  # policy and per-user rate limit
    endpoint = events.endpoint(cfg, event)
    assert endpoint is not None  # routes.handle checked it
    counts: dict[str, Any] = {}
    deadline = notify.deadline_of(context, cfg.send_time_margin_ms)
    result = notify.push(cfg, request, notify.sender_of_user(user), endpoint, counts, deadline)
    inv.set(**counts)
    # Connection ids are the API's internal handles: a client learns only why sends failed.
    result["failed"] = [{"error": f["error"]} for f in result["failed"]]
    return envelope.ack(inv.request_id, result)

"""The frame of a WebSocket MESSAGE route: parse, run, reply to the caller, log.

No route responses are configured, so replies go through PostToConnection. Bad input and
failures become an error envelope and the integration still answers 200, so API Gateway does not
count the caller's mistakes as integration failures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wsnotify import config, delivery, envelope, events, log
from wsnotify.errors import INTERNAL_ERROR, ConfigError, RequestError
from wsnotify.validation import parse_json_object

RouteBody = Callable[[config.Config, dict[str, Any], log.Invocation, dict[str, Any]], bytes]


def handle(function: str, event: dict[str, Any], context: Any, body: RouteBody) -> dict[str, Any]:
    inv = log.Invocation(function, event, context)
    rc = events.request_context(event)
    connection_id = str(rc.get("connectionId", ""))
    try:
        cfg = config.load()
        endpoint = events.endpoint(cfg, event)
        if endpoint is None:
            raise ConfigError("no CONNECTIONS_ENDPOINT and no domainName/stage in the event")
        try:
            request = parse_json_object(event.get("body"), bool(event.get("isBase64Encoded")))
            request.pop("action", None)
            frame = body(cfg, event, inv, request)
        except RequestError as exc:
            inv.set(error=exc.code)
            frame = envelope.error(inv.request_id, exc.code, exc.message)
        except Exception:
            log.exception(f"{function} failed")
            inv.set(error=INTERNAL_ERROR)
            frame = envelope.error(
                inv.request_id, INTERNAL_ERROR, "internal error; retry later (id is the request id)"
            )
        sender = delivery.get_sender(endpoint, cfg.send_concurrency)
        inv.set(reply=delivery.send_one(sender, connection_id, frame), replyBytes=len(frame))
        return {"statusCode": 200}
    except Exception:
        # Only configuration errors reach here: nothing can be sent back to the caller.
        log.exception(f"{function} cannot reply")
        inv.set(error=INTERNAL_ERROR)
        return {"statusCode": 500}
    finally:
        inv.emit()

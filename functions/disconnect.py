"""$disconnect: remove the connection row. Idempotent; best effort on AWS's side, so rows also
expire by TTL and are pruned when a send answers 410."""

from __future__ import annotations

from typing import Any

from wsnotify import config, events, log, store


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    inv = log.Invocation("disconnect", event, context)
    rc = events.request_context(event)
    inv.set(
        userId=events.authorizer_user(event),
        disconnectStatusCode=rc.get("disconnectStatusCode"),
    )
    try:
        store.delete_connection(config.load().require("connections_table"), str(rc["connectionId"]))
        status = 200
    except Exception:
        log.exception("disconnect failed")
        status = 500
    inv.set(status=status)
    inv.emit()
    return {"statusCode": status}

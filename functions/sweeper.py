"""sweeper: run by an EventBridge schedule (rate(1 minute)); closes connections whose token has
expired. The event ("Scheduled Event") carries nothing the sweep needs but its time."""

from __future__ import annotations

from typing import Any

from wsnotify import config, expiry, log


def handler(event: Any, context: Any) -> dict[str, Any]:
    inv = log.Invocation("sweeper", event, context)
    if isinstance(event, dict):
        inv.set(source=event.get("source"), scheduledAt=event.get("time"))
    try:
        counts = expiry.sweep(config.load())
    except Exception:
        # Raised again so that Lambda counts an error (and EventBridge's retry policy applies).
        log.exception("sweep failed")
        inv.set(ok=False)
        inv.emit()
        raise
    inv.set(ok=True, **counts)
    inv.emit()
    return {"ok": True, **counts}

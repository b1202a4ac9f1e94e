"""fanout: the SQS shard worker of sharded fan-out jobs (wsnotify.shard_worker).

Invoked by the fan-out queue's event source mapping (function_response_types
ReportBatchItemFailures): each record is one shard; the answer lists the records to deliver
again (``batchItemFailures``). A record still waiting when the invocation's time is nearly
spent is reported failed without being started, so SQS hands it to another invocation."""

from __future__ import annotations

import time
from typing import Any

from wsnotify import config, events, log, notify, shard_worker
from wsnotify.errors import ConfigError


def handler(event: Any, context: Any) -> dict[str, Any]:
    inv = log.Invocation("fanout", event, context)
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        inv.set(ok=False, error="not an SQS event")
        inv.emit()
        raise ValueError("the fanout function takes SQS events (Records)")
    cfg = config.load()
    endpoint = events.endpoint(cfg, None)
    if endpoint is None:
        raise ConfigError("CONNECTIONS_ENDPOINT is not set")
    deadline = notify.deadline_of(context, cfg.send_time_margin_ms)
    failures: list[dict[str, str]] = []
    totals: dict[str, int] = {}
    for record in records:
        message_id = str(record.get("messageId", ""))
        if deadline is not None and time.monotonic() >= deadline:
            failures.append({"itemIdentifier": message_id})
            continue
        try:
            ok = shard_worker.process(cfg, record, endpoint, deadline, totals)
        except Exception:  # e.g. the jobs table unreachable: retry this record, go on
            log.exception("shard record failed")
            ok = False
        if not ok:
            failures.append({"itemIdentifier": message_id})
    inv.set(ok=not failures, records=len(records), retried=len(failures), **totals)
    inv.emit()
    return {"batchItemFailures": failures}

"""Token lifetime of connections: the sweeper that closes connections whose token expired.

API Gateway authorizes only at $connect and keeps a connection up to 2 hours; without this a
connection outlives its token. connect stores the token's `exp` (tokenExpiresAt) and an expiry
shard; this sweep, run every minute by an EventBridge rule, Queries each shard of the expiry
index for tokenExpiresAt <= now (never a table Scan) and closes what it finds."""

from __future__ import annotations

import time
from typing import Any

from wsnotify import config, delivery, revoke, store


def sweep(cfg: config.Config, now_s: int | None = None) -> dict[str, Any]:
    """Close every connection whose token has expired; the counts for the log line."""
    now = int(time.time()) if now_s is None else now_s
    table = cfg.require("connections_table")
    index = cfg.connections_expiry_index
    shards = [str(n) for n in range(store.EXPIRY_SHARDS)]
    found = delivery.map_concurrently(
        lambda shard: store.expired_connections(table, index, shard, now),
        shards,
        cfg.send_concurrency,
    )
    ids = [cid for part in found for cid in part]
    closed = revoke.close_connections(cfg, ids)
    return {
        "expired": len(ids),
        "closed": closed.closed,
        "gone": closed.gone,
        "failed": len(closed.failed),
    }

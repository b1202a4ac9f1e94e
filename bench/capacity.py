"""Read capacity of the lookup: what DynamoDB (here: moto) reports with ReturnConsumedCapacity,
and what DynamoDB's published rules charge for the items actually read.

moto answers ReturnConsumedCapacity with a fixed figure per request (1.0 for Query and Scan,
whatever was read), so the benchmark also computes the figure from the items: eventually
consistent reads cost 0.5 RCU per 4 KB read, per page, and a Scan pays for every item it reads,
including the ones its filter drops."""

from __future__ import annotations

import math
import time
from decimal import Decimal
from typing import Any

_UNIT = 4096


def attribute_size(value: dict[str, Any]) -> int:
    """Size of one attribute value as DynamoDB sizes items (strings: UTF-8 bytes; numbers:
    about one byte per two significant digits, plus one)."""
    kind, raw = next(iter(value.items()))
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        digits = Decimal(str(raw)).normalize().as_tuple().digits
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(raw)
    return len(str(raw).encode())


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def rcu(total_bytes: int) -> float:
    return 0.5 * math.ceil(total_bytes / _UNIT) if total_bytes else 0.5


def query_user(ddb: Any, table: str, index: str, user: str) -> dict[str, Any]:
    """The push function's lookup (wsnotify.store.user_connections), with capacity reported.
    A KEYS_ONLY index entry holds the index key and the table key: exactly what is projected."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": "userId = :u",
        "ExpressionAttributeValues": {":u": {"S": user}},
        "ProjectionExpression": "connectionId",
        "ReturnConsumedCapacity": "INDEXES",
    }
    reported = 0.0
    estimated = 0.0
    items = 0
    pages = 0
    t0 = time.monotonic()
    while True:
        page = ddb.query(**kwargs)
        pages += 1
        reported += float(page.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0))
        # Each index entry also holds the index key (userId), read but not projected here.
        key = len("userId") + len(user.encode())
        estimated += rcu(sum(item_size(i) + key for i in page.get("Items", [])))
        items += len(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return {
        "seconds": time.monotonic() - t0,
        "items": items,
        "pages": pages,
        "moto_rcu": reported,
        "rules_rcu": estimated,
    }


def scan_table(ddb: Any, table: str, user: str | None) -> dict[str, Any]:
    """The baseline's lookup: every item of the table is read (and paid for)."""
    kwargs: dict[str, Any] = {"TableName": table, "ReturnConsumedCapacity": "TOTAL"}
    reported = 0.0
    estimated = 0.0
    scanned = 0
    matched = 0
    pages = 0
    while True:
        page = ddb.scan(**kwargs)
        pages += 1
        reported += float(page.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0))
        page_items = page.get("Items", [])
        estimated += rcu(sum(item_size(i) for i in page_items))
        scanned += len(page_items)
        matched += sum(1 for i in page_items if user is None or i["userId"]["S"] == user)
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return {
        "items": matched,
        "scanned": scanned,
        "pages": pages,
        "moto_rcu": reported,
        "rules_rcu": estimated,
    }

"""DynamoDB access for the connections and notifications tables (low-level client, typed AVs)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from wsnotify import clients

# BatchWriteItem takes at most 25 requests; unprocessed items are retried with backoff.
_BATCH = 25
_BATCH_ATTEMPTS = 6


def put_connection(
    table: str, connection_id: str, user_id: str, connected_at_ms: int, expires_at: int
) -> None:
    clients.dynamodb().put_item(
        TableName=table,
        Item={
            "connectionId": {"S": connection_id},
            "userId": {"S": user_id},
            "connectedAt": {"N": str(connected_at_ms)},
            "expiresAt": {"N": str(expires_at)},
        },
    )


def delete_connection(table: str, connection_id: str) -> None:
    """Idempotent: DeleteItem on a missing key succeeds."""
    clients.dynamodb().delete_item(TableName=table, Key={"connectionId": {"S": connection_id}})


def connection_user(table: str, connection_id: str) -> str | None:
    item = (
        clients.dynamodb()
        .get_item(
            TableName=table,
            Key={"connectionId": {"S": connection_id}},
            ProjectionExpression="userId",
            ConsistentRead=True,
        )
        .get("Item")
    )
    return item["userId"]["S"] if item and "userId" in item else None


def user_connections(table: str, index: str, user_id: str) -> list[str]:
    """Every connection id of a user: GSI Query, all pages."""
    ids: list[str] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": "userId = :u",
        "ExpressionAttributeValues": {":u": {"S": user_id}},
        "ProjectionExpression": "connectionId",
    }
    while True:
        page = clients.dynamodb().query(**kwargs)
        ids.extend(item["connectionId"]["S"] for item in page.get("Items", []))
        last = page.get("LastEvaluatedKey")
        if not last:
            return ids
        kwargs["ExclusiveStartKey"] = last


def scan_segment(table: str, segment: int, total: int, now_s: int) -> list[str]:
    """One segment of a parallel Scan of live connections (broadcast only), all pages."""
    ids: list[str] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "Segment": segment,
        "TotalSegments": total,
        "ProjectionExpression": "connectionId",
        "FilterExpression": "attribute_not_exists(expiresAt) OR expiresAt > :now",
        "ExpressionAttributeValues": {":now": {"N": str(now_s)}},
    }
    while True:
        page = clients.dynamodb().scan(**kwargs)
        ids.extend(item["connectionId"]["S"] for item in page.get("Items", []))
        last = page.get("LastEvaluatedKey")
        if not last:
            return ids
        kwargs["ExclusiveStartKey"] = last


def put_notifications(
    table: str,
    user_ids: list[str],
    notification_id: str,
    content: str,
    created_at_ms: int,
    expires_at: int,
    sender: str,
) -> None:
    """Store one history item per user. Raises when items stay unprocessed after retries."""
    requests = [
        {
            "PutRequest": {
                "Item": {
                    "userId": {"S": user_id},
                    "notificationId": {"S": notification_id},
                    "content": {"S": content},
                    "createdAt": {"N": str(created_at_ms)},
                    "expiresAt": {"N": str(expires_at)},
                    "sender": {"S": sender},
                }
            }
        }
        for user_id in user_ids
    ]
    for start in range(0, len(requests), _BATCH):
        pending: list[dict[str, Any]] = requests[start : start + _BATCH]
        for attempt in range(_BATCH_ATTEMPTS):
            out = clients.dynamodb().batch_write_item(RequestItems={table: pending})
            pending = out.get("UnprocessedItems", {}).get(table, [])
            if not pending:
                break
            time.sleep(min(0.05 * 2**attempt, 1.0))
        else:
            raise RuntimeError(f"{len(pending)} history items unprocessed after retries")


def query_history(
    table: str, user_id: str, after: str | None, now_s: int, want: int
) -> Iterator[dict[str, Any]]:
    """Live (not expired) history items of a user, oldest first, strictly after `after`.

    Yields at most `want` items; follows pages because the expiry filter may empty a page."""
    values: dict[str, Any] = {":u": {"S": user_id}, ":now": {"N": str(now_s)}}
    key_condition = "userId = :u"
    if after:
        key_condition += " AND notificationId > :after"
        values[":after"] = {"S": after}
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": key_condition,
        "FilterExpression": "expiresAt > :now",
        "ExpressionAttributeValues": values,
        "ScanIndexForward": True,
        "ConsistentRead": True,
    }
    yielded = 0
    while yielded < want:
        # Limit bounds items evaluated per page (before the filter), keeping reads proportional.
        kwargs["Limit"] = want - yielded
        page = clients.dynamodb().query(**kwargs)
        for item in page.get("Items", []):
            yield item
            yielded += 1
        last = page.get("LastEvaluatedKey")
        if not last:
            return
        kwargs["ExclusiveStartKey"] = last

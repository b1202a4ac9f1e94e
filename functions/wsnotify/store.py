"""DynamoDB access for the connections and notifications tables (low-level client, typed AVs)."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from wsnotify import clients

_CONDITION_FAILED = "ConditionalCheckFailedException"


def _condition_failed(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) == _CONDITION_FAILED


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


def delete_stale_connection(table: str, connection_id: str, connected_before_ms: int) -> bool:
    """Delete a connection row that answered 410, unless it was written at or after
    `connected_before_ms`: a row that young belongs to a handshake API Gateway has not finished
    (PostToConnection answers 410 until it does). Returns False when the row was kept."""
    try:
        clients.dynamodb().delete_item(
            TableName=table,
            Key={"connectionId": {"S": connection_id}},
            ConditionExpression="attribute_not_exists(connectedAt) OR connectedAt < :cutoff",
            ExpressionAttributeValues={":cutoff": {"N": str(connected_before_ms)}},
        )
    except ClientError as exc:
        if _condition_failed(exc):
            return False
        raise
    return True


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


def put_notification(
    table: str,
    user_id: str,
    notification_id: str,
    content: str,
    created_at_ms: int,
    expires_at: int,
    sender: str,
) -> bool:
    """Store one history item unless it is already there (a retry with the same idempotency
    key); returns False in that case. PutItem rather than BatchWriteItem: the push role is
    granted PutItem only, because BatchWriteItem cannot be limited to puts (it also deletes)."""
    try:
        clients.dynamodb().put_item(
            TableName=table,
            Item={
                "userId": {"S": user_id},
                "notificationId": {"S": notification_id},
                "content": {"S": content},
                "createdAt": {"N": str(created_at_ms)},
                "expiresAt": {"N": str(expires_at)},
                "sender": {"S": sender},
                # When the row landed (its id says when it was created): poll's lookback
                # re-reads rows written after the reader's cursor (wsnotify.history).
                "writtenAt": {"N": str(int(time.time() * 1000))},
            },
            ConditionExpression="attribute_not_exists(notificationId)",
        )
    except ClientError as exc:
        if _condition_failed(exc):
            return False
        raise
    return True


def claim_record(table: str, item: dict[str, Any], now_s: int) -> dict[str, Any] | None:
    """Write a record (an idempotency claim) unless a live one holds its key; returns the
    holder in that case. One conditional PutItem: the old item comes back with the refusal, so
    the push role needs no GetItem. An expired record DynamoDB has not yet removed is replaced."""
    try:
        clients.dynamodb().put_item(
            TableName=table,
            Item=item,
            ConditionExpression="attribute_not_exists(userId) OR expiresAt < :now",
            ExpressionAttributeValues={":now": {"N": str(now_s)}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        holder = dict(exc.response).get("Item")  # not in botocore's TypedDict
        if _condition_failed(exc) and isinstance(holder, dict):
            return holder
        raise
    return None


def put_record(table: str, item: dict[str, Any]) -> None:
    clients.dynamodb().put_item(TableName=table, Item=item)


def history_page(
    table: str,
    user_id: str,
    after: str | None,
    now_s: int,
    limit: int,
    start_key: dict[str, Any] | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One Query page of a user's live (not expired) history, oldest first, strictly after
    `after`. `limit` bounds the items evaluated (before the expiry filter). Returns the items
    and the notification id of the last item evaluated, or None when the partition is done."""
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
        "Limit": limit,
    }
    if start_key:
        kwargs["ExclusiveStartKey"] = start_key
    page = clients.dynamodb().query(**kwargs)
    last = page.get("LastEvaluatedKey")
    return list(page.get("Items", [])), (last["notificationId"]["S"] if last else None)


def late_history(
    table: str,
    user_id: str,
    lowest: str,
    before: str,
    written_since_ms: int,
    now_s: int,
    max_pages: int,
) -> list[dict[str, Any]]:
    """Live items with `lowest` <= id < `before` that were written at or after
    `written_since_ms`: the ones a reader whose cursor is `before` may not have seen. Oldest
    first; at most `max_pages` Query pages (each up to 1 MB of the window)."""
    # BETWEEN is inclusive and a filter cannot name a key attribute (DynamoDB refuses it): the
    # cursor's own row is dropped here instead.
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "userId = :u AND notificationId BETWEEN :lo AND :hi",
        "FilterExpression": "expiresAt > :now AND writtenAt >= :since",
        "ExpressionAttributeValues": {
            ":u": {"S": user_id},
            ":lo": {"S": lowest},
            ":hi": {"S": before},
            ":now": {"N": str(now_s)},
            ":since": {"N": str(written_since_ms)},
        },
        "ScanIndexForward": True,
        "ConsistentRead": True,
    }
    items: list[dict[str, Any]] = []
    for _ in range(max_pages):
        page = clients.dynamodb().query(**kwargs)
        items.extend(i for i in page.get("Items", []) if i["notificationId"]["S"] != before)
        last = page.get("LastEvaluatedKey")
        if not last:
            break
        kwargs["ExclusiveStartKey"] = last
    return items

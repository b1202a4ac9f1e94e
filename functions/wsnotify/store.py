"""DynamoDB access for the connections and notifications tables (low-level client, typed AVs)."""

from __future__ import annotations

import time
import zlib
from typing import Any

from botocore.exceptions import ClientError

from wsnotify import clients

# Connections whose token expires are found through the expiry index (partition sweepShard,
# sort tokenExpiresAt), spread over this many partitions so no one index partition is hot.
EXPIRY_SHARDS = 4
# Items whose token is unexpired, or that carry no token expiry (authentication disabled).
_UNEXPIRED_CREDENTIALS = "(attribute_not_exists(tokenExpiresAt) OR tokenExpiresAt > :now)"


def expiry_shard(connection_id: str) -> str:
    return str(zlib.crc32(connection_id.encode()) % EXPIRY_SHARDS)


_CONDITION_FAILED = "ConditionalCheckFailedException"


def condition_failed(exc: ClientError) -> bool:
    """A conditional write DynamoDB refused: the condition, not the request, failed."""
    return str(exc.response.get("Error", {}).get("Code")) == _CONDITION_FAILED


def put_connection(
    table: str,
    connection_id: str,
    user_id: str,
    connected_at_ms: int,
    expires_at: int,
    token_expires_at: int | None = None,
) -> None:
    item = {
        "connectionId": {"S": connection_id},
        "userId": {"S": user_id},
        "connectedAt": {"N": str(connected_at_ms)},
        "expiresAt": {"N": str(expires_at)},
    }
    if token_expires_at is not None:
        item["tokenExpiresAt"] = {"N": str(token_expires_at)}
        item["sweepShard"] = {"S": expiry_shard(connection_id)}
    clients.dynamodb().put_item(TableName=table, Item=item)


def extend_token_expiry(
    table: str, connection_id: str, user_id: str, token_expires_at: int, now_s: int
) -> bool:
    """Move a live connection's token expiry (refresh). False when the row is gone, belongs to
    another user or its token has already expired: nothing is written then."""
    try:
        clients.dynamodb().update_item(
            TableName=table,
            Key={"connectionId": {"S": connection_id}},
            UpdateExpression="SET tokenExpiresAt = :exp, sweepShard = :shard",
            # Only before the current token expires: an expired connection is being closed.
            ConditionExpression=(
                "attribute_exists(connectionId) AND userId = :u AND "
                "(attribute_not_exists(tokenExpiresAt) OR tokenExpiresAt > :now)"
            ),
            ExpressionAttributeValues={
                ":exp": {"N": str(token_expires_at)},
                ":shard": {"S": expiry_shard(connection_id)},
                ":u": {"S": user_id},
                ":now": {"N": str(now_s)},
            },
        )
    except clients.dynamodb().exceptions.ConditionalCheckFailedException:
        return False
    return True


def _connection_ids(operation: str, kwargs: dict[str, Any]) -> list[str]:
    """Every page of a Query or Scan that projects connectionId (kwargs gains the page keys)."""
    ids: list[str] = []
    call = getattr(clients.dynamodb(), operation)
    while True:
        page = call(**kwargs)
        ids.extend(item["connectionId"]["S"] for item in page.get("Items", []))
        last = page.get("LastEvaluatedKey")
        if not last:
            return ids
        kwargs["ExclusiveStartKey"] = last


def expired_connections(table: str, index: str, shard: str, now_s: int) -> list[str]:
    """Connection ids of one shard of the expiry index whose token expired at or before now."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": "sweepShard = :s AND tokenExpiresAt <= :now",
        "ExpressionAttributeValues": {":s": {"S": shard}, ":now": {"N": str(now_s)}},
        "ProjectionExpression": "connectionId",
    }
    return _connection_ids("query", kwargs)


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
        if condition_failed(exc):
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


def user_connections(table: str, index: str, user_id: str, now_s: int | None = None) -> list[str]:
    """The connection ids of a user: GSI Query, all pages. With `now_s`, only connections whose
    token has not expired (the index projects tokenExpiresAt): a push never reaches a socket
    that outlived its token, even before the sweeper closes it."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": "userId = :u",
        "ExpressionAttributeValues": {":u": {"S": user_id}},
        "ProjectionExpression": "connectionId",
    }
    if now_s is not None:
        kwargs["FilterExpression"] = _UNEXPIRED_CREDENTIALS
        kwargs["ExpressionAttributeValues"][":now"] = {"N": str(now_s)}
    return _connection_ids("query", kwargs)


def scan_segment(table: str, segment: int, total: int, now_s: int) -> list[str]:
    """One segment of a parallel Scan of live connections (broadcast only), all pages."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "Segment": segment,
        "TotalSegments": total,
        "ProjectionExpression": "connectionId",
        "FilterExpression": (
            f"(attribute_not_exists(expiresAt) OR expiresAt > :now) AND {_UNEXPIRED_CREDENTIALS}"
        ),
        "ExpressionAttributeValues": {":now": {"N": str(now_s)}},
    }
    return _connection_ids("scan", kwargs)


def put_notification(
    table: str,
    user_id: str,
    notification_id: str,
    content: str,
    created_at_ms: int,
    expires_at: int,
    sender: str,
    key: str = "userId",
) -> bool:
    """Store one history item unless it is already there (a retry with the same idempotency
    key); returns False in that case. PutItem rather than BatchWriteItem: the push role is
    granted PutItem only, because BatchWriteItem cannot be limited to puts (it also deletes).
    `key` names the partition key: `topic` for the topic-history table."""
    try:
        clients.dynamodb().put_item(
            TableName=table,
            Item={
                key: {"S": user_id},
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
        if condition_failed(exc):
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
        if condition_failed(exc) and isinstance(holder, dict):
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
    key: str = "userId",
) -> tuple[list[dict[str, Any]], str | None]:
    """One Query page of a user's live (not expired) history, oldest first, strictly after
    `after`. `limit` bounds the items evaluated (before the expiry filter). Returns the items
    and the notification id of the last item evaluated, or None when the partition is done.
    `key` names the partition key: `topic` reads a topic's history (topic-history table)."""
    values: dict[str, Any] = {":u": {"S": user_id}, ":now": {"N": str(now_s)}}
    key_condition = f"{key} = :u"
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
    key: str = "userId",
) -> list[dict[str, Any]]:
    """Live items with `lowest` <= id < `before` that were written at or after
    `written_since_ms`: the ones a reader whose cursor is `before` may not have seen. Oldest
    first; at most `max_pages` Query pages (each up to 1 MB of the window)."""
    # BETWEEN is inclusive and a filter cannot name a key attribute (DynamoDB refuses it): the
    # cursor's own row is dropped here instead.
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": f"{key} = :u AND notificationId BETWEEN :lo AND :hi",
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


def connections_since(table: str, index: str, user_id: str) -> list[tuple[str, int]]:
    """(connectionId, connectedAt ms) of every live connection of a user: the KEYS_ONLY index
    gives the ids, BatchGetItem the times (100 keys a call, unprocessed keys retried)."""
    ids = user_connections(table, index, user_id)
    found: list[tuple[str, int]] = []
    for start in range(0, len(ids), 100):
        keys: list[dict[str, Any]] = [
            {"connectionId": {"S": cid}} for cid in ids[start : start + 100]
        ]
        while keys:
            page = clients.dynamodb().batch_get_item(
                RequestItems={
                    table: {"Keys": keys, "ProjectionExpression": "connectionId, connectedAt"}
                }
            )
            for item in page.get("Responses", {}).get(table, []):
                found.append((item["connectionId"]["S"], int(item["connectedAt"]["N"])))
            keys = page.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
    return sorted(found, key=lambda pair: pair[1])

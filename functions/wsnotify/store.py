"""DynamoDB access for the connections and notifications tables (low-level client, typed AVs)."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

from wsnotify import clients

# Connections whose token expires are found through the expiry index (partition sweepShard,
# sort tokenExpiresAt), spread over this many partitions so no one index partition is hot.
EXPIRY_SHARDS = 4
# Items whose token is unexpired, or that carry no token expiry (authentication disabled).
_UNEXPIRED_CREDENTIALS = "(attribute_not_exists(tokenExpiresAt) OR tokenExpiresAt > :now)"


def expiry_shard(connection_id: str) -> str:
    return str(zlib.crc32(connection_id.encode()) % EXPIRY_SHARDS)


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


def expired_connections(table: str, index: str, shard: str, now_s: int) -> list[str]:
    """Connection ids of one shard of the expiry index whose token expired at or before now."""
    ids: list[str] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": "sweepShard = :s AND tokenExpiresAt <= :now",
        "ExpressionAttributeValues": {":s": {"S": shard}, ":now": {"N": str(now_s)}},
        "ProjectionExpression": "connectionId",
    }
    while True:
        page = clients.dynamodb().query(**kwargs)
        ids.extend(item["connectionId"]["S"] for item in page.get("Items", []))
        last = page.get("LastEvaluatedKey")
        if not last:
            return ids
        kwargs["ExclusiveStartKey"] = last


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


def user_connections(table: str, index: str, user_id: str, now_s: int | None = None) -> list[str]:
    """The connection ids of a user: GSI Query, all pages. With `now_s`, only connections whose
    token has not expired (the index projects tokenExpiresAt): a push never reaches a socket
    that outlived its token, even before the sweeper closes it."""
    ids: list[str] = []
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
        "FilterExpression": (
            f"(attribute_not_exists(expiresAt) OR expiresAt > :now) AND {_UNEXPIRED_CREDENTIALS}"
        ),
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
) -> None:
    """Store one history item. PutItem rather than BatchWriteItem: the push role is granted
    PutItem only, because BatchWriteItem cannot be limited to puts (it also deletes)."""
    clients.dynamodb().put_item(
        TableName=table,
        Item={
            "userId": {"S": user_id},
            "notificationId": {"S": notification_id},
            "content": {"S": content},
            "createdAt": {"N": str(created_at_ms)},
            "expiresAt": {"N": str(expires_at)},
            "sender": {"S": sender},
        },
    )


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

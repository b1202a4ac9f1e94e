"""The subscriptions table: who is subscribed to which topic (docs/architecture.md, "Data model").

Partition key `topic`, sort key `userId`: a topic's subscribers are one Query (paged), the push
audience. The GSI `userId-index` (hash `userId`, range `topic`, KEYS_ONLY) lists a user's
topics. A subscription is user-level: push reaches every connection (and device) of the user."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from wsnotify import clients, store

SOURCES = ("backend", "self")


def subscribe(table: str, topic: str, user_id: str, source: str) -> bool:
    """Subscribe `user_id`; False when already subscribed (the first subscription, its time and
    source, is kept: a repeat is a no-op)."""
    try:
        clients.dynamodb().put_item(
            TableName=table,
            Item={
                "topic": {"S": topic},
                "userId": {"S": user_id},
                "createdAt": {"N": str(int(time.time() * 1000))},
                "source": {"S": source},
            },
            ConditionExpression="attribute_not_exists(userId)",
        )
    except ClientError as exc:
        if store.condition_failed(exc):
            return False
        raise
    return True


def unsubscribe(table: str, topic: str, user_id: str) -> bool:
    """Idempotent; True when a subscription was removed."""
    out = clients.dynamodb().delete_item(
        TableName=table,
        Key={"topic": {"S": topic}, "userId": {"S": user_id}},
        ReturnValues="ALL_OLD",
    )
    return bool(out.get("Attributes"))


def get(table: str, topic: str, user_id: str) -> dict[str, Any] | None:
    """The subscription as a document (`topic`, `userId`, `createdAt`, `source`), or None."""
    item = (
        clients.dynamodb()
        .get_item(
            TableName=table,
            Key={"topic": {"S": topic}, "userId": {"S": user_id}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return _document(item) if item else None


def is_subscribed(table: str, topic: str, user_id: str) -> bool:
    return get(table, topic, user_id) is not None


def _document(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "topic": item["topic"]["S"],
        "userId": item["userId"]["S"],
        "createdAt": int(item["createdAt"]["N"]) if "createdAt" in item else None,
        "source": item["source"]["S"] if "source" in item else None,
    }


def subscribers(
    table: str, topic: str, after: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a topic's subscriptions in user id order, strictly after the user id
    `after`; the cursor of the next page (the last user id) or None when there is none."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "topic = :t",
        "ExpressionAttributeValues": {":t": {"S": topic}},
        "Limit": limit,
    }
    if after:
        kwargs["ExclusiveStartKey"] = {"topic": {"S": topic}, "userId": {"S": after}}
    page = clients.dynamodb().query(**kwargs)
    items = [_document(i) for i in page.get("Items", [])]
    last = page.get("LastEvaluatedKey")
    return items, (last["userId"]["S"] if last else None)


def user_topics(
    table: str, index: str, user_id: str, after: str | None, limit: int
) -> tuple[list[str], str | None]:
    """One page of a user's topics (the KEYS_ONLY GSI), in topic order, strictly after `after`."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": "userId = :u",
        "ExpressionAttributeValues": {":u": {"S": user_id}},
        "Limit": limit,
    }
    if after:
        # A GSI's start key holds the table's keys and the index's keys: here the same two.
        kwargs["ExclusiveStartKey"] = {"topic": {"S": after}, "userId": {"S": user_id}}
    page = clients.dynamodb().query(**kwargs)
    topics = [i["topic"]["S"] for i in page.get("Items", [])]
    last = page.get("LastEvaluatedKey")
    return topics, (last["topic"]["S"] if last else None)


def subscriber_pages(table: str, topic: str, page_size: int) -> Iterator[list[str]]:
    """Every subscriber's user id, a DynamoDB page (at most `page_size`) at a time, lazily: the
    push audience of a topic (the inline path reads all pages, the sharded job path one shard
    at a time). Only the key is read."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "topic = :t",
        "ExpressionAttributeValues": {":t": {"S": topic}},
        "ProjectionExpression": "userId",
        "Limit": page_size,
    }
    while True:
        page = clients.dynamodb().query(**kwargs)
        users = [i["userId"]["S"] for i in page.get("Items", [])]
        if users:
            yield users
        last = page.get("LastEvaluatedKey")
        if not last:
            return
        kwargs["ExclusiveStartKey"] = last

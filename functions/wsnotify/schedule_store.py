"""The schedules table (`<prefix>-schedules`; docs/architecture.md, "Data model"): one item per
schedule id, whatever the number of Scheduler schedules ("parts") behind it.

Partition key `scheduleId` (S). GSI `target-index`: hash `target` (S, e.g. `user:alice`),
range `createdAt` (N, ms), so a target's schedules list newest first."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from botocore.exceptions import ClientError

from wsnotify import clients, store
from wsnotify.errors import INVALID_REQUEST, RequestError

SCHEDULED = "scheduled"
CANCELLED = "cancelled"


def put_new(table: str, item: dict[str, Any]) -> dict[str, Any] | None:
    """Write a new schedule; when its id exists (an idempotent repeat), return that item."""
    try:
        clients.dynamodb().put_item(
            TableName=table,
            Item=item,
            ConditionExpression="attribute_not_exists(scheduleId)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        holder = dict(exc.response).get("Item")
        if store.condition_failed(exc) and isinstance(holder, dict):
            return holder
        raise
    return None


def get(table: str, schedule_id: str) -> dict[str, Any] | None:
    item = clients.dynamodb().get_item(
        TableName=table, Key={"scheduleId": {"S": schedule_id}}, ConsistentRead=True
    )
    found: dict[str, Any] | None = item.get("Item")
    return found


def delete(table: str, schedule_id: str) -> None:
    clients.dynamodb().delete_item(TableName=table, Key={"scheduleId": {"S": schedule_id}})


def mark_fired(table: str, schedule_id: str, part: str, scheduled_time: str) -> str:
    """Record one fire of a part. Returns "first" (this fire time is new), "repeat" (a retry of
    a fire already recorded: deliver again, the idempotent publish sends nothing twice) or
    "cancelled" (the schedule was cancelled or removed: send nothing)."""
    try:
        clients.dynamodb().update_item(
            TableName=table,
            Key={"scheduleId": {"S": schedule_id}},
            UpdateExpression="SET fired.#p = :t, lastFiredAt = :t ADD fireCount :one",
            ConditionExpression=(
                "#state = :scheduled AND (attribute_not_exists(fired.#p) OR fired.#p < :t)"
            ),
            ExpressionAttributeNames={"#p": part, "#state": "state"},
            ExpressionAttributeValues={
                ":t": {"S": scheduled_time},
                ":one": {"N": "1"},
                ":scheduled": {"S": SCHEDULED},
            },
        )
    except ClientError as exc:
        if not store.condition_failed(exc):
            raise
        item = get(table, schedule_id)
        if item is None or item.get("state", {}).get("S") != SCHEDULED:
            return "cancelled"
        return "repeat"
    return "first"


def update_when(table: str, schedule_id: str, fields: dict[str, dict[str, Any]]) -> bool:
    """Replace the time fields of a schedule still scheduled and never fired; False otherwise."""
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    values = {f":v{i}": value for i, value in enumerate(fields.values())}
    try:
        clients.dynamodb().update_item(
            TableName=table,
            Key={"scheduleId": {"S": schedule_id}},
            UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
            ConditionExpression="#state = :scheduled",
            ExpressionAttributeNames={**names, "#state": "state"},
            ExpressionAttributeValues={**values, ":scheduled": {"S": SCHEDULED}},
        )
    except ClientError as exc:
        if store.condition_failed(exc):
            return False
        raise
    return True


def cancel(table: str, schedule_id: str, now_ms: int, expires_at: int) -> bool:
    """Mark a scheduled schedule cancelled; False when it is not (any more) scheduled."""
    try:
        clients.dynamodb().update_item(
            TableName=table,
            Key={"scheduleId": {"S": schedule_id}},
            UpdateExpression="SET #state = :cancelled, cancelledAt = :now, expiresAt = :exp",
            ConditionExpression="#state = :scheduled",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":cancelled": {"S": CANCELLED},
                ":scheduled": {"S": SCHEDULED},
                ":now": {"N": str(now_ms)},
                ":exp": {"N": str(expires_at)},
            },
        )
    except ClientError as exc:
        if store.condition_failed(exc):
            return False
        raise
    return True


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if cursor is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise RequestError(INVALID_REQUEST, "cursor is not one this API returned") from None
    if not isinstance(key, dict) or "scheduleId" not in key:
        raise RequestError(INVALID_REQUEST, "cursor is not one this API returned")
    return key


def page(
    table: str, index: str, target: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of schedules: a target's, newest first (Query on the GSI), or every schedule
    (Scan, unordered). Returns the items and the next cursor (None on the last page)."""
    kwargs: dict[str, Any] = {"TableName": table, "Limit": limit}
    start = decode_cursor(cursor)
    if start is not None:
        kwargs["ExclusiveStartKey"] = start
    ddb = clients.dynamodb()
    if target is None:
        answer = ddb.scan(**kwargs)
    else:
        answer = ddb.query(
            IndexName=index,
            KeyConditionExpression="#t = :t",
            ExpressionAttributeNames={"#t": "target"},
            ExpressionAttributeValues={":t": {"S": target}},
            ScanIndexForward=False,
            **kwargs,
        )
    return answer.get("Items", []), encode_cursor(answer.get("LastEvaluatedKey"))

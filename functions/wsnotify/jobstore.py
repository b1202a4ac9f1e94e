"""AWS access for sharded fan-out jobs: the jobs table (one header item per job, one item per
finished shard) and the fan-out queue (one SQS message per shard).

Exactly-once accounting per shard rests on one conditional UpdateItem of the header: the
shard's index joins the number set ``finished`` and the shard's figures are ADDed in the same
write, refused when the index is already there. A redelivered or duplicated shard message
therefore never counts twice (and the worker skips a shard it finds in ``finished``)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from botocore.exceptions import ClientError

from wsnotify import clients, store

HEADER = "job"
# The header's counters; the job document reports them under the same names.
COUNTERS = ("shardsDone", "shardsFailed", "shardsCancelled", "targeted", "delivered", "stale")
FAILED_SENDS = "failed"
SQS_BATCH = 10  # SendMessageBatch's entry limit
SEND_ATTEMPTS = 5


def shard_key(index: int) -> str:
    return f"shard#{index:05d}"


def put_header(table: str, item: dict[str, Any]) -> bool:
    """Create a job header; False when it exists already (an idempotent repeat)."""
    try:
        clients.dynamodb().put_item(
            TableName=table, Item=item, ConditionExpression="attribute_not_exists(jobId)"
        )
    except ClientError as exc:
        if store.condition_failed(exc):
            return False
        raise
    return True


def get_header(table: str, job_id: str) -> dict[str, Any] | None:
    item = (
        clients.dynamodb()
        .get_item(
            TableName=table,
            Key={"jobId": {"S": job_id}, "item": {"S": HEADER}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return item or None


def finish_shard(
    table: str,
    job_id: str,
    index: int,
    outcome: str,
    figures: dict[str, int],
    error: str | None,
    now_ms: int,
) -> bool:
    """Record a shard as done, failed or cancelled and add its figures to the header, at most
    once per shard. False when the shard was already recorded (or the job is gone)."""
    counter = {"done": "shardsDone", "failed": "shardsFailed", "cancelled": "shardsCancelled"}
    values: dict[str, Any] = {
        ":i": {"N": str(index)},
        ":set": {"NS": [str(index)]},
        ":one": {"N": "1"},
        ":now": {"N": str(now_ms)},
    }
    adds = ["finished :set", f"{counter[outcome]} :one"]
    for name, value in figures.items():
        adds.append(f"#{name} :{name}")
        values[f":{name}"] = {"N": str(int(value))}
    names = {f"#{name}": name for name in figures}
    update = "ADD " + ", ".join(adds) + " SET updatedAt = :now"
    if error is not None:
        update += ", shardErrors.#index = :error"
        names["#index"] = str(index)
        values[":error"] = {"S": error[:200]}
    kwargs: dict[str, Any] = {
        "TableName": table,
        "Key": {"jobId": {"S": job_id}, "item": {"S": HEADER}},
        "UpdateExpression": update,
        "ConditionExpression": "attribute_exists(jobId) AND NOT contains(finished, :i)",
        "ExpressionAttributeValues": values,
    }
    if names:
        kwargs["ExpressionAttributeNames"] = names
    try:
        clients.dynamodb().update_item(**kwargs)
    except ClientError as exc:
        if store.condition_failed(exc):
            return False
        raise
    return True


def put_shard(table: str, job_id: str, index: int, item: dict[str, Any]) -> None:
    """The per-shard record (state, figures, error): for operators reading the table."""
    clients.dynamodb().put_item(
        TableName=table,
        Item={"jobId": {"S": job_id}, "item": {"S": shard_key(index)}, **item},
    )


def cancel(table: str, job_id: str, now_ms: int) -> bool:
    """Mark a running job cancelled; False when it does not exist, is cancelled already or
    every shard has finished (the caller reads the header to tell which)."""
    try:
        clients.dynamodb().update_item(
            TableName=table,
            Key={"jobId": {"S": job_id}, "item": {"S": HEADER}},
            UpdateExpression="SET cancelledAt = :now, updatedAt = :now",
            ConditionExpression=(
                "attribute_exists(jobId) AND attribute_not_exists(cancelledAt) AND "
                "(attribute_not_exists(finished) OR size(finished) < shards)"
            ),
            ExpressionAttributeValues={":now": {"N": str(now_ms)}},
        )
    except ClientError as exc:
        if store.condition_failed(exc):
            return False
        raise
    return True


def enqueue(queue_url: str, bodies: list[dict[str, Any]]) -> None:
    """One SQS message per shard, ten per SendMessageBatch; entries SQS reports failed are sent
    again (a few times), then the failure propagates."""
    sqs = clients.sqs()
    for start in range(0, len(bodies), SQS_BATCH):
        pending = {
            uuid.uuid4().hex: json.dumps(body, separators=(",", ":"))
            for body in bodies[start : start + SQS_BATCH]
        }
        for attempt in range(SEND_ATTEMPTS):
            answer = sqs.send_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": key, "MessageBody": body} for key, body in pending.items()],
            )
            failed = {entry["Id"] for entry in answer.get("Failed", [])}
            pending = {key: body for key, body in pending.items() if key in failed}
            if not pending:
                break
            time.sleep(0.05 * 2**attempt)
        if pending:
            raise RuntimeError(f"SQS refused {len(pending)} shard message(s)")


def count_segment(table: str, segment: int, total: int, now_s: int) -> int:
    """The live connections of one parallel Scan segment (Select COUNT: no item leaves
    DynamoDB). Broadcast sizes its job with it; the filter is the one broadcast delivers to."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "Segment": segment,
        "TotalSegments": total,
        "Select": "COUNT",
        "FilterExpression": (
            "(attribute_not_exists(expiresAt) OR expiresAt > :now) AND "
            "(attribute_not_exists(tokenExpiresAt) OR tokenExpiresAt > :now)"
        ),
        "ExpressionAttributeValues": {":now": {"N": str(now_s)}},
    }
    count = 0
    while True:
        page = clients.dynamodb().scan(**kwargs)
        count += int(page.get("Count", 0))
        last = page.get("LastEvaluatedKey")
        if not last:
            return count
        kwargs["ExclusiveStartKey"] = last

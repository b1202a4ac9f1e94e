"""Idempotent publish: one record per (caller, idempotencyKey) in the notifications table.

The record is claimed with a conditional PutItem before anything is stored or sent, so every
attempt with the same key uses the first attempt's notification id and creation time; history
rows are then written with `attribute_not_exists`, so a retry stores nothing twice. No in-memory
state: concurrent Lambda instances agree through DynamoDB.

Record layout (docs/architecture.md, "Data model"): partition key `userId` =
`idempotency/<sha512 hex of caller and key>`. That is 140 characters, longer than any user id
(128), so a record can never sit in a user's history partition. Sort key `notificationId` =
`request`. `expiresAt` (TTL) ends the retention window."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from wsnotify import store
from wsnotify.errors import INVALID_REQUEST, RequestError
from wsnotify.validation import PushRequest

PENDING = "pending"
DONE = "done"
_SORT_KEY = "request"


@dataclass(frozen=True)
class Claim:
    table: str
    partition: str
    notification_id: str
    created_at: int
    fingerprint: str
    expires_at: int
    repeat: bool  # an earlier attempt claimed the key
    first_result: dict[str, Any] | None  # that attempt's result, when it completed


def partition_key(sender: str, key: str) -> str:
    digest = hashlib.sha512(f"{sender}\n{key}".encode()).hexdigest()
    return f"idempotency/{digest}"


def fingerprint(request: PushRequest) -> str:
    """What makes two requests "the same": everything but the key."""
    parts: list[Any] = [
        list(request.user_ids),
        request.broadcast,
        request.message,
        request.persist,
        request.ttl_seconds,
    ]
    # Appended only when present, so the fingerprints of other requests stay as they were.
    if request.topic is not None:
        parts.append(request.topic.name)
    if request.segment is not None:
        parts.append({"segment": {k: sorted(v) for k, v in request.segment.items()}})
    canonical = json.dumps(
        parts,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _item(claim: Claim, state: str, result: dict[str, Any] | None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "userId": {"S": claim.partition},
        "notificationId": {"S": _SORT_KEY},
        "id": {"S": claim.notification_id},
        "createdAt": {"N": str(claim.created_at)},
        "fingerprint": {"S": claim.fingerprint},
        "state": {"S": state},
        "expiresAt": {"N": str(claim.expires_at)},
    }
    if result is not None:
        item["result"] = {"S": json.dumps(result, separators=(",", ":"))}
    return item


def claim(
    table: str,
    sender: str,
    request: PushRequest,
    notification_id: str,
    created_at: int,
    window_seconds: int,
) -> Claim:
    """Claim `request.idempotency_key` for this attempt, or join the attempt that holds it.

    Raises RequestError when the key was used for a different request within the window."""
    assert request.idempotency_key is not None
    now_s = int(time.time())
    mine = Claim(
        table=table,
        partition=partition_key(sender, request.idempotency_key),
        notification_id=notification_id,
        created_at=created_at,
        fingerprint=fingerprint(request),
        expires_at=now_s + window_seconds,
        repeat=False,
        first_result=None,
    )
    holder = store.claim_record(table, _item(mine, PENDING, None), now_s)
    if holder is None:
        return mine
    if holder.get("fingerprint", {}).get("S") != mine.fingerprint:
        raise RequestError(
            INVALID_REQUEST,
            "idempotencyKey was already used for a different request "
            "(within the idempotency window): use a new key",
        )
    first_result = None
    if holder.get("state", {}).get("S") == DONE and "result" in holder:
        first_result = json.loads(holder["result"]["S"])
    return Claim(
        table=table,
        partition=mine.partition,
        notification_id=holder["id"]["S"],
        created_at=int(holder["createdAt"]["N"]),
        fingerprint=mine.fingerprint,
        expires_at=int(holder["expiresAt"]["N"]),
        repeat=True,
        first_result=first_result,
    )


def complete(claim: Claim, result: dict[str, Any]) -> None:
    """Record that an attempt reached every connection: later repeats answer with its result
    and send nothing. The window still runs from the first claim."""
    store.put_record(claim.table, _item(claim, DONE, result))

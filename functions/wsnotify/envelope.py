"""The JSON envelopes sent to clients: serialized once, compactly, to bytes."""

from __future__ import annotations

import json
import time
from typing import Any

# API Gateway's per-message limit for PostToConnection (botocore model: Data max 131072 bytes).
MAX_FRAME_BYTES = 131_072
# A notification must also fit inside a one-item history frame (poll), whose wrapper adds at
# most this many bytes (request id <= 64 chars, cursor 26 chars, keys and punctuation).
HISTORY_WRAPPER_RESERVE = 512
MAX_NOTIFICATION_BYTES = MAX_FRAME_BYTES - HISTORY_WRAPPER_RESERVE


def now_ms() -> int:
    return int(time.time() * 1000)


def dumps(value: Any) -> bytes:
    # allow_nan=False: never send (or store) what other JSON parsers cannot read.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def notification(
    notification_id: str, created_at: int, data: Any, sender: str, topic: str | None = None
) -> dict[str, Any]:
    value = {
        "type": "notification",
        "id": notification_id,
        "createdAt": created_at,
        "data": data,
        "sender": sender,
    }
    if topic is not None:  # a topic push: the subscriber learns which subscription it came by
        value["topic"] = topic
    return value


def ack(request_id: str, result: dict[str, Any]) -> bytes:
    return dumps({"type": "ack", "id": request_id, "createdAt": now_ms(), "data": result})


def error(request_id: str, code: str, message: str) -> bytes:
    return dumps(
        {
            "type": "error",
            "id": request_id,
            "createdAt": now_ms(),
            "error": {"code": code, "message": message},
        }
    )


def history(request_id: str, items: list[bytes], next_cursor: str | None) -> bytes:
    """A history frame built around already-serialized notification envelopes."""
    return history_prefix(request_id) + b",".join(items) + b'],"next":' + dumps(next_cursor) + b"}}"


def history_prefix(request_id: str) -> bytes:
    head = dumps({"type": "history", "id": request_id, "createdAt": now_ms()})
    return head[:-1] + b',"data":{"items":['

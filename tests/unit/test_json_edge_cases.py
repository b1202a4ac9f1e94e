"""Security review item 6: JSON that other consumers cannot read back gets INVALID_REQUEST from
every entry point, and nothing of it is stored or sent."""

from __future__ import annotations

import json
import time
from typing import Any

import poll
import push
import pytest
from conftest import CONNECTIONS, NOTIFICATIONS, Transport, http_event, message_event
from wsnotify import envelope
from wsnotify.validation import portable_json

ENDPOINT = "https://abc123.execute-api.us-east-1.amazonaws.com/prod"

# Each as the parsed value a direct invoke delivers, and as the text a frame or body carries.
CASES: list[tuple[Any, str]] = [
    (float("nan"), '{"userId":"bob","message":NaN}'),
    (float("inf"), '{"userId":"bob","message":Infinity}'),
    (float("-inf"), '{"userId":"bob","message":{"x":[-Infinity]}}'),
    (float("inf"), '{"userId":"bob","message":1e400}'),
    ("\ud800", '{"userId":"bob","message":"\\ud800"}'),
    ({"k\udfff": 1}, '{"userId":"bob","message":{"k\\udfff":1}}'),
    (2**53, '{"userId":"bob","message":9007199254740992}'),
    (-(2**63), '{"userId":"bob","message":[-9223372036854775808]}'),
]


@pytest.fixture
def bob(transport: Transport, aws: Any, env: pytest.MonkeyPatch) -> Transport:
    env.setenv("CONNECTIONS_ENDPOINT", ENDPOINT)
    env.setenv("ALLOW_CLIENT_PUSH", "true")
    aws.put_item(
        TableName=CONNECTIONS,
        Item={
            "connectionId": {"S": "b1"},
            "userId": {"S": "bob"},
            "connectedAt": {"N": str(envelope.now_ms())},
            "expiresAt": {"N": str(int(time.time()) + 3600)},
        },
    )
    return transport


def nothing_stored_or_sent(aws: Any, transport: Transport) -> None:
    rows = aws.scan(TableName=NOTIFICATIONS)["Items"]
    assert rows == [] and "b1" not in transport.frames


@pytest.mark.parametrize(("message", "text"), CASES)
def test_direct_invoke(aws: Any, bob: Transport, message: Any, text: str) -> None:
    out = push.handler({"userId": "bob", "message": message}, None)
    assert out["ok"] is False and out["error"]["code"] == "INVALID_REQUEST"
    nothing_stored_or_sent(aws, bob)


@pytest.mark.parametrize(("message", "text"), CASES)
def test_push_route(aws: Any, bob: Transport, message: Any, text: str) -> None:
    body = '{"action":"push",' + text[1:]
    push.handler(message_event("push", "caller", body, raw=True), None)
    frame = bob.last("caller")
    assert frame["type"] == "error" and frame["error"]["code"] == "INVALID_REQUEST"
    nothing_stored_or_sent(aws, bob)


@pytest.mark.parametrize(("message", "text"), CASES)
def test_http(aws: Any, bob: Transport, message: Any, text: str) -> None:
    out = push.handler(http_event(text), None)
    assert out["statusCode"] == 400
    assert json.loads(out["body"])["error"]["code"] == "INVALID_REQUEST"
    nothing_stored_or_sent(aws, bob)


def test_poll_frame_with_nan_is_refused(aws: Any, bob: Transport) -> None:
    poll.handler(message_event("poll", "caller", '{"action":"poll","limit":NaN}', raw=True), None)
    assert bob.last("caller")["error"]["code"] == "INVALID_REQUEST"


def test_user_ids_with_surrogates_are_refused(aws: Any, bob: Transport) -> None:
    out = push.handler({"userId": "bo\ud800b", "message": 1}, None)
    assert out["error"]["code"] == "INVALID_REQUEST"


def test_portable_values_pass() -> None:
    portable_json({"a": [1, 2.5, -(2**53) + 1, 2**53 - 1, "é😀", None, True, {"b": []}]})


def test_depth_limit() -> None:
    value: Any = 1
    for _ in range(70):
        value = [value]
    with pytest.raises(Exception, match="nested deeper"):
        portable_json(value)


def test_non_json_python_values_are_refused() -> None:
    with pytest.raises(Exception, match="not JSON"):
        portable_json({"a": object()})


def test_envelopes_never_carry_nan() -> None:
    with pytest.raises(ValueError):
        envelope.dumps({"x": float("nan")})

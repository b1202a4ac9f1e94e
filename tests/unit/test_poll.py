from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import poll
import push
import pytest
from conftest import (
    CONNECTIONS,
    DOMAIN,
    NOTIFICATIONS,
    STAGE,
    Transport,
    client_error,
    message_event,
)
from wsnotify import envelope, errors, ids


def put_history(
    ddb: Any, user: str, message: Any, expires_in: int = 3600, created_ms: int | None = None
) -> str:
    created = created_ms or envelope.now_ms()
    nid = ids.new_ulid(created)
    ddb.put_item(
        TableName=NOTIFICATIONS,
        Item={
            "userId": {"S": user},
            "notificationId": {"S": nid},
            "content": {"S": json.dumps(message)},
            "createdAt": {"N": str(created)},
            "expiresAt": {"N": str(int(time.time()) + expires_in)},
            "sender": {"S": "backend"},
            "writtenAt": {"N": str(created)},
        },
    )
    return nid


def do_poll(
    transport: Transport, body: Any, user: str | None = "alice", cid: str = "caller"
) -> Any:
    out = poll.handler(message_event("poll", cid, body), None)
    assert out == {"statusCode": 200}
    return transport.last(cid)


def test_poll_returns_own_history_oldest_first(aws: Any, transport: Transport) -> None:
    mine = [put_history(aws, "alice", {"n": i}) for i in range(3)]
    put_history(aws, "bob", {"n": "bob's"})
    frame = do_poll(transport, {"action": "poll"})
    assert frame["type"] == "history"
    assert frame["id"] == "req-poll-caller"
    assert isinstance(frame["createdAt"], int)
    items = frame["data"]["items"]
    assert [i["id"] for i in items] == mine
    assert [i["data"] for i in items] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert all(i["type"] == "notification" and i["sender"] == "backend" for i in items)
    assert frame["data"]["next"] is None


def test_poll_pages_through_history_with_cursor(aws: Any, transport: Transport) -> None:
    base = envelope.now_ms() - 100_000
    written = [put_history(aws, "alice", i, created_ms=base + i) for i in range(45)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        frame = do_poll(transport, {"action": "poll", "after": cursor, "limit": 20})
        pages += 1
        seen += [i["id"] for i in frame["data"]["items"]]
        cursor = frame["data"]["next"]
        if cursor is None:
            break
        assert cursor == seen[-1]
    assert seen == written
    assert pages == 3


def test_poll_default_limit_is_20(aws: Any, transport: Transport) -> None:
    for i in range(21):
        put_history(aws, "alice", i)
    frame = do_poll(transport, {"action": "poll"})
    assert len(frame["data"]["items"]) == 20
    assert frame["data"]["next"] == frame["data"]["items"][-1]["id"]


def test_poll_exact_page_has_no_next(aws: Any, transport: Transport) -> None:
    for i in range(5):
        put_history(aws, "alice", i)
    frame = do_poll(transport, {"action": "poll", "limit": 5})
    assert len(frame["data"]["items"]) == 5 and frame["data"]["next"] is None


def test_poll_skips_expired_items_and_still_fills_the_page(aws: Any, transport: Transport) -> None:
    expired = [put_history(aws, "alice", f"old{i}", expires_in=-5) for i in range(4)]
    live = [put_history(aws, "alice", f"new{i}") for i in range(3)]
    put_history(aws, "alice", "dead-again", expires_in=0)
    frame = do_poll(transport, {"action": "poll", "limit": 2})
    assert [i["id"] for i in frame["data"]["items"]] == live[:2]
    assert frame["data"]["next"] == live[1]
    frame = do_poll(transport, {"action": "poll", "after": live[1], "limit": 2})
    assert [i["id"] for i in frame["data"]["items"]] == live[2:]
    assert frame["data"]["next"] is None
    assert not set(expired) & {i["id"] for i in frame["data"]["items"]}


def test_poll_after_a_live_notification_id(
    aws: Any, transport: Transport, env: pytest.MonkeyPatch
) -> None:
    env.setenv("CONNECTIONS_ENDPOINT", f"https://{DOMAIN}/{STAGE}")
    first = push.handler({"userId": "alice", "message": "one"}, None)["notificationId"]
    second = push.handler({"userId": "alice", "message": "two"}, None)["notificationId"]
    frame = do_poll(transport, {"action": "poll", "after": first})
    assert [i["id"] for i in frame["data"]["items"]] == [second]
    assert frame["data"]["items"][0]["data"] == "two"


def test_poll_never_exceeds_the_frame_limit(aws: Any, transport: Transport) -> None:
    big = "x" * 50_000
    written = [put_history(aws, "alice", big) for _ in range(5)]
    frame = do_poll(transport, {"action": "poll", "limit": 5})
    assert [i["id"] for i in frame["data"]["items"]] == written[:2]
    assert frame["data"]["next"] == written[1]
    raw = envelope.dumps(frame)
    assert len(raw) <= envelope.MAX_FRAME_BYTES


def test_poll_steps_over_a_row_too_large_for_any_frame(aws: Any, transport: Transport) -> None:
    small = put_history(aws, "alice", "small")
    huge = put_history(aws, "alice", "y" * 140_000)
    after = put_history(aws, "alice", "after")
    frame = do_poll(transport, {"action": "poll"})
    assert [i["id"] for i in frame["data"]["items"]] == [small]
    assert frame["data"]["next"] == huge
    frame = do_poll(transport, {"action": "poll", "after": huge})
    assert [i["id"] for i in frame["data"]["items"]] == [after]


def test_poll_cannot_read_another_users_history(aws: Any, transport: Transport) -> None:
    put_history(aws, "bob", "bob-secret")
    frame = do_poll(transport, {"action": "poll", "userId": "bob"})
    assert frame["type"] == "error" and frame["error"]["code"] == "INVALID_REQUEST"
    frame = do_poll(transport, {"action": "poll"})
    assert frame["data"]["items"] == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"action": "poll", "limit": 0}, "limit must be 1..100"),
        ({"action": "poll", "limit": 101}, "limit must be 1..100"),
        ({"action": "poll", "limit": "5"}, "limit must be an integer"),
        ({"action": "poll", "limit": True}, "limit must be an integer"),
        (
            {"action": "poll", "after": "not-a-ulid"},
            "after must be a notification id (26-character ULID) or null",
        ),
        (
            {"action": "poll", "after": 12},
            "after must be a notification id (26-character ULID) or null",
        ),
        (
            {"action": "poll", "after": "8ZZZZZZZZZZZZZZZZZZZZZZZZZ"},
            "after must be a notification id (26-character ULID) or null",
        ),
        (
            {"action": "poll", "after": "01j0000000000000000000000u"},
            "after must be a notification id (26-character ULID) or null",
        ),
    ],
)
def test_poll_invalid_requests(aws: Any, transport: Transport, body: Any, message: str) -> None:
    frame = do_poll(transport, body)
    assert frame["type"] == "error"
    assert frame["error"] == {"code": "INVALID_REQUEST", "message": message}


@pytest.mark.parametrize("raw", ["{oops", "null", '"poll"', ""])
def test_poll_malformed_json(aws: Any, transport: Transport, raw: str) -> None:
    out = poll.handler(message_event("poll", "caller", raw, raw=True), None)
    assert out == {"statusCode": 200}
    assert transport.last("caller")["error"]["code"] == "INVALID_REQUEST"


def test_poll_when_caller_is_gone(
    aws: Any, transport: Transport, capsys: pytest.CaptureFixture[str]
) -> None:
    transport.always["caller"] = client_error("GoneException", 410)
    assert poll.handler(message_event("poll", "caller", {"action": "poll"}), None) == {
        "statusCode": 200
    }
    line = json.loads(capsys.readouterr().out.strip())
    assert line["reply"] == "GoneException"
    assert line["function"] == "poll" and line["userId"] == "alice"


def test_poll_with_auth_disabled_uses_connection_row(
    aws: Any, transport: Transport, env: pytest.MonkeyPatch
) -> None:
    env.setenv("AUTH_MODE", "disabled")
    aws.put_item(
        TableName=CONNECTIONS,
        Item={
            "connectionId": {"S": "dev"},
            "userId": {"S": "dave"},
            "expiresAt": {"N": "9999999999"},
        },
    )
    nid = put_history(aws, "dave", "hi dave")
    out = poll.handler(message_event("poll", "dev", {"action": "poll"}, user=None), None)
    assert out == {"statusCode": 200}
    assert [i["id"] for i in transport.last("dev")["data"]["items"]] == [nid]
    poll.handler(message_event("poll", "unknown", {"action": "poll"}, user=None), None)
    assert transport.last("unknown")["error"]["code"] == "FORBIDDEN"


def test_poll_storage_failure_is_internal_error(
    aws: Any, transport: Transport, env: pytest.MonkeyPatch
) -> None:
    env.setenv("NOTIFICATIONS_TABLE", "missing")
    frame = do_poll(transport, {"action": "poll"})
    assert frame["error"]["code"] == "INTERNAL_ERROR"


def test_default_route_mock_template_is_a_valid_envelope() -> None:
    # The $default MOCK integration (Terraform) answers unknown/missing actions with this
    # template from docs/architecture.md; it must be an envelope clients can parse like ours.
    doc = (Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text()
    template = re.search(r'^\{"type":"error".*UNKNOWN_ACTION.*$', doc, re.MULTILINE)
    assert template is not None
    rendered = (
        template.group(0)
        .replace("$context.requestId", "r1")
        .replace("$context.requestTimeEpoch", "1731332746514")
    )
    frame = json.loads(rendered)
    assert frame["error"]["code"] == errors.UNKNOWN_ACTION
    assert set(frame) == set(json.loads(envelope.error("r", "X", "m")))

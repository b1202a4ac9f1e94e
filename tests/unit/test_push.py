from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import push
import pytest
from conftest import (
    CONNECTIONS,
    DOMAIN,
    NOTIFICATIONS,
    STAGE,
    LambdaContext,
    Transport,
    client_error,
    http_event,
    message_event,
)
from wsnotify import clients, delivery, envelope, ids

ENDPOINT = f"https://{DOMAIN}/{STAGE}"


@pytest.fixture
def backend(transport: Transport, env: pytest.MonkeyPatch) -> Transport:
    env.setenv("CONNECTIONS_ENDPOINT", ENDPOINT)
    return transport


def add_connection(
    ddb: Any, cid: str, user: str, expires_in: int = 3600, age_seconds: float = 60
) -> None:
    """A connection row; by default older than the connect grace period (10 s)."""
    ddb.put_item(
        TableName=CONNECTIONS,
        Item={
            "connectionId": {"S": cid},
            "userId": {"S": user},
            "connectedAt": {"N": str(envelope.now_ms() - int(age_seconds * 1000))},
            "expiresAt": {"N": str(int(time.time()) + expires_in)},
        },
    )


def history_rows(ddb: Any, user: str) -> list[dict[str, Any]]:
    return ddb.query(
        TableName=NOTIFICATIONS,
        KeyConditionExpression="userId = :u",
        ExpressionAttributeValues={":u": {"S": user}},
    )["Items"]


def connection_exists(ddb: Any, cid: str) -> bool:
    return "Item" in ddb.get_item(TableName=CONNECTIONS, Key={"connectionId": {"S": cid}})


class DynamoProxy:
    """The real moto client with some operations replaced (pagination, faults)."""

    def __init__(self, real: Any, **overrides: Any) -> None:
        self._real = real
        self._overrides = overrides

    def __getattr__(self, name: str) -> Any:
        if name in self._overrides:
            return lambda **kw: self._overrides[name](self._real, **kw)
        return getattr(self._real, name)


def test_multi_device_delivery_and_history(aws: Any, backend: Transport) -> None:
    for cid in ("a-phone", "a-laptop"):
        add_connection(aws, cid, "alice")
    add_connection(aws, "b-phone", "bob")
    before = int(time.time())
    result = push.handler({"userId": "alice", "message": {"title": "hi", "n": 1}}, LambdaContext())
    assert result["ok"] is True
    assert ids.is_ulid(result["notificationId"])
    assert (result["targeted"], result["delivered"], result["stale"]) == (2, 2, 0)
    assert result["failed"] == [] and result["persisted"] is True
    assert set(backend.frames) == {"a-phone", "a-laptop"}
    frame = backend.last("a-phone")
    assert frame["type"] == "notification"
    assert frame["id"] == result["notificationId"]
    assert frame["data"] == {"title": "hi", "n": 1}
    assert frame["sender"] == "backend"
    assert isinstance(frame["createdAt"], int)
    assert backend.endpoints[-1] == ENDPOINT
    rows = history_rows(aws, "alice")
    assert len(rows) == 1
    row = rows[0]
    assert row["notificationId"]["S"] == result["notificationId"]
    assert json.loads(row["content"]["S"]) == {"title": "hi", "n": 1}
    assert row["sender"]["S"] == "backend"
    assert row["createdAt"]["N"] == str(frame["createdAt"])
    assert before + 604800 <= int(row["expiresAt"]["N"]) <= int(time.time()) + 604800
    assert history_rows(aws, "bob") == []


def test_real_transport_reaches_moto_connections(aws: Any, env: pytest.MonkeyPatch) -> None:
    from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    env.setenv("CONNECTIONS_ENDPOINT", ENDPOINT)
    add_connection(aws, "c1", "alice")
    result = push.handler({"userId": "alice", "message": "x", "persist": False}, None)
    assert result["delivered"] == 1
    data = apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].connections["c1"].data
    assert json.loads(data)["data"] == "x"


def test_user_ids_fan_out_and_history_per_user(aws: Any, backend: Transport) -> None:
    users = [f"user-{i}" for i in range(30)]
    for user in users:
        add_connection(aws, f"conn-{user}", user)
    result = push.handler({"userIds": users, "message": "hello"}, None)
    assert (result["targeted"], result["delivered"]) == (30, 30)
    assert all(len(history_rows(aws, u)) == 1 for u in users)


def test_pagination_of_connections(
    aws: Any, backend: Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages: list[int] = []

    def small_pages(real: Any, **kw: Any) -> Any:
        out = real.query(Limit=2, **kw)
        pages.append(len(out["Items"]))
        return out

    for i in range(7):
        add_connection(aws, f"c{i}", "alice")
    proxy = DynamoProxy(aws, query=small_pages)
    monkeypatch.setattr(clients, "dynamodb", lambda: proxy)
    result = push.handler({"userId": "alice", "message": 1, "persist": False}, None)
    assert result["delivered"] == 7
    assert len(pages) >= 4
    assert set(backend.frames) == {f"c{i}" for i in range(7)}


def test_gone_connections_are_pruned(aws: Any, backend: Transport) -> None:
    for cid in ("c1", "c2", "c3"):
        add_connection(aws, cid, "alice")
    backend.always["c2"] = client_error("GoneException", 410)
    backend.always["c3"] = client_error("SomethingElse", 410)  # 410 is gone whatever the code
    result = push.handler({"userId": "alice", "message": "m"}, None)
    assert (result["targeted"], result["delivered"], result["stale"]) == (3, 1, 2)
    assert result["failed"] == []
    assert connection_exists(aws, "c1")
    assert not connection_exists(aws, "c2") and not connection_exists(aws, "c3")


def test_failed_prune_is_still_reported_stale(
    aws: Any, backend: Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_connection(aws, "c1", "alice")
    backend.always["c1"] = client_error("GoneException", 410)

    def broken_delete(real: Any, **kw: Any) -> Any:
        raise RuntimeError("dynamodb down")

    proxy = DynamoProxy(aws, delete_item=broken_delete)
    monkeypatch.setattr(clients, "dynamodb", lambda: proxy)
    result = push.handler({"userId": "alice", "message": "m", "persist": False}, None)
    assert result["ok"] is True and result["stale"] == 1


def test_throttling_is_retried_with_backoff(aws: Any, backend: Transport) -> None:
    add_connection(aws, "c1", "alice")
    backend.faults["c1"] = [
        client_error("LimitExceededException", 429),
        client_error("TooManyRequestsException", 429),
    ]
    result = push.handler({"userId": "alice", "message": "m"}, None)
    assert result["delivered"] == 1 and result["failed"] == []
    assert backend.calls == 3
    sleeps = backend.sleeps  # type: ignore[attr-defined]
    assert len(sleeps) == 2 and all(0 <= s <= 1.0 for s in sleeps)


def test_persistent_throttling_is_reported_without_aborting_others(
    aws: Any, backend: Transport
) -> None:
    for cid in ("c1", "c2", "c3"):
        add_connection(aws, cid, "alice")
    backend.always["c1"] = client_error("Throttled", 429)  # 429 is throttling whatever the code
    backend.always["c2"] = client_error("ForbiddenException", 403)
    result = push.handler({"userId": "alice", "message": "m"}, None)
    assert result["delivered"] == 1
    assert sorted(result["failed"], key=lambda f: f["connectionId"]) == [
        {"connectionId": "c1", "error": "LimitExceededException"},
        {"connectionId": "c2", "error": "ForbiddenException"},
    ]
    assert backend.calls == delivery.RETRY_ATTEMPTS + 2
    assert connection_exists(aws, "c1") and connection_exists(aws, "c2")


def test_transport_exception_is_a_failure_not_a_crash(aws: Any, backend: Transport) -> None:
    add_connection(aws, "c1", "alice")
    backend.always["c1"] = ConnectionResetError("reset")
    result = push.handler({"userId": "alice", "message": "m"}, None)
    assert result["failed"] == [{"connectionId": "c1", "error": "ConnectionResetError"}]


def test_no_connections_still_persists(aws: Any, backend: Transport) -> None:
    result = push.handler({"userId": "carol", "message": "later"}, None)
    assert (result["targeted"], result["delivered"], result["persisted"]) == (0, 0, True)
    assert len(history_rows(aws, "carol")) == 1


def test_persist_off_by_request_and_by_default(
    aws: Any, backend: Transport, env: pytest.MonkeyPatch
) -> None:
    add_connection(aws, "c1", "alice")
    assert (
        push.handler({"userId": "alice", "message": 1, "persist": False}, None)["persisted"]
        is False
    )
    env.setenv("PERSIST_DEFAULT", "false")
    assert push.handler({"userId": "alice", "message": 2}, None)["persisted"] is False
    assert history_rows(aws, "alice") == []
    assert push.handler({"userId": "alice", "message": 3, "persist": True}, None)["persisted"]
    assert len(history_rows(aws, "alice")) == 1
    assert len(backend.frames["c1"]) == 3


def test_ttl_seconds_sets_expiry(aws: Any, backend: Transport) -> None:
    push.handler({"userId": "alice", "message": 1, "ttlSeconds": 60}, None)
    expires = int(history_rows(aws, "alice")[0]["expiresAt"]["N"])
    assert abs(expires - (int(time.time()) + 60)) <= 2


def test_persist_failure_fails_closed_before_any_send(
    aws: Any, backend: Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    add_connection(aws, "c1", "alice")
    assert push.handler({"userId": "alice", "message": 1}, None)["persisted"] is True

    def throttled(real: Any, **kw: Any) -> Any:
        # What botocore raises once its own throttling retries are exhausted.
        error = {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}
        raise ClientError({"Error": error}, "PutItem")

    monkeypatch.setattr(clients, "dynamodb", lambda: DynamoProxy(aws, put_item=throttled))
    sent_before = len(backend.frames["c1"])
    result = push.handler({"userId": "alice", "message": 2}, LambdaContext())
    assert result == {
        "ok": False,
        "error": {"code": "INTERNAL_ERROR", "message": "internal error (request id: lambda-req-1)"},
    }
    # History could not be written, so nothing was sent: the backend can retry safely.
    assert len(backend.frames["c1"]) == sent_before


def test_oversized_message_is_refused_before_any_send(aws: Any, backend: Transport) -> None:
    add_connection(aws, "c1", "alice")
    result = push.handler({"userId": "alice", "message": "x" * 131_000}, None)
    assert result["ok"] is False
    assert result["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert backend.calls == 0
    assert history_rows(aws, "alice") == []


def test_largest_allowed_message_is_delivered(aws: Any, backend: Transport) -> None:
    add_connection(aws, "c1", "alice")
    overhead = len(
        envelope.dumps(envelope.notification(ids.new_ulid(), envelope.now_ms(), "", "backend"))
    )
    size = envelope.MAX_NOTIFICATION_BYTES - overhead
    result = push.handler({"userId": "alice", "message": "x" * size}, None)
    assert result["ok"] is True and result["delivered"] == 1


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"message": 1}, "exactly one of userId, userIds, broadcast, topic, segment"),
        (
            {"userId": "a", "userIds": ["b"], "message": 1},
            "exactly one of userId, userIds, broadcast, topic, segment",
        ),
        ({"userId": "a"}, "message is required"),
        ({"userId": 5, "message": 1}, "userId must be a string"),
        ({"userId": "", "message": 1}, "userId must be 1..128 characters"),
        ({"userId": "x" * 129, "message": 1}, "userId must be 1..128 characters"),
        ({"userIds": [], "message": 1}, "userIds must be a list of 1..10000 user ids"),
        ({"userIds": "alice", "message": 1}, "userIds must be a list of 1..10000 user ids"),
        (
            {"userIds": [str(i) for i in range(10_001)], "message": 1},
            "userIds must be a list of 1..10000 user ids",
        ),
        ({"userIds": ["a", "a"], "message": 1}, "userIds must be unique"),
        ({"userIds": ["a", 1], "message": 1}, "userIds[] must be a string"),
        ({"broadcast": False, "message": 1}, "broadcast must be true when present"),
        ({"userId": "a", "message": 1, "persist": "yes"}, "persist must be true or false"),
        ({"userId": "a", "message": 1, "ttlSeconds": "60"}, "ttlSeconds must be an integer"),
        ({"userId": "a", "message": 1, "ttlSeconds": True}, "ttlSeconds must be an integer"),
        ({"userId": "a", "message": 1, "ttlSeconds": 0}, "ttlSeconds must be 1..2592000"),
        ({"userId": "a", "message": 1, "ttlSeconds": 2592001}, "ttlSeconds must be 1..2592000"),
        ({"userId": "a", "message": 1, "sender": "root"}, "unknown field(s): sender"),
        ([1, 2], "the request must be a JSON object"),
        ("not an object", "the request must be a JSON object"),
    ],
)
def test_invalid_backend_requests(
    aws: Any, backend: Transport, request_: Any, message: str
) -> None:
    result = push.handler(request_, None)
    assert result == {"ok": False, "error": {"code": "INVALID_REQUEST", "message": message}}
    assert backend.calls == 0


def test_broadcast_disabled_by_default(aws: Any, backend: Transport) -> None:
    result = push.handler({"broadcast": True, "message": "m"}, None)
    assert result["error"]["code"] == "FORBIDDEN"


def test_broadcast_scans_live_connections_in_parallel_pages(
    aws: Any, backend: Transport, env: pytest.MonkeyPatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.setenv("ALLOW_BROADCAST", "true")
    env.setenv("BROADCAST_SCAN_SEGMENTS", "3")
    for i in range(9):
        add_connection(aws, f"c{i}", f"user-{i % 4}")
    add_connection(aws, "expired", "alice", expires_in=-10)
    segments: list[int] = []

    def small_pages(real: Any, **kw: Any) -> Any:
        segments.append(kw["Segment"])
        assert kw["TotalSegments"] == 3
        return real.scan(Limit=2, **kw)

    monkeypatch.setattr(clients, "dynamodb", lambda: DynamoProxy(aws, scan=small_pages))
    result = push.handler({"broadcast": True, "message": "maintenance"}, None)
    assert result["ok"] is True
    assert (result["targeted"], result["delivered"], result["persisted"]) == (9, 9, False)
    assert "expired" not in backend.frames
    assert set(segments) == {0, 1, 2}
    assert len(segments) > 3  # at least one segment needed a second page
    refused = push.handler({"broadcast": True, "message": "m", "persist": True}, None)
    assert refused["error"]["code"] == "INVALID_REQUEST"


def test_missing_endpoint_is_internal_error(aws: Any, transport: Transport) -> None:
    result = push.handler({"userId": "alice", "message": 1}, None)
    assert result["error"]["code"] == "INTERNAL_ERROR"


def test_invoke_log_line_has_counts_and_no_body(
    aws: Any, backend: Transport, capsys: pytest.CaptureFixture[str]
) -> None:
    add_connection(aws, "c1", "alice")
    push.handler({"userId": "alice", "message": "top-secret-body"}, LambdaContext())
    out = capsys.readouterr().out
    assert "top-secret-body" not in out
    line = json.loads(out.strip().splitlines()[-1])
    assert line["requestId"] == "lambda-req-1"
    assert line["route"] == "invoke"
    assert (line["targeted"], line["delivered"], line["stale"], line["failed"]) == (1, 1, 0, 0)


def test_fanout_keeps_exactly_concurrency_sends_in_flight() -> None:
    # No timing here (the benchmark measures speed): a barrier only opens when `concurrency`
    # sends are in flight at once, and the peak proves the bound is never exceeded.
    n, concurrency = 96, 8
    barrier = threading.Barrier(concurrency, timeout=10)
    in_flight = 0
    peak = 0
    lock = threading.Lock()

    class GatedSender:
        def post(self, connection_id: str, data: bytes) -> None:
            nonlocal in_flight, peak
            with lock:
                in_flight += 1
                peak = max(peak, in_flight)
            barrier.wait()
            with lock:
                in_flight -= 1

    result = delivery.fanout(GatedSender(), [f"c{i}" for i in range(n)], b"x", concurrency, print)
    assert result.delivered == n and result.failed == []
    assert peak == concurrency


def test_fanout_deduplicates_and_pool_follows_concurrency() -> None:
    sent: list[str] = []

    class Recorder:
        def post(self, connection_id: str, data: bytes) -> None:
            sent.append(connection_id)

    result = delivery.fanout(Recorder(), ["a", "b", "a"], b"x", 2, print)
    assert result.targeted == 2 and sorted(sent) == ["a", "b"]
    assert delivery.pool(3) is delivery.pool(3)
    assert delivery.pool(4) is not delivery.pool(3)


# --- the push WebSocket route ---------------------------------------------------------------


def test_client_push_disabled_by_default(aws: Any, transport: Transport) -> None:
    out = push.handler(
        message_event("push", "caller", {"action": "push", "userId": "bob", "message": 1}), None
    )
    assert out == {"statusCode": 200}
    frame = transport.last("caller")
    assert frame["type"] == "error"
    assert frame["id"] == "req-push-caller"
    assert frame["error"]["code"] == "PUSH_DISABLED"
    assert set(transport.frames) == {"caller"}


def test_client_push_sender_is_the_authenticated_user(
    aws: Any, transport: Transport, env: pytest.MonkeyPatch
) -> None:
    env.setenv("ALLOW_CLIENT_PUSH", "true")
    add_connection(aws, "b1", "bob")
    add_connection(aws, "b2", "bob")
    transport.always["b2"] = client_error("ForbiddenException", 403)
    out = push.handler(
        message_event("push", "caller", {"action": "push", "userId": "bob", "message": {"t": 1}}),
        None,
    )
    assert out == {"statusCode": 200}
    ack = transport.last("caller")
    assert ack["type"] == "ack" and ack["id"] == "req-push-caller"
    assert ack["data"]["delivered"] == 1 and ack["data"]["ok"] is True
    assert ack["data"]["failed"] == [{"error": "ForbiddenException"}]  # no connection ids leak
    assert transport.last("b1")["sender"] == "user:alice"
    assert history_rows(aws, "bob")[0]["sender"]["S"] == "user:alice"


def test_client_push_cannot_spoof_sender_or_broadcast(
    aws: Any, transport: Transport, env: pytest.MonkeyPatch
) -> None:
    env.setenv("ALLOW_CLIENT_PUSH", "true")
    env.setenv("ALLOW_BROADCAST", "true")
    add_connection(aws, "b1", "bob")
    body = {"action": "push", "userId": "bob", "message": 1, "sender": "backend"}
    push.handler(message_event("push", "caller", body), None)
    assert transport.last("caller")["error"]["code"] == "INVALID_REQUEST"
    push.handler(
        message_event("push", "caller", {"action": "push", "broadcast": True, "message": 1}), None
    )
    assert transport.last("caller")["error"]["code"] == "FORBIDDEN"
    assert "b1" not in transport.frames


def test_client_push_without_identity_is_forbidden(
    aws: Any, transport: Transport, env: pytest.MonkeyPatch
) -> None:
    env.setenv("ALLOW_CLIENT_PUSH", "true")
    event = message_event(
        "push", "caller", {"action": "push", "userId": "bob", "message": 1}, user=None
    )
    push.handler(event, None)
    assert transport.last("caller")["error"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("not json", "INVALID_REQUEST"),
        ("", "INVALID_REQUEST"),
        ("[1,2]", "INVALID_REQUEST"),
        ('{"action":"push","userId":"bob","message":"' + "x" * 131_000 + '"}', "PAYLOAD_TOO_LARGE"),
    ],
)
def test_client_push_bad_frames_get_error_envelopes(
    aws: Any, transport: Transport, env: pytest.MonkeyPatch, body: str, code: str
) -> None:
    env.setenv("ALLOW_CLIENT_PUSH", "true")
    out = push.handler(message_event("push", "caller", body, raw=True), None)
    assert out == {"statusCode": 200}
    frame = transport.last("caller")
    assert frame["type"] == "error" and frame["error"]["code"] == code
    assert isinstance(frame["createdAt"], int)


def test_client_push_unexpected_failure_is_internal_error(
    aws: Any, transport: Transport, env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("ALLOW_CLIENT_PUSH", "true")
    env.setenv("CONNECTIONS_TABLE", "no-such-table")
    out = push.handler(
        message_event(
            "push", "caller", {"action": "push", "userId": "bob", "message": "secret-body"}
        ),
        None,
    )
    assert out == {"statusCode": 200}
    assert transport.last("caller")["error"]["code"] == "INTERNAL_ERROR"
    captured = capsys.readouterr()
    assert "secret-body" not in captured.out + captured.err


def test_route_without_endpoint_cannot_reply(aws: Any, transport: Transport) -> None:
    event = message_event("push", "caller", {"action": "push"})
    del event["requestContext"]["domainName"]
    assert push.handler(event, None) == {"statusCode": 500}
    assert transport.calls == 0


def test_endpoint_env_overrides_event(
    aws: Any, transport: Transport, env: pytest.MonkeyPatch
) -> None:
    custom = "https://ws.example.execute-api.us-east-1.amazonaws.com/live"
    env.setenv("CONNECTIONS_ENDPOINT", custom + "/")
    push.handler(message_event("push", "caller", {"action": "push"}), None)
    assert transport.endpoints == [custom]


# --- the HTTP API (payload format 2.0) ------------------------------------------------------


def test_http_api_push(aws: Any, backend: Transport) -> None:
    add_connection(aws, "c1", "alice")
    out = push.handler(http_event(json.dumps({"userId": "alice", "message": "hi"})), None)
    assert out["statusCode"] == 200
    assert out["headers"] == {"content-type": "application/json", "x-request-id": "http-req-1"}
    body = json.loads(out["body"])
    assert body["ok"] is True and body["delivered"] == 1
    assert backend.endpoints == [ENDPOINT]  # never the HTTP API's own domain


def test_http_api_base64_body(aws: Any, backend: Transport) -> None:
    raw = base64.b64encode(json.dumps({"userId": "alice", "message": "hi"}).encode()).decode()
    assert push.handler(http_event(raw, base64=True), None)["statusCode"] == 200


@pytest.mark.parametrize(
    ("body", "base64_", "status", "code"),
    [
        ("{not json", False, 400, "INVALID_REQUEST"),
        ("@@@", True, 400, "INVALID_REQUEST"),
        (json.dumps({"userId": "alice"}), False, 400, "INVALID_REQUEST"),
        (json.dumps({"broadcast": True, "message": 1}), False, 403, "FORBIDDEN"),
        (json.dumps({"userId": "a", "message": "x" * 140_000}), False, 413, "PAYLOAD_TOO_LARGE"),
    ],
)
def test_http_api_errors(
    aws: Any, backend: Transport, body: str, base64_: bool, status: int, code: str
) -> None:
    out = push.handler(http_event(body, base64=base64_), None)
    assert out["statusCode"] == status
    assert json.loads(out["body"])["error"]["code"] == code
    assert backend.calls == 0

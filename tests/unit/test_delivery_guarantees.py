"""Delivery guarantees of push: idempotent publish, all-or-nothing persist, the connect window,
the time budget and the capped failure list (docs/protocol.md, "Delivery guarantees")."""

from __future__ import annotations

import threading
import time
from typing import Any

import push
import pytest
from botocore.exceptions import ClientError
from conftest import LambdaContext, Transport, client_error, message_event
from test_push import DynamoProxy, add_connection, backend, connection_exists, history_rows
from wsnotify import clients, delivery, idempotency, validation
from wsnotify.config import load

__all__ = ["backend"]  # the fixture, imported so pytest finds it here


class TimedContext(LambdaContext):
    def __init__(self, remaining_ms: int) -> None:
        self._end = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return int((self._end - time.monotonic()) * 1000)


def throttled_put(real: Any, **kw: Any) -> Any:
    error = {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}
    raise ClientError({"Error": error}, "PutItem")


# --- 1. idempotent publish ------------------------------------------------------------------


def test_same_key_same_id_one_row_and_repeat_with_first_figures(
    aws: Any, backend: Transport
) -> None:
    add_connection(aws, "c1", "alice")
    add_connection(aws, "c2", "alice")
    backend.always["c2"] = client_error("GoneException", 410)
    request = {"userId": "alice", "message": {"n": 1}, "idempotencyKey": "order-42/shipped"}
    first = push.handler(dict(request), None)
    assert first["ok"] and first["repeat"] is False
    assert (first["delivered"], first["stale"]) == (1, 1)
    second = push.handler(dict(request), None)
    assert second == {**first, "repeat": True}
    assert [r["notificationId"]["S"] for r in history_rows(aws, "alice")] == [
        first["notificationId"]
    ]
    assert len(backend.frames["c1"]) == 1  # a repeat of a completed attempt sends nothing


def test_without_key_every_push_is_new(aws: Any, backend: Transport) -> None:
    a = push.handler({"userId": "alice", "message": 1}, None)
    b = push.handler({"userId": "alice", "message": 1}, None)
    assert a["notificationId"] != b["notificationId"] and "repeat" not in a
    assert len(history_rows(aws, "alice")) == 2


def test_key_is_scoped_to_the_caller(aws: Any, backend: Transport, env: pytest.MonkeyPatch) -> None:
    env.setenv("ALLOW_CLIENT_PUSH", "true")
    add_connection(aws, "b1", "bob")
    by_backend = push.handler({"userId": "bob", "message": 1, "idempotencyKey": "k"}, None)
    frame = {"action": "push", "userId": "bob", "message": 1, "idempotencyKey": "k"}
    push.handler(message_event("push", "caller", frame), None)
    ack = backend.last("caller")["data"]
    assert ack["repeat"] is False and ack["notificationId"] != by_backend["notificationId"]
    assert len(history_rows(aws, "bob")) == 2


def test_same_key_for_a_different_request_is_refused(aws: Any, backend: Transport) -> None:
    push.handler({"userId": "alice", "message": 1, "idempotencyKey": "k"}, None)
    out = push.handler({"userId": "alice", "message": 2, "idempotencyKey": "k"}, None)
    assert out["ok"] is False and out["error"]["code"] == "INVALID_REQUEST"
    assert "different request" in out["error"]["message"]
    assert len(history_rows(aws, "alice")) == 1


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "1..128 characters"),
        ("k" * 129, "1..128 characters"),
        ("line\nbreak", "printable"),
        (42, "must be a string"),
    ],
)
def test_invalid_idempotency_keys(aws: Any, backend: Transport, key: Any, message: str) -> None:
    out = push.handler({"userId": "alice", "message": 1, "idempotencyKey": key}, None)
    assert out["error"]["code"] == "INVALID_REQUEST" and message in out["error"]["message"]


def test_record_cannot_be_a_user_partition_and_expires_with_the_window(
    aws: Any, backend: Transport, env: pytest.MonkeyPatch
) -> None:
    assert len(idempotency.partition_key("backend", "k")) > validation.MAX_USER_ID_LENGTH
    env.setenv("IDEMPOTENCY_WINDOW_SECONDS", "3600")
    push.handler({"userId": "alice", "message": 1, "idempotencyKey": "k"}, None)
    record = aws.get_item(
        TableName="ws-notifications",
        Key={
            "userId": {"S": idempotency.partition_key("backend", "k")},
            "notificationId": {"S": "request"},
        },
    )["Item"]
    assert abs(int(record["expiresAt"]["N"]) - (int(time.time()) + 3600)) <= 2
    assert record["state"]["S"] == "done"


def test_an_expired_record_not_yet_removed_by_ttl_frees_the_key(
    aws: Any, backend: Transport
) -> None:
    first = push.handler({"userId": "alice", "message": 1, "idempotencyKey": "k"}, None)
    aws.update_item(
        TableName="ws-notifications",
        Key={
            "userId": {"S": idempotency.partition_key("backend", "k")},
            "notificationId": {"S": "request"},
        },
        UpdateExpression="SET expiresAt = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    again = push.handler({"userId": "alice", "message": 1, "idempotencyKey": "k"}, None)
    assert again["repeat"] is False and again["notificationId"] != first["notificationId"]


def test_retry_after_a_worker_died_mid_attempt_reuses_the_id_and_sends_again(
    aws: Any, backend: Transport
) -> None:
    """A claim left pending (the first worker died after claiming) is joined, not refused."""
    add_connection(aws, "c1", "alice")
    request = validation.push_request(
        {"userId": "alice", "message": 1, "idempotencyKey": "k"}, load(), from_client=False
    )
    dead = idempotency.claim("ws-notifications", "backend", request, "01" + "A" * 24, 1, 60)
    out = push.handler({"userId": "alice", "message": 1, "idempotencyKey": "k"}, None)
    assert out["repeat"] is True and out["notificationId"] == dead.notification_id
    assert backend.frames["c1"][0]["id"] == dead.notification_id
    assert out["delivered"] == 1


# --- 2. persist is all or nothing per attempt -----------------------------------------------


def test_persist_failure_waits_for_writes_in_flight_sends_nothing_and_retry_completes(
    aws: Any, backend: Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    for user in ("alice", "bob", "carol"):
        add_connection(aws, f"c-{user}", user)
    finished: list[str] = []

    def flaky(real: Any, **kw: Any) -> Any:
        user = kw["Item"]["userId"]["S"]
        if user == "bob":
            throttled_put(real, **kw)
        if user in ("alice", "carol"):
            time.sleep(0.3)  # still in flight when bob's write fails
        out = real.put_item(**kw)
        finished.append(user)
        return out

    monkeypatch.setattr(clients, "dynamodb", lambda: DynamoProxy(aws, put_item=flaky))
    request = {"userIds": ["alice", "bob", "carol"], "message": 1, "idempotencyKey": "k"}
    out = push.handler(dict(request), LambdaContext())
    assert out["ok"] is False and out["error"]["code"] == "INTERNAL_ERROR"
    # Every write still in flight landed before the answer, and nothing was sent.
    assert sorted(u for u in finished if not u.startswith("idempotency/")) == ["alice", "carol"]
    assert backend.calls == 0

    monkeypatch.setattr(clients, "dynamodb", lambda: aws)
    retry = push.handler(dict(request), None)
    assert retry["ok"] and retry["repeat"] is True and retry["delivered"] == 3
    for user in ("alice", "bob", "carol"):
        rows = history_rows(aws, user)
        assert [r["notificationId"]["S"] for r in rows] == [retry["notificationId"]]
        assert backend.frames[f"c-{user}"][0]["id"] == retry["notificationId"]


def test_without_key_a_failed_persist_also_waits_for_its_writes(
    aws: Any, backend: Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_flight = threading.Event()

    def slow_or_failing(real: Any, **kw: Any) -> Any:
        if kw["Item"]["userId"]["S"] == "bob":
            throttled_put(real, **kw)
        in_flight.set()
        time.sleep(0.2)
        return real.put_item(**kw)

    monkeypatch.setattr(clients, "dynamodb", lambda: DynamoProxy(aws, put_item=slow_or_failing))
    out = push.handler({"userIds": ["bob", "alice"], "message": 1}, None)
    assert out["error"]["code"] == "INTERNAL_ERROR"
    assert len(history_rows(aws, "alice")) == 1  # landed before the answer, not after


# --- 5. the connect window ------------------------------------------------------------------


def test_young_connection_answering_410_is_retried_not_pruned(aws: Any, backend: Transport) -> None:
    add_connection(aws, "opening", "alice", age_seconds=1)
    backend.faults["opening"] = [client_error("GoneException", 410)]  # then the handshake ends
    out = push.handler({"userId": "alice", "message": 1}, None)
    assert (out["delivered"], out["stale"], out["failed"]) == (1, 0, [])
    assert delivery.GONE_RETRY_DELAY_SECONDS in backend.sleeps  # type: ignore[attr-defined]
    assert connection_exists(aws, "opening")


def test_young_connection_still_gone_after_the_retry_keeps_its_row(
    aws: Any, backend: Transport
) -> None:
    add_connection(aws, "opening", "alice", age_seconds=1)
    add_connection(aws, "old", "alice", age_seconds=30)
    backend.always["opening"] = client_error("GoneException", 410)
    backend.always["old"] = client_error("GoneException", 410)
    out = push.handler({"userId": "alice", "message": 1}, None)
    assert out["stale"] == 1
    assert out["failed"] == [{"connectionId": "opening", "error": "GoneException"}]
    assert connection_exists(aws, "opening") and not connection_exists(aws, "old")


# --- 6. time budget and result size ----------------------------------------------------------


def test_fanout_stops_starting_sends_when_time_runs_out(
    aws: Any, backend: Transport, env: pytest.MonkeyPatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.setenv("SEND_CONCURRENCY", "1")
    env.setenv("SEND_TIME_MARGIN_MS", "1000")
    for i in range(20):
        add_connection(aws, f"c{i:02}", "alice")
    real_factory = backend.factory

    def slow_factory(endpoint: str, pool_size: int) -> Any:
        inner = real_factory(endpoint, pool_size)

        class Slow:
            def post(self, cid: str, data: bytes) -> None:
                time.sleep(0.05)
                inner.post(cid, data)

        return Slow()

    monkeypatch.setattr(delivery, "sender_factory", slow_factory)
    request = {"userId": "alice", "message": 1, "idempotencyKey": "k"}
    out = push.handler(dict(request), TimedContext(remaining_ms=1000 + 250))
    assert 0 < out["delivered"] < 20
    assert out["delivered"] + out["notAttempted"] == 20
    # Not every connection was tried: a retry with the key sends again rather than answering
    # with this attempt's figures.
    retry = push.handler(dict(request), TimedContext(remaining_ms=60_000))
    assert retry["repeat"] is True and retry["delivered"] == 20 and retry["notAttempted"] == 0


def test_failure_list_is_capped_and_counted(
    aws: Any, backend: Transport, env: pytest.MonkeyPatch
) -> None:
    env.setenv("SEND_CONCURRENCY", "64")
    for i in range(delivery.MAX_LISTED_FAILURES + 30):
        add_connection(aws, f"c{i:03}", "alice")
        backend.always[f"c{i:03}"] = client_error("ForbiddenException", 403)
    out = push.handler({"userId": "alice", "message": 1, "persist": False}, None)
    assert len(out["failed"]) == delivery.MAX_LISTED_FAILURES
    assert out["failedCount"] == delivery.MAX_LISTED_FAILURES + 30

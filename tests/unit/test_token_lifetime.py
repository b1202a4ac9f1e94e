"""Security review items 3 and 4: a connection does not outlive its token (stored expiry,
sweeper over the expiry index, no delivery after expiry, refresh) and revocation."""

from __future__ import annotations

import json
import time
from typing import Any

import connect
import jwt
import push
import pytest
import refresh
import sweeper
from botocore.exceptions import ClientError
from conftest import (
    CONNECTIONS,
    DOMAIN,
    SECRET,
    STAGE,
    LambdaContext,
    Transport,
    client_error,
    connect_event,
    message_event,
)
from wsnotify import clients, envelope, expiry, revoke, store
from wsnotify.errors import INVALID_REQUEST, RequestError

ENDPOINT = f"https://{DOMAIN}/{STAGE}"


class Management:
    """Stands in for the @connections client: records DeleteConnection, answers 410 for ids
    that are already gone."""

    def __init__(self) -> None:
        self.deleted: list[str] = []
        self.gone: set[str] = set()
        self.fail: dict[str, ClientError] = {}

    def delete_connection(self, ConnectionId: str) -> None:
        if ConnectionId in self.fail:
            raise self.fail[ConnectionId]
        if ConnectionId in self.gone:
            raise client_error("GoneException", 410)
        self.deleted.append(ConnectionId)


@pytest.fixture
def management(transport: Transport, env: pytest.MonkeyPatch) -> Management:
    env.setenv("CONNECTIONS_ENDPOINT", ENDPOINT)
    fake = Management()
    env.setattr(revoke.clients, "management", lambda endpoint, pool: fake)
    return fake


def token(sub: str = "alice", exp_in: int = 300) -> str:
    return jwt.encode({"sub": sub, "exp": int(time.time()) + exp_in}, SECRET, "HS256")


def add(cid: str, user: str, token_expires_in: int | None) -> None:
    exp = None if token_expires_in is None else int(time.time()) + token_expires_in
    store.put_connection(CONNECTIONS, cid, user, envelope.now_ms(), int(time.time()) + 7500, exp)


def row(cid: str) -> dict[str, Any] | None:
    return (
        clients.dynamodb()
        .get_item(TableName=CONNECTIONS, Key={"connectionId": {"S": cid}})
        .get("Item")
    )


def connect_with_expiry(cid: str, value: Any) -> None:
    event = connect_event(cid, user="alice")
    event["requestContext"]["authorizer"]["tokenExpiresAt"] = value
    assert connect.handler(event, None) == {"statusCode": 200}


# --- the expiry is stored ------------------------------------------------------------------


@pytest.mark.parametrize("value", [1_900_000_000, "1900000000"])
def test_connect_stores_the_token_expiry_and_an_expiry_shard(aws: Any, value: Any) -> None:
    connect_with_expiry("c1", value)
    item = row("c1")
    assert item is not None
    assert item["tokenExpiresAt"] == {"N": "1900000000"}
    assert item["sweepShard"] == {"S": store.expiry_shard("c1")}


def test_connect_without_an_expiry_in_the_context_stores_none(aws: Any) -> None:
    connect_with_expiry("c1", "soon")
    item = row("c1")
    assert item is not None and "tokenExpiresAt" not in item and "sweepShard" not in item


def test_auth_disabled_connections_have_no_token_expiry(aws: Any, env: pytest.MonkeyPatch) -> None:
    env.setenv("AUTH_MODE", "disabled")
    connect.handler(connect_event("c1", query={"userId": "bob"}), None)
    item = row("c1")
    assert item is not None and "tokenExpiresAt" not in item


# --- pushes never reach an expired connection ------------------------------------------------


def test_push_skips_connections_whose_token_expired(
    aws: Any, transport: Transport, env: pytest.MonkeyPatch
) -> None:
    env.setenv("CONNECTIONS_ENDPOINT", ENDPOINT)
    add("fresh", "alice", 300)
    add("stale-token", "alice", -1)
    add("no-auth", "alice", None)
    out = push.handler({"userId": "alice", "message": "hi"}, LambdaContext())
    assert out["ok"] and out["targeted"] == 2 and out["delivered"] == 2
    assert set(transport.frames) == {"fresh", "no-auth"}


def test_broadcast_skips_connections_whose_token_expired(
    aws: Any, transport: Transport, env: pytest.MonkeyPatch
) -> None:
    env.setenv("CONNECTIONS_ENDPOINT", ENDPOINT)
    env.setenv("ALLOW_BROADCAST", "true")
    add("fresh", "alice", 300)
    add("stale-token", "bob", -5)
    out = push.handler({"broadcast": True, "message": "hi"}, LambdaContext())
    assert out["targeted"] == 1 and set(transport.frames) == {"fresh"}


# --- the sweeper -------------------------------------------------------------------------------


def test_sweeper_closes_only_expired_connections_through_the_index(
    aws: Any, management: Management, env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for n in range(12):  # spread over every shard
        add(f"old-{n}", "alice", -n - 1)
    add("fresh", "alice", 300)
    add("no-auth", "bob", None)
    management.gone.add("old-0")  # the client already left; only the row remains

    def no_scan(**_: Any) -> None:
        raise AssertionError("the sweeper must not Scan the table")

    env.setattr(clients.dynamodb(), "scan", no_scan)
    event = {
        "version": "0",
        "id": "e1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": "2026-12-01T21:00:00Z",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/ws-sweep"],
        "detail": {},
    }
    out = sweeper.handler(event, LambdaContext())
    assert out == {"ok": True, "expired": 12, "closed": 11, "gone": 1, "failed": 0}
    assert sorted(management.deleted) == sorted(f"old-{n}" for n in range(1, 12))
    assert all(row(f"old-{n}") is None for n in range(12))
    assert row("fresh") is not None and row("no-auth") is not None
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["function"] == "sweeper" and line["source"] == "aws.events"


def test_sweeper_keeps_rows_it_could_not_close(aws: Any, management: Management) -> None:
    add("old", "alice", -1)
    management.fail["old"] = client_error("LimitExceededException", 429)
    assert expiry.sweep(clients_config())["failed"] == 1
    assert row("old") is not None  # the next sweep retries


def test_sweeper_failure_is_raised_for_lambda_to_count(
    aws: Any, env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.delenv("CONNECTIONS_TABLE")
    with pytest.raises(Exception, match="CONNECTIONS_TABLE"):
        sweeper.handler({}, LambdaContext())
    assert json.loads(capsys.readouterr().out)["ok"] is False


def clients_config() -> Any:
    from wsnotify import config

    return config.load()


# --- refresh ------------------------------------------------------------------------------------


def refresh_frame(transport: Transport, body: Any, cid: str = "c1", user: str = "alice") -> Any:
    out = refresh.handler(message_event("refresh", cid, body, user=user), LambdaContext())
    assert out == {"statusCode": 200}
    return transport.last(cid)


def test_refresh_moves_the_expiry(aws: Any, transport: Transport) -> None:
    add("c1", "alice", 5)
    new = token(exp_in=3600)
    frame = refresh_frame(transport, {"action": "refresh", "token": new})
    assert frame["type"] == "ack" and frame["data"]["ok"] is True
    exp = jwt.decode(new, options={"verify_signature": False})["exp"]
    assert frame["data"]["expiresAt"] == exp
    item = row("c1")
    assert item is not None and item["tokenExpiresAt"] == {"N": str(exp)}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"action": "refresh"}, INVALID_REQUEST),
        ({"action": "refresh", "token": 7}, INVALID_REQUEST),
        ({"action": "refresh", "token": "x", "userId": "bob"}, INVALID_REQUEST),
        ({"action": "refresh", "token": "not-a-jwt"}, "INVALID_TOKEN"),
        ({"action": "refresh", "token": token(exp_in=-600)}, "INVALID_TOKEN"),
        ({"action": "refresh", "token": token(sub="mallory")}, "INVALID_TOKEN"),
        (
            {"action": "refresh", "token": jwt.encode({"sub": "alice", "exp": 2e9}, "x" * 40)},
            "INVALID_TOKEN",
        ),
    ],
)
def test_bad_refresh_changes_nothing(
    aws: Any, transport: Transport, body: dict[str, Any], code: str
) -> None:
    add("c1", "alice", 60)
    before = row("c1")
    frame = refresh_frame(transport, body)
    assert frame["type"] == "error" and frame["error"]["code"] == code
    assert row("c1") == before


def test_refresh_after_expiry_is_refused(aws: Any, transport: Transport) -> None:
    add("c1", "alice", -1)
    frame = refresh_frame(transport, {"action": "refresh", "token": token()})
    assert frame["error"]["code"] == "TOKEN_EXPIRED"


def test_refresh_of_an_unknown_connection_is_refused(aws: Any, transport: Transport) -> None:
    frame = refresh_frame(transport, {"action": "refresh", "token": token()}, cid="ghost")
    assert frame["error"]["code"] == "TOKEN_EXPIRED"
    assert row("ghost") is None


def test_refresh_without_identity_is_forbidden(aws: Any, transport: Transport) -> None:
    frame = refresh_frame(transport, {"action": "refresh", "token": token()}, user=None)  # type: ignore[arg-type]
    assert frame["error"]["code"] == "FORBIDDEN"


# --- revocation ---------------------------------------------------------------------------------


def test_revoke_a_user_closes_every_connection(aws: Any, management: Management) -> None:
    add("a1", "alice", 300)
    add("a2", "alice", -10)  # expired token: closed too
    add("a3", "alice", 300)
    add("b1", "bob", 300)
    management.gone.add("a3")
    assert revoke.revoke_connections(user_id="alice") == 2
    assert sorted(management.deleted) == ["a1", "a2"]
    assert row("a1") is None and row("a2") is None and row("a3") is None
    assert row("b1") is not None


def test_revoke_one_connection(aws: Any, management: Management) -> None:
    add("a1", "alice", 300)
    add("a2", "alice", 300)
    assert revoke.revoke_connections(connection_id="a2") == 1
    assert management.deleted == ["a2"] and row("a1") is not None
    management.gone.add("a2")
    assert revoke.revoke_connections(connection_id="a2") == 0


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"user_id": "a", "connection_id": "b"}, {"user_id": ""}, {"connection_id": "x" * 129}],
)
def test_revoke_needs_exactly_one_valid_target(
    aws: Any, management: Management, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(RequestError) as info:
        revoke.revoke_connections(**kwargs)
    assert info.value.code == INVALID_REQUEST


def test_disconnect_request_to_push(
    aws: Any, management: Management, capsys: pytest.CaptureFixture[str]
) -> None:
    add("a1", "alice", 300)
    add("a2", "alice", 300)
    out = push.handler({"disconnect": {"userId": "alice"}}, LambdaContext())
    assert out == {"ok": True, "closed": 2, "alreadyGone": 0, "failed": 0}
    line = json.loads(capsys.readouterr().out)
    assert line["action"] == "disconnect" and line["closed"] == 2
    out = push.handler({"disconnect": {"connectionId": "zzz"}}, LambdaContext())
    assert out == {"ok": True, "closed": 1, "alreadyGone": 0, "failed": 0}


@pytest.mark.parametrize(
    "request_",
    [
        {"disconnect": "alice"},
        {"disconnect": {}},
        {"disconnect": {"userId": "alice", "connectionId": "c"}},
        {"disconnect": {"user": "alice"}},
        {"disconnect": {"userId": "alice"}, "message": "bye"},
        {"disconnect": {"userId": 5}},
    ],
)
def test_bad_disconnect_requests(
    aws: Any, management: Management, request_: dict[str, Any]
) -> None:
    out = push.handler(request_, LambdaContext())
    assert out["ok"] is False and out["error"]["code"] == INVALID_REQUEST
    assert management.deleted == []


def test_disconnect_without_endpoint_is_internal_error(aws: Any, transport: Transport) -> None:
    out = push.handler({"disconnect": {"userId": "alice"}}, LambdaContext())
    assert out["ok"] is False and out["error"]["code"] == "INTERNAL_ERROR"


def test_revoke_with_moto_management_client(aws: Any, env: pytest.MonkeyPatch) -> None:
    # The real boto3 client path (moto's @connections accepts any id).
    env.setenv("CONNECTIONS_ENDPOINT", ENDPOINT)
    add("a1", "alice", 300)
    assert revoke.revoke_connections(user_id="alice") == 1
    assert row("a1") is None

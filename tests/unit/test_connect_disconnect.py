from __future__ import annotations

import json
import time
from typing import Any

import connect
import disconnect
import pytest
from conftest import CONNECTIONS, connect_event, disconnect_event

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"


def _row(ddb: Any, cid: str) -> dict[str, Any] | None:
    return ddb.get_item(TableName=CONNECTIONS, Key={"connectionId": {"S": cid}}).get("Item")


def test_connect_stores_row_with_ttl(aws: Any) -> None:
    before = int(time.time())
    out = connect.handler(connect_event("c1", user="alice"), None)
    assert out == {"statusCode": 200}
    row = _row(aws, "c1")
    assert row is not None
    assert row["userId"] == {"S": "alice"}
    assert row["connectedAt"] == {"N": "1731332735513"}
    assert before + 7500 <= int(row["expiresAt"]["N"]) <= int(time.time()) + 7500


def test_connect_ttl_is_configurable(aws: Any, env: pytest.MonkeyPatch) -> None:
    env.setenv("CONNECTION_TTL_SECONDS", "9000")
    connect.handler(connect_event("c1", user="alice"), None)
    row = _row(aws, "c1")
    assert row is not None
    assert int(time.time()) + 8990 <= int(row["expiresAt"]["N"]) <= int(time.time()) + 9000


@pytest.mark.parametrize("ttl", ["600", "7259"])
def test_connect_refuses_a_ttl_below_the_connection_limit(
    aws: Any, env: pytest.MonkeyPatch, ttl: str
) -> None:
    # Broadcast reads only unexpired rows: a row that expires before API Gateway closes the
    # connection would hide a live connection.
    env.setenv("CONNECTION_TTL_SECONDS", ttl)
    assert connect.handler(connect_event("c1", user="alice"), None) == {"statusCode": 500}
    assert _row(aws, "c1") is None


def test_connect_ignores_query_user_when_auth_enabled(aws: Any) -> None:
    # Without an authorizer context the query parameter must not establish a user.
    out = connect.handler(connect_event("c1", query={"userId": "mallory"}), None)
    assert out == {"statusCode": 401}
    assert _row(aws, "c1") is None


def test_connect_authorizer_user_wins_over_query(aws: Any) -> None:
    connect.handler(connect_event("c1", user="alice", query={"userId": "mallory"}), None)
    row = _row(aws, "c1")
    assert row is not None and row["userId"] == {"S": "alice"}


def test_connect_auth_disabled_uses_query(aws: Any, env: pytest.MonkeyPatch) -> None:
    env.setenv("AUTH_MODE", "disabled")
    assert connect.handler(connect_event("c1", query={"userId": "bob"}), None)["statusCode"] == 200
    row = _row(aws, "c1")
    assert row is not None and row["userId"] == {"S": "bob"}


@pytest.mark.parametrize("query", [None, {"other": "x"}, {"userId": ""}, {"userId": "x" * 129}])
def test_connect_auth_disabled_rejects_without_valid_user(
    aws: Any, env: pytest.MonkeyPatch, query: dict[str, str] | None
) -> None:
    env.setenv("AUTH_MODE", "disabled")
    assert connect.handler(connect_event("c1", query=query), None) == {"statusCode": 401}
    assert _row(aws, "c1") is None


@pytest.mark.parametrize(
    ("offered", "echo"),
    [
        (f"notify.v1, {TOKEN}", "notify.v1"),
        (f"{TOKEN}, notify.v1", "notify.v1"),
        ("notify.v1", "notify.v1"),
        ("notify.v2,notify.v1", "notify.v2"),
    ],
)
def test_connect_echoes_one_subprotocol_never_the_token(
    aws: Any, offered: str, echo: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = connect.handler(
        connect_event("c1", user="alice", headers={"sec-websocket-protocol": offered}), None
    )
    assert out == {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": echo}}
    assert TOKEN not in capsys.readouterr().out


def test_connect_refuses_token_only_subprotocol(aws: Any) -> None:
    out = connect.handler(
        connect_event("c1", user="alice", headers={"Sec-WebSocket-Protocol": TOKEN}), None
    )
    assert out == {"statusCode": 400}
    assert TOKEN not in json.dumps(out)
    assert _row(aws, "c1") is None


def test_connect_logs_one_line_without_token(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    connect.handler(connect_event("c1", user="alice", query={"token": TOKEN}), None)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert line["function"] == "connect"
    assert line["route"] == "$connect"
    assert line["userId"] == "alice"
    assert line["requestId"] == "req-$connect-c1"
    assert line["status"] == 200
    assert "durationMs" in line
    assert TOKEN not in lines[0]


def test_connect_storage_failure_is_500(aws: Any, env: pytest.MonkeyPatch) -> None:
    env.setenv("CONNECTIONS_TABLE", "missing-table")
    assert connect.handler(connect_event("c1", user="alice"), None) == {"statusCode": 500}


def test_connect_bad_config_is_500(aws: Any, env: pytest.MonkeyPatch) -> None:
    env.setenv("AUTH_MODE", "magic")
    assert connect.handler(connect_event("c1", user="alice"), None) == {"statusCode": 500}


def test_disconnect_removes_row_and_is_idempotent(aws: Any) -> None:
    connect.handler(connect_event("c1", user="alice"), None)
    assert disconnect.handler(disconnect_event("c1", 1000), None) == {"statusCode": 200}
    assert _row(aws, "c1") is None
    assert disconnect.handler(disconnect_event("c1", 1006), None) == {"statusCode": 200}
    assert disconnect.handler(disconnect_event("never-seen", 1005, user=None), None) == {
        "statusCode": 200
    }


def test_disconnect_logs_status_code(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    disconnect.handler(disconnect_event("c1", 1006), None)
    line = json.loads(capsys.readouterr().out.strip())
    assert line["disconnectStatusCode"] == 1006
    assert line["function"] == "disconnect"


def test_disconnect_failure_is_500(aws: Any, env: pytest.MonkeyPatch) -> None:
    env.delenv("CONNECTIONS_TABLE")
    assert disconnect.handler(disconnect_event("c1"), None) == {"statusCode": 500}

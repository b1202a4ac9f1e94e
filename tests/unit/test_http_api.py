"""The HTTP API's handlers (payload format 2.0): presence, revocation, the caller's history, the
hs256 Lambda authorizer's simple responses, and the shared error conventions."""

from __future__ import annotations

import json
import time
from typing import Any

import authorizer
import jwt
import me
import pytest
import users
from conftest import CONNECTIONS, SECRET, Transport, http_event
from test_poll import put_history
from test_push import add_connection
from wsnotify import envelope, httpapi, revoke

ADMIN = "arn:aws:iam::123456789012:role/ops-admin"
BACKEND = "arn:aws:iam::123456789012:role/backend"
ENDPOINT = "https://ws.execute-api.us-east-1.amazonaws.com/prod"


def iam(arn: str = BACKEND) -> dict[str, Any]:
    return {"iam": {"userArn": arn, "accountId": "123456789012", "callerId": "AROA:x"}}


def users_event(
    method: str, user: str = "alice", query: dict[str, str] | None = None, caller: str = BACKEND
) -> dict[str, Any]:
    return http_event(
        None,
        route_key=f"{method} /v1/users/{{userId}}/connections",
        path=f"/v1/users/{user}/connections",
        path_parameters={"userId": user},
        query=query,
        authorizer=iam(caller),
    )


def me_event(query: dict[str, str] | None = None, user: str | None = "alice") -> dict[str, Any]:
    auth = {"lambda": {"userId": user}} if user else None
    return http_event(
        None,
        route_key="GET /v1/me/notifications",
        path="/v1/me/notifications",
        query=query,
        authorizer=auth,
    )


def body(out: dict[str, Any]) -> dict[str, Any]:
    assert out["headers"]["content-type"] == "application/json"
    assert out["headers"]["x-request-id"] == "http-req-1"
    return json.loads(out["body"])  # type: ignore[no-any-return]


@pytest.fixture
def backend(transport: Transport, env: pytest.MonkeyPatch) -> Transport:
    env.setenv("CONNECTIONS_ENDPOINT", ENDPOINT)
    env.setenv("ADMIN_PRINCIPAL_ARNS", f" {ADMIN} ,arn:aws:iam::123456789012:user/other")
    return transport


# --- presence ----------------------------------------------------------------------------


def test_presence_counts_without_ids(aws: Any, backend: Transport) -> None:
    add_connection(aws, "c1", "alice")
    add_connection(aws, "c2", "alice")
    add_connection(aws, "c3", "bob")
    out = users.handler(users_event("GET"), None)
    assert out["statusCode"] == 200
    doc = body(out)
    assert doc["ok"] is True and doc["userId"] == "alice" and doc["connections"] == 2
    assert isinstance(doc["connectedSince"], int)
    assert "connectionIds" not in doc and "c1" not in out["body"]


def test_presence_of_an_absent_user(aws: Any, backend: Transport) -> None:
    doc = body(users.handler(users_event("GET", "nobody"), None))
    assert doc == {"ok": True, "userId": "nobody", "connections": 0, "connectedSince": None}


def test_presence_ids_for_admins_only(aws: Any, backend: Transport) -> None:
    add_connection(aws, "c1", "alice")
    out = users.handler(users_event("GET", query={"include": "connectionIds"}), None)
    assert out["statusCode"] == 403 and body(out)["error"]["code"] == "FORBIDDEN"
    out = users.handler(users_event("GET", query={"include": "connectionIds"}, caller=ADMIN), None)
    assert out["statusCode"] == 200 and body(out)["connectionIds"] == ["c1"]


@pytest.mark.parametrize(
    ("user", "query"),
    [("x" * 129, None), ("alice", {"include": "everything"})],
)
def test_presence_bad_input(aws: Any, backend: Transport, user: str, query: Any) -> None:
    out = users.handler(users_event("GET", user, query), None)
    assert out["statusCode"] == 400
    doc = body(out)
    assert doc["ok"] is False and doc["error"]["code"] == "INVALID_REQUEST"


def test_missing_path_parameter_is_400(aws: Any, backend: Transport) -> None:
    event = users_event("GET")
    del event["pathParameters"]
    assert users.handler(event, None)["statusCode"] == 400


# --- revocation --------------------------------------------------------------------------


def test_revocation_closes_and_forgets(
    aws: Any, backend: Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_connection(aws, "c1", "alice")
    add_connection(aws, "c2", "alice")
    add_connection(aws, "c3", "bob")
    calls: list[str] = []
    monkeypatch.setattr(
        revoke,
        "revoke_connections",
        lambda user_id: calls.append(user_id) or 2,
    )
    doc = body(users.handler(users_event("DELETE"), None))
    assert doc == {"ok": True, "userId": "alice", "closed": 2}
    assert calls == ["alice"]


def test_revoke_connections_deletes_rows(aws: Any, backend: Transport) -> None:
    add_connection(aws, "c1", "alice")
    add_connection(aws, "c3", "bob")
    assert revoke.revoke_connections(user_id="alice") == 1
    left = {i["connectionId"]["S"] for i in aws.scan(TableName=CONNECTIONS)["Items"]}
    assert left == {"c3"}
    assert revoke.revoke_connections(user_id="alice") == 0


def test_internal_errors_are_500_with_the_request_id(
    aws: Any, backend: Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(user_id: str) -> int:
        raise RuntimeError("down")

    monkeypatch.setattr(revoke, "revoke_connections", boom)
    out = users.handler(users_event("DELETE"), None)
    assert out["statusCode"] == 500
    assert body(out)["error"] == {
        "code": "INTERNAL_ERROR",
        "message": "internal error (request id: http-req-1)",
    }


# --- the caller's history ------------------------------------------------------------------


def test_me_notifications_pages(aws: Any, backend: Transport) -> None:
    first = put_history(aws, "alice", {"n": 1}, created_ms=envelope.now_ms() - 2000)
    second = put_history(aws, "alice", {"n": 2}, created_ms=envelope.now_ms() - 1000)
    put_history(aws, "bob", {"n": "bob"})
    doc = body(me.handler(me_event({"limit": "1"}), None))
    assert [n["data"] for n in doc["notifications"]] == [{"n": 1}]
    assert doc["next"] == first and doc["notifications"][0]["id"] == first
    doc = body(me.handler(me_event({"after": first}), None))
    assert [n["id"] for n in doc["notifications"]] == [second] and doc["next"] is None
    assert doc["notifications"][0]["type"] == "notification"


def test_me_jwt_claims_user(aws: Any, backend: Transport) -> None:
    put_history(aws, "carol", {"n": 1})
    event = me_event(user=None)
    event["requestContext"]["authorizer"] = {"jwt": {"claims": {"sub": "carol"}, "scopes": None}}
    assert len(body(me.handler(event, None))["notifications"]) == 1


@pytest.mark.parametrize(
    "query", [{"limit": "0"}, {"limit": "abc"}, {"limit": "101"}, {"after": "not-a-ulid"}]
)
def test_me_bad_query_is_400(aws: Any, backend: Transport, query: dict[str, str]) -> None:
    out = me.handler(me_event(query), None)
    assert out["statusCode"] == 400 and body(out)["error"]["code"] == "INVALID_REQUEST"


def test_me_without_a_user_is_401(aws: Any, backend: Transport) -> None:
    out = me.handler(me_event(user=None), None)
    assert out["statusCode"] == 401 and body(out)["error"]["code"] == "UNAUTHORIZED"


# --- the hs256 Lambda authorizer of the HTTP API -------------------------------------------


def http_authorizer_event(authorization: str | None) -> dict[str, Any]:
    headers = {"authorization": authorization} if authorization is not None else {}
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:h/$default/GET/v1/me/notifications",
        "identitySource": [authorization] if authorization else [],
        "routeKey": "GET /v1/me/notifications",
        "rawPath": "/v1/me/notifications",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {"http": {"method": "GET"}, "requestId": "authz-1"},
    }


def token(sub: str = "alice", ttl: int = 300, secret: str = SECRET) -> str:
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + ttl}, secret, algorithm="HS256")


def test_http_authorizer_simple_response(aws: Any) -> None:
    out = authorizer.handler(http_authorizer_event(f"Bearer {token()}"), None)
    assert out == {"isAuthorized": True, "context": {"userId": "alice"}}


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Basic abc",
        "Bearer ",
        f"Bearer {token(ttl=-100)}",
        f"Bearer {token(secret='x' * 40)}",
    ],
)
def test_http_authorizer_refusals_are_unauthorized(aws: Any, authorization: str | None) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.handler(http_authorizer_event(authorization), None)


def test_status_mapping_defaults_to_400() -> None:
    assert httpapi.status_of({"ok": False, "error": {"code": "SOMETHING_NEW"}}) == 400
    assert httpapi.status_of({"ok": True}) == 200

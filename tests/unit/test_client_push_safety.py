"""Security review item 2: client push is safe to switch on (who may message whom, per-user rate
limit, recipient and history caps)."""

from __future__ import annotations

import io
import json
import time
from types import SimpleNamespace
from typing import Any

import authorizer
import jwt
import push
import pytest
from conftest import (
    CONNECTIONS,
    RATE_LIMITS,
    SECRET,
    Transport,
    authorizer_event,
    message_event,
)
from wsnotify import client_push, clients, config, envelope


@pytest.fixture
def clients_push(aws: Any, transport: Transport, env: pytest.MonkeyPatch) -> Transport:
    env.setenv("ALLOW_CLIENT_PUSH", "true")
    for user, cid in (("bob", "b1"), ("carol", "c1")):
        aws.put_item(
            TableName=CONNECTIONS,
            Item={
                "connectionId": {"S": cid},
                "userId": {"S": user},
                "connectedAt": {"N": str(envelope.now_ms())},
                "expiresAt": {"N": str(int(time.time()) + 3600)},
            },
        )
    return transport


def send(body: dict[str, Any], context: dict[str, Any] | None = None) -> dict[str, Any]:
    event = message_event("push", "caller", {"action": "push", **body})
    event["requestContext"]["authorizer"].update(context or {})
    assert push.handler(event, None) == {"statusCode": 200}
    return event


def reply(transport: Transport) -> dict[str, Any]:
    return transport.last("caller")  # type: ignore[no-any-return]


# --- rate limit ---------------------------------------------------------------------------


def test_rate_limit_answers_rate_limited(clients_push: Transport, env: pytest.MonkeyPatch) -> None:
    env.setenv("CLIENT_PUSH_RATE_LIMIT", "3")
    # One fixed window for all four pushes: a real clock may cross a window boundary mid-test.
    env.setattr(client_push, "time", SimpleNamespace(time=lambda: 1_000_020.0))
    for _ in range(3):
        send({"userId": "bob", "message": "hi", "persist": False})
        assert reply(clients_push)["type"] == "ack"
    send({"userId": "bob", "message": "hi", "persist": False})
    frame = reply(clients_push)
    assert frame["type"] == "error" and frame["error"]["code"] == "RATE_LIMITED"
    assert len(clients_push.frames["b1"]) == 3  # the fourth was not delivered


def test_rate_limit_is_per_user_and_per_window(aws: Any, env: pytest.MonkeyPatch) -> None:
    env.setenv("CLIENT_PUSH_RATE_LIMIT", "2")
    cfg = config.load()
    client_push.count(cfg, "alice", now_s=1_000_020)
    client_push.count(cfg, "alice", now_s=1_000_030)
    with pytest.raises(Exception) as info:
        client_push.count(cfg, "alice", now_s=1_000_059)
    assert getattr(info.value, "code", None) == "RATE_LIMITED"
    assert "retry in 21 s" in str(info.value)
    client_push.count(cfg, "bob", now_s=1_000_059)  # another user has their own budget
    client_push.count(cfg, "alice", now_s=1_000_080)  # a new window
    item = aws.get_item(TableName=RATE_LIMITS, Key={"bucket": {"S": "push#alice#1000020"}})["Item"]
    assert item["hits"] == {"N": "2"} and int(item["expiresAt"]["N"]) == 1_000_020 + 60 + 60


def test_backends_are_not_rate_limited(clients_push: Transport, env: pytest.MonkeyPatch) -> None:
    env.setenv("CLIENT_PUSH_RATE_LIMIT", "1")
    env.setenv("CONNECTIONS_ENDPOINT", "https://x.execute-api.us-east-1.amazonaws.com/prod")
    for _ in range(3):
        assert push.handler({"userId": "bob", "message": 1}, None)["ok"]


# --- caps ---------------------------------------------------------------------------------------


def test_client_recipient_cap(clients_push: Transport) -> None:
    send({"userIds": [f"u{n}" for n in range(11)], "message": 1})
    frame = reply(clients_push)
    assert frame["error"]["code"] == "INVALID_REQUEST" and "1..10" in frame["error"]["message"]
    send({"userIds": [f"u{n}" for n in range(10)], "message": 1})
    assert reply(clients_push)["type"] == "ack"


def test_client_history_ttl_cap(clients_push: Transport, aws: Any) -> None:
    send({"userId": "bob", "message": 1, "ttlSeconds": 86_401})
    frame = reply(clients_push)
    assert frame["error"]["code"] == "INVALID_REQUEST" and "1..86400" in frame["error"]["message"]
    before = int(time.time())
    send({"userId": "bob", "message": 1})  # default 7 days, capped to 1 day for clients
    assert reply(clients_push)["type"] == "ack"
    row = aws.query(
        TableName="ws-notifications",
        KeyConditionExpression="userId = :u",
        ExpressionAttributeValues={":u": {"S": "bob"}},
    )["Items"][0]
    assert before + 86_400 <= int(row["expiresAt"]["N"]) <= int(time.time()) + 86_400


# --- policy: claim ------------------------------------------------------------------------------


def test_claim_policy(clients_push: Transport, env: pytest.MonkeyPatch) -> None:
    env.setenv("CLIENT_PUSH_POLICY", "claim")
    allowed = {client_push.CONTEXT_KEY: '["bob"]'}
    send({"userId": "bob", "message": 1}, allowed)
    assert reply(clients_push)["type"] == "ack"
    send({"userIds": ["bob", "carol"], "message": 1}, allowed)
    frame = reply(clients_push)
    assert frame["error"]["code"] == "FORBIDDEN" and "carol" in frame["error"]["message"]
    assert "c1" not in clients_push.frames
    send({"userId": "bob", "message": 1})  # no claim at all: nobody
    assert reply(clients_push)["error"]["code"] == "FORBIDDEN"
    send({"userId": "bob", "message": 1}, {client_push.CONTEXT_KEY: "{not json"})
    assert reply(clients_push)["error"]["code"] == "FORBIDDEN"


def test_authorizer_passes_the_claim_through_its_context(aws: Any, env: pytest.MonkeyPatch) -> None:
    env.setenv("CLIENT_PUSH_CLAIM", "may_message")

    def context(claims: dict[str, Any]) -> dict[str, Any]:
        token = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60, **claims}, SECRET)
        out = authorizer.handler(authorizer_event(query={"token": token}), None)
        assert len(json.dumps(out)) <= 8192  # API Gateway's limit for the whole response
        return out["context"]  # type: ignore[no-any-return]

    assert context({"may_message": ["carol", "bob", "bob"]})["pushRecipients"] == '["bob","carol"]'
    assert context({"may_message": "bob carol"})["pushRecipients"] == '["bob","carol"]'
    assert "pushRecipients" not in context({})
    assert "pushRecipients" not in context({"may_message": [1, 2]})
    assert "pushRecipients" not in context({"may_message": [f"user-{n:05}" for n in range(900)]})


# --- policy: lambda -----------------------------------------------------------------------


class PolicyFunction:
    def __init__(self, answer: Any, error: bool = False) -> None:
        self.answer = answer
        self.error = error
        self.requests: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append({**kwargs, "Payload": json.loads(kwargs["Payload"])})
        out: dict[str, Any] = {"Payload": io.BytesIO(json.dumps(self.answer).encode())}
        if self.error:
            out["FunctionError"] = "Unhandled"
        return out


@pytest.fixture
def policy_lambda(clients_push: Transport, env: pytest.MonkeyPatch) -> Any:
    env.setenv("CLIENT_PUSH_POLICY", "lambda")
    env.setenv("CLIENT_PUSH_POLICY_FUNCTION", "arn:aws:lambda:us-east-1:123456789012:function:p")

    def install(function: PolicyFunction) -> PolicyFunction:
        env.setattr(clients, "lambda_", lambda: function)
        return function

    return install


def test_lambda_policy_allows(policy_lambda: Any, clients_push: Transport) -> None:
    function = policy_lambda(PolicyFunction({"allow": True}))
    send({"userIds": ["bob", "carol"], "message": {"k": "v"}})
    assert reply(clients_push)["type"] == "ack"
    (request,) = function.requests
    assert request["FunctionName"].endswith(":function:p")
    assert request["Payload"] == {
        "sender": "alice",
        "recipients": ["bob", "carol"],
        "messageBytes": len(b'{"k":"v"}'),
    }


@pytest.mark.parametrize(
    ("function", "code"),
    [
        (PolicyFunction({"allow": False}), "FORBIDDEN"),
        (PolicyFunction({"allow": "yes"}), "INTERNAL_ERROR"),
        (PolicyFunction(None), "INTERNAL_ERROR"),
        (PolicyFunction({"errorMessage": "boom"}, error=True), "INTERNAL_ERROR"),
    ],
)
def test_lambda_policy_denies_or_fails_closed(
    policy_lambda: Any, clients_push: Transport, function: PolicyFunction, code: str
) -> None:
    policy_lambda(function)
    send({"userId": "bob", "message": 1})
    assert reply(clients_push)["error"]["code"] == code
    assert "b1" not in clients_push.frames


def test_lambda_client_is_cached(aws: Any) -> None:
    assert clients.lambda_() is clients.lambda_()


def test_unknown_policy_is_a_config_error(aws: Any, env: pytest.MonkeyPatch) -> None:
    env.setenv("CLIENT_PUSH_POLICY", "friends")
    with pytest.raises(Exception, match="CLIENT_PUSH_POLICY"):
        config.load()

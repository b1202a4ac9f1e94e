"""Fixtures: moto-backed tables, SSM and @connections, API Gateway-shaped events, and a transport
wrapper that records frames and injects faults at the client boundary."""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "functions"))

# Before any boto3 client exists: no real credentials or endpoints can ever be used.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
)
for _var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "CONNECTIONS_ENDPOINT"):
    os.environ.pop(_var, None)

from moto import mock_aws  # noqa: E402
from wsnotify import auth, clients, delivery  # noqa: E402

CONNECTIONS = "ws-connections"
NOTIFICATIONS = "ws-notifications"
RATE_LIMITS = "ws-rate-limits"
SECRET_PARAM = "/ws/jwt-secret"
SECRET = "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-0123456789"
API_ID = "abc123"
DOMAIN = f"{API_ID}.execute-api.us-east-1.amazonaws.com"
STAGE = "prod"
METHOD_ARN = f"arn:aws:execute-api:us-east-1:123456789012:{API_ID}/{STAGE}/$connect"


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": "injected"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "PostToConnection",
    )


class Transport:
    """Wraps the real (moto-backed) sender: records every frame, raises injected faults first."""

    def __init__(self) -> None:
        self.frames: dict[str, list[Any]] = defaultdict(list)
        self.faults: dict[str, list[BaseException]] = {}
        self.always: dict[str, BaseException] = {}
        self.calls = 0
        self.endpoints: list[str] = []

    def factory(self, endpoint: str, pool_size: int) -> delivery.Sender:
        self.endpoints.append(endpoint)
        real = delivery.BotoSender(endpoint, pool_size)
        outer = self

        class _Sender:
            def post(self, connection_id: str, data: bytes) -> None:
                outer.calls += 1
                if connection_id in outer.always:
                    raise outer.always[connection_id]
                queued = outer.faults.get(connection_id)
                if queued:
                    raise queued.pop(0)
                real.post(connection_id, data)
                outer.frames[connection_id].append(json.loads(data))

        return _Sender()

    def last(self, connection_id: str) -> Any:
        return self.frames[connection_id][-1]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith(
            ("JWT_", "ALLOW_", "PERSIST_", "HISTORY_", "SEND_", "BROADCAST_", "CLIENT_")
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CONNECTIONS_TABLE", CONNECTIONS)
    monkeypatch.setenv("NOTIFICATIONS_TABLE", NOTIFICATIONS)
    monkeypatch.setenv("RATE_LIMIT_TABLE", RATE_LIMITS)
    monkeypatch.setenv("AUTH_MODE", "hs256")
    monkeypatch.setenv("JWT_SECRET_PARAMETER", SECRET_PARAM)
    monkeypatch.delenv("CONNECTIONS_ENDPOINT", raising=False)
    monkeypatch.delenv("JWKS_URL", raising=False)
    return monkeypatch


@pytest.fixture
def aws(env: pytest.MonkeyPatch) -> Iterator[Any]:
    # moto intercepts botocore clients only, not the lean HTTP transport: under mock_aws the
    # fan-out goes through the boto3 client (test_transport.py checks the two are equivalent).
    env.setattr(delivery, "sender_factory", delivery.BotoSender)
    with mock_aws():
        clients.reset()
        auth.cache.clear()
        auth.jwks_keys.clear()
        ddb = clients.dynamodb()
        ddb.create_table(
            TableName=CONNECTIONS,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "connectionId", "AttributeType": "S"},
                {"AttributeName": "userId", "AttributeType": "S"},
                {"AttributeName": "sweepShard", "AttributeType": "S"},
                {"AttributeName": "tokenExpiresAt", "AttributeType": "N"},
            ],
            KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
            # As modules/tables creates them.
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "userId-index",
                    "KeySchema": [{"AttributeName": "userId", "KeyType": "HASH"}],
                    "Projection": {
                        "ProjectionType": "INCLUDE",
                        "NonKeyAttributes": ["tokenExpiresAt"],
                    },
                },
                {
                    "IndexName": "tokenExpiresAt-index",
                    "KeySchema": [
                        {"AttributeName": "sweepShard", "KeyType": "HASH"},
                        {"AttributeName": "tokenExpiresAt", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                },
            ],
        )
        ddb.create_table(
            TableName=NOTIFICATIONS,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "userId", "AttributeType": "S"},
                {"AttributeName": "notificationId", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "userId", "KeyType": "HASH"},
                {"AttributeName": "notificationId", "KeyType": "RANGE"},
            ],
        )
        ddb.create_table(
            TableName=RATE_LIMITS,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "bucket", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "bucket", "KeyType": "HASH"}],
        )
        clients.ssm().put_parameter(Name=SECRET_PARAM, Value=SECRET, Type="SecureString")
        yield ddb
        clients.reset()
        auth.cache.clear()
        auth.jwks_keys.clear()


@pytest.fixture
def transport(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Transport:
    t = Transport()
    monkeypatch.setattr(delivery, "sender_factory", t.factory)
    sleeps: list[float] = []
    monkeypatch.setattr(delivery, "sleep", sleeps.append)
    t.sleeps = sleeps  # type: ignore[attr-defined]
    return t


def _request_context(
    route: str, event_type: str, connection_id: str, **extra: Any
) -> dict[str, Any]:
    rc: dict[str, Any] = {
        "routeKey": route,
        "eventType": event_type,
        "extendedRequestId": f"ext-{connection_id}",
        "requestTime": "11/Nov/2024:13:45:46 +0000",
        "messageDirection": "IN",
        "stage": STAGE,
        "connectedAt": 1731332735513,
        "requestTimeEpoch": 1731332746514,
        "identity": {"userAgent": "pytest", "sourceIp": "203.0.113.7"},
        "requestId": f"req-{route}-{connection_id}",
        "domainName": DOMAIN,
        "connectionId": connection_id,
        "apiId": API_ID,
    }
    rc.update(extra)
    return rc


def _headers(extra: dict[str, str] | None = None) -> dict[str, Any]:
    headers = {
        "Host": DOMAIN,
        "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    headers.update(extra or {})
    return headers


def connect_event(
    connection_id: str,
    user: str | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if user is not None:
        extra["authorizer"] = {"principalId": user, "userId": user, "integrationLatency": 12}
    h = _headers(headers)
    event: dict[str, Any] = {
        "headers": h,
        "multiValueHeaders": {k: [v] for k, v in h.items()},
        "requestContext": _request_context("$connect", "CONNECT", connection_id, **extra),
        "isBase64Encoded": False,
    }
    if query is not None:  # API Gateway omits both keys when the URL has no query string
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
    return event


def message_event(
    route: str, connection_id: str, body: Any, user: str | None = "alice", raw: bool = False
) -> dict[str, Any]:
    extra: dict[str, Any] = {"messageId": f"msg-{connection_id}"}
    if user is not None:
        extra["authorizer"] = {"principalId": user, "userId": user}
    return {
        "requestContext": _request_context(route, "MESSAGE", connection_id, **extra),
        "body": body if raw else json.dumps(body),
        "isBase64Encoded": False,
    }


def disconnect_event(
    connection_id: str, status: int = 1001, user: str | None = "alice"
) -> dict[str, Any]:
    extra: dict[str, Any] = {"disconnectStatusCode": status, "disconnectReason": "Going away"}
    if user is not None:
        extra["authorizer"] = {"principalId": user, "userId": user}
    h = {"Host": DOMAIN, "x-api-key": "", "x-restapi": ""}
    return {
        "headers": h,
        "multiValueHeaders": {k: [v] for k, v in h.items()},
        "requestContext": _request_context("$disconnect", "DISCONNECT", connection_id, **extra),
        "isBase64Encoded": False,
    }


def authorizer_event(
    query: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    h = _headers(headers)
    return {
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "headers": h,
        "multiValueHeaders": {k: [v] for k, v in h.items()},
        "queryStringParameters": query or {},
        "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()},
        "stageVariables": {},
        "requestContext": _request_context("$connect", "CONNECT", "authz-conn"),
    }


def http_event(
    body: str | None,
    base64: bool = False,
    *,
    route_key: str = "POST /v1/notifications",
    path: str = "/v1/notifications",
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    authorizer: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An HTTP API payload format 2.0 event (the optional keys absent when empty, as in AWS)."""
    method = route_key.split(" ")[0]
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {
            "content-type": "application/json",
            "host": "h.execute-api.us-east-1.amazonaws.com",
            **(headers or {}),
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "h",
            "domainName": "h.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "h",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.1",
                "userAgent": "backend",
            },
            "requestId": "http-req-1",
            "routeKey": route_key,
            "stage": "$default",
            "time": "11/Nov/2024:13:45:46 +0000",
            "timeEpoch": 1731332746514,
        },
        "isBase64Encoded": base64,
    }
    if body is not None:
        event["body"] = body
    if path_parameters:
        event["pathParameters"] = path_parameters
    if query:
        event["queryStringParameters"] = query
    if authorizer:
        event["requestContext"]["authorizer"] = authorizer
    return event


class LambdaContext:
    aws_request_id = "lambda-req-1"
    function_name = "push"


from mobile_fixtures import mobile_aws  # noqa: E402, F401 (fixture of the mobile push tests)

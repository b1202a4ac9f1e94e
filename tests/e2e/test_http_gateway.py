"""The local HTTP API data plane against a purpose-built HTTP API (tests/e2e/sample_api.py):
payload format 2.0 events validated by AWS Powertools' model, the native JWT authorizer, a Lambda
authorizer answering IAM policies, bare JSON answers, function errors and timeouts, CORS with a
wildcard origin, and the 10 MB body limit."""

from __future__ import annotations

import json
from typing import Any

import pytest
import urllib3
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model
from conftest import Sample

_POOL = urllib3.PoolManager(retries=False, timeout=30)


def request(sample: Sample, method: str, path: str, **kwargs: Any) -> urllib3.BaseHTTPResponse:
    return _POOL.request(method, sample.http_url + path, **kwargs)


def echoed(response: urllib3.BaseHTTPResponse) -> dict[str, Any]:
    assert response.status == 200, response.data
    return json.loads(response.data)["event"]  # type: ignore[no-any-return]


def test_payload_v2_event_field_for_field(sample: Sample) -> None:
    response = request(
        sample,
        "POST",
        "/echo/item-7?a=1&a=2&b=x%20y",
        body=b'{"hello": "world"}',
        headers={"Content-Type": "application/json", "Cookie": "c1=v1; c2=v2", "X-Multi": "one"},
    )
    event = echoed(response)
    model = APIGatewayProxyEventV2Model(**event)  # raises on any missing or mistyped field
    assert model.version == "2.0" and model.routeKey == "POST /echo/{id}"
    assert event["rawPath"] == "/echo/item-7" and event["rawQueryString"] == "a=1&a=2&b=x%20y"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y"}
    assert event["pathParameters"] == {"id": "item-7"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["body"] == '{"hello": "world"}' and event["isBase64Encoded"] is False
    headers = event["headers"]
    assert all(key == key.lower() for key in headers)
    assert headers["x-multi"] == "one" and headers["x-forwarded-proto"] == "https"
    assert headers["host"] == f"{sample.api.http_api_id}.execute-api.eu-central-1.amazonaws.com"
    rc = event["requestContext"]
    assert rc["apiId"] == sample.api.http_api_id and rc["stage"] == "$default"
    assert rc["http"]["method"] == "POST" and rc["http"]["path"] == "/echo/item-7"
    assert rc["requestId"] == response.headers["apigw-requestid"]
    assert "authorizer" not in rc and "stageVariables" not in event


def test_binary_body_is_base64(sample: Sample) -> None:
    event = echoed(
        request(
            sample,
            "POST",
            "/echo/b",
            body=b"\x00\x01binary",
            headers={"Content-Type": "application/octet-stream"},
        )
    )
    APIGatewayProxyEventV2Model(**event)
    assert event["isBase64Encoded"] is True and event["body"] == "AAFiaW5hcnk="
    assert "queryStringParameters" not in event and "cookies" not in event


def test_jwt_authorizer(sample: Sample) -> None:
    good = request(
        sample, "GET", "/jwt", headers={"Authorization": f"Bearer {sample.issuer.token('ann')}"}
    )
    event = echoed(good)
    APIGatewayProxyEventV2Model(**event)
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    assert claims["sub"] == "ann" and claims["aud"] == "sample-app"
    assert isinstance(claims["exp"], str)  # API Gateway passes claim values as strings
    refused = {
        "no token": {},
        "not a jwt": {"Authorization": "Bearer nope"},
        "stranger's key": {"Authorization": f"Bearer {sample.issuer.token(stranger=True)}"},
        "expired": {"Authorization": f"Bearer {sample.issuer.token(ttl=-60)}"},
        "other audience": {"Authorization": f"Bearer {sample.issuer.token(aud='other')}"},
        "other issuer": {"Authorization": f"Bearer {sample.issuer.token(iss='https://x')}"},
    }
    for case, headers in refused.items():
        answer = request(sample, "GET", "/jwt", headers=headers)
        assert answer.status == 401, case
        assert json.loads(answer.data) == {"message": "Unauthorized"}, case


@pytest.mark.parametrize(
    ("value", "status"),
    [("allow-ann", 200), ("deny-ann", 403), ("nonsense", 401), ("boom", 500), (None, 401)],
)
def test_lambda_authorizer_with_iam_policies(
    sample: Sample, value: str | None, status: int
) -> None:
    headers = {"x-sample-auth": value} if value else {}
    answer = request(sample, "GET", "/custom", headers=headers)
    assert answer.status == status, answer.data
    if status == 200:
        event = json.loads(answer.data)["event"]
        APIGatewayProxyEventV2Model(**event)
        assert event["requestContext"]["authorizer"]["lambda"] == {"user": "ann"}


def test_integration_answers(sample: Sample) -> None:
    bare = request(sample, "GET", "/bare")
    assert bare.status == 200 and bare.headers["Content-Type"] == "application/json"
    assert json.loads(bare.data)["function"] == sample.api.functions["direct"]
    failed = request(sample, "GET", "/fail")
    assert failed.status == 500 and json.loads(failed.data) == {"message": "Internal Server Error"}
    slow = request(
        sample,
        "POST",
        "/slow",
        body=b'{"seconds": 0.9}',
        headers={"Content-Type": "application/json"},
    )
    assert slow.status == 503 and json.loads(slow.data) == {"message": "Service Unavailable"}
    assert request(sample, "GET", "/nowhere").status == 404
    assert request(sample, "DELETE", "/bare").status == 404  # the method is part of the route


def test_wildcard_cors(sample: Sample) -> None:
    preflight = request(
        sample,
        "OPTIONS",
        "/echo/x",
        headers={
            "Origin": "https://anywhere.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-custom",
        },
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert preflight.headers["Access-Control-Max-Age"] == "60"
    answer = request(sample, "GET", "/bare", headers={"Origin": "https://anywhere.example"})
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_body_over_10_mb_is_413(sample: Sample) -> None:
    answer = request(sample, "POST", "/echo/big", body=b"x" * (10 * 1024 * 1024 + 1))
    assert answer.status == 413

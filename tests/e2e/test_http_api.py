"""The management HTTP API end to end: `python -m local up` serves the HTTP API that Terraform
created (examples/complete), real HTTP clients call every route - botocore-signed for backends,
JWTs for /v1/me - and every request and answer is validated against docs/openapi.yaml."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from typing import Any

import jwt
import pytest
import websockets
from conftest import run
from http_client import Answer, call
from test_system import connect, recv

from local import tokens


def api(stack: dict[str, Any], method: str, path: str, **kwargs: Any) -> Answer:
    return call(stack["http_api_url"], method, path, region=stack["region"], **kwargs)


def me(stack: dict[str, Any], token: str | None, **kwargs: Any) -> Answer:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return api(stack, "GET", "/v1/me/notifications", sign=None, headers=headers, **kwargs)


def error_code(answer: Answer) -> str:
    document = answer.json()
    assert document["ok"] is False
    return str(document["error"]["code"])


def test_stack_json_names_the_http_api(stack: dict[str, Any]) -> None:
    assert stack["http_api_url"].startswith("http://127.0.0.1:")
    (described,) = stack["http_apis"].values()
    assert described["url"] == stack["http_api_url"]
    assert described["routes"] == [
        "DELETE /v1/me/devices/{token}",
        "DELETE /v1/me/subscriptions/{topic}",
        "DELETE /v1/notifications/{notificationId}",
        "DELETE /v1/schedules/{scheduleId}",
        "DELETE /v1/topics/{topic}/subscribers/{userId}",
        "DELETE /v1/users/{userId}",
        "DELETE /v1/users/{userId}/connections",
        "DELETE /v1/users/{userId}/devices/{token}",
        "GET /v1/me/devices",
        "GET /v1/me/notifications",
        "GET /v1/me/subscriptions",
        "GET /v1/me/subscriptions/{topic}",
        "GET /v1/notifications/{notificationId}",
        "GET /v1/schedules",
        "GET /v1/schedules/{scheduleId}",
        "GET /v1/topics/{topic}/subscribers",
        "GET /v1/users/{userId}",
        "GET /v1/users/{userId}/connections",
        "GET /v1/users/{userId}/devices",
        "PATCH /v1/schedules/{scheduleId}",
        "POST /v1/notifications",
        "PUT /v1/me/devices/{token}",
        "PUT /v1/me/subscriptions/{topic}",
        "PUT /v1/topics/{topic}/subscribers/{userId}",
        "PUT /v1/users/{userId}",
        "PUT /v1/users/{userId}/devices/{token}",
    ]


def test_publish_reaches_live_websocket_clients(stack: dict[str, Any]) -> None:
    async def body() -> None:
        phone = await connect(stack, "http-alice")
        answer = await asyncio.to_thread(
            api,
            stack,
            "POST",
            "/v1/notifications",
            body={"userId": "http-alice", "message": {"via": "http"}},
        )
        assert answer.status == 200, answer.raw
        result = answer.json()
        assert result["ok"] is True and result["delivered"] == 1 and result["persisted"] is True
        assert answer.headers["x-request-id"] == answer.headers["apigw-requestid"]
        frame = await recv(phone)
        assert frame["type"] == "notification" and frame["data"] == {"via": "http"}
        assert frame["id"] == result["notificationId"]
        await phone.close()

    run(body())


def test_presence_and_revocation(stack: dict[str, Any]) -> None:
    async def body() -> None:
        first = await connect(stack, "http-bob")
        second = await connect(stack, "http-bob")
        presence = await asyncio.to_thread(api, stack, "GET", "/v1/users/http-bob/connections")
        assert presence.status == 200
        document = presence.json()
        assert document["connections"] == 2 and "connectionIds" not in document
        assert document["connectedSince"] <= int(time.time() * 1000)
        revoked = await asyncio.to_thread(api, stack, "DELETE", "/v1/users/http-bob/connections")
        assert revoked.status == 200 and revoked.json() == {
            "ok": True,
            "userId": "http-bob",
            "closed": 2,
        }
        for ws in (first, second):
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
        after = await asyncio.to_thread(api, stack, "GET", "/v1/users/http-bob/connections")
        assert after.json()["connections"] == 0 and after.json()["connectedSince"] is None

    run(body())


def test_my_notifications_with_a_jwt(stack: dict[str, Any]) -> None:
    for n in range(3):
        published = api(
            stack, "POST", "/v1/notifications", body={"userId": "http-carol", "message": n}
        )
        assert published.status == 200
    token = tokens.mint(stack, "http-carol")
    page = me(stack, token, query={"limit": "2"})
    assert page.status == 200
    first = page.json()
    assert [n["data"] for n in first["notifications"]] == [0, 1] and first["next"]
    rest = me(stack, token, query={"after": first["next"]}).json()
    assert [n["data"] for n in rest["notifications"]] == [2] and rest["next"] is None
    # Scoped to the token's subject: another user's token sees none of carol's.
    other = me(stack, tokens.mint(stack, "http-dave")).json()
    assert other["notifications"] == []


@pytest.mark.parametrize("kind", ["none", "garbage", "foreign", "expired"])
def test_refused_tokens_are_401(stack: dict[str, Any], kind: str) -> None:
    now = int(time.time())
    token = {
        "none": None,
        "garbage": "not-a-jwt",
        "foreign": jwt.encode({"sub": "x", "exp": now + 300}, "f" * 48, algorithm="HS256"),
        "expired": tokens.mint(stack, "http-carol", ttl_seconds=-600),
    }[kind]
    answer = me(stack, token)
    assert answer.status == 401 and answer.json() == {"message": "Unauthorized"}


@pytest.mark.parametrize(
    ("sign", "tamper", "message"),
    [
        (None, False, "Forbidden"),
        (("testing", "wrong-secret"), False, "signature we calculated does not match"),
        (("testing", "testing"), True, "signature we calculated does not match"),
        (("AKIAUNKNOWN", "testing"), False, "security token included in the request is invalid"),
    ],
)
def test_iam_routes_refuse_unsigned_and_badly_signed_requests(
    stack: dict[str, Any], sign: Any, tamper: bool, message: str
) -> None:
    for method, path in (
        ("POST", "/v1/notifications"),
        ("GET", "/v1/users/x/connections"),
        ("DELETE", "/v1/users/x/connections"),
    ):
        body = {"userId": "x", "message": 1} if method == "POST" else None
        answer = api(stack, method, path, body=body, sign=sign, tamper=tamper)
        assert answer.status == 403, (method, path, answer.raw)
        assert message in answer.json()["message"]


def test_documented_handler_errors(stack: dict[str, Any]) -> None:
    bad_body = api(stack, "POST", "/v1/notifications", body={"userId": "x"})
    assert bad_body.status == 400 and error_code(bad_body) == "INVALID_REQUEST"
    not_json = api(stack, "POST", "/v1/notifications", body=b"{oops")
    assert not_json.status == 400 and error_code(not_json) == "INVALID_REQUEST"
    too_big = api(
        stack, "POST", "/v1/notifications", body={"userId": "x", "message": "x" * 140_000}
    )
    assert too_big.status == 413 and error_code(too_big) == "PAYLOAD_TOO_LARGE"
    not_admin = api(stack, "GET", "/v1/users/x/connections", query={"include": "connectionIds"})
    assert not_admin.status == 403 and error_code(not_admin) == "FORBIDDEN"
    bad_include = api(stack, "GET", "/v1/users/x/connections", query={"include": "all"})
    assert bad_include.status == 400 and error_code(bad_include) == "INVALID_REQUEST"
    bad_limit = me(stack, tokens.mint(stack, "x"), query={"limit": "1000"})
    assert bad_limit.status == 400 and error_code(bad_limit) == "INVALID_REQUEST"
    unknown = api(stack, "GET", "/v2/nothing", validate=False)
    assert unknown.status == 404 and unknown.json() == {"message": "Not Found"}


def test_revocation_is_throttled_per_route(stack: dict[str, Any]) -> None:
    """examples/complete limits DELETE to a burst of 5 at 1 request/s: a burst of 12 is cut."""
    time.sleep(5.5)  # other tests' revocations drained the bucket: let it refill
    statuses = [api(stack, "DELETE", "/v1/users/nobody/connections").status for _ in range(12)]
    assert statuses[:4] == [200] * 4 and statuses.count(429) >= 5, statuses
    # Other routes keep their own budget.
    assert api(stack, "GET", "/v1/users/nobody/connections").status == 200


def test_cors_preflight_and_answers(stack: dict[str, Any]) -> None:
    preflight = {
        "origin": "http://localhost:3000",
        "access-control-request-method": "GET",
        "access-control-request-headers": "authorization",
    }
    allowed = api(
        stack, "OPTIONS", "/v1/me/notifications", sign=None, headers=preflight, validate=False
    )
    assert allowed.status == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    # GET, and with mobile push or topics (both on in examples/complete locally) PUT and DELETE
    # of /v1/me/devices and /v1/me/subscriptions.
    methods = set(allowed.headers["Access-Control-Allow-Methods"].split(","))
    assert methods == {"GET", "PUT", "DELETE"}
    headers = set(allowed.headers["Access-Control-Allow-Headers"].split(","))
    assert headers == {"authorization", "content-type"}
    foreign = api(
        stack,
        "OPTIONS",
        "/v1/me/notifications",
        sign=None,
        headers={**preflight, "origin": "https://evil.example"},
        validate=False,
    )
    assert foreign.status == 204 and "Access-Control-Allow-Origin" not in foreign.headers
    # A browser cannot even ask for the IAM routes' methods.
    post = api(
        stack,
        "OPTIONS",
        "/v1/notifications",
        sign=None,
        headers={**preflight, "access-control-request-method": "POST"},
        validate=False,
    )
    assert "Access-Control-Allow-Origin" not in post.headers
    answer = api(
        stack,
        "GET",
        "/v1/me/notifications",
        sign=None,
        headers={
            "origin": "http://localhost:3000",
            "authorization": f"Bearer {tokens.mint(stack, 'x')}",
        },
    )
    assert answer.status == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert answer.headers["Access-Control-Expose-Headers"] == "x-request-id"


def test_curl_aws_sigv4_example_from_the_readme(stack: dict[str, Any]) -> None:
    """The README's curl command, verbatim but for the URL and credentials."""
    out = subprocess.run(  # noqa: S603
        [  # noqa: S607 - curl from PATH, as the README tells users to run it
            "curl",
            "-sS",
            "--fail-with-body",
            "--aws-sigv4",
            f"aws:amz:{stack['region']}:execute-api",
            "--user",
            "testing:testing",
            "-H",
            "content-type: application/json",
            "-d",
            json.dumps({"userId": "http-erin", "message": "from curl"}),
            f"{stack['http_api_url']}/v1/notifications",
        ],
        capture_output=True,
        check=False,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr.decode() + out.stdout.decode()
    assert json.loads(out.stdout)["ok"] is True

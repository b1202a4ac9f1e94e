"""Mobile push end to end (issue 11): `python -m local up` applies examples/complete with
platform applications that have fake credentials; devices register through the HTTP API (JWT
and SigV4, validated against docs/openapi.yaml) and the devices function; real WebSocket clients
hold the live connections; the local SNS view (`sns_deliveries_url`, local/sns_mobile.py) shows
what each phone received."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from conftest import run
from http_client import Answer, call
from test_system import _backend, apush, connect, recv

from local import sns_mobile, tokens
from local.controlplane import aws_client


def token_of(name: str) -> str:
    """A device token unique to this test run (APNs: 64 hex characters)."""
    return uuid.uuid4().hex + uuid.uuid4().hex if name == "apns" else f"fcm-{uuid.uuid4()}"


def me_devices(
    stack: dict[str, Any], user: str, method: str, token: str | None = None, body: Any = None
) -> Answer:
    path = "/v1/me/devices" + (f"/{token}" if token else "")
    headers = {"authorization": f"Bearer {tokens.mint(stack, user)}"}
    return call(
        stack["http_api_url"], method, path, region=stack["region"], sign=None,
        headers=headers, body=body,
    )  # fmt: skip


def register(stack: dict[str, Any], user: str, token: str, platform: str) -> str:
    """Registers through the user's own JWT route; returns the device's endpoint ARN."""
    answer = me_devices(stack, user, "PUT", token, {"platform": platform, "app": "e2e"})
    assert answer.status == 200, answer.raw
    return endpoint_arn(stack, token)


def endpoint_arn(stack: dict[str, Any], token: str) -> str:
    ddb = aws_client("dynamodb", stack["aws_endpoint"], stack["region"])
    table = stack["terraform_outputs"]["devices_table_name"]
    item = ddb.get_item(TableName=table, Key={"token": {"S": token}})["Item"]
    return str(item["endpointArn"]["S"])


def received(stack: dict[str, Any], arn: str) -> list[dict[str, Any]]:
    view = sns_mobile.deliveries(stack["aws_endpoint"], arn)
    return list(view[arn]["deliveries"]) if arn in view else []


def mobile_push(users: list[str], mode: str, title: str) -> dict[str, Any]:
    return {"userIds": users, "message": {"t": title}, "mobile": {"title": title, "mode": mode}}


def test_stack_json_names_the_sns_view(stack: dict[str, Any]) -> None:
    assert stack["sns_deliveries_url"] == stack["aws_endpoint"] + sns_mobile.PATH
    assert set(stack["platform_applications"]) == {"APNS", "APNS_SANDBOX", "GCM"}
    assert "PUT /v1/me/devices/{token}" in next(iter(stack["http_apis"].values()))["routes"]


def test_always_fallback_never_with_two_phones_and_a_socket(stack: dict[str, Any]) -> None:
    alice, bob = f"m-alice-{uuid.uuid4().hex[:6]}", f"m-bob-{uuid.uuid4().hex[:6]}"
    alice_phone = register(stack, alice, token_of("apns"), "APNS")
    bob_ios, bob_android = (
        register(stack, bob, token_of("apns"), "APNS_SANDBOX"),
        register(stack, bob, token_of("fcm"), "GCM"),
    )

    async def body() -> None:
        socket = await connect(stack, alice)  # alice is online, bob is not
        try:
            fallback = await apush(stack, mobile_push([alice, bob], "fallback", "fb"))
            assert (await recv(socket))["data"] == {"t": "fb"}
            assert fallback["delivered"] == 1
            assert fallback["mobile"] == {"targeted": 2, "sent": 2, "disabled": 0, "failed": 0}
            assert received(stack, alice_phone) == []
            ios, android = received(stack, bob_ios), received(stack, bob_android)
            assert ios[0]["payload"]["aps"]["alert"] == {"title": "fb"}
            assert ios[0]["payload"]["notificationId"] == fallback["notificationId"]
            message = android[0]["payload"]["fcmV1Message"]["message"]
            assert message["notification"] == {"title": "fb"}

            always = await apush(stack, mobile_push([alice, bob], "always", "al"))
            await recv(socket)
            assert always["mobile"]["sent"] == 3
            assert len(received(stack, alice_phone)) == 1

            never = await apush(stack, mobile_push([alice, bob], "never", "nv"))
            await recv(socket)
            assert never["mobile"] == {"targeted": 0, "sent": 0, "disabled": 0, "failed": 0}
            assert len(received(stack, bob_ios)) == 2  # fallback and always only
        finally:
            await socket.close()

    run(body())


def test_unregister_and_a_foreign_token(stack: dict[str, Any]) -> None:
    owner, mallory = f"m-owner-{uuid.uuid4().hex[:6]}", f"m-mallory-{uuid.uuid4().hex[:6]}"
    token = token_of("fcm")
    arn = register(stack, owner, token, "GCM")
    listed = me_devices(stack, owner, "GET").json()
    assert [d["token"] for d in listed["devices"]] == [token]

    foreign = me_devices(stack, mallory, "DELETE", token)
    assert foreign.status == 200 and foreign.json()["removed"] is False
    assert received(stack, arn) == []  # the endpoint is still there
    assert arn in sns_mobile.deliveries(stack["aws_endpoint"], arn)

    gone = me_devices(stack, owner, "DELETE", token)
    assert gone.json()["removed"] is True
    assert arn not in sns_mobile.deliveries(stack["aws_endpoint"], arn)
    result = asyncio.run(apush(stack, mobile_push([owner], "always", "x")))
    assert result["mobile"]["targeted"] == 0


def test_backend_routes_and_direct_invoke(stack: dict[str, Any]) -> None:
    user, token = f"m-backend-{uuid.uuid4().hex[:6]}", token_of("apns")
    path = f"/v1/users/{user}/devices/{token}"
    put = call(
        stack["http_api_url"], "PUT", path, region=stack["region"],
        body={"platform": "APNS", "app": "e2e", "locale": "de-DE"},
    )  # fmt: skip
    assert put.status == 200 and put.json()["device"]["locale"] == "de-DE"
    listed = call(stack["http_api_url"], "GET", f"/v1/users/{user}/devices", region=stack["region"])
    assert [d["token"] for d in listed.json()["devices"]] == [token]
    bad = call(
        stack["http_api_url"],
        "PUT",
        path,
        region=stack["region"],
        body={"platform": "WNS", "app": "e"},
    )
    assert bad.status == 400 and bad.json()["error"]["code"] == "INVALID_REQUEST"

    out = _backend(stack).invoke(
        FunctionName=stack["terraform_outputs"]["devices_function_name"],
        Payload=json.dumps({"devices": {"action": "unregister", "userId": user, "token": token}}),
    )
    assert json.load(out["Payload"]) == {"ok": True, "userId": user, "removed": True}


def test_a_too_large_mobile_payload_sends_nothing(stack: dict[str, Any]) -> None:
    user = f"m-big-{uuid.uuid4().hex[:6]}"
    arn = register(stack, user, token_of("fcm"), "GCM")
    big = {"userId": user, "message": 1, "mobile": {"body": "x" * 4090, "mode": "always"}}
    result = asyncio.run(apush(stack, big))
    assert result["ok"] is False and result["error"]["code"] == "INVALID_REQUEST"
    assert "the limit is 4096" in result["error"]["message"]
    assert received(stack, arn) == []

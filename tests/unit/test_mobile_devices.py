"""The device registry against moto's SNS and DynamoDB: idempotent registration, re-enabling,
token moves, unregistering, the HTTP routes and the direct invoke (issue 11)."""

from __future__ import annotations

import json
from typing import Any

import devices as devices_fn
import pytest
from conftest import LambdaContext, http_event
from mobile_fixtures import device_row
from wsnotify import clients, config, devices

APNS_TOKEN = "a" * 64
FCM_TOKEN = "fcm-token:APA91b" + "x" * 140


def register(user: str, token: str, platform: str = "GCM", **extra: Any) -> dict[str, Any]:
    request = {"action": "register", "userId": user, "token": token, "platform": platform}
    request.setdefault("app", "demo")
    return devices_fn.handler({"devices": {**request, "app": "demo", **extra}}, LambdaContext())


def invoke(**request: Any) -> dict[str, Any]:
    return devices_fn.handler({"devices": request}, LambdaContext())


def endpoint_of(ddb: Any, token: str) -> str:
    row = device_row(ddb, token)
    assert row is not None
    return str(row["endpointArn"]["S"])


def test_registration_is_idempotent(aws: Any, mobile_aws: dict[str, str]) -> None:
    first = register("alice", FCM_TOKEN, locale="fr-FR", timezone="Europe/Paris")
    assert first["ok"] is True and first["created"] is True and first["moved"] is False
    assert first["device"]["platform"] == "GCM" and first["device"]["locale"] == "fr-FR"
    arn = endpoint_of(aws, FCM_TOKEN)
    assert arn.startswith("arn:aws:sns:us-east-1:123456789012:endpoint/GCM/")
    second = register("alice", FCM_TOKEN, locale="fr-FR", timezone="Europe/Paris")
    assert second["created"] is False
    assert second["device"]["createdAt"] == first["device"]["createdAt"]
    assert endpoint_of(aws, FCM_TOKEN) == arn
    endpoints = clients.sns().list_endpoints_by_platform_application(
        PlatformApplicationArn=mobile_aws["GCM"]
    )["Endpoints"]
    assert [e["EndpointArn"] for e in endpoints] == [arn]
    listed = invoke(action="list", userId="alice")
    assert [d["token"] for d in listed["devices"]] == [FCM_TOKEN]


def test_registration_reenables_a_disabled_endpoint(aws: Any, mobile_aws: dict[str, str]) -> None:
    register("alice", APNS_TOKEN, "APNS")
    arn = endpoint_of(aws, APNS_TOKEN)
    clients.sns().set_endpoint_attributes(EndpointArn=arn, Attributes={"Enabled": "false"})
    register("alice", APNS_TOKEN, "APNS")
    attributes = clients.sns().get_endpoint_attributes(EndpointArn=arn)["Attributes"]
    assert attributes["Enabled"] == "true"
    assert endpoint_of(aws, APNS_TOKEN) == arn


def test_registration_recreates_an_endpoint_deleted_behind_its_back(
    aws: Any, mobile_aws: dict[str, str]
) -> None:
    register("alice", APNS_TOKEN, "APNS")
    arn = endpoint_of(aws, APNS_TOKEN)
    clients.sns().delete_endpoint(EndpointArn=arn)
    register("alice", APNS_TOKEN, "APNS")
    fresh = endpoint_of(aws, APNS_TOKEN)
    assert clients.sns().get_endpoint_attributes(EndpointArn=fresh)["Attributes"]["Enabled"]


def test_registration_updates_a_changed_token(aws: Any, mobile_aws: dict[str, str]) -> None:
    register("alice", FCM_TOKEN)
    arn = endpoint_of(aws, FCM_TOKEN)
    # SNS's endpoint holds another token (e.g. FCM rotated it and the app told SNS directly).
    clients.sns().set_endpoint_attributes(EndpointArn=arn, Attributes={"Token": "rotated"})
    register("alice", FCM_TOKEN)
    assert clients.sns().get_endpoint_attributes(EndpointArn=arn)["Attributes"]["Token"] == (
        FCM_TOKEN
    )


def test_a_token_moves_to_the_user_who_registers_it(aws: Any, mobile_aws: dict[str, str]) -> None:
    register("alice", FCM_TOKEN)
    moved = register("bob", FCM_TOKEN)
    assert moved["moved"] is True and moved["created"] is True
    assert invoke(action="list", userId="alice")["devices"] == []
    assert [d["token"] for d in invoke(action="list", userId="bob")["devices"]] == [FCM_TOKEN]
    # alice can no longer unregister bob's phone.
    assert invoke(action="unregister", userId="alice", token=FCM_TOKEN)["removed"] is False
    assert device_row(aws, FCM_TOKEN) is not None


def test_unregister_deletes_the_endpoint_and_the_row(aws: Any, mobile_aws: dict[str, str]) -> None:
    register("alice", FCM_TOKEN)
    arn = endpoint_of(aws, FCM_TOKEN)
    assert invoke(action="unregister", userId="alice", token=FCM_TOKEN) == {
        "ok": True,
        "userId": "alice",
        "removed": True,
    }
    assert device_row(aws, FCM_TOKEN) is None
    endpoints = clients.sns().list_endpoints_by_platform_application(
        PlatformApplicationArn=mobile_aws["GCM"]
    )["Endpoints"]
    assert arn not in [e["EndpointArn"] for e in endpoints]
    assert invoke(action="unregister", userId="alice", token=FCM_TOKEN)["removed"] is False


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"platform": "WNS"}, "platform must be one of APNS, APNS_SANDBOX, GCM"),
        ({"token": "t" * 1025}, "token must be at most 1024 characters"),
        ({"token": "has space"}, "token must be printable ASCII without spaces"),
        ({"app": ""}, "app must be 1..64 characters"),
        ({"locale": 5}, "locale must be 1..35 characters"),
        ({"colour": "red"}, "unknown field(s): colour"),
    ],
)
def test_bad_registrations_are_refused_and_nothing_is_created(
    aws: Any, mobile_aws: dict[str, str], request_: dict[str, Any], message: str
) -> None:
    request = {
        "action": "register",
        "userId": "alice",
        "token": FCM_TOKEN,
        "platform": "GCM",
        "app": "demo",
        **request_,
    }
    result = invoke(**request)
    assert result["ok"] is False and result["error"]["code"] == "INVALID_REQUEST"
    assert message in result["error"]["message"]
    assert aws.scan(TableName="ws-devices")["Items"] == []


def test_an_unconfigured_platform_is_refused(
    aws: Any, mobile_aws: dict[str, str], env: pytest.MonkeyPatch
) -> None:
    env.setenv("PLATFORM_APPLICATIONS", json.dumps({"GCM": mobile_aws["GCM"]}))
    result = register("alice", APNS_TOKEN, "APNS")
    assert result["error"] == {
        "code": "INVALID_REQUEST",
        "message": "platform APNS is not configured here (configured: GCM)",
    }


def test_bad_invokes(aws: Any, mobile_aws: dict[str, str]) -> None:
    assert devices_fn.handler({"action": "list"}, LambdaContext())["error"]["message"] == (
        'the request must be {"devices": {...}}'
    )
    assert "devices.action must be one of" in invoke(action="drop", userId="a")["error"]["message"]
    assert invoke(action="list")["error"]["message"] == "userId must be a string"


def me_event(method: str, token: str | None, user: str = "alice", body: Any = None) -> Any:
    path = "/v1/me/devices" + (f"/{token}" if token else "")
    route = f"{method} /v1/me/devices" + ("/{token}" if token else "")
    return http_event(
        None if body is None else json.dumps(body),
        route_key=route,
        path=path,
        path_parameters={"token": token} if token else None,
        authorizer={"jwt": {"claims": {"sub": user}}},
    )


def test_http_me_routes(aws: Any, mobile_aws: dict[str, str]) -> None:
    put = devices_fn.handler(
        me_event("PUT", FCM_TOKEN, body={"platform": "GCM", "app": "demo"}), LambdaContext()
    )
    assert put["statusCode"] == 200 and json.loads(put["body"])["device"]["token"] == FCM_TOKEN
    got = json.loads(devices_fn.handler(me_event("GET", None), LambdaContext())["body"])
    assert [d["token"] for d in got["devices"]] == [FCM_TOKEN]
    mallory = devices_fn.handler(me_event("DELETE", FCM_TOKEN, user="mallory"), LambdaContext())
    assert json.loads(mallory["body"])["removed"] is False
    assert device_row(aws, FCM_TOKEN) is not None
    bad = devices_fn.handler(me_event("PUT", FCM_TOKEN, body={"platform": "X"}), LambdaContext())
    assert bad["statusCode"] == 400
    gone = devices_fn.handler(me_event("DELETE", FCM_TOKEN), LambdaContext())
    assert json.loads(gone["body"])["removed"] is True


def test_http_users_routes(aws: Any, mobile_aws: dict[str, str]) -> None:
    event = http_event(
        json.dumps({"platform": "APNS_SANDBOX", "app": "demo"}),
        route_key="PUT /v1/users/{userId}/devices/{token}",
        path=f"/v1/users/bob/devices/{APNS_TOKEN}",
        path_parameters={"userId": "bob", "token": APNS_TOKEN},
    )
    put = devices_fn.handler(event, LambdaContext())
    assert put["statusCode"] == 200
    assert endpoint_of(aws, APNS_TOKEN).split(":")[-1].startswith("endpoint/APNS_SANDBOX/")
    listed = http_event(
        None,
        route_key="GET /v1/users/{userId}/devices",
        path="/v1/users/bob/devices",
        path_parameters={"userId": "bob"},
    )
    body = json.loads(devices_fn.handler(listed, LambdaContext())["body"])
    assert body["devices"][0]["platform"] == "APNS_SANDBOX"


def test_config_refuses_bad_platform_applications(env: pytest.MonkeyPatch) -> None:
    env.setenv("PLATFORM_APPLICATIONS", json.dumps({"WNS": "arn:aws:sns:x"}))
    with pytest.raises(config.ConfigError):
        config.load()
    assert devices.MAX_TOKEN_LENGTH == 1024

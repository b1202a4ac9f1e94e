"""Mobile delivery of push against moto's SNS: per-platform payloads, the always / fallback /
never rule, EndpointDisabled pruning, and the precise refusals (issue 11)."""

from __future__ import annotations

import json
from typing import Any

import devices as devices_fn
import push
import pytest
from botocore.exceptions import ClientError
from conftest import LambdaContext, Transport, client_error, message_event
from mobile_fixtures import device_row, received
from test_push import ENDPOINT, add_connection
from wsnotify import clients, mobile

APNS_TOKEN = "b" * 64
FCM_TOKEN = "fcm:" + "y" * 150


@pytest.fixture
def phones(mobile_aws: dict[str, str], transport: Transport, env: pytest.MonkeyPatch) -> Any:
    env.setenv("CONNECTIONS_ENDPOINT", ENDPOINT)
    for user, token, platform in (
        ("alice", APNS_TOKEN, "APNS"),
        ("bob", FCM_TOKEN, "GCM"),
    ):
        request = {"action": "register", "userId": user, "token": token}
        request.update(platform=platform, app="demo")
        assert devices_fn.handler({"devices": request}, LambdaContext())["ok"] is True
    return transport


def arn(ddb: Any, token: str) -> str:
    row = device_row(ddb, token)
    assert row is not None
    return str(row["endpointArn"]["S"])


def push_to(users: list[str], **mobile_part: Any) -> dict[str, Any]:
    request = {"userIds": users, "message": {"m": 1}, "mobile": mobile_part}
    return push.handler(request, LambdaContext())


FULL = {
    "title": "Hello",
    "body": "World",
    "badge": 3,
    "sound": "ping.caf",
    "data": {"chat": "c1", "n": 2},
    "collapseKey": "chat-c1",
    "ttlSeconds": 600,
}


def test_payload_per_platform() -> None:
    part = mobile.parse({**FULL, "mode": "always"})
    apns = json.loads(mobile.payload("APNS", part, "01ID"))
    assert apns == {
        "aps": {"alert": {"title": "Hello", "body": "World"}, "badge": 3, "sound": "ping.caf"},
        "chat": "c1",
        "n": 2,
        "notificationId": "01ID",
    }
    fcm = json.loads(mobile.payload("GCM", part, "01ID"))
    assert fcm == {
        "fcmV1Message": {
            "message": {
                "notification": {"title": "Hello", "body": "World"},
                "data": {"chat": "c1", "n": "2", "notificationId": "01ID"},
                "android": {
                    "collapse_key": "chat-c1",
                    "ttl": "600s",
                    "notification": {"sound": "ping.caf", "notification_count": 3},
                },
                "apns": {"payload": {"aps": {"badge": 3, "sound": "ping.caf"}}},
            }
        }
    }
    sns = json.loads(mobile.sns_message("APNS_SANDBOX", part, "01ID"))
    assert set(sns) == {"default", "APNS_SANDBOX"} and sns["default"] == "World"
    assert all(isinstance(v, str) for v in sns.values())
    attributes = mobile.message_attributes("APNS", part)
    assert attributes["AWS.SNS.MOBILE.APNS.COLLAPSE_ID"]["StringValue"] == "chat-c1"
    assert attributes["AWS.SNS.MOBILE.APNS.TTL"]["StringValue"] == "600"
    assert mobile.message_attributes("GCM", part) == {
        "AWS.SNS.MOBILE.FCM.TTL": {"DataType": "String", "StringValue": "600"}
    }


def test_always_reaches_every_device_and_reports_it(aws: Any, phones: Transport) -> None:
    add_connection(aws, "a-socket", "alice")
    result = push_to(["alice", "bob"], mode="always", **FULL)
    assert result["ok"] is True and result["delivered"] == 1
    assert result["mobile"] == {"targeted": 2, "sent": 2, "disabled": 0, "failed": 0}
    apns = received(arn(aws, APNS_TOKEN))
    assert len(apns) == 1 and set(apns[0]) == {"default", "APNS"}
    assert json.loads(apns[0]["APNS"])["notificationId"] == result["notificationId"]
    gcm = json.loads(received(arn(aws, FCM_TOKEN))[0]["GCM"])
    assert gcm["fcmV1Message"]["message"]["notification"]["title"] == "Hello"


def test_fallback_reaches_only_users_no_socket_received(aws: Any, phones: Transport) -> None:
    add_connection(aws, "a-socket", "alice")
    add_connection(aws, "b-dead", "bob")
    phones.always["b-dead"] = client_error("GoneException", 410)
    result = push_to(["alice", "bob"], mode="fallback", title="Hi")
    assert result["delivered"] == 1 and result["stale"] == 1
    assert result["mobile"] == {"targeted": 1, "sent": 1, "disabled": 0, "failed": 0}
    assert received(arn(aws, APNS_TOKEN)) == []
    assert len(received(arn(aws, FCM_TOKEN))) == 1


def test_never_is_the_default(aws: Any, phones: Transport) -> None:
    result = push_to(["alice", "bob"], title="Hi")
    assert result["mobile"] == {"targeted": 0, "sent": 0, "disabled": 0, "failed": 0}
    assert received(arn(aws, APNS_TOKEN)) == received(arn(aws, FCM_TOKEN)) == []
    plain = push.handler({"userId": "alice", "message": 1}, LambdaContext())
    assert "mobile" not in plain


def test_disabled_endpoints_are_pruned(aws: Any, phones: Transport) -> None:
    dead = arn(aws, FCM_TOKEN)
    clients.sns().set_endpoint_attributes(EndpointArn=dead, Attributes={"Enabled": "false"})
    result = push_to(["alice", "bob"], mode="always", title="Hi")
    assert result["mobile"] == {"targeted": 2, "sent": 1, "disabled": 1, "failed": 0}
    assert device_row(aws, FCM_TOKEN) is None
    assert device_row(aws, APNS_TOKEN) is not None
    with pytest.raises(ClientError):
        clients.sns().get_endpoint_attributes(EndpointArn=dead)


def test_other_publish_errors_count_as_failed(
    aws: Any, phones: Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = clients.sns()

    class Flaky:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def publish(self, **kwargs: Any) -> Any:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "x"}}, "Publish")

    monkeypatch.setattr(clients, "sns", Flaky)
    result = push_to(["bob"], mode="always", title="Hi")
    assert result["mobile"] == {"targeted": 1, "sent": 0, "disabled": 0, "failed": 1}
    assert device_row(aws, FCM_TOKEN) is not None


@pytest.mark.parametrize(
    ("part", "message"),
    [
        ({"mode": "always"}, "mobile: title or body is required"),
        ({"title": "x", "mode": "sometimes"}, "mobile: mode must be one of always, fallback"),
        ({"title": "x", "badge": -1}, "mobile: badge must be an integer 0..99999"),
        ({"title": "x", "data": []}, "mobile: data must be a JSON object"),
        ({"title": "x", "data": {"aps": 1}}, "mobile: data may not use the key(s) aps"),
        ({"title": "x", "data": {"google.c": 1, "from": 2}}, "key(s) from, google.c"),
        ({"title": "x", "ttlSeconds": 3_000_000}, "mobile: ttlSeconds must be an integer"),
        ({"title": "x", "colour": 1}, "mobile: unknown field(s): colour"),
        ({"title": "x", "data": {"k": "v" * 4000}}, "payload would be"),
        ({"body": "é" * 2100, "mode": "always"}, "the limit is 4096"),
    ],
)
def test_bad_mobile_parts_are_refused_and_nothing_is_sent(
    aws: Any, phones: Transport, part: dict[str, Any], message: str
) -> None:
    add_connection(aws, "a-socket", "alice")
    result = push_to(["alice", "bob"], **part)
    assert result["ok"] is False and result["error"]["code"] == "INVALID_REQUEST"
    assert message in result["error"]["message"]
    assert phones.calls == 0
    assert received(arn(aws, APNS_TOKEN)) == received(arn(aws, FCM_TOKEN)) == []


def test_mobile_with_broadcast_or_from_a_client_is_refused(
    aws: Any, phones: Transport, env: pytest.MonkeyPatch
) -> None:
    env.setenv("ALLOW_BROADCAST", "true")
    result = push.handler(
        {"broadcast": True, "message": 1, "mobile": {"title": "x"}}, LambdaContext()
    )
    assert result["error"]["message"] == "mobile: broadcasts do not reach devices; name the users"
    env.setenv("ALLOW_CLIENT_PUSH", "true")
    frame = message_event(
        "push", "c1", {"action": "push", "userId": "bob", "message": 1, "mobile": {"title": "x"}}
    )
    push.handler(frame, LambdaContext())
    assert phones.last("c1")["error"] == {
        "code": "FORBIDDEN",
        "message": "clients may not send mobile notifications",
    }


def test_mobile_push_off_is_a_precise_refusal(
    aws: Any, transport: Transport, env: pytest.MonkeyPatch
) -> None:
    env.setenv("CONNECTIONS_ENDPOINT", ENDPOINT)
    env.delenv("DEVICES_TABLE", raising=False)
    result = push_to(["alice"], title="x", mode="always")
    assert result["error"] == {
        "code": "INVALID_REQUEST",
        "message": "mobile: mobile push is not enabled on this deployment (mobile_push)",
    }
    assert push_to(["alice"], title="x")["mobile"]["targeted"] == 0  # "never" stays harmless

"""Mobile push through Amazon SNS: the push request's `mobile` part, the per-platform payloads
and the delivery to every registered device (one SNS Publish per endpoint).

Payloads (docs/protocol.md, "Mobile push"):
- APNs (`APNS`, `APNS_SANDBOX`): ``{"aps": {"alert": {"title", "body"}, "badge", "sound"},
  ...data, "notificationId"}``; collapseKey and ttlSeconds travel as the SNS message attributes
  AWS.SNS.MOBILE.APNS.COLLAPSE_ID and AWS.SNS.MOBILE.APNS.TTL.
- FCM (`GCM`): the HTTP v1 message in ``{"fcmV1Message": {"message": {...}}}``: `notification`
  (title, body), `data` with string values (other JSON values are sent JSON-encoded), `android`
  (collapse_key, ttl, notification.sound/notification_count) and `apns` (badge, sound for iOS
  apps on FCM). SNS fills in the token.
Both platforms cap the payload at 4096 bytes: a request whose payload would exceed it on either
platform is refused before anything is sent."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from wsnotify import clients, delivery, devices, log
from wsnotify.config import Config
from wsnotify.errors import INVALID_REQUEST, RequestError

MODES = ("always", "fallback", "never")
FIELDS = frozenset({"title", "body", "badge", "sound", "data", "collapseKey", "ttlSeconds", "mode"})
MAX_PAYLOAD_BYTES = 4096  # APNs payload, FCM message (developer.apple.com, firebase.google.com)
MAX_TTL_SECONDS = 2_419_200  # 28 days: FCM's maximum
MAX_COLLAPSE_KEY_LENGTH = 64  # apns-collapse-id is at most 64 bytes
MAX_SOUND_LENGTH = 256
MAX_BADGE = 99_999
# APNs' own key, ours, and the keys FCM reserves (plus any starting with google or gcm).
_RESERVED_DATA_KEYS = frozenset({"aps", "notificationId", "from", "message_type", "collapse_key"})
_ID_PLACEHOLDER = "0" * 26  # a ULID's length: the size check holds for the real id


def _invalid(message: str) -> RequestError:
    return RequestError(INVALID_REQUEST, f"mobile: {message}")


@dataclass(frozen=True)
class Mobile:
    mode: str
    title: str | None
    body: str | None
    badge: int | None
    sound: str | None
    data: dict[str, Any]
    collapse_key: str | None
    ttl_seconds: int | None


def _text(value: Any, name: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise _invalid(f"{name} must be a string of 1..{limit} characters")
    return value


def parse(value: Any) -> Mobile:
    """Validate the `mobile` part of a push request; refuses what a platform would refuse."""
    if not isinstance(value, dict):
        raise _invalid("must be a JSON object")
    unknown = sorted(str(k)[:40] for k in value if k not in FIELDS)
    if unknown:
        raise _invalid(f"unknown field(s): {', '.join(unknown[:5])}")
    mode = value.get("mode", "never")
    if mode not in MODES:
        raise _invalid(f"mode must be one of {', '.join(MODES)}")
    title = _text(value.get("title"), "title", MAX_PAYLOAD_BYTES)
    body = _text(value.get("body"), "body", MAX_PAYLOAD_BYTES)
    if title is None and body is None:
        raise _invalid("title or body is required")
    badge = value.get("badge")
    if badge is not None and (
        isinstance(badge, bool) or not isinstance(badge, int) or not 0 <= badge <= MAX_BADGE
    ):
        raise _invalid(f"badge must be an integer 0..{MAX_BADGE}")
    data = value.get("data", {})
    if not isinstance(data, dict):
        raise _invalid("data must be a JSON object")
    reserved = sorted(
        k for k in data if k in _RESERVED_DATA_KEYS or k.startswith(("google", "gcm"))
    )
    if reserved:
        raise _invalid(f"data may not use the key(s) {', '.join(reserved[:5])}")
    ttl = value.get("ttlSeconds")
    if ttl is not None and (
        isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= MAX_TTL_SECONDS
    ):
        raise _invalid(f"ttlSeconds must be an integer 0..{MAX_TTL_SECONDS}")
    mobile = Mobile(
        mode,
        title,
        body,
        badge,
        _text(value.get("sound"), "sound", MAX_SOUND_LENGTH),
        data,
        _text(value.get("collapseKey"), "collapseKey", MAX_COLLAPSE_KEY_LENGTH),
        ttl,
    )
    for platform in ("APNS", "GCM"):
        size = len(payload(platform, mobile, _ID_PLACEHOLDER).encode("utf-8"))
        if size > MAX_PAYLOAD_BYTES:
            raise _invalid(
                f"the {platform} payload would be {size} bytes; the limit is {MAX_PAYLOAD_BYTES}"
            )
    return mobile


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def apns_payload(mobile: Mobile, notification_id: str) -> dict[str, Any]:
    alert = {k: v for k, v in (("title", mobile.title), ("body", mobile.body)) if v is not None}
    aps: dict[str, Any] = {"alert": alert}
    if mobile.badge is not None:
        aps["badge"] = mobile.badge
    if mobile.sound is not None:
        aps["sound"] = mobile.sound
    return {"aps": aps, **mobile.data, "notificationId": notification_id}


def fcm_payload(mobile: Mobile, notification_id: str) -> dict[str, Any]:
    notification = {
        k: v for k, v in (("title", mobile.title), ("body", mobile.body)) if v is not None
    }
    data = {k: v if isinstance(v, str) else _dumps(v) for k, v in mobile.data.items()}
    data["notificationId"] = notification_id
    message: dict[str, Any] = {"notification": notification, "data": data}
    android: dict[str, Any] = {}
    if mobile.collapse_key is not None:
        android["collapse_key"] = mobile.collapse_key
    if mobile.ttl_seconds is not None:
        android["ttl"] = f"{mobile.ttl_seconds}s"
    android_notification: dict[str, Any] = {}
    if mobile.sound is not None:
        android_notification["sound"] = mobile.sound
    if mobile.badge is not None:
        android_notification["notification_count"] = mobile.badge
    if android_notification:
        android["notification"] = android_notification
    if android:
        message["android"] = android
    aps = {k: v for k, v in (("badge", mobile.badge), ("sound", mobile.sound)) if v is not None}
    if aps:
        message["apns"] = {"payload": {"aps": aps}}
    return {"fcmV1Message": {"message": message}}


def payload(platform: str, mobile: Mobile, notification_id: str) -> str:
    """The platform's payload string (the value under its key in the SNS JSON message)."""
    if platform == "GCM":
        return _dumps(fcm_payload(mobile, notification_id))
    return _dumps(apns_payload(mobile, notification_id))


def sns_message(platform: str, mobile: Mobile, notification_id: str) -> str:
    """The SNS Message for MessageStructure=json: string values only, payloads encoded twice."""
    default = mobile.body if mobile.body is not None else mobile.title
    return _dumps({"default": default, platform: payload(platform, mobile, notification_id)})


def message_attributes(platform: str, mobile: Mobile) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    if platform.startswith("APNS"):
        if mobile.collapse_key is not None:
            attributes["AWS.SNS.MOBILE.APNS.COLLAPSE_ID"] = mobile.collapse_key
        if mobile.ttl_seconds is not None:
            attributes["AWS.SNS.MOBILE.APNS.TTL"] = str(mobile.ttl_seconds)
        attributes["AWS.SNS.MOBILE.APNS.PUSH_TYPE"] = "alert"
    elif mobile.ttl_seconds is not None:
        attributes["AWS.SNS.MOBILE.FCM.TTL"] = str(mobile.ttl_seconds)
    return {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}


@dataclass(frozen=True)
class Device:
    token: str
    platform: str
    endpoint_arn: str


def targets(config: Config, user_ids: list[str]) -> list[Device]:
    """The enabled devices of these users, read in parallel."""
    rows = delivery.map_concurrently(
        lambda user: devices.user_devices(config, user), user_ids, config.send_concurrency
    )
    return [
        Device(i["token"]["S"], i["platform"]["S"], i["endpointArn"]["S"])
        for part in rows
        for i in part
        if i.get("enabled", {}).get("BOOL", True) and "endpointArn" in i
    ]


_DISABLED = frozenset({"EndpointDisabled", "NotFound"})


def send(
    config: Config,
    mobile: Mobile,
    user_ids: list[str],
    notification_id: str,
    deadline: float | None = None,
) -> dict[str, int]:
    """Publish to every device of `user_ids`; prune devices whose endpoint is disabled or gone.
    Never raises for one device: the figures say what happened."""
    found = targets(config, user_ids) if user_ids else []
    sns = clients.sns()

    def one(device: Device) -> str:
        if deadline is not None and time.monotonic() >= deadline:
            return "failed"
        try:
            sns.publish(
                TargetArn=device.endpoint_arn,
                Message=sns_message(device.platform, mobile, notification_id),
                MessageStructure="json",
                MessageAttributes=message_attributes(device.platform, mobile),
            )
            return "sent"
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _DISABLED:
                try:
                    devices.prune(config, device.token, device.endpoint_arn)
                except Exception:  # the next push prunes it again
                    log.exception("device prune failed")
                return "disabled"
            log.warning("mobile publish failed", error=code)
            return "failed"
        except Exception:
            log.exception("mobile publish failed")
            return "failed"

    outcomes = delivery.map_concurrently(one, found, config.send_concurrency)
    return {
        "targeted": len(found),
        "sent": outcomes.count("sent"),
        "disabled": outcomes.count("disabled"),
        "failed": outcomes.count("failed"),
    }

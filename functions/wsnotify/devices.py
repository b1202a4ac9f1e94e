"""The device registry: one DynamoDB row per device token, and its SNS platform endpoint.

Rows (DEVICES_TABLE, partition key ``token``; index DEVICES_USER_INDEX on ``userId``):
userId, token, platform, app, endpointArn, enabled, createdAt, lastSeenAt (epoch ms), and the
optional locale and timezone. The token is the key, so a token belongs to one user at a time:
when another user registers it (a shared phone), the row moves to that user and the previous
user's notifications stop reaching the phone.

Registration follows the flow the SNS developer guide prescribes, because CreatePlatformEndpoint
alone neither re-enables a disabled endpoint nor updates a token: create (idempotent for the same
token), read the endpoint's attributes, and SetEndpointAttributes(Token, Enabled=true) when the
token differs or the endpoint was disabled; an endpoint deleted behind our back is created
again."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from wsnotify import clients, envelope
from wsnotify.config import PLATFORMS, Config
from wsnotify.errors import INVALID_REQUEST, RequestError

# APNs tokens are 64 hex characters, FCM registration tokens ~150-250; DynamoDB keys allow 2048
# bytes. 1024 leaves room for token formats to grow while refusing garbage early.
MAX_TOKEN_LENGTH = 1024
MAX_APP_LENGTH = 64
MAX_LOCALE_LENGTH = 35  # BCP 47 tags in practice
MAX_TIMEZONE_LENGTH = 64  # IANA names, e.g. America/Argentina/ComodRivadavia
_TOKEN = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces (APNs hex, FCM base64url:)
_NAME = re.compile(r"^[A-Za-z0-9_.:+/-]+$")
_EXISTS = re.compile(r"Endpoint (arn:[^ ]+) already exists with the same [Tt]oken")
_REGISTER_FIELDS = frozenset({"platform", "app", "locale", "timezone"})


def _invalid(message: str) -> RequestError:
    return RequestError(INVALID_REQUEST, message)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def valid_token(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _invalid("token must be a non-empty string")
    if len(value) > MAX_TOKEN_LENGTH:
        raise _invalid(f"token must be at most {MAX_TOKEN_LENGTH} characters")
    if not _TOKEN.match(value):
        raise _invalid("token must be printable ASCII without spaces")
    return value


def _optional_name(body: dict[str, Any], name: str, limit: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= limit or not _NAME.match(value):
        raise _invalid(f"{name} must be 1..{limit} characters of letters, digits and _.:+/-")
    return value


@dataclass(frozen=True)
class Registration:
    token: str
    platform: str
    app: str
    locale: str | None
    timezone: str | None


def registration(config: Config, token: Any, body: Any) -> Registration:
    """Validate a registration: the token and the body ``{platform, app, locale?, timezone?}``."""
    token = valid_token(token)
    if not isinstance(body, dict):
        raise _invalid("the body must be a JSON object")
    unknown = sorted(str(k)[:40] for k in body if k not in _REGISTER_FIELDS)
    if unknown:
        raise _invalid(f"unknown field(s): {', '.join(unknown[:5])}")
    platform = body.get("platform")
    if platform not in PLATFORMS:
        raise _invalid(f"platform must be one of {', '.join(PLATFORMS)}")
    if platform not in config.platform_applications:
        configured = ", ".join(sorted(config.platform_applications)) or "none"
        raise _invalid(f"platform {platform} is not configured here (configured: {configured})")
    app = _optional_name(body, "app", MAX_APP_LENGTH)
    if app is None:
        raise _invalid("app is required")
    return Registration(
        token,
        str(platform),
        app,
        _optional_name(body, "locale", MAX_LOCALE_LENGTH),
        _optional_name(body, "timezone", MAX_TIMEZONE_LENGTH),
    )


def _get(table: str, token: str) -> dict[str, Any] | None:
    item = (
        clients.dynamodb()
        .get_item(TableName=table, Key={"token": {"S": token}}, ConsistentRead=True)
        .get("Item")
    )
    return item or None


def _endpoint(application_arn: str, token: str, known_arn: str | None) -> tuple[str, bool]:
    """The endpoint ARN for `token`, enabled and holding that token; True when it was changed
    (created anew, re-enabled or given the token)."""
    sns = clients.sns()
    arn = known_arn
    if arn is None:
        try:
            arn = sns.create_platform_endpoint(PlatformApplicationArn=application_arn, Token=token)[
                "EndpointArn"
            ]
        except ClientError as exc:
            found = _EXISTS.search(str(exc.response.get("Error", {}).get("Message", "")))
            if _code(exc) != "InvalidParameter" or found is None:
                raise
            arn = found.group(1)  # same token, other attributes (e.g. disabled): reuse it
    try:
        attributes = sns.get_endpoint_attributes(EndpointArn=arn)["Attributes"]
    except ClientError as exc:
        if _code(exc) != "NotFound":
            raise
        fresh = sns.create_platform_endpoint(PlatformApplicationArn=application_arn, Token=token)
        return fresh["EndpointArn"], True
    if attributes.get("Token") != token or attributes.get("Enabled", "true").lower() != "true":
        sns.set_endpoint_attributes(EndpointArn=arn, Attributes={"Token": token, "Enabled": "true"})
        return arn, True
    return arn, known_arn is None


def delete_endpoint(arn: str) -> None:
    try:
        clients.sns().delete_endpoint(EndpointArn=arn)
    except ClientError as exc:
        if _code(exc) != "NotFound":  # idempotent in AWS; tolerated either way
            raise


def register(config: Config, user_id: str, reg: Registration) -> dict[str, Any]:
    """Register (or refresh) a device for `user_id`; idempotent. Returns the device document
    plus ``created`` (a new row) and ``movedFrom`` (True when another user held the token)."""
    table = config.require("devices_table")
    application = config.platform_applications[reg.platform]
    previous = _get(table, reg.token)
    known = None
    if previous is not None and previous.get("platform", {}).get("S") == reg.platform:
        known = previous.get("endpointArn", {}).get("S")
    elif previous is not None and "endpointArn" in previous:
        delete_endpoint(previous["endpointArn"]["S"])  # the token changed platform
    arn, _ = _endpoint(application, reg.token, known)
    now = envelope.now_ms()
    names = {"#t": "timezone"}  # a reserved word in DynamoDB
    values: dict[str, Any] = {
        ":u": {"S": user_id},
        ":p": {"S": reg.platform},
        ":a": {"S": reg.app},
        ":e": {"S": arn},
        ":on": {"BOOL": True},
        ":now": {"N": str(now)},
    }
    sets = [
        "userId = :u",
        "platform = :p",
        "app = :a",
        "endpointArn = :e",
        "enabled = :on",
        "lastSeenAt = :now",
    ]
    moved = previous is not None and previous.get("userId", {}).get("S") != user_id
    # A new owner gets a new device as far as they can tell: its creation time restarts.
    sets.append("createdAt = :now" if moved else "createdAt = if_not_exists(createdAt, :now)")
    removes = []
    for attr, key, value in (("locale", ":l", reg.locale), ("#t", ":z", reg.timezone)):
        if value is None:
            removes.append(attr)
        else:
            sets.append(f"{attr} = {key}")
            values[key] = {"S": value}
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    item = clients.dynamodb().update_item(
        TableName=table,
        Key={"token": {"S": reg.token}},
        UpdateExpression=expression,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ReturnValues="ALL_NEW",
    )["Attributes"]
    return {"device": _document(item), "created": previous is None or moved, "moved": moved}


def unregister(config: Config, user_id: str, token: str) -> bool:
    """Delete `user_id`'s device `token` (row and endpoint). False when the user has no such
    device, including a token registered by someone else: nothing is touched then."""
    table = config.require("devices_table")
    try:
        old = (
            clients.dynamodb()
            .delete_item(
                TableName=table,
                Key={"token": {"S": valid_token(token)}},
                ConditionExpression="userId = :u",
                ExpressionAttributeValues={":u": {"S": user_id}},
                ReturnValues="ALL_OLD",
            )
            .get("Attributes", {})
        )
    except ClientError as exc:
        if _code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    if "endpointArn" in old:
        delete_endpoint(old["endpointArn"]["S"])
    return True


def user_devices(config: Config, user_id: str) -> list[dict[str, Any]]:
    """Every device row of `user_id` (raw DynamoDB items), oldest registration first."""
    pages = clients.dynamodb().get_paginator("query")
    items: list[dict[str, Any]] = []
    for page in pages.paginate(
        TableName=config.require("devices_table"),
        IndexName=config.devices_user_index,
        KeyConditionExpression="userId = :u",
        ExpressionAttributeValues={":u": {"S": user_id}},
    ):
        items.extend(page.get("Items", []))
    return sorted(items, key=lambda i: int(i.get("createdAt", {}).get("N", "0")))


def prune(config: Config, token: str, endpoint_arn: str) -> None:
    """Forget a device whose endpoint SNS disabled or lost; only if the row still names that
    endpoint (a concurrent registration may have refreshed it)."""
    try:
        clients.dynamodb().delete_item(
            TableName=config.require("devices_table"),
            Key={"token": {"S": token}},
            ConditionExpression="endpointArn = :e",
            ExpressionAttributeValues={":e": {"S": endpoint_arn}},
        )
    except ClientError as exc:
        if _code(exc) != "ConditionalCheckFailedException":
            raise
        return
    delete_endpoint(endpoint_arn)


def _document(item: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "token": item["token"]["S"],
        "platform": item["platform"]["S"],
        "app": item["app"]["S"],
        "enabled": item.get("enabled", {}).get("BOOL", True),
        "createdAt": int(item["createdAt"]["N"]),
        "lastSeenAt": int(item["lastSeenAt"]["N"]),
    }
    for name in ("locale", "timezone"):
        if name in item:
            doc[name] = item[name]["S"]
    return doc


def listing(config: Config, user_id: str) -> dict[str, Any]:
    return {
        "ok": True,
        "userId": user_id,
        "devices": [_document(i) for i in user_devices(config, user_id)],
    }

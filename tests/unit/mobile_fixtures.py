"""Fixtures of the mobile push tests: the devices table and SNS platform applications in moto,
and what each endpoint received."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends
from wsnotify import clients

DEVICES = "ws-devices"


def create_devices_table(ddb: Any) -> None:
    """As modules/tables creates it."""
    ddb.create_table(
        TableName=DEVICES,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "token", "AttributeType": "S"},
            {"AttributeName": "userId", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "token", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "userId-index",
                "KeySchema": [{"AttributeName": "userId", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )


@pytest.fixture
def mobile_aws(aws: Any, env: pytest.MonkeyPatch) -> dict[str, str]:
    """The devices table and one platform application per platform; returns their ARNs."""
    create_devices_table(aws)
    sns = clients.sns()
    apps = {}
    for platform in ("APNS", "APNS_SANDBOX", "GCM"):
        apps[platform] = sns.create_platform_application(
            Name=f"ws-{platform.lower()}",
            Platform=platform,
            Attributes={"PlatformCredential": "fake", "PlatformPrincipal": "fake"},
        )["PlatformApplicationArn"]
    env.setenv("DEVICES_TABLE", DEVICES)
    env.setenv("PLATFORM_APPLICATIONS", json.dumps(apps))
    return apps


def received(endpoint_arn: str) -> list[dict[str, Any]]:
    """The SNS messages an endpoint received (moto keeps the raw Message strings)."""
    backend = sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    endpoint = backend.platform_endpoints.get(endpoint_arn)
    return [json.loads(m) for m in endpoint.messages.values()] if endpoint else []


def device_row(ddb: Any, token: str) -> dict[str, Any] | None:
    return ddb.get_item(TableName=DEVICES, Key={"token": {"S": token}}).get("Item")

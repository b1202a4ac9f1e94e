"""SNS mobile push on the local stack: the platform applications with fake credentials, and a
view of what each platform endpoint received.

What AWS does, and what is reproduced here: SNS keeps one *platform application* per push
service (APNs, APNs sandbox, FCM as ``GCM``) holding the service's credentials, and one
*platform endpoint* per device token under it. ``Publish(TargetArn=<endpoint>,
MessageStructure=json)`` takes the message's value under the endpoint's platform key (``APNS``,
``APNS_SANDBOX``, ``GCM``, else ``default``) and hands it to APNs or FCM, which delivers it to the
phone later; a disabled endpoint answers ``EndpointDisabled``, a deleted one ``NotFound``. moto
implements the applications, the endpoints (with those two errors) and Publish, and keeps every
message published to an endpoint; it checks no credentials and contacts no push service. So the
local stack creates the applications with fake credentials (``create_platform_applications``,
before Terraform runs; their ARNs reach ``examples/complete`` as the variable
``mobile_platform_applications``), and stands in for the phone: the moto process serves

    GET {aws_endpoint}/moto-api/local/sns-deliveries[?endpointArn=<arn>]

(``sns_deliveries_url`` in stack.json), a JSON object keyed by endpoint ARN: the endpoint's
platform, application, token and enabled flag, and ``deliveries``, every message published to it
in order, each the payload its platform's push service would receive (the value under the
platform's key, parsed) plus the raw SNS message. What is not reproduced: the push services
themselves (no ``EndpointDisabled`` after an uninstall unless a test disables the endpoint with
SetEndpointAttributes), delivery status logs, and the 4 KB payload limits (moto checks only
SNS's 256 KB; the push function checks 4 KB itself)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3

from local.motoserver import FAKE_CREDENTIALS

PATH = "/moto-api/local/sns-deliveries"
PLATFORMS = ("APNS", "APNS_SANDBOX", "GCM")
# Shapes of real credentials, fake values: moto stores them and checks nothing.
_FAKE_ATTRIBUTES = {
    "APNS": {"PlatformCredential": "fake-p8-key", "PlatformPrincipal": "FAKEKEYID1"},
    "APNS_SANDBOX": {"PlatformCredential": "fake-p8-key", "PlatformPrincipal": "FAKEKEYID1"},
    "GCM": {"PlatformCredential": json.dumps({"type": "service_account", "project_id": "fake"})},
}


def create_platform_applications(aws_endpoint: str, region: str, prefix: str) -> dict[str, str]:
    """One platform application per platform, with fake credentials; platform => ARN."""
    sns = boto3.client(
        "sns",
        endpoint_url=aws_endpoint,
        region_name=region,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    return {
        platform: sns.create_platform_application(
            Name=f"{prefix}-{platform.lower().replace('_', '-')}",
            Platform=platform,
            Attributes=_FAKE_ATTRIBUTES[platform],
        )["PlatformApplicationArn"]
        for platform in PLATFORMS
    }


def _delivery(platform: str, message_id: str, raw: str) -> dict[str, Any]:
    try:
        document = json.loads(raw)
    except ValueError:
        document = None
    payload: Any = raw
    if isinstance(document, dict):  # MessageStructure=json: the platform's key, else default
        value = document.get(platform, document.get("default"))
        try:
            payload = json.loads(value) if isinstance(value, str) else value
        except ValueError:
            payload = value
    return {"messageId": message_id, "payload": payload, "message": raw}


def snapshot(endpoint_arn: str | None = None) -> dict[str, Any]:
    """Every platform endpoint of every account and Region of this moto process."""
    from moto.sns.models import sns_backends  # the moto process only

    out: dict[str, Any] = {}
    for account in list(sns_backends.keys()):
        for region in list(sns_backends[account].keys()):
            backend = sns_backends[account][region]
            for arn, endpoint in list(backend.platform_endpoints.items()):
                if endpoint_arn is not None and arn != endpoint_arn:
                    continue
                platform = endpoint.application.platform
                out[arn] = {
                    "platform": platform,
                    "application": endpoint.application.arn,
                    "token": endpoint.token,
                    "enabled": str(endpoint.attributes.get("Enabled", "true")).lower() == "true",
                    "deliveries": [
                        _delivery(platform, mid, raw)
                        for mid, raw in list(endpoint.messages.items())
                    ],
                }
    return out


def sns_deliveries(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    """The moto-api view (a moto response handler: status, headers, body)."""
    query = parse_qs(urlparse(full_url).query)
    arn = query.get("endpointArn", [None])[0]
    return 200, {"Content-Type": "application/json"}, json.dumps(snapshot(arn))


def install() -> None:
    """Register the view with moto's own moto-api service (in the moto process)."""
    from moto.moto_api._internal import urls

    urls.url_paths["{0}" + PATH + "$"] = sns_deliveries


def deliveries(aws_endpoint: str, endpoint_arn: str | None = None) -> dict[str, Any]:
    """Client side (tests, demo): the view's document."""
    import urllib.parse
    import urllib.request

    url = aws_endpoint + PATH
    if endpoint_arn is not None:
        url += "?" + urllib.parse.urlencode({"endpointArn": endpoint_arn})
    with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 (loopback moto)
        return dict(json.loads(reply.read()))

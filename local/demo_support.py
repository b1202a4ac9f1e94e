"""What every step of ``make demo`` uses: its failure, its check, and one HTTP API call."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

WAIT_S = 10.0


class StepFailed(AssertionError):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise StepFailed(message)


def http_call(
    stack: dict[str, Any],
    method: str,
    path: str,
    body: bytes,
    *,
    sign: bool = False,
    token: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """One request to the stack's HTTP API: SigV4-signed with the stack's credentials (what a
    backend's botocore does), or with a bearer token (what an app does)."""
    headers = {"content-type": "application/json"} if body else {}
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = AWSRequest(
        method=method, url=stack["http_api_url"] + path, data=body, headers=headers
    )
    if sign:
        credentials = Credentials(
            stack["credentials"]["aws_access_key_id"], stack["credentials"]["aws_secret_access_key"]
        )
        SigV4Auth(credentials, "execute-api", stack["region"]).add_auth(request)
    prepared = request.prepare()
    http_request = urllib.request.Request(  # noqa: S310 - the stack's own loopback URL
        prepared.url, data=body or None, method=method, headers=dict(prepared.headers)
    )
    try:
        with urllib.request.urlopen(http_request, timeout=WAIT_S) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")

"""A backend's HTTP client for the local HTTP API: botocore-signed (SigV4, execute-api) or plain
requests, and validation of each request and answer against docs/openapi.yaml with openapi-core."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

SPEC = OpenAPI.from_file_path(str(Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"))
# The spec's server: what a client of the deployed API would call.
SPEC_HOST = "https://abc123.execute-api.eu-west-1.amazonaws.com"
_POOL = urllib3.PoolManager(retries=False, timeout=30)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    raw: bytes

    def json(self) -> Any:
        return json.loads(self.raw)


def call(
    base: str,
    method: str,
    path: str,
    *,
    region: str,
    body: Any = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    sign: tuple[str, str] | None = ("testing", "testing"),
    tamper: bool = False,
    validate: bool = True,
) -> Answer:
    """One request, SigV4-signed with ``sign`` (access key, secret) unless None; ``tamper``
    changes the body after signing. With ``validate``, request and answer must match the spec."""
    data = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    all_headers = dict(headers or {})
    if body is not None:
        all_headers.setdefault("content-type", "application/json")
    url = base + path + ("?" + urlencode(query) if query else "")
    request = AWSRequest(method=method, url=url, data=data, headers=all_headers)
    if sign is not None:
        SigV4Auth(Credentials(*sign), "execute-api", region).add_auth(request)
    prepared = request.prepare()
    sent, sent_url = data, prepared.url
    if tamper and data:
        sent = data.upper()  # same length, other bytes
    elif tamper:
        sent_url += ("&" if "?" in sent_url else "?") + "tampered=1"  # an unsigned parameter
    response = _POOL.request(method, sent_url, body=sent or None, headers=dict(prepared.headers))
    answer = Answer(response.status, dict(response.headers), response.data)
    if validate:
        check(method, path, query, dict(prepared.headers), data, answer)
    return answer


def check(
    method: str,
    path: str,
    query: dict[str, str] | None,
    headers: dict[str, str],
    data: bytes,
    answer: Answer,
) -> None:
    request = MockRequest(
        SPEC_HOST,
        method.lower(),
        urlsplit(path).path,
        args=query or {},
        headers={k.lower(): v for k, v in headers.items()},
        data=data or None,
        content_type=headers.get("content-type", "application/json"),
    )
    if answer.status < 400:  # refused requests are refused because they break the contract
        SPEC.validate_request(request)
    SPEC.validate_response(
        request,
        MockResponse(
            answer.raw,
            status_code=answer.status,
            headers={k.lower(): v for k, v in answer.headers.items()},
            content_type=answer.headers.get("Content-Type", "application/json").split(";")[0],
        ),
    )

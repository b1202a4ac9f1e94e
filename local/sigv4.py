"""Verification of AWS Signature Version 4 on requests to AWS_IAM routes of an HTTP API.

What AWS does, reproduced: no ``Authorization`` header (and no presigned query) is a 403
``Forbidden``; an unknown access key, a scope for another region or service, a timestamp more than
15 minutes off, a ``host`` header left out of the signature, or a signature that does not match
the canonical request are 403 with API Gateway's messages. The canonical request follows the
SigV4 specification (non-S3 path encoding, sorted query, trimmed header values, payload hash);
botocore's and curl's (``--aws-sigv4``) signatures verify.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote

_AUTH = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)
MAX_SKEW_S = 15 * 60
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
)


@dataclass(frozen=True)
class Caller:
    access_key: str
    account_id: str
    user_arn: str
    user_id: str


class SignatureError(Exception):
    """Refused: ``str(exc)`` is the message API Gateway sends with its 403."""


def verify(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    region: str,
    secrets: dict[str, tuple[str, Caller]],
    now: datetime | None = None,
) -> Caller:
    """The verified caller, or SignatureError. ``secrets`` maps access key -> (secret, caller)."""
    lower: dict[str, list[str]] = {}
    for name, value in headers:
        lower.setdefault(name.lower(), []).append(value)
    authorization = (lower.get("authorization") or [""])[0]
    if not authorization:
        raise SignatureError("Forbidden")
    match = _AUTH.match(authorization.strip())
    if match is None:
        raise SignatureError(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature'"
        )
    parts = match["credential"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise SignatureError("Credential should be scoped to a valid region.")
    access_key, day, scope_region, service, _ = parts
    known = secrets.get(access_key)
    if known is None:
        raise SignatureError("The security token included in the request is invalid.")
    secret, caller = known
    if scope_region != region:
        raise SignatureError(
            f"Credential should be scoped to a valid region, not '{scope_region}'."
        )
    if service != "execute-api":
        raise SignatureError(f"Credential should be scoped to correct service: '{service}'.")
    amz_date = (lower.get("x-amz-date") or [""])[0]
    try:
        when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise SignatureError("Missing Authentication Token") from None
    current = now or datetime.now(UTC)
    if abs((current - when).total_seconds()) > MAX_SKEW_S or not amz_date.startswith(day):
        raise SignatureError("Signature expired")
    signed = match["signed"].split(";")
    if "host" not in signed:
        raise SignatureError(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        )
    canonical = "\n".join(
        [
            method.upper(),
            canonical_path(raw_path),
            canonical_query(raw_query),
            "".join(f"{h}:{','.join(_trim(v) for v in lower.get(h, []))}\n" for h in signed),
            match["signed"],
            (lower.get("x-amz-content-sha256") or [hashlib.sha256(body).hexdigest()])[0],
        ]
    )
    scope = f"{day}/{scope_region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{secret}".encode()
    for part in (day, scope_region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match["signature"]):
        raise SignatureError(MISMATCH)
    return caller


def _trim(value: str) -> str:
    return " ".join(value.strip().split())


def canonical_path(raw_path: str) -> str:
    """Non-S3 services encode the (already encoded) path once more; empty is ``/``."""
    return quote(raw_path or "/", safe="/~")


def canonical_query(raw_query: str) -> str:
    pairs = parse_qsl(raw_query, keep_blank_values=True)
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)

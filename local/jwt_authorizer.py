"""API Gateway's native JWT authorizer of HTTP APIs.

What AWS does, reproduced: the token is the identity source's value (``Authorization``, with or
without ``Bearer ``); missing: 401 without further checks. The signing keys come from the
issuer's OpenID discovery document (``{issuer}/.well-known/openid-configuration`` ->
``jwks_uri``); the token must be RS256-signed by a key of that set (``kid``), not expired
(``exp``), already valid (``nbf``), issued by the issuer (``iss``), and carry one of the
configured audiences in ``aud`` (or ``client_id``). Any failure is a 401 ``Unauthorized``.
The claims reach the integration as ``requestContext.authorizer.jwt.claims``, values as strings
(arrays flattened as AWS does: ``[a b]``).
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from typing import Any

import jwt

from local.http_controlplane import HttpAuthorizer

_CACHE_S = 300.0


class JwksCache:
    """The issuer's keys, fetched once per 5 minutes (API Gateway also caches them)."""

    def __init__(self) -> None:
        self._keys: dict[str, tuple[float, jwt.PyJWKSet]] = {}

    async def keys(self, issuer: str) -> jwt.PyJWKSet:
        cached = self._keys.get(issuer)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        keyset = await asyncio.to_thread(_fetch, issuer)
        self._keys[issuer] = (time.monotonic() + _CACHE_S, keyset)
        return keyset


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - the issuer's URL
        return json.loads(response.read())


def _fetch(issuer: str) -> jwt.PyJWKSet:
    discovery = _get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
    return jwt.PyJWKSet.from_dict(_get_json(discovery["jwks_uri"]))


def bearer(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    return value or None


async def verify(authorizer: HttpAuthorizer, token: str, cache: JwksCache) -> dict[str, str]:
    """The token's claims (as API Gateway passes them on), or PermissionError."""
    if not authorizer.issuer:
        raise PermissionError("JWT authorizer without an issuer")
    try:
        header = jwt.get_unverified_header(token)
        keyset = await cache.keys(authorizer.issuer)
        key = next((k for k in keyset.keys if k.key_id == header.get("kid")), None)
        if key is None:
            raise PermissionError("no key of the issuer's JWKS has this kid")
        claims = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            issuer=authorizer.issuer,
            options={"verify_aud": False, "require": ["exp", "iss"]},
        )
    except (jwt.PyJWTError, OSError, ValueError, KeyError) as exc:
        raise PermissionError(str(exc)) from None
    audiences = claims.get("aud")
    audiences = [audiences] if isinstance(audiences, str) else list(audiences or [])
    if claims.get("client_id"):
        audiences.append(claims["client_id"])
    if not set(audiences) & set(authorizer.audience):
        raise PermissionError("the token's audience is not configured")
    return {k: _claim_text(v) for k, v in claims.items()}


def _claim_text(value: Any) -> str:
    """A claim as API Gateway hands it on: strings as they are, arrays flattened the way AWS
    prints them (``["a", "b"]`` becomes ``[a b]``), other values as JSON text."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(v if isinstance(v, str) else json.dumps(v) for v in value) + "]"
    return json.dumps(value)

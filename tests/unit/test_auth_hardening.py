"""Security review items 1 and 7: JWKS tokens for other applications, token_use, the key cache
per (JWKS URL, kid) with expiry, and how refused tokens are logged."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from conftest import authorizer_event
from cryptography.hazmat.primitives.asymmetric import rsa
from test_authorizer import RSA_KEY, JwksServer, allow, asym_token, b64, deny, hs_token
from wsnotify import auth

OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def jwks(aws: Any, env: pytest.MonkeyPatch) -> Iterator[JwksServer]:
    server = JwksServer()
    env.setenv("AUTH_MODE", "jwks")
    env.setenv("JWKS_URL", server.url)
    env.setenv("JWT_ISSUER", "https://tenant.auth.example/")
    env.setenv("JWT_AUDIENCE", "notify-api")
    yield server
    server.stop()


@pytest.mark.parametrize("missing", ["JWT_ISSUER", "JWT_AUDIENCE"])
def test_jwks_mode_refuses_to_run_without_issuer_and_audience(
    jwks: JwksServer,
    env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    missing: str,
) -> None:
    jwks.add(RSA_KEY.public_key(), "rsa1", "RS256")
    env.delenv(missing)
    # A token of another application of the same identity provider: other aud and iss.
    deny(asym_token(RSA_KEY, "RS256", "rsa1", aud="another-app", iss="https://other/"))
    assert json.loads(capsys.readouterr().out)["reason"] == "ConfigError"
    assert any(
        r.levelno == logging.ERROR and "requires JWT_ISSUER and JWT_AUDIENCE" in r.getMessage()
        for r in caplog.records
    )
    assert jwks.hits == 0  # refused before anything is fetched


def test_jwks_tokens_must_carry_iss_and_aud(jwks: JwksServer) -> None:
    jwks.add(RSA_KEY.public_key(), "rsa1", "RS256")
    payload = {"sub": "alice", "exp": int(time.time()) + 300}
    deny(jwt.encode(payload, RSA_KEY, "RS256", headers={"kid": "rsa1"}))
    deny(
        jwt.encode(
            {**payload, "iss": "https://tenant.auth.example/"},
            RSA_KEY,
            "RS256",
            headers={"kid": "rsa1"},
        )
    )
    assert allow(asym_token(RSA_KEY, "RS256", "rsa1"))["principalId"] == "alice"


def test_cognito_token_use(jwks: JwksServer, env: pytest.MonkeyPatch) -> None:
    jwks.add(RSA_KEY.public_key(), "rsa1", "RS256")
    env.setenv("JWT_TOKEN_USE", "access")
    deny(asym_token(RSA_KEY, "RS256", "rsa1", token_use="id"))
    deny(asym_token(RSA_KEY, "RS256", "rsa1"))
    assert allow(asym_token(RSA_KEY, "RS256", "rsa1", token_use="access"))


def test_removed_key_stops_working_when_the_cache_expires(
    jwks: JwksServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    jwks.add(RSA_KEY.public_key(), "rsa1", "RS256")
    assert allow(asym_token(RSA_KEY, "RS256", "rsa1"))
    jwks.keys.clear()  # the identity provider revokes the key
    assert allow(asym_token(RSA_KEY, "RS256", "rsa1"))  # still cached (SECRET_CACHE_SECONDS)
    later = time.monotonic() + 301
    monkeypatch.setattr("wsnotify.auth.time.monotonic", lambda: later)
    deny(asym_token(RSA_KEY, "RS256", "rsa1"))
    assert jwks.hits == 2


def test_keys_are_cached_per_url_not_per_kid(jwks: JwksServer, env: pytest.MonkeyPatch) -> None:
    jwks.add(RSA_KEY.public_key(), "k1", "RS256")
    assert allow(asym_token(RSA_KEY, "RS256", "k1"))
    other = JwksServer()  # another provider that happens to use the same kid
    try:
        other.add(OTHER_KEY.public_key(), "k1", "RS256")
        env.setenv("JWKS_URL", other.url)
        deny(asym_token(RSA_KEY, "RS256", "k1"))
        assert allow(asym_token(OTHER_KEY, "RS256", "k1"))
    finally:
        other.stop()


def test_unknown_kid_refetches_at_most_every_ten_seconds(jwks: JwksServer) -> None:
    jwks.add(RSA_KEY.public_key(), "rsa1", "RS256")
    assert allow(asym_token(RSA_KEY, "RS256", "rsa1"))
    for n in range(5):
        deny(asym_token(RSA_KEY, "RS256", f"made-up-{n}"))
    assert jwks.hits == 1
    deny(asym_token(RSA_KEY, "RS256", ""))  # no kid at all: nothing to select


def test_rotated_in_key_is_found_after_the_refetch_interval(
    jwks: JwksServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    jwks.add(RSA_KEY.public_key(), "rsa1", "RS256")
    assert allow(asym_token(RSA_KEY, "RS256", "rsa1"))
    jwks.add(OTHER_KEY.public_key(), "rsa2", "RS256")
    later = time.monotonic() + auth.JwksKeys.MIN_REFETCH_SECONDS + 1
    monkeypatch.setattr("wsnotify.auth.time.monotonic", lambda: later)
    assert allow(asym_token(OTHER_KEY, "RS256", "rsa2"))


def _raw_token(claims: str, key: str) -> str:
    import hashlib
    import hmac

    header = b64(b'{"alg":"HS256","typ":"JWT"}')
    payload = b64(claims.encode())
    sig = hmac.new(key.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(sig)}"


@pytest.mark.parametrize(
    "claims",
    [
        '{"sub": "alice", "exp": 1e400}',  # infinity: int() overflows inside PyJWT
        '{"sub": "alice", "exp": NaN}',
        '{"sub": "alice", "exp": 99999999999, "nbf": -1e400}',
    ],
)
def test_malformed_claims_are_a_warning_not_an_error(
    aws: Any,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    claims: str,
) -> None:
    from conftest import SECRET

    token = _raw_token(claims, SECRET)
    caplog.set_level(logging.INFO, logger="wsnotify")
    deny(token)
    out = capsys.readouterr()
    line = json.loads(out.out)
    assert line["reason"] in ("MalformedToken", "DecodeError", "ExpiredSignatureError")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and all(r.exc_info is None for r in warnings)
    assert token not in out.out + out.err + caplog.text


def test_bad_tokens_log_a_reason_code_at_warning(
    aws: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wsnotify")
    expired = hs_token({"exp": int(time.time()) - 600})
    for token in (expired, "not-a-jwt", hs_token(key="x" * 40)):
        deny(token)
    deny(event=authorizer_event())
    assert [r.levelno for r in caplog.records] == [logging.WARNING] * 4
    assert "ExpiredSignatureError" in caplog.records[0].getMessage()
    assert "NoToken" in caplog.records[3].getMessage()
    assert expired not in caplog.text + capsys.readouterr().out

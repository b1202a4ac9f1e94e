from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import authorizer
import jwt
import pytest
from conftest import METHOD_ARN, SECRET, SECRET_PARAM, authorizer_event
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from wsnotify import clients


def hs_token(claims: dict[str, Any] | None = None, key: str = SECRET, **headers: Any) -> str:
    base = {"sub": "alice", "exp": int(time.time()) + 300}
    base.update(claims or {})
    return jwt.encode(
        {k: v for k, v in base.items() if v is not None}, key, "HS256", headers or None
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def allow(token: str | None = None, **kw: Any) -> dict[str, Any]:
    event = kw.pop("event", None) or authorizer_event(query={"token": token} if token else None)
    return authorizer.handler(event, None)


def deny(token: str | None = None, event: dict[str, Any] | None = None) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$") as info:
        allow(token, event=event)
    assert type(info.value) is Exception


def test_hs256_allows_and_builds_policy(aws: Any) -> None:
    exp = int(time.time()) + 300
    out = allow(hs_token({"exp": exp}))
    assert out == {
        "principalId": "alice",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": METHOD_ARN}
            ],
        },
        "context": {"userId": "alice", "tokenExpiresAt": exp},
    }


def test_token_in_subprotocol_header(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    token = hs_token({"sub": "bob"})
    event = authorizer_event(headers={"Sec-WebSocket-Protocol": f"notify.v1, {token}"})
    assert allow(event=event)["principalId"] == "bob"
    line = json.loads(capsys.readouterr().out.strip())
    assert line["tokenSource"] == "subprotocol" and line["allowed"] is True
    assert token not in json.dumps(line)


def test_query_token_preferred_and_never_logged(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    token = hs_token()
    event = authorizer_event(
        query={"token": token},
        headers={"sec-websocket-protocol": "notify.v1, " + hs_token({"sub": "x"})},
    )
    assert allow(event=event)["principalId"] == "alice"
    out = capsys.readouterr()
    assert token not in out.out + out.err
    assert json.loads(out.out)["tokenSource"] == "query"


def test_missing_token(aws: Any) -> None:
    deny(event=authorizer_event())
    deny(event=authorizer_event(headers={"Sec-WebSocket-Protocol": "notify.v1"}))


def test_expired_token(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    token = hs_token({"exp": int(time.time()) - 120})
    deny(token)
    out = capsys.readouterr()
    assert json.loads(out.out)["reason"] == "ExpiredSignatureError"
    assert token not in out.out + out.err


def test_expiry_within_leeway_is_accepted(aws: Any, env: pytest.MonkeyPatch) -> None:
    assert allow(hs_token({"exp": int(time.time()) - 10}))["principalId"] == "alice"
    env.setenv("JWT_LEEWAY_SECONDS", "0")
    deny(hs_token({"exp": int(time.time()) - 10}))


def test_not_yet_valid(aws: Any) -> None:
    deny(hs_token({"nbf": int(time.time()) + 600}))


def test_missing_exp_or_sub(aws: Any) -> None:
    deny(hs_token({"exp": None}))
    deny(hs_token({"sub": None}))
    deny(hs_token({"sub": ""}))
    deny(hs_token({"sub": "x" * 129}))


def test_issuer_and_audience(aws: Any, env: pytest.MonkeyPatch) -> None:
    # Not configured: not checked.
    assert allow(hs_token({"iss": "anyone", "aud": "anything"}))
    env.setenv("JWT_ISSUER", "https://issuer.example/")
    env.setenv("JWT_AUDIENCE", "notify")
    assert allow(hs_token({"iss": "https://issuer.example/", "aud": "notify"}))
    deny(hs_token({"iss": "https://evil.example/", "aud": "notify"}))
    deny(hs_token({"iss": "https://issuer.example/", "aud": "other"}))
    deny(hs_token({"aud": "notify"}))  # issuer required when configured
    deny(hs_token({"iss": "https://issuer.example/"}))  # audience required when configured


def test_wrong_key(aws: Any) -> None:
    deny(hs_token(key="another-secret-another-secret-another-secret"))


def test_alg_none_is_refused(aws: Any) -> None:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = b64(json.dumps({"sub": "alice", "exp": int(time.time()) + 300}).encode())
    deny(f"{header}.{payload}.")
    deny(
        event=authorizer_event(
            headers={"Sec-WebSocket-Protocol": f"notify.v1, {header}.{payload}."}
        )
    )


def test_garbage_token(aws: Any) -> None:
    deny("not-a-jwt")


def test_rs256_token_refused_in_hs256_mode(aws: Any) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    deny(jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, key, "RS256"))


def test_secret_cached_then_refetched(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert allow(hs_token())
    clients.ssm().delete_parameter(Name=SECRET_PARAM)
    assert allow(hs_token())  # served from the cache
    later = time.monotonic() + 301  # SECRET_CACHE_SECONDS defaults to 300
    monkeypatch.setattr("wsnotify.auth.time.monotonic", lambda: later)
    deny(hs_token())  # cache expired, parameter gone: fail closed


@pytest.mark.filterwarnings("ignore:The HMAC key")
def test_short_secret_is_refused(aws: Any) -> None:
    clients.ssm().put_parameter(
        Name=SECRET_PARAM, Value="short", Type="SecureString", Overwrite=True
    )
    deny(hs_token(key="short"))


@pytest.mark.parametrize(
    ("variables", "reason"),
    [
        ({"AUTH_MODE": "disabled"}, "ConfigError"),
        ({"JWT_ALGORITHMS": "HS256,RS256"}, "ConfigError"),
        ({"JWT_ALGORITHMS": "none"}, "ConfigError"),
        ({"JWT_ALGORITHMS": ","}, "ConfigError"),
        ({"JWT_SECRET_PARAMETER": ""}, "ConfigError"),
        ({"AUTH_MODE": "jwks", "JWKS_URL": ""}, "ConfigError"),
        ({"JWT_LEEWAY_SECONDS": "soon"}, "ConfigError"),
    ],
)
def test_misconfiguration_fails_closed(
    aws: Any,
    env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variables: dict[str, str],
    reason: str,
) -> None:
    for name, value in variables.items():
        env.setenv(name, value)
    deny(hs_token())
    assert json.loads(capsys.readouterr().out)["reason"] == reason


# --- JWKS (RS256 / ES256) served from 127.0.0.1 -------------------------------------------


class JwksServer:
    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                body = json.dumps({"keys": outer.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def add(self, public_key: Any, kid: str, alg: str) -> None:
        algo = jwt.algorithms.RSAAlgorithm if alg.startswith("RS") else jwt.algorithms.ECAlgorithm
        jwk = json.loads(algo.to_jwk(public_key))
        jwk.update(kid=kid, alg=alg, use="sig")
        self.keys.append(jwk)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def jwks(aws: Any, env: pytest.MonkeyPatch) -> Iterator[JwksServer]:
    server = JwksServer()
    env.setenv("AUTH_MODE", "jwks")
    env.setenv("JWKS_URL", server.url)
    env.setenv("JWT_ISSUER", "https://tenant.auth.example/")
    env.setenv("JWT_AUDIENCE", "notify-api")
    yield server
    server.stop()


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def asym_token(key: Any, alg: str, kid: str, **claims: Any) -> str:
    payload = {
        "sub": "alice",
        "exp": int(time.time()) + 300,
        "iss": "https://tenant.auth.example/",
        "aud": "notify-api",
    }
    payload.update(claims)
    return jwt.encode(payload, key, alg, headers={"kid": kid})


def test_jwks_rs256_and_es256(jwks: JwksServer) -> None:
    jwks.add(RSA_KEY.public_key(), "rsa1", "RS256")
    jwks.add(EC_KEY.public_key(), "ec1", "ES256")
    assert allow(asym_token(RSA_KEY, "RS256", "rsa1"))["principalId"] == "alice"
    assert allow(asym_token(EC_KEY, "ES256", "ec1", sub="bob"))["principalId"] == "bob"
    assert jwks.hits == 1  # key set cached across invocations


def test_jwks_failures(jwks: JwksServer) -> None:
    jwks.add(RSA_KEY.public_key(), "rsa1", "RS256")
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    deny(asym_token(other, "RS256", "rsa1"))  # wrong key, same kid
    deny(asym_token(RSA_KEY, "RS256", "unknown-kid"))
    deny(asym_token(RSA_KEY, "RS256", "rsa1", exp=int(time.time()) - 600))
    deny(asym_token(RSA_KEY, "RS256", "rsa1", iss="https://evil.example/"))
    deny(asym_token(RSA_KEY, "RS256", "rsa1", aud="someone-else"))
    deny(asym_token(RSA_KEY, "RS512", "rsa1"))  # not in the default allow-list


def test_jwks_hs_rs_confusion_is_refused(jwks: JwksServer) -> None:
    jwks.add(RSA_KEY.public_key(), "rsa1", "RS256")
    # Classic confusion: HS256 signed with the public key (which the attacker knows) as secret.
    pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa1"}).encode())
    claims = {
        "sub": "mallory",
        "exp": int(time.time()) + 300,
        "iss": "https://tenant.auth.example/",
        "aud": "notify-api",
    }
    payload = b64(json.dumps(claims).encode())
    signature = b64(hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    deny(f"{header}.{payload}.{signature}")


def test_jwks_unreachable_fails_closed(jwks: JwksServer, env: pytest.MonkeyPatch) -> None:
    jwks.stop()
    deny(asym_token(RSA_KEY, "RS256", "rsa1"))


def test_jwks_mode_refuses_hmac_allow_list(jwks: JwksServer, env: pytest.MonkeyPatch) -> None:
    env.setenv("JWT_ALGORITHMS", "RS256,HS256")
    jwks.add(RSA_KEY.public_key(), "rsa1", "RS256")
    deny(asym_token(RSA_KEY, "RS256", "rsa1"))

"""Token extraction, subprotocol selection and JWT verification (HS256 via SSM, or JWKS).

PyJWT is imported lazily so connect (which uses the helpers here) never pays for it."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from wsnotify import clients, log
from wsnotify.config import Config
from wsnotify.errors import ConfigError
from wsnotify.validation import MAX_USER_ID_LENGTH

SUBPROTOCOL_HEADER = "sec-websocket-protocol"
# Three base64url parts; the signature may be empty so that `alg: none` tokens reach the
# verifier and are refused there (rather than silently treated as a protocol name).
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_HMAC_ALGS = frozenset({"HS256", "HS384", "HS512"})
_ASYMMETRIC_ALGS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)


class Unauthorized(Exception):
    """Any reason to refuse a token. The reason is logged; the client only sees 401."""


def header(event: dict[str, Any], name: str) -> str | None:
    """Case-insensitive header lookup (API Gateway keeps the client's spelling)."""
    headers = event.get("headers")
    if not isinstance(headers, dict):
        return None
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name and isinstance(value, str):
            return value
    return None


def offered_subprotocols(event: dict[str, Any]) -> list[str]:
    raw = header(event, SUBPROTOCOL_HEADER) or ""
    return [part.strip() for part in raw.split(",") if part.strip()]


def looks_like_jwt(value: str) -> bool:
    return _JWT_SHAPE.fullmatch(value) is not None


def chosen_subprotocol(offered: list[str]) -> str | None:
    """The one value connect echoes: the first that is not a token. None when nothing is offered
    or when only a token is (echoing it would put the token in a response header)."""
    for value in offered:
        if not looks_like_jwt(value):
            return value
    return None


def token_from_event(event: dict[str, Any]) -> str | None:
    query = event.get("queryStringParameters")
    if isinstance(query, dict):
        token = query.get("token")
        if isinstance(token, str) and token:
            return token
    for value in offered_subprotocols(event):
        if looks_like_jwt(value):
            return value
    return None


def bearer_token(event: dict[str, Any]) -> str | None:
    """The token of an ``Authorization: Bearer <jwt>`` header (HTTP API requests)."""
    value = header(event, "authorization") or ""
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class _Cache:
    """A value with an expiry, shared by the invocations of one process.

    With a `grace`, a value whose refresh fails with an AWS error (throttling, an SSM outage) is
    kept for up to `grace` seconds past its expiry, and the refresh is tried again at most every
    `_RETRY_SECONDS`, instead of failing every caller. Definitive answers (ConfigError, such as
    a parameter that no longer exists) are never covered by the grace."""

    _RETRY_SECONDS = 5.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # key -> (refresh after, usable until, value)
        self._entries: dict[str, tuple[float, float, Any]] = {}

    def get(self, key: str, ttl: float, load: Any, grace: float = 0) -> Any:
        with self._lock:
            hit = self._entries.get(key)
            now = time.monotonic()
            if hit is not None and hit[0] > now:
                return hit[2]
            try:
                value = load()
            except (BotoCoreError, ClientError):
                if hit is None or hit[1] <= now:
                    raise
                log.logger.warning("refresh of %s failed: using the last good value", key)
                self._entries[key] = (min(now + self._RETRY_SECONDS, hit[1]), hit[1], hit[2])
                return hit[2]
            self._entries[key] = (now + ttl, now + ttl + grace, value)
            return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


cache = _Cache()

# The SSM parameter label that marks the secret being rotated out (docs/architecture.md,
# "Secret rotation"): tokens signed with it stay valid until the label is removed.
PREVIOUS_LABEL = "previous"


def _hs256_secrets(config: Config) -> tuple[str, ...]:
    """The accepted HS256 secrets: the parameter's current value, then the version labelled
    `previous` when there is one. One GetParameters call for both."""
    name = config.require("jwt_secret_parameter")

    def load() -> tuple[str, ...]:
        out = clients.ssm().get_parameters(
            Names=[name, f"{name}:{PREVIOUS_LABEL}"], WithDecryption=True
        )
        # Newest version first: the current secret is tried before the previous one.
        found = sorted(out.get("Parameters", []), key=lambda p: -int(p.get("Version", 0)))
        if name in out.get("InvalidParameters", []) or not found:
            raise ConfigError("the HS256 secret parameter does not exist")
        values = tuple(dict.fromkeys(str(p["Value"]) for p in found))
        if any(len(value) < 32 for value in values):
            # RFC 7518 3.2: an HS256 key must be at least 256 bits.
            raise ConfigError("the HS256 secret is shorter than 32 characters")
        return values

    return tuple(
        cache.get(f"ssm:{name}", config.secret_cache_seconds, load, config.secret_grace_seconds)
    )


class JwksKeys:
    """Signing keys cached per (JWKS URL, `kid`), never by `kid` alone: two identity providers
    (or two tenants) may publish the same `kid`. Every key of a fetch expires with that fetch, so
    a key the provider has removed stops being accepted once the cache expires (PyJWKClient's
    `cache_keys=True` would keep it for the life of the process)."""

    # An unknown `kid` refetches the set (key rotation), at most this often per URL: a stream of
    # tokens with made-up `kid`s cannot turn the authorizer into a JWKS request amplifier.
    MIN_REFETCH_SECONDS = 10.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[tuple[str, str], tuple[float, Any]] = {}
        self._fetched: dict[str, float] = {}

    def key(self, url: str, kid: str, ttl: float, fetch: Any) -> Any:
        with self._lock:
            now = time.monotonic()
            hit = self._keys.get((url, kid))
            if hit is not None and hit[0] > now:
                return hit[1]
            last = self._fetched.get(url)
            if hit is None and last is not None and now - last < min(ttl, self.MIN_REFETCH_SECONDS):
                raise Unauthorized("UnknownKeyId")
            keys: dict[str, Any] = fetch(url)
            expires = now + ttl
            self._keys = {k: v for k, v in self._keys.items() if k[0] != url}
            for key_id, value in keys.items():
                self._keys[(url, key_id)] = (expires, value)
            self._fetched[url] = now
            if kid not in keys:
                raise Unauthorized("UnknownKeyId")
            return keys[kid]

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()
            self._fetched.clear()


jwks_keys = JwksKeys()


def _fetch_jwks(url: str) -> dict[str, Any]:
    """The signing keys of a JWKS document, by `kid` (keys without one cannot be selected)."""
    import jwt

    client = jwt.PyJWKClient(url, cache_jwk_set=False, cache_keys=False, timeout=5)
    return {
        k.key_id: k.key
        for k in client.get_jwk_set().keys
        if k.key_id and k.public_key_use in (None, "sig")
    }


def _jwks_key(config: Config, token: str) -> Any:
    import jwt

    kid = jwt.get_unverified_header(token).get("kid")
    if not isinstance(kid, str) or not kid:
        raise Unauthorized("NoKeyId")
    return jwks_keys.key(
        config.require("jwks_url"), kid, max(config.secret_cache_seconds, 0), _fetch_jwks
    )


def check(config: Config) -> None:
    """Settings the authorizer refuses to run without. In jwks mode the key set is typically
    shared (Google, Entra `common`, an Auth0 tenant serving several apps, Cognito ID vs access
    tokens): without `iss` and `aud` a token minted for another application would pass."""
    if config.auth_mode not in ("hs256", "jwks"):
        raise ConfigError("the authorizer runs only with AUTH_MODE hs256 or jwks")
    if config.auth_mode == "jwks":
        config.require("jwks_url")
        if not config.jwt_issuer or not config.jwt_audience:
            raise ConfigError(
                "AUTH_MODE=jwks requires JWT_ISSUER and JWT_AUDIENCE: without them tokens "
                "issued to other applications by the same identity provider are accepted"
            )
    algorithms(config)


def algorithms(config: Config) -> list[str]:
    """The allow-list; a family that does not match the mode is a configuration error, which is
    what prevents HS/RS confusion (a public key used as an HMAC secret)."""
    allowed = _HMAC_ALGS if config.auth_mode == "hs256" else _ASYMMETRIC_ALGS
    algs = list(config.jwt_algorithms)
    bad = [a for a in algs if a not in allowed]
    if not algs or bad:
        raise ConfigError(f"JWT_ALGORITHMS not allowed with AUTH_MODE={config.auth_mode}")
    return algs


@dataclass(frozen=True)
class Identity:
    """A verified token: the user, the expiry (epoch seconds) and every claim."""

    user_id: str
    expires_at: int
    claims: dict[str, Any]


def _decode(config: Config, token: str, keys: tuple[Any, ...], algs: list[str]) -> dict[str, Any]:
    """Decode with the first key whose signature matches (during a rotation: the current secret,
    then the previous one). Any other failure is final."""
    import jwt

    for key in keys[:-1]:
        try:
            return _decode_with(config, token, key, algs)
        except jwt.InvalidSignatureError:
            continue
    return _decode_with(config, token, keys[-1], algs)


def _decode_with(config: Config, token: str, key: Any, algs: list[str]) -> dict[str, Any]:
    import jwt

    required = ["exp", "sub"]
    if config.jwt_issuer:
        required.append("iss")
    if config.jwt_audience:
        required.append("aud")
    return dict(
        jwt.decode(
            token,
            key,
            algorithms=algs,
            issuer=config.jwt_issuer or None,
            audience=config.jwt_audience or None,
            leeway=config.jwt_leeway_seconds,
            options={
                "require": required,
                "verify_aud": bool(config.jwt_audience),
                "verify_iss": bool(config.jwt_issuer),
            },
        )
    )


def verify(config: Config, token: str) -> Identity:
    """Verify a token and return who it names. Raises Unauthorized (or ConfigError)."""
    import jwt

    check(config)
    algs = algorithms(config)
    try:
        if config.auth_mode == "hs256":
            keys: tuple[Any, ...] = _hs256_secrets(config)
        else:
            keys = (_jwks_key(config, token),)
        claims = _decode(config, token, keys, algs)
    except jwt.PyJWTError as exc:
        raise Unauthorized(type(exc).__name__) from None
    except (ValueError, TypeError, OverflowError, KeyError, AttributeError):
        # Claims PyJWT cannot even compare (an `exp` of 1e400, a header that is not an object):
        # a malformed token is the client's mistake, not a server error.
        raise Unauthorized("MalformedToken") from None
    if config.jwt_token_use and claims.get("token_use") != config.jwt_token_use:
        raise Unauthorized("WrongTokenUse")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not 1 <= len(sub) <= MAX_USER_ID_LENGTH:
        raise Unauthorized("InvalidSubject")
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise Unauthorized("MalformedToken")
    return Identity(sub, int(exp), claims)

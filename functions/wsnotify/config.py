"""Configuration from the environment variables listed in docs/architecture.md."""

from __future__ import annotations

import os
from dataclasses import dataclass

from wsnotify.errors import ConfigError

AUTH_MODES = ("disabled", "hs256", "jwks")


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("true", "1", "yes"):
        return True
    if raw in ("false", "0", "no"):
        return False
    raise ConfigError(f"{name} must be true or false")


def _int(name: str, default: int, minimum: int, maximum: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}")
    return value


def _str(name: str, default: str = "") -> str:
    return os.environ.get(name, "").strip() or default


@dataclass(frozen=True)
class Config:
    connections_table: str
    connections_user_index: str
    notifications_table: str
    connections_endpoint: str
    auth_mode: str
    jwt_secret_parameter: str
    jwks_url: str
    jwt_issuer: str
    jwt_audience: str
    jwt_algorithms: tuple[str, ...]
    jwt_leeway_seconds: int
    secret_cache_seconds: int
    connection_ttl_seconds: int
    allow_client_push: bool
    allow_broadcast: bool
    persist_default: bool
    history_ttl_seconds: int
    history_max_ttl_seconds: int
    send_concurrency: int
    broadcast_scan_segments: int
    idempotency_window_seconds: int
    poll_lookback_seconds: int
    connect_grace_seconds: int
    send_time_margin_ms: int
    secret_grace_seconds: int

    def require(self, field: str) -> str:
        """Return a string setting that this function cannot work without."""
        value = getattr(self, field)
        if not value:
            raise ConfigError(f"{field.upper()} is not set")
        return str(value)


def load() -> Config:
    """Read the environment. Cheap enough to call once per invocation, so tests can vary it."""
    auth_mode = _str("AUTH_MODE", "hs256").lower()
    if auth_mode not in AUTH_MODES:
        raise ConfigError(f"AUTH_MODE must be one of {', '.join(AUTH_MODES)}")
    default_algs = "RS256,ES256" if auth_mode == "jwks" else "HS256"
    algorithms = tuple(
        a.strip() for a in _str("JWT_ALGORITHMS", default_algs).split(",") if a.strip()
    )
    max_ttl = _int("HISTORY_MAX_TTL_SECONDS", 2_592_000, 60, 31_536_000)
    return Config(
        connections_table=_str("CONNECTIONS_TABLE"),
        connections_user_index=_str("CONNECTIONS_USER_INDEX", "userId-index"),
        notifications_table=_str("NOTIFICATIONS_TABLE"),
        connections_endpoint=_str("CONNECTIONS_ENDPOINT").rstrip("/"),
        auth_mode=auth_mode,
        jwt_secret_parameter=_str("JWT_SECRET_PARAMETER"),
        jwks_url=_str("JWKS_URL"),
        jwt_issuer=_str("JWT_ISSUER"),
        jwt_audience=_str("JWT_AUDIENCE"),
        jwt_algorithms=algorithms,
        jwt_leeway_seconds=_int("JWT_LEEWAY_SECONDS", 30, 0, 600),
        # Floor 1: a cache of 0 would call SSM on every connect (throttling turns into 401s).
        secret_cache_seconds=_int("SECRET_CACHE_SECONDS", 300, 1, 86_400),
        secret_grace_seconds=_int("SECRET_GRACE_SECONDS", 3600, 0, 86_400),
        connection_ttl_seconds=_int("CONNECTION_TTL_SECONDS", 7500, 60, 86_400),
        allow_client_push=_bool("ALLOW_CLIENT_PUSH", False),
        allow_broadcast=_bool("ALLOW_BROADCAST", False),
        persist_default=_bool("PERSIST_DEFAULT", True),
        history_ttl_seconds=_int("HISTORY_TTL_SECONDS", 604_800, 60, max_ttl),
        history_max_ttl_seconds=max_ttl,
        send_concurrency=_int("SEND_CONCURRENCY", 32, 1, 512),
        broadcast_scan_segments=_int("BROADCAST_SCAN_SEGMENTS", 4, 1, 64),
        idempotency_window_seconds=_int("IDEMPOTENCY_WINDOW_SECONDS", 86_400, 60, 604_800),
        poll_lookback_seconds=_int("POLL_LOOKBACK_SECONDS", 30, 0, 900),
        connect_grace_seconds=_int("CONNECT_GRACE_SECONDS", 10, 0, 300),
        send_time_margin_ms=_int("SEND_TIME_MARGIN_MS", 2000, 0, 60_000),
    )

"""Configuration from the environment variables listed in docs/architecture.md."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from wsnotify.errors import ConfigError

AUTH_MODES = ("disabled", "hs256", "jwks")
CLIENT_PUSH_POLICIES = ("anybody", "claim", "lambda")


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
    connections_expiry_index: str
    notifications_table: str
    connections_endpoint: str
    auth_mode: str
    jwt_secret_parameter: str
    jwks_url: str
    jwt_issuer: str
    jwt_audience: str
    jwt_token_use: str
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
    client_push_policy: str = "anybody"
    client_push_claim: str = ""
    client_push_policy_function: str = ""
    rate_limit_table: str = ""
    client_push_rate_limit: int = 30
    client_push_rate_window: int = 60
    client_max_recipients: int = 10
    client_history_max_ttl_seconds: int = 86_400
    # IAM principals (user/role ARNs) that may ask the HTTP API for connection ids.
    admin_principal_arns: tuple[str, ...] = ()
    # Mobile push (issue 11): the device registry and the SNS platform application per platform.
    devices_table: str = ""
    devices_user_index: str = "userId-index"
    platform_applications: dict[str, str] = field(default_factory=dict)
    # Topics (issue 12): subscriptions, per-topic history, namespaces (wsnotify.topics).
    subscriptions_table: str = ""
    subscriptions_user_index: str = "userId-index"
    topic_history_table: str = ""
    topic_namespaces: dict[str, Any] = field(default_factory=dict)
    # The claim listing a user's topic patterns; set (by Terraform) where topics are on. The
    # authorizer copies it into its context only when set.
    topics_claim: str = ""
    # Profiles and segments (issue 12): the profiles, the index of the declared attributes.
    profiles_table: str = ""
    segment_index_table: str = ""
    segment_attributes: tuple[str, ...] = ()
    # Sharded fan-out jobs (issue 12): audiences over shard_size go to the fanout worker via SQS.
    jobs_table: str = ""
    fanout_queue_url: str = ""
    shard_size: int = 1000
    max_receive_count: int = 3

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
    policy = _str("CLIENT_PUSH_POLICY", "anybody").lower()
    if policy not in CLIENT_PUSH_POLICIES:
        raise ConfigError(f"CLIENT_PUSH_POLICY must be one of {', '.join(CLIENT_PUSH_POLICIES)}")
    return Config(
        connections_table=_str("CONNECTIONS_TABLE"),
        connections_user_index=_str("CONNECTIONS_USER_INDEX", "userId-index"),
        connections_expiry_index=_str("CONNECTIONS_EXPIRY_INDEX", "tokenExpiresAt-index"),
        notifications_table=_str("NOTIFICATIONS_TABLE"),
        connections_endpoint=_str("CONNECTIONS_ENDPOINT").rstrip("/"),
        auth_mode=auth_mode,
        jwt_secret_parameter=_str("JWT_SECRET_PARAMETER"),
        jwks_url=_str("JWKS_URL"),
        jwt_issuer=_str("JWT_ISSUER"),
        jwt_audience=_str("JWT_AUDIENCE"),
        jwt_token_use=_str("JWT_TOKEN_USE"),
        jwt_algorithms=algorithms,
        jwt_leeway_seconds=_int("JWT_LEEWAY_SECONDS", 30, 0, 600),
        # Floor 1: a cache of 0 would call SSM on every connect (throttling turns into 401s).
        secret_cache_seconds=_int("SECRET_CACHE_SECONDS", 300, 1, 86_400),
        secret_grace_seconds=_int("SECRET_GRACE_SECONDS", 3600, 0, 86_400),
        # At least API Gateway's 2-hour connection limit plus a minute: broadcast skips expired
        # rows, so a shorter TTL would hide connections that are still open.
        connection_ttl_seconds=_int("CONNECTION_TTL_SECONDS", 7500, 7260, 86_400),
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
        client_push_policy=policy,
        client_push_claim=_str("CLIENT_PUSH_CLAIM"),
        client_push_policy_function=_str("CLIENT_PUSH_POLICY_FUNCTION"),
        rate_limit_table=_str("RATE_LIMIT_TABLE"),
        client_push_rate_limit=_int("CLIENT_PUSH_RATE_LIMIT", 30, 1, 100_000),
        client_push_rate_window=_int("CLIENT_PUSH_RATE_WINDOW", 60, 1, 86_400),
        client_max_recipients=_int("CLIENT_MAX_RECIPIENTS", 10, 1, 100),
        client_history_max_ttl_seconds=_int(
            "CLIENT_HISTORY_MAX_TTL_SECONDS", 86_400, 60, 31_536_000
        ),
        admin_principal_arns=tuple(
            a.strip() for a in _str("ADMIN_PRINCIPAL_ARNS").split(",") if a.strip()
        ),
        devices_table=_str("DEVICES_TABLE"),
        devices_user_index=_str("DEVICES_USER_INDEX", "userId-index"),
        platform_applications=_platform_applications(),
        subscriptions_table=_str("SUBSCRIPTIONS_TABLE"),
        subscriptions_user_index=_str("SUBSCRIPTIONS_USER_INDEX", "userId-index"),
        topic_history_table=_str("TOPIC_HISTORY_TABLE"),
        topic_namespaces=_topic_namespaces(),
        topics_claim=_str("TOPICS_CLAIM"),
        profiles_table=_str("PROFILES_TABLE"),
        segment_index_table=_str("SEGMENT_INDEX_TABLE"),
        segment_attributes=tuple(
            a.strip() for a in _str("SEGMENT_ATTRIBUTES").split(",") if a.strip()
        ),
        jobs_table=_str("JOBS_TABLE"),
        fanout_queue_url=_str("FANOUT_QUEUE_URL"),
        # A shard's user ids travel in its SQS message: 1,000 ids of 128 characters fit 256 KB.
        shard_size=_int("SHARD_SIZE", 1000, 1, 1000),
        max_receive_count=_int("MAX_RECEIVE_COUNT", 3, 1, 1000),
    )


PLATFORMS = ("APNS", "APNS_SANDBOX", "GCM")


def _platform_applications() -> dict[str, str]:
    """PLATFORM_APPLICATIONS: a JSON object, platform (APNS, APNS_SANDBOX, GCM) => the ARN of
    its SNS platform application. Only the configured platforms accept devices."""
    raw = _str("PLATFORM_APPLICATIONS")
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise ConfigError("PLATFORM_APPLICATIONS must be a JSON object") from None
    if not isinstance(value, dict) or not all(
        k in PLATFORMS and isinstance(v, str) and v.startswith("arn:") for k, v in value.items()
    ):
        raise ConfigError(
            f"PLATFORM_APPLICATIONS must map {', '.join(PLATFORMS)} to platform application ARNs"
        )
    return dict(value)


def _topic_namespaces() -> dict[str, Any]:
    """TOPIC_NAMESPACES: a JSON object, namespace (key "" is the default namespace of topics
    without a colon) => {"self_subscribe": bool, "history": bool, "history_ttl_seconds": int}.
    Parsed into wsnotify.topics.Namespace by that module; only the shape is checked here."""
    raw = _str("TOPIC_NAMESPACES")
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise ConfigError("TOPIC_NAMESPACES must be a JSON object") from None
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ConfigError("TOPIC_NAMESPACES must map namespaces to objects of options")
    return dict(value)

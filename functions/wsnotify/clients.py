"""boto3 low-level clients, created once per process and shared (botocore clients are
thread-safe). Management API clients are cached per endpoint and pool size."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

_lock = threading.Lock()
_clients: dict[tuple[str, str, int], Any] = {}


def _get(key: tuple[str, str, int], factory: Any) -> Any:
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = factory()
                _clients[key] = client
    return client


def dynamodb() -> Any:
    # Pool sized for the fan-out workers that prune stale rows and the parallel GSI queries
    # (SEND_CONCURRENCY <= 512, but 64 sockets are plenty for DynamoDB latencies).
    return _get(
        ("dynamodb", "", 0),
        lambda: boto3.client(
            "dynamodb",
            config=BotoConfig(max_pool_connections=64, retries={"mode": "standard"}),
        ),
    )


def ssm() -> Any:
    return _get(("ssm", "", 0), lambda: boto3.client("ssm"))


def management(endpoint: str, pool_size: int) -> Any:
    """@connections client. botocore retries are off: delivery retries throttling itself, so the
    policy is ours, bounded and testable; short timeouts keep one dead socket from stalling."""

    def make() -> Any:
        config = BotoConfig(
            max_pool_connections=pool_size,
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=3,
            read_timeout=5,
            tcp_keepalive=True,
        )
        return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint, config=config)

    return _get(("apigatewaymanagementapi", endpoint, pool_size), make)


def reset() -> None:
    """Forget every cached client (tests)."""
    with _lock:
        _clients.clear()

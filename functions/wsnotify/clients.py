"""Connections to AWS, created once per process and shared across invocations: low-level
clients (botocore clients are thread-safe) and, through `cached`, the objects of the lean
@connections transport (wsnotify.transport).

The clients come from botocore directly, not boto3: boto3 adds only the resource layer, which no
function uses, and `import boto3` also imports s3transfer, a third of a cold start's imports
(docs/benchmarks.md, "Cold starts"). botocore's own session resolves credentials, Region and
`AWS_ENDPOINT_URL*` exactly as boto3's does (boto3 delegates to it)."""

from __future__ import annotations

import threading
from typing import Any

import botocore.session
from botocore.config import Config as BotoConfig

# Re-entrant: a client factory fetches the shared session through _get while the lock is held.
_lock = threading.RLock()
_clients: dict[tuple[str, str, int], Any] = {}


def cached(key: tuple[str, str, int], factory: Any) -> Any:
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = factory()
                _clients[key] = client
    return client


class Session:
    """One botocore session with boto3's spelling (`client(...)`, `region_name`), so callers
    read the same either way."""

    def __init__(self) -> None:
        self._session = botocore.session.get_session()

    def client(self, service: str, **kwargs: Any) -> Any:
        return self._session.create_client(service, **kwargs)

    def get_credentials(self) -> Any:
        return self._session.get_credentials()

    @property
    def region_name(self) -> str | None:
        return self._session.get_config_variable("region")  # type: ignore[no-any-return]


def session() -> Session:
    """One session per process: every client and the lean transport's credentials come from the
    same resolution chain, resolved once (a second session would cost a cold start another
    credential and config lookup)."""
    return cached(("session", "", 0), Session)  # type: ignore[no-any-return]


def dynamodb() -> Any:
    # Pool sized for the fan-out workers that prune stale rows and the parallel GSI queries
    # (SEND_CONCURRENCY <= 512, but 64 sockets are plenty for DynamoDB latencies).
    return cached(
        ("dynamodb", "", 0),
        lambda: session().client(
            "dynamodb",
            config=BotoConfig(max_pool_connections=64, retries={"mode": "standard"}),
        ),
    )


def ssm() -> Any:
    return cached(("ssm", "", 0), lambda: session().client("ssm"))


def sns() -> Any:
    """SNS client: device endpoints (devices) and mobile delivery (push, in parallel)."""
    return cached(
        ("sns", "", 0),
        lambda: session().client(
            "sns",
            config=BotoConfig(
                max_pool_connections=64,
                connect_timeout=3,
                read_timeout=10,
                retries={"mode": "standard"},
            ),
        ),
    )


def _within_a_request(service: str) -> Any:
    """A client for calls made while a request waits: short timeouts, standard retries."""
    return cached(
        (service, "", 0),
        lambda: session().client(
            service,
            config=BotoConfig(connect_timeout=3, read_timeout=10, retries={"mode": "standard"}),
        ),
    )


def lambda_() -> Any:
    """Lambda client: push asks a consumer's client-push policy function (CLIENT_PUSH_POLICY)."""
    return _within_a_request("lambda")


def scheduler() -> Any:
    """EventBridge Scheduler: push creates schedules, the schedules function manages them."""
    return _within_a_request("scheduler")


def sqs() -> Any:
    """SQS client: push enqueues the shards of a fan-out job (wsnotify.jobstore)."""
    return _within_a_request("sqs")


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
        return session().client("apigatewaymanagementapi", endpoint_url=endpoint, config=config)

    return cached(("apigatewaymanagementapi", endpoint, pool_size), make)


def reset() -> None:
    """Forget every cached object and close what holds sockets (tests)."""
    with _lock:
        cached_objects = list(_clients.values())
        _clients.clear()
    for obj in cached_objects:
        close = getattr(obj, "close", None)
        if callable(close):
            close()

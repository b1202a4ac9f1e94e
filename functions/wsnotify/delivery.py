"""Fan-out over the @connections API: bounded concurrency, throttling retries, 410 pruning.

The transport sits behind `Sender` so tests inject faults at the client boundary; the policy
(retry, classify, prune) lives here. Two transports: `HttpSender` (the default: SigV4 over a
keep-alive pool, see wsnotify.transport) and `BotoSender` (the boto3 client: used behind an HTTP
proxy, and by the unit tests, whose moto mock intercepts botocore only)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

from botocore.exceptions import ClientError

from wsnotify import clients, log, transport

GONE = "GoneException"
THROTTLED = "LimitExceededException"
_THROTTLE_CODES = frozenset({THROTTLED, "TooManyRequestsException", "ThrottlingException"})
# Retries after the first attempt for throttling (429): exponential backoff with full jitter.
RETRY_BASE_SECONDS = 0.05
RETRY_MAX_SECONDS = 1.0
RETRY_ATTEMPTS = 4
# A connection row younger than the grace period that answers 410 is still in its handshake:
# it is sent to once more after this delay instead of being pruned.
GONE_RETRY_DELAY_SECONDS = 1.0
# The result lists at most this many failures (and counts them all): Lambda's result limit is
# 6 MB, and a fan-out can fail for tens of thousands of connections.
MAX_LISTED_FAILURES = 100
sleep: Callable[[float], None] = time.sleep


class Sender(Protocol):
    def post(self, connection_id: str, data: bytes) -> None: ...


class BotoSender:
    """PostToConnection over the process-wide management client of an endpoint."""

    def __init__(self, endpoint: str, pool_size: int) -> None:
        self._client = clients.management(endpoint, pool_size)

    def post(self, connection_id: str, data: bytes) -> None:
        self._client.post_to_connection(ConnectionId=connection_id, Data=data)


def _error_from_response(status: int, headers: dict[str, str], body: bytes) -> ClientError:
    """The ClientError botocore's rest-json parser would raise, so classification is shared."""
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        parsed = {}
    if not isinstance(parsed, dict):
        parsed = {}
    code = str(headers.get("x-amzn-errortype") or parsed.get("code") or parsed.get("__type") or "")
    # Without an error type botocore names the error after the status code, e.g. "410".
    code = code.split(":")[0].rsplit("#", 1)[-1] or str(status)
    message = parsed.get("message") or parsed.get("Message") or ""
    response: Any = {
        "Error": {"Code": code, "Message": str(message)},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "PostToConnection")


class HttpSender:
    """PostToConnection as one signed HTTP request on the endpoint's keep-alive pool.

    Built once per invocation: credentials are frozen here (Lambda role credentials rotate),
    and the payload hash is computed once per message instead of once per connection."""

    def __init__(self, endpoint: str, pool_size: int) -> None:
        self._pool = transport.http_pool(endpoint, pool_size)
        self._signer = transport.signer(transport.region())
        self._creds = transport.frozen_credentials()
        self._prefix = self._pool.base_path + "/@connections/"
        self._payload: tuple[bytes, str] = (b"", hashlib.sha256(b"").hexdigest())

    def _payload_sha256(self, data: bytes) -> str:
        last, digest = self._payload
        if data is not last and data != last:
            digest = hashlib.sha256(data).hexdigest()
            self._payload = (data, digest)  # one atomic swap: racing workers agree anyway
        return digest

    def post(self, connection_id: str, data: bytes) -> None:
        # botocore encodes a non-greedy URI label with only "-._~" left as is ("/" too).
        path = self._prefix + quote(connection_id, safe="~")
        headers = self._signer.headers(
            "POST",
            self._pool.host,
            path,
            self._payload_sha256(data),
            self._creds,
            transport.utcnow(),
        )
        status, response_headers, body = self._pool.request("POST", path, headers, data)
        if not 200 <= status < 300:
            raise _error_from_response(status, response_headers, body)


_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")


def default_sender(endpoint: str, pool_size: int) -> Sender:
    """The lean transport, unless an HTTP proxy is configured: botocore honours proxies (and
    NO_PROXY), the lean transport does not."""
    if any(os.environ.get(name) for name in _PROXY_VARIABLES):
        return BotoSender(endpoint, pool_size)
    return HttpSender(endpoint, pool_size)


# Tests replace this to wrap or fake the transport.
sender_factory: Callable[[str, int], Sender] = default_sender


def get_sender(endpoint: str, pool_size: int) -> Sender:
    return sender_factory(endpoint, pool_size)


def error_code(exc: BaseException) -> str:
    """A short, body-free name for a failure: the AWS error code or the exception class."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code") or "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 410:
            return GONE
        if status == 429 and code not in _THROTTLE_CODES:
            return THROTTLED
        return code or f"HTTP{status}"
    return type(exc).__name__


def send_one(sender: Sender, connection_id: str, data: bytes) -> str:
    """Send one frame. Returns "ok", GONE, or the error code of the last failure."""
    for attempt in range(RETRY_ATTEMPTS):
        try:
            sender.post(connection_id, data)
            return "ok"
        except Exception as exc:  # any transport failure is reported, never fatal to the rest
            code = error_code(exc)
        if code not in _THROTTLE_CODES or attempt == RETRY_ATTEMPTS - 1:
            return code
        sleep(random.uniform(0, min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2**attempt)))  # noqa: S311
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass
class FanoutResult:
    targeted: int = 0
    delivered: int = 0
    stale: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    not_attempted: int = 0
    delivered_ids: list[str] = field(default_factory=list)  # mobile fallback reads it


_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def pool(size: int) -> ThreadPoolExecutor:
    """The process-wide worker pool, reused across invocations (threads outlive a request)."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size != size:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="wsnotify")
            _pool_size = size
        return _pool


def fanout(
    sender: Sender,
    connection_ids: Iterable[str],
    data: bytes,
    concurrency: int,
    on_gone: Callable[[str], bool | None],
    deadline: float | None = None,
) -> FanoutResult:
    """Send `data` to every connection with at most `concurrency` requests in flight.

    `on_gone` (the stale-row delete) runs in the worker that saw the 410, so deletes overlap
    with the remaining sends instead of trailing them serially; it returns False when it kept
    the row because the connection is still opening, and that connection is tried once more.
    No send starts once `time.monotonic()` passes `deadline`: the rest count as not attempted."""
    ids = list(dict.fromkeys(connection_ids))
    result = FanoutResult(targeted=len(ids))
    if not ids:
        return result
    lock = threading.Lock()
    queue = iter(ids)

    def send_and_classify(cid: str, mine: FanoutResult) -> None:
        outcome = send_one(sender, cid, data)
        if outcome == GONE:
            try:
                kept = on_gone(cid) is False
            except Exception:  # a failed prune must not stop delivery; TTL removes it later
                log.exception("stale connection delete failed")
                kept = False
            if not kept:
                mine.stale.append(cid)
                return
            sleep(GONE_RETRY_DELAY_SECONDS)
            outcome = send_one(sender, cid, data)
        if outcome == "ok":
            mine.delivered += 1
            mine.delivered_ids.append(cid)
        else:
            mine.failed.append({"connectionId": cid, "error": outcome})

    def worker() -> FanoutResult:
        mine = FanoutResult()
        while True:
            with lock:
                if deadline is not None and time.monotonic() >= deadline:
                    return mine
                cid = next(queue, None)
            if cid is None:
                return mine
            send_and_classify(cid, mine)

    workers = min(concurrency, len(ids))
    executor = pool(concurrency)
    for part in [f.result() for f in [executor.submit(worker) for _ in range(workers)]]:
        result.delivered += part.delivered
        result.delivered_ids.extend(part.delivered_ids)
        result.stale.extend(part.stale)
        result.failed.extend(part.failed)
    result.not_attempted = sum(1 for _ in queue)
    return result


def map_concurrently(func: Callable[[Any], Any], items: list[Any], concurrency: int) -> list[Any]:
    """Run `func` over `items` on the shared pool (history writes, GSI queries, scan segments);
    keeps order. All or nothing per call: when one call fails, every other call still in flight
    is waited for before the first failure is raised, so a caller that answers an error has no
    write still landing behind its back."""
    if len(items) <= 1:
        return [func(item) for item in items]
    futures = [pool(concurrency).submit(func, item) for item in items]
    wait(futures)
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error
    return [future.result() for future in futures]

"""The lean @connections transport: SigV4 signing with the derived key cached, over a pool of
keep-alive `http.client` connections.

For the fan-out, where one invocation makes thousands of identical small calls, this sends the
request botocore's `apigatewaymanagementapi` client sends (a unit test compares them on the wire)
for about a sixth of the client CPU per call (docs/benchmarks.md). Only push and poll import it;
the objects it builds are cached with the boto3 clients (wsnotify.clients)."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import os
import socket
import ssl
import threading
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from botocore.credentials import ReadOnlyCredentials
from botocore.exceptions import NoCredentialsError
from botocore.utils import normalize_url_path

from wsnotify import clients

SERVICE = "execute-api"
_ALGORITHM = "AWS4-HMAC-SHA256"
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Same socket timeouts as the boto3 management client above.
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 5.0
_STALE_SOCKET_ERRORS = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def frozen_credentials() -> ReadOnlyCredentials:
    """The credentials of this moment. Lambda role credentials rotate, so callers freeze them
    once per invocation, never once per process."""
    creds = clients.session().get_credentials()
    if creds is None:
        raise NoCredentialsError()
    return creds.get_frozen_credentials()  # type: ignore[no-any-return]


def region() -> str:
    """The region the boto3 clients use (AWS_DEFAULT_REGION, which Lambda sets, or config)."""
    name = clients.session().region_name
    if not name:
        raise RuntimeError("no AWS region configured (AWS_REGION is set in Lambda)")
    return str(name)


class SigV4:
    """SigV4 for execute-api, byte for byte what botocore's SigV4Auth produces for these
    requests. The derived signing key depends only on (secret, date, region), so it is computed
    once per day instead of four HMACs per call."""

    def __init__(self, region_name: str) -> None:
        self.region = region_name
        self._key_for: tuple[str, str] | None = None
        self._key = b""
        self._lock = threading.Lock()

    def _signing_key(self, secret: str, day: str) -> bytes:
        with self._lock:
            if self._key_for != (secret, day):
                key = hmac.new(f"AWS4{secret}".encode(), day.encode(), hashlib.sha256).digest()
                for part in (self.region, SERVICE, "aws4_request"):
                    key = hmac.new(key, part.encode(), hashlib.sha256).digest()
                self._key, self._key_for = key, (secret, day)
            return self._key

    def headers(
        self,
        method: str,
        host: str,
        path: str,
        payload_sha256: str,
        creds: ReadOnlyCredentials,
        now: datetime,
    ) -> dict[str, str]:
        """The X-Amz-Date, X-Amz-Security-Token and Authorization headers of one request.

        `path` is the request path as sent (already percent-encoded); SigV4 for non-S3 services
        encodes it once more in the canonical request, as botocore does."""
        amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        day = amz_date[:8]
        signed = {"host": host, "x-amz-date": amz_date}
        if creds.token:
            signed["x-amz-security-token"] = creds.token
        names = sorted(signed)
        canonical = "\n".join(
            [
                method,
                quote(normalize_url_path(path), safe="/~"),
                "",
                "".join(f"{n}:{' '.join(signed[n].split())}\n" for n in names),
                ";".join(names),
                payload_sha256,
            ]
        )
        scope = f"{day}/{self.region}/{SERVICE}/aws4_request"
        to_sign = "\n".join(
            [_ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
        )
        signature = hmac.new(
            self._signing_key(creds.secret_key or "", day), to_sign.encode(), hashlib.sha256
        ).hexdigest()
        out = {"X-Amz-Date": amz_date}
        if creds.token:
            out["X-Amz-Security-Token"] = creds.token
        out["Authorization"] = (
            f"{_ALGORITHM} Credential={creds.access_key}/{scope}, "
            f"SignedHeaders={';'.join(names)}, Signature={signature}"
        )
        return out


def utcnow() -> datetime:
    return datetime.now(UTC)


class HttpPool:
    """Keep-alive connections to one endpoint, at most `size` kept idle (the fan-out never has
    more than SEND_CONCURRENCY requests in flight). Shared by the worker threads and reused
    across invocations, so a warm function skips the TCP and TLS handshakes."""

    def __init__(self, endpoint: str, size: int) -> None:
        url = urlsplit(endpoint)
        if url.scheme not in _DEFAULT_PORTS or not url.hostname:
            raise ValueError(f"unsupported @connections endpoint: {endpoint!r}")
        self.scheme = url.scheme
        self.hostname = url.hostname
        self.port = url.port or _DEFAULT_PORTS[url.scheme]
        # The Host header (and the signed `host`) as botocore derives it from the URL.
        self.host = (
            url.hostname
            if url.port in (None, _DEFAULT_PORTS[url.scheme])
            else (f"{url.hostname}:{url.port}")
        )
        self.base_path = url.path.rstrip("/")
        self.size = size
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _new(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection
        if self.scheme == "https":
            conn = http.client.HTTPSConnection(
                self.hostname, self.port, timeout=CONNECT_TIMEOUT, context=tls_context()
            )
        else:
            conn = http.client.HTTPConnection(self.hostname, self.port, timeout=CONNECT_TIMEOUT)
        conn.connect()
        assert conn.sock is not None
        conn.sock.settimeout(READ_TIMEOUT)
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _take(self) -> http.client.HTTPConnection | None:
        with self._lock:
            return self._idle.pop() if self._idle else None

    def _give(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < self.size:
                self._idle.append(conn)
                return
        conn.close()

    def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """One request; a kept-alive socket the server closed meanwhile is replaced once (the
        request never reached the server, as urllib3 and botocore also assume)."""
        conn = self._take()
        reused = conn is not None
        while True:
            if conn is None:
                conn = self._new()
            try:
                conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
                conn.putheader("Host", self.host)
                for name, value in headers.items():
                    conn.putheader(name, value)
                conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body)
                response = conn.getresponse()
                data = response.read()
            except _STALE_SOCKET_ERRORS:
                conn.close()
                if not reused:
                    raise
                conn, reused = None, False
                continue
            except BaseException:
                conn.close()
                raise
            if response.will_close:
                conn.close()
            else:
                self._give(conn)
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def tls_context() -> ssl.SSLContext:
    """Certificate-verifying TLS, with AWS_CA_BUNDLE honoured as botocore does."""
    return clients.cached(  # type: ignore[no-any-return]
        ("tls", "", 0),
        lambda: ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or None),
    )


def http_pool(endpoint: str, pool_size: int) -> HttpPool:
    return clients.cached(  # type: ignore[no-any-return]
        ("http", endpoint, pool_size), lambda: HttpPool(endpoint, pool_size)
    )


def signer(region_name: str) -> SigV4:
    return clients.cached(("sigv4", region_name, 0), lambda: SigV4(region_name))  # type: ignore[no-any-return]

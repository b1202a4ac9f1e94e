"""The lean @connections transport (delivery.HttpSender over transport.HttpPool).

The reference is botocore itself: both transports talk to the same loopback HTTP server with the
clock frozen, and what arrives on the wire must be the same request (method, path, body and every
header except the SDK's own telemetry), and every error must classify the same way."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.auth
import pytest
from botocore.exceptions import ClientError, NoCredentialsError
from wsnotify import clients, delivery, transport

FROZEN = dt.datetime(2024, 11, 11, 13, 45, 46)
# Headers botocore adds that are not part of the request's meaning: never signed.
TELEMETRY = {"user-agent", "amz-sdk-invocation-id", "amz-sdk-request", "accept-encoding"}


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    peer: tuple[str, int]


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    close: bool = False  # drop the socket after answering, without saying so


class Server:
    """A loopback HTTP/1.1 server that records requests and answers from a script."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.replies: list[Reply] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.seen.append(
                    Seen(
                        self.command,
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                        self.client_address,
                    )
                )
                reply = outer.replies.pop(0) if outer.replies else Reply()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
                self.close_connection = reply.close

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.endpoint = f"http://127.0.0.1:{self.httpd.server_address[1]}/prod"

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    clients.reset()
    # boto3's default session caches credentials it resolved in earlier tests.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: FROZEN)
    monkeypatch.setattr(transport, "utcnow", lambda: FROZEN.replace(tzinfo=dt.UTC))
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    with Server() as srv:
        yield srv
    clients.reset()


def boto_client(endpoint: str) -> Any:
    # The management client exactly as production builds it (retries off, same timeouts).
    return clients.management(endpoint, 4)


CONNECTION_IDS = ["L0SM9cOFvHcCIhw=", "a+b/c=d", "ünïcode id", "tilde~dash-dot._", "%2F"]


@pytest.mark.parametrize("connection_id", CONNECTION_IDS)
@pytest.mark.parametrize("token", ["session-token", None])
def test_request_on_the_wire_is_botocores(
    server: Server, monkeypatch: pytest.MonkeyPatch, connection_id: str, token: str | None
) -> None:
    if token is None:
        monkeypatch.delenv("AWS_SESSION_TOKEN")
    else:
        monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    data = json.dumps({"type": "notification", "data": "héllo"}).encode()
    boto_client(server.endpoint).post_to_connection(ConnectionId=connection_id, Data=data)
    delivery.HttpSender(server.endpoint, 4).post(connection_id, data)

    theirs, ours = server.seen
    assert (ours.method, ours.path, ours.body) == (theirs.method, theirs.path, theirs.body)
    assert ours.path.startswith("/prod/@connections/") and "/" not in ours.path[19:]

    def meaningful(seen: Seen) -> dict[str, str]:
        return {k: v for k, v in seen.headers.items() if k not in TELEMETRY}

    assert meaningful(ours) == meaningful(theirs)
    assert "Signature=" in ours.headers["authorization"]
    assert ("x-amz-security-token" in ours.headers) == (token is not None)


def test_signing_key_follows_the_day_and_the_secret(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = delivery.HttpSender(server.endpoint, 4)
    for when in (FROZEN, FROZEN + dt.timedelta(days=1)):
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, w=when, **k: w)
        monkeypatch.setattr(transport, "utcnow", lambda w=when: w.replace(tzinfo=dt.UTC))
        boto_client(server.endpoint).post_to_connection(ConnectionId="c", Data=b"x")
        sender.post("c", b"x")
        theirs, ours = server.seen[-2:]
        assert ours.headers["authorization"] == theirs.headers["authorization"]
    # Rotated credentials (a later invocation freezes them): the cached key must not be reused.
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "rotated")
    clients.reset()
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    boto_client(server.endpoint).post_to_connection(ConnectionId="c", Data=b"x")
    delivery.HttpSender(server.endpoint, 4).post("c", b"x")
    theirs, ours = server.seen[-2:]
    assert ours.headers["authorization"] == theirs.headers["authorization"]
    assert ours.headers["authorization"] != server.seen[-3].headers["authorization"]


ERROR_REPLIES = [
    Reply(410, {"x-amzn-ErrorType": "GoneException"}, b'{"message":null}'),
    Reply(410),
    Reply(429, {"x-amzn-ErrorType": "LimitExceededException"}, b'{"message":"slow down"}'),
    Reply(429),
    Reply(413, {"x-amzn-ErrorType": "PayloadTooLargeException:http://internal"}, b"{}"),
    Reply(403, {}, b'{"message":"Forbidden"}'),
    Reply(400, {}, b'{"__type":"com.amazonaws#BadRequestException","message":"no"}'),
    Reply(500, {}, b"<html>not json</html>"),
    Reply(502),
]


def test_a_body_that_is_not_an_object_still_classifies(server: Server) -> None:
    server.replies = [Reply(502, {}, b"[1, 2]")]  # botocore itself fails on this body
    assert delivery.send_one(delivery.HttpSender(server.endpoint, 4), "c1", b"x") == "502"


@pytest.mark.parametrize("reply", ERROR_REPLIES, ids=lambda r: f"{r.status}")
def test_errors_classify_like_botocore(server: Server, reply: Reply) -> None:
    server.replies = [reply, reply]
    sender = delivery.BotoSender(server.endpoint, 4)
    lean = delivery.HttpSender(server.endpoint, 4)
    with pytest.raises(Exception) as theirs:
        sender.post("c1", b"x")
    with pytest.raises(Exception) as ours:
        lean.post("c1", b"x")
    assert delivery.error_code(ours.value) == delivery.error_code(theirs.value)
    # botocore raises modeled subclasses (GoneException, ...) of ClientError; callers catch that.
    assert isinstance(ours.value, ClientError) and isinstance(theirs.value, ClientError)


def test_send_one_retries_throttling_then_delivers(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery, "sleep", lambda _s: None)
    server.replies = [Reply(429), Reply(429), Reply(200)]
    outcome = delivery.send_one(delivery.HttpSender(server.endpoint, 4), "c1", b"x")
    assert outcome == "ok" and len(server.seen) == 3


def test_connections_are_kept_alive_across_invocations(server: Server) -> None:
    delivery.HttpSender(server.endpoint, 4).post("a", b"1")
    delivery.HttpSender(server.endpoint, 4).post("b", b"2")  # a second invocation
    assert len({s.peer for s in server.seen}) == 1


def test_a_socket_closed_by_the_server_is_replaced_once(server: Server) -> None:
    server.replies = [Reply(200, close=True), Reply(200)]
    sender = delivery.HttpSender(server.endpoint, 4)
    sender.post("a", b"1")
    sender.post("b", b"2")  # the kept socket is dead: reconnect, the call still succeeds
    assert [s.path[-1] for s in server.seen] == ["a", "b"]
    assert server.seen[0].peer != server.seen[1].peer


def test_connection_close_from_the_server_is_honoured(server: Server) -> None:
    server.replies = [Reply(200, {"Connection": "close"}), Reply(200)]
    sender = delivery.HttpSender(server.endpoint, 4)
    sender.post("a", b"1")
    sender.post("b", b"2")
    assert server.seen[0].peer != server.seen[1].peer


def test_unreachable_endpoint_is_a_per_connection_failure(server: Server) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    outcome = delivery.send_one(delivery.HttpSender(f"http://127.0.0.1:{port}/prod", 4), "a", b"1")
    assert outcome == "ConnectionRefusedError"


def test_pool_keeps_at_most_its_size_idle(server: Server) -> None:
    pool = transport.HttpPool(server.endpoint, 1)
    first, second = pool._new(), pool._new()
    pool._give(first)
    pool._give(second)  # over the size: closed, not kept
    assert pool._idle == [first] and second.sock is None
    pool.close()
    assert pool._idle == [] and first.sock is None


@pytest.mark.parametrize("endpoint", ["ftp://host/prod", "https:///prod", "prod"])
def test_unsupported_endpoints_are_refused(endpoint: str) -> None:
    with pytest.raises(ValueError, match="unsupported @connections endpoint"):
        transport.HttpPool(endpoint, 4)


def test_host_header_drops_the_default_port() -> None:
    assert transport.HttpPool("https://abc.execute-api.eu-west-1.amazonaws.com:443/p", 1).host == (
        "abc.execute-api.eu-west-1.amazonaws.com"
    )
    assert transport.HttpPool("http://127.0.0.1:8080/p/", 1).host == "127.0.0.1:8080"
    assert transport.HttpPool("https://example.com/ws/prod/", 1).base_path == "/ws/prod"


def test_https_pool_verifies_certificates(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    clients.reset()
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")  # an empty bundle trusts nothing
    monkeypatch.setenv("AWS_CA_BUNDLE", str(bundle))
    with pytest.raises(Exception):  # noqa: B017 (ssl.SSLError: no certificates loaded)
        transport.tls_context()
    monkeypatch.delenv("AWS_CA_BUNDLE")
    clients.reset()
    context = transport.tls_context()
    assert context.verify_mode.name == "CERT_REQUIRED" and context.check_hostname
    assert transport.tls_context() is context


def test_https_connections_use_the_verifying_context(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Any] = []

    class FakeHTTPS:
        def __init__(self, host: str, port: int, timeout: float, context: Any) -> None:
            made.append((host, port, timeout, context))
            raise ConnectionRefusedError("no network in unit tests")

    monkeypatch.setattr(transport.http.client, "HTTPSConnection", FakeHTTPS)
    pool = transport.HttpPool("https://abc.execute-api.eu-west-1.amazonaws.com/prod", 2)
    with pytest.raises(ConnectionRefusedError):
        pool.request("POST", "/prod/@connections/x", {}, b"")
    assert made == [
        (
            "abc.execute-api.eu-west-1.amazonaws.com",
            443,
            transport.CONNECT_TIMEOUT,
            transport.tls_context(),
        )
    ]


def test_default_transport_is_lean_unless_a_proxy_is_configured(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(delivery.default_sender(server.endpoint, 4), delivery.HttpSender)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert isinstance(delivery.default_sender(server.endpoint, 4), delivery.BotoSender)


def test_missing_credentials_and_region_are_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoSession:
        region_name = None

        def get_credentials(self) -> None:
            return None

    monkeypatch.setattr(clients, "session", lambda: NoSession())
    with pytest.raises(NoCredentialsError):
        transport.frozen_credentials()
    with pytest.raises(RuntimeError, match="no AWS region"):
        transport.region()


def test_payload_hash_is_computed_once_per_message(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    calls: list[bytes] = []
    real = hashlib.sha256

    def counting(data: bytes = b"") -> Any:
        if data in (frame, b"another message"):  # hashlib is shared: count payloads only
            calls.append(data)
        return real(data)

    frame = b'{"type":"notification"}'
    sender = delivery.HttpSender(server.endpoint, 4)
    monkeypatch.setattr(delivery.hashlib, "sha256", counting)
    for cid in ("a", "b", "c"):
        sender.post(cid, frame)
    sender.post("d", b"another message")
    assert calls == [frame, b"another message"]
    assert len(server.seen) == 4


class RawServer:
    """Accepts connections, reads one request, then closes at once or never answers."""

    def __init__(self, answer: bool) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.endpoint = f"http://127.0.0.1:{self.sock.getsockname()[1]}/prod"
        self.held: list[socket.socket] = []
        self.answer = answer
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.recv(65536)
            if self.answer:
                conn.close()
            else:
                self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_a_fresh_connection_dropped_by_the_server_is_not_retried(server: Server) -> None:
    raw = RawServer(answer=True)
    try:
        outcome = delivery.send_one(delivery.HttpSender(raw.endpoint, 4), "a", b"1")
    finally:
        raw.close()
    assert outcome == "RemoteDisconnected"


def test_a_silent_server_times_out_and_the_socket_is_dropped(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport, "READ_TIMEOUT", 0.2)
    raw = RawServer(answer=False)
    try:
        sender = delivery.HttpSender(raw.endpoint, 4)
        assert delivery.send_one(sender, "a", b"1") == "TimeoutError"
        assert transport.http_pool(raw.endpoint, 4)._idle == []  # never reused after a timeout
    finally:
        raw.close()


def test_the_signing_clock_is_utc() -> None:
    now = transport.utcnow()
    assert now.utcoffset() == dt.timedelta(0)
    assert abs((now - dt.datetime.now(dt.UTC)).total_seconds()) < 5

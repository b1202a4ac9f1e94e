"""clients/python against the local stack: real sockets, forced drops, short-lived tokens,
server-side closes. Each test checks that every persisted notification arrives exactly once."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import pytest
from conftest import REPO, run
from test_system import apush

from local import tokens

sys.path.insert(0, str(REPO / "clients" / "python"))

from notify_client import NotifyClient, NotifyError, backoff_delay, token_expiry


class Recorder:
    """A client for ``user`` plus what its listeners saw; ``gate`` holds get_token() closed."""

    def __init__(self, stack: dict[str, Any], user: str, ttl: int = 3600, **options: Any) -> None:
        self.minter = tokens.Minter(stack)
        self.user, self.ttl = user, ttl
        self.gate = asyncio.Event()
        self.gate.set()
        self.tokens_asked = 0
        self.client = NotifyClient(stack["websocket_url"], self.get_token, **options)
        self.seen: list[str] = []
        self.data: list[Any] = []
        self.states: list[str] = []
        self.errors: list[NotifyError] = []
        self.arrived = asyncio.Event()
        self.client.on("notification", self._on_notification)
        self.client.on("state", self.states.append)
        self.client.on("error", self.errors.append)

    async def get_token(self) -> str:
        await self.gate.wait()
        self.tokens_asked += 1
        return self.minter.mint(self.user, self.ttl)

    def _on_notification(self, envelope: dict[str, Any]) -> None:
        self.seen.append(envelope["id"])
        self.data.append(envelope["data"])
        self.arrived.set()

    async def until(self, count: int, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while len(self.seen) < count:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), deadline - time.monotonic())


async def _settle(seconds: float = 1.5) -> None:
    """Time for a duplicate (lookback page, repeated live frame) to show up if it were going to."""
    await asyncio.sleep(seconds)


def test_helpers() -> None:
    assert token_expiry("x.eyJleHAiOjEyM30.y") == 123.0  # {"exp":123}
    assert token_expiry("not a jwt") is None
    for attempt in range(12):
        delay = backoff_delay(attempt, 1.0, 30.0)
        ceiling = min(30.0, 2.0**attempt)
        assert ceiling / 2 <= delay <= ceiling


def test_forced_drop_loses_and_duplicates_nothing(stack: dict[str, Any]) -> None:
    async def body() -> None:
        rec = Recorder(stack, "pyc-drop", backoff_initial_s=0.2)
        async with rec.client:
            await rec.client.wait_for_state("open", 10)
            first = await apush(stack, {"userId": "pyc-drop", "message": "before"})
            await rec.until(1)
            # Drop the TCP connection (no close frame) and keep the client from reconnecting
            # until a persisted notification was pushed while it was away.
            rec.gate.clear()
            ws = rec.client.connection
            assert ws is not None
            ws.transport.abort()
            await rec.client.wait_for_state("disconnected", 10)
            missed = await apush(stack, {"userId": "pyc-drop", "message": "while away"})
            assert missed["ok"] and missed["delivered"] == 0
            rec.gate.set()
            await rec.until(2)
            after = await apush(stack, {"userId": "pyc-drop", "message": "after"})
            await rec.until(3)
            await _settle()
        ids = [first["notificationId"], missed["notificationId"], after["notificationId"]]
        assert rec.seen == ids and rec.data == ["before", "while away", "after"]
        assert rec.client.cursor == ids[-1]
        assert rec.client.connects == 2 and rec.states[-1] == "closed"

    run(body())


def test_refresh_before_expiry_keeps_the_connection(stack: dict[str, Any]) -> None:
    async def body() -> None:
        rec = Recorder(stack, "pyc-refresh", ttl=4)
        async with rec.client:
            await rec.client.wait_for_state("open", 10)
            await asyncio.sleep(9)  # two token lifetimes; the sweeper runs every 2 s
            out = await apush(stack, {"userId": "pyc-refresh", "message": "still here"})
            assert out["delivered"] == 1
            await rec.until(1)
            assert rec.client.connects == 1 and rec.tokens_asked >= 3
            assert rec.client._expires_at is not None and rec.client._expires_at > time.time()
        assert rec.errors == [] and rec.data == ["still here"]

    run(body())


def test_resume_across_a_server_side_close(stack: dict[str, Any]) -> None:
    async def body() -> None:
        rec = Recorder(stack, "pyc-revoked", backoff_initial_s=0.2)
        async with rec.client:
            await rec.client.wait_for_state("open", 10)
            first = await apush(stack, {"userId": "pyc-revoked", "message": 1})
            await rec.until(1)
            rec.gate.clear()
            closed = await apush(stack, {"disconnect": {"userId": "pyc-revoked"}})
            assert closed["closed"] == 1
            await rec.client.wait_for_state("disconnected", 10)
            missed = await apush(stack, {"userId": "pyc-revoked", "message": 2})
            rec.gate.set()
            await rec.until(2)
            await _settle()
        assert rec.seen == [first["notificationId"], missed["notificationId"]]
        assert rec.client.connects == 2

    run(body())


def test_refused_token_reports_the_status_and_keeps_trying(stack: dict[str, Any]) -> None:
    async def body() -> None:
        client = NotifyClient(stack["websocket_url"], lambda: "not-a-jwt", backoff_initial_s=0.1)
        errors: list[NotifyError] = []
        client.on("error", errors.append)
        await client.start()
        deadline = time.monotonic() + 10
        while len(errors) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await client.close()
        assert [e.code for e in errors[:2]] == ["HTTP_401", "HTTP_401"]
        assert client.connects == 0 and client.state == "closed"
        with pytest.raises(NotifyError, match="CLIENT_NOT_CONNECTED"):
            await client.poll()

    run(body())


def test_keepalive_polls_and_rotation_before_the_2_hour_limit(stack: dict[str, Any]) -> None:
    """Short clocks: a keepalive every 0.5 s of silence, a new connection every 2.5 s."""

    async def body() -> None:
        rec = Recorder(stack, "pyc-rotate", keepalive_s=0.5, max_connection_s=2.5)
        sent: list[str] = []
        async with rec.client:
            await rec.client.wait_for_state("open", 10)
            ws = rec.client.connection
            assert ws is not None
            original_send = ws.send

            async def spy(message: Any, *args: Any) -> None:
                sent.append(message)
                await original_send(message, *args)

            ws.send = spy  # type: ignore[method-assign]
            one = await apush(stack, {"userId": "pyc-rotate", "message": "one"})
            await rec.until(1)
            await asyncio.sleep(2.0)  # keepalives on the first connection, then a rotation
            await asyncio.wait_for(_until_connects(rec.client, 2), 10)
            two = await apush(stack, {"userId": "pyc-rotate", "message": "two"})
            await rec.until(2)
            await _settle()
        keepalives = [json_frame for json_frame in sent if '"limit": 1' in json_frame]
        assert keepalives and any(f'"after": "{one["notificationId"]}"' in k for k in keepalives)
        assert rec.seen == [one["notificationId"], two["notificationId"]]
        assert rec.errors == []

    run(body())


async def _until_connects(client: NotifyClient, count: int) -> None:
    while client.connects < count or client.state != "open":
        await asyncio.sleep(0.05)


def test_topic_subscription_survives_reconnects_and_topic_history_pages(
    stack: dict[str, Any],
) -> None:
    """subscribe() subscribes the user, not the socket: a topic push after a reconnect still
    arrives (with its topic); poll(topic=) reads the topic's history; after unsubscribe() the
    next topic push does not arrive and the topic's history is refused."""
    topic = f"news:pyc-{int(time.time() * 1000)}"

    async def body() -> None:
        rec = Recorder(stack, "pyc-topics", backoff_initial_s=0.2)
        topics_seen: list[str | None] = []
        rec.client.on("notification", lambda envelope: topics_seen.append(envelope.get("topic")))
        async with rec.client:
            await rec.client.wait_for_state("open", 10)
            ack = await rec.client.subscribe(topic)
            assert (ack["subscribed"], ack["created"], ack["topic"]) == (True, True, topic)
            assert (await rec.client.subscribe(topic))["created"] is False  # idempotent
            closed = await apush(stack, {"disconnect": {"userId": "pyc-topics"}})
            assert closed["closed"] == 1  # the server closes the socket; the client reconnects
            deadline = time.monotonic() + 10
            while not (rec.client.connects == 2 and rec.client.state == "open"):
                assert time.monotonic() < deadline, rec.states
                await asyncio.sleep(0.05)
            pushed = await apush(stack, {"topic": topic, "message": "to subscribers"})
            await rec.until(1)
            assert rec.seen == [pushed["notificationId"]] and topics_seen == [topic]
            page = await rec.client.poll(topic=topic)
            assert [item["id"] for item in page["items"]] == [pushed["notificationId"]]
            gone = await rec.client.unsubscribe(topic)
            assert (gone["subscribed"], gone["removed"]) == (False, True)
            await apush(stack, {"topic": topic, "message": "after unsubscribe"})
            await _settle()
            assert rec.seen == [pushed["notificationId"]]
            with pytest.raises(NotifyError) as refused:
                await rec.client.poll(topic=topic)
            assert refused.value.code == "FORBIDDEN"

    run(body())

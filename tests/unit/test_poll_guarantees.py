"""poll's guarantees: bounded work over expired rows, and a resume rule that cannot skip a
notification written late by a slower, concurrent push (docs/protocol.md)."""

from __future__ import annotations

import threading
from typing import Any

import push
import pytest
from conftest import DOMAIN, NOTIFICATIONS, STAGE, Transport
from test_poll import do_poll, put_history
from test_push import DynamoProxy
from wsnotify import clients, history, ids, store
from wsnotify.validation import PollRequest


def count_queries(aws: Any, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every DynamoDB Query the code under test makes, from now on."""
    queries: list[dict[str, Any]] = []

    def counting(real: Any, **kw: Any) -> Any:
        queries.append(kw)
        return real.query(**kw)

    monkeypatch.setattr(clients, "dynamodb", lambda: DynamoProxy(aws, query=counting))
    return queries


def test_the_http_listing_is_bounded_the_same_way(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(1000):
        put_history(aws, "alice", "gone", expires_in=-60)
    live = put_history(aws, "alice", "live")
    queries = count_queries(aws, monkeypatch)
    after = None
    for _ in range(10):
        before = len(queries)
        request = PollRequest(after=after, limit=1)
        document = history.listing(NOTIFICATIONS, "alice", request, {})
        assert len(queries) - before <= history.MAX_QUERY_PAGES
        if document["notifications"]:
            assert [n["id"] for n in document["notifications"]] == [live]
            return
        after = document["next"]
        assert after is not None, "an unfinished partition must hand back a cursor"
    raise AssertionError("the live notification was never reached")


def test_expired_rows_cost_a_bounded_number_of_queries_and_the_cursor_moves_on(
    aws: Any, transport: Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(1000):
        put_history(aws, "alice", "gone", expires_in=-60)  # expired, not yet removed by TTL
    live = put_history(aws, "alice", "live")
    queries = count_queries(aws, monkeypatch)
    cursor = None
    polls = 0
    while True:
        before = len(queries)
        frame = do_poll(transport, {"action": "poll", "after": cursor, "limit": 1})
        polls += 1
        # The page proper plus, with a cursor, the lookback: never more.
        assert len(queries) - before <= history.MAX_QUERY_PAGES + history.LOOKBACK_QUERY_PAGES
        if frame["data"]["items"]:
            assert [i["id"] for i in frame["data"]["items"]] == [live]
            break
        cursor = frame["data"]["next"]
        assert cursor is not None, "an unfinished partition must hand back a cursor"
        assert polls < 10
    assert polls > 1  # the expired rows did take more than one poll


def test_concurrent_pushers_writing_out_of_id_order_cannot_make_a_resume_skip(
    aws: Any, transport: Transport, env: pytest.MonkeyPatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pusher A takes its id first but its write lands after pusher B's; the client reads B,
    keeps B as its cursor, and resumes after it: A must still come back."""
    env.setenv("CONNECTIONS_ENDPOINT", f"https://{DOMAIN}/{STAGE}")
    a_has_its_id = threading.Event()
    release_a = threading.Event()
    real_put = store.put_notification

    def slow_for_a(table: str, user: str, nid: str, content: str, *rest: Any) -> bool:
        if content == '"A"':
            a_has_its_id.set()
            assert release_a.wait(10)
        return real_put(table, user, nid, content, *rest)

    monkeypatch.setattr(store, "put_notification", slow_for_a)
    results: dict[str, Any] = {}
    pusher_a = threading.Thread(
        target=lambda: results.update(a=push.handler({"userId": "alice", "message": "A"}, None))
    )
    pusher_a.start()
    assert a_has_its_id.wait(10)
    b = push.handler({"userId": "alice", "message": "B"}, None)["notificationId"]
    first = do_poll(transport, {"action": "poll"})
    assert [i["id"] for i in first["data"]["items"]] == [b]
    release_a.set()
    pusher_a.join(10)
    a = results["a"]["notificationId"]
    assert a < b  # A's id is older, yet it was written after the client read past it

    resumed = do_poll(transport, {"action": "poll", "after": b})
    assert [i["id"] for i in resumed["data"]["items"]] == [a]
    assert resumed["data"]["next"] is None

    # Without the lookback the same resume skips A for good: what the lookback is for.
    env.setenv("POLL_LOOKBACK_SECONDS", "0")
    assert do_poll(transport, {"action": "poll", "after": b})["data"]["items"] == []


def _row(ddb: Any, created_ms: int, written_ms: int, tail: str = "A") -> str:
    # Built by hand: ids.new_ulid is monotonic per process, so it cannot make an older id.
    nid = ids.lowest_at(created_ms)[:10] + tail * 16
    ddb.put_item(
        TableName=NOTIFICATIONS,
        Item={
            "userId": {"S": "alice"},
            "notificationId": {"S": nid},
            "content": {"S": '"x"'},
            "createdAt": {"N": str(created_ms)},
            "expiresAt": {"N": "9999999999"},
            "sender": {"S": "backend"},
            "writtenAt": {"N": str(written_ms)},
        },
    )
    return nid


def test_lookback_returns_only_rows_written_after_the_cursor_and_within_the_window(
    aws: Any, transport: Transport, env: pytest.MonkeyPatch
) -> None:
    env.setenv("POLL_LOOKBACK_SECONDS", "10")
    now = ids.time_ms(ids.new_ulid())
    in_order = _row(aws, now - 5_000, written_ms=now - 5_000)
    cursor = _row(aws, now - 4_000, written_ms=now - 4_000)
    late = _row(aws, now - 6_000, written_ms=now)
    too_old = _row(aws, now - 20_000, written_ms=now)
    newer = _row(aws, now - 1_000, written_ms=now - 1_000)
    frame = do_poll(transport, {"action": "poll", "after": cursor})
    got = [i["id"] for i in frame["data"]["items"]]
    # Late first (older id), then the page proper; not `in_order` (written before the cursor's
    # time, so the client saw it), not `too_old` (outside the window).
    assert got == [late, newer]
    assert in_order not in got and too_old not in got
    assert frame["data"]["next"] is None


def test_ulid_time_helpers_round_trip() -> None:
    nid = ids.new_ulid()
    assert ids.lowest_at(ids.time_ms(nid)) <= nid < ids.lowest_at(ids.time_ms(nid) + 1)
    assert ids.time_ms(ids.lowest_at(1_731_332_746_514)) == 1_731_332_746_514
    assert ids.lowest_at(-5) == "0" * 26

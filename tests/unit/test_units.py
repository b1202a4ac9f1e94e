from __future__ import annotations

from typing import Any

import pytest
from wsnotify import auth, config, envelope, events, ids
from wsnotify.errors import ConfigError, RequestError
from wsnotify.validation import parse_json_object


def test_ulid_known_timestamp_and_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ids, "_last_ms", -1)  # earlier ids of this process would clamp the time
    value = ids.new_ulid(1_469_918_176_385)  # the timestamp of the ULID spec's example
    assert value.startswith("01ARYZ6S41")
    assert len(value) == 26 and ids.is_ulid(value)


def test_ulids_sort_in_creation_order_within_one_millisecond() -> None:
    made = [ids.new_ulid(1_700_000_000_000) for _ in range(500)]
    assert made == sorted(made) and len(set(made)) == 500
    assert ids.new_ulid(1_600_000_000_000) > made[-1]  # clock stepped back: still increasing
    assert ids.new_ulid() > made[-1]


def test_ulid_random_overflow_moves_to_next_millisecond(monkeypatch: pytest.MonkeyPatch) -> None:
    first = ids.new_ulid(1_800_000_000_000)
    monkeypatch.setattr(ids, "_last_random", (1 << 80) - 1)
    second = ids.new_ulid(1_800_000_000_000)
    assert second > first
    assert second[:10] == ids.new_ulid(1_800_000_000_001)[:10]


@pytest.mark.parametrize(
    "value", [None, 5, "", "01ARYZ6S41", "01ARYZ6S41TSV4RRFFQ69G5FAI", "81ARYZ6S41TSV4RRFFQ69G5FAV"]
)
def test_is_ulid_rejects(value: Any) -> None:
    assert not ids.is_ulid(value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ALLOW_CLIENT_PUSH", "maybe"),
        ("SEND_CONCURRENCY", "0"),
        ("SEND_CONCURRENCY", "many"),
        ("HISTORY_TTL_SECONDS", "99999999"),
        ("AUTH_MODE", "basic"),
    ],
)
def test_config_rejects_bad_values(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        config.load()


def test_config_defaults_and_booleans(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ALLOW_CLIENT_PUSH", "JWT_ALGORITHMS", "SEND_CONCURRENCY", "AUTH_MODE"):
        monkeypatch.delenv(name, raising=False)
    cfg = config.load()
    assert cfg.allow_client_push is False and cfg.persist_default is True
    assert cfg.send_concurrency == 32 and cfg.jwt_algorithms == ("HS256",)
    assert cfg.connections_user_index == "userId-index"
    monkeypatch.setenv("ALLOW_CLIENT_PUSH", "TRUE")
    monkeypatch.setenv("AUTH_MODE", "jwks")
    cfg = config.load()
    assert cfg.allow_client_push is True and cfg.jwt_algorithms == ("RS256", "ES256")


def test_body_must_be_text() -> None:
    with pytest.raises(RequestError, match="JSON text"):
        parse_json_object({"action": "poll"})


def test_deeply_nested_json_is_an_invalid_request() -> None:
    with pytest.raises(RequestError, match="not valid JSON"):
        parse_json_object("[" * 100_000 + "]" * 100_000)


def test_headers_missing_or_odd() -> None:
    assert auth.offered_subprotocols({}) == []
    assert auth.offered_subprotocols({"headers": None}) == []
    assert auth.offered_subprotocols({"headers": {"Sec-WebSocket-Protocol": " a , ,b "}}) == [
        "a",
        "b",
    ]
    assert auth.token_from_event({"queryStringParameters": None, "headers": {}}) is None


def test_authorizer_context_without_user_is_no_user() -> None:
    event = {"requestContext": {"authorizer": {"principalId": "x"}, "connectionId": "c"}}
    assert events.authorizer_user(event) is None
    assert events.caller_user(config.load(), event) is None
    assert events.request_context("not an event") == {}


def test_history_frame_layout_is_valid_json() -> None:
    import json

    items = [envelope.dumps({"a": 1}), envelope.dumps({"b": "é"})]
    frame = json.loads(envelope.history("r1", items, "01ARYZ6S41TSV4RRFFQ69G5FAV"))
    assert frame["type"] == "history" and frame["id"] == "r1"
    assert frame["data"] == {"items": [{"a": 1}, {"b": "é"}], "next": "01ARYZ6S41TSV4RRFFQ69G5FAV"}
    assert json.loads(envelope.history("r2", [], None))["data"] == {"items": [], "next": None}

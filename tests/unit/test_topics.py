"""Topics (issue 12): names and namespaces, subscribe/unsubscribe through the WebSocket, the HTTP
API and direct invoke with their authorization, topic push reaching subscribers only, and topic
history with its access rule."""

from __future__ import annotations

import json
import time
from typing import Any

import authorizer
import jwt
import me
import poll
import push
import pytest
import topics as topics_handler
from conftest import (
    NOTIFICATIONS,
    SECRET,
    Transport,
    authorizer_event,
    http_event,
    message_event,
)
from test_push import add_connection
from wsnotify import config, subscriptions, topics
from wsnotify.errors import RequestError

SUBSCRIPTIONS = "ws-subscriptions"
TOPIC_HISTORY = "ws-topic-history"
ENDPOINT = "https://ws.execute-api.us-east-1.amazonaws.com/prod"
NAMESPACES = {
    "": {"self_subscribe": False, "history": True, "history_ttl_seconds": 3600},
    "news": {"self_subscribe": True, "history": True, "history_ttl_seconds": 600},
    "vip": {"self_subscribe": False, "history": True},
    "live": {"self_subscribe": True, "history": False},
}
BACKEND = {"iam": {"userArn": "arn:aws:iam::123456789012:role/backend"}}


@pytest.fixture
def topic_aws(aws: Any, transport: Transport, env: pytest.MonkeyPatch) -> Any:
    env.setenv("SUBSCRIPTIONS_TABLE", SUBSCRIPTIONS)
    env.setenv("SUBSCRIPTIONS_USER_INDEX", "userId-index")
    env.setenv("TOPIC_HISTORY_TABLE", TOPIC_HISTORY)
    env.setenv("TOPIC_NAMESPACES", json.dumps(NAMESPACES))
    env.setenv("TOPICS_CLAIM", "topics")
    env.setenv("CONNECTIONS_ENDPOINT", ENDPOINT)
    # As modules/tables/topics.tf creates them.
    aws.create_table(
        TableName=SUBSCRIPTIONS,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "topic", "AttributeType": "S"},
            {"AttributeName": "userId", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "topic", "KeyType": "HASH"},
            {"AttributeName": "userId", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "userId-index",
                "KeySchema": [
                    {"AttributeName": "userId", "KeyType": "HASH"},
                    {"AttributeName": "topic", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )
    aws.create_table(
        TableName=TOPIC_HISTORY,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "topic", "AttributeType": "S"},
            {"AttributeName": "notificationId", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "topic", "KeyType": "HASH"},
            {"AttributeName": "notificationId", "KeyType": "RANGE"},
        ],
    )
    return aws


def ws(
    transport: Transport, action: str, body: dict[str, Any], patterns: list[str] | None = None
) -> Any:
    event = message_event(action, "c-alice", {"action": action, **body})
    if patterns is not None:
        event["requestContext"]["authorizer"][topics.CONTEXT_KEY] = json.dumps(patterns)
    handler = poll.handler if action == "poll" else topics_handler.handler
    assert handler(event, None) == {"statusCode": 200}
    return transport.last("c-alice")


def http(
    method: str,
    route: str,
    params: dict[str, str],
    authorizer: dict[str, Any],
    query: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    path = route
    for k, v in params.items():
        path = path.replace("{" + k + "}", v)
    event = http_event(
        None,
        route_key=f"{method} {route}",
        path=path,
        path_parameters=params or None,
        query=query,
        authorizer=authorizer,
    )
    handler = me.handler if route == "/v1/me/notifications" else topics_handler.handler
    out = handler(event, None)
    return out["statusCode"], json.loads(out["body"])


def jwt_user(user: str = "alice", claim: str | None = None) -> dict[str, Any]:
    claims = {"sub": user}
    if claim is not None:
        claims["topics"] = claim
    return {"jwt": {"claims": claims, "scopes": None}}


def subscribed(topic: str) -> list[str]:
    return sorted(
        u for page in subscriptions.subscriber_pages(SUBSCRIPTIONS, topic, 2) for u in page
    )


# --- names, namespaces, claims ------------------------------------------------------------


@pytest.mark.parametrize("name", ["weather", "news:sports", "news:a.b@c=d-e_f", "vip:x", "n" * 128])
def test_valid_topic_names(topic_aws: Any, name: str) -> None:
    assert topics.resolve(config.load(), name).name == name


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (7, "topic must be a string"),
        ("", "topic must be 1..128 characters"),
        ("n" * 129, "topic must be 1..128 characters"),
        ("news:a/b", "topic must be [namespace:]name"),
        ("News:a", "topic must be [namespace:]name"),
        ("news:a:b", "topic must be [namespace:]name"),
        ("news:", "topic must be [namespace:]name"),
        ("sport:football", "topic: unknown namespace 'sport'"),
    ],
)
def test_invalid_topic_names(topic_aws: Any, value: Any, message: str) -> None:
    with pytest.raises(RequestError) as exc:
        topics.resolve(config.load(), value)
    assert exc.value.code == "INVALID_REQUEST" and exc.value.message.startswith(message)


def test_topics_disabled_is_a_clear_error(aws: Any, env: pytest.MonkeyPatch) -> None:
    env.delenv("SUBSCRIPTIONS_TABLE", raising=False)
    with pytest.raises(RequestError, match="topics are not enabled"):
        topics.resolve(config.load(), "weather")


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        (["news:*", "vip:gold"], ["news:*", "vip:gold"]),
        ("news:* vip:gold", ["news:*", "vip:gold"]),
        ("[news:* vip:gold]", ["news:*", "vip:gold"]),  # API Gateway's flattened array claim
        ('["vip:gold"]', ["vip:gold"]),
        (["bad topic!", "", "vip:gold"], ["vip:gold"]),
        (None, None),
        ({"a": 1}, None),
    ],
)
def test_claim_forms(claim: Any, expected: Any) -> None:
    assert topics.parse_claim(claim) == expected


def test_claim_patterns_match_exactly_or_by_prefix() -> None:
    assert topics.matches(["news:*"], "news:sports")
    assert topics.matches(["vip:gold"], "vip:gold")
    assert not topics.matches(["vip:gold"], "vip:golden")
    assert not topics.matches(["news:*"], "vip:news")
    assert topics.matches(["*"], "anything")


def test_authorizer_passes_topic_patterns_on(topic_aws: Any, env: pytest.MonkeyPatch) -> None:
    token = jwt.encode(
        {"sub": "alice", "exp": int(time.time()) + 600, "topics": ["vip:gold", "news:*"]},
        SECRET,
        algorithm="HS256",
    )
    out = authorizer.handler(authorizer_event(query={"token": token}), None)
    assert json.loads(out["context"][topics.CONTEXT_KEY]) == ["news:*", "vip:gold"]
    http_out = authorizer.handler(
        {"version": "2.0", "type": "REQUEST", "headers": {"authorization": f"Bearer {token}"}},
        None,
    )
    assert http_out["context"] == {"userId": "alice", topics.CONTEXT_KEY: '["news:*","vip:gold"]'}
    # Too large for what is left of the context budget: left out (and logged), never truncated.
    big = jwt.encode(
        {
            "sub": "alice",
            "exp": int(time.time()) + 600,
            "topics": [f"vip:{i:05}" for i in range(700)],
        },
        SECRET,
        algorithm="HS256",
    )
    out = authorizer.handler(authorizer_event(query={"token": big}), None)
    assert topics.CONTEXT_KEY not in out["context"]


# --- WebSocket subscribe / unsubscribe ---------------------------------------------------


def test_websocket_self_subscribe_where_the_namespace_allows(
    topic_aws: Any, transport: Transport
) -> None:
    frame = ws(transport, "subscribe", {"topic": "news:sports"})
    assert frame["type"] == "ack" and frame["id"] == "req-subscribe-c-alice"
    assert frame["data"] == {
        "ok": True,
        "topic": "news:sports",
        "userId": "alice",
        "subscribed": True,
        "created": True,
    }
    assert subscribed("news:sports") == ["alice"]
    assert ws(transport, "subscribe", {"topic": "news:sports"})["data"]["created"] is False
    row = subscriptions.get(SUBSCRIPTIONS, "news:sports", "alice")
    assert row is not None and row["source"] == "self"
    frame = ws(transport, "unsubscribe", {"topic": "news:sports"})
    assert frame["data"]["removed"] is True and frame["data"]["subscribed"] is False
    assert subscribed("news:sports") == []
    assert ws(transport, "unsubscribe", {"topic": "news:sports"})["data"]["removed"] is False


def test_websocket_subscribe_needs_the_namespace_or_a_claim(
    topic_aws: Any, transport: Transport
) -> None:
    frame = ws(transport, "subscribe", {"topic": "vip:gold"})
    assert frame["type"] == "error" and frame["error"]["code"] == "FORBIDDEN"
    assert subscribed("vip:gold") == []
    frame = ws(transport, "subscribe", {"topic": "vip:gold"}, patterns=["vip:silver"])
    assert frame["error"]["code"] == "FORBIDDEN"
    frame = ws(transport, "subscribe", {"topic": "vip:gold"}, patterns=["vip:*"])
    assert frame["type"] == "ack" and subscribed("vip:gold") == ["alice"]
    # Unsubscribing follows the same rule.
    assert ws(transport, "unsubscribe", {"topic": "vip:gold"})["error"]["code"] == "FORBIDDEN"
    assert ws(transport, "unsubscribe", {"topic": "vip:gold"}, ["vip:gold"])["type"] == "ack"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "topic must be a string"),
        ({"topic": "news:sports", "userId": "bob"}, "unknown field(s): userId"),
        ({"topic": "nope:x"}, "topic: unknown namespace 'nope'"),
    ],
)
def test_websocket_subscribe_bad_input(
    topic_aws: Any, transport: Transport, body: dict[str, Any], message: str
) -> None:
    frame = ws(transport, "subscribe", body)
    assert frame["type"] == "error"
    assert frame["error"] == {"code": "INVALID_REQUEST", "message": message}


# --- HTTP API -------------------------------------------------------------------------------


def test_backend_routes_manage_anybodys_subscriptions(topic_aws: Any, transport: Transport) -> None:
    route = "/v1/topics/{topic}/subscribers/{userId}"
    for user in ("carol", "alice", "bob"):
        status, doc = http("PUT", route, {"topic": "vip:gold", "userId": user}, BACKEND)
        assert status == 200 and doc["created"] is True and doc["subscribed"] is True
    # A percent-encoded colon names the same topic.
    status, doc = http("PUT", route, {"topic": "vip%3Agold", "userId": "bob"}, BACKEND)
    assert status == 200 and doc["topic"] == "vip:gold" and doc["created"] is False
    status, doc = http(
        "GET", "/v1/topics/{topic}/subscribers", {"topic": "vip:gold"}, BACKEND, {"limit": "2"}
    )
    assert status == 200 and [s["userId"] for s in doc["subscribers"]] == ["alice", "bob"]
    assert doc["subscribers"][0]["source"] == "backend"
    assert isinstance(doc["subscribers"][0]["createdAt"], int) and doc["next"] == "bob"
    status, doc = http(
        "GET", "/v1/topics/{topic}/subscribers", {"topic": "vip:gold"}, BACKEND, {"after": "bob"}
    )
    assert [s["userId"] for s in doc["subscribers"]] == ["carol"] and doc["next"] is None
    status, doc = http("DELETE", route, {"topic": "vip:gold", "userId": "bob"}, BACKEND)
    assert status == 200 and doc["removed"] is True
    assert subscribed("vip:gold") == ["alice", "carol"]
    status, doc = http(
        "GET", "/v1/topics/{topic}/subscribers", {"topic": "vip:gold"}, BACKEND, {"limit": "0"}
    )
    assert status == 400 and doc["error"]["message"] == "limit must be an integer 1..1000"
    status, doc = http("PUT", route, {"topic": "bad:x", "userId": "bob"}, BACKEND)
    assert status == 400 and doc["error"]["code"] == "INVALID_REQUEST"


def test_me_routes_follow_the_self_subscription_rule(topic_aws: Any, transport: Transport) -> None:
    one = "/v1/me/subscriptions/{topic}"
    status, doc = http("GET", one, {"topic": "news:sports"}, jwt_user())
    assert status == 404 and doc["error"]["code"] == "NOT_FOUND"
    status, doc = http("PUT", one, {"topic": "news:sports"}, jwt_user())
    assert status == 200 and doc["created"] is True
    status, doc = http("GET", one, {"topic": "news%3Asports"}, jwt_user())
    assert status == 200 and doc["topic"] == "news:sports" and doc["source"] == "self"
    # vip is not self-service: only a token whose claim lists the topic.
    status, doc = http("PUT", one, {"topic": "vip:gold"}, jwt_user())
    assert status == 403 and doc["error"]["code"] == "FORBIDDEN"
    status, doc = http("PUT", one, {"topic": "vip:gold"}, jwt_user(claim="[vip:gold news:*]"))
    assert status == 200
    # hs256 mode: the Lambda authorizer's context carries the patterns.
    lam = {"lambda": {"userId": "bob", topics.CONTEXT_KEY: '["vip:*"]'}}
    assert http("PUT", one, {"topic": "vip:gold"}, lam)[0] == 200
    assert http("PUT", one, {"topic": "vip:gold"}, {"lambda": {"userId": "carol"}})[0] == 403
    status, doc = http("GET", "/v1/me/subscriptions", {}, jwt_user(), {"limit": "1"})
    assert status == 200 and doc == {
        "ok": True,
        "userId": "alice",
        "topics": ["news:sports"],
        "next": "news:sports",
    }
    status, doc = http("GET", "/v1/me/subscriptions", {}, jwt_user(), {"after": "news:sports"})
    assert doc["topics"] == ["vip:gold"] and doc["next"] is None
    assert http("DELETE", one, {"topic": "vip:gold"}, jwt_user())[0] == 403
    status, doc = http("DELETE", one, {"topic": "news:sports"}, jwt_user())
    assert status == 200 and doc["removed"] is True
    assert http("GET", "/v1/me/subscriptions", {}, {})[0] == 401


# --- direct invoke ---------------------------------------------------------------------------


def test_direct_invoke(topic_aws: Any) -> None:
    def invoke(request: Any) -> dict[str, Any]:
        return topics_handler.handler(request, None)

    out = invoke({"topics": {"action": "subscribe", "topic": "vip:gold", "userId": "bob"}})
    assert out == {
        "ok": True,
        "topic": "vip:gold",
        "userId": "bob",
        "subscribed": True,
        "created": True,
    }
    out = invoke({"topics": {"action": "list", "topic": "vip:gold", "limit": 10}})
    assert [s["userId"] for s in out["subscribers"]] == ["bob"] and out["next"] is None
    out = invoke({"topics": {"action": "unsubscribe", "topic": "vip:gold", "userId": "bob"}})
    assert out["removed"] is True
    for bad, message in [
        ({"topics": {"action": "drop", "topic": "x"}}, "topics.action must be one of"),
        ({"topics": {"action": "list", "topic": "x", "userId": "a"}}, "unknown field(s): userId"),
        ({"topics": {"action": "subscribe", "topic": "x"}}, "userId must be a string"),
        ({"topic": "x"}, 'the request must be {"topics": {...}}'),
    ]:
        out = invoke(bad)
        assert out["ok"] is False and out["error"]["code"] == "INVALID_REQUEST"
        assert out["error"]["message"].startswith(message)


# --- topic push -----------------------------------------------------------------------------


def test_topic_push_reaches_subscribers_connections_only(
    topic_aws: Any, transport: Transport
) -> None:
    for cid, user in [("a1", "alice"), ("a2", "alice"), ("b1", "bob"), ("c1", "carol")]:
        add_connection(topic_aws, cid, user)
    subscriptions.subscribe(SUBSCRIPTIONS, "news:sports", "alice", "backend")
    subscriptions.subscribe(SUBSCRIPTIONS, "news:sports", "bob", "backend")
    subscriptions.subscribe(SUBSCRIPTIONS, "news:other", "carol", "backend")
    out = push.handler({"topic": "news:sports", "message": {"score": "2-1"}}, None)
    assert out["ok"] is True and out["topic"] == "news:sports"
    assert out["targeted"] == 3 and out["delivered"] == 3 and out["subscribers"] == 2
    assert out["persisted"] is True
    for cid in ("a1", "a2", "b1"):
        frame = transport.last(cid)
        assert frame["data"] == {"score": "2-1"} and frame["topic"] == "news:sports"
        assert frame["id"] == out["notificationId"]
    assert transport.frames["c1"] == []
    # History: one row for the topic, none per subscriber.
    rows = topic_aws.scan(TableName=TOPIC_HISTORY)["Items"]
    assert len(rows) == 1 and rows[0]["topic"]["S"] == "news:sports"
    ttl = int(rows[0]["expiresAt"]["N"]) - int(time.time())
    assert 590 <= ttl <= 600  # the namespace's history_ttl_seconds
    assert topic_aws.scan(TableName=NOTIFICATIONS)["Items"] == []


def test_topic_push_over_http_and_with_no_subscribers(topic_aws: Any, transport: Transport) -> None:
    event = http_event(json.dumps({"topic": "weather", "message": "rain"}), authorizer=BACKEND)
    out = push.handler(event, None)
    doc = json.loads(out["body"])
    assert out["statusCode"] == 200 and doc["topic"] == "weather" and doc["targeted"] == 0


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        (
            {"topic": "live:match", "message": 1, "persist": True},
            "INVALID_REQUEST",
            "persist: this topic's namespace keeps no history",
        ),
        (
            {"topic": "x", "userId": "a", "message": 1},
            "INVALID_REQUEST",
            "exactly one of userId, userIds, broadcast, topic, segment",
        ),
        ({"topic": "zzz:x", "message": 1}, "INVALID_REQUEST", "topic: unknown namespace 'zzz'"),
    ],
)
def test_topic_push_bad_requests(
    topic_aws: Any, transport: Transport, request_: dict[str, Any], code: str, message: str
) -> None:
    out = push.handler(request_, None)
    assert out == {"ok": False, "error": {"code": code, "message": message}}


def test_topic_push_without_history_namespace_stores_nothing(
    topic_aws: Any, transport: Transport
) -> None:
    add_connection(topic_aws, "a1", "alice")
    subscriptions.subscribe(SUBSCRIPTIONS, "live:match", "alice", "self")
    out = push.handler({"topic": "live:match", "message": "goal"}, None)
    assert out["persisted"] is False and out["delivered"] == 1
    assert topic_aws.scan(TableName=TOPIC_HISTORY)["Items"] == []


def test_clients_may_not_push_to_topics(
    topic_aws: Any, transport: Transport, env: pytest.MonkeyPatch
) -> None:
    env.setenv("ALLOW_CLIENT_PUSH", "true")
    event = message_event("push", "c-alice", {"action": "push", "topic": "news:x", "message": 1})
    push.handler(event, None)
    assert transport.last("c-alice")["error"] == {
        "code": "FORBIDDEN",
        "message": "clients may not push to topics",
    }


def test_topic_push_idempotency_covers_the_topic(topic_aws: Any, transport: Transport) -> None:
    first = push.handler({"topic": "weather", "message": 1, "idempotencyKey": "k"}, None)
    again = push.handler({"topic": "weather", "message": 1, "idempotencyKey": "k"}, None)
    assert again["repeat"] is True and again["notificationId"] == first["notificationId"]
    other = push.handler({"topic": "news:x", "message": 1, "idempotencyKey": "k"}, None)
    assert other["ok"] is False and other["error"]["code"] == "INVALID_REQUEST"


# --- topic history --------------------------------------------------------------------------


def test_topic_history_is_for_subscribers_only(topic_aws: Any, transport: Transport) -> None:
    ids = [
        push.handler({"topic": "news:sports", "message": n}, None)["notificationId"]
        for n in range(3)
    ]
    frame = ws(transport, "poll", {"topic": "news:sports"})
    assert frame["type"] == "error" and frame["error"]["code"] == "FORBIDDEN"
    status, doc = http("GET", "/v1/me/notifications", {}, jwt_user(), {"topic": "news:sports"})
    assert status == 403 and doc["error"]["code"] == "FORBIDDEN"

    subscriptions.subscribe(SUBSCRIPTIONS, "news:sports", "alice", "self")
    frame = ws(transport, "poll", {"topic": "news:sports", "limit": 2})
    assert frame["type"] == "history"
    assert [i["id"] for i in frame["data"]["items"]] == ids[:2]
    assert all(i["topic"] == "news:sports" for i in frame["data"]["items"])
    frame = ws(transport, "poll", {"topic": "news:sports", "after": frame["data"]["next"]})
    assert [i["data"] for i in frame["data"]["items"]] == [2] and frame["data"]["next"] is None
    status, doc = http("GET", "/v1/me/notifications", {}, jwt_user(), {"topic": "news:sports"})
    assert status == 200 and [n["id"] for n in doc["notifications"]] == ids
    # The user's own history is untouched by topic pushes.
    status, doc = http("GET", "/v1/me/notifications", {}, jwt_user())
    assert doc["notifications"] == []


def test_topic_history_bad_requests(topic_aws: Any, transport: Transport) -> None:
    subscriptions.subscribe(SUBSCRIPTIONS, "live:match", "alice", "self")
    frame = ws(transport, "poll", {"topic": "live:match"})
    assert frame["error"] == {
        "code": "INVALID_REQUEST",
        "message": "topic live:match: its namespace keeps no history",
    }
    assert ws(transport, "poll", {"topic": 5})["error"]["message"] == "topic must be a string"
    status, doc = http("GET", "/v1/me/notifications", {}, jwt_user(), {"topic": "nope:x"})
    assert status == 400 and doc["error"]["message"] == "topic: unknown namespace 'nope'"


def test_subscriber_pages_are_lazy_pages(topic_aws: Any) -> None:
    for i in range(5):
        subscriptions.subscribe(SUBSCRIPTIONS, "weather", f"u{i}", "backend")
    pages = list(subscriptions.subscriber_pages(SUBSCRIPTIONS, "weather", 2))
    assert pages == [["u0", "u1"], ["u2", "u3"], ["u4"]]

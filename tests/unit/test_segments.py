"""User profiles, the segment index and segment pushes, and dry runs of every target (issue 12,
item 2), against moto's DynamoDB and @connections."""

from __future__ import annotations

import json
from typing import Any

import push
import pytest
import users
from conftest import CONNECTIONS, NOTIFICATIONS, LambdaContext, Transport, http_event, message_event
from test_http_api import BACKEND, iam
from test_push import ENDPOINT, add_connection
from wsnotify import clients, envelope, profiles, segments

PROFILES = "ws-profiles"
INDEX = "ws-segment-index"


def create_profile_tables(ddb: Any) -> None:
    """As modules/tables/profiles.tf creates them."""
    ddb.create_table(
        TableName=PROFILES,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "userId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "userId", "KeyType": "HASH"}],
    )
    ddb.create_table(
        TableName=INDEX,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "attribute", "AttributeType": "S"},
            {"AttributeName": "userId", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "attribute", "KeyType": "HASH"},
            {"AttributeName": "userId", "KeyType": "RANGE"},
        ],
    )


@pytest.fixture
def seg(aws: Any, transport: Transport, env: pytest.MonkeyPatch) -> Transport:
    create_profile_tables(aws)
    env.setenv("CONNECTIONS_ENDPOINT", ENDPOINT)
    env.setenv("PROFILES_TABLE", PROFILES)
    env.setenv("SEGMENT_INDEX_TABLE", INDEX)
    env.setenv("SEGMENT_ATTRIBUTES", "plan, country")
    env.setenv("ALLOW_BROADCAST", "true")
    return transport


def profile_event(method: str, user: str, body: Any = None) -> dict[str, Any]:
    return http_event(
        None if body is None else json.dumps(body),
        route_key=f"{method} /v1/users/{{userId}}",
        path=f"/v1/users/{user}",
        path_parameters={"userId": user},
        authorizer=iam(BACKEND),
    )


def http(method: str, user: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    out = users.handler(profile_event(method, user, body), LambdaContext())
    return out["statusCode"], json.loads(out["body"])


def put_profile(user: str, **body: Any) -> dict[str, Any]:
    result = users.handler({"profiles": {"action": "put", "userId": user, **body}}, LambdaContext())
    assert result["ok"] is True, result
    return result


def index_items(ddb: Any) -> set[tuple[str, str]]:
    items = ddb.scan(TableName=INDEX)["Items"]
    return {(i["attribute"]["S"], i["userId"]["S"]) for i in items}


def population(ddb: Any) -> None:
    put_profile("alice", attributes={"plan": "pro", "country": "DE"})
    put_profile("bob", attributes={"plan": "pro", "country": "FR"})
    put_profile("carol", attributes={"plan": "free", "country": "AT"})
    put_profile("dave", attributes={"plan": "pro", "country": "AT", "team": "x"})
    for cid, user in (("c-a", "alice"), ("c-b", "bob"), ("c-c", "carol"), ("c-d1", "dave")):
        add_connection(ddb, cid, user)
    add_connection(ddb, "c-d2", "dave")


# --- profiles -------------------------------------------------------------------------------


def test_put_get_replace_and_delete_over_http(aws: Any, seg: Transport) -> None:
    body = {
        "attributes": {"plan": "pro", "country": "DE", "team": "core"},
        "timezone": "Europe/Berlin",
        "locale": "de-DE",
    }
    status, doc = http("PUT", "alice", body)
    assert status == 200
    assert doc["created"] is True and doc["attributes"] == body["attributes"]
    assert (doc["timezone"], doc["locale"]) == ("Europe/Berlin", "de-DE")
    # Only the declared attributes are indexed.
    assert index_items(aws) == {("plan=pro", "alice"), ("country=DE", "alice")}
    status, got = http("GET", "alice")
    assert status == 200 and got == {k: v for k, v in doc.items() if k != "created"}

    # PUT replaces the whole profile: omitted fields are unset, superseded index items go.
    status, doc = http("PUT", "alice", {"attributes": {"plan": "free"}})
    assert status == 200 and doc["created"] is False
    assert doc["timezone"] is None and doc["locale"] is None and doc["updatedAt"] > got["updatedAt"]
    assert index_items(aws) == {("plan=free", "alice")}
    item = aws.get_item(TableName=PROFILES, Key={"userId": {"S": "alice"}})["Item"]
    assert set(item) == {"userId", "attributes", "updatedAt"}  # the contract's item shape

    status, doc = http("DELETE", "alice")
    assert (status, doc) == (200, {"ok": True, "userId": "alice", "deleted": True})
    assert index_items(aws) == set()
    for method in ("GET", "DELETE"):
        status, doc = http(method, "alice")
        assert status == 404 and doc["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"attributes": {"plan": 1}}, "attributes.plan must be a string of 1..256 characters"),
        ({"attributes": {"plan": ""}}, "attributes.plan must be a string of 1..256 characters"),
        ({"attributes": {"plan": "x" * 257}}, "attributes.plan must be a string of 1..256"),
        ({"attributes": {"a=b": "x"}}, "attribute name 'a=b' must be 1..64 letters"),
        ({"attributes": {"p": "a\nb"}}, "attributes.p must hold printable characters only"),
        ({"attributes": {f"a{i}": "x" for i in range(51)}}, "at most 50 attributes"),
        ({"attributes": ["plan"]}, "attributes must be an object of string values"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone 'Mars/Olympus_Mons' is not an IANA"),
        ({"timezone": "localtime"}, "timezone 'localtime' is not an IANA"),
        ({"timezone": 1}, "timezone must be an IANA name"),
        ({"locale": "german please"}, "locale must be a BCP 47 language tag"),
        ({"nickname": "al"}, "unknown field(s): nickname"),
    ],
)
def test_bad_profiles_are_refused(aws: Any, seg: Transport, body: Any, message: str) -> None:
    status, doc = http("PUT", "alice", body)
    assert status == 400 and doc["error"]["code"] == "INVALID_REQUEST"
    assert message in doc["error"]["message"]
    assert aws.scan(TableName=PROFILES)["Items"] == [] and index_items(aws) == set()


def test_profiles_by_direct_invoke(aws: Any, seg: Transport) -> None:
    done = put_profile("bob", attributes={"plan": "pro"}, timezone="America/New_York")
    assert done["created"] is True and done["locale"] is None
    got = users.handler({"profiles": {"action": "get", "userId": "bob"}}, LambdaContext())
    assert got["attributes"] == {"plan": "pro"} and got["timezone"] == "America/New_York"
    gone = users.handler({"profiles": {"action": "delete", "userId": "bob"}}, LambdaContext())
    assert gone == {"ok": True, "userId": "bob", "deleted": True}
    for request, code, message in (
        ({"profiles": {"action": "get", "userId": "bob"}}, "NOT_FOUND", "has no profile"),
        ({"profiles": {"action": "list", "userId": "bob"}}, "INVALID_REQUEST", "put, get, delete"),
        ({"profiles": {"action": "get", "userId": "b", "x": 1}}, "INVALID_REQUEST", "field(s): x"),
        ({"profiles": {"action": "get"}}, "INVALID_REQUEST", "userId must be a string"),
        ({"profile": {}}, "INVALID_REQUEST", '{"profiles": {...}}'),
    ):
        result = users.handler(request, LambdaContext())
        assert result["ok"] is False and result["error"]["code"] == code
        assert message in result["error"]["message"]


def test_timezones_for_the_scheduler(aws: Any, seg: Transport) -> None:
    put_profile("a", timezone="Asia/Tokyo")
    put_profile("b", attributes={"plan": "pro"})
    zones = profiles.timezones(PROFILES, ["a", "b", "nobody"])
    assert zones == {"a": "Asia/Tokyo", "b": None, "nobody": None}


def test_a_concurrent_writer_is_retried_not_overwritten(
    aws: Any, seg: Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write conditioned on the version it read loses to one that landed in between, re-reads
    and wins on top of it; the index then matches the final profile."""
    put_profile("alice", attributes={"plan": "free"})
    real_write = profiles._write
    calls: list[int] = []

    def racing(*args: Any) -> bool:
        if not calls:  # another writer lands between our read and our write
            calls.append(1)
            monkeypatch.setattr(profiles, "_write", real_write)
            put_profile("alice", attributes={"plan": "team", "country": "DE"})
        return real_write(*args)

    monkeypatch.setattr(profiles, "_write", racing)
    put_profile("alice", attributes={"plan": "pro"})
    stored = users.handler({"profiles": {"action": "get", "userId": "alice"}}, LambdaContext())
    assert stored["attributes"] == {"plan": "pro"}
    # The loser's view of the old profile (plan=free) did not remove the winner's items wrongly,
    # and nothing of the intermediate profile survives that contradicts the final one unnoticed.
    assert segments.resolve(config(), {"plan": ("pro",)}) == ["alice"]
    assert segments.resolve(config(), {"country": ("DE",)}) == []
    assert ("plan=pro", "alice") in index_items(aws)


def config() -> Any:
    from wsnotify import config as config_module

    return config_module.load()


# --- segments -------------------------------------------------------------------------------


def test_resolution_is_and_across_attributes_or_within_values(aws: Any, seg: Transport) -> None:
    population(aws)
    cfg = config()
    assert segments.resolve(cfg, {"plan": ("pro",)}) == ["alice", "bob", "dave"]
    assert segments.resolve(cfg, {"plan": ("pro",), "country": ("DE", "AT")}) == ["alice", "dave"]
    assert segments.resolve(cfg, {"country": ("AT", "FR")}) == ["bob", "carol", "dave"]
    assert segments.resolve(cfg, {"plan": ("enterprise",)}) == []


def test_segment_push_reaches_the_matching_users_sockets_only(aws: Any, seg: Transport) -> None:
    population(aws)
    request = {"segment": {"plan": ["pro"], "country": ["DE", "AT"]}, "message": {"sale": 1}}
    result = push.handler(request, LambdaContext())
    assert result["ok"] is True and result["targeted"] == 3 and result["delivered"] == 3
    assert set(seg.frames) == {"c-a", "c-d1", "c-d2"}
    assert seg.last("c-a")["data"] == {"sale": 1}
    # Persisted for the matching users only (like userIds).
    rows = aws.scan(TableName=NOTIFICATIONS)["Items"]
    assert sorted(r["userId"]["S"] for r in rows) == ["alice", "dave"]


def test_segment_push_over_http(aws: Any, seg: Transport) -> None:
    population(aws)
    body = json.dumps({"segment": {"country": ["FR"]}, "message": "bonjour"})
    out = push.handler(http_event(body, authorizer=iam(BACKEND)), LambdaContext())
    assert out["statusCode"] == 200 and json.loads(out["body"])["delivered"] == 1
    assert set(seg.frames) == {"c-b"}


@pytest.mark.parametrize(
    ("segment", "message"),
    [
        ({"team": ["x"]}, "segment attribute 'team' is not declared (segment_attributes: plan, "),
        ({}, "segment must be an object of 1..10 attributes"),
        (["plan"], "segment must be an object of 1..10 attributes"),
        ({"plan": "pro"}, "segment.plan must be a list of 1..50 values"),
        ({"plan": []}, "segment.plan must be a list of 1..50 values"),
        ({"plan": [str(i) for i in range(51)]}, "segment.plan must be a list of 1..50 values"),
        ({"plan": ["pro", "pro"]}, "segment.plan must hold unique values"),
        ({"plan": [1]}, "segment.plan[] must be a string of 1..256 characters"),
        ({"a=b": ["x"]}, "segment attribute 'a=b' must be 1..64 letters"),
    ],
)
def test_bad_segments_are_refused(aws: Any, seg: Transport, segment: Any, message: str) -> None:
    population(aws)
    result = push.handler({"segment": segment, "message": 1}, LambdaContext())
    assert result["ok"] is False and result["error"]["code"] == "INVALID_REQUEST"
    assert message in result["error"]["message"]
    assert seg.calls == 0


def test_no_declared_attributes_refuses_every_segment(
    aws: Any, seg: Transport, env: pytest.MonkeyPatch
) -> None:
    env.delenv("SEGMENT_ATTRIBUTES")
    put_profile("alice", attributes={"plan": "pro"})  # stored, never indexed
    assert index_items(aws) == set()
    result = push.handler({"segment": {"plan": ["pro"]}, "message": 1}, LambdaContext())
    assert result["error"]["code"] == "INVALID_REQUEST"
    assert "(segment_attributes: none)" in result["error"]["message"]


def test_clients_may_neither_target_segments_nor_dry_run(
    aws: Any, seg: Transport, env: pytest.MonkeyPatch
) -> None:
    env.setenv("ALLOW_CLIENT_PUSH", "true")
    add_connection(aws, "c-me", "alice")
    for frame, message in (
        ({"action": "push", "segment": {"plan": ["pro"]}, "message": 1}, "target segments"),
        ({"action": "push", "userId": "bob", "message": 1, "dryRun": True}, "dry-run"),
    ):
        push.handler(message_event("push", "c-me", frame), LambdaContext())
        reply = seg.last("c-me")
        assert reply["type"] == "error" and reply["error"]["code"] == "FORBIDDEN"
        assert message in reply["error"]["message"]


def test_a_crashed_write_never_delivers_and_its_item_is_pruned(
    aws: Any, seg: Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index is written before the profile: a crash in between leaves an item that
    contradicts the profile. Resolution skips it, and deletes it once it is provably stale."""
    population(aws)

    def crash(*args: Any) -> bool:
        raise RuntimeError("the function died here")

    with monkeypatch.context() as patched, pytest.raises(RuntimeError):
        patched.setattr(profiles, "_write", crash)
        profiles.put(config(), "carol", profiles.profile_body({"attributes": {"plan": "pro"}}))
    assert ("plan=pro", "carol") in index_items(aws)

    result = push.handler({"segment": {"plan": ["pro"]}, "message": 1}, LambdaContext())
    assert result["targeted"] == 4 and "c-c" not in seg.frames  # carol is still on "free"
    # Newer than carol's profile and young: maybe a write in flight, so kept.
    assert ("plan=pro", "carol") in index_items(aws)

    monkeypatch.setattr(envelope, "now_ms", lambda: envelope_now() + segments.STALE_AFTER_MS + 1)
    assert segments.resolve(config(), {"plan": ("pro",)}) == ["alice", "bob", "dave"]
    assert ("plan=pro", "carol") not in index_items(aws)


def envelope_now() -> int:
    import time

    return int(time.time() * 1000)


def test_an_item_older_than_its_profile_is_pruned_at_once(aws: Any, seg: Transport) -> None:
    population(aws)
    # Left behind by an old write (version 1) that the profile has since superseded.
    clients.dynamodb().put_item(
        TableName=INDEX,
        Item={"attribute": {"S": "plan=pro"}, "userId": {"S": "carol"}, "updatedAt": {"N": "1"}},
    )
    assert segments.resolve(config(), {"plan": ("pro",)}) == ["alice", "bob", "dave"]
    assert ("plan=pro", "carol") not in index_items(aws)


def test_segments_larger_than_inline_delivery_are_refused(
    aws: Any, seg: Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    population(aws)
    monkeypatch.setattr(segments, "MAX_INLINE_SEGMENT_USERS", 2)
    result = push.handler({"segment": {"plan": ["pro"]}, "message": 1}, LambdaContext())
    assert result["error"]["code"] == "INVALID_REQUEST"
    assert "the segment matches 3 users; a push delivers to at most 2" in result["error"]["message"]
    assert seg.calls == 0


def test_idempotent_segment_push(aws: Any, seg: Transport) -> None:
    population(aws)
    request = {"segment": {"country": ["DE"]}, "message": 1, "idempotencyKey": "k1"}
    first = push.handler(request, LambdaContext())
    again = push.handler(request, LambdaContext())
    assert again["repeat"] is True and again["notificationId"] == first["notificationId"]
    assert len(seg.frames["c-a"]) == 1
    other = push.handler({**request, "segment": {"country": ["AT"]}}, LambdaContext())
    assert other["error"]["code"] == "INVALID_REQUEST"  # same key, another audience


# --- dry run --------------------------------------------------------------------------------


def stored_rows(ddb: Any) -> list[Any]:
    return ddb.scan(TableName=NOTIFICATIONS)["Items"]


@pytest.mark.parametrize(
    ("target", "audience", "connections"),
    [
        ({"userId": "dave"}, 1, 2),
        ({"userIds": ["alice", "bob", "nobody"]}, 3, 2),
        ({"broadcast": True}, 5, 5),  # no user list: the audience is the live connections
        ({"segment": {"plan": ["pro"], "country": ["DE", "AT"]}}, 2, 3),
        ({"segment": {"plan": ["enterprise"]}}, 0, 0),
    ],
)
def test_dry_run_counts_and_sends_nothing(
    aws: Any, seg: Transport, target: dict[str, Any], audience: int, connections: int
) -> None:
    population(aws)
    request = {**target, "message": {"m": 1}, "dryRun": True, "idempotencyKey": "dry"}
    result = push.handler(request, LambdaContext())
    assert result == {"ok": True, "dryRun": True, "audience": audience, "connections": connections}
    assert seg.calls == 0 and stored_rows(aws) == []  # no frame, no history, no idempotency claim
    # The same key still sends for real afterwards (the dry run claimed nothing).
    real = push.handler({**request, "dryRun": False}, LambdaContext())
    assert real["ok"] is True and real.get("repeat") is False


def test_dry_run_counts_devices_when_mobile_push_is_on(
    aws: Any, seg: Transport, mobile_aws: dict[str, str]
) -> None:
    population(aws)
    for user, token in (("alice", "a" * 64), ("dave", "d" * 64), ("dave", "e" * 64)):
        registration = {"action": "register", "userId": user, "token": token}
        registration.update(platform="APNS", app="demo")
        import devices as devices_fn

        assert devices_fn.handler({"devices": registration}, LambdaContext())["ok"] is True
    request = {"segment": {"country": ["DE", "AT"]}, "message": 1, "dryRun": True}
    result = push.handler(request, LambdaContext())
    assert result == {"ok": True, "dryRun": True, "audience": 3, "connections": 4, "devices": 3}
    broadcast = push.handler({"broadcast": True, "message": 1, "dryRun": True}, LambdaContext())
    assert broadcast["devices"] == 0  # broadcasts never reach devices
    assert seg.calls == 0


def test_dry_run_still_validates(aws: Any, seg: Transport) -> None:
    too_big = {"userId": "a", "message": "x" * envelope.MAX_NOTIFICATION_BYTES, "dryRun": True}
    assert push.handler(too_big, LambdaContext())["error"]["code"] == "PAYLOAD_TOO_LARGE"
    bad = push.handler({"userId": "a", "message": 1, "dryRun": "yes"}, LambdaContext())
    assert bad["error"]["message"] == "dryRun must be true or false"


def test_dry_run_over_http(aws: Any, seg: Transport) -> None:
    population(aws)
    body = json.dumps({"userIds": ["alice", "dave"], "message": 1, "dryRun": True})
    out = push.handler(http_event(body, authorizer=iam(BACKEND)), LambdaContext())
    assert out["statusCode"] == 200
    assert json.loads(out["body"]) == {"ok": True, "dryRun": True, "audience": 2, "connections": 3}
    assert aws.scan(TableName=CONNECTIONS)["Count"] == 5 and seg.calls == 0


@pytest.mark.parametrize("locale", ["de", "de-DE", "zh-Hant-TW", "es-419", "sr-Latn-RS"])
def test_bcp47_locales_are_accepted(locale: str) -> None:
    assert profiles.valid_locale(locale) == locale


def test_timezones_fall_back_to_the_name_shape_without_a_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A runtime without any time zone database (none is guaranteed in every Lambda image)
    still accepts IANA-shaped names and refuses the rest."""
    monkeypatch.setattr(profiles, "_zones", lambda: frozenset())
    assert profiles.valid_timezone("America/Argentina/Buenos_Aires") == (
        "America/Argentina/Buenos_Aires"
    )
    assert profiles.valid_timezone("UTC") == "UTC"
    with pytest.raises(Exception, match="is not an IANA time zone name"):
        profiles.valid_timezone("not a zone")


def test_an_index_item_of_a_newer_write_is_never_downgraded(aws: Any, seg: Transport) -> None:
    future = envelope_now() + 10**9  # a concurrent write with a newer version put it
    clients.dynamodb().put_item(
        TableName=INDEX,
        Item={
            "attribute": {"S": "plan=pro"},
            "userId": {"S": "alice"},
            "updatedAt": {"N": str(future)},
        },
    )
    put_profile("alice", attributes={"plan": "pro"})
    put_profile("alice", attributes={"plan": "free"})  # its removal spares the newer item
    item = aws.get_item(
        TableName=INDEX, Key={"attribute": {"S": "plan=pro"}, "userId": {"S": "alice"}}
    )["Item"]
    assert int(item["updatedAt"]["N"]) == future


def test_a_delete_retries_when_the_profile_changes_under_it(
    aws: Any, seg: Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_profile("alice", attributes={"plan": "pro"})
    real_get = profiles._get
    seen: list[int] = []

    def stale_once(table: str, user: str) -> Any:
        item = real_get(table, user)
        if not seen and item is not None:
            seen.append(1)  # another writer lands right after this read
            put_profile("alice", attributes={"plan": "team", "country": "AT"})
        return item

    monkeypatch.setattr(profiles, "_get", stale_once)
    assert profiles.delete(config(), "alice") is True
    assert aws.scan(TableName=PROFILES)["Items"] == [] and index_items(aws) == set()


def test_an_unserved_profile_method_deletes_nothing(aws: Any, seg: Transport) -> None:
    put_profile("alice", attributes={"plan": "pro"})
    status, doc = http("PATCH", "alice", {"attributes": {}})
    assert status == 400 and "unsupported profile operation 'patch'" in doc["error"]["message"]
    assert http("GET", "alice")[0] == 200

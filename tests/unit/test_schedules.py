"""Scheduled sends against moto: the Scheduler schedules push creates (input, idempotency key,
retry policy, DLQ, delete after completion), timezone grouping from the profiles table, the fire
path (a Scheduler retry never sends twice; a cancelled schedule sends nothing) and management
through the schedules function (direct invoke and HTTP)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import push
import pytest
import schedules as schedules_function
from conftest import Transport, http_event, message_event
from test_push import ENDPOINT, add_connection, history_rows
from wsnotify import clients, schedule_parts, schedules

TABLE = "ws-schedules"
PROFILES = "ws-profiles"
GROUP = "ws"
ROLE = "arn:aws:iam::123456789012:role/ws-scheduler"
TARGET = "arn:aws:lambda:us-east-1:123456789012:function:ws-push"
DLQ = "arn:aws:sqs:us-east-1:123456789012:ws-schedule-dlq"
IAM = {"iam": {"userArn": "arn:aws:iam::123456789012:role/backend"}}


@pytest.fixture
def sched(aws: Any, transport: Transport, env: pytest.MonkeyPatch) -> Transport:
    env.setenv("CONNECTIONS_ENDPOINT", ENDPOINT)
    env.setenv("SCHEDULES_TABLE", TABLE)
    env.setenv("SCHEDULE_GROUP", GROUP)
    env.setenv("SCHEDULER_ROLE_ARN", ROLE)
    env.setenv("SCHEDULE_TARGET_ARN", TARGET)
    env.setenv("SCHEDULE_DLQ_ARN", DLQ)
    env.setenv("PROFILES_TABLE", PROFILES)
    env.setenv("DEFAULT_TIMEZONE", "UTC")
    aws.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "scheduleId", "AttributeType": "S"},
            {"AttributeName": "target", "AttributeType": "S"},
            {"AttributeName": "createdAt", "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": "scheduleId", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "target-index",
                "KeySchema": [
                    {"AttributeName": "target", "KeyType": "HASH"},
                    {"AttributeName": "createdAt", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    # The profiles table as the segments work defines it: pk userId, attribute timezone.
    aws.create_table(
        TableName=PROFILES,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "userId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "userId", "KeyType": "HASH"}],
    )
    clients.scheduler().create_schedule_group(Name=GROUP)
    return transport


def profile(ddb: Any, user: str, zone: str | None) -> None:
    item = {"userId": {"S": user}, "attributes": {"M": {}}}
    if zone is not None:
        item["timezone"] = {"S": zone}
    ddb.put_item(TableName=PROFILES, Item=item)


def in_seconds(seconds: int) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def scheduler_schedule(schedule_id: str, part: str = "0") -> dict[str, Any]:
    found: dict[str, Any] = clients.scheduler().get_schedule(
        Name=f"{schedule_id}-{part}", GroupName=GROUP
    )
    return found


def parts_of(schedule_id: str) -> list[str]:
    names = [s["Name"] for s in clients.scheduler().list_schedules(GroupName=GROUP)["Schedules"]]
    return sorted(n for n in names if n.startswith(schedule_id))


def fire(schedule_id: str, part: str = "0", scheduled_time: str = "2026-12-01T10:00:00Z") -> Any:
    """What Scheduler does: substitute the context attributes, invoke push with the input."""
    text = scheduler_schedule(schedule_id, part)["Target"]["Input"]
    for name, value in {
        "scheduled-time": scheduled_time,
        "execution-id": "exec-1",
        "attempt-number": "1",
    }.items():
        text = text.replace(f"<aws.scheduler.{name}>", value)
    return push.handler(json.loads(text), None)


def manage(action: str, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = schedules_function.handler(
        {"schedules": {"action": action, **fields}}, None
    )
    return out


# --- creating ------------------------------------------------------------------------------


def test_send_at_creates_one_time_schedule_with_retry_dlq_and_delete(sched: Transport) -> None:
    at = in_seconds(120)
    out = push.handler({"userId": "alice", "message": {"t": 1}, "sendAt": at}, None)
    assert out["ok"] is True and out["scheduled"] is True and out["fireTimes"] == [at]
    sid = out["scheduleId"]
    s = scheduler_schedule(sid)
    assert s["ScheduleExpression"] == f"at({at[:-1]})"
    assert s["ScheduleExpressionTimezone"] == "UTC"
    assert s["ActionAfterCompletion"] == "DELETE"
    assert s["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = s["Target"]
    assert target["Arn"] == TARGET and target["RoleArn"] == ROLE
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600}
    assert target["DeadLetterConfig"] == {"Arn": DLQ}
    document = json.loads(target["Input"])
    assert document["request"] == {
        "userId": "alice",
        "message": {"t": 1},
        "idempotencyKey": f"schedule/{sid}/0/<aws.scheduler.scheduled-time>",
    }
    assert document["scheduledPush"]["scheduledTime"] == "<aws.scheduler.scheduled-time>"
    assert sched.calls == 0  # nothing sent now


def test_http_scheduled_publish_is_202(sched: Transport) -> None:
    body = json.dumps({"userId": "alice", "message": "m", "delaySeconds": 60})
    out = push.handler(http_event(body, authorizer=IAM), None)
    assert out["statusCode"] == 202
    doc = json.loads(out["body"])
    assert doc["scheduled"] is True and len(doc["fireTimes"]) == 1


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        ({"userId": "a", "message": 1, "sendAt": in_seconds(60), "delaySeconds": 5}, "at most one"),
        ({"userId": "a", "message": 1, "delaySeconds": 5, "dryRun": True}, "dryRun answers now"),
        ({"broadcast": True, "message": 1, "localTime": {"time": "09:00"}}, "known audience"),
        ({"userId": "a", "delaySeconds": 5}, "message is required"),
        ({"userId": "a", "message": 1, "delaySeconds": -1}, "delaySeconds must be"),
    ],
)
def test_invalid_scheduled_requests(
    sched: Transport, env: pytest.MonkeyPatch, request_body: dict[str, Any], message: str
) -> None:
    env.setenv("ALLOW_BROADCAST", "true")
    out = push.handler(request_body, None)
    assert out["ok"] is False and out["error"]["code"] == "INVALID_REQUEST"
    assert message in out["error"]["message"]
    assert clients.scheduler().list_schedules(GroupName=GROUP)["Schedules"] == []


def test_scheduling_disabled(sched: Transport, env: pytest.MonkeyPatch) -> None:
    env.delenv("SCHEDULE_GROUP")
    out = push.handler({"userId": "a", "message": 1, "delaySeconds": 5}, None)
    assert out["error"]["code"] == "INVALID_REQUEST" and "scheduling.enabled" in str(out)
    assert manage("list")["error"]["code"] == "INVALID_REQUEST"


def test_clients_may_not_schedule(sched: Transport, env: pytest.MonkeyPatch) -> None:
    env.setenv("ALLOW_CLIENT_PUSH", "true")
    body = {"action": "push", "userId": "bob", "message": 1, "delaySeconds": 5}
    push.handler(message_event("push", "caller", body), None)
    assert sched.last("caller")["error"]["code"] == "FORBIDDEN"


def test_idempotent_creation(sched: Transport) -> None:
    request = {"userId": "a", "message": 1, "sendAt": in_seconds(300), "idempotencyKey": "k1"}
    first = push.handler(request, None)
    again = push.handler(dict(request), None)
    assert again["scheduleId"] == first["scheduleId"] and again["repeat"] is True
    assert parts_of(first["scheduleId"]) == [f"{first['scheduleId']}-0"]
    other = push.handler({**request, "message": 2}, None)
    assert other["error"]["code"] == "INVALID_REQUEST" and "already used" in str(other)


def test_a_failed_part_removes_the_others_and_the_record(
    sched: Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile(sched_ddb := clients.dynamodb(), "alice", "Europe/Berlin")
    profile(sched_ddb, "bob", "America/New_York")
    real = clients.scheduler()
    calls: list[str] = []

    class Failing:
        def create_schedule(self, **kw: Any) -> Any:
            calls.append(kw["Name"])
            if len(calls) == 2:
                raise RuntimeError("Scheduler is down")
            return real.create_schedule(**kw)

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    monkeypatch.setattr(clients, "scheduler", Failing)
    out = push.handler(
        {"userIds": ["alice", "bob"], "message": 1, "localTime": {"time": "09:00"}}, None
    )
    assert out["error"]["code"] == "INTERNAL_ERROR"
    assert real.list_schedules(GroupName=GROUP)["Schedules"] == []
    assert sched_ddb.scan(TableName=TABLE)["Items"] == []


# --- localTime -----------------------------------------------------------------------------


def test_local_time_groups_by_profile_timezone(sched: Transport) -> None:
    ddb = clients.dynamodb()
    profile(ddb, "alice", "Europe/Berlin")
    profile(ddb, "bob", "America/New_York")
    profile(ddb, "erin", "Europe/Berlin")
    profile(ddb, "dave", "Not/AZone")  # invalid: the default zone
    profile(ddb, "frank", None)  # no timezone: the default zone
    users = ["alice", "bob", "carol", "dave", "erin", "frank"]  # carol has no profile
    out = push.handler(
        {"userIds": users, "message": "m", "localTime": {"date": "2026-12-24", "time": "09:00"}},
        None,
    )
    assert out["ok"] is True, out
    assert out["fireTimes"] == [
        "2026-12-24T08:00:00Z",
        "2026-12-24T09:00:00Z",
        "2026-12-24T14:00:00Z",
    ]
    assert out["groups"] == [
        {"timezone": "Europe/Berlin", "fireAt": "2026-12-24T08:00:00Z", "users": 2, "fired": False},
        {"timezone": "UTC", "fireAt": "2026-12-24T09:00:00Z", "users": 3, "fired": False},
        {
            "timezone": "America/New_York",
            "fireAt": "2026-12-24T14:00:00Z",
            "users": 1,
            "fired": False,
        },
    ]
    sid = out["scheduleId"]
    assert parts_of(sid) == [f"{sid}-0", f"{sid}-1", f"{sid}-2"]
    inputs = [json.loads(scheduler_schedule(sid, p)["Target"]["Input"]) for p in "012"]
    assert inputs[0]["request"]["userIds"] == ["alice", "erin"]
    assert inputs[1]["request"]["userIds"] == ["carol", "dave", "frank"]
    assert inputs[2]["request"]["userId"] == "bob" and "userIds" not in inputs[2]["request"]
    assert [i["scheduledPush"]["timezone"] for i in inputs] == [
        "Europe/Berlin",
        "UTC",
        "America/New_York",
    ]


def test_local_time_delivers_each_group_only_to_its_users(sched: Transport) -> None:
    ddb = clients.dynamodb()
    profile(ddb, "alice", "Europe/Berlin")
    add_connection(ddb, "ca", "alice")
    add_connection(ddb, "cb", "bob")
    out = push.handler(
        {"userIds": ["alice", "bob"], "message": "hi", "localTime": {"time": "09:00"}}, None
    )
    sid = out["scheduleId"]
    names = {g["timezone"]: str(n) for n, g in enumerate(out["groups"])}
    fire(sid, names["Europe/Berlin"])
    assert "ca" in sched.frames and "cb" not in sched.frames
    fire(sid, names["UTC"])
    assert "cb" in sched.frames and len(sched.frames["ca"]) == 1
    view = manage("get", scheduleId=sid)["schedule"]
    assert view["state"] == "completed" and all(g["fired"] for g in view["groups"])


# --- firing --------------------------------------------------------------------------------


def test_fire_delivers_once_even_when_scheduler_retries(sched: Transport) -> None:
    ddb = clients.dynamodb()
    add_connection(ddb, "c1", "alice")
    sid = push.handler({"userId": "alice", "message": "hi", "delaySeconds": 30}, None)["scheduleId"]
    first = fire(sid)
    assert first["ok"] is True and first["delivered"] == 1 and first["repeat"] is False
    retry = fire(sid)  # same scheduled time: the same idempotency key
    assert retry["repeat"] is True and retry["notificationId"] == first["notificationId"]
    assert len(sched.frames["c1"]) == 1 and len(history_rows(ddb, "alice")) == 1
    view = manage("get", scheduleId=sid)["schedule"]
    assert view["fireCount"] == 1 and view["state"] == "completed" and view["fireTimes"] == []
    assert manage("cancel", scheduleId=sid)["error"]["code"] == "INVALID_REQUEST"
    assert manage("update", scheduleId=sid, delaySeconds=5)["error"]["code"] == "INVALID_REQUEST"


def test_recurrence_fires_every_time_until_cancelled(sched: Transport) -> None:
    ddb = clients.dynamodb()
    add_connection(ddb, "c1", "alice")
    out = push.handler(
        {
            "userId": "alice",
            "message": "digest",
            "recurrence": {"cron": "0 9 ? * MON *", "timezone": "Europe/Berlin"},
        },
        None,
    )
    sid = out["scheduleId"]
    assert len(out["fireTimes"]) == 5
    s = scheduler_schedule(sid)
    assert s["ScheduleExpression"] == "cron(0 9 ? * MON *)"
    assert s["ScheduleExpressionTimezone"] == "Europe/Berlin"
    assert s.get("ActionAfterCompletion") in (None, "NONE")  # runs until cancelled
    fire(sid, scheduled_time="2026-12-07T08:00:00Z")
    fire(sid, scheduled_time="2026-12-14T08:00:00Z")
    assert len(sched.frames["c1"]) == 2
    assert manage("get", scheduleId=sid)["schedule"]["fireCount"] == 2
    cancelled = manage("cancel", scheduleId=sid)
    assert cancelled["schedule"]["state"] == "cancelled" and parts_of(sid) == []
    skipped = push.handler(
        {
            schedule_parts.FIRE_KEY: {"scheduleId": sid, "part": "0", "scheduledTime": "x"},
            "request": {"userId": "alice", "message": "digest"},
        },
        None,
    )
    assert skipped == {"ok": True, "skipped": "cancelled"} and len(sched.frames["c1"]) == 2
    assert manage("cancel", scheduleId=sid)["schedule"]["state"] == "cancelled"  # idempotent


def test_recurrence_until_deletes_after_completion(sched: Transport) -> None:
    until = (datetime.now(UTC) + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = push.handler(
        {"userId": "a", "message": 1, "recurrence": {"cron": "0 9 ? * MON *", "until": until}},
        None,
    )
    s = scheduler_schedule(out["scheduleId"])
    assert s["ActionAfterCompletion"] == "DELETE" and s["EndDate"] is not None
    assert 2 <= len(out["fireTimes"]) <= 3


def test_malformed_fire_event(sched: Transport) -> None:
    out = push.handler({schedule_parts.FIRE_KEY: {"scheduleId": "x"}, "request": {}}, None)
    assert out["error"]["code"] == "INVALID_REQUEST"
    out = push.handler({schedule_parts.FIRE_KEY: "x"}, None)
    assert out["error"]["code"] == "INVALID_REQUEST"


# --- managing ------------------------------------------------------------------------------


def test_update_moves_the_time(sched: Transport) -> None:
    sid = push.handler({"userId": "alice", "message": 1, "delaySeconds": 60}, None)["scheduleId"]
    at = in_seconds(3600)
    out = manage("update", scheduleId=sid, sendAt=at)
    assert out["ok"] is True and out["schedule"]["fireTimes"] == [at]
    assert out["schedule"]["when"] == {"sendAt": at}
    assert scheduler_schedule(sid)["ScheduleExpression"] == f"at({at[:-1]})"
    # To localTime: one part per zone; the parts that go are deleted.
    profile(clients.dynamodb(), "alice", "Asia/Tokyo")
    out = manage("update", scheduleId=sid, localTime={"time": "08:00"})
    assert out["schedule"]["groups"][0]["timezone"] == "Asia/Tokyo"
    assert parts_of(sid) == [f"{sid}-0"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "give one of"),
        ({"message": 2}, "only the time can change"),
        ({"sendAt": "yesterday"}, "RFC 3339"),
        ({"sendAt": in_seconds(60), "delaySeconds": 3}, "at most one"),
    ],
)
def test_update_bad_input(sched: Transport, fields: dict[str, Any], message: str) -> None:
    sid = push.handler({"userId": "alice", "message": 1, "delaySeconds": 60}, None)["scheduleId"]
    out = manage("update", scheduleId=sid, **fields)
    assert out["error"]["code"] == "INVALID_REQUEST" and message in out["error"]["message"]


def test_list_filters_by_target_and_pages(sched: Transport) -> None:
    a1 = push.handler({"userId": "alice", "message": 1, "delaySeconds": 60}, None)["scheduleId"]
    a2 = push.handler({"userId": "alice", "message": 2, "delaySeconds": 90}, None)["scheduleId"]
    push.handler({"userIds": ["bob", "carol"], "message": 3, "delaySeconds": 60}, None)
    page = manage("list", target="user:alice", limit=1)
    assert [s["scheduleId"] for s in page["schedules"]] == [a2]  # newest first
    assert page["schedules"][0]["target"] == {"userId": "alice"}
    rest = manage("list", target="user:alice", limit=1, cursor=page["nextCursor"])
    assert [s["scheduleId"] for s in rest["schedules"]] == [a1]
    assert len(manage("list", target="users")["schedules"]) == 1
    everything = manage("list")
    assert len(everything["schedules"]) == 3 and everything["nextCursor"] is None


@pytest.mark.parametrize(
    "fields",
    [
        {"target": "alice"},
        {"target": "user:"},
        {"limit": 0},
        {"limit": "5"},
        {"cursor": "%%%"},
        {"cursor": 5},
        {"unknown": 1},
    ],
)
def test_list_bad_input(sched: Transport, fields: dict[str, Any]) -> None:
    assert manage("list", **fields)["error"]["code"] == "INVALID_REQUEST"


def test_unknown_ids_and_actions(sched: Transport) -> None:
    assert manage("get", scheduleId="0" * 26)["error"]["code"] == "NOT_FOUND"
    assert manage("cancel", scheduleId="0" * 26)["error"]["code"] == "NOT_FOUND"
    assert manage("get", scheduleId="../x")["error"]["code"] == "INVALID_REQUEST"
    assert manage("pause")["error"]["code"] == "INVALID_REQUEST"
    assert schedules_function.handler({"nope": 1}, None)["error"]["code"] == "INVALID_REQUEST"


def http(method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> Any:
    sid = path.rsplit("/", 1)[-1] if path.count("/") == 3 else None
    route = "/v1/schedules/{scheduleId}" if sid else "/v1/schedules"
    out = schedules_function.handler(
        http_event(
            None if body is None else json.dumps(body),
            route_key=f"{method} {route}",
            path=path,
            path_parameters={"scheduleId": sid} if sid else None,
            query=query,
            authorizer=IAM,
        ),
        None,
    )
    return out["statusCode"], json.loads(out["body"])


def test_http_routes(sched: Transport) -> None:
    sid = push.handler({"userId": "alice", "message": 1, "delaySeconds": 60}, None)["scheduleId"]
    status, doc = http("GET", "/v1/schedules", query={"target": "user:alice", "limit": "10"})
    assert status == 200 and doc["schedules"][0]["scheduleId"] == sid
    assert http("GET", "/v1/schedules", query={"limit": "ten"})[0] == 400
    status, doc = http("GET", f"/v1/schedules/{sid}")
    assert status == 200 and doc["schedule"]["state"] == "scheduled"
    status, doc = http("PATCH", f"/v1/schedules/{sid}", {"delaySeconds": 120})
    assert status == 200 and doc["schedule"]["when"] == {"delaySeconds": 120}
    status, doc = http("PATCH", f"/v1/schedules/{sid}", {"action": "cancel"})
    assert status == 400 and "unknown field(s): action" in doc["error"]["message"]
    status, doc = http("DELETE", f"/v1/schedules/{sid}")
    assert status == 200 and doc["schedule"]["state"] == "cancelled"
    assert http("GET", f"/v1/schedules/{'1' * 26}")[0] == 404


def test_internal_error_in_management(sched: Transport, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(schedules, "list_page", broken)
    out = manage("list")
    assert out["error"]["code"] == "INTERNAL_ERROR"


def test_target_keys_for_every_target_kind() -> None:
    assert schedules.target_key({"topic": "events:webinar"}) == "topic:events:webinar"
    assert schedules.target_key({"segment": {"plan": ["pro"]}}) == "segment"
    assert schedules.target_key({"broadcast": True}) == "broadcast"


def test_update_recreates_a_part_scheduler_already_removed(sched: Transport) -> None:
    sid = push.handler({"userId": "alice", "message": 1, "delaySeconds": 60}, None)["scheduleId"]
    clients.scheduler().delete_schedule(Name=f"{sid}-0", GroupName=GROUP)
    out = manage("update", scheduleId=sid, delaySeconds=600)
    assert out["ok"] is True and parts_of(sid) == [f"{sid}-0"]


def test_update_loses_to_a_concurrent_cancel(
    sched: Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = push.handler({"userId": "alice", "message": 1, "delaySeconds": 60}, None)["scheduleId"]
    monkeypatch.setattr(schedules.schedule_store, "update_when", lambda *a: False)
    out = manage("update", scheduleId=sid, delaySeconds=600)
    assert out["error"]["code"] == "INVALID_REQUEST" and "cancelled meanwhile" in str(out)
    assert parts_of(sid) == []


def test_profile_reads_retry_unprocessed_keys(
    sched: Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wsnotify import audience_zones, profiles

    ddb = clients.dynamodb()
    profile(ddb, "alice", "Asia/Tokyo")
    calls: list[int] = []

    class Flaky:
        def batch_get_item(self, **kw: Any) -> Any:
            calls.append(1)
            if len(calls) == 1:  # DynamoDB may leave keys unprocessed under load
                return {
                    "Responses": {PROFILES: []},
                    "UnprocessedKeys": {PROFILES: kw["RequestItems"][PROFILES]},
                }
            return ddb.batch_get_item(**kw)

    monkeypatch.setattr(profiles.clients, "dynamodb", Flaky)
    monkeypatch.setattr(profiles.time, "sleep", lambda s: None)
    assert audience_zones.timezones(PROFILES, ["alice", "bob"]) == {
        "alice": "Asia/Tokyo",
        "bob": None,
    }
    assert len(calls) == 2
    assert audience_zones.timezones("", ["carol"]) == {"carol": None}


def test_a_bad_default_timezone_is_a_configuration_error(
    sched: Transport, env: pytest.MonkeyPatch
) -> None:
    env.setenv("DEFAULT_TIMEZONE", "Nowhere/Land")
    out = push.handler({"userId": "a", "message": 1, "delaySeconds": 5}, None)
    assert out["error"]["code"] == "INTERNAL_ERROR"

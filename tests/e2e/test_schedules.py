"""Scheduled sends end to end: push creates EventBridge Scheduler schedules in the emulated AWS,
local/scheduler.py fires them, real WebSocket clients receive the notifications; the HTTP
routes (validated against docs/openapi.yaml) and the schedules function manage them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from conftest import CLOCK_FILE, REPO, run
from http_client import Answer, call
from test_system import apush, connect, push, recv, silent

from local.controlplane import aws_client


def api(stack: dict[str, Any], method: str, path: str, **kwargs: Any) -> Answer:
    return call(stack["http_api_url"], method, path, region=stack["region"], **kwargs)


def at(seconds: float) -> str:
    """A whole second at least `seconds` from now, as RFC 3339 UTC."""
    instant = datetime.now(UTC) + timedelta(seconds=seconds)
    return (instant.replace(microsecond=0) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def outputs(stack: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = stack["terraform_outputs"]
    return found


def scheduler_names(stack: dict[str, Any], schedule_id: str) -> list[str]:
    client = aws_client("scheduler", stack["aws_endpoint"], stack["region"])
    group = outputs(stack)["schedule_group_name"]
    listed = client.list_schedules(GroupName=group)["Schedules"]
    return sorted(s["Name"] for s in listed if s["Name"].startswith(schedule_id))


def manage(stack: dict[str, Any], action: str, **fields: Any) -> dict[str, Any]:
    lam = boto3.client(
        "lambda",
        endpoint_url=stack["lambda_endpoint"],
        region_name=stack["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    out = lam.invoke(
        FunctionName=outputs(stack)["schedules_function_name"],
        Payload=json.dumps({"schedules": {"action": action, **fields}}).encode(),
    )
    return json.load(out["Payload"])  # type: ignore[no-any-return]


@pytest.fixture
def scheduler_clock() -> Iterator[Any]:
    """Moves the emulated Scheduler's clock (LOCAL_SCHEDULE_CLOCK_FILE): offset in seconds."""
    path = REPO / ".local" / "e2e" / CLOCK_FILE

    def set_offset(seconds: float) -> None:
        path.write_text(json.dumps({"offsetSeconds": seconds}))

    yield set_offset
    path.unlink(missing_ok=True)


def test_scheduled_push_arrives_at_its_time_and_not_before(stack: dict[str, Any]) -> None:
    async def body() -> None:
        phone = await connect(stack, "sched-alice")
        send_at = at(3)
        answer = await asyncio.to_thread(
            api,
            stack,
            "POST",
            "/v1/notifications",
            body={"userId": "sched-alice", "message": {"at": send_at}, "sendAt": send_at},
        )
        assert answer.status == 202, answer.raw
        result = answer.json()
        assert result["scheduled"] is True and result["fireTimes"] == [send_at]
        schedule_id = result["scheduleId"]
        assert scheduler_names(stack, schedule_id) == [f"{schedule_id}-0"]
        assert await silent(phone, within=max(epoch(send_at) - time.time() - 0.3, 0.1))
        frame = await recv(phone, timeout=8)
        assert time.time() >= epoch(send_at) - 0.05  # not before its time
        assert frame["type"] == "notification" and frame["data"] == {"at": send_at}
        # A one-time schedule deletes itself after completion (ActionAfterCompletion DELETE).
        deadline = time.monotonic() + 5
        while scheduler_names(stack, schedule_id) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert scheduler_names(stack, schedule_id) == []
        got = await asyncio.to_thread(api, stack, "GET", f"/v1/schedules/{schedule_id}")
        assert got.status == 200 and got.json()["schedule"]["state"] == "completed"
        assert got.json()["schedule"]["fireCount"] == 1
        await phone.close()

    run(body())


def test_a_cancelled_schedule_never_arrives(stack: dict[str, Any]) -> None:
    async def body() -> None:
        phone = await connect(stack, "sched-bob")
        result = await apush(stack, {"userId": "sched-bob", "message": "no", "delaySeconds": 3})
        schedule_id = result["scheduleId"]
        moved = await asyncio.to_thread(
            api, stack, "PATCH", f"/v1/schedules/{schedule_id}", body={"delaySeconds": 4}
        )
        assert moved.status == 200 and moved.json()["schedule"]["when"] == {"delaySeconds": 4}
        cancelled = await asyncio.to_thread(api, stack, "DELETE", f"/v1/schedules/{schedule_id}")
        assert cancelled.status == 200 and cancelled.json()["schedule"]["state"] == "cancelled"
        assert scheduler_names(stack, schedule_id) == []
        assert await silent(phone, within=5.0)
        listed = await asyncio.to_thread(
            api, stack, "GET", "/v1/schedules", query={"target": "user:sched-bob"}
        )
        assert [s["state"] for s in listed.json()["schedules"]] == ["cancelled"]
        missing = await asyncio.to_thread(api, stack, "GET", f"/v1/schedules/{'0' * 26}")
        assert missing.status == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
        await phone.close()

    run(body())


def zones_of(stack: dict[str, Any], users: dict[str, str]) -> dict[str, str]:
    """Each user's zone, written to the profiles table (always created: the users function keeps
    it) that the push function reads zones from."""
    lam = aws_client("lambda", stack["aws_endpoint"], stack["region"])
    variables = lam.get_function_configuration(FunctionName=stack["push_function_name"])[
        "Environment"
    ]["Variables"]
    table = variables["PROFILES_TABLE"]
    ddb = aws_client("dynamodb", stack["aws_endpoint"], stack["region"])
    for user, zone in users.items():
        ddb.put_item(
            TableName=table,
            Item={"userId": {"S": user}, "timezone": {"S": zone}, "attributes": {"M": {}}},
        )
    return users


def test_local_time_reaches_each_group_at_its_time(
    stack: dict[str, Any], scheduler_clock: Any
) -> None:
    """Each user gets the notification at the wall-clock time of their own zone: one group per
    zone, fired one after the other. The emulated Scheduler's clock is moved to just before each
    group's fire time (two zones, two groups; the grouping rules: tests/unit/test_schedules.py)."""

    async def body() -> None:
        zones = zones_of(stack, {"sched-carol": "Europe/Berlin", "sched-dave": "America/New_York"})
        sockets = {user: await connect(stack, user) for user in zones}
        wall = (datetime.now(UTC) + timedelta(minutes=2)).strftime("%H:%M")
        result = await apush(
            stack,
            {"userIds": sorted(zones), "message": "good morning", "localTime": {"time": wall}},
        )
        assert result["ok"] is True, result
        groups = result["groups"]
        assert len(groups) == 2, groups
        assert sorted(g["timezone"] for g in groups) == sorted(set(zones.values()))
        assert [g["fireAt"] for g in groups] == result["fireTimes"]
        assert len(scheduler_names(stack, result["scheduleId"])) == len(groups)
        assert await silent(sockets["sched-carol"], within=1.0)
        for group in groups:
            scheduler_clock(epoch(group["fireAt"]) - time.time() - 1.5)
            for user, ws in sockets.items():
                if zones[user] == group["timezone"]:
                    frame = await recv(ws, timeout=6)
                    assert frame["data"] == "good morning"
                else:
                    assert await silent(ws, within=0.5), f"{user} got another zone's send"
        view = manage(stack, "get", scheduleId=result["scheduleId"])["schedule"]
        assert all(g["fired"] for g in view["groups"]) and view["state"] == "completed"
        for ws in sockets.values():
            await ws.close()

    run(body())


def test_a_recurring_schedule_fires_until_cancelled(stack: dict[str, Any]) -> None:
    """LOCAL_SCHEDULE_INTERVAL_S=2 (tests/e2e/conftest.py) stands for the cron's minute."""

    async def body() -> None:
        phone = await connect(stack, "sched-erin")
        result = await apush(
            stack,
            {
                "userId": "sched-erin",
                "message": "tick",
                "recurrence": {"cron": "* * * * ? *", "timezone": "Europe/Berlin"},
            },
        )
        assert len(result["fireTimes"]) == 5
        ids = {(await recv(phone, timeout=6))["id"] for _ in range(3)}
        assert len(ids) == 3  # three fires, three notifications (one idempotency key each)
        cancelled = manage(stack, "cancel", scheduleId=result["scheduleId"])
        assert cancelled["schedule"]["state"] == "cancelled"
        assert cancelled["schedule"]["fireCount"] >= 3
        await asyncio.sleep(0.5)  # a fire already handed to push may still land
        while not await silent(phone, within=0.3):
            pass
        assert await silent(phone, within=4.5)
        await phone.close()

    run(body())


def test_a_failing_target_lands_in_the_dead_letter_queue(stack: dict[str, Any]) -> None:
    """A schedule in the group whose target the Scheduler role may not invoke (only push):
    every attempt is denied, and after the retry policy the input goes to the DLQ."""
    scheduler = aws_client("scheduler", stack["aws_endpoint"], stack["region"])
    sqs = aws_client("sqs", stack["aws_endpoint"], stack["region"])
    out = outputs(stack)
    push_arn = aws_client("lambda", stack["aws_endpoint"], stack["region"]).get_function(
        FunctionName=stack["push_function_name"]
    )["Configuration"]["FunctionArn"]
    poll_arn = push_arn.replace("-push", "-poll")  # a real function, not push
    dlq_arn = sqs.get_queue_attributes(
        QueueUrl=out["schedule_dlq_url"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    name = f"dlq-test-{int(time.time())}"
    scheduler.create_schedule(
        Name=name,
        GroupName=out["schedule_group_name"],
        ScheduleExpression=f"at({at(1)[:-1]})",
        ScheduleExpressionTimezone="UTC",
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE",
        Target={
            "Arn": poll_arn,
            "RoleArn": out["scheduler_role_arn"],
            "Input": json.dumps({"at": "<aws.scheduler.scheduled-time>"}),
            "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60},
            "DeadLetterConfig": {"Arn": dlq_arn},
        },
    )
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + 12
    while not messages and time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=out["schedule_dlq_url"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=1,
        ).get("Messages", [])
    assert messages, "nothing reached the dead-letter queue"
    message = messages[0]
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "AccessDeniedException"
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert attributes["RETRY_ATTEMPTS"] == "2"
    assert attributes["TARGET_ARN"] == poll_arn and attributes["SCHEDULE_ARN"].endswith(name)
    assert json.loads(message["Body"])["at"].endswith("Z")  # the input, placeholders replaced
    sqs.delete_message(QueueUrl=out["schedule_dlq_url"], ReceiptHandle=message["ReceiptHandle"])
    listed = scheduler.list_schedules(GroupName=out["schedule_group_name"])["Schedules"]
    assert name not in [s["Name"] for s in listed]  # deleted after completion


def test_push_without_its_scheduler_statement_cannot_schedule(stack: dict[str, Any]) -> None:
    """The push role's scheduler:CreateSchedule is scoped to the group (local IAM checks the
    schedule ARN): without the statement, a scheduled publish fails and leaves nothing behind."""
    from test_iam import without_statement

    request = {"userId": "sched-ivy", "message": 1, "delaySeconds": 300}
    with without_statement(stack, "push", "CreateSchedulesInGroup"):
        denied = push(stack, request)
        assert denied["ok"] is False and denied["error"]["code"] == "INTERNAL_ERROR"
    assert manage(stack, "list", target="user:sched-ivy")["schedules"] == []
    scheduled = push(stack, request)
    assert scheduled["scheduled"] is True  # restored
    manage(stack, "cancel", scheduleId=scheduled["scheduleId"])

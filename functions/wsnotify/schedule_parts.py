"""The EventBridge Scheduler schedules ("parts") behind one schedule id, and their fire event.

One part for `sendAt`, `delaySeconds` and `recurrence`; one part per recipient time zone for
`localTime`. Part `n` of schedule `S` is the Scheduler schedule `S-n` in the deployment's group.

Each part's target is the push function, with this input (Scheduler replaces the
`<aws.scheduler.*>` placeholders at every invocation):

    {"scheduledPush": {"scheduleId": S, "part": "n", "timezone": zone or null,
                       "scheduledTime": "<aws.scheduler.scheduled-time>",
                       "executionId": "<aws.scheduler.execution-id>",
                       "attempt": "<aws.scheduler.attempt-number>"},
     "request": {the publish request without its time field,
                 "idempotencyKey": "schedule/S/n/<aws.scheduler.scheduled-time>"}}

The idempotency key names the schedule, the part and the fire time: a retry of the same fire
(Scheduler's retry policy, Lambda's asynchronous retries) reuses it, and the idempotent publish
(wsnotify/idempotency.py) sends nothing twice; the next fire of a recurrence has a new key."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from wsnotify import audience_zones, clients, events, timing
from wsnotify.schedule_settings import Settings

SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
FIRE_KEY = events.SCHEDULED_PUSH


@dataclass(frozen=True)
class Part:
    name: str
    expression: str  # at(...), cron(...)
    expression_timezone: str
    fire_at: datetime | None  # one-time parts
    timezone: str | None = None  # localTime: the group's zone
    user_ids: tuple[str, ...] = ()  # localTime: the group's users
    end_date: datetime | None = None  # recurrence: until

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"part": self.name}
        if self.fire_at is not None:
            doc["fireAt"] = timing.iso(self.fire_at)
        if self.timezone is not None:
            doc["timezone"] = self.timezone
            doc["users"] = len(self.user_ids)
        return doc


def at_expression(instant: datetime) -> str:
    return f"at({timing.iso(instant)[:-1]})"  # in UTC (ScheduleExpressionTimezone)


def plan(
    settings: Settings, request: dict[str, Any], when: timing.When, now: datetime
) -> list[Part]:
    """The parts of a schedule (validates localTime against each zone's clock)."""
    if when.at is not None:
        return [Part("0", at_expression(when.at), "UTC", when.at)]
    if when.recurring:
        assert when.cron is not None and when.timezone is not None
        return [Part("0", when.cron.aws, when.timezone, None, end_date=when.until)]
    users = audience_zones.audience(request)
    zones = audience_zones.timezones(settings.profiles_table, users)
    groups = audience_zones.group_by_zone(zones, settings.default_timezone)
    timed = sorted(
        (timing.local_instant(when, zone, now), zone, members) for zone, members in groups.items()
    )
    return [
        Part(str(n), at_expression(instant), "UTC", instant, zone, tuple(members))
        for n, (instant, zone, members) in enumerate(timed)
    ]


def fire_request(request: dict[str, Any], part: Part) -> dict[str, Any]:
    """What a part delivers: the request, narrowed to the part's users for localTime."""
    narrowed = dict(request)
    if part.timezone is not None and ("userId" in request or "userIds" in request):
        narrowed.pop("userId", None)
        narrowed.pop("userIds", None)
        if len(part.user_ids) == 1:
            narrowed["userId"] = part.user_ids[0]
        else:
            narrowed["userIds"] = list(part.user_ids)
    return narrowed


def input_document(schedule_id: str, part: Part, request: dict[str, Any]) -> str:
    body = fire_request(request, part)
    body["idempotencyKey"] = f"schedule/{schedule_id}/{part.name}/{SCHEDULED_TIME}"
    document = {
        FIRE_KEY: {
            "scheduleId": schedule_id,
            "part": part.name,
            "timezone": part.timezone,
            "scheduledTime": SCHEDULED_TIME,
            "executionId": "<aws.scheduler.execution-id>",
            "attempt": "<aws.scheduler.attempt-number>",
        },
        "request": body,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def schedule_name(schedule_id: str, part: str) -> str:
    return f"{schedule_id}-{part}"


def _parameters(
    settings: Settings, schedule_id: str, part: Part, request: dict[str, Any]
) -> dict[str, Any]:
    target: dict[str, Any] = {
        "Arn": settings.target_arn,
        "RoleArn": settings.role_arn,
        "Input": input_document(schedule_id, part, request),
        "RetryPolicy": {
            "MaximumRetryAttempts": settings.retry_attempts,
            "MaximumEventAgeInSeconds": settings.maximum_event_age_seconds,
        },
    }
    if settings.dlq_arn:
        target["DeadLetterConfig"] = {"Arn": settings.dlq_arn}
    params: dict[str, Any] = {
        "Name": schedule_name(schedule_id, part.name),
        "GroupName": settings.group,
        "ScheduleExpression": part.expression,
        "ScheduleExpressionTimezone": part.expression_timezone,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": target,
        "State": "ENABLED",
        "Description": f"wsnotify schedule {schedule_id} part {part.name}",
    }
    # One-time parts, and recurrences with an end, remove themselves after their last fire.
    if part.fire_at is not None or part.end_date is not None:
        params["ActionAfterCompletion"] = "DELETE"
    if part.end_date is not None:
        params["EndDate"] = part.end_date
    return params


def create(
    settings: Settings, schedule_id: str, parts: list[Part], request: dict[str, Any]
) -> None:
    """Create every part; on a failure, remove the ones created and re-raise."""
    done: list[str] = []
    try:
        for part in parts:
            clients.scheduler().create_schedule(**_parameters(settings, schedule_id, part, request))
            done.append(part.name)
    except Exception:
        delete(settings, schedule_id, done)
        raise


def replace(
    settings: Settings,
    schedule_id: str,
    old: list[str],
    parts: list[Part],
    request: dict[str, Any],
) -> None:
    """Move a schedule to new parts: UpdateSchedule (a full replacement) for a name that stays,
    CreateSchedule for a new one, DeleteSchedule for one that goes."""
    for part in parts:
        params = _parameters(settings, schedule_id, part, request)
        if part.name in old:
            try:
                clients.scheduler().update_schedule(**params)
                continue
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise
        clients.scheduler().create_schedule(**params)
    delete(settings, schedule_id, [n for n in old if n not in {p.name for p in parts}])


def delete(settings: Settings, schedule_id: str, names: list[str]) -> None:
    """Delete parts; one already gone (fired and deleted after completion) is fine."""
    for name in names:
        try:
            clients.scheduler().delete_schedule(
                Name=schedule_name(schedule_id, name), GroupName=settings.group
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise

"""local/scheduler.py and local/role_policies.py on their own: fire times of at/rate/cron in a
time zone, StartDate/EndDate, the time compression knob, the context attributes, the role checks
Scheduler makes, and cron rules of local/rules.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from local import role_policies, rules, scheduler

NOW = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)


def sched(expression: str, zone: str = "UTC", **extra: Any) -> dict[str, Any]:
    return {
        "Name": "s",
        "ScheduleExpression": expression,
        "ScheduleExpressionTimezone": zone,
        "State": "ENABLED",
        **extra,
    }


def test_at_is_read_in_its_time_zone() -> None:
    s = sched("at(2026-12-01T12:00:00)", "Europe/Berlin")
    assert scheduler.next_fire(s, NOW, NOW, None) == datetime(2026, 12, 1, 11, tzinfo=UTC)
    assert scheduler.next_fire(s, datetime(2026, 12, 1, 11, tzinfo=UTC), NOW, None) is None
    assert scheduler.next_fire({**s, "State": "DISABLED"}, NOW, NOW, None) is None


def test_cron_and_rate_with_end_date_and_compression() -> None:
    weekly = sched("cron(0 9 ? * TUE *)", "America/New_York")
    assert scheduler.next_fire(weekly, NOW, NOW, None) == datetime(2026, 12, 1, 14, tzinfo=UTC)
    ended = {**weekly, "EndDate": datetime(2026, 12, 1, 13, tzinfo=UTC)}
    assert scheduler.next_fire(ended, NOW, NOW, None) is None
    rate = sched("rate(5 minutes)", CreationDate=NOW.timestamp())
    assert scheduler.next_fire(rate, NOW, NOW, None) == datetime(2026, 12, 1, 10, 5, tzinfo=UTC)
    started = {**rate, "StartDate": datetime(2026, 12, 2, tzinfo=UTC).timestamp()}
    assert scheduler.next_fire(started, NOW, NOW, None) == datetime(2026, 12, 2, tzinfo=UTC)
    # LOCAL_SCHEDULE_INTERVAL_S: every recurring schedule fires each N seconds from when seen.
    later = datetime(2026, 12, 1, 10, 0, 5, tzinfo=UTC)
    assert scheduler.next_fire(weekly, later, NOW, 2.0) == datetime(
        2026, 12, 1, 10, 0, 6, tzinfo=UTC
    )
    assert scheduler.next_fire(sched("nonsense"), NOW, NOW, None) is None


def test_context_attributes_are_substituted() -> None:
    text = json.dumps(
        {
            "k": "x/<aws.scheduler.scheduled-time>",
            "arn": "<aws.scheduler.schedule-arn>",
            "n": "<aws.scheduler.attempt-number>",
            "e": "<aws.scheduler.execution-id>",
        }
    )
    out = json.loads(scheduler.substitute(text, "arn:s", NOW, 2))
    assert out["k"] == "x/2026-12-01T10:00:00Z" and out["arn"] == "arn:s" and out["n"] == "2"
    assert len(out["e"]) == 36


def test_clock_offset_file(tmp_path: Path) -> None:
    path = tmp_path / "clock.json"
    clock = scheduler.Clock(str(path))
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 1
    path.write_text(json.dumps({"offsetSeconds": 3600}))
    assert 3599 < (clock.now() - datetime.now(UTC)).total_seconds() < 3601
    path.unlink()
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 1


GROUP = "arn:aws:scheduler:eu-west-1:111122223333:schedule-group/ws"
PUSH = "arn:aws:lambda:eu-west-1:111122223333:function:ws-push"


def role(trust_condition: dict[str, Any] | None = None) -> role_policies.Role:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Action": "sts:AssumeRole",
        "Principal": {"Service": "scheduler.amazonaws.com"},
    }
    if trust_condition is not None:
        statement["Condition"] = trust_condition
    return role_policies.Role(
        {"Statement": [statement]},
        (
            {
                "Statement": [
                    {"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": [PUSH]},
                    {"Effect": "Allow", "Action": "sqs:*", "Resource": "arn:aws:sqs:*:*:dlq"},
                    {"Effect": "Deny", "Action": "sqs:SendMessage", "Resource": "*:denied"},
                ]
            },
        ),
    )


def test_role_checks() -> None:
    scoped = role(
        {
            "StringEquals": {"aws:SourceAccount": "111122223333"},
            "ArnEquals": {"aws:SourceArn": GROUP},
        }
    )
    assert role_policies.trusts(scoped, "scheduler.amazonaws.com", "111122223333", GROUP)
    assert not role_policies.trusts(scoped, "scheduler.amazonaws.com", "999999999999", GROUP)
    assert not role_policies.trusts(scoped, "scheduler.amazonaws.com", "111122223333", GROUP + "x")
    assert not role_policies.trusts(role(), "events.amazonaws.com", "111122223333", GROUP)
    assert role_policies.allows(scoped, "lambda:InvokeFunction", PUSH)
    assert not role_policies.allows(scoped, "lambda:InvokeFunction", PUSH.replace("push", "poll"))
    assert role_policies.allows(scoped, "sqs:SendMessage", "arn:aws:sqs:eu-west-1:1:dlq")
    assert not role_policies.allows(scoped, "sqs:SendMessage", "arn:aws:sqs:eu-west-1:1:denied")


@pytest.mark.parametrize(
    ("expression", "parsed"),
    [("cron(0/5 * * * ? *)", True), ("cron(0 9 * * MON)", False), ("rate(5 minutes)", False)],
)
def test_cron_rules(expression: str, parsed: bool) -> None:
    assert (rules._cron(expression) is not None) == parsed
    if parsed:
        rule = rules.Rule("r", "arn", 0.0, (), rules._cron(expression))
        assert 0 < rule.delay_s() <= 300.05

"""local/rules.py: EventBridge scheduled rules fired as AWS fires them (rate parsing, the
Scheduled Event document, the Lambda permission check, asynchronous invocation)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from local import rules
from local.controlplane import FunctionSpec

RULE_ARN = "arn:aws:events:eu-west-1:123456789012:rule/ws-sweep"


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60.0),
        ("rate(5 minutes)", 300.0),
        ("rate(1 hour)", 3600.0),
        ("rate(2 days)", 172800.0),
        ("rate(1 minutes)", None),  # AWS: singular for 1, plural otherwise
        ("rate(5 minute)", None),
        ("rate(0 minutes)", None),
        ("cron(0/5 * * * ? *)", None),
    ],
)
def test_rate_expressions(expression: str, seconds: float | None) -> None:
    assert rules.rate_seconds(expression) == seconds


def _rule(period: float = 60.0, target_input: str | None = None) -> rules.Rule:
    return rules.Rule("ws-sweep", RULE_ARN, period, (rules.Target("sweeper", target_input),))


def test_scheduled_event_has_aws_shape() -> None:
    event = rules.scheduled_event(
        _rule(), "eu-west-1", "123456789012", datetime(2026, 12, 1, 21, 5, tzinfo=UTC)
    )
    assert set(event) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["time"] == "2026-12-01T21:05:00Z" and event["resources"] == [RULE_ARN]
    assert event["detail"] == {} and event["version"] == "0"


class FakePool:
    def __init__(self, grants: tuple[tuple[str, str, str | None], ...]) -> None:
        self.spec = FunctionSpec(
            name="sweeper",
            arn="arn:aws:lambda:eu-west-1:123456789012:function:sweeper",
            handler="sweeper.handler",
            runtime="python3.12",
            timeout_s=10,
            memory_mb=256,
            environment={},
            layer_arns=(),
            reserved_concurrency=None,
            code_sha256="",
            invoke_grants=grants,
        )
        self.events: list[Any] = []

    async def invoke(self, event: Any) -> Any:
        self.events.append(event)
        return None


@pytest.mark.parametrize(
    ("grants", "allowed"),
    [
        ((("events.amazonaws.com", "lambda:InvokeFunction", RULE_ARN),), True),
        # Applied with skip_requesting_account_id: the account is missing from the pattern.
        (
            (
                (
                    "events.amazonaws.com",
                    "lambda:InvokeFunction",
                    RULE_ARN.replace("123456789012", ""),
                ),
            ),
            True,
        ),
        ((("events.amazonaws.com", "lambda:*", None),), True),
        ((("apigateway.amazonaws.com", "lambda:InvokeFunction", RULE_ARN),), False),
        ((("events.amazonaws.com", "lambda:InvokeFunction", RULE_ARN + "-other"),), False),
        ((), False),
    ],
)
def test_permission_is_checked(grants: Any, allowed: bool) -> None:
    pool = FakePool(grants)

    async def body() -> None:
        scheduler = rules.Scheduler([_rule()], {"sweeper": pool}, "eu-west-1", "123456789012")  # type: ignore[dict-item]
        scheduler.fire(scheduler.rules[0])
        await asyncio.sleep(0)
        await scheduler.stop()

    asyncio.run(body())
    assert len(pool.events) == (1 if allowed else 0)
    if allowed:
        assert pool.events[0]["detail-type"] == "Scheduled Event"


def test_rules_fire_at_their_period_and_stop() -> None:
    pool = FakePool((("events.amazonaws.com", "lambda:InvokeFunction", RULE_ARN),))

    async def body() -> int:
        scheduler = rules.Scheduler(
            [_rule(period=0.05, target_input='{"custom": true}')],
            {"sweeper": pool},  # type: ignore[dict-item]
            "eu-west-1",
            "123456789012",
        )
        scheduler.start()
        await asyncio.sleep(0.28)
        await scheduler.stop()
        fired = scheduler.fired["ws-sweep"]
        await asyncio.sleep(0.15)
        assert scheduler.fired["ws-sweep"] == fired  # stopped
        return fired

    fired = asyncio.run(body())
    assert 3 <= fired <= 6
    assert pool.events[0] == {"custom": True}  # a target's Input replaces the document


def test_interval_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(rules.INTERVAL_OVERRIDE_ENV, raising=False)
    assert rules.interval_override() is None
    monkeypatch.setenv(rules.INTERVAL_OVERRIDE_ENV, "2")
    assert rules.interval_override() == 2.0
    monkeypatch.setenv(rules.INTERVAL_OVERRIDE_ENV, "0")
    with pytest.raises(ValueError, match="positive"):
        rules.interval_override()

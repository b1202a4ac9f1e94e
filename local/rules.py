"""EventBridge scheduled rules: fire every rule the Terraform configuration defined, as AWS does.

AWS behaviour reproduced (EventBridge user guide, "Creating a rule that runs on a schedule";
Lambda developer guide, "Using Lambda with EventBridge"):

- a rule with ``ScheduleExpression = "rate(N minute|minutes|hour|hours|day|days)"`` in state
  ENABLED on the default bus fires every N units, the first time one period after it was created
  (this emulator: one period after the runtime started); a rule with ``cron(6 fields)`` fires at
  the expression's times, in UTC (EventBridge rules have no time zone; the evaluator is the
  functions' wsnotify/cron.py, shared with local/scheduler.py);
- each Lambda target is invoked **asynchronously** with the "Scheduled Event" document::

    {"version": "0", "id": "<uuid>", "detail-type": "Scheduled Event", "source": "aws.events",
     "account": "<account>", "time": "2026-12-01T21:05:00Z", "region": "<region>",
     "resources": ["arn:aws:events:<region>:<account>:rule/<name>"], "detail": {}}

  (a target's ``Input`` replaces the document, as in AWS);
- the invocation happens only if the function's resource policy lets ``events.amazonaws.com``
  invoke it for that rule's ARN (``aws_lambda_permission``); otherwise AWS drops it, and this
  emulator logs why.

moto stores rules and targets but never fires them; this module reads them from moto once the
Terraform apply is done. ``LOCAL_RULE_INTERVAL_S`` (seconds) replaces every rate and cron
schedule, so tests and the demo do not wait a whole minute; it is an emulator knob only.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import logging
import os
import re
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local.controlplane import aws_client
from local.lambdas import FunctionPool

log = logging.getLogger("local.rules")

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}
INTERVAL_OVERRIDE_ENV = "LOCAL_RULE_INTERVAL_S"


@dataclass(frozen=True)
class Target:
    function_name: str
    input: str | None


@dataclass(frozen=True)
class Rule:
    name: str
    arn: str
    period_s: float
    targets: tuple[Target, ...]
    cron: Any = None  # wsnotify.cron.Cron of a cron(...) rule (period_s is then 0)

    def delay_s(self) -> float:
        """Seconds until the next firing."""
        if self.cron is None:
            return self.period_s
        now = datetime.now(UTC)
        upcoming = self.cron.fire_times("UTC", now, 1)
        # A little past the time: a timer that wakes early must not see the same time again.
        return (upcoming[0] - now).total_seconds() + 0.05 if upcoming else float("inf")


def rate_seconds(expression: str) -> float | None:
    """Seconds between firings of ``rate(...)``, None for anything else (cron)."""
    match = _RATE.fullmatch(expression.strip())
    if match is None:
        return None
    value, unit = int(match.group(1)), match.group(2).rstrip("s")
    if value < 1 or (value == 1) != (match.group(2) == unit):
        return None  # AWS: "rate(1 minute)" but "rate(5 minutes)"
    return float(value * _UNIT_S[unit])


def scheduled_event(rule: Rule, region: str, account: str, now: datetime) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule.arn],
        "detail": {},
    }


def read_rules(endpoint: str, region: str, override_s: float | None = None) -> list[Rule]:
    """The enabled scheduled rules of the default bus and their Lambda targets."""
    events = aws_client("events", endpoint, region)
    rules: list[Rule] = []
    for page in events.get_paginator("list_rules").paginate(EventBusName="default"):
        for r in page.get("Rules", []):
            expression = r.get("ScheduleExpression")
            if not expression or r.get("State", "ENABLED") != "ENABLED":
                continue
            period, schedule = rate_seconds(expression), None
            if period is None:
                schedule = _cron(expression)
                if schedule is None:
                    log.warning(
                        "rule %s: %s is not a rate or cron expression", r["Name"], expression
                    )
                    continue
                period = 0.0
            targets = tuple(
                Target(t["Arn"].split(":function:")[-1].split(":")[0], t.get("Input"))
                for t in events.list_targets_by_rule(Rule=r["Name"]).get("Targets", [])
                if ":lambda:" in t["Arn"] and ":function:" in t["Arn"]
            )
            if override_s:
                period, schedule = override_s, None
            rules.append(Rule(r["Name"], r["Arn"], period, targets, schedule))
    return rules


def _cron(expression: str) -> Any:
    """The parsed ``cron(...)`` expression, or None (logged) when malformed."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))
    from wsnotify import cron

    match = re.fullmatch(r"cron\((.*)\)", expression.strip())
    if match is None:
        return None
    try:
        return cron.parse(match.group(1))
    except cron.CronError as exc:
        log.warning("cron expression %s: %s", expression, exc)
        return None


def interval_override() -> float | None:
    raw = os.environ.get(INTERVAL_OVERRIDE_ENV, "").strip()
    if not raw:
        return None
    value = float(raw)
    if value <= 0:
        raise ValueError(f"{INTERVAL_OVERRIDE_ENV} must be a positive number of seconds")
    return value


def permitted(pool: FunctionPool, rule_arn: str, account: str) -> bool:
    """events.amazonaws.com may invoke the function for this rule (its resource policy)."""
    for principal, action, pattern in pool.spec.invoke_grants:
        if principal != "events.amazonaws.com":
            continue
        if not fnmatch.fnmatchcase("lambda:InvokeFunction", action):
            continue
        if pattern is None:
            return True
        # Applied with skip_requesting_account_id, the provider may leave the account out.
        parts = pattern.split(":", 5)
        if len(parts) == 6 and parts[4] == "":
            parts[4] = account
        if fnmatch.fnmatchcase(rule_arn, ":".join(parts)):
            return True
    return False


class Scheduler:
    """Fires each rule every period on the runtime's event loop; ``stop`` cancels the timers."""

    def __init__(
        self, rules: list[Rule], pools: dict[str, FunctionPool], region: str, account: str
    ) -> None:
        self.rules = rules
        self.pools = pools
        self.region = region
        self.account = account
        self.fired: dict[str, int] = {r.name: 0 for r in rules}
        self._tasks: list[asyncio.Task[None]] = []
        self._invocations: set[asyncio.Task[Any]] = set()

    def start(self) -> None:
        for rule in self.rules:
            self._tasks.append(asyncio.create_task(self._run(rule)))

    async def _run(self, rule: Rule) -> None:
        while True:
            delay = rule.delay_s()
            if delay == float("inf"):
                return  # a cron whose year field has passed
            await asyncio.sleep(delay)
            self.fire(rule)

    def fire(self, rule: Rule) -> None:
        """One firing: an asynchronous invocation of every permitted target."""
        self.fired[rule.name] += 1
        document = json.dumps(scheduled_event(rule, self.region, self.account, datetime.now(UTC)))
        for target in rule.targets:
            pool = self.pools.get(target.function_name)
            if pool is None:
                log.warning("rule %s targets unknown function %s", rule.name, target.function_name)
                continue
            if not permitted(pool, rule.arn, self.account):
                log.warning(
                    "rule %s may not invoke %s: no lambda permission for events.amazonaws.com "
                    "with source %s",
                    rule.name,
                    target.function_name,
                    rule.arn,
                )
                continue
            event = json.loads(target.input if target.input is not None else document)
            task = asyncio.ensure_future(pool.invoke(event))
            self._invocations.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._invocations.discard(task)
        with contextlib.suppress(asyncio.CancelledError):
            result = task.result()
            if getattr(result, "function_error", False):
                log.warning("scheduled invocation failed: %.300s", result.payload)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._invocations:
            await asyncio.wait(set(self._invocations), timeout=10)

"""EventBridge Scheduler: fire the schedules stored in the emulated Scheduler, as AWS does.

moto stores schedules and groups (CreateSchedule, GetSchedule, ListSchedules, UpdateSchedule,
DeleteSchedule) but never fires them. This module polls moto (every 0.25 s, so a schedule the
push function creates at run time is seen at once) and reproduces (EventBridge Scheduler user
guide: "Schedule types", "Managing targets", "Configuring a dead-letter queue"):

- ``at(yyyy-mm-ddThh:mm:ss)``, ``rate(N unit)`` and ``cron(6 fields)`` expressions evaluated in
  ``ScheduleExpressionTimezone`` (cron across DST as Scheduler does: a skipped local time does
  not fire, a repeated one fires once; wsnotify/cron.py), within ``StartDate``/``EndDate``,
  state ENABLED only. AWS fires within the scheduled minute; this emulator to the second;
- a Lambda target is invoked **asynchronously** with the schedule's ``Input``, the placeholders
  ``<aws.scheduler.schedule-arn>``, ``<aws.scheduler.scheduled-time>``,
  ``<aws.scheduler.execution-id>`` and ``<aws.scheduler.attempt-number>`` replaced;
- as the schedule's execution role: its trust policy must let ``scheduler.amazonaws.com``
  assume it for this account and group (``aws:SourceAccount``, ``aws:SourceArn``), and its
  policies must allow ``lambda:InvokeFunction`` on the target ARN; otherwise the attempt fails
  (AccessDeniedException), as it does for a missing function (ResourceNotFoundException);
- a failed attempt is retried per ``RetryPolicy`` (``MaximumRetryAttempts``,
  ``MaximumEventAgeInSeconds``) with exponential backoff; when the policy is spent the input goes
  to ``DeadLetterConfig.Arn`` (SQS, sent as the role, which needs ``sqs:SendMessage``) with the
  message attributes ERROR_CODE, ERROR_MESSAGE, EXHAUSTED_RETRY_CONDITION, RETRY_ATTEMPTS,
  SCHEDULE_ARN and TARGET_ARN;
- ``ActionAfterCompletion = DELETE``: the schedule is deleted after its last invocation (a
  one-time schedule after it fired; a recurring one once ``EndDate`` leaves no fire time).

Local-only knobs (environment of the stack): ``LOCAL_SCHEDULE_INTERVAL_S`` replaces the period
of every recurring (rate and cron) schedule, first fire one period after it is seen, so tests see
several fires in seconds; ``LOCAL_SCHEDULE_RETRY_DELAY_S`` (default 1) is the first retry delay
(AWS does not document its backoff); ``LOCAL_SCHEDULE_CLOCK_FILE`` names a JSON file
``{"offsetSeconds": N}`` read whenever it changes: the emulated Scheduler's clock runs N seconds
ahead, so a test sees a fire due in minutes (e.g. 09:00 in another time zone) right away."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import re
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from local import role_policies
from local.controlplane import aws_client
from local.lambda_api import invoke_async
from local.lambdas import FunctionPool
from local.rules import rate_seconds

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))
from wsnotify import cron  # the functions' cron evaluator, shared

log = logging.getLogger("local.scheduler")

INTERVAL_ENV = "LOCAL_SCHEDULE_INTERVAL_S"
RETRY_DELAY_ENV = "LOCAL_SCHEDULE_RETRY_DELAY_S"
CLOCK_ENV = "LOCAL_SCHEDULE_CLOCK_FILE"
SERVICE = "scheduler.amazonaws.com"
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
TICK_S = 0.25


def _env_seconds(name: str, default: float | None) -> float | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    value = float(raw)
    if value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds")
    return value


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromtimestamp(float(value), UTC)


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Entry:
    """One schedule as read from moto, and when it fires next (None: never again)."""

    schedule: dict[str, Any]
    modified: Any
    next_fire: datetime | None
    seen_at: datetime
    running: int = 0
    fired: int = 0
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    @property
    def arn(self) -> str:
        return str(self.schedule["Arn"])


def next_fire(
    schedule: dict[str, Any], after: datetime, seen_at: datetime, override_s: float | None
) -> datetime | None:
    """The first fire time strictly after `after`, within StartDate..EndDate."""
    if schedule.get("State", "ENABLED") != "ENABLED":
        return None
    expression = str(schedule.get("ScheduleExpression", "")).strip()
    zone = ZoneInfo(schedule.get("ScheduleExpressionTimezone") or "UTC")
    start, end = _utc(schedule.get("StartDate")), _utc(schedule.get("EndDate"))
    at = _AT.fullmatch(expression)
    if at:
        instant = datetime.fromisoformat(at.group(1)).replace(tzinfo=zone).astimezone(UTC)
        return instant if instant > after else None
    if start is not None and after < start:
        after = start - timedelta(microseconds=1)
    candidate: datetime | None
    if override_s is not None and (_CRON.fullmatch(expression) or rate_seconds(expression)):
        period = timedelta(seconds=override_s)
        candidate = seen_at + period * (int((after - seen_at) / period) + 1)
    elif (period_s := rate_seconds(expression)) is not None:
        origin = start or _utc(schedule.get("CreationDate")) or seen_at
        period = timedelta(seconds=period_s)
        candidate = origin + period * max(math.floor((after - origin) / period) + 1, 0)
    elif (match := _CRON.fullmatch(expression)) is not None:
        times = cron.parse(match.group(1)).fire_times(str(zone), after, 1)
        candidate = times[0] if times else None
    else:
        log.warning("schedule %s: expression %s is not understood", schedule["Name"], expression)
        return None
    if candidate is None or (end is not None and candidate > end):
        return None
    return candidate


def substitute(text: str, schedule_arn: str, scheduled: datetime, attempt: int) -> str:
    for name, value in {
        "schedule-arn": schedule_arn,
        "scheduled-time": iso(scheduled),
        "execution-id": str(uuid.uuid4()),
        "attempt-number": str(attempt),
    }.items():
        text = text.replace(f"<aws.scheduler.{name}>", value)
    return text


class Clock:
    """Real UTC time plus the offset of LOCAL_SCHEDULE_CLOCK_FILE (none without the file)."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self.offset = timedelta(0)
        self._version: tuple[int, int] | None = None

    def now(self) -> datetime:
        if self.path is not None:
            try:
                stat = self.path.stat()
                version = (stat.st_mtime_ns, stat.st_size)
                if version != self._version:
                    seconds = float(
                        json.loads(self.path.read_text() or "{}").get("offsetSeconds", 0)
                    )
                    self.offset, self._version = timedelta(seconds=seconds), version
            except FileNotFoundError:
                self.offset, self._version = timedelta(0), None
            except ValueError:
                pass  # caught mid-write: keep the previous offset
        return datetime.now(UTC) + self.offset


class TargetError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ScheduleRunner:
    """Polls moto for schedules and fires them on the runtime's event loop."""

    def __init__(
        self,
        endpoint: str,
        region: str,
        account: str,
        pools: dict[str, FunctionPool],
    ) -> None:
        self.endpoint = endpoint
        self.region = region
        self.account = account
        self.pools = pools
        self.override_s = _env_seconds(INTERVAL_ENV, None)
        self.retry_delay_s = _env_seconds(RETRY_DELAY_ENV, 1.0) or 1.0
        self.clock = Clock(os.environ.get(CLOCK_ENV, "").strip() or None)
        self.scheduler = aws_client("scheduler", endpoint, region)
        self.sqs = aws_client("sqs", endpoint, region)
        self.roles = role_policies.RoleReader(endpoint, region)
        self.entries: dict[str, Entry] = {}
        self.fired = 0
        self.dead_lettered = 0
        self._task: asyncio.Task[None] | None = None
        self._invocations: set[asyncio.Task[Any]] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                listed = await loop.run_in_executor(None, self._read)
                self._merge(listed)
                self._fire_due(self.clock.now())
            except Exception:
                log.exception("scheduler poll failed")
            await asyncio.sleep(TICK_S)

    def _read(self) -> dict[str, dict[str, Any]]:
        """Every schedule of every group; full details only for new or modified ones."""
        found: dict[str, dict[str, Any]] = {}
        for page in self.scheduler.get_paginator("list_schedules").paginate():
            for summary in page.get("Schedules", []):
                known = self.entries.get(summary["Arn"])
                if known is not None and known.modified == summary.get("LastModificationDate"):
                    found[summary["Arn"]] = known.schedule
                    continue
                with contextlib.suppress(self.scheduler.exceptions.ResourceNotFoundException):
                    found[summary["Arn"]] = self.scheduler.get_schedule(
                        Name=summary["Name"], GroupName=summary["GroupName"]
                    )
        return found

    def _merge(self, listed: dict[str, dict[str, Any]]) -> None:
        now = self.clock.now()
        for arn in list(self.entries):
            if arn not in listed:
                del self.entries[arn]  # deleted (cancelled, or after completion)
        for arn, schedule in listed.items():
            known = self.entries.get(arn)
            modified = schedule.get("LastModificationDate")
            if known is not None and known.modified == modified:
                continue
            seen_at = known.seen_at if known is not None else now
            after = now - timedelta(seconds=1) if known is None else now
            self.entries[arn] = Entry(
                schedule, modified, next_fire(schedule, after, seen_at, self.override_s), seen_at
            )

    def _fire_due(self, now: datetime) -> None:
        for entry in list(self.entries.values()):
            if entry.next_fire is None or entry.next_fire > now:
                continue
            scheduled = entry.next_fire
            entry.next_fire = next_fire(entry.schedule, scheduled, entry.seen_at, self.override_s)
            entry.fired += 1
            self.fired += 1
            task = asyncio.ensure_future(self._deliver(entry, scheduled))
            entry.tasks.add(task)
            task.add_done_callback(entry.tasks.discard)

    async def _deliver(self, entry: Entry, scheduled: datetime) -> None:
        """One scheduled invocation with its retries, then DLQ and completion."""
        schedule, target = entry.schedule, entry.schedule["Target"]
        policy = target.get("RetryPolicy") or {}
        attempts = int(policy.get("MaximumRetryAttempts", 185))
        max_age = float(policy.get("MaximumEventAgeInSeconds", 86_400))
        delay, attempt = self.retry_delay_s, 1
        while True:
            text = substitute(target.get("Input") or "{}", entry.arn, scheduled, attempt)
            try:
                await self._invoke(schedule, target, text)
                break
            except TargetError as exc:
                age = (self.clock.now() - scheduled).total_seconds()
                exhausted = None
                if attempt > attempts:
                    exhausted = "MaximumRetryAttempts"
                elif age + delay > max_age:
                    exhausted = "MaximumEventAgeInSeconds"
                if exhausted is not None:
                    log.warning("schedule %s: %s after %d attempt(s)", entry.arn, exc, attempt)
                    await asyncio.get_running_loop().run_in_executor(
                        None, self._dead_letter, schedule, text, exc, exhausted, attempt - 1
                    )
                    break
                await asyncio.sleep(delay)
                delay, attempt = delay * 2, attempt + 1
        if entry.next_fire is None and schedule.get("ActionAfterCompletion") == "DELETE":
            await asyncio.get_running_loop().run_in_executor(None, self._delete, schedule)

    async def _invoke(self, schedule: dict[str, Any], target: dict[str, Any], text: str) -> None:
        arn = str(target["Arn"])
        group_arn = (
            f"arn:aws:scheduler:{self.region}:{self.account}:schedule-group/"
            f"{schedule.get('GroupName') or 'default'}"
        )
        loop = asyncio.get_running_loop()
        role = await loop.run_in_executor(None, self.roles.role, str(target.get("RoleArn", "")))
        if role is None or not role_policies.trusts(role, SERVICE, self.account, group_arn):
            raise TargetError("AccessDeniedException", "Scheduler cannot assume the role")
        if ":lambda:" not in arn or ":function:" not in arn:
            raise TargetError("ValidationException", f"target {arn} is not emulated (Lambda only)")
        if not role_policies.allows(role, "lambda:InvokeFunction", arn):
            raise TargetError(
                "AccessDeniedException", f"the role may not lambda:InvokeFunction {arn}"
            )
        pool = self.pools.get(arn.split(":function:")[1].split(":")[0])
        if pool is None:
            raise TargetError("ResourceNotFoundException", f"Function not found: {arn}")
        # Accepted as an Event invocation: Lambda's own asynchronous handling takes it from here.
        invocation = asyncio.ensure_future(invoke_async(pool, json.loads(text)))
        self._invocations.add(invocation)
        invocation.add_done_callback(self._invocations.discard)

    def _dead_letter(
        self,
        schedule: dict[str, Any],
        text: str,
        error: TargetError,
        exhausted: str,
        retries: int,
    ) -> None:
        target = schedule["Target"]
        queue_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
        if not queue_arn:
            return
        role = self.roles.role(str(target.get("RoleArn", "")))
        if role is None or not role_policies.allows(role, "sqs:SendMessage", queue_arn):
            log.warning("schedule %s: its role may not write DLQ %s", schedule["Arn"], queue_arn)
            return
        _, _, _, _, account, name = queue_arn.split(":", 5)
        url = self.sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]

        def text_attr(value: str) -> dict[str, str]:
            return {"DataType": "String", "StringValue": value}

        self.sqs.send_message(
            QueueUrl=url,
            MessageBody=text,
            MessageAttributes={
                "ERROR_CODE": text_attr(error.code),
                "ERROR_MESSAGE": text_attr(error.message),
                "EXHAUSTED_RETRY_CONDITION": text_attr(exhausted),
                "RETRY_ATTEMPTS": {"DataType": "Number", "StringValue": str(retries)},
                "SCHEDULE_ARN": text_attr(str(schedule["Arn"])),
                "TARGET_ARN": text_attr(str(target["Arn"])),
            },
        )
        self.dead_lettered += 1

    def _delete(self, schedule: dict[str, Any]) -> None:
        with contextlib.suppress(self.scheduler.exceptions.ResourceNotFoundException):
            self.scheduler.delete_schedule(Name=schedule["Name"], GroupName=schedule["GroupName"])

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        pending = {t for e in self.entries.values() for t in e.tasks} | self._invocations
        if pending:
            await asyncio.wait(pending, timeout=10)

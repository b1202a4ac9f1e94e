"""When to send: validation of the time fields of a push request (`sendAt`, `delaySeconds`,
`localTime`, `recurrence`) and the instants they stand for.

Rules (docs/protocol.md, "Scheduled sends"):
- at most one time field; every instant strictly in the future and at most one year ahead;
- `sendAt`: RFC 3339 with a UTC offset (`Z` or `+hh:mm`); fractions of a second are dropped;
- `delaySeconds`: an integer, 1 .. 31,536,000 (a year);
- `localTime`: `{"date": "YYYY-MM-DD", "time": "HH:MM"}`, or `{"time": "HH:MM"}` for its next
  occurrence, in each recipient's own time zone. DST: a wall-clock time that does not exist that
  day (spring forward) is shifted forward by the gap (02:30 in a 02:00->03:00 gap is 03:30); a
  time that happens twice (fall back) is its first occurrence;
- `recurrence`: `{"cron": "0 9 ? * MON *", "timezone": "Europe/Berlin", "until": RFC 3339}`
  (timezone and until optional): Scheduler's six-field cron, evaluated by Scheduler in that zone
  (DST: Scheduler skips a non-existent time and fires a repeated one once)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wsnotify import cron
from wsnotify.errors import INVALID_REQUEST, RequestError
from wsnotify.validation import TIME_FIELDS as TIME_FIELDS
from wsnotify.validation import time_field as time_field

MAX_AHEAD = timedelta(days=365)
MAX_DELAY_SECONDS = 31_536_000
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$"
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^(\d{2}):(\d{2})$")
MAX_ZONE_LENGTH = 50  # Scheduler's ScheduleExpressionTimezone limit


def _invalid(message: str) -> RequestError:
    return RequestError(INVALID_REQUEST, message)


@dataclass(frozen=True)
class When:
    """A validated time field. `field` is its name, `spec` its value as the caller sent it."""

    field: str
    spec: Any
    at: datetime | None = None  # sendAt / delaySeconds: the UTC instant
    local_date: date | None = None  # localTime
    local_time: time | None = None  # localTime
    cron: cron.Cron | None = None  # recurrence
    timezone: str | None = None  # recurrence
    until: datetime | None = None  # recurrence

    @property
    def recurring(self) -> bool:
        return self.field == "recurrence"

    def document(self) -> dict[str, Any]:
        return {self.field: self.spec}


def zone(name: Any, where: str) -> str:
    if not isinstance(name, str) or not name or len(name) > MAX_ZONE_LENGTH:
        raise _invalid(f"{where} must be an IANA time zone name (e.g. Europe/Berlin)")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _invalid(f"{where}: unknown IANA time zone {name[:50]!r}") from None
    return name


def rfc3339(value: Any, where: str) -> datetime:
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise _invalid(
            f"{where} must be an RFC 3339 timestamp with a UTC offset "
            "(e.g. 2026-12-24T09:00:00+01:00 or 2026-12-24T08:00:00Z)"
        )
    text = value.upper().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _invalid(f"{where}: {value[:40]} is not a valid date and time") from None
    return parsed.astimezone(UTC).replace(microsecond=0)


def check_window(instant: datetime, now: datetime, what: str) -> datetime:
    if instant <= now:
        raise _invalid(f"{what} ({iso(instant)}) is in the past; the time now is {iso(now)}")
    if instant > now + MAX_AHEAD:
        raise _invalid(f"{what} ({iso(instant)}) is more than one year ahead (365 days)")
    return instant


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(field: str, value: Any, now: datetime, default_zone: str) -> When:
    """Validate one time field against the clock `now` (UTC)."""
    if field == "sendAt":
        return When(field, value, at=check_window(rfc3339(value, "sendAt"), now, "sendAt"))
    if field == "delaySeconds":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid("delaySeconds must be an integer")
        if not 1 <= value <= MAX_DELAY_SECONDS:
            raise _invalid(f"delaySeconds must be 1..{MAX_DELAY_SECONDS} (one year)")
        return When(field, value, at=now.replace(microsecond=0) + timedelta(seconds=value))
    if field == "localTime":
        return _local_time(value, now)
    return _recurrence(value, now, default_zone)


def _local_time(value: Any, now: datetime) -> When:
    if not isinstance(value, dict):
        raise _invalid('localTime must be an object: {"date": "YYYY-MM-DD", "time": "HH:MM"}')
    unknown = sorted(str(k)[:20] for k in value if k not in ("date", "time"))
    if unknown:
        raise _invalid(f"localTime: unknown field(s): {', '.join(unknown)}")
    raw_time = value.get("time")
    match = _TIME.fullmatch(raw_time) if isinstance(raw_time, str) else None
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise _invalid('localTime.time must be a 24-hour "HH:MM" (e.g. "09:00")')
    wall = time(int(match.group(1)), int(match.group(2)))
    day = None
    if "date" in value:
        raw_date = value["date"]
        if not isinstance(raw_date, str) or not _DATE.fullmatch(raw_date):
            raise _invalid('localTime.date must be "YYYY-MM-DD"')
        try:
            day = date.fromisoformat(raw_date)
        except ValueError:
            raise _invalid(f"localTime.date: {raw_date} is not a calendar date") from None
        # Zones run from UTC+14 (first to reach a wall-clock time) to UTC-12 (last): checked
        # here against the widest span, then per recipient zone (local_instant).
        local = datetime.combine(day, wall, tzinfo=UTC)
        if local + timedelta(hours=12) <= now:
            raise _invalid(
                f"localTime {raw_date} {raw_time} is in the past in every time zone; "
                f"the time now is {iso(now)}"
            )
        if local - timedelta(hours=14) > now + MAX_AHEAD:
            raise _invalid(f"localTime {raw_date} {raw_time} is more than one year ahead")
    return When("localTime", value, local_date=day, local_time=wall)


def local_instant(when: When, zone_name: str, now: datetime) -> datetime:
    """The UTC instant of a localTime in one zone (the DST rule of the module doc). Without a
    date: the next occurrence strictly after `now`."""
    assert when.local_time is not None
    tz = ZoneInfo(zone_name)
    if when.local_date is not None:
        instant = cron.wall_clock_instant(when.local_date, when.local_time, tz, skip_gap=False)
        assert instant is not None
        return check_window(
            instant, now, f"localTime {when.local_date} {when.local_time:%H:%M} in {zone_name}"
        )
    today = now.astimezone(tz).date()
    for offset in range(3):
        instant = cron.wall_clock_instant(
            today + timedelta(days=offset), when.local_time, tz, skip_gap=False
        )
        assert instant is not None
        if instant > now:
            return instant
    raise AssertionError("a wall-clock time recurs within two days")  # pragma: no cover


def _recurrence(value: Any, now: datetime, default_zone: str) -> When:
    if not isinstance(value, dict):
        raise _invalid('recurrence must be an object: {"cron": "0 9 ? * MON *", ...}')
    unknown = sorted(str(k)[:20] for k in value if k not in ("cron", "timezone", "until"))
    if unknown:
        raise _invalid(f"recurrence: unknown field(s): {', '.join(unknown)}")
    if "cron" not in value:
        raise _invalid("recurrence.cron is required (six fields, e.g. 0 9 ? * MON *)")
    try:
        expression = cron.parse(value["cron"])
    except cron.CronError as exc:
        raise _invalid(f"recurrence.cron: {exc}") from None
    tz = zone(value["timezone"], "recurrence.timezone") if "timezone" in value else default_zone
    until = None
    if "until" in value:
        until = check_window(rfc3339(value["until"], "recurrence.until"), now, "recurrence.until")
    first = expression.fire_times(tz, now, 1)
    if not first:
        raise _invalid(f"recurrence.cron {expression.expression} never fires in the next 5 years")
    check_window(first[0], now, "the first fire time of recurrence.cron")
    if until is not None and first[0] > until:
        raise _invalid(
            f"recurrence never fires: its first time ({iso(first[0])}) is after until "
            f"({iso(until)})"
        )
    # Stored with the zone it runs in, even when the caller relied on the default.
    spec = {**value, "timezone": tz}
    return When("recurrence", spec, cron=expression, timezone=tz, until=until)


def next_fire_times(when: When, now: datetime, limit: int) -> list[datetime]:
    """The next fire times of a recurrence (up to `until`)."""
    assert when.cron is not None and when.timezone is not None
    times = when.cron.fire_times(when.timezone, now, limit)
    return [t for t in times if when.until is None or t <= when.until]

"""EventBridge cron expressions (Scheduler and scheduled rules): validation and fire times.

Six fields, ``minutes hours day-of-month month day-of-week year`` (EventBridge Scheduler user
guide, "Cron-based schedules"): ``, - * /`` in every field; ``?`` in day-of-month or
day-of-week, and exactly one of the two must be ``?``; ``L`` (last day of the month, or
``<day>L`` the last such weekday), ``<n>W`` (the weekday nearest to day n) and ``<day>#<k>`` (the
k-th such weekday of the month). Month names JAN-DEC, weekday names SUN-SAT (1 = Sunday).

Fire times are computed in an IANA time zone the way Scheduler does across daylight saving time
changes: a local time that does not exist (spring forward) is skipped; a local time that happens
twice (fall back) fires once, at its first occurrence.

Shared by the push function (validation, the fire times it answers) and the local stack, which
fires schedules and rules with it (local/scheduler.py, local/rules.py)."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_MONTHS = {m: i for i, m in enumerate(calendar.month_abbr) if m}
_MONTHS = {k.upper(): v for k, v in _MONTHS.items()}
_DAYS = {d: i + 1 for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
_FIELD_NAMES = ("minutes", "hours", "day-of-month", "month", "day-of-week", "year")
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (1, 7), (1970, 2199))
_WRAPPED = re.compile(r"^cron\((.*)\)$")
# How far fire times are searched: the year field goes to 2199, but nobody waits that long.
_HORIZON_DAYS = 366 * 5


class CronError(ValueError):
    """A malformed expression; the message names the field and the problem."""


@dataclass(frozen=True)
class _DaySpec:
    """What a day-of-month or day-of-week field accepts beyond a plain set."""

    values: frozenset[int]
    any: bool = False  # "?"
    last: bool = False  # dom "L"
    last_weekday: int | None = None  # dow "<d>L"
    nearest_weekday: int | None = None  # dom "<n>W"
    nth: tuple[int, int] | None = None  # dow "<d>#<k>"


@dataclass(frozen=True)
class Cron:
    expression: str  # the six fields, single-spaced
    minutes: frozenset[int]
    hours: frozenset[int]
    dom: _DaySpec
    months: frozenset[int]
    dow: _DaySpec
    years: frozenset[int]

    @property
    def aws(self) -> str:
        return f"cron({self.expression})"

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months or day.year not in self.years:
            return False
        if not self.dom.any:
            return _dom_matches(self.dom, day)
        return _dow_matches(self.dow, day)

    def local_times(self) -> Iterator[time]:
        for hour in sorted(self.hours):
            for minute in sorted(self.minutes):
                yield time(hour, minute)

    def fire_times(self, zone: str, after: datetime, limit: int) -> list[datetime]:
        """The next `limit` fire times strictly after `after`, as UTC datetimes."""
        return list(_take(self.iter_fire_times(zone, after), limit))

    def iter_fire_times(self, zone: str, after: datetime) -> Iterator[datetime]:
        tz = ZoneInfo(zone)
        after_utc = after.astimezone(UTC)
        start = after_utc.astimezone(tz).date()
        for offset in range(_HORIZON_DAYS):
            day = start + timedelta(days=offset)
            if day.year > 2199:
                return
            if not self.matches_day(day):
                continue
            for wall in self.local_times():
                instant = wall_clock_instant(day, wall, tz, skip_gap=True)
                if instant is not None and instant > after_utc:
                    yield instant


def _take(items: Iterator[datetime], limit: int) -> Iterator[datetime]:
    for n, item in enumerate(items):
        if n >= limit:
            return
        yield item


def wall_clock_instant(day: date, wall: time, tz: ZoneInfo, skip_gap: bool) -> datetime | None:
    """The UTC instant of a wall-clock time. A repeated time (fall back) is its first occurrence
    (fold=0). A time in a gap (spring forward) is None when `skip_gap` (Scheduler's cron rule),
    else shifted forward by the gap's length (fold=0 reads it with the offset before the
    change: 02:30 in a 02:00->03:00 gap becomes 03:30)."""
    local = datetime.combine(day, wall, tzinfo=tz)
    instant = local.astimezone(UTC)
    if skip_gap and instant.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return instant


def _dom_matches(spec: _DaySpec, day: date) -> bool:
    last = calendar.monthrange(day.year, day.month)[1]
    if spec.last:
        return day.day == last
    if spec.nearest_weekday is not None:
        target = min(spec.nearest_weekday, last)
        candidate = date(day.year, day.month, target)
        if candidate.weekday() == 5:  # Saturday: Friday, or Monday when that leaves the month
            candidate = candidate - timedelta(days=1) if target > 1 else candidate + timedelta(2)
        elif candidate.weekday() == 6:  # Sunday: Monday, or Friday at the month's end
            candidate = candidate + timedelta(days=1) if target < last else candidate - timedelta(2)
        return day == candidate
    return day.day in spec.values


def _weekday(day: date) -> int:
    return (day.weekday() + 1) % 7 + 1  # Python: Monday 0; cron: Sunday 1


def _dow_matches(spec: _DaySpec, day: date) -> bool:
    weekday = _weekday(day)
    if spec.last_weekday is not None:
        last = calendar.monthrange(day.year, day.month)[1]
        return weekday == spec.last_weekday and day.day + 7 > last
    if spec.nth is not None:
        wanted, k = spec.nth
        return weekday == wanted and (day.day - 1) // 7 + 1 == k
    return weekday in spec.values


def parse(expression: str) -> Cron:
    """Parse six fields, with or without the ``cron( )`` wrapper."""
    if not isinstance(expression, str):
        raise CronError("the cron expression must be a string")
    text = expression.strip()
    wrapped = _WRAPPED.fullmatch(text)
    if wrapped:
        text = wrapped.group(1).strip()
    fields = text.split()
    if len(fields) != 6:
        raise CronError(
            f"a cron expression has 6 fields (minutes hours day-of-month month day-of-week "
            f"year), got {len(fields)}"
        )
    minutes = _set(fields[0], 0)
    hours = _set(fields[1], 1)
    months = _set(fields[3], 3, _MONTHS)
    years = _set(fields[5], 5)
    dom, dow = fields[2], fields[4]
    if (dom == "?") == (dow == "?"):
        raise CronError("exactly one of day-of-month and day-of-week must be ?")
    return Cron(
        " ".join(fields),
        minutes,
        hours,
        _day_of_month(dom),
        months,
        _day_of_week(dow),
        years,
    )


def _day_of_month(field: str) -> _DaySpec:
    if field == "?":
        return _DaySpec(frozenset(), any=True)
    if field == "L":
        return _DaySpec(frozenset(), last=True)
    match = re.fullmatch(r"(\d{1,2})W", field)
    if match:
        day = int(match.group(1))
        if not 1 <= day <= 31:
            raise CronError("day-of-month: W needs a day 1-31 (e.g. 15W)")
        return _DaySpec(frozenset(), nearest_weekday=day)
    return _DaySpec(_set(field, 2))


def _day_of_week(field: str) -> _DaySpec:
    if field == "?":
        return _DaySpec(frozenset(), any=True)
    if field == "L":
        return _DaySpec(frozenset({7}))  # Saturday, the week's last day
    match = re.fullmatch(r"(\w+)L", field)
    if match:
        return _DaySpec(frozenset(), last_weekday=_value(match.group(1), 4, _DAYS))
    match = re.fullmatch(r"(\w+)#(\d)", field)
    if match:
        k = int(match.group(2))
        if not 1 <= k <= 5:
            raise CronError("day-of-week: # takes an occurrence 1-5 (e.g. MON#2)")
        return _DaySpec(frozenset(), nth=(_value(match.group(1), 4, _DAYS), k))
    return _DaySpec(_set(field, 4, _DAYS))


def _value(token: str, index: int, names: dict[str, int] | None = None) -> int:
    low, high = _BOUNDS[index]
    if names and token.upper() in names:
        return names[token.upper()]
    if not token.isdigit():
        raise CronError(f"{_FIELD_NAMES[index]}: {token[:20]!r} is not a value")
    value = int(token)
    if not low <= value <= high:
        raise CronError(f"{_FIELD_NAMES[index]}: {value} is outside {low}-{high}")
    return value


def _set(field: str, index: int, names: dict[str, int] | None = None) -> frozenset[int]:
    low, high = _BOUNDS[index]
    values: set[int] = set()
    for part in field.split(","):
        step, stepped = 1, "/" in part
        if stepped:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) < 1:
                raise CronError(f"{_FIELD_NAMES[index]}: the step after / must be 1 or more")
            step = int(step_text)
        if part == "*":
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _value(first, index, names), _value(last, index, names)
            if start > end:
                raise CronError(f"{_FIELD_NAMES[index]}: range {part} runs backwards")
        elif part:
            start = _value(part, index, names)
            end = high if stepped else start
        else:
            raise CronError(f"{_FIELD_NAMES[index]}: empty value")
        values.update(range(start, end + 1, step))
    return frozenset(values)

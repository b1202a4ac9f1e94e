"""When to send: cron expressions (EventBridge syntax), time field validation and the DST rules
of localTime (shift forward in a gap, first occurrence in a repeat) and of cron (skip, once)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from wsnotify import cron, timing
from wsnotify.errors import RequestError

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --- cron --------------------------------------------------------------------------------


def test_weekly_cron_in_a_zone() -> None:
    expr = cron.parse("0 9 ? * MON *")
    assert expr.aws == "cron(0 9 ? * MON *)"
    # 2026-03-02 is a Monday; Berlin is UTC+1 in March before the 29th.
    assert expr.fire_times("Europe/Berlin", NOW, 2) == [utc(2026, 3, 2, 8), utc(2026, 3, 9, 8)]


def test_cron_wrapper_lists_ranges_steps_and_names() -> None:
    expr = cron.parse("cron(0/15 8-9 ? JAN-MAR MON-FRI 2026)")
    times = expr.fire_times("UTC", utc(2026, 3, 2, 8, 0), 5)
    assert times == [
        utc(2026, 3, 2, 8, 15),
        utc(2026, 3, 2, 8, 30),
        utc(2026, 3, 2, 8, 45),
        utc(2026, 3, 2, 9, 0),
        utc(2026, 3, 2, 9, 15),
    ]
    assert cron.parse("0 0 1,15 * ? *").fire_times("UTC", NOW, 2) == [
        utc(2026, 3, 15),
        utc(2026, 4, 1),
    ]
    assert cron.parse("* * * * ? *").fire_times("UTC", NOW, 2) == [
        utc(2026, 3, 1, 12, 1),
        utc(2026, 3, 1, 12, 2),
    ]


def test_cron_special_days() -> None:
    assert cron.parse("0 0 L * ? *").fire_times("UTC", NOW, 2) == [
        utc(2026, 3, 31),
        utc(2026, 4, 30),
    ]
    # Last Friday, second Tuesday, nearest weekday to the 1st (2026-08-01 is a Saturday).
    assert cron.parse("0 0 ? * 6L *").fire_times("UTC", NOW, 1) == [utc(2026, 3, 27)]
    assert cron.parse("0 0 ? * TUE#2 *").fire_times("UTC", NOW, 1) == [utc(2026, 3, 10)]
    assert cron.parse("0 0 1W 8 ? *").fire_times("UTC", NOW, 1) == [utc(2026, 8, 3)]
    assert cron.parse("0 0 15W 3 ? *").fire_times("UTC", NOW, 1) == [utc(2026, 3, 16)]
    assert cron.parse("0 0 31W 1 ? *").fire_times("UTC", NOW, 1) == [utc(2027, 1, 29)]
    assert cron.parse("0 0 ? * L *").fire_times("UTC", NOW, 1) == [utc(2026, 3, 7)]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 9 * * MON", "6 fields"),
        ("0 9 * * MON *", "exactly one of day-of-month and day-of-week"),
        ("0 9 ? * ? *", "exactly one of day-of-month and day-of-week"),
        ("60 9 ? * MON *", "minutes: 60 is outside 0-59"),
        ("0 24 ? * MON *", "hours: 24"),
        ("0 9 ? 13 * *", "month: 13"),
        ("0 9 ? * FUNDAY *", "day-of-week"),
        ("0 9 ? * MON#6 *", "occurrence 1-5"),
        ("0 9 40W * ? *", "W needs a day"),
        ("0 9 ? * 2-1 *", "runs backwards"),
        ("0/0 9 ? * MON *", "step"),
        ("0 9 1,,2 * ? *", "empty value"),
        ("0 9 ? * MON 1969", "year: 1969"),
    ],
)
def test_malformed_cron(expression: str, message: str) -> None:
    with pytest.raises(cron.CronError, match=message):
        cron.parse(expression)


def test_cron_not_a_string() -> None:
    with pytest.raises(cron.CronError, match="string"):
        cron.parse(5)  # type: ignore[arg-type]


def test_cron_dst_gap_is_skipped_and_repeat_fires_once() -> None:
    # Berlin: 2026-03-29 02:00 -> 03:00 (no 02:30); 2026-10-25 03:00 -> 02:00 (02:30 twice).
    daily = cron.parse("30 2 * * ? *")
    spring = daily.fire_times("Europe/Berlin", utc(2026, 3, 27, 12), 3)
    assert spring == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 30, 0, 30), utc(2026, 3, 31, 0, 30)]
    autumn = daily.fire_times("Europe/Berlin", utc(2026, 10, 24, 12), 2)
    assert autumn == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_a_cron_that_never_fires_again() -> None:
    assert cron.parse("0 0 1 1 ? 2020").fire_times("UTC", NOW, 1) == []


# --- localTime DST rule ----------------------------------------------------------------------


def test_local_time_gap_shifts_forward_and_repeat_takes_the_first() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    gap = cron.wall_clock_instant(date(2026, 3, 29), time(2, 30), berlin, skip_gap=False)
    assert gap == utc(2026, 3, 29, 1, 30)  # 03:30 CEST: the gap's hour added
    assert cron.wall_clock_instant(date(2026, 3, 29), time(2, 30), berlin, skip_gap=True) is None
    repeat = cron.wall_clock_instant(date(2026, 10, 25), time(2, 30), berlin, skip_gap=False)
    assert repeat == utc(2026, 10, 25, 0, 30)  # 02:30 CEST, the first of the two


def local(spec: dict[str, Any], now: datetime = NOW) -> timing.When:
    return timing.parse("localTime", spec, now, "UTC")


def test_local_time_per_zone_and_next_occurrence() -> None:
    when = local({"date": "2026-12-24", "time": "09:00"})
    assert timing.local_instant(when, "Europe/Berlin", NOW) == utc(2026, 12, 24, 8)
    assert timing.local_instant(when, "America/New_York", NOW) == utc(2026, 12, 24, 14)
    # A time alone: its next occurrence in that zone (12:00 UTC is 13:00 in Berlin).
    nxt = local({"time": "09:00"})
    assert timing.local_instant(nxt, "Europe/Berlin", NOW) == utc(2026, 3, 2, 8)
    assert timing.local_instant(nxt, "Asia/Tokyo", NOW) == utc(2026, 3, 2, 0)
    assert timing.local_instant(local({"time": "14:00"}), "Europe/Berlin", NOW) == utc(
        2026, 3, 1, 13
    )


def test_local_time_past_in_one_zone_is_refused() -> None:
    when = local({"date": "2026-03-01", "time": "20:00"})
    assert timing.local_instant(when, "America/New_York", NOW) == utc(2026, 3, 2, 1)
    with pytest.raises(RequestError, match="in the past"):
        timing.local_instant(when, "Asia/Tokyo", NOW)


# --- field validation ----------------------------------------------------------------------


def test_send_at_and_delay() -> None:
    when = timing.parse("sendAt", "2026-03-01T14:00:00.900+01:00", NOW, "UTC")
    assert when.at == utc(2026, 3, 1, 13) and when.document() == {
        "sendAt": "2026-03-01T14:00:00.900+01:00"
    }
    assert timing.parse("sendAt", "2026-03-01t13:00:00z", NOW, "UTC").at == utc(2026, 3, 1, 13)
    assert timing.parse("delaySeconds", 90, NOW, "UTC").at == utc(2026, 3, 1, 12, 1, 30)


def test_recurrence_defaults_and_upcoming() -> None:
    when = timing.parse("recurrence", {"cron": "0 9 ? * MON *"}, NOW, "Europe/Berlin")
    assert when.document() == {"recurrence": {"cron": "0 9 ? * MON *", "timezone": "Europe/Berlin"}}
    until = timing.parse(
        "recurrence",
        {"cron": "0 9 ? * MON *", "timezone": "UTC", "until": "2026-03-10T00:00:00Z"},
        NOW,
        "UTC",
    )
    assert timing.next_fire_times(until, NOW, 5) == [utc(2026, 3, 2, 9), utc(2026, 3, 9, 9)]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sendAt", "2026-03-01T11:59:59Z", "is in the past"),
        ("sendAt", "2027-03-02T12:00:00Z", "more than one year ahead"),
        ("sendAt", "2026-03-01T13:00:00", "RFC 3339 timestamp with a UTC offset"),
        ("sendAt", "2026-02-30T13:00:00Z", "not a valid date"),
        ("sendAt", 1772366400, "RFC 3339"),
        ("delaySeconds", 0, "1..31536000"),
        ("delaySeconds", 31_536_001, "1..31536000"),
        ("delaySeconds", 1.5, "integer"),
        ("delaySeconds", True, "integer"),
        ("localTime", "09:00", "must be an object"),
        ("localTime", {"time": "9:00"}, "HH:MM"),
        ("localTime", {"time": "24:00"}, "HH:MM"),
        ("localTime", {"time": "09:00", "zone": "UTC"}, "unknown field"),
        ("localTime", {"date": "24.12.2026", "time": "09:00"}, "YYYY-MM-DD"),
        ("localTime", {"date": "2026-02-30", "time": "09:00"}, "not a calendar date"),
        ("localTime", {"date": "2026-02-27", "time": "09:00"}, "past in every time zone"),
        ("localTime", {"date": "2027-03-05", "time": "09:00"}, "more than one year ahead"),
        ("recurrence", "0 9 ? * MON *", "must be an object"),
        ("recurrence", {"timezone": "UTC"}, "recurrence.cron is required"),
        ("recurrence", {"cron": "0 9 * * MON"}, "recurrence.cron: a cron expression has 6"),
        ("recurrence", {"cron": "0 9 ? * MON *", "timezone": "Mars/Olympus"}, "unknown IANA"),
        ("recurrence", {"cron": "0 9 ? * MON *", "timezone": ""}, "IANA time zone name"),
        ("recurrence", {"cron": "0 9 ? * MON *", "every": 2}, "unknown field"),
        ("recurrence", {"cron": "0 9 1 1 ? 2020"}, "never fires"),
        ("recurrence", {"cron": "0 9 1 1 ? 2028"}, "more than one year ahead"),
        (
            "recurrence",
            {"cron": "0 9 ? * MON *", "until": "2026-03-02T00:00:00Z"},
            "first time .* is after until",
        ),
        ("recurrence", {"cron": "0 9 ? * MON *", "until": "2020-01-01T00:00:00Z"}, "in the past"),
    ],
)
def test_invalid_time_fields(field: str, value: Any, message: str) -> None:
    with pytest.raises(RequestError, match=message) as caught:
        timing.parse(field, value, NOW, "UTC")
    assert caught.value.code == "INVALID_REQUEST"


def test_at_most_one_time_field() -> None:
    assert timing.time_field({"userId": "a"}) is None
    assert timing.time_field({"sendAt": "x"}) == "sendAt"
    with pytest.raises(RequestError, match="at most one of"):
        timing.time_field({"sendAt": "x", "delaySeconds": 5})

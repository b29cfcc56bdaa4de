"""Digest schedules: the period due at a moment, in the lead's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from triage.schedule import ScheduleError, due_period, parse_schedule

JAKARTA = ZoneInfo("Asia/Jakarta")


def test_daily_period_ends_at_the_latest_scheduled_time() -> None:
    schedule = parse_schedule("daily 08:00", "Asia/Jakarta")
    period = due_period(schedule, datetime(2026, 11, 27, 9, 30, tzinfo=JAKARTA))
    assert period.end == datetime(2026, 11, 27, 8, 0, tzinfo=JAKARTA)
    assert period.start == period.end - timedelta(days=1)
    before = due_period(schedule, datetime(2026, 11, 27, 7, 59, tzinfo=JAKARTA))
    assert before.end == datetime(2026, 11, 26, 8, 0, tzinfo=JAKARTA)


def test_time_zone_decides_the_day() -> None:
    schedule = parse_schedule("daily 08:00", "Asia/Jakarta")
    # 02:00 UTC is 09:00 in Jakarta: today's 08:00 digest is due.
    period = due_period(schedule, datetime(2026, 11, 27, 2, 0, tzinfo=UTC))
    assert period.end.astimezone(JAKARTA) == datetime(2026, 11, 27, 8, 0, tzinfo=JAKARTA)


def test_weekly_period_ends_on_the_weekday() -> None:
    schedule = parse_schedule("weekly mon 08:00", "UTC")
    period = due_period(schedule, datetime(2026, 11, 27, 12, 0, tzinfo=UTC))  # a Friday
    assert period.end == datetime(2026, 11, 23, 8, 0, tzinfo=UTC) and period.end.weekday() == 0
    assert period.end - period.start == timedelta(days=7)
    on_monday = due_period(schedule, datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
    assert on_monday.end == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def test_same_moment_same_key() -> None:
    schedule = parse_schedule("daily 08:00")
    first = due_period(schedule, datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    later = due_period(schedule, datetime(2026, 11, 28, 7, 0, tzinfo=UTC))
    assert first.key == later.key


@pytest.mark.parametrize(
    ("text", "zone", "message"),
    [
        ("hourly", "UTC", "is not"),
        ("daily 25:00", "UTC", "is not"),
        ("weekly fun 08:00", "UTC", "is not"),
        ("daily 08:00", "Mars/Olympus", "unknown"),
    ],
)
def test_bad_schedules_are_named(text: str, zone: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        parse_schedule(text, zone)


def test_an_interval_schedule_has_periods_of_that_length_from_the_hour() -> None:
    schedule = parse_schedule("every 15 minutes")
    period = due_period(schedule, datetime(2026, 11, 27, 9, 37, 12, tzinfo=UTC))
    assert (period.start, period.end) == (
        datetime(2026, 11, 27, 9, 15, tzinfo=UTC),
        datetime(2026, 11, 27, 9, 30, tzinfo=UTC),
    )
    later = due_period(schedule, datetime(2026, 11, 27, 9, 45, tzinfo=UTC))
    assert later.start == period.end and later.key != period.key
    assert due_period(parse_schedule("every 1 minute"), datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)).end == datetime(
        2026, 1, 1, tzinfo=UTC
    )
    assert parse_schedule("Every 4 hours").length.total_seconds() == 4 * 3600


@pytest.mark.parametrize("text", ["every 7 minutes", "every 0 minutes", "every 48 hours", "every minute"])
def test_an_interval_that_does_not_divide_a_day_is_refused(text: str) -> None:
    with pytest.raises(ScheduleError, match=r"every|divide"):
        parse_schedule(text)

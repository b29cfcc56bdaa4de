"""Digest schedules ("daily 08:00", "weekly mon 08:00", "every 4 hours"): which period is due at a moment."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SCHEDULE = re.compile(r"^\s*(daily|weekly\s+(mon|tue|wed|thu|fri|sat|sun))\s+([01]?\d|2[0-3]):([0-5]\d)\s*$", re.I)
INTERVAL = re.compile(r"^\s*every\s+(\d+)\s*(minutes?|hours?)\s*$", re.I)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ScheduleError(ValueError):
    """A schedule or time zone that cannot be read."""


@dataclass(frozen=True)
class Schedule:
    weekday: int | None  # None: every day
    at: time
    zone: ZoneInfo
    every: timedelta | None = None  # "every N minutes|hours": periods of this length, from the hour

    @property
    def length(self) -> timedelta:
        if self.every is not None:
            return self.every
        return timedelta(days=1 if self.weekday is None else 7)


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    @property
    def key(self) -> str:
        """Names the period in the store, so it is sent once."""
        return f"{self.start.isoformat()}/{self.end.isoformat()}"


def parse_schedule(text: str, zone: str = "UTC") -> Schedule:
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"time zone {zone!r} is unknown; use a name such as Asia/Jakarta or UTC") from None
    interval = INTERVAL.match(text)
    if interval:
        return Schedule(None, time(0, 0), tz, every=_interval(text, int(interval.group(1)), interval.group(2)))
    match = SCHEDULE.match(text)
    if not match:
        raise ScheduleError(f'schedule {text!r} is not "daily HH:MM", "weekly mon HH:MM" or "every N minutes|hours"')
    weekday = WEEKDAYS.index(match.group(2).lower()) if match.group(2) else None
    return Schedule(weekday, time(int(match.group(3)), int(match.group(4))), tz)


def _interval(text: str, count: int, unit: str) -> timedelta:
    every = timedelta(minutes=count) if unit.lower().startswith("minute") else timedelta(hours=count)
    if not timedelta(minutes=1) <= every <= timedelta(days=1) or timedelta(days=1) % every:
        raise ScheduleError(f"schedule {text!r}: the interval must divide a day, from 1 minute to 24 hours")
    return every


def due_period(schedule: Schedule, now: datetime) -> Period:
    """The latest period that has ended by `now` (its end is the most recent scheduled moment)."""
    if schedule.every is not None:  # intervals divide a day, so periods start on the (UTC) hour
        end = EPOCH + (now - EPOCH) // schedule.every * schedule.every
        return Period(end - schedule.every, end)
    local = now.astimezone(schedule.zone)
    end = datetime.combine(local.date(), schedule.at, tzinfo=schedule.zone)
    if schedule.weekday is not None:
        end -= timedelta(days=(end.weekday() - schedule.weekday) % 7)
    if end > local:
        end -= schedule.length
    return Period(end - schedule.length, end)

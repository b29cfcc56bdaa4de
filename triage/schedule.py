"""Digest schedules ("daily 08:00", "weekly mon 08:00"): which period is due at a given moment."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SCHEDULE = re.compile(r"^\s*(daily|weekly\s+(mon|tue|wed|thu|fri|sat|sun))\s+([01]?\d|2[0-3]):([0-5]\d)\s*$", re.I)


class ScheduleError(ValueError):
    """A schedule or time zone that cannot be read."""


@dataclass(frozen=True)
class Schedule:
    weekday: int | None  # None: every day
    at: time
    zone: ZoneInfo

    @property
    def length(self) -> timedelta:
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
    match = SCHEDULE.match(text)
    if not match:
        raise ScheduleError(f'schedule {text!r} is not "daily HH:MM" or "weekly mon HH:MM"')
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"time zone {zone!r} is unknown; use a name such as Asia/Jakarta or UTC") from None
    weekday = WEEKDAYS.index(match.group(2).lower()) if match.group(2) else None
    return Schedule(weekday, time(int(match.group(3)), int(match.group(4))), tz)


def due_period(schedule: Schedule, now: datetime) -> Period:
    """The latest period that has ended by `now` (its end is the most recent scheduled moment)."""
    local = now.astimezone(schedule.zone)
    end = datetime.combine(local.date(), schedule.at, tzinfo=schedule.zone)
    if schedule.weekday is not None:
        end -= timedelta(days=(end.weekday() - schedule.weekday) % 7)
    if end > local:
        end -= schedule.length
    return Period(end - schedule.length, end)

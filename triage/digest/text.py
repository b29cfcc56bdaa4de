"""How digest values read on screen: cleaned text, times in the lead's zone, durations and changes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from triage.digest.data import Period, TopicVolume

# Bidirectional overrides and isolates can make a subject display as something else; other
# control characters have no business in a digest either.
UNSAFE_CHARS = re.compile(r"[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\x00-\x08\x0b-\x1f\x7f]")


def clean(text: str) -> str:
    """Text with bidi controls and control characters removed (newlines and tabs kept)."""
    return UNSAFE_CHARS.sub("", text)


def zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def when(moment: datetime | None, where: tzinfo, year: bool = False) -> str:
    """`Mon 2 Nov 10:15` (with the year when asked); `never` for no time."""
    if moment is None:
        return "never"
    local = moment.astimezone(where)
    day = f"{local:%a} {local.day} {local:%b}" + (f" {local:%Y}" if year else "")
    return f"{day} {local:%H:%M}"


def period_title(period: Period, zone_name: str) -> str:
    where = zone(zone_name)
    return f"{when(period.start, where, year=True)} to {when(period.end, where, year=True)} ({zone_name})"


def duration(minutes: float | None) -> str:
    """`45 min`, `3 h 10 min`, `2 d 4 h`; `-` for none."""
    if minutes is None:
        return "-"
    total = round(minutes)
    if total < 60:
        return f"{total} min"
    hours, rest = divmod(total, 60)
    if hours < 24:
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def hours_ago(hours: float | None) -> str:
    if hours is None:
        return "never synced"
    return "just now" if hours * 60 < 1 else f"{duration(hours * 60)} ago"  # a clock ahead of `now`: just now


def change(volume: TopicVolume) -> str:
    """`+3 (+25%)`, `-2 (-10%)`, `+4 (new)`, `0`."""
    if volume.change == 0:
        return "0"
    sign = "+" if volume.change > 0 else "-"
    if volume.change_percent is None:
        return f"{sign}{abs(volume.change)}" + (" (new)" if volume.previous == 0 and volume.count else "")
    return f"{sign}{abs(volume.change)} ({sign}{abs(volume.change_percent):g}%)"


def total_change(count: int, previous: int, has_previous: bool) -> str:
    if not has_previous:
        return ""
    if previous == 0:
        return "no mail before" if count else "no change"
    percent = round((count - previous) * 100 / previous, 1)
    return f"{'+' if percent >= 0 else '-'}{abs(percent):g}% vs {previous} before"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{round(value * 100):d}%"

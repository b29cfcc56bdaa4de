"""Read periods such as 24h, 7d, 365d or all, as given on the command line."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

PERIOD = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class PeriodError(ValueError):
    """A period that is not N followed by m, h, d or w, nor "all"."""


def parse_period(text: str) -> timedelta | None:
    """`7d` -> 7 days; `all` -> None (no limit)."""
    if text.strip().lower() == "all":
        return None
    match = PERIOD.match(text)
    if not match:
        raise PeriodError(f"{text!r} is not a period; use e.g. 30m, 24h, 7d, 2w or all")
    return timedelta(**{UNITS[match.group(2).lower()]: int(match.group(1))})


def since(text: str, now: datetime) -> datetime | None:
    period = parse_period(text)
    return None if period is None else now - period

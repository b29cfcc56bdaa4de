"""Daemon pieces that need no server: backoff and periods."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from triage.periods import PeriodError, parse_period
from triage.service import Backoff


def test_backoff_grows_exponentially_with_jitter_up_to_the_maximum() -> None:
    backoff = Backoff(initial=1.0, maximum=60.0, rng=random.Random(4))
    delays = [backoff.next_delay() for _ in range(10)]
    ceilings = [min(60.0, 2.0**n) for n in range(10)]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(delays)) == len(delays)  # jitter: no two clients reconnect in step
    backoff.reset()
    assert backoff.next_delay() <= 1.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("all", None),
    ],
)
def test_periods(text: str, expected: timedelta | None) -> None:
    assert parse_period(text) == expected


def test_bad_period_says_what_is_allowed() -> None:
    with pytest.raises(PeriodError, match="7d"):
        parse_period("a week")

"""Daemon pieces that need no server: backoff and periods."""

from __future__ import annotations

import gc
import random
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from triage.config import Config, StoreConfig
from triage.periods import PeriodError, parse_period
from triage.service import Backoff, FlagWorker


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


def test_the_flag_worker_settles_memory_between_derivations(tmp_path: Path) -> None:
    """What is loaded stays out of the collector's rounds (full rounds took 80 ms during derivations)."""
    stop = threading.Event()
    worker = FlagWorker(Config(store=StoreConfig(path=tmp_path / "s.sqlite")), lambda: None, stop)  # type: ignore[arg-type, return-value]
    gc.unfreeze()
    worker.settle()
    worker.start()
    try:
        deadline = time.monotonic() + 5
        while gc.get_freeze_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert gc.get_freeze_count() > 0
    finally:
        stop.set()
        worker.join(5)
        gc.unfreeze()

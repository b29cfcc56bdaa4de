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


class RecordingAnalyzer:
    """Records each derivation the flag worker asks for (a unit-test fake of Analyzer.flag_after)."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[int], bool]] = []
        self.done = threading.Event()

    def flag_after(self, store: object, ids: list[int], narrow: bool = True) -> int:
        self.calls.append((sorted(ids), narrow))
        self.done.set()
        return 0


def test_a_recheck_merged_with_new_mail_derives_all_recent_mail(tmp_path: Path) -> None:
    """New mail alone narrows the derivation to what it touched; a re-check waiting with it does not."""
    stop = threading.Event()
    analyzer = RecordingAnalyzer()
    worker = FlagWorker(Config(store=StoreConfig(path=tmp_path / "s.sqlite")), lambda: analyzer, stop)  # type: ignore[arg-type, return-value]
    worker.submit([3])
    worker.submit([])  # the 10-minute re-check, while the arrival waits
    worker.submit([4])
    worker.start()
    try:
        assert analyzer.done.wait(5)
        analyzer.done.clear()
        worker.submit([5])
        assert analyzer.done.wait(5)
    finally:
        stop.set()
        worker.join(5)
    assert analyzer.calls == [([3, 4], False), ([5], True)]

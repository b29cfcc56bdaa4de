"""The daemon's flag derivation after one new message, timed offline on a copy of a real store.

    .venv/bin/python bench/flag_latency.py STORE [--arrivals 60] [--check] [--profile FILE]

STORE is a store the backfill benchmark left (`backfill.py --workdir WORKDIR --keep`: WORKDIR/store/triage.sqlite).
Its newest --arrivals messages are taken out of a copy, then put back one at a time; after each,
Analyzer.flag_after([id]) runs as the daemon's FlagWorker runs it (readings kept warm), timed
per step. --check compares the flags each derivation wrote with a derivation by a fresh engine
(no readings, no caches) of the same range, so a speed-up that changes a flag shows.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import triage.flagging
import triage.views
from triage.analyze import Analyzer
from triage.config import Config, StoreConfig, SupportConfig
from triage.flagging import FlagEngine
from triage.related import RelatedGroups
from triage.store import Store, open_store
from triage.views import ViewReader

DERIVE_STEPS = (
    "resolve_contacts",
    "link_replies",
    "acknowledged_questions",
    "check_reply",
    "read_mail",
    "find_repeats",
    "find_unanswered",
    "find_canned",
    "flag_row",
)
SUPPORT_ADDRESS = "support@nusantara-net.example"
SUPPORT_DOMAIN = "nusantara-net.example"
TABLES = ("messages", "classifications", "message_topics")


@contextmanager
def timed(module: Any, name: str, spent: dict[str, float]) -> Iterator[None]:
    original = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - start

    setattr(module, name, wrapper)
    try:
        yield
    finally:
        setattr(module, name, original)


def take_out(db: sqlite3.Connection, count: int) -> list[dict[str, list[tuple[Any, ...]]]]:
    """Remove the newest `count` messages (by row id) with their topics; returns them, oldest first."""
    ids = [r[0] for r in db.execute("SELECT id FROM messages ORDER BY id DESC LIMIT ?", (count,))][::-1]
    taken = []
    for message in ids:
        rows = {
            "messages": db.execute("SELECT * FROM messages WHERE id = ?", (message,)).fetchall(),
            "classifications": db.execute("SELECT * FROM classifications WHERE message = ?", (message,)).fetchall(),
            "message_topics": db.execute("SELECT * FROM message_topics WHERE message = ?", (message,)).fetchall(),
        }
        taken.append(rows)
    marks = ",".join("?" * len(ids))
    for table in ("flags", "message_topics", "classifications", "locations", "raw"):
        column = "message"
        db.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", ids)
    db.execute(f"DELETE FROM messages WHERE id IN ({marks})", ids)
    db.commit()
    return taken


def put_back(store: Store, rows: dict[str, list[tuple[Any, ...]]]) -> int:
    conn = store.db.conn
    with conn:
        for table in TABLES:
            for row in rows[table]:
                conn.execute(f"INSERT INTO {table} VALUES ({','.join('?' * len(row))})", row)
    return int(rows["messages"][0][0])


def stored_flags(store: Store, since: datetime) -> set[tuple[Any, ...]]:
    return {
        (r[0], r[1], r[2], r[3], r[4])
        for r in store.db.execute(
            "SELECT f.key, f.severity, f.explanation, f.evidence_json, f.related_json FROM flags f "
            "JOIN messages m ON m.id = f.message WHERE m.date_utc >= ?",
            (since.astimezone(UTC).isoformat(),),
        )
    }


def recompute_since(analyzer: Analyzer, store: Store, ids: list[int], now: datetime) -> datetime:
    """The first date whose flags flag_after(ids) re-derives."""
    oldest = store.earliest_date(ids) or now
    return oldest - timedelta(days=analyzer.engine.config.flags.recompute_days)


def fresh_flags(analyzer: Analyzer, store: Store, since: datetime, now: datetime) -> set[tuple[Any, ...]]:
    """What a fresh engine's recompute (no kept readings, views or rows) derives from `since` (nothing written)."""
    engine = FlagEngine(analyzer.engine.ruleset, analyzer.engine.models, analyzer.engine.config)
    return {
        (row["key"], row["severity"], row["explanation"], row["evidence_json"], row["related_json"])
        for window in engine.windows(store, since)
        for row in engine.window_flags(store, now, window).rows
    }


class GcClock:
    """Time spent in the garbage collector, per generation."""

    def __init__(self) -> None:
        self.spent: dict[int, float] = defaultdict(float)
        self.counts: dict[int, int] = defaultdict(int)
        self._start = 0.0
        gc.callbacks.append(self.on_gc)

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.spent[info["generation"]] += time.perf_counter() - self._start
            self.counts[info["generation"]] += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--arrivals", type=int, default=60)
    parser.add_argument("--freeze", action="store_true", help="gc.freeze() after the first derivation")
    parser.add_argument("--check", action="store_true", help="compare each derivation with a fresh engine's")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the warm derivations to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="triage-flaglat-") as work:
        path = Path(work) / "store.sqlite"
        shutil.copy(args.store, path)
        db = sqlite3.connect(path)
        taken = take_out(db, args.arrivals)
        db.close()
        config = Config(
            store=StoreConfig(path=path),
            support=SupportConfig(addresses=(SUPPORT_ADDRESS,), domains=(SUPPORT_DOMAIN,)),
        )
        analyzer = Analyzer.from_config(config)
        store = open_store(path)
        now = datetime.now(UTC)
        start = time.perf_counter()
        analyzer.flag_after(store, [], now)  # the daemon's first derivation: readings go warm
        print(f"first derivation (cold): {time.perf_counter() - start:.2f} s")
        if args.freeze:
            gc.freeze()
        clock = GcClock()
        totals: list[float] = []
        steps: dict[str, list[float]] = defaultdict(list)
        each: list[dict[str, float]] = []
        mismatches = 0
        profile = cProfile.Profile() if args.profile else None
        for rows in taken:
            message = put_back(store, rows)
            spent: dict[str, float] = defaultdict(float)
            with (
                timed(triage.flagging, "load_views", spent),
                timed(ViewReader, "load", spent),
                timed(FlagEngine, "derive", spent),
                timed(Store, "replace_flags", spent),
                timed(RelatedGroups, "__call__", spent),
                ExitStack() as steps_timed,
            ):
                for step in DERIVE_STEPS:
                    steps_timed.enter_context(timed(triage.flagging, step, spent))
                start = time.perf_counter()
                if profile is not None:
                    profile.runcall(analyzer.flag_after, store, [message], now)
                else:
                    analyzer.flag_after(store, [message], now)
                totals.append(time.perf_counter() - start)
            for name, seconds in spent.items():
                steps[name].append(seconds)
            each.append(dict(spent))
            if args.check:
                since = recompute_since(analyzer, store, [message], now)
                if stored_flags(store, since) != fresh_flags(analyzer, store, since, now):
                    mismatches += 1
        store.close()
    if profile is not None:
        profile.dump_stats(args.profile)
    print(
        f"{len(totals)} arrivals, flag_after wall seconds: p50 {statistics.median(totals):.3f}, "
        f"p95 {sorted(totals)[int(0.95 * len(totals)) - 1]:.3f}, max {max(totals):.3f}"
    )
    slowest = sorted(range(len(totals)), key=lambda i: -totals[i])[:5]
    print(
        "  slowest:",
        ", ".join(
            f"{totals[i]:.3f} s (" + " ".join(f"{n} {v * 1000:.0f}" for n, v in each[i].items() if v > 0.01) + ")"
            for i in slowest
        ),
    )
    for name, values in steps.items():
        print(f"  {name:14} median {statistics.median(values) * 1000:7.1f} ms")
    print(
        "  gc: "
        + ", ".join(f"gen {g}: {clock.counts[g]} runs {clock.spent[g] * 1000:.0f} ms" for g in sorted(clock.spent))
    )
    if args.check:
        print(f"check: {mismatches} derivation(s) differ from a fresh engine's")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())

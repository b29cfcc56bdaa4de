"""A fuzz campaign: the hostile-mail generators of tests/test_fuzz.py, for many more examples.

    .venv/bin/python bench/fuzz_campaign.py                    # 3000 examples
    .venv/bin/python bench/fuzz_campaign.py --examples 20000 --minutes 60 --heavy

Every example is a (generator, seed) pair: the message is parsed, stored through a real SQLite store
(in batches, each checked to hold every input), classified, and read by the reply checks as a
question and as a reply; every fourth example also sends hostile text (not mail) through
classification and the checks. A failure is an exception, an input not stored, or a step over its
time bound; its input is saved under --out with the reason, to replay with hostile_message(kind, seed).
The bounds apply to CPU time by default: on a machine shared with other jobs wall time measures
them too (--bound wall for wall time; both are reported for the slowest case of each step).

Memory: tracemalloc traces every --trace-every'th example (not the deep-nesting generator, which
tracemalloc slows twentyfold); the process's peak RSS covers everything, native memory included.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import test_fuzz
from tests.test_fuzz import (
    GENERATORS,
    MEMORY_LIMIT,
    PARSE_TIME_LIMIT,
    TEXT_GENERATORS,
    TIME_LIMIT,
    Measure,
    assert_storable,
    bounded,
    exchange_views,
    hostile_message,
    hostile_text,
)
from triage.analyze import Analyzer
from triage.capture import to_captured
from triage.config import Config
from triage.model import FolderRole, Mail, RawMail, Unparsable
from triage.parse import parse_mail
from triage.store import Checkpoint, Store, open_store

QUESTION = "Hello, my order 88123 has not arrived yet. When will it be delivered? Please check."
REPLY = "Hi Ann,\n\nThank you for writing. Your order 88123 left our warehouse today.\n\nKind regards,\nDewi"
NOW = datetime(2026, 11, 9, tzinfo=UTC)
HEAVY_SIZES = {300: 10, 3_000: 20, 30_000: 30, 300_000: 25, 2_000_000: 15}


@dataclass
class Slowest:
    seconds: float = 0.0
    case: str = ""

    def update(self, seconds: float, case: str) -> None:
        if seconds > self.seconds:
            self.seconds, self.case = seconds, case


@dataclass
class Campaign:
    out: Path
    bound: str = "cpu"  # what a step's time bound applies to: "cpu" (process CPU time) or "wall"
    cases: int = 0
    texts: int = 0
    parsed: Counter[str] = field(default_factory=Counter)
    per_generator: Counter[str] = field(default_factory=Counter)
    failures: list[dict[str, Any]] = field(default_factory=list)
    slowest: dict[str, Slowest] = field(default_factory=dict)  # wall time
    slowest_cpu: dict[str, Slowest] = field(default_factory=dict)
    peak_traced: Slowest = field(default_factory=Slowest)  # bytes, not seconds
    traced: int = 0
    bytes_in: int = 0
    peak_rss: Slowest = field(default_factory=Slowest)  # kilobytes, with the case that raised it

    def timed(self, step: str, case: str, limit: float, run: Callable[[], Any], data: bytes | str) -> Any:
        """Run one step under the hang guard; a failure or a step past its bound is recorded."""
        cpu = time.process_time()
        try:
            with bounded() as measure:
                result = run()
        except Exception as exc:  # noqa: BLE001 - every failure is a finding, recorded with its input
            self.fail(step, case, f"{type(exc).__name__}: {exc}", data, traceback.format_exc())
            return None
        cpu = time.process_time() - cpu
        self.slowest.setdefault(step, Slowest()).update(measure.seconds, case)
        self.slowest_cpu.setdefault(step, Slowest()).update(cpu, case)
        if (cpu if self.bound == "cpu" else measure.seconds) >= limit:
            took = f"took {cpu:.1f}s CPU, {measure.seconds:.1f}s wall"
            self.fail(step, case, f"{took} (bound {limit:.0f}s {self.bound})", data)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.peak_rss.update(float(rss), case)
        return result

    def fail(self, step: str, case: str, reason: str, data: bytes | str, details: str = "") -> None:
        name = f"{len(self.failures):04d}-{step}-{case.replace(':', '-')}"
        folder = self.out / "failures"
        folder.mkdir(parents=True, exist_ok=True)
        blob = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
        (folder / f"{name}.{'eml' if isinstance(data, bytes) else 'txt'}").write_bytes(blob)
        (folder / f"{name}.reason").write_text(f"{step} on {case}: {reason}\n\n{details}", encoding="utf-8")
        self.failures.append({"step": step, "case": case, "reason": reason, "input": f"{name}"})
        print(f"  FAIL {step} {case}: {reason[:200]}", flush=True)


def run_message(campaign: Campaign, analyzer: Analyzer, kind: str, seed: int, pending: list[tuple[str, bytes]]) -> None:
    case = f"{kind}:{seed}"
    raw = hostile_message(kind, seed)
    campaign.cases += 1
    campaign.per_generator[kind] += 1
    campaign.bytes_in += len(raw)
    parsed = campaign.timed("parse", case, PARSE_TIME_LIMIT, lambda: parse_mail(RawMail(raw)), raw)
    if parsed is None:
        return
    campaign.parsed[type(parsed).__name__] += 1
    if isinstance(parsed, Mail):
        try:
            assert_storable(parsed)
        except Exception as exc:  # noqa: BLE001
            campaign.fail("storable", case, f"{type(exc).__name__}: {exc}", raw, traceback.format_exc())
    elif parsed.raw != raw:
        campaign.fail("quarantine", case, "the quarantined bytes differ from the input", raw)
    pending.append((case, raw))
    if not isinstance(parsed, Mail):
        return
    subject, text = parsed.subject_norm, parsed.new_text
    campaign.timed("classify", case, TIME_LIMIT, lambda: analyzer.classifier.classify(subject, text, parsed.lang), raw)
    as_question = exchange_views(text, REPLY, text)
    campaign.timed("checks", case, TIME_LIMIT, lambda: analyzer.engine.derive(as_question, NOW), raw)
    as_reply = exchange_views(QUESTION, text, QUESTION)
    campaign.timed("checks", case, TIME_LIMIT, lambda: analyzer.engine.derive(as_reply, NOW), raw)


def run_text(campaign: Campaign, analyzer: Analyzer, kind: str, seed: int) -> None:
    case = f"text-{kind}:{seed}"
    text = hostile_text(kind, seed)
    campaign.texts += 1
    campaign.timed("classify-text", case, TIME_LIMIT, lambda: analyzer.classifier.classify("", text), text)
    views = exchange_views(text, text, QUESTION)
    campaign.timed("checks-text", case, TIME_LIMIT, lambda: analyzer.engine.derive(views, NOW), text)


def store_batch(campaign: Campaign, store: Store, batch: list[tuple[str, bytes]], number: int) -> None:
    """Save one batch through the capture path and check every input has its location."""
    account = f"fuzz{number}"
    cases = ",".join(case for case, _ in batch)
    raws = [RawMail(raw, uid=uid) for uid, (_, raw) in enumerate(batch, 1)]

    def save() -> int:
        items = to_captured(raws, FolderRole.INBOX, Config())
        store.save_batch(account, items, Checkpoint(account, FolderRole.INBOX, "INBOX", 1, len(raws)))
        return int(store.db.execute("SELECT COUNT(*) FROM locations WHERE account = ?", (account,)).fetchone()[0])

    stored = campaign.timed("store", f"batch{number}", TIME_LIMIT * 4, save, json.dumps(cases).encode())
    if stored is not None and stored != len(raws):
        campaign.fail("store", f"batch{number}", f"{stored} of {len(raws)} inputs stored: {cases}", b"")


def trace(campaign: Campaign, analyzer: Analyzer, kind: str, seed: int) -> None:
    """Peak traced memory of parsing and classifying one message (a separate, slower run)."""
    raw = hostile_message(kind, seed)
    measure = Measure()
    try:
        with bounded(trace=True) as measure:
            parsed = parse_mail(RawMail(raw))
            if not isinstance(parsed, Unparsable):
                analyzer.classifier.classify(parsed.subject_norm, parsed.new_text, parsed.lang)
    except Exception as exc:  # noqa: BLE001
        campaign.fail("memory", f"{kind}:{seed}", f"{type(exc).__name__}: {exc}", raw, traceback.format_exc())
        return
    campaign.traced += 1
    campaign.peak_traced.update(float(measure.peak), f"{kind}:{seed} ({len(raw)} bytes)")
    if measure.peak >= MEMORY_LIMIT:
        campaign.fail("memory", f"{kind}:{seed}", f"peaked at {measure.peak / 2**20:.0f} MiB", raw)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=3000, help="hostile messages to run (default 3000)")
    parser.add_argument("--seed", type=int, default=0, help="first seed; example i uses seed + i // generators")
    parser.add_argument("--minutes", type=float, default=0, help="stop after this long (0: no limit)")
    parser.add_argument("--out", type=Path, default=Path("bench/out/fuzz"), help="failing inputs and the summary")
    parser.add_argument("--heavy", action="store_true", help="weight the sizes towards hundreds of KB and MB")
    parser.add_argument("--trace-every", type=int, default=10, help="trace memory of every Nth example")
    parser.add_argument("--batch", type=int, default=20, help="messages per stored batch")
    parser.add_argument(
        "--bound",
        choices=("cpu", "wall"),
        default="cpu",
        help="apply the per-step time bounds to CPU time (default: robust on a shared machine) or wall time",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # quarantined messages are expected here, by the thousand
    if args.heavy:
        test_fuzz.SIZES.clear()
        test_fuzz.SIZES.update(HEAVY_SIZES)
    args.out.mkdir(parents=True, exist_ok=True)
    campaign = Campaign(args.out, bound=args.bound)
    started = time.perf_counter()
    analyzer = Analyzer.from_config(Config())
    kinds, text_kinds = sorted(GENERATORS), sorted(TEXT_GENERATORS)
    print(f"triage fuzz campaign: {args.examples} examples over {len(kinds)} generators, seed {args.seed}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(Path(folder) / "fuzz.sqlite")
        pending: list[tuple[str, bytes]] = []
        batches = 0
        for index in range(args.examples):
            if args.minutes and time.perf_counter() - started > args.minutes * 60:
                print(f"time budget of {args.minutes:g} min reached", flush=True)
                break
            kind, seed = kinds[index % len(kinds)], args.seed + index // len(kinds)
            run_message(campaign, analyzer, kind, seed, pending)
            if index % 4 == 0:
                run_text(campaign, analyzer, text_kinds[(index // 4) % len(text_kinds)], args.seed + index)
            if args.trace_every and index % args.trace_every == 0 and kind != "deep-nesting":
                trace(campaign, analyzer, kind, seed)
            if len(pending) >= args.batch:
                batches += 1
                store_batch(campaign, store, pending, batches)
                pending = []
            if (index + 1) % 500 == 0:
                elapsed = time.perf_counter() - started
                print(f"  {index + 1} examples, {len(campaign.failures)} failures, {elapsed / 60:.1f} min", flush=True)
        if pending:
            batches += 1
            store_batch(campaign, store, pending, batches)
        stored = store.counts()
        store.close()
    elapsed = time.perf_counter() - started
    summary = {
        "examples": campaign.cases,
        "hostile_texts": campaign.texts,
        "megabytes_of_mail": round(campaign.bytes_in / 2**20, 1),
        "parsed": dict(campaign.parsed),
        "stored": stored,
        "batches": batches,
        "failures": len(campaign.failures),
        "time_bound_on": args.bound,
        "slowest_seconds": {step: [round(s.seconds, 3), s.case] for step, s in sorted(campaign.slowest.items())},
        "slowest_cpu_seconds": {
            step: [round(s.seconds, 3), s.case] for step, s in sorted(campaign.slowest_cpu.items())
        },
        "traced_examples": campaign.traced,
        "peak_traced_mib": [round(campaign.peak_traced.seconds / 2**20, 1), campaign.peak_traced.case],
        "peak_rss_mib": [round(campaign.peak_rss.seconds / 1024, 1), campaign.peak_rss.case],
        "minutes": round(elapsed / 60, 1),
        "per_generator": dict(sorted(campaign.per_generator.items())),
    }
    (args.out / "summary.json").write_text(
        json.dumps(summary | {"failure_list": campaign.failures}, indent=2), encoding="utf-8"
    )
    print(
        f"\n{campaign.cases} messages ({summary['megabytes_of_mail']} MB) and {campaign.texts} hostile texts "
        f"in {summary['minutes']} min"
    )
    print(f"parsed: {dict(campaign.parsed)}; stored: {stored['messages']} distinct messages in {batches} batches")
    print(
        f"failures: {len(campaign.failures)}" + (f" (inputs in {args.out / 'failures'})" if campaign.failures else "")
    )
    for step, slowest in sorted(campaign.slowest.items()):
        cpu = campaign.slowest_cpu[step]
        print(
            f"  slowest {step:14} {slowest.seconds:7.3f}s wall  {slowest.case:24} {cpu.seconds:7.3f}s CPU  {cpu.case}"
        )
    print(
        f"peak traced memory: {summary['peak_traced_mib'][0]} MiB ({campaign.traced} traced; "
        f"{summary['peak_traced_mib'][1]})"
    )
    print(f"peak RSS of the process: {summary['peak_rss_mib'][0]} MiB (reached at {summary['peak_rss_mib'][1]})")
    return 1 if campaign.failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""Profile one `triage run --once` backfill with py-spy and say where its wall time goes.

py-spy samples the real processes from outside (no code changes): the main thread of the main
process and the worker processes it forks, each kind summarised on its own (the process pool's
helper threads are left out). Idle samples are kept, so waiting on IMAP, SQLite or the workers
counts too and each process's shares add up to its wall time. The raw
(collapsed stacks) file opens in https://www.speedscope.app or flamegraph.pl for a picture.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from dovecot import Dovecot
from runs import TRIAGE, Run, run_timed, triage_env

PY_SPY = Path(sys.executable).parent / "py-spy"
FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^()]*)\)$")

# Where a backfill's time can go, by the frames that mark it (function, file suffix), outermost
# first within a stack: a sample counts for the first marker found from the root down.
PHASES: tuple[tuple[str, str, str], ...] = (
    ("startup: imports", "<module>", ""),
    ("startup: Analyzer.from_config (rules, spaCy)", "from_config", "triage/analyze.py"),
    ("capture: fetch (ImapSession.fetch)", "fetch", "triage/sources/imap.py"),
    ("capture: other IMAP (examine, search, login)", "", "triage/sources/imap.py"),
    ("capture: parse (parse_mail)", "parse_mail", "triage/parse.py"),
    ("capture: store (Store.save_batch)", "save_batch", "triage/store.py"),
    ("topics: classify", "classify_row", "triage/analyze.py"),
    ("topics: store (replace_topics)", "replace_topics", "triage/store.py"),
    ("topics: read rows (messages_by_id)", "messages_by_id", "triage/store.py"),
    ("flags: load_views", "load_views", "triage/views.py"),
    ("flags: derive", "derive", "triage/flagging.py"),
    ("flags: replace_flags", "replace_flags", "triage/store.py"),
    ("waiting on the workers (Future.result)", "result", "concurrent/futures/_base.py"),
)
# What a worker process does, by the same kind of markers; the rest of its samples are "other".
WORKER_PHASES: tuple[tuple[str, str, str], ...] = (
    ("waiting for work", "get", "multiprocessing/queues.py"),
    ("parse (to_captured)", "to_captured", "triage/capture.py"),
    ("classify (_topic_rows)", "_topic_rows", "triage/pipeline.py"),
    ("flag windows: read the store", "load_views", "triage/views.py"),
    ("flag windows: derive", "derive", "triage/flagging.py"),
    ("sending results back", "_sendback_result", "concurrent/futures/process.py"),
)
# Steps inside FlagEngine.derive and Classifier.classify, for the breakdown.
STEPS: tuple[tuple[str, str], ...] = (
    ("check_reply", "triage/checks.py"),
    ("find_repeats", "triage/repeats.py"),
    ("find_unanswered", "triage/repeats.py"),
    ("find_canned", "triage/canned.py"),
    ("resolve_contacts", "triage/contacts.py"),
    ("find_identifiers", "triage/contacts.py"),
    ("link_replies", "triage/threads.py"),
    ("acknowledged_questions", "triage/flagging.py"),
    ("analyse_many", "triage/language.py"),
    ("match", "triage/language.py"),
    ("nearest", "triage/similarity.py"),
    ("_evidence", "triage/classify.py"),
    ("guess_language", "triage/language.py"),
    ("split_text", "triage/textsplit.py"),
    ("html_to_text", "triage/textsplit.py"),
    ("parse_from_bytes", "mailparser/core.py"),
    ("content_hash", "triage/parse.py"),
)


@dataclass
class Samples:
    """One kind of process's samples (the main process, or all the workers together)."""

    samples: int
    phases: list[tuple[str, int]]  # phase -> samples (exclusive: each sample counted once)
    steps: list[tuple[str, int]]  # function -> samples (inclusive)
    top_self: list[tuple[str, int]]  # leaf function -> samples


@dataclass
class Profile:
    run: Run
    main: Samples
    workers: Samples
    worker_count: int
    raw_path: Path


def py_spy_missing() -> str | None:
    if PY_SPY.exists() or shutil.which("py-spy"):
        return None
    return f"py-spy not installed: {Path(sys.executable).parent}/pip install py-spy"


def record(config: Path, store: Path, server: Dovecot, out: Path, rate: int = 100) -> Run:
    """`py-spy record` around a fresh `triage run --once`; collapsed stacks written to `out`."""
    shutil.rmtree(store.parent, ignore_errors=True)
    spy = str(PY_SPY) if PY_SPY.exists() else "py-spy"
    argv = [spy, "record", "--idle", "--subprocesses", "--nolineno", "--format", "raw", "--rate", str(rate)]
    argv += ["-o", str(out)]
    argv += ["--", str(TRIAGE), "run", "--once", "--config", str(config)]
    return run_timed(argv, out.with_suffix(".log"), triage_env(server))


def frames_of(line: str) -> tuple[list[tuple[str, str]], int, int]:
    """A sample's frames, its count, and its process depth (1: the main process, 2: a worker)."""
    stack, _, count = line.rstrip("\n").rpartition(" ")
    frames: list[tuple[str, str]] = []
    depth = 0
    for frame in stack.split(";"):
        if frame.startswith("process ") and not frames:
            depth += 1  # --subprocesses names the process chain first: "process PID:\"command\""
            continue
        match = FRAME.match(frame)
        if match:
            frames.append((match["func"], match["file"]))
    return frames, int(count), max(depth, 1)


def _marks(frame: tuple[str, str], func: str, file: str) -> bool:
    """Does a frame ("Class.method" or "function", file) match a marker (bare function name, file suffix)?"""
    name = frame[0]
    named = not func or name == func or name.endswith(f".{func}")
    return named and (not file or frame[1].endswith(file))


def summarise(path: Path, run: Run, top: int = 15) -> Profile:
    tallies = {kind: _Tally() for kind in ("main", "workers")}
    workers: set[str] = set()
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        frames, count, depth = frames_of(line)
        if frames and frames[0][0] == "Thread._bootstrap":
            continue  # the pool's helper threads in the main process, idle but sampled all along
        if depth > 1:
            workers.add(line.split(";", 2)[1].split(":", 1)[0])
            tallies["workers"].add(frames, count, _worker_phase(frames))
        else:
            tallies["main"].add(frames, count, _phase(frames))
    return Profile(run, tallies["main"].done(top), tallies["workers"].done(top), len(workers), path)


class _Tally:
    def __init__(self) -> None:
        self.total = 0
        self.phases: Counter[str] = Counter()
        self.steps: Counter[str] = Counter()
        self.leaves: Counter[str] = Counter()

    def add(self, frames: list[tuple[str, str]], count: int, phase: str) -> None:
        self.total += count
        self.phases[phase] += count
        for func, file in STEPS:
            if any(_marks(f, func, file) for f in frames):
                self.steps[f"{func} ({file})"] += count
        if frames:
            self.leaves[f"{frames[-1][0]} ({_short(frames[-1][1])})"] += count

    def done(self, top: int) -> Samples:
        return Samples(self.total, self.phases.most_common(), self.steps.most_common(), self.leaves.most_common(top))


def _worker_phase(frames: list[tuple[str, str]]) -> str:
    """The first worker phase marker from the leaf up (a worker's stack starts with its parent's, as forked)."""
    for frame in reversed(frames):
        for name, func, file in WORKER_PHASES:
            if _marks(frame, func, file):
                return name
    return "other"


def _phase(frames: list[tuple[str, str]]) -> str:
    """The first phase marker from the root down (the console script's own frame is no import)."""
    in_run = any(func == "run_once" for func, _ in frames)
    for frame in frames:
        for name, func, file in PHASES:
            if func == "<module>":
                # An import, unless inside the run: a lazy import there belongs to its caller.
                if frame[0] == func and frame[1].endswith(".py") and not in_run:
                    return name
            elif _marks(frame, func, file):
                return name
    return "other (inside run_once)" if in_run else "other (interpreter, CLI, exit)"


def _short(file: str) -> str:
    for marker in ("site-packages/", "python3.11/", "/work/main/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file

"""Profile one `triage run --once` backfill with py-spy and say where its wall time goes.

py-spy samples the real process from outside (no code changes). Idle samples are kept, so
waiting on IMAP and SQLite counts too and the shares add up to wall time. The raw (collapsed
stacks) file opens in https://www.speedscope.app or flamegraph.pl for a picture.
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
class Profile:
    run: Run
    samples: int
    phases: list[tuple[str, int]]  # phase -> samples (exclusive: each sample counted once)
    steps: list[tuple[str, int]]  # function -> samples (inclusive)
    top_self: list[tuple[str, int]]  # leaf function -> samples
    raw_path: Path


def py_spy_missing() -> str | None:
    if PY_SPY.exists() or shutil.which("py-spy"):
        return None
    return f"py-spy not installed: {Path(sys.executable).parent}/pip install py-spy"


def record(config: Path, store: Path, server: Dovecot, out: Path, rate: int = 100) -> Run:
    """`py-spy record` around a fresh `triage run --once`; collapsed stacks written to `out`."""
    shutil.rmtree(store.parent, ignore_errors=True)
    spy = str(PY_SPY) if PY_SPY.exists() else "py-spy"
    argv = [spy, "record", "--idle", "--nolineno", "--format", "raw", "--rate", str(rate), "-o", str(out)]
    argv += ["--", str(TRIAGE), "run", "--once", "--config", str(config)]
    return run_timed(argv, out.with_suffix(".log"), triage_env(server))


def frames_of(line: str) -> tuple[list[tuple[str, str]], int]:
    stack, _, count = line.rstrip("\n").rpartition(" ")
    frames = []
    for frame in stack.split(";"):
        match = FRAME.match(frame)
        if match:
            frames.append((match["func"], match["file"]))
    return frames, int(count)


def _marks(frame: tuple[str, str], func: str, file: str) -> bool:
    """Does a frame ("Class.method" or "function", file) match a marker (bare function name, file suffix)?"""
    name = frame[0]
    named = not func or name == func or name.endswith(f".{func}")
    return named and (not file or frame[1].endswith(file))


def summarise(path: Path, run: Run, top: int = 15) -> Profile:
    phases: Counter[str] = Counter()
    steps: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        frames, count = frames_of(line)
        total += count
        phases[_phase(frames)] += count
        for func, file in STEPS:
            if any(_marks(f, func, file) for f in frames):
                steps[f"{func} ({file})"] += count
        if frames:
            leaves[f"{frames[-1][0]} ({_short(frames[-1][1])})"] += count
    return Profile(run, total, phases.most_common(), steps.most_common(), leaves.most_common(top), path)


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

"""Preparing fetched batches for the store (parse, then topics) in worker processes, in order.

A backfill is CPU-bound in parsing and classification, which Python runs on one core at a time.
`WorkerPool` forks processes that inherit the loaded rules and language pipelines and prepare
batches while the main process fetches the next ones and stores the finished ones; `InProcess`
does the same work inline, for the daemon (whose threads make forking unsafe) and small runs.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Protocol

from triage.analyze import Analyzer, classify_row, derived_rows
from triage.capture import PreparedBatch, completed, in_order, to_captured
from triage.collector import settle_memory
from triage.config import Config
from triage.flagging import DeriveWindows, Window, WindowFlags
from triage.model import FolderRole, RawMail
from triage.store import Captured, TopicRows, message_row, open_reader, utc_now

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def prepare(raws: list[RawMail], role: FolderRole, config: Config, analyzer: Analyzer) -> PreparedBatch:
    """Parse a batch and derive its topics from the very row the store will hold."""
    items = to_captured(raws, role, config)
    now = utc_now()
    return PreparedBatch(items, [_topic_rows(item, analyzer, now) for item in items])


def _topic_rows(item: Captured, analyzer: Analyzer, now: str) -> TopicRows | None:
    try:
        result = classify_row(analyzer.classifier, message_row("", item, now))
    except Exception:
        # Stored without topics all the same: analyze_missing() retries it, as after any failed analysis.
        log.exception(
            "classification failed; the message is stored and classified again later", extra={"uid": item.uid}
        )
        return None
    return None if result is None else derived_rows(0, result, analyzer.version, now)


class Preparer(Protocol):
    analyzer: Analyzer

    @property
    def derive_windows(self) -> DeriveWindows | None:
        """Derives flag windows in the workers; None: the caller derives them itself."""

    def submit(self, raws: list[RawMail], role: FolderRole) -> Future[PreparedBatch]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Preparer: ...

    def __exit__(self, *exc: object) -> None: ...


class InProcess:
    """Prepares each batch inline, when it is submitted."""

    derive_windows: DeriveWindows | None = None

    def __init__(self, config: Config, analyzer: Analyzer) -> None:
        self.config, self.analyzer = config, analyzer

    def submit(self, raws: list[RawMail], role: FolderRole) -> Future[PreparedBatch]:
        return completed(prepare, raws, role, self.config, self.analyzer)

    def close(self) -> None:
        pass

    def __enter__(self) -> InProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# What a forked worker prepares with: set in the parent just before the fork, inherited, never sent.
_inherited: tuple[Config, Analyzer] | None = None


def _end_with(parent: int) -> None:
    """Make this worker end when the process that forked it ends, even by SIGKILL.

    A parent killed with -9 cannot shut its pool down, and a forked worker holds both ends of
    its task pipe, so it would wait for tasks forever.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        set_parent_death_signal = libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) == 0
    except (OSError, AttributeError):  # not Linux
        set_parent_death_signal = False
    if not set_parent_death_signal:
        threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # the parent died before the signal was set up
        os._exit(0)


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _prepare_in_worker(raws: list[RawMail], role: FolderRole) -> PreparedBatch:
    config, analyzer = _inheritance()
    return prepare(raws, role, config, analyzer)


def _window_flags_in_worker(store_path: Path, window: Window, now: datetime) -> WindowFlags:
    """One window's flags, read through this worker's own read-only connection to the store."""
    _, analyzer = _inheritance()
    store = open_reader(store_path)
    try:
        return analyzer.engine.window_flags(store, now, window, alone=False)
    finally:
        store.close()


def _inheritance() -> tuple[Config, Analyzer]:
    assert _inherited is not None, "worker started without the parent's analyzer"
    return _inherited


class WorkerPool:
    """Prepares batches in forked processes. Create it before any thread starts (fork copies one thread)."""

    def __init__(self, config: Config, analyzer: Analyzer, workers: int) -> None:
        global _inherited
        self.config, self.analyzer, self.workers = config, analyzer, workers
        _inherited = (config, analyzer)
        settle_memory()  # the Python manual's advice before fork() without exec()
        self._pool = ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("fork"), initializer=_end_with, initargs=(os.getpid(),)
        )

    def submit(self, raws: list[RawMail], role: FolderRole) -> Future[PreparedBatch]:
        return self._pool.submit(_prepare_in_worker, raws, role)

    def derive_windows(self, store_path: Path, windows: Sequence[Window], now: datetime) -> Iterator[WindowFlags]:
        """Flag windows derived in the workers, delivered in order, a few submitted ahead.

        Each worker holds one window's mail at a time, so a backfill's flags take both cores and
        the memory of a window per worker, never the whole mailbox. Only `workers` windows are
        submitted beyond the one awaited: this process holds the flags of a finished window until
        it is written, and with all windows submitted at once those of later windows piled up
        while an earlier one took longer (100,000 messages: this process's peak RSS 323 MB).
        """
        submitted = (
            (window, self._pool.submit(_window_flags_in_worker, store_path, window, now)) for window in windows
        )
        for _, flags in in_order(submitted, self.workers):
            yield flags

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def worker_count(config: Config) -> int:
    """[capture] workers, or one per CPU this process may use when 0."""
    if config.capture.workers > 0:
        return config.capture.workers
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def preparer_for(config: Config, analyzer: Analyzer) -> Preparer:
    """Worker processes when more than one CPU is there to use, else inline."""
    workers = worker_count(config)
    return WorkerPool(config, analyzer, workers) if workers > 1 else InProcess(config, analyzer)

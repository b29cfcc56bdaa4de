"""Preparing batches in worker processes stores exactly what preparing them inline stores."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from triage import flagging
from triage.analyze import Analyzer
from triage.capture import import_raw, in_order, parse_only
from triage.classify import Classifier
from triage.config import CaptureConfig, Config, StoreConfig, SupportConfig
from triage.demo.sample_mailbox import sample_messages
from triage.flagging import FlagEngine
from triage.model import FolderRole, RawMail
from triage.pipeline import InProcess, WorkerPool
from triage.store import Store, open_store

BROKEN = b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\x00\xff broken"


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer.from_config(Config())


def config_for(path: Path, batch_size: int = 7) -> Config:
    return Config(
        store=StoreConfig(path=path),
        support=SupportConfig(addresses=("support@example.com",), domains=("example.com",)),
        capture=CaptureConfig(batch_size=batch_size),
    )


def inbox() -> list[RawMail]:
    return [RawMail(m.raw) for m in sample_messages() if m.folder == "inbox"] + [RawMail(BROKEN)]


def stored(store: Store) -> list[tuple[Any, ...]]:
    """Every message with its topics and scores, in the order it was stored."""
    rows = store.db.execute(
        "SELECT m.id, m.message_id, m.status, c.lang, group_concat(t.topic || '=' || round(t.score, 9)) "
        "FROM messages m LEFT JOIN classifications c ON c.message = m.id "
        "LEFT JOIN message_topics t ON t.message = m.id GROUP BY m.id ORDER BY m.id"
    )
    return [tuple(row) for row in rows]


def test_worker_processes_store_what_inline_preparation_stores(tmp_path: Path, analyzer: Analyzer) -> None:
    results = []
    for name, make in (("inline", InProcess), ("workers", lambda c, a: WorkerPool(c, a, 2))):
        config = config_for(tmp_path / name / "store.sqlite")
        store = open_store(config.store.path)
        with make(config, analyzer) as preparer:
            result = import_raw(inbox(), store, config, FolderRole.INBOX, prepare=preparer.submit)
        results.append((result.new, result.quarantined, stored(store)))
        store.close()
    assert results[0] == results[1]
    new, quarantined, rows = results[0]
    assert new == len(inbox()) and quarantined == 1
    assert sum(1 for row in rows if row[3] is not None) == new - 1  # every parsed message has its topics


def test_preparing_only_the_parse_leaves_topics_to_the_analysis(tmp_path: Path, analyzer: Analyzer) -> None:
    config = config_for(tmp_path / "store.sqlite")
    store = open_store(config.store.path)
    import_raw(inbox(), store, config, FolderRole.INBOX, prepare=parse_only(config))
    assert store.unanalyzed_ids() and analyzer.analyze_missing(store) == len(inbox()) - 1
    store.close()


def test_a_classification_that_fails_in_a_worker_loses_no_mail(
    tmp_path: Path, analyzer: Analyzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Classifier.classify

    def flaky(self: Classifier, **fields: Any) -> Any:
        if "refund" in fields["subject"].lower():
            raise RuntimeError("a bug in a rule")
        return original(self, **fields)

    monkeypatch.setattr(Classifier, "classify", flaky)  # before the fork: the workers inherit it
    config = config_for(tmp_path / "store.sqlite")
    store = open_store(config.store.path)
    with WorkerPool(config, analyzer, 2) as preparer:
        result = import_raw(inbox(), store, config, FolderRole.INBOX, prepare=preparer.submit)
    assert result.new == len(inbox())
    missing = store.unanalyzed_ids()
    assert missing
    monkeypatch.setattr(Classifier, "classify", original)
    assert analyzer.analyze_missing(store) == len(missing)
    store.close()


def flag_rows(store: Store) -> list[tuple[Any, ...]]:
    rows = store.db.execute("SELECT key, severity, explanation, evidence_json, related_json FROM flags ORDER BY key")
    return [tuple(row) for row in rows]


def test_flag_windows_derived_in_workers_are_the_windows_derived_inline(
    tmp_path: Path, analyzer: Analyzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_for(tmp_path / "store.sqlite")
    store = open_store(config.store.path)
    for folder in ("inbox", "sent"):
        raws = [RawMail(m.raw) for m in sample_messages() if m.folder == folder]
        import_raw(raws, store, config, FolderRole(folder), after_batch=analyzer.analyze)
    engine, now = Analyzer(analyzer.classifier, config).engine, datetime(2026, 11, 1, tzinfo=UTC)
    engine.recompute(store, now)
    whole = flag_rows(store)
    monkeypatch.setattr(flagging, "WINDOW_MESSAGES", 7)  # many windows, so the workers share them out
    assert len(engine.windows(store)) > 4
    store.db.execute("DELETE FROM flags")
    engine.recompute(store, now)
    inline = flag_rows(store)
    store.db.execute("DELETE FROM flags")
    with WorkerPool(config, Analyzer(analyzer.classifier, config), 2) as pool:
        assert engine.recompute(store, now, derive_windows=pool.derive_windows) == len(inline)
    assert flag_rows(store) == inline
    assert {row[0] for row in inline} == {row[0] for row in whole}
    store.close()


def test_a_flag_window_that_fails_in_a_worker_is_an_error_of_the_recompute(
    tmp_path: Path, analyzer: Analyzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_for(tmp_path / "store.sqlite")
    store = open_store(config.store.path)
    import_raw(inbox(), store, config, FolderRole.INBOX, after_batch=analyzer.analyze)

    def broken(self: FlagEngine, *args: Any) -> Any:
        raise RuntimeError("a bug in a check")

    monkeypatch.setattr(flagging, "WINDOW_MESSAGES", 7)
    monkeypatch.setattr(FlagEngine, "derive", broken)  # before the fork: the workers inherit it
    engine = Analyzer(analyzer.classifier, config).engine
    with WorkerPool(config, analyzer, 2) as pool, pytest.raises(RuntimeError, match="a bug in a check"):
        engine.recompute(store, datetime.now(UTC), derive_windows=pool.derive_windows)
    assert store.db.execute("SELECT count(*) FROM flags").fetchone()[0] == 0
    store.close()


def test_flag_windows_are_submitted_a_few_ahead_not_all_at_once(tmp_path: Path, analyzer: Analyzer) -> None:
    """This process holds a finished window's flags until it writes them: later windows must not pile up."""
    submitted: list[Any] = []

    class Recording:  # stands in for the process pool: records what was submitted when
        def submit(self, function: Any, path: Path, window: Any, now: datetime) -> Future[Any]:
            submitted.append(window)
            done: Future[Any] = Future()
            done.set_result(f"flags of {window}")
            return done

    with WorkerPool(config_for(tmp_path / "t.sqlite"), analyzer, 2) as pool:
        real, pool._pool = pool._pool, Recording()  # type: ignore[assignment]
        try:
            delivered = pool.derive_windows(tmp_path / "t.sqlite", list(range(10)), datetime.now(UTC))  # type: ignore[arg-type]
            assert next(delivered) == "flags of 0"
            assert len(submitted) <= 3  # the window awaited and one per worker
            assert list(delivered) == [f"flags of {n}" for n in range(1, 10)]
            assert submitted == list(range(10))
        finally:
            pool._pool = real


def test_batches_already_prepared_are_delivered_before_a_failed_fetch() -> None:
    def submitted() -> Iterator[tuple[int, Future[int]]]:
        for number in range(3):
            done: Future[int] = Future()
            done.set_result(number * 10)
            yield number, done
        raise ConnectionResetError("dropped mid-FETCH")

    delivered = []
    with pytest.raises(ConnectionResetError):
        for key, value in in_order(submitted(), ahead=4):
            delivered.append((key, value))
    assert delivered == [(0, 0), (1, 10), (2, 20)]


WORKER_PARENT = """
import sys, time
from triage.analyze import Analyzer
from triage.config import Config
from triage.model import FolderRole, RawMail
from triage.pipeline import WorkerPool

pool = WorkerPool(Config(), Analyzer.from_config(Config()), 2)
pool.submit([RawMail(b"Subject: hi\\r\\n\\r\\nhello")], FolderRole.INBOX).result()
print(*pool._pool._processes, flush=True)
time.sleep(120)
"""


def test_workers_end_when_their_parent_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", WORKER_PARENT], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    workers = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(workers) == 2
    parent.kill()  # SIGKILL: no chance to shut the pool down
    parent.wait()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]

"""Storage faults: a full disk during capture and during a digest write, a damaged store file, a
locked store. Each is a clear error naming the file and what to do; nothing is stored twice or
lost, and capture carries on from its checkpoint once the fault is gone.

The disk fills two ways: SQLite's `PRAGMA max_page_count` on the store's own connection (anywhere),
and a small tmpfs filled with a filler file (root only: the test is skipped where mounting fails).
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests import mailgen
from tests.servers import ImapServer, message_count, query_store, run_triage, wait_until, write_config
from tests.test_store import captured, checkpoint, mail, with_small_pages
from triage.analyze import Analyzer
from triage.capture import capture_folder
from triage.cli import main
from triage.config import Config, DigestConfig, StoreConfig, load_config
from triage.model import FolderRole
from triage.schedule import due_period, parse_schedule
from triage.service import Daemon, FolderWatcher
from triage.sources.imap import ImapSession
from triage.store import PAGE_SIZE, Store, StoreError, open_store

BATCH = 5


def fill_pages(store: Store, spare_bytes: int = 0) -> None:
    """Let the store's connection grow by at most `spare_bytes` (whole pages): SQLite then answers SQLITE_FULL."""
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    page_size = store.db.execute("PRAGMA page_size").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages + spare_bytes // page_size}")


def make_room(store: Store) -> None:
    store.db.execute("PRAGMA max_page_count = 1073741823")


def padded(n: int) -> bytes:
    """A message big enough to need new pages."""
    return mail(n).replace(b"\r\nbody", b"\r\n" + b"x" * 20_000 + b"\r\nbody")


# --- a small real filesystem ----------------------------------------------------------------


@dataclass
class SmallDisk:
    """A tmpfs of a few megabytes; fill() takes every free byte, free() gives them back."""

    root: Path

    @property
    def filler(self) -> Path:
        return self.root / "filler"

    def fill(self) -> None:
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for chunk in (b"\0" * 65536, b"\0" * 4096, b"\0"):
                while True:
                    try:
                        os.write(fd, chunk)
                    except OSError as exc:
                        if exc.errno != errno.ENOSPC:
                            raise
                        break
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


def mount_tmpfs(where: Path, options: str) -> str | None:
    """Mount a tmpfs; the reason it cannot be done here, or None."""
    if os.geteuid() != 0:
        return "mounting a small tmpfs needs root"
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, text=True)
    return None if done.returncode == 0 else f"cannot mount a tmpfs here: {done.stderr.strip()}"


def unmount(where: Path) -> None:
    if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    root = tmp_path / "disk"
    reason = mount_tmpfs(root, "size=8m")
    if reason:
        pytest.skip(reason)
    try:
        yield SmallDisk(root)
    finally:
        unmount(root)


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory nothing can be written to (a read-only tmpfs as root, mode 0500 otherwise)."""
    root = tmp_path / "readonly"
    if os.geteuid() != 0:
        root.mkdir()
        root.chmod(0o500)
        yield root
        root.chmod(0o700)
        return
    reason = mount_tmpfs(root, "ro,size=1m")
    if reason:
        pytest.skip(reason)
    try:
        yield root
    finally:
        unmount(root)


# --- a full disk during capture -------------------------------------------------------------


def test_a_full_disk_stores_neither_the_batch_nor_its_checkpoint(tmp_path: Path) -> None:
    store = open_store(tmp_path / "store" / "triage.sqlite")
    store.save_batch("acct", [captured(mail(1), 1)], checkpoint(1))
    fill_pages(store)
    with pytest.raises(StoreError) as caught:
        store.save_batch("acct", [captured(padded(n), n) for n in range(2, 7)], checkpoint(6))
    message = str(caught.value)
    assert str(tmp_path / "store" / "triage.sqlite") in message
    assert "the disk is full" in message and "free space" in message
    assert "not stored" in message and "fetched again" in message  # what happens next
    assert store.counts()["messages"] == 1
    state = store.folder_state("acct", FolderRole.INBOX)
    assert state is not None and state.last_uid == 1
    make_room(store)  # space is back: the same batch goes in once
    assert len(store.save_batch("acct", [captured(padded(n), n) for n in range(2, 7)], checkpoint(6))) == 5
    assert store.counts()["messages"] == 6
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_capture_stops_at_the_last_stored_batch_and_resumes_without_loss(
    pymap: ImapServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mails = mailgen.backfill(23)
    pymap.append("INBOX", mails)
    account = pymap.account()
    monkeypatch.setenv(account.password_env, account.password)
    path = tmp_path / "store" / "triage.sqlite"
    config = load_config(write_config(tmp_path / "config.toml", path, [account], {"batch_size": BATCH}))
    store = open_store(with_small_pages(path))  # a budget of a few pages is then about one batch
    assert store.db.execute("PRAGMA page_size").fetchone()[0] == 4096
    store.save_batch("x", [captured(mail(0), 0)], None)  # migrations and a first row: room to measure from
    fill_pages(store, spare_bytes=2 * 4096)  # about one batch fits
    with ImapSession(config.accounts[0], 30) as session, pytest.raises(StoreError, match="the disk is full"):
        capture_folder(session, store, config, FolderRole.INBOX)
    uids = pymap.uids("INBOX")
    state = store.folder_state("support", FolderRole.INBOX)
    stored = [row[0] for row in store.db.execute("SELECT uid FROM locations WHERE account = 'support' ORDER BY uid")]
    assert state is not None and uids[0] < state.last_uid < uids[-1]
    assert stored == [uid for uid in uids if uid <= state.last_uid]  # whole batches up to the checkpoint
    assert len(stored) % BATCH == 0

    make_room(store)
    with ImapSession(config.accounts[0], 30) as session:
        result = capture_folder(session, store, config, FolderRole.INBOX)
    assert result.new == len(mails) - len(stored)
    rows = store.db.execute(
        "SELECT COUNT(*), COUNT(DISTINCT uid), COUNT(DISTINCT message) FROM locations WHERE account = 'support'"
    ).fetchone()
    assert rows == (len(mails), len(mails), len(mails))  # every message once
    final = store.folder_state("support", FolderRole.INBOX)
    assert final is not None and final.last_uid == uids[-1]
    store.close()


def watcher_config(tmp_path: Path, store: Path, server: ImapServer, monkeypatch: pytest.MonkeyPatch) -> Config:
    account = server.account()
    monkeypatch.setenv(account.password_env, account.password)
    capture = {"batch_size": BATCH, "backoff_initial_seconds": 0.2, "backoff_max_seconds": 1.0, "idle_seconds": 2.0}
    return load_config(write_config(tmp_path / "config.toml", store, [account], capture))


def test_the_watcher_backs_off_while_the_disk_is_full_and_captures_everything_once_space_returns(
    pymap: ImapServer,
    small_disk: SmallDisk,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    mails = [*mailgen.backfill(30), mailgen.big_message(300_000)]
    pymap.append("INBOX", mails)
    path = small_disk.root / "store" / "triage.sqlite"
    config = watcher_config(tmp_path, path, pymap, monkeypatch)
    keep = open_store(path)  # held open, as a reader would, so the WAL stays and must grow
    small_disk.fill()
    stop = threading.Event()
    watcher = FolderWatcher(config, config.accounts[0], FolderRole.INBOX, stop, None)
    caplog.set_level(logging.WARNING)
    watcher.start()
    try:
        wait_until(lambda: len(failures(caplog)) >= 2, 30, "the watcher to fail on the full disk and retry")
        assert message_count(path) < len(mails)
        small_disk.free()
        wait_until(lambda: message_count(path) == len(mails), 60, "every message once space returned")
    finally:
        stop.set()
        watcher.join(15)
        keep.close()
    assert not watcher.is_alive()
    assert "watcher crashed" not in caplog.text  # the full disk surfaced as a StoreError, handled
    assert any("disk is full" in f for f in failures(caplog)), failures(caplog)
    locations = query_store(path, "SELECT COUNT(*) AS n, COUNT(DISTINCT message) AS m, MAX(uid) AS last FROM locations")
    assert locations == [{"n": len(mails), "m": len(mails), "last": pymap.uids("INBOX")[-1]}]
    assert query_store(path, "PRAGMA integrity_check") == [{"integrity_check": "ok"}]


def failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [str(getattr(r, "error", "")) for r in caplog.records if r.getMessage() == "folder watch failed; retrying"]


def test_run_once_on_a_full_disk_is_a_clear_error_then_catches_up(
    pymap: ImapServer, small_disk: SmallDisk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mails = mailgen.backfill(12)
    pymap.append("INBOX", mails)
    path = small_disk.root / "store" / "triage.sqlite"
    config = write_config(tmp_path / "config.toml", path, [pymap.account()], {"batch_size": BATCH})
    monkeypatch.setenv(pymap.account().password_env, pymap.password)
    keep = open_store(path)
    small_disk.fill()
    try:
        done = run_triage(config, "run", "--once")
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert "triage: error:" in done.stderr and "the disk is full" in done.stderr and str(path) in done.stderr
        small_disk.free()
        again = run_triage(config, "run", "--once")
        assert again.returncode == 0, again.stderr
    finally:
        keep.close()
    assert message_count(path) == len(mails)


def test_the_daemon_loop_jobs_survive_a_full_disk(
    small_disk: SmallDisk, tmp_path: Path, caplog: pytest.LogCaptureFixture, analyzer: Analyzer
) -> None:
    """Start-up, reload, the flag re-check and raw-byte retention all write: none may end the loop."""
    path = small_disk.root / "store" / "triage.sqlite"
    store = open_store(path)
    old = mail(1).replace(b"02 Nov 2026", b"02 Nov 2020")  # past raw retention: the re-check deletes its bytes
    store.save_batch("acct", [captured(old, 1), captured(mail(2), 2)], checkpoint(2))
    daemon = Daemon(Config(store=StoreConfig(path=path)), analyzer=analyzer)
    small_disk.fill()
    caplog.set_level(logging.ERROR)
    daemon._record_rules(None)  # as at start-up and after every SIGHUP
    daemon._recheck_flags()  # every ten minutes
    daemon._send_due_digest()  # every thirty seconds
    logged = {r.getMessage(): str(getattr(r, "error", "")) for r in caplog.records}
    assert "disk is full" in logged["cannot record service state"]
    assert "disk is full" in logged["raw bytes past retention not purged; retrying later"]
    small_disk.free()
    daemon._record_rules(None)
    daemon._recheck_flags()
    assert store.state()["rules_version"]["value"] == analyzer.version
    assert store.raw_message(1) is None and store.raw_message(2) is not None
    store.close()


# --- a digest that cannot be written ---------------------------------------------------------


def digest_daemon(tmp_path: Path, directory: Path, analyzer: Analyzer) -> Daemon:
    config = Config(
        store=StoreConfig(path=tmp_path / "store" / "triage.sqlite"),
        digest=DigestConfig(directory=directory, schedule="daily 08:00", formats=("text",)),
    )
    return Daemon(config, analyzer=analyzer)


def period_key(config: Config) -> str:
    return due_period(parse_schedule(config.digest.schedule, config.digest.timezone), datetime.now(UTC)).key


def test_a_digest_on_a_full_disk_is_logged_and_retried_and_the_loop_carries_on(
    small_disk: SmallDisk, tmp_path: Path, caplog: pytest.LogCaptureFixture, analyzer: Analyzer
) -> None:
    daemon = digest_daemon(tmp_path, small_disk.root / "digests", analyzer)
    (small_disk.root / "digests").mkdir(mode=0o700)
    small_disk.fill()
    caplog.set_level(logging.ERROR)
    daemon._send_due_digest()  # must not raise: the main loop calls it every 30 s
    assert "digest not sent; retrying later" in caplog.text
    assert "No space left on device" in caplog.text
    store = open_store(daemon.config.store.path)
    assert not store.digest_sent(period_key(daemon.config))  # not recorded: it is tried again
    small_disk.free()
    daemon._send_due_digest()
    assert store.digest_sent(period_key(daemon.config))
    assert [p.suffix for p in (small_disk.root / "digests").iterdir()] == [".txt"]
    store.close()


def test_a_digest_into_a_read_only_folder_is_logged_and_the_loop_carries_on(
    read_only_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, analyzer: Analyzer
) -> None:
    daemon = digest_daemon(tmp_path, read_only_dir / "digests", analyzer)
    caplog.set_level(logging.ERROR)
    daemon._send_due_digest()
    assert "digest not sent; retrying later" in caplog.text
    assert "Read-only file system" in caplog.text or "Permission denied" in caplog.text


def test_digest_out_to_a_full_disk_is_a_clear_error(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\npath = "{tmp_path}/store/triage.sqlite"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["digest", "--config", str(config), "--out", "/dev/full"])
    assert result.exit_code == 2, result.output
    assert "triage: error: cannot write /dev/full: No space left on device" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# --- a damaged store file ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_store_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("good") / "triage.sqlite"
    store = open_store(path)
    store.save_batch("acct", [captured(padded(n), n) for n in range(1, 30)], checkpoint(29))
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return path.read_bytes()


DAMAGE = {
    "garbage": lambda good: b"this is not a database" * 500,
    "random bytes": lambda good: os.urandom(65536),
    "header only": lambda good: good[:100],
    "first page only": lambda good: good[:PAGE_SIZE],
    "cut in half": lambda good: good[: len(good) // 2],
    "cut mid-page": lambda good: good[: len(good) // 2 + 1000],
    "last page missing": lambda good: good[:-PAGE_SIZE],
    "bad page size": lambda good: good[:16] + b"\x00\x03" + good[18:],
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_store_is_a_clear_error_and_is_left_exactly_as_it_was(
    tmp_path: Path, good_store_bytes: bytes, damage: str
) -> None:
    path = tmp_path / "store" / "triage.sqlite"
    path.parent.mkdir()
    damaged = DAMAGE[damage](good_store_bytes)
    path.write_bytes(damaged)
    with pytest.raises(StoreError) as caught:
        open_store(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: cannot open the store: the file is damaged")
    assert "restore a backup" in message
    assert path.read_bytes() == damaged  # never recreated, never overwritten
    assert sorted(p.name for p in path.parent.iterdir()) == ["triage.sqlite"]


def test_the_cli_on_a_damaged_store_says_so_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "store" / "triage.sqlite"
    path.parent.mkdir()
    path.write_bytes(b"\x00garbage" * 4096)
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\npath = "{path}"\n', encoding="utf-8")
    for command in (["status"], ["messages", "--format", "jsonl"]):
        result = CliRunner().invoke(main, [*command, "--config", str(config)])
        assert result.exit_code == 2, result.output
        assert f"triage: error: {path}: cannot open the store: the file is damaged" in result.output
    assert path.read_bytes() == b"\x00garbage" * 4096


def test_damage_inside_an_open_store_fails_the_batch_clearly(tmp_path: Path, good_store_bytes: bytes) -> None:
    path = tmp_path / "triage.sqlite"
    damaged = bytearray(good_store_bytes)
    damaged[PAGE_SIZE * 3 : PAGE_SIZE * 12] = os.urandom(PAGE_SIZE * 9)  # table pages, past the schema
    path.write_bytes(bytes(damaged))
    store = open_store(path)
    with pytest.raises(StoreError, match=r"the file is damaged .*restore a backup"):
        for n in range(100, 140):  # enough inserts to reach a damaged page
            store.save_batch("acct", [captured(padded(n), n)], checkpoint(n))
    store.close()


# --- a locked store -----------------------------------------------------------------------------


def test_a_store_locked_past_the_busy_timeout_is_a_clear_error_and_nothing_is_lost(tmp_path: Path) -> None:
    path = tmp_path / "store" / "triage.sqlite"
    store = open_store(path)
    store.db.execute("PRAGMA busy_timeout = 200")
    store.save_batch("acct", [captured(mail(1), 1)], checkpoint(1))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process writing, for longer than the timeout
    try:
        with pytest.raises(StoreError) as caught:
            store.save_batch("acct", [captured(mail(2), 2), captured(mail(3), 3)], checkpoint(3))
        message = str(caught.value)
        assert str(path) in message and "locked" in message and "another process" in message
        state = store.folder_state("acct", FolderRole.INBOX)
        assert state is not None and state.last_uid == 1
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert len(store.save_batch("acct", [captured(mail(2), 2), captured(mail(3), 3)], checkpoint(3))) == 2
    assert store.counts()["messages"] == 3
    store.close()


def test_a_read_only_store_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "store" / "triage.sqlite"
    open_store(path).close()
    store = open_store(path)
    store.db.execute("PRAGMA query_only = ON")  # as a read-only file or mount would answer
    with pytest.raises(StoreError, match="read-only") as caught:
        store.save_batch("acct", [captured(mail(1), 1)], checkpoint(1))
    assert str(path) in str(caught.value)
    store.close()

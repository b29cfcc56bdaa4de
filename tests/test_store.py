"""The store: dedupe, checkpoints written with their batch, quarantine, permissions, migrations."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from triage.model import Direction, FolderRole, RawMail
from triage.parse import parse_mail
from triage.store import MIGRATIONS, PAGE_SIZE, Captured, Checkpoint, Store, StoreError, TopicRows, open_store


def mail(n: int, message_id: bool = True) -> bytes:
    mid = f"Message-ID: <m{n}@example.net>\r\n" if message_id else ""
    return (
        f"From: c{n}@example.net\r\nTo: support@example.com\r\nSubject: question {n}\r\n"
        f"Date: Mon, 02 Nov 2026 10:00:00 +0700\r\n{mid}\r\nbody {n}\r\n"
    ).encode()


def captured(raw: bytes, uid: int | None = None) -> Captured:
    return Captured(
        parsed=parse_mail(RawMail(raw)),
        raw=raw,
        direction=Direction.IN,
        role=FolderRole.INBOX,
        uid=uid,
        size=len(raw),
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(tmp_path / "state" / "triage.sqlite")


def checkpoint(last_uid: int, uidvalidity: int = 7) -> Checkpoint:
    return Checkpoint("acct", FolderRole.INBOX, "INBOX", uidvalidity, last_uid)


def test_batch_and_checkpoint_are_stored_together(store: Store) -> None:
    new = store.save_batch("acct", [captured(mail(1), 1), captured(mail(2), 2)], checkpoint(2))
    assert len(new) == 2
    state = store.folder_state("acct", FolderRole.INBOX)
    assert state is not None and (state.uidvalidity, state.last_uid) == (7, 2)
    assert store.counts()["messages"] == 2


def test_same_message_twice_is_stored_once(store: Store) -> None:
    store.save_batch("acct", [captured(mail(1), 1)], checkpoint(1))
    # After a UIDVALIDITY change the server hands out the same message under a new UID.
    again = store.save_batch("acct", [captured(mail(1), 1)], checkpoint(1, uidvalidity=8))
    assert again == []
    assert store.counts()["messages"] == 1


def topic_rows(topic: str) -> TopicRows:
    classified = {"rules_version": "v1", "lang": "en", "plain": 0, "skipped": None, "unclassified": 0}
    return classified | {"classified_at": "2026-11-02T03:00:00+00:00"}, [
        {"topic": topic, "score": 1.0, "rules_version": "v1", "evidence_json": "[]"}
    ]


def test_a_batch_stores_the_topics_of_its_new_messages_only(store: Store) -> None:
    first = store.save_batch("acct", [captured(mail(1), 1)], checkpoint(1), [topic_rows("billing")])
    # Captured again (a UIDVALIDITY change) beside a new message: the stored one keeps its topics.
    batch = [captured(mail(1), 1), captured(mail(2), 2)]
    second = store.save_batch(
        "acct", batch, checkpoint(2, uidvalidity=8), [topic_rows("refund"), topic_rows("delivery")]
    )
    assert len(first) == 1 and len(second) == 1
    topics = store.topics_of([first[0], second[0]])
    assert [t["topic"] for t in topics[first[0]]] == ["billing"]
    assert [t["topic"] for t in topics[second[0]]] == ["delivery"]
    assert store.counts()["messages"] == 2


def test_failed_batch_leaves_neither_messages_nor_checkpoint(store: Store) -> None:
    store.save_batch("acct", [captured(mail(1), 1)], checkpoint(1))
    broken = Captured(
        parsed=parse_mail(RawMail(mail(2))),
        raw=mail(2),
        direction=Direction.IN,
        role=FolderRole.INBOX,
        uid=2,
        size=None,
    )
    with pytest.raises(sqlite3.Error):
        store.db.execute(
            "CREATE TRIGGER fail BEFORE INSERT ON locations WHEN NEW.uid = 3 "
            "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        )
        store.save_batch("acct", [broken, captured(mail(3), 3)], checkpoint(3))
    assert store.counts()["messages"] == 1
    state = store.folder_state("acct", FolderRole.INBOX)
    assert state is not None and state.last_uid == 1


def test_mail_without_message_id_gets_a_stable_synthetic_id(store: Store) -> None:
    store.save_batch("acct", [captured(mail(5, message_id=False), 1)], checkpoint(1))
    store.save_batch("acct", [captured(mail(5, message_id=False), 9)], checkpoint(9, uidvalidity=9))
    rows = list(store.messages())
    assert len(rows) == 1
    assert rows[0]["message_id"].endswith("@triage.invalid>")
    assert rows[0]["synthetic_id"] == 1


def test_unparsable_mail_is_quarantined_with_its_bytes(store: Store) -> None:
    junk = b"\x00\x01 this is not mail at all"
    store.save_batch("acct", [captured(junk, 1)], checkpoint(1))
    (row,) = store.messages()
    assert row["status"] == "quarantined"
    assert "not an e-mail message" in row["error"]
    assert store.raw_message(row["id"]) == junk


def test_store_file_is_private(tmp_path: Path) -> None:
    open_store(tmp_path / "s" / "t.sqlite").close()
    assert stat.S_IMODE((tmp_path / "s" / "t.sqlite").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "s").stat().st_mode) == 0o700


def test_migrations_are_recorded_and_reopening_is_harmless(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    open_store(path).close()
    store = open_store(path)
    names = [r["name"] for r in store.db.query("SELECT name FROM migrations")]
    assert names == [name for name, _ in MIGRATIONS]
    assert names[0] == "0001_initial"
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_new_store_has_large_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    new = open_store(tmp_path / "new.sqlite")
    new.save_batch("acct", [captured(mail(1), 1)], checkpoint(1))
    new.close()
    assert open_store(tmp_path / "new.sqlite").db.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE
    old = open_store(with_small_pages(tmp_path / "old.sqlite"))
    old.save_batch("acct", [captured(mail(2), 2)], checkpoint(2))
    assert old.db.execute("PRAGMA page_size").fetchone()[0] == 4096
    assert old.db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 1


def with_small_pages(path: Path) -> Path:
    """A new store file with 4 KB pages, as stores were made before the page size was chosen."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA page_size = 4096")
        conn.execute("PRAGMA journal_mode = wal")
    conn.close()
    return path


def test_corrupt_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open the store"):
        open_store(path)


def test_errors_are_recorded_for_status(store: Store) -> None:
    store.record_error("acct", [FolderRole.INBOX, FolderRole.SENT], "login refused")
    rows = {r["role"]: r for r in store.status_rows()}
    assert rows["sent"]["last_error"] == "login refused"
    store.save_batch("acct", [], checkpoint(0))
    rows = {r["role"]: r for r in store.status_rows()}
    assert rows["inbox"]["last_error"] is None
    assert rows["sent"]["last_error"] == "login refused"


def flag_row(message: int, kind: str, explanation: str = "why") -> dict[str, object]:
    return {
        "key": f"{kind}:{message}",
        "kind": kind,
        "message": message,
        "severity": "medium",
        "explanation": explanation,
        "evidence_json": "{}",
        "related_json": "[]",
        "rules_version": "v1",
    }


def test_flags_are_replaced_per_scope_and_keep_their_id(store: Store) -> None:
    ids = store.save_batch("acct", [captured(mail(1), 1), captured(mail(2), 2)], checkpoint(2))
    store.replace_flags(ids, [flag_row(ids[0], "canned"), flag_row(ids[1], "unanswered")])
    first = {f["kind"]: f["id"] for f in store.list_flags()}
    store.replace_flags(ids, [flag_row(ids[0], "canned", "still canned")])
    after = store.list_flags()
    assert [(f["kind"], f["id"], f["explanation"]) for f in after] == [("canned", first["canned"], "still canned")]


def test_dismissed_flags_stay_dismissed_across_recomputes(store: Store) -> None:
    (message,) = store.save_batch("acct", [captured(mail(1), 1)], checkpoint(1))
    store.replace_flags([message], [flag_row(message, "deflection")])
    (flag,) = store.list_flags()
    store.set_feedback(flag["key"], flag["kind"], "dismissed", "the office visit was required by law")
    store.replace_flags([message], [])
    store.replace_flags([message], [flag_row(message, "deflection")])
    (again,) = store.list_flags()
    assert again["status"] == "dismissed" and again["note"] == "the office visit was required by law"
    assert store.list_flags(status="open") == []
    assert store.feedback_counts() == {"deflection": {"confirmed": 0, "dismissed": 1}}

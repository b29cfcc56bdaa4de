"""Backup and restore, purging a customer's data, and raw-byte retention."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from tests.test_store import captured, checkpoint, mail
from triage.cli import main
from triage.config import Config, StoreConfig
from triage.service import purge_old_raw
from triage.store import open_store


def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[store]\npath = "{tmp_path}/t.sqlite"\n')
    return path


def test_backup_is_a_consistent_private_copy_that_restores(tmp_path: Path) -> None:
    store = open_store(tmp_path / "t.sqlite")
    store.save_batch("acct", [captured(mail(n), n) for n in range(1, 6)], checkpoint(5))
    store.close()
    result = CliRunner().invoke(
        main, ["backup", str(tmp_path / "b" / "copy.sqlite"), "--config", str(config_file(tmp_path))]
    )
    assert result.exit_code == 0, result.output
    copy = tmp_path / "b" / "copy.sqlite"
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    restored = open_store(copy)  # a restore is this file put back at [store] path
    assert restored.counts()["messages"] == 5
    state = restored.folder_state("acct", checkpoint(5).role)
    assert state is not None and state.last_uid == 5
    again = CliRunner().invoke(main, ["backup", str(copy), "--config", str(config_file(tmp_path))])
    assert again.exit_code == 2 and "exists" in again.output


def test_purge_contact_removes_their_mail_and_what_was_derived(tmp_path: Path) -> None:
    store = open_store(tmp_path / "t.sqlite")
    ids = store.save_batch("acct", [captured(mail(n), n) for n in range(1, 4)], checkpoint(3))
    store.replace_flags(
        ids,
        [
            {
                "key": f"unanswered:{ids[1]}",
                "kind": "unanswered",
                "message": ids[1],
                "severity": "high",
                "explanation": "no reply",
                "evidence_json": "{}",
                "related_json": "[]",
                "rules_version": "v",
            }
        ],
    )
    store.close()
    result = CliRunner().invoke(
        main, ["purge", "--contact", "C2@Example.net", "--yes", "--config", str(config_file(tmp_path))]
    )
    assert result.exit_code == 0, result.output
    assert "removed 1 messages" in result.output
    db = sqlite3.connect(tmp_path / "t.sqlite")
    leftovers = db.execute(
        "SELECT COUNT(*) FROM messages WHERE from_addr = 'c2@example.net' OR "
        "subject LIKE '%question 2%' OR new_text LIKE '%body 2%'"
    ).fetchone()[0]
    assert leftovers == 0
    assert db.execute("SELECT COUNT(*) FROM raw WHERE message = ?", (ids[1],)).fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM flags").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM messages WHERE status = 'ok'").fetchone()[0] == 2
    # The same message captured again (e.g. after a UIDVALIDITY change) stays out.
    store = open_store(tmp_path / "t.sqlite")
    assert store.save_batch("acct", [captured(mail(2), 2)], checkpoint(2, uidvalidity=9)) == []
    assert store.counts()["messages"] == 2


def test_raw_bytes_past_retention_are_purged_and_parsed_text_stays(tmp_path: Path) -> None:
    store = open_store(tmp_path / "t.sqlite")
    (old,) = store.save_batch("acct", [captured(mail(1), 1)], checkpoint(1))  # dated 2 Nov 2026
    config = Config(store=StoreConfig(path=tmp_path / "t.sqlite", raw_retention_days=30))
    assert purge_old_raw(store, config, datetime(2026, 11, 20, tzinfo=UTC)) == 0
    assert purge_old_raw(store, config, datetime(2027, 1, 5, tzinfo=UTC)) == 1
    assert store.raw_message(old) is None
    assert next(store.messages())["new_text"] == "body 1"
    keep_forever = Config(store=StoreConfig(path=tmp_path / "t.sqlite", raw_retention_days=0))
    assert purge_old_raw(store, keep_forever, datetime(2030, 1, 1, tzinfo=UTC)) == 0

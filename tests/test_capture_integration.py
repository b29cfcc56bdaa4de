"""`triage run --once` against real IMAP servers: what is captured, what is left alone, what survives."""

from __future__ import annotations

import json
import re
import secrets
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests import mailgen
from tests.mailgen import TestMail
from tests.servers import (
    TRIAGE,
    AccountSpec,
    DovecotServer,
    ImapServer,
    MakeConfig,
    free_port,
    jsonl_messages,
    message_count,
    port_is_closed,
    query_store,
    run_triage,
)
from triage import service
from triage.analyze import Analyzer
from triage.config import load_config

pytestmark = pytest.mark.integration

CONTRACT_FIELDS = {
    "message_id",
    "folder",
    "direction",
    "from",
    "date",
    "subject",
    "lang",
    "automated",
    "topics",
    "flags",
}


def seed_conversation(server: ImapServer) -> tuple[list[TestMail], list[TestMail]]:
    inbox, sent = mailgen.conversation()
    server.append("INBOX", inbox)
    server.append("Sent", sent)
    return inbox, sent


def run_once(config: Path) -> subprocess.CompletedProcess[str]:
    """`triage run --once` as a user runs it; it must succeed."""
    done = run_triage(config, "run", "--once")
    assert done.returncode == 0, f"triage run --once failed ({done.returncode}):\n{done.stderr}"
    return done


def capture_once(config: Path, analyzer: Analyzer) -> None:
    """The library call behind `triage run --once`, in-process: no language model load per run."""
    assert service.run_once(load_config(config), analyzer) == []


def status_json(config: Path) -> dict[str, dict[str, Any]]:
    done = run_triage(config, "status", "--format", "json")
    assert done.returncode in (0, 1), done.stderr  # 1: a folder is stale (never synced), for monitoring
    return {f"{row['account']}/{row['role']}": row for row in json.loads(done.stdout)["folders"]}


def store_files(store: Path) -> list[Path]:
    return [p for p in store.parent.glob(store.name + "*") if p.is_file()]


def test_inbox_and_sent_are_both_captured(imap_server: ImapServer, make_config: MakeConfig) -> None:
    inbox, sent = seed_conversation(imap_server)
    config = make_config(imap_server.account())

    done = run_once(config)

    # The log says how long each step took (the benchmark reads where a backfill's time went).
    for step in ("rules loaded", "folder synced .*folder=inbox", "folder synced .*folder=sent", "flags derived"):
        assert re.search(rf"INFO triage\.service {step} .*seconds=\d+\.\d{{3}}", done.stderr), step
    records = jsonl_messages(config)
    assert len(records) == len(inbox) + len(sent)
    for record in records:
        assert record.keys() >= CONTRACT_FIELDS
        assert isinstance(record["topics"], list) and isinstance(record["flags"], list)
        assert record["automated"] is False
        assert record["status"] == "ok"
        datetime.fromisoformat(record["date"])
    by_id = {r["message_id"]: r for r in records}
    expected = [*((m, "inbox", "in") for m in inbox), *((m, "sent", "out") for m in sent)]
    for mail, folder, direction in expected:
        if mail.message_id is None:
            continue
        record = by_id[mail.message_id]
        assert (record["folder"], record["direction"]) == (folder, direction), mail.subject
        assert (record["from"], record["subject"], record["lang"]) == (mail.sender, mail.subject, mail.lang)
    # Mail without a Message-ID gets a synthetic one instead of being dropped.
    synthetic = sorted(r["subject"] for r in records if r["message_id"].endswith("@triage.invalid>"))
    assert synthetic == sorted(m.subject for m in inbox if m.message_id is None)


def test_seen_and_other_flags_are_left_unchanged(
    imap_server: ImapServer, make_config: MakeConfig, store_path: Path, analyzer: Analyzer
) -> None:
    seed_conversation(imap_server)
    inbox_uids, sent_uids = imap_server.uids("INBOX"), imap_server.uids("Sent")
    imap_server.set_flags("INBOX", inbox_uids[:2], [b"\\Seen"])
    imap_server.set_flags("INBOX", inbox_uids[2:3], [b"\\Flagged"])
    imap_server.set_flags("Sent", sent_uids[:1], [b"\\Answered", b"\\Seen"])
    before = {mailbox: imap_server.flags(mailbox) for mailbox in ("INBOX", "Sent")}
    unseen = [uid for uid, flags in before["INBOX"].items() if b"\\Seen" not in flags]
    assert len(unseen) >= 5, "the test needs unseen mail, or a non-PEEK fetch would go unnoticed"
    assert b"\\Flagged" in before["INBOX"][inbox_uids[2]]

    capture_once(make_config(imap_server.account()), analyzer)

    assert message_count(store_path) == len(inbox_uids) + len(sent_uids)
    assert {mailbox: imap_server.flags(mailbox) for mailbox in ("INBOX", "Sent")} == before


def test_a_second_run_adds_nothing_and_new_mail_is_picked_up(
    imap_server: ImapServer, make_config: MakeConfig, store_path: Path, analyzer: Analyzer
) -> None:
    seed_conversation(imap_server)
    config = make_config(imap_server.account())
    capture_once(config, analyzer)
    first = query_store(store_path, "SELECT id, message_id, captured_at FROM messages ORDER BY id")
    checkpoints = status_json(config)

    capture_once(config, analyzer)

    assert query_store(store_path, "SELECT id, message_id, captured_at FROM messages ORDER BY id") == first
    again = status_json(config)
    for key, row in checkpoints.items():
        assert (again[key]["uidvalidity"], again[key]["last_uid"]) == (row["uidvalidity"], row["last_uid"])

    new_inbox = [mailgen.customer_mail(20, "en"), mailgen.customer_mail(21, "id")]
    new_sent = [mailgen.support_reply(new_inbox[1], 21)]
    imap_server.append("INBOX", new_inbox)
    imap_server.append("Sent", new_sent)
    capture_once(config, analyzer)

    records = jsonl_messages(config)
    assert len(records) == len(first) + 3
    folders = {r["message_id"]: r["folder"] for r in records}
    assert [folders[m.message_id] for m in [*new_inbox, *new_sent]] == ["inbox", "inbox", "sent"]


def test_a_uidvalidity_change_adds_no_duplicates(
    dovecot: DovecotServer, make_config: MakeConfig, store_path: Path, analyzer: Analyzer
) -> None:
    inbox, sent = seed_conversation(dovecot)
    config = make_config(dovecot.account())
    capture_once(config, analyzer)
    assert message_count(store_path) == len(inbox) + len(sent)

    _, new_inbox_validity = dovecot.change_uidvalidity("INBOX")
    _, new_sent_validity = dovecot.change_uidvalidity("Sent")
    late = mailgen.customer_mail(30, "id")
    dovecot.append("INBOX", [late])
    capture_once(config, analyzer)

    rows = query_store(store_path, "SELECT message_id, dedupe_key FROM messages")
    assert len(rows) == len(inbox) + len(sent) + 1
    assert len({r["dedupe_key"] for r in rows}) == len(rows)
    assert late.message_id in {r["message_id"] for r in rows}
    status = status_json(config)
    assert status["support/inbox"]["uidvalidity"] == new_inbox_validity
    assert status["support/inbox"]["last_uid"] == max(dovecot.uids("INBOX"))
    assert status["support/sent"]["uidvalidity"] == new_sent_validity


def test_kill_9_in_the_middle_of_a_backfill_then_resume_stores_every_message_once(
    dovecot: DovecotServer, make_config: MakeConfig, store_path: Path, tmp_path: Path, analyzer: Analyzer
) -> None:
    mails = mailgen.backfill(600)
    dovecot.append("INBOX", mails)
    config = make_config(dovecot.account(), capture={"batch_size": 20})

    with open(tmp_path / "killed-run.log", "wb") as log:
        process = subprocess.Popen([str(TRIAGE), "run", "--once", "--config", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if message_count(store_path) >= 60:
                break
            time.sleep(0.01)
        assert process.poll() is None, "the backfill finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        assert process.wait(10) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
    stored_at_kill = message_count(store_path)
    assert 0 < stored_at_kill < len(mails), stored_at_kill

    capture_once(config, analyzer)  # the restarted process, resuming from the last checkpoint

    rows = query_store(
        store_path,
        "SELECT COUNT(*) AS n, COUNT(DISTINCT message_id) AS ids, COUNT(DISTINCT dedupe_key) AS keys FROM messages",
    )[0]
    assert rows == {"n": len(mails), "ids": len(mails), "keys": len(mails)}
    stored_ids = {r["message_id"] for r in query_store(store_path, "SELECT message_id FROM messages")}
    assert stored_ids == {m.message_id for m in mails}
    locations = query_store(store_path, "SELECT COUNT(*) AS n, COUNT(DISTINCT uid) AS uids FROM locations")
    assert locations == [{"n": len(mails), "uids": len(mails)}]


def test_a_wrong_password_is_a_clear_error_that_never_shows_the_password(
    dovecot: DovecotServer, make_config: MakeConfig, store_path: Path
) -> None:
    seed_conversation(dovecot)
    wrong = f"Wr0ng-{secrets.token_hex(8)}"
    config = make_config(dovecot.account("helpdesk", password=wrong))

    done = run_triage(config, "run", "--once")

    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("triage: error:")]
    assert len(errors) == 1, done.stderr
    assert "account 'helpdesk'" in errors[0] and "login refused" in errors[0], errors
    assert "Traceback" not in done.stderr
    status = run_triage(config, "status")
    assert "login refused" in status.stdout
    outputs = [done.stdout, done.stderr, status.stdout, status.stderr]
    for secret in (wrong, dovecot.password):
        assert not any(secret in text for text in outputs)
        for path in store_files(store_path):
            assert secret.encode() not in path.read_bytes(), path
    assert message_count(store_path) == 0


def test_one_unreachable_account_does_not_stop_the_others(
    dovecot: DovecotServer, make_config: MakeConfig, store_path: Path
) -> None:
    inbox, sent = seed_conversation(dovecot)
    closed = free_port()
    assert port_is_closed(closed)
    bad = AccountSpec("archive", "127.0.0.1", closed, "archive@example.com", "irrelevant")
    config = make_config(bad, dovecot.account("support"))

    done = run_triage(config, "run", "--once")

    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("triage: error:")]
    assert len(errors) == 1 and "account 'archive'" in errors[0], done.stderr
    records = jsonl_messages(config)
    assert len(records) == len(inbox) + len(sent)
    assert {r["account"] for r in records} == {"support"}
    status = run_triage(config, "status")
    assert status.returncode == 1, status.stderr  # the down account never synced: monitoring must see it
    assert "STALE: archive/inbox" in status.stdout and "STALE: support" not in status.stdout
    assert "last error" in status.stdout and f"127.0.0.1:{closed}" in status.stdout, status.stdout
    folders = status_json(config)
    assert folders["archive/inbox"]["last_error"] and folders["archive/sent"]["last_error"]
    assert folders["support/inbox"]["last_error"] is None


def test_a_huge_message_is_captured_truncated_with_its_text(
    imap_server: ImapServer, make_config: MakeConfig, store_path: Path, analyzer: Analyzer
) -> None:
    big = mailgen.big_message()
    small = mailgen.customer_mail(0, "en")
    imap_server.append("INBOX", [small, big])
    config = make_config(imap_server.account(), capture={"max_message_bytes": 1_000_000})

    capture_once(config, analyzer)

    records = {r["message_id"]: r for r in jsonl_messages(config)}
    assert records[big.message_id]["status"] == "ok"
    assert records[big.message_id]["truncated"] is True
    assert records[small.message_id]["truncated"] is False
    row = query_store(
        store_path,
        "SELECT m.new_text, m.size, m.subject, length(r.raw) AS stored FROM messages m "
        "JOIN raw r ON r.message = m.id WHERE m.message_id = ?",
        [big.message_id],
    )[0]
    assert "database dump you asked for" in row["new_text"]
    assert row["subject"] == big.subject
    assert row["size"] >= 12 * 1024 * 1024
    assert row["stored"] < 1_100_000


def test_malformed_messages_are_stored_never_lost(
    imap_server: ImapServer, make_config: MakeConfig, store_path: Path, analyzer: Analyzer
) -> None:
    inbox, sent = seed_conversation(imap_server)
    broken = mailgen.malformed_mime()
    imap_server.append("INBOX", broken)

    capture_once(make_config(imap_server.account()), analyzer)

    rows = query_store(store_path, "SELECT m.status, r.raw FROM messages m JOIN raw r ON r.message = m.id")
    assert len(rows) == len(inbox) + len(sent) + len(broken)
    stored = {bytes(r["raw"]): r["status"] for r in rows}
    served = imap_server.bodies("INBOX")  # what the server hands out (pymap trims a final newline)
    assert set(served) <= stored.keys()
    statuses = [stored[body] for body in served[-len(broken) :]]
    assert statuses[-1] == "quarantined", statuses  # not an e-mail at all, kept whole
    assert statuses[:-1] == ["ok", "ok"]


def test_tls_with_the_private_ca_file_works(
    dovecot_tls: DovecotServer, make_config: MakeConfig, store_path: Path, analyzer: Analyzer
) -> None:
    inbox, sent = seed_conversation(dovecot_tls)
    assert dovecot_tls.ca_file is not None
    config = make_config(dovecot_tls.account(tls_ca_file=str(dovecot_tls.ca_file)))

    capture_once(config, analyzer)

    assert message_count(store_path) == len(inbox) + len(sent)


def test_tls_without_the_ca_file_is_refused_with_a_certificate_error(
    dovecot_tls: DovecotServer, make_config: MakeConfig, store_path: Path, analyzer: Analyzer
) -> None:
    seed_conversation(dovecot_tls)
    config = make_config(dovecot_tls.account())

    errors = service.run_once(load_config(config), analyzer)

    assert len(errors) == 1
    assert "account 'support'" in errors[0] and "certificate" in errors[0].lower(), errors
    assert message_count(store_path) == 0

"""`triage run` (the daemon) as a subprocess against real servers: IDLE, outages, SIGTERM."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests import mailgen
from tests.servers import (
    DovecotServer,
    ImapServer,
    MakeConfig,
    daemon_running,
    message_count,
    query_store,
    wait_until,
)

pytestmark = pytest.mark.integration

# Polling is set far beyond the test timeouts: only IDLE (or a reconnect) can bring mail in time.
DAEMON_CAPTURE = {
    "poll_interval_seconds": 600.0,
    "idle_seconds": 600.0,
    "timeout_seconds": 20.0,
    "backoff_initial_seconds": 0.2,
    "backoff_max_seconds": 1.0,
}
STARTUP_SECONDS = 90  # loading the language pipelines, then the first catch-up
ARRIVAL_SECONDS = 20  # a behaviour test, not a speed test


def stored_ids(store: Path) -> set[str]:
    if message_count(store) == 0:
        return set()
    return {row["message_id"] for row in query_store(store, "SELECT message_id FROM messages")}


def wait_for_messages(store: Path, count: int, timeout: float, what: str) -> None:
    wait_until(lambda: message_count(store) >= count, timeout, f"{what} ({count} messages stored)")
    assert message_count(store) == count


def test_the_daemon_picks_up_new_mail_under_idle_and_stops_cleanly_on_sigterm(
    imap_server: ImapServer, make_config: MakeConfig, store_path: Path, tmp_path: Path
) -> None:
    inbox, sent = mailgen.conversation()
    imap_server.append("INBOX", inbox)
    imap_server.append("Sent", sent)
    flags_before = {mailbox: imap_server.flags(mailbox) for mailbox in ("INBOX", "Sent")}
    config = make_config(imap_server.account(), capture=DAEMON_CAPTURE)

    with daemon_running(config, tmp_path / "daemon.log") as daemon:
        wait_for_messages(store_path, len(inbox) + len(sent), STARTUP_SECONDS, "the first catch-up")
        time.sleep(1.0)  # let both watchers settle into IDLE, so the wake-up is what is tested
        question = mailgen.customer_mail(40, "id")
        imap_server.append("INBOX", [question])
        wait_until(lambda: question.message_id in stored_ids(store_path), ARRIVAL_SECONDS, "IDLE on INBOX")
        reply = mailgen.support_reply(question, 40)
        imap_server.append("Sent", [reply])
        wait_until(lambda: reply.message_id in stored_ids(store_path), ARRIVAL_SECONDS, "IDLE on Sent")

        assert daemon.terminate() == 0
        assert "Traceback" not in daemon.log()

    assert message_count(store_path) == len(inbox) + len(sent) + 2
    for mailbox, before in flags_before.items():
        after = imap_server.flags(mailbox)
        assert {uid: after[uid] for uid in before} == before
        assert [after[uid] for uid in after.keys() - before.keys()] == [frozenset()]  # still unseen


def test_the_daemon_recovers_when_the_server_restarts(
    dovecot: DovecotServer, make_config: MakeConfig, store_path: Path, tmp_path: Path
) -> None:
    inbox, sent = mailgen.conversation()
    dovecot.append("INBOX", inbox)
    dovecot.append("Sent", sent)
    config = make_config(dovecot.account(), capture=DAEMON_CAPTURE)
    total = len(inbox) + len(sent)

    with daemon_running(config, tmp_path / "daemon.log") as daemon:
        wait_for_messages(store_path, total, STARTUP_SECONDS, "the first catch-up")
        dovecot.append("INBOX", [mailgen.customer_mail(41, "en")])
        wait_for_messages(store_path, total + 1, ARRIVAL_SECONDS, "mail before the restart")

        dovecot.restart()
        dovecot.append("INBOX", [mailgen.customer_mail(42, "id")])
        dovecot.append("Sent", [mailgen.support_reply(mailgen.customer_mail(42, "id"), 42)])
        wait_for_messages(store_path, total + 3, 30, "mail after the restart")

        log = daemon.log()
        assert "folder watch failed; retrying" in log, "the outage went unnoticed: nothing was tested"
        wait_until(lambda: not folder_errors(store_path), 30, "the reconnect to clear the folder errors")
        assert daemon.terminate() == 0


def folder_errors(store: Path) -> list[str]:
    rows = query_store(store, "SELECT last_error FROM folder_state WHERE last_error IS NOT NULL")
    return [row["last_error"] for row in rows]

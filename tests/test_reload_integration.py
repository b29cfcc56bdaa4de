"""SIGHUP reloads rules in the running daemon; a broken rule file keeps the old rules and says why."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.conftest import MakeConfig
from tests.servers import ImapServer, daemon_running, query_store, run_triage, wait_until

pytestmark = pytest.mark.integration

REFUND = """
[[topic]]
id = "refund"
title = "Refunds"
[topic.keywords]
en = ["refund"]
"""
DELIVERY = """
[[topic]]
id = "delivery"
title = "Delivery"
[topic.keywords]
en = ["parcel"]
"""


def mail(n: int, text: str) -> bytes:
    return (
        f"From: customer{n}@example.net\r\nTo: support@example.com\r\nSubject: question {n}\r\n"
        f"Message-ID: <reload{n}@example.net>\r\nDate: Thu, 26 Nov 2026 10:0{n}:00 +0700\r\n\r\n"
        f"{text}\r\n"
    ).encode()


def topics_of(store: Path, n: int) -> list[str]:
    rows = query_store(
        store,
        "SELECT t.topic FROM message_topics t JOIN messages m ON m.id = t.message WHERE m.message_id = ?",
        [f"<reload{n}@example.net>"],
    )
    return sorted(row["topic"] for row in rows)


def test_sighup_reloads_rules_and_a_broken_file_keeps_the_old_ones(
    pymap: ImapServer, make_config: MakeConfig, store_path: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    (rules / "topics").mkdir(parents=True)
    (rules / "topics" / "refund.toml").write_text(REFUND)
    config = make_config(pymap.account(), capture={"backoff_initial_seconds": 0.2, "backoff_max_seconds": 1.0})
    with config.open("a") as handle:
        handle.write(f'\n[rules]\ninclude_default = false\npaths = ["{rules}"]\n')

    with daemon_running(config, tmp_path / "daemon.log") as daemon:
        wait_until(lambda: "daemon ready" in daemon.log(), 90, "the daemon to start")
        pymap.append("INBOX", [mail(1, "Where is my refund? The parcel came back.")])
        wait_until(lambda: topics_of(store_path, 1) == ["refund"], 20, "the first mail classified")

        (rules / "topics" / "refund.toml").write_text(REFUND + "\n[[topic]\nbroken =")
        daemon.process.send_signal(signal.SIGHUP)
        wait_until(lambda: "reload failed" in daemon.log(), 20, "the failed reload to be logged")
        status = run_triage(config, "status")
        assert "last reload FAILED" in status.stdout and "refund.toml" in status.stdout
        pymap.append("INBOX", [mail(2, "I want a refund for the parcel")])
        wait_until(lambda: topics_of(store_path, 2) == ["refund"], 20, "the old rules to keep working")

        (rules / "topics" / "refund.toml").write_text(REFUND)
        (rules / "topics" / "delivery.toml").write_text(DELIVERY)
        daemon.process.send_signal(signal.SIGHUP)
        wait_until(lambda: "rules reloaded" in daemon.log(), 20, "the reload")
        assert "last reload FAILED" not in run_triage(config, "status").stdout
        pymap.append("INBOX", [mail(3, "I want a refund for the parcel")])
        wait_until(lambda: topics_of(store_path, 3) == ["delivery", "refund"], 20, "the new rules")
        assert daemon.terminate() == 0

"""Where a server offers no IDLE, the watcher polls (with NOOP keepalives) and still captures new mail."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests import mailgen
from tests.conftest import MakeConfig
from tests.servers import ImapServer, message_count, wait_until
from triage.config import load_config
from triage.model import FolderRole
from triage.service import FolderWatcher
from triage.sources.imap import ImapSession

pytestmark = pytest.mark.integration


def test_polling_fallback_captures_new_mail(
    pymap: ImapServer, make_config: MakeConfig, store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ImapSession, "has_idle", property(lambda self: False))  # as if IDLE were missing
    noops: list[int] = []
    real_noop = ImapSession.noop
    monkeypatch.setattr(ImapSession, "noop", lambda self: (noops.append(1), real_noop(self))[1])
    pymap.append("INBOX", mailgen.backfill(3))
    config = load_config(
        make_config(
            pymap.account(), capture={"poll_interval_seconds": 2.0, "keepalive_seconds": 0.5, "idle_seconds": 600.0}
        )
    )
    stop = threading.Event()
    watcher = FolderWatcher(config, config.accounts[0], FolderRole.INBOX, stop, None)
    watcher.start()
    try:
        assert watcher.first_pass.wait(60)
        wait_until(lambda: message_count(store_path) == 3, 20, "the first catch-up")
        pymap.append("INBOX", mailgen.backfill(5)[3:])
        wait_until(lambda: message_count(store_path) == 5, 20, "a poll to bring the new mail")
        assert noops, "no NOOP keepalive was sent while polling"
    finally:
        stop.set()
        watcher.join(10)

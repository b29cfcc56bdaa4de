"""Monitoring: `triage status` exits 1 on a stale folder, and the Prometheus endpoint serves the store's numbers."""

from __future__ import annotations

import sqlite3
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from triage.cli import main
from triage.demo.pymap_server import free_port
from triage.metrics import serve_metrics
from triage.model import FolderRole
from triage.store import Checkpoint, open_store

ACCOUNT = (
    '[[accounts]]\nname = "support"\nhost = "127.0.0.1"\nport = 143\nsecurity = "none"\n'
    'username = "u"\npassword_env = "P"\n'
)


def write(tmp_path: Path, stale_hours: float) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[store]\npath = "{tmp_path}/t.sqlite"\n[health]\nstale_hours = {stale_hours}\n{ACCOUNT}')
    return path


def sync_both(tmp_path: Path) -> None:
    store = open_store(tmp_path / "t.sqlite")
    for role in FolderRole:
        store.save_batch("support", [], Checkpoint("support", role, role.value.upper(), 1, 0))
    store.close()


def test_status_exits_1_when_a_folder_never_synced(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["status", "--config", str(write(tmp_path, 6))])
    assert result.exit_code == 1
    assert "STALE: support/inbox: last sync never" in result.output


def age_syncs(tmp_path: Path, hours: float) -> None:
    """Move every folder's last sync back in time, so staleness does not depend on the clock's ticking."""
    past = (datetime.now(UTC) - timedelta(hours=hours)).isoformat(timespec="seconds")
    with sqlite3.connect(tmp_path / "t.sqlite") as db:
        db.execute("UPDATE folder_state SET last_sync = ?", (past,))
    db.close()


def test_status_exits_0_after_a_recent_sync_and_1_once_it_is_too_old(tmp_path: Path) -> None:
    sync_both(tmp_path)
    assert CliRunner().invoke(main, ["status", "--config", str(write(tmp_path, 6))]).exit_code == 0
    age_syncs(tmp_path, 7)
    too_old = CliRunner().invoke(main, ["status", "--config", str(write(tmp_path, 6))])
    assert too_old.exit_code == 1 and "STALE: support/sent" in too_old.output


def test_metrics_endpoint_serves_messages_flags_lag_and_errors(tmp_path: Path) -> None:
    sync_both(tmp_path)
    store = open_store(tmp_path / "t.sqlite")
    store.record_error("support", [FolderRole.SENT], "connection reset")
    store.close()
    port = free_port()
    serve_metrics(f"127.0.0.1:{port}", tmp_path / "t.sqlite")
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    assert 'triage_messages{direction="in"} 0.0' in body
    assert 'triage_sync_lag_seconds{account="support",folder="inbox"}' in body
    assert 'triage_sync_error{account="support",folder="sent"} 1.0' in body
    assert 'triage_sync_error{account="support",folder="inbox"} 0.0' in body

"""The service under systemd: the unit file verifies, and the daemon speaks sd_notify on real signals."""

from __future__ import annotations

import shutil
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import MakeConfig
from tests.servers import ImapServer, daemon_running, query_store, wait_until
from triage import systemd

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "triage.service"
TRIAGE = Path(sys.executable).parent / "triage"


def verify(unit_text: str, tmp_path: Path) -> tuple[int, str]:
    import subprocess

    unit = tmp_path / "triage.service"
    unit.write_text(unit_text.replace("/opt/triage/bin/triage", str(TRIAGE)))  # the install prefix
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    return done.returncode, done.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_the_unit_file_verifies(tmp_path: Path) -> None:
    code, errors = verify(UNIT.read_text(), tmp_path)
    assert code == 0, errors
    assert "triage.service" not in errors  # no warnings about our unit either


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    code, errors = verify(UNIT.read_text().replace("Type=notify", "Type=notifyy"), tmp_path)
    assert "Failed to parse service type" in errors  # what the good unit is checked not to have
    code, errors = verify(UNIT.read_text().replace("/opt/triage/bin/triage", "/nonexistent/triage"), tmp_path)
    assert code != 0


def test_the_unit_is_hardened_and_notifies() -> None:
    directives = {line.strip() for line in UNIT.read_text().splitlines()}
    for expected in [
        "Type=notify",
        "WatchdogSec=60",
        "Restart=on-failure",
        "DynamicUser=yes",
        "StateDirectory=triage",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ]:
        assert expected in directives
    assert any(d.startswith("LoadCredential=") for d in directives)


def test_notify_does_nothing_without_a_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert systemd.notify("READY=1") is False


class NotifySocket:
    """The socket systemd would listen on: collects what the daemon sends."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.received: list[str] = []

    def drain(self) -> list[str]:
        while True:
            try:
                self.received.extend(self.sock.recv(4096).decode().splitlines())
            except BlockingIOError:
                return self.received

    def wait_for(self, state: str, timeout: float = 30) -> int:
        """Index of the first `state` message received (waiting for it)."""
        wait_until(lambda: state in self.drain(), timeout, f"{state} on the notify socket")
        return self.received.index(state)


@pytest.mark.integration
def test_daemon_notifies_reloads_and_stops_under_a_notify_socket(
    pymap: ImapServer, make_config: MakeConfig, store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notify = NotifySocket(tmp_path / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify.sock"))
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    config = make_config(pymap.account(), capture={"backoff_initial_seconds": 0.2, "backoff_max_seconds": 1.0})
    with daemon_running(config, tmp_path / "daemon.log") as daemon:
        ready = notify.wait_for("READY=1", 90)
        notify.wait_for("WATCHDOG=1", 10)

        question = (
            b"From: ani@example.net\r\nTo: support@example.com\r\nSubject: Refund\r\n"
            b"Message-ID: <notify1@example.net>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0700\r\n\r\n"
            b"I returned the kettle two weeks ago, where is my refund?\r\n"
        )
        pymap.append("INBOX", [question])

        def classified() -> bool:
            rows = query_store(
                store_path,
                "SELECT t.topic FROM message_topics t JOIN messages m "
                "ON m.id = t.message WHERE m.message_id = '<notify1@example.net>'",
            )
            return bool(rows)

        wait_until(classified, 5, "the new mail with its topics")

        daemon.process.send_signal(signal.SIGHUP)
        reloading = notify.wait_for("RELOADING=1", 20)
        wait_until(lambda: notify.drain().count("READY=1") >= 2, 20, "READY=1 after the reload")
        assert ready < reloading

        started = time.monotonic()
        daemon.process.send_signal(signal.SIGTERM)
        assert daemon.process.wait(15) == 0
        assert time.monotonic() - started < 10
        notify.wait_for("STOPPING=1", 5)

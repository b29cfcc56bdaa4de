"""Digests reach a real SMTP server (aiosmtpd) as text plus HTML, once per period, even across restarts."""

from __future__ import annotations

import email
import email.policy
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from triage.analyze import Analyzer
from triage.capture import import_raw
from triage.config import load_config
from triage.demo.pymap_server import free_port
from triage.demo.sample_mailbox import sample_messages
from triage.digest_job import run_schedule
from triage.model import FolderRole, RawMail
from triage.store import open_store

pytestmark = pytest.mark.integration
PASSWORD = "smtp-secret-Zq81"
TRIAGE = Path(sys.executable).parent / "triage"


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # the name aiosmtpd calls
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    if isinstance(data, LoginPassword) and data.login == b"triage" and data.password == PASSWORD.encode():
        return AuthResult(success=True)
    # With the message given, aiosmtpd 1.4 answers 535 at once (without it the client waits in vain).
    return AuthResult(success=False, handled=False, message="535 5.7.8 Authentication credentials invalid")


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticate, auth_require_tls=False)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def config_path(tmp_path: Path, smtp_server: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRIAGE_SMTP_PASSWORD", PASSWORD)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[store]\npath = "{tmp_path}/triage.sqlite"\n'
        '[support]\naddresses = ["support@example.com"]\ndomains = ["example.com"]\n'
        '[digest]\nrecipients = ["lead@example.com", "head@example.com"]\nschedule = "daily 08:00"\n'
        'timezone = "Asia/Jakarta"\ndirectory = "digests"\nformats = ["text", "html", "json"]\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_server[1]}\nsecurity = "none"\nusername = "triage"\n'
        'password_env = "TRIAGE_SMTP_PASSWORD"\nfrom = "triage <triage@example.com>"\n'
    )
    config = load_config(path)
    store = open_store(config.store.path)
    analyzer = Analyzer.from_config(config)
    for folder in ("sent", "inbox"):
        raws = [RawMail(m.raw) for m in sample_messages() if m.folder == folder]
        import_raw(raws, store, config, FolderRole(folder), after_batch=analyzer.analyze)
    analyzer.flag_all(store)
    store.close()
    return path


def test_scheduled_digest_is_sent_once_per_period_across_restarts(
    config_path: Path, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    config = load_config(config_path)
    now = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 09:00 in Jakarta: the 08:00 digest is due
    store = open_store(config.store.path)
    period = run_schedule(store, config, now)
    store.close()
    assert period is not None and len(inbox.messages) == 1

    restarted = open_store(config.store.path)  # a new process would open the store afresh
    assert run_schedule(restarted, config, now.replace(hour=3)) is None
    assert len(inbox.messages) == 1

    message = inbox.messages[0]
    assert inbox.envelopes[0].rcpt_tos == ["lead@example.com", "head@example.com"]
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Auto-Submitted"] == "auto-generated"
    assert PASSWORD not in message.as_string()
    files = sorted(p.suffix for p in (config_path.parent / "digests").iterdir())
    assert files == [".html", ".json", ".txt"]


def test_cli_digest_send(config_path: Path, smtp_server: tuple[Inbox, int]) -> None:
    inbox, _ = smtp_server
    done = subprocess.run(
        [str(TRIAGE), "digest", "--since", "all", "--send", "--config", str(config_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "sent to lead@example.com, head@example.com" in done.stderr
    assert len(inbox.messages) == 1 and inbox.messages[0]["Subject"].startswith("triage digest")


def test_wrong_smtp_password_is_a_clear_error(config_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    done = subprocess.run(
        [str(TRIAGE), "digest", "--since", "all", "--send", "--config", str(config_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**__import__("os").environ, "TRIAGE_SMTP_PASSWORD": "wrong-password-77"},
    )
    assert done.returncode == 2
    assert "login refused for 'triage'" in done.stderr
    assert "wrong-password-77" not in done.stderr + done.stdout

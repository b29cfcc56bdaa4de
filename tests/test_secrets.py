"""Secrets never leave the process: not in logs (at DEBUG), errors, `triage status`, the message
listing, the digest or the store's files (database, WAL, shared memory). The store is private.
"""

from __future__ import annotations

import base64
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import mailgen
from tests.servers import ImapServer, MakeConfig, run_triage
from triage.demo.pymap_server import pymap_server

pytestmark = pytest.mark.integration

USER = "support@example.com"
# Distinctive, and plain letters, digits and dashes, so no log quoting or escaping can hide a leak.
PASSWORD = "Kq7-horse-Vx3-battery-Zt9-staple"
WRONG_PASSWORD = "Wr0ng-guess-Yb4-never-Mq8-valid"


def encodings(secret: str) -> list[bytes]:
    """The forms a secret could leak in: as written, base64 (alone and as SASL PLAIN), hex, UTF-16."""
    raw = secret.encode()
    plain = f"\0{USER}\0{secret}".encode()
    forms = [raw, base64.b64encode(raw), base64.b64encode(plain), raw.hex().encode(), secret.encode("utf-16-le")]
    return [*forms, raw[:12], raw[-12:]]  # a truncated or cut-off copy still leaks


def assert_no_secret(where: str, data: bytes | str) -> None:
    blob = data.encode() if isinstance(data, str) else data
    for secret in (PASSWORD, WRONG_PASSWORD):
        for form in encodings(secret):
            assert form not in blob, f"{where} holds the secret (as {form!r})"


@pytest.fixture
def secret_pymap(tmp_path: Path) -> Iterator[ImapServer]:
    """pymap with a distinctive password, INBOX and Sent."""
    server = ImapServer(name="pymap", password=PASSWORD)
    with pymap_server(server.username, PASSWORD, tmp_path / "pymap.log") as port:
        server.port = port
        with server.client() as client:
            client.create_folder("Sent")
        yield server


def debug_config(path: Path) -> Path:
    text = path.read_text(encoding="utf-8")
    assert '[log]\nlevel = "INFO"' in text
    path.write_text(text.replace('[log]\nlevel = "INFO"', '[log]\nlevel = "DEBUG"'), encoding="utf-8")
    return path


def test_the_password_appears_nowhere_and_the_store_is_private(
    secret_pymap: ImapServer, make_config: MakeConfig, store_path: Path, tmp_path: Path
) -> None:
    inbox, sent = mailgen.conversation()
    secret_pymap.append("INBOX", inbox)
    secret_pymap.append("Sent", sent)
    config = debug_config(make_config(secret_pymap.account()))
    wrong = debug_config(make_config(secret_pymap.account("wrong", password=WRONG_PASSWORD), name="wrong.toml"))
    outputs: dict[str, subprocess.CompletedProcess[str]] = {}

    outputs["run --once"] = run_triage(config, "run", "--once")
    assert outputs["run --once"].returncode == 0, outputs["run --once"].stderr
    assert "DEBUG" in outputs["run --once"].stderr  # the log really was at DEBUG
    # A reader holds the store open, so the commands below leave the WAL and shared memory in place.
    reader = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    try:
        reader.execute("SELECT COUNT(*) FROM messages").fetchone()
        outputs["run --once (wrong password)"] = run_triage(wrong, "run", "--once")
        assert outputs["run --once (wrong password)"].returncode == 1
        assert "wrong" in outputs["run --once (wrong password)"].stderr  # the account's error is reported
        outputs["status"] = run_triage(wrong, "status")
        outputs["status --format json"] = run_triage(wrong, "status", "--format", "json")
        assert "login" in outputs["status"].stdout.lower() or "auth" in outputs["status"].stdout.lower()
        outputs["messages --format jsonl"] = run_triage(config, "messages", "--format", "jsonl")
        assert outputs["messages --format jsonl"].returncode == 0
        assert outputs["messages --format jsonl"].stdout.count("\n") == len(inbox) + len(sent)
        for fmt in ("html", "text", "json"):
            outputs[f"digest --format {fmt}"] = run_triage(config, "digest", "--since", "all", "--format", fmt)
            assert outputs[f"digest --format {fmt}"].returncode == 0, outputs[f"digest --format {fmt}"].stderr
        for name, done in outputs.items():
            assert_no_secret(f"`triage {name}` stdout", done.stdout)
            assert_no_secret(f"`triage {name}` stderr (the log)", done.stderr)
        files = sorted(store_path.parent.glob(store_path.name + "*"))
        assert {p.name for p in files} >= {store_path.name, f"{store_path.name}-wal", f"{store_path.name}-shm"}
        for path in files:
            assert_no_secret(str(path), path.read_bytes())
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    finally:
        reader.close()
    assert stat.S_IMODE(store_path.parent.stat().st_mode) == 0o700
    for path in (config, wrong):
        assert_no_secret(str(path), path.read_bytes())  # the config names the variable, not the value


def test_a_wrong_password_error_names_the_account_not_the_password(
    secret_pymap: ImapServer, make_config: MakeConfig, store_path: Path
) -> None:
    config = debug_config(make_config(secret_pymap.account("wrong", password=WRONG_PASSWORD)))
    done = run_triage(config, "run", "--once")
    assert done.returncode == 1
    assert "wrong" in done.stderr and "Traceback" not in done.stderr
    assert_no_secret("stderr", done.stderr)
    assert_no_secret("stdout", done.stdout)
    errors = [row[0] for row in sqlite3.connect(store_path).execute("SELECT last_error FROM folder_state")]
    assert errors and all(errors)
    for error in errors:
        assert_no_secret("folder_state.last_error", error)

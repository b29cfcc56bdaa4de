"""Passwords and OAuth2 tokens: from env, file or command; never shown; refreshed before expiry."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from triage.credentials import CredentialError, OAuth2Token, Secret, SecretSource


def test_secret_never_shows_itself() -> None:
    secret = Secret("hunter2")
    assert "hunter2" not in repr(secret)
    assert "hunter2" not in str(secret)
    assert "hunter2" not in f"{secret}"


def test_password_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_PW", "s3cret")
    assert SecretSource("acct", env="MY_PW").read().value == "s3cret"
    monkeypatch.delenv("MY_PW")
    with pytest.raises(CredentialError, match="MY_PW"):
        SecretSource("acct", env="MY_PW").read()


def test_password_from_file_and_credentials_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "imap").write_text("from-file\n")
    assert SecretSource("acct", file=tmp_path / "imap").read().value == "from-file"
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert SecretSource("acct", file=Path("imap")).read().value == "from-file"
    with pytest.raises(CredentialError, match="cannot read password_file"):
        SecretSource("acct", file=tmp_path / "missing").read()


def test_password_from_command_and_its_failure_hides_output() -> None:
    ok = f"{sys.executable} -c \"print('from-command')\""
    assert SecretSource("acct", command=ok).read().value == "from-command"
    bad = f"{sys.executable} -c \"import sys; print('leaked'); sys.exit(3)\""
    with pytest.raises(CredentialError) as caught:
        SecretSource("acct", command=bad).read()
    assert "status 3" in str(caught.value)
    assert "leaked" not in str(caught.value)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def token_command(tmp_path: Path, output: str) -> str:
    """A command that counts its runs in a file and prints `output` with the run number."""
    script = tmp_path / "token.py"
    script.write_text(
        "import pathlib, sys\n"
        f"p = pathlib.Path({str(tmp_path / 'runs')!r})\n"
        "n = int(p.read_text()) + 1 if p.exists() else 1\n"
        "p.write_text(str(n))\n"
        f"print({output!r}.replace('N', str(n)))\n"
    )
    return f"{sys.executable} {script}"


def test_oauth2_token_is_cached_then_refreshed_before_expiry(tmp_path: Path) -> None:
    clock = FakeClock()
    token = OAuth2Token(token_command(tmp_path, '{"access_token": "tok-N", "expires_in": 3600}'), "acct", now=clock)
    assert token.get().value == "tok-1"
    clock.now += 3000
    assert token.get().value == "tok-1"
    clock.now += 400  # inside the 5-minute margin before expiry
    assert token.get().value == "tok-2"


def test_oauth2_bare_token_and_invalidate(tmp_path: Path) -> None:
    token = OAuth2Token(token_command(tmp_path, "bare-N"), "acct", now=FakeClock())
    assert token.get().value == "bare-1"
    token.invalidate()
    assert token.get().value == "bare-2"


def test_oauth2_failure_is_a_clear_error(tmp_path: Path) -> None:
    token = OAuth2Token(f'{sys.executable} -c "import sys; sys.exit(1)"', "account 'gmail'")
    with pytest.raises(CredentialError, match="OAuth2 token refresh failed"):
        token.get()
    bad_json = OAuth2Token(token_command(tmp_path, '{"token": "x"}'), "acct")
    with pytest.raises(CredentialError, match="without an access_token"):
        bad_json.get()

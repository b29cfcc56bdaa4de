"""Read passwords and OAuth2 tokens from the environment, a file or a command, without ever logging them."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class CredentialError(Exception):
    """A password or token could not be obtained; the message says from where and what to fix."""


@dataclass(frozen=True)
class Secret:
    """A string that never shows itself in logs, reprs or tracebacks."""

    value: str

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


@dataclass(frozen=True)
class SecretSource:
    """Where one account's password comes from: exactly one of env, file or command."""

    owner: str
    env: str | None = None
    file: Path | None = None
    command: str | None = None

    def read(self) -> Secret:
        if self.env is not None:
            return Secret(_from_env(self.env, self.owner))
        if self.file is not None:
            return Secret(_from_file(self.file, self.owner))
        if self.command is not None:
            return Secret(run_secret_command(self.command, self.owner))
        raise CredentialError(f"{self.owner}: no password source configured")


def _from_env(name: str, owner: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise CredentialError(f"{owner}: environment variable {name} (password_env) is not set")
    return value


def _from_file(path: Path, owner: str) -> str:
    # systemd's LoadCredential puts secrets under $CREDENTIALS_DIRECTORY; a relative name means there.
    credentials_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if not path.is_absolute() and credentials_dir:
        path = Path(credentials_dir) / path
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise CredentialError(f"{owner}: cannot read password_file {path}: {exc.strerror}") from None


def run_secret_command(command: str, owner: str, timeout: float = 30.0) -> str:
    """Run a command (no shell) and return its first output line; its output is never logged."""
    try:
        done = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, ValueError) as exc:
        raise CredentialError(f"{owner}: cannot run secret command: {exc}") from None
    except subprocess.TimeoutExpired:
        raise CredentialError(f"{owner}: secret command timed out after {timeout:.0f}s") from None
    if done.returncode != 0:
        raise CredentialError(
            f"{owner}: secret command exited with status {done.returncode}; "
            "run it by hand to see why (its output is not logged)"
        )
    output = done.stdout.strip()
    if not output:
        raise CredentialError(f"{owner}: secret command printed nothing")
    return output


# A token is renewed this long before it expires, so no IMAP session starts with a dying token.
REFRESH_MARGIN_SECONDS = 300.0
# Lifetime assumed when the command prints a bare token (Google and Microsoft issue one-hour tokens).
DEFAULT_TOKEN_LIFETIME_SECONDS = 3600.0


class OAuth2Token:
    """An OAuth2 access token from `oauth2_token_command`, cached and refreshed before expiry.

    The command prints either the bare token or JSON with `access_token` and `expires_in`
    (seconds) or `expires_at` (Unix time), as oauth2 helpers such as `oama` or
    `mutt_oauth2.py` can.
    """

    def __init__(self, command: str, owner: str, now: Callable[[], float] = time.time) -> None:
        self._command = command
        self._owner = owner
        self._now = now
        self._token: Secret | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()  # an account's inbox and Sent watchers share one token

    def get(self) -> Secret:
        with self._lock:
            if self._token is None or self._now() >= self._expires_at - REFRESH_MARGIN_SECONDS:
                self._token, self._expires_at = self._fetch()
            return self._token

    def invalidate(self) -> None:
        """Forget the cached token, e.g. after the server rejected it."""
        self._token = None

    def _fetch(self) -> tuple[Secret, float]:
        try:
            output = run_secret_command(self._command, self._owner)
        except CredentialError as exc:
            raise CredentialError(f"OAuth2 token refresh failed: {exc}") from None
        now = self._now()
        if not output.startswith("{"):
            return Secret(output), now + DEFAULT_TOKEN_LIFETIME_SECONDS
        try:
            data = json.loads(output)
            token = str(data["access_token"])
        except (ValueError, KeyError, TypeError):
            raise CredentialError(f"{self._owner}: oauth2_token_command printed JSON without an access_token") from None
        if "expires_at" in data:
            return Secret(token), float(data["expires_at"])
        return Secret(token), now + float(data.get("expires_in", DEFAULT_TOKEN_LIFETIME_SECONDS))

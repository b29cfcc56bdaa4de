"""Fixtures for the integration tests: real IMAP servers on loopback and configs pointing at them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import trustme

from tests.servers import (
    AccountSpec,
    DovecotServer,
    ImapServer,
    MakeConfig,
    dovecot_missing,
    running_dovecot,
    running_pymap,
    write_config,
)

if TYPE_CHECKING:
    from triage.analyze import Analyzer


def _require_dovecot() -> None:
    reason = dovecot_missing()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def dovecot() -> Iterator[DovecotServer]:
    """A private plain-text Dovecot on a free loopback port, with INBOX and a \\Sent folder."""
    _require_dovecot()
    with running_dovecot() as server:
        yield server


@pytest.fixture
def tls_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def dovecot_tls(tls_ca: trustme.CA) -> Iterator[DovecotServer]:
    """A private Dovecot speaking implicit TLS with a certificate from a throwaway CA (`ca_file`)."""
    _require_dovecot()
    with running_dovecot(tls=tls_ca) as server:
        yield server


@pytest.fixture
def pymap(tmp_path: Path) -> Iterator[ImapServer]:
    """The embedded pymap server the demo uses (in-memory), with INBOX and Sent."""
    with running_pymap(tmp_path) as server:
        yield server


@pytest.fixture(params=["dovecot", "pymap"])
def imap_server(request: pytest.FixtureRequest) -> ImapServer:
    """The key behaviours run against both servers."""
    server: ImapServer = request.getfixturevalue(request.param)
    return server


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "triage.sqlite"


@pytest.fixture
def make_config(tmp_path: Path, store_path: Path, monkeypatch: pytest.MonkeyPatch) -> MakeConfig:
    """Write a config for some accounts; their passwords go into the environment (password_env)."""

    def make(*accounts: AccountSpec, capture: dict[str, Any] | None = None, name: str = "config.toml") -> Path:
        for account in accounts:
            monkeypatch.setenv(account.password_env, account.password)
        return write_config(tmp_path / name, store_path, accounts, capture)

    return make


@pytest.fixture(scope="session")
def analyzer() -> Analyzer:
    """The shipped rules, loaded once: building the language pipelines takes seconds."""
    from triage.analyze import Analyzer  # imported here so unit tests still collect if it breaks
    from triage.config import Config

    return Analyzer.from_config(Config())

"""Network faults between triage and Dovecot, injected by a proxy: resets, stalls, latency, restarts, DNS, TLS.

After every fault: nothing is lost, nothing is stored twice, the watchers recover by themselves
with backoff, and `triage status` shows the episode (the error and when it happened, then when
the folder recovered). The daemon runs as a real `triage run` process for the backfill and the
IDLE tests; the others run the daemon's folder watchers in-process (no language pipelines to load).
The faults come from tests/faultproxy.py, a TCP proxy between triage and a private Dovecot.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests import mailgen
from tests.faultproxy import FaultProxy, fault_proxy
from tests.mailgen import TestMail
from tests.servers import (
    AccountSpec,
    DovecotServer,
    MakeConfig,
    daemon_running,
    message_count,
    query_store,
    run_triage,
    wait_until,
)
from triage.config import load_config
from triage.service import ROLES, FolderWatcher
from triage.store import open_store

pytestmark = pytest.mark.integration

BACKOFF_INITIAL, BACKOFF_MAX = 0.2, 1.0
TIMEOUT = 3.0
CAPTURE = {
    "batch_size": 20,
    "timeout_seconds": TIMEOUT,
    "backoff_initial_seconds": BACKOFF_INITIAL,
    "backoff_max_seconds": BACKOFF_MAX,
    "idle_seconds": 600.0,  # only IDLE, a reconnect or a fault moves things along
    "poll_interval_seconds": 600.0,
}
DAEMON_START_SECONDS = 90  # the language pipelines load first
RECOVERY_SECONDS = 30  # generous: a behaviour test, not a speed test
IDLING = b"+ idling"  # Dovecot's go-ahead for IDLE
LITERAL = b"BODY[] {"  # the start of a whole message in a FETCH response


@pytest.fixture(autouse=True)
def no_watcher_crashed(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every fault must surface as an ImapError; the watchers' catch-all for anything else stays unused."""
    caplog.set_level(logging.INFO)
    yield
    crashed = [r.getMessage() for r in caplog.get_records("call") if r.getMessage() == "watcher crashed"]
    assert not crashed, "an unexpected exception escaped the IMAP error handling (see the log)"


@pytest.fixture
def proxy(dovecot: DovecotServer) -> Iterator[FaultProxy]:
    with fault_proxy(dovecot.port) as running:
        yield running


def through(proxy: FaultProxy, account: AccountSpec, **changes: Any) -> AccountSpec:
    return dataclasses.replace(account, port=proxy.port, **changes)


def seed(server: DovecotServer, inbox: Sequence[TestMail], sent: Sequence[TestMail] = ()) -> list[TestMail]:
    server.append("INBOX", inbox)
    server.append("Sent", sent)
    return [*inbox, *sent]


# -- what every test checks --------------------------------------------------------------------


def assert_stored_once(store: Path, mails: Sequence[TestMail]) -> None:
    """No loss, no duplicates: every appended message is stored exactly once."""
    counts = query_store(store, "SELECT COUNT(*) AS n, COUNT(DISTINCT message_id) AS ids FROM messages")[0]
    assert counts == {"n": len(mails), "ids": len(mails)}
    stored = {row["message_id"] for row in query_store(store, "SELECT message_id FROM messages")}
    real = {mail.message_id for mail in mails if mail.message_id}
    assert real <= stored
    # Mail without a Message-ID gets a synthetic one, derived from its content.
    assert len(stored - real) == sum(mail.message_id is None for mail in mails)


def wait_for_all(store: Path, mails: Sequence[TestMail], what: str, timeout: float = RECOVERY_SECONDS) -> None:
    wait_until(lambda: message_count(store) >= len(mails), timeout, f"{what} ({len(mails)} messages stored)")
    assert_stored_once(store, mails)


@dataclasses.dataclass(frozen=True)
class Failure:
    """One `folder watch failed; retrying` event, from the daemon's log or from in-process records."""

    account: str
    folder: str
    error: str
    retry_in: float


FAILURE_LINE = re.compile(
    r"folder watch failed; retrying account=(?P<account>\S+) folder=(?P<folder>\S+) "
    r'error=(?P<error>"(?:[^"\\]|\\.)*"|\S+) retry_in=(?P<retry>[\d.]+)s$',
    re.M,
)


def failures_in_log(text: str) -> list[Failure]:
    return [
        Failure(m["account"], m["folder"], m["error"].strip('"'), float(m["retry"]))
        for m in FAILURE_LINE.finditer(text)
    ]


def failures_in_records(records: Sequence[logging.LogRecord]) -> list[Failure]:
    return [
        Failure(r.account, r.folder, r.error, float(r.retry_in.rstrip("s")))  # type: ignore[attr-defined]
        for r in list(records)
        if r.getMessage() == "folder watch failed; retrying"
    ]


def of(failures: Sequence[Failure], folder: str, account: str = "support") -> list[Failure]:
    return [f for f in failures if f.account == account and f.folder == folder]


def both_failed(records: Sequence[logging.LogRecord], account: str = "support") -> bool:
    failures = failures_in_records(records)
    return bool(of(failures, "inbox", account) and of(failures, "sent", account))


def assert_backoff(streak: Sequence[Failure]) -> None:
    """Consecutive failures (no success between) wait as Backoff promises: jittered, doubling, capped."""
    assert streak, "no failure: the fault was not noticed, so nothing was tested"
    for attempt, failure in enumerate(streak):
        ceiling = min(BACKOFF_MAX, BACKOFF_INITIAL * 2**attempt)
        # retry_in is logged with one decimal
        assert ceiling / 2 - 0.05 <= failure.retry_in <= ceiling + 0.05, (attempt, [f.retry_in for f in streak])


@dataclasses.dataclass(frozen=True)
class Status:
    """What `triage status` shows, as text and as JSON (folders by "account/role"), and the health
    section of `triage digest` (JSON, folders by "account/folder")."""

    text: str
    folders: dict[str, dict[str, Any]]
    digest_health: dict[str, dict[str, Any]]

    def assert_failing(self, folder: str, error: str) -> None:
        """While the fault lasts, status shows the error, with its time."""
        row = self.folders[folder]
        assert row["last_error"] and error in row["last_error"], row
        account, role = folder.split("/")
        # The watchers keep retrying, so the text may show a later attempt than the JSON.
        shown = re.search(rf"^{account} +{role} .*\n    last error \(20[-\d]+T[\d:]+\+00:00\): (.*)$", self.text, re.M)
        assert shown and error in shown[1], self.text
        health = self.digest_health[folder]
        assert health["last_error"] and error in health["last_error"], health

    def assert_recovered(self, folder: str, error: str) -> None:
        """After recovery, status still shows the episode: the error, when it happened, when it cleared."""
        row = self.folders[folder]
        assert row["last_error"] is None, row  # healthy now: metrics and digests must not alarm
        assert row["recovered_error"] and error in row["recovered_error"], row
        assert row["last_error_at"] <= row["recovered_at"] <= row["last_sync"], row
        shown = f"recovered {row['recovered_at']} from an error at {row['last_error_at']}: {row['recovered_error']}"
        assert shown in self.text, self.text
        # The digest's health section shows it too: healthy, and what it recovered from, and when.
        health = self.digest_health[folder]
        assert health["last_error"] is None and health["recovered_error"] == row["recovered_error"], health
        assert health["recovered_at"] == row["recovered_at"], health


def triage_status(config: Path) -> Status:
    text = run_triage(config, "status")
    done = run_triage(config, "status", "--format", "json")
    for run in (text, done):
        assert run.returncode in (0, 1), run.stderr  # 1: a folder never synced (stale), for monitoring
    folders = {f"{row['account']}/{row['role']}": row for row in json.loads(done.stdout)["folders"]}
    digest = run_triage(config, "digest", "--since", "24h", "--format", "json")
    assert digest.returncode == 0, digest.stderr
    health = json.loads(digest.stdout)["health"]["folders"]
    return Status(text.stdout, folders, {f"{f['account']}/{f['folder']}": f for f in health})


def no_errors(store: Path) -> bool:
    return not query_store(store, "SELECT 1 FROM folder_state WHERE last_error IS NOT NULL")


# -- in-process watchers -----------------------------------------------------------------------


@contextmanager
def watching(config_path: Path) -> Iterator[list[FolderWatcher]]:
    """The daemon's folder watchers, in-process (no language pipelines): every account, both folders."""
    config = load_config(config_path)
    open_store(config.store.path).close()  # created before the watchers start, as the daemon does
    stop = threading.Event()
    watchers = [FolderWatcher(config, account, role, stop, None) for account in config.accounts for role in ROLES]
    for watcher in watchers:
        watcher.start()
    try:
        yield watchers
    finally:
        stop.set()
        for watcher in watchers:
            watcher.join(TIMEOUT * 3)
        assert not [w.name for w in watchers if w.is_alive()], "a watcher did not stop"


# -- resets ------------------------------------------------------------------------------------


def test_resets_mid_fetch_during_a_backfill_lose_nothing_and_store_nothing_twice(
    dovecot: DovecotServer, proxy: FaultProxy, make_config: MakeConfig, store_path: Path, tmp_path: Path
) -> None:
    inbox, sent = mailgen.conversation()
    mails = seed(dovecot, [*mailgen.backfill(300), *inbox], sent)
    # Three RSTs, each 200 bytes into a message's literal (mid-FETCH, mid-batch), in batches 3, 7 and 11.
    resets = proxy.on(LITERAL, "to_client", "reset", after=200, occurrences=(50, 130, 210))
    config = make_config(through(proxy, dovecot.account()), capture=CAPTURE)

    with daemon_running(config, tmp_path / "daemon.log") as daemon:
        wait_for_all(store_path, mails, "the backfill despite the resets", DAEMON_START_SECONDS)
        assert resets.fired_count == 3
        failures = failures_in_log(daemon.log())
        assert len(failures) == 3, failures
        assert all("fetching messages failed" in f.error for f in failures), failures
        status = triage_status(config)
        for folder in {f.folder for f in failures}:
            status.assert_recovered(f"support/{folder}", "fetching messages failed")
        assert daemon.terminate() == 0
        log = daemon.log()

    assert "watcher crashed" not in log  # every fault surfaced as an ImapError, none escaped
    assert all(f.retry_in <= BACKOFF_INITIAL + 0.05 for f in failures)  # progress resets the backoff
    assert proxy.accepted >= 2 + 3  # one connection per folder, then one reconnect per reset
    locations = query_store(store_path, "SELECT COUNT(*) AS n, COUNT(DISTINCT message) AS messages FROM locations")
    assert locations == [{"n": len(mails), "messages": len(mails)}]


def test_a_reset_mid_idle_then_a_refusing_server_are_ridden_out_with_backoff(
    dovecot: DovecotServer, proxy: FaultProxy, make_config: MakeConfig, store_path: Path, tmp_path: Path
) -> None:
    inbox, sent = mailgen.conversation()
    mails = seed(dovecot, inbox, sent)
    idling = proxy.on(IDLING, "to_client", "count")
    config = make_config(through(proxy, dovecot.account()), capture=CAPTURE)

    with daemon_running(config, tmp_path / "daemon.log") as daemon:
        wait_for_all(store_path, mails, "the first catch-up", DAEMON_START_SECONDS)
        wait_until(lambda: idling.seen >= 2, RECOVERY_SECONDS, "both folders to be in IDLE")

        proxy.refuse()  # the server goes away: established connections drop, new ones are refused
        assert proxy.reset_all() == 2
        during = mailgen.customer_mail(50, "en")
        mails.append(during)
        dovecot.append("INBOX", [during])
        wait_until(
            lambda: all(len(of(failures_in_log(daemon.log()), f)) >= 4 for f in ("inbox", "sent")),
            RECOVERY_SECONDS,
            "four failed attempts per folder",
        )
        triage_status(config).assert_failing("support/inbox", "Connection refused")

        idle_before = idling.seen
        proxy.pass_through()
        wait_for_all(store_path, mails, "mail that arrived during the outage")
        wait_until(lambda: idling.seen >= idle_before + 2, RECOVERY_SECONDS, "both folders back in IDLE")
        after = mailgen.customer_mail(51, "id")
        mails.append(after)
        dovecot.append("INBOX", [after])
        wait_for_all(store_path, mails, "mail announced by IDLE after the recovery")
        status = triage_status(config)
        status.assert_recovered("support/inbox", "Connection refused")
        status.assert_recovered("support/sent", "Connection refused")
        assert daemon.terminate() == 0
        log = daemon.log()

    assert "watcher crashed" not in log  # every fault surfaced as an ImapError, none escaped
    for folder in ("inbox", "sent"):
        streak = of(failures_in_log(log), folder)
        assert "waiting in IDLE" in streak[0].error, streak[0]  # the reset was noticed in IDLE
        assert all("Connection refused" in f.error for f in streak[1:]), streak
        assert_backoff(streak)  # one streak: no success between the reset and the recovery


def test_a_connection_lost_mid_login_is_a_network_error_not_a_refused_password(
    dovecot: DovecotServer,
    proxy: FaultProxy,
    make_config: MakeConfig,
    store_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbox, sent = mailgen.conversation()
    mails = seed(dovecot, inbox, sent)
    # The LOGIN command reaches the server cut off after its name: first with an RST, then with a FIN
    # (what a server restart looks like), which imapclient reports as a LoginError.
    rst = proxy.on(b" LOGIN ", "to_server", "reset", occurrences=(1,))
    fin = proxy.on(b" LOGIN ", "to_server", "close", occurrences=(2,))
    config = make_config(through(proxy, dovecot.account()), capture=CAPTURE)

    with watching(config):
        wait_for_all(store_path, mails, "the capture after two lost logins")
        assert rst.fired_count == fin.fired_count == 1

    failures = failures_in_records(caplog.records)
    assert len(failures) == 2, failures
    for failure in failures:
        assert "logging in failed" in failure.error, failure
        # A refused password is told to fix the config and waits longer: wrong for a network fault.
        assert "login refused" not in failure.error and "password" not in failure.error, failure
    status = triage_status(config)
    for folder in {f.folder for f in failures}:
        assert_backoff(of(failures, folder))  # a refused login would wait the auth delay (here the maximum)
        status.assert_recovered(f"support/{folder}", "logging in failed")


# -- stalls and slowness -----------------------------------------------------------------------


def test_a_stalled_server_is_detected_by_the_timeout_and_the_watcher_reconnects(
    dovecot: DovecotServer,
    proxy: FaultProxy,
    make_config: MakeConfig,
    store_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbox, sent = mailgen.conversation()
    mails = seed(dovecot, [*mailgen.backfill(100), *inbox], sent)
    # The connection fetching message #130 goes silent in the middle of it, without closing.
    stall = proxy.on(b"(ref 130 #130)", "to_client", "stall")
    idling = proxy.on(IDLING, "to_client", "count")
    # IDLE is re-issued every 2 s, so a connection that goes silent in IDLE is noticed too; a 2 s
    # timeout keeps the test short (the behaviour does not depend on the value).
    timeout = 2.0
    config = make_config(
        through(proxy, dovecot.account()), capture=CAPTURE | {"idle_seconds": 2.0, "timeout_seconds": timeout}
    )

    with watching(config):
        wait_for_all(store_path, mails, "the backfill after a stalled FETCH")
        assert stall.fired_at is not None
        stalled = [r for r in caplog.records if r.getMessage() == "folder watch failed; retrying"]
        assert [r.error for r in stalled] == [  # type: ignore[attr-defined]
            f"account 'support' (127.0.0.1:{proxy.port}): timed out while fetching messages"
        ]
        # Noticed by the read timeout itself: one timeout after the stall began, not some multiple of it.
        assert 0.9 * timeout < stalled[0].created - stall.fired_at < 1.9 * timeout
        triage_status(config).assert_recovered("support/inbox", "timed out while fetching messages")

        wait_until(lambda: idling.seen >= 2, RECOVERY_SECONDS, "both folders in IDLE")
        seen = len(caplog.records)
        proxy.stall()  # every connection, open and new, goes silent
        late = mailgen.customer_mail(52, "en")
        mails.append(late)
        dovecot.append("INBOX", [late])
        wait_until(
            lambda: any("timed out" in f.error for f in of(failures_in_records(caplog.records[seen:]), "inbox")),
            RECOVERY_SECONDS,
            "the silent connection to time out",
        )
        assert message_count(store_path) == len(mails) - 1  # nothing got through the stall
        proxy.pass_through()
        wait_for_all(store_path, mails, "mail sent while the server was silent")

    # Mostly "timed out while waiting in IDLE"; "opening" or "searching" when the stall began
    # during the catch-up between two IDLEs.
    silent = of(failures_in_records(caplog.records[seen:]), "inbox")
    assert all("timed out while" in f.error for f in silent), silent
    triage_status(config).assert_recovered("support/inbox", silent[-1].error)


def test_slow_responses_complete_even_when_a_transfer_outlasts_the_timeout(
    dovecot: DovecotServer,
    proxy: FaultProxy,
    make_config: MakeConfig,
    store_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbox, sent = mailgen.conversation()
    big = mailgen.big_message(120 * 1024)
    mails = seed(dovecot, [*inbox, big], sent)
    # Every 4 KiB piece waits 0.1 s: the big message alone takes 3 s, more than the 2 s timeout,
    # but no single read waits longer than the timeout.
    proxy.latency(0.1, chunk_size=4 * 1024)
    timeout = 2.0
    config = make_config(through(proxy, dovecot.account()), capture=CAPTURE | {"timeout_seconds": timeout})

    started = time.monotonic()
    with watching(config):
        wait_for_all(store_path, mails, "capture over a slow link")
        took = time.monotonic() - started

    assert took > timeout + 1, f"{took:.1f}s: the latency was not applied, so nothing was tested"
    assert failures_in_records(caplog.records) == []
    folders = triage_status(config).folders.values()
    assert all(row["last_error"] is None and row["recovered_error"] is None for row in folders)


# -- the server goes away ----------------------------------------------------------------------


def test_a_server_restart_mid_fetch_is_recovered_from(
    dovecot: DovecotServer,
    proxy: FaultProxy,
    make_config: MakeConfig,
    store_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbox, sent = mailgen.conversation()
    mails = seed(dovecot, [*mailgen.backfill(200), *inbox], sent)
    # Dovecot restarts (every connection dropped, refused until it is back) in the middle of
    # the 60th message's literal: the proxy holds the rest of that response until it is done.
    restart = proxy.on(LITERAL, "to_client", "call", after=150, occurrences=(60,), callback=dovecot.restart)
    config = make_config(through(proxy, dovecot.account()), capture=CAPTURE)

    with watching(config):
        wait_for_all(store_path, mails, "the backfill across a server restart")
        assert restart.fired.is_set()
        # The connection in the middle of the FETCH sees it fail; the other one is dropped (or
        # refused) wherever it was. Both must end up recovered, with the episode in status.
        wait_until(lambda: no_errors(store_path), RECOVERY_SECONDS, "the errors to clear")

    failures = failures_in_records(caplog.records)
    assert any("fetching messages" in f.error for f in failures), failures
    status = triage_status(config)
    for folder in {f.folder for f in failures}:
        status.assert_recovered(f"support/{folder}", "")
    assert dovecot.log_path.read_text().count("starting up") >= 2, "Dovecot did not restart"


def test_an_unresolvable_host_is_a_clear_error_and_the_other_accounts_carry_on(
    dovecot: DovecotServer, make_config: MakeConfig, store_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    inbox, sent = mailgen.conversation()
    mails = seed(dovecot, inbox, sent)
    broken = AccountSpec("helpdesk", "imap.invalid", 993, "helpdesk@example.com", "irrelevant", security="tls")
    config = make_config(broken, dovecot.account(), capture=CAPTURE)

    with watching(config):
        wait_for_all(store_path, mails, "the reachable account")
        wait_until(
            lambda: all(len(of(failures_in_records(caplog.records), f, "helpdesk")) >= 4 for f in ("inbox", "sent")),
            RECOVERY_SECONDS,
            "four failed attempts per folder of the unresolvable account",
        )
        status = triage_status(config)
        status.assert_failing("helpdesk/inbox", "cannot resolve host")
        status.assert_failing("helpdesk/sent", "cannot resolve host")

    failures = failures_in_records(caplog.records)
    assert of(failures, "inbox") == [] and of(failures, "sent") == []  # the other account never failed
    for folder in ("inbox", "sent"):
        streak = of(failures, folder, "helpdesk")
        assert_backoff(streak)
        assert streak[0].error.startswith("account 'helpdesk' (imap.invalid:993): cannot resolve host while connecting")
    done = run_triage(config, "status")
    assert done.returncode == 1  # the unresolvable account never synced: monitoring must see it
    assert "STALE: helpdesk/inbox" in done.stdout and "STALE: support" not in done.stdout
    folders = status.folders
    assert folders["support/inbox"]["last_error"] is None and folders["support/sent"]["last_error"] is None


# -- TLS -------------------------------------------------------------------------------------------


def test_tls_to_a_server_that_does_not_speak_tls_fails_the_handshake_clearly(
    dovecot: DovecotServer,
    proxy: FaultProxy,
    make_config: MakeConfig,
    store_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    seed(dovecot, *mailgen.conversation())
    # Implicit TLS to a plain-text port; turning verification off must not make it "work".
    config = make_config(through(proxy, dovecot.account(tls_verify=False), security="tls"), capture=CAPTURE)

    with watching(config):
        wait_until(lambda: both_failed(caplog.records), RECOVERY_SECONDS, "the handshake to fail")

    error = failures_in_records(caplog.records)[0].error
    assert "TLS handshake failed while connecting" in error, error
    assert 'security = "tls"' in error, error  # points at the setting to check
    assert message_count(store_path) == 0
    triage_status(config).assert_failing("support/inbox", "TLS handshake failed")


def test_an_untrusted_certificate_is_refused_unless_tls_verify_is_off(
    dovecot_tls: DovecotServer,
    make_config: MakeConfig,
    store_path: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    mails = seed(dovecot_tls, *mailgen.conversation())
    wrong_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(wrong_ca))
    strict = make_config(dovecot_tls.account(tls_ca_file=str(wrong_ca)), capture=CAPTURE)

    with watching(strict):
        wait_until(lambda: both_failed(caplog.records), RECOVERY_SECONDS, "the handshake to fail")
    failures = failures_in_records(caplog.records)
    assert "TLS certificate not trusted while connecting" in failures[0].error, failures[0]
    assert "tls_ca_file" in failures[0].error  # says what to do about it
    assert message_count(store_path) == 0
    triage_status(strict).assert_failing("support/inbox", "certificate not trusted")

    lax = make_config(dovecot_tls.account(tls_verify=False), capture=CAPTURE, name="lax.toml")
    seen = len(caplog.records)
    with watching(lax):
        wait_for_all(store_path, mails, "capture with tls_verify = false")
    assert failures_in_records(caplog.records[seen:]) == []
    status = triage_status(lax)
    status.assert_recovered("support/inbox", "certificate not trusted")
    status.assert_recovered("support/sent", "certificate not trusted")

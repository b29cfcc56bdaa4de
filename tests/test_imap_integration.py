"""The IMAP source against real servers: the parts of ImapSession the daemon's timing depends on."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests import mailgen
from tests.servers import ImapServer, MakeConfig
from triage.config import load_config
from triage.sources.imap import ImapSession

pytestmark = pytest.mark.integration


def test_mail_announced_during_a_catch_up_ends_the_wait_at_once(
    imap_server: ImapServer, make_config: MakeConfig
) -> None:
    """A message arriving between SEARCH and IDLE is announced once, on the FETCH; not lost to IDLE."""
    imap_server.append("INBOX", mailgen.backfill(3))
    account = load_config(make_config(imap_server.account())).accounts[0]
    with ImapSession(account, timeout=30) as session:
        session.examine("INBOX")
        uids = session.uids_after(0)
        imap_server.append("INBOX", [mailgen.customer_mail(50, "en")])  # arrives mid catch-up
        assert len(session.fetch(uids, 1_000_000)) == 3  # the server tells us about it here

        started = time.monotonic()
        changed = session.wait_for_change(10, threading.Event())
        waited = time.monotonic() - started

        assert changed, "new mail announced before IDLE was missed until the IDLE timeout"
        assert waited < 5
        session.examine("INBOX")
        assert len(session.uids_after(max(uids))) == 1


def test_wait_for_change_times_out_quietly_when_nothing_arrives(
    imap_server: ImapServer, make_config: MakeConfig
) -> None:
    imap_server.append("INBOX", mailgen.backfill(2))
    account = load_config(make_config(imap_server.account())).accounts[0]
    with ImapSession(account, timeout=30) as session:
        session.examine("INBOX")
        session.fetch(session.uids_after(0), 1_000_000)

        started = time.monotonic()
        assert session.wait_for_change(1.5, threading.Event()) is False
        assert time.monotonic() - started >= 1.4


@pytest.fixture
def dutch_local_time() -> Iterator[None]:
    """A local time zone with a DST change (Europe/Amsterdam) for this test's process."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "Europe/Amsterdam")
        time.tzset()
        yield
    time.tzset()


def test_internal_date_keeps_the_moment_the_server_gave(
    imap_server: ImapServer, make_config: MakeConfig, dutch_local_time: None
) -> None:
    """INTERNALDATE in UTC, the fallback date of mail whose Date header is unusable. 01:30 UTC on
    25 October 2026 is 02:30 in Amsterdam's repeated hour: as naive local time it would come back
    an hour early."""
    arrived = datetime(2026, 10, 25, 8, 30, 5, tzinfo=timezone(timedelta(hours=7)))  # 01:30:05 UTC
    with imap_server.client() as client:
        client.append("INBOX", mailgen.customer_mail(1, "en").raw, msg_time=arrived)
    account = load_config(make_config(imap_server.account())).accounts[0]
    with ImapSession(account, timeout=30) as session:
        session.examine("INBOX")
        (fetched,) = session.fetch(session.uids_after(0), 1_000_000)
    assert fetched.internal_date == datetime(2026, 10, 25, 1, 30, 5, tzinfo=UTC)


def test_fetch_reads_each_message_as_imapclient_does(imap_server: ImapServer, make_config: MakeConfig) -> None:
    """ImapSession reads FETCH answers itself: it must find what imapclient's parser finds, on each server."""
    imap_server.append("INBOX", [*mailgen.backfill(5), mailgen.customer_mail(9, "id")])
    account = load_config(make_config(imap_server.account())).accounts[0]
    with ImapSession(account, timeout=30) as session:
        session.examine("INBOX")
        fetched = session.fetch(session.uids_after(0), 1_000_000)
    with imap_server.client() as client:
        client.normalise_times = False
        client.select_folder("INBOX", readonly=True)
        expected = client.fetch(client.search("ALL"), ["BODY.PEEK[]", "INTERNALDATE", "RFC822.SIZE"])
    assert len(fetched) == 6
    assert [(m.uid, m.raw, m.size, m.internal_date) for m in fetched] == [
        (uid, data[b"BODY[]"], data[b"RFC822.SIZE"], data[b"INTERNALDATE"].astimezone(UTC))
        for uid, data in sorted(expected.items())
    ]


def test_fetching_at_debug_level_logs_no_mail(
    imap_server: ImapServer, make_config: MakeConfig, caplog: pytest.LogCaptureFixture
) -> None:
    """imapclient turns imaplib's protocol trace on; ImapSession turns it off, so a DEBUG log holds no
    customer's words (and no time goes into formatting each message for it)."""
    imap_server.append("INBOX", [mailgen.customer_mail(3, "en", tag=" zebra-marker-8841")])
    account = load_config(make_config(imap_server.account())).accounts[0]
    with caplog.at_level(logging.DEBUG), ImapSession(account, timeout=30) as session:
        session.examine("INBOX")
        (fetched,) = session.fetch(session.uids_after(0), 1_000_000)
    assert b"zebra-marker-8841" in fetched.raw
    assert caplog.records, "nothing logged at DEBUG: the test would prove nothing"
    assert not [r for r in caplog.records if "zebra-marker" in r.getMessage()]

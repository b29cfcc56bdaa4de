"""The daemon's derivation after each arrival (kept views and flag rows) writes what a recompute writes."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from triage import repeats
from triage.analyze import Analyzer
from triage.capture import import_raw
from triage.config import Config, StoreConfig, SupportConfig
from triage.contacts import resolve_contacts
from triage.demo.sample_mailbox import SUPPORT_ADDRESS, SampleMessage, live_messages, sample_messages
from triage.flagging import FlagEngine
from triage.model import Direction, FolderRole, RawMail
from triage.repeats import IDENTIFIER_WINDOW, REPEAT_WINDOW, RESEND_AFTER, find_repeats, find_unanswered, read_mail
from triage.store import Store, open_store
from triage.threads import link_replies
from triage.views import ViewReader, load_views

from .mailgen import message_bytes, plain_headers


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer.from_config(Config())


def settings(folder: Path) -> Config:
    return Config(
        store=StoreConfig(path=folder / "triage.sqlite"),
        support=SupportConfig(addresses=(SUPPORT_ADDRESS,), domains=("example.com",)),
    )


def arrive(store: Store, config: Config, live: Analyzer, message: SampleMessage) -> list[int]:
    result = import_raw([RawMail(message.raw)], store, config, FolderRole(message.folder), after_batch=live.analyze)
    return list(result.new_ids)


def stored_rows(store: Store, since: datetime) -> set[tuple[Any, ...]]:
    return {
        (f["key"], f["severity"], f["explanation"], f["evidence_json"], f["related_json"], f["rules_version"])
        for f in store.list_flags(since_utc=since.astimezone(UTC).isoformat())
    }


def recomputed_rows(reference: FlagEngine, store: Store, since: datetime, now: datetime) -> set[tuple[Any, ...]]:
    """What recompute (window by window, views read afresh, every row written anew) writes from `since`."""
    return {
        (r["key"], r["severity"], r["explanation"], r["evidence_json"], r["related_json"], r["rules_version"])
        for window in reference.windows(store, since)
        for r in reference.window_flags(store, now, window).rows
    }


@pytest.mark.parametrize("order", ["by date", "shuffled"])
def test_each_live_derivation_writes_the_flags_of_a_recompute(tmp_path: Path, analyzer: Analyzer, order: str) -> None:
    messages = sample_messages() + live_messages()
    if order == "shuffled":
        random.Random(11).shuffle(messages)  # replies before their questions, old mail late
    config = settings(tmp_path)
    live = Analyzer(analyzer.classifier, config)
    reference = FlagEngine(analyzer.classifier.ruleset, analyzer.classifier.models, config)
    store = open_store(config.store.path)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    compared = 0
    try:
        for message in messages:
            ids = arrive(store, config, live, message)
            if not ids:
                continue
            live.flag_after(store, ids, now)
            oldest = store.earliest_date(ids)
            assert oldest is not None
            since = oldest - timedelta(days=config.flags.recompute_days)
            assert stored_rows(store, since) == recomputed_rows(reference, store, since, now)
            compared += 1
        assert stored_rows(store, datetime.min.replace(tzinfo=UTC))  # the mailbox is flagged at all
    finally:
        store.close()
    assert compared == len(messages)


def test_kept_views_are_those_load_views_reads_after_topics_change(tmp_path: Path, analyzer: Analyzer) -> None:
    config = settings(tmp_path)
    live = Analyzer(analyzer.classifier, config)
    store = open_store(config.store.path)
    try:
        for message in sample_messages()[:30]:
            arrive(store, config, live, message)
        reader = ViewReader()
        first = reader.load(store, max_text=500)
        assert first == load_views(store, max_text=500)
        changed = first[3]
        store.replace_topics(
            [{"message": changed.id, "rules_version": "x", "lang": "en", "plain": 0, "skipped": None,
              "unclassified": 0, "classified_at": "now"}],
            [{"message": changed.id, "topic": "zz-new-topic", "score": 1.0, "rules_version": "x",
              "evidence_json": "[]"}],
        )  # fmt: skip
        again = reader.load(store, max_text=500)
        assert again == load_views(store, max_text=500)
        assert again[3].topics == ("zz-new-topic",)
        assert all(a is b for a, b in zip(again, first, strict=True) if a.id != changed.id)  # kept, not re-read
        assert store.purge_address(first[0].sender)
        purged = reader.load(store, max_text=500)
        assert purged == load_views(store, max_text=500)
        assert first[0].sender not in {v.sender for v in purged}
        assert reader.load(store, max_text=80) == load_views(store, max_text=80)  # another cap: texts read anew
    finally:
        store.close()


class RacingStore:
    """A store whose one message is purged between the reader's two queries (a unit-test fake).

    The first read finds it whole; for the second its topics changed (so it is read again), and
    by the time its row is read again it is purged.
    """

    def __init__(self) -> None:
        self.reads = 0

    def message_tuples(self, since: str | None, until: str | None, columns: Sequence[str]) -> list[tuple[Any, ...]]:
        self.reads += 1
        return [(7, "ok", "billing" if self.reads == 1 else "refund")]

    def messages_by_id(self, ids: Sequence[int], columns: Sequence[str]) -> list[dict[str, Any]]:
        if self.reads > 1:
            return [{"id": 7, "status": "purged", "topic_list": None}]
        row = {
            "id": 7, "message_id": "<q7@t>", "direction": "in", "from_addr": "ana@kopi.example", "to_json": "[]",
            "cc_json": "[]", "date": "2026-09-01T09:00:00+00:00", "subject": "Help", "subject_norm": "help",
            "in_reply_to": None, "references_json": "[]", "lang": "en", "automated": None, "status": "ok",
            "new_text": "Where is my refund?", "topic_list": "billing",
        }  # fmt: skip
        return [row]


def test_a_message_purged_between_the_two_reads_is_left_out() -> None:
    reader, store = ViewReader(), RacingStore()
    assert [v.id for v in reader.load(store)] == [7]  # type: ignore[arg-type]
    assert reader.load(store) == []  # type: ignore[arg-type]


def test_repeats_without_failed_replies_are_those_with_them_less_that_reason(
    tmp_path: Path, analyzer: Analyzer
) -> None:
    """find_unanswered reuses find_repeats' repeats, less the matches only a failed reply made."""
    config = settings(tmp_path)
    live = Analyzer(analyzer.classifier, config)
    store = open_store(config.store.path)
    try:
        for message in sample_messages() + live_messages():
            arrive(store, config, live, message)
        views = load_views(store)
    finally:
        store.close()
    ruleset = analyzer.classifier.ruleset
    contacts = resolve_contacts(views, ruleset, config.support.addresses)
    links = link_replies(views)
    failed = {v.id for v in views if v.direction is Direction.OUT}  # every reply failed: the most matches
    reading = read_mail(views, contacts, links, ruleset)
    with_failed = repeats._repeats(repeats._history(reading, REPEAT_WINDOW, IDENTIFIER_WINDOW, RESEND_AFTER, failed))
    without = repeats._repeats(repeats._history(reading, REPEAT_WINDOW, IDENTIFIER_WINDOW, RESEND_AFTER, ()))
    assert any(m.reasons == (repeats.AFTER_FAILED_REPLY,) for _, found in with_failed for m in found)
    assert repeats._without_failed_replies(with_failed) == without
    now = datetime(2026, 12, 1, tzinfo=UTC)
    find_repeats(views, contacts, links, ruleset, failed_replies=failed, reading=reading)  # keeps its repeats
    shared = find_unanswered(views, links, now, ruleset=ruleset, contacts=contacts, reading=reading)
    alone = find_unanswered(views, links, now, ruleset=ruleset, contacts=contacts)
    assert shared == alone


def test_a_recheck_without_recent_mail_derives_nothing(tmp_path: Path, analyzer: Analyzer) -> None:
    """The daemon re-checks recent mail at start and every 10 minutes, also when none is recent."""
    config = settings(tmp_path)
    live = Analyzer(analyzer.classifier, config)
    store = open_store(config.store.path)
    try:
        assert live.flag_after(store, [], datetime(2026, 12, 1, tzinfo=UTC)) == 0  # an empty store
        for message in sample_messages()[:10]:
            arrive(store, config, live, message)
        assert live.flag_after(store, [], datetime(2027, 6, 1, tzinfo=UTC)) == 0  # all mail months old
        assert store.has_mail_since("2026-01-01") and not store.has_mail_since("2027-01-01")
    finally:
        store.close()


def _mail(number: int, sender: str, to: str, subject: str, day: float, body: str, parent: str | None = None) -> bytes:
    headers = plain_headers(
        (sender.split("@")[0], sender), (to.split("@")[0], to), subject, DAY_ONE + timedelta(days=day), f"<m{number}@t>"
    )
    if parent:
        headers += [("In-Reply-To", parent), ("References", parent)]
    return message_bytes(headers, body)


DAY_ONE = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
CUSTOMERS = tuple(
    f"{name}@{shop}.example"
    for name, shop in zip(
        ("ana", "ben", "citra", "dodi", "eka", "fajar", "gita", "hadi", "indah", "joko"),
        ("kopi", "roti", "teh", "gula", "susu", "mie", "bakso", "sate", "jamu", "tahu"),
        strict=True,
    )
)
ORDER_QUESTIONS = (
    "My order 48213-77 has not arrived. Where is it?",
    "Pesanan 48213-77 saya belum sampai, kapan dikirim?",
)
QUESTIONS = (
    "I was charged twice this month, can you refund one payment?",
    "Internet saya mati sejak pagi, tolong dicek.",
    "How do I change the address on my account?",
    "Still no answer about my refund? I wrote last week.",
)
ANSWERS = (
    "Thank you for your message. Please visit our office with your ID so we can help you.",
    "Your order 48213-77 left our warehouse yesterday; tracking number JX7712004455 shows delivery tomorrow.",
    "Terima kasih, pesan Anda sudah kami terima dan akan segera kami proses.",
)


def _stream(seed: int) -> list[tuple[bytes, FolderRole]]:
    """Customers asking and support replying over ten weeks, in date order: the window slides on.

    Ana, Ben and Citra cite one order number (one contact); Dodi citing it too makes it a number
    more addresses cite than a contact can hold, which splits that contact again.
    """
    chance = random.Random(seed)
    citing = {2: CUSTOMERS[0], 5: CUSTOMERS[1], 9: CUSTOMERS[2], 14: CUSTOMERS[3]}
    mail: list[tuple[bytes, FolderRole]] = []
    asked: list[tuple[str, str, str]] = []  # Message-ID, sender, subject of questions not replied to yet
    for number in range(1, 90):
        day = number * 0.8
        if asked and number not in citing and chance.random() < 0.45:
            parent, customer, subject = asked.pop(chance.randrange(len(asked)))
            body = chance.choice(ANSWERS)
            mail.append(
                (_mail(number, SUPPORT_ADDRESS, customer, f"Re: {subject}", day, body, parent), FolderRole.SENT)
            )
            continue
        sender = citing.get(number) or chance.choice(CUSTOMERS)
        question = ORDER_QUESTIONS[number % 2] if number in citing else chance.choice(QUESTIONS)
        subject = chance.choice(("Order", "Help", "Tagihan", "Internet"))
        mail.append((_mail(number, sender, SUPPORT_ADDRESS, subject, day, question), FolderRole.INBOX))
        asked.append((f"<m{number}@t>", sender, subject))
    return mail


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_narrowed_derivation_writes_the_flags_of_a_recompute(tmp_path: Path, analyzer: Analyzer, seed: int) -> None:
    """After each arrival only the related mail it touched is derived again; the flags are a recompute's.

    Also when the new mail splits a contact (one identifier too many addresses cite) and when old
    mail leaves the window (the groups it was in are derived again).
    """
    config = settings(tmp_path)
    live = Analyzer(analyzer.classifier, config)
    reference = FlagEngine(analyzer.classifier.ruleset, analyzer.classifier.models, config)
    store = open_store(config.store.path)
    now = DAY_ONE + timedelta(days=75)
    narrowed, rewritten_elsewhere = 0, 0
    try:
        for raw, folder in _stream(seed):
            ids = list(import_raw([RawMail(raw)], store, config, folder, after_batch=live.analyze).new_ids)
            before = stored_rows(store, DAY_ONE)
            live.flag_after(store, ids, now)
            last = live.engine._live.last
            assert last is not None
            narrowed += last.narrowed
            rewritten_elsewhere += any(
                row[0].split(":")[1] != str(ids[0]) for row in stored_rows(store, DAY_ONE) ^ before
            )
            oldest = store.earliest_date(ids)
            assert oldest is not None
            since = oldest - timedelta(days=config.flags.recompute_days)
            assert stored_rows(store, since) == recomputed_rows(reference, store, since, now)
    finally:
        store.close()
    assert narrowed > 60  # nearly every arrival
    assert rewritten_elsewhere  # new mail changed the flags of older mail, and the narrowed derivation wrote them

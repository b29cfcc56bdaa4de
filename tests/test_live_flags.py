"""The daemon's derivation after each arrival (kept views and flag rows) writes what a recompute writes."""

from __future__ import annotations

import random
from dataclasses import replace
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
from triage.flagging import FlagEngine, LiveMemo
from triage.model import Direction, Flag, FolderRole, RawMail
from triage.repeats import IDENTIFIER_WINDOW, REPEAT_WINDOW, RESEND_AFTER, find_repeats, find_unanswered, read_mail
from triage.store import Store, open_store
from triage.threads import link_replies
from triage.views import ViewReader, load_views


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
    finally:
        store.close()


def test_a_kept_flag_row_is_written_anew_when_the_flag_changed() -> None:
    memo = LiveMemo()
    flag = Flag("canned", 7, "medium", "The same reply text was sent 2 times", {"similar_replies": [1]}, ("<a>",))
    first = memo.row(flag, "v1")
    memo.keep([first])
    assert memo.row(replace(flag, evidence={"similar_replies": [1]}), "v1") is first  # equal: the row is kept
    memo.keep([first])
    grown = Flag("canned", 7, "medium", "The same reply text was sent 3 times", {"similar_replies": [1, 2]}, ())
    row = memo.row(grown, "v1")
    assert row["explanation"] == grown.explanation and row["evidence_json"] == '{"similar_replies": [1, 2]}'
    memo.keep([row])
    assert memo.row(grown, "v2")["rules_version"] == "v2"  # other rules: a new row


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

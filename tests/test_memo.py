"""Generational eviction: readings kept between derivations follow the window, not the history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from triage.analyze import Analyzer
from triage.checks import ExchangeReader, check_reply
from triage.config import Config
from triage.contacts import IdentifierReader, find_identifiers
from triage.flagging import FlagEngine
from triage.language import LanguageModels
from triage.memo import GenerationalMemo
from triage.model import Direction, MessageView
from triage.rules import Ruleset

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def ruleset(analyzer: Analyzer) -> Ruleset:
    return analyzer.classifier.ruleset


@pytest.fixture(scope="module")
def models(analyzer: Analyzer) -> LanguageModels:
    return analyzer.classifier.models


def test_an_entry_lives_while_the_current_or_previous_generation_reads_it() -> None:
    memo: GenerationalMemo[str, int] = GenerationalMemo()
    memo.put("read every time", 1)
    memo.put("read once", 2)
    memo.next_generation()
    assert memo.get("read every time") == 1  # from the previous generation, now in the current one
    assert "read once" in memo  # unread for one generation: still kept
    memo.next_generation()
    assert memo.get("read every time") == 1
    assert "read once" not in memo  # unread for two generations: dropped
    assert len(memo) == 1


def test_get_or_make_makes_only_what_neither_generation_holds() -> None:
    memo: GenerationalMemo[int, int] = GenerationalMemo()
    made: list[int] = []

    def make(key: int) -> int:
        made.append(key)
        return key * 10

    assert [memo.get_or_make(k, make) for k in (1, 2, 1)] == [10, 20, 10]
    memo.next_generation()
    assert memo.get_or_make(2, make) == 20
    memo.next_generation()
    memo.next_generation()  # 2 was read one generation ago, 1 two: both gone now
    assert memo.get_or_make(1, make) == 10
    assert made == [1, 2, 1]
    assert len(memo) == 1
    memo.clear()
    assert len(memo) == 0


def test_a_memo_cycled_through_new_keys_stays_at_two_generations() -> None:
    memo: GenerationalMemo[int, int] = GenerationalMemo()
    for generation in range(100):
        memo.next_generation()
        for key in range(generation * 50, generation * 50 + 100):  # half of each generation's keys are new
            memo.get_or_make(key, lambda k: k)
    assert len(memo) <= 150


def test_identifier_reader_forgets_texts_two_generations_unread(ruleset: Ruleset) -> None:
    calls: list[str] = []

    def find(text: str, rules: Ruleset) -> set[tuple[str, str]]:
        calls.append(text)
        return find_identifiers(text, rules)

    reader = IdentifierReader(ruleset, find)
    reader("my order ORD-48213 please")
    reader.next_generation()
    reader("my order ORD-48213 please")  # kept: read in the previous generation
    assert calls == ["my order ORD-48213 please"]
    for number in range(1000):
        reader.next_generation()
        reader(f"order ORD-{number:05d}")
    assert reader.size() == 2
    reader("my order ORD-48213 please")
    assert calls.count("my order ORD-48213 please") == 2


def view(number: int, direction: Direction, text: str, when: datetime) -> MessageView:
    customer = f"customer{number}@example.com"
    incoming = direction is Direction.IN
    return MessageView(
        id=number * 2 + (0 if incoming else 1),
        message_id=f"<{'q' if incoming else 'r'}{number}@example.com>",
        direction=direction,
        sender=customer if incoming else "help@shop.example",
        recipients=("help@shop.example",) if incoming else (customer,),
        date=when,
        subject="order" if incoming else "Re: order",
        subject_norm="order",
        in_reply_to=None if incoming else f"<q{number}@example.com>",
        references=() if incoming else (f"<q{number}@example.com>",),
        text=text,
        lang="en",
        automated=None,
        topics=(),
    )


def conversations(first: int, count: int) -> list[MessageView]:
    """Questions with their own order numbers and their replies, a day apart."""
    views = []
    for number in range(first, first + count):
        when = START + timedelta(days=number)
        asked = f"My order ORD-{40000 + number} has not arrived after {number % 9 + 2} days. Where is it?"
        answered = f"Your order ORD-{40000 + number} left our warehouse today; it arrives in {number % 5 + 1} days."
        views += [view(number, Direction.IN, asked, when), view(number, Direction.OUT, answered, when)]
    return views


def test_exchange_reader_keeps_what_the_last_two_generations_read(ruleset: Ruleset, models: LanguageModels) -> None:
    reader = ExchangeReader(ruleset, models)
    views = conversations(0, 20)
    pairs = list(zip(views[::2], views[1::2], strict=True))
    for asked, answer in pairs[:10]:
        check_reply(answer, [asked], ruleset, models, reader)
    first_size = reader.size()
    for asked, answer in pairs[10:]:
        reader.next_generation()
        check_reply(answer, [asked], ruleset, models, reader)
    assert 0 < reader.size() < first_size / 2  # one exchange in each of the last two generations


def test_readings_follow_the_window_not_the_history(ruleset: Ruleset, models: LanguageModels) -> None:
    """A daemon derives a sliding window: after it slid past old mail, it holds no more than a
    daemon that only ever saw the newest window, and its flags are those of a fresh engine."""
    now = START + timedelta(days=200)
    windows = [conversations(first, 30) for first in range(0, 150, 10)]  # each slides by 10 days
    sliding = FlagEngine(ruleset, models, Config())
    for window in windows:
        sliding.derive(window, now)
    sliding.derive(windows[-1], now)
    fresh = FlagEngine(ruleset, models, Config())
    fresh.derive(windows[-2], now)
    fresh.derive(windows[-1], now)
    fresh.derive(windows[-1], now)
    assert sliding.readings().sizes() == fresh.readings().sizes()
    assert sliding.derive(windows[-1], now) == FlagEngine(ruleset, models, Config()).derive(windows[-1], now)

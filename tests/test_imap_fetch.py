"""Reading FETCH answers as imaplib hands them over (the fast path and imapclient's parser behind it)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from triage.sources import imap
from triage.sources.imap import fetch_answers, fetched_mail, internal_datetime

BODY = b'From: a@example.com\r\nSubject: hi\r\n\r\nHello (with a ) and a "quote"\r\n'
DATE = b'"07-Mar-2026 09:15:02 +0700"'
MOMENT = datetime(2026, 3, 7, 2, 15, 2, tzinfo=UTC)


def answer(head: bytes, tail: bytes = b")", body: bytes = BODY) -> list[object]:
    return [(head + b" BODY[] {%d}" % len(body), body), tail]


@pytest.mark.parametrize(
    "shape",
    [
        answer(b"3 (UID 17 RFC822.SIZE 61 INTERNALDATE " + DATE),  # Dovecot's order
        answer(b"3 (RFC822.SIZE 61 INTERNALDATE " + DATE, b" UID 17)"),  # UID after the literal
        answer(b"3 (", b" UID 17 INTERNALDATE " + DATE + b" RFC822.SIZE 61)"),  # everything after it
        answer(b"3 (FLAGS (\\Seen) UID 17 RFC822.SIZE 61 INTERNALDATE " + DATE),  # an unasked item too
        [(b"3 (UID 17 BODY[] {%d}" % len(BODY), BODY), b" INTERNALDATE " + DATE + b" RFC822.SIZE 61)"],
    ],
)
def test_the_usual_answers_give_the_message_its_uid_size_and_date(shape: list[object]) -> None:
    mail = fetched_mail(shape)
    assert mail is not None
    assert (mail.uid, mail.size, mail.internal_date, mail.raw) == (17, 61, MOMENT, BODY)


def test_the_usual_answer_needs_no_general_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast reading is what makes a backfill's fetch cheap: it must not fall through silently."""

    def unused(*args: object, **kwargs: object) -> object:
        raise AssertionError("imapclient's parser read a usual answer")

    monkeypatch.setattr(imap, "parse_fetch_response", unused)
    mail = fetched_mail(answer(b"3 (UID 17 RFC822.SIZE 61 INTERNALDATE " + DATE))
    assert mail is not None and mail.uid == 17


def test_a_message_with_an_unreadable_date_is_kept_without_one() -> None:
    mail = fetched_mail(answer(b'3 (UID 17 RFC822.SIZE 61 INTERNALDATE "2026-03-07T09:15:02Z"'))
    assert mail is not None and (mail.uid, mail.raw, mail.internal_date) == (17, BODY, None)


def test_other_answers_are_read_by_imapclients_parser() -> None:
    quoted = [b"3 (UID 17 RFC822.SIZE 5 INTERNALDATE " + DATE + b' BODY[] "short")']
    mail = fetched_mail(quoted)
    assert mail is not None and (mail.uid, mail.raw, mail.internal_date) == (17, b"short", MOMENT)

    empty = [b"3 (UID 18 RFC822.SIZE 0 INTERNALDATE " + DATE + b" BODY[] NIL)"]
    mail = fetched_mail(empty)
    assert mail is not None and (mail.uid, mail.raw) == (18, b"")

    two_literals = [
        (b"3 (UID 19 BODY[HEADER] {4}", b"X: y"),
        (b" RFC822.SIZE 61 INTERNALDATE " + DATE + b" BODY[] {%d}" % len(BODY), BODY),
        b")",
    ]
    mail = fetched_mail(two_literals)
    assert mail is not None and (mail.uid, mail.raw, mail.size) == (19, BODY, 61)


def test_an_answer_without_a_uid_is_no_message() -> None:
    """An unsolicited flag change (`* 5 FETCH (FLAGS (\\Seen))`) must not pass for UID 5."""
    assert fetched_mail([b"5 (FLAGS (\\Seen))"]) is None
    assert fetched_mail(answer(b"5 (RFC822.SIZE 61 INTERNALDATE " + DATE)) is None


def test_fetch_answers_cuts_imaplibs_data_at_each_lines_end() -> None:
    first = answer(b"1 (UID 4 RFC822.SIZE 61 INTERNALDATE " + DATE)
    unsolicited = [b"9 (FLAGS (\\Seen))"]
    second = answer(b"2 (UID 5 RFC822.SIZE 61 INTERNALDATE " + DATE)
    assert list(fetch_answers([*first, *unsolicited, *second])) == [first, unsolicited, second]
    assert list(fetch_answers([None])) == []
    mails = [fetched_mail(a) for a in fetch_answers([*first, *unsolicited, *second])]
    assert [m.uid if m else None for m in mails] == [4, None, 5]


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        (b"07-Mar-2026 09:15:02 +0700", MOMENT),
        (b" 7-Mar-2026 09:15:02 +0700", MOMENT),  # RFC 3501's date-day-fixed: a space before one digit
        (b"06-mar-2026 19:15:02 -0700", MOMENT),
        (b"31-Dec-2025 23:59:59 +0000", datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_internal_dates_are_read_in_utc(text: bytes, moment: datetime) -> None:
    assert internal_datetime(text) == moment


@pytest.mark.parametrize(
    "text", [b"31-Feb-2026 10:00:00 +0000", b"07-Mrz-2026 09:15:02 +0700", b"2026-03-07T09:15:02Z"]
)
def test_other_dates_are_left_to_imapclients_parser(text: bytes) -> None:
    assert internal_datetime(text) is None

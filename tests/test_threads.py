"""Threads: which customer messages each reply answers, by headers first and by subject without them."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from triage.model import Direction, MessageView
from triage.threads import link_replies, thread_keys

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CUSTOMER = "lina.sari@example.net"
SUPPORT = "help@shop.example"


def mail(
    row: int,
    hours: float,
    text: str = "...",
    *,
    out: bool = False,
    subject: str = "Refund for order 55120",
    parent: MessageView | None = None,
    sender: str | None = None,
    to: str | None = None,
    automated: str | None = None,
) -> MessageView:
    references = (*parent.references, parent.message_id) if parent else ()
    return MessageView(
        id=row,
        message_id=f"<m{row}@test>",
        direction=Direction.OUT if out else Direction.IN,
        sender=sender or (SUPPORT if out else CUSTOMER),
        recipients=(to or (CUSTOMER if out else SUPPORT),),
        date=START + timedelta(hours=hours),
        subject=("Re: " if parent else "") + subject,
        subject_norm=subject.lower(),
        in_reply_to=parent.message_id if parent else None,
        references=references,
        text=text,
        lang="en",
        automated=automated,
    )


def shuffled_links(views: list[MessageView]) -> list[dict[int, tuple[int, ...]]]:
    results = []
    for seed in range(6):
        copy = views[:]
        random.Random(seed).shuffle(copy)
        results.append(link_replies(copy))
    return results


def test_reply_answers_the_message_it_replies_to() -> None:
    question = mail(1, 0, "Where is my refund?")
    reply = mail(2, 3, "It was sent today.", out=True, parent=question)
    assert link_replies([question, reply]) == {2: (1,)}


def test_customer_who_wrote_twice_is_answered_twice() -> None:
    first = mail(1, 0, "Where is my refund?")
    second = mail(2, 20, "Hello? Any news on my refund?", parent=first)
    reply = mail(3, 22, "Sorry, it was sent today.", out=True, parent=second)
    assert link_replies([first, second, reply]) == {3: (1, 2)}


def test_reply_to_the_first_message_also_answers_a_later_nudge() -> None:
    first = mail(1, 0, "Pesanan saya belum sampai.")
    nudge = mail(2, 5, "Mohon dibalas ya kak.")
    reply = mail(3, 8, "Paket sudah dikirim ulang.", out=True, parent=first)
    assert link_replies([first, nudge, reply]) == {3: (1, 2)}


def test_subject_change_inside_a_thread_is_a_new_question() -> None:
    question = mail(1, 0, "Where is my refund?")
    answer = mail(2, 2, "Sent today.", out=True, parent=question)
    new_question = mail(3, 4, "Can I get a copy of the invoice?", parent=answer, subject="Invoice copy")
    reply = mail(4, 6, "Attached.", out=True, parent=new_question, subject="Invoice copy")
    assert link_replies([question, answer, new_question, reply]) == {2: (1,), 4: (3,)}


def test_pending_message_with_another_subject_is_not_swept_up() -> None:
    refund = mail(1, 0, "Where is my refund?")
    invoice = mail(2, 1, "And I need an invoice copy.", subject="Invoice copy")
    reply = mail(3, 5, "Refund sent.", out=True, parent=refund)
    assert link_replies([refund, invoice, reply]) == {3: (1,)}


def test_without_headers_the_latest_unanswered_question_of_the_recipient_with_the_subject() -> None:
    older = mail(1, 0, "Where is my refund?")
    newer = mail(2, 30, "Still waiting for my refund.")
    other_subject = mail(3, 31, "Different matter", subject="Change my address")
    stranger = mail(4, 32, "My refund too!", sender="someone@example.org")
    reply = mail(5, 40, "Your refund was sent.", out=True, subject="Refund for order 55120")
    reply = replace(reply, subject="RE: Refund for order 55120")
    assert link_replies([older, newer, other_subject, stranger, reply]) == {5: (1, 2)}


def test_without_headers_recipient_address_is_normalised() -> None:
    question = mail(1, 0, "Where is my refund?", sender="Lina.Sari+shop@gmail.com")
    reply = mail(2, 3, "Sent.", out=True, to="linasari@googlemail.com")
    assert link_replies([question, reply]) == {2: (1,)}


def test_without_headers_a_second_reply_follows_up_the_same_question() -> None:
    question = mail(1, 0, "Kapan refund saya masuk?")
    first = mail(2, 2, "Sedang diproses.", out=True)
    second = mail(3, 30, "Sudah ditransfer hari ini.", out=True)
    assert link_replies([question, first, second]) == {2: (1,), 3: (1,)}


def test_auto_acknowledgements_answer_nothing() -> None:
    question = mail(1, 0, "Where is my refund?")
    ack = mail(2, 0.01, "We received your message.", out=True, parent=question, automated="auto-submitted")
    assert link_replies([question, ack]) == {}


def test_reply_to_our_own_reply_walks_up_to_the_question() -> None:
    question = mail(1, 0, "Where is my refund?")
    ack = mail(2, 0.01, "Ticket created.", out=True, parent=question, automated="auto-submitted")
    reply = mail(3, 5, "Refund sent.", out=True, parent=ack)
    assert link_replies([question, ack, reply]) == {3: (1,)}


def test_reply_to_unknown_message_falls_back_to_subject() -> None:
    question = mail(1, 0, "Where is my refund?")
    reply = mail(2, 3, "Sent.", out=True)
    reply = replace(reply, in_reply_to="<not-captured@test>")
    assert link_replies([question, reply]) == {2: (1,)}


def test_links_do_not_depend_on_input_order() -> None:
    first = mail(1, 0, "Where is my refund?")
    second = mail(2, 20, "Hello?", parent=first)
    reply = mail(3, 22, "Sent.", out=True, parent=second)
    follow_up = mail(4, 23, "It has not arrived.", parent=reply)
    no_header_reply = mail(5, 30, "It arrives tomorrow.", out=True)
    views = [first, second, reply, follow_up, no_header_reply]
    expected = {3: (1, 2), 5: (4,)}
    assert link_replies(views) == expected
    assert all(result == expected for result in shuffled_links(views))


def test_thread_keys_join_messages_linked_by_headers() -> None:
    first = mail(1, 0)
    reply = mail(2, 1, out=True, parent=first)
    again = mail(3, 2, parent=reply)
    alone = mail(4, 3, subject="Another thing")
    keys = thread_keys([again, alone, reply, first])
    assert keys[1] == keys[2] == keys[3] != keys[4]


def test_thread_keys_kept_from_the_last_call_follow_changed_headers() -> None:
    question = mail(1, 0)
    reply = mail(2, 1, out=True, parent=question)
    alone = mail(3, 2, subject="Other")
    assert thread_keys([question, reply, alone]) == {1: "<m1@test>", 2: "<m1@test>", 3: "<m3@test>"}
    again = [question, reply, replace(alone, in_reply_to="<m2@test>")]  # same rows, one header changed
    assert thread_keys(again) == {1: "<m1@test>", 2: "<m1@test>", 3: "<m1@test>"}
    assert thread_keys([replace(v, automated="auto-replied") for v in again]) is thread_keys(again)  # kept

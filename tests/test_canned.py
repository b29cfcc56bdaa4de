"""Canned replies: the same text sent to questions that differ is flagged; a fitting reuse is not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from triage.canned import find_canned, template_words
from triage.model import Direction, MessageView

TEMPLATE_EN = (
    "Hello {name},\n\nThank you for reaching out to us. We understand your concern and our team is looking "
    "into it. We appreciate your patience while we review your account and will update you as soon as possible."
)
TEMPLATE_ID = (
    "Halo Kak {name},\n\nTerima kasih sudah menghubungi kami. Keluhan Kakak sudah kami teruskan ke tim terkait "
    "dan akan segera ditindaklanjuti. Mohon kesediaannya untuk menunggu kabar selanjutnya dari kami ya Kak."
)
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def view(
    row: int,
    direction: Direction,
    text: str,
    topics: tuple[str, ...] = (),
    sender: str = "c@example.net",
    automated: str | None = None,
) -> MessageView:
    return MessageView(
        id=row,
        message_id=f"<m{row}@example.net>",
        direction=direction,
        sender=sender,
        recipients=(),
        date=START + timedelta(hours=row),
        subject="q",
        subject_norm="q",
        in_reply_to=None,
        references=(),
        text=text,
        lang="en",
        automated=automated,
        topics=topics,
    )


def pairs(questions: list[tuple[tuple[str, ...], str]], reply_texts: list[str]) -> tuple[list[MessageView], dict]:
    replies, questions_of = [], {}
    for index, ((topics, question_text), reply_text) in enumerate(zip(questions, reply_texts, strict=True)):
        question = view(100 + index, Direction.IN, question_text, topics, sender=f"c{index}@example.net")
        reply = view(200 + index, Direction.OUT, reply_text, sender="support@example.com")
        replies.append(reply)
        questions_of[reply.id] = [question]
    return replies, questions_of


def test_template_words_drop_greeting_names_and_numbers() -> None:
    words = template_words("Hi Ani,\nYour order 48213 ships on 12 Nov. Ani, thanks!", names=["Ani"])
    assert words == ["your", "order", "ships", "on", "nov", "thanks"]


def test_same_text_to_different_topics_is_canned_in_english() -> None:
    replies, questions_of = pairs(
        [
            (("billing",), "I was charged twice"),
            (("delivery",), "Where is my parcel?"),
            (("account-access",), "I cannot log in"),
        ],
        [TEMPLATE_EN.format(name=n) for n in ("Ann", "Bob", "Cyd")],
    )
    flags = find_canned(replies, questions_of, {})
    assert sorted(f.message for f in flags) == [200, 201, 202]
    assert all(f.kind == "canned" for f in flags)
    assert "3 times" in flags[0].explanation
    assert flags[0].evidence["similar_replies"]


def test_same_text_to_different_topics_is_canned_in_indonesian() -> None:
    replies, questions_of = pairs(
        [(("refund",), "dana saya belum kembali"), (("technical-issue",), "aplikasinya error terus")],
        [TEMPLATE_ID.format(name=n) for n in ("Dewi", "Rudi")],
    )
    assert {f.message for f in find_canned(replies, questions_of, {})} == {200, 201}


def test_same_text_to_same_topic_but_different_orders_is_canned() -> None:
    replies, questions_of = pairs(
        [(("delivery",), "Order ORD-1111 is late"), (("delivery",), "Order ORD-2222 is late")],
        [TEMPLATE_EN.format(name=n) for n in ("Ann", "Bob")],
    )
    specifics = {100: frozenset({"order:1111"}), 101: frozenset({"order:2222"})}
    assert len(find_canned(replies, questions_of, specifics)) == 2


def test_the_same_answer_to_the_same_plain_question_is_not_canned() -> None:
    answer = (
        "Our office is open Monday to Friday from 08:00 to 16:00 and Saturday from 08:00 to 12:00, "
        "closed on public holidays."
    )
    replies, questions_of = pairs(
        [(("general-inquiry",), "What are your opening hours?"), (("general-inquiry",), "When are you open?")],
        [answer, answer],
    )
    assert find_canned(replies, questions_of, {}) == []


def test_different_specific_replies_are_not_canned() -> None:
    replies, questions_of = pairs(
        [(("billing",), "charged twice"), (("delivery",), "parcel late")],
        [
            "We refunded the second charge of $49.90 on invoice INV-2026-0815; it reaches your card in 3 days.",
            "Your parcel ORD-48213 left Surabaya yesterday and the courier delivers it on Friday before noon.",
        ],
    )
    assert find_canned(replies, questions_of, {}) == []


def test_short_replies_and_auto_acknowledgements_are_left_to_other_checks() -> None:
    replies, questions_of = pairs([(("billing",), "a"), (("delivery",), "b")], ["Done, thanks!", "Done, thanks!"])
    assert find_canned(replies, questions_of, {}) == []
    acks = [view(300 + i, Direction.OUT, TEMPLATE_EN.format(name="x"), automated="Auto-Submitted") for i in range(2)]
    assert find_canned(acks, {a.id: [view(1, Direction.IN, "q", ("billing",))] for a in acks}, {}) == []

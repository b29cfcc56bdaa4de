"""Repeat contacts, unresolved replies and unanswered mail, on invented English and Indonesian threads."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from triage.contacts import resolve_contacts
from triage.model import Direction, Flag, MessageView
from triage.repeats import (
    _follows_answers,
    _phrase_pattern,
    find_repeats,
    find_unanswered,
    is_thanks_only,
    normalise_text,
)
from triage.rules import Ruleset, default_rules_dir, load_rules
from triage.threads import link_replies

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SUPPORT = ("help@shop.example",)


@pytest.fixture(scope="module")
def ruleset() -> Ruleset:
    return load_rules([default_rules_dir()])


@dataclass
class Mailbox:
    """Builds a conversation message by message: customer mail in, our replies out."""

    customer: str = "tomi.wijaya@example.net"
    views: list[MessageView] = field(default_factory=list)

    def write(
        self,
        days: float,
        text: str,
        *,
        subject: str = "Refund for order 55120",
        parent: MessageView | None = None,
        topics: tuple[str, ...] = ("refund",),
        sender: str | None = None,
        lang: str = "en",
        automated: str | None = None,
    ) -> MessageView:
        return self._add(
            Direction.IN,
            sender or self.customer,
            (SUPPORT[0],),
            days,
            text,
            subject,
            parent,
            topics,
            lang,
            automated,
        )

    def reply(self, days: float, text: str, parent: MessageView, *, automated: str | None = None) -> MessageView:
        return self._add(
            Direction.OUT,
            SUPPORT[0],
            (parent.sender,),
            days,
            text,
            parent.subject_norm,
            parent,
            (),
            parent.lang,
            automated,
        )

    def _add(
        self,
        direction: Direction,
        sender: str,
        to: tuple[str, ...],
        days: float,
        text: str,
        subject: str,
        parent: MessageView | None,
        topics: tuple[str, ...],
        lang: str,
        automated: str | None,
    ) -> MessageView:
        row = len(self.views) + 1
        view = MessageView(
            id=row,
            message_id=f"<m{row}@test>",
            direction=direction,
            sender=sender,
            recipients=to,
            date=START + timedelta(days=days),
            subject=("Re: " if parent else "") + subject,
            subject_norm=subject.lower(),
            in_reply_to=parent.message_id if parent else None,
            references=(*parent.references, parent.message_id) if parent else (),
            text=text,
            lang=lang,
            automated=automated,
            topics=topics,
        )
        self.views.append(view)
        return view


def repeats(box: Mailbox, ruleset: Ruleset, **options: object) -> list[Flag]:
    views = box.views
    return find_repeats(views, resolve_contacts(views, ruleset, SUPPORT), link_replies(views), ruleset, **options)  # type: ignore[arg-type]


def kinds(flags: list[Flag]) -> set[tuple[str, int]]:
    return {(f.kind, f.message) for f in flags}


# ---------------------------------------------------------------------------------------------
# Repeat contacts that must be flagged
# ---------------------------------------------------------------------------------------------


def test_still_broken_after_a_reply_is_a_repeat_and_the_reply_unresolved(ruleset: Ruleset) -> None:
    box = Mailbox()
    question = box.write(
        0,
        "The connection cuts out several times each night. Can you check the line?",
        subject="Connection cuts out at night",
        topics=("technical-issue",),
    )
    reply = box.reply(0.2, "We reset your port, it should be stable now.", question)
    again = box.write(
        3,
        "Sorry, but the line is still cutting out every night and nothing has changed.",
        subject="Connection cuts out at night",
        parent=reply,
        topics=("technical-issue",),
    )
    flags = repeats(box, ruleset)
    assert kinds(flags) == {("repeat-contact", again.id), ("unresolved", reply.id)}
    flag = next(f for f in flags if f.kind == "repeat-contact")
    assert flag.explanation.startswith("Second message in 3 days about technical-issue from this customer")
    assert "the earlier reply on 2 Mar did not resolve it" in flag.explanation
    assert "nothing has changed" in flag.evidence["phrases"]  # type: ignore[operator]
    assert flag.related == (question.message_id, reply.message_id)
    unresolved = next(f for f in flags if f.kind == "unresolved")
    assert unresolved.evidence["question"] == question.message_id


def test_writing_again_without_any_reply_is_a_high_repeat(ruleset: Ruleset) -> None:
    box = Mailbox()
    question = box.write(0, "I returned the blender two weeks ago. When is my money coming back?")
    box.reply(0.001, "We received your message.", question, automated="auto-submitted")
    again = box.write(2, "Hello, I am writing to ask about the blender refund.", parent=question)
    flags = repeats(box, ruleset)
    assert kinds(flags) == {("repeat-contact", again.id)}  # nothing to mark unresolved: no real reply
    assert flags[0].severity == "high"
    assert flags[0].explanation.endswith("the earlier mail got no reply.")


def test_indonesian_repeat_after_a_reply(ruleset: Ruleset) -> None:
    box = Mailbox(customer="citra.anggraini@example.net")
    question = box.write(
        0,
        "Paket saya belum sampai, mohon dicek.",
        subject="Paket belum sampai",
        topics=("delivery",),
        lang="id",
    )
    reply = box.reply(1, "Paket sedang dalam perjalanan, estimasi 2 hari.", question)
    again = box.write(
        5,
        "Sudah berkali-kali saya tanya, paketnya masih belum sampai juga.",
        subject="Paket belum sampai",
        parent=reply,
        topics=("delivery",),
        lang="id",
    )
    assert kinds(repeats(box, ruleset)) == {("repeat-contact", again.id), ("unresolved", reply.id)}


def test_informal_indonesian_is_normalised_before_matching(ruleset: Ruleset) -> None:
    box = Mailbox(customer="wina@example.net")
    question = box.write(0, "kak tagihan sy dobel", subject="tagihan dobel", topics=("billing",), lang="id")
    reply = box.reply(0.5, "Baik kak, kami cek dulu ya.", question)
    again = box.write(
        2,
        "kak msh blm ada kabar ttg tagihan sy",
        subject="tagihan dobel",
        parent=reply,
        topics=("billing",),
        lang="id",
    )
    assert ("repeat-contact", again.id) in kinds(repeats(box, ruleset))


def test_second_address_citing_the_same_order_in_a_new_thread(ruleset: Ruleset) -> None:
    box = Mailbox(customer="farida.n@gmail.com")
    question = box.write(0, "Order NX-2026-00417 was cancelled but I was not refunded.")
    reply = box.reply(1, "Please allow 14 days.", question)
    again = box.write(
        20,
        "Writing from my office. Where is the money for NX-2026-00417?",
        subject="Refund NX-2026-00417",
        sender="farida@kantor.example",
        topics=("refund",),
    )
    flags = repeats(box, ruleset)
    assert kinds(flags) == {("repeat-contact", again.id), ("unresolved", reply.id)}
    flag = next(f for f in flags if f.kind == "repeat-contact")
    assert "NX202600417" in flag.evidence["identifiers"]  # type: ignore[operator]
    assert "earlier from farida.n@gmail.com" in flag.explanation


def test_same_topic_in_a_new_thread_inside_the_window(ruleset: Ruleset) -> None:
    box = Mailbox()
    question = box.write(
        0, "My invoice shows a charge I do not recognise.", subject="Strange charge", topics=("billing",)
    )
    box.reply(1, "That is the installation fee.", question)
    again = box.write(
        6, "Why was I billed for installation? It was free.", subject="Installation fee", topics=("billing",)
    )
    flags = repeats(box, ruleset)
    flag = next(f for f in flags if f.kind == "repeat-contact")
    assert flag.message == again.id and flag.severity == "low"


def test_saying_so_counts_even_on_another_topic(ruleset: Ruleset) -> None:
    box = Mailbox(customer="bayu@example.net")
    box.write(0, "Bagaimana cara ganti email akun?", subject="Ganti email", topics=("data-change",), lang="id")
    again = box.write(
        3,
        "Ini sudah pernah saya tanyakan, tolong bantu login akun saya.",
        subject="Login gagal",
        topics=("account-access",),
        lang="id",
    )
    assert kinds(repeats(box, ruleset)) == {("repeat-contact", again.id)}


def test_follow_up_after_a_reply_the_checks_failed(ruleset: Ruleset) -> None:
    box = Mailbox()
    question = box.write(
        0,
        "Can I collect my order at your warehouse instead of delivery?",
        subject="Pickup instead of delivery",
        topics=("delivery",),
    )
    canned = box.reply(0.2, "Thank you for contacting us. Your concern has been forwarded.", question)
    follow_up = box.write(
        1,
        "I only need to know if pickup at the warehouse is possible.",
        subject="Pickup instead of delivery",
        parent=canned,
        topics=("delivery",),
    )
    assert ("repeat-contact", follow_up.id) not in kinds(repeats(box, ruleset))
    flags = repeats(box, ruleset, failed_replies={canned.id})
    assert kinds(flags) == {("repeat-contact", follow_up.id), ("unresolved", canned.id)}


def test_case_number_counts_beyond_the_topic_window(ruleset: Ruleset) -> None:
    box = Mailbox()
    question = box.write(0, "Warranty claim KLM-2026-88120 for my kettle is open.")
    box.reply(1, "It will be returned within 14 working days.", question)
    cited = box.write(30, "Claim KLM-2026-88120: no replacement kettle yet.", subject="Kettle replacement")
    assert ("repeat-contact", cited.id) in kinds(repeats(box, ruleset))


def test_third_message_is_high_and_one_unresolved_flag_lists_both_repeats(ruleset: Ruleset) -> None:
    box = Mailbox(customer="nina@example.net")
    question = box.write(0, "My parcel RESI JX4410982231 is lost.", subject="Lost parcel", topics=("delivery",))
    reply = box.reply(0.5, "We asked the courier.", question)
    second = box.write(
        2, "Any update? It is still not here.", subject="Lost parcel", parent=reply, topics=("delivery",)
    )
    third = box.write(
        3,
        "For the third time: where is my parcel?",
        subject="Lost parcel",
        parent=reply,
        topics=("delivery",),
    )
    flags = repeats(box, ruleset)
    assert kinds(flags) == {
        ("repeat-contact", second.id),
        ("repeat-contact", third.id),
        ("unresolved", reply.id),
    }
    assert next(f for f in flags if f.message == third.id).explanation.startswith("Third message")
    unresolved = next(f for f in flags if f.kind == "unresolved")
    assert unresolved.severity == "high" and len(unresolved.evidence["repeats"]) == 2  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Mail that must not be flagged as a repeat
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Thanks, that solved it!", "en"),
        ("Got it, works now. Thank you so much.", "en"),
        ("makasih kak sudah beres", "id"),
        ("Baik Bu, terima kasih banyak atas bantuannya.", "id"),
    ],
)
def test_thank_you_only_is_never_a_repeat(ruleset: Ruleset, text: str, lang: str) -> None:
    box = Mailbox()
    question = box.write(0, "My refund has not arrived, please check.")
    reply = box.reply(0.3, "Sent today.", question)
    thanks = box.write(1, text, parent=reply, lang=lang)
    assert is_thanks_only(thanks, ruleset)
    assert repeats(box, ruleset) == []


@pytest.mark.parametrize(
    "text",
    [
        "Thanks, but is it still possible to change the delivery address?",
        "Terima kasih. Mohon kirim fakturnya ke email saya.",
        "Thank you. My internet is still down though.",
    ],
)
def test_thanks_with_a_question_request_or_complaint_is_not_thanks_only(ruleset: Ruleset, text: str) -> None:
    box = Mailbox()
    assert not is_thanks_only(box.write(0, text), ruleset)


def test_follow_up_that_goes_on_with_the_conversation_is_not_a_repeat(ruleset: Ruleset) -> None:
    box = Mailbox(customer="yoga@example.net")
    question = box.write(
        0,
        "Saldo saya terdebet dua kali untuk tagihan Maret.",
        subject="Debit ganda",
        topics=("billing",),
        lang="id",
    )
    reply = box.reply(
        0.2,
        "Betul ada debit ganda. Dananya mau dikembalikan atau dipotong dari tagihan berikutnya?",
        question,
    )
    choice = box.write(
        0.3,
        "Dikembalikan saja ke rekening BNI 0291887766.",
        subject="Debit ganda",
        parent=reply,
        topics=("refund",),
        lang="id",
    )
    assert repeats(box, ruleset) == []
    assert choice.id not in {f.message for f in repeats(box, ruleset)}


def test_new_unrelated_question_from_the_same_customer_is_not_a_repeat(ruleset: Ruleset) -> None:
    box = Mailbox()
    question = box.write(0, "How do I reset my password?", subject="Password reset", topics=("account-access",))
    box.reply(0.2, "Use the Forgot password link.", question)
    box.write(
        5,
        "Do you deliver to Bali? What does it cost?",
        subject="Delivery to Bali",
        topics=("delivery", "general-inquiry"),
    )
    assert repeats(box, ruleset) == []


def test_still_in_a_new_unrelated_mail_needs_context(ruleset: Ruleset) -> None:
    box = Mailbox()
    box.write(0, "Please change my address to Jl. Mawar 5.", subject="New address", topics=("data-change",))
    box.write(4, "My parcel is still not here after a week.", subject="Parcel late", topics=("delivery",))
    assert repeats(box, ruleset) == []


def test_quick_addendum_before_any_reply_is_not_a_repeat(ruleset: Ruleset) -> None:
    box = Mailbox()
    question = box.write(0, "My refund has not arrived.")
    box.write(0.02, "Forgot to say: I paid by card.", parent=question)
    assert repeats(box, ruleset) == []


def test_same_topic_after_the_customer_thanked_us_is_a_new_matter(ruleset: Ruleset) -> None:
    box = Mailbox()
    question = box.write(0, "Wrong amount on my March invoice.", subject="March invoice", topics=("billing",))
    reply = box.reply(0.2, "Corrected, sorry.", question)
    box.write(0.5, "Thanks, all good now!", subject="March invoice", parent=reply, topics=())
    box.write(8, "How can I change my payment method to card?", subject="Payment method", topics=("billing",))
    assert repeats(box, ruleset) == []


def test_topic_only_repeat_is_limited_to_the_window(ruleset: Ruleset) -> None:
    box = Mailbox()
    box.write(0, "The charger I bought is broken.", subject="Broken charger", topics=("technical-issue",))
    box.write(20, "My new cable is broken as well.", subject="Broken cable", topics=("technical-issue",))
    assert repeats(box, ruleset) == []
    assert repeats(box, ruleset, window=timedelta(days=30)) != []


def test_automated_mail_is_never_a_repeat(ruleset: Ruleset) -> None:
    box = Mailbox()
    box.write(0, "Where is my refund for order 55120?")
    box.write(3, "Out of office: I am away until Monday, still no refund.", automated="auto-reply")
    assert repeats(box, ruleset) == []


def test_repeat_flags_do_not_depend_on_input_order(ruleset: Ruleset) -> None:
    box = conversation_mix()
    expected = repeats(box, ruleset)
    assert {f.kind for f in expected} == {"repeat-contact", "unresolved"}
    for seed in range(6):
        shuffled = box.views[:]
        random.Random(seed).shuffle(shuffled)
        flags = find_repeats(shuffled, resolve_contacts(shuffled, ruleset, SUPPORT), link_replies(shuffled), ruleset)
        assert flags == expected


def conversation_mix() -> Mailbox:
    box = Mailbox()
    first = box.write(0, "Order NX-2026-00417 arrived damaged.", subject="Damaged item", topics=("refund",))
    reply = box.reply(1, "Please send photos.", first)
    box.write(1.1, "Photos attached.", subject="Damaged item", parent=reply)
    box.write(4, "Still no reply about NX-2026-00417!", subject="Damaged NX-2026-00417", sender="tomi@work.example")
    box.write(
        4,
        "Apakah toko buka hari Minggu?",
        subject="Jam buka",
        topics=("general-inquiry",),
        lang="id",
        sender="other@example.net",
    )
    return box


# ---------------------------------------------------------------------------------------------
# Unanswered mail
# ---------------------------------------------------------------------------------------------


def test_question_without_a_real_reply_after_the_sla(ruleset: Ruleset) -> None:
    box = Mailbox()
    question = box.write(0, "When will my refund arrive?")
    box.reply(0.001, "We received your message.", question, automated="auto-submitted")
    now = START + timedelta(hours=30)
    flags = find_unanswered(box.views, link_replies(box.views), now, 24, ruleset=ruleset)
    assert [(f.kind, f.message) for f in flags] == [("unanswered", question.id)]
    assert "only an automatic acknowledgement" in flags[0].explanation
    assert flags[0].evidence["auto_acks"] == ["<m2@test>"]
    assert find_unanswered(box.views, link_replies(box.views), START + timedelta(hours=20), 24) == []
    assert find_unanswered(box.views, link_replies(box.views), START + timedelta(days=4), 24)[0].severity == "high"


def test_reply_after_the_second_message_answers_both(ruleset: Ruleset) -> None:
    box = Mailbox()
    first = box.write(0, "When will my refund arrive?")
    second = box.write(1.5, "Hello? Anyone there?", parent=first)
    box.reply(2, "It arrives tomorrow.", second)
    assert find_unanswered(box.views, link_replies(box.views), START + timedelta(days=5), 24) == []


def test_a_reply_after_now_does_not_count(ruleset: Ruleset) -> None:
    box = Mailbox()
    question = box.write(0, "When will my refund arrive?")
    box.reply(3, "Tomorrow.", question)
    flags = find_unanswered(box.views, link_replies(box.views), START + timedelta(days=2), 24)
    assert [f.message for f in flags] == [question.id]


def test_thanks_newsletters_and_acknowledgements_need_no_reply(ruleset: Ruleset) -> None:
    box = Mailbox()
    question = box.write(0, "Kapan refund saya diproses?", lang="id")
    reply = box.reply(0.5, "Sudah diproses hari ini.", question)
    box.write(0.6, "Oke, makasih kak!", parent=reply, topics=(), lang="id")
    box.write(0.7, "Siap, saya tunggu dananya masuk ya.", parent=reply, lang="id")
    box.write(1, "FLASH SALE this weekend only!", subject="Promo", topics=(), sender="news@promo.example")
    links = link_replies(box.views)
    assert find_unanswered(box.views, links, START + timedelta(days=5), 24, ruleset=ruleset) == []
    without_rules = find_unanswered(box.views, links, START + timedelta(days=5), 24)
    assert len(without_rules) == 1  # without the phrase lists the last follow-up looks like a question


def test_question_answered_through_its_repeat_in_another_thread(ruleset: Ruleset) -> None:
    box = Mailbox(customer="lukas@example.net")
    first = box.write(
        0,
        "My member no. 5512345678 card was not renewed.",
        subject="Card renewal",
        topics=("account-access",),
    )
    again = box.write(
        3,
        "I emailed you three days ago, member no. 5512345678 is still not renewed.",
        subject="Renewal still pending",
        sender="lukas@office.example",
        topics=("account-access",),
    )
    box.reply(3.1, "Renewed now, sorry for the wait.", again)
    views, links, now = box.views, link_replies(box.views), START + timedelta(days=6)
    assert [f.message for f in find_unanswered(views, links, now, 24)] == [first.id]
    contacts = resolve_contacts(views, ruleset, SUPPORT)
    assert find_unanswered(views, links, now, 24, ruleset=ruleset, contacts=contacts) == []


def test_unanswered_does_not_depend_on_input_order(ruleset: Ruleset) -> None:
    box = conversation_mix()
    now = START + timedelta(days=10)
    expected = find_unanswered(box.views, link_replies(box.views), now, 24, ruleset=ruleset)
    assert expected
    for seed in range(4):
        shuffled = box.views[:]
        random.Random(seed).shuffle(shuffled)
        assert find_unanswered(shuffled, link_replies(shuffled), now, 24, ruleset=ruleset) == expected


# --- phrase matching: the trie finds what trying each phrase longest first found ----------------


def phrases_longest_first(phrases: tuple[str, ...], text: str) -> set[str]:
    """The phrase pattern as it was: one alternative per phrase, longest first."""
    alternatives = [
        r"\s+".join(re.escape(word) for word in phrase.split()) + r"(?!\w)"
        for phrase in sorted({" ".join(p.lower().split()) for p in phrases}, key=len, reverse=True)
    ]
    return {m.group(1) for m in re.finditer(r"(?<!\w)(?=(" + "|".join(alternatives) + "))", text)}


@pytest.mark.parametrize("seed", range(4))
def test_phrase_trie_finds_what_longest_first_found(seed: int) -> None:
    rng = random.Random(seed)
    words = ["still", "not", "no", "working", "i", "already", "asked", "a", "again", "(", "?", "sudah", "belum"]
    phrases = tuple({" ".join(rng.choice(words) for _ in range(rng.randrange(1, 4))) for _ in range(25)})
    pattern = _phrase_pattern(phrases)
    assert pattern is not None
    for _ in range(200):
        text = " ".join(rng.choice(words) for _ in range(12)).replace("( ", "(")
        assert {m.group(1) for m in pattern.finditer(text)} == phrases_longest_first(phrases, text), text


def test_normalise_text_replaces_whole_words_in_both_tables(ruleset: Ruleset) -> None:
    assert normalise_text("Makasih, gak bisa login  pls\nI can't", ruleset) == normalise_text(
        "makasih, gak bisa login pls i can't", ruleset
    )
    assert "terima kasih" in normalise_text("Makasih ya", ruleset)
    assert normalise_text("makasihku", ruleset) == "makasihku"  # not a whole word of the table


def test_follow_ups_found_in_one_pass_are_those_of_asking_every_earlier_message() -> None:
    rng = random.Random(7)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    views = [
        MessageView(
            id=row,
            message_id=f"<m{row}@x>",
            direction=rng.choice([Direction.IN, Direction.IN, Direction.OUT]),
            sender=rng.choice(["a@x.example", "A@x.example", "b@x.example"]),
            recipients=(),
            date=start + timedelta(hours=rng.randrange(200)),
            subject="",
            subject_norm=rng.choice(["", "refund", "login"]),
            in_reply_to=None,
            references=(),
            text="",
            lang="en",
            automated=None,
        )
        for row in range(150)
    ]
    ordered = sorted(views, key=lambda v: (v.date, v.id))
    answered = {v.id for v in views if rng.random() < 0.4}
    threads = {v.id: rng.choice(["t1", "t2"]) for v in views}

    def follows(view: MessageView) -> bool:
        return any(
            q.direction is Direction.IN
            and q.sender.lower() == view.sender.lower()
            and q.id in answered
            and (q.date, q.id) < (view.date, view.id)
            and q.subject_norm == view.subject_norm
            and (bool(q.subject_norm) or threads[q.id] == threads[view.id])
            for q in views
        )

    expected = {v.id for v in views if v.direction is Direction.IN and follows(v)}
    assert _follows_answers(ordered, answered, threads) == expected
    assert expected

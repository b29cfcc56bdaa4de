"""Canned replies: the same text sent to questions that differ is flagged; a fitting reuse is not."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import pytest

from triage.canned import (
    BANDS,
    PERMUTATIONS,
    ROWS,
    SAME_TEXT,
    ReplyText,
    find_canned,
    minhash,
    shingles,
    similar_groups,
    template_words,
)
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


# --- the MinHash LSH written out with numpy is datasketch's ------------------------------------


def random_texts(seed: int, count: int) -> list[frozenset[str]]:
    """Shingle sets: variants of a few templates (some words changed) and unrelated texts."""
    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(60)]
    templates = [[rng.choice(vocabulary) for _ in range(30)] for _ in range(4)]
    texts = []
    for _ in range(count):
        words = list(rng.choice(templates)) if rng.random() < 0.8 else [rng.choice(vocabulary) for _ in range(30)]
        for _ in range(rng.randrange(6)):
            words[rng.randrange(len(words))] = rng.choice(vocabulary)
        texts.append(frozenset(shingles(words)))
    return texts


def test_minhash_signatures_are_datasketchs() -> None:
    from datasketch import MinHash

    for items in random_texts(1, 40):
        expected = MinHash(num_perm=PERMUTATIONS, seed=7)
        expected.update_batch([item.encode("utf-8") for item in items])
        assert minhash(items).tolist() == expected.hashvalues.tolist()


def test_lsh_bands_are_those_datasketch_picks() -> None:
    from datasketch.lsh import _optimal_param

    assert _optimal_param(SAME_TEXT, PERMUTATIONS, 0.5, 0.5) == (BANDS, ROWS)


def datasketch_groups(replies: list[ReplyText]) -> list[list[int]]:
    """similar_groups as it was written with datasketch's MinHashLSH (the reference)."""
    from datasketch import MinHash, MinHashLSH

    index = MinHashLSH(threshold=SAME_TEXT, num_perm=PERMUTATIONS)
    signatures = {}
    for item in replies:
        signatures[item.reply.id] = MinHash(num_perm=PERMUTATIONS, seed=7)
        signatures[item.reply.id].update_batch([s.encode("utf-8") for s in item.shingles])
        index.insert(item.reply.id, signatures[item.reply.id])
    by_id = {item.reply.id: item for item in replies}
    parent = {item.reply.id: item.reply.id for item in replies}

    def root(node: int) -> int:
        while parent[node] != node:
            node = parent[node]
        return node

    for item in replies:
        for other in index.query(signatures[item.reply.id]):
            a, b = item.shingles, by_id[other].shingles
            if other != item.reply.id and len(a & b) / len(a | b) >= SAME_TEXT:
                parent[root(other)] = root(item.reply.id)
    groups: dict[int, list[int]] = {}
    for item in replies:
        groups.setdefault(root(item.reply.id), []).append(item.reply.id)
    return [g for g in groups.values() if len(g) > 1]


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_similar_groups_are_those_of_datasketchs_lsh(seed: int) -> None:
    replies = [
        ReplyText(view(row, Direction.OUT, "text"), (), text) for row, text in enumerate(random_texts(seed, 120))
    ]
    groups = [[item.reply.id for item in group] for group in similar_groups(replies)]
    assert groups == datasketch_groups(replies)
    assert groups  # the random texts do make groups


def test_flags_of_a_group_are_those_of_comparing_every_pair() -> None:
    rng = random.Random(5)
    topics = [("refund",), ("delivery",), ("refund", "delivery")]
    texts = [
        rng.choice(["Order ORD-48213 arrived late.", "Where is my parcel?", "Refund my order 55120-88."])
        for _ in range(30)
    ]
    questions = [(rng.choice(topics), text) for text in texts]
    replies, questions_of = pairs(questions, [TEMPLATE_EN.format(name="Kim")] * len(questions))
    del questions_of[replies[3].id]  # a reply that answers nothing is compared with no other
    specifics = {
        q.id: frozenset({q.text[:12]}) if "ORD" in q.text else frozenset() for qs in questions_of.values() for q in qs
    }
    flags = {f.message: f for f in find_canned(replies, questions_of, specifics)}

    def asked(reply: MessageView) -> tuple[frozenset[str], frozenset[str]] | None:
        found = questions_of.get(reply.id)
        if not found:
            return None
        return frozenset(found[0].topics), specifics.get(found[0].id, frozenset())

    for reply in replies:
        mine = asked(reply)
        differing = [o for o in replies if mine is not None and asked(o) not in (None, mine)]
        assert (reply.id in flags) == bool(differing)
        if differing:
            shown = flags[reply.id].evidence["similar_replies"]
            assert [s["message_id"] for s in shown] == [o.message_id for o in differing[:10]]  # type: ignore[index]


def test_a_template_sent_thousands_of_times_takes_linear_time() -> None:
    count = 3000
    questions = [((f"topic{i % 7}",), f"Question {i}") for i in range(count)]
    replies, questions_of = pairs(questions, [TEMPLATE_EN.format(name="Kim")] * count)
    started = time.process_time()
    flags = find_canned(replies, questions_of, {})
    assert len(flags) == count
    assert time.process_time() - started < 10  # comparing every pair took minutes

"""Canned replies: near-identical reply texts (MinHash LSH) sent to questions that differ."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from triage.model import Flag, MessageView

GREETING = re.compile(
    r"^\s*(hi|hello|hey|dear|good (morning|afternoon|evening)|halo|hai|selamat (pagi|siang|sore|malam)|"
    r"yth\.?|kepada|dengan hormat|salam)\b[^\n]*\n",
    re.IGNORECASE,
)
NUMBER = re.compile(r"\d[\d.,/:-]*")
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
PERMUTATIONS = 64
SHINGLE = 3
# Jaccard similarity of word 3-shingles above which two replies count as the same text.
SAME_TEXT = 0.6
MIN_WORDS = 8  # very short replies ("Done, thanks!") are not templates worth reporting


def template_words(text: str, names: Sequence[str] = ()) -> list[str]:
    """The words of a reply with greeting, names and numbers removed: what a template keeps."""
    text = GREETING.sub("", text + "\n", count=1)
    text = NUMBER.sub(" ", text)
    skip = {part.lower() for name in names for part in WORD.findall(name)}
    return [w for w in (m.lower() for m in WORD.findall(text)) if w not in skip]


def shingles(words: Sequence[str]) -> set[str]:
    if len(words) < SHINGLE:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


def minhash(items: set[str]) -> Any:
    from datasketch import MinHash  # imported on use: it pulls in scipy, half a second per CLI start

    signature = MinHash(num_perm=PERMUTATIONS, seed=7)
    signature.update_batch([item.encode("utf-8") for item in items])
    return signature


@dataclass(frozen=True)
class ReplyText:
    reply: MessageView
    questions: tuple[MessageView, ...]
    shingles: frozenset[str]


def similar_groups(replies: Sequence[ReplyText]) -> list[list[ReplyText]]:
    """Groups of replies whose texts are near-identical (connected through LSH neighbours)."""
    from datasketch import MinHashLSH

    index = MinHashLSH(threshold=SAME_TEXT, num_perm=PERMUTATIONS)
    signatures = {}
    for item in replies:
        signatures[item.reply.id] = minhash(set(item.shingles))
        index.insert(item.reply.id, signatures[item.reply.id])
    by_id = {item.reply.id: item for item in replies}
    parent = {item.reply.id: item.reply.id for item in replies}

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for item in replies:
        for other in index.query(signatures[item.reply.id]):
            if other != item.reply.id and _jaccard(item.shingles, by_id[other].shingles) >= SAME_TEXT:
                parent[root(other)] = root(item.reply.id)
    groups: dict[int, list[ReplyText]] = {}
    for item in replies:
        groups.setdefault(root(item.reply.id), []).append(item)
    return [sorted(g, key=lambda i: (i.reply.date, i.reply.id)) for g in groups.values() if len(g) > 1]


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def find_canned(
    replies: Sequence[MessageView],
    questions_of: Mapping[int, Sequence[MessageView]],
    specifics_of: Mapping[int, frozenset[str]],
) -> list[Flag]:
    """Flag every reply whose near-identical text also went to a question that differs from its own.

    `questions_of` maps a reply's row id to the questions it answers; `specifics_of` maps a
    question's row id to what makes it particular (cited numbers, amounts, dates, devices).
    """
    texts = []
    for reply in replies:
        if reply.automated:
            continue  # auto-acknowledgements are their own check
        questions = tuple(questions_of.get(reply.id, ()))
        words = template_words(reply.text, [n for q in questions for n in (q.sender.split("@")[0],)])
        if len(words) >= MIN_WORDS:
            texts.append(ReplyText(reply, questions, frozenset(shingles(words))))
    flags = []
    for group in similar_groups(texts):
        for item in group:
            differing = [o for o in group if o is not item and _questions_differ(item, o, specifics_of)]
            if differing:
                flags.append(_flag(item, differing, len(group)))
    return flags


def _questions_differ(a: ReplyText, b: ReplyText, specifics_of: Mapping[int, frozenset[str]]) -> bool:
    if not a.questions or not b.questions:
        return False
    topics_a = {t for q in a.questions for t in q.topics}
    topics_b = {t for q in b.questions for t in q.topics}
    if topics_a != topics_b:
        return True
    specifics_a = frozenset().union(*(specifics_of.get(q.id, frozenset()) for q in a.questions))
    specifics_b = frozenset().union(*(specifics_of.get(q.id, frozenset()) for q in b.questions))
    return bool(specifics_a or specifics_b) and specifics_a != specifics_b


def _flag(item: ReplyText, others: list[ReplyText], group_size: int) -> Flag:
    topics = sorted({t for o in [item, *others] for q in o.questions for t in q.topics})
    return Flag(
        kind="canned",
        message=item.reply.id,
        severity="medium",
        explanation=(
            f"The same reply text was sent {group_size} times, to questions about "
            f"{', '.join(topics) or 'different things'}; it does not adapt to this customer's question."
        ),
        evidence={
            "similar_replies": [
                {
                    "message_id": o.reply.message_id,
                    "date": o.reply.date.isoformat(),
                    "questions": [q.message_id for q in o.questions],
                    "question_topics": sorted({t for q in o.questions for t in q.topics}),
                }
                for o in others[:10]
            ],
            "this_question_topics": sorted({t for q in item.questions for t in q.topics}),
        },
        related=tuple(q.message_id for q in item.questions) + tuple(o.reply.message_id for o in others[:10]),
    )

"""Canned replies: near-identical reply texts (MinHash LSH) sent to questions that differ."""

from __future__ import annotations

import hashlib
import re
import struct
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from triage.memo import GenerationalMemo
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
MAX_SHOWN = 10  # other replies named in a flag's evidence
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


# MinHash LSH as datasketch 2 computes it (MinHash(num_perm=64, seed=7), affine32 permutations, and
# the bands MinHashLSH(threshold=0.6, num_perm=64) picks), written out with numpy: importing
# datasketch pulls in scipy, over a second of a derive in a fresh process, and its index returns
# every member of a bucket to every query, quadratic in how often a template is sent.
# tests/test_canned.py checks both against datasketch.
BANDS, ROWS = 10, 6
FULL = 0xFFFFFFFF


@lru_cache(maxsize=1)
def _permutations() -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    gen = np.random.RandomState(7)
    a = gen.randint(0, 1 << 31, PERMUTATIONS, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, PERMUTATIONS, dtype=np.uint32)
    return a, b


@lru_cache(maxsize=100_000)  # templates share most of their shingles
def _sha1_32(item: str) -> int:
    return int(struct.unpack("<I", hashlib.sha1(item.encode("utf-8")).digest()[:4])[0])


def minhash(items: Iterable[str]) -> npt.NDArray[np.uint32]:
    """The MinHash signature of a set of shingles (PERMUTATIONS values)."""
    hv = np.array([_sha1_32(item) for item in items], dtype=np.uint32).reshape(-1, 1)
    hv = hv ^ (hv >> np.uint32(16))  # MurmurHash3's finaliser, as datasketch mixes before permuting
    hv = hv * np.uint32(0x85EBCA6B)
    hv = hv ^ (hv >> np.uint32(13))
    hv = hv * np.uint32(0xC2B2AE35)
    hv = hv ^ (hv >> np.uint32(16))
    a, b = _permutations()
    signature: npt.NDArray[np.uint32] = np.full(PERMUTATIONS, FULL, dtype=np.uint32)
    if len(hv):
        signature = np.minimum(signature, (hv * a + b).min(axis=0))
    return signature


@dataclass(frozen=True)
class ReplyText:
    reply: MessageView
    questions: tuple[MessageView, ...]
    shingles: frozenset[str]


def similar_groups(replies: Sequence[ReplyText]) -> list[list[ReplyText]]:
    """Groups of replies whose texts are near-identical (connected through LSH neighbours).

    Replies with the same shingles are one text; LSH candidates (a band of their signatures in
    common) with a Jaccard similarity of SAME_TEXT or more are joined.
    """
    texts = list(dict.fromkeys(item.shingles for item in replies))
    parent = list(range(len(texts)))

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for members in _buckets(texts):
        for index, first in enumerate(members):
            for second in members[index + 1 :]:
                if root(first) != root(second) and _jaccard(texts[first], texts[second]) >= SAME_TEXT:
                    parent[root(second)] = root(first)
    number = {text: index for index, text in enumerate(texts)}
    groups: dict[int, list[ReplyText]] = {}
    for item in replies:
        groups.setdefault(root(number[item.shingles]), []).append(item)
    return [sorted(g, key=lambda i: (i.reply.date, i.reply.id)) for g in groups.values() if len(g) > 1]


def _buckets(texts: Sequence[frozenset[str]]) -> list[list[int]]:
    """Indexes of the texts whose signatures agree on a whole band, per band value (two or more)."""
    buckets: dict[tuple[int, bytes], list[int]] = {}
    for index, text in enumerate(texts):
        for key in _band_keys(text):
            buckets.setdefault(key, []).append(index)
    return [members for members in buckets.values() if len(members) > 1]


@lru_cache(maxsize=2048)  # the daemon re-derives the same weeks of replies; keys hold whole shingle sets
def _band_keys(text: frozenset[str]) -> tuple[tuple[int, bytes], ...]:
    signature = minhash(text)
    return tuple((band, signature[band * ROWS : (band + 1) * ROWS].tobytes()) for band in range(BANDS))


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def find_canned(
    replies: Sequence[MessageView],
    questions_of: Mapping[int, Sequence[MessageView]],
    specifics_of: Mapping[int, frozenset[str]],
    kept: GroupFlags | None = None,
) -> list[Flag]:
    """Flag every reply whose near-identical text also went to a question that differs from its own.

    `questions_of` maps a reply's row id to the questions it answers; `specifics_of` maps a
    question's row id to what makes it particular (cited numbers, amounts, dates, devices).
    `kept`: the flags of groups met before, for a caller that derives the same replies again.
    """
    texts = []
    for reply in replies:
        if reply.automated:
            continue  # auto-acknowledgements are their own check
        questions = tuple(questions_of.get(reply.id, ()))
        found = _template_shingles(reply.text, tuple(q.sender.split("@")[0] for q in questions))
        if found is not None:
            texts.append(ReplyText(reply, questions, found))
    flags = []
    for group in similar_groups(texts):
        flags += _group_flags(group, specifics_of, kept)
    return flags


@lru_cache(maxsize=1024)  # the daemon re-derives a month of replies (about 500); _band_keys keeps these sets too
def _template_shingles(text: str, names: tuple[str, ...]) -> frozenset[str] | None:
    """The shingles of a reply's template words; None for a reply too short to be a template."""
    words = template_words(text, names)
    return frozenset(shingles(words)) if len(words) >= MIN_WORDS else None


# What a reply's questions are about: their topics and specifics. Two replies' questions differ
# when both replies answer some question and these differ (see _asked).
Asked = tuple[frozenset[str], frozenset[str]]


# A group of replies with what each one's questions ask, and its flags: the daemon re-derives a
# month of replies after every arrival, and most groups stay the same.
GroupFlags = GenerationalMemo[tuple[tuple[ReplyText, ...], tuple[Asked | None, ...]], tuple[Flag, ...]]


def _group_flags(
    group: Sequence[ReplyText], specifics_of: Mapping[int, frozenset[str]], kept: GroupFlags | None = None
) -> list[Flag]:
    """A flag for each reply of the group with another whose questions differ."""
    key = (tuple(group), tuple(_asked(item, specifics_of) if item.questions else None for item in group))
    if kept is None:
        return list(_flags_of_group(*key))
    return list(kept.get_or_make(key, lambda key: _flags_of_group(*key)))


def _flags_of_group(group: tuple[ReplyText, ...], asked: tuple[Asked | None, ...]) -> tuple[Flag, ...]:
    """_group_flags, given what each reply's questions ask (None: it answers none).

    Replies are compared through what their questions ask, so a template sent a thousand times
    costs a few thousand steps, not a million comparisons.
    """
    counts = Counter(a for a in asked if a is not None)
    answering = sum(counts.values())
    # The reply's own topics and those of every other: all the group's question topics.
    topics = sorted(frozenset[str]().union(*(a[0] for a in counts)))
    shown: dict[Asked, list[_Shown]] = {}
    summaries: dict[int, _Shown] = {}  # a reply is shown in the flags of many others
    evidence: dict[Asked, list[dict[str, object]]] = {}  # the evidence of shown[...], built once
    flags = []
    for item, mine in zip(group, asked, strict=True):
        if mine is None or counts[mine] == answering:
            continue  # answers nothing, or every other reply answers the same
        if mine not in shown:
            others = _first_others(group, asked, mine)
            shown[mine] = [summaries.get(o.reply.id) or summaries.setdefault(o.reply.id, _summary(o)) for o in others]
            evidence[mine] = [o.evidence() for o in shown[mine]]
        flags.append(_flag(item, shown[mine], evidence[mine], len(group), topics))
    return tuple(flags)


def _first_others(group: Sequence[ReplyText], asked: Sequence[Asked | None], mine: Asked) -> list[ReplyText]:
    """The first MAX_SHOWN replies of the group whose questions differ from `mine`."""
    found: list[ReplyText] = []
    for other, theirs in zip(group, asked, strict=True):
        if theirs is not None and theirs != mine:
            found.append(other)
            if len(found) == MAX_SHOWN:
                break
    return found


def _asked(item: ReplyText, specifics_of: Mapping[int, frozenset[str]]) -> Asked:
    """What a reply's questions ask: two replies' questions differ when this differs.

    Other topics, or other specifics (numbers, amounts...); equal topics and no specifics on
    either side is the same plain question, which the same answer fits.
    """
    topics = frozenset(t for q in item.questions for t in q.topics)
    specifics = frozenset().union(*(specifics_of.get(q.id, frozenset()) for q in item.questions))
    return topics, specifics


@dataclass(frozen=True)
class _Shown:
    """Another reply of the group as a flag's evidence names it (worked out once per reply)."""

    message_id: str
    date: str
    questions: tuple[str, ...]
    question_topics: tuple[str, ...]

    def evidence(self) -> dict[str, object]:
        return {
            "message_id": self.message_id,
            "date": self.date,
            "questions": list(self.questions),
            "question_topics": list(self.question_topics),
        }


def _summary(other: ReplyText) -> _Shown:
    return _Shown(
        other.reply.message_id,
        other.reply.date.isoformat(),
        tuple(q.message_id for q in other.questions),
        tuple(sorted({t for q in other.questions for t in q.topics})),
    )


def _flag(
    item: ReplyText, others: list[_Shown], shown: list[dict[str, object]], group_size: int, topics: Sequence[str]
) -> Flag:
    """`others`: _summary of the first replies whose questions differ (`shown`: their evidence);
    `topics`: of all the group's questions."""
    return Flag(
        kind="canned",
        message=item.reply.id,
        severity="medium",
        explanation=(
            f"The same reply text was sent {group_size} times, to questions about "
            f"{', '.join(topics) or 'different things'}; it does not adapt to this customer's question."
        ),
        evidence={
            "similar_replies": shown,
            "this_question_topics": sorted({t for q in item.questions for t in q.topics}),
        },
        related=tuple(q.message_id for q in item.questions) + tuple(o.message_id for o in others),
    )

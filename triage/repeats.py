"""Repeat contacts, the replies that did not resolve them, and customer mail left without a reply.

    find_repeats(views, contacts, links, ruleset, window=14 days, *, identifier_window=60 days,
                 resend_after=12 hours, failed_replies=()) -> list[Flag]
        `repeat-contact` on an incoming message whose sender (a contact from
        contacts.resolve_contacts) wrote before about the same matter, and `unresolved` on the
        last real reply to that earlier mail. The same matter is:
        - the same conversation (same subject, see threads), when the earlier message had no
          real reply for `resend_after`, or when the new one says so (rules/phrases/repeat.toml)
          or follows a reply listed in `failed_replies` (e.g. one the reply checks flagged);
          a follow-up that just goes on with the conversation is not a repeat;
        - another conversation citing the same order, ticket or other case number (within
          `identifier_window`), or on the same topic, or saying "I already asked" (within
          `window`); the topic alone does not count once the customer thanked us for the answer.
    find_unanswered(views, links, now, sla_hours=24, *, ruleset=None, contacts=None,
                    require_topic=True) -> list[Flag]
        `unanswered` on customer mail with no real reply (auto-acks do not count) after
        `sla_hours`, measured at `now`; a reply after a customer's second message answers both.
        Automated mail and (with `require_topic`) mail no topic rule recognised are never
        questions; with a ruleset, neither are thank-you-only mail and follow-ups that only
        acknowledge an answer; with contacts too, mail whose later repeat was answered counts
        as answered.

Thank-you-only and automated mail is never a repeat. Both functions sort their input by (date,
row id), so the flags depend only on the set of views, not on the order they arrive in.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache, partial

from triage.contacts import ACCOUNT_IDENTIFIERS, IdentifierReader, Identify
from triage.model import Direction, Flag, MessageView
from triage.rules import Ruleset
from triage.threads import address_of, chronological, is_real_reply, thread_keys

REPEAT_WINDOW = timedelta(days=14)
IDENTIFIER_WINDOW = timedelta(days=60)
RESEND_AFTER = timedelta(hours=12)
THANKS_MAX_WORDS = 40
REPEAT, THANKS, REQUEST_CUES = "repeat", "thanks", "request-cues"
WORD = re.compile(r"[^\W_]+", re.UNICODE)
CONTRACTIONS = {
    "can't": "cannot",
    "won't": "will not",
    "n't": " not",
    "'ve": " have",
    "'m": " am",
    "'re": " are",
}
CONTRACTION = re.compile(r"can't|won't|n't|'ve|'m|'re")
ORDINALS = {2: "Second", 3: "Third", 4: "Fourth", 5: "Fifth"}
# The one reason for a repeat that depends on which replies failed (see _conversation_match).
AFTER_FAILED_REPLY = "writes again after a reply that missed the question"


@dataclass(frozen=True)
class Cues:
    """What one incoming message says that matters for repeats."""

    recontact: tuple[str, ...]  # "I already asked": the customer says they wrote before
    ongoing: tuple[str, ...]  # "still not working": the problem or question goes on
    thanks_only: bool
    case_ids: frozenset[tuple[str, str]]  # order, ticket, invoice... numbers: one matter
    account_ids: frozenset[tuple[str, str]]  # customer number, NIK: one person

    @property
    def phrases(self) -> tuple[str, ...]:
        return self.recontact + self.ongoing


@dataclass(frozen=True)
class Earlier:
    """An earlier message of the same contact about the same matter, and why it counts."""

    view: MessageView
    reasons: tuple[str, ...]
    reply: MessageView | None  # the last real reply to it before the repeat
    case_ids: tuple[str, ...]  # order, ticket... numbers both cite
    account_ids: tuple[str, ...]  # customer numbers both cite
    topics: tuple[str, ...]  # topics both have


# ---------------------------------------------------------------------------------------------
# Phrases
# ---------------------------------------------------------------------------------------------


def normalise_text(text: str, ruleset: Ruleset) -> str:
    """Lower-case, contractions spelt out, informal words replaced (normalise/ tables), spaces folded.

    Both languages' tables apply, since support mail often mixes English and Indonesian.
    """
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    text = CONTRACTION.sub(lambda m: CONTRACTIONS[m.group(0)], text)
    words = _word_map(ruleset)
    return " ".join("".join(map(words.__getitem__, WORD_OR_NOT.split(text))).split())


WORD_OR_NOT = re.compile(r"([^\W_]+)", re.UNICODE)  # split: the runs of WORD and what lies between


class _WordMap(dict[str, str]):
    """A run of WORD (or what lies between) -> its form after both tables, each worked out once.

    The tables apply one after the other (Indonesian, then English, to the Indonesian result).
    """

    def __init__(self, tables: Sequence[Mapping[str, str]]) -> None:
        super().__init__()
        self.tables = tables

    def __missing__(self, piece: str) -> str:
        if len(self) > 100_000:
            self.clear()  # distinct words of years of mail: keep memory flat
        result = piece
        for table in self.tables:
            result = "".join(table.get(part, part) for part in WORD_OR_NOT.split(result))
        self[piece] = result
        return result


_WORD_MAPS: dict[str, _WordMap] = {}


def _word_map(ruleset: Ruleset) -> _WordMap:
    if ruleset.version not in _WORD_MAPS:
        if len(_WORD_MAPS) > 16:
            _WORD_MAPS.clear()
        tables = [t for lang in ("id", "en") if (t := ruleset.normalisation.get(lang))]
        _WORD_MAPS[ruleset.version] = _WordMap(tables)
    return _WORD_MAPS[ruleset.version]


def find_phrases(text: str, ruleset: Ruleset, name: str, keys: Collection[str]) -> tuple[str, ...]:
    """The phrases of list `name` (its sub-lists `keys`, e.g. "en", "id") found in the text, sorted."""
    pattern = _list_pattern(ruleset, name, tuple(sorted(keys)))
    if pattern is None:
        return ()
    return tuple(sorted({m.group(1) for m in pattern.finditer(_normalised(text, ruleset))}))


_LIST_PATTERNS: dict[tuple[str, str, tuple[str, ...]], re.Pattern[str] | None] = {}


def _list_pattern(ruleset: Ruleset, name: str, keys: tuple[str, ...]) -> re.Pattern[str] | None:
    key = (ruleset.version, name, keys)
    if key not in _LIST_PATTERNS:
        if len(_LIST_PATTERNS) > 256:
            _LIST_PATTERNS.clear()
        lists = ruleset.phrase_list(name)
        _LIST_PATTERNS[key] = _compiled(ruleset, tuple(p for k in keys for p in lists.get(k, ())))
    return _LIST_PATTERNS[key]


def _normalised(text: str, ruleset: Ruleset) -> str:
    return _normalised_recent(text, _Tables(ruleset.version, ruleset))


@dataclass(frozen=True)
class _Tables:
    """A ruleset as a cache key: one version, one set of normalisation tables."""

    version: str
    ruleset: Ruleset = field(compare=False, hash=False)


# The repeat and unanswered checks look up several phrase lists in one message, one after another.
@lru_cache(maxsize=64)
def _normalised_recent(text: str, tables: _Tables) -> str:
    return normalise_text(text, tables.ruleset)


_COMPILED: dict[tuple[str, tuple[str, ...]], re.Pattern[str] | None] = {}


def _compiled(ruleset: Ruleset, phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    """The phrases normalised like the text and compiled, once per rules version and list."""
    key = (ruleset.version, phrases)
    if key not in _COMPILED:
        if len(_COMPILED) > 256:
            _COMPILED.clear()
        _COMPILED[key] = _phrase_pattern(tuple(sorted({normalise_text(p, ruleset) for p in phrases})))
    return _COMPILED[key]


@lru_cache(maxsize=64)
def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex for a phrase list: whole words, any whitespace between words, the longest phrase
    that matches at a place.

    The phrases share their beginnings in a trie: trying each of 200 phrases at every word took
    40 us a message. Two phrases that match at one place are one the other's beginning, on one
    path of the trie, and each node tries going on before ending, so the longest one wins, as
    it did when the phrases were tried longest first.
    """
    if not phrases:
        return None
    trie: _Trie = {}
    for phrase in {" ".join(p.lower().split()) for p in phrases}:
        node = trie
        for char in phrase:
            node = node.setdefault(char, {})
        node[_END] = {}
    # A lookahead at every word start, so overlapping phrases ("is still", "still dropping") all count.
    return re.compile(r"(?<!\w)(?=(" + _trie_pattern(trie) + "))")


_Trie = dict[str, "_Trie"]
_END = ""  # marks the end of a phrase in the trie (no phrase character is empty)


def _trie_pattern(node: _Trie) -> str:
    branches = [_char_pattern(char) + _trie_pattern(child) for char, child in sorted(node.items()) if char != _END]
    if _END in node:
        branches.append(r"(?!\w)")  # after every way of going on
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"


def _char_pattern(char: str) -> str:
    return r"\s+" if char == " " else re.escape(char)


def is_thanks_only(view: MessageView, ruleset: Ruleset) -> bool:
    """A short reply that thanks or says it is sorted, and asks, requests and repeats nothing.

    A message that opens a conversation is never thanks only ("Parcel damaged. Thanks.").
    """
    text = view.text
    if not _is_reply(view) or "?" in text or len(WORD.findall(text)) > THANKS_MAX_WORDS:
        return False
    if not find_phrases(text, ruleset, THANKS, ("en", "id")):
        return False
    languages = ("en", "id", "en-still", "id-still")
    if find_phrases(text, ruleset, REPEAT, languages):
        return False
    return not find_phrases(text, ruleset, REQUEST_CUES, ("en", "id"))


def _own_subject(view: MessageView) -> bool:
    """The subject is the customer's own, not "Re: ..." of an earlier mail."""
    return view.subject.lower().split() == view.subject_norm.split()


def _is_reply(view: MessageView) -> bool:
    return bool(view.in_reply_to or view.references) or not _own_subject(view)


def read_cues(view: MessageView, ruleset: Ruleset, identify: Identify | None = None) -> Cues:
    """Phrases, thanks and identifiers of one message; a subject the customer wrote counts too."""
    identifiers = (identify or IdentifierReader(ruleset))(f"{view.subject}\n{view.text}")
    text = f"{view.subject}\n{view.text}" if _own_subject(view) else view.text
    return Cues(
        recontact=find_phrases(text, ruleset, REPEAT, ("en", "id")),
        ongoing=find_phrases(text, ruleset, REPEAT, ("en-still", "id-still")),
        thanks_only=is_thanks_only(view, ruleset),
        case_ids=frozenset(i for i in identifiers if i[0] not in ACCOUNT_IDENTIFIERS),
        account_ids=frozenset(i for i in identifiers if i[0] in ACCOUNT_IDENTIFIERS),
    )


# ---------------------------------------------------------------------------------------------
# Repeat contacts
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _History:
    """Everything the repeat decision looks up, built once from the sorted views."""

    incoming: tuple[MessageView, ...]  # customer mail with a contact, not automated, in date order
    contacts: Mapping[int, str]
    threads: Mapping[int, str]
    cues: Mapping[int, Cues]
    replies_to: Mapping[int, tuple[MessageView, ...]]  # question id -> real replies, in date order
    thanks: Mapping[str, tuple[MessageView, ...]]  # contact -> thank-you-only messages, in date order
    failed_replies: frozenset[int]
    window: timedelta
    identifier_window: timedelta
    resend_after: timedelta

    def last_reply(self, question: MessageView, before: MessageView) -> MessageView | None:
        earlier = [r for r in self.replies_to.get(question.id, ()) if _key(r) < _key(before)]
        return earlier[-1] if earlier else None

    def same_conversation(self, first: MessageView, second: MessageView) -> bool:
        if first.subject_norm != second.subject_norm:
            return False
        return bool(first.subject_norm) or self.threads.get(first.id) == self.threads.get(second.id)

    def thanked_between(self, earlier: MessageView, view: MessageView) -> bool:
        """Did the customer send a thank-you-only message in the earlier conversation before `view`?"""
        return any(
            _key(earlier) < _key(t) < _key(view) and self.same_conversation(t, earlier)
            for t in self.thanks.get(self.contacts[earlier.id], ())
        )


@dataclass(frozen=True)
class Reading:
    """What the repeat and unanswered derivations read from a set of views, read once for both."""

    ordered: tuple[MessageView, ...]  # all views in date order
    incoming: tuple[MessageView, ...]  # customer mail with a contact, not automated, in date order
    contacts: Mapping[int, str]
    threads: Mapping[int, str]
    cues: Mapping[int, Cues]
    replies_to: Mapping[int, tuple[MessageView, ...]]
    thanks: Mapping[str, tuple[MessageView, ...]]
    # _repeats of these views, by (window, identifier window, resend after, failed replies): the
    # repeat flags and the unanswered check both need them.
    found: dict[_Settings, _Found] = field(default_factory=dict, compare=False, repr=False)


def read_mail(
    views: Sequence[MessageView],
    contacts: Mapping[int, str],
    links: Mapping[int, Sequence[int]],
    ruleset: Ruleset,
    identify: Identify | None = None,
    cues_of: Callable[[MessageView], Cues] | None = None,
) -> Reading:
    """Cues, threads and replies of a set of views (pass the same to find_repeats and find_unanswered).

    `cues_of` reads one message's cues (read_cues by default; a caller may keep them between calls).
    """
    ordered = tuple(chronological(views))
    incoming = tuple(v for v in ordered if v.direction is Direction.IN and v.automated is None and v.id in contacts)
    if cues_of is None:
        identify = identify or IdentifierReader(ruleset)
        cues_of = partial(read_cues, ruleset=ruleset, identify=identify)
    cues = {v.id: cues_of(v) for v in incoming}
    thanks: dict[str, list[MessageView]] = {}
    for view in incoming:
        if cues[view.id].thanks_only:
            thanks.setdefault(contacts[view.id], []).append(view)
    return Reading(
        ordered=ordered,
        incoming=incoming,
        contacts=contacts,
        threads=thread_keys(ordered),
        cues=cues,
        replies_to=_replies_to(ordered, links),
        thanks={contact: tuple(found) for contact, found in thanks.items()},
    )


def _history(
    reading: Reading,
    window: timedelta,
    identifier_window: timedelta,
    resend_after: timedelta,
    failed_replies: Collection[int],
) -> _History:
    return _History(
        incoming=reading.incoming,
        contacts=reading.contacts,
        threads=reading.threads,
        cues=reading.cues,
        replies_to=reading.replies_to,
        thanks=reading.thanks,
        failed_replies=frozenset(failed_replies),
        window=window,
        identifier_window=max(window, identifier_window),
        resend_after=resend_after,
    )


_Settings = tuple[timedelta, timedelta, timedelta, frozenset[int]]
_Found = list[tuple[MessageView, list["Earlier"]]]


def _repeats_of(reading: Reading, history: _History) -> _Found:
    """_repeats(history), once per reading and settings.

    Without failed replies, the repeats are those found with them less the matches whose only
    reason is a failed reply (no other reason looks at failed replies), so find_unanswered after
    find_repeats on the same reading costs nothing more.
    """
    settings = (history.window, history.identifier_window, history.resend_after, history.failed_replies)
    if settings in reading.found:
        return reading.found[settings]
    if not history.failed_replies:
        for (window, identifier_window, resend_after, _), found in reading.found.items():
            if (window, identifier_window, resend_after) == settings[:3]:
                reading.found[settings] = _without_failed_replies(found)
                return reading.found[settings]
    reading.found[settings] = _repeats(history)
    return reading.found[settings]


def _without_failed_replies(found: _Found) -> _Found:
    kept = []
    for view, matches in found:
        left = [m for m in matches if m.reasons != (AFTER_FAILED_REPLY,)]
        if left:
            kept.append((view, left))
    return kept


def _repeats(history: _History) -> _Found:
    """Each repeat contact with the earlier messages it repeats, in date order."""
    found = []
    by_contact: dict[str, deque[MessageView]] = {}
    for view in history.incoming:
        if history.cues[view.id].thanks_only:
            continue
        before = by_contact.setdefault(history.contacts[view.id], deque())
        # Mail a day more than the widest window older is out of every window from now on (the
        # windows count calendar days on one clock, so at most one day more than the time between).
        while before and view.date - before[0].date > history.identifier_window + timedelta(days=1):
            before.popleft()
        matches = match_earlier(view, before, history)
        before.append(view)
        if matches:
            found.append((view, matches))
    return found


def find_repeats(
    views: Sequence[MessageView],
    contacts: Mapping[int, str],
    links: Mapping[int, Sequence[int]],
    ruleset: Ruleset,
    window: timedelta = REPEAT_WINDOW,
    *,
    identifier_window: timedelta = IDENTIFIER_WINDOW,
    resend_after: timedelta = RESEND_AFTER,
    failed_replies: Collection[int] = (),
    reading: Reading | None = None,
) -> list[Flag]:
    """`repeat-contact` flags on incoming mail and `unresolved` flags on the replies before them.

    `reading`: read_mail of the same arguments, when the caller has it already.
    """
    reading = reading or read_mail(views, contacts, links, ruleset)
    history = _history(reading, window, identifier_window, resend_after, failed_replies)
    flags: list[Flag] = []
    unresolved: dict[int, list[tuple[MessageView, Earlier]]] = {}
    for view, matches in _repeats_of(reading, history):
        flags.append(_repeat_flag(view, matches, history.cues[view.id]))
        answered = [m for m in matches if m.reply is not None]
        if answered:
            last = max(answered, key=_reply_key)
            unresolved.setdefault(_reply_key(last)[1], []).append((view, last))
    flags += [_unresolved_flag(pairs) for pairs in unresolved.values()]
    return sorted(flags, key=lambda f: (f.kind, f.message))


def _key(view: MessageView) -> tuple[datetime, int]:
    return (view.date, view.id)


def _reply_key(match: Earlier) -> tuple[datetime, int]:
    assert match.reply is not None
    return _key(match.reply)


def _replies_to(
    ordered: Sequence[MessageView], links: Mapping[int, Sequence[int]]
) -> dict[int, tuple[MessageView, ...]]:
    by_id = {v.id: v for v in ordered}
    found: dict[int, list[MessageView]] = {}
    for reply_id, questions in links.items():
        reply = by_id.get(reply_id)
        if reply is None or not is_real_reply(reply):
            continue
        for question in questions:
            found.setdefault(question, []).append(reply)
    return {q: tuple(sorted(replies, key=_key)) for q, replies in found.items()}


def _days_apart(earlier: MessageView, view: MessageView) -> timedelta:
    """Calendar days between two messages, on the later one's clock: 9 Oct 17:00 to 23 Oct 09:00 is 14."""
    start = earlier.date.astimezone(view.date.tzinfo).date()
    return timedelta(days=(view.date.date() - start).days)


def match_earlier(view: MessageView, before: Sequence[MessageView], history: _History) -> list[Earlier]:
    """The earlier messages of the same contact that `view` repeats.

    A follow-up inside a conversation is judged within it; only a message that opens a new
    conversation is compared with the customer's other conversations.
    """
    recent = [e for e in before if _days_apart(e, view) <= history.identifier_window]
    same = [e for e in recent if history.same_conversation(view, e)]
    if same:
        return [m for e in same if (m := _conversation_match(view, e, history)) is not None]
    return [m for e in recent if (m := _other_conversation_match(view, e, history)) is not None]


def _conversation_match(view: MessageView, earlier: MessageView, history: _History) -> Earlier | None:
    cues = history.cues[view.id]
    reply = history.last_reply(earlier, view)
    if cues.phrases:
        reason = "writes again in the same conversation and says so"
    elif reply is None and view.date - earlier.date >= history.resend_after:
        reason = "writes again in the same conversation without a reply"
    elif reply is not None and reply.id in history.failed_replies:
        reason = AFTER_FAILED_REPLY
    else:
        return None
    return _earlier(view, earlier, (reason,), reply, history)


def _earlier(
    view: MessageView,
    earlier: MessageView,
    reasons: tuple[str, ...],
    reply: MessageView | None,
    history: _History,
) -> Earlier:
    cues, earlier_cues = history.cues[view.id], history.cues[earlier.id]
    return Earlier(
        earlier,
        reasons,
        reply,
        case_ids=tuple(sorted(_values(cues.case_ids) & _values(earlier_cues.case_ids))),
        account_ids=tuple(sorted(_values(cues.account_ids) & _values(earlier_cues.account_ids))),
        topics=tuple(sorted(set(view.topics) & set(earlier.topics))),
    )


def _other_conversation_match(view: MessageView, earlier: MessageView, history: _History) -> Earlier | None:
    cues, earlier_cues = history.cues[view.id], history.cues[earlier.id]
    case_ids = _values(cues.case_ids) & _values(earlier_cues.case_ids)
    account_ids = _values(cues.account_ids) & _values(earlier_cues.account_ids)
    shared_topics = tuple(sorted(set(view.topics) & set(earlier.topics)))
    in_window = _days_apart(earlier, view) <= history.window
    reasons = []
    if case_ids:
        reasons.append("cites the same number")
    topic_counts = in_window or bool(account_ids and cues.phrases)  # later: only saying it goes on
    resolved = not cues.phrases and history.thanked_between(earlier, view)
    if shared_topics and topic_counts and not resolved:
        reasons.append("same topic")
    if in_window and cues.recontact:
        reasons.append("says they wrote before")
    elif in_window and cues.ongoing and account_ids and not case_ids:
        reasons.append("says the problem goes on and cites the same account")
    if not reasons:
        return None
    return _earlier(view, earlier, tuple(reasons), history.last_reply(earlier, view), history)


def _values(identifiers: frozenset[tuple[str, str]]) -> set[str]:
    return {value for _, value in identifiers}


def _repeat_flag(view: MessageView, matches: Sequence[Earlier], cues: Cues) -> Flag:
    replies = [m.reply for m in matches if m.reply is not None]
    weak = all(m.reasons == ("same topic",) for m in matches) and not cues.phrases
    severity = "high" if len(matches) >= 2 or not replies else "low" if weak else "medium"
    evidence: dict[str, object] = {
        "earlier": [_earlier_evidence(m) for m in matches],
        "phrases": list(cues.phrases),
        "identifiers": sorted({i for m in matches for i in m.case_ids + m.account_ids}),
        "topics": sorted({t for m in matches for t in m.topics}),
    }
    related = tuple(dict.fromkeys([m.view.message_id for m in matches] + [r.message_id for r in replies]))
    return Flag("repeat-contact", view.id, severity, _repeat_explanation(view, matches), evidence, related)


def _repeat_explanation(view: MessageView, matches: Sequence[Earlier]) -> str:
    """E.g. "Second message in 3 days about refund from this customer; the earlier reply on 12 Nov ..."."""
    ordinal = ORDINALS.get(len(matches) + 1, f"{len(matches) + 1}th")
    topics = sorted({t for m in matches for t in m.topics}) or list(view.topics[:1])
    about = _join(topics) if topics else "the same matter"
    case_ids = sorted({i for m in matches for i in m.case_ids})
    cites = f" (cites {case_ids[0]} again)" if case_ids else ""
    others = sorted({m.view.sender for m in matches} - {view.sender})
    writer = f"this customer (earlier from {', '.join(others)})" if others else "this customer"
    replies = [m.reply for m in matches if m.reply is not None]
    if replies:
        tail = f"the earlier reply on {_day(max(replies, key=_key).date)} did not resolve it"
    else:
        tail = "the earlier mail got no reply" if len(matches) == 1 else "the earlier mails got no reply"
    span = _span(view.date - matches[0].view.date)
    return f"{ordinal} message in {span} about {about}{cites} from {writer}; {tail}."


def _join(words: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)


def _earlier_evidence(match: Earlier) -> dict[str, object]:
    return {
        "message_id": match.view.message_id,
        "date": match.view.date.isoformat(),
        "subject": match.view.subject,
        "from": match.view.sender,
        "reasons": list(match.reasons),
        "reply": match.reply.message_id if match.reply else None,
        "reply_date": match.reply.date.isoformat() if match.reply else None,
    }


def _unresolved_flag(pairs: Sequence[tuple[MessageView, Earlier]]) -> Flag:
    repeat, match = pairs[0]
    reply = match.reply
    assert reply is not None
    severity = "high" if len(pairs) >= 2 else "medium"
    again = "again" if len(pairs) == 1 else f"again {len(pairs)} times"
    explanation = (
        f"The customer wrote {again} after this reply ({_span(repeat.date - reply.date)} later, on "
        f"{_day(repeat.date)}) about the same matter, so it did not resolve it."
    )
    evidence: dict[str, object] = {
        "question": match.view.message_id,
        "question_date": match.view.date.isoformat(),
        "repeats": [
            {"message_id": v.message_id, "date": v.date.isoformat(), "reasons": list(m.reasons)} for v, m in pairs
        ],
    }
    related = tuple(dict.fromkeys([match.view.message_id] + [v.message_id for v, _ in pairs]))
    return Flag("unresolved", reply.id, severity, explanation, evidence, related)


def _day(moment: datetime) -> str:
    return f"{moment.day} {moment:%b}"


def _span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours < 1:
        return "under an hour"
    if hours < 36:
        count = round(hours)
        return f"{count} hour{'s' if count != 1 else ''}"
    days = round(hours / 24)
    return f"{days} days"


# ---------------------------------------------------------------------------------------------
# Unanswered mail
# ---------------------------------------------------------------------------------------------


def find_unanswered(
    views: Sequence[MessageView],
    links: Mapping[int, Sequence[int]],
    now: datetime,
    sla_hours: float = 24.0,
    *,
    ruleset: Ruleset | None = None,
    contacts: Mapping[int, str] | None = None,
    require_topic: bool = True,
    reading: Reading | None = None,
) -> list[Flag]:
    """`unanswered` on customer mail older than `sla_hours` at `now` that no real reply answers.

    With `require_topic`, mail no topic rule recognised (newsletters, spam) is not a question.
    With a ruleset, thank-you-only mail and follow-ups that only acknowledge an answer are not
    questions either; with contacts too, a message counts as answered when the customer's later
    message about the same matter (a repeat contact) was answered. `reading`: read_mail of the
    same views, links and contacts, when the caller has it already.
    """
    ordered = reading.ordered if reading is not None else chronological(views)
    by_id = {v.id: v for v in ordered}
    answered = {
        question
        for reply_id, questions in links.items()
        if (reply := by_id.get(reply_id)) is not None and is_real_reply(reply) and reply.date <= now
        for question in questions
    }
    if ruleset is not None and contacts is not None:
        reading = reading or read_mail(ordered, contacts, links, ruleset)
        answered |= _answered_through_repeats(reading, answered)
    threads = reading.threads if reading is not None else thread_keys(ordered)
    follows_answer = _follows_answers(ordered, answered, threads)
    acks: dict[str, list[MessageView]] = {}
    for view in ordered:
        if view.direction is Direction.OUT and view.automated is not None:
            for parent in {view.in_reply_to, *view.references} - {None}:
                acks.setdefault(str(parent), []).append(view)
    sla = timedelta(hours=sla_hours)
    flags = []
    for view in ordered:
        if view.direction is not Direction.IN or view.automated is not None or view.id in answered:
            continue
        if now - view.date < sla or (require_topic and not view.topics):
            continue
        thanks_only = reading.cues[view.id].thanks_only if reading and view.id in reading.cues else None
        if ruleset is not None and not _asks(view, view.id in follows_answer, ruleset, thanks_only):
            continue
        flags.append(_unanswered_flag(view, acks.get(view.message_id, []), now, sla_hours))
    return flags


def _answered_through_repeats(reading: Reading, answered: set[int]) -> set[int]:
    """Earlier messages whose matter was answered in reply to a later repeat of it."""
    history = _history(reading, REPEAT_WINDOW, IDENTIFIER_WINDOW, RESEND_AFTER, ())
    found = set(answered)
    for view, matches in reversed(_repeats_of(reading, history)):
        if view.id in found:
            found.update(m.view.id for m in matches)
    return found - answered


def _follows_answers(ordered: Sequence[MessageView], answered: set[int], threads: Mapping[int, str]) -> set[int]:
    """The customer messages that follow up in a conversation we already answered.

    A conversation is a customer's subject (without one: a thread). One pass in date order
    keeps each customer's answered conversations; asking every earlier message of the
    customer each time grew with the square of what they wrote.
    """
    subjects: dict[str, set[str]] = {}
    subjectless: dict[str, set[str | None]] = {}  # thread keys of answered mail without a subject
    found = set()
    for view in ordered:
        if view.direction is not Direction.IN:
            continue
        sender = address_of(view.sender)
        thread = threads.get(view.id)
        if view.subject_norm in subjects.get(sender, ()) or (
            not view.subject_norm and thread in subjectless.get(sender, ())
        ):
            found.add(view.id)
        if view.id in answered:
            if view.subject_norm:
                subjects.setdefault(sender, set()).add(view.subject_norm)
            else:
                subjectless.setdefault(sender, set()).add(thread)
    return found


def _asks(view: MessageView, follows_answer: bool, ruleset: Ruleset, thanks_only: bool | None = None) -> bool:
    """Does the message want an answer? Not thanks only; after an answer, a question or a request.

    `thanks_only`: is_thanks_only of the view, when its cues have it.
    """
    if is_thanks_only(view, ruleset) if thanks_only is None else thanks_only:
        return False
    if not follows_answer or "?" in view.text:
        return True
    if find_phrases(view.text, ruleset, REPEAT, ("en", "id", "en-still", "id-still")):
        return True
    requests = find_phrases(view.text, ruleset, REQUEST_CUES, ("en", "id"))
    return bool(requests) and not find_phrases(view.text, ruleset, THANKS, ("en", "id"))


def _unanswered_flag(view: MessageView, acks: Sequence[MessageView], now: datetime, sla_hours: float) -> Flag:
    age = now - view.date
    severity = "high" if age.total_seconds() >= 3 * sla_hours * 3600 else "medium"
    about = f" about {view.topics[0]}" if view.topics else ""
    ack_note = " (only an automatic acknowledgement was sent)" if acks else ""
    explanation = (
        f"No reply in {_span(age)} to this message{about} from {view.sender}{ack_note}; "
        f"the reply target is {sla_hours:g} hours."
    )
    evidence: dict[str, object] = {
        "received": view.date.isoformat(),
        "age_hours": round(age.total_seconds() / 3600, 1),
        "sla_hours": sla_hours,
        "auto_acks": [a.message_id for a in acks],
    }
    return Flag("unanswered", view.id, severity, explanation, evidence, tuple(a.message_id for a in acks))

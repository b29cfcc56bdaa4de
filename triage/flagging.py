"""Derive every flag from stored mail: threads, contacts, repeats, reply checks and canned text."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from triage.canned import GroupFlags, find_canned
from triage.checks import ExchangeReader, check_reply
from triage.collector import collector_paused
from triage.config import Config
from triage.contacts import IdentifierReader, Identify, find_identifiers, resolve_contacts
from triage.language import LanguageModels
from triage.memo import GenerationalMemo
from triage.model import Direction, Flag, MessageView
from triage.related import RelatedGroups, touched_groups
from triage.repeats import Cues, find_repeats, find_unanswered, read_cues, read_mail
from triage.rules import Ruleset
from triage.store import Store
from triage.threads import header_anchor, link_replies
from triage.views import ViewReader, load_views

# A reply flagged with one of these did not settle the matter: a follow-up after it is a repeat.
FAILED_REPLY = frozenset({"off-topic", "canned", "partial-answer", "deflection", "auto-ack"})
# The derivations read this much of each message's new text: more than any question or reply, and
# the reply checks compare every part of a question with the whole reply, so a pasted log of
# 900,000 characters took minutes (each message was re-derived after every batch for 30 days).
MAX_TEXT_CHARS = 20_000
# A recompute derives at most this many messages at once (plus their context).
WINDOW_MESSAGES = 10_000


@dataclass(frozen=True)
class Window:
    """Mail dated in [start, end) (no end: up to the newest), derived with `context` of mail either side."""

    start: datetime
    end: datetime | None
    context: timedelta


@dataclass(frozen=True)
class WindowFlags:
    """A window's derived flags (store rows), and the messages whose flags they replace."""

    scope: list[int]
    rows: list[dict[str, object]]


# Derives the windows of the store at a path, perhaps in other processes; results in window order.
DeriveWindows = Callable[[Path, Sequence[Window], datetime], Iterable[WindowFlags]]


class Readings:
    """What derivations read of each message, kept from one derivation to the next.

    The daemon re-derives the same weeks of mail after every arrival, and stored mail does not
    change: identifiers, sentence analyses and each reply's checks (a pure function of the reply
    and its questions) are read once, not once per arrival. Each derivation starts a generation
    (next_generation); a reading neither it nor the one before used is dropped, so memory follows
    the window the daemon re-derives, not the history it has seen.
    """

    def __init__(self, ruleset: Ruleset, models: LanguageModels) -> None:
        self.ruleset, self.models = ruleset, models
        self.identify = IdentifierReader(ruleset, find_identifiers)
        self.reader = ExchangeReader(ruleset, models, self.identify)
        self.checked: GenerationalMemo[tuple[MessageView, tuple[MessageView, ...]], list[Flag]] = GenerationalMemo()
        self.canned: GroupFlags = GenerationalMemo()
        self._cues: GenerationalMemo[MessageView, Cues] = GenerationalMemo()

    def next_generation(self) -> None:
        """A derivation starts: what the one before the last did not read goes."""
        for owner in (self.identify, self.reader, self.checked, self.canned, self._cues):
            owner.next_generation()

    def cues(self, view: MessageView) -> Cues:
        found = self._cues.get(view)
        if found is None:
            found = self._cues.put(view, read_cues(view, self.ruleset, self.identify))
        return found

    def check(self, reply: MessageView, questions: Sequence[MessageView]) -> list[Flag]:
        key = (reply, tuple(questions))
        found = self.checked.get(key)
        if found is None:
            found = self.checked.put(key, check_reply(reply, questions, self.ruleset, self.models, self.reader))
        return found

    def sizes(self) -> dict[str, int]:
        """How many readings each memo holds (for tests and memory probes)."""
        return {
            "checked": len(self.checked),
            "canned": len(self.canned),
            "cues": len(self._cues),
            "identifiers": self.identify.size(),
            "exchange": self.reader.size(),
        }


@dataclass(frozen=True)
class FlagEngine:
    """Pure derivation (derive) plus its store round trip (recompute)."""

    ruleset: Ruleset
    models: LanguageModels
    config: Config
    _readings: list[Readings] = field(default_factory=list, compare=False, repr=False)
    # What the daemon's last derivation read and wrote (see recompute_after).
    _live: LiveMemo = field(default_factory=lambda: LiveMemo(), compare=False, repr=False)

    def readings(self) -> Readings:
        """The readings kept between derivations (derive starts a generation of them each time)."""
        if not self._readings:
            self._readings[:] = [Readings(self.ruleset, self.models)]
        return self._readings[0]

    def derive(self, views: Sequence[MessageView], now: datetime) -> list[Flag]:
        """All flags for a set of messages; depends only on the set, not on arrival order."""
        with collector_paused():
            views = _ordered(views)
            readings = self.readings()
            readings.next_generation()  # what neither this derivation nor the last reads is dropped
            related = self._related_flags(views, self._contacts(views), now)
            return related.flags + self._canned(views, related.questions_of, related.acks)

    def _contacts(self, views: Sequence[MessageView]) -> dict[int, str]:
        return resolve_contacts(views, self.ruleset, self.config.support.addresses, self.readings().identify)

    def _related_flags(self, views: Sequence[MessageView], contacts: Mapping[int, str], now: datetime) -> Related:
        """Every flag but canned replies, for date-ordered views that hold whole groups of related mail.

        `contacts` may cover more mail than `views`: the contacts of all the mail read.
        """
        readings = self.readings()
        by_id = {v.id: v for v in views}
        links = link_replies(views)
        questions_of = {reply: [by_id[q] for q in questions if q in by_id] for reply, questions in links.items()}
        questions_of |= acknowledged_questions(views)
        replies = [v for v in views if v.direction is Direction.OUT]
        reply_flags: list[Flag] = []
        for reply in replies:
            reply_flags += readings.check(reply, questions_of.get(reply.id, []))
        failed = {f.message for f in reply_flags if f.kind in FAILED_REPLY}
        # An acknowledgement the check recognised is no reply, even without an Auto-Submitted header.
        acks = frozenset(f.message for f in reply_flags if f.kind == "auto-ack")
        if acks:
            views = [replace(v, automated=v.automated or "auto-acknowledgement") if v.id in acks else v for v in views]
            links = link_replies(views)
        window = timedelta(days=self.config.flags.repeat_window_days)
        flags = reply_flags
        reading = read_mail(views, contacts, links, self.ruleset, readings.identify, readings.cues)
        flags += find_repeats(
            views, contacts, links, self.ruleset, window=window, failed_replies=failed, reading=reading
        )
        sla = self.config.flags.reply_sla_hours
        flags += find_unanswered(views, links, now, sla, ruleset=self.ruleset, contacts=contacts, reading=reading)
        return Related(flags, questions_of, acks)

    def _canned(
        self, views: Sequence[MessageView], questions_of: Mapping[int, Sequence[MessageView]], acks: Collection[int]
    ) -> list[Flag]:
        """Canned-reply flags: they compare every reply with every other, related or not."""
        identify = self.readings().identify
        # What makes each question particular (find_canned looks up no other message).
        specifics = {
            q.id: frozenset(f"{name}:{value}" for name, value in identify(q.text))
            for questions in questions_of.values()
            for q in questions
        }
        # Recognised acknowledgements are automatic mail to find_canned, as to the other derivations.
        replies = [v for v in views if v.direction is Direction.OUT and v.id not in acks]
        return find_canned(replies, questions_of, specifics, self.readings().canned)

    def recompute(
        self, store: Store, now: datetime, since: datetime | None = None, derive_windows: DeriveWindows | None = None
    ) -> int:
        """Re-derive the flags of mail dated from `since` (all mail when None); returns the count.

        The range is derived in windows of about WINDOW_MESSAGES messages, so memory stays flat
        however much mail a backfill brings. Each window reads one repeat window of mail before
        and after it as context (that mail keeps its flags): a message near an edge still sees
        its contact's earlier mail, and a question the replies that came after it. Windows share
        nothing but the store, so `derive_windows` may derive them in other processes; this one
        writes each window's flags, in order.
        """
        self._live.forget()  # the flags written here are not the live derivation's
        windows = self.windows(store, since)
        if len(windows) > 1 and derive_windows is not None and store.path is not None:
            derived = derive_windows(store.path, windows, now)
        else:
            derived = (self.window_flags(store, now, window, alone=len(windows) == 1) for window in windows)
        count = 0
        for window_flags in derived:
            store.replace_flags(window_flags.scope, window_flags.rows)
            count += len(window_flags.rows)
        return count

    def windows(self, store: Store, since: datetime | None = None) -> list[Window]:
        """The windows a recompute of mail dated from `since` derives, oldest first."""
        context = timedelta(days=self.config.flags.repeat_window_days)
        starts = [datetime.fromisoformat(s) for s in store.window_starts(_utc(since), WINDOW_MESSAGES)]
        if starts and since is not None:
            starts[0] = min(starts[0], since)
        return [Window(start, end, context) for start, end in zip(starts, [*starts[1:], None], strict=True)]

    def window_flags(self, store: Store, now: datetime, window: Window, alone: bool = True) -> WindowFlags:
        """The flags of the mail dated in one window, read with its context from the store."""
        end = window.end
        span = (_utc(window.start - window.context), _utc(end + window.context if end else None))
        # Paused until what the window read is gone: the first collection after would walk all of it.
        with collector_paused():
            if not alone:
                self._readings.clear()  # a backfill's windows share little: keep memory to one window's readings
            views = load_views(store, *span, MAX_TEXT_CHARS)
            flags = self.derive(views, now)
            scope = [v.id for v in views if v.date >= window.start and (end is None or v.date < end)]
            in_scope = set(scope)
            rows = {flag_key(f): flag_row(f, self.ruleset.version) for f in flags if f.message in in_scope}
            del views, flags
            if not alone:
                self._readings.clear()
            return WindowFlags(scope, list(rows.values()))

    def recompute_after(
        self,
        store: Store,
        new_ids: Sequence[int],
        now: datetime,
        derive_windows: DeriveWindows | None = None,
        narrow: bool = True,
    ) -> int:
        """Re-derive what new messages can change: everything from `recompute_days` before the oldest.

        Returns the number of flags on that mail. After new mail (the daemon's case, after every
        arrival) only the groups of related mail that changed are derived (triage.related): the
        rest keep the flags the last derivation wrote, which a derivation of everything would
        write again, but for the age of unanswered mail. So without new messages (a re-check as
        time passes: questions cross their reply deadline) or without `narrow`, all of it is.
        """
        oldest = store.earliest_date(new_ids) if new_ids else None
        start = (oldest or now) - timedelta(days=self.config.flags.recompute_days)
        if not store.has_mail_since(_utc(start)):
            return 0  # nothing dated in the range: no flag to derive (and no window to cut)
        windows = self.windows(store, start)
        if len(windows) != 1:
            return self.recompute(store, now, since=start, derive_windows=derive_windows)
        window, live = windows[0], self._live
        with collector_paused():
            views = _ordered(live.views.load(store, _utc(window.start - window.context), None, MAX_TEXT_CHARS))
            # Narrow to what changed only after new mail, and only when older mail did not come into the range.
            narrow = narrow and bool(new_ids) and live.last is not None and live.last.start <= window.start
            state = self._live_state(views, window.start, now, live.last, narrow)
        if state.narrowed and live.last is not None:
            changed = [message for message, flags in state.flags.items() if flags != live.last.flags.get(message)]
        else:
            changed = list(state.flags)  # all of it, also to mend what anything else wrote
        store.replace_flags(changed, [state.rows[key] for message in changed for key in state.flags[message]])
        live.last = state
        return len(state.rows)

    def _live_state(
        self, views: Sequence[MessageView], start: datetime, now: datetime, last: LiveState | None, narrow: bool
    ) -> LiveState:
        """The flags of the mail dated from `start`, derived for all of it or (narrow) for what changed since `last`."""
        readings = self.readings()
        groups = self._live.related_groups(self.config.support.addresses, readings.identify)(views)
        by_id = {v.id: v for v in views}
        scope = [v.id for v in views if v.date >= start]
        related_views, kept = list(views), frozenset[int]()
        if narrow and last is not None:
            touched = touched_groups(views, groups, last.views, last.groups)
            related_views = [v for v in views if groups[v.id] in touched]
            kept = frozenset(by_id.keys() - {v.id for v in related_views})
            if any(message not in last.flags for message in scope if message in kept):
                related_views, kept = list(views), frozenset()  # cannot happen while mail only arrives
        if not kept:
            readings.next_generation()  # a derivation of all the mail reads again all that it needs
        # A group holds every message citing its identifiers, so its contacts are those all the mail gives.
        related = self._related_flags(related_views, self._contacts(related_views), now)
        questions_of = dict(related.questions_of)
        acks = set(related.acks)
        flags: dict[int, dict[str, Flag]] = {message: {} for message in scope}
        if kept and last is not None:
            questions_of |= {r: [by_id[q] for q in qs] for r, qs in last.questions_of.items() if r in kept}
            acks |= last.acks & kept
            for message in scope:
                if message in kept:
                    flags[message] = {k: f for k, f in last.flags[message].items() if f.kind != "canned"}
        for flag in (*related.flags, *self._canned(views, questions_of, acks)):
            if flag.message in flags:
                flags[flag.message][flag_key(flag)] = flag
        return LiveState(
            start=start,
            narrowed=bool(kept),
            views=by_id,
            groups=groups,
            questions_of={reply: tuple(q.id for q in qs) for reply, qs in questions_of.items()},
            acks=frozenset(acks),
            flags=flags,
            rows=self._rows_of(flags, last),
        )

    def _rows_of(self, flags: Mapping[int, Mapping[str, Flag]], last: LiveState | None) -> dict[str, dict[str, object]]:
        """Store rows of the flags: the last derivation's row for a flag equal to its last one.

        Most of a month's flags come out of the next derivation equal to the last one's; comparing
        two flags is much quicker than writing a flag's evidence as JSON again.
        """
        version = self.ruleset.version
        rows = {}
        for message, found in flags.items():
            before = last.flags.get(message, {}) if last is not None else {}
            for key, flag in found.items():
                rows[key] = last.rows[key] if last is not None and before.get(key) == flag else flag_row(flag, version)
        return rows


@dataclass(frozen=True)
class Related:
    """The flags derived within groups of related mail, with what the canned-reply check needs of them."""

    flags: list[Flag]
    questions_of: dict[int, list[MessageView]]  # reply -> the questions it answers (or acknowledges)
    acks: frozenset[int]  # replies the checks recognised as automatic acknowledgements


@dataclass(frozen=True)
class LiveState:
    """What the daemon's last live derivation read and derived, for the next one to narrow to what changed."""

    start: datetime  # the mail dated from here was derived (earlier mail was read as context)
    narrowed: bool  # only the groups of related mail that changed were derived
    views: Mapping[int, MessageView]  # all mail read, by row id
    groups: Mapping[int, str]  # row id -> group of related mail (triage.related)
    questions_of: Mapping[int, tuple[int, ...]]  # reply -> the questions it answers (or acknowledges)
    acks: frozenset[int]
    flags: Mapping[int, Mapping[str, Flag]]  # each message dated from `start` -> its flags by key
    rows: Mapping[str, dict[str, object]]  # flag key -> store row


class LiveMemo:
    """The views the daemon read last and what it derived from them (recompute forgets it)."""

    def __init__(self) -> None:
        self.views = ViewReader()
        self.last: LiveState | None = None
        self._groups: RelatedGroups | None = None

    def related_groups(self, support: Collection[str], identify: Identify) -> RelatedGroups:
        if self._groups is None or self._groups.identify is not identify:
            self._groups = RelatedGroups(support, identify)
        return self._groups

    def forget(self) -> None:
        """Forget what the daemon read and derived last (the next live derivation derives all)."""
        self.last, self._groups = None, None


def _utc(moment: datetime | None) -> str | None:
    """A moment as the store's date_utc text, for range queries."""
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _ordered(views: Iterable[MessageView]) -> list[MessageView]:
    """Views in the one order every derivation uses, their text capped (a view within the cap is kept as it is)."""
    return sorted((_capped(v) for v in views), key=lambda v: (v.date, v.id))


def _capped(view: MessageView) -> MessageView:
    return replace(view, text=view.text[:MAX_TEXT_CHARS]) if len(view.text) > MAX_TEXT_CHARS else view


def acknowledged_questions(views: Sequence[MessageView]) -> dict[int, list[MessageView]]:
    """The question each automatic acknowledgement responds to (they answer nothing, so threads skip them)."""
    by_message_id = {v.message_id: v for v in views}
    found = {}
    for view in views:
        if view.direction is Direction.OUT and view.automated is not None:
            question = header_anchor(view, by_message_id)
            if question is not None:
                found[view.id] = [question]
    return found


def flag_key(flag: Flag) -> str:
    return f"{flag.kind}:{flag.message}"


def flag_row(flag: Flag, version: str) -> dict[str, object]:
    return {
        "key": flag_key(flag),
        "kind": flag.kind,
        "message": flag.message,
        "severity": flag.severity,
        "explanation": flag.explanation,
        "evidence_json": json.dumps(flag.evidence, ensure_ascii=False, default=str),
        "related_json": json.dumps(list(flag.related)),
        "rules_version": version,
    }

"""Derive every flag from stored mail: threads, contacts, repeats, reply checks and canned text."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from triage.canned import find_canned
from triage.checks import ExchangeReader, check_reply
from triage.config import Config
from triage.contacts import IdentifierReader, find_identifiers, resolve_contacts
from triage.language import LanguageModels
from triage.memo import GenerationalMemo
from triage.model import Direction, Flag, MessageView
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
# Reads the views of mail dated in [since, until) with new text capped at a length.
LoadViews = Callable[[str | None, str | None, int], list[MessageView]]


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
        self._cues: GenerationalMemo[MessageView, Cues] = GenerationalMemo()

    def next_generation(self) -> None:
        """A derivation starts: what the one before the last did not read goes."""
        for owner in (self.identify, self.reader, self.checked, self._cues):
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
        views = sorted((_capped(v) for v in views), key=lambda v: (v.date, v.id))
        by_id = {v.id: v for v in views}
        readings = self.readings()
        readings.next_generation()  # what neither this derivation nor the last reads is dropped
        # Contacts, repeats, reply checks and canned replies all read a message's identifiers.
        identify = readings.identify
        contacts = resolve_contacts(views, self.ruleset, self.config.support.addresses, identify)
        links = link_replies(views)
        questions_of = {reply: [by_id[q] for q in questions if q in by_id] for reply, questions in links.items()}
        questions_of |= acknowledged_questions(views)
        replies = [v for v in views if v.direction is Direction.OUT]
        reply_flags: list[Flag] = []
        for reply in replies:
            reply_flags += readings.check(reply, questions_of.get(reply.id, []))
        failed = {f.message for f in reply_flags if f.kind in FAILED_REPLY}
        # An acknowledgement the check recognised is no reply, even without an Auto-Submitted header.
        acks = {f.message for f in reply_flags if f.kind == "auto-ack"}
        if acks:
            views = [replace(v, automated=v.automated or "auto-acknowledgement") if v.id in acks else v for v in views]
            links = link_replies(views)
        window = timedelta(days=self.config.flags.repeat_window_days)
        flags = reply_flags
        reading = read_mail(views, contacts, links, self.ruleset, identify, readings.cues)
        flags += find_repeats(
            views, contacts, links, self.ruleset, window=window, failed_replies=failed, reading=reading
        )
        sla = self.config.flags.reply_sla_hours
        flags += find_unanswered(views, links, now, sla, ruleset=self.ruleset, contacts=contacts, reading=reading)
        # What makes each question particular (find_canned looks up no other message).
        specifics = {
            q.id: frozenset(f"{name}:{value}" for name, value in identify(q.text))
            for questions in questions_of.values()
            for q in questions
        }
        flags += find_canned([v for v in views if v.direction is Direction.OUT], questions_of, specifics)
        return flags

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
        if not alone:
            self._readings.clear()  # a backfill's windows share little: keep memory to one window's readings
        return self._window_rows(window, now, lambda *span: load_views(store, *span), flag_row)

    def _window_rows(
        self, window: Window, now: datetime, load: LoadViews, to_row: Callable[[Flag, str], dict[str, object]]
    ) -> WindowFlags:
        end = window.end
        views = load(_utc(window.start - window.context), _utc(end + window.context if end else None), MAX_TEXT_CHARS)
        flags = self.derive(views, now)
        scope = [v.id for v in views if v.date >= window.start and (end is None or v.date < end)]
        in_scope = set(scope)
        rows = {flag_key(f): to_row(f, self.ruleset.version) for f in flags if f.message in in_scope}
        return WindowFlags(scope, list(rows.values()))

    def recompute_after(
        self, store: Store, new_ids: Sequence[int], now: datetime, derive_windows: DeriveWindows | None = None
    ) -> int:
        """Re-derive what new messages can change: everything from `recompute_days` before the oldest."""
        oldest = store.earliest_date(new_ids) if new_ids else None
        start = (oldest or now) - timedelta(days=self.config.flags.recompute_days)
        if not store.has_mail_since(_utc(start)):
            return 0  # nothing dated in the range: no flag to derive (and no window to cut)
        windows = self.windows(store, start)
        if len(windows) != 1:
            return self.recompute(store, now, since=start, derive_windows=derive_windows)
        # The daemon's case, after every arrival: the one window recompute would derive (window_flags,
        # alone), from the views and flag rows of the last derivation wherever they did not change.
        live = self._live
        derived = self._window_rows(windows[0], now, lambda *span: live.views.load(store, *span), live.row)
        live.keep(derived.rows)
        store.replace_flags(derived.scope, derived.rows)
        return len(derived.rows)


class LiveMemo:
    """The views and flag rows of the daemon's last derivation, for the next one to reuse.

    Most of a month's flags come out of the next derivation equal to the last one's; comparing
    two flags is much quicker than writing a flag's evidence as JSON again.
    """

    def __init__(self) -> None:
        self.views = ViewReader()
        self._rows: dict[str, tuple[Flag, str, dict[str, object]]] = {}  # key -> flag, rules version, row
        self._used: dict[str, tuple[Flag, str, dict[str, object]]] = {}

    def row(self, flag: Flag, version: str) -> dict[str, object]:
        key = flag_key(flag)
        last = self._rows.get(key)
        if last is None or last[1] != version or last[0] != flag:
            last = (flag, version, flag_row(flag, version))
        self._used[key] = last
        return last[2]

    def keep(self, rows: Sequence[dict[str, object]]) -> None:
        """Keep the rows of this derivation (only those: memory stays at one window's flags)."""
        self._rows = {key: self._used[key] for key in (str(row["key"]) for row in rows)}
        self._used = {}


def _utc(moment: datetime | None) -> str | None:
    """A moment as the store's date_utc text, for range queries."""
    return moment.astimezone(UTC).isoformat() if moment is not None else None


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

"""Which customer messages each reply answers, and which messages belong to one thread.

A reply answers the message its headers point at (In-Reply-To, else the nearest known entry of
References) plus the same customer's earlier, still unanswered messages of that conversation: a
customer who wrote twice before the reply is answered twice. Without usable headers a reply
answers the latest unanswered message from its recipient with the same normalised subject (and
that customer's unanswered messages before it). A conversation is one customer and one subject:
a customer who changes the subject inside a thread asks something new.

Everything is computed from the set of messages sorted by (date, row id), so the result never
depends on the order in which mail arrived.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from triage.contacts import normalise_address
from triage.model import Direction, MessageView
from triage.unionfind import UnionFind

address_of = normalise_address  # the name the thread and repeat code reads best with


def chronological(views: Iterable[MessageView]) -> list[MessageView]:
    """Views sorted by date, then row id: the one order every derivation uses."""
    return sorted(views, key=lambda v: (v.date, v.id))


def thread_keys(views: Sequence[MessageView]) -> dict[int, str]:
    """Row id -> thread key: the smallest Message-ID among messages linked by their headers.

    The result of the last call is kept (callers must not change it): a derivation asks three
    times about the same messages (linking replies, again after marking acknowledgements, and
    reading repeats), and the headers are all it depends on.
    """
    global _last_threads
    headers = [(v.id, v.message_id, v.in_reply_to, v.references) for v in views]
    last_headers, last_keys = _last_threads
    if headers == last_headers:
        return last_keys
    keys = _thread_keys(views)
    _last_threads = (headers, keys)  # one assignment: another thread sees the old pair or the new one
    return keys


_last_threads: tuple[list[tuple[int, str, str | None, tuple[str, ...]]], dict[int, str]] = ([], {})


def _thread_keys(views: Sequence[MessageView]) -> dict[int, str]:
    threads = UnionFind()
    for view in views:
        for other in (view.in_reply_to, *view.references):
            if other:
                threads.union(view.message_id, other)
    return {view.id: threads.find(view.message_id) for view in views}


def same_conversation(first: MessageView, second: MessageView, threads: dict[int, str]) -> bool:
    """Same customer address and same normalised subject (an empty subject: also the same thread)."""
    if address_of(first.sender) != address_of(second.sender):
        return False
    if first.subject_norm != second.subject_norm:
        return False
    return bool(first.subject_norm) or threads.get(first.id) == threads.get(second.id)


def is_real_reply(view: MessageView) -> bool:
    """Mail we sent by hand: outgoing and not an automatic acknowledgement."""
    return view.direction is Direction.OUT and view.automated is None


def link_replies(views: Sequence[MessageView]) -> dict[int, tuple[int, ...]]:
    """Reply row id -> row ids of the incoming messages it answers (only replies that answer some)."""
    ordered = chronological(views)
    by_message_id: dict[str, MessageView] = {}
    for view in ordered:
        by_message_id.setdefault(view.message_id, view)
    threads = thread_keys(ordered)
    by_sender: dict[str, list[MessageView]] = {}
    for view in ordered:
        if view.direction is Direction.IN and view.automated is None:
            by_sender.setdefault(address_of(view.sender), []).append(view)
    answered: set[int] = set()
    links: dict[int, tuple[int, ...]] = {}
    for reply in (v for v in ordered if is_real_reply(v)):
        anchor = header_anchor(reply, by_message_id) or fallback_anchor(reply, by_sender, answered)
        if anchor is None:
            continue
        pending = [
            q
            for q in by_sender.get(address_of(anchor.sender), ())
            if q.id not in answered
            and q.id != anchor.id
            and (q.date, q.id) < (reply.date, reply.id)
            and same_conversation(q, anchor, threads)
        ]
        linked = tuple(sorted({anchor.id, *(q.id for q in pending)}))
        links[reply.id] = linked
        answered.update(linked)
    return links


def header_anchor(reply: MessageView, by_message_id: dict[str, MessageView]) -> MessageView | None:
    """The incoming message the reply's headers point at, walking up through our own replies."""
    seen: set[str] = set()
    current: MessageView | None = reply
    while current is not None and current.message_id not in seen:
        seen.add(current.message_id)
        parent = _parent(current, by_message_id)
        if parent is None:
            return None
        if parent.direction is Direction.IN:
            return parent if parent.automated is None else None
        current = parent
    return None


def _parent(view: MessageView, by_message_id: dict[str, MessageView]) -> MessageView | None:
    for candidate in (view.in_reply_to, *reversed(view.references)):
        if candidate and candidate in by_message_id and candidate != view.message_id:
            return by_message_id[candidate]
    return None


def fallback_anchor(
    reply: MessageView, by_sender: Mapping[str, Sequence[MessageView]], answered: set[int]
) -> MessageView | None:
    """Latest message before the reply from a recipient with the same subject, unanswered first."""
    recipients = sorted({address_of(r) for r in reply.recipients})
    earlier = sorted(
        (
            q
            for r in recipients
            for q in by_sender.get(r, ())
            if q.subject_norm == reply.subject_norm and (q.date, q.id) < (reply.date, reply.id)
        ),
        key=lambda q: (q.date, q.id),
    )
    unanswered = [q for q in earlier if q.id not in answered]
    if unanswered:
        return unanswered[-1]
    return earlier[-1] if earlier else None

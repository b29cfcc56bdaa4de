"""Stored messages as MessageView values, the input of the flag derivations."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from triage.model import Direction, MessageView
from triage.store import Store


def view_of(row: dict[str, Any], topics: Sequence[str]) -> MessageView:
    """A stored message as the flag derivations see it."""
    return MessageView(
        id=row["id"],
        message_id=row["message_id"],
        direction=Direction(row["direction"]),
        sender=row["from_addr"] or "",
        recipients=tuple(json.loads(row["to_json"] or "[]")) + tuple(json.loads(row["cc_json"] or "[]")),
        date=datetime.fromisoformat(row["date"]),
        subject=row["subject"] or "",
        subject_norm=row["subject_norm"] or "",
        in_reply_to=row["in_reply_to"],
        references=tuple(json.loads(row["references_json"] or "[]")),
        text=row["new_text"] or "",
        lang=row["lang"] or "other",
        automated=row["automated"],
        topics=tuple(topics),
    )


# What a view needs of a message row; the topics come along, best first, as one space-separated string.
VIEW_COLUMNS = (
    "id",
    "message_id",
    "direction",
    "from_addr",
    "to_json",
    "cc_json",
    "date",
    "subject",
    "subject_norm",
    "in_reply_to",
    "references_json",
    "lang",
    "automated",
    "status",
)
TOPICS_COLUMN = (
    "(SELECT group_concat(topic, ' ') FROM "
    "(SELECT topic FROM message_topics WHERE message = messages.id ORDER BY score DESC, topic)) AS topic_list"
)


def load_views(
    store: Store, since_utc: str | None = None, until_utc: str | None = None, max_text: int | None = None
) -> list[MessageView]:
    """Every parsed message dated in [since_utc, until_utc) with its topics, in date order.

    Only the columns a view needs are read, and the text only up to `max_text` characters, so a
    window of mail costs little more memory than the views themselves.
    """
    text = f"substr(new_text, 1, {int(max_text)}) AS new_text" if max_text else "new_text"
    rows = store.messages(since_utc, until_utc, columns=(*VIEW_COLUMNS, text, TOPICS_COLUMN))
    return [view_of(row, (row["topic_list"] or "").split()) for row in rows if row["status"] == "ok"]


class ViewReader:
    """load_views for a reader that reads the same weeks of mail again and again (the daemon).

    The daemon re-reads a month of mail after every arrival; parsing each row into a view again
    (JSON, dates) took a third of a derivation, and reading every row's text again most of the
    rest. A stored message changes only in its topics (derived again) and when it is purged, so
    each read asks for the id, status and topics of the mail in range, and the whole row only of
    a message not kept or whose topics changed: the views are always those load_views would
    return. Only the views of the last read are kept, so memory stays at one window's views; the
    same view objects also make the readings kept between derivations quick to look up.
    """

    def __init__(self) -> None:
        self._kept: dict[int, tuple[str | None, MessageView]] = {}  # id -> topic list, view
        self._max_text: int | None = None  # the cap the kept views' text was read with

    def load(
        self, store: Store, since_utc: str | None = None, until_utc: str | None = None, max_text: int | None = None
    ) -> list[MessageView]:
        if max_text != self._max_text:
            self._kept, self._max_text = {}, max_text
        kept = self._kept
        rows = store.message_tuples(since_utc, until_utc, ("id", "status", TOPICS_COLUMN))
        listed = [(message, topics) for message, status, topics in rows if status == "ok"]
        wanted = [message for message, topics in listed if message not in kept or kept[message][0] != topics]
        text = f"substr(new_text, 1, {int(max_text)}) AS new_text" if max_text else "new_text"
        for row in store.messages_by_id(wanted, columns=(*VIEW_COLUMNS, text, TOPICS_COLUMN)) if wanted else ():
            if row["status"] == "ok":
                kept[row["id"]] = (row["topic_list"], view_of(row, (row["topic_list"] or "").split()))
            else:  # purged since the first query: left out, as the next read will
                kept.pop(row["id"], None)
        views = [kept[message][1] for message, _ in listed if message in kept]
        self._kept = {view.id: kept[view.id] for view in views}
        return views

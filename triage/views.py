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
    (JSON, dates) took a third of a derivation. A view is kept by its whole row, topics included,
    so a message whose row changed (topics re-derived, purged) is read anew: the views are always
    those load_views would return. Only the views of the last read are kept, so memory stays at
    one window's views; the same view objects also make the readings kept between derivations
    quick to look up.
    """

    def __init__(self) -> None:
        self._kept: dict[tuple[Any, ...], MessageView] = {}

    def load(
        self, store: Store, since_utc: str | None = None, until_utc: str | None = None, max_text: int | None = None
    ) -> list[MessageView]:
        text = f"substr(new_text, 1, {int(max_text)}) AS new_text" if max_text else "new_text"
        columns = (*VIEW_COLUMNS, text, TOPICS_COLUMN)
        names = (*VIEW_COLUMNS, "new_text", "topic_list")
        status, topic_list = names.index("status"), names.index("topic_list")
        kept: dict[tuple[Any, ...], MessageView] = {}
        views = []
        for row in store.message_tuples(since_utc, until_utc, columns):
            if row[status] != "ok":
                continue
            view = self._kept.get(row)
            if view is None:
                view = view_of(dict(zip(names, row, strict=True)), (row[topic_list] or "").split())
            kept[row] = view
            views.append(view)
        self._kept = kept
        return views

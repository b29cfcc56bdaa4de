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


def load_views(store: Store, since_utc: str | None = None) -> list[MessageView]:
    """Every parsed message (optionally since a date) with its topics, in date order."""
    rows = [row for row in store.messages(since_utc) if row["status"] == "ok"]
    topics = store.topics_of([row["id"] for row in rows])
    return [view_of(row, [t["topic"] for t in topics.get(row["id"], [])]) for row in rows]

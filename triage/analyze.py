"""Derive topics from stored mail, for new messages as they arrive or for everything on replay."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from triage.classify import Classification, Classifier
from triage.collector import collector_paused
from triage.config import Config
from triage.flagging import DeriveWindows, FlagEngine, flag_key
from triage.rules import default_rules_dir, load_rules
from triage.store import Store, utc_now
from triage.views import load_views


def classify_row(classifier: Classifier, row: dict[str, Any]) -> Classification | None:
    """Topics of one stored message; None for quarantined mail, which has no text to judge."""
    if row["status"] != "ok":
        return None
    return classifier.classify(
        subject=row["subject_norm"] or "",
        text=row["new_text"] or "",
        lang=row["lang"],
        sender=row["from_addr"] or "",
        to=" ".join(json.loads(row["to_json"] or "[]")),
        automated=row["automated"],
    )


def derived_rows(
    message: int, result: Classification, version: str, now: str | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The classifications row and the message_topics rows of one result (classified `now`, or this moment)."""
    classified = {
        "message": message,
        "rules_version": version,
        "lang": result.lang,
        "plain": int(result.plain_tokenizer),
        "skipped": result.skipped,
        "unclassified": int(result.unclassified),
        "classified_at": now or utc_now(),
    }
    topics = [
        {
            "message": message,
            "topic": hit.topic,
            "score": hit.score,
            "rules_version": version,
            "evidence_json": json.dumps([e.as_dict() for e in hit.evidence], ensure_ascii=False),
        }
        for hit in result.topics
    ]
    return classified, topics


def rules_folders(config: Config) -> list[Path]:
    """The shipped rules (unless turned off), then each folder of [rules] paths in order."""
    return ([default_rules_dir()] if config.rules.include_default else []) + list(config.rules.paths)


class Analyzer:
    """Runs the derivations over stored messages with one Classifier (one rules version)."""

    def __init__(self, classifier: Classifier, config: Config | None = None) -> None:
        self.classifier = classifier
        self.engine = FlagEngine(classifier.ruleset, classifier.models, config or Config())
        # Flags read a range of mail and write it back: two derivations at once could let an
        # older one overwrite a newer one, so they take turns.
        self._flag_lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Config) -> Analyzer:
        """Load and compile the rules; raises RulesError when a rule file is broken.

        Without collections meanwhile: loading keeps what it builds (pipelines, matchers, the
        example index), so a collection would walk it all to free next to nothing.
        """
        with collector_paused():
            return cls(Classifier(load_rules(rules_folders(config))), config)

    def flag_after(
        self,
        store: Store,
        new_ids: Sequence[int],
        now: datetime | None = None,
        derive_windows: DeriveWindows | None = None,
        narrow: bool = True,
    ) -> int:
        """Re-derive the flags that new messages can change (windows perhaps in worker processes).

        `narrow`: derive only the related mail the new messages touched (see FlagEngine.recompute_after).
        """
        with self._flag_lock:
            return self.engine.recompute_after(store, new_ids, now or datetime.now(UTC), derive_windows, narrow)

    def flag_all(self, store: Store, since: datetime | None = None, now: datetime | None = None) -> int:
        with self._flag_lock:
            return self.engine.recompute(store, now or datetime.now(UTC), since)

    @property
    def version(self) -> str:
        return self.classifier.ruleset.version

    def analyze(self, store: Store, ids: Sequence[int]) -> None:
        """Classify the given messages and replace their derived topics."""
        self.write(store, store.messages_by_id(ids))

    def analyze_missing(self, store: Store, batch: int = 500) -> int:
        """Derive topics for every stored message that has none yet; returns how many."""
        done = 0
        while ids := store.unanalyzed_ids(batch):
            self.analyze(store, ids)
            done += len(ids)
        return done

    def write(self, store: Store, rows: Iterable[dict[str, Any]]) -> None:
        classified, topics = [], []
        for row in rows:
            result = classify_row(self.classifier, row)
            if result is None:
                continue
            one, hits = derived_rows(row["id"], result, self.version)
            classified.append(one)
            topics.extend(hits)
        if classified:
            store.replace_topics(classified, topics)


@dataclass
class TopicChange:
    topic: str
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ReplayReport:
    messages: int = 0
    changed: int = 0
    changes: dict[str, TopicChange] = field(default_factory=dict)
    new_topics: dict[int, list[str]] = field(default_factory=dict)
    # Per flag kind: (flags that would appear, flags that would go away).
    flag_changes: dict[str, tuple[int, int]] = field(default_factory=dict)


def replay(store: Store, analyzer: Analyzer, since_utc: str | None, apply: bool, batch: int = 500) -> ReplayReport:
    """Re-derive topics of stored mail with the current rules; write only when `apply`."""
    report = ReplayReport()
    pending: list[dict[str, Any]] = []
    for row in store.messages(since_utc):
        pending.append(row)
        if len(pending) >= batch:
            _replay_batch(store, analyzer, pending, apply, report)
            pending = []
    if pending:
        _replay_batch(store, analyzer, pending, apply, report)
    since = datetime.fromisoformat(since_utc) if since_utc else None
    _replay_flags(store, analyzer, since, report)
    if apply:
        analyzer.flag_all(store, since)
    return report


def _replay_flags(store: Store, analyzer: Analyzer, since: datetime | None, report: ReplayReport) -> None:
    """Which flags the current rules would add and remove, derived with the replayed topics."""
    context = None if since is None else since - timedelta(days=analyzer.engine.config.flags.repeat_window_days)
    views = [
        replace(v, topics=tuple(report.new_topics[v.id])) if v.id in report.new_topics else v
        for v in load_views(store, context.isoformat() if context else None)
    ]
    scope = {v.id for v in views if since is None or v.date >= since}
    derived = {flag_key(f) for f in analyzer.engine.derive(views, datetime.now(UTC)) if f.message in scope}
    stored = {f["key"] for f in store.list_flags() if f["message"] in scope}
    for key in derived ^ stored:
        kind = key.rsplit(":", 1)[0]
        added, removed = report.flag_changes.get(kind, (0, 0))
        report.flag_changes[kind] = (added + (key in derived), removed + (key in stored))


def _replay_batch(
    store: Store, analyzer: Analyzer, rows: list[dict[str, Any]], apply: bool, report: ReplayReport
) -> None:
    before = store.topics_of([row["id"] for row in rows])
    for row in rows:
        result = classify_row(analyzer.classifier, row)
        if result is None:
            continue
        report.messages += 1
        old = {t["topic"] for t in before.get(row["id"], [])}
        new = set(result.topic_ids)
        report.new_topics[row["id"]] = result.topic_ids
        if old == new:
            continue
        report.changed += 1
        sample = {
            "message_id": row["message_id"],
            "subject": row["subject"],
            "before": sorted(old),
            "after": sorted(new),
        }
        for topic in new - old:
            report.changes.setdefault(topic, TopicChange(topic)).added.append(sample)
        for topic in old - new:
            report.changes.setdefault(topic, TopicChange(topic)).removed.append(sample)
    if apply:
        analyzer.write(store, rows)

"""The SQLite store (the only sqlite-utils user): schema, migrations, captured mail and capture state."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from triage.model import Direction, FolderRole, FolderState, Mail, Unparsable


class StoreError(Exception):
    """The store cannot be opened or written; the message says what to check."""


@dataclass(frozen=True)
class Captured:
    """One message ready to store: the parse result and where it was found."""

    parsed: Mail | Unparsable
    raw: bytes
    direction: Direction
    role: FolderRole
    uid: int | None = None
    size: int | None = None


# A message's derived topics as rows: (its classifications row, its message_topics rows).
TopicRows = tuple[dict[str, Any], list[dict[str, Any]]]


@dataclass(frozen=True)
class Checkpoint:
    """Where a folder's capture stands after a batch; stored in the batch's transaction."""

    account: str
    role: FolderRole
    mailbox: str
    uidvalidity: int
    last_uid: int


def _migrate_initial(db: sqlite_utils.Database) -> None:
    db.table("messages").create(
        {
            "id": int,
            "dedupe_key": str,
            "message_id": str,
            "status": str,
            "error": str,
            "account": str,
            "folder": str,
            "direction": str,
            "from_addr": str,
            "from_name": str,
            "to_json": str,
            "cc_json": str,
            "date": str,
            "date_utc": str,
            "subject": str,
            "subject_norm": str,
            "in_reply_to": str,
            "references_json": str,
            "new_text": str,
            "quoted_text": str,
            "signature": str,
            "lang": str,
            "automated": str,
            "synthetic_id": int,
            "truncated": int,
            "size": int,
            "captured_at": str,
        },
        pk="id",
        not_null=["dedupe_key", "message_id", "status", "folder", "direction", "date_utc"],
    )
    db.table("messages").create_index(["dedupe_key"], unique=True)
    db.table("messages").create_index(["message_id"])
    db.table("messages").create_index(["date_utc"])
    db.table("raw").create(
        {"message": int, "raw": bytes, "stored_at": str},
        pk="message",
        foreign_keys=[("message", "messages", "id")],
    )
    db.table("locations").create(
        {"account": str, "role": str, "uidvalidity": int, "uid": int, "message": int},
        pk=("account", "role", "uidvalidity", "uid"),
        foreign_keys=[("message", "messages", "id")],
    )
    db.table("locations").create_index(["message"])
    db.table("folder_state").create(
        {
            "account": str,
            "role": str,
            "mailbox": str,
            "uidvalidity": int,
            "last_uid": int,
            "last_sync": str,
            "last_error": str,
            "last_error_at": str,
        },
        pk=("account", "role"),
    )


def _migrate_topics(db: sqlite_utils.Database) -> None:
    db.table("message_topics").create(
        {"message": int, "topic": str, "score": float, "evidence_json": str, "rules_version": str},
        pk=("message", "topic"),
        foreign_keys=[("message", "messages", "id")],
    )
    db.table("message_topics").create_index(["topic"])
    db.table("classifications").create(
        {
            "message": int,
            "rules_version": str,
            "lang": str,
            "plain": int,
            "skipped": str,
            "unclassified": int,
            "classified_at": str,
        },
        pk="message",
        foreign_keys=[("message", "messages", "id")],
    )
    db.table("service_state").create({"key": str, "value": str, "updated_at": str}, pk="key")


def _migrate_flags(db: sqlite_utils.Database) -> None:
    db.table("flags").create(
        {
            "id": int,
            "key": str,
            "kind": str,
            "message": int,
            "severity": str,
            "explanation": str,
            "evidence_json": str,
            "related_json": str,
            "rules_version": str,
            "first_seen": str,
            "updated_at": str,
        },
        pk="id",
        not_null=["key", "kind", "message"],
        foreign_keys=[("message", "messages", "id")],
    )
    db.table("flags").create_index(["key"], unique=True)
    db.table("flags").create_index(["message"])
    db.table("flags").create_index(["kind"])
    # Feedback is keyed like flags (kind + message), so it outlives every recompute.
    db.table("flag_feedback").create({"key": str, "kind": str, "verdict": str, "note": str, "at": str}, pk="key")


def _migrate_digests(db: sqlite_utils.Database) -> None:
    # One row per digest period sent, so a restart never sends the same period twice.
    db.table("digests_sent").create({"period": str, "sent_at": str, "recipients": str, "flags": int}, pk="period")


def _migrate_error_history(db: sqlite_utils.Database) -> None:
    # A successful sync clears last_error (the folder is healthy again) but keeps the episode:
    # the error it recovered from and when, for `triage status`.
    db.table("folder_state").add_column("recovered_error", str)
    db.table("folder_state").add_column("recovered_at", str)


# Named, append-only: a released migration is never edited, only followed by a new one.
MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("0001_initial", _migrate_initial),
    ("0002_topics", _migrate_topics),
    ("0003_flags", _migrate_flags),
    ("0004_digests", _migrate_digests),
    ("0005_error_history", _migrate_error_history),
]

# After a successful sync: an error still standing becomes the episode the folder recovered from.
_RECOVER = (
    "recovered_error = COALESCE(folder_state.last_error, folder_state.recovered_error), "
    "recovered_at = CASE WHEN folder_state.last_error IS NULL THEN folder_state.recovered_at ELSE ? END, "
    "last_error = NULL"
)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Store:
    """Captured mail and capture state in one SQLite file (WAL mode)."""

    def __init__(self, db: sqlite_utils.Database, path: Path | None = None) -> None:
        self.db = db
        self.path = path  # for error messages; None for an in-memory store

    # -- capture -----------------------------------------------------------------------------

    def save_batch(
        self,
        account: str,
        items: Sequence[Captured],
        checkpoint: Checkpoint | None,
        topics: Sequence[TopicRows | None] | None = None,
    ) -> list[int]:
        """Store messages and the folder checkpoint in one transaction; returns the new row ids.

        `topics[i]`, when given, are item i's derived topic rows (their `message` is set here), stored
        in the same transaction when the message is new.
        Raises StoreError when the disk is full, the file is locked or damaged: then neither the
        messages nor the checkpoint were written, and the next attempt fetches the batch again.
        """
        new: list[int] = []
        classified: list[dict[str, Any]] = []
        topic_rows: list[dict[str, Any]] = []
        locations: list[tuple[str, str, int, int, int]] = []
        now = utc_now()
        with self._writing("; the batch was not stored (nor its checkpoint) and is fetched again when capture retries"):
            for index, item in enumerate(items):
                message, inserted = self._insert_message(account, item, now)
                if inserted:
                    new.append(message)
                    derived = topics[index] if topics is not None else None
                    if derived is not None:
                        classified.append(derived[0] | {"message": message})
                        topic_rows += [row | {"message": message} for row in derived[1]]
                if item.uid is not None and checkpoint is not None:
                    locations.append((account, item.role.value, checkpoint.uidvalidity, item.uid, message))
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO locations (account, role, uidvalidity, uid, message) VALUES (?, ?, ?, ?, ?)",
                locations,
            )
            # The messages are new in this transaction, so they have no derived rows to replace.
            self._insert_rows("classifications", classified)
            self._insert_rows("message_topics", topic_rows)
            if checkpoint is not None:
                self._write_checkpoint(checkpoint)
        return new

    def _insert_rows(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """INSERT rows that share their columns, in one statement run for each."""
        if not rows:
            return
        columns = list(rows[0])
        self.db.conn.executemany(
            insert_statement(table, columns), [tuple(row[column] for column in columns) for row in rows]
        )

    @contextmanager
    def _writing(self, consequence: str = "; nothing of this change was written") -> Iterator[None]:
        """One write transaction. Trouble with the file or the disk (full, locked, read-only, damaged)
        becomes a StoreError saying what to do; the transaction is rolled back whole."""
        try:
            with self._immediate():
                yield
        except sqlite3.DatabaseError as exc:
            if not is_store_trouble(exc):
                raise  # a constraint or a bug: not the user's to fix
            raise StoreError(f"{self.path or 'the store'}: {store_trouble(exc)}{consequence}") from exc

    @contextmanager
    def _immediate(self) -> Iterator[None]:
        """A transaction that takes the write lock at its start (nested ones are savepoints).

        A deferred transaction that reads first and writes later fails at once with "database is
        locked" when another connection wrote in between (its snapshot is stale, so SQLite cannot
        wait); the flag worker and the watchers write side by side, so writers queue up front.
        """
        if self.db.conn.in_transaction:
            with self.db.atomic():
                yield
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self.db.conn.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        try:
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.conn.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    def _insert_message(self, account: str, item: Captured, now: str) -> tuple[int, bool]:
        row = message_row(account, item, now)
        cursor = self.db.execute(insert_statement("messages", row, "INSERT OR IGNORE"), list(row.values()))
        if cursor.rowcount == 1:
            message = int(cursor.lastrowid or 0)
            self.db.execute(
                "INSERT INTO raw (message, raw, stored_at) VALUES (?, ?, ?)",
                (message, item.raw, now),
            )
            return message, True
        found = self.db.execute("SELECT id FROM messages WHERE dedupe_key = ?", (row["dedupe_key"],)).fetchone()
        return int(found[0]), False

    def _write_checkpoint(self, checkpoint: Checkpoint) -> None:
        now = utc_now()
        self.db.execute(
            "INSERT INTO folder_state (account, role, mailbox, uidvalidity, last_uid, last_sync) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, role) DO UPDATE SET "
            "mailbox = excluded.mailbox, uidvalidity = excluded.uidvalidity, "
            f"last_uid = excluded.last_uid, last_sync = excluded.last_sync, {_RECOVER}",
            (
                checkpoint.account,
                checkpoint.role.value,
                checkpoint.mailbox,
                checkpoint.uidvalidity,
                checkpoint.last_uid,
                now,
                now,
            ),
        )

    def folder_state(self, account: str, role: FolderRole) -> FolderState | None:
        row = self.db.execute(
            "SELECT mailbox, uidvalidity, last_uid FROM folder_state WHERE account = ? AND role = ?",
            (account, role.value),
        ).fetchone()
        if row is None or row[1] is None:
            return None
        return FolderState(account, role, row[0], int(row[1]), int(row[2]))

    def mark_synced(self, account: str, role: FolderRole) -> None:
        """Record a successful check of a folder that had nothing new."""
        now = utc_now()
        with self._writing():
            self.db.execute(
                f"UPDATE folder_state SET last_sync = ?, {_RECOVER} WHERE account = ? AND role = ?",
                (now, now, account, role.value),
            )

    def record_error(self, account: str, roles: Sequence[FolderRole], error: str) -> None:
        """Remember the last error of an account's folders for `triage status`."""
        with self._writing():
            for role in roles:
                self.db.execute(
                    "INSERT INTO folder_state (account, role, last_error, last_error_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (account, role) DO UPDATE SET "
                    "last_error = excluded.last_error, last_error_at = excluded.last_error_at",
                    (account, role.value, error[:1000], utc_now()),
                )

    # -- reading -----------------------------------------------------------------------------

    def status_rows(self) -> list[dict[str, Any]]:
        return list(
            self.db.query(
                "SELECT s.*, (SELECT COUNT(DISTINCT l.message) FROM locations l "
                "WHERE l.account = s.account AND l.role = s.role) AS messages "
                "FROM folder_state s ORDER BY s.account, s.role"
            )
        )

    def counts(self) -> dict[str, int]:
        row = self.db.execute(
            "SELECT COUNT(*), SUM(status = 'quarantined'), SUM(direction = 'in'), SUM(direction = 'out') "
            "FROM messages WHERE status != 'purged'"
        ).fetchone()
        return {
            "messages": row[0],
            "quarantined": row[1] or 0,
            "incoming": row[2] or 0,
            "outgoing": row[3] or 0,
        }

    def messages(
        self, since_utc: str | None = None, until_utc: str | None = None, columns: Sequence[str] = ("*",)
    ) -> Iterator[dict[str, Any]]:
        """Stored messages in date order, optionally only those dated in [since_utc, until_utc)."""
        yield from self.db.query(*_dated_messages(since_utc, until_utc, columns))

    def message_tuples(
        self, since_utc: str | None, until_utc: str | None, columns: Sequence[str]
    ) -> list[tuple[Any, ...]]:
        """Like messages(), as plain tuples of `columns`: the daemon reads weeks of mail after every arrival."""
        return list(self.db.execute(*_dated_messages(since_utc, until_utc, columns)).fetchall())

    def has_mail_since(self, since_utc: str | None) -> bool:
        """Is any stored message (not purged) dated from since_utc on?"""
        query, params = _dated_messages(since_utc, None, ("1",))
        return bool(self.db.execute(f"SELECT EXISTS ({query})", params).fetchone()[0])

    def window_starts(self, since_utc: str | None, size: int) -> list[str]:
        """Dates (UTC) that cut the mail from since_utc on into windows of about `size` messages each."""
        where, params = ("AND date_utc >= ?", [since_utc]) if since_utc else ("", [])
        rows = self.db.execute(
            "SELECT date_utc FROM (SELECT date_utc, ROW_NUMBER() OVER (ORDER BY date_utc) - 1 AS n "
            f"FROM messages WHERE status != 'purged' {where}) WHERE n % ? = 0 ORDER BY date_utc",
            [*params, size],
        ).fetchall()
        return list(dict.fromkeys(row[0] for row in rows))  # equal dates would make an empty window

    def messages_by_id(self, ids: Sequence[int], columns: Sequence[str] = ("*",)) -> list[dict[str, Any]]:
        """The rows of the given messages (those stored), by id; `columns` may name expressions too."""
        rows: list[dict[str, Any]] = []
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            query = f"SELECT {', '.join(columns)} FROM messages WHERE id IN ({marks}) ORDER BY id"
            rows.extend(self.db.query(query, chunk))
        return rows

    # -- derived: topics ---------------------------------------------------------------------

    def replace_topics(self, classified: Sequence[dict[str, Any]], topics: Sequence[dict[str, Any]]) -> None:
        """Replace the derived topics of the given messages in one transaction."""
        ids = [row["message"] for row in classified]
        with self._writing():
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                self.db.execute(f"DELETE FROM message_topics WHERE message IN ({marks})", chunk)
            self.db.table("classifications").upsert_all(classified, pk="message")
            if topics:
                self.db.table("message_topics").insert_all(topics, pk=("message", "topic"))

    def earliest_date(self, ids: Sequence[int]) -> datetime | None:
        """The earliest date (UTC) among the given messages."""
        oldest: str | None = None
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            row = self.db.execute(f"SELECT MIN(date_utc) FROM messages WHERE id IN ({marks})", chunk).fetchone()
            if row[0] and (oldest is None or row[0] < oldest):
                oldest = row[0]
        return datetime.fromisoformat(oldest) if oldest else None

    def unanalyzed_ids(self, limit: int = 100_000) -> list[int]:
        """Parsed messages with no derived topics yet (e.g. analysis crashed after capture)."""
        return [
            row[0]
            for row in self.db.execute(
                "SELECT m.id FROM messages m LEFT JOIN classifications c ON c.message = m.id "
                "WHERE m.status = 'ok' AND c.message IS NULL ORDER BY m.id LIMIT ?",
                (limit,),
            )
        ]

    def topic_counts(self, direction: str = "in") -> dict[str, int]:
        """Messages per topic (and unclassified) for one direction."""
        counts = {
            row["topic"]: row["n"]
            for row in self.db.query(
                "SELECT t.topic, COUNT(*) AS n FROM message_topics t JOIN messages m ON m.id = t.message "
                "WHERE m.direction = ? GROUP BY t.topic ORDER BY n DESC, t.topic",
                [direction],
            )
        }
        unclassified = self.db.execute(
            "SELECT COUNT(*) FROM classifications c JOIN messages m ON m.id = c.message "
            "WHERE m.direction = ? AND c.unclassified = 1",
            [direction],
        ).fetchone()[0]
        return counts | {"unclassified": unclassified}

    def topics_of(self, ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        found: dict[int, list[dict[str, Any]]] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for row in self.db.query(
                f"SELECT * FROM message_topics WHERE message IN ({marks}) ORDER BY message, score DESC", chunk
            ):
                found.setdefault(row["message"], []).append(row)
        return found

    # -- derived: flags ----------------------------------------------------------------------

    def replace_flags(self, scope: Sequence[int], flags: Sequence[dict[str, Any]]) -> None:
        """Make `flags` the flags of the messages in `scope`: upsert by key, drop the rest.

        A flag keeps its id (and its feedback) while it is derived again; feedback is kept
        even when a flag disappears, so a dismissed flag that comes back stays dismissed.
        """
        keys = {flag["key"] for flag in flags}
        now = utc_now()
        with self._writing():
            for start in range(0, len(scope), 500):
                chunk = list(scope[start : start + 500])
                marks = ",".join("?" * len(chunk))
                for row in self.db.execute(f"SELECT key FROM flags WHERE message IN ({marks})", chunk).fetchall():
                    if row[0] not in keys:
                        self.db.execute("DELETE FROM flags WHERE key = ?", (row[0],))
            self.db.conn.executemany(
                "INSERT INTO flags (key, kind, message, severity, explanation, evidence_json, related_json, "
                "rules_version, first_seen, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET severity = excluded.severity, "
                "explanation = excluded.explanation, evidence_json = excluded.evidence_json, "
                "related_json = excluded.related_json, rules_version = excluded.rules_version, "
                "updated_at = excluded.updated_at",
                [
                    (
                        flag["key"],
                        flag["kind"],
                        flag["message"],
                        flag["severity"],
                        flag["explanation"],
                        flag["evidence_json"],
                        flag["related_json"],
                        flag["rules_version"],
                        now,
                        now,
                    )
                    for flag in flags
                ],
            )

    FLAG_QUERY = (
        "SELECT f.*, m.message_id, m.subject, m.from_addr, m.date, m.direction, "
        "COALESCE(fb.verdict, 'open') AS status, fb.note AS note "
        "FROM flags f JOIN messages m ON m.id = f.message LEFT JOIN flag_feedback fb ON fb.key = f.key"
    )

    def flags_of(self, ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        found: dict[int, list[dict[str, Any]]] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for row in self.db.query(f"{self.FLAG_QUERY} WHERE f.message IN ({marks}) ORDER BY f.id", chunk):
                found.setdefault(row["message"], []).append(row)
        return found

    def list_flags(
        self, kind: str | None = None, status: str | None = None, since_utc: str | None = None
    ) -> list[dict[str, Any]]:
        conditions, params = [], []
        if kind:
            conditions.append("f.kind = ?")
            params.append(kind)
        if status:
            conditions.append("COALESCE(fb.verdict, 'open') = ?")
            params.append(status)
        if since_utc:
            conditions.append("m.date_utc >= ?")
            params.append(since_utc)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        return list(self.db.query(f"{self.FLAG_QUERY}{where} ORDER BY m.date_utc, f.id", params))

    def flag(self, flag_id: int) -> dict[str, Any] | None:
        rows = list(self.db.query(f"{self.FLAG_QUERY} WHERE f.id = ?", [flag_id]))
        return rows[0] if rows else None

    def set_feedback(self, key: str, kind: str, verdict: str, note: str | None) -> None:
        with self._writing():
            self.db.execute(
                "INSERT INTO flag_feedback (key, kind, verdict, note, at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET verdict = excluded.verdict, note = excluded.note, at = excluded.at",
                (key, kind, verdict, note, utc_now()),
            )

    def feedback_counts(self) -> dict[str, dict[str, int]]:
        """Per check: how many flags leads confirmed and dismissed (its observed precision)."""
        counts: dict[str, dict[str, int]] = {}
        for row in self.db.query("SELECT kind, verdict, COUNT(*) AS n FROM flag_feedback GROUP BY kind, verdict"):
            counts.setdefault(row["kind"], {"confirmed": 0, "dismissed": 0})[row["verdict"]] = row["n"]
        return counts

    # -- retention, privacy, backup ------------------------------------------------------------

    def purge_raw_before(self, cutoff_utc: str) -> int:
        """Drop the raw bytes of mail dated before the cutoff; parsed text and derived data stay."""
        with self._writing():
            cursor = self.db.execute(
                "DELETE FROM raw WHERE message IN (SELECT id FROM messages WHERE date_utc < ?)", (cutoff_utc,)
            )
        return cursor.rowcount

    def purge_address(self, address: str) -> int:
        """Remove every message from or to an address, with everything derived from it (a privacy request).

        Capture checkpoints stay, so the mailbox is not fetched again; the removed messages'
        locations stay too (UIDs only, no content), so a resync does not bring them back.
        """
        address = address.strip().lower()
        rows = self.db.execute(
            "SELECT id FROM messages WHERE lower(from_addr) = ? OR EXISTS "
            "(SELECT 1 FROM json_each(messages.to_json) WHERE lower(value) = ?) OR EXISTS "
            "(SELECT 1 FROM json_each(messages.cc_json) WHERE lower(value) = ?)",
            (address, address, address),
        ).fetchall()
        ids = [row[0] for row in rows]
        with self._writing():
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                self.db.execute(
                    f"DELETE FROM flag_feedback WHERE key IN (SELECT key FROM flags WHERE message IN ({marks}))", chunk
                )
                for table, column in (
                    ("flags", "message"),
                    ("message_topics", "message"),
                    ("classifications", "message"),
                    ("raw", "message"),
                ):
                    self.db.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", chunk)
                # Keep a tombstone: the dedupe key, so the same message captured again stays out.
                self.db.execute(
                    f"UPDATE messages SET status = 'purged', from_addr = NULL, from_name = NULL, to_json = '[]', "
                    f"cc_json = '[]', subject = NULL, subject_norm = NULL, new_text = NULL, quoted_text = NULL, "
                    f"signature = NULL, error = NULL, message_id = '<purged-' || id || '@triage.invalid>', "
                    f"in_reply_to = NULL, references_json = '[]' WHERE id IN ({marks})",
                    chunk,
                )
        return len(ids)

    def backup(self, target: Path) -> None:
        """A consistent copy of the live store (SQLite online backup), readable by the owner only."""
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            raise StoreError(f"{target} exists; choose a new file for the backup")
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o600))
        destination = sqlite3.connect(target)
        try:
            self.db.conn.backup(destination)
        finally:
            destination.close()

    # -- digests -----------------------------------------------------------------------------

    def digest_sent(self, period: str) -> bool:
        return self.db.execute("SELECT 1 FROM digests_sent WHERE period = ?", (period,)).fetchone() is not None

    def record_digest_sent(self, period: str, recipients: Sequence[str], flags: int) -> bool:
        """Record a sent period; False when it was already recorded (another process sent it)."""
        with self._writing():
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO digests_sent (period, sent_at, recipients, flags) VALUES (?, ?, ?, ?)",
                (period, utc_now(), ",".join(recipients), flags),
            )
        return cursor.rowcount == 1

    # -- service state -----------------------------------------------------------------------

    def set_state(self, key: str, value: str | None) -> None:
        with self._writing():
            self.db.execute(
                "INSERT INTO service_state (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (key, value, utc_now()),
            )

    def state(self) -> dict[str, dict[str, Any]]:
        return {row["key"]: row for row in self.db.query("SELECT * FROM service_state")}

    def raw_message(self, message: int) -> bytes | None:
        row = self.db.execute("SELECT raw FROM raw WHERE message = ?", (message,)).fetchone()
        return None if row is None else row[0]

    def close(self) -> None:
        self.db.close()

    # -- digest queries ----------------------------------------------------------------------
    # Read-only. Periods are [start_utc, end_utc): ISO 8601 UTC strings compared with date_utc.

    def messages_between(self, start_utc: str, end_utc: str) -> list[dict[str, Any]]:
        """Parsed messages dated in the period, in date order."""
        return list(
            self.db.query(
                "SELECT * FROM messages WHERE status = 'ok' AND date_utc >= ? AND date_utc < ? ORDER BY date_utc, id",
                [start_utc, end_utc],
            )
        )

    def messages_by_message_id(self, message_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Parsed messages by Message-ID (the first stored when two share one)."""
        found: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(message_ids))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.query(
                f"SELECT * FROM messages WHERE status = 'ok' AND message_id IN ({marks}) ORDER BY id", chunk
            ):
                found.setdefault(row["message_id"], row)
        return found

    def flags_between(self, start_utc: str, end_utc: str) -> list[dict[str, Any]]:
        """Every flag (dismissed too, see `status`) on messages dated in the period, in date order."""
        return list(
            self.db.query(
                f"{self.FLAG_QUERY} WHERE m.date_utc >= ? AND m.date_utc < ? ORDER BY m.date_utc, f.id",
                [start_utc, end_utc],
            )
        )

    def traffic_counts(self, start_utc: str, end_utc: str) -> dict[str, int]:
        """Parsed incoming and outgoing messages of the period, and incoming ones no topic recognised."""
        row = self.db.execute(
            "SELECT SUM(m.direction = 'in'), SUM(m.direction = 'out'), "
            "SUM(m.direction = 'in' AND c.unclassified = 1 AND m.automated IS NULL) "
            "FROM messages m LEFT JOIN classifications c ON c.message = m.id "
            "WHERE m.status = 'ok' AND m.date_utc >= ? AND m.date_utc < ?",
            (start_utc, end_utc),
        ).fetchone()
        return {"incoming": row[0] or 0, "outgoing": row[1] or 0, "unclassified": row[2] or 0}

    def topic_volume(self, start_utc: str, end_utc: str) -> dict[str, int]:
        """Incoming messages of the period per topic."""
        return {
            row["topic"]: row["n"]
            for row in self.db.query(
                "SELECT t.topic, COUNT(*) AS n FROM message_topics t JOIN messages m ON m.id = t.message "
                "WHERE m.direction = 'in' AND m.date_utc >= ? AND m.date_utc < ? GROUP BY t.topic "
                "ORDER BY n DESC, t.topic",
                [start_utc, end_utc],
            )
        }

    def topic_evidence_between(self, start_utc: str, end_utc: str) -> list[dict[str, Any]]:
        """(message, topic, evidence_json) of every topic on incoming mail of the period."""
        return list(
            self.db.query(
                "SELECT t.message, t.topic, t.evidence_json FROM message_topics t JOIN messages m ON m.id = t.message "
                "WHERE m.direction = 'in' AND m.date_utc >= ? AND m.date_utc < ? ORDER BY t.topic, t.message",
                [start_utc, end_utc],
            )
        )

    def unclassified_between(self, start_utc: str, end_utc: str, limit: int = 10) -> list[dict[str, Any]]:
        """Incoming, not automated mail of the period that no topic recognised, newest first."""
        return list(
            self.db.query(
                "SELECT m.* FROM messages m JOIN classifications c ON c.message = m.id "
                "WHERE m.direction = 'in' AND m.status = 'ok' AND m.automated IS NULL AND c.unclassified = 1 "
                "AND m.date_utc >= ? AND m.date_utc < ? ORDER BY m.date_utc DESC, m.id DESC LIMIT ?",
                [start_utc, end_utc, limit],
            )
        )

    def first_message_date(self) -> datetime | None:
        """The date (UTC) of the oldest stored message."""
        row = self.db.execute("SELECT MIN(date_utc) FROM messages").fetchone()
        return datetime.fromisoformat(row[0]) if row[0] else None


def _dated_messages(since_utc: str | None, until_utc: str | None, columns: Sequence[str]) -> tuple[str, list[str]]:
    """The query (and its parameters) for stored messages dated in [since_utc, until_utc), in date order."""
    bounds = [(since_utc, "date_utc >= ?"), (until_utc, "date_utc < ?")]
    where = " AND ".join(["status != 'purged'", *(condition for value, condition in bounds if value)])
    params = [value for value, _ in bounds if value]
    return f"SELECT {', '.join(columns)} FROM messages WHERE {where} ORDER BY date_utc, id", params


def insert_statement(table: str, columns: Iterable[str], verb: str = "INSERT") -> str:
    """An INSERT of the named columns with one placeholder each (`verb`: "INSERT OR IGNORE" too)."""
    names = list(columns)
    return f"{verb} INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"


def message_row(account: str, item: Captured, now: str | None = None) -> dict[str, Any]:
    """The messages-table row for a parsed or quarantined message (captured `now`, or this moment)."""
    parsed = item.parsed
    base: dict[str, Any] = {
        "dedupe_key": parsed.content_hash,
        "account": account,
        "folder": item.role.value,
        "direction": item.direction.value,
        "size": item.size,
        "captured_at": now or utc_now(),
    }
    if isinstance(parsed, Unparsable):
        return base | {
            "message_id": f"<{parsed.content_hash[:32]}@quarantine.triage.invalid>",
            "status": "quarantined",
            "error": parsed.error,
            "date": parsed.date.isoformat(),
            "date_utc": parsed.date.astimezone(UTC).isoformat(),
            "synthetic_id": 1,
        }
    return base | {
        "message_id": parsed.message_id,
        "status": "ok",
        "from_addr": parsed.sender.email if parsed.sender else None,
        "from_name": parsed.sender.name if parsed.sender else None,
        "to_json": json.dumps([a.email for a in parsed.to]),
        "cc_json": json.dumps([a.email for a in parsed.cc]),
        "date": parsed.date.isoformat(),
        "date_utc": parsed.date.astimezone(UTC).isoformat(),
        "subject": parsed.subject,
        "subject_norm": parsed.subject_norm,
        "in_reply_to": parsed.in_reply_to,
        "references_json": json.dumps(list(parsed.references)),
        "new_text": parsed.new_text,
        "quoted_text": parsed.quoted_text,
        "signature": parsed.signature,
        "lang": parsed.lang,
        "automated": parsed.automated,
        "synthetic_id": int(parsed.synthetic_id),
        "truncated": int(parsed.truncated),
    }


# Each message's raw bytes (about 5 KB, often more) are stored whole: with SQLite's default 4 KB
# pages every one of them spills into a chain of overflow pages. 16 KB pages hold most in one
# page (storing 10,000 messages: a fifth less CPU, a quarter less wall time).
PAGE_SIZE = 16384


def open_store(path: Path) -> Store:
    """Open (creating if needed) the store, owner-only permissions, WAL mode, migrated."""
    conn: sqlite3.Connection | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(path, timeout=30.0, check_same_thread=False, isolation_level=None)
        db = sqlite_utils.Database(conn)
        # Takes effect only in a new, empty store (an existing one keeps its pages).
        db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        _enable_wal(db)
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        migrate(db)
    except sqlite3.DatabaseError as exc:
        if conn is not None:
            conn.close()
        raise StoreError(
            f"{path}: cannot open the store: {store_trouble(exc)}. Captured mail is never rewritten in place."
        ) from None
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the store: {exc.strerror}") from None
    return Store(db, path)


def open_reader(path: Path) -> Store:
    """Open an existing store read-only (another process writes it): for worker processes."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0, isolation_level=None)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot open the store to read: {store_trouble(exc)}") from None
    return Store(sqlite_utils.Database(conn), path)


def is_store_trouble(exc: sqlite3.DatabaseError) -> bool:
    """Errors of the file and the machine (full, locked, read-only, damaged), not of triage's SQL."""
    return isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError


def store_trouble(exc: sqlite3.DatabaseError) -> str:
    """A SQLite error as what happened and what to do about it."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith("SQLITE_FULL"):
        return f"the disk is full ({exc}): free space on the filesystem that holds the store"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return (
            f"the store is locked ({exc}) by another process for longer than the busy timeout: "
            "is a second triage, or a tool such as a backup, holding it?"
        )
    if name.startswith("SQLITE_READONLY"):
        return f"the store is read-only ({exc}): check the permissions of the file and its folder"
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return f"the file is damaged ({exc}): restore a backup (`triage backup` makes one)"
    return str(exc)


def _enable_wal(db: sqlite_utils.Database, attempts: int = 20) -> None:
    """Switch to WAL; the switch does not wait on the busy timeout, so a store being created by
    another process or thread at the same moment is retried briefly instead of failing."""
    for attempt in range(attempts):
        try:
            db.enable_wal()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def open_memory_store() -> Store:
    db = sqlite_utils.Database(memory=True)
    migrate(db)
    return Store(db)


def migrate(db: sqlite_utils.Database) -> None:
    """Apply every named migration not yet recorded.

    BEGIN IMMEDIATE takes the write lock before reading what was applied, so processes and
    threads opening the same store at once wait for each other instead of racing.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        db.table("migrations").create({"name": str, "applied_at": str}, pk="name", if_not_exists=True)
        done = {row["name"] for row in db.query("SELECT name FROM migrations")}
        for name, apply in MIGRATIONS:
            if name not in done:
                apply(db)
                db.table("migrations").insert({"name": name, "applied_at": utc_now()})
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")

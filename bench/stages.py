"""Each backfill stage alone, in-process through triage's library APIs, so the bottleneck shows.

fetch (imapclient, and triage's ImapSession) -> parse_mail -> Classifier.classify ->
Store.save_batch / replace_topics -> load_views -> FlagEngine.derive (timed per step) ->
replace_flags. Every stage gets the previous stage's output, already in memory.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from imapclient import IMAPClient

import triage.flagging
from triage.analyze import Analyzer, derived_rows
from triage.capture import chunks, direction_of
from triage.classify import Classification
from triage.config import Config
from triage.flagging import flag_row
from triage.model import FolderRole, Mail, RawMail, Unparsable
from triage.parse import parse_mail
from triage.sources.imap import ImapSession
from triage.store import Captured, Checkpoint, open_store
from triage.views import load_views

# The steps of FlagEngine.derive, timed by wrapping the names flagging.py calls.
DERIVE_STEPS = (
    "resolve_contacts",
    "link_replies",
    "acknowledged_questions",
    "check_reply",
    "find_repeats",
    "find_unanswered",
    "find_identifiers",
    "find_canned",
)


@dataclass
class Stage:
    name: str
    items: int
    seconds: float
    megabytes: float = 0.0
    note: str = ""
    parts: dict[str, float] = field(default_factory=dict)  # sub-step -> seconds

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds else float("inf")


# Wall time for the benchmark of record; offline.py switches to this process's CPU time, which a
# busy machine disturbs less.
CLOCK: Callable[[], float] = time.perf_counter


@contextmanager
def timer() -> Iterator[list[float]]:
    """`with timer() as t: ...` then t[0] is the elapsed seconds."""
    box = [0.0]
    start = CLOCK()
    try:
        yield box
    finally:
        box[0] = CLOCK() - start


@contextmanager
def timed_calls(module: Any, names: tuple[str, ...]) -> Iterator[dict[str, float]]:
    """Accumulate the time spent in module-level functions `names` of `module` (nested calls too)."""
    spent: dict[str, float] = defaultdict(float)
    originals = {name: getattr(module, name) for name in names}

    def wrapped(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            start = CLOCK()
            try:
                return func(*args, **kwargs)
            finally:
                spent[name] += CLOCK() - start

        return call

    for name, func in originals.items():
        setattr(module, name, wrapped(name, func))
    try:
        yield spent
    finally:
        for name, func in originals.items():
            setattr(module, name, func)


def fetch_imapclient(host: str, port: int, user: str, password: str, batch: int) -> Stage:
    """FETCH BODY.PEEK[] of every message of INBOX and Sent, `batch` UIDs per command."""
    count, size = 0, 0
    with timer() as elapsed:
        client = IMAPClient(host, port=port, ssl=False, timeout=120)
        client.login(user, password)
        for mailbox in ("INBOX", "Sent"):
            client.select_folder(mailbox, readonly=True)
            for uids in chunks(client.search("ALL"), batch):
                for data in client.fetch(uids, ["BODY.PEEK[]", "INTERNALDATE", "RFC822.SIZE"]).values():
                    count += 1
                    size += len(data[b"BODY[]"])
        client.logout()
    return Stage("fetch: imapclient FETCH BODY.PEEK[]", count, elapsed[0], size / 1e6, f"batches of {batch}")


def fetch_triage(config: Config) -> tuple[Stage, list[tuple[FolderRole, RawMail]]]:
    """triage's own fetch path (ImapSession: EXAMINE, UID SEARCH, then per batch UID SEARCH LARGER and FETCH)."""
    account = config.accounts[0]
    raws: list[tuple[FolderRole, RawMail]] = []
    with timer() as elapsed, ImapSession(account, config.capture.timeout_seconds) as session:
        for role in (FolderRole.INBOX, FolderRole.SENT):
            session.examine(session.mailbox_for(role))
            for uids in chunks(session.uids_after(0), config.capture.batch_size):
                raws += [(role, raw) for raw in session.fetch(uids, config.capture.max_message_bytes)]
    size = sum(len(raw.raw) for _, raw in raws) / 1e6
    note = f"batches of {config.capture.batch_size}"
    return Stage("fetch: triage ImapSession.fetch", len(raws), elapsed[0], size, note), raws


def parse_all(raws: list[tuple[FolderRole, RawMail]]) -> tuple[Stage, list[tuple[FolderRole, RawMail, Any]]]:
    with timer() as elapsed:
        parsed = [(role, raw, parse_mail(raw)) for role, raw in raws]
    size = sum(len(raw.raw) for _, raw in raws) / 1e6
    bad = sum(isinstance(p, Unparsable) for _, _, p in parsed)
    return Stage("parse: parse_mail", len(parsed), elapsed[0], size, f"{bad} quarantined"), parsed


def classify_all(analyzer: Analyzer, mails: list[Mail]) -> tuple[Stage, list[Classification]]:
    """Classifier.classify with the arguments analyze.classify_row passes from a stored row."""
    classifier = analyzer.classifier
    with timer() as elapsed:
        results = [
            classifier.classify(
                subject=mail.subject_norm,
                text=mail.new_text,
                lang=mail.lang,
                sender=mail.sender.email if mail.sender else "",
                to=" ".join(a.email for a in mail.to),
                automated=mail.automated,
            )
            for mail in mails
        ]
    skipped = sum(r.skipped is not None for r in results)
    return Stage("classify: Classifier.classify", len(results), elapsed[0], note=f"{skipped} skipped"), results


def measure_stages(config: Config, password: str, store_path: Path) -> list[Stage]:
    """Run every stage once over the whole mailbox of the config's first account."""
    account = config.accounts[0]
    stages: list[Stage] = []
    with timer() as elapsed:
        analyzer = Analyzer.from_config(config)
    stages.append(Stage("startup: Analyzer.from_config (rules, spaCy)", 1, elapsed[0]))
    stages.append(fetch_imapclient(account.host, account.port, account.username, password, config.capture.batch_size))
    stage, raws = fetch_triage(config)
    stages.append(stage)
    stage, parsed = parse_all(raws)
    stages.append(stage)
    mails = [p for _, _, p in parsed if isinstance(p, Mail)]
    stage, results = classify_all(analyzer, mails)
    stages.append(stage)
    stages += store_and_flag(config, analyzer, parsed, results, store_path)
    return stages


def store_and_flag(
    config: Config,
    analyzer: Analyzer,
    parsed: list[tuple[FolderRole, RawMail, Any]],
    results: list[Classification],
    store_path: Path,
) -> list[Stage]:
    """save_batch, replace_topics, then the flags: load_views, derive (per step), replace_flags."""
    stages: list[Stage] = []
    store = open_store(store_path)
    account = config.accounts[0].name
    ids: list[int] = []
    batch = config.capture.batch_size
    try:
        with timer() as elapsed:
            for items in chunks(parsed, batch):
                captured = [
                    Captured(p, raw.raw, direction_of(p, role, config), role, raw.uid, raw.size)
                    for role, raw, p in items
                ]
                role, last = items[-1][0], items[-1][1].uid or 0
                ids += store.save_batch(account, captured, Checkpoint(account, role, str(role), 1, last))
        size = sum(len(raw.raw) for _, raw, _ in parsed) / 1e6
        stages.append(Stage("store: Store.save_batch (messages + raw)", len(parsed), elapsed[0], size))
        parsed_ids = [i for i, (_, _, p) in zip(ids, parsed, strict=True) if isinstance(p, Mail)]
        with timer() as elapsed:
            for chunk in chunks(zip(parsed_ids, results, strict=True), batch):
                rows = [derived_rows(i, r, analyzer.version) for i, r in chunk]
                store.replace_topics([c for c, _ in rows], [t for _, ts in rows for t in ts])
        stages.append(Stage("store: Store.replace_topics", len(results), elapsed[0]))
        with timer() as elapsed:
            views = load_views(store)
        stages.append(Stage("flags: load_views (read store)", len(views), elapsed[0]))
        with timed_calls(triage.flagging, DERIVE_STEPS) as parts, timer() as elapsed:
            flags = analyzer.engine.derive(views, datetime.now(UTC))
        stage = Stage("flags: FlagEngine.derive", len(views), elapsed[0], note=f"{len(flags)} flags")
        stage.parts = dict(sorted(parts.items(), key=lambda kv: -kv[1]))
        stages.append(stage)
        with timer() as elapsed:
            rows_by_key = {r["key"]: r for r in (flag_row(f, analyzer.version) for f in flags)}
            store.replace_flags([v.id for v in views], list(rows_by_key.values()))
        stages.append(Stage("flags: Store.replace_flags", len(rows_by_key), elapsed[0], note="rows written"))
    finally:
        store.close()
    return stages

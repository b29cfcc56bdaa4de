"""Capture: fetch, parse, store and checkpoint, batch by batch; it never judges the mail."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import TypeVar

from triage.config import Config
from triage.model import Direction, FolderRole, Mail, RawMail, Unparsable
from triage.parse import parse_mail
from triage.sources.imap import ImapSession
from triage.store import Captured, Checkpoint, Store

log = logging.getLogger(__name__)
T = TypeVar("T")

# Called with the store and the row ids of newly stored messages, after their batch committed:
# the seam where analysis runs after capture.
AfterBatch = Callable[[Store, list[int]], None]


@dataclass(frozen=True)
class CaptureResult:
    folder: FolderRole
    mailbox: str
    fetched: int = 0
    new: int = 0
    quarantined: int = 0
    new_ids: tuple[int, ...] = ()


def direction_of(parsed: Mail | Unparsable, role: FolderRole, config: Config) -> Direction:
    """Mail in Sent, or from one of our addresses, is outgoing; everything else is a customer's."""
    if role is FolderRole.SENT:
        return Direction.OUT
    if isinstance(parsed, Mail) and parsed.sender and config.is_ours(parsed.sender.email):
        return Direction.OUT
    return Direction.IN


def to_captured(raws: Sequence[RawMail], role: FolderRole, config: Config) -> list[Captured]:
    captured = []
    for raw in raws:
        parsed = parse_mail(raw)
        if isinstance(parsed, Unparsable):
            log.warning("message quarantined", extra={"uid": raw.uid, "error": parsed.error})
        captured.append(
            Captured(
                parsed=parsed,
                raw=raw.raw,
                direction=direction_of(parsed, role, config),
                role=role,
                uid=raw.uid,
                size=raw.size or len(raw.raw),
            )
        )
    return captured


def capture_folder(
    session: ImapSession,
    store: Store,
    config: Config,
    role: FolderRole,
    stop: threading.Event | None = None,
    after_batch: AfterBatch | None = None,
) -> CaptureResult:
    """Bring one folder up to date: every UID above the checkpoint, in batches.

    Each batch's messages and the new checkpoint are written in one transaction, so a crash
    loses at most the batch in flight, which the next run fetches again.
    """
    account = session.account.name
    mailbox = session.mailbox_for(role)
    status = session.examine(mailbox)
    state = store.folder_state(account, role)
    last_uid = 0
    if state is not None and state.uidvalidity == status.uidvalidity:
        last_uid = state.last_uid
    elif state is not None:
        log.warning(
            "UIDVALIDITY changed: resyncing folder (duplicates are skipped)",
            extra={
                "account": account,
                "folder": role.value,
                "old": state.uidvalidity,
                "new": status.uidvalidity,
            },
        )
    uids = session.uids_after(last_uid)
    result = CaptureResult(folder=role, mailbox=mailbox)
    if not uids:
        store.save_batch(account, [], Checkpoint(account, role, mailbox, status.uidvalidity, last_uid))
        return result
    for batch in chunks(uids, config.capture.batch_size):
        if stop is not None and stop.is_set():
            break
        items = to_captured(session.fetch(batch, config.capture.max_message_bytes), role, config)
        new_ids = store.save_batch(account, items, Checkpoint(account, role, mailbox, status.uidvalidity, batch[-1]))
        result = CaptureResult(
            folder=role,
            mailbox=mailbox,
            fetched=result.fetched + len(items),
            new=result.new + len(new_ids),
            quarantined=result.quarantined + sum(isinstance(i.parsed, Unparsable) for i in items),
            new_ids=result.new_ids + tuple(new_ids),
        )
        log.info(
            "batch stored",
            extra={
                "account": account,
                "folder": role.value,
                "fetched": len(items),
                "new": len(new_ids),
                "last_uid": batch[-1],
            },
        )
        if after_batch is not None and new_ids:
            after_batch(store, new_ids)
    return result


def import_raw(
    raws: Iterable[RawMail],
    store: Store,
    config: Config,
    role: FolderRole,
    account: str = "import",
    after_batch: AfterBatch | None = None,
) -> CaptureResult:
    """Store mail from a local archive through the same parse and dedupe as IMAP capture."""
    result = CaptureResult(folder=role, mailbox="(local)")
    for batch in chunks(raws, config.capture.batch_size):
        items = to_captured(batch, role, config)
        new_ids = store.save_batch(account, items, None)
        result = CaptureResult(
            folder=role,
            mailbox="(local)",
            fetched=result.fetched + len(items),
            new=result.new + len(new_ids),
            quarantined=result.quarantined + sum(isinstance(i.parsed, Unparsable) for i in items),
            new_ids=result.new_ids + tuple(new_ids),
        )
        if after_batch is not None and new_ids:
            after_batch(store, new_ids)
    return result


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch

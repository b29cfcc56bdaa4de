"""Capture: fetch, parse, store and checkpoint, batch by batch; it never judges the mail."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any, TypeVar

from triage.config import Config
from triage.model import Direction, FolderRole, Mail, RawMail, Unparsable
from triage.parse import parse_mail
from triage.sources.imap import ImapSession
from triage.store import Captured, Checkpoint, Store, TopicRows

log = logging.getLogger(__name__)
T = TypeVar("T")
U = TypeVar("U")

# Called with the store and the row ids of newly stored messages, after their batch committed:
# the seam where analysis runs after capture.
AfterBatch = Callable[[Store, list[int]], None]


@dataclass(frozen=True)
class PreparedBatch:
    """A fetched batch made ready to store: parsed, and with its topics when they were derived too."""

    items: list[Captured]
    topics: list[TopicRows | None] | None = None  # per item


# Starts preparing a fetched batch (perhaps in another process); capture stores the results in order.
Prepare = Callable[[list[RawMail], FolderRole], "Future[PreparedBatch]"]
# Batches being prepared while the next one is fetched: enough to keep the workers busy.
BATCHES_AHEAD = 4


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


def completed(function: Callable[..., T], *args: Any) -> Future[T]:
    """Run function(*args) now; a future holding what it returned or raised, as from a worker."""
    done: Future[T] = Future()
    try:
        done.set_result(function(*args))
    except Exception as exc:  # noqa: BLE001 - delivered through the future
        done.set_exception(exc)
    return done


def parse_only(config: Config) -> Prepare:
    """Prepare batches inline, parsing only (topics are left to the after-batch hook)."""

    def submit(raws: list[RawMail], role: FolderRole) -> Future[PreparedBatch]:
        return completed(lambda: PreparedBatch(to_captured(raws, role, config)))

    return submit


def capture_folder(
    session: ImapSession,
    store: Store,
    config: Config,
    role: FolderRole,
    stop: threading.Event | None = None,
    after_batch: AfterBatch | None = None,
    prepare: Prepare | None = None,
) -> CaptureResult:
    """Bring one folder up to date: every UID above the checkpoint, in batches.

    Each batch's messages and the new checkpoint are written in one transaction, so a crash
    loses at most the batch in flight, which the next run fetches again. Batches are stored in
    UID order; while `prepare` works on some, the next ones are fetched.
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
    submit, ahead = (prepare, BATCHES_AHEAD) if prepare else (parse_only(config), 0)

    def fetched() -> Iterator[tuple[list[int], Future[PreparedBatch]]]:
        for batch in chunks(uids, config.capture.batch_size):
            if stop is not None and stop.is_set():
                return
            yield batch, submit(session.fetch(batch, config.capture.max_message_bytes), role)

    for batch, prepared in in_order(fetched(), ahead):
        checkpoint = Checkpoint(account, role, mailbox, status.uidvalidity, batch[-1])
        new_ids = store.save_batch(account, prepared.items, checkpoint, prepared.topics)
        result = _counted(result, prepared.items, new_ids)
        log.info(
            "batch stored",
            extra={
                "account": account,
                "folder": role.value,
                "fetched": len(prepared.items),
                "new": len(new_ids),
                "last_uid": batch[-1],
            },
        )
        if after_batch is not None and new_ids:
            after_batch(store, new_ids)
    return result


def _counted(result: CaptureResult, items: Sequence[Captured], new_ids: Sequence[int]) -> CaptureResult:
    return replace(
        result,
        fetched=result.fetched + len(items),
        new=result.new + len(new_ids),
        quarantined=result.quarantined + sum(isinstance(i.parsed, Unparsable) for i in items),
        new_ids=result.new_ids + tuple(new_ids),
    )


def in_order(submitted: Iterable[tuple[T, Future[U]]], ahead: int) -> Iterator[tuple[T, U]]:
    """Results in submission order, letting up to `ahead` more be submitted before waiting on one.

    When submitting fails (a fetch drops its connection), what was already submitted is still
    delivered before the error, so its batches are stored rather than fetched again.
    """
    waiting: deque[tuple[T, Future[U]]] = deque()
    entries = iter(submitted)
    while True:
        try:
            entry = next(entries, None)
        except Exception:
            while waiting:
                key, future = waiting.popleft()
                yield key, future.result()
            raise
        if entry is None:
            break
        waiting.append(entry)
        if len(waiting) > ahead:
            key, future = waiting.popleft()
            yield key, future.result()
    while waiting:
        key, future = waiting.popleft()
        yield key, future.result()


def import_raw(
    raws: Iterable[RawMail],
    store: Store,
    config: Config,
    role: FolderRole,
    account: str = "import",
    after_batch: AfterBatch | None = None,
    prepare: Prepare | None = None,
) -> CaptureResult:
    """Store mail from a local archive through the same parse and dedupe as IMAP capture."""
    submit, ahead = (prepare, BATCHES_AHEAD) if prepare else (parse_only(config), 0)
    submitted = ((None, submit(batch, role)) for batch in chunks(raws, config.capture.batch_size))
    result = CaptureResult(folder=role, mailbox="(local)")
    for _, prepared in in_order(submitted, ahead):
        new_ids = store.save_batch(account, prepared.items, None, prepared.topics)
        result = _counted(result, prepared.items, new_ids)
        if after_batch is not None and new_ids:
            after_batch(store, new_ids)
    return result


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch

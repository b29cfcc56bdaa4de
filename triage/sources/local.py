"""Mail from local archives: mbox files, Maildir folders and single .eml files."""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from triage.model import RawMail


class LocalSourceError(Exception):
    """A path that is not a readable mbox, Maildir or .eml file."""


def read_paths(paths: list[Path]) -> Iterator[RawMail]:
    """Every message under the given paths, in the order given."""
    for path in paths:
        yield from read_path(path)


def read_path(path: Path) -> Iterator[RawMail]:
    if path.is_dir():
        if (path / "cur").is_dir() or (path / "new").is_dir():
            yield from read_maildir(path)
        else:
            for child in sorted(path.iterdir()):
                if child.is_dir() or child.suffix.lower() in (".eml", ".mbox", ".msg", ""):
                    yield from read_path(child)
        return
    if not path.exists():
        raise LocalSourceError(f"{path}: no such file or directory")
    with path.open("rb") as handle:
        start = handle.read(5)
    if start == b"From ":
        yield from read_mbox(path)
    else:
        yield RawMail(raw=path.read_bytes(), internal_date=_mtime(path))


def read_maildir(path: Path) -> Iterator[RawMail]:
    box = mailbox.Maildir(path, factory=None, create=False)
    for key in sorted(box.keys()):
        delivered = datetime.fromtimestamp(box.get_message(key).get_date(), tz=UTC)
        yield RawMail(raw=box.get_bytes(key), internal_date=delivered)


def read_mbox(path: Path) -> Iterator[RawMail]:
    box = mailbox.mbox(path, create=False)
    try:
        for key in box.keys():  # noqa: SIM118 - iterating a mailbox yields messages, not keys
            message = box.get_message(key)
            raw = unescape_from_lines(box.get_bytes(key))
            yield RawMail(raw=raw, internal_date=_from_line_date(message.get_from()))
    finally:
        box.close()


ESCAPED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)


def unescape_from_lines(raw: bytes) -> bytes:
    """Undo the mboxrd escaping of body lines starting with "From " (">From " -> "From ").

    Without this the same message hashes differently from IMAP and from an archive, and an
    imported archive would duplicate mail already captured.
    """
    return ESCAPED_FROM.sub(rb"\1", raw)


def _from_line_date(from_line: str) -> datetime | None:
    # "From sender@example.com Mon Nov  3 10:00:00 2026": the date is asctime after the sender.
    parts = from_line.split(None, 1)
    if len(parts) < 2:
        return None
    try:
        return datetime.strptime(" ".join(parts[1].split()), "%a %b %d %H:%M:%S %Y").replace(tzinfo=UTC)
    except ValueError:
        try:
            return parsedate_to_datetime(parts[1])
        except (TypeError, ValueError):
            return None


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)

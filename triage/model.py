"""The nouns of triage: captured mail and what is derived from it, as frozen values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class FolderRole(StrEnum):
    """Which side of the conversation a watched folder holds."""

    INBOX = "inbox"
    SENT = "sent"


class Direction(StrEnum):
    """Whether mail came from a customer or from us."""

    IN = "in"
    OUT = "out"


@dataclass(frozen=True)
class RawMail:
    """Bytes as fetched from a source, before any parsing."""

    raw: bytes
    internal_date: datetime | None = None
    uid: int | None = None
    truncated: bool = False
    size: int | None = None


@dataclass(frozen=True)
class Address:
    """One mailbox: a display name and an address."""

    name: str
    email: str


@dataclass(frozen=True)
class Mail:
    """A parsed message: headers we use and the text split into new, quoted and signature."""

    message_id: str
    synthetic_id: bool
    sender: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    date: datetime
    subject: str
    subject_norm: str
    in_reply_to: str | None
    references: tuple[str, ...]
    new_text: str
    quoted_text: str
    signature: str
    lang: str
    automated: str | None
    content_hash: str
    truncated: bool = False
    reply_to: tuple[Address, ...] = field(default_factory=tuple)

    @property
    def is_automated(self) -> bool:
        return self.automated is not None


@dataclass(frozen=True)
class Unparsable:
    """A message the parser could not read: kept whole, with the reason, in quarantine."""

    raw: bytes
    error: str
    content_hash: str
    date: datetime


@dataclass(frozen=True)
class FolderState:
    """Where capture stands in one watched folder."""

    account: str
    role: FolderRole
    mailbox: str
    uidvalidity: int
    last_uid: int

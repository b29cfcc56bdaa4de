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


FLAG_KINDS = (
    "repeat-contact",
    "unresolved",
    "off-topic",
    "canned",
    "partial-answer",
    "ignored-details",
    "deflection",
    "auto-ack",
    "unanswered",
)


@dataclass(frozen=True)
class MessageView:
    """What the flag derivations need of one stored, parsed message."""

    id: int  # the store's row id
    message_id: str
    direction: Direction
    sender: str  # lower-cased address
    recipients: tuple[str, ...]
    date: datetime  # time-zone aware
    subject: str
    subject_norm: str
    in_reply_to: str | None
    references: tuple[str, ...]
    text: str  # the new text only: never the quoted history or the signature
    lang: str
    automated: str | None
    topics: tuple[str, ...] = ()


@dataclass(frozen=True)
class Flag:
    """One finding a lead should see, with everything needed to judge it."""

    kind: str  # one of FLAG_KINDS
    message: int  # row id of the flagged message
    severity: str  # "high", "medium" or "low"
    explanation: str  # one sentence a lead can read
    evidence: dict[str, object] = field(default_factory=dict)  # JSON-serialisable details
    related: tuple[str, ...] = ()  # Message-IDs this flag links (the question, earlier contacts, ...)

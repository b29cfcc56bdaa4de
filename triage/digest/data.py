"""The digest as pure data: frozen dataclasses the builder fills and every renderer reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}


@dataclass(frozen=True)
class Period:
    """The digest covers [start, end); the previous period of the same length is [previous_start, start)."""

    start: datetime
    end: datetime
    previous_start: datetime | None  # None when the period reaches back to the first message


@dataclass(frozen=True)
class FolderHealth:
    """One watched folder: when it last synced, its last error, and whether it needs attention."""

    account: str
    folder: str  # inbox or sent
    mailbox: str | None
    messages: int
    last_sync: datetime | None
    hours_since_sync: float | None
    stale: bool  # no successful sync for more than stale_hours
    last_error: str | None
    last_error_at: datetime | None
    oauth_failure: bool  # the last error is about OAuth, XOAUTH2 or a token
    # An error the folder recovered from during the digest's period (a dropped connection, a
    # restarted server): healthy now, but the lead sees that it happened and when.
    recovered_error: str | None = None
    recovered_at: datetime | None = None


@dataclass(frozen=True)
class Health:
    stale_hours: float
    folders: tuple[FolderHealth, ...]
    reload_error: str | None  # the last failed config/rules reload, if the daemon reported one


@dataclass(frozen=True)
class TopicVolume:
    topic: str
    count: int
    previous: int
    change: int
    change_percent: float | None  # None when the previous period had none (or there is none)


@dataclass(frozen=True)
class Volumes:
    """Incoming mail per topic in the period, against the previous period of the same length."""

    incoming: int
    previous_incoming: int
    outgoing: int
    previous_outgoing: int
    unclassified: int
    previous_unclassified: int
    topics: tuple[TopicVolume, ...]


@dataclass(frozen=True)
class Excerpt:
    """A message as the digest quotes it: who, when, subject and the start of its new text."""

    date: datetime
    sender: str
    subject: str
    text: str


@dataclass(frozen=True)
class FlagNote:
    """One flag on a message: what the check found and how sure a lead can be."""

    id: int  # `triage flags show|confirm|dismiss ID`
    kind: str
    severity: str
    status: str  # open or confirmed (dismissed flags are left out of the sections)
    explanation: str


@dataclass(frozen=True)
class FlaggedReply:
    """A reply that failed the customer, beside the question it answered."""

    message_id: str
    agent: str
    severity: str  # the highest of its flags
    reply: Excerpt
    question: Excerpt | None
    flags: tuple[FlagNote, ...]


@dataclass(frozen=True)
class Turn:
    """One contact of a repeat customer and what we told them."""

    date: datetime
    subject: str
    text: str
    reply_date: datetime | None
    reply_agent: str | None
    reply_text: str | None  # None: no real reply was recorded


@dataclass(frozen=True)
class RepeatContact:
    """A customer who wrote again about the same matter, with every contact so far."""

    customer: str
    times: int
    severity: str
    explanation: str  # of the latest repeat
    message_ids: tuple[str, ...]  # their repeat-contact flagged messages of the period
    flag_ids: tuple[int, ...]
    history: tuple[Turn, ...]  # oldest first, the latest repeat included


@dataclass(frozen=True)
class UnansweredMail:
    message_id: str
    flag_id: int
    customer: str
    severity: str
    age_hours: float | None
    topics: tuple[str, ...]
    explanation: str
    mail: Excerpt


@dataclass(frozen=True)
class ReusedReply:
    """Near-identical reply text sent to different questions (the canned check's groups)."""

    text: str
    times: int  # how many replies share the text
    topics: tuple[str, ...]  # the topics of the questions it went to
    agents: tuple[str, ...]
    message_ids: tuple[str, ...]  # its canned-flagged replies of the period


@dataclass(frozen=True)
class AgentRow:
    agent: str  # the reply sender's address
    replies: int  # real replies (not automatic acknowledgements) sent in the period
    flags: dict[str, int]  # open and confirmed flags on their replies, by kind
    first_responses: int  # questions this agent answered first, in the period
    median_first_response_minutes: float | None


@dataclass(frozen=True)
class Sample:
    """Incoming mail no topic rule recognised: where the rules need work."""

    message_id: str
    lang: str
    mail: Excerpt


@dataclass(frozen=True)
class RuleCount:
    rule: str
    hits: int


@dataclass(frozen=True)
class RuleHits:
    topic: str
    messages: int  # incoming messages of the period with this topic
    kinds: dict[str, int]  # evidence kind (keyword, regex, example, header...) -> hits
    rules: tuple[RuleCount, ...]  # the rules that fired most


@dataclass(frozen=True)
class CheckPrecision:
    kind: str
    flags: int  # flags of this kind in the period (dismissed included)
    confirmed: int  # all-time verdicts of leads
    dismissed: int
    precision: float | None  # confirmed / (confirmed + dismissed); None before any verdict


@dataclass(frozen=True)
class FlagRef:
    """Every flag of the period, also the dismissed ones, with the section that shows it."""

    id: int
    message_id: str
    kind: str
    severity: str
    status: str
    section: str | None  # None: dismissed, or a kind no section shows


@dataclass(frozen=True)
class Digest:
    """Everything a support lead reads about one period, in the order they read it."""

    period: Period
    timezone: str  # the zone renderers show times in ([digest] timezone); the data stays in UTC
    generated_at: datetime
    flagged_message_ids: tuple[str, ...]  # the contract: every flagged message of the period
    flags: tuple[FlagRef, ...]
    health: Health
    volumes: Volumes
    flagged_replies: tuple[FlaggedReply, ...]
    repeat_contacts: tuple[RepeatContact, ...]
    unanswered: tuple[UnansweredMail, ...]
    reused_replies: tuple[ReusedReply, ...]
    agents: tuple[AgentRow, ...]
    unclassified: tuple[Sample, ...]
    rule_hits: tuple[RuleHits, ...]
    precision: tuple[CheckPrecision, ...]


# The sections in reading order: (Digest field, anchor id, title, what it shows).
SECTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("health", "health", "Mailbox health", "Last sync and errors per account and folder."),
    ("volumes", "volumes", "Volume by topic", "Incoming mail per topic against the previous period."),
    ("flagged_replies", "flagged-replies", "Flagged replies", "Replies that failed the customer, beside the question."),
    ("repeat_contacts", "repeat-contacts", "Repeat contacts", "Customers who wrote again, and what they were told."),
    ("unanswered", "unanswered", "Unanswered past the SLA", "Customer mail with no real reply in time."),
    ("reused_replies", "reused-replies", "Most reused replies", "The same text sent to questions that differ."),
    ("agents", "agents", "Agents", "Replies, flags and median first response per sender."),
    ("unclassified", "unclassified", "Unclassified samples", "Incoming mail no topic rule recognised."),
    ("rule_hits", "rule-hits", "Rule hits", "Which topics and rules fired on incoming mail."),
    ("precision", "precision", "Check precision", "Confirmed / (confirmed + dismissed), from leads' feedback."),
)

"""Turn raw message bytes into a Mail value: headers, text, quote split, language, automated mark."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import UTC, datetime
from email.errors import MessageError
from email.header import decode_header, make_header
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

import mailparser

from triage.language import guess_language
from triage.model import Address, Mail, RawMail, Unparsable
from triage.textsplit import html_to_text, split_text

# mail-parser logs every defect (at WARNING, undecodable headers at ERROR with the header text in
# the line): a support mailbox is full of them, and logs carry no message content.
logging.getLogger("mailparser").setLevel(logging.CRITICAL)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
REPLY_PREFIX = re.compile(
    r"^\s*((re|fwd?|fw|aw|wg|antw|sv|vs|tr|rv|r|balas|bls|trs|teruskan)\s*(\[\d+\]|\(\d+\))?\s*[:：]\s*)+",
    re.IGNORECASE,
)
NO_REPLY_SENDER = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|mailer-daemon|postmaster|bounces?)([+-].*)?@",
    re.IGNORECASE,
)
AUTO_SUBJECT = re.compile(
    r"^\s*(auto(matic)?\s*(reply|response)|out of (the )?office|autoreply|auto:|"
    r"balasan otomatis|undeliverable|delivery status notification|mail delivery failed|"
    r"returned mail)",
    re.IGNORECASE,
)
HEADER_END = re.compile(rb"\r?\n\r?\n")
# Headers that identify a message's content; delivery headers (Received, X-...) are left out
# so the same message captured from IMAP and from an mbox archive hashes the same.
HASHED_HEADERS = ("message-id", "from", "to", "date", "subject")


class ParseError(Exception):
    """Bytes that are not a usable message."""


def parse_mail(raw: RawMail) -> Mail | Unparsable:
    """Parse raw bytes; never raises: unreadable mail comes back as Unparsable for quarantine."""
    digest = content_hash(raw.raw)
    try:
        return _parse(raw, digest)
    except Exception as exc:  # noqa: BLE001 - any parser failure must quarantine, not crash
        return Unparsable(
            raw=raw.raw,
            error=f"{type(exc).__name__}: {exc}"[:500],
            content_hash=digest,
            date=raw.internal_date or EPOCH,
        )


def _parse(raw: RawMail, digest: str) -> Mail:
    if not raw.raw.strip():
        raise ParseError("empty message")
    parsed = mailparser.parse_from_bytes(utf8_headers(raw.raw))
    headers = {k.lower(): v for k, v in parsed.headers.items()}
    if not headers.keys() & {"from", "to", "subject", "date", "message-id"}:
        raise ParseError("no From, To, Subject, Date or Message-ID header: not an e-mail message")
    message_id = first_message_id(_header_text(headers.get("message-id")))
    subject = _header_text(headers.get("subject"))
    plain = parsed.text_plain
    if not plain and _multipart_without_parts(parsed.message):
        plain = parsed.text_not_managed  # the boundary never appears: the body is the text
    split = split_text(body_text(plain, parsed.text_html))
    sender = _addresses(headers.get("from"))
    return Mail(
        message_id=message_id or f"<{digest[:32]}@triage.invalid>",
        synthetic_id=not message_id,
        sender=sender[0] if sender else None,
        to=tuple(_addresses(headers.get("to"))),
        cc=tuple(_addresses(headers.get("cc"))),
        reply_to=tuple(_addresses(headers.get("reply-to"))),
        date=parse_date(_header_text(headers.get("date"))) or raw.internal_date or EPOCH,
        subject=subject,
        subject_norm=normalise_subject(subject),
        in_reply_to=first_message_id(_header_text(headers.get("in-reply-to"))),
        references=tuple(message_ids(_header_text(headers.get("references")))),
        new_text=split.new,
        quoted_text=split.quoted,
        signature=split.signature,
        lang=guess_language(f"{subject}\n{split.new}"),
        automated=automated_reason(headers, sender[0] if sender else None, subject),
        content_hash=digest,
        truncated=raw.truncated,
    )


def content_hash(raw: bytes) -> str:
    """SHA-256 of the identifying headers and the body, independent of line endings."""
    match = HEADER_END.search(raw)
    head, body = (raw[: match.start()], raw[match.end() :]) if match else (raw, b"")
    wanted: list[bytes] = []
    for line in re.split(rb"\r?\n(?![ \t])", head):
        name = line.split(b":", 1)[0].strip().lower()
        if name.decode("ascii", "replace") in HASHED_HEADERS:
            wanted.append(b" ".join(line.split()))
    if not wanted:  # not a recognisable header block: only the exact bytes identify it
        return hashlib.sha256(raw).hexdigest()
    normal_body = b"\n".join(line.rstrip() for line in body.splitlines()).strip()
    hasher = hashlib.sha256()
    for part in sorted(wanted):
        hasher.update(part + b"\n")
    hasher.update(b"\n" + normal_body)
    return hasher.hexdigest()


def utf8_headers(raw: bytes) -> bytes:
    """The message with raw 8-bit header lines that are not UTF-8 (cp1252, Latin-1) re-encoded as UTF-8.

    mail-parser decodes raw header bytes as UTF-8 only: it drops the others from a subject and
    leaves them as escaped surrogates in a display name.
    """
    match = HEADER_END.search(raw)
    head = raw[: match.start()] if match else raw
    if head.isascii():
        return raw
    return b"\n".join(_utf8_line(line) for line in head.split(b"\n")) + raw[len(head) :]


def _utf8_line(line: bytes) -> bytes:
    for codec in ("utf-8", "cp1252"):
        try:
            return line.decode(codec).encode("utf-8")
        except UnicodeDecodeError:
            continue
    return line.decode("latin-1").encode("utf-8")


def _multipart_without_parts(message: Any) -> bool:
    """A message that claims to be multipart but whose boundary never appears."""
    if message is None:
        return False
    return message.get_content_maintype() == "multipart" and not message.is_multipart()


def body_text(plain: list[str], html: list[str]) -> str:
    """The message text: plain parts when there are any, else text extracted from HTML."""
    text = "\n".join(part for part in plain if part.strip())
    if text.strip():
        return text
    return "\n".join(html_to_text(part) for part in html)


def normalise_subject(subject: str) -> str:
    """Subject without reply/forward prefixes (Re, Fwd, AW, Balas, ...), lower-cased, spaces folded."""
    return " ".join(REPLY_PREFIX.sub("", subject).split()).lower()


MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def message_ids(value: str) -> list[str]:
    return MESSAGE_ID.findall(value or "")


def first_message_id(value: str) -> str | None:
    found = message_ids(value)
    if found:
        return found[0]
    bare = (value or "").strip()
    return f"<{bare}>" if bare and " " not in bare else None


def parse_date(value: str) -> datetime | None:
    """A time-zone aware date from a Date header, or None when it is missing or unreadable."""
    if not value.strip():
        return None
    try:
        date = parsedate_to_datetime(value)
        date = date if date.tzinfo else date.replace(tzinfo=UTC)
        date.astimezone(UTC)  # 31 Dec 9999 23:00 -0200 has no UTC time: the store could not save it
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return date


def automated_reason(headers: dict[str, Any], sender: Address | None, subject: str) -> str | None:
    """Why a message was sent by a machine (RFC 3834, list, bounce, no-reply), or None."""
    auto_submitted = _header_text(headers.get("auto-submitted")).strip().lower()
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    precedence = _header_text(headers.get("precedence")).strip().lower()
    if precedence in {"bulk", "list", "junk", "auto_reply"}:
        return f"Precedence: {precedence}"
    for name in ("x-autoreply", "x-autorespond", "x-auto-response-suppress", "x-autogenerated"):
        if name in headers:
            return f"{name.title()} header"
    if "list-id" in headers or "list-unsubscribe" in headers:
        return "mailing list (List-Id/List-Unsubscribe)"
    content_type = _header_text(headers.get("content-type")).lower()
    if "multipart/report" in content_type or "delivery-status" in content_type:
        return "delivery status notification (bounce)"
    if _header_text(headers.get("x-spam-flag")).strip().lower() == "yes":
        return "marked as spam (X-Spam-Flag)"
    if sender and NO_REPLY_SENDER.match(sender.email):
        return f"automated sender {sender.email}"
    if AUTO_SUBJECT.match(subject):
        return "auto-reply subject"
    return None


def _header_text(value: Any) -> str:
    """A header value from mail-parser as one decoded string."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_header_text(v) for v in value)
    if isinstance(value, tuple):
        name, email = ([*list(value), "", ""])[:2]
        return f"{name} <{email}>" if name else str(email)
    text = str(value)
    if "=?" in text:
        try:
            return str(make_header(decode_header(text)))
        except (ValueError, LookupError, UnicodeDecodeError, MessageError):
            return text
    return text


def _addresses(value: Any) -> list[Address]:
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(v, tuple) for v in value):
        pairs = [(str(n), str(e)) for n, e in value]
    else:
        pairs = getaddresses([_header_text(value)])
    return [Address(name=n.strip(), email=e.strip().lower()) for n, e in pairs if e and "@" in e]

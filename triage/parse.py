"""Turn raw message bytes into a Mail value: headers, text, quote split, language, automated mark."""

from __future__ import annotations

import contextlib
import email
import functools
import hashlib
import itertools
import logging
import re
from datetime import UTC, datetime
from email.errors import MessageError, StartBoundaryNotFoundDefect
from email.header import Header, decode_header, make_header
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any

from mailparser.exceptions import MailParserRecursionError
from mailparser.utils import (
    decode_header_part,
    find_between,
    get_addresses,
    mime_header_view,
    ported_string,
)

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
# The line break that ends a header block and the empty line after it: "\n\r?\n" and a "\r"
# before it (a pattern with a literal first character is searched for many times faster).
HEADER_END = re.compile(rb"\n\r?\n")
# Headers that identify a message's content; delivery headers (Received, X-...) are left out
# so the same message captured from IMAP and from an mbox archive hashes the same.
HASHED_HEADERS = frozenset((b"message-id", b"from", b"to", b"date", b"subject"))
FIELD_BREAK = re.compile(rb"\n(?![ \t])")


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
    message = read_message(utf8_headers(raw.raw))
    headers = Headers(message)
    if not headers.names & {"from", "to", "subject", "date", "message-id"}:
        raise ParseError("no From, To, Subject, Date or Message-ID header: not an e-mail message")
    message_id = first_message_id(headers.text("message-id"))
    subject = headers.text("subject")
    split = split_text(body_text(message))
    sender = headers.addresses("from")
    return Mail(
        message_id=message_id or f"<{digest[:32]}@triage.invalid>",
        synthetic_id=not message_id,
        sender=sender[0] if sender else None,
        to=headers.addresses("to"),
        cc=headers.addresses("cc"),
        reply_to=headers.addresses("reply-to"),
        date=parse_date(headers.text("date")) or raw.internal_date or EPOCH,
        subject=subject,
        subject_norm=normalise_subject(subject),
        in_reply_to=first_message_id(headers.text("in-reply-to")),
        references=tuple(message_ids(headers.text("references"))),
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
    head, body = split_head(raw)
    wanted: list[bytes] = []
    for line in FIELD_BREAK.split(head):  # a "\r" left at a line's end is blank space, dropped below
        if line.partition(b":")[0].strip().lower() in HASHED_HEADERS:
            wanted.append(b" ".join(line.split()))
    if not wanted:  # not a recognisable header block: only the exact bytes identify it
        return hashlib.sha256(raw).hexdigest()
    normal_body = b"\n".join([line.rstrip() for line in body.splitlines()]).strip()
    hasher = hashlib.sha256()
    for part in sorted(wanted):
        hasher.update(part + b"\n")
    hasher.update(b"\n" + normal_body)
    return hasher.hexdigest()


def split_head(raw: bytes) -> tuple[bytes, bytes]:
    """The header block and the body, split at the first empty line."""
    match = HEADER_END.search(raw)
    if match is None:
        return raw, b""
    start = match.start() - 1 if raw[match.start() - 1 : match.start()] == b"\r" else match.start()
    return raw[:start], raw[match.end() :]


def utf8_headers(raw: bytes) -> bytes:
    """The message with raw 8-bit header lines that are not UTF-8 (cp1252, Latin-1) re-encoded as UTF-8.

    mail-parser decodes raw header bytes as UTF-8 only: it drops the others from a subject and
    leaves them as escaped surrogates in a display name.
    """
    head = split_head(raw)[0]
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


# feedparser's grammar (email/feedparser.py), for the messages read_message builds itself.
BLANK_LINE_AFTER_FIRST = re.compile(r"\n\r?\n")
# A header field: a name of printable ASCII but ':' and space, a colon, then continuation lines.
HEADER_FIELD = re.compile(r"([\041-\071\073-\176]+):([^\n]*\n(?:[ \t][^\n]*\n)*)")
HEADER_BLOCK = re.compile(rf"(?:{HEADER_FIELD.pattern})*")
BOUNDARY_LINE_END = re.compile(r"(?P<end>--)?[ \t]*(\r\n|\r|\n)?$")
# str.splitlines, and so feedparser, breaks lines at these too; a message with them takes the slow path.
ODD_LINE_BREAKS = (b"\v", b"\f", b"\x1c", b"\x1d", b"\x1e")
MAX_REGULAR_DEPTH = 8
CONTENT_HEADERS = frozenset(("content-type", "content-disposition", "content-id", "content-transfer-encoding"))


def read_message(raw: bytes) -> Message:
    """The message tree email.message_from_bytes builds, built faster for regular mail.

    feedparser reads a message a line at a time in Python and compiles a regex for every
    multipart boundary: most of the parse time. A regular message (every header block clean,
    every multipart opened and closed by its boundary, no message/* parts, no odd line breaks)
    is cut at its boundaries with str.find and its header blocks read with one regex, into
    the same Message objects; anything else is left to feedparser whole.
    """
    text = raw.decode("ascii", "surrogateescape")  # as email.message_from_bytes does
    odd = raw.count(b"\r") != raw.count(b"\r\n") or any(c in raw for c in ODD_LINE_BREAKS)
    try:
        message = None if odd else _regular_part(text, 0)
        return email.message_from_string(text) if message is None else message
    except RecursionError as exc:  # a crafted message nested thousands deep
        raise MailParserRecursionError(
            "Message nesting too deep to parse (possible malicious multipart structure)"
        ) from exc


def _regular_part(text: str, depth: int) -> Message | None:
    """The part feedparser reads from text (nested in a multipart when depth > 0), or None."""
    blank = _blank_line(text)
    message = _header_fields(text, blank[0]) if blank else None
    if message is None or blank is None:
        return None
    body = text[blank[1] :]
    maintype = message.get_content_maintype()
    if maintype == "message":
        return None
    if maintype == "multipart":
        return _regular_multipart(message, body, depth)
    # The line break before a boundary belongs to the boundary (RFC 2046), not to the part.
    message.set_payload(_strip_last_eol(body) if depth else body)
    return message


def _blank_line(text: str) -> tuple[int, int] | None:
    """Start and end of the first empty line."""
    for blank in ("\n", "\r\n"):
        if text.startswith(blank):
            return 0, len(blank)
    match = BLANK_LINE_AFTER_FIRST.search(text)
    return (match.start() + 1, match.end()) if match else None


def _header_fields(text: str, end: int) -> Message | None:
    """A message with the header fields in text[:end], as feedparser reads them; None if a line is no field."""
    # Anchored: a search from every character of a long name without a colon takes quadratic time.
    if not HEADER_BLOCK.fullmatch(text, 0, end):
        return None
    message = Message()
    for name, value in HEADER_FIELD.findall(text, 0, end):
        # compat32's header_source_parse: the value without the blanks after the colon and the last line break
        message.set_raw(name, value.lstrip(" \t").rstrip("\r\n"))
    return message


def _regular_multipart(message: Message, body: str, depth: int) -> Message | None:
    """The multipart with its parts, preamble and epilogue; None unless every part is regular."""
    boundary = message.get_boundary()
    encoding = str(message.get("content-transfer-encoding", "8bit")).lower()
    if (
        boundary is None
        or depth >= MAX_REGULAR_DEPTH
        or message.get_content_subtype() == "digest"  # its parts default to message/rfc822
        or encoding not in ("7bit", "8bit", "binary")
    ):
        return None
    lines = _boundary_lines(body, "--" + boundary)
    parts: list[Message | str] = []
    for (_, part_start), (part_end, _) in itertools.pairwise(lines):
        part = _regular_part(body[part_start:part_end], depth + 1) if part_start < part_end else None
        if part is None:  # also two boundary lines in a row: feedparser reads them as one
            return None
        parts.append(part)
    if not parts:
        return None
    if lines[0][0]:
        message.preamble = _strip_last_eol(body[: lines[0][0]])
    epilogue = body[lines[-1][1] :]
    message.epilogue = (_strip_last_eol(epilogue) if epilogue else None) if depth else epilogue
    message.set_payload(parts)
    return message


def _boundary_lines(body: str, separator: str) -> list[tuple[int, int]]:
    """(start, end) of each boundary line up to the closing one; [] when it never closes."""
    lines: list[tuple[int, int]] = []
    found = body.find(separator)
    while found >= 0:
        line_end = body.find("\n", found) + 1 or len(body)
        if found == 0 or body[found - 1] == "\n":
            match = BOUNDARY_LINE_END.match(body[found:line_end], len(separator))
            if match:
                lines.append((found, line_end))
                if match.group("end"):
                    return lines
        found = body.find(separator, line_end)
    return []


def _strip_last_eol(text: str) -> str:
    for eol in ("\r\n", "\n", "\r"):
        if text.endswith(eol):
            return text[: -len(eol)]
    return text


class Headers:
    """A message's headers as mail-parser decodes them, decoded only when asked for."""

    def __init__(self, message: Message) -> None:
        self.policy = message.policy
        self.fields: dict[str, list[tuple[str, Any]]] = {}
        for name, value in message.raw_items():
            self.fields.setdefault(name.lower(), []).append((name, value))
        self.names = self.fields.keys()

    def __contains__(self, name: str) -> bool:
        return name in self.fields

    def values(self, name: str) -> list[Any]:
        """The values as Message.items() gives them: a Header where there are undecodable bytes."""
        return [self.policy.header_fetch_parse(*field) for field in self.fields.get(name, ())]

    def text(self, name: str) -> str:
        """The decoded value; repeated headers joined with ', '."""
        if name not in self.fields:
            return ""
        return ", ".join(_header_text(_decoded(value)) for value in self.values(name))

    def addresses(self, name: str) -> tuple[Address, ...]:
        """The addresses of the first such header."""
        values = self.values(name)
        if not values:
            return ()
        if isinstance(values[0], str):
            return _addresses(values[0])
        return _addresses.__wrapped__(values[0])  # a Header (undecodable bytes): not hashable


def _decoded(value: Any) -> str:
    """mail-parser's decoded header value (decode_header_part), at once for plain ASCII."""
    if isinstance(value, str) and value.isascii() and "=?" not in value:
        return value.strip()
    return str(decode_header_part(value))


# Cached: a mailbox's messages are addressed by and to the same few people, ourselves above all,
# and mail-parser's address parser is the slowest step of a parse.
@functools.lru_cache(maxsize=4096)
def _addresses(value: str | Header) -> tuple[Address, ...]:
    return tuple(
        Address(name=("" if n == e else str(n)).strip(), email=str(e).strip().lower())
        for n, e in get_addresses(value, decode_names=True)
        if e and "@" in e
    )


def body_text(message: Message) -> str:
    """The message text: its plain parts when there are any, else the text of its HTML parts.

    Parts are chosen as mail-parser chooses them, and decoded only when their text is used.
    """
    parts = _body_parts(message)
    plain = _texts(parts, "plain")
    if not plain and _multipart_without_parts(message):
        plain = _texts(parts, "other")  # the boundary never appears: the body is the text
    text = "\n".join(part for part in plain if part.strip())
    if text.strip():
        return text
    return "\n".join(html_to_text(part) for part in _texts(parts, "html"))


def _multipart_without_parts(message: Message) -> bool:
    """A message that claims to be multipart but whose boundary never appears."""
    return message.get_content_maintype() == "multipart" and not message.is_multipart()


def _body_parts(message: Message) -> list[tuple[str, Message, Message]]:
    """The parts that are body text, not attachments: kind ("plain", "html", "other"), part, Content-* headers."""
    parts: list[tuple[Message, bool]] = []
    in_attachment: set[int] = set()
    start_boundary_missing = False
    for part in message.walk():
        inside = id(part) in in_attachment
        parts.append((part, inside))
        start_boundary_missing |= any(isinstance(d, StartBoundaryNotFoundDefect) for d in part.defects)
        if part.is_multipart():
            disposition = part.get_content_disposition()
            if inside or disposition not in (None, "inline") or (disposition != "inline" and _filename(part)):
                in_attachment.update(id(child) for child in part.get_payload())
    if start_boundary_missing:  # mail-parser reads the epilogue as one more part
        boundary = message.get_boundary()
        epilogue = find_between(message.epilogue, "--" + boundary, "--" + boundary + "--")  # type: ignore[operator]
        if epilogue is not None:
            with contextlib.suppress(Exception):  # as mail-parser: an unreadable epilogue is no part
                parts.append((email.message_from_string(epilogue), True))
    body: list[tuple[str, Message, Message]] = []
    for part, inside in parts:
        if not part.is_multipart():
            metadata = _content_headers(part)
            if not _is_attachment(part, metadata, inside):
                subtype = part.get_content_subtype()
                body.append((subtype if subtype in ("plain", "html") else "other", part, metadata))
    return body


def _content_headers(part: Message) -> Message:
    """The part's Content-* headers with undecodable bytes as UTF-8, as mail-parser reads them (the part if ASCII)."""
    if all(str(value).isascii() for name, value in part.raw_items() if name.lower() in CONTENT_HEADERS):
        return part
    return mime_header_view(part)[0]  # type: ignore[no-any-return]


def _filename(part: Message) -> str | None:
    # get_filename() parses every parameter of two headers: not needed where neither says "name".
    if not any(
        "name" in str(value).lower()
        for name, value in part.raw_items()
        if name.lower() in ("content-disposition", "content-type")
    ):
        return None
    return part.get_filename()


def _is_attachment(part: Message, metadata: Message, inside_attachment: bool) -> bool:
    """mail-parser's rule: a named part, a non-text part with a Content-ID, an attachment flag."""
    disposition = ported_string(metadata.get_content_disposition()).lower()
    if not inside_attachment and disposition == "inline" and part.get_content_type() in ("text/plain", "text/html"):
        return False  # named inline text is body text too
    subtype = ported_string(metadata.get_content_subtype())
    return bool(
        disposition == "attachment"
        or subtype in "rtf"  # sic: mail-parser tests `in ("rtf")`, a substring test
        or (ported_string(metadata.get("content-id")) and subtype not in ("html", "plain"))
        or decode_header_part(_filename(metadata), defects=[])
    )


def _charset(metadata: Message) -> str:
    """metadata.get_content_charset("utf-8"), parsed once per Content-Type value: a few values recur."""
    content_type = metadata.get("content-type")
    if isinstance(content_type, str):
        return _content_type_charset(content_type)
    return str(metadata.get_content_charset("utf-8"))


@functools.lru_cache(maxsize=1024)
def _content_type_charset(content_type: str) -> str:
    headers = Message()
    headers.set_raw("Content-Type", content_type)
    return str(headers.get_content_charset("utf-8"))


def _texts(parts: list[tuple[str, Message, Message]], kind: str) -> list[str]:
    """The non-empty texts of the parts of one kind."""
    texts = (_decoded_text(part, metadata) for part_kind, part, metadata in parts if part_kind == kind)
    return [text for text in texts if text]


def _decoded_text(part: Message, metadata: Message) -> str:
    """A body part's text, decoded as mail-parser decodes it."""
    payload = part.get_payload(decode=True)
    encoding = ported_string(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if not encoding or encoding in ("7bit", "8bit"):
        # The text as read: get_payload() would decode undecodable bytes with the declared charset.
        raw_text = part._payload  # type: ignore[attr-defined]
        if isinstance(raw_text, str):
            try:
                raw_text.encode("utf-8")
            except UnicodeEncodeError:
                pass  # undecodable bytes kept as surrogates: decode them below
            else:
                return raw_text
    if not isinstance(payload, bytes) or not payload:  # bytes, for a part that is not multipart
        return ""
    try:
        text = payload.decode(_charset(metadata))
        text.encode("utf-8")  # some codecs produce lone surrogates
    except (LookupError, UnicodeError):
        text = payload.decode("utf-8", "replace")
    return str(ported_string(text))


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


def automated_reason(headers: Headers, sender: Address | None, subject: str) -> str | None:
    """Why a message was sent by a machine (RFC 3834, list, bounce, no-reply), or None."""
    auto_submitted = headers.text("auto-submitted").strip().lower()
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    precedence = headers.text("precedence").strip().lower()
    if precedence in {"bulk", "list", "junk", "auto_reply"}:
        return f"Precedence: {precedence}"
    for name in ("x-autoreply", "x-autorespond", "x-auto-response-suppress", "x-autogenerated"):
        if name in headers:
            return f"{name.title()} header"
    if "list-id" in headers or "list-unsubscribe" in headers:
        return "mailing list (List-Id/List-Unsubscribe)"
    content_type = headers.text("content-type").lower()
    if "multipart/report" in content_type or "delivery-status" in content_type:
        return "delivery status notification (bounce)"
    if headers.text("x-spam-flag").strip().lower() == "yes":
        return "marked as spam (X-Spam-Flag)"
    if sender and NO_REPLY_SENDER.match(sender.email):
        return f"automated sender {sender.email}"
    if AUTO_SUBJECT.match(subject):
        return "auto-reply subject"
    return None


def _header_text(value: str | list[str]) -> str:
    """A header value from mail-parser as one decoded string."""
    if isinstance(value, list):
        return ", ".join(_header_text(v) for v in value)
    if "=?" in value:
        try:
            return str(make_header(decode_header(value)))
        except (ValueError, LookupError, UnicodeDecodeError, MessageError):
            return value
    return value

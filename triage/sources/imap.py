"""Read-only IMAP access (the only imapclient user): examine, search, peek-fetch and IDLE."""

from __future__ import annotations

import imaplib
import logging
import re
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.response_parser import parse_fetch_response

from triage.config import AccountConfig
from triage.credentials import CredentialError, OAuth2Token, SecretSource
from triage.model import FolderRole, RawMail

log = logging.getLogger(__name__)

ClientFactory = Callable[..., Any]

# What a fetch asks of each message (BODY.PEEK: never sets \Seen).
WHOLE_MESSAGE = "(BODY.PEEK[] INTERNALDATE RFC822.SIZE)"
# The usual FETCH answer, as imaplib hands it over: "<seq> (<items> BODY[] {<size>}", the literal,
# then the rest of the line (" UID 7)" or ")").
WITH_BODY = re.compile(rb"\d+ \((?P<items>.*)BODY\[\] \{\d+\}", re.DOTALL)
UID_ITEM = re.compile(rb"(?<![\w.])UID (\d+)")
SIZE_ITEM = re.compile(rb"(?<![\w.])RFC822\.SIZE (\d+)")
DATE_ITEM = re.compile(rb'(?<![\w.])INTERNALDATE "([^"]*)"')
INTERNALDATE = re.compile(
    rb"(?P<day>[ \d]?\d)-(?P<month>[A-Za-z]{3})-(?P<year>\d{4}) (?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d) "
    rb"(?P<sign>[+-])(?P<hours>\d\d)(?P<minutes>\d\d)"
)
MONTHS = {name: number for number, name in enumerate(b"jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}


class ImapError(Exception):
    """An IMAP operation failed; the connection should be dropped and retried later."""


class ImapAuthError(ImapError):
    """The server refused our credentials: retrying will not help until the config is fixed."""


@dataclass(frozen=True)
class FolderStatus:
    mailbox: str
    uidvalidity: int
    uidnext: int | None
    exists: int


def tls_context(account: AccountConfig) -> ssl.SSLContext:
    """Certificates are verified unless the account explicitly turns it off."""
    context = ssl.create_default_context(cafile=str(account.tls_ca_file) if account.tls_ca_file else None)
    if not account.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@contextmanager
def imap_errors(account: AccountConfig, doing: str, handshake: bool = False) -> Iterator[None]:
    """Turn the many ways IMAP fails (socket, TLS, protocol) into ImapError with context.

    `handshake`: the block sets up TLS, so a TLS error there means the handshake failed.
    """
    where = f"account {account.name!r} ({account.host}:{account.port})"
    try:
        yield
    except LoginError as exc:
        if connection_lost(exc):
            raise ImapError(f"{where}: {doing} failed: {_server_text(exc.__context__ or exc)}") from None
        raise ImapAuthError(
            f"{where}: login refused for user {account.username!r}: {_server_text(exc)}; "
            "check the username and password source"
        ) from None
    except CredentialError as exc:
        raise ImapAuthError(f"{where}: {exc}") from None
    except ssl.SSLCertVerificationError as exc:
        raise ImapError(
            f"{where}: TLS certificate not trusted while {doing}: {exc.verify_message}; "
            "set tls_ca_file for a private CA (tls_verify = false only for testing)"
        ) from None
    except ssl.SSLError as exc:
        if not handshake:
            raise ImapError(f"{where}: {doing} failed: {_server_text(exc)}") from None
        reason = (exc.reason or _server_text(exc)).replace("_", " ").lower()
        raise ImapError(
            f'{where}: TLS handshake failed while {doing}: {reason}; check security = "{account.security}" '
            f"and port = {account.port} (implicit TLS is usually port 993, STARTTLS port 143)"
        ) from None
    except TimeoutError:
        raise ImapError(f"{where}: timed out while {doing}") from None
    except socket.gaierror as exc:
        raise ImapError(f"{where}: cannot resolve host while {doing}: {exc.strerror}") from None
    except (OSError, imaplib.IMAP4.abort, imaplib.IMAP4.error, IMAPClientError) as exc:
        raise ImapError(f"{where}: {doing} failed: {_server_text(exc)}") from None


def connection_lost(exc: LoginError) -> bool:
    """True when a LoginError is really a dropped connection, not a refusal.

    imapclient turns every error during LOGIN or AUTHENTICATE into LoginError, including
    imaplib's abort (the connection closed mid-command); the original is its __context__.
    """
    return isinstance(exc.__context__, imaplib.IMAP4.abort)


def _server_text(exc: BaseException) -> str:
    text = str(exc)
    for prefix in ("b'", 'b"'):
        text = text.replace(prefix, "'")
    return text or type(exc).__name__


class ImapSession:
    """One logged-in connection to an account; every mailbox is opened read-only (EXAMINE)."""

    def __init__(
        self,
        account: AccountConfig,
        timeout: float = 60.0,
        client_factory: ClientFactory = IMAPClient,
        oauth2: OAuth2Token | None = None,
    ) -> None:
        self.account = account
        self.timeout = timeout
        self._factory = client_factory
        self._oauth2 = oauth2
        self._client: Any = None
        self._selected: str | None = None
        self._exists = 0  # EXISTS when the selected mailbox was opened

    def __enter__(self) -> ImapSession:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> None:
        """Connect and log in; on failure nothing stays open (`__exit__` does not run then)."""
        try:
            self._connect()
        except BaseException:
            self.close()
            raise

    def _connect(self) -> None:
        account = self.account
        with imap_errors(account, "connecting", handshake=True):
            client = self._factory(
                account.host,
                port=account.port,
                ssl=account.security == "tls",
                ssl_context=tls_context(account),
                timeout=self.timeout,
            )
            # Dates as the server wrote them (with their offset), not turned into naive local
            # time: that would be ambiguous in a DST change's repeated hour, and cost a round trip.
            client.normalise_times = False
            # imapclient turns on imaplib's protocol trace (debug 5) and sends it to a logger:
            # imaplib then formats every answer, message bodies included, with repr() for a log
            # line nobody reads (0.1 ms a message, a third of a backfill's fetch). A trace of
            # customers' mail has no place in a log anyway.
            client._imap.debug = 0
            self._client = client
            if account.security == "starttls":
                client.starttls(tls_context(account))
        with imap_errors(account, "logging in"):
            if account.oauth2_token_command:
                self._login_oauth2()
            else:
                password = SecretSource(
                    owner=f"account {account.name!r}",
                    env=account.password_env,
                    file=account.password_file,
                    command=account.password_command,
                ).read()
                self._client.login(account.username, password.value)
        log.info("connected", extra={"account": account.name, "host": account.host})

    def _login_oauth2(self) -> None:
        assert self._oauth2 is not None, "OAuth2 accounts need a token source"
        try:
            self._client.oauth2_login(self.account.username, self._oauth2.get().value)
        except LoginError as exc:
            if not connection_lost(exc):
                self._oauth2.invalidate()  # refused: the next connection fetches a fresh token
            raise

    def close(self) -> None:
        client, self._client = self._client, None
        self._selected = None
        if client is None:
            return
        try:
            client.logout()
        except Exception:  # noqa: BLE001 - the connection is going away either way
            with suppress(Exception):
                client.shutdown()

    @property
    def has_idle(self) -> bool:
        return bool(self._client and self._client.has_capability("IDLE"))

    def mailbox_for(self, role: FolderRole) -> str:
        """The server's name for the inbox or the Sent folder of this account."""
        if role is FolderRole.INBOX:
            return self.account.inbox
        if self.account.sent:
            return self.account.sent
        with imap_errors(self.account, "looking for the Sent folder"):
            special = self._client.find_special_folder(b"\\Sent")
        return str(special) if special else "Sent"

    def examine(self, mailbox: str) -> FolderStatus:
        """Open a mailbox read-only (EXAMINE): nothing we do can change flags or contents."""
        with imap_errors(self.account, f"opening {mailbox!r} read-only"):
            info = self._client.select_folder(mailbox, readonly=True)
        self._selected = mailbox
        status = FolderStatus(
            mailbox=mailbox,
            uidvalidity=int(info[b"UIDVALIDITY"]),
            uidnext=int(info[b"UIDNEXT"]) if b"UIDNEXT" in info else None,
            exists=int(info.get(b"EXISTS", 0)),
        )
        self._exists = status.exists
        self._reported_change()  # forget what EXAMINE itself reported
        return status

    def uids_after(self, last_uid: int) -> list[int]:
        """UIDs above last_uid in the selected mailbox, ascending."""
        with imap_errors(self.account, "searching for new mail"):
            found = self._client.search(["UID", f"{last_uid + 1}:*"])
        # "N:*" always matches the highest UID, even when it is below N.
        return sorted(int(uid) for uid in found if int(uid) > last_uid)

    def fetch(self, uids: Sequence[int], max_bytes: int) -> list[RawMail]:
        """Fetch messages with BODY.PEEK (never sets \\Seen); those over max_bytes are truncated."""
        if not uids:
            return []
        with imap_errors(self.account, "fetching messages"):
            # The server names the large ones (a short answer): sizes fetched for every message
            # cost the batch a round trip and this process a parsed item per message.
            span = f"{min(uids)}:{max(uids)}"  # it may hold UIDs of other batches too: kept to this one's
            named = self._client.search(["UID", span, "LARGER", str(max_bytes)])
            large = set(uids) & {int(uid) for uid in named}
            small = [u for u in uids if u not in large]
            mails = self._fetch_whole(small) if small else {}
            for uid in large:
                mails[uid] = self._fetch_truncated(uid, max_bytes)
        return [mails[uid] for uid in uids if uid in mails]

    def _fetch_whole(self, uids: list[int]) -> dict[int, RawMail]:
        """Whole messages by UID, read from imaplib's answers by `fetched_mail`.

        imapclient's general response parser cost a backfill 0.1 ms a message, half of all its
        fetch time, to find three numbers and a date around each literal.
        """
        typ, data = self._client._imap.uid("FETCH", ",".join(map(str, uids)), WHOLE_MESSAGE)
        if typ != "OK":
            raise IMAPClientError(f"FETCH command error: {typ} {data!r}")
        mails = (fetched_mail(answer) for answer in fetch_answers(data))
        return {mail.uid: mail for mail in mails if mail is not None and mail.uid is not None}

    def _fetch_truncated(self, uid: int, max_bytes: int) -> RawMail:
        head = self._client.fetch([uid], ["BODY.PEEK[HEADER]", "BODYSTRUCTURE", "INTERNALDATE", "RFC822.SIZE"])[uid]
        size = _size(head)
        header = bytes(head.get(b"BODY[HEADER]") or b"")
        part = first_text_part(head.get(b"BODYSTRUCTURE"))
        body, part_headers = b"", b"Content-Type: text/plain; charset=us-ascii\r\n"
        if part is not None:
            section, part_headers = part
            limit = min(max_bytes, 1024 * 1024)
            key = f"BODY.PEEK[{section}]<0.{limit}>"
            fetched = self._client.fetch([uid], [key])[uid]
            body = next((bytes(v) for k, v in fetched.items() if k.startswith(b"BODY[")), b"")
        log.warning(
            "message over size cap captured truncated",
            extra={"account": self.account.name, "uid": uid, "size": size},
        )
        return RawMail(
            raw=truncated_message(header, part_headers, body, size),
            internal_date=_aware(head.get(b"INTERNALDATE")),
            uid=uid,
            truncated=True,
            size=size,
        )

    def wait_for_change(self, seconds: float, stop: threading.Event) -> bool:
        """Block up to `seconds` (IDLE) until the selected mailbox changes or `stop` is set."""
        with imap_errors(self.account, "waiting in IDLE"):
            if self._reported_change():
                return True
            if self._start_idle():
                self._client.idle_done()
                return True
            try:
                while seconds > 0 and not stop.is_set():
                    step = min(1.0, seconds)
                    if self._server_spoke(step):
                        return True
                    seconds -= step
            finally:
                self._client.idle_done()
        return False

    def _server_spoke(self, timeout: float) -> bool:
        """True when the server announces new or expunged mail during IDLE within `timeout`.

        Lines are read whole, in blocking mode: imapclient's idle_check() reads with a
        non-blocking socket and can split a line that arrives in two writes ("* 2 FETCH (" +
        "FLAGS ())"), which breaks the connection. Keepalives ("* OK Still here") and flag
        updates are read and passed over.
        """
        imap = self._client._imap
        sock = self._client.socket()
        waiting = not (isinstance(sock, ssl.SSLSocket) and sock.pending()) and not _buffered(imap.file, sock)
        if waiting and not select.select([sock], [], [], timeout)[0]:
            return False
        line = bytes(imap._get_line())
        literal = LITERAL.search(line)
        if literal:  # a literal follows: read it so the stream stays in step; assume a change
            imap.read(int(literal.group(1)))
            imap._get_line()
            return True
        return bool(ANNOUNCES_MAIL.match(line))

    def _reported_change(self) -> bool:
        """True if the server announced new or expunged mail with an earlier command's response.

        Servers announce new mail on any command (RFC 3501 7.3.1), e.g. during a catch-up's
        FETCH, and never again: IDLE alone would not see it until it times out.
        """
        pending = self._client._imap.untagged_responses
        exists = pending.pop("EXISTS", [])
        expunged = pending.pop("EXPUNGE", [])
        pending.pop("RECENT", None)
        return bool(expunged) or any(int(count) != self._exists for count in exists)

    def _start_idle(self) -> bool:
        """Send IDLE and wait for the server's go-ahead; True if mailbox data arrived first.

        imapclient's idle() fails when a server (pymap, for one) sends untagged data before
        its continuation; RFC 2177 allows that, so read up to the "+" ourselves.
        """
        imap = self._client._imap
        tag = imap._command("IDLE")
        self._client._idle_tag = tag
        got_data = False
        while (response := imap._get_response()) is not None:
            if imap.tagged_commands.get(tag):
                raise ImapError(f"server refused IDLE: {_server_text(Exception(response))}")
            got_data = True
        return got_data

    def noop(self) -> None:
        with imap_errors(self.account, "keepalive (NOOP)"):
            self._client.noop()


def _buffered(reader: Any, sock: socket.socket) -> bool:
    """True when bytes already sit in the reader's buffer (select() cannot see those)."""
    previous = sock.gettimeout()
    sock.settimeout(0)  # so peek() never blocks when the buffer is empty
    try:
        return bool(reader.peek(1))
    except (BlockingIOError, ssl.SSLWantReadError):
        return False
    finally:
        sock.settimeout(previous)


def fetch_answers(data: Sequence[Any]) -> Iterator[list[Any]]:
    """imaplib's FETCH data cut into answers: each is its (text, literal) pairs, then the rest of its line."""
    answer: list[Any] = []
    for element in data:
        if element is None:  # imaplib's [None]: no answer at all
            continue
        answer.append(element)
        if not isinstance(element, tuple):
            yield answer
            answer = []
    if answer:
        yield answer


def fetched_mail(answer: list[Any]) -> RawMail | None:
    """The message in one FETCH answer; None for an answer without a UID (an unsolicited flag change).

    The usual answer, one literal for BODY[] with UID, RFC822.SIZE and INTERNALDATE around it, is
    read with three regexes; imapclient's parser reads any other.
    """
    if len(answer) == 2 and isinstance(answer[0], tuple) and isinstance(answer[1], bytes):
        (head, body), tail = answer
        start = WITH_BODY.fullmatch(head)
        if start is not None:
            items = start["items"] + tail
            uid, size, date = UID_ITEM.search(items), SIZE_ITEM.search(items), DATE_ITEM.search(items)
            internal_date = internal_datetime(date[1]) if date else None
            if uid and size and internal_date:
                return RawMail(raw=body, internal_date=internal_date, uid=int(uid[1]), size=int(size[1]))
    return _parsed_mail(answer)


def _parsed_mail(answer: list[Any]) -> RawMail | None:
    for data in parse_fetch_response(answer, normalise_times=False, uid_is_key=False).values():
        if b"UID" in data:
            return RawMail(
                raw=bytes(data.get(b"BODY[]") or b""),
                internal_date=_aware(data.get(b"INTERNALDATE")),
                uid=int(data[b"UID"]),
                size=_size(data),
            )
    return None


def internal_datetime(text: bytes) -> datetime | None:
    """An INTERNALDATE ("17-Jul-1996 02:44:25 -0700", RFC 3501) in UTC; None when not of that form."""
    found = INTERNALDATE.fullmatch(text)
    month = MONTHS.get(found["month"].lower()) if found else None
    if found is None or month is None:
        return None
    sign = -1 if found["sign"] == b"-" else 1
    offset = timedelta(hours=int(found["hours"]), minutes=int(found["minutes"])) * sign
    try:
        hour, minute, second = (int(found[name]) for name in ("h", "m", "s"))
        moment = datetime(int(found["year"]), month, int(found["day"]), hour, minute, second, tzinfo=timezone(offset))
    except ValueError:  # 31-Feb, 25:00: imapclient's parser says what is wrong with it
        return None
    return moment.astimezone(UTC)


def _size(data: Any) -> int:
    if not data:
        return 0
    return int(data.get(b"RFC822.SIZE", 0))


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    # With normalise_times off, imapclient keeps the server's offset; a naive value is local time.
    return value.astimezone(UTC) if value.tzinfo else value.astimezone().astimezone(UTC)


def first_text_part(structure: Any, prefix: str = "") -> tuple[str, bytes] | None:
    """Section number and MIME headers of the first text/plain or text/html part."""
    if structure is None:
        return None
    if getattr(structure, "is_multipart", False):
        for index, child in enumerate(structure[0], start=1):
            found = first_text_part(child, f"{prefix}{index}.")
            if found:
                return found
        return None
    kind = _text(structure[0]).lower()
    subtype = _text(structure[1]).lower()
    if kind != "text" or subtype not in ("plain", "html"):
        return None
    params = structure[2] or ()
    pairs = [(_text(params[i]), _text(params[i + 1])) for i in range(0, len(params) - 1, 2)]
    parameters = "".join(f'; {k.lower()}="{v}"' for k, v in pairs)
    encoding = _text(structure[5]) or "7bit"
    headers = f"Content-Type: {kind}/{subtype}{parameters}\r\nContent-Transfer-Encoding: {encoding}\r\n"
    return (prefix.rstrip(".") or "1"), headers.encode("ascii", "replace")


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return "" if value is None else str(value)


ANNOUNCES_MAIL = re.compile(rb"^\* \d+ (EXISTS|EXPUNGE)\b", re.IGNORECASE)
LITERAL = re.compile(rb"\{(\d+)\}$")
CONTENT_HEADER = re.compile(rb"^(content-type|content-transfer-encoding|mime-version)\s*:", re.I)


def truncated_message(header: bytes, part_headers: bytes, body: bytes, size: int) -> bytes:
    """A small stand-in for a huge message: its headers, its first text part, a truncation mark."""
    kept: list[bytes] = []
    skipping = False
    for line in header.splitlines():
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = bool(CONTENT_HEADER.match(line))
        if not skipping and line.strip():
            kept.append(line)
    kept.append(b"MIME-Version: 1.0")
    kept.append(f"X-Triage-Truncated: original size {size} bytes".encode())
    return b"\r\n".join(kept) + b"\r\n" + part_headers + b"\r\n" + body


def append_messages(
    account: AccountConfig,
    mailbox: str,
    messages: Sequence[bytes],
    timeout: float = 30.0,
    client_factory: ClientFactory = IMAPClient,
) -> None:
    """APPEND messages to a mailbox, creating it if needed.

    Only the demo, the tests and the benchmark seed mailboxes with this; capture never writes.
    """
    session = ImapSession(account, timeout=timeout, client_factory=client_factory)
    with session, imap_errors(account, f"appending to {mailbox!r}"):
        client = session._client
        if not client.folder_exists(mailbox):
            client.create_folder(mailbox)
        for raw in messages:
            client.append(mailbox, raw, flags=())

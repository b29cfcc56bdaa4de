"""A large, realistic support mailbox for the benchmark, written straight into Maildir folders.

Invented threads in English and Indonesian: customer questions (plain, HTML alternatives,
attachments, legacy charsets) in the inbox, our replies (helpful, canned, deflecting, automatic
acknowledgements) in Sent with In-Reply-To/References and quoted history, customer follow-ups
that quote us, newsletters, out-of-office notes and thank-you mail. Deterministic for a seed.

Named bigmailbox (not mailbox) so it never shadows the standard library's `mailbox` module.
"""

from __future__ import annotations

import base64
import os
import quopri
import random
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

from texts import (
    ACK,
    ACTIONS,
    ANSWER,
    ASKS,
    CANNED,
    CLOSINGS,
    DEFLECT,
    DETAILS,
    FILLERS,
    FOLLOWUP,
    GREETINGS,
    NUDGE,
    OPENINGS,
    RECONTACT,
    SUBJECTS,
    TOPICS,
    Lang,
)

COMPANY = "Nusantara Net"
SUPPORT = "support@nusantara-net.example"
SUPPORT_DOMAIN = "nusantara-net.example"
AGENTS = ("Dewi Lestari", "Rizky Pratama", "Anita Gunawan", "Michael Tan", "Sarah O'Neill", "Yusuf Hakim")
HOST = socket.gethostname().replace("/", "_").replace(":", "_")

FIRST = {
    "en": (
        "Margaret",
        "Tom",
        "Priya",
        "James",
        "Olivia",
        "Daniel",
        "Chloé",
        "Liam",
        "Zoë",
        "Ethan",
        "Hannah",
        "Noah",
        "Amélie",
        "Lucas",
        "Grace",
        "Oscar",
        "Isabel",
        "Henry",
        "Sofia",
        "René",
        "Aiden",
        "Leah",
    ),
    "id": (
        "Budi",
        "Siti",
        "Agus",
        "Dewi",
        "Rina",
        "Andi",
        "Putri",
        "Joko",
        "Wulan",
        "Hendra",
        "Ayu",
        "Fajar",
        "Indah",
        "Bayu",
        "Nur",
        "Yoga",
        "Sri",
        "Teguh",
        "Ratna",
        "Eko",
        "Lina",
        "Dimas",
        "Fitri",
        "Arif",
    ),
}
LAST = {
    "en": (
        "Okafor",
        "Whitfield",
        "Natarajan",
        "Brennan",
        "Müller",
        "Lefèvre",
        "Carter",
        "Nguyen",
        "Schmidt",
        "O'Brien",
        "Dubois",
        "Kowalski",
        "Hughes",
        "García",
        "Patel",
        "Svensson",
        "Moreau",
        "Fischer",
    ),
    "id": (
        "Santoso",
        "Rahmawati",
        "Wijaya",
        "Saputra",
        "Hidayat",
        "Kusuma",
        "Nugroho",
        "Siregar",
        "Hasibuan",
        "Pratiwi",
        "Setiawan",
        "Halim",
        "Lubis",
        "Simanjuntak",
        "Wibowo",
        "Utami",
        "Gunawan",
        "Sinaga",
    ),
}
FREEMAIL = ("gmail.com", "yahoo.co.id", "outlook.com", "hotmail.com", "ymail.com", "icloud.com")
COMPANY_WORDS = ("toko", "kopi", "bengkel", "harbour", "lumen", "apotek", "studio", "batik", "tani", "logistik")
MAILERS = (
    ("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.6.0"),
    ("X-Mailer", "Microsoft Outlook 16.0"),
    ("X-Mailer", "iPhone Mail (21B101)"),
    ("X-Mailer", "Apple Mail (2.3774.200.91.1.1)"),
    ("User-Agent", "K-9 Mail for Android"),
    ("X-Mailer", "YahooMailAndroidMobile/6.46"),
    ("", ""),
)
ATTACHMENTS = (
    ("application/pdf", "invoice_{n}.pdf"),
    ("image/jpeg", "IMG_{n}.jpg"),
    ("image/png", "Screenshot_{n}.png"),
    ("application/pdf", "bukti_transfer_{n}.pdf"),
    ("image/jpeg", "foto_router_{n}.jpeg"),
)
CITIES = ("Jakarta", "Bandung", "Surabaya", "Medan", "Makassar", "Denpasar", "Yogyakarta", "Semarang", "Bogor")
DEVICES = ("ZTE F609 router", "Huawei HG8245H modem", "TP-Link Archer C6", "set-top box", "mesh extender")
PRODUCTS = ("Home 50 Mbps", "Home 100 Mbps", "Bisnis 200", "Gamer 300", "Lite 20 Mbps", "TV Plus add-on")


@dataclass(frozen=True)
class Customer:
    name: str
    email: str
    lang: Lang
    charset: str  # of the body: utf-8 mostly, some legacy clients
    mailer: tuple[str, str]


@dataclass(frozen=True)
class Message:
    """One generated message: LF line endings (as Maildir stores them), its date and folder."""

    folder: str  # "INBOX" or "Sent"
    raw: bytes
    date: datetime
    seen: bool = True


@dataclass(frozen=True)
class Question:
    """A customer's question the live benchmark can follow up on or reply to."""

    message_id: str
    subject: str
    customer: Customer
    topic: str
    case: str
    date: datetime
    text: str


@dataclass
class Thread:
    """What a reply or follow-up needs of the messages before it."""

    subject: str
    references: list[str] = field(default_factory=list)
    last_text: str = ""
    last_from: str = ""
    last_date: datetime = datetime(2000, 1, 1, tzinfo=UTC)


def wrap(text: str, width: int = 76) -> str:
    """Hard-wrap each paragraph like a mail client does (format=fixed)."""
    out: list[str] = []
    for line in text.split("\n"):
        while len(line) > width:
            cut = line.rfind(" ", 0, width)
            cut = width if cut <= 0 else cut
            out.append(line[:cut])
            line = line[cut + 1 :]
        out.append(line)
    return "\n".join(out)


def quote_block(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))


def html_of(text: str, quoted_html: str = "") -> str:
    """An HTML alternative: paragraphs, inline styles, the quoted history as a blockquote."""
    paragraphs = "".join(
        f'<p style="margin:0 0 12px 0">{"<br>".join(escape(line) for line in para.split(chr(10)))}</p>\n'
        for para in text.split("\n\n")
        if para.strip()
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
        '<style type="text/css">body{font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222}'
        "</style></head>\n<body>\n"
        f'<div dir="ltr" style="font-family:Arial,sans-serif">\n{paragraphs}</div>\n{quoted_html}</body></html>\n'
    )


def encode_text(text: str, charset: str, cte: str) -> tuple[bytes, str]:
    """Body bytes in a charset and transfer encoding; returns (bytes, actual encoding)."""
    if charset == "iso-8859-1":
        text = text.translate({0x2019: "'", 0x2018: "'", 0x201C: '"', 0x201D: '"', 0x2013: "-", 0x20AC: "EUR"})
    data = text.encode(charset, errors="replace")
    if cte == "base64":
        return base64.encodebytes(data), "base64"
    if cte == "quoted-printable" or (not data.isascii() and charset != "utf-8"):
        return quopri.encodestring(data), "quoted-printable"
    return data + b"\n", ("7bit" if data.isascii() else "8bit")


def encoded_word(value: str, charset: str = "utf-8") -> str:
    """An RFC 2047 header value when it is not plain ASCII."""
    if value.isascii():
        return value
    if charset not in ("iso-8859-1", "windows-1252"):
        charset = "utf-8"
    try:
        data = value.encode(charset)
    except UnicodeEncodeError:
        charset, data = "utf-8", value.encode("utf-8")
    return f"=?{charset}?B?{base64.b64encode(data).decode()}?="


def address(name: str, email: str, charset: str = "utf-8") -> str:
    if name.isascii():
        return f'"{name}" <{email}>' if "'" in name or "," in name else f"{name} <{email}>"
    return f"{encoded_word(name, charset)} <{email}>"


class MailboxGenerator:
    """Generates conversations until `count` messages exist; keeps recent questions for the live run."""

    def __init__(self, count: int, seed: int = 20260, end: datetime | None = None, days: float = 365.0) -> None:
        self.count = count
        self.rng = random.Random(seed)
        self.end = end or datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
        self.start = self.end - timedelta(days=days)
        self.customers = [self._customer(i) for i in range(max(50, count // 7))]
        self.recent: list[Question] = []  # questions of the last 10 days
        self._serial = 0

    # -- people and numbers ------------------------------------------------------------------

    def _customer(self, index: int) -> Customer:
        rng = self.rng
        lang: Lang = "en" if rng.random() < 0.5 else "id"
        first, last = rng.choice(FIRST[lang]), rng.choice(LAST[lang])
        local = f"{first}.{last}".lower().encode("ascii", "ignore").decode().replace("'", "")
        if rng.random() < 0.7:
            domain = rng.choice(FREEMAIL)
            local = f"{local}{rng.randint(1, 99) if rng.random() < 0.5 else ''}"
        else:
            domain = f"{rng.choice(COMPANY_WORDS)}{last.lower().encode('ascii', 'ignore').decode()}.co.id"
        charset = "utf-8"
        roll = rng.random()
        if roll < 0.08:
            charset = "iso-8859-1"
        elif roll < 0.16:
            charset = "windows-1252"
        return Customer(f"{first} {last}", f"{local}@{domain}", lang, charset, rng.choice(MAILERS))

    def _message_id(self, domain: str) -> str:
        self._serial += 1
        token = self.rng.getrandbits(64)
        if domain == "gmail.com":
            tag = base64.b32encode(token.to_bytes(8, "big")).decode().rstrip("=")
            return f"<CAF{tag}{self._serial}@mail.gmail.com>"
        if domain in ("outlook.com", "hotmail.com"):
            return f"<SG2PR06MB{token:016X}{self._serial}@SG2PR06MB.apcprd06.prod.outlook.com>"
        return f"<{token:016x}.{self._serial}@{domain}>"

    def _case(self, topic: str) -> str:
        rng = self.rng
        kind = rng.random()
        if topic in ("delivery", "refund") or kind < 0.35:
            return f"ORD-{rng.randint(1_000_000, 9_999_999)}"
        if topic == "billing" or kind < 0.6:
            return f"INV/{rng.randint(2024, 2026)}/{rng.randint(1, 12):02d}/{rng.randint(100000, 999999)}"
        return f"{rng.randint(5_500_000_000, 5_599_999_999)}"  # a customer number

    def _slots(self, case: str, date: datetime, lang: Lang) -> dict[str, str]:
        rng = self.rng
        amount = rng.choice((149_000, 275_000, 349_500, 410_000, 99_000, 1_250_000))
        return {
            "case": case,
            "amount": f"Rp {amount:,}".replace(",", ".") if lang == "id" else f"IDR {amount:,}",
            "date": (date - timedelta(days=rng.randint(1, 20))).strftime("%d %B %Y"),
            "days": str(rng.randint(2, 14)),
            "device": rng.choice(DEVICES),
            "city": rng.choice(CITIES),
            "product": rng.choice(PRODUCTS),
            "hours": str(rng.randint(2, 48)),
            "years": str(rng.randint(1, 9)),
        }

    # -- texts ---------------------------------------------------------------------------------

    def question_text(self, customer: Customer, topic: str, slots: dict[str, str]) -> str:
        rng, lang = self.rng, customer.lang
        first = customer.name.split()[0]
        parts = [rng.choice(GREETINGS[lang])]
        body = [rng.choice(OPENINGS[lang][topic])]
        body += rng.sample(DETAILS[lang][topic], k=min(len(DETAILS[lang][topic]), rng.randint(1, 3)))
        if rng.random() < 0.5:
            body.insert(rng.randint(0, len(body)), rng.choice(FILLERS[lang]))
        body.append(rng.choice(ASKS[lang][topic]))
        parts.append(" ".join(s.format(**slots) for s in body))
        if rng.random() < 0.3:
            parts.append(rng.choice(FILLERS[lang]).format(**slots))
        parts.append(f"{rng.choice(CLOSINGS[lang])}\n{first}")
        if rng.random() < 0.35:
            parts[-1] += f"\n\n-- \n{customer.name}\n{rng.choice(CITIES)} | +62 8{rng.randint(10**9, 10**10 - 1)}"
        if rng.random() < 0.15:
            parts[-1] += "\n\nSent from my iPhone" if lang == "en" else "\n\nDikirim dari Yahoo Mail di Android"
        return wrap("\n\n".join(parts))

    def reply_text(self, customer: Customer, topic: str, kind: str, slots: dict[str, str], agent: str) -> str:
        """Our reply: a real answer, a canned text, a redirect, or an automatic acknowledgement."""
        rng, lang = self.rng, customer.lang
        first = customer.name.split()[0]
        if kind == "ack":
            return wrap(ACK[lang].format(ticket=rng.randint(100000, 999999), company=COMPANY))
        if kind == "canned":
            body = rng.choice(CANNED[lang])
        elif kind == "deflect":
            body = rng.choice(DEFLECT[lang]).format(**slots)
        else:
            opener, checked, *rest = ANSWER[lang]
            sentences = [opener, checked, ACTIONS[lang][topic], *rng.sample(rest, k=rng.randint(1, 2))]
            body = " ".join(s.format(**slots) for s in sentences)
        greeting = f"Hi {first}," if lang == "en" else f"Halo Bapak/Ibu {first},"
        closing = "Kind regards" if lang == "en" else "Salam hangat"
        signature = f"-- \n{agent}\n{COMPANY} Customer Care\nhttps://{SUPPORT_DOMAIN}/help | 1500-123"
        return wrap(f"{greeting}\n\n{body}\n\n{closing},\n{agent.split()[0]}\n\n{signature}")

    def followup_text(self, customer: Customer, slots: dict[str, str], replied: bool) -> str:
        """The customer writes again: after an unhelpful reply, or after none."""
        rng, lang = self.rng, customer.lang
        first = customer.name.split()[0]
        table = FOLLOWUP[lang] if replied else NUDGE[lang]
        body = " ".join(s.format(**slots) for s in rng.sample(table, k=2))
        return wrap(f"{rng.choice(GREETINGS[lang])}\n\n{body}\n\n{rng.choice(CLOSINGS[lang])}\n{first}")

    # -- assembly ------------------------------------------------------------------------------

    def _headers(
        self,
        sender: str,
        to: str,
        subject: str,
        date: datetime,
        message_id: str,
        thread: Thread | None,
        mailer: tuple[str, str],
        extra: list[tuple[str, str]] | None = None,
        subject_charset: str = "utf-8",
        outgoing: bool = False,
    ) -> list[tuple[str, str]]:
        """Delivery headers (Received, DKIM, ...) on incoming mail; a Sent copy has only its own."""
        rng = self.rng
        relay = f"mx{rng.randint(1, 4)}.{SUPPORT_DOMAIN}"
        received_at = format_datetime(date + timedelta(seconds=rng.randint(1, 40)))
        sender_domain = sender.rsplit("@", 1)[-1].rstrip(">")
        delivery = [
            ("Return-Path", f"<{sender.rsplit('<', 1)[-1].rstrip('>')}>"),
            (
                "Received",
                f"from mail-{rng.randint(1, 250)}.{sender_domain} (mail-{rng.randint(1, 250)}.{sender_domain} "
                f"[203.0.113.{rng.randint(1, 254)}])\n\tby {relay} (Postfix) with ESMTPS id "
                f"{rng.getrandbits(40):010X}\n\tfor <{SUPPORT}>; {received_at}",
            ),
            (
                "DKIM-Signature",
                f"v=1; a=rsa-sha256; c=relaxed/relaxed; d={sender_domain}; s=s{rng.randint(1, 9)};"
                f" t={int(date.timestamp())};\n\th=from:to:subject:date:message-id:mime-version;\n\tbh="
                f"{base64.b64encode(rng.randbytes(32)).decode()};\n\tb="
                f"{base64.b64encode(rng.randbytes(96)).decode()[:64]}\n\t "
                f"{base64.b64encode(rng.randbytes(96)).decode()[:64]}",
            ),
            ("Authentication-Results", f"{relay}; dkim=pass header.d={sender_domain}; spf=pass"),
        ]
        headers = [] if outgoing else delivery
        headers += [
            ("From", sender),
            ("To", to),
            ("Subject", encoded_word(subject, subject_charset)),
            ("Date", format_datetime(date)),
            ("Message-ID", message_id),
        ]
        if thread is not None and thread.references:
            headers.append(("In-Reply-To", thread.references[-1]))
            headers.append(("References", "\n ".join(thread.references[-6:])))
        if mailer[0]:
            headers.append(mailer)
        headers += extra or []
        headers.append(("MIME-Version", "1.0"))
        return headers

    def _body(self, text: str, charset: str, quoted_html: str, style: str, attachment: bool) -> tuple[str, bytes]:
        """(Content-Type header value with its part headers folded in, body bytes)."""
        rng = self.rng
        cte = rng.choice(("quoted-printable", "base64", "8bit", "quoted-printable"))
        plain, plain_cte = encode_text(text + "\n", charset, cte)
        plain_part = (
            f"Content-Type: text/plain; charset={charset}; format=flowed\nContent-Transfer-Encoding: {plain_cte}\n\n"
        )
        html, html_cte = encode_text(html_of(text, quoted_html), "utf-8", "quoted-printable")
        html_part = f"Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: {html_cte}\n\n"
        if style == "plain" and not attachment:
            return plain_part, plain
        if style == "html" and not attachment:
            return html_part, html
        boundary = f"000000000000{rng.getrandbits(48):012x}"
        alt = (
            f'Content-Type: multipart/alternative; boundary="{boundary}"\n\n'.encode()
            + f"--{boundary}\n{plain_part}".encode()
            + plain
            + f"\n--{boundary}\n{html_part}".encode()
            + html
            + f"\n--{boundary}--\n".encode()
        )
        if not attachment:
            head, _, body = alt.partition(b"\n\n")
            return head.decode() + "\n\n", body
        mixed = f"000000000000{rng.getrandbits(48):012x}"
        kind, name = rng.choice(ATTACHMENTS)
        size = int(min(100_000, max(3_000, rng.lognormvariate(9.6, 0.8))))
        payload = base64.encodebytes(rng.randbytes(size))
        filename = name.format(n=rng.randint(1000, 9999))
        body = (
            b"This is a multi-part message in MIME format.\n\n"
            + f"--{mixed}\n".encode()
            + alt
            + f'\n--{mixed}\nContent-Type: {kind}; name="{filename}"\n'
            f'Content-Disposition: attachment; filename="{filename}"\nContent-Transfer-Encoding: base64\n\n'.encode()
            + payload
            + f"\n--{mixed}--\n".encode()
        )
        return f'Content-Type: multipart/mixed; boundary="{mixed}"\n\n', body

    def _assemble(self, headers: list[tuple[str, str]], content: tuple[str, bytes]) -> bytes:
        head = "".join(f"{name}: {value}\n" for name, value in headers)
        ctype, body = content
        return head.encode("utf-8") + ctype.encode() + body

    def customer_mail(
        self, customer: Customer, subject: str, text: str, date: datetime, thread: Thread | None
    ) -> tuple[bytes, str]:
        rng = self.rng
        domain = customer.email.split("@", 1)[1]
        message_id = self._message_id(domain)
        extra: list[tuple[str, str]] = []
        if customer.mailer[1].startswith("Microsoft"):
            extra.append(("Thread-Index", base64.b64encode(rng.randbytes(22)).decode()))
        if rng.random() < 0.1:
            extra.append(("X-Priority", "1 (Highest)"))
        headers = self._headers(
            address(customer.name, customer.email, customer.charset),
            f"{COMPANY} Support <{SUPPORT}>",
            subject,
            date,
            message_id,
            thread,
            customer.mailer,
            extra,
            customer.charset,
        )
        full = text
        quoted_html = ""
        if thread is not None and thread.last_text:
            when = format_datetime(thread.last_date)
            intro = (
                f"On {when}, {thread.last_from} wrote:"
                if customer.lang == "en"
                else f"Pada {when}, {thread.last_from} menulis:"
            )
            if customer.mailer[1].startswith("Microsoft"):
                intro = (
                    f"-----Original Message-----\nFrom: {thread.last_from}\nSent: {when}\nTo: {customer.name}\n"
                    f"Subject: {thread.subject}"
                )
                full = f"{text}\n\n{intro}\n\n{thread.last_text}"
            else:
                full = f"{text}\n\n{intro}\n{quote_block(thread.last_text)}"
            quoted_html = (
                f'<div class="gmail_quote"><div class="gmail_attr">{escape(intro)}</div>'
                f'<blockquote class="gmail_quote" style="margin:0 0 0 .8ex;border-left:1px #ccc solid;'
                f'padding-left:1ex">{escape(thread.last_text).replace(chr(10), "<br>")}</blockquote></div>\n'
            )
        style = rng.choices(("alternative", "plain", "html"), (0.7, 0.2, 0.1))[0]
        attachment = thread is None and rng.random() < 0.14
        return self._assemble(headers, self._body(full, customer.charset, quoted_html, style, attachment)), message_id

    def support_mail(
        self,
        customer: Customer,
        text: str,
        date: datetime,
        thread: Thread,
        agent: str,
        automated: bool,
        attachment: bool = False,
    ) -> tuple[bytes, str]:
        message_id = self._message_id(SUPPORT_DOMAIN)
        extra = [("Organization", COMPANY), ("X-Ticket-System", "Helpdesk 7.2")]
        if automated:
            extra += [("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All")]
        sender = f"{COMPANY} Support <{SUPPORT}>" if automated else f"{agent} | {COMPANY} <{SUPPORT}>"
        headers = self._headers(
            address(sender.split(" <")[0], SUPPORT),
            address(customer.name, customer.email),
            f"Re: {thread.subject}",
            date,
            message_id,
            thread,
            ("X-Mailer", "Helpdesk 7.2"),
            extra,
            outgoing=True,
        )
        full, quoted_html = text, ""
        if not automated:
            when = format_datetime(thread.last_date)
            intro = f"On {when}, {thread.last_from} wrote:"
            full = f"{text}\n\n{intro}\n{quote_block(thread.last_text)}"
            quoted_html = f"<blockquote>{escape(thread.last_text).replace(chr(10), '<br>')}</blockquote>\n"
        return self._assemble(headers, self._body(full, "utf-8", quoted_html, "alternative", attachment)), message_id

    # -- conversations -------------------------------------------------------------------------

    def _date(self) -> datetime:
        span = (self.end - self.start).total_seconds()
        # More recent mail is denser, as a growing business sees.
        return self.start + timedelta(seconds=span * (self.rng.random() ** 0.8))

    def conversation(self) -> Iterator[Message]:
        rng = self.rng
        customer = rng.choice(self.customers)
        topic = rng.choice(TOPICS)
        date = self._date()
        case = self._case(topic)
        slots = self._slots(case, date, customer.lang)
        subject = rng.choice(SUBJECTS[customer.lang][topic]).format(**slots)
        text = self.question_text(customer, topic, slots)
        raw, message_id = self.customer_mail(customer, subject, text, date, None)
        yield Message("INBOX", raw, date, seen=date < self.end - timedelta(days=2) or rng.random() < 0.5)
        if date > self.end - timedelta(days=10):
            self.recent.append(Question(message_id, subject, customer, topic, case, date, text))
        thread = Thread(subject, [message_id], text, address(customer.name, customer.email), date)
        replied = False
        if rng.random() < 0.42:
            date = self._reply_date(date)
            if date >= self.end:
                return
            agent = rng.choice(AGENTS)
            kind = rng.choices(("answer", "canned", "deflect", "ack"), (0.55, 0.2, 0.15, 0.1))[0]
            text = self.reply_text(customer, topic, kind, slots, agent)
            attach = kind == "answer" and topic == "document-request"
            raw, reply_id = self.support_mail(customer, text, date, thread, agent, kind == "ack", attach)
            yield Message("Sent", raw, date)
            thread = Thread(subject, [*thread.references, reply_id], text, f"{agent} <{SUPPORT}>", date)
            replied = True
        if rng.random() < 0.35:
            date = date + timedelta(days=rng.uniform(0.5, 9))
            if date >= self.end:
                return
            text = self.followup_text(customer, slots, replied)
            raw, follow_id = self.customer_mail(customer, f"Re: {subject}", text, date, thread)
            yield Message("INBOX", raw, date, seen=rng.random() < 0.8)
            if replied and rng.random() < 0.3:
                sender = address(customer.name, customer.email)
                thread = Thread(subject, [*thread.references, follow_id], text, sender, date)
                date = self._reply_date(date)
                if date < self.end:
                    agent = rng.choice(AGENTS)
                    text = self.reply_text(customer, topic, "answer", slots, agent)
                    yield Message("Sent", self.support_mail(customer, text, date, thread, agent, False)[0], date)

    def live_message(self, index: int, question: Question, now: datetime) -> tuple[Message, str]:
        """A message for the live run, made to be flagged: 3 of 4 a customer writing again about
        a recent question (repeat-contact), 1 of 4 a reply that only redirects (deflection).
        Returns the message (CRLF line endings, for APPEND) and its Message-ID."""
        customer, lang = question.customer, question.customer.lang
        slots = self._slots(question.case, now, lang)
        sender = address(customer.name, customer.email)
        thread = Thread(question.subject, [question.message_id], question.text, sender, question.date)
        if index % 4 == 3:
            agent = self.rng.choice(AGENTS)
            text = self.reply_text(customer, question.topic, "deflect", slots, agent)
            raw, message_id = self.support_mail(customer, text, now, thread, agent, False)
            folder = "Sent"
        else:
            text = self.followup_text(customer, slots, replied=False)
            text = text.replace("\n\n", f"\n\n{RECONTACT[lang].format(**slots)} ", 1)
            raw, message_id = self.customer_mail(customer, f"Re: {question.subject}", text, now, thread)
            folder = "INBOX"
        return Message(folder, raw.replace(b"\n", b"\r\n"), now, seen=False), message_id

    def _reply_date(self, after: datetime) -> datetime:
        hours = self.rng.choice((0.05, 0.5, 2, 5, 20, 30, 70))
        return after + timedelta(hours=hours * self.rng.uniform(0.5, 1.5))

    def noise(self) -> Message:
        """Mail every support inbox gets: newsletters, out-of-office notes, thank-you notes."""
        rng = self.rng
        date = self._date()
        kind = rng.random()
        customer = rng.choice(self.customers)
        if kind < 0.4:
            vendor = rng.choice(("cloudhost", "payflow", "marketwire", "officepro"))
            sender = f"{vendor.title()} News <newsletter@{vendor}.example>"
            subject = rng.choice(("Your monthly product update", "Webinar: scaling support", "Promo akhir tahun"))
            text = " ".join(rng.choice(FILLERS["en"]) for _ in range(8)).format(**self._slots("X", date, "en"))
            headers = self._headers(
                sender,
                SUPPORT,
                subject,
                date,
                self._message_id(f"{vendor}.example"),
                None,
                ("", ""),
                [
                    ("List-Id", f"<news.{vendor}.example>"),
                    ("List-Unsubscribe", f"<https://{vendor}.example/u>"),
                    ("Precedence", "bulk"),
                ],
            )
            return Message("INBOX", self._assemble(headers, self._body(text, "utf-8", "", "html", False)), date)
        if kind < 0.65:
            text = (
                f"I am out of the office until {(date + timedelta(days=5)).strftime('%d %B')} with limited access "
                "to email. For urgent matters please contact my colleague."
                if customer.lang == "en"
                else "Saya sedang cuti sampai minggu depan. Email Anda akan saya balas setelah kembali."
            )
            headers = self._headers(
                address(customer.name, customer.email),
                SUPPORT,
                f"Automatic reply: {rng.choice(TOPICS)}",
                date,
                self._message_id(customer.email.split("@")[1]),
                None,
                customer.mailer,
                [("Auto-Submitted", "auto-replied")],
            )
            return Message("INBOX", self._assemble(headers, self._body(text, "utf-8", "", "plain", False)), date)
        text = (
            "Thank you so much, it works now! Have a great day."
            if customer.lang == "en"
            else "Terima kasih banyak kak, sudah bisa sekarang. Sukses selalu!"
        )
        headers = self._headers(
            address(customer.name, customer.email),
            SUPPORT,
            "Re: thank you",
            date,
            self._message_id(customer.email.split("@")[1]),
            None,
            customer.mailer,
        )
        return Message("INBOX", self._assemble(headers, self._body(text, customer.charset, "", "plain", False)), date)

    def messages(self) -> Iterator[Message]:
        """Exactly `count` messages (a conversation cut short at the end)."""
        made = 0
        while made < self.count:
            batch = [self.noise()] if self.rng.random() < 0.06 else list(self.conversation())
            for message in batch[: self.count - made]:
                yield message
                made += 1


# -- Maildir -----------------------------------------------------------------------------------


@dataclass
class MaildirStats:
    inbox: int = 0
    sent: int = 0
    bytes: int = 0


def maildir_folder(root: Path, folder: str) -> Path:
    """Maildir++: INBOX is the root, other folders are `.Name`."""
    return root if folder.upper() == "INBOX" else root / f".{folder}"


def write_maildir(root: Path, messages: Iterator[Message], uid: int, gid: int) -> MaildirStats:
    """Write messages as `cur/<time>.M<usec>P<pid>Q<n>.<host>,S=<size>,W=<vsize>:2,S` files.

    The file name starts with the message date and its mtime is that date, so Dovecot assigns
    UIDs in date order and reports the date as INTERNALDATE, like a mailbox that grew over time.
    """
    stats = MaildirStats()
    pid = os.getpid()
    made: set[Path] = set()
    for serial, message in enumerate(messages):
        folder = maildir_folder(root, message.folder)
        if folder not in made:
            for sub in ("cur", "new", "tmp"):
                (folder / sub).mkdir(parents=True, exist_ok=True)
            if folder != root:
                (folder / "maildirfolder").touch()
            made.add(folder)
        stamp = message.date.timestamp()
        size, vsize = len(message.raw), len(message.raw) + message.raw.count(b"\n")
        flags = "S" if message.seen else ""
        name = f"{int(stamp)}.M{serial % 1_000_000}P{pid}Q{serial}.{HOST},S={size},W={vsize}:2,{flags}"
        path = folder / "cur" / name
        path.write_bytes(message.raw)
        os.utime(path, (stamp, stamp))
        stats.bytes += size
        if message.folder == "INBOX":
            stats.inbox += 1
        else:
            stats.sent += 1
    (root / "subscriptions").write_text("Sent\n")
    for dirpath, _dirnames, filenames in os.walk(root):
        os.chown(dirpath, uid, gid)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), uid, gid)
    return stats

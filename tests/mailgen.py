"""Realistic support mail for the integration tests: English and Indonesian, some broken on purpose."""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

SUPPORT = "support@example.com"
SUPPORT_NAME = "Example Support"
START = datetime(2026, 11, 2, 8, 15, tzinfo=UTC)


@dataclass(frozen=True)
class TestMail:
    """One message as appended to the server, with what the tests expect triage to see."""

    __test__ = False  # not a pytest test class

    raw: bytes
    subject: str
    message_id: str | None
    lang: str = "en"
    sender: str = ""

    @property
    def size(self) -> int:
        return len(self.raw)


CUSTOMERS = {
    "en": [
        ("Margaret Okafor", "margaret.okafor@harbourfreight.example"),
        ("Tom Whitfield", "tom@whitfield-dental.example"),
        ("Priya Natarajan", "priya.n@lumencraft.example"),
    ],
    "id": [
        ("Budi Santoso", "budi.santoso@tokobudi.example"),
        ("Siti Rahmawati", "siti.rahma@kopisenja.example"),
        ("Agus Wijaya", "agus.wijaya@bengkelagus.example"),
    ],
}

ENGLISH = [
    (
        "Invoice INV-20418 charged twice",
        "Hello,\n\nMy card was charged twice for invoice INV-20418 this morning, once at 09:12 and\n"
        "again at 09:14. Could you please refund the second charge? I have attached nothing,\n"
        "but the bank statement shows both amounts of $49.00.\n\nThanks,\n{name}",
    ),
    (
        "Cannot log in after password reset",
        "Hi there,\n\nI reset my password yesterday and now the login page just says\n"
        '"session expired" every time I try. I have cleared my cookies and tried another\n'
        "browser. Is there something wrong with my account?\n\nRegards,\n{name}",
    ),
    (
        "Export to CSV is missing the notes column",
        "Dear support team,\n\nWhen I export my customer list to CSV the notes column is empty,\n"
        "although the notes are visible in the app. We need this for our year-end audit,\n"
        "so an answer this week would really help.\n\nBest wishes,\n{name}",
    ),
    (
        "Still waiting for an answer",
        "Hello again,\n\nI wrote to you last Tuesday about the shipping labels that print at\n"
        "half size and I have not heard back. Our warehouse is printing them by hand now.\n"
        "When can I expect a reply?\n\n{name}",
    ),
]

INDONESIAN = [
    (
        "Tagihan bulan ini tidak sesuai",
        "Selamat pagi,\n\nSaya mau tanya, kenapa tagihan bulan ini jadi dua kali lipat? Paket saya\n"
        "masih sama dengan bulan lalu dan saya tidak menambah pengguna. Mohon dicek ya.\n\n"
        "Terima kasih,\n{name}",
    ),
    (
        "Tidak bisa masuk ke akun",
        "Halo kak,\n\nSudah dari kemarin saya tidak bisa masuk ke akun saya. Setiap kali login\n"
        "muncul pesan sesi kedaluwarsa. Saya sudah coba ganti kata sandi tapi masih sama.\n"
        "Tolong dibantu ya, karena toko saya tidak bisa terima pesanan.\n\nSalam,\n{name}",
    ),
    (
        "Pesanan belum sampai",
        "Selamat siang,\n\nPesanan saya dengan nomor 88123 belum sampai padahal sudah lebih dari\n"
        "seminggu. Apakah ada kendala di pengiriman? Mohon informasinya kapan barang akan\n"
        "dikirim.\n\nTerima kasih banyak,\n{name}",
    ),
    (
        "Masih menunggu balasan",
        "Halo,\n\nSaya sudah kirim email hari Senin tapi belum ada balasan sampai sekarang.\n"
        "Apakah email saya sudah diterima? Mohon segera dibalas ya.\n\n{name}",
    ),
]

REPLIES = {
    "en": "Hi {first},\n\nThank you for writing to us. I have looked into this and passed it to our\n"
    "billing team; you will hear from us within one working day.\n\nKind regards,\nDewi\n"
    "Example Support",
    "id": "Halo {first},\n\nTerima kasih sudah menghubungi kami. Kami sudah cek dan masalah ini\n"
    "sedang ditangani oleh tim kami. Kami akan kabari lagi paling lambat besok.\n\nSalam,\nDewi\n"
    "Example Support",
}


def message_bytes(headers: list[tuple[str, str]], body: str) -> bytes:
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return (head + "\r\n" + body.replace("\n", "\r\n") + "\r\n").encode("utf-8")


def plain_headers(
    sender: tuple[str, str],
    to: tuple[str, str],
    subject: str,
    date: datetime,
    message_id: str | None,
    extra: list[tuple[str, str]] | None = None,
) -> list[tuple[str, str]]:
    headers = [
        ("From", f'"{sender[0]}" <{sender[1]}>'),
        ("To", f'"{to[0]}" <{to[1]}>'),
        ("Subject", subject),
        ("Date", format_datetime(date)),
    ]
    if message_id:
        headers.append(("Message-ID", message_id))
    headers += extra or []
    headers += [
        ("MIME-Version", "1.0"),
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Transfer-Encoding", "8bit"),
    ]
    return headers


def customer_mail(index: int, lang: str, with_message_id: bool = True, tag: str = "") -> TestMail:
    """A customer's question; `index` picks customer and text and makes the message unique."""
    name, address = CUSTOMERS[lang][index % 3]
    subject, body = (ENGLISH if lang == "en" else INDONESIAN)[index % 4]
    subject = f"{subject}{tag}"
    message_id = f"<q{index}.{lang}@mail.{address.split('@')[1]}>"
    date = START + timedelta(hours=3 * index, minutes=index % 53)
    headers = plain_headers((name, address), (SUPPORT_NAME, SUPPORT), subject, date, None)
    if with_message_id:
        headers.insert(4, ("Message-ID", message_id))
    text = body.format(name=name) + (f"\n\n(ref {index}{tag})" if tag or index >= 8 else "")
    return TestMail(
        message_bytes(headers, text),
        subject,
        message_id if with_message_id else None,
        lang,
        address,
    )


def support_reply(question: TestMail, index: int) -> TestMail:
    """Our answer to a customer's question, as it sits in the Sent folder."""
    name, address = next(c for c in CUSTOMERS[question.lang] if c[1] == question.sender)
    message_id = f"<r{index}.{question.lang}@example.com>"
    date = START + timedelta(hours=3 * index + 1, minutes=7)
    threading = [("In-Reply-To", question.message_id or ""), ("References", question.message_id or "")]
    headers = plain_headers(
        (SUPPORT_NAME, SUPPORT), (name, address), f"Re: {question.subject}", date, message_id, threading
    )
    body = REPLIES[question.lang].format(first=name.split()[0])
    return TestMail(message_bytes(headers, body), f"Re: {question.subject}", message_id, question.lang, SUPPORT)


def conversation() -> tuple[list[TestMail], list[TestMail]]:
    """A small mailbox: eight questions (two without a Message-ID) and four replies in Sent."""
    inbox = [
        customer_mail(0, "en"),
        customer_mail(1, "id"),
        customer_mail(2, "en"),
        customer_mail(3, "id"),
        customer_mail(4, "en", with_message_id=False),
        customer_mail(5, "id", with_message_id=False),
        customer_mail(6, "en"),
        customer_mail(7, "id"),
    ]
    sent = [support_reply(inbox[i], i) for i in (0, 1, 2, 3)]
    return inbox, sent


def backfill(count: int, start: int = 100) -> list[TestMail]:
    """Many distinct customer messages, alternating English and Indonesian."""
    return [customer_mail(i, "en" if i % 2 else "id", tag=f" #{i}") for i in range(start, start + count)]


def malformed_mime() -> list[TestMail]:
    """Messages a real mailbox contains sooner or later: broken MIME, broken headers, no headers."""
    date = format_datetime(START + timedelta(days=3))
    unclosed = (
        "From: Broken Client <broken@legacy-erp.example>\r\n"
        "To: support@example.com\r\n"
        "Subject: Laporan error dari sistem\r\n"
        f"Date: {date}\r\n"
        "Message-ID: <unclosed-boundary@legacy-erp.example>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="==never-closed=="\r\n'
        "\r\n"
        "--==never-closed==\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        "VGhpcyBpcyBub3QgdmFsaWQgYmFzZTY0ISEh***%%%\r\n"
        "--==never-closed==\r\n"
        'Content-Type: application/pdf; name="laporan.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        "JVBERi0xLjQKJ\r\n"
    ).encode()
    bad_charset = (
        "From: =?x-unknown-charset?B?QWd1cyBXaWpheWE=?= <agus@bengkelagus.example>\r\n"
        "To: support@example.com\r\n"
        "Subject: =?utf-8?Q?Harga_=E2=80=93_broken?= =?utf-8?B?!!not-base64!!?=\r\n"
        "Date: Someday in November, maybe\r\n"
        "This header line has no colon at all\r\n"
        "Content-Type: text/plain; charset=klingon-8\r\n"
        "\r\n"
        "Halo, harga \xe9\xe8 di invoice tidak sesuai.\r\n"
    ).encode("latin-1")
    garbage = b"\x1b[31mPANIC: core dumped\x1b[0m\r\n\xff\xfe\xfd binary junk without any headers\r\n" * 3
    return [
        TestMail(unclosed, "Laporan error dari sistem", "<unclosed-boundary@legacy-erp.example>", "id"),
        TestMail(bad_charset, "Harga", None, "id"),
        TestMail(garbage, "", None, "other"),
    ]


BIG_TEXT = (
    "Hello,\n\nAttached is the full database dump you asked for while investigating the\n"
    "sync failure (ticket 5521). The failure started after the upgrade on Friday.\n\n"
    "Cheers,\nPriya"
)


def big_message(total_bytes: int = 12 * 1024 * 1024) -> TestMail:
    """A message of about `total_bytes`: a short text part and a large base64 attachment."""
    payload = random.Random(5521).randbytes(total_bytes * 3 // 4)
    encoded = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    head = (
        'From: "Priya Natarajan" <priya.n@lumencraft.example>\r\n'
        "To: support@example.com\r\n"
        "Subject: Database dump for ticket 5521\r\n"
        f"Date: {format_datetime(START + timedelta(days=4))}\r\n"
        "Message-ID: <dump-5521@lumencraft.example>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="dump-boundary"\r\n'
        "\r\n"
        "--dump-boundary\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 7bit\r\n"
        "\r\n"
        f"{BIG_TEXT.replace(chr(10), chr(13) + chr(10))}\r\n"
        "--dump-boundary\r\n"
        'Content-Type: application/octet-stream; name="dump.sql.gz"\r\n'
        'Content-Disposition: attachment; filename="dump.sql.gz"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
    ).encode()
    raw = head + encoded + b"--dump-boundary--\r\n"
    return TestMail(
        raw,
        "Database dump for ticket 5521",
        "<dump-5521@lumencraft.example>",
        "en",
        "priya.n@lumencraft.example",
    )

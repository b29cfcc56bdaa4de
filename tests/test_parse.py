"""parse_mail on broken, odd and hostile messages: it reads what it can and never raises."""

from __future__ import annotations

import dataclasses
import email
import random
import time
from datetime import UTC, datetime, timedelta
from email.message import Message

import pytest

from triage.model import Address, Mail, RawMail, Unparsable
from triage.parse import EPOCH, content_hash, normalise_subject, parse_mail, read_message

CUSTOMER_BODY = "Hello, my package has not arrived yet. Can you please check it for me?\n"


def message(*headers: str, body: str = CUSTOMER_BODY) -> bytes:
    """A message from header lines and a body, LF line endings, UTF-8."""
    return ("\n".join(headers) + "\n\n" + body).encode("utf-8")


def customer(*extra_headers: str, sender: str = "Ann Customer <ann@example.com>", subject: str = "") -> bytes:
    """A plain customer message with optional extra headers."""
    return message(
        f"From: {sender}",
        "To: Support <support@example.com>",
        f"Subject: {subject or 'Where is my order 12345?'}",
        "Date: Mon, 03 Nov 2025 10:00:00 +0700",
        "Message-ID: <order-12345@mail.example.com>",
        *extra_headers,
    )


def parsed(raw: bytes, internal_date: datetime | None = None) -> Mail:
    result = parse_mail(RawMail(raw=raw, internal_date=internal_date))
    assert isinstance(result, Mail), result
    return result


def unparsable(raw: bytes) -> Unparsable:
    result = parse_mail(RawMail(raw=raw))
    assert isinstance(result, Unparsable), result
    return result


def assert_storable(mail: Mail) -> None:
    """Every string in a Mail must encode as UTF-8, or SQLite refuses it."""
    for field in dataclasses.fields(mail):
        value = getattr(mail, field.name)
        for item in value if isinstance(value, tuple) else (value,):
            texts = [item.name, item.email] if isinstance(item, Address) else [item]
            for text in texts:
                if isinstance(text, str):
                    text.encode("utf-8")


# --- a normal message ------------------------------------------------------------------------


def test_normal_customer_message_is_read_whole() -> None:
    mail = parsed(customer())
    assert mail.message_id == "<order-12345@mail.example.com>"
    assert not mail.synthetic_id
    assert mail.sender == Address(name="Ann Customer", email="ann@example.com")
    assert mail.to == (Address(name="Support", email="support@example.com"),)
    assert mail.subject == "Where is my order 12345?"
    assert mail.new_text == CUSTOMER_BODY.strip()
    assert mail.automated is None
    assert not mail.is_automated
    assert mail.lang == "en"


# --- broken MIME structure -------------------------------------------------------------------


def test_multipart_without_closing_boundary_keeps_its_text() -> None:
    raw = message(
        "From: ann@example.com",
        "Subject: broken multipart",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="XYZ"',
        body="--XYZ\nContent-Type: text/plain; charset=utf-8\n\nWhere is my parcel?\n",
    )
    assert parsed(raw).new_text == "Where is my parcel?"


def test_multipart_whose_boundary_never_appears_keeps_its_text() -> None:
    raw = message(
        "From: ann@example.com",
        "Subject: boundary lost",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="NEVER-SEEN"',
        body="My refund has not arrived after two weeks.\n",
    )
    assert parsed(raw).new_text == "My refund has not arrived after two weeks."


def test_unknown_charset_still_gives_the_text() -> None:
    raw = message(
        "From: ann@example.com",
        "Subject: odd charset",
        'Content-Type: text/plain; charset="x-unknown"',
        body="My order has not arrived.\n",
    )
    assert parsed(raw).new_text == "My order has not arrived."


def test_deeply_nested_multiparts() -> None:
    depth = 50
    lines = ["From: ann@example.com", "Subject: nested", "MIME-Version: 1.0"]
    for level in range(depth):
        lines += [f'Content-Type: multipart/mixed; boundary="level{level}"', "", f"--level{level}"]
    lines += ["Content-Type: text/plain", "", "The deepest text."]
    lines += [f"--level{level}--" for level in reversed(range(depth))]
    assert parsed("\n".join(lines).encode()).new_text == "The deepest text."


def test_rfc2231_filename_marks_a_text_part_as_attachment() -> None:
    # Only the RFC 2231 continued name (no Content-Disposition) says the log is a file, not body text.
    raw = message(
        "From: ann@example.com",
        "Subject: log attached",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="B"',
        body=(
            "--B\nContent-Type: text/plain; charset=utf-8\n\nPlease see the attached error log.\n"
            "--B\nContent-Type: text/plain; charset=utf-8; "
            "name*0*=utf-8''fehler%20M%C3%BC; name*1*=ller.txt\n\n"
            "ERROR 500 internal server error in checkout\n--B--\n"
        ),
    )
    mail = parsed(raw)
    assert mail.new_text == "Please see the attached error log."
    assert "ERROR 500" not in mail.quoted_text


def test_rfc2231_attachment_does_not_disturb_the_body() -> None:
    raw = message(
        "From: ann@example.com",
        "Subject: invoice",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="B"',
        body=(
            "--B\nContent-Type: text/plain; charset=utf-8\n\nThe invoice total is wrong.\n"
            "--B\nContent-Type: application/pdf; name*=utf-8''Rechnung%20M%C3%BCller.pdf\n"
            "Content-Disposition: attachment; filename*=utf-8''Rechnung%20M%C3%BCller.pdf\n"
            "Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--B--\n"
        ),
    )
    assert parsed(raw).new_text == "The invoice total is wrong."


# --- encodings in headers --------------------------------------------------------------------


def test_raw_utf8_bytes_in_headers() -> None:
    raw = message(
        "From: José Müller <jose@example.com>",
        "Subject: Pesanan belum sampai – café ☕",
        "Content-Type: text/plain; charset=utf-8",
    )
    mail = parsed(raw)
    assert mail.sender == Address(name="José Müller", email="jose@example.com")
    assert mail.subject == "Pesanan belum sampai – café ☕"


def test_raw_latin1_bytes_in_headers_are_kept_and_storable() -> None:
    raw = (
        'From: "Müller, Jürgen" <j@example.com>\nTo: Søren <s@example.com>\nSubject: Café crème\n'
        "Content-Type: text/plain; charset=iso-8859-1\n\nOù est ma commande?\n"
    ).encode("latin-1")
    mail = parsed(raw)
    assert_storable(mail)
    assert mail.sender == Address(name="Müller, Jürgen", email="j@example.com")
    assert mail.to == (Address(name="Søren", email="s@example.com"),)
    assert mail.subject == "Café crème"
    assert mail.new_text == "Où est ma commande?"


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        ("=?utf-8?B?UGVzYW5hbiBiZWx1bSBzYW1wYWkg4oCTIGNhZsOp?=", "Pesanan belum sampai – café"),
        ("=?UTF-8?Q?Pesanan_belum_sampai_=E2=80=93_caf=C3=A9?=", "Pesanan belum sampai – café"),
        ("=?iso-8859-1?Q?Caf=E9_cr=E8me?=", "Café crème"),
        ("=?ISO-8859-1?B?Q2Fm6SBjcuhtZQ==?=", "Café crème"),
        ("Order =?utf-8?q?n=C2=BA?= 5 =?iso-8859-1?q?=FC?=", "Order nº 5 ü"),
    ],
)
def test_rfc2047_encoded_subjects(encoded: str, expected: str) -> None:
    mail = parsed(message("From: ann@example.com", f"Subject: {encoded}"))
    assert mail.subject == expected
    assert mail.subject_norm == expected.lower()


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        ("=?utf-8?B?Sm9zw6kgTcO8bGxlcg==?=", "José Müller"),
        ("=?utf-8?Q?Jos=C3=A9_M=C3=BCller?=", "José Müller"),
        ("=?iso-8859-1?Q?Jos=E9_M=FCller?=", "José Müller"),
    ],
)
def test_rfc2047_encoded_display_names(encoded: str, expected: str) -> None:
    mail = parsed(message(f"From: {encoded} <jose@example.com>", f"To: {encoded} <desk@example.com>"))
    assert mail.sender == Address(name=expected, email="jose@example.com")
    assert mail.to == (Address(name=expected, email="desk@example.com"),)


def test_bad_charset_in_an_encoded_word_does_not_lose_the_message() -> None:
    raw = b"From: ann@example.com\nSubject: =?ut\xe8-8?B?SGVsbG8=?= order\n\nWhere is my order?\n"
    mail = parsed(raw)
    assert mail.new_text == "Where is my order?"
    assert "order" in mail.subject
    assert_storable(mail)


# --- bodies: HTML, alternatives, odd bytes ---------------------------------------------------


def test_html_only_body_gives_visible_text_and_quotes() -> None:
    html = (
        "<html><head><title>Title text</title><style>p { color: red }</style></head><body>"
        "<script>alert('tracking')</script><p>My refund is late.</p><div>Please help &amp; reply</div>"
        "<blockquote>When will the refund arrive?</blockquote></body></html>\n"
    )
    mail = parsed(message("From: ann@example.com", "Content-Type: text/html; charset=utf-8", body=html))
    assert mail.new_text == "My refund is late.\nPlease help & reply"
    assert mail.quoted_text == "> When will the refund arrive?"
    for hidden in ("alert", "color", "Title text", "<"):
        assert hidden not in mail.new_text + mail.quoted_text


def test_multipart_alternative_prefers_plain() -> None:
    raw = message(
        "From: ann@example.com",
        "MIME-Version: 1.0",
        'Content-Type: multipart/alternative; boundary="ALT"',
        body=(
            "--ALT\nContent-Type: text/plain; charset=utf-8\n\nPlain version of the complaint\n"
            "--ALT\nContent-Type: text/html; charset=utf-8\n\n<p>HTML version of the complaint</p>\n--ALT--\n"
        ),
    )
    assert parsed(raw).new_text == "Plain version of the complaint"


def test_multipart_alternative_with_empty_plain_falls_back_to_html() -> None:
    raw = message(
        "From: ann@example.com",
        "MIME-Version: 1.0",
        'Content-Type: multipart/alternative; boundary="ALT"',
        body=(
            "--ALT\nContent-Type: text/plain; charset=utf-8\n\n  \n"
            "--ALT\nContent-Type: text/html; charset=utf-8\n\n<p>Only the HTML has words</p>\n--ALT--\n"
        ),
    )
    assert parsed(raw).new_text == "Only the HTML has words"


def test_huge_message_parses() -> None:
    line = "The parcel is still not here, please check the courier again. "
    body = (line * 16 + "\n") * 5200  # about 5 MB
    mail = parsed(message("From: ann@example.com", "Subject: very long", body=body))
    assert len(mail.new_text) > 5_000_000
    assert mail.new_text.startswith(line.strip())


def test_nul_bytes_do_not_stop_parsing() -> None:
    mail = parsed(b"From: ann@example.com\nSubject: nul\x00inside\n\nhello\x00world, where is my order\n")
    assert mail.sender == Address(name="", email="ann@example.com")
    assert "hello" in mail.new_text
    assert "where is my order" in mail.new_text


def test_mixed_crlf_and_lf_line_endings() -> None:
    raw = (
        b"From: ann@example.com\r\nSubject: mixed endings\nDate: Mon, 03 Nov 2025 10:00:00 +0700\r\n"
        b"\r\nfirst line\r\nsecond line\nthird line\r\n"
    )
    mail = parsed(raw)
    assert mail.subject == "mixed endings"
    assert mail.new_text == "first line\nsecond line\nthird line"
    assert mail.date == datetime(2025, 11, 3, 3, 0, tzinfo=UTC)


# --- not a message at all --------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b" \r\n\t\n  "], ids=["empty", "whitespace"])
def test_empty_bytes_are_unparsable(raw: bytes) -> None:
    result = unparsable(raw)
    assert result.raw == raw
    assert "empty" in result.error


@pytest.mark.parametrize(
    "raw",
    [b"just some words with no header block\nand a second line\n", b"\x00\x01\x02\xff\xfe binary"],
    ids=["prose", "binary"],
)
def test_bytes_without_headers_are_unparsable(raw: bytes) -> None:
    result = unparsable(raw)
    assert result.raw == raw
    assert result.content_hash == content_hash(raw)


def test_unparsable_keeps_the_internal_date() -> None:
    when = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    result = parse_mail(RawMail(raw=b"", internal_date=when))
    assert isinstance(result, Unparsable)
    assert result.date == when


# --- dates -----------------------------------------------------------------------------------


def test_missing_date_falls_back_to_internal_date() -> None:
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parsed(message("From: ann@example.com"), internal_date=when).date == when


def test_unreadable_date_falls_back_to_internal_date() -> None:
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    mail = parsed(message("From: ann@example.com", "Date: sometime last week"), internal_date=when)
    assert mail.date == when


def test_missing_date_and_internal_date_gives_epoch() -> None:
    assert parsed(message("From: ann@example.com")).date == EPOCH


def test_date_with_offset_stays_timezone_aware() -> None:
    mail = parsed(message("From: ann@example.com", "Date: Tue, 04 Nov 2025 09:15:00 -0500"))
    assert mail.date.utcoffset() == timedelta(hours=-5)
    assert mail.date == datetime(2025, 11, 4, 14, 15, tzinfo=UTC)


def test_date_without_zone_is_taken_as_utc() -> None:
    mail = parsed(message("From: ann@example.com", "Date: Tue, 04 Nov 2025 09:15:00"))
    assert mail.date == datetime(2025, 11, 4, 9, 15, tzinfo=UTC)
    assert mail.date.tzinfo is not None


# --- identity and threading headers ----------------------------------------------------------


def test_missing_message_id_gets_a_stable_synthetic_id() -> None:
    first = parsed(message("From: ann@example.com", "Subject: no id", body="Where is order 1?\n"))
    again = parsed(message("From: ann@example.com", "Subject: no id", body="Where is order 1?\n"))
    other = parsed(message("From: ann@example.com", "Subject: no id", body="Where is order 2?\n"))
    assert first.synthetic_id and other.synthetic_id
    assert first.message_id == again.message_id
    assert first.message_id != other.message_id
    assert first.message_id.startswith("<") and first.message_id.endswith("@triage.invalid>")


def test_message_id_without_brackets_is_bracketed() -> None:
    mail = parsed(message("From: ann@example.com", "Message-ID:   bare-id@example.com  "))
    assert mail.message_id == "<bare-id@example.com>"
    assert not mail.synthetic_id


def test_in_reply_to_and_references() -> None:
    mail = parsed(
        message(
            "From: ann@example.com",
            "In-Reply-To: Your message of Monday <q1@example.com> (Support)",
            "References: <q0@example.com>",
            " <q1@example.com>\tnoise <q2@example.net>",
        )
    )
    assert mail.in_reply_to == "<q1@example.com>"
    assert mail.references == ("<q0@example.com>", "<q1@example.com>", "<q2@example.net>")


def test_no_threading_headers() -> None:
    mail = parsed(customer())
    assert mail.in_reply_to is None
    assert mail.references == ()


# --- subjects --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        "Re: Order 12345",
        "RE: Order 12345",
        "Fwd: Order 12345",
        "FW: Order 12345",
        "Balas: Order 12345",
        "Bls: Order 12345",
        "AW: Order 12345",
        "Antw: Order 12345",
        "Re: Re: Fwd: Order 12345",
        "Re[2]: Order 12345",
        "re:Order   12345",
        "  Fwd:  RE:   Order  12345 ",
        "Order 12345",
    ],
)
def test_normalised_subject_drops_reply_prefixes(subject: str) -> None:
    assert normalise_subject(subject) == "order 12345"
    assert parsed(customer(subject=subject)).subject_norm == "order 12345"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [("Regarding my order", "regarding my order"), ("Report: broken item", "report: broken item")],
)
def test_normalised_subject_keeps_words_that_start_like_prefixes(subject: str, expected: str) -> None:
    assert normalise_subject(subject) == expected


# --- automated mail --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "reason_part"),
    [
        ("Auto-Submitted: auto-replied", "Auto-Submitted"),
        ("Auto-Submitted: auto-generated", "Auto-Submitted"),
        ("Precedence: bulk", "Precedence"),
        ("Precedence: list", "Precedence"),
        ("Precedence: junk", "Precedence"),
        ("List-Id: Shop news <news.shop.example>", "mailing list"),
        ("List-Unsubscribe: <mailto:unsubscribe@shop.example>", "mailing list"),
        ("X-Autoreply: yes", "X-Autoreply"),
        ("X-Spam-Flag: YES", "spam"),
    ],
)
def test_automated_headers(header: str, reason_part: str) -> None:
    mail = parsed(customer(header))
    assert mail.automated is not None
    assert reason_part in mail.automated


@pytest.mark.parametrize("header", ["Auto-Submitted: no", "Precedence: normal", "X-Spam-Flag: NO"])
def test_headers_that_say_a_person_wrote_it(header: str) -> None:
    assert parsed(customer(header)).automated is None


def test_multipart_report_bounce_is_automated() -> None:
    raw = message(
        "From: Mail Admin <ops@mx.example.com>",
        "To: support@example.com",
        "Subject: Delivery failure",
        "MIME-Version: 1.0",
        'Content-Type: multipart/report; report-type=delivery-status; boundary="R"',
        body=(
            "--R\nContent-Type: text/plain\n\nYour message could not be delivered.\n"
            "--R\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\n"
            "Final-Recipient: rfc822; gone@example.org\nAction: failed\nStatus: 5.1.1\n--R--\n"
        ),
    )
    mail = parsed(raw)
    assert mail.automated is not None
    assert "bounce" in mail.automated


@pytest.mark.parametrize(
    "sender",
    [
        "MAILER-DAEMON@mx.example.com",
        "Mail Delivery System <mailer-daemon@example.com>",
        "Shop <no-reply@shop.example>",
        "noreply@shop.example",
        "noreply+tracking@shop.example",
        "do-not-reply@shop.example",
        "postmaster@example.com",
        "bounces+123@lists.example.com",
    ],
)
def test_machine_senders_are_automated(sender: str) -> None:
    mail = parsed(customer(sender=sender))
    assert mail.automated is not None
    assert "automated sender" in mail.automated


@pytest.mark.parametrize("sender", ["Nora <nora@example.com>", "replyno@example.com", "daemon.fan@example.com"])
def test_people_whose_address_looks_a_bit_like_a_machine(sender: str) -> None:
    assert parsed(customer(sender=sender)).automated is None


@pytest.mark.parametrize(
    "subject",
    [
        "Automatic reply: Where is my order",
        "Out of Office: back Monday",
        "Undeliverable: Order",
        "Auto: away",
    ],
)
def test_auto_reply_subjects_are_automated(subject: str) -> None:
    mail = parsed(customer(subject=subject))
    assert mail.automated == "auto-reply subject"


def test_reply_about_an_automatic_reply_is_not_automated() -> None:
    assert parsed(customer(subject="Re: Automatic reply from your shop")).automated is None


# --- language --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "body", "lang"),
    [
        ("Order not received", "Hello, I have not received my order yet. Can you please check it?", "en"),
        (
            "Pesanan belum diterima",
            "Selamat siang, saya belum menerima paket yang saya pesan minggu lalu. Mohon bantuannya.",
            "id",
        ),
        ("paket", "sy blm terima paket nya kak", "id"),
        (
            "Bestellung",
            "Guten Tag, meine Bestellung ist noch nicht angekommen. Können Sie nachsehen?",
            "other",
        ),
        ("Commande", "Bonjour, je n'ai toujours pas reçu ma commande. Pouvez-vous vérifier?", "other"),
    ],
)
def test_language_guess(subject: str, body: str, lang: str) -> None:
    mail = parsed(message("From: ann@example.com", f"Subject: {subject}", body=body + "\n"))
    assert mail.lang == lang


def test_language_ignores_the_quoted_history() -> None:
    body = (
        "sy blm terima paket nya kak, tolong dicek ya\n\n"
        "On Mon, 3 Nov 2025 at 10:00, Support <support@example.com> wrote:\n"
        "> Hello, thank you for your order. We have shipped it and it will arrive this week.\n"
        "> If you have any questions, please reply to this e-mail and we will help you.\n"
    )
    assert parsed(message("From: ani@example.com", "Subject: paket", body=body)).lang == "id"


# --- content hash ----------------------------------------------------------------------------


def test_content_hash_ignores_line_endings() -> None:
    lf = customer()
    crlf = lf.replace(b"\n", b"\r\n")
    assert parsed(lf).content_hash == parsed(crlf).content_hash


def test_content_hash_ignores_delivery_headers() -> None:
    plain = customer()
    delivered = (
        b"Received: from mx1.example.com by mx2.example.com; Mon, 3 Nov 2025 10:00:05 +0700\n"
        b"X-Spam-Score: 0.1\nX-Original-To: support@example.com\n" + plain
    )
    assert parsed(plain).content_hash == parsed(delivered).content_hash


def test_content_hash_differs_for_different_bodies() -> None:
    one = customer()
    two = one.replace(b"has not arrived", b"arrived broken")
    assert one != two
    assert parsed(one).content_hash != parsed(two).content_hash


def test_content_hash_differs_for_different_subjects() -> None:
    assert parsed(customer(subject="Order 1")).content_hash != parsed(customer(subject="Order 2")).content_hash


# --- never raises ----------------------------------------------------------------------------

SEEDS = [
    customer(),
    message(
        "From: =?utf-8?B?Sm9zw6k=?= <jose@example.com>",
        "Subject: =?iso-8859-1?Q?Caf=E9?=",
        "MIME-Version: 1.0",
        'Content-Type: multipart/alternative; boundary="A"',
        body=(
            "--A\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
            "Hello =C3=A9\n--A\nContent-Type: text/html; charset=iso-8859-1\n"
            "Content-Transfer-Encoding: base64\n\nPHA+aGk8L3A+\n--A--\n"
        ),
    ),
    "From: Jürgen <j@example.com>\nSubject: café\n\nbody é\n".encode("latin-1"),
]
SPLICES = [
    b"=?",
    b"?=",
    b"--A",
    b"\r",
    b"\n\n",
    b"\x00",
    b":",
    b"<",
    b"=?utf-8?q?",
    b"boundary=",
    b"charset=",
]


def mutate(rng: random.Random, raw: bytes) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 12)):
        pos = rng.randrange(len(data) + 1)
        roll = rng.random()
        if roll < 0.4 and data:
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif roll < 0.7:
            data[pos:pos] = rng.randbytes(rng.randint(1, 8))
        elif roll < 0.85:
            del data[pos : pos + rng.randint(1, 10)]
        else:
            data[pos:pos] = rng.choice(SPLICES)
    return bytes(data)


def test_parse_never_raises_on_random_and_mutated_bytes() -> None:
    rng = random.Random(20251103)
    kinds = {Mail: 0, Unparsable: 0}
    for index in range(200):
        raw = rng.randbytes(rng.randint(0, 300)) if index % 4 == 0 else mutate(rng, rng.choice(SEEDS))
        result = parse_mail(RawMail(raw=raw))
        assert isinstance(result, Mail | Unparsable)
        kinds[type(result)] += 1
        if isinstance(result, Mail):
            assert_storable(result)
            assert result.date.tzinfo is not None
        else:
            assert result.raw == raw
    assert kinds[Mail] > 50 and kinds[Unparsable] > 10  # the inputs exercise both outcomes


# --- read_message: the email package's tree, built faster for regular mail ---------------------


def tree(message: Message) -> list[tuple[object, ...]]:
    """Everything of a message tree that feedparser decides: headers, payloads, preamble, epilogue."""
    return [
        (
            list(part.raw_items()),
            part.get_unixfrom(),
            part.get_default_type(),
            part.preamble,
            part.epilogue,
            [type(defect).__name__ for defect in part.defects],
            part.get_payload(decode=True) if not part.is_multipart() else len(part.get_payload()),
        )
        for part in message.walk()
    ]


def nested(*, eol: str = "\r\n") -> bytes:
    """A mixed message with a preamble, an alternative part, an attachment and an epilogue."""
    lines = [
        "From: Ann <ann@example.com>",
        "Subject: nested",
        " and folded",
        'Content-Type: multipart/mixed; boundary="outer"',
        "",
        "This is a multi-part message in MIME format.",
        "--outer",
        'Content-Type: multipart/alternative; boundary="outer-inner"',
        "",
        "--outer-inner",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "Where is my parcel? =E2=9C=89",
        "--outer--not-a-boundary",
        "",
        "--outer-inner",
        "Content-Type: text/html",
        "",
        "<p>Where is my parcel?</p>",
        "--outer-inner--",
        "inner epilogue",
        "",
        "--outer \t",
        'Content-Type: application/pdf; name="invoice.pdf"',
        "Content-Transfer-Encoding: base64",
        "",
        "JVBERi0xLjQK",
        "--outer--",
        "outer epilogue",
    ]
    return eol.join(lines).encode()


TREE_CASES = {
    "plain": customer(),
    "nested, CRLF": nested(),
    "nested, LF": nested(eol="\n"),
    "8-bit bytes": nested().replace(b"Where", "Wo ist das Paket? \u00fc".encode("latin-1")),
    "part without headers": message(
        "From: a@example.com", 'Content-Type: multipart/mixed; boundary="B"', body="--B\n\nbare text\n--B--\n"
    ),
    "no close boundary": message(
        "From: a@example.com", 'Content-Type: multipart/mixed; boundary="B"', body="--B\n\ntext\n"
    ),
    "no start boundary": message("From: a@example.com", 'Content-Type: multipart/mixed; boundary="B"', body="text\n"),
    "two boundaries in a row": message(
        "From: a@example.com", 'Content-Type: multipart/mixed; boundary="B"', body="--B\n--B\n\ntext\n--B--\n"
    ),
    "forwarded message": message(
        "From: a@example.com",
        'Content-Type: multipart/mixed; boundary="B"',
        body="--B\nContent-Type: message/rfc822\n\nFrom: b@example.com\n\nold text\n--B--\n",
    ),
    "digest": message(
        "From: a@example.com", 'Content-Type: multipart/digest; boundary="B"', body="--B\n\nFrom: b@x\n\nhi\n--B--\n"
    ),
    "lone CR": message("From: a@example.com", "Subject: x\ry", body="text\r"),
    "form feed line break": message("From: a@example.com", "Subject: x\fy", body="text\n"),
    "unix from line": b"From ann@example.com Mon Nov  3 10:00:00 2025\nFrom: ann@example.com\n\ntext\n",
    "continuation first": b" folded\nFrom: ann@example.com\n\ntext\n",
    "no blank line": b"From: ann@example.com\nSubject: only headers",
    "body without header separator": b"From: ann@example.com\nthis is no header\n\ntext\n",
}


@pytest.mark.parametrize("raw", TREE_CASES.values(), ids=TREE_CASES.keys())
def test_read_message_builds_the_tree_feedparser_builds(raw: bytes) -> None:
    assert tree(read_message(raw)) == tree(email.message_from_bytes(raw))


def test_read_message_builds_the_tree_feedparser_builds_for_damaged_multiparts() -> None:
    rng = random.Random(6)
    seeds = [nested(), nested(eol="\n"), *SEEDS]
    for _ in range(400):
        raw = mutate(rng, rng.choice(seeds))
        assert tree(read_message(raw)) == tree(email.message_from_bytes(raw)), raw


def test_regular_mail_is_not_left_to_feedparser(monkeypatch: pytest.MonkeyPatch) -> None:
    # The fast path is the point of read_message: were it lost, every test above would still pass.
    def feedparser(text: str) -> Message:
        raise AssertionError("left to feedparser")

    monkeypatch.setattr(email, "message_from_string", feedparser)
    for raw in (customer(), nested(), nested(eol="\n")):
        assert parsed(raw).new_text


def test_a_long_header_name_without_colon_is_read_in_linear_time() -> None:
    # Searching for a header field from every character of such a name took 7 s for 30 KB.
    raw = customer(f"X-No-Colon-{'a' * 100_000}")
    started = time.process_time()
    assert parsed(raw).new_text.endswith(CUSTOMER_BODY.strip())  # a line that is no field starts the body
    assert time.process_time() - started < 5

"""Hostile mail, fuzzed: parse_mail never raises, every message is stored (parsed or quarantined),
classification and reply checks terminate within a time bound and memory stays bounded.

The generators are plain functions of a `random.Random`, so a failure is a (generator, seed)
pair anyone can replay; bench/fuzz_campaign.py runs the same generators for many more examples.
Hypothesis picks the pairs here and keeps failing ones in its example database.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import quopri
import random
import signal
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.mailgen import CUSTOMERS, ENGLISH, INDONESIAN, REPLIES, START
from triage.capture import to_captured
from triage.config import Config
from triage.model import Direction, FolderRole, Mail, MessageView, RawMail, Unparsable
from triage.parse import content_hash, parse_mail
from triage.store import Checkpoint, Store, open_store

if TYPE_CHECKING:
    from triage.analyze import Analyzer

# Bounds per example: a termination bound, not a speed test (typical examples take milliseconds).
TIME_LIMIT = 10.0  # CPU seconds for one classification, one set of reply checks or one batch stored
# The standard library's MIME parser checks every line against every enclosing boundary: a
# message ~1000 levels deep (past that the recursion limit quarantines it) takes 2-3 s alone.
PARSE_TIME_LIMIT = 20.0
HANG_LIMIT = 60.0  # CPU seconds after which an example is interrupted as hung
MEMORY_LIMIT = 512 * 1024 * 1024  # peak bytes traced by tracemalloc for one example

Generator = Callable[[random.Random], bytes]
TextGenerator = Callable[[random.Random], str]


# ---------------------------------------------------------------------------------------------
# Building blocks: real-looking support mail
# ---------------------------------------------------------------------------------------------


# Target sizes in bytes and their weights: mostly small, sometimes hundreds of kilobytes, now and
# then megabytes. bench/fuzz_campaign.py --heavy shifts the weights towards the big ones.
SIZES = {300: 30, 3_000: 30, 30_000: 25, 300_000: 12, 2_000_000: 3}


def size(rng: random.Random) -> int:
    return rng.choices(list(SIZES), weights=list(SIZES.values()))[0]


def customer(rng: random.Random) -> tuple[str, str, str, str]:
    """(display name, address, subject, body) of a real-looking customer message, English or Indonesian."""
    lang = rng.choice(["en", "id"])
    name, address = rng.choice(CUSTOMERS[lang])
    subject, body = rng.choice(ENGLISH if lang == "en" else INDONESIAN)
    return name, address, subject, body.replace("{name}", name.split()[0])


def header_lines(rng: random.Random, subject: str, name: str, address: str) -> list[bytes]:
    date = START + timedelta(minutes=rng.randrange(200_000))
    lines = [
        f'From: "{name}" <{address}>',
        "To: Example Support <support@example.com>",
        f"Subject: {subject}",
        f"Date: {format_datetime(date)}",
        f"Message-ID: <{rng.getrandbits(64):x}@mail.example.net>",
    ]
    if rng.random() < 0.2:
        lines.pop(rng.randrange(len(lines)))
    if rng.random() < 0.3:
        parent = f"<{rng.getrandbits(64):x}@example.com>"
        lines += [f"In-Reply-To: {parent}", f"References: {parent}"]
    return [line.encode("utf-8") for line in lines]


def assemble(headers: list[bytes], body: bytes) -> bytes:
    return b"\r\n".join(headers) + b"\r\n\r\n" + body


def plain_message(rng: random.Random, extra: list[bytes] | None = None, body: str | None = None) -> bytes:
    name, address, subject, text = customer(rng)
    headers = header_lines(rng, subject, name, address) + (extra or [])
    headers += [b"MIME-Version: 1.0", b"Content-Type: text/plain; charset=utf-8"]
    return assemble(headers, (body if body is not None else text).replace("\n", "\r\n").encode("utf-8"))


def multipart(rng: random.Random, parts: list[bytes], subtype: str = "mixed", boundary: str = "") -> bytes:
    boundary = boundary or f"=_b{rng.getrandbits(40):x}"
    name, address, subject, _ = customer(rng)
    headers = header_lines(rng, subject, name, address)
    headers += [b"MIME-Version: 1.0", f'Content-Type: multipart/{subtype}; boundary="{boundary}"'.encode()]
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + part + b"\r\n" for part in parts)
    return assemble(headers, body + b"--" + boundary.encode() + b"--\r\n")


def text_part(text: str, charset: str = "utf-8", encoding: str = "8bit") -> bytes:
    data = text.replace("\n", "\r\n").encode("utf-8")
    if encoding == "base64":
        data = base64.encodebytes(data)
    elif encoding == "quoted-printable":
        data = quopri.encodestring(data)
    head = f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n"
    return head.encode() + data


# ---------------------------------------------------------------------------------------------
# Generators of hostile messages
# ---------------------------------------------------------------------------------------------

CHARSETS = [
    "utf-8",
    "iso-8859-1",
    "windows-1252",
    "koi8-r",
    "utf-16",
    "utf-7",
    "x-unknown",
    "",
    '"utf-8"; format=flowed',
    "us-ascii",
    "gb2312",
    "utf-8'",
]
TRANSFER_ENCODINGS = ["7bit", "8bit", "binary", "quoted-printable", "base64", "x-uuencode", "bogus", ""]


def gen_encodings(rng: random.Random) -> bytes:
    """One text part in a charset and transfer encoding, declared right or wrong, encoded right or wrong."""
    name, address, subject, text = customer(rng)
    charset, encoding = rng.choice(CHARSETS), rng.choice(TRANSFER_ENCODINGS)
    real = rng.choice(["utf-8", "latin-1", "utf-16-le", "cp1252"])
    data = text.encode(real, errors="replace")
    if encoding == "base64" and rng.random() < 0.7:
        data = base64.encodebytes(data)
        if rng.random() < 0.3:  # broken padding, stray characters, a line cut short
            data = data[: rng.randrange(len(data) + 1)] + rng.choice([b"=", b"***", b"====", b"\x00", b"\xff"])
    elif encoding == "quoted-printable" and rng.random() < 0.7:
        data = quopri.encodestring(data) + rng.choice([b"", b"=", b"=Z", b"=\r\n", b"=FF=FE=00"])
    if rng.random() < 0.3:  # invalid UTF-8: stray continuation bytes, overlong forms, encoded surrogates
        data += rng.choice([b"\x80\x81", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xfe\xff"])
    headers = [
        *header_lines(rng, subject, name, address),
        b"MIME-Version: 1.0",
        f"Content-Type: text/plain; charset={charset}".encode(),
        f"Content-Transfer-Encoding: {encoding}".encode(),
    ]
    return assemble(headers, data)


def gen_broken_boundaries(rng: random.Random) -> bytes:
    """Multiparts whose boundaries are missing, never used, never closed, empty, odd or repeated."""
    boundary = rng.choice(["B", "==_x_==", "a b c", 'q"q', "", "-" * 70, "x" * 300, "日本", "B\x00"])
    _, _, _, text = customer(rng)
    part = text_part(text)
    variant = rng.randrange(9)
    declared = f'boundary="{boundary}"'
    if variant == 0:
        declared = ""  # multipart without a boundary parameter
    lines = [f"Content-Type: multipart/{rng.choice(['mixed', 'alternative', 'related', 'x-odd'])}; {declared}"]
    marker = b"--" + boundary.encode("utf-8", "replace")
    if variant == 1:
        body = part  # the boundary never appears
    elif variant == 2:
        body = marker + b"\r\n" + part  # never closed
    elif variant == 3:
        body = part + b"\r\n" + marker + b"--\r\n"  # closed, never opened
    elif variant == 4:
        body = marker + b"\r\n\r\n" + text.encode() + b"\r\n" + marker + b"--"  # a part without headers
    elif variant == 5:
        body = (marker + b"\r\n") * rng.randint(2, 5000) + marker + b"--\r\n"  # thousands of empty parts
    elif variant == 6:
        body = marker + b"trailing garbage\r\n" + part + b"\r\n " + marker + b"--  \r\n"
    elif variant == 7:  # a nested multipart reusing the outer boundary
        inner = f"Content-Type: multipart/mixed; {declared}\r\n\r\n".encode() + marker + b"\r\n" + part
        body = marker + b"\r\n" + inner + b"\r\n" + marker + b"--\r\n" + marker + b"--\r\n"
    else:  # a huge preamble and epilogue
        filler = b"This is a multi-part message in MIME format.\r\n" * (size(rng) // 45 + 1)
        body = filler + marker + b"\r\n" + part + b"\r\n" + marker + b"--\r\n" + filler
    name, address, subject, _ = customer(rng)
    headers = [*header_lines(rng, subject, name, address), b"MIME-Version: 1.0", lines[0].encode("utf-8")]
    return assemble(headers, body)


def gen_deep_nesting(rng: random.Random) -> bytes:
    """Multiparts (or forwarded message/rfc822) nested hundreds to thousands deep."""
    # From about 1000 levels the parser's recursion limit quarantines the message.
    depth = rng.choices([100, 200, 400, 1000, 3000], weights=[4, 3, 2, 1, 1])[0]
    closed = rng.random() < 0.7
    _, _, _, text = customer(rng)
    if rng.random() < 0.5:
        lines = ["From: ann@example.com", "Subject: nested", "MIME-Version: 1.0"]
        for level in range(depth):
            lines += [f'Content-Type: multipart/mixed; boundary="level{level}"', "", f"--level{level}"]
        lines += ["Content-Type: text/plain", "", text]
        if closed:
            lines += [f"--level{level}--" for level in reversed(range(depth))]
        return "\r\n".join(lines).encode()
    head = "From: ann@example.com\r\nSubject: Fwd: nested\r\nMIME-Version: 1.0\r\n"
    message = f"From: bob@example.com\r\nSubject: inner\r\n\r\n{text}".encode()
    for _ in range(depth):
        message = b"Content-Type: message/rfc822\r\n" + head.encode() + b"\r\n" + message
    return message


def gen_huge_headers(rng: random.Random) -> bytes:
    """Headers of hundreds of kilobytes to megabytes: one line, folded, many addresses, many lines."""
    target = max(size(rng), 30_000)
    name, address, subject, text = customer(rng)
    variant = rng.randrange(9)
    if variant == 0:
        extra = [b"Subject: " + b"Where is my order " * (target // 18)]
    elif variant == 1:
        extra = [b"Subject: " + b"\r\n folded words".join([b"x"] * (target // 15))]
    elif variant == 2:
        extra = [b"To: " + b", ".join(b"c%d@example.net" % i for i in range(target // 18))]
    elif variant == 3:
        extra = [b"References: " + b" ".join(b"<%d@example.net>" % i for i in range(target // 17))]
    elif variant == 4:
        extra = [b"Received: from mx%d.example.net by mx.example.com; Mon, 3 Nov 2025" % i for i in range(target // 60)]
    elif variant == 5:
        extra = [b"Subject: " + b"=?utf-8?q?caf=C3=A9?= " * (target // 22)]
    elif variant == 6:
        extra = [b"X-No-Colon-" + b"a" * target]
    elif variant == 7:
        extra = [b"X-" + b"N" * target + b": value"]
    else:
        extra = [b'From: "' + b"Ann " * (target // 4) + b'" <ann@example.com>']
    headers = header_lines(rng, subject, name, address)
    rng.shuffle(extra)
    position = rng.randrange(len(headers) + 1)
    return assemble(headers[:position] + extra + headers[position:], text.encode())


ENCODED_WORDS = [
    "=?utf-8?q?caf=C3=A9?=",
    "=?utf-8?b?Y2Fmw6k=?=",
    "=?iso-8859-1?q?caf=E9?=",
    "=?x-unknown?q?abc?=",
    "=?utf-8?x?abc?=",
    "=?utf-8?b?####?=",
    "=?utf-8?b?YQ?=",
    "=?utf-8?q?unterminated",
    "=??q?abc?=",
    "=?utf-8??abc?=",
    "=?utf-8*en?q?with_language?=",
    "=?utf-8?q?nul=00byte?=",
    "=?utf-8?q?line=0D=0ABcc:_evil@example.net?=",
    "=?utf-8?q?=FF=FE?=",
    "=?utf-16?b?//5hAGIA?=",
    "=?utf-8?q?a?==?utf-8?q?b?=",
    "=?=?utf-8?q?x?=?=",
    "=?utf-8?q?=E2=82?=",
    "=?gb2312?b?1tDOxA==?=",
    "=?utf-7?q?+AGEAYgBj-?=",
    "=?UTF-8?Q?a_b?=",
    "=?utf-8?b??=",
    "=?us-ascii?q?=80?=",
    "=?utf-8?q?ann=40example.com?=",
    "plain",
    "Pesanan",
    "é",
]


def gen_rfc2047(rng: random.Random) -> bytes:
    """Encoded words in the subject, display names and attachment names: valid, broken, nested, flooded."""
    count = rng.choice([1, 3, 10, 100, 5000])
    words = " ".join(rng.choice(ENCODED_WORDS) for _ in range(count))
    if rng.random() < 0.3:
        words = words.replace(" ", "")  # adjacent encoded words without whitespace
    name, address, _, text = customer(rng)
    target = rng.choice(["subject", "from", "to", "filename"])
    headers = header_lines(rng, words if target == "subject" else "Pesanan belum sampai", name, address)
    if target == "from":
        headers = [h for h in headers if not h.startswith(b"From:")] + [f"From: {words} <{address}>".encode()]
    elif target == "to":
        headers.append(f"Cc: {words} <cc@example.net>, {words}".encode())
    if target == "filename":
        attachment = f'Content-Type: text/plain; name="{words}"\r\nContent-Disposition: attachment\r\n\r\nlog\r\n'
        return multipart(rng, [text_part(text), attachment.encode()])
    return assemble(headers, text.encode())


RFC2231_PARAMETERS = [
    "filename*=utf-8''caf%C3%A9.txt",
    "filename*=iso-8859-1'en'%E9t%E9.pdf",
    "filename*0*=utf-8''a; filename*1*=%C3%A9; filename*2=.txt",
    "filename*2=c; filename*0=a; filename*1=b",
    "filename*1=only-the-second",
    "filename*99999999=x",
    "filename*-1=x",
    "filename*=x-bad''abc",
    "filename*=utf-8''%ZZ%",
    "filename*=''abc",
    "filename*0*=utf-8''%E2%82; filename*1*=%AC.txt",
    "name*=utf-8''%00nul",
    "filename*=utf-8'",
    'filename*0="a"; filename*0="b"',
]


def gen_rfc2231(rng: random.Random) -> bytes:
    """RFC 2231 parameters: continuations out of order, missing, huge, thousands long, bad charsets."""
    params = [rng.choice(RFC2231_PARAMETERS) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.2:
        params.append("; ".join(f"filename*{i}*=%41" for i in range(rng.choice([100, 5000]))))
    _, _, _, text = customer(rng)
    disposition = rng.choice(["attachment", "inline", ""])
    where = rng.randrange(3)
    if where == 0:  # on the text part itself
        part = f"Content-Type: text/plain; charset=utf-8; {'; '.join(params)}\r\n\r\n{text}".encode()
        return multipart(rng, [part])
    if where == 1:  # the boundary itself in continuations
        boundary = f"bnd{rng.getrandbits(20):x}"
        name, address, subject, _ = customer(rng)
        continued = f'boundary*0="{boundary[:3]}"; boundary*1="{boundary[3:]}"'
        headers = [
            *header_lines(rng, subject, name, address),
            b"MIME-Version: 1.0",
            f"Content-Type: multipart/mixed; {continued}".encode(),
        ]
        body = f"--{boundary}\r\n".encode() + text_part(text) + f"\r\n--{boundary}--\r\n".encode()
        return assemble(headers, body)
    attachment = (
        f"Content-Type: application/octet-stream; {'; '.join(params)}\r\n"
        f"Content-Disposition: {disposition}; {'; '.join(params)}\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nSGVsbG8=\r\n"
    )
    return multipart(rng, [text_part(text), attachment.encode()])


def gen_nul_bytes(rng: random.Random) -> bytes:
    """NUL bytes in header names, values, addresses, boundaries and the body."""
    raw = bytearray(rng.choice([plain_message, gen_attachments, gen_encodings])(rng))
    for _ in range(rng.choice([1, 5, 50, 5000])):
        raw.insert(rng.randrange(len(raw) + 1), 0)
    if rng.random() < 0.3:
        raw = bytearray(b"From: ann\x00@example.com\r\nSub\x00ject: \x00\x00\r\n") + raw
    return bytes(raw)


HTML_UNITS = [
    "<div>",
    "<span>x</span>",
    "<b>x</b> ",
    "&amp;",
    "&#x1F600;",
    "&#0;",
    "&#xD800;",
    "&#99999999999;",
    "&nbsp",
    "<!--",
    "<!--x>",
    "<![if !supportLists]>",
    "<![CDATA[",
    "<![",
    "<blockquote>",
    "<blockquote>quoted ",
    "<p>para",
    "<br>",
    "<",
    "</",
    "<?",
    "<!",
    "&",
    "<a href='",
    "<tr><td>cell</td>",
    "<script>",
    "<style>",
    '<x y="',
]


def gen_html_bombs(rng: random.Random) -> bytes:
    """HTML-only mail: tags nested tens of thousands deep, entity floods, open comments and sections."""
    target = size(rng)
    units = rng.sample(HTML_UNITS, rng.randint(1, 3))
    unit_length = sum(map(len, units))
    bomb = "".join(units) * max(1, target // unit_length)
    name, address, subject, text = customer(rng)
    html = f"<html><body><p>{text}</p>{bomb}</body></html>"
    if rng.random() < 0.3:
        html = html[: rng.randrange(len(html) + 1)]  # cut anywhere
    encoding = rng.choice(["8bit", "quoted-printable", "base64"])
    data = html.encode("utf-8")
    if encoding == "base64":
        data = base64.encodebytes(data)
    elif encoding == "quoted-printable":
        data = quopri.encodestring(data)
    part = f"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n".encode() + data
    if rng.random() < 0.5:
        return multipart(rng, [text_part(""), part], "alternative")
    headers = [*header_lines(rng, subject, name, address), b"MIME-Version: 1.0"]
    return assemble(headers, part)


def zip_bytes(rng: random.Random) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if rng.random() < 0.3:
            archive.writestr("zeros.bin", bytes(rng.choice([1_000_000, 5_000_000])))  # compresses a thousandfold
        for index in range(rng.randint(1, 5)):
            archive.writestr(f"file{index}.txt", rng.randbytes(rng.randint(0, 2000)))
    return buffer.getvalue()


IMAGE_MAGIC = [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", b"GIF89a", b"%PDF-1.4\n"]


def gen_attachments(rng: random.Random) -> bytes:
    """Zip, image and PDF attachments: base64 right or broken, raw binary, mislabelled as text."""
    _, _, _, text = customer(rng)
    parts = [text_part(text, encoding=rng.choice(["8bit", "quoted-printable", "base64"]))]
    for _ in range(rng.randint(1, 3)):
        payload = zip_bytes(rng) if rng.random() < 0.4 else rng.choice(IMAGE_MAGIC) + rng.randbytes(size(rng) // 2)
        kind = rng.choice(["application/zip", "image/png", "image/jpeg", "application/pdf", "text/plain"])
        encoding = rng.choice(["base64", "base64-broken", "binary", "8bit"])
        if encoding == "base64":
            data = base64.encodebytes(payload)
        elif encoding == "base64-broken":
            data = base64.b64encode(payload)[: rng.randrange(4 * len(payload) // 3 + 2)] + b"!!"
            encoding = "base64"
        else:
            data = payload  # raw bytes, CR and NUL included
        parts.append(
            f'Content-Type: {kind}; name="scan.{kind.rsplit("/", 1)[1]}"\r\n'
            f"Content-Disposition: {rng.choice(['attachment', 'inline'])}\r\n"
            f"Content-ID: <img{rng.getrandbits(16)}@example>\r\n"
            f"Content-Transfer-Encoding: {encoding}\r\n\r\n".encode()
            + data
        )
    if rng.random() < 0.3:
        parts.append(b"Content-Type: message/rfc822\r\n\r\n" + plain_message(rng))
    return multipart(rng, parts, rng.choice(["mixed", "related"]))


def gen_line_endings(rng: random.Random) -> bytes:
    """Any message with its line endings mixed: LF, CRLF, bare CR, LF CR."""
    raw = rng.choice([plain_message, gen_attachments, gen_encodings, gen_rfc2047])(rng)
    return mix_line_endings(rng, raw)


def mix_line_endings(rng: random.Random, raw: bytes) -> bytes:
    lines = raw.replace(b"\r\n", b"\n").split(b"\n")
    endings = rng.sample([b"\n", b"\r\n", b"\r", b"\n\r", b"\r\r\n"], rng.randint(1, 3))
    return b"".join(line + rng.choice(endings) for line in lines)


def gen_random_bytes(rng: random.Random) -> bytes:
    """Bytes that are no message at all: random, or printable noise with colons and blank lines."""
    if rng.random() < 0.5:
        return rng.randbytes(rng.randint(0, 4096))
    alphabet = b"abcXYZ:=?- \r\n\t<>@\"'\x00\xff"
    return bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 4096)))


SPLICES = [b"=?", b"?=", b"--", b"\r", b"\n\n", b"\x00", b":", b"<", b"=?utf-8?q?", b"boundary=", b"charset=", b">"]


def mutate(rng: random.Random, raw: bytes) -> bytes:
    """Flip, insert, delete and splice bytes: the damage of broken relays and bad clients."""
    data = bytearray(raw)
    for _ in range(rng.randint(1, 20)):
        pos = rng.randrange(len(data) + 1)
        roll = rng.random()
        if roll < 0.35 and data:
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif roll < 0.6:
            data[pos:pos] = rng.randbytes(rng.randint(1, 8))
        elif roll < 0.8:
            del data[pos : pos + rng.randint(1, 40)]
        else:
            data[pos:pos] = rng.choice(SPLICES)
    return bytes(data)


def gen_mutated(rng: random.Random) -> bytes:
    """A real-looking message of any kind, then damaged byte by byte."""
    base = rng.choice([plain_message, gen_attachments, gen_encodings, gen_rfc2047, gen_rfc2231, gen_html_bombs])
    return mutate(rng, base(rng))


GENERATORS: dict[str, Generator] = {
    "encodings": gen_encodings,
    "broken-boundaries": gen_broken_boundaries,
    "deep-nesting": gen_deep_nesting,
    "huge-headers": gen_huge_headers,
    "rfc2047": gen_rfc2047,
    "rfc2231": gen_rfc2231,
    "nul-bytes": gen_nul_bytes,
    "html-bombs": gen_html_bombs,
    "attachments": gen_attachments,
    "line-endings": gen_line_endings,
    "random-bytes": gen_random_bytes,
    "mutated": gen_mutated,
}


def hostile_message(kind: str, seed: int) -> bytes:
    """The message a (generator, seed) pair stands for; any generator's output may also get mixed
    line endings or mutations on top."""
    rng = random.Random(f"{kind}:{seed}")
    raw = GENERATORS[kind](rng)
    if rng.random() < 0.15:
        raw = mix_line_endings(rng, raw)
    if rng.random() < 0.1:
        raw = mutate(rng, raw)
    return raw


# ---------------------------------------------------------------------------------------------
# Generators of hostile text (what classification and the reply checks read)
# ---------------------------------------------------------------------------------------------

# Fragments that regexes over text like to backtrack on: capitalised runs (name lines), digit
# runs with separators (amounts, dates, phone numbers), address-like runs, street cues, codes.
TEXT_UNITS = [
    "A",
    "Aa",
    "PT ",
    "a",
    "1",
    "1,",
    "1.",
    "1 ",
    "1-",
    "12/",
    "1:",
    "rp ",
    "Rp 1.",
    "a.",
    "a-",
    "a@",
    "x@y.",
    "jl ",
    "Jl. Merdeka ",
    "AB-12",
    "#1",
    "?",
    "? ",
    ". ",
    "!",
    "> ",
    "-- ",
    "\n",
    "\n\n",
    "- ",
    "1. ",
    "on ",
    "wrote:",
    "=",
    "\u0301",
    "\u200b",
    "\u202e",
    "😀",
    "中文",
    "ribu ",
    "jam ",
    "thank you ",
    "terima kasih ",
    "kak ",
    "refund ",
    "invoice ",
]
TEXT_ENDS = ["", "!", "x", ".", "\n", "?", "@", " ribux", "\x00", "A"]


def text_regex_food(rng: random.Random) -> str:
    units = rng.sample(TEXT_UNITS, rng.randint(1, 3))
    length = rng.choice([50, 200, 1_000, 10_000, 100_000])
    unit = "".join(units)
    text = unit * max(1, length // len(unit)) + rng.choice(TEXT_ENDS)
    _, _, _, body = customer(rng)
    return rng.choice([text, f"{body}\n{text}", f"{text}\n{body}", f"{body}\n\n{text}\n"])


def text_sentences(rng: random.Random) -> str:
    """Real customer sentences, shuffled and repeated to length, English and Indonesian mixed."""
    pieces = [customer(rng)[3] for _ in range(rng.randint(1, 8))]
    words = " ".join(pieces).split()
    rng.shuffle(words)
    count = rng.choice([10, 100, 1_000, 20_000, 150_000])
    return " ".join(itertools.islice(itertools.cycle(words), count))


def text_long_token(rng: random.Random) -> str:
    alphabet = rng.choice(["a", "A", "aA1", "0123456789", "abc.-_+", "аб", "\u0301e", "ab@", "Ab ", "Ab\n"])
    return "".join(rng.choice(alphabet) for _ in range(rng.choice([100, 300, 3_000, 300_000])))


def text_quoted(rng: random.Random) -> str:
    """Quote headers, quoted lines and signatures piled up: what the splitters and checks walk."""
    lines = []
    for _ in range(rng.choice([5, 50, 2_000, 20_000])):
        lines.append(
            rng.choice(
                [
                    "> " * rng.randint(1, 30) + "quoted",
                    "On Mon, 3 Nov 2025, Ann <ann@example.com> wrote:",
                    "Pada 3 Nov 2025, Budi menulis:",
                    "-----Original Message-----",
                    "From: Ann",
                    "Sent: Monday",
                    "-- ",
                    "Sent from my iPhone",
                    "Kind regards,",
                    "Example Support",
                    "1. " + customer(rng)[3].split("\n")[2],
                    "",
                ]
            )
        )
    return "\n".join(lines)


def text_mixed(rng: random.Random) -> str:
    return "\n".join(rng.choice(TEXT_GENERATORS_BASE)(rng)[:50_000] for _ in range(rng.randint(2, 5)))


TEXT_GENERATORS_BASE: list[TextGenerator] = [text_regex_food, text_sentences, text_long_token, text_quoted]
TEXT_GENERATORS: dict[str, TextGenerator] = {
    "regex-food": text_regex_food,
    "sentences": text_sentences,
    "long-token": text_long_token,
    "quoted": text_quoted,
    "mixed": text_mixed,
}


def hostile_text(kind: str, seed: int) -> str:
    return TEXT_GENERATORS[kind](random.Random(f"text:{kind}:{seed}"))


# ---------------------------------------------------------------------------------------------
# The bound every example runs under
# ---------------------------------------------------------------------------------------------


class HungError(Exception):
    """An example ran past HANG_LIMIT CPU seconds: it would never have finished."""


@dataclass
class Measure:
    """What one bounded step took: wall time, and the peak of memory traced while it ran (when traced)."""

    seconds: float = 0.0
    peak: int = 0


def _on_hang(signum: int, frame: FrameType | None) -> None:
    raise HungError(f"still running after {HANG_LIMIT:.0f} CPU seconds")


@contextmanager
def bounded(trace: bool = False) -> Iterator[Measure]:
    """Time one step (and with `trace`, its tracemalloc peak); past HANG_LIMIT CPU seconds it raises HungError.

    Time and memory are measured in separate runs: tracemalloc walks the whole stack on every
    allocation, which makes a parse a thousand frames deep twenty times slower. SIGPROF (CPU
    time) leaves pytest-timeout's SIGALRM alone; regex matching in C checks for signals too.
    """
    result = Measure()
    if trace:
        tracemalloc.start()
    previous = signal.signal(signal.SIGPROF, _on_hang)
    signal.setitimer(signal.ITIMER_PROF, HANG_LIMIT)
    start = time.process_time()  # CPU time: a busy machine must not fail a bound meant for runaway work
    try:
        yield result
    finally:
        result.seconds = time.process_time() - start
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)
        if trace:
            result.peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()


def assert_within_bounds(measure: Measure, what: str, limit: float = TIME_LIMIT) -> None:
    assert measure.seconds < limit, f"{what} took {measure.seconds:.1f}s (bound {limit:.0f}s)"
    assert measure.peak < MEMORY_LIMIT, f"{what} peaked at {measure.peak / 2**20:.0f} MiB"


def assert_storable(mail: Mail) -> None:
    """Every string in a Mail encodes as UTF-8 (SQLite refuses lone surrogates) and the date has a zone."""
    for value in vars(mail).values():
        for item in value if isinstance(value, tuple) else (value,):
            for text in (item.name, item.email) if hasattr(item, "email") else (item,):
                if isinstance(text, str):
                    text.encode("utf-8")
    assert mail.date.tzinfo is not None
    mail.date.astimezone(UTC)


def view(
    message: int, text: str, direction: Direction, date: datetime, subject: str = "", **extra: object
) -> MessageView:
    """A stored message as the flag derivations read it."""
    sender = "support@example.com" if direction is Direction.OUT else "ann@example.net"
    fields: dict[str, object] = {
        "id": message,
        "message_id": f"<m{message}@example.net>",
        "direction": direction,
        "sender": sender,
        "recipients": ("ann@example.net",) if direction is Direction.OUT else ("support@example.com",),
        "date": date,
        "subject": subject or "Pesanan belum sampai",
        "subject_norm": (subject or "Pesanan belum sampai").lower(),
        "in_reply_to": None,
        "references": (),
        "text": text,
        "lang": "other",
        "automated": None,
    }
    fields.update(extra)
    return MessageView(**fields)  # type: ignore[arg-type]


def exchange_views(question: str, reply: str, follow_up: str) -> list[MessageView]:
    """A question, our reply to it and the customer's follow-up: the shape every check reads."""
    asked = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    return [
        view(1, question, Direction.IN, asked, topics=("delivery",)),
        view(
            2,
            reply,
            Direction.OUT,
            asked + timedelta(hours=3),
            "Re: Pesanan belum sampai",
            in_reply_to="<m1@example.net>",
        ),
        view(
            3,
            follow_up,
            Direction.IN,
            asked + timedelta(days=2),
            "Re: Pesanan belum sampai",
            references=("<m2@example.net>",),
        ),
        view(4, reply, Direction.OUT, asked + timedelta(days=2, minutes=5), in_reply_to="<m3@example.net>"),
    ]


# ---------------------------------------------------------------------------------------------
# The properties
# ---------------------------------------------------------------------------------------------

FUZZ = settings(
    deadline=None,  # the bound is ours (per step, TIME_LIMIT), not Hypothesis's per-example deadline
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
messages = st.tuples(st.sampled_from(sorted(GENERATORS)), st.integers(0, 2**32 - 1))
texts = st.tuples(st.sampled_from(sorted(TEXT_GENERATORS)), st.integers(0, 2**32 - 1))


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = open_store(tmp_path_factory.mktemp("fuzz") / "store" / "triage.sqlite")
    yield store
    store.close()


@settings(FUZZ, max_examples=120)
@given(case=messages)
def test_parse_mail_never_raises(case: tuple[str, int]) -> None:
    raw = hostile_message(*case)
    with bounded() as measure:
        result = parse_mail(RawMail(raw=raw))
    assert isinstance(result, Mail | Unparsable)
    assert_within_bounds(measure, f"parse_mail on {case} ({len(raw)} bytes)", PARSE_TIME_LIMIT)
    assert result.content_hash == content_hash(raw)
    if isinstance(result, Mail):
        assert_storable(result)
    else:
        assert result.raw == raw and result.error


ACCOUNTS = itertools.count()


@settings(FUZZ, max_examples=30)
@given(cases=st.lists(messages, min_size=1, max_size=6))
def test_every_message_is_stored_parsed_or_quarantined(fuzz_store: Store, cases: list[tuple[str, int]]) -> None:
    raws = [hostile_message(*case) for case in cases]
    account = f"fuzz{next(ACCOUNTS)}"
    items = to_captured([RawMail(raw, uid=uid) for uid, raw in enumerate(raws, 1)], FolderRole.INBOX, Config())
    with bounded() as measure:
        fuzz_store.save_batch(account, items, Checkpoint(account, FolderRole.INBOX, "INBOX", 1, len(raws)))
    assert_within_bounds(measure, f"save_batch of {len(raws)} messages")
    stored = fuzz_store.db.execute(
        "SELECT l.uid, m.status, m.dedupe_key, r.raw FROM locations l JOIN messages m ON m.id = l.message "
        "LEFT JOIN raw r ON r.message = m.id WHERE l.account = ? ORDER BY l.uid",
        (account,),
    ).fetchall()
    assert [row[0] for row in stored] == list(range(1, len(raws) + 1))  # one location per input
    for (_, status, key, kept), item, raw in zip(stored, items, raws, strict=True):
        assert status == ("ok" if isinstance(item.parsed, Mail) else "quarantined")
        assert key == item.parsed.content_hash == content_hash(raw)
        assert kept is not None and content_hash(kept) == key  # these bytes, or a duplicate's
    state = fuzz_store.folder_state(account, FolderRole.INBOX)
    assert state is not None and state.last_uid == len(raws)
    for row in fuzz_store.messages_by_id(
        [int(r[0]) for r in fuzz_store.db.execute("SELECT message FROM locations WHERE account = ?", (account,))]
    ):
        json.dumps(row, default=str)  # reads back as text: nothing unreadable was written


@settings(FUZZ, max_examples=40)
@given(case=messages)
def test_classifying_parsed_hostile_mail_terminates(analyzer: Analyzer, case: tuple[str, int]) -> None:
    parsed = parse_mail(RawMail(hostile_message(*case)))
    if not isinstance(parsed, Mail):
        return
    with bounded() as measure:
        result = analyzer.classifier.classify(
            parsed.subject_norm,
            parsed.new_text,
            parsed.lang,
            sender=parsed.sender.email if parsed.sender else "",
            to=" ".join(a.email for a in parsed.to),
        )
    assert_within_bounds(measure, f"classify on {case} ({len(parsed.new_text)} characters)")
    assert all(hit.score > 0 for hit in result.topics)


@settings(FUZZ, max_examples=40)
@given(case=texts, subject=texts)
def test_classifying_hostile_text_terminates(
    analyzer: Analyzer, case: tuple[str, int], subject: tuple[str, int]
) -> None:
    text, heading = hostile_text(*case), hostile_text(*subject)[:2000]
    with bounded() as measure:
        analyzer.classifier.classify(heading, text)
    assert_within_bounds(measure, f"classify on text {case} ({len(text)} characters)")


@settings(FUZZ, max_examples=40)
@given(question=texts, reply=texts, follow_up=texts)
def test_reply_checks_terminate(
    analyzer: Analyzer, question: tuple[str, int], reply: tuple[str, int], follow_up: tuple[str, int]
) -> None:
    views = exchange_views(hostile_text(*question), hostile_text(*reply), hostile_text(*follow_up))
    now = datetime(2026, 11, 9, tzinfo=UTC)
    with bounded() as measure:
        flags = analyzer.engine.derive(views, now)
    assert_within_bounds(measure, f"reply checks on question {question}, reply {reply}, follow-up {follow_up}")
    assert {f.message for f in flags} <= {v.id for v in views}


@settings(FUZZ, max_examples=20)
@given(question=messages, reply_text=texts)
def test_reply_checks_on_parsed_hostile_mail_terminate(
    analyzer: Analyzer, question: tuple[str, int], reply_text: tuple[str, int]
) -> None:
    parsed = parse_mail(RawMail(hostile_message(*question)))
    text = parsed.new_text if isinstance(parsed, Mail) else parsed.raw.decode("utf-8", "replace")
    polite = REPLIES["en"].replace("{first}", "Ann")
    views = exchange_views(text, f"{polite}\n{hostile_text(*reply_text)}", text)
    with bounded() as measure:
        analyzer.engine.derive(views, datetime(2026, 11, 9, tzinfo=UTC))
    assert_within_bounds(measure, f"reply checks on {question} with reply {reply_text}")


# Deep nesting is left out here: tracemalloc walks the whole stack on every allocation, so a parse
# a thousand frames deep takes minutes traced. bench/fuzz_campaign.py traces every generator.
TRACED_GENERATORS = sorted(set(GENERATORS) - {"deep-nesting"})


@settings(FUZZ, max_examples=25)
@given(case=st.tuples(st.sampled_from(TRACED_GENERATORS), st.integers(0, 2**32 - 1)))
def test_memory_per_message_stays_bounded(analyzer: Analyzer, case: tuple[str, int]) -> None:
    raw = hostile_message(*case)
    with bounded(trace=True) as measure:
        parsed = parse_mail(RawMail(raw))
        if isinstance(parsed, Mail):
            analyzer.classifier.classify(parsed.subject_norm, parsed.new_text, parsed.lang)
    assert measure.peak < MEMORY_LIMIT, f"{case} ({len(raw)} bytes) peaked at {measure.peak / 2**20:.0f} MiB"


# ---------------------------------------------------------------------------------------------
# The hostile cases this file found, kept as plain regression tests
# ---------------------------------------------------------------------------------------------


def test_a_date_without_a_utc_time_falls_back_instead_of_failing_the_batch(tmp_path: Path) -> None:
    raw = b"From: a@example.com\r\nDate: Fri, 31 Dec 9999 23:59:59 -1200\r\nSubject: x\r\n\r\nhello\r\n"
    parsed = parse_mail(RawMail(raw, internal_date=START))
    assert isinstance(parsed, Mail) and parsed.date == START
    store = open_store(tmp_path / "s.sqlite")
    items = to_captured([RawMail(raw, uid=1)], FolderRole.INBOX, Config())
    assert len(store.save_batch("a", items, Checkpoint("a", FolderRole.INBOX, "INBOX", 1, 1))) == 1


@pytest.mark.parametrize(
    "html",
    [
        "<!--" * 200_000,  # every open comment was searched for its end again: minutes
        "<![CDATA[x>" * 100_000,
        "<b>x</b> " * 200_000,  # each piece of a line was copied onto the whole line so far
        "<blockquote>x" * 100_000,  # '> ' per level on every line: gigabytes
        "<" * 400_000,
    ],
)
def test_html_bombs_parse_in_linear_time_and_memory(html: str) -> None:
    raw = b"From: a@example.com\r\nSubject: x\r\nContent-Type: text/html\r\n\r\n" + html.encode()
    with bounded() as measure:
        parse_mail(RawMail(raw))
    assert_within_bounds(measure, "an HTML bomb")


def test_a_megabyte_of_text_is_classified(analyzer: Analyzer) -> None:
    # spaCy refuses texts over 1,000,000 characters: such a message failed its analysis at every start
    with bounded() as measure:
        result = analyzer.classifier.classify("refund", "Please refund my order. " * 60_000)
    assert_within_bounds(measure, "classify on 1.4 MB")
    assert "refund" in result.topic_ids


@pytest.mark.parametrize(
    ("question", "reply"),
    [
        ("Where is my order?", "We are checking.\n" + "A" * 300 + "!"),  # a name line that is not one
        ("Where is my order?", "We are checking.\n" + "Aaaa " * 80 + "!"),
        ("Where is my order? " + "1," * 30_000 + " ribux", "We refunded Rp 50.000."),
        ("Where is my order? " + "a" * 60_000 + "@" + "b-" * 5000, "Sorry."),
    ],
)
def test_reply_checks_on_regex_bait_terminate(analyzer: Analyzer, question: str, reply: str) -> None:
    views = exchange_views(question, reply, question)
    with bounded() as measure:
        analyzer.engine.derive(views, datetime(2026, 11, 9, tzinfo=UTC))
    assert_within_bounds(measure, "reply checks on regex bait")

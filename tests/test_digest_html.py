"""The HTML digest in a real browser (headless Chromium): hostile mail stays text, the layout holds at mail widths."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.test_digest import AGENT2, CONFIG, END, NOW, START, MailBox, at
from triage.digest.build import build_digest
from triage.digest.data import SECTIONS
from triage.digest.render import render_html
from triage.model import Direction, FolderRole
from triage.store import open_store

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"
)

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
JS_URL = "javascript:alert(document.cookie)"
BREAKER = "</td></tr></table></td></tr></table><h1>broken</h1>"
RTL = "\u202eexe.txt"
LINK = f'<a href="{JS_URL}">click</a><iframe src="https://evil.example/"></iframe><style>body{{display:none}}</style>'
HOSTILE = f"{SCRIPT} {IMG} {JS_URL} {BREAKER} {RTL} {LINK}"


def hostile_store(tmp_path: Path) -> MailBox:
    """Every field the digest shows carries a payload: subjects, addresses, texts, topics, rules, errors."""
    box = MailBox(open_store(tmp_path / "hostile.sqlite"))
    inn, out = Direction.IN, Direction.OUT
    customer, agent = f"{IMG}@evil.example", f"agent{SCRIPT}@example.com"
    box.mail("q1", inn, customer, at(3, 9), f"Refund {SCRIPT}", f"Please refund. {HOSTILE}")
    box.mail("r1", out, agent, at(3, 10), f"Re: Refund {IMG}", f"See {JS_URL} {HOSTILE}", "q1")
    box.mail("q2", inn, customer, at(4, 9), BREAKER, f"Again! {HOSTILE}")
    box.mail("r2", out, AGENT2, at(4, 11), f"Re: {RTL}", f"Template reply for everyone {HOSTILE}", "q2")
    box.mail("q3", inn, f"{JS_URL}@x.example", at(5, 9), RTL, f"Unanswered {HOSTILE}")
    box.mail("q4", inn, "odd@x.example", at(6, 9), f"{LINK} odd", f"No topic {HOSTILE}")
    box.mail("q5", inn, "later@x.example", at(6, 10), "Paket?", "Paket saya belum sampai.", account=SCRIPT)
    topic = f"<b>topic</b>{SCRIPT}"
    for name in ("q1", "q2", "q3", "q5"):
        box.topics(name, (topic, [("keyword", IMG), ("regex", JS_URL), (f"kind{SCRIPT}", BREAKER)]))
    box.topics("q4")
    mid = box.message_ids
    box.flag("deflection", "r1", "high", f"Deflects {SCRIPT} {IMG}", related=("q1",))
    box.flag(f"off-topic{SCRIPT}", "r1", "medium", f"{BREAKER} {RTL}", related=("q1",))
    similar = {"date": "", "questions": [], "question_topics": [topic]}
    box.flag(
        "canned",
        "r1",
        "medium",
        f"Canned {LINK}",
        {"similar_replies": [similar | {"message_id": mid["r2"]}], "this_question_topics": [topic]},
        ("q1",),
    )
    box.flag(
        "canned",
        "r2",
        "medium",
        f"Canned {LINK}",
        {"similar_replies": [similar | {"message_id": mid["r1"]}], "this_question_topics": [topic]},
        ("q2",),
    )
    earlier = [{"message_id": mid["q1"], "date": at(3, 9).isoformat(), "subject": SCRIPT, "reply": mid["r1"]}]
    box.flag("repeat-contact", "q2", "high", f"Second message {IMG}", {"earlier": earlier}, ("q1", "r1"))
    box.flag("unanswered", "q3", "high", f"No reply {SCRIPT}", {"age_hours": 80.5})
    box.store.set_feedback(f"deflection:{box.ids['r1']}", "deflection", "confirmed", SCRIPT)
    box.store.record_error(SCRIPT, [FolderRole.INBOX], f"XOAUTH2 token refused {IMG} {BREAKER}")
    box.set_sync("support", "inbox", NOW - timedelta(hours=2))
    return box


class Dom(HTMLParser):
    """Tags, attributes, headings and text of the DOM Chromium dumped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.headings: list[str] = []
        self.text: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(tag, name, value or "") for name, value in attrs]
        if tag == "h2":
            self._in_h2 = True
            self.headings.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_h2:
            self.headings[-1] += data


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    assert CHROMIUM is not None
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'chromium-profile'}", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, timeout=180, check=False)


def png_pixels(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the decompressed scanlines of a PNG (no imaging library needed)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, width, height = 8, b"", 0, 0
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    return width, height, zlib.decompress(idat)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("digest-html")
    box = hostile_store(folder)
    html = render_html(build_digest(box.store, START, END, CONFIG, NOW))
    path = folder / "digest.html"
    path.write_text(html, encoding="utf-8")
    return path


@pytest.mark.parametrize("width", [600, 800, 400])
def test_screenshots_at_mail_client_widths_are_not_blank(page: Path, width: int) -> None:
    shot = page.parent / f"digest-{width}.png"
    done = chromium(page.parent, f"--window-size={width},2400", f"--screenshot={shot}", page.as_uri())
    assert shot.exists(), done.stderr.decode(errors="replace")[-2000:]
    assert shot.stat().st_size > 40_000  # a blank or broken page compresses to a few KB
    png_width, png_height, pixels = png_pixels(shot)
    assert (png_width, png_height) == (width, 2400)
    assert len(set(pixels[: len(pixels) // 2])) > 100  # many shades: text, badges, bars


def test_dom_has_every_section_and_no_payload_became_markup(page: Path) -> None:
    done = chromium(page.parent, "--window-size=800,2400", "--dump-dom", page.as_uri())
    dom = Dom()
    dom.feed(done.stdout.decode("utf-8"))
    assert dom.headings, done.stderr.decode(errors="replace")[-2000:]
    titles = [" ".join(h.split()) for h in dom.headings]
    assert [t.split(" ", 1)[1] for t in titles] == [
        f"{title} {count}".strip() if count else title
        for (name, _, title, _), count in zip(SECTIONS, expected_counts(), strict=True)
    ]
    assert not {"script", "img", "iframe", "style", "object", "embed", "h1", "form", "link"} & set(dom.tags)
    assert not [a for a in dom.attrs if a[1].startswith("on")]
    assert {value for tag, name, value in dom.attrs if name == "href"} == {f"#{a}" for _, a, _, _ in SECTIONS}
    assert not [a for a in dom.attrs if "javascript:" in a[2].lower() or "evil.example" in a[2]]
    assert not [a for a in dom.attrs if a[1] == "src"]
    text = "".join(dom.text)
    assert SCRIPT in text and IMG in text and "</td></tr></table>" in text  # shown as text, not parsed
    assert "\u202e" not in text
    assert done.stdout.count(b"<h2") == len(SECTIONS)


def expected_counts() -> list[int | None]:
    # flagged replies r1 and r2, one repeat contact, one unanswered, one reused text, one sample
    return [None, None, 2, 1, 1, 1, None, 1, None, None]


def test_html_source_escapes_every_value(page: Path) -> None:
    source = page.read_text(encoding="utf-8")
    assert "<script" not in source.lower() and "<img" not in source.lower() and "<iframe" not in source.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in source
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in source
    assert "<style" not in source.lower() and 'src="' not in source
    assert {href for href in re.findall(r'href="([^"]*)"', source)} == {f"#{a}" for _, a, _, _ in SECTIONS}

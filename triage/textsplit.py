"""Split a message's text into what the sender wrote now, the quoted history and the signature."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

# A line that opens quoted history, in the forms mail clients write in English and Indonesian.
QUOTE_HEADER = re.compile(
    r"""^\s*(
        (on\b.{0,200}\bwrote:?)                               # On Mon, 3 Nov 2026, Ann wrote:
      | (pada\b.{0,200}\bmenulis:?)                           # Pada 3 Nov 2026, Ani menulis:
      | (le\b.{0,200}\ba\s+écrit\s*:)
      | (am\b.{0,200}\bschrieb.{0,80}:)
      | (-{2,}\s*(original\s+message|pesan\s+asli|forwarded\s+message|pesan\s+terusan)\s*-{2,})
      | (_{20,})                                              # Outlook's rule before From:/Sent:
      | (begin\s+forwarded\s+message:)
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
# "On ... wrote:" is often wrapped over two lines by the sender's client.
QUOTE_HEADER_START = re.compile(r"^\s*(on|pada)\b.{0,200}$", re.IGNORECASE)
QUOTE_HEADER_END = re.compile(r"^.{0,200}\b(wrote|menulis)\s*:\s*$", re.IGNORECASE)
# Outlook without a rule: a block of From:/Sent: (or Dari:/Terkirim:) header lines.
OUTLOOK_FROM = re.compile(r"^\s*\*?(from|dari)\s*:\*?\s", re.IGNORECASE)
OUTLOOK_SENT = re.compile(r"^\s*\*?(sent|date|terkirim|tanggal|dikirim)\s*:\*?\s", re.IGNORECASE)
# How every line the three patterns above match starts: one test rules most lines out.
QUOTE_LINE_START = re.compile(r"\s*\*?(on|pada|le|am|-|_|begin|from|dari)", re.IGNORECASE)
BLANK_LINES = re.compile(r"\n{3,}")
SIGNATURE_DELIMITER = re.compile(r"^--\s?$")
MOBILE_FOOTER = re.compile(r"^\s*(sent from my|get outlook for|dikirim dari|sent via|dikirim melalui)\b", re.IGNORECASE)


@dataclass(frozen=True)
class SplitText:
    new: str
    quoted: str
    signature: str


def split_text(text: str) -> SplitText:
    """Split plain text into new text, quoted history and signature."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = find_quote_start(lines)
    new_lines: list[str] = []
    inline_quotes: list[str] = []
    for line in lines[:cut]:
        (inline_quotes if line.lstrip().startswith(">") else new_lines).append(line)
    body, signature = split_signature(new_lines)
    return SplitText(
        new=_tidy(body),
        quoted=_tidy(inline_quotes + lines[cut:]),
        signature=_tidy(signature),
    )


def find_quote_start(lines: list[str]) -> int:
    """Index of the first line of quoted history, or len(lines) when there is none."""
    for index, line in enumerate(lines):
        if not QUOTE_LINE_START.match(line):
            continue
        if QUOTE_HEADER.match(line):
            return index
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if QUOTE_HEADER_START.match(line) and QUOTE_HEADER_END.match(following):
            return index
        if OUTLOOK_FROM.match(line) and any(OUTLOOK_SENT.match(n) for n in lines[index + 1 : index + 4]):
            return index
    return len(lines)


def split_signature(lines: list[str]) -> tuple[list[str], list[str]]:
    """Separate a trailing signature: after a '-- ' line, or a mobile footer near the end."""
    for index, line in enumerate(lines):
        if SIGNATURE_DELIMITER.match(line):
            return lines[:index], lines[index + 1 :]
    for index in range(len(lines) - 1, max(-1, len(lines) - 4), -1):
        if MOBILE_FOOTER.match(lines[index]):
            return lines[:index], lines[index:]
    return lines, []


def _tidy(lines: list[str]) -> str:
    text = "\n".join([line.rstrip() for line in lines])
    return BLANK_LINES.sub("\n\n", text).strip()


BLOCK_TAGS = frozenset("p div br tr li h1 h2 h3 h4 h5 h6 table ul ol pre hr section article header footer".split())
SKIPPED_TAGS = frozenset(["script", "style", "head", "title"])


WHITESPACE = re.compile(r"\s+")
# Nested blockquotes deeper than this are marked with this many '> ' (a quote is a quote).
MAX_QUOTE_MARKS = 8


class _TextExtractor(HTMLParser):
    """Collects visible text; blockquote content is marked as quoted with '> '."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.line: list[str] = []  # pieces of the current line, joined once at its end (not re-copied per piece)
        self.skipping = 0
        self.quote_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED_TAGS:
            self.skipping += 1
        elif tag == "blockquote":
            self.quote_depth += 1
            self._newline()
        elif tag in BLOCK_TAGS:
            self._newline()

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED_TAGS:
            self.skipping = max(0, self.skipping - 1)
        elif tag == "blockquote":
            self.quote_depth = max(0, self.quote_depth - 1)
            self._newline()
        elif tag in BLOCK_TAGS:
            self._newline()

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        text = WHITESPACE.sub(" ", data)
        if not self.line:  # a line starts with its first visible character
            text = text.lstrip()
            if text and self.quote_depth:
                text = "> " * min(self.quote_depth, MAX_QUOTE_MARKS) + text
        if text:
            self.line.append(text)

    def parse_html_declaration(self, i: int) -> int:
        # A marked section (<![if !supportLists]>, <![CDATA[...]]>) ends at the next '>'. The standard
        # parser looks for "]]>" up to the end of the input (again for every one left open: quadratic
        # time) and raises AssertionError on keywords it does not know.
        if self.rawdata.startswith("<![", i):
            end = self.rawdata.find(">", i + 3)
            return -1 if end < 0 else end + 1
        return super().parse_html_declaration(i)

    def _newline(self) -> None:
        if self.line:
            self.lines.append("".join(self.line))
            self.line = []


COMMENT_CLOSE = re.compile(r"--\s*>")


def defuse_html(html: str) -> str:
    """HTML without the unterminated constructs that make html.parser take quadratic time.

    The parser searches for the end of an open comment, or of a tag after the last '>', up to
    the end of the input, and does so again for every later one: a message of "<!--" repeated
    takes minutes. An unterminated comment runs to the end (as in HTML5, so it is cut); a '<'
    after the last '>' starts no tag and is kept as text.
    """
    last_close = max((match.start() for match in COMMENT_CLOSE.finditer(html)), default=-1)
    unterminated = html.find("<!--", max(0, last_close - 3))  # no "-->" after its own "<!--"
    if unterminated >= 0:
        html = html[:unterminated]
    end = html.rfind(">")
    return html[: end + 1] + html[end + 1 :].replace("<", "&lt;")


def html_to_text(html: str) -> str:
    """Visible text of an HTML body, one block per line, blockquotes prefixed with '> '."""
    extractor = _TextExtractor()
    extractor.feed(defuse_html(html))
    extractor.close()
    extractor._newline()
    return "\n".join(line.rstrip() for line in extractor.lines).strip()

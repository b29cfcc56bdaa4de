"""Mask card numbers, ID numbers, phone numbers (and optionally e-mail addresses) in digest texts."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

CARD, NIK, PHONE, EMAIL, OTHER = "[card number]", "[ID number]", "[phone]", "[email]", "[redacted]"

# Digits with single spaces or dashes between them; candidate card numbers are windows of 13-19 digits.
DIGIT_RUN = re.compile(r"(?<![\d])\d(?:[ \-]?\d){12,}(?![\d])")
# Indonesian NIK (and any other 16-digit ID): 16 digits, optionally grouped by spaces, dots or dashes.
SIXTEEN_DIGITS = re.compile(r"(?<![\d])\d(?:[ .\-]?\d){15}(?![\d])")
# +62 812-3456-7890, +44 (0)20 7946 0958, +1 415 555 0100
INTERNATIONAL = re.compile(r"(?<![\w+])\+\d[\d \-.()]{6,20}\d(?!\d)")
# 62 812 3456 7890 and 0812-3456-7890 (Indonesian mobile), (021) 555-0123 (landline)
INDONESIAN = re.compile(
    r"(?<![\w+])(?:62[ \-.]?8\d{1,2}|08\d{1,2})[ \-.]?\d{3,4}[ \-.]?\d{3,5}(?!\d)"
    r"|\(0\d{1,3}\)[ \-.]?\d{3,4}[ \-.]?\d{3,4}(?!\d)"
)
# starts only where a run of address characters does: from every position it was quadratic
EMAIL_ADDRESS = re.compile(r"(?<![\w.+\-])[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")

# Digest fields that are identifiers, enumerations or addresses a lead needs: never masked.
VERBATIM = frozenset(
    {
        "message_id",
        "message_ids",
        "flagged_message_ids",
        "kind",
        "severity",
        "status",
        "section",
        "topic",
        "topics",
        "account",
        "folder",
        "mailbox",
        "agent",
        "agents",
        "customer",
        "sender",
        "reply_agent",
        "lang",
    }
)


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number passes."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _digit_count(text: str) -> int:
    return sum(char.isdigit() for char in text)


def mask_cards(text: str) -> str:
    """Replace 13-19 digit runs (spaces and dashes allowed) that pass the Luhn check."""

    def replace(match: re.Match[str]) -> str:
        run = match.group(0)
        groups = [(g.start(), g.end()) for g in re.finditer(r"\d+", run)]
        out, done, i = [], 0, 0
        while i < len(groups):
            for j in range(len(groups) - 1, i - 1, -1):  # the longest window first
                window = run[groups[i][0] : groups[j][1]]
                digits = re.sub(r"\D", "", window)
                if 13 <= len(digits) <= 19 and luhn_valid(digits):
                    out.append(run[done : groups[i][0]] + CARD)
                    done, i = groups[j][1], j
                    break
            i += 1
        return "".join(out) + run[done:]

    return DIGIT_RUN.sub(replace, text)


@dataclass(frozen=True)
class Mask:
    """One kind of sensitive text: a pattern, what replaces it, and an optional check of the match."""

    pattern: re.Pattern[str]
    replacement: str
    accept: Callable[[str], bool] | None = None

    def __call__(self, text: str) -> str:
        accept = self.accept
        if accept is None:
            return self.pattern.sub(self.replacement, text)
        return self.pattern.sub(lambda m: self.replacement if accept(m.group(0)) else m.group(0), text)


# In this order: explicit +country phones are never cards; cards (Luhn) before 16-digit IDs.
STANDARD_MASKS: tuple[Callable[[str], str], ...] = (
    Mask(INTERNATIONAL, PHONE, lambda s: 8 <= _digit_count(s) <= 15),
    mask_cards,
    Mask(SIXTEEN_DIGITS, NIK),
    Mask(INDONESIAN, PHONE, lambda s: 9 <= _digit_count(s) <= 14),
)


@dataclass(frozen=True)
class Redactor:
    """Masks sensitive data in a text, one mask after the other; `redactor()` builds one."""

    masks: tuple[Callable[[str], str], ...] = STANDARD_MASKS

    def __call__(self, text: str) -> str:
        for mask in self.masks:
            text = mask(text)
        return text


def redactor(extra: Iterable[str | re.Pattern[str]] = (), *, emails: bool = False) -> Redactor:
    """The standard masks (phones, Luhn-valid card numbers, 16-digit ID numbers such as the NIK),
    e-mail addresses first when `emails`, then each extra regex, whose matches become [redacted]."""
    masks: list[Callable[[str], str]] = [Mask(EMAIL_ADDRESS, EMAIL)] if emails else []
    masks.extend(STANDARD_MASKS)
    masks.extend(Mask(re.compile(p) if isinstance(p, str) else p, OTHER) for p in extra)
    return Redactor(tuple(masks))


def redact(text: str, extra: Iterable[str | re.Pattern[str]] = (), *, emails: bool = False) -> str:
    """Mask sensitive data in one text with the standard masks and any extra regexes."""
    return redactor(extra, emails=emails)(text)


def redact_tree(value: T, mask: Callable[[str], str]) -> T:
    """A copy of a tree of frozen dataclasses with every free text masked (VERBATIM fields kept)."""
    return _redact(value, mask)  # type: ignore[no-any-return]


def _redact(value: Any, mask: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, tuple):
        return tuple(_redact(item, mask) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: _redact(getattr(value, f.name), mask) for f in dataclasses.fields(value) if f.name not in VERBATIM
        }
        return dataclasses.replace(value, **changes)
    return value  # numbers, dates, None, and dicts of counts keyed by kind

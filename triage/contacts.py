"""Who is who: normalised addresses, cited identifiers, and addresses merged into one contact."""

from __future__ import annotations

import re
import sre_parse
import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from triage.memo import GenerationalMemo
from triage.model import Direction, MessageView
from triage.rules import RulesError, Ruleset, default_rules_dir, read_toml
from triage.unionfind import UnionFind

GMAIL_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}
NOT_ALPHANUMERIC = re.compile(r"[\W_]+", re.UNICODE)
# (?<!...): an address starts where its run of address characters does; trying every position of a
# long run (a token, a hex dump) made the search quadratic: 10 s for 40,000 characters.
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# Identifiers that name the person (an account, an ID card), not one problem of theirs: they merge
# addresses into one contact but alone do not make two messages about the same matter.
ACCOUNT_IDENTIFIERS = frozenset({"customer", "nik", "business"})
# An identifier cited from more addresses than this is shared (an outage ticket, a hotline), not personal.
MAX_ADDRESSES_PER_IDENTIFIER = 3
MIN_VALUE_LENGTH = 5
MIN_DIGITS = 4
# Values that are dates (10/2025, 2025-10-12) or amounts (1.089.000, 854,700), not identifiers.
DATE_OR_AMOUNT = re.compile(r"\d{1,4}[./-]\d{1,4}(?:[./-]\d{1,4})?|\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{1,2})?")


# Remembered: every derivation compares the same few thousand addresses thousands of times.
@lru_cache(maxsize=1 << 14)
def normalise_address(address: str) -> str:
    """The comparable form of an address: lower-case, no +tag, Gmail dots dropped, googlemail as gmail."""
    address = address.strip().strip("<>").lower()
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    local = local.split("+", 1)[0]
    if domain in GMAIL_DOMAINS:
        domain = GMAIL_DOMAINS[domain]
        local = local.replace(".", "")
    return f"{local}@{domain}"


def normalise_value(value: str) -> str:
    """An identifier as compared: upper-case, separators dropped ("ord-48213" == "ORD 48213")."""
    return NOT_ALPHANUMERIC.sub("", value).upper()


Identified = AbstractSet[tuple[str, str]]
Identify = Callable[[str], Identified]


def find_identifiers(text: str, ruleset: Ruleset) -> set[tuple[str, str]]:
    """(identifier name, normalised value) for every identifier rule that matches the text."""
    found: set[tuple[str, str]] = set()
    if _digits(text) < MIN_DIGITS:
        return found  # every value needs MIN_DIGITS digits (_plausible), whatever the pattern
    folded = text.casefold()
    plain = _plain(text)
    ascii_text = plain and text.isascii()
    for identifier in ruleset.identifiers:
        matcher = _matcher(identifier.pattern)
        try:
            if matcher.fast is not None and matcher.starts is not None and ascii_text:
                # Where no match can begin, no try: the literals' absence also says there is none.
                matches: Iterable[Any] = _matches_at(matcher.fast, text, _occurrences(folded, matcher.starts))
            elif matcher.keywords is not None and not any(keyword in folded for keyword in matcher.keywords):
                continue  # no match can lack all of them: the regex would only confirm that
            elif matcher.fast is not None and plain:
                if matcher.screen is not None and matcher.screen.search(text) is None:
                    continue  # what every match contains is not there
                matches = matcher.fast.finditer(text)
            else:
                matches = identifier.compiled.finditer(text, timeout=1.0)
            for match in matches:
                raw = _matched_value(match)
                value = normalise_value(raw)
                if _plausible(raw, value):
                    found.add((identifier.name, value))
        except TimeoutError:
            continue  # a runaway identifier regex must not stop the flags; `rules check` reports it
    return found


def _occurrences(folded: str, literals: frozenset[str]) -> list[int]:
    """Where any of the literals starts in the text, in order."""
    found: set[int] = set()
    for literal in literals:
        at = folded.find(literal)
        while at >= 0:
            found.add(at)
            at = folded.find(literal, at + 1)
    return sorted(found)


def _matches_at(pattern: re.Pattern[str], text: str, starts: Iterable[int]) -> Iterator[re.Match[str]]:
    """pattern.finditer(text) for a pattern whose every match begins at one of `starts`.

    finditer tries every position; a position where no match can begin is skipped here. A
    match tried at a position sees the text before it, as finditer's does (lookbehind, \\b).
    """
    end = 0
    for start in starts:
        if start < end:
            continue  # inside the match before: finditer goes on from its end
        match = pattern.match(text, start)
        if match is not None:
            yield match
            end = match.end()


class IdentifierReader:
    """find_identifiers once per distinct text: several derivations read the same message.

    Texts are kept while the current or the previous generation reads them (next_generation):
    a reader kept between derivations holds what the last two read, not every text it met.
    """

    def __init__(self, ruleset: Ruleset, find: Callable[[str, Ruleset], Identified] | None = None) -> None:
        self.ruleset = ruleset
        self.find = find or find_identifiers  # a caller may pass its own name for it (a benchmark times it)
        self._found: GenerationalMemo[str, frozenset[tuple[str, str]]] = GenerationalMemo()

    def __call__(self, text: str) -> frozenset[tuple[str, str]]:
        found = self._found.get(text)
        if found is None:
            found = self._found.put(text, frozenset(self.find(text, self.ruleset)))
        return found

    def next_generation(self) -> None:
        self._found.next_generation()

    def size(self) -> int:
        """How many texts are kept (no __len__: an empty reader must stay truthy for `identify or ...`)."""
        return len(self._found)


@dataclass(frozen=True)
class _Matcher:
    """How to run one identifier pattern cheaply, where that gives the same matches."""

    keywords: frozenset[str] | None  # casefolded: every match contains one (None: unknown)
    fast: re.Pattern[str] | None  # the stdlib `re` compile of a shipped pattern (no timeout)
    starts: frozenset[str] | None = None  # casefolded ASCII: every match begins with one (None: unknown)
    screen: re.Pattern[str] | None = None  # finds something in every text where `fast` matches


_MATCHERS: dict[str, _Matcher] = {}


def _matcher(pattern: str) -> _Matcher:
    matcher = _MATCHERS.get(pattern)
    if matcher is None:
        if len(_MATCHERS) > 256:
            _MATCHERS.clear()
        matcher = _MATCHERS[pattern] = _build_matcher(pattern)
    return matcher


def _build_matcher(pattern: str) -> _Matcher:
    """Only the patterns triage ships take the shortcuts.

    They are tested and fuzzed, so they may run under `re` without a timeout (the `regex`
    module is up to 9 times slower on them), and `re` parses them as `regex` does, so the
    keywords read from that parse hold. A lead's own pattern keeps `regex` with its timeout.
    """
    name = _shipped_names().get(pattern)
    if name is None:
        return _Matcher(None, None)
    try:
        fast = re.compile(pattern, re.IGNORECASE)
    except re.error:
        return _Matcher(None, None)
    starts = leading_literals(pattern)
    if starts is not None and min(map(len, starts)) < MIN_START:
        starts = None  # a letter begins a match at every other word: the keywords' test is cheaper
    screen = re.compile(SCREENS[name], re.IGNORECASE) if name in SCREENS else None
    return _Matcher(required_keywords(pattern), fast, starts, screen)


@lru_cache(maxsize=1)
def _shipped_names() -> dict[str, str]:
    """The shipped identifiers.toml's names by pattern (read once, on first use)."""
    try:
        data = read_toml(default_rules_dir() / "identifiers.toml")
    except RulesError:
        return {}
    tables = [t for t in data.get("identifier", []) if isinstance(t, dict)]
    return {t["pattern"]: str(t.get("name", "")) for t in tables if isinstance(t.get("pattern"), str)}


# For a shipped pattern that begins with a class (no keyword to look for): a cheaper search that
# finds something in every text where the pattern matches, made of the pattern's own pieces, read
# with its flags. `reference` is tried at every position of the 70% of texts with four digits or
# more (30 µs a text); its screen, a separator before a digit or a capital before five digits,
# rules out half of those for 7 µs. Only the shipped pattern of that name takes it; a test pins
# that pattern, so whoever changes it checks the screen again (and another test, on random text).
SCREENS = {"reference": r"[/-][A-Z/-]*\d|(?-i:[A-Z] [1-9]\d{4})"}


# A keyword this short is in almost every text: checking for it saves nothing.
MIN_KEYWORD = 3
# A match is tried wherever one of a pattern's leading literals is: not where a single letter is.
MIN_START = 2


def required_keywords(pattern: str) -> frozenset[str] | None:
    """Casefolded strings one of which every match of the pattern contains (None: none known)."""
    items = _parsed(pattern)
    found = None if items is None else _sequence_keywords(items)
    return found if found is not None and min(map(len, found)) >= MIN_KEYWORD else None


def _parsed(pattern: str) -> list[tuple[Any, Any]] | None:
    """The pattern's top-level items as `re` parses it (case-insensitive), or None when it cannot."""
    try:
        return list(sre_parse.parse(pattern, re.IGNORECASE).data)
    except (re.error, RecursionError, OverflowError):
        return None


def _sequence_keywords(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
    """The best requirement of a sequence: a run of literals, or one item's own."""
    candidates: list[frozenset[str]] = []
    run = ""
    for op, av in items:
        if op is sre_parse.LITERAL and chr(av).isascii():
            run += chr(av).casefold()
            continue
        if run:
            candidates.append(frozenset({run}))
            run = ""
        found = _item_keywords(op, av)
        if found is not None:
            candidates.append(found)
    if run:
        candidates.append(frozenset({run}))
    return max(candidates, key=lambda c: min(map(len, c)), default=None)


def _item_keywords(op: Any, av: Any) -> frozenset[str] | None:
    if op is sre_parse.SUBPATTERN:
        return _sequence_keywords(list(av[-1]))
    if op in (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, sre_parse.POSSESSIVE_REPEAT) and av[0] >= 1:
        return _sequence_keywords(list(av[2]))
    if op is sre_parse.BRANCH:
        alternatives = [_sequence_keywords(list(a)) for a in av[1]]
        if any(a is None for a in alternatives):
            return None
        return frozenset().union(*alternatives)  # type: ignore[arg-type]
    return None  # a class, an anchor, a lookaround, an optional part: nothing certain


def leading_literals(pattern: str) -> frozenset[str] | None:
    """Casefolded ASCII strings one of which every match of the pattern begins with (None: none known).

    A case-insensitive match of an ASCII literal in ASCII text is where the casefolded text has
    it: the text's other positions need no try. Zero-width assertions before it (\\b, lookarounds)
    only narrow where a match begins.
    """
    items = _parsed(pattern)
    return None if items is None else _sequence_starts(items)


_ZERO_WIDTH = (sre_parse.AT, sre_parse.ASSERT, sre_parse.ASSERT_NOT)


def _sequence_starts(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
    """The literals a sequence's matches begin with: its first consuming item's."""
    index = 0
    while index < len(items) and items[index][0] in _ZERO_WIDTH:
        index += 1
    run = ""
    for op, av in items[index:]:
        if op is not sre_parse.LITERAL or not chr(av).isascii():
            break
        run += chr(av).casefold()
    if run:
        return frozenset({run})
    if index == len(items):
        return None  # matches the empty string
    op, av = items[index]
    if op is sre_parse.SUBPATTERN:
        return _sequence_starts(list(av[-1]))
    if op is sre_parse.BRANCH:
        alternatives = [_sequence_starts(list(a)) for a in av[1]]
        if any(a is None for a in alternatives):
            return None
        return frozenset().union(*alternatives)  # type: ignore[arg-type]
    return None  # a class, a repeat, a group reference: a match may begin with anything


# Non-ASCII characters `re` and `regex` treat alike: neither a word character nor cased, and a
# space to both or to neither (checked over all of Unicode). Connectors (Pc) and symbols (So, e.g.
# circled letters) are words to `regex` only; \x1c-\x1f are spaces to `re` only.
_PLAIN_CATEGORIES = frozenset({"Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "Zs", "Zl", "Zp"})
_RE_ONLY_SPACES = "\x1c\x1d\x1e\x1f"


def _plain(text: str) -> bool:
    """Whether `re` and `regex` (IGNORECASE, VERSION1) read the text alike: \\w, \\s and case."""
    if any(c in text for c in _RE_ONLY_SPACES):
        return False
    return text.isascii() or all(c.isascii() or _plain_char(c) for c in set(text))


@lru_cache(maxsize=4096)
def _plain_char(char: str) -> bool:
    return unicodedata.category(char) in _PLAIN_CATEGORIES


def _plausible(raw: str, value: str) -> bool:
    """Long enough, with enough digits, and not a date or an amount of money."""
    digits = sum(c.isdigit() for c in value)
    return len(value) >= MIN_VALUE_LENGTH and digits >= MIN_DIGITS and not DATE_OR_AMOUNT.fullmatch(raw.strip())


def _digits(text: str) -> int:
    """How many characters of the text are digits (str.isdigit, as _plausible counts them)."""
    return sum(map(text.count, "0123456789")) if text.isascii() else sum(map(str.isdigit, text))


def _matched_value(match: Any) -> str:
    """The named group `value`, else the first group, else the whole match."""
    if "value" in match.re.groupindex and match.group("value"):
        return str(match.group("value"))
    if match.re.groups and match.group(1):
        return str(match.group(1))
    return str(match.group(0))


def cited_addresses(text: str) -> set[str]:
    """Normalised e-mail addresses written in a text ("I wrote from x@y.com last week")."""
    if "@" not in text:
        return set()  # most mail names no address: no need to scan it
    return {normalise_address(a.rstrip(".")) for a in EMAIL.findall(text)}


def resolve_contacts(
    views: Sequence[MessageView],
    ruleset: Ruleset,
    support_addresses: Collection[str] = (),
    identify: Identify | None = None,
) -> dict[int, str]:
    """Row id -> contact key for incoming mail, and for outgoing mail the contact it was sent to.

    Customer addresses are merged when they cite the same identifier (an order, invoice or
    customer number) or when one message names the other address. The key of a contact is its
    smallest normalised address, so it depends only on the set of messages.
    """
    support = {normalise_address(a) for a in support_addresses}
    incoming = [v for v in views if v.direction is Direction.IN and v.automated is None and v.sender]
    senders = {normalise_address(v.sender) for v in incoming} - support
    groups = UnionFind(senders)
    identify = identify or IdentifierReader(ruleset)
    for addresses in _addresses_by_identifier(incoming, identify, senders).values():
        if len(addresses) <= MAX_ADDRESSES_PER_IDENTIFIER:
            first, *rest = sorted(addresses)
            for other in rest:
                groups.union(first, other)
    for view in incoming:
        sender = normalise_address(view.sender)
        for named in cited_addresses(view.text) & senders:
            if sender in senders:
                groups.union(sender, named)
    return {view.id: key for view in views if (key := _contact_of(view, groups, support)) is not None}


def _addresses_by_identifier(
    incoming: Sequence[MessageView], identify: Identify, senders: Collection[str]
) -> dict[str, set[str]]:
    cited: dict[str, set[str]] = {}
    for view in incoming:
        sender = normalise_address(view.sender)
        if sender not in senders:
            continue
        for _, value in identify(f"{view.subject}\n{view.text}"):  # as repeats.read_cues reads it
            cited.setdefault(value, set()).add(sender)
    return cited


def _contact_of(view: MessageView, groups: UnionFind, support: Collection[str]) -> str | None:
    if view.direction is Direction.IN:
        sender = normalise_address(view.sender)
        if sender in groups:
            return groups.find(sender)
        return sender or None
    recipients = sorted({normalise_address(r) for r in view.recipients} - set(support))
    known = sorted(groups.find(r) for r in recipients if r in groups)
    if known:
        return known[0]
    return recipients[0] if recipients else None

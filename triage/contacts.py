"""Who is who: normalised addresses, cited identifiers, and addresses merged into one contact."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from triage.model import Direction, MessageView
from triage.rules import Ruleset

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
# Values that are dates (10/2025, 2025-10-12) or amounts (1.089.000, 854,700), not identifiers.
DATE_OR_AMOUNT = re.compile(r"\d{1,4}[./-]\d{1,4}(?:[./-]\d{1,4})?|\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{1,2})?")


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


def find_identifiers(text: str, ruleset: Ruleset) -> set[tuple[str, str]]:
    """(identifier name, normalised value) for every identifier rule that matches the text."""
    found: set[tuple[str, str]] = set()
    for identifier in ruleset.identifiers:
        try:
            for match in identifier.compiled.finditer(text, timeout=1.0):
                raw = _matched_value(match)
                value = normalise_value(raw)
                if _plausible(raw, value):
                    found.add((identifier.name, value))
        except TimeoutError:
            continue  # a runaway identifier regex must not stop the flags; `rules check` reports it
    return found


def _plausible(raw: str, value: str) -> bool:
    """Long enough, with enough digits, and not a date or an amount of money."""
    digits = sum(c.isdigit() for c in value)
    return len(value) >= MIN_VALUE_LENGTH and digits >= 4 and not DATE_OR_AMOUNT.fullmatch(raw.strip())


def _matched_value(match: Any) -> str:
    """The named group `value`, else the first group, else the whole match."""
    if "value" in match.re.groupindex and match.group("value"):
        return str(match.group("value"))
    if match.re.groups and match.group(1):
        return str(match.group(1))
    return str(match.group(0))


def cited_addresses(text: str) -> set[str]:
    """Normalised e-mail addresses written in a text ("I wrote from x@y.com last week")."""
    return {normalise_address(a.rstrip(".")) for a in EMAIL.findall(text)}


class _Groups:
    """Union-find over normalised addresses; a group's key is its smallest address."""

    def __init__(self, addresses: Iterable[str]) -> None:
        self.parent = {a: a for a in addresses}

    def find(self, address: str) -> str:
        root = address
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[address] != root:
            self.parent[address], address = root, self.parent[address]
        return root

    def union(self, first: str, second: str) -> None:
        a, b = self.find(first), self.find(second)
        if a != b:
            self.parent[max(a, b)] = min(a, b)  # the smaller address stays the root, so keys are stable


def resolve_contacts(
    views: Sequence[MessageView], ruleset: Ruleset, support_addresses: Collection[str] = ()
) -> dict[int, str]:
    """Row id -> contact key for incoming mail, and for outgoing mail the contact it was sent to.

    Customer addresses are merged when they cite the same identifier (an order, invoice or
    customer number) or when one message names the other address. The key of a contact is its
    smallest normalised address, so it depends only on the set of messages.
    """
    support = {normalise_address(a) for a in support_addresses}
    incoming = [v for v in views if v.direction is Direction.IN and v.automated is None and v.sender]
    senders = {normalise_address(v.sender) for v in incoming} - support
    groups = _Groups(senders)
    for addresses in _addresses_by_identifier(incoming, ruleset, senders).values():
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
    incoming: Sequence[MessageView], ruleset: Ruleset, senders: Collection[str]
) -> dict[str, set[str]]:
    cited: dict[str, set[str]] = {}
    for view in incoming:
        sender = normalise_address(view.sender)
        if sender not in senders:
            continue
        for _, value in find_identifiers(view.text + "\n" + view.subject, ruleset):
            cited.setdefault(value, set()).add(sender)
    return cited


def _contact_of(view: MessageView, groups: _Groups, support: Collection[str]) -> str | None:
    if view.direction is Direction.IN:
        sender = normalise_address(view.sender)
        if sender in groups.parent:
            return groups.find(sender)
        return sender or None
    recipients = sorted({normalise_address(r) for r in view.recipients} - set(support))
    known = sorted(groups.find(r) for r in recipients if r in groups.parent)
    if known:
        return known[0]
    return recipients[0] if recipients else None

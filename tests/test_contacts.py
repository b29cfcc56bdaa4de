"""Contacts: address normalisation, identifiers customers cite, and addresses merged into one contact."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta

import pytest

from triage.contacts import (
    SCREENS,
    IdentifierReader,
    _matched_value,
    _matcher,
    _matches_at,
    _occurrences,
    _plain,
    _plausible,
    find_identifiers,
    leading_literals,
    normalise_address,
    normalise_value,
    required_keywords,
    resolve_contacts,
)
from triage.model import Direction, MessageView
from triage.rules import RegexRule, Ruleset, default_rules_dir, load_rules, unsafe_regex_reason

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SUPPORT = ("help@shop.example", "cs@shop.example")


@pytest.fixture(scope="module")
def ruleset() -> Ruleset:
    return load_rules([default_rules_dir()])


def mail(
    row: int,
    sender: str,
    text: str,
    *,
    to: tuple[str, ...] = ("help@shop.example",),
    direction: Direction = Direction.IN,
    automated: str | None = None,
    subject: str = "Help",
) -> MessageView:
    return MessageView(
        id=row,
        message_id=f"<m{row}@test>",
        direction=direction,
        sender=sender,
        recipients=to,
        date=START + timedelta(hours=row),
        subject=subject,
        subject_norm=subject.lower(),
        in_reply_to=None,
        references=(),
        text=text,
        lang="en",
        automated=automated,
    )


def values(text: str, ruleset: Ruleset) -> set[str]:
    return {value for _, value in find_identifiers(text, ruleset)}


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("Rina.Putri@Example.COM", "rina.putri@example.com"),
        ("rina+shop@example.com", "rina@example.com"),
        ("r.i.n.a+orders@gmail.com", "rina@gmail.com"),
        ("Rina.P@googlemail.com", "rinap@gmail.com"),
        ("<rina@example.com>", "rina@example.com"),
    ],
)
def test_normalise_address(address: str, expected: str) -> None:
    assert normalise_address(address) == expected


def test_dots_are_kept_outside_gmail() -> None:
    assert normalise_address("r.putri@yahoo.co.id") != normalise_address("rputri@yahoo.co.id")


@pytest.mark.parametrize(
    ("text", "name", "value"),
    [
        ("Where is my order #48213? It was paid last week.", "order", "48213"),
        ("Mohon dicek no. pesanan 48213 ya kak", "order", "48213"),
        ("ID pelanggan 5520034417, paket 20 Mbps", "customer", "5520034417"),
        ("my customer number is 5501 2288 41", "customer", "5501228841"),
        ("The invoice INV/2026/03/550912 shows a double charge", "reference", "INV202603550912"),
        ("NIK 3201234567890001 atas nama saya", "nik", "3201234567890001"),
        ("nomor resi JX 8812 3344 5566 belum bergerak", "tracking", "881233445566"),
        ("saya sudah buat tiket #CS-77120 kemarin", "ticket", "CS77120"),
        ("nomor permohonan IMB/2026/03/0077", "application", "IMB2026030077"),
    ],
)
def test_find_identifiers_in_english_and_indonesian(ruleset: Ruleset, text: str, name: str, value: str) -> None:
    assert (name, value) in find_identifiers(text, ruleset)


def test_separators_and_case_do_not_matter(ruleset: Ruleset) -> None:
    assert values("my order ord-48213", ruleset) & values("ORD 48213 again", ruleset) == {"ORD48213"}


@pytest.mark.parametrize(
    "text",
    [
        "I paid 4821 last week",  # a bare short number
        "order 4821 please",  # too short even after a keyword
        "call me on 0812 3456 7890 or WA 081234567890",  # phone numbers
        "the bill was IDR 427,350 and Rp 1.089.000",  # amounts
        "tagihan 10/2025 jatuh tempo 2025-10-20",  # dates
        "my Huawei HG8245H and the AX-1800 router",  # model names
        "hubungi layanan pelanggan 1500-881",  # a hotline
    ],
)
def test_numbers_that_are_not_identifiers(ruleset: Ruleset, text: str) -> None:
    assert find_identifiers(text, ruleset) == set()


def test_second_address_citing_the_same_order_is_the_same_contact(ruleset: Ruleset) -> None:
    views = [
        mail(1, "budi.santoso@gmail.com", "My order NX-2026-00417 has not arrived."),
        mail(2, "budi@kantor-maju.example", "Writing from work: order NX-2026-00417 is still missing."),
        mail(3, "someone.else@example.net", "My order NX-2026-99999 is late too."),
    ]
    contacts = resolve_contacts(views, ruleset, SUPPORT)
    assert contacts[1] == contacts[2] == "budi@kantor-maju.example"  # the smallest address of the group
    assert contacts[3] == "someone.else@example.net"


def test_indonesian_customer_number_merges_a_family_address(ruleset: Ruleset) -> None:
    views = [
        mail(1, "sari.wulandari@yahoo.co.id", "Tagihan saya dobel, nomor pelanggan 7720118845."),
        mail(
            2,
            "agus.prasetyo@mailku.example",
            "Saya suaminya Ibu Sari, nomor pelanggan 7720118845 belum dijawab.",
        ),
    ]
    contacts = resolve_contacts(views, ruleset, SUPPORT)
    assert contacts[1] == contacts[2]


def test_strangers_without_a_shared_identifier_stay_apart(ruleset: Ruleset) -> None:
    views = [
        mail(1, "a@example.net", "Order 55120 is late and I paid 4821."),
        mail(2, "b@example.net", "Order 55121 is late and I paid 4821."),
    ]
    contacts = resolve_contacts(views, ruleset, SUPPORT)
    assert contacts[1] != contacts[2]


def test_an_identifier_cited_by_many_addresses_is_shared_not_personal(ruleset: Ruleset) -> None:
    views = [mail(i, f"c{i}@example.net", "Outage ticket TCK-260302-0001 again!") for i in range(1, 6)]
    contacts = resolve_contacts(views, ruleset, SUPPORT)
    assert len(set(contacts.values())) == 5


def test_gmail_variants_are_one_contact(ruleset: Ruleset) -> None:
    views = [mail(1, "Dewi.Lestari@gmail.com", "Hello"), mail(2, "dewilestari+shop@googlemail.com", "Hi")]
    contacts = resolve_contacts(views, ruleset, SUPPORT)
    assert contacts[1] == contacts[2] == "dewilestari@gmail.com"


def test_an_address_named_in_the_text_joins_the_contact(ruleset: Ruleset) -> None:
    views = [
        mail(1, "tono@old-mail.example", "My account is locked."),
        mail(2, "tono.w@new-office.example", "I wrote from tono@old-mail.example on Monday, no answer."),
    ]
    contacts = resolve_contacts(views, ruleset, SUPPORT)
    assert contacts[1] == contacts[2]


def test_outgoing_mail_belongs_to_its_recipient_and_automated_mail_is_not_merged(ruleset: Ruleset) -> None:
    views = [
        mail(1, "budi.santoso@gmail.com", "Order NX-2026-00417 please"),
        mail(2, "budi@kantor-maju.example", "Order NX-2026-00417 again"),
        mail(
            3,
            "help@shop.example",
            "We are on it.",
            to=("cs@shop.example", "Budi.Santoso@gmail.com"),
            direction=Direction.OUT,
        ),
        mail(4, "mailer-daemon@shop.example", "Undelivered: order NX-2026-00417", automated="bounce"),
    ]
    contacts = resolve_contacts(views, ruleset, SUPPORT)
    assert contacts[3] == contacts[1] == contacts[2]
    assert contacts[4] == "mailer-daemon@shop.example"


def test_contacts_do_not_depend_on_input_order(ruleset: Ruleset) -> None:
    views = [
        mail(1, "x.y@gmail.com", "order NX-2026-00417"),
        mail(2, "zed@work.example", "order NX-2026-00417 and customer ID 5512345678"),
        mail(3, "amy@home.example", "customer ID 5512345678"),
        mail(4, "solo@example.net", "nothing to cite"),
    ]
    expected = resolve_contacts(views, ruleset, SUPPORT)
    for seed in range(5):
        shuffled = views[:]
        random.Random(seed).shuffle(shuffled)
        assert resolve_contacts(shuffled, ruleset, SUPPORT) == expected
    assert expected[1] == expected[2] == expected[3] == "amy@home.example"


def test_identifier_rules_are_safe_regexes(ruleset: Ruleset) -> None:
    assert {i.name for i in ruleset.identifiers} >= {
        "order",
        "invoice",
        "customer",
        "ticket",
        "nik",
        "tracking",
    }
    for identifier in ruleset.identifiers:
        rule = RegexRule(identifier.name, identifier.pattern, 1.0, identifier.compiled)
        assert unsafe_regex_reason(rule) is None, identifier.name


# --- the shortcuts of find_identifiers give what the regex module alone gives -----------------


def regex_only(text: str, ruleset: Ruleset) -> set[tuple[str, str]]:
    """find_identifiers as it was: every pattern through the regex module."""
    found = set()
    for identifier in ruleset.identifiers:
        for match in identifier.compiled.finditer(text, timeout=1.0):
            raw = _matched_value(match)
            if _plausible(raw, normalise_value(raw)):
                found.add((identifier.name, normalise_value(raw)))
    return found


PIECES = [
    "order", "ORD", "pesanan", "invoice", "INV/2026/03/", "ticket #", "HD-260301-", "customer ID ",
    "NIK ", "resi JX ", "NPWP 09.876.", "no. ", "ſ", "K", "ı", "İ", "é", "’", "–", "•", "\u00a0", "\u2028",
    "\x1c", "٣", "²", "_", "ⓐ", "‿", "ref", "case", "terima", "RQ-", "/", "-", " ", "\n", ":", "#",
]  # fmt: skip


@pytest.mark.parametrize("seed", range(6))
def test_shortcuts_find_what_the_regex_module_finds(ruleset: Ruleset, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(300):
        parts = [
            rng.choice(PIECES) if rng.random() < 0.6 else str(rng.randrange(10 ** rng.randrange(1, 12)))
            for _ in range(12)
        ]
        text = "".join(parts)
        assert find_identifiers(text, ruleset) == regex_only(text, ruleset), repr(text)


def test_only_shipped_patterns_take_the_shortcuts(ruleset: Ruleset) -> None:
    for identifier in ruleset.identifiers:
        assert _matcher(identifier.pattern).fast is not None, identifier.name
    lead = _matcher(r"\border\s+(?P<value>\d{5,})")
    assert lead.fast is None and lead.keywords is None  # a lead's regex keeps its timeout


@pytest.mark.parametrize(
    ("pattern", "keywords"),
    [
        (r"\b(?:order|pesanan|purchase)\b\s*(\d+)", {"order", "pesanan", "purchase"}),
        (r"\btiket(?:nya)?\s+(\d+)", {"tiket"}),
        (r"(?:work\s+order|case)\s+\d+", {"order", "case"}),
        (r"\b(?-i:ORD)-\d+", {"ord"}),
        (r"[A-Z]{2,6}-\d{5}", None),  # no literal every match has
        (r"(?:order|x)\d+", None),  # one branch needs only "x": too short to look for
        (r"(?:order)?\d{5}", None),  # optional
    ],
)
def test_required_keywords(pattern: str, keywords: set[str] | None) -> None:
    found = required_keywords(pattern)
    assert (found if found is None else set(found)) == keywords


@pytest.mark.parametrize(
    ("pattern", "starts"),
    [
        (r"\b(?:order|pesanan|purchase)\b\s*(\d+)", {"order", "pesanan", "purchase"}),
        (r"\btiket(?:nya)?\s+(\d+)", {"tiket"}),
        (r"(?<![\w/-])(?:work\s+order|Case)\s+\d+", {"work", "case"}),
        (r"(?=\w)\b(?-i:ORD)-\d+", {"ord"}),  # a group: its own literals
        (r"(?:no\.?\s+kiriman|resi)\d+", {"no", "resi"}),
        (r"[A-Z]{2,6}-\d{5}", None),  # a class: a match may begin with any letter
        (r"(?:order)?\d{5}", None),  # optional
        (r"(?:order|)\d{5}", None),  # an empty alternative
        (r"(a)\1", {"a"}),
        (r"\1?(a)", None),
        (r"\u00e9tat \d+", None),  # not ASCII: casefolding may change its length
        (r"\b", None),  # only the empty match
    ],
)
def test_leading_literals(pattern: str, starts: set[str] | None) -> None:
    found = leading_literals(pattern)
    assert (found if found is None else set(found)) == starts


def test_shipped_keyword_patterns_are_tried_only_where_their_keywords_begin(ruleset: Ruleset) -> None:
    tried_at_keywords = {i.name for i in ruleset.identifiers if _matcher(i.pattern).starts is not None}
    assert tried_at_keywords >= {"order", "invoice", "customer", "ticket", "tracking", "application", "business"}


ASCII_PIECES = [piece for piece in PIECES if piece.isascii() and piece not in "\x1c"] + [
    "Order ", "tracking number ", "no. kiriman ", "BILLING", "work order ", "AWB", "x", "ref ",
]  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_trying_only_where_a_keyword_begins_finds_what_finditer_finds(ruleset: Ruleset, seed: int) -> None:
    rng = random.Random(seed)
    matchers = [(i.name, _matcher(i.pattern)) for i in ruleset.identifiers]
    for _ in range(400):
        parts = [
            rng.choice(ASCII_PIECES) if rng.random() < 0.6 else str(rng.randrange(10 ** rng.randrange(1, 12)))
            for _ in range(12)
        ]
        text = "".join(parts)
        for name, matcher in matchers:
            if matcher.starts is None or matcher.fast is None:
                continue
            tried = _matches_at(matcher.fast, text, _occurrences(text.casefold(), matcher.starts))
            assert [m.span() for m in tried] == [m.span() for m in matcher.fast.finditer(text)], (name, text)


# The shipped patterns the screens were written for: a change to one must check its screen again.
SCREENED_PATTERNS = {"reference": "fd4de6b61fc61343"}


def test_a_screen_is_used_for_the_shipped_pattern_it_was_written_for(ruleset: Ruleset) -> None:
    screened = {i.name: i.pattern for i in ruleset.identifiers if _matcher(i.pattern).screen is not None}
    assert set(screened) == set(SCREENS) == set(SCREENED_PATTERNS)
    for name, pattern in screened.items():
        assert hashlib.sha256(pattern.encode()).hexdigest()[:16] == SCREENED_PATTERNS[name], (
            f"the shipped {name!r} pattern changed: check that SCREENS[{name!r}] still finds something "
            "in every text the pattern matches, then update SCREENED_PATTERNS"
        )
    assert _matcher(r"(?<!\w)(?P<value>[A-Z]{2,6}-\d{5,})").screen is None  # a lead's pattern: not shipped


SCREEN_PIECES = [*PIECES, *ASCII_PIECES, "SH-2026-", "ab/", "Q-x", "PO 1", "IDR 15000", "x-y/z", "Ab ", "AB ", "99"]


@pytest.mark.parametrize("seed", range(4))
def test_a_screen_finds_something_wherever_its_pattern_matches(ruleset: Ruleset, seed: int) -> None:
    rng = random.Random(seed)
    screened = [(i.name, _matcher(i.pattern)) for i in ruleset.identifiers if _matcher(i.pattern).screen is not None]
    matched = 0
    for _ in range(3000):
        parts = [
            rng.choice(SCREEN_PIECES) if rng.random() < 0.6 else str(rng.randrange(10 ** rng.randrange(1, 12)))
            for _ in range(rng.randrange(1, 10))
        ]
        text = "".join(parts)
        for name, matcher in screened:
            assert matcher.fast is not None and matcher.screen is not None
            if matcher.fast.search(text):
                matched += 1
                assert matcher.screen.search(text), (name, text)
    assert matched > 150  # the texts do reach the patterns


@pytest.mark.parametrize(
    ("text", "plain"),
    [("ascii only", True), ("curly ’quotes’ – and • bullets\u00a0", True), ("caf\u00e9", False), ("\x1cx", False)],
)
def test_plain_text_is_read_alike_by_re_and_regex(text: str, plain: bool) -> None:
    assert _plain(text) is plain


def test_identifier_reader_reads_each_text_once(ruleset: Ruleset) -> None:
    reader = IdentifierReader(ruleset)
    first = reader("my order ORD-48213 please")
    assert first == find_identifiers("my order ORD-48213 please", ruleset)
    assert reader("my order ORD-48213 please") is first

"""Rule files: validation errors name file, topic and field; check reports unsafe regexes and overlaps."""

from __future__ import annotations

from pathlib import Path

import pytest
import regex

from triage.rules import RegexRule, RulesError, check_rules, default_rules_dir, load_rules, regex_screen

GOOD = """
[[topic]]
id = "refund"
title = "Refunds"
examples = ["I want my money back for the broken kettle"]

[topic.keywords]
en = ["refund", "money back"]
id = ["pengembalian dana"]

[[topic.regex]]
name = "refund-ref"
pattern = '\\bRF-\\d{4,}\\b'
"""


def write_pack(folder: Path, topics: dict[str, str], settings: str | None = None) -> Path:
    (folder / "topics").mkdir(parents=True, exist_ok=True)
    for name, text in topics.items():
        (folder / "topics" / f"{name}.toml").write_text(text)
    if settings is not None:
        (folder / "settings.toml").write_text(settings)
    return folder


def test_a_good_pack_loads_with_a_version(tmp_path: Path) -> None:
    rules = load_rules([write_pack(tmp_path, {"refund": GOOD})])
    assert [t.id for t in rules.topics] == ["refund"]
    assert rules.topic("refund").keywords["id"] == ("pengembalian dana",)
    assert len(rules.version) == 12


def test_version_changes_when_a_file_changes(tmp_path: Path) -> None:
    before = load_rules([write_pack(tmp_path, {"refund": GOOD})]).version
    write_pack(tmp_path, {"refund": GOOD.replace("money back", "reimburse")})
    assert load_rules([tmp_path]).version != before


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace('title = "Refunds"', 'title = "Refunds"\ncolour = "red"'), "unknown key 'colour'"),
        (GOOD.replace('title = "Refunds"', "title = 5"), "title must be a string"),
        (GOOD.replace('title = "Refunds"\n', ""), "missing required key 'title'"),
        (GOOD.replace('id = "refund"', 'id = "Refund Stuff"'), "id must be lower-case"),
        (GOOD.replace('en = ["refund", "money back"]', 'en = "refund"'), "keywords.en must be a list"),
        (GOOD.replace("pattern = '\\bRF-\\d{4,}\\b'", "pattern = '(unclosed'"), "does not compile"),
        (GOOD + '\n[[topic.patterns]]\nname = "p"\npattern = "LEMMA"\n', "pattern must be a list"),
        ("topic = 3", "write topics as [[topic]]"),
        ("[[topic]\nid=", "not valid TOML"),
    ],
)
def test_mistakes_name_file_topic_and_field(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(RulesError) as caught:
        load_rules([write_pack(tmp_path, {"refund": text})])
    assert expected in str(caught.value)
    assert "refund.toml" in str(caught.value)


def test_duplicate_ids_in_one_folder_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="duplicate topic id 'refund'"):
        load_rules([write_pack(tmp_path, {"a": GOOD, "b": GOOD})])


def test_a_later_folder_replaces_a_topic_with_the_same_id(tmp_path: Path) -> None:
    first = write_pack(tmp_path / "first", {"refund": GOOD})
    second = write_pack(tmp_path / "second", {"refund": GOOD.replace('"Refunds"', '"Money back"')})
    rules = load_rules([first, second])
    assert rules.topic("refund").title == "Money back"


def test_settings_are_validated(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match=r"\[classify\] threshold must be a number"):
        load_rules([write_pack(tmp_path, {"refund": GOOD}, "[classify]\nthreshold = 'high'\n")])


def test_check_reports_unsafe_regex_and_overlaps(tmp_path: Path) -> None:
    unsafe = GOOD.replace("pattern = '\\bRF-\\d{4,}\\b'", "pattern = '(a+)+$'")
    other = GOOD.replace('id = "refund"', 'id = "billing"').replace("RF-", "INV-")
    report = check_rules([write_pack(tmp_path, {"refund": unsafe, "billing": other})])
    assert any("nested quantifier" in e for e in report.errors)
    assert any("keyword 'refund' is in several topics: billing, refund" in w for w in report.warnings)


def test_check_turns_a_load_error_into_a_failed_report(tmp_path: Path) -> None:
    report = check_rules([write_pack(tmp_path, {"refund": "[[topic]]\nid = 'x'\n"})])
    assert report.errors and "missing required key 'title'" in report.errors[0]


def test_normalisation_tables_are_read(tmp_path: Path) -> None:
    write_pack(tmp_path, {"refund": GOOD})
    (tmp_path / "normalise").mkdir()
    (tmp_path / "normalise" / "id.toml").write_text('[words]\nsy = "saya"\nBLM = "belum"\n')
    assert load_rules([tmp_path]).normalisation["id"] == {"sy": "saya", "blm": "belum"}


def test_shipped_rules_pass_their_own_check() -> None:
    report = check_rules([default_rules_dir()])
    assert report.errors == []
    ids = {t.id for t in load_rules([default_rules_dir()]).topics}
    assert ids >= {"refund"}


THANKS = """
[[ignore]]
id = "thanks-only"
title = "Thank-you note"
exclude = ["?"]
[ignore.keywords]
en = ["thank"]
"""


def test_ignore_rules_load_from_their_own_folder_and_stay_out_of_the_topics(tmp_path: Path) -> None:
    write_pack(tmp_path, {"refund": GOOD})
    (tmp_path / "ignore").mkdir()
    (tmp_path / "ignore" / "thanks.toml").write_text(THANKS)
    rules = load_rules([tmp_path])
    assert [t.id for t in rules.topics] == ["refund"]
    assert [t.id for t in rules.ignore] == ["thanks-only"]
    assert rules.topic("thanks-only").exclude == ("?",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (THANKS.replace('exclude = ["?"]', 'examples = ["thanks!"]'), "examples are not used by ignore rules"),
        (THANKS.replace('id = "thanks-only"', 'id = "refund"'), "ignore rule id 'refund' is also a topic id"),
        ("[[topic]]\nid = 'x'\ntitle = 'X'\n", "write ignore rules as"),
    ],
)
def test_bad_ignore_rules_are_refused(tmp_path: Path, text: str, message: str) -> None:
    write_pack(tmp_path, {"refund": GOOD})
    (tmp_path / "ignore").mkdir()
    (tmp_path / "ignore" / "bad.toml").write_text(text)
    with pytest.raises(RulesError, match=message):
        load_rules([tmp_path])


def test_a_regex_screen_finds_something_wherever_one_of_its_regexes_does() -> None:
    patterns = {
        "invoice": r"\bINV-\d{4}\b",
        "verbose": r"(?x) order \s* \# \d+",  # inline flags stay with their own pattern
        "either": r"error|eror",
        "repeated": r"(\w)\1{3}",  # a backreference: left out of the screen, searched alone
    }
    rules = [RegexRule(n, p, compiled=regex.compile(p, regex.IGNORECASE | regex.VERSION1)) for n, p in patterns.items()]
    screen = regex_screen(rules)
    assert screen is not None
    texts = ["inv-2026 please", "my Order #12", "an EROR", "order#12", "aaaa", "x inv-20261", "nothing here", ""]
    for text in texts:
        found = [r.name for r in rules if r.name != "repeated" and r.compiled.search(text)]
        assert (screen.search(text) is not None) == bool(found), text
    assert regex_screen(rules[3:]) is None  # nothing to screen

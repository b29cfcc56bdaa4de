"""A lead's rule files can be wrong: catastrophic regexes, 50,000 keywords, patterns spaCy refuses,
unknown keys and wrong types. Classification stays bounded; loading fails with a RulesError naming
file, rule and field; `triage rules check` exits non-zero; a reload with such files keeps the old rules.
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.test_fuzz import bounded, exchange_views
from triage.analyze import Analyzer
from triage.classify import Classifier
from triage.cli import main
from triage.config import Config, StoreConfig, load_config
from triage.contacts import find_identifiers
from triage.rules import MAX_REGEX_TIMEOUT_MS, RulesError, check_rules, load_rules
from triage.service import Daemon
from triage.store import open_store

CLASSIFY_LIMIT = 15.0  # seconds per message: a termination bound, not a speed test

GOOD = """
[[topic]]
id = "refund"
title = "Refunds"
[topic.keywords]
en = ["refund", "money back"]
id = ["pengembalian dana"]
"""

CATASTROPHIC = {
    "nested-plus": "(a+)+$",
    "double-x": "(x+x+)+y",
    "alternation": "^(a|aa)+$",
    "words": r"^(\w+\s?)*$",
    "digits": r"(\d+)*x",
}
# Text each of those backtracks on for 2^n steps when it fails at the end.
ADVERSARIAL = [
    "a" * 5000 + "!",
    "x" * 5000,
    "I want my money back " * 200 + "!",
    "1" * 5000 + "!",
    "a" * 40 + "!",
]


def write_pack(folder: Path, files: dict[str, str]) -> Path:
    """A rules folder from {relative path: TOML text}."""
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def with_regexes(patterns: dict[str, str]) -> str:
    return GOOD + "".join(
        f"\n[[topic.regex]]\nname = {json.dumps(n)}\npattern = {json.dumps(p)}\n" for n, p in patterns.items()
    )


def refused(folder: Path) -> str:
    with pytest.raises(RulesError) as caught:
        load_rules([folder])
    return str(caught.value)


# --- catastrophic regexes -------------------------------------------------------------------


@pytest.fixture(scope="module")
def catastrophic(tmp_path_factory: pytest.TempPathFactory) -> Classifier:
    folder = write_pack(tmp_path_factory.mktemp("rules"), {"topics/refund.toml": with_regexes(CATASTROPHIC)})
    return Classifier(load_rules([folder]))


@pytest.mark.parametrize("text", ADVERSARIAL, ids=["a-run", "x-run", "words", "digits", "short"])
def test_catastrophic_regexes_cannot_hang_classification(catastrophic: Classifier, text: str) -> None:
    with bounded() as measure:
        result = catastrophic.classify("Refund please", text)
    assert measure.seconds < CLASSIFY_LIMIT, f"classification took {measure.seconds:.1f}s"
    assert "refund" in result.topic_ids  # the keywords still count when the regexes give up


def test_each_runaway_regex_costs_at_most_its_timeout(catastrophic: Classifier) -> None:
    timeout = catastrophic.ruleset.settings.regex_timeout_ms / 1000
    started = time.perf_counter()
    result = catastrophic.classify("", "a" * 100_000 + "!")
    # five regexes, each stopped at the timeout (plus the keyword matching around them)
    assert time.perf_counter() - started < len(CATASTROPHIC) * timeout + 10.0
    assert not any(e.kind == "regex" for hit in result.topics for e in hit.evidence)


def test_rules_check_names_every_catastrophic_regex(tmp_path: Path) -> None:
    report = check_rules([write_pack(tmp_path, {"topics/refund.toml": with_regexes(CATASTROPHIC)})])
    for name in CATASTROPHIC:
        assert any(f"refund.toml: [topic 'refund'] regex {name!r}" in e for e in report.errors), (name, report.errors)


@pytest.mark.parametrize("timeout", [-1, 0, MAX_REGEX_TIMEOUT_MS + 1, 3_600_000])
def test_the_regex_timeout_cannot_be_turned_off_or_made_huge(tmp_path: Path, timeout: int) -> None:
    # A negative timeout means none at all to the regex module: one bad rule would hang classification.
    folder = write_pack(
        tmp_path, {"topics/refund.toml": GOOD, "settings.toml": f"[classify]\nregex_timeout_ms = {timeout}\n"}
    )
    message = refused(folder)
    assert "settings.toml: [classify] regex_timeout_ms must be between 1 and" in message


def test_a_token_pattern_regex_that_can_backtrack_is_refused(tmp_path: Path) -> None:
    # spaCy runs token-pattern regexes with `re`, without any timeout: they must be safe to load.
    pattern = GOOD + '\n[[topic.patterns]]\nname = "aah"\npattern = [{LOWER = {REGEX = "^(a+)+$"}}]\n'
    message = refused(write_pack(tmp_path, {"topics/refund.toml": pattern}))
    assert "refund.toml: [topic 'refund'] patterns 'aah': pattern: REGEX '^(a+)+$'" in message
    assert "[[topic.regex]]" in message  # where such a rule belongs


def test_a_runaway_identifier_regex_neither_hangs_nor_stops_the_flags(tmp_path: Path) -> None:
    folder = write_pack(
        tmp_path,
        {
            "topics/refund.toml": GOOD,
            "identifiers.toml": "[[identifier]]\nname = \"evil\"\npattern = '(\\d+)+x'\n",
        },
    )
    ruleset = load_rules([folder])
    started = time.perf_counter()
    assert find_identifiers("my order " + "1" * 60 + "!", ruleset) == set()  # timed out, skipped
    assert time.perf_counter() - started < 10.0
    analyzer = Analyzer(Classifier(ruleset))
    views = exchange_views("Where is my refund for order " + "1" * 60 + "?", "We sent it today.", "Thanks!")
    analyzer.engine.derive(views, datetime(2026, 11, 9, tzinfo=UTC))  # no TimeoutError
    report = check_rules([folder])
    assert any("identifier 'evil' regex" in e for e in report.errors), report.errors


# --- huge keyword lists ---------------------------------------------------------------------


def test_fifty_thousand_keywords_load_and_classify_in_bounded_time(tmp_path: Path) -> None:
    rng = random.Random(50_000)
    vocabulary = ["".join(rng.choice("abcdefghijklmnoprstuwy") for _ in range(rng.randint(3, 9))) for _ in range(3000)]
    keywords: set[str] = set()
    while len(keywords) < 50_000:
        keywords.add(" ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 3))))
    ordered = sorted(keywords)
    pack = (
        '[[topic]]\nid = "huge"\ntitle = "Huge"\n[topic.keywords]\n'
        f"en = {json.dumps(ordered[:30_000])}\nid = {json.dumps(ordered[30_000:])}\n"
    )
    folder = write_pack(tmp_path, {"topics/huge.toml": pack, "topics/refund.toml": GOOD})
    started = time.perf_counter()
    ruleset = load_rules([folder])
    assert time.perf_counter() - started < 30.0
    started = time.perf_counter()
    classifier = Classifier(ruleset)  # every matcher is built here, not while a message waits
    build = time.perf_counter() - started
    assert build < 180.0, f"building the matchers took {build:.0f}s"
    texts = {
        "en": "Hello, I want a refund. " + " ".join(rng.choice(vocabulary) for _ in range(2000)),
        "id": "Saya mau pengembalian dana. " + " ".join(rng.choice(vocabulary) for _ in range(2000)),
        None: "Bonjour " + " ".join(rng.choice(vocabulary) for _ in range(2000)),
    }
    for lang, text in texts.items():
        with bounded() as measure:
            result = classifier.classify("", text, lang)
        assert measure.seconds < CLASSIFY_LIMIT, f"{lang}: classification took {measure.seconds:.1f}s"
        assert "huge" in result.topic_ids
    assert len(check_rules([folder]).errors) == 0


# --- mistakes name file, rule and field -----------------------------------------------------

PATTERN = GOOD + '\n[[topic.patterns]]\nname = "p"\npattern = {pattern}\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # token patterns spaCy refuses: found when the rules load, not at the first message
        (
            PATTERN.format(pattern="[{LEMMA = {IN = 5}}]"),
            "patterns 'p': pattern: spaCy refuses it: [pattern -> 0 -> LEMMA",
        ),
        (
            PATTERN.format(pattern='[{COLOUR = "red"}]'),
            "patterns 'p': pattern: spaCy refuses it: [pattern -> 0 -> COLOUR]",
        ),
        (
            PATTERN.format(pattern='[{LOWER = "x", OP = "++"}]'),
            "patterns 'p': pattern: spaCy refuses it: [pattern -> 0 -> OP",
        ),
        (
            PATTERN.format(pattern='[{LOWER = {REGEX = "("}}]'),
            "patterns 'p': pattern: spaCy refuses it: a REGEX does not",
        ),
        (PATTERN.format(pattern="[]"), "patterns 'p': pattern: spaCy refuses it: [E012]"),
        (PATTERN.format(pattern='[{_ = {mood = "x"}}]'), "patterns 'p': pattern: spaCy refuses it: custom attributes"),
        (PATTERN.format(pattern='["refund"]'), "[topic 'refund' patterns] pattern[0] must be a table"),
        (PATTERN.format(pattern='[{LOWER = "x"}]') + "wieght = 2\n", "[topic 'refund' patterns] unknown key 'wieght'"),
        (
            PATTERN.format(pattern='[{LOWER = "x"}]') + 'weight = "x"\n',
            "[topic 'refund' patterns] weight must be a number",
        ),
        # unknown keys and wrong types everywhere else in a topic
        (
            GOOD.replace('title = "Refunds"', 'title = "Refunds"\nweight = "high"'),
            "[topic 'refund'] weight must be a number",
        ),
        (
            GOOD.replace('title = "Refunds"', 'title = "Refunds"\nexclude = [1]'),
            "[topic 'refund'] exclude[0] must be a string",
        ),
        (
            GOOD.replace('title = "Refunds"', 'title = "Refunds"\nexamples = "x"'),
            "[topic 'refund'] examples must be a list",
        ),
        (
            GOOD.replace('en = ["refund", "money back"]', 'en = ["refund", 5]'),
            "[topic 'refund'] keywords.en must be a list",
        ),
        (GOOD + '\n[[topic.regex]]\nname = "r"\npattern = 5\n', "[topic 'refund' regex] pattern must be a string"),
        (
            GOOD + '\n[[topic.regex]]\nname = "r"\npattern = "x"\nflags = "i"\n',
            "[topic 'refund' regex] unknown key 'flags'",
        ),
        (GOOD + '\n[topic.headers]\nbody = ["x"]\n', "[topic 'refund' headers] unknown key 'body'"),
        (GOOD + '\n[topic.headers]\nsubject = "refund"\n', "[topic 'refund' headers] subject must be a list"),
    ],
)
def test_mistakes_in_a_topic_name_file_rule_and_field(tmp_path: Path, text: str, expected: str) -> None:
    message = refused(write_pack(tmp_path, {"topics/refund.toml": text}))
    assert message.startswith(f"{tmp_path}/topics/refund.toml: ")
    assert expected in message


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("settings.toml", "[classify]\nthreshhold = 1\n", "settings.toml: [classify] unknown key 'threshhold'"),
        (
            "settings.toml",
            "[classify]\nmax_topics = 'three'\n",
            "settings.toml: [classify] max_topics must be an integer",
        ),
        ("settings.toml", "[clasify]\nthreshold = 1\n", "settings.toml: unknown section [clasify]"),
        ("identifiers.toml", '[[identifier]]\nname = "x"\npattern = 5\n', "identifiers.toml: identifier #1 needs"),
        (
            "identifiers.toml",
            '[[identifier]]\nname = "x"\npattern = "("\n',
            "identifiers.toml: identifier 'x' regex does not",
        ),
        ("phrases/thanks.toml", 'en = "thanks"\n', "phrases/thanks.toml:.en must be a list"),
        ("normalise/id.toml", "[words]\nsy = 5\n", "normalise/id.toml: expected a [words] table"),
    ],
)
def test_mistakes_in_other_rule_files_name_the_file_and_field(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    assert expected in refused(write_pack(tmp_path, {"topics/refund.toml": GOOD, name: text}))


# --- `triage rules check` -------------------------------------------------------------------


def config_for(tmp_path: Path, rules: dict[str, str]) -> Path:
    write_pack(tmp_path / "rules", rules)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[store]\npath = "{tmp_path}/store/triage.sqlite"\n\n[rules]\npaths = ["rules"]\n', encoding="utf-8"
    )
    return path


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ({"topics/refund.toml": with_regexes({"nested-plus": "(a+)+$"})}, "regex 'nested-plus': nested quantifier"),
        (
            {"topics/refund.toml": PATTERN.format(pattern="[{LEMMA = {IN = 5}}]")},
            "patterns 'p': pattern: spaCy refuses",
        ),
        (
            {"topics/refund.toml": GOOD.replace('title = "Refunds"', 'title = "Refunds"\ncolour = 1')},
            "unknown key 'colour'",
        ),
        ({"topics/refund.toml": GOOD, "settings.toml": "[classify]\nregex_timeout_ms = -1\n"}, "regex_timeout_ms"),
        ({"topics/refund.toml": GOOD, "identifiers.toml": "[[identifier]]\nname = 'n'\npattern = '(\\d+)+x'\n"}, "'n'"),
    ],
)
def test_rules_check_exits_non_zero_and_says_where(tmp_path: Path, rules: dict[str, str], expected: str) -> None:
    result = CliRunner().invoke(main, ["rules", "check", "--config", str(config_for(tmp_path, rules))])
    assert result.exit_code == 1, result.output
    assert "error: " in result.output and expected in result.output


def test_rules_check_passes_a_good_pack(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["rules", "check", "--config", str(config_for(tmp_path, {"topics/refund.toml": GOOD}))]
    )
    assert result.exit_code == 0, result.output


# --- reload with broken rules keeps the running ones ----------------------------------------


@pytest.mark.parametrize(
    "broken",
    [
        PATTERN.format(pattern="[{LEMMA = {IN = 5}}]"),  # was a ValueError from spaCy: it escaped the reload
        GOOD.replace('title = "Refunds"', "title = 5"),
        "[[topic]\nid=",
    ],
)
def test_reload_with_broken_rules_keeps_the_running_rules(tmp_path: Path, broken: str) -> None:
    path = config_for(tmp_path, {"topics/refund.toml": GOOD})
    config = load_config(path)
    running = Analyzer.from_config(config)
    daemon = Daemon(config, config_loader=lambda: load_config(path), analyzer=running)
    (tmp_path / "rules" / "topics" / "refund.toml").write_text(broken, encoding="utf-8")
    daemon._reload()
    assert daemon.analyzer is running
    assert daemon.last_reload_error is not None and "refund.toml" in daemon.last_reload_error
    store = open_store(config.store.path)
    try:
        assert "refund.toml" in (store.state()["reload_error"]["value"] or "")  # shown by `triage status`
    finally:
        store.close()


def test_reload_with_fixed_rules_swaps_them_in(tmp_path: Path) -> None:
    path = config_for(tmp_path, {"topics/refund.toml": GOOD.replace('title = "Refunds"', "title = 5")})
    config = Config(store=StoreConfig(path=tmp_path / "store" / "triage.sqlite"))
    running = Analyzer.from_config(config)
    daemon = Daemon(config, config_loader=lambda: load_config(path), analyzer=running)
    daemon._reload()
    assert daemon.analyzer is running and daemon.last_reload_error
    (tmp_path / "rules" / "topics" / "refund.toml").write_text(GOOD, encoding="utf-8")
    daemon._reload()
    assert daemon.analyzer is not running and daemon.last_reload_error is None
    daemon._stop_watchers()

"""Rule files under rules/ become a validated Ruleset: topics, classifier settings, word tables."""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex

from triage.language import token_pattern_problem
from triage.schema import SchemaError, build_section

TOPIC_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
# A group that repeats something which itself repeats: (a+)+, (\w*)*, (x|y+){2,}.
NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)[+*{]")
ADVERSARIAL_INPUTS = ("a" * 40 + "!", "1" * 40 + "x", " " * 40 + "x", "ab" * 30 + "!")
# Each regex rule may take this long per message at most ([classify] regex_timeout_ms).
MAX_REGEX_TIMEOUT_MS = 1000


class RulesError(SchemaError):
    """A rule file cannot be used; the message names the file, the rule and the field."""


@dataclass(frozen=True)
class Settings:
    """[classify] in settings.toml: how scores turn into topics."""

    threshold: float = 1.0
    max_topics: int = 3
    # a second or third topic also needs this share of the best topic's score (0 = off)
    secondary_share: float = 0.0
    keyword_weight: float = 1.0
    hint_weight: float = 0.5
    example_weight: float = 2.0
    example_min_similarity: float = 0.3
    regex_timeout_ms: int = 50


@dataclass(frozen=True)
class TokenPattern:
    name: str
    pattern: tuple[Mapping[str, Any], ...]
    weight: float = 1.0


@dataclass(frozen=True)
class RegexRule:
    name: str
    pattern: str
    weight: float = 1.0
    compiled: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class HeaderConditions:
    """Case-insensitive substrings of a header; any match adds the topic's header_weight."""

    subject: tuple[str, ...] = ()
    sender: tuple[str, ...] = ()
    to: tuple[str, ...] = ()
    weight: float = 1.0


@dataclass(frozen=True)
class Topic:
    id: str
    title: str
    source: Path
    description: str = ""
    weight: float = 1.0
    keywords: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    hints: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    exclude: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    patterns: tuple[TokenPattern, ...] = ()
    regexes: tuple[RegexRule, ...] = ()
    headers: HeaderConditions = field(default_factory=HeaderConditions)


@dataclass(frozen=True)
class Identifier:
    """A kind of number customers cite (order, invoice, account...): a name and a regex."""

    name: str
    pattern: str
    compiled: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Ruleset:
    settings: Settings
    topics: tuple[Topic, ...]
    normalisation: Mapping[str, Mapping[str, str]]
    version: str
    folders: tuple[Path, ...]
    # phrases/<list>.toml: phrase lists per language, e.g. phrases["deflection"]["id"]
    phrases: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    identifiers: tuple[Identifier, ...] = ()
    # ignore/*.toml: [[ignore]] rules for mail that is not a support request (newsletters, spam,
    # thank-you notes). Written like topics; when one wins, the message gets no topics.
    ignore: tuple[Topic, ...] = ()

    def phrase_list(self, name: str) -> dict[str, tuple[str, ...]]:
        """A phrase list by name (all languages); empty when no rule folder defines it."""
        return dict(self.phrases.get(name, {}))

    def topic(self, topic_id: str) -> Topic:
        """A topic or an ignore rule by id."""
        return next(t for t in self.topics + self.ignore if t.id == topic_id)


@dataclass(frozen=True)
class _TopicFields:
    """The flat keys of a [[topic]] table; nested tables are read separately."""

    id: str
    title: str
    description: str = ""
    weight: float = 1.0
    exclude: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class _PatternFields:
    name: str
    pattern: tuple[dict[str, Any], ...]
    weight: float = 1.0


@dataclass(frozen=True)
class _RegexFields:
    name: str
    pattern: str
    weight: float = 1.0


NESTED_KEYS = ("keywords", "hints", "patterns", "regex", "headers")


def default_rules_dir() -> Path:
    """The rules shipped with triage: inside the installed package, or rules/ in a checkout."""
    package = Path(__file__).resolve().parent
    installed = package / "default_rules"
    return installed if installed.is_dir() else package.parent / "rules"


def load_rules(folders: Sequence[Path]) -> Ruleset:
    """Read rule folders in order; a later folder's topic replaces an earlier one with its id."""
    settings = Settings()
    topics: dict[str, Topic] = {}
    normalisation: dict[str, dict[str, str]] = {}
    phrases: dict[str, dict[str, tuple[str, ...]]] = {}
    identifiers: dict[str, Identifier] = {}
    ignore: dict[str, Topic] = {}
    hasher = hashlib.sha256()
    for folder in folders:
        if not folder.is_dir():
            raise RulesError(f"{folder}: rules folder not found")
        for path in sorted(folder.rglob("*.toml")):
            hasher.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
        settings = _read_settings(folder / "settings.toml", settings)
        for lang, table in _read_normalisation(folder / "normalise").items():
            normalisation.setdefault(lang, {}).update(table)
        topics.update(_read_topic_folder(folder / "topics", settings))
        ignore.update(_read_topic_folder(folder / "ignore", settings, key="ignore"))
        for name, lists in _read_phrases(folder / "phrases").items():
            phrases.setdefault(name, {}).update(lists)
        identifiers.update({i.name: i for i in _read_identifiers(folder / "identifiers.toml")})
    if not topics:
        raise RulesError(f"no topics found under {', '.join(str(f) for f in folders)}/topics")
    for rule_id in set(topics) & set(ignore):
        raise RulesError(f"{ignore[rule_id].source}: ignore rule id {rule_id!r} is also a topic id")
    return Ruleset(
        settings,
        tuple(topics.values()),
        normalisation,
        hasher.hexdigest()[:12],
        tuple(folders),
        phrases,
        tuple(identifiers.values()),
        tuple(ignore.values()),
    )


def _read_phrases(folder: Path) -> dict[str, dict[str, tuple[str, ...]]]:
    """phrases/NAME.toml holds `en = [...]`, `id = [...]`: one list per language."""
    lists: dict[str, dict[str, tuple[str, ...]]] = {}
    for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        lists[path.stem] = _per_language(read_toml(path), f"{path}:")
    return lists


def _read_identifiers(path: Path) -> list[Identifier]:
    """identifiers.toml: [[identifier]] tables with a name and a regex."""
    if not path.exists():
        return []
    data = read_toml(path)
    found = []
    for index, table in enumerate(_tables(data.get("identifier", []), f"{path}:", "identifier")):
        name, pattern = table.get("name"), table.get("pattern")
        if not isinstance(name, str) or not isinstance(pattern, str) or set(table) - {"name", "pattern"}:
            raise RulesError(f"{path}: identifier #{index + 1} needs exactly a string name and a string pattern")
        try:
            compiled = regex.compile(pattern, regex.IGNORECASE | regex.VERSION1)
        except regex.error as exc:
            raise RulesError(f"{path}: identifier {name!r} regex does not compile: {exc}") from None
        found.append(Identifier(name, pattern, compiled))
    return found


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"{path}: cannot read: {exc}") from None


def _read_settings(path: Path, current: Settings) -> Settings:
    if not path.exists():
        return current
    data = read_toml(path)
    unknown = set(data) - {"classify"}
    if unknown:
        raise RulesError(f"{path}: unknown section [{', '.join(sorted(unknown))}]; known: [classify]")
    merged = {k: getattr(current, k) for k in Settings.__dataclass_fields__} | data.get("classify", {})
    settings: Settings = build_section(Settings, merged, str(path), "classify", RulesError)
    if not 1 <= settings.regex_timeout_ms <= MAX_REGEX_TIMEOUT_MS:
        # 0 times every regex out; a negative timeout turns the limit off, so one bad rule hangs classification
        raise RulesError(
            f"{path}: [classify] regex_timeout_ms must be between 1 and {MAX_REGEX_TIMEOUT_MS}, "
            f"not {settings.regex_timeout_ms}"
        )
    return settings


def _read_normalisation(folder: Path) -> dict[str, dict[str, str]]:
    tables: dict[str, dict[str, str]] = {}
    for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        words = read_toml(path).get("words")
        if not isinstance(words, dict) or not all(isinstance(v, str) for v in words.values()):
            raise RulesError(f'{path}: expected a [words] table of informal = "formal" strings')
        tables[path.stem] = {k.lower(): v.lower() for k, v in words.items()}
    return tables


def _read_topic_folder(folder: Path, settings: Settings, key: str = "topic") -> dict[str, Topic]:
    """[[topic]] tables from topics/*.toml, or (key="ignore") [[ignore]] tables from ignore/*.toml."""
    topics: dict[str, Topic] = {}
    plural = "topics" if key == "topic" else f"{key} rules"
    for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        data = read_toml(path)
        unknown = set(data) - {key}
        if unknown:
            raise RulesError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; write {plural} as [[{key}]]")
        tables = data.get(key, [])
        if not isinstance(tables, list):
            raise RulesError(f"{path}: write {plural} as [[{key}]] tables")
        for index, table in enumerate(tables):
            topic = build_topic(table, path, index, settings)
            if key == "ignore" and topic.examples:
                raise RulesError(f"{path}: [ignore {topic.id!r}] examples are not used by ignore rules; use words")
            if topic.id in topics:
                raise RulesError(f"{path}: duplicate {key} id {topic.id!r} (also in {topics[topic.id].source.name})")
            topics[topic.id] = topic
    return topics


def build_topic(table: object, path: Path, index: int, settings: Settings) -> Topic:
    """Validate one [[topic]] table."""
    if not isinstance(table, dict):
        raise RulesError(f"{path}: topic #{index + 1} is not a table")
    label = f"topic {table.get('id', f'#{index + 1}')!r}"
    flat = {k: v for k, v in table.items() if k not in NESTED_KEYS}
    base: _TopicFields = build_section(_TopicFields, flat, str(path), label, RulesError)
    if not TOPIC_ID.match(base.id):
        raise RulesError(f"{path}: [{label}] id must be lower-case letters, digits and dashes")
    where = f"{path}: [{label}]"
    return Topic(
        id=base.id,
        title=base.title,
        source=path,
        description=base.description,
        weight=base.weight,
        exclude=base.exclude,
        examples=base.examples,
        keywords=_per_language(table.get("keywords", {}), f"{where} keywords"),
        hints=_per_language(table.get("hints", {}), f"{where} hints"),
        patterns=tuple(_pattern(p, path, label) for p in _tables(table.get("patterns", []), where, "patterns")),
        regexes=tuple(_regex(r, path, label, settings) for r in _tables(table.get("regex", []), where, "regex")),
        headers=_headers(table.get("headers", {}), path, label),
    )


def _per_language(value: object, where: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        raise RulesError(f'{where} must be a table of language = [words], e.g. en = ["refund"]')
    result = {}
    for lang, words in value.items():
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            raise RulesError(f"{where}.{lang} must be a list of non-empty strings")
        result[lang] = tuple(w.strip() for w in words)
    return result


def _tables(value: object, where: str, key: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise RulesError(f"{where} {key} must be written as [[topic.{key}]] tables")
    return value


def _pattern(table: dict[str, Any], path: Path, label: str) -> TokenPattern:
    spec: _PatternFields = build_section(_PatternFields, table, str(path), f"{label} patterns", RulesError)
    where = f"{path}: [{label}] patterns {spec.name!r}: pattern"
    problem = token_pattern_problem(spec.pattern)
    if problem:
        raise RulesError(f"{where}: spaCy refuses it: {problem}")
    for text in _token_regexes(spec.pattern):
        try:
            compiled = regex.compile(text)
        except regex.error:
            continue  # spaCy compiled it with `re`; the regex module only serves the safety test
        reason = unsafe_regex_reason(RegexRule(spec.name, text, compiled=compiled))
        if reason:  # spaCy runs token regexes with no timeout: one could hang classification
            raise RulesError(f"{where}: REGEX {text!r}: {reason}; token patterns have no timeout, use [[topic.regex]]")
    return TokenPattern(spec.name, tuple(spec.pattern), spec.weight)


def _token_regexes(pattern: tuple[dict[str, Any], ...]) -> list[str]:
    """The REGEX predicates of a token pattern, e.g. {"LOWER": {"REGEX": "^inv-\\d+$"}}."""
    return [
        value["REGEX"]
        for token in pattern
        for value in token.values()
        if isinstance(value, dict) and isinstance(value.get("REGEX"), str)
    ]


def _regex(table: dict[str, Any], path: Path, label: str, settings: Settings) -> RegexRule:
    spec: _RegexFields = build_section(_RegexFields, table, str(path), f"{label} regex", RulesError)
    try:
        compiled = regex.compile(spec.pattern, regex.IGNORECASE | regex.VERSION1)
    except regex.error as exc:
        raise RulesError(f"{path}: [{label}] regex {spec.name!r} does not compile: {exc}") from None
    return RegexRule(spec.name, spec.pattern, spec.weight, compiled)


def _headers(value: object, path: Path, label: str) -> HeaderConditions:
    if not isinstance(value, dict):
        raise RulesError(f"{path}: [{label}] headers must be a table")
    renamed = {("sender" if k == "from" else k): v for k, v in value.items()}
    conditions: HeaderConditions = build_section(HeaderConditions, renamed, str(path), f"{label} headers", RulesError)
    return HeaderConditions(
        tuple(s.lower() for s in conditions.subject),
        tuple(s.lower() for s in conditions.sender),
        tuple(s.lower() for s in conditions.to),
        conditions.weight,
    )


def screened(rule: RegexRule) -> bool:
    """Whether regex_screen takes `rule` in: a pattern without capturing groups, so no
    backreference changes meaning when it sits beside others."""
    return bool(rule.compiled.groups == 0)


def regex_screen(rules: Sequence[RegexRule]) -> Any | None:
    """One regex that matches wherever one of the screened `rules` does (their alternation), or
    None when fewer than two can be screened: where it finds nothing, none of them would."""
    patterns = [rule.pattern for rule in rules if screened(rule)]
    if len(patterns) < 2:
        return None
    try:  # inline flags stay inside each group in VERSION1, as they were in each rule alone
        return regex.compile("|".join(f"(?:{p})" for p in patterns), regex.IGNORECASE | regex.VERSION1)
    except regex.error:
        return None


def unsafe_regex_reason(rule: RegexRule, timeout: float = 0.05) -> str | None:
    """Why a regex risks catastrophic backtracking, or None when it looks safe."""
    if NESTED_QUANTIFIER.search(rule.pattern):
        return "nested quantifier (a repeated group that itself repeats) can backtrack exponentially"
    for text in ADVERSARIAL_INPUTS:
        try:
            rule.compiled.search(text, timeout=timeout)
        except TimeoutError:
            return f"took over {timeout * 1000:.0f} ms on a {len(text)}-character input"
    return None


@dataclass
class CheckReport:
    """What `triage rules check` found: errors fail the check, warnings are for the lead."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    summary: str = ""

    def lines(self) -> list[str]:
        return (
            [f"error: {e}" for e in self.errors]
            + [f"warning: {w}" for w in self.warnings]
            + ([self.summary] if self.summary else [])
        )


def check_rules(folders: Sequence[Path]) -> CheckReport:
    """Load the rules and report unsafe regexes, keyword overlaps and (via load errors) bad files."""
    report = CheckReport()
    try:
        ruleset = load_rules(folders)
    except RulesError as exc:
        report.errors.append(str(exc))
        return report
    owners: dict[str, list[str]] = {}
    for identifier in ruleset.identifiers:
        reason = unsafe_regex_reason(RegexRule(identifier.name, identifier.pattern, compiled=identifier.compiled))
        if reason:
            report.errors.append(f"identifiers.toml: identifier {identifier.name!r} regex: {reason}")
    for topic in ruleset.topics + ruleset.ignore:
        for rule in topic.regexes:
            reason = unsafe_regex_reason(rule)
            if reason:
                report.errors.append(f"{topic.source}: [topic {topic.id!r}] regex {rule.name!r}: {reason}")
        for words in topic.keywords.values():
            for word in words:
                owners.setdefault(word.lower(), []).append(topic.id)
    for word, topic_ids in sorted(owners.items()):
        if len(set(topic_ids)) > 1:
            report.warnings.append(f"keyword {word!r} is in several topics: {', '.join(sorted(set(topic_ids)))}")
    keywords = sum(len(w) for t in ruleset.topics for w in t.keywords.values())
    examples = sum(len(t.examples) for t in ruleset.topics)
    report.summary = (
        f"{len(ruleset.topics)} topics, {len(ruleset.ignore)} ignore rules, {keywords} keywords, {examples} examples "
        f"from {', '.join(str(f) for f in ruleset.folders)} (version {ruleset.version})"
    )
    return report

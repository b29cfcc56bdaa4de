"""Classify a message's new text and subject into topics, each with a score and its evidence."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from triage.language import (
    PIPELINE_LANGS,
    PLAIN,
    Analysed,
    LanguageModels,
    TermMatcher,
    guess_language,
    matched_text,
)
from triage.rules import HeaderConditions, RegexRule, Ruleset, Topic, regex_screen, screened
from triage.similarity import ExampleIndex, Neighbour

UNCLASSIFIED = "unclassified"
SEPARATOR = "\x1f"


@dataclass(frozen=True)
class Evidence:
    """Why a topic scored: the kind of rule, which rule, what text matched, and its weight."""

    kind: str  # keyword, hint, pattern, regex, example, header, exclude
    rule: str
    matched: str
    weight: float

    def as_dict(self) -> dict[str, str | float]:
        """What dataclasses.asdict gives, in the same order, without its recursive copy (30 times faster)."""
        return {"kind": self.kind, "rule": self.rule, "matched": self.matched, "weight": self.weight}


@dataclass(frozen=True)
class TopicHit:
    topic: str
    score: float
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class Classification:
    topics: tuple[TopicHit, ...]
    scores: dict[str, float]
    lang: str
    plain_tokenizer: bool  # the language had no lemmatizer: matched on lower-cased words only
    skipped: str | None = None  # why no topics were given: automated mail, or an ignore rule won
    rejected: tuple[TopicHit, ...] = field(default=())  # scored, but under the threshold

    @property
    def topic_ids(self) -> list[str]:
        return [hit.topic for hit in self.topics]

    @property
    def unclassified(self) -> bool:
        return not self.topics and self.skipped is None


class _Term(NamedTuple):
    """What a matcher's rule name stands for."""

    topic: str
    kind: str  # keyword, hint, exclude, pattern
    rule: str
    weight: float


# Evidence of a matched term or a near example: the same few objects again and again, so they are
# kept (up to this many).
EVIDENCE_CACHE = 20_000
# Subjects analysed, with their matches: a thread's question, replies and follow-ups share one.
SUBJECT_CACHE = 4096


class Classifier:
    """A Ruleset compiled into matchers per language (phrase tries, spaCy token patterns) and an example index."""

    def __init__(self, ruleset: Ruleset, models: LanguageModels | None = None) -> None:
        self.ruleset = ruleset
        self._rules = ruleset.topics + ruleset.ignore  # ignore rules match like topics
        patterns = any(rule.patterns for rule in self._rules)  # only they read spaCy's lexeme attributes
        self.models = models or LanguageModels(ruleset.normalisation, lexeme_attributes=patterns)
        self._matchers: dict[str, TermMatcher] = {}
        self._lock = threading.Lock()
        self._ignore_ids = frozenset(rule.id for rule in ruleset.ignore)
        self._topic_ids = frozenset(topic.id for topic in ruleset.topics)
        self._by_id: dict[str, Topic] = {}
        for rule in self._rules:
            self._by_id.setdefault(rule.id, rule)  # as Ruleset.topic finds it: the first
        self._terms = self._term_table()
        # regexes and header conditions, per rule that has any, for topics and for ignore rules
        self._topic_checks = _check_set(ruleset.topics)
        self._ignore_checks = _check_set(ruleset.ignore)
        self._regex_timeout = ruleset.settings.regex_timeout_ms / 1000
        self._known_evidence: dict[tuple[str, str] | tuple[int, float], Evidence] = {}
        self._subjects: dict[tuple[str, str], tuple[tuple[str, ...], list[tuple[str, str]]]] = {}
        self._examples = self._build_examples()
        self._example_texts = [text for topic in ruleset.topics for text in topic.examples]
        # Built now, so a pattern spaCy refuses fails the (re)load, and no message waits while a
        # matcher is built (seconds for a rule pack of 50,000 keywords); PLAIN serves other languages.
        for lang in (*PIPELINE_LANGS, PLAIN):
            self._matcher(lang)

    def _build_examples(self) -> ExampleIndex:
        labelled: list[tuple[str, Sequence[str]]] = []
        for topic in self.ruleset.topics:
            for text in topic.examples:
                lang = guess_language(text)
                labelled.append((topic.id, self.models.analyse(text, lang).lemmas))
        return ExampleIndex(labelled)

    def _term_table(self) -> dict[str, _Term]:
        """Every rule name the matchers report, with what it stands for."""
        terms: dict[str, _Term] = {}
        settings = self.ruleset.settings
        weights = {"keyword": settings.keyword_weight, "hint": settings.hint_weight, "exclude": 0.0}
        for topic in self._rules:
            for kind, word in _words(topic):
                terms[SEPARATOR.join((kind, topic.id, word))] = _Term(topic.id, kind, word, weights[kind])
            for pattern in reversed(topic.patterns):  # reversed: the first pattern of a name gives the weight
                terms[SEPARATOR.join(("pattern", topic.id, pattern.name))] = _Term(
                    topic.id, "pattern", pattern.name, pattern.weight
                )
        return terms

    def _matcher(self, lang: str) -> TermMatcher:
        key = lang if lang in PIPELINE_LANGS else PLAIN
        if key not in self._matchers:
            phrases: dict[str, list[str]] = defaultdict(list)
            exact: dict[str, list[str]] = defaultdict(list)  # "=word": this form, not its lemma
            patterns: dict[str, list[list[dict[str, object]]]] = defaultdict(list)
            for topic in self._rules:
                for kind, word in _words(topic):
                    target = exact if word.startswith("=") else phrases
                    target[SEPARATOR.join((kind, topic.id, word))].append(word.removeprefix("="))
                for pattern in topic.patterns:
                    name = SEPARATOR.join(("pattern", topic.id, pattern.name))
                    patterns[name].append([dict(t) for t in pattern.pattern])
            self._matchers[key] = self.models.term_matcher(key, phrases, patterns, exact)
        return self._matchers[key]

    def classify(
        self,
        subject: str,
        text: str,
        lang: str | None = None,
        sender: str = "",
        to: str = "",
        automated: str | None = None,
    ) -> Classification:
        """Topics of a message from its subject and new text (never quotes or signature).

        Ignore rules (thank-you notes, newsletters, spam) read only the new text and headers,
        and are weighed against what the topics' words, patterns and regexes score on the new
        text alone (examples count for neither): the subject of a thank-you reply still repeats
        the original question.
        """
        content = f"{subject}\n{text}".strip()
        lang = lang if lang in PIPELINE_LANGS else guess_language(content)
        if automated is not None:
            return Classification((), {}, lang, lang not in PIPELINE_LANGS, skipped=automated)
        with self._lock:
            heading_lemmas, heading_matches = self._heading(subject, lang)
            body = self.models.analyse(text, lang)
            body_matches = self._matches(body, lang)
        headers = (subject.lower(), sender.lower(), to.lower())
        neighbours = self._examples.nearest(heading_lemmas + body.lemmas)
        evidence = self._evidence(
            heading_matches + body_matches, self._topic_ids, self._topic_checks, content, headers, neighbours
        )
        return self._decide(evidence, body_matches, text, headers, body)

    def _heading(self, subject: str, lang: str) -> tuple[tuple[str, ...], list[tuple[str, str]]]:
        """The lemmas and matches of a subject (kept: a thread's messages share their subject)."""
        key = (lang, subject)
        found = self._subjects.get(key)
        if found is None:
            heading = self.models.analyse(subject, lang)
            found = (heading.lemmas, self._matches(heading, lang))
            if len(self._subjects) >= SUBJECT_CACHE:
                del self._subjects[next(iter(self._subjects))]  # the oldest
            self._subjects[key] = found
        return found

    def _matches(self, analysed: Analysed, lang: str) -> list[tuple[str, str]]:
        """(rule name, matched text) pairs."""
        return [(name, matched_text(analysed, start, end)) for name, start, end in self._matcher(lang).spans(analysed)]

    def _evidence(
        self,
        matches: list[tuple[str, str]],
        wanted: frozenset[str],
        checks: _CheckSet,
        content: str,
        headers: tuple[str, str, str],
        neighbours: dict[str, Neighbour] | None = None,
    ) -> dict[str, list[Evidence]]:
        """Evidence for the `wanted` rules from term matches, the `checks` (regexes and headers)
        of those rules, and nearest examples."""
        found: dict[str, list[Evidence]] = {}
        seen: set[str] = set()
        terms = self._terms
        for name, matched in matches:
            topic = terms[name].topic
            if topic not in wanted or name in seen:
                continue
            seen.add(name)
            found.setdefault(topic, []).append(self._term_evidence(name, matched))
        quiet = self._quiet(checks.screen, content)
        for topic_id, regexes, conditions in checks.rules:
            items = self._regex_evidence(regexes, content, quiet) + _header_evidence(conditions, *headers)
            if items:
                found.setdefault(topic_id, []).extend(items)
        settings = self.ruleset.settings
        for label, neighbour in (neighbours or {}).items():
            if label in wanted and neighbour.similarity >= settings.example_min_similarity:
                weight = round(settings.example_weight * neighbour.similarity, 3)
                found.setdefault(label, []).append(self._example_evidence(neighbour.example, weight))
        return found

    def _example_evidence(self, example: int, weight: float) -> Evidence:
        text = self._example_texts[example][:120]
        return self._kept((example, weight), lambda: Evidence("example", f"example {example + 1}", text, weight))

    def _term_evidence(self, name: str, matched: str) -> Evidence:
        term = self._terms[name]
        return self._kept((name, matched), lambda: Evidence(term.kind, term.rule, matched, term.weight))

    def _kept(self, key: tuple[str, str] | tuple[int, float], make: Callable[[], Evidence]) -> Evidence:
        found = self._known_evidence.get(key)
        if found is None:
            if len(self._known_evidence) >= EVIDENCE_CACHE:
                self._known_evidence.clear()
            found = self._known_evidence[key] = make()
        return found

    def _quiet(self, screen: Any | None, content: str) -> bool:
        """Whether none of the screened regexes can match `content` (one search for all of them)."""
        if screen is None:
            return False
        try:
            return screen.search(content, timeout=self._regex_timeout) is None
        except TimeoutError:
            return False  # each regex then runs on its own, with its own timeout

    def _regex_evidence(self, regexes: tuple[RegexRule, ...], content: str, quiet: bool) -> list[Evidence]:
        found = []
        for rule in regexes:
            if quiet and screened(rule):
                continue
            try:
                match = rule.compiled.search(content, timeout=self._regex_timeout)
            except TimeoutError:
                continue  # a runaway pattern never blocks classification; `rules check` reports it
            if match:
                found.append(Evidence("regex", rule.name, match.group(0)[:80], rule.weight))
        return found

    def _hits(self, evidence: dict[str, list[Evidence]]) -> list[TopicHit]:
        """Scored hits, best first; a rule with a matching exclude phrase gives none."""
        hits = []
        for topic_id, items in evidence.items():
            if any(e.kind == "exclude" for e in items):
                continue
            score = round(self._by_id[topic_id].weight * sum(e.weight for e in items), 3)
            hits.append(TopicHit(topic_id, score, tuple(items)))
        return sorted(hits, key=lambda h: (-h.score, h.topic))

    def _decide(
        self,
        evidence: dict[str, list[Evidence]],
        body_matches: list[tuple[str, str]],
        text: str,
        headers: tuple[str, str, str],
        analysed: Analysed,
    ) -> Classification:
        settings = self.ruleset.settings
        hits = self._hits(evidence)
        scores = {h.topic: h.score for h in hits}
        # An ignore rule wins when it reaches the threshold and scores at least as much as every
        # topic does on the new text alone: then the message gets no topics.
        ignored: tuple[TopicHit, ...] = ()
        if self._ignore_ids:
            ignored = tuple(
                self._hits(self._evidence(body_matches, self._ignore_ids, self._ignore_checks, text, headers))
            )
        if any(hit.score >= settings.threshold for hit in ignored):
            on_text = self._hits(self._evidence(body_matches, self._topic_ids, self._topic_checks, text, headers))
            best_on_text = max((h.score for h in on_text), default=0.0)
            for hit in ignored:
                if hit.score >= max(settings.threshold, best_on_text):
                    reason = f"ignore rule {hit.topic!r}: {self._by_id[hit.topic].title}"
                    return Classification((), scores, analysed.lang, analysed.plain, reason, (hit, *hits))
        best = hits[0].score if hits else 0.0
        floor = max(settings.threshold, settings.secondary_share * best)
        accepted = tuple(h for h in hits if h.score >= floor)[: settings.max_topics]
        rejected = tuple(h for h in hits if h not in accepted) + ignored
        return Classification(accepted, scores, analysed.lang, analysed.plain, rejected=rejected)


# A rule's regexes and header conditions: (rule id, regexes, header conditions).
_Checks = tuple[str, tuple[RegexRule, ...], HeaderConditions]


class _CheckSet(NamedTuple):
    """The regexes and header conditions of the rules that have any, and a screen for their regexes."""

    rules: tuple[_Checks, ...]
    screen: Any | None


def _check_set(rules: Sequence[Topic]) -> _CheckSet:
    # Most mail matches none of the regexes: one search with all of them says so, where a search
    # each would cost a scan and two clock system calls (for the timeout) per regex.
    found = tuple(
        (rule.id, rule.regexes, rule.headers)
        for rule in rules
        if rule.regexes or rule.headers.subject or rule.headers.sender or rule.headers.to
    )
    return _CheckSet(found, regex_screen([r for _, regexes, _ in found for r in regexes]))


def _words(topic: Topic) -> list[tuple[str, str]]:
    """A rule's phrases as (kind, phrase): excludes, keywords, hints."""
    terms = [("exclude", word) for word in topic.exclude]
    for kind, table in (("keyword", topic.keywords), ("hint", topic.hints)):
        terms += [(kind, word) for words in table.values() for word in words]
    return terms


def _header_evidence(conditions: HeaderConditions, subject: str, sender: str, to: str) -> list[Evidence]:
    if not (conditions.subject or conditions.sender or conditions.to):
        return []
    found = []
    for name, value, needles in (
        ("subject", subject, conditions.subject),
        ("from", sender, conditions.sender),
        ("to", to, conditions.to),
    ):
        for needle in needles:
            if needle in value:
                found.append(Evidence("header", f"{name} contains {needle!r}", needle, conditions.weight))
                break
    return found

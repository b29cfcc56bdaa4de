"""Classify a message's new text and subject into topics, each with a score and its evidence."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from triage.language import PIPELINE_LANGS, PLAIN, Analysed, LanguageModels, guess_language
from triage.rules import Ruleset, Topic
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


class Classifier:
    """A Ruleset compiled into spaCy matchers (per language) and an example index."""

    def __init__(self, ruleset: Ruleset, models: LanguageModels | None = None) -> None:
        self.ruleset = ruleset
        self.models = models or LanguageModels(ruleset.normalisation)
        self._matchers: dict[str, object] = {}
        self._lock = threading.Lock()
        self._rules = ruleset.topics + ruleset.ignore  # ignore rules match like topics
        self._ignore_ids = frozenset(rule.id for rule in ruleset.ignore)
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

    def _matcher(self, lang: str):  # type: ignore[no-untyped-def]
        key = lang if lang in PIPELINE_LANGS else PLAIN
        if key not in self._matchers:
            phrases: dict[str, list[str]] = defaultdict(list)
            exact: dict[str, list[str]] = defaultdict(list)  # "=word": this form, not its lemma
            patterns: dict[str, list[list[dict[str, object]]]] = defaultdict(list)
            for topic in self._rules:
                terms = [("exclude", word) for word in topic.exclude]
                for kind, table in (("keyword", topic.keywords), ("hint", topic.hints)):
                    terms += [(kind, word) for words in table.values() for word in words]
                for kind, word in terms:
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
            heading, body = self.models.analyse_many([subject, text], lang)
            matcher = self._matcher(lang)
            heading_matches, body_matches = matcher.match(heading), matcher.match(body)
        headers = (subject.lower(), sender.lower(), to.lower())
        neighbours = self._examples.nearest(heading.lemmas + body.lemmas)
        evidence = self._evidence(self.ruleset.topics, heading_matches + body_matches, neighbours, content, headers)
        text_only = {}
        if self.ruleset.ignore:
            text_only = self._evidence(self._rules, body_matches, {}, text, headers)
        return self._decide(evidence, text_only, body)

    def _evidence(
        self,
        rules: tuple[Topic, ...],
        matches: list[tuple[str, str]],
        neighbours: dict[str, Neighbour],
        content: str,
        headers: tuple[str, str, str],
    ) -> dict[str, list[Evidence]]:
        """Evidence for each of `rules` from term matches, regexes, headers and nearest examples."""
        settings = self.ruleset.settings
        wanted = {rule.id for rule in rules}
        found: dict[str, list[Evidence]] = defaultdict(list)
        seen: set[tuple[str, str, str]] = set()
        for name, matched in matches:
            kind, topic_id, rule = name.split(SEPARATOR)
            if topic_id not in wanted or (kind, topic_id, rule) in seen:
                continue
            seen.add((kind, topic_id, rule))
            weight = {"keyword": settings.keyword_weight, "hint": settings.hint_weight}.get(kind, 0.0)
            if kind == "pattern":
                topic = self.ruleset.topic(topic_id)
                weight = next(p.weight for p in topic.patterns if p.name == rule)
            found[topic_id].append(Evidence(kind, rule, matched, weight))
        for topic in rules:
            found[topic.id].extend(self._regex_evidence(topic, content))
            found[topic.id].extend(_header_evidence(topic, *headers))
        for label, neighbour in neighbours.items():
            if label in wanted and neighbour.similarity >= settings.example_min_similarity:
                found[label].append(
                    Evidence(
                        "example",
                        f"example {neighbour.example + 1}",
                        self._example_texts[neighbour.example][:120],
                        round(settings.example_weight * neighbour.similarity, 3),
                    )
                )
        return found

    def _regex_evidence(self, topic: Topic, content: str) -> list[Evidence]:
        timeout = self.ruleset.settings.regex_timeout_ms / 1000
        found = []
        for rule in topic.regexes:
            try:
                match = rule.compiled.search(content, timeout=timeout)
            except TimeoutError:
                continue  # a runaway pattern never blocks classification; `rules check` reports it
            if match:
                found.append(Evidence("regex", rule.name, match.group(0)[:80], rule.weight))
        return found

    def _hits(self, evidence: dict[str, list[Evidence]]) -> list[TopicHit]:
        """Scored hits, best first; a rule with a matching exclude phrase gives none."""
        hits = []
        for topic_id, items in evidence.items():
            if not items or any(e.kind == "exclude" for e in items):
                continue
            score = round(self.ruleset.topic(topic_id).weight * sum(e.weight for e in items), 3)
            hits.append(TopicHit(topic_id, score, tuple(items)))
        return sorted(hits, key=lambda h: (-h.score, h.topic))

    def _decide(
        self, evidence: dict[str, list[Evidence]], text_only: dict[str, list[Evidence]], analysed: Analysed
    ) -> Classification:
        settings = self.ruleset.settings
        hits = self._hits(evidence)
        scores = {h.topic: h.score for h in hits}
        # An ignore rule wins when it reaches the threshold and scores at least as much as every
        # topic does on the new text alone: then the message gets no topics.
        text_hits = self._hits(text_only)
        best_on_text = max((h.score for h in text_hits if h.topic not in self._ignore_ids), default=0.0)
        for hit in text_hits:
            if hit.topic in self._ignore_ids and hit.score >= max(settings.threshold, best_on_text):
                reason = f"ignore rule {hit.topic!r}: {self.ruleset.topic(hit.topic).title}"
                return Classification((), scores, analysed.lang, analysed.plain, reason, (hit, *hits))
        best = hits[0].score if hits else 0.0
        floor = max(settings.threshold, settings.secondary_share * best)
        accepted = tuple(h for h in hits if h.score >= floor)[: settings.max_topics]
        ignored = tuple(h for h in text_hits if h.topic in self._ignore_ids)
        rejected = tuple(h for h in hits if h not in accepted) + ignored
        return Classification(accepted, scores, analysed.lang, analysed.plain, rejected=rejected)


def _header_evidence(topic: Topic, subject: str, sender: str, to: str) -> list[Evidence]:
    conditions = topic.headers
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

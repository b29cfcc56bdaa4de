"""Language: a guess per message, and spaCy pipelines for tokens and lemmas (the only spaCy user)."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ENGLISH_WORDS = frozenset(
    """the a an and or but is are was were be been am i you he she we they it my your our
    their this that these those to of in on for with at by from not no have has had do does
    did can could would should will please thank thanks hello hi dear when why how what which
    who there here if so as me us them any some all just still again yet been already""".split()
)
INDONESIAN_WORDS = frozenset(
    """yang dan di ke dari untuk ini itu saya aku kami kita anda kamu dia mereka tidak tak
    bukan sudah belum akan bisa dapat mohon tolong dengan pada apa apakah kapan berapa kenapa
    mengapa bagaimana gimana ada karena jadi juga lagi masih sampai sekarang terima kasih
    selamat pagi siang sore malam bapak ibu kak min sy tdk gak nggak ga udah sdh blm yg utk
    dgn krn mhn gmn knp jg lg bgt aja saja hari nya dong ya kah pak bu telah agar supaya""".split()
)
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def guess_language(text: str) -> str:
    """Return "en", "id" or "other" by counting common function words of each language."""
    words = [w.lower() for w in WORD.findall(text[:20000])]
    if not words:
        return "other"
    english = sum(w in ENGLISH_WORDS for w in words)
    indonesian = sum(w in INDONESIAN_WORDS for w in words)
    if max(english, indonesian) < max(1, len(words) // 20):
        return "other"
    return "id" if indonesian > english else "en"


# ---------------------------------------------------------------------------------------------
# spaCy pipelines: tokens and lemmas per language. spaCy is imported here and nowhere else.
# ---------------------------------------------------------------------------------------------

PIPELINE_LANGS = ("en", "id")
PLAIN = "xx"  # spaCy's multi-language tokenizer: the fallback for other languages, no lemmas
INDONESIAN_CLITICS = ("nya", "lah", "kah", "pun", "ku", "mu")
INDONESIAN_PREFIXES = (
    "memper",
    "diper",
    "meng",
    "meny",
    "mem",
    "men",
    "me",
    "peng",
    "peny",
    "pem",
    "pen",
    "pe",
    "di",
    "ter",
    "ber",
    "ke",
    "se",
)
INDONESIAN_SUFFIXES = ("kan", "an", "i")
# Texts are cut to this many characters before tokenizing: spaCy refuses texts over 1,000,000
# (nlp.max_length), which made one huge message fail its analysis at every start; what a
# customer asks is in the first pages, not in a pasted log.
MAX_TEXT_CHARS = 200_000
# spaCy splits punctuation and emoji off a word one at a time, searching the rest of the word each
# time: a run of 10,000 "?" (a mojibake line) or emoji took 40 s. No word is longer than this, so
# runs without whitespace are cut into pieces of this length before tokenizing.
MAX_WORD_CHARS = 40
LONG_RUN = re.compile(rf"\S{{{MAX_WORD_CHARS}}}(?=\S)")


@dataclass(frozen=True)
class Analysed:
    """A text as tokens and lemmas, with the spaCy Doc kept opaque for matchers."""

    lang: str
    tokens: tuple[str, ...]
    lemmas: tuple[str, ...]
    doc: Any
    plain: bool  # True when no lemmatizer exists for the language: only the tokenizer ran


class RulePatternError(ValueError):
    """A token pattern spaCy refuses; the message says why."""


def token_pattern_problem(pattern: Sequence[Mapping[str, Any]]) -> str | None:
    """Why spaCy's Matcher would refuse a token pattern, or fail on it while matching; None when it is fine."""
    from spacy.matcher import Matcher
    from spacy.vocab import Vocab

    if any("_" in token for token in pattern):
        return "custom attributes (_) are not available in rules"
    try:
        Matcher(Vocab(), validate=True).add("pattern", [[dict(token) for token in pattern]])
    except re.error as exc:
        return f"a REGEX does not compile: {exc}"
    except (ValueError, KeyError, TypeError) as exc:
        details = [line[2:] for line in str(exc).splitlines() if line.startswith("- ")]
        return "; ".join(details) or str(exc).splitlines()[0]
    return None


class LookupLemmas:
    """spaCy's lookup-table lemmas (what its "lookup" lemmatizer gives), cached per word."""

    def __init__(self, table: Mapping[str, str]) -> None:
        self.table = table
        self.cache: dict[str, str] = {}

    def lemma(self, word: str) -> str:
        found = self.cache.get(word)
        if found is None:
            found = self.cache[word] = self.table.get(word, word) or word
        return found


class IndonesianStemmer:
    """Completes spaCy's Indonesian lookup table with affix stripping (di-...-kan, -nya)."""

    def __init__(self, table: Mapping[str, str]) -> None:
        self.table = table
        self.known = set(table.values())
        self.cache: dict[str, str] = {}

    def lemma(self, word: str) -> str:
        found = self.cache.get(word)
        if found is None:
            found = self.cache[word] = self._lemma(word)
        return found

    def _lemma(self, word: str) -> str:
        if word in self.table:
            return self.table[word]
        if len(word) < 5 or not word.isalpha():
            return word
        base = word
        for clitic in INDONESIAN_CLITICS:
            if base.endswith(clitic) and len(base) - len(clitic) >= 3:
                base = base[: -len(clitic)]
                break
        if base in self.table:
            return self.table[base]
        if base in self.known:
            return base
        for candidate in self._candidates(base):
            if candidate in self.known:
                return candidate
            if candidate in self.table:
                return self.table[candidate]
        return base

    @staticmethod
    def _candidates(word: str) -> list[str]:
        stems = [word]
        for prefix in INDONESIAN_PREFIXES:
            if word.startswith(prefix) and len(word) - len(prefix) >= 3:
                stems.append(word[len(prefix) :])
        found = []
        for stem in stems:
            found.append(stem)
            for suffix in INDONESIAN_SUFFIXES:
                if stem.endswith(suffix) and len(stem) - len(suffix) >= 3:
                    found.append(stem[: -len(suffix)])
        return found[1:]


class LanguageModels:
    """Blank spaCy pipelines with lookup lemmatizers, built once and shared.

    Text is lower-cased and informal words are normalised (a table kept in rules/) before
    tokenizing, so "Sy blm terima" and "saya belum terima" give the same lemmas.
    """

    def __init__(self, normalisation: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self.normalisation = {lang: dict(table) for lang, table in (normalisation or {}).items()}
        # one alternation of the table's words per language: only they need a Python callback
        self._informal = {
            lang: re.compile(
                rf"(?<![^\W\d_])(?:{'|'.join(map(re.escape, sorted(table, key=len, reverse=True)))})(?![^\W\d_])"
            )
            for lang, table in self.normalisation.items()
            if table
        }
        self._pipelines: dict[str, Any] = {}
        self._lemmatizers: dict[str, IndonesianStemmer | LookupLemmas] = {}
        self._words: dict[tuple[str, int], tuple[str, str, int]] = {}
        self._lock = threading.Lock()

    def pipeline(self, lang: str) -> Any:
        key = lang if lang in PIPELINE_LANGS else PLAIN
        with self._lock:
            if key not in self._pipelines:
                self._pipelines[key] = self._build(key)
            return self._pipelines[key]

    def _build(self, lang: str) -> Any:
        import spacy

        logging.getLogger("spacy").setLevel(logging.WARNING)  # it logs every initialize() at INFO
        nlp = _blank_indonesian() if lang == "id" else spacy.blank(lang)
        # Whitespace special cases ("\n", "\t") give the same tokens as the default rules, but
        # once one is seen spaCy stops caching the rest of the text (explosion/spaCy#13950),
        # which makes tokenizing mail with line breaks 5-20x slower.
        nlp.tokenizer.rules = {k: v for k, v in nlp.tokenizer.rules.items() if not k.isspace()}  # type: ignore[union-attr]
        if lang in PIPELINE_LANGS:
            nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
            nlp.initialize()
        if lang in PIPELINE_LANGS:
            table = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_lookup")  # type: ignore[union-attr]
            # a spaCy Table: str keys, hashed inside; both lemmatizers cache what they looked up
            self._lemmatizers[lang] = IndonesianStemmer(table) if lang == "id" else LookupLemmas(table)
        return nlp

    def normalise(self, text: str, lang: str) -> str:
        text = text.lower()
        informal = self._informal.get(lang)
        if informal is None:
            return text
        table = self.normalisation[lang]
        return informal.sub(lambda m: table[m.group(0)], text)

    def analyse(self, text: str, lang: str) -> Analysed:
        return self.analyse_many([text], lang)[0]

    def analyse_many(self, texts: Sequence[str], lang: str) -> list[Analysed]:
        import numpy
        from spacy.attrs import LEMMA, LOWER

        nlp = self.pipeline(lang)
        plain = lang not in PIPELINE_LANGS
        results = []
        # The lemmatizers read spaCy's lookup table themselves (as its lookup lemmatizer would),
        # so only the tokenizer runs; lemmas are set through arrays, without a Token per word.
        cut = [LONG_RUN.sub(r"\g<0> ", self.normalise(t[:MAX_TEXT_CHARS], lang)[:MAX_TEXT_CHARS]) for t in texts]
        for doc in map(nlp.make_doc, cut):
            words = [self._word(lang, nlp, key) for key in doc.to_array(LOWER).tolist()]
            if words:
                doc.from_array([LEMMA], numpy.array([w[2] for w in words], dtype="uint64").reshape(-1, 1))
            tokens = tuple(w[0] for w in words)
            results.append(Analysed(lang if not plain else "other", tokens, tuple(w[1] for w in words), doc, plain))
        return results

    def _word(self, lang: str, nlp: Any, key: int) -> tuple[str, str, int]:
        """A lower-cased word by its hash: the word, its lemma and the lemma's hash (cached)."""
        found = self._words.get((lang, key))
        if found is None:
            lower = nlp.vocab.strings[key]
            lemmatizer = self._lemmatizers.get(lang)
            # without a lemmatizer the word itself stands in, so LEMMA rules still apply
            lemma = lemmatizer.lemma(lower) if lemmatizer is not None else lower
            found = self._words[(lang, key)] = (lower, lemma, nlp.vocab.strings.add(lemma))
        return found

    def term_matcher(
        self,
        lang: str,
        phrases: Mapping[str, Sequence[str]],
        patterns: Mapping[str, Sequence[Sequence[Mapping[str, Any]]]],
        exact: Mapping[str, Sequence[str]] | None = None,
    ) -> TermMatcher:
        """Match phrases on lemmas, `exact` phrases on lower-cased words (both PhraseMatcher) and
        token patterns (Matcher)."""
        from spacy.matcher import Matcher, PhraseMatcher

        nlp = self.pipeline(lang)
        matchers: list[Any] = []
        for attr, table in (("LEMMA", phrases), ("LOWER", exact or {})):
            phrase_matcher = PhraseMatcher(nlp.vocab, attr=attr)
            for name, texts in table.items():
                docs = [a.doc for a in self.analyse_many(list(texts), lang)]
                phrase_matcher.add(name, [d for d in docs if len(d)])
            matchers.append(phrase_matcher)
        token_matcher = Matcher(nlp.vocab, validate=True)
        for name, alternatives in patterns.items():
            try:
                token_matcher.add(name, [[dict(t) for t in p] for p in alternatives])
            except (ValueError, KeyError, TypeError) as exc:
                raise RulePatternError(str(exc).splitlines()[0][:300]) from None
        matchers.append(token_matcher)
        return TermMatcher(nlp.vocab, tuple(matchers))


def _blank_indonesian() -> Any:
    """spaCy's Indonesian without its 16,000 tokenizer exceptions (reduplications such as "anak-anak").

    Building those takes 3-7 seconds at every start; without them "anak-anak" becomes "anak", "-",
    "anak", whose lemmas match rules just as well.
    """
    from spacy.lang.tokenizer_exceptions import BASE_EXCEPTIONS
    from spacy.util import get_lang_class

    indonesian = get_lang_class("id")

    class Defaults(indonesian.Defaults):  # type: ignore[name-defined,misc]
        tokenizer_exceptions = BASE_EXCEPTIONS

    class FastIndonesian(indonesian):  # type: ignore[valid-type,misc]
        lang = "id"

    FastIndonesian.Defaults = Defaults
    return FastIndonesian()


class TermMatcher:
    """The matchers of one pipeline; returns (rule name, matched text) pairs."""

    def __init__(self, vocab: Any, matchers: tuple[Any, ...]) -> None:
        self._vocab = vocab
        self._matchers = matchers

    def match(self, analysed: Analysed) -> list[tuple[str, str]]:
        doc = analysed.doc
        found = []
        for matcher in self._matchers:
            if not len(matcher):
                continue
            for match_id, start, end in matcher(doc):
                found.append((self._vocab.strings[match_id], doc[start:end].text))
        return found

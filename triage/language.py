"""Language: a guess per message, and spaCy pipelines for tokens and lemmas (the only spaCy user)."""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

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
    words = _lower_words(text[:20000])
    if not words:
        return "other"
    english = sum(map(ENGLISH_WORDS.__contains__, words))
    indonesian = sum(map(INDONESIAN_WORDS.__contains__, words))
    if max(english, indonesian) < max(1, len(words) // 20):
        return "other"
    return "id" if indonesian > english else "en"


def _lower_words(text: str) -> list[str]:
    """The text's words, lower-cased: the whole text at once, which is a quarter cheaper than each word.

    Only "İ" lower-cases to a letter and a mark (no word character, which would cut the word in
    two): such text is cut into words first. Greek's final sigma depends on what follows, but no
    Greek word is a function word here.
    """
    if "\u0130" in text:
        return [word.lower() for word in WORD.findall(text)]
    return WORD.findall(text.lower())


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
# Per-word caches are emptied past this many words: enough for any vocabulary a support desk
# writes, while order numbers and names would otherwise grow them for as long as the daemon runs.
MAX_CACHED_WORDS = 200_000
# spaCy keeps every string its tokenizer meets (vocabulary, string store, tokenizer cache) for the
# life of the pipeline: new order numbers, names and addresses grew a daemon's memory by about
# 0.8 KB a word with no end (tokens by hash, lemmas and caches included). A pipeline whose string
# store grew by this many strings since it was built is built again; what it holds goes with the
# old one once no Doc refers to it. spaCy's memory zones would bound it too, but Docs outlive the
# analysis (matchers read them), and inside a zone the tokenizer caches nothing: it tokenized
# generated mail 1.8x slower (a zone per text), a renewal costs 0.16 s per 50,000 new strings.
MAX_NEW_STRINGS = 50_000
# spaCy splits punctuation and emoji off a word one at a time, searching the rest of the word each
# time: a run of 10,000 "?" (a mojibake line) or emoji took 40 s. No word is longer than this, so
# runs without whitespace are cut into pieces of this length before tokenizing.
MAX_WORD_CHARS = 40
LONG_RUN = re.compile(rf"\S{{{MAX_WORD_CHARS}}}(?=\S)")
LONG_RUN_START = re.compile(rf"(?<!\S)\S{{{MAX_WORD_CHARS + 1}}}")  # where a run LONG_RUN cuts begins


@dataclass(frozen=True)
class Analysed:
    """A text as tokens and lemmas, with the spaCy Doc kept opaque for matchers."""

    lang: str
    tokens: tuple[str, ...]
    lemmas: tuple[str, ...]
    doc: Any  # tokens only: a matcher whose token patterns read lemmas sets them on the Doc itself
    plain: bool  # True when no lemmatizer exists for the language: only the tokenizer ran
    text: str = ""  # what was tokenized (lower-cased, normalised, cut): the Doc's characters


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
            if len(self.cache) >= MAX_CACHED_WORDS:
                self.cache.clear()
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
            if len(self.cache) >= MAX_CACHED_WORDS:
                self.cache.clear()
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

    def __init__(
        self, normalisation: Mapping[str, Mapping[str, str]] | None = None, lexeme_attributes: bool = True
    ) -> None:
        """`lexeme_attributes=False`: words get only their lower-cased form, not the two dozen
        attributes (shape, like_num, is_stop...) spaCy computes in Python for every new word, which
        only token patterns read; 8x cheaper per new word, a third of the start-up time."""
        self.lexeme_attributes = lexeme_attributes
        self.normalisation = {lang: dict(table) for lang, table in (normalisation or {}).items()}
        # one pattern of the table's words per language: only they need a Python callback
        self._informal = {
            lang: re.compile(rf"(?<![^\W\d_])(?:{_word_alternation(table)})(?![^\W\d_])")
            for lang, table in self.normalisation.items()
            if table
        }
        self._pipelines: dict[str, Any] = {}
        self._renew_at: dict[str, int] = {}  # per pipeline: string count at which it is built again
        self.renewals = 0  # pipelines built again since the first build (for tests and probes)
        self._lemmatizers: dict[str, IndonesianStemmer | LookupLemmas] = {}
        # per pipeline: a lower-cased word's hash -> (the word, its lemma)
        self._words: dict[str, dict[int, tuple[str, str]]] = {}
        self._lock = threading.Lock()

    def pipeline(self, lang: str) -> Any:
        """The pipeline for `lang`: built on first use, and again once its strings grew MAX_NEW_STRINGS."""
        key = lang if lang in PIPELINE_LANGS else PLAIN
        with self._lock:
            nlp = self._pipelines.get(key)
            if nlp is not None and len(nlp.vocab.strings) < self._renew_at[key]:
                return nlp
            if nlp is not None:
                self.renewals += 1
            nlp = self._pipelines[key] = self._build(key)
            self._renew_at[key] = len(nlp.vocab.strings) + MAX_NEW_STRINGS
            return nlp

    def _build(self, lang: str) -> Any:
        logging.getLogger("spacy").setLevel(logging.WARNING)  # it logs every initialize() at INFO
        nlp = _blank(lang)
        if not self.lexeme_attributes:
            lower = _attribute("LOWER")
            nlp.vocab.lex_attr_getters = {lower: nlp.vocab.lex_attr_getters[lower]}
        lemmatizer = self._lemmatizers.get(lang)
        if lemmatizer is not None:
            lemmatizer.cache.clear()  # a renewal: the per-word caches start again with the vocabulary
        elif lang in PIPELINE_LANGS:
            # What spaCy's "lookup" lemmatizer would read, without building that component: only the
            # tokenizer runs, and both lemmatizers cache what they looked up.
            table = _lemma_table(lang)
            self._lemmatizers[lang] = IndonesianStemmer(table) if lang == "id" else LookupLemmas(table)
        self._words[lang] = {}
        return nlp

    def strings(self, lang: str) -> int:
        """How many strings the pipeline for `lang` holds now (0 before it is built)."""
        nlp = self._pipelines.get(lang if lang in PIPELINE_LANGS else PLAIN)
        return 0 if nlp is None else len(nlp.vocab.strings)

    def normalise(self, text: str, lang: str) -> str:
        text = text.lower()
        informal = self._informal.get(lang)
        if informal is None:
            return text
        table = self.normalisation[lang]
        return informal.sub(lambda m: table[m.group(0)], text)

    def prepare(self, text: str, lang: str) -> str:
        """The text as it is tokenized: cut, lower-cased, normalised, long runs of non-space broken."""
        text = self.normalise(text[:MAX_TEXT_CHARS], lang)[:MAX_TEXT_CHARS]
        # most text has no long run: finding that out from word starts only is cheaper than the cut
        return LONG_RUN.sub(r"\g<0> ", text) if LONG_RUN_START.search(text) else text

    def analyse(self, text: str, lang: str) -> Analysed:
        return self.analyse_many([text], lang)[0]

    def analyse_many(self, texts: Sequence[str], lang: str) -> list[Analysed]:
        nlp = self.pipeline(lang)
        key = lang if lang in PIPELINE_LANGS else PLAIN
        plain = key == PLAIN
        known = self._words[key]  # after pipeline(): a renewal starts a new cache
        tokenizer, lower = nlp.tokenizer, _attribute("LOWER")
        results = []
        for text in texts:
            prepared = self.prepare(text, lang)
            doc = tokenizer(prepared)  # what nlp.make_doc does, its length check aside: prepare cuts shorter
            # words by their hash, without a Token object per word
            words = [known.get(h) or self._word(key, nlp, h) for h in doc.to_array(lower).tolist()]
            tokens, lemmas = (tuple(column) for column in zip(*words, strict=True)) if words else ((), ())
            results.append(Analysed("other" if plain else lang, tokens, lemmas, doc, plain, prepared))
        return results

    def _word(self, key: str, nlp: Any, hashed: int) -> tuple[str, str]:
        """A lower-cased word by its hash: the word and its lemma (then cached)."""
        lower = nlp.vocab.strings[hashed]
        lemmatizer = self._lemmatizers.get(key)
        words = self._words[key]  # a hash names the same word in every vocabulary: a renewal mid-call is harmless
        if len(words) >= MAX_CACHED_WORDS:  # a daemon meets new words (numbers, names) for months
            words.clear()
        # without a lemmatizer the word itself stands in, so LEMMA rules still apply
        found = words[hashed] = (lower, lemmatizer.lemma(lower) if lemmatizer is not None else lower)
        return found

    def term_matcher(
        self,
        lang: str,
        phrases: Mapping[str, Sequence[str]],
        patterns: Mapping[str, Sequence[Sequence[Mapping[str, Any]]]],
        exact: Mapping[str, Sequence[str]] | None = None,
    ) -> TermMatcher:
        """Match phrases on lemmas, `exact` phrases on lower-cased words, and token patterns (spaCy's Matcher).

        Phrases are found as spaCy's PhraseMatcher finds them (every occurrence, in its order),
        in a trie of words in Python: on mail of a few hundred words that is cheaper than
        setting lemmas on each Doc and calling the PhraseMatcher, and it needs no rule names in
        the vocabulary (a third of the start-up time of a rule pack).
        """

        nlp = self.pipeline(lang)
        tries = []
        for attr, table in (("lemmas", phrases), ("tokens", exact or {})):
            texts = [text for words in table.values() for text in words]
            analysed = iter(self.analyse_many(texts, lang))
            trie = _PhraseTrie(nlp.vocab.strings)
            for name, words in table.items():
                for _ in words:
                    trie.add(name, getattr(next(analysed), attr))
            tries.append(trie.finished())
        if patterns and not self.lexeme_attributes:
            raise ValueError("token patterns read lexeme attributes: use LanguageModels(lexeme_attributes=True)")
        token_matcher = _token_matcher(nlp.vocab, patterns)
        return TermMatcher(tries[0], tries[1], patterns if len(token_matcher) else {}, token_matcher)


def _token_matcher(vocab: Any, patterns: Mapping[str, Sequence[Sequence[Mapping[str, Any]]]]) -> Any:
    """spaCy's Matcher for token patterns, on a pipeline's vocabulary (it must be the Docs' own)."""
    from spacy.matcher import Matcher

    matcher = Matcher(vocab, validate=True)
    for name, alternatives in patterns.items():
        try:
            matcher.add(name, [[dict(t) for t in p] for p in alternatives])
        except (ValueError, KeyError, TypeError) as exc:
            raise RulePatternError(str(exc).splitlines()[0][:300]) from None
    return matcher


@functools.cache
def _attribute(name: str) -> int:
    """A spaCy token attribute's id (LOWER, LEMMA...), imported once."""
    from spacy import attrs

    return int(getattr(attrs, name))


def _word_alternation(words: Iterable[str]) -> str:
    """The words as one regex alternation shaped like a trie: s(?:dh|y(?:g)?)... for sdh, sy, syg.

    At a position the longest word that fits wins, as with longest-first alternatives, but each
    position tries a branch or two instead of every word: normalising is twice as fast.
    """
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # a word ends here

    def pattern(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + pattern(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        group = branches[0] if len(branches) == 1 and len(node) == 1 else f"(?:{'|'.join(branches)})"
        return f"{group}?" if "" in node else group

    if "" in trie:  # an empty informal word: nothing to factor, keep its meaning as written
        return "|".join(map(re.escape, sorted(words, key=len, reverse=True)))
    return pattern(trie)


def _blank(lang: str) -> Any:
    """A blank spaCy pipeline for `lang` whose tokenizer has no whitespace special cases.

    Whitespace special cases ("\\n", "\\t") give the same tokens as the default rules, but once
    one is seen spaCy stops caching the rest of the text (explosion/spaCy#13950), which makes
    tokenizing mail with line breaks 5-20x slower. They are left out of the language's defaults
    rather than removed afterwards, which would load every special case twice (0.1 s).

    Indonesian also goes without its 16,000 tokenizer exceptions (reduplications such as
    "anak-anak"): building those takes 3-7 seconds at every start; without them "anak-anak"
    becomes "anak", "-", "anak", whose lemmas match rules just as well.
    """
    from spacy.lang.tokenizer_exceptions import BASE_EXCEPTIONS
    from spacy.util import get_lang_class

    language = get_lang_class(lang)
    exceptions = BASE_EXCEPTIONS if lang == "id" else language.Defaults.tokenizer_exceptions

    class Defaults(language.Defaults):  # type: ignore[name-defined,misc]
        pass

    class Blank(language):  # type: ignore[valid-type,misc]
        pass

    Defaults.tokenizer_exceptions = {text: rule for text, rule in exceptions.items() if not text.isspace()}
    Blank.Defaults = Defaults
    return Blank()


def _lemma_table(lang: str) -> dict[str, str]:
    """spaCy's lookup lemmas for `lang` (spacy-lookups-data), as its "lookup" lemmatizer loads them.

    A plain dict: the lemmatizer component would hash every key into a spaCy Table first
    (0.15 s per language at every start) for lookups that give the same lemmas.
    """
    from spacy.util import load_language_data, registry

    return cast("dict[str, str]", load_language_data(registry.lookups.get(lang)["lemma_lookup"]))


class _Node:
    """A word of a phrase trie: the words that may follow, and the rule names whose phrase ends here."""

    __slots__ = ("children", "names")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.names: tuple[str, ...] = ()


class _PhraseTrie:
    """Phrases (word sequences) under rule names; names that share a phrase come in the order
    spaCy's PhraseMatcher reports them in."""

    def __init__(self, strings: Any) -> None:
        self.root = _Node()
        self._strings = strings
        self._added: dict[_Node, list[str]] = {}  # a phrase's last word -> names, as added

    def add(self, name: str, words: Sequence[str]) -> None:
        if not words:
            return  # the PhraseMatcher skips an empty phrase
        node = self.root
        for word in words:
            node = node.children.get(word) or node.children.setdefault(word, _Node())
        self._added.setdefault(node, []).append(name)

    def finished(self) -> _Node:
        for node, names in self._added.items():
            node.names = tuple(_phrase_matcher_order(names, self._strings) if len(set(names)) > 1 else names[:1])
        return self.root


def _phrase_matcher_order(names: Sequence[str], strings: Any) -> list[str]:
    """The order in which spaCy's PhraseMatcher reports rules that end on the same phrase.

    It keeps them in a preshed hash map of the names' string ids (8 cells to start with),
    filled in the order the rules were added; replaying those insertions into the same kind of
    map gives its iteration order, so evidence comes in the order it always did.
    """
    from preshed.maps import PreshMap  # type: ignore[import-not-found,import-untyped,unused-ignore]

    ids = PreshMap(8)
    by_id = {}
    for name in names:
        key = strings[name]
        ids[key] = 1
        by_id[key] = name
    return [by_id[key] for key in ids.keys()]  # noqa: SIM118 - iterating a PreshMap gives (key, value) pairs


def _find_phrases(root: _Node, words: Sequence[str], found: list[tuple[str, int, int]]) -> None:
    """Every phrase of the trie in `words`, as (name, start, end), in spaCy's PhraseMatcher's order:
    by start, then shorter phrases first."""
    first = root.children
    if first.keys().isdisjoint(words):
        return  # most texts start no exact phrase, and a set operation says so at C speed
    count = len(words)
    for start in [i for i, word in enumerate(words) if word in first]:
        node: _Node | None = first[words[start]]
        end = start + 1
        while node is not None:
            for name in node.names:
                found.append((name, start, end))
            if end == count:
                break
            node = node.children.get(words[end])
            end += 1


class TermMatcher:
    """The matchers of one pipeline; returns (rule name, matched text) pairs.

    The phrase tries read only words; the token patterns' Matcher is rebuilt on the vocabulary of
    the Docs it meets once their pipeline was renewed (spaCy's Matcher must share the Docs' vocabulary).
    """

    def __init__(
        self,
        lemma_phrases: _Node,
        word_phrases: _Node,
        patterns: Mapping[str, Sequence[Sequence[Mapping[str, Any]]]],
        token_matcher: Any,
    ) -> None:
        self._lemma_phrases = lemma_phrases
        self._word_phrases = word_phrases
        self._patterns = patterns
        self._token_matcher = token_matcher if patterns else None

    def match(self, analysed: Analysed) -> list[tuple[str, str]]:
        return [(name, matched_text(analysed, start, end)) for name, start, end in self.spans(analysed)]

    def spans(self, analysed: Analysed) -> list[tuple[str, int, int]]:
        """(rule name, start, end) of every match: phrases on lemmas, exact phrases, then token patterns."""
        found: list[tuple[str, int, int]] = []
        if self._lemma_phrases.children:
            _find_phrases(self._lemma_phrases, analysed.lemmas, found)
        if self._word_phrases.children:
            _find_phrases(self._word_phrases, analysed.tokens, found)
        if self._token_matcher is not None and analysed.tokens:
            import numpy

            doc = analysed.doc
            matcher = self._token_matcher
            if matcher.vocab is not doc.vocab:  # the pipeline was renewed since: match in the new vocabulary
                matcher = self._token_matcher = _token_matcher(doc.vocab, self._patterns)
            strings = doc.vocab.strings
            lemmas = [strings.add(lemma) for lemma in analysed.lemmas]
            doc.from_array([_attribute("LEMMA")], numpy.array(lemmas, dtype="uint64").reshape(-1, 1))
            found.extend((strings[match_id], start, end) for match_id, start, end in matcher(doc))
        return found


def matched_text(analysed: Analysed, start: int, end: int) -> str:
    """The text of tokens start..end, as spaCy's doc[start:end].text gives it."""
    doc = analysed.doc
    last = doc[end - 1]
    return str(analysed.text[doc[start].idx : last.idx + len(last)])

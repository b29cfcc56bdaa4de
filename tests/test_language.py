"""Language models: phrases found as spaCy's PhraseMatcher finds them, normalisation, lean pipelines."""

from __future__ import annotations

import random
import re

import numpy
import pytest
from spacy.attrs import IDX, LEMMA, LOWER, ORTH, SPACY
from spacy.matcher import PhraseMatcher

from triage import language
from triage.language import ENGLISH_WORDS, INDONESIAN_WORDS, WORD, LanguageModels, _lower_words, matched_text

# Several names on one phrase ("refund"/"refunds"/"refunded" share a lemma), phrases inside
# phrases, a phrase at the very end of a text, words repeated: where the order of matches shows.
PHRASES = {
    "keyword\x1frefund\x1frefund": ["refund"],
    "hint\x1frefund\x1frefunds": ["refunds"],
    "keyword\x1fbilling\x1frefunded": ["refunded", "refunded"],
    "exclude\x1fthanks\x1fno refund": ["no refund"],
    "keyword\x1frefund\x1fmoney back": ["money back"],
    "keyword\x1frefund\x1fmy money back": ["my money back"],
    "hint\x1fdelivery\x1fback": ["back"],
    "keyword\x1fdelivery\x1fparcel": ["parcel"],
    "keyword\x1fdelivery\x1fpaket": ["paket"],
    "hint\x1fdelivery\x1fdikirim": ["dikirim"],
    "keyword\x1fdelivery\x1fbelum sampai": ["belum sampai"],
}
TEXTS = [
    "I want a refund, no refund is not OK: refunds, refunded, REFUND! I want my money back. Back",
    "The parcel came back. My money back? money back money back",
    "Sy blm terima paketnya, sudah dikirim tapi belum sampai. Paket belum sampai",
    "",
    "refund",
]


@pytest.fixture(scope="module")
def models() -> LanguageModels:
    return LanguageModels({"id": {"sy": "saya", "blm": "belum", "sdh": "sudah"}})


def spacy_matches(models: LanguageModels, lang: str, text: str) -> list[tuple[str, int, int, str]]:
    """What the PhraseMatcher on lemmas gives, with lemmas set on the Docs as the classifier used to."""
    nlp = models.pipeline(lang)
    strings = nlp.vocab.strings

    def with_lemmas(text: str) -> object:
        analysed = models.analyse(text, lang)
        if analysed.lemmas:
            lemmas = numpy.array([strings.add(lemma) for lemma in analysed.lemmas], dtype="uint64").reshape(-1, 1)
            analysed.doc.from_array([LEMMA], lemmas)
        return analysed.doc

    matcher = PhraseMatcher(nlp.vocab, attr="LEMMA")
    for name, texts in PHRASES.items():
        matcher.add(name, [with_lemmas(t) for t in texts])
    doc = with_lemmas(text)
    return [(strings[key], start, end, doc[start:end].text) for key, start, end in matcher(doc)]


@pytest.mark.parametrize("lang", ["en", "id", "other"])
@pytest.mark.parametrize("text", TEXTS)
def test_phrases_are_found_in_the_phrase_matchers_order(models: LanguageModels, lang: str, text: str) -> None:
    matcher = models.term_matcher(lang, PHRASES, {})
    analysed = models.analyse(text, lang)
    ours = [(name, start, end, matched_text(analysed, start, end)) for name, start, end in matcher.spans(analysed)]
    assert ours == spacy_matches(models, lang, text)
    if text.startswith("I want"):
        assert len(ours) > 8  # the comparison saw matches, several on one phrase


def test_informal_words_are_replaced_longest_first(models: LanguageModels) -> None:
    table = {"sy": "saya", "syg": "sayang", "s": "X", "blm": "belum", "bl": "WRONG", "c.o": "checkout"}
    lean = LanguageModels({"id": table})
    # the pattern as written before: longest words first, one alternation
    words = "|".join(map(re.escape, sorted(table, key=len, reverse=True)))
    plain = re.compile(rf"(?<![^\W\d_])(?:{words})(?![^\W\d_])")
    for text in ["sy syg s blm bl sya c.o c.oo 2sy sy2 _sy Sy! blmblm", "", "s"]:
        expected = plain.sub(lambda m: table[m.group(0)], text.lower())
        assert lean.normalise(text, "id") == expected


def test_pipelines_without_lexeme_attributes_tokenize_the_same(models: LanguageModels) -> None:
    lean = LanguageModels(models.normalisation, lexeme_attributes=False)
    attrs = [ORTH, LOWER, IDX, SPACY]
    for lang in ("en", "id", "other"):
        for text in [*TEXTS, "don't e-mail me at a.b@example.com re INV-2026/0877 :) 12.30pm"]:
            full, bare = models.analyse(text, lang), lean.analyse(text, lang)
            assert (full.tokens, full.lemmas) == (bare.tokens, bare.lemmas)
            assert (full.doc.to_array(attrs) == bare.doc.to_array(attrs)).all()


def test_token_patterns_need_lexeme_attributes() -> None:
    lean = LanguageModels(lexeme_attributes=False)
    with pytest.raises(ValueError, match="lexeme attributes"):
        lean.term_matcher("en", {}, {"pattern\x1fx\x1fnumber": [[{"LIKE_NUM": True}]]})


def test_word_caches_stay_bounded_as_new_words_keep_coming(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(language, "MAX_CACHED_WORDS", 50)
    models = LanguageModels()
    for number in range(40):
        models.analyse(" ".join(f"order{number}x{i} dikirimkan{number}x{i}" for i in range(10)), "id")
    assert all(len(words) <= 50 for words in models._words.values())
    assert all(len(lemmatizer.cache) <= 50 for lemmatizer in models._lemmatizers.values())
    assert models.analyse("dikembalikan", "id").lemmas  # still lemmatizes after the caches were emptied


def fresh_numbers(start: int, count: int) -> list[str]:
    """Texts each with words no earlier text had: order numbers, invoice numbers, addresses."""
    return [
        f"My order ORD-{number:07d} and invoice INV/{number * 7:08d} from budi{number}@example.com are late"
        for number in range(start, start + count)
    ]


def test_the_vocabulary_stops_growing_as_new_words_keep_coming(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(language, "MAX_NEW_STRINGS", 2_000)
    models = LanguageModels()
    models.analyse("hello", "en")
    built = models.strings("en")
    sizes = []
    for start in range(0, 3_000, 100):
        models.analyse_many(fresh_numbers(start, 100), "en")
        sizes.append(models.strings("en"))
    assert models.renewals >= 4  # about 4 new strings a text: 12,000 strings, a renewal every 2,000
    assert max(sizes) < built + 2_000 + 100 * 10  # the limit, plus what one call can add past it
    unbounded = LanguageModels()
    unbounded.analyse_many(fresh_numbers(0, 3_000), "en")
    assert unbounded.strings("en") > built + 10_000  # what it grows to without renewal
    text = fresh_numbers(5, 1)[0]
    renewed, fresh = models.analyse(text, "en"), LanguageModels().analyse(text, "en")
    assert (renewed.tokens, renewed.lemmas) == (fresh.tokens, fresh.lemmas)


def test_a_term_matcher_built_before_a_renewal_matches_after_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(language, "MAX_NEW_STRINGS", 500)
    models = LanguageModels()
    patterns = {"pattern\x1fx\x1forder": [[{"LEMMA": "order"}, {"TEXT": {"REGEX": r"^ord-\d+$"}}]]}
    matcher = models.term_matcher("en", {"keyword\x1fx\x1flate": ["be late"]}, patterns)
    before = matcher.match(models.analyse("my orders ORD-1234567 are late", "en"))
    for start in range(0, 1_000, 100):
        models.analyse_many(fresh_numbers(start, 100), "en")
    assert models.renewals > 0
    after = matcher.match(models.analyse("my orders ORD-1234567 are late", "en"))
    assert before == after == [("keyword\x1fx\x1flate", "are late"), ("pattern\x1fx\x1forder", "orders ord-1234567")]


def words_lowered_one_by_one(text: str) -> list[str]:
    """The function words' reading as it was: cut into words, then each lower-cased."""
    return [word.lower() for word in WORD.findall(text)]


@pytest.mark.parametrize("seed", range(3))
def test_lower_casing_the_text_first_reads_the_same_words(seed: int) -> None:
    pieces = [
        "THE ",
        "Yang ",
        "İ",
        "İstanbul ",
        "ΟΔΟΣ",
        "'",
        "Α ",
        "K",
        "ß",
        "ǅ",
        "ı",
        "Ⅻ",
        "٣",
        "_",
        "-",
        " ",
        "\n",
        "Is",
    ]
    function_words = ENGLISH_WORDS | INDONESIAN_WORDS
    rng = random.Random(seed)
    for _ in range(2000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 12)))
        seen = [w for w in _lower_words(text) if w in function_words]
        assert seen == [w for w in words_lowered_one_by_one(text) if w in function_words], repr(text)

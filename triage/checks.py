"""Reply checks: does an outgoing reply address its question? One small pure function per check.

Each check takes an Exchange (a reply and the customer message(s) it answers, read once by
`read_exchange`) and returns Flags with their evidence. `check_reply` runs them all. The words the
checks look for are phrase lists under rules/phrases/; the thresholds are the constants below.
Every check leans towards silence: a false alarm costs a lead's trust more than a miss.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from triage.contacts import IdentifierReader, Identify, find_identifiers
from triage.language import PIPELINE_LANGS, LanguageModels, guess_language
from triage.memo import GenerationalMemo
from triage.model import Direction, Flag, MessageView
from triage.rules import Ruleset

# Phrase lists under rules/phrases/ (one file each, `en = [...]`, `id = [...]`; languages merged).
DEFLECTION = "deflection"
AUTO_ACK = "auto-ack"
DETAIL_REQUEST = "detail-request"
COURTESY = "courtesy"
GREETING = "greeting"
SIGN_OFF = "sign-off"
QUESTION_CUES = "question-cues"
REQUEST_CUES = "request-cues"
LIST_INTRO = "list-intro"
THANKS = "thanks"
ASKS = {"time": "asks-time", "amount": "asks-amount", "reason": "asks-reason"}
GIVES = {"time": "gives-time", "amount": "gives-amount", "reason": "gives-reason"}
GENERIC_WORDS = "generic-words"
PHRASE_LISTS = (
    DEFLECTION,
    AUTO_ACK,
    DETAIL_REQUEST,
    COURTESY,
    GREETING,
    SIGN_OFF,
    QUESTION_CUES,
    REQUEST_CUES,
    LIST_INTRO,
    THANKS,
    *ASKS.values(),
    *GIVES.values(),
)

# A reply this soon after its question was sent by a machine, not written by a person.
AUTO_ACK_WINDOW = timedelta(minutes=10)
# Content words a reply must share with the question outside courtesy, redirect and
# acknowledgement lines to count as saying something about it (auto-ack, deflection).
SUBSTANCE_MIN = 3
# A reply with fewer content words than this outside those lines is a template (ignored-details).
OWN_WORDS_MIN = 10
# Cosine of content words under which a reply on other topics is off-topic.
OFF_TOPIC_MAX_SIMILARITY = 0.08
# A part of the question needs this many content words to be judged left out (none in the reply).
PART_MIN_WORDS = 3

WANTED = {"time": "no date or time", "amount": "no amount", "reason": "no reason"}

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
# Abbreviations a sentence does not end on: "Jl. Merdeka", "No. 14", "Mr. Tan".
ABBREVIATION = re.compile(
    r"(?:^|[\s(])(?:jl|jln|no|kel|kec|kab|gg|rt|rw|mr|mrs|ms|dr|st|bpk|sdr|yth|tel|telp|hp|ref|approx|"
    r"e\.g|i\.e|a\.n)\.$",
    re.IGNORECASE,
)
LIST_MARKER = re.compile(r"^\s*(?:[-*•]|\(?\d{1,2}[.)]|[a-z][.)])\s+", re.IGNORECASE)
WORD = re.compile(r"[^\W_]+", re.UNICODE)
TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)  # how phrases and texts are cut for phrase matching
# One to five capitalised words, one space apart. (Written as (word\s?){1,5} the parts of one long
# word could be split in n^4 ways: a 200-character line took minutes to fail.)
NAME_LINE = re.compile(r"[A-Z&][\w&'.-]*(?:\s[A-Z&][\w&'.-]*){0,4}\s?")  # "Sinar Jaya Net", "PT Contoh Indonesia"

CURRENCY_AMOUNT = re.compile(
    # (?=...): the first character of any branch, checked before trying them (same matches, faster)
    r"(?=[\d$rius])(?:"
    r"(?:\b(?:rp|idr|usd|sgd|eur)\.?\s?|\$\s?)(\d[\d.,]*)(?:\s?(ribu|rb|juta|jt|thousand|million|k)\b)?"
    # (?<![\d.,]): a number starts where its run of digits and separators does, not at every digit of
    # "1,2,3,...", which made a long list quadratic (minutes for 40,000 characters)
    r"|(?<![\d.,])\b(\d[\d.,]*)\s?(ribu|rb|juta|jt|thousand|million|rupiah)\b)",
    re.IGNORECASE,
)
SCALES = {"ribu": 1e3, "rb": 1e3, "k": 1e3, "thousand": 1e3, "juta": 1e6, "jt": 1e6, "million": 1e6}
PERCENT = re.compile(r"\d\s?%")
MONTH_NAMES = (
    "january february march april may june july august september october november december",
    "januari februari maret april mei juni juli agustus september oktober november desember",
    "jan feb mar apr may jun jul aug sep oct nov dec",
    "jan feb mar apr mei jun jul agu sept okt nov des",
)
MONTHS = {name: number + 1 for names in MONTH_NAMES for number, name in enumerate(names.split())}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
DATE = re.compile(
    rf"(?=[\d{''.join(sorted({name[0] for name in MONTHS}))}])(?:"  # the first character of any branch (faster)
    rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH})\b"
    rf"|\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b"
    r"|\b(\d{1,2})[/-](\d{1,2})[/-](?:\d{2}|\d{4})\b)",
    re.IGNORECASE,
)
CLOCK = re.compile(r"\b(?:[01]?\d|2[0-3])[:.][0-5]\d\b|\b\d{1,2}\s?(?:am|pm|wib|wita|wit)\b", re.IGNORECASE)
NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|twelve|fourteen|thirty|a few|a couple of|several|"
    "satu|dua|tiga|empat|lima|enam|tujuh|delapan|sembilan|sepuluh|beberapa"
)
DURATION = re.compile(
    rf"\b(?:\d+(?:\s?[-x]\s?\d+)?|{NUMBER_WORDS})\s+(?:working\s+|business\s+|calendar\s+)?"
    r"(?:minutes?|mins?|hours?|hrs?|days?|weeks?|months?|menit|jam|hari|minggu|pekan|bulan)\b",
    re.IGNORECASE,
)
DIGIT_RUN = re.compile(r"\d[\d .\-]{4,}\d")  # phone, account and tracking numbers, spaced or not
LONG_NUMBER = 8  # digits
CODE = re.compile(r"#?[A-Za-z0-9][A-Za-z0-9/_.\-]*[A-Za-z0-9]")
TWO_DIGITS = re.compile(r"[0-9].*[0-9]")  # in a CODE token (ASCII, one line)
DIGIT = re.compile(r"\d")
UNIT_LIKE = re.compile(
    r"^\d+(?:st|nd|rd|th|am|pm|x\d+|k|gb|mb|tb|mbps|gbps|kbps|ms|m|km|cm|mm|jt|rb|h|hr|hrs|g|w|kg|s)?$",
    re.IGNORECASE,
)
PLACE = re.compile(
    r"\b(?i:jl|jln|jalan|perum|perumahan|kel|kelurahan|kec|kecamatan|desa|kampung|cluster|apartemen|"
    r"apartment|tower|komplek|kompleks|gg|gang)\b\.?[ \t]+([A-Z][\w'-]+(?:[ \t]+[A-Z][\w'-]+){0,2})"
)


# ---------------------------------------------------------------------------------------------
# What the checks look at: sentences, the parts of a question, the details given
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sentence:
    text: str
    terms: frozenset[str]  # content lemmas
    paragraph: int
    item: int = 0  # 1: opens a list item ("1. ...", "- ..."), 2: goes on in one, 0: not in a list
    formula: bool = False  # a courtesy, redirect or acknowledgement line: says nothing about the case


@dataclass(frozen=True)
class Part:
    """One thing the customer asked or requested."""

    message_id: str
    text: str
    terms: frozenset[str]
    wants: tuple[str, ...]  # "time", "amount", "reason": the kind of answer it needs


@dataclass(frozen=True)
class Detail:
    """A specific the customer gave: its kind, as written, and a key to find it again."""

    kind: str
    text: str
    key: str


@dataclass(frozen=True)
class PartVerdict:
    part: Part
    shared: frozenset[str]  # its words the reply uses
    engaged: bool
    missing: tuple[str, ...]  # kinds of answer it wants that the reply does not give

    @property
    def answered(self) -> bool:
        return self.engaged and not self.missing


class PhraseList:
    """Phrases matched on whole words, case-insensitively, through an index on their first word."""

    def __init__(self, phrases: Iterable[str]) -> None:
        index: dict[str, dict[tuple[str, ...], str]] = {}
        for phrase in phrases:
            words = tuple(TOKEN.findall(phrase.lower()))
            if words:
                index.setdefault(words[0], {})[words] = phrase.lower()
        self.index = index

    def find(self, text: str) -> list[str]:
        """The phrases in a text, as the list writes them."""
        words, distinct = _words(text)
        starting = self.index.keys() & distinct  # set operations, not a lookup per word
        found = set()
        for start, word in enumerate(words) if starting else ():
            if word in starting:
                for phrase, written in self.index[word].items():
                    if words[start : start + len(phrase)] == phrase:
                        found.add(written)
        return sorted(found)

    def starts(self, text: str) -> bool:
        words = _words(text)[0]
        return bool(words) and any(words[: len(p)] == p for p in self.index.get(words[0], {}))

    def whole(self, text: str) -> bool:
        words = _words(text)[0]
        return bool(words) and words in self.index.get(words[0], {})


@dataclass(frozen=True)
class Lexicon:
    """The phrase lists the checks use, by name, and the generic words they leave out."""

    lists: dict[str, PhraseList]
    generic: frozenset[str]

    def find(self, name: str, text: str) -> list[str]:
        return self.lists[name].find(text)

    def starts(self, name: str, text: str) -> bool:
        return self.lists[name].starts(text)

    def whole(self, name: str, text: str) -> bool:
        return self.lists[name].whole(text)


@dataclass(frozen=True)
class Exchange:
    """A reply and the question(s) it answers, read once for all checks."""

    reply: MessageView
    questions: tuple[MessageView, ...]
    lexicon: Lexicon
    comparable: bool  # reply and question in one language: shared lemmas mean something
    reply_sentences: tuple[Sentence, ...]  # greeting and sign-off removed
    question_terms: frozenset[str]  # subject and body
    parts: tuple[Part, ...]
    details: tuple[Detail, ...]  # given by the customer
    reply_details: tuple[Detail, ...]  # in the reply's own lines (not courtesy or redirects)
    thanks_only: bool = False  # the customer only thanked us: nothing asked, nothing to answer

    @property
    def related(self) -> tuple[str, ...]:
        return tuple(q.message_id for q in self.questions)

    @property
    def reply_body(self) -> str:
        return "\n".join(s.text for s in self.reply_sentences)

    @property
    def own_lines(self) -> list[Sentence]:
        """The reply's sentences that are not courtesy, redirect or acknowledgement lines."""
        return [s for s in self.reply_sentences if not s.formula]

    def reply_terms(self, own: bool = False) -> frozenset[str]:
        return frozenset().union(*(s.terms for s in (self.own_lines if own else self.reply_sentences)))

    def specific(self) -> bool:
        """Whether the reply's own lines name a number, date, time or amount of their own."""
        return bool(self.reply_details) or concrete("\n".join(s.text for s in self.own_lines))

    def substance(self) -> frozenset[str]:
        """Content words the reply shares with the question in its own lines.

        Words of formula lines count nowhere: the company's name in "Thank you for contacting
        ..." is in the question too, and says nothing about it.
        """
        formula = frozenset().union(*(s.terms for s in self.reply_sentences if s.formula))
        return (self.reply_terms(own=True) - formula) & self.question_terms


# ---------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------


def check_reply(
    reply: MessageView,
    questions: Sequence[MessageView],
    ruleset: Ruleset,
    models: LanguageModels,
    reader: ExchangeReader | None = None,
) -> list[Flag]:
    """Every reply check for one outgoing reply and the customer message(s) it answers.

    Pass one `reader` for many replies: it reads each question and each sentence once.
    """
    if reply.direction is not Direction.OUT or not questions:
        return []
    exchange = read_exchange(reply, questions, ruleset, models, reader)
    receipt = find_auto_ack(exchange)
    if receipt:
        return receipt  # an automatic receipt is not an answer: judging its content only adds noise
    return [
        *find_deflection(exchange),
        *find_off_topic(exchange),
        *find_partial_answer(exchange),
        *find_ignored_details(exchange),
    ]


def find_auto_ack(exchange: Exchange) -> list[Flag]:
    """auto-ack: a receipt template, automated or sent within minutes, with no answer in it."""
    reply = exchange.reply
    delay = reply.date - max(q.date for q in exchange.questions)
    if not (reply.automated or timedelta(0) <= delay <= AUTO_ACK_WINDOW):
        return []
    phrases = exchange.lexicon.find(AUTO_ACK, exchange.reply_body)
    substance = exchange.substance()
    if not phrases or len(substance) >= SUBSTANCE_MIN or exchange.specific() or used_details(exchange):
        return []  # a receipt that also answers (the case's words, numbers or times) is a reply
    how = f"sent {_minutes(delay)} after the question"
    if reply.automated:
        how = f"marked automated: {reply.automated}"
    return [
        _flag(
            exchange,
            "auto-ack",
            "low",
            f"An automatic acknowledgement ({how}) with no answer in it: the customer still waits for one.",
            phrases=phrases,
            automated=reply.automated,
            delay_minutes=round(delay.total_seconds() / 60, 1),
            shared_words=sorted(substance),
        )
    ]


def find_deflection(exchange: Exchange) -> list[Flag]:
    """deflection: the reply sends the customer elsewhere and says little else about the question."""
    phrases = exchange.lexicon.find(DEFLECTION, exchange.reply_body)
    if not phrases:
        return []
    substance = exchange.substance()
    answers = exchange.specific() or used_details(exchange) or asks_for_details(exchange)
    if len(substance) >= SUBSTANCE_MIN or answers:
        return []  # says enough of its own about the question, gives specifics, or asks for them
    return [
        _flag(
            exchange,
            "deflection",
            "high",
            f"The reply only sends the customer elsewhere ({_quote_list(phrases)}) and does not answer.",
            phrases=phrases,
            shared_words=sorted(substance),
        )
    ]


def find_off_topic(exchange: Exchange) -> list[Flag]:
    """off-topic: the reply's topics miss the question's, and it shares almost no words with it."""
    asked = set().union(*(q.topics for q in exchange.questions))
    reply_terms = exchange.reply_terms()
    if not asked or not exchange.comparable or len(reply_terms) < PART_MIN_WORDS:
        return []
    answered = set(exchange.reply.topics)
    similarity = cosine(exchange.question_terms, reply_terms)
    if asked & answered or similarity >= OFF_TOPIC_MAX_SIMILARITY:
        return []
    return [
        _flag(
            exchange,
            "off-topic",
            "high",
            f"The reply is about {', '.join(sorted(answered)) or 'no known topic'} but the question was "
            f"about {', '.join(sorted(asked))}, and the two share almost no words ({similarity:.2f}).",
            question_topics=sorted(asked),
            reply_topics=sorted(answered),
            similarity=round(similarity, 3),
            shared_words=sorted(exchange.question_terms & reply_terms),
        )
    ]


def find_partial_answer(exchange: Exchange) -> list[Flag]:
    """partial-answer: parts of the question left out, or not given the kind of answer they ask for."""
    verdicts = judge_parts(exchange)
    left_out = [v for v in verdicts if not v.answered]
    # A reply sharing next to nothing with the question is too far off for word overlap to say
    # what it meant to answer (off-topic, deflection and ignored-details judge those). So a part
    # counts as left out only beside another part the reply took up (used its words), and a part
    # missing its kind of answer only when the reply shares some word with the question.
    taken_up = [v for v in verdicts if v.shared]
    talks_about_it = bool(taken_up) or bool(exchange.substance())
    left_out = [v for v in left_out if (v.missing and talks_about_it) or any(other is not v for other in taken_up)]
    if not left_out:
        return []
    answered = [v.part.text for v in verdicts if v.answered]
    things = f"{len(left_out)} of the {len(verdicts)} things" if len(verdicts) > 1 else "what"
    return [
        _flag(
            exchange,
            "partial-answer",
            "medium" if answered else "high",
            f"The reply leaves out {things} the customer asked: {'; '.join(_describe(v) for v in left_out)}.",
            left_out=[_evidence_of(v) for v in left_out],
            answered=answered,
        )
    ]


def find_ignored_details(exchange: Exchange) -> list[Flag]:
    """ignored-details: specifics given; the reply uses none, asks for none and says nothing specific."""
    if not exchange.details or exchange.thanks_only or used_details(exchange) or asks_for_details(exchange):
        return []  # nothing given, nothing asked (a thank-you note), or the reply uses or asks for them
    own_words = exchange.reply_terms(own=True)
    template = any(s.formula for s in exchange.reply_sentences) and len(own_words) < OWN_WORDS_MIN
    if not template or exchange.specific():
        # A reply in its own words may well have read the details (word overlap cannot tell), and
        # a short "Done, updated." without formula lines is a person answering a follow-up.
        return []
    given = [f"{d.kind} {d.text}" for d in exchange.details]
    return [
        _flag(
            exchange,
            "ignored-details",
            "medium" if len(given) >= 3 else "low",
            f"The customer gave {_quote_list(given[:4])}{' and more' if len(given) > 4 else ''}, but the "
            "reply uses none of it, asks for nothing and says nothing beyond set phrases.",
            ignored=[{"kind": d.kind, "text": d.text} for d in exchange.details],
            reply_own_words=sorted(own_words),
        )
    ]


# ---------------------------------------------------------------------------------------------
# Judgements the checks share
# ---------------------------------------------------------------------------------------------


def judge_parts(exchange: Exchange) -> list[PartVerdict]:
    """For each part of the question: does the reply take it up, and give the kind of answer it asks?"""
    reply_terms = exchange.reply_terms(own=True)
    verdicts = []
    for part in exchange.parts:
        shared = part.terms & reply_terms
        missing = tuple(k for k in part.wants if not gives_for(exchange, part, k))
        # Given the kind of answer asked for ("when?" -> a date), too few words to compare, or
        # two languages: the reply gets the benefit of the doubt.
        engaged = (
            bool(shared)
            or bool(part.wants and not missing)
            or not exchange.comparable
            or len(part.terms) < PART_MIN_WORDS
        )
        verdicts.append(PartVerdict(part, shared, engaged, missing))
    return verdicts


def gives_for(exchange: Exchange, part: Part, kind: str) -> bool:
    """Whether the reply gives a part the kind of answer it asks for, where it should."""
    return gives(exchange.lexicon, kind, answer_text(exchange, part, kind))


def answer_text(exchange: Exchange, part: Part, kind: str) -> str:
    """Where the reply should give the kind of answer a part wants: in its own lines.

    "We will get back to you within 2 days" does not say when the refund comes. A time or an
    amount may stand anywhere else (often in a list of its own). A reason must be given about the
    thing asked: "because" in a paragraph on something else does not answer "why", so only the
    sentences sharing the part's words, and their neighbours, count.
    """
    sentences = exchange.own_lines
    if kind == "reason" and exchange.comparable and len(part.terms) >= PART_MIN_WORDS:
        about = {i for i, s in enumerate(sentences) if s.terms & part.terms}
        near = {j for i in about for j in (i - 1, i, i + 1) if 0 <= j < len(sentences)}
        sentences = [sentences[i] for i in sorted(near)]
    return "\n".join(s.text for s in sentences)


def gives(lexicon: Lexicon, kind: str, text: str) -> bool:
    """Whether a text holds the kind of answer: "time" (a date, time or duration), "amount", "reason"."""
    if lexicon.find(GIVES[kind], text):
        return True
    if kind == "time":
        return bool(DATE.search(text) or CLOCK.search(text) or DURATION.search(text))
    if kind == "amount":
        return bool(CURRENCY_AMOUNT.search(text) or PERCENT.search(text))
    return False


def concrete(text: str) -> bool:
    """Whether a text names a date, a clock time or an amount: the marks of a specific answer."""
    return any(pattern.search(text) for pattern in (DATE, CLOCK, CURRENCY_AMOUNT, PERCENT))


def used_details(exchange: Exchange) -> list[Detail]:
    """The customer's details that the reply uses in its own lines.

    A call-centre number repeated in "please call ..." is not a use.
    """
    text = "\n".join(s.text for s in exchange.own_lines)
    keys = {d.key for d in exchange.reply_details}
    stream = _alnum(text)
    words = {w.lower() for w in WORD.findall(text)}
    used = []
    for detail in exchange.details:
        if detail.kind == "place":
            found = detail.key in words
        elif detail.kind in ("amount", "date"):
            found = detail.key in keys
        else:  # a number or code, written with or without its separators
            found = detail.key in keys or (len(detail.key) >= 4 and detail.key in stream)
        if found:
            used.append(detail)
    return used


def asks_for_details(exchange: Exchange) -> list[str]:
    return exchange.lexicon.find(DETAIL_REQUEST, exchange.reply_body)


def cosine(a: frozenset[str], b: frozenset[str]) -> float:
    """Cosine of two sets of words (as binary vectors)."""
    if not a or not b:
        return 0.0
    return len(a & b) / math.sqrt(len(a) * len(b))


# ---------------------------------------------------------------------------------------------
# Reading a reply and its question
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionReading:
    """What the checks read from one customer message, whichever reply answers it."""

    lang: str
    parts: tuple[Part, ...]
    terms: frozenset[str]  # subject and body
    details: tuple[Detail, ...]
    thanks: bool  # says thank you somewhere


class ExchangeReader:
    """Reads for the reply checks, each distinct text once: a question several replies answer, a
    template sentence many replies share, an identifier a contact and a check both look for.

    Readings are kept while the current or the previous generation uses them (next_generation):
    a reader kept between derivations holds what the last two read, not every text it met.
    """

    def __init__(self, ruleset: Ruleset, models: LanguageModels, identify: Identify | None = None) -> None:
        self.ruleset = ruleset
        self.models = models
        self.lexicon = build_lexicon(ruleset)
        self.identify = identify or IdentifierReader(ruleset)
        self._sentences: GenerationalMemo[tuple[str, str], tuple[frozenset[str], bool]] = GenerationalMemo()
        self._questions: GenerationalMemo[tuple[str, str, str, str, str], QuestionReading] = GenerationalMemo()
        self._details: GenerationalMemo[str, tuple[Detail, ...]] = GenerationalMemo()
        self._subjects: GenerationalMemo[tuple[str, str], frozenset[str]] = GenerationalMemo()

    def next_generation(self) -> None:
        """Start a generation of every memo (the identifier reader is its owner's to renew)."""
        for memo in (self._sentences, self._questions, self._details, self._subjects):
            memo.next_generation()

    def size(self) -> int:
        """How many readings are kept (no __len__: an empty reader must stay truthy for `reader or ...`)."""
        return sum(len(memo) for memo in (self._sentences, self._questions, self._details, self._subjects))

    def sentences(self, text: str, lang: str) -> list[Sentence]:
        """read_sentences of the text's body, analysing only sentences not seen before."""
        pieces = sentence_pieces(body_of(text, self.lexicon))
        known: dict[str, tuple[frozenset[str], bool]] = {}
        new: list[str] = []
        for piece in dict.fromkeys(p for p, _, _ in pieces):
            found = self._sentences.get((piece, lang))
            if found is None:
                new.append(piece)
            else:
                known[piece] = found
        for piece, analysed in zip(new, self.models.analyse_many(new, lang) if new else [], strict=True):
            terms = content_terms(analysed.tokens, analysed.lemmas, self.lexicon)
            known[piece] = self._sentences.put((piece, lang), (terms, _formula(piece, self.lexicon)))
        read = [(p, paragraph, item, *known[p]) for p, paragraph, item in pieces]
        return [Sentence(p, terms, paragraph, item, formula) for p, paragraph, item, terms, formula in read]

    def _subject_terms(self, subject: str, lang: str) -> frozenset[str]:
        return self._subjects.get_or_make((subject, lang), lambda key: _terms(*key, self.lexicon, self.models))

    def details(self, text: str) -> tuple[Detail, ...]:
        return self._details.get_or_make(text, lambda key: tuple(details_in(key, self.ruleset, self.identify)))

    def question(self, question: MessageView) -> QuestionReading:
        key = (question.message_id, question.text, question.subject, question.subject_norm, question.lang)
        return self._questions.get_or_make(key, lambda _: self._read_question(question))

    def _read_question(self, question: MessageView) -> QuestionReading:
        lang = language_of(question)
        sentences = self.sentences(question.text, lang)
        terms = set().union(*(s.terms for s in sentences))
        terms.update(self._subject_terms(question.subject_norm or question.subject, lang))
        return QuestionReading(
            lang=lang,
            parts=tuple(find_parts(question.message_id, sentences, self.lexicon)),
            terms=frozenset(terms),
            details=self.details(question.text),
            thanks=bool(self.lexicon.find(THANKS, question.text)),
        )


def read_exchange(
    reply: MessageView,
    questions: Sequence[MessageView],
    ruleset: Ruleset,
    models: LanguageModels,
    reader: ExchangeReader | None = None,
) -> Exchange:
    """Split, lemmatise and extract once: sentences, the question's parts, the details on both sides."""
    reader = reader or ExchangeReader(ruleset, models)
    reply_lang = language_of(reply)
    reply_sentences = reader.sentences(reply.text, reply_lang)
    readings = [reader.question(q) for q in questions]
    details: dict[str, Detail] = {}
    for reading in readings:
        for detail in reading.details:
            details.setdefault(detail.key, detail)
    parts = tuple(part for reading in readings for part in reading.parts)
    own_text = "\n".join(s.text for s in reply_sentences if not s.formula)
    return Exchange(
        reply=reply,
        questions=tuple(questions),
        lexicon=reader.lexicon,
        comparable={r.lang for r in readings} == {reply_lang},
        reply_sentences=tuple(reply_sentences),
        question_terms=frozenset().union(*(r.terms for r in readings)),
        parts=parts,
        details=tuple(details.values()),
        reply_details=reader.details(own_text),
        thanks_only=not parts and any(r.thanks for r in readings),
    )


def build_lexicon(ruleset: Ruleset) -> Lexicon:
    phrases = {name: _phrase_list(_all_languages(ruleset, name)) for name in PHRASE_LISTS}
    generic = frozenset(w.lower() for w in _all_languages(ruleset, GENERIC_WORDS))
    return Lexicon(phrases, generic)


def language_of(view: MessageView) -> str:
    return view.lang if view.lang in PIPELINE_LANGS else guess_language(view.text)


def body_of(text: str, lexicon: Lexicon) -> str:
    """The text without its greeting line, its sign-off ("Kind regards,") and what follows it."""
    lines = text.strip().splitlines()
    if lines and len(lines[0].split()) <= 8 and lexicon.starts(GREETING, lines[0]):
        lines = lines[1:]
    for index in range(len(lines) - 1, max(-1, len(lines) - 9), -1):
        if lexicon.whole(SIGN_OFF, lines[index].strip().rstrip(",.!")):
            lines = lines[:index]
            break
    while lines and (not lines[-1].strip() or NAME_LINE.fullmatch(lines[-1].strip())):
        lines.pop()  # a closing name or company line
    return "\n".join(lines).strip()


def read_sentences(text: str, lang: str, lexicon: Lexicon, models: LanguageModels) -> list[Sentence]:
    """Sentences by paragraph and list item, with their content lemmas and whether they are formula."""
    pieces = sentence_pieces(text)
    if not pieces:
        return []
    analysed = models.analyse_many([text for text, _, _ in pieces], lang)
    return [
        Sentence(piece, content_terms(a.tokens, a.lemmas, lexicon), paragraph, item, formula=_formula(piece, lexicon))
        for (piece, paragraph, item), a in zip(pieces, analysed, strict=True)
    ]


def sentence_pieces(text: str) -> list[tuple[str, int, int]]:
    """(sentence, paragraph, list item: 1 opens one, 2 goes on in one, 0 none) of a text."""
    pieces: list[tuple[str, int, int]] = []
    for paragraph, block in enumerate(re.split(r"\n\s*\n", text)):
        for line in block.splitlines():
            listed = LIST_MARKER.match(line) is not None
            split = split_sentences(LIST_MARKER.sub("", line).strip())
            pieces.extend((s, paragraph, (2 if i else 1) if listed else 0) for i, s in enumerate(split))
    return pieces


def _formula(piece: str, lexicon: Lexicon) -> bool:
    """A courtesy, redirect or acknowledgement line."""
    return any(lexicon.find(name, piece) for name in (COURTESY, DEFLECTION, AUTO_ACK))


def split_sentences(line: str) -> list[str]:
    sentences: list[str] = []
    for piece in (p.strip() for p in SENTENCE_END.split(line)):
        if sentences and ABBREVIATION.search(sentences[-1]):
            sentences[-1] += " " + piece
        elif piece:
            sentences.append(piece)
    return sentences


def content_terms(tokens: Sequence[str], lemmas: Sequence[str], lexicon: Lexicon) -> frozenset[str]:
    """Lemmas that carry meaning: no function words, generic support words, punctuation or short numbers."""
    found = set()
    for token, lemma in zip(tokens, lemmas, strict=True):
        if token in lexicon.generic or lemma in lexicon.generic:
            continue
        if (lemma.isalpha() and len(lemma) > 2) or (lemma.isdigit() and len(lemma) >= 2):
            found.add(lemma)
    return frozenset(found)


def find_parts(message_id: str, sentences: Sequence[Sentence], lexicon: Lexicon) -> list[Part]:
    """Sentences that ask or request something, and the items of a list one opens ("We would like:").

    A part with few words borrows those of the sentence before it ("... Can you check?").
    """
    parts = []
    listing = False
    for index, sentence in enumerate(sentences):
        text = sentence.text
        cued = "?" in text or lexicon.starts(QUESTION_CUES, text) or bool(lexicon.find(REQUEST_CUES, text))
        if sentence.item == 0:
            listing = text.endswith(":") and (cued or bool(lexicon.find(LIST_INTRO, text)))
            if listing:
                continue  # the list's items are the parts
        if not cued and not (listing and sentence.item == 1):
            continue
        terms = sentence.terms
        before = sentences[index - 1] if index else None
        if len(terms) < 2 and before is not None and before.paragraph == sentence.paragraph:
            terms = terms | before.terms
        wants = tuple(kind for kind, name in ASKS.items() if lexicon.find(name, text))
        parts.append(Part(message_id, text, terms, wants))
    return parts


def details_in(text: str, ruleset: Ruleset, identify: Identify | None = None) -> list[Detail]:
    """Specifics in a text: identifiers (rules/identifiers.toml), amounts, dates, long numbers,
    codes and model names (F670L, C-087), street and village names."""
    identified = identify(text) if identify is not None else find_identifiers(text, ruleset)
    found = [Detail(name, value, value) for name, value in sorted(identified)]
    if DIGIT.search(text):  # amounts, dates, numbers and codes all have digits
        found += _numeric_details(text)
    for match in PLACE.finditer(text):
        found.append(Detail("place", match.group(0), match.group(1).split()[0].lower()))
    unique: dict[str, Detail] = {}
    for detail in found:
        unique.setdefault(detail.key, detail)
    return list(unique.values())


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def _numeric_details(text: str) -> list[Detail]:
    """Amounts, then dates, long numbers and codes, each in what the kinds before it left."""
    found = []
    amounts = list(CURRENCY_AMOUNT.finditer(text))
    for match in amounts:
        value = _amount_value(match)
        if value is not None:
            found.append(Detail("amount", match.group(0).strip().rstrip(".,"), f"amount:{value}"))
    rest = _blanked(text, amounts)
    dates = list(DATE.finditer(rest))
    for match in dates:
        key = _date_key(match)
        if key:
            found.append(Detail("date", match.group(0).strip(), key))
    rest = _blanked(rest, dates)
    for match in DIGIT_RUN.finditer(rest):
        digits = re.sub(r"\D", "", match.group(0))
        if len(digits) >= LONG_NUMBER:
            found.append(Detail("number", match.group(0), digits))
    rest = DIGIT_RUN.sub(lambda m: " " if sum(c.isdigit() for c in m[0]) >= LONG_NUMBER else m[0], rest)
    # A code has two digits or more (_is_code): the filter spares a Python call per word.
    for token in filter(TWO_DIGITS.search, CODE.findall(rest)):
        token = token.lstrip("#")
        if _is_code(token):
            found.append(Detail("code", token, _alnum(token)))
    return found


def _blanked(text: str, matches: Sequence[re.Match[str]]) -> str:
    """The text with each match replaced by a space: pattern.sub(" ", text) without a second search."""
    pieces = []
    end = 0
    for match in matches:
        pieces += [text[end : match.start()], " "]
        end = match.end()
    pieces.append(text[end:])
    return "".join(pieces)


def _all_languages(ruleset: Ruleset, name: str) -> tuple[str, ...]:
    """A phrase list with its languages merged: mixed-language mail uses both."""
    return tuple(p for _, items in sorted(ruleset.phrase_list(name).items()) for p in items)


# The checks look up several phrase lists in one sentence in a row (courtesy, redirect and
# acknowledgement; question and request cues; what it asks for): it is cut, and its distinct
# words are collected, once for all of them.
@lru_cache(maxsize=256)
def _words(text: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """A text cut as phrases are, and its distinct words."""
    words = tuple(TOKEN.findall(text.lower()))
    return words, frozenset(words)


@lru_cache(maxsize=64)
def _phrase_list(phrases: tuple[str, ...]) -> PhraseList:
    return PhraseList(phrases)


def _terms(text: str, lang: str, lexicon: Lexicon, models: LanguageModels) -> frozenset[str]:
    if not text.strip():
        return frozenset()
    analysed = models.analyse(text, lang)
    return content_terms(analysed.tokens, analysed.lemmas, lexicon)


def _alnum(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", text).upper()


def _is_code(token: str) -> bool:
    """A token that names one thing: an order or ticket code, a model, an error code (A55, C-087)."""
    digits = sum(map(str.isdigit, token))
    if digits < 2 or not any(c.isupper() for c in token) or UNIT_LIKE.match(token):
        return False
    return token[0].isalpha() or digits >= 3


def _amount_value(match: re.Match[str]) -> int | None:
    """Rp 1.200.000, IDR 1,200,000, 1,2 juta and 1200 ribu are all 1200000."""
    number = (match.group(1) or match.group(3) or "").rstrip(".,")
    scale = SCALES.get((match.group(2) or match.group(4) or "").lower(), 1.0)
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", number):  # thousands separators
        return round(float(re.sub(r"[.,]", "", number)) * scale)
    try:
        return round(float(number.replace(",", ".")) * scale)  # a decimal: 6,5 juta, 1.5 million
    except ValueError:
        return None


def _date_key(match: re.Match[str]) -> str | None:
    """A date as month-day, however written: 5 Oktober, October 5th, 05/10/2026."""
    if match.group(1):
        day, month = int(match.group(1)), MONTHS.get(match.group(2).lower(), 0)
    elif match.group(3):
        day, month = int(match.group(4)), MONTHS.get(match.group(3).lower(), 0)
    else:
        day, month = int(match.group(5)), int(match.group(6))
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        return None
    return f"date:{month:02d}-{day:02d}"


def _minutes(delay: timedelta) -> str:
    minutes = max(0, round(delay.total_seconds() / 60))
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


def _quote_list(items: Iterable[str]) -> str:
    return ", ".join(f"'{item}'" for item in items)


def _shorten(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _describe(verdict: PartVerdict) -> str:
    if verdict.engaged and verdict.missing:
        return f"'{_shorten(verdict.part.text)}' ({', '.join(WANTED[w] for w in verdict.missing)} given)"
    return f"'{_shorten(verdict.part.text)}'"


def _evidence_of(verdict: PartVerdict) -> dict[str, object]:
    return {
        "part": verdict.part.text,
        "message": verdict.part.message_id,
        "taken_up": verdict.engaged,
        "shared_words": sorted(verdict.shared),
        "part_words": sorted(verdict.part.terms),
        "missing": [WANTED[w] for w in verdict.missing],
    }


def _flag(exchange: Exchange, kind: str, severity: str, explanation: str, **evidence: object) -> Flag:
    return Flag(kind, exchange.reply.id, severity, explanation, evidence, exchange.related)

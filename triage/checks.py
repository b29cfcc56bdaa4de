"""Reply checks: does an outgoing reply address its question? One small pure function per check."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from triage.language import PIPELINE_LANGS, LanguageModels, guess_language
from triage.model import Direction, Flag, MessageView
from triage.rules import Ruleset

# Phrase lists under rules/phrases/ (one file each, `en = [...]`, `id = [...]`).
DEFLECTION = "deflection"
AUTO_ACK = "auto-ack"
DETAIL_REQUEST = "detail-request"
COURTESY = "courtesy"
GREETING = "greeting"
SIGN_OFF = "sign-off"
QUESTION_CUES = "question-cues"
REQUEST_CUES = "request-cues"
ASKS = {"time": "asks-time", "amount": "asks-amount", "reason": "asks-reason"}
GIVES = {"time": "gives-time", "amount": "gives-amount", "reason": "gives-reason"}
LIST_INTRO = "list-intro"
GENERIC_WORDS = "generic-words"

# A reply this soon after its question was written by a machine, not read by a person.
AUTO_ACK_WINDOW = timedelta(minutes=10)
# Content words a reply must share with the question outside courtesy, redirect and
# acknowledgement lines before it counts as saying something about it.
SUBSTANCE_MIN = 3
# A reply sharing this many content words with the question speaks to this case in its own words.
SPECIFIC_MIN = 4
# Cosine of content words under which a reply on other topics is off-topic.
OFF_TOPIC_MAX_SIMILARITY = 0.08
# A part of the question with this many content words, none of them in the reply, is left out.
PART_MIN_WORDS = 3

WANTED = {"time": "no date or time", "amount": "no amount", "reason": "no reason"}

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
LIST_MARKER = re.compile(r"^\s*(?:[-*•]|\(?\d{1,2}[.)]|[a-z][.)])\s+", re.IGNORECASE)
WORD = re.compile(r"[^\W_]+", re.UNICODE)
NAME_LINE = re.compile(r"(?:[A-Z&][\w&'.-]*\s?){1,5}")

CURRENCY_AMOUNT = re.compile(
    r"(?:\b(?:rp|idr|usd|sgd|eur)\.?\s?|\$\s?)(\d[\d.,]*)(?:\s?(ribu|rb|juta|jt|thousand|million|k)\b)?"
    r"|\b(\d[\d.,]*)\s?(ribu|rb|juta|jt|thousand|million|rupiah)\b",
    re.IGNORECASE,
)
PERCENT = re.compile(r"\d\s?%")
MONTHS = {
    **{m: i + 1 for i, m in enumerate(
        "january february march april may june july august september october november december".split())},
    **{m: i + 1 for i, m in enumerate(
        "januari februari maret april mei juni juli agustus september oktober november desember".split())},
    **{m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())},
    "sept": 9, "agu": 8, "agt": 8, "okt": 10, "des": 12, "mei": 5,
}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
DATE = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH})\b\.?"
    rf"|\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b"
    r"|\b(\d{1,2})[/-](\d{1,2})[/-](?:\d{2}|\d{4})\b",
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
DIGIT_RUN = re.compile(r"\d[\d .\-]{4,}\d")
CODE = re.compile(r"#?[A-Za-z0-9][A-Za-z0-9/_.\-]*[A-Za-z0-9]")
UNIT_LIKE = re.compile(
    r"^\d+(?:st|nd|rd|th|am|pm|x\d+|k|gb|mb|tb|mbps|gbps|kbps|ms|m|km|cm|mm|jt|rb|h|hr|hrs|g|w|kg|s)?$",
    re.IGNORECASE,
)
PLACE = re.compile(
    r"\b(?i:jl|jln|jalan|perum|perumahan|kel|kelurahan|kec|kecamatan|desa|kampung|cluster|apartemen|"
    r"apartment|tower|komplek|kompleks|gg|gang)\b\.?[ \t]+([A-Z][\w'-]+(?:[ \t]+[A-Z][\w'-]+){0,2})"
)


# ---------------------------------------------------------------------------------------------
# The pieces the checks look at: sentences, parts of the question, details given
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sentence:
    text: str
    terms: frozenset[str]  # content lemmas
    paragraph: int
    item: int = 0  # 1: opens a list item ("1. ...", "- ..."), 2: goes on in one, 0: not in a list


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
    shared: frozenset[str]
    missing: tuple[str, ...]  # kinds of answer wanted and not given
    engaged: bool

    @property
    def answered(self) -> bool:
        return self.engaged and not self.missing


@dataclass(frozen=True)
class Lexicon:
    """The phrase lists the checks use, compiled once per rules version."""

    phrases: dict[str, re.Pattern[str] | None]
    generic: frozenset[str]

    def find(self, name: str, text: str) -> list[str]:
        pattern = self.phrases.get(name)
        if pattern is None:
            return []
        return sorted({m.group(0).lower() for m in pattern.finditer(text)})

    def starts(self, name: str, text: str) -> bool:
        pattern = self.phrases.get(name)
        return pattern is not None and pattern.match(text.strip()) is not None


@dataclass(frozen=True)
class Exchange:
    """A reply and the question(s) it answers, read once for all checks."""

    reply: MessageView
    questions: tuple[MessageView, ...]
    lexicon: Lexicon
    comparable: bool  # same language: lemma overlap means something
    reply_sentences: tuple[Sentence, ...]
    question_sentences: tuple[Sentence, ...]
    question_terms: frozenset[str]  # subject and body
    parts: tuple[Part, ...]
    details: tuple[Detail, ...]

    @property
    def reply_body(self) -> str:
        return "\n".join(s.text for s in self.reply_sentences)

    @property
    def related(self) -> tuple[str, ...]:
        return tuple(q.message_id for q in self.questions)

    def substantive_sentences(self) -> list[Sentence]:
        """Reply sentences that are not courtesy, redirect or acknowledgement lines."""
        skip = (COURTESY, DEFLECTION, AUTO_ACK)
        return [s for s in self.reply_sentences if not any(self.lexicon.find(n, s.text) for n in skip)]

    def reply_terms(self) -> frozenset[str]:
        return frozenset().union(*(s.terms for s in self.reply_sentences))

    def substance(self) -> frozenset[str]:
        """Content words the reply shares with the question outside courtesy and redirect lines.

        Words of those lines are left out everywhere: the company's name in "Thank you for
        contacting ..." is in the question too, and says nothing about it.
        """
        substantive = self.substantive_sentences()
        terms = frozenset().union(*(s.terms for s in substantive))
        formula = frozenset().union(*(s.terms for s in self.reply_sentences if s not in substantive))
        return (terms - formula) & self.question_terms


# ---------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------


def check_reply(
    reply: MessageView, questions: Sequence[MessageView], ruleset: Ruleset, models: LanguageModels
) -> list[Flag]:
    """Every reply check for one outgoing reply and the customer message(s) it answers."""
    if reply.direction is not Direction.OUT or not questions:
        return []
    exchange = read_exchange(reply, questions, ruleset, models)
    acknowledgement = find_auto_ack(exchange)
    if acknowledgement:
        return acknowledgement  # an automatic receipt is not an answer: judging its content adds noise
    return [
        *find_deflection(exchange),
        *find_off_topic(exchange),
        *find_partial_answer(exchange),
        *find_ignored_details(exchange),
    ]


def find_auto_ack(exchange: Exchange) -> list[Flag]:
    """auto-ack: an automatic receipt (automated or sent within minutes) with no answer in it."""
    reply = exchange.reply
    delay = reply.date - max(q.date for q in exchange.questions)
    quick = timedelta(0) <= delay <= AUTO_ACK_WINDOW
    if not (reply.automated or quick):
        return []
    phrases = exchange.lexicon.find(AUTO_ACK, exchange.reply_body)
    if not phrases:
        return []
    substance = exchange.substance()
    used = used_details(exchange)
    if len(substance) >= SUBSTANCE_MIN or used:
        return []
    why = f"marked automated ({reply.automated})" if reply.automated else f"sent {_minutes(delay)} after the question"
    return [
        _flag(
            exchange, "auto-ack", "low",
            f"An automatic acknowledgement ({why}) with no answer: the customer still waits for a reply.",
            phrases=phrases, automated=reply.automated, delay_minutes=round(delay.total_seconds() / 60, 1),
            shared_words=sorted(substance),
        )
    ]


def find_deflection(exchange: Exchange) -> list[Flag]:
    """deflection: the reply sends the customer elsewhere and says little else about the question."""
    phrases = exchange.lexicon.find(DEFLECTION, exchange.reply_body)
    if not phrases:
        return []
    substance = exchange.substance()
    if len(substance) >= SUBSTANCE_MIN or used_details(exchange) or asks_for_details(exchange):
        return []
    return [
        _flag(
            exchange, "deflection", "high",
            f"The reply only redirects the customer ({_quote_list(phrases)}) instead of answering the question.",
            phrases=phrases, shared_words=sorted(substance),
        )
    ]


def find_off_topic(exchange: Exchange) -> list[Flag]:
    """off-topic: other topics than the question and little shared meaning with it."""
    asked = set().union(*(q.topics for q in exchange.questions))
    if not asked or not exchange.comparable:
        return []
    answered = set(exchange.reply.topics)
    if asked & answered:
        return []
    similarity = cosine(exchange.question_terms, exchange.reply_terms())
    if similarity >= OFF_TOPIC_MAX_SIMILARITY:
        return []
    topics = ", ".join(sorted(answered)) or "no topic"
    return [
        _flag(
            exchange, "off-topic", "high",
            f"The reply is about {topics} but the question was about {', '.join(sorted(asked))}, "
            f"and they share almost no words (similarity {similarity:.2f}).",
            question_topics=sorted(asked), reply_topics=sorted(answered), similarity=round(similarity, 3),
        )
    ]


def find_partial_answer(exchange: Exchange) -> list[Flag]:
    """partial-answer: parts of the question (or the kind of answer they need) left out."""
    verdicts = judge_parts(exchange)
    left_out = [v for v in verdicts if not v.answered]
    wrong_kind = [v for v in left_out if v.missing]
    touched = [v for v in verdicts if v.shared]
    if not wrong_kind and not (left_out and touched):
        return []  # nothing asked for a kind of answer, and no sign the reply took up any part
    answered = len(verdicts) - len(left_out)
    described = "; ".join(_describe(v) for v in left_out)
    count = f"{len(left_out)} of the {len(verdicts)} things" if len(verdicts) > 1 else "what"
    return [
        _flag(
            exchange, "partial-answer", "medium" if answered else "high",
            f"The reply leaves out {count} the customer asked: {described}.",
            left_out=[_evidence_of(v) for v in left_out],
            answered=[v.part.text for v in verdicts if v.answered],
        )
    ]


def find_ignored_details(exchange: Exchange) -> list[Flag]:
    """ignored-details: the customer gave specifics; the reply uses none, asks for none, says nothing specific."""
    if not exchange.details or used_details(exchange) or asks_for_details(exchange):
        return []
    substance = exchange.substance()
    own = [d for s in exchange.substantive_sentences() for d in details_in(s.text, exchange.lexicon)]
    if len(substance) >= SPECIFIC_MIN or own:
        return []  # a reply about this case in its own words and numbers has read the details
    given = [f"{d.kind} {d.text}" for d in exchange.details]
    return [
        _flag(
            exchange, "ignored-details", "medium" if len(given) >= 3 else "low",
            f"The customer gave {_quote_list(given[:4])}, but the reply uses none of it, asks for nothing "
            "and says nothing specific to this case.",
            ignored=[{"kind": d.kind, "text": d.text} for d in exchange.details], shared_words=sorted(substance),
        )
    ]


# ---------------------------------------------------------------------------------------------
# Judgements shared by the checks
# ---------------------------------------------------------------------------------------------


def judge_parts(exchange: Exchange) -> list[PartVerdict]:
    """For each part of the question: does the reply engage with it and give the kind of answer?"""
    reply_terms = frozenset().union(*(s.terms for s in exchange.substantive_sentences()))
    body = exchange.reply_body
    verdicts = []
    for part in exchange.parts:
        shared = part.terms & reply_terms
        # Too few words to compare (or two languages): give the reply the benefit of the doubt.
        engaged = bool(shared) or not exchange.comparable or len(part.terms) < PART_MIN_WORDS
        missing = tuple(
            w for w in part.wants
            if not gives(exchange.lexicon, w, near_part(exchange, part) if w == "reason" else body)
        )
        verdicts.append(PartVerdict(part, shared, missing, engaged))
    return verdicts


def near_part(exchange: Exchange, part: Part) -> str:
    """The reply sentences about a part (sharing its words) and their neighbours.

    A reason must be given for the thing asked about: "because" in a paragraph about something
    else does not answer "why". With too few words to compare, the whole reply counts.
    """
    sentences = exchange.reply_sentences
    if not exchange.comparable or len(part.terms) < PART_MIN_WORDS:
        return exchange.reply_body
    about = {i for i, s in enumerate(sentences) if s.terms & part.terms}
    near = {j for i in about for j in (i - 1, i, i + 1) if 0 <= j < len(sentences)}
    return "\n".join(sentences[i].text for i in sorted(near))


def gives(lexicon: Lexicon, kind: str, text: str) -> bool:
    """Whether a text holds the kind of answer: a time or date, an amount, a reason."""
    if lexicon.find(GIVES[kind], text):
        return True
    if kind == "time":
        return bool(DATE.search(text) or CLOCK.search(text) or DURATION.search(text))
    if kind == "amount":
        return bool(CURRENCY_AMOUNT.search(text) or PERCENT.search(text))
    return False


def used_details(exchange: Exchange) -> list[Detail]:
    """The customer's specifics that appear again in the reply."""
    # Only what the reply says of its own: a call-centre number in "please call ..." is not a use.
    text = "\n".join(s.text for s in exchange.substantive_sentences())
    keys = {d.key for d in details_in(text, exchange.lexicon)}
    stream = _alnum(text)
    words = {w.lower() for w in WORD.findall(text)}
    used = []
    for detail in exchange.details:
        if detail.key in keys:
            used.append(detail)
        elif detail.kind in ("number", "code") and len(detail.key) >= 4 and detail.key in stream:
            used.append(detail)
        elif detail.kind == "place" and detail.key in words:
            used.append(detail)
    return used


def asks_for_details(exchange: Exchange) -> list[str]:
    return exchange.lexicon.find(DETAIL_REQUEST, exchange.reply_body)


def cosine(a: frozenset[str], b: frozenset[str]) -> float:
    """Cosine of two sets of words (binary vectors)."""
    if not a or not b:
        return 0.0
    return len(a & b) / math.sqrt(len(a) * len(b))


# ---------------------------------------------------------------------------------------------
# Reading a reply and its question
# ---------------------------------------------------------------------------------------------


def read_exchange(
    reply: MessageView, questions: Sequence[MessageView], ruleset: Ruleset, models: LanguageModels
) -> Exchange:
    """Split, lemmatise and extract once: sentences, question parts and the details given."""
    lexicon = build_lexicon(ruleset)
    reply_lang = language_of(reply)
    reply_sentences = read_sentences(body_of(reply.text, lexicon), reply_lang, lexicon, models)
    question_sentences: list[Sentence] = []
    parts: list[Part] = []
    details: list[Detail] = []
    question_terms: set[str] = set()
    languages = set()
    for question in questions:
        lang = language_of(question)
        languages.add(lang)
        sentences = read_sentences(body_of(question.text, lexicon), lang, lexicon, models)
        question_sentences.extend(sentences)
        parts.extend(find_parts(question.message_id, sentences, lexicon))
        question_terms.update(*(s.terms for s in sentences))
        question_terms.update(_terms(models, question.subject_norm or question.subject, lang, lexicon))
        details.extend(d for d in details_in(question.text, lexicon, ruleset) if d.key not in {x.key for x in details})
    return Exchange(
        reply=reply,
        questions=tuple(questions),
        lexicon=lexicon,
        comparable=languages == {reply_lang},
        reply_sentences=tuple(reply_sentences),
        question_sentences=tuple(question_sentences),
        question_terms=frozenset(question_terms),
        parts=tuple(parts),
        details=tuple(details),
    )


def build_lexicon(ruleset: Ruleset) -> Lexicon:
    names = [DEFLECTION, AUTO_ACK, DETAIL_REQUEST, COURTESY, GREETING, SIGN_OFF, QUESTION_CUES, REQUEST_CUES,
             LIST_INTRO, *ASKS.values(), *GIVES.values()]
    phrases = {name: _phrase_pattern(_all_languages(ruleset, name)) for name in names}
    generic = frozenset(w.lower() for w in _all_languages(ruleset, GENERIC_WORDS))
    return Lexicon(phrases, generic)


def language_of(view: MessageView) -> str:
    return view.lang if view.lang in PIPELINE_LANGS else guess_language(view.text)


def body_of(text: str, lexicon: Lexicon) -> str:
    """The text without its opening greeting line and its closing sign-off and signature."""
    lines = text.strip().splitlines()
    if lines and len(lines[0].split()) <= 8 and lexicon.starts(GREETING, lines[0]):
        lines = lines[1:]
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index].strip().rstrip(",.!").strip()
        if line and len(lines) - index <= 8 and _is_sign_off(line, lexicon):
            lines = lines[:index]
            break
    while lines and (not lines[-1].strip() or NAME_LINE.fullmatch(lines[-1].strip())):
        lines.pop()  # a closing name or company line: "Sinar Jaya Net", "PT Contoh Indonesia"
    return "\n".join(lines).strip()


def read_sentences(text: str, lang: str, lexicon: Lexicon, models: LanguageModels) -> list[Sentence]:
    pieces: list[tuple[str, int, int]] = []
    for paragraph, block in enumerate(re.split(r"\n\s*\n", text)):
        for line in block.splitlines():
            listed = LIST_MARKER.match(line) is not None
            line = LIST_MARKER.sub("", line).strip()
            split = [s.strip() for s in SENTENCE_END.split(line) if s.strip()]
            pieces.extend((s, paragraph, (1 if i == 0 else 2) if listed else 0) for i, s in enumerate(split))
    if not pieces:
        return []
    analysed = models.analyse_many([p for p, _, _ in pieces], lang)
    return [
        Sentence(piece, content_terms(a.tokens, a.lemmas, lexicon), paragraph, item)
        for (piece, paragraph, item), a in zip(pieces, analysed, strict=True)
    ]


def content_terms(tokens: Sequence[str], lemmas: Sequence[str], lexicon: Lexicon) -> frozenset[str]:
    """Lemmas that carry meaning: not function words, not generic support words, not punctuation."""
    found = set()
    for token, lemma in zip(tokens, lemmas, strict=True):
        if token in lexicon.generic or lemma in lexicon.generic:
            continue
        if lemma.isalpha() and len(lemma) > 2 or lemma.isdigit() and len(lemma) >= 2:
            found.add(lemma)
    return frozenset(found)


def find_parts(message_id: str, sentences: Sequence[Sentence], lexicon: Lexicon) -> list[Part]:
    """Sentences that ask or request something, and the items of a list opened by one ("I'd like:").

    A short part borrows the words of the sentence before it ("Can you check?").
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
        if not (cued or (listing and sentence.item == 1)):
            continue
        terms = sentence.terms
        before = sentences[index - 1] if index else None
        if len(terms) < 2 and before is not None and before.paragraph == sentence.paragraph:
            terms = terms | before.terms
        wants = tuple(kind for kind, name in ASKS.items() if lexicon.find(name, text))
        parts.append(Part(message_id, text, terms, wants))
    return parts


def details_in(text: str, lexicon: Lexicon, ruleset: Ruleset | None = None) -> list[Detail]:
    """Specifics in a text: identifiers, amounts, dates, long numbers, codes and model names, places."""
    found: list[Detail] = []
    for identifier in ruleset.identifiers if ruleset else ():
        for match in identifier.compiled.finditer(text):
            found.append(Detail(identifier.name, match.group(0), _alnum(match.group(0))))
    rest = text
    for match in CURRENCY_AMOUNT.finditer(text):
        value = _amount_value(match)
        if value is not None:
            found.append(Detail("amount", match.group(0).strip(), f"amount:{value}"))
    rest = CURRENCY_AMOUNT.sub(" ", rest)
    for match in DATE.finditer(rest):
        key = _date_key(match)
        if key:
            found.append(Detail("date", match.group(0).strip(), key))
    rest = DATE.sub(" ", rest)
    for match in DIGIT_RUN.finditer(rest):
        digits = re.sub(r"\D", "", match.group(0))
        if len(digits) >= 8:
            found.append(Detail("number", match.group(0), digits))
    rest = DIGIT_RUN.sub(lambda m: " " if len(re.sub(r"\D", "", m.group(0))) >= 8 else m.group(0), rest)
    for match in CODE.finditer(rest):
        token = match.group(0).lstrip("#")
        if _is_code(token):
            found.append(Detail("code", token, _alnum(token)))
    for match in PLACE.finditer(text):
        found.append(Detail("place", match.group(0), match.group(1).split()[0].lower()))
    unique: dict[str, Detail] = {}
    for detail in found:
        unique.setdefault(detail.key, detail)
    return list(unique.values())


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def _all_languages(ruleset: Ruleset, name: str) -> tuple[str, ...]:
    """A phrase list with its languages merged: mixed-language mail uses both."""
    return tuple(p for lang, items in sorted(ruleset.phrase_list(name).items()) for p in items)


@lru_cache(maxsize=128)
def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex for a phrase list: case-insensitive, whole words, any whitespace between words."""
    if not phrases:
        return None
    alternatives = []
    for phrase in sorted(set(phrases), key=len, reverse=True):
        body = r"\s+".join(re.escape(word) for word in phrase.lower().split())
        left = r"(?<!\w)" if phrase[0].isalnum() else ""
        right = r"(?!\w)" if phrase[-1].isalnum() else ""
        alternatives.append(left + body + right)
    return re.compile("|".join(alternatives), re.IGNORECASE)


def _is_sign_off(line: str, lexicon: Lexicon) -> bool:
    pattern = lexicon.phrases.get(SIGN_OFF)
    return pattern is not None and pattern.fullmatch(line.lower()) is not None


def _terms(models: LanguageModels, text: str, lang: str, lexicon: Lexicon) -> frozenset[str]:
    if not text.strip():
        return frozenset()
    analysed = models.analyse(text, lang)
    return content_terms(analysed.tokens, analysed.lemmas, lexicon)


def _alnum(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", text).upper()


def _is_code(token: str) -> bool:
    """A token that names one thing: an order or ticket code, a model, an error code (A55, C-087)."""
    digits = sum(c.isdigit() for c in token)
    if digits < 2 or not any(c.isupper() for c in token) or UNIT_LIKE.match(token):
        return False
    return token[0].isalpha() or digits >= 3


def _amount_value(match: re.Match[str]) -> int | None:
    number = match.group(1) or match.group(3)
    scale_word = (match.group(2) or match.group(4) or "").lower()
    if not number:
        return None
    digits = number.rstrip(".,")
    # 1.200.000 / 1,200,000 -> thousands separators; 6,5 juta / 1.5 million -> decimals
    if re.fullmatch(r"\d{1,3}([.,]\d{3})+", digits):
        value = float(re.sub(r"[.,]", "", digits))
    else:
        try:
            value = float(digits.replace(",", "."))
        except ValueError:
            return None
    scale = {"ribu": 1e3, "rb": 1e3, "k": 1e3, "thousand": 1e3, "juta": 1e6, "jt": 1e6, "million": 1e6}
    return round(value * scale.get(scale_word, 1))


def _date_key(match: re.Match[str]) -> str | None:
    if match.group(1):
        day, month = int(match.group(1)), MONTHS.get(match.group(2).lower().rstrip("."))
    elif match.group(3):
        day, month = int(match.group(4)), MONTHS.get(match.group(3).lower().rstrip("."))
    else:
        day, month = int(match.group(5)), int(match.group(6))
    if not month or not 1 <= day <= 31 or not 1 <= month <= 12:
        return None
    return f"date:{month:02d}-{day:02d}"


def _minutes(delay: timedelta) -> str:
    minutes = max(0, round(delay.total_seconds() / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _quote_list(items: Iterable[str]) -> str:
    return ", ".join(f"'{item}'" for item in items)


def _describe(verdict: PartVerdict) -> str:
    text = _shorten(verdict.part.text)
    if verdict.engaged and verdict.missing:
        return f"'{text}' ({', '.join(WANTED[w] for w in verdict.missing)} given)"
    return f"'{text}'"


def _evidence_of(verdict: PartVerdict) -> dict[str, object]:
    return {
        "part": verdict.part.text,
        "engaged": verdict.engaged,
        "shared_words": sorted(verdict.shared),
        "part_words": sorted(verdict.part.terms),
        "missing": [WANTED[w] for w in verdict.missing],
    }


def _shorten(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _flag(exchange: Exchange, kind: str, severity: str, explanation: str, **evidence: object) -> Flag:
    return Flag(
        kind=kind,
        message=exchange.reply.id,
        severity=severity,
        explanation=explanation,
        evidence=evidence,
        related=exchange.related,
    )

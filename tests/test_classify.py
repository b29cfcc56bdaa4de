"""Classification on a small pack written here: lemmas, evidence, languages, thresholds."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from triage.classify import Classifier, Evidence
from triage.rules import load_rules

PACK = {
    "refund": """
[[topic]]
id = "refund"
title = "Refunds"
examples = ["the blender arrived broken so please return what I paid",
            "barang rusak, tolong uang saya dikembalikan"]
exclude = ["no refund needed"]
[topic.keywords]
en = ["refund", "money back"]
id = ["pengembalian dana"]
[[topic.regex]]
name = "refund-ref"
pattern = '\\bRF-\\d{4,}\\b'
""",
    "delivery": """
[[topic]]
id = "delivery"
title = "Delivery"
[topic.keywords]
en = ["parcel", "courier", "tracking number"]
id = ["paket", "kurir", "resi"]
[topic.hints]
en = ["late", "arrive"]
[[topic.patterns]]
name = "where-is-my-order"
pattern = [{LOWER = "where"}, {LEMMA = "be"}, {LOWER = "my"}, {LEMMA = "order"}]
weight = 1.0
[topic.headers]
subject = ["shipping"]
weight = 1.0
""",
}


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Classifier:
    folder = tmp_path_factory.mktemp("rules")
    (folder / "topics").mkdir()
    for name, text in PACK.items():
        (folder / "topics" / f"{name}.toml").write_text(text)
    (folder / "normalise").mkdir()
    (folder / "normalise" / "id.toml").write_text('[words]\nsy = "saya"\nblm = "belum"\npkt = "paket"\n')
    return Classifier(load_rules([folder]))


def test_keywords_match_inflected_forms_through_lemmas(classifier: Classifier) -> None:
    result = classifier.classify("", "Both items were refunded? I saw no refunds yet.", "en")
    assert result.topic_ids == ["refund"]
    assert any(e.kind == "keyword" and e.rule == "refund" for e in result.topics[0].evidence)


def test_indonesian_affixes_and_informal_words(classifier: Classifier) -> None:
    result = classifier.classify("", "sy blm terima pktnya, kurirnya gak datang", "id")
    assert result.topic_ids == ["delivery"]
    matched = {e.matched for e in result.topics[0].evidence}
    assert "kurirnya" in matched


def test_pengembalian_matches_dikembalikan_via_lemmas(classifier: Classifier) -> None:
    result = classifier.classify("", "dana saya belum dikembalikan, minta pengembalian dana segera", "id")
    assert "refund" in result.topic_ids


def test_patterns_regex_and_headers_are_evidence(classifier: Classifier) -> None:
    result = classifier.classify("shipping question", "Where is my order? Reference RF-20391", "en")
    kinds = {(hit.topic, e.kind) for hit in result.topics for e in hit.evidence}
    assert ("delivery", "pattern") in kinds
    assert ("delivery", "header") in kinds
    assert ("refund", "regex") in kinds


def test_one_hint_stays_under_the_threshold_and_two_reach_it(classifier: Classifier) -> None:
    result = classifier.classify("", "It is late, they said.", "en")
    assert result.topic_ids == []
    assert result.unclassified
    assert result.rejected and result.rejected[0].topic == "delivery"
    assert classifier.classify("", "It will arrive late, they said.", "en").topic_ids == ["delivery"]


def test_examples_classify_text_without_any_keyword(classifier: Classifier) -> None:
    result = classifier.classify("", "The blender arrived broken, please return what I paid for it", "en")
    assert result.topic_ids == ["refund"]
    assert result.topics[0].evidence[0].kind == "example"


def test_exclude_terms_drop_a_topic(classifier: Classifier) -> None:
    result = classifier.classify("", "The refund came through, no refund needed any more, thanks", "en")
    assert "refund" not in result.topic_ids


def test_automated_mail_gets_no_topics(classifier: Classifier) -> None:
    result = classifier.classify("", "Your refund is on its way", "en", automated="Precedence: bulk")
    assert result.topic_ids == [] and result.skipped == "Precedence: bulk"
    assert not result.unclassified


def test_other_languages_fall_back_to_a_plain_tokenizer(classifier: Classifier) -> None:
    result = classifier.classify("", "Ich warte noch auf mein Paket und die Rückerstattung", "other")
    assert result.plain_tokenizer
    assert result.lang == "other"


def test_quoted_text_is_not_passed_in(classifier: Classifier, tmp_path: Path) -> None:
    # The classifier only sees what the analyzer gives it: subject and new text.
    result = classifier.classify("hello", "Thanks, all good now.", "en")
    assert result.topic_ids == []


IGNORE_PACK = {
    "topics/refund.toml": PACK["refund"],
    "topics/delivery.toml": PACK["delivery"],
    "topics/cancellation.toml": """
[[topic]]
id = "cancellation"
title = "Cancellations"
[topic.keywords]
en = ["=cancel my"]
""",
    "ignore/not-support.toml": """
[[ignore]]
id = "thanks-only"
title = "Thank-you note"
weight = 2.0
exclude = ["?", "but", "still"]
[ignore.keywords]
en = ["thank", "works now"]
""",
    "settings.toml": "[classify]\nsecondary_share = 0.5\n",
}


@pytest.fixture(scope="module")
def with_ignore(tmp_path_factory: pytest.TempPathFactory) -> Classifier:
    folder = tmp_path_factory.mktemp("rules")
    for name, text in IGNORE_PACK.items():
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_text(text)
    return Classifier(load_rules([folder]))


def test_a_winning_ignore_rule_leaves_no_topics_and_says_why(with_ignore: Classifier) -> None:
    # The subject repeats the original question; ignore rules read the new text only.
    result = with_ignore.classify("where is my refund?", "It works now, thank you!", "en")
    assert result.topic_ids == []
    assert result.skipped is not None and result.skipped.startswith("ignore rule 'thanks-only'")
    assert not result.unclassified
    assert result.rejected[0].topic == "thanks-only"
    assert "thanks-only" not in result.scores


def test_an_open_question_vetoes_the_ignore_rule(with_ignore: Classifier) -> None:
    result = with_ignore.classify("", "Thanks for the answer, but where is my refund?", "en")
    assert result.topic_ids == ["refund"]
    assert all(hit.topic != "thanks-only" for hit in result.rejected)  # vetoed, not just outscored


def test_an_ignore_rule_must_outscore_the_topics_on_the_new_text(with_ignore: Classifier) -> None:
    text = "Refund, money back, refund RF-20391, refund policy aside; thanks"
    assert with_ignore.classify("", text, "en").topic_ids == ["refund"]


def test_a_second_topic_needs_its_share_of_the_best_score(with_ignore: Classifier) -> None:
    strong = "I want a refund, my money back, refund reference RF-20391. The parcel came."
    result = with_ignore.classify("", strong, "en")
    assert result.topic_ids == ["refund"]
    assert result.rejected[0].topic == "delivery" and result.rejected[0].score >= 1.0


def test_exact_keywords_match_the_word_form_not_its_lemma(with_ignore: Classifier) -> None:
    assert with_ignore.classify("", "Please cancel my plan from May.", "en").topic_ids == ["cancellation"]
    assert with_ignore.classify("", "I cancelled my plan in May.", "en").topic_ids == []


def test_evidence_is_stored_as_dataclasses_would_write_it() -> None:
    evidence = Evidence("keyword", "refund", "money back", 1.5)
    assert list(evidence.as_dict().items()) == list(asdict(evidence).items())  # same keys, order and values

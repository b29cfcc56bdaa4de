"""Classification on a small pack written here: lemmas, evidence, languages, thresholds."""

from __future__ import annotations

from pathlib import Path

import pytest

from triage.classify import Classifier
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

"""The shipped taxonomy on our own example messages: every topic, in English and in Indonesian."""

from __future__ import annotations

import pytest

from triage.classify import Classifier
from triage.rules import default_rules_dir, load_rules

CASES = [
    (
        "billing",
        "en",
        "Invoice question",
        "My bill this month is 40 dollars higher than my plan. Why was I charged extra?",
    ),
    (
        "billing",
        "id",
        "Tagihan",
        "Tagihan bulan ini kok lebih besar dari biasanya ya, padahal paket saya tidak berubah.",
    ),
    ("refund", "en", "Money back", "I cancelled the order before it shipped. When will I get my money back?"),
    ("refund", "id", "Dana belum kembali", "Pesanan sudah dibatalkan seminggu lalu tapi dana saya belum dikembalikan."),
    ("account-access", "en", "Can't log in", "I can't log in to my account, the password reset email never arrives."),
    ("account-access", "id", "Tidak bisa masuk", "Sy gak bisa login, kode OTP nya tidak pernah masuk ke HP saya."),
    ("cancellation", "en", "Cancel", "Please cancel my subscription at the end of this month, I am moving abroad."),
    (
        "cancellation",
        "id",
        "Berhenti langganan",
        "Saya mau berhenti berlangganan internet mulai bulan depan, bagaimana caranya?",
    ),
    ("delivery", "en", "Parcel", "My parcel was supposed to arrive on Monday and the tracking has not moved since."),
    ("delivery", "id", "Paket belum sampai", "Paket saya belum sampai juga kak, resi nya tidak update sejak 4 hari."),
    ("technical-issue", "en", "App crash", "The app crashes every time I open it on my phone, error code 503."),
    ("technical-issue", "id", "Internet mati", "Internet di rumah mati total sejak pagi, lampu modem berkedip merah."),
    ("document-request", "en", "Statement", "Could you send me an official statement of my account for the last year?"),
    (
        "document-request",
        "id",
        "Surat keterangan",
        "Saya ingin mengurus surat keterangan domisili, apa saja syaratnya?",
    ),
    (
        "service-complaint",
        "en",
        "Rude agent",
        "The agent I spoke to on the phone was rude and hung up on me. I want to complain.",
    ),
    (
        "service-complaint",
        "id",
        "Keluhan pelayanan",
        "Saya kecewa dengan pelayanan petugas di loket, antrian lama dan petugasnya ketus.",
    ),
    ("data-change", "en", "New address", "I moved house. Please update the address on my account to 12 Elm Street."),
    (
        "data-change",
        "id",
        "Ganti nomor HP",
        "Mohon ganti nomor HP yang terdaftar di akun saya, nomor lama sudah tidak aktif.",
    ),
    ("general-inquiry", "en", "Opening hours", "What are your opening hours on Saturdays?"),
    ("general-inquiry", "id", "Jam buka", "Kantor layanan buka jam berapa saja hari Sabtu?"),
]


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(load_rules([default_rules_dir()]))


@pytest.mark.parametrize(("topic", "lang", "subject", "text"), CASES)
def test_each_topic_in_each_language(classifier: Classifier, topic: str, lang: str, subject: str, text: str) -> None:
    result = classifier.classify(subject, text, lang)
    assert topic in result.topic_ids, result.scores


@pytest.mark.parametrize(
    "text",
    ["Thanks a lot, that fixed it!", "Makasih kak, sudah beres ya", "Unsubscribe from this newsletter: click here"],
)
def test_thanks_and_non_support_mail_get_no_topic(classifier: Classifier, text: str) -> None:
    assert classifier.classify("", text, None).topic_ids == []

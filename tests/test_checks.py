"""Reply checks on invented question/reply pairs, English and Indonesian: where each must fire and
where a good reply must stay silent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from triage.checks import (
    ExchangeReader,
    check_reply,
    details_in,
    find_auto_ack,
    find_deflection,
    find_ignored_details,
    find_off_topic,
    find_partial_answer,
    gives,
    read_exchange,
)
from triage.language import LanguageModels
from triage.model import FLAG_KINDS, Direction, Flag, MessageView
from triage.rules import Ruleset, default_rules_dir, load_rules

ASKED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def ruleset() -> Ruleset:
    return load_rules([default_rules_dir()])


@pytest.fixture(scope="module")
def models(ruleset: Ruleset) -> LanguageModels:
    return LanguageModels(ruleset.normalisation)


def question(text: str, lang: str = "en", topics: tuple[str, ...] = (), subject: str = "") -> MessageView:
    return MessageView(
        id=1,
        message_id="<q1@customer.example>",
        direction=Direction.IN,
        sender="ana@customer.example",
        recipients=("help@shop.example",),
        date=ASKED_AT,
        subject=subject,
        subject_norm=subject.lower(),
        in_reply_to=None,
        references=(),
        text=text,
        lang=lang,
        automated=None,
        topics=topics,
    )


def reply(
    text: str,
    lang: str = "en",
    topics: tuple[str, ...] = (),
    after: timedelta = timedelta(hours=3),
    automated: str | None = None,
) -> MessageView:
    return MessageView(
        id=2,
        message_id="<r1@shop.example>",
        direction=Direction.OUT,
        sender="help@shop.example",
        recipients=("ana@customer.example",),
        date=ASKED_AT + after,
        subject="Re: ",
        subject_norm="",
        in_reply_to="<q1@customer.example>",
        references=("<q1@customer.example>",),
        text=text,
        lang=lang,
        automated=automated,
        topics=topics,
    )


def kinds(flags: list[Flag]) -> list[str]:
    return sorted(f.kind for f in flags)


# ---------------------------------------------------------------------------------------------
# Good replies: no flag at all
# ---------------------------------------------------------------------------------------------

GOOD = {
    "en-delivery-and-address": (
        question(
            "Hello,\n\nI ordered a Tenda Nova MW6 mesh kit (order SHOP-88123) on 3 March and paid $45. The "
            "tracking has not moved for a week. When will it arrive? Also, can I change the delivery address "
            "to my office?\n\nThanks,\nBen",
            topics=("delivery",),
        ),
        reply(
            "Hi Ben,\n\nI checked order SHOP-88123: the courier missed the first scan, but the parcel is "
            "now at "
            "the Bandung hub and should reach you on Thursday 12 March. I have also changed the delivery "
            "address to your office at Jl. Asia Afrika 8, so the courier will bring it there.\n\n"
            "Kind regards,\nLia\nShop Support",
            topics=("delivery",),
        ),
    ),
    "id-billing-why": (
        question(
            "Selamat pagi, tagihan saya bulan ini Rp 520.000, padahal paket saya Rp 300.000 per bulan. "
            "Kenapa "
            "bisa naik? Nomor pelanggan 5512340987.\n\nTerima kasih,\nRina",
            lang="id",
            topics=("billing",),
        ),
        reply(
            "Halo Ibu Rina,\n\nTagihan Rp 520.000 bulan ini naik karena ada biaya kunjungan teknisi "
            "Rp 220.000 "
            "untuk penggantian kabel tanggal 2 Februari. Biaya itu hanya ditagih sekali, jadi bulan depan "
            "tagihan Ibu kembali Rp 300.000.\n\nSalam,\nBudi",
            lang="id",
            topics=("billing",),
        ),
    ),
    "en-how-much-and-when": (
        question(
            "Hi, how much does it cost to upgrade from 30 Mbps to 100 Mbps, and how long does the change "
            "take? My customer ID is 4410098812.",
            topics=("general-inquiry",),
        ),
        reply(
            "Hello,\n\nThe 100 Mbps plan is IDR 450,000 a month, IDR 175,000 more than your current plan, "
            "with "
            "no upgrade fee. Once you confirm, the new speed is switched on remotely within 2 hours.\n\n"
            "Best regards,\nDina",
            topics=("general-inquiry",),
        ),
    ),
    "id-list-of-questions": (
        question(
            "Selamat siang,\n\nSaya ingin menanyakan:\n"
            "1. Apa syarat membuat akta kelahiran untuk anak saya?\n"
            "2. Berapa lama akta kelahiran selesai dibuat?\n\nTerima kasih,\nSiti",
            lang="id",
            topics=("document-request",),
        ),
        reply(
            "Yth. Ibu Siti,\n\nSyarat akta kelahiran: surat keterangan lahir dari bidan atau rumah sakit, "
            "fotokopi buku nikah orang tua, dan Kartu Keluarga asli. Akta kelahiran selesai dalam 3 hari "
            "kerja setelah berkas lengkap diterima di loket.\n\nHormat kami,\nPetugas Pelayanan",
            lang="id",
            topics=("document-request",),
        ),
    ),
    "en-answer-with-a-redirect-at-the-end": (
        question(
            "Hello, I returned the blender from order SHOP-77120 two weeks ago. When will I get my refund of $30?",
            topics=("refund",),
        ),
        reply(
            "Hi,\n\nYour refund of $30 for order SHOP-77120 was approved yesterday and sent to your card; "
            "banks usually show it within 3 working days. For anything else, please call our hotline.\n\n"
            "Regards,\nTom",
            topics=("refund",),
        ),
    ),
    "id-asks-for-details": (
        question("Paket saya belum sampai, sudah seminggu. Tolong dicek ya.", lang="id", topics=("delivery",)),
        reply(
            "Halo Kak,\n\nMohon kirimkan nomor pesanan dan nama penerima, supaya kami bisa cek posisi "
            "paketnya "
            "di kurir.\n\nSalam,\nRatna",
            lang="id",
            topics=("delivery",),
        ),
    ),
    "en-fast-but-real-reply": (
        question(
            "My router shows a red LOS light since this morning. Customer ID 7720011234. Can you help?",
            topics=("technical-issue",),
        ),
        reply(
            "Hi,\n\nA red LOS light means no signal on the fibre. There is a cable cut in your street; our "
            "technicians are repairing it and expect to finish by 15:00 today. Your ticket number is "
            "T-55102.\n\nRegards,\nArif",
            after=timedelta(minutes=4),
            topics=("technical-issue",),
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_a_good_reply_gets_no_flag(name: str, ruleset: Ruleset, models: LanguageModels) -> None:
    asked, answer = GOOD[name]
    assert check_reply(answer, [asked], ruleset, models) == []


# ---------------------------------------------------------------------------------------------
# auto-ack
# ---------------------------------------------------------------------------------------------

ACK_EN = (
    "Hello,\n\nThank you for contacting us. We have received your message and created ticket number "
    "#HLP-20260302-0071. We will get back to you within 2 working days.\n\nThis is an automated message, "
    "please do not reply.\n\nShop Support"
)
ACK_ID = (
    "Pelanggan yang terhormat,\n\nPesan Anda telah kami terima dengan nomor tiket TK-0312-55. Keluhan Anda "
    "akan segera kami tindak lanjuti pada jam kerja.\n\nSalam,\nLayanan Pelanggan"
)
REFUND_QUESTION = question(
    "Hello,\n\nI returned the faulty headphones from order SHOP-99041 on 20 February and was told I would "
    "get "
    "$80 back within 7 days. It has been 10 days. When will the refund arrive?\n\nThanks,\nMaya",
    topics=("refund",),
)


def test_an_automated_receipt_is_auto_ack_and_nothing_else(ruleset: Ruleset, models: LanguageModels) -> None:
    flags = check_reply(reply(ACK_EN, automated="auto-submitted: auto-replied"), [REFUND_QUESTION], ruleset, models)
    assert kinds(flags) == ["auto-ack"]
    assert "we have received your message" in flags[0].evidence["phrases"]  # type: ignore[operator]


def test_a_receipt_sent_within_minutes_is_auto_ack(ruleset: Ruleset, models: LanguageModels) -> None:
    asked = question(
        "Internet saya mati sejak tadi malam, nomor pelanggan 7710220033. Kapan bisa diperbaiki?", lang="id"
    )
    flags = find_auto_ack(read_exchange(reply(ACK_ID, lang="id", after=timedelta(minutes=2)), [asked], ruleset, models))
    assert kinds(flags) == ["auto-ack"]
    assert flags[0].evidence["delay_minutes"] == 2.0


def test_the_same_template_hours_later_by_a_person_is_not_auto_ack(ruleset: Ruleset, models: LanguageModels) -> None:
    exchange = read_exchange(reply(ACK_EN, after=timedelta(hours=5)), [REFUND_QUESTION], ruleset, models)
    assert find_auto_ack(exchange) == []
    # ... but it still answers nothing: the other checks see it
    assert kinds(check_reply(exchange.reply, [REFUND_QUESTION], ruleset, models)) == ["ignored-details"]


def test_an_automated_reply_with_an_answer_is_not_auto_ack(ruleset: Ruleset, models: LanguageModels) -> None:
    answer = reply(
        "We have received your message. Your refund of $80 for order SHOP-99041 was sent to your card on "
        "1 March and should arrive by 4 March.",
        automated="auto-submitted: auto-generated",
    )
    assert find_auto_ack(read_exchange(answer, [REFUND_QUESTION], ruleset, models)) == []


# ---------------------------------------------------------------------------------------------
# deflection
# ---------------------------------------------------------------------------------------------


def test_only_sending_the_customer_to_the_website_is_deflection(ruleset: Ruleset, models: LanguageModels) -> None:
    answer = reply(
        "Dear Customer,\n\nThank you for your email. For more information, please visit our website "
        "www.shop.example/help or call our call center at 1500-123.\n\nRegards,\nShop Support"
    )
    flags = check_reply(answer, [REFUND_QUESTION], ruleset, models)
    assert "deflection" in kinds(flags)
    deflection = next(f for f in flags if f.kind == "deflection")
    assert deflection.severity == "high"
    assert "please visit" in deflection.evidence["phrases"]  # type: ignore[operator]


def test_silakan_datang_ke_kantor_is_deflection(ruleset: Ruleset, models: LanguageModels) -> None:
    asked = question(
        "Selamat pagi, apakah perpanjangan SIM bisa dilakukan di MPP hari Sabtu? Berapa biayanya?",
        lang="id",
        topics=("document-request",),
    )
    answer = reply(
        "Yth. Bapak/Ibu,\n\nTerima kasih telah menghubungi kami. Silakan datang langsung ke kantor kami pada "
        "jam kerja.\n\nHormat kami,\nPetugas",
        lang="id",
    )
    assert kinds(find_deflection(read_exchange(answer, [asked], ruleset, models))) == ["deflection"]


def test_a_redirect_beside_a_real_answer_is_not_deflection(ruleset: Ruleset, models: LanguageModels) -> None:
    asked = question("Apakah perpanjangan SIM bisa dilakukan di MPP hari Sabtu? Berapa biayanya?", lang="id")
    answer = reply(
        "Halo Bapak,\n\nPerpanjangan SIM di gerai Polres MPP bisa dilakukan hari Sabtu pukul 08.00-12.00. "
        "Biaya perpanjangan SIM A Rp 80.000, ditambah tes kesehatan. Untuk informasi lainnya silakan hubungi "
        "call center kami.\n\nSalam,\nRina",
        lang="id",
    )
    assert check_reply(answer, [asked], ruleset, models) == []


# ---------------------------------------------------------------------------------------------
# partial-answer
# ---------------------------------------------------------------------------------------------


def test_a_second_question_left_out_is_a_partial_answer(ruleset: Ruleset, models: LanguageModels) -> None:
    asked = question(
        "Hi,\n\nCan my internet service be moved to my new flat in Depok next month? And why was I charged "
        "a reconnection fee on my February invoice?\n\nThanks,\nJoko",
        topics=("data-change", "billing"),
    )
    answer = reply(
        "Hi Joko,\n\nYes, your internet service can be moved to the new flat in Depok. Our network covers "
        "that area; send me the new address and the date you move and I'll book the technician.\n\n"
        "Regards,\nLia",
        topics=("data-change",),
    )
    flags = find_partial_answer(read_exchange(answer, [asked], ruleset, models))
    assert kinds(flags) == ["partial-answer"]
    left_out = flags[0].evidence["left_out"]
    assert [part["part"] for part in left_out] == [  # type: ignore[attr-defined]
        "And why was I charged a reconnection fee on my February invoice?"
    ]
    assert "reconnection fee" in flags[0].explanation
    assert flags[0].severity == "medium"


def test_a_when_question_answered_without_a_time_is_a_partial_answer(ruleset: Ruleset, models: LanguageModels) -> None:
    asked = question("Our office line has been down since Monday. When will the technician come?")
    answer = reply(
        "Hello,\n\nA technician has been assigned to your office line and will repair the connection.\n\nRegards,\nArif"
    )
    flags = find_partial_answer(read_exchange(answer, [asked], ruleset, models))
    assert kinds(flags) == ["partial-answer"]
    assert flags[0].evidence["left_out"][0]["missing"] == ["no date or time"]  # type: ignore[index]
    assert "no date or time given" in flags[0].explanation


def test_berapa_biaya_answered_without_an_amount_is_a_partial_answer(ruleset: Ruleset, models: LanguageModels) -> None:
    asked = question("Saya mau pindah alamat pemasangan. Berapa biaya pindah alamat?", lang="id")
    answer = reply(
        "Halo Kak,\n\nPindah alamat bisa diajukan lewat email ini dengan menuliskan alamat baru dan tanggal "
        "pindah. Teknisi akan datang untuk memindahkan perangkat.\n\nSalam,\nDewi",
        lang="id",
    )
    flags = find_partial_answer(read_exchange(answer, [asked], ruleset, models))
    assert kinds(flags) == ["partial-answer"]
    assert flags[0].evidence["left_out"][0]["missing"] == ["no amount"]  # type: ignore[index]


def test_kenapa_answered_without_a_reason_is_a_partial_answer(ruleset: Ruleset, models: LanguageModels) -> None:
    asked = question(
        "Saya sudah bayar tagihan tanggal 5 lewat minimarket. Kenapa pembayaran saya belum tercatat di aplikasi?",
        lang="id",
    )
    answer = reply(
        "Halo Bapak,\n\nPembayaran Bapak sudah tercatat hari ini dan status tagihan di aplikasi sudah "
        "lunas.\n\nSalam,\nDewi",
        lang="id",
    )
    flags = find_partial_answer(read_exchange(answer, [asked], ruleset, models))
    assert flags[0].evidence["left_out"][0]["missing"] == ["no reason"]  # type: ignore[index]


def test_a_reason_about_something_else_does_not_answer_why(ruleset: Ruleset, models: LanguageModels) -> None:
    asked = question(
        "Two things. I cannot log in to the app since Friday, and the password reset link never arrives. "
        "Also, why is there a late fee of $5 on my March invoice when my payment is automatic?"
    )
    answer = reply(
        "Hi,\n\nYou could not log in to the app because your password expired after 90 days, and the reset "
        "link went to your old address. I have sent a new password reset link to this address; it works for "
        "one hour.\n\nRegards,\nArif"
    )
    flags = find_partial_answer(read_exchange(answer, [asked], ruleset, models))
    assert kinds(flags) == ["partial-answer"]
    assert "late fee" in flags[0].explanation


def test_a_reply_sharing_no_words_with_any_part_is_left_to_the_other_checks(
    ruleset: Ruleset, models: LanguageModels
) -> None:
    asked = question("Could you check whether my parcel has left the warehouse in Surabaya?")
    answer = reply("Hi,\n\nDone! Your package is with the courier now.\n\nRegards,\nLia")
    assert find_partial_answer(read_exchange(answer, [asked], ruleset, models)) == []


# ---------------------------------------------------------------------------------------------
# ignored-details
# ---------------------------------------------------------------------------------------------

TEMPLATE = (
    "Dear Valued Customer,\n\nThank you for your patience. Your request is being processed by the relevant "
    "team and we will inform you as soon as there is an update.\n\nWarm regards,\nCustomer Care"
)


def test_a_template_that_ignores_order_amount_and_date_is_flagged(ruleset: Ruleset, models: LanguageModels) -> None:
    flags = find_ignored_details(read_exchange(reply(TEMPLATE), [REFUND_QUESTION], ruleset, models))
    assert kinds(flags) == ["ignored-details"]
    ignored = {(d["kind"], d["text"]) for d in flags[0].evidence["ignored"]}  # type: ignore[attr-defined]
    assert ("amount", "$80") in ignored
    assert ("date", "20 February") in ignored
    assert any("SHOP99041" in text or "SHOP-99041" in text for _, text in ignored)
    assert flags[0].severity == "medium"


def test_indonesian_template_that_ignores_the_customer_number(ruleset: Ruleset, models: LanguageModels) -> None:
    asked = question(
        "Modem saya ZTE F609 sering restart sendiri. Nomor pelanggan 7710443321, alamat Jl. Kenanga 5.",
        lang="id",
    )
    answer = reply(
        "Yth. Pelanggan,\n\nMohon maaf atas ketidaknyamanannya. Keluhan Anda sudah kami teruskan ke bagian "
        "terkait.\n\nHormat kami,\nLayanan Pelanggan",
        lang="id",
    )
    flags = find_ignored_details(read_exchange(answer, [asked], ruleset, models))
    assert kinds(flags) == ["ignored-details"]
    texts = [d["text"] for d in flags[0].evidence["ignored"]]  # type: ignore[attr-defined]
    assert "F609" in texts


def test_a_reply_that_asks_for_details_ignores_nothing(ruleset: Ruleset, models: LanguageModels) -> None:
    answer = reply("Hello Maya,\n\nCould you send a photo of the return receipt? Then I can trace it.\n\nRegards,\nTom")
    assert find_ignored_details(read_exchange(answer, [REFUND_QUESTION], ruleset, models)) == []


def test_a_reply_using_the_order_number_ignores_nothing(ruleset: Ruleset, models: LanguageModels) -> None:
    answer = reply("Hi Maya,\n\nThe refund for shop-99041 is on its way.\n\nRegards,\nTom")
    assert find_ignored_details(read_exchange(answer, [REFUND_QUESTION], ruleset, models)) == []


def test_a_number_repeated_in_a_redirect_is_not_a_use(ruleset: Ruleset, models: LanguageModels) -> None:
    asked = question(
        "Saya sudah telepon call center 1500-746 lima kali tapi tidak tersambung. Pembayaran Rp 345.000 "
        "tanggal 8 Maret belum tercatat.",
        lang="id",
    )
    answer = reply(
        "Yth. Pelanggan,\n\nKeluhan Anda sudah kami teruskan ke bagian terkait. Untuk informasi lainnya, "
        "silakan hubungi call center 1500-746.\n\nSalam,\nCS",
        lang="id",
    )
    assert "ignored-details" in kinds(check_reply(answer, [asked], ruleset, models))


# ---------------------------------------------------------------------------------------------
# off-topic
# ---------------------------------------------------------------------------------------------


def test_a_reply_on_another_topic_sharing_no_words_is_off_topic(ruleset: Ruleset, models: LanguageModels) -> None:
    asked = question(
        "I want to cancel my subscription at the end of April because I am moving abroad.",
        topics=("cancellation",),
    )
    answer = reply(
        "Hi,\n\nTo speed up your wifi, place the router in an open spot, away from walls and microwaves, "
        "and switch to the 5 GHz band in the settings.\n\nRegards,\nArif",
        topics=("technical-issue",),
    )
    flags = find_off_topic(read_exchange(answer, [asked], ruleset, models))
    assert kinds(flags) == ["off-topic"]
    assert flags[0].evidence["question_topics"] == ["cancellation"]
    assert flags[0].evidence["similarity"] < 0.08  # type: ignore[operator]


def test_other_topics_but_shared_words_is_not_off_topic(ruleset: Ruleset, models: LanguageModels) -> None:
    asked = question(
        "I want to cancel my subscription at the end of April because I am moving abroad.",
        topics=("cancellation",),
    )
    answer = reply(
        "Hi,\n\nYour subscription will end on 30 April as you asked; the final invoice comes in May.\n\nRegards,\nArif",
        topics=("billing",),
    )
    assert find_off_topic(read_exchange(answer, [asked], ruleset, models)) == []


# ---------------------------------------------------------------------------------------------
# The flags themselves and the pieces under them
# ---------------------------------------------------------------------------------------------


def test_flags_name_the_reply_and_link_the_questions(ruleset: Ruleset, models: LanguageModels) -> None:
    follow_up = MessageView(
        **{
            **REFUND_QUESTION.__dict__,
            "id": 3,
            "message_id": "<q2@customer.example>",
            "text": "Any news? Still nothing on my card.",
        }
    )
    flags = check_reply(reply(TEMPLATE), [REFUND_QUESTION, follow_up], ruleset, models)
    assert flags
    for flag in flags:
        assert flag.kind in FLAG_KINDS
        assert flag.message == 2
        assert flag.severity in ("high", "medium", "low")
        assert flag.related == ("<q1@customer.example>", "<q2@customer.example>")
        assert flag.explanation.endswith(".") and "\n" not in flag.explanation
        json.dumps(flag.evidence)


def test_no_question_or_an_incoming_message_gives_no_flags(ruleset: Ruleset, models: LanguageModels) -> None:
    assert check_reply(reply(TEMPLATE), [], ruleset, models) == []
    assert check_reply(REFUND_QUESTION, [REFUND_QUESTION], ruleset, models) == []


def test_details_are_found_however_they_are_written(ruleset: Ruleset) -> None:
    found = {d.kind: d.key for d in details_in("Paid Rp 1.250.000 on 5 Oktober for model F670L", ruleset)}
    assert found == {"amount": "amount:1250000", "date": "date:10-05", "code": "F670L"}
    same = {d.key for d in details_in("IDR 1,250,000 was paid October 5th", ruleset)}
    assert {"amount:1250000", "date:10-05"} <= same
    assert {d.key for d in details_in("sekitar 1,25 juta", ruleset)} == {"amount:1250000"}


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("time", "It will arrive on Thursday.", True),
        ("time", "Perkiraan selesai pukul 17.00.", True),
        ("time", "Prosesnya 3 hari kerja.", True),
        ("time", "We will inform you as soon as possible.", False),
        ("amount", "The fee is IDR 25,000.", True),
        ("amount", "Biayanya 150 ribu.", True),
        ("amount", "Pendaftaran tidak dipungut biaya.", True),
        ("amount", "Please pay at the counter.", False),
        ("reason", "It was charged because the payment came late.", True),
        ("reason", "Terlambat karena gangguan sistem.", True),
        ("reason", "The fee has been removed.", False),
    ],
)
def test_kinds_of_answer(kind: str, text: str, expected: bool, ruleset: Ruleset, models: LanguageModels) -> None:
    exchange = read_exchange(reply(text), [question("?")], ruleset, models)
    assert gives(exchange.lexicon, kind, text) is expected


# ---------------------------------------------------------------------------------------------
# One reader for many replies
# ---------------------------------------------------------------------------------------------


def test_a_shared_reader_gives_the_flags_of_fresh_reads(ruleset: Ruleset, models: LanguageModels) -> None:
    template = reply(
        "Dear customer,\n\nThank you for contacting us. Please visit our nearest branch office for further "
        "help.\n\nKind regards,\nShop Support"
    )
    exchanges = [*GOOD.values(), *[(asked, template) for asked, _ in GOOD.values()]]
    reader = ExchangeReader(ruleset, models)
    shared = [check_reply(answer, [asked], ruleset, models, reader) for asked, answer in exchanges]
    fresh = [check_reply(answer, [asked], ruleset, models) for asked, answer in exchanges]
    assert shared == fresh
    assert any(shared)  # the template sent to every question is flagged somewhere


def test_details_of_each_kind_and_places_without_digits(ruleset: Ruleset) -> None:
    text = "Rp 1.200.000 on 5 Oktober for SHOP-88123 at Jl. Merdeka, call 0812 3456 7890"
    assert [(d.kind, d.key) for d in details_in(text, ruleset)] == [
        ("reference", "SHOP88123"),
        ("amount", "amount:1200000"),
        ("date", "date:10-05"),
        ("number", "081234567890"),
        ("place", "merdeka"),
    ]
    assert [d.kind for d in details_in("Tolong kirim ke Jl. Merdeka dekat kantor", ruleset)] == ["place"]

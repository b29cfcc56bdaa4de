"""The bundled sample support mailbox: invented threads in English and Indonesian for the demo and tests."""

from __future__ import annotations

import email.policy
import html
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, formataddr
from typing import Literal

SUPPORT_ADDRESS = "support@example.com"


@dataclass(frozen=True)
class SampleMessage:
    folder: Literal["inbox", "sent"]
    raw: bytes  # full RFC 5322 message, CRLF line endings


# --------------------------------------------------------------------------------------------
# Data model of the invented threads
# --------------------------------------------------------------------------------------------

_Lang = Literal["en", "id"]
_Fmt = Literal["plain", "html", "alt"]
# q = customer message, r = reply by support, a = auto-acknowledgement, o = customer out-of-office
_Role = Literal["q", "r", "a", "o"]

_POLICY = email.policy.SMTP  # default policy with CRLF line endings
_YEAR = 2026
_SUPPORT_TZ = 7
_SUPPORT_FROM = formataddr(("Acme Support", SUPPORT_ADDRESS))
_CUSTOMER_MSGID_HOST = "mail.example.net"
_SUPPORT_MSGID_HOST = "example.com"

# Who sends a reply: flag -> (display name, address, signature below "-- ")
_AGENTS: dict[str, tuple[str, str, str]] = {
    "": ("Acme Support", SUPPORT_ADDRESS, "Acme Support"),
    "rina": ("Rina (Acme Support)", "rina@example.com", "Rina\nAcme Support"),
    "budi": ("", "budi@example.com", "Budi\nAcme Support"),
}

_PDF_NAME = "INV-2026-0877.pdf"
_PDF_BYTES = b"%PDF-1.4\n% INV-2026-0877 Acme\n%%EOF\n"

_EN_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_ID_DAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
_ID_MONTHS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")


@dataclass(frozen=True)
class _Cust:
    name: str
    addr: str
    tz: int  # UTC offset in hours


@dataclass(frozen=True)
class _Step:
    role: _Role
    when: str  # "MM-DD HH:MM" in the sender's time zone, or "+40s"/"+25m"/"+3h"/"+1d" after prev
    lines: tuple[str, ...]
    fmt: _Fmt
    flags: frozenset[str]


@dataclass(frozen=True)
class _Thread:
    tid: str
    lang: _Lang
    topic: str
    kind: str  # the reply-quality cases the thread demonstrates, e.g. "canned", "unanswered"
    cust: _Cust
    subject: str
    steps: tuple[_Step, ...]


# Step flags:
#   noid    no Message-ID header          norefs  reply without In-Reply-To/References
#   noquote do not quote the parent       outlook "-----Original Message-----" quoting, "RE:"
#   pdf     attach a tiny PDF             latin1  body in iso-8859-1
#   rina / budi  reply sent by that agent live    injected while the demo runs


def _q(when: str, *lines: str, fmt: _Fmt = "plain", flags: str = "") -> _Step:
    return _Step("q", when, lines, fmt, frozenset(flags.split()))


def _r(when: str, *lines: str, fmt: _Fmt = "plain", flags: str = "") -> _Step:
    return _Step("r", when, lines, fmt, frozenset(flags.split()))


def _ack(when: str = "+40s") -> _Step:
    return _Step("a", when, (), "plain", frozenset())


def _ooo(when: str, *lines: str) -> _Step:
    return _Step("o", when, lines, "plain", frozenset())


def _t(tid: str, lang: _Lang, topic: str, kind: str, cust: _Cust, subject: str, *steps: _Step) -> _Thread:
    return _Thread(tid, lang, topic, kind, cust, subject, steps)


def _canned(first_name: str) -> tuple[str, ...]:
    """The one-size-fits-all template the team pastes regardless of the question."""
    return (
        f"Dear {first_name},",
        "",
        "Thank you for contacting Acme Support. We appreciate you taking the time",
        "to share this with us. Your request has been forwarded to the relevant",
        "department and will be handled in accordance with our standard procedures.",
        "We apologise for any inconvenience this may have caused.",
        "",
        "Kind regards,",
    )


# --------------------------------------------------------------------------------------------
# Customers
# --------------------------------------------------------------------------------------------

_TOM = _Cust("Tom Becker", "tbecker@example.net", 0)
_PRIYA = _Cust("Priya Raman", "priya.raman@mail.example", 0)
_JAMES = _Cust("James O'Connor", "jim.oconnor@example.net", -5)
_MARGARET = _Cust("Margaret Hollis", "m.hollis@example.org", -5)
_OLIVER = _Cust("Oliver Grant", "ogrant@mail.example", 0)
_HANNAH = _Cust("Hannah Moore", "hannah.moore@example.net", -5)
_KEVIN = _Cust("Kevin Park", "kpark@example.org", -5)
_SARAH = _Cust("Sarah Mitchell", "sarah.m@example.net", 0)
_DANIEL = _Cust("Daniel Reyes", "dreyes@example.org", -5)
_EMMA = _Cust("Emma Wilson", "emma.wilson@mail.example", 0)
_LUKE = _Cust("Luke Turner", "lturner@example.net", 0)
_CHLOE = _Cust("Chloe Adams", "chloe.adams@example.org", -5)
_ROBERT = _Cust("Robert King", "rking@mail.example", -5)
_NINA = _Cust("Nina Patel", "nina.patel@example.net", 0)
_BEN = _Cust("Ben Carter", "ben.carter@example.org", -5)
_ALICE = _Cust("Alice Foster", "afoster@example.net", 0)
_GRACE = _Cust("Grace Liu", "grace.liu@mail.example", 0)
_MICHAEL = _Cust("Michael Brown", "mbrown@example.org", -5)
_SOPHIE = _Cust("Sophie Laurent", "sophie.laurent@example.org", 0)
_PAUL = _Cust("Paul Jensen", "pjensen@example.net", -5)

_DEWI = _Cust("Dewi Lestari", "dewi.lestari@gmail.com", 7)
_DEWI_SHOP = _Cust("Dewi Lestari", "DewiLestari+shop@gmail.com", 7)  # same person, 2nd address
_ANDI = _Cust("Andi Saputra", "andi.saputra88@gmail.com", 7)
_BAMBANG = _Cust("Bambang Sutrisno", "bambang.s@example.org", 7)
_PUTRI = _Cust("Putri Maharani", "putri.mhrn@example.net", 7)
_AGUS = _Cust("Agus Setiawan", "agus.setiawan@mail.example", 7)
_SITI = _Cust("Siti Aminah", "siti.aminah@example.org", 7)
_FAJAR = _Cust("Fajar Kurniawan", "fajar.k@example.net", 7)
_YUSUF = _Cust("Yusuf Ramadhan", "yusuf.ramadhan@example.net", 7)
_HENDRA = _Cust("Hendra Gunawan", "hendra.gunawan@example.net", 7)
_LINA = _Cust("Lina Marlina", "lina.marlina@example.net", 7)
_RUDI = _Cust("Rudi Santoso", "rudi.santoso@mail.example", 7)
_MAYA = _Cust("Maya Anggraini", "maya.anggraini@example.org", 7)
_TEGUH = _Cust("Teguh Wibowo", "teguh.wibowo@example.net", 7)
_NUR = _Cust("Nur Aini", "nuraini22@example.org", 7)
_INDAH = _Cust("Indah Permatasari", "indah.permata@mail.example", 7)
_WAHYU = _Cust("Wahyu Nugroho", "wahyu.n@mail.example", 7)
_RATNA = _Cust("Ratna Sari", "ratnasari@example.org", 7)
_EKO = _Cust("Eko Prasetyo", "eko.prasetyo@example.org", 7)
_FITRI = _Cust("Fitri Handayani", "fitri.h@mail.example", 7)
_YUNI = _Cust("Yuni Astuti", "yuni.astuti@example.org", 7)


# --------------------------------------------------------------------------------------------
# Threads (English t01-t20, Indonesian t21-t40, injected live t41-t42)
# --------------------------------------------------------------------------------------------

_THREADS: tuple[_Thread, ...] = (
    _t(
        "t01",
        "en",
        "billing",
        "good+thanks",
        _TOM,
        "Charged twice for ORD-48213",
        _q(
            "11-02 08:47",
            "Hello,",
            "",
            "My card was charged twice for order ORD-48213: two payments of $49.90 on Nov 1.",
            "I only placed the order once. Can you refund the duplicate payment,",
            "and how long does that usually take?",
            "",
            "Tom Becker",
        ),
        _r(
            "+5h",
            "Hi Tom,",
            "",
            "You're right: ORD-48213 was charged twice on Nov 1 because the payment page",
            "timed out and retried. We refunded the duplicate $49.90 today (Nov 2) to your",
            "card ending 4417. Refunds take 3-5 business days, so expect it by Nov 9.",
            "",
            "Best regards,",
        ),
        _q("11-04 09:30", "Thanks, that solved it - the refund is already showing as pending.", "", "Tom"),
    ),
    _t(
        "t02",
        "en",
        "account-access",
        "auto_ack+good",
        _PRIYA,
        "Password reset link expired",
        _q(
            "11-02 10:15",
            "Hi there,",
            "",
            'Every time I click the password reset link I get "This link has expired".',
            "I've requested it three times in the last hour. My account ID is ACC-220817.",
            "Can you help? I need to pay a bill today.",
            "",
            "Priya",
        ),
        _ack("+40s"),
        _r(
            "+2h",
            "Hi Priya,",
            "",
            "Reset links are valid for 15 minutes and only the most recent one works, so",
            'the earlier emails will always say "expired". We have just sent a fresh link',
            "for ACC-220817 - please use it within 15 minutes. If it still fails, reply",
            "here and we will reset the password manually so you can pay your bill today.",
            "",
            "Kind regards,",
        ),
    ),
    _t(
        "t03",
        "en",
        "delivery",
        "partial_when+repeat_same_thread",
        _JAMES,
        "Where is my package? ORD-50377",
        _q(
            "11-07 07:55",
            "Hi,",
            "Order ORD-50377 was supposed to arrive on Nov 6. The tracking page hasn't",
            "updated since Nov 4 (last scan: Columbus, OH). When will it arrive?",
            "Thanks,",
            "Jim",
        ),
        _r(
            "+6h",
            "Hello James,",
            "",
            "Thank you for your patience. Your package is on its way and will be",
            "delivered as soon as possible. We apologise for the delay.",
            "",
            "Best regards,",
        ),
        _q(
            "11-14 08:20",
            "I already asked last week and still nothing. Tracking still says Columbus, OH",
            'since Nov 4. "As soon as possible" is not a date. When will ORD-50377',
            "actually arrive, or should I ask for a refund?",
            "Jim",
        ),
    ),
    _t(
        "t04",
        "en",
        "service-complaint",
        "canned",
        _MARGARET,
        "Complaint about phone agent",
        _q(
            "11-04 14:30",
            "To whom it may concern,",
            "",
            "I called your support line on November 3 around 2 pm about a missing item.",
            "The agent hung up on me twice without any explanation. I would like to know",
            "what will be done about this and whether someone will call me back.",
            "",
            "Margaret Hollis",
        ),
        _r("+20h", *_canned("Margaret")),
    ),
    _t(
        "t05",
        "en",
        "data-change",
        "canned",
        _OLIVER,
        "Change delivery address for ORD-49902",
        _q(
            "11-04 16:02",
            "Hello,",
            "Please change the delivery address for ORD-49902 (not shipped yet) to:",
            "14 Harbour Lane, Bristol BS1 5TY",
            "I moved last weekend. Thanks!",
            "Oliver",
        ),
        _r("+18h", *_canned("Oliver")),
        _q(
            "+3h",
            "That doesn't answer anything. Has the address been changed or not?",
            "The app says ORD-49902 ships tomorrow.",
            "Oliver",
        ),
        _r(
            "+1h",
            "Hi Oliver,",
            "",
            "Sorry about the earlier reply. The delivery address for ORD-49902 is now",
            "14 Harbour Lane, Bristol BS1 5TY - we changed it before the parcel was packed.",
            "You will get the tracking link by email when it ships tomorrow.",
            "",
            "Best regards,",
        ),
    ),
    _t(
        "t06",
        "en",
        "technical-issue",
        "canned",
        _HANNAH,
        "App crashes when opening Orders",
        _q(
            "11-05 18:20",
            "Hi,",
            "The app closes immediately whenever I tap Orders. iPhone 13, iOS 18.1,",
            "app version 5.2.0. I see error code E-1042 for a second before it closes.",
            "Is this a known problem? Is there a workaround?",
            "Hannah",
        ),
        _r("+15h", *_canned("Hannah")),
    ),
    _t(
        "t07",
        "en",
        "document-request",
        "deflection",
        _KEVIN,
        "Copy of invoice INV-2026-0791",
        _q(
            "11-06 10:00",
            "Hello,",
            "",
            "I need a copy of invoice INV-2026-0791 (order ORD-47315) for my expense",
            "report. Could you email it to me as a PDF?",
            "",
            "Regards,",
            "Kevin Park",
        ),
        _r(
            "+14h",
            "Dear Kevin,",
            "",
            "For document requests, please visit our office during business hours",
            "or call our call center at 1-800-555-0199.",
            "",
            "Regards,",
        ),
        _q(
            "+5h",
            "I live in Denver, there is no office anywhere near me, and the call center",
            "kept me on hold for 40 minutes. Can't you just attach the PDF to an email?",
            "Kevin",
        ),
    ),
    _t(
        "t08",
        "en",
        "general-inquiry",
        "deflection",
        _SARAH,
        "International transfer fees",
        _q(
            "11-07 12:12",
            "Hi, what's the fee for sending an international transfer from my Acme wallet,",
            "and is there a monthly limit? I need to send about $600 to my sister in Manila.",
            "Thanks, Sarah",
        ),
        _r(
            "+9h",
            "Hello Sarah,",
            "",
            "Thank you for your question. Please see our FAQ at https://example.com/help/faq",
            "for information about fees and limits.",
            "",
            "Best regards,",
        ),
    ),
    _t(
        "t09",
        "en",
        "cancellation",
        "partial",
        _DANIEL,
        "Cancel Premium subscription",
        _q(
            "11-09 09:30",
            "Hi,",
            "I'd like to cancel my Premium subscription (account ACC-301456). Before I do:",
            "1) Will I still be charged $12.99 for December?",
            "2) Do I keep Premium until the end of the current billing period?",
            "3) Can I export my order history first?",
            "Thanks,",
            "Daniel",
        ),
        _r(
            "+13h",
            "Hi Daniel,",
            "",
            "Yes, you keep Premium access until the end of the current billing period.",
            "You can cancel at any time from Settings > Subscription.",
            "",
            "Best regards,",
        ),
        _q(
            "11-10 18:05",
            "Thanks, but you didn't answer the other two questions: will I be charged",
            "for December, and how do I export my order history?",
            "Daniel",
        ),
    ),
    _t(
        "t10",
        "en",
        "cancellation",
        "partial_howmuch",
        _EMMA,
        "Early termination fee?",
        _q(
            "11-10 09:05",
            "Hello,",
            "How much is the early termination fee if I cancel my annual plan now?",
            "I signed up on 14 March 2026 and pay \u00a389 per year.",
            "Emma",
        ),
        _r(
            "+7h",
            "Dear Emma,",
            "",
            "Yes, an early termination fee applies when an annual plan is cancelled",
            "before the end of the term. You can cancel at any time under Settings > Plan.",
            "",
            "Kind regards,",
        ),
    ),
    _t(
        "t11",
        "en",
        "technical-issue",
        "ignored_details",
        _LUKE,
        "App crashes after login since update",
        _q(
            "11-11 19:40",
            "Since the update on Nov 8 the app crashes right after I log in.",
            "Phone: Samsung A54, Android 14, app 5.2.1. Error code E-2207 flashes up first.",
            "I've already reinstalled it twice. ORD-51004 is in transit and I can't track it.",
            "Luke",
        ),
        _r(
            "+14h",
            "Hello,",
            "",
            "Sorry for the inconvenience. Please try reinstalling the app and make sure you",
            "have the latest version installed. If the problem persists, let us know.",
            "",
            "Best regards,",
        ),
    ),
    _t(
        "t12",
        "en",
        "refund",
        "good",
        _CHLOE,
        "Refund for returned blender ORD-47790",
        _q(
            "11-11 20:10",
            "Hi,",
            "I returned ORD-47790 (blender, $89.00) by UPS on Oct 28, tracking",
            "1Z999AA10123456784. It's been two weeks. When will I get my refund?",
            "Chloe Adams",
        ),
        _r(
            "+11h",
            "Hi Chloe,",
            "",
            "Your return reached our Chicago warehouse on Nov 5 (UPS 1Z999AA10123456784).",
            "We issued the refund of $89.00 today, Nov 12, to the Visa card ending 0932.",
            "Card refunds take 3-5 business days, so expect it by Nov 19 at the latest.",
            "",
            "Best,",
            flags="outlook rina",
        ),
    ),
    _t(
        "t13",
        "en",
        "account-access",
        "unanswered",
        _ROBERT,
        "Account locked",
        _q(
            "11-17 16:40",
            "My account got locked after I typed the wrong PIN three times.",
            "Account number 4410-2288-19. How do I unlock it? There's no option in the app.",
            "Robert King",
        ),
        _q(
            "11-26 07:30",
            "I wrote on Nov 17 and still haven't heard anything. Account 4410-2288-19",
            "is still locked and I can't pay my bills. Please reply.",
            "Robert",
            flags="live",
        ),
    ),
    _t(
        "t14",
        "en",
        "document-request",
        "unanswered+auto_ack",
        _NINA,
        "October statement needed",
        _q(
            "11-18 09:20",
            "Hello,",
            "",
            "Could you send me the account statement for October 2026 (account ACC-274410)?",
            "My bank needs it for a mortgage application by Nov 28.",
            "",
            "Many thanks,",
            "Nina Patel",
        ),
        _ack("+35s"),
    ),
    _t(
        "t15",
        "en",
        "general-inquiry",
        "good",
        _BEN,
        "Service desk hours on Thanksgiving",
        _q(
            "11-20 15:00",
            "Hey,",
            "Is the Chicago service desk open on Thanksgiving (Nov 26)? And are you open",
            "on Saturdays in general? I need to drop off a return.",
            "Ben",
        ),
        _r(
            "+16h",
            "Hi Ben,",
            "",
            "The Chicago service desk (200 W Lake St) is closed on Thanksgiving, Nov 26,",
            "and reopens on Friday, Nov 27 at 9:00 am. On Saturdays we are open",
            "10:00 am - 2:00 pm, and returns can be dropped off any time we are open.",
            "",
            "Have a good holiday,",
            fmt="alt",
        ),
    ),
    _t(
        "t16",
        "en",
        "billing",
        "ignored_details",
        _ALICE,
        "Invoice INV-2026-0902 amount is wrong",
        _q(
            "11-09 17:45",
            "Hi,",
            "Invoice INV-2026-0902 shows $129.00, but my plan is $99.00 a month.",
            "Please correct the invoice before the payment is taken on Nov 15.",
            "Alice Foster",
        ),
        _r(
            "+15h",
            "Hello,",
            "",
            "Thank you for your message. We are looking into your billing concern",
            "and will get back to you.",
            "",
            "Regards,",
        ),
    ),
    _t(
        "t17",
        "en",
        "billing",
        "repeat_new_thread+good",
        _ALICE,
        "Still being overcharged",
        _q(
            "11-16 08:12",
            "Hello again,",
            "I wrote on Nov 9 about invoice INV-2026-0902 and nobody got back to me.",
            "Yesterday I was charged $129.00 instead of $99.00. This is still not resolved.",
            "Please refund the $30.00 difference.",
            "Alice",
        ),
        _r(
            "+4h",
            "Hi Alice,",
            "",
            "Sorry we didn't follow up on your Nov 9 message. The extra $30.00 on",
            "INV-2026-0902 was the Backup add-on, which should have ended with your trial.",
            "We removed it and refunded $30.00 to your card today (Nov 16); it will appear",
            "within 5 business days. Your next invoice will be $99.00.",
            "",
            "Best regards,",
        ),
    ),
    _t(
        "t18",
        "en",
        "delivery",
        "good",
        _GRACE,
        "Tracking number not working",
        _q(
            "11-13 11:11",
            "Hi, the tracking number in my shipping email for ORD-49211 says",
            '"not found" on the courier website. Can you check it?',
            "Grace",
        ),
        _q("+20m", "Sorry, forgot to paste it: the number I got is JX0042281903GB.", "Grace", flags="noquote"),
        _r(
            "+5h",
            "Hi Grace,",
            "",
            "There was a typo in the shipping email: the correct tracking number for",
            "ORD-49211 is JX0042281930GB (the last two digits were swapped). The parcel",
            "is with the courier in Leeds and will be delivered on Saturday, Nov 14.",
            "",
            "Best regards,",
            fmt="html",
        ),
    ),
    _t(
        "t19",
        "en",
        "data-change",
        "good+out_of_office",
        _MICHAEL,
        "Phone number change",
        _q(
            "11-18 10:30",
            "Please update the phone number on my account ACC-118820",
            "from +1 312 555 0143 to +1 312 555 0178. Do I need to verify the new number?",
            "Michael Brown",
        ),
        _r(
            "+12h",
            "Hello Michael,",
            "",
            "Done - ACC-118820 now has +1 312 555 0178 as its phone number.",
            "Yes, it needs verifying: we sent a 6-digit code by SMS to the new number.",
            "Enter it in the app under Profile > Phone within 24 hours.",
            "",
            "Best regards,",
        ),
        _ooo(
            "+1m",
            "Thank you for your message. I am out of the office until Monday,",
            "November 23, with limited access to email. I will reply when I return.",
            "",
            "Michael Brown",
        ),
    ),
    _t(
        "t20",
        "en",
        "document-request",
        "good",
        _SOPHIE,
        "Caf\u00e9 order \u2013 invoice copy",
        _q(
            "11-23 10:00",
            "Hello,",
            "Could I get a copy of invoice INV-2026-0877 for our caf\u00e9 order ORD-50510",
            "(coffee machine descaler, 6 boxes)? Our accountant needs it with our",
            "VAT number GB 123 4567 89 on it.",
            "Thank you,",
            "Sophie Laurent",
        ),
        _r(
            "+4h",
            "Hello Sophie,",
            "",
            "Please find attached invoice INV-2026-0877 for ORD-50510 (6 x descaler,",
            "\u00a364.50 including VAT), reissued with your VAT number GB 123 4567 89.",
            "",
            "Kind regards,",
            flags="pdf",
        ),
    ),
    # ---------------------------------------------------------------- Indonesian
    _t(
        "t21",
        "id",
        "billing",
        "good",
        _DEWI,
        "Tagihan dobel ORD-51120",
        _q(
            "11-02 19:32",
            "Kak, sy kena tagih 2x utk pesanan ORD-51120.",
            "Masing2 Rp 250.000, tgl 2 Nov jam 7 malam, lewat BCA mobile.",
            "Mhn dibantu refund yg satunya ya. Kira2 brp lama prosesnya?",
            "",
            "Makasih,",
            "Dewi",
            fmt="alt",
        ),
        _r(
            "+16h",
            "Halo Kak Dewi,",
            "",
            "Sudah kami cek, benar ada tagihan ganda Rp 250.000 untuk ORD-51120.",
            "Kelebihan bayar sudah kami kembalikan hari ini (3 Nov) ke rekening BCA Kakak.",
            "Dana biasanya masuk dalam 3-7 hari kerja, paling lambat 12 Nov.",
            "",
            "Salam,",
        ),
    ),
    _t(
        "t22",
        "id",
        "refund",
        "repeat_other_address+auto_ack+good+thanks",
        _DEWI_SHOP,
        "Pengembalian dana \u2013 pesanan ORD-51120",
        _q(
            "11-13 08:55",
            "Halo, sy Dewi yg kemarin komplain tagihan dobel.",
            "Sampai sekarang dana Rp 250.000 utk ORD-51120 masih belum masuk ke rekening,",
            "padahal katanya paling lambat 12 Nov. Tolong dicek lg ya kak.",
            "(sy pakai email yg ini, yg satunya lg error)",
        ),
        _ack("+30s"),
        _r(
            "+5h",
            "Halo Kak Dewi,",
            "",
            "Mohon maaf atas keterlambatannya. Refund Rp 250.000 untuk ORD-51120 sempat",
            "tertahan di bank karena nama penerima berbeda. Sudah kami kirim ulang hari ini",
            "(13 Nov) dengan nomor referensi RF-2611-0088 dan masuk paling lambat 17 Nov.",
            "",
            "Salam,",
        ),
        _q("11-16 12:20", "Makasih kak, sudah beres. Dananya udah masuk tadi pagi."),
    ),
    _t(
        "t23",
        "id",
        "account-access",
        "partial",
        _ANDI,
        "OTP gak masuk",
        _q(
            "11-03 21:05",
            "Min, OTP sy gak masuk2 dr kemarin. No HP 0812 9000 4471 (Telkomsel).",
            "Udah coba kirim ulang 5x tetep gak ada.",
            "1. Kenapa ya kok gak masuk?",
            "2. Bisa gak OTP-nya dikirim ke email aja?",
            "Thx",
            fmt="alt",
        ),
        _r(
            "+14h",
            "Halo Kak Andi,",
            "",
            'Bisa, Kak. Di layar verifikasi pilih "Kirim kode lewat email", nanti OTP',
            "dikirim ke email yang terdaftar.",
            "",
            "Salam,",
        ),
    ),
    _t(
        "t24",
        "id",
        "account-access",
        "deflection+bounce",
        _BAMBANG,
        "Akun terblokir",
        _q(
            "11-04 09:10",
            "Dengan hormat,",
            "",
            "Akun saya dengan nomor rekening 7730-1182-45 terblokir sejak 3 November 2026",
            "setelah saya salah memasukkan PIN sebanyak tiga kali. Mohon informasi",
            "bagaimana cara membuka blokir tersebut.",
            "",
            "Hormat saya,",
            "Bambang Sutrisno",
        ),
        _r(
            "+6h",
            "Yth. Bapak Bambang,",
            "",
            "Terima kasih atas pesan Bapak. Untuk keperluan tersebut silakan datang",
            "ke kantor kami untuk informasi lebih lanjut.",
            "",
            "Hormat kami,",
        ),
    ),
    _t(
        "t25",
        "id",
        "refund",
        "deflection+repeat_same_thread+good",
        _PUTRI,
        "Refund pesanan dibatalkan",
        _q(
            "11-05 11:40",
            "Halo kak, sy udah batalin pesanan ORD-50642 tgl 3 Nov, tp dana Rp 1.150.000",
            "blm balik. Prosesnya berapa hari sih biasanya?",
            "Putri",
        ),
        _r(
            "+3h",
            "Halo Kak Putri,",
            "",
            "Untuk pertanyaan terkait pengembalian dana silakan hubungi call center kami",
            "di 1500-123. Terima kasih.",
            "",
            "Salam,",
        ),
        _q(
            "11-10 10:05",
            "Kak, sy udah telp call center 3x, malah disuruh email ke sini lagi.",
            "Sudah berkali-kali sy tanya, sampai sekarang dana Rp 1.150.000 utk ORD-50642",
            "masih belum balik. Tolong dong dicek beneran.",
            "Putri",
        ),
        _r(
            "+2h",
            "Halo Kak Putri,",
            "",
            "Mohon maaf Kakak sampai harus menghubungi kami berkali-kali. Refund ORD-50642",
            "sebesar Rp 1.150.000 ternyata belum diproses sistem. Hari ini (10 Nov) sudah",
            "kami proses manual ke rekening BRI Kakak dan akan masuk paling lambat 12 Nov.",
            "",
            "Salam,",
        ),
    ),
    _t(
        "t26",
        "id",
        "delivery",
        "partial_when+repeat_same_thread",
        _AGUS,
        "Paket blm sampai ORD-49875",
        _q(
            "11-06 13:15",
            "Siang kak, paket sy ORD-49875 blm sampe jg, estimasinya tgl 5 Nov.",
            "Status resi terakhir masih di gudang Surabaya dr tgl 3.",
            "Kapan nyampenya ya? Alamat sy di Malang.",
            "Agus",
        ),
        _r(
            "+4h",
            "Halo Kak Agus,",
            "",
            "Mohon maaf atas keterlambatannya. Paket Kakak sedang dalam proses pengiriman",
            "dan akan segera sampai. Mohon ditunggu ya, Kak.",
            "",
            "Salam,",
        ),
        _q(
            "11-13 09:30",
            "Kak, sampai sekarang paketnya masih belum sampe. Udah seminggu lebih dr",
            "estimasi, resi ORD-49875 msh nyangkut di Surabaya. Gimana ini?",
            "Agus",
        ),
    ),
    _t(
        "t27",
        "id",
        "billing",
        "partial_howmuch",
        _SITI,
        "Jumlah tagihan INV-2026-0815 tidak sesuai",
        _q(
            "11-06 14:05",
            "Selamat siang,",
            "",
            "Pada invoice INV-2026-0815 tertera total Rp 1.275.000, sedangkan paket",
            "langganan saya Rp 975.000 per bulan. Berapa sebenarnya jumlah yang harus",
            "saya bayar bulan ini, dan mengapa ada selisih?",
            "",
            "Terima kasih,",
            "Siti Aminah",
        ),
        _r(
            "+1d",
            "Yth. Ibu Siti,",
            "",
            "Terima kasih atas pertanyaan Ibu. Selisih pada tagihan tersebut merupakan",
            "biaya tambahan sesuai ketentuan yang berlaku. Invoice yang benar akan kami",
            "kirimkan kembali.",
            "",
            "Hormat kami,",
        ),
    ),
    _t(
        "t28",
        "id",
        "technical-issue",
        "ignored_details",
        _FAJAR,
        "Aplikasi force close terus",
        _q(
            "11-08 22:41",
            "Kak aplikasinya force close terus tiap buka menu Pembayaran.",
            "HP sy Samsung A54, Android 14. Muncul error E-3091 trs langsung ketutup.",
            "Udah clear cache sama restart HP tetep sama.",
        ),
        _q("+6m", "Oh iya versi app nya 5.2.1 kak", flags="noquote"),
        _r(
            "+11h",
            "Halo Kak,",
            "",
            "Mohon maaf atas kendalanya. Silakan coba hapus cache aplikasi atau instal",
            "ulang aplikasi. Terima kasih.",
            "",
            "Salam,",
        ),
    ),
    _t(
        "t29",
        "id",
        "technical-issue",
        "good",
        _YUSUF,
        "HP panas tiap buka aplikasi",
        _q(
            "11-09 20:20",
            "Min, HP sy (Redmi Note 12) jadi panas bgt sampai 45\u00b0C tiap buka aplikasi,",
            "baterai jg cepet abis. Ini bug ya? Kapan diperbaikinya?",
            "Yusuf",
            flags="latin1",
        ),
        _r(
            "+13h",
            "Halo Kak Yusuf,",
            "",
            "Betul, ini bug di versi 5.2.0: layanan lokasi tetap aktif walau aplikasi",
            "ditutup. Sudah diperbaiki di versi 5.2.2 yang rilis besok, 11 Nov, di",
            "Play Store. Sementara itu, matikan izin lokasi di Pengaturan > Aplikasi.",
            "",
            "Salam,",
            flags="rina",
        ),
    ),
    _t(
        "t30",
        "id",
        "cancellation",
        "good",
        _HENDRA,
        "Permohonan berhenti berlangganan",
        _q(
            "11-10 08:30",
            "Dengan hormat,",
            "",
            "Saya ingin berhenti berlangganan paket Bisnis untuk akun ACC-330915",
            "mulai 1 Desember 2026. Apakah ada biaya pembatalan? Selain itu, apakah",
            "deposit Rp 500.000 yang saya bayarkan di awal akan dikembalikan?",
            "",
            "Hormat saya,",
            "Hendra Gunawan",
        ),
        _r(
            "+7h",
            "Yth. Bapak Hendra,",
            "",
            "Permohonan berhenti berlangganan akun ACC-330915 per 1 Desember 2026 sudah",
            "kami catat. Tidak ada biaya pembatalan karena masa kontrak 12 bulan Bapak",
            "berakhir 1 Oktober 2026. Deposit Rp 500.000 akan dikembalikan ke rekening",
            "terdaftar paling lambat 14 hari kerja setelah 30 November.",
            "",
            "Hormat kami,",
            flags="budi",
        ),
    ),
    _t(
        "t31",
        "id",
        "document-request",
        "auto_ack+good",
        _LINA,
        "Permohonan surat keterangan lunas",
        _q(
            "11-12 09:00",
            "Selamat pagi,",
            "",
            "Saya membutuhkan surat keterangan lunas untuk cicilan pesanan ORD-46120",
            "(laptop, cicilan 12 bulan, lunas Oktober 2026) untuk pengajuan KPR.",
            "Mohon informasi prosedurnya dan berapa lama surat tersebut bisa diterbitkan.",
            "",
            "Terima kasih,",
            "Lina Marlina",
        ),
        _ack("+45s"),
        _r(
            "+4h",
            "Yth. Ibu Lina,",
            "",
            "Surat keterangan lunas untuk ORD-46120 tidak memerlukan dokumen tambahan.",
            "Surat sudah kami proses dengan nomor SKL/2026/11/0457 dan akan dikirim ke",
            "email ini dalam bentuk PDF paling lambat Jumat, 13 November 2026. Jika bank",
            "memerlukan versi bercap basah, silakan ambil di kantor cabang mulai 16 Nov.",
            "",
            "Hormat kami,",
        ),
    ),
    _t(
        "t32",
        "id",
        "data-change",
        "unanswered",
        _RUDI,
        "Ganti alamat pengiriman",
        _q(
            "11-14 10:45",
            "Kak mau ganti alamat pengiriman, sy pindah ke Jl. Kaliurang Km 7 No. 15,",
            "Sleman, Yogyakarta. Gimana caranya ya? Di app gak bisa diedit, tombolnya abu2.",
            "Makasih",
            "Rudi",
            fmt="html",
        ),
    ),
    _t(
        "t33",
        "id",
        "service-complaint",
        "unanswered",
        _MAYA,
        "Keluhan pelayanan kurir",
        _q(
            "11-16 19:05",
            "Dengan hormat,",
            "",
            "Saya ingin menyampaikan keluhan atas pengiriman pesanan ORD-50933 pada",
            "12 November 2026. Kurir meletakkan paket di depan pagar tanpa konfirmasi",
            "sehingga barang (rice cooker) basah terkena hujan dan tidak bisa dipakai.",
            "Saya mohon tanggapan serta penggantian barang.",
            "",
            "Hormat saya,",
            "Maya Anggraini",
        ),
    ),
    _t(
        "t34",
        "id",
        "general-inquiry",
        "good",
        _TEGUH,
        "Jam buka kantor Bandung",
        _q(
            "11-17 07:50",
            "Pagi kak, kantor cabang Bandung buka jam brp ya? Sabtu buka gak?",
            "Mau ambil barang retur.",
        ),
        _r(
            "+3h",
            "Halo Kak Teguh,",
            "",
            "Kantor cabang Bandung (Jl. Asia Afrika No. 88) buka Senin-Jumat pukul",
            "08.00-16.00 dan Sabtu pukul 08.00-12.00. Minggu dan hari libur nasional tutup.",
            "Jangan lupa bawa nomor retur dan KTP ya, Kak.",
            "",
            "Salam,",
        ),
    ),
    _t(
        "t35",
        "id",
        "data-change",
        "good",
        _NUR,
        "Perubahan nama pada akun",
        _q(
            "11-19 13:00",
            "Selamat siang,",
            "",
            'Saya ingin mengganti nama pada akun saya dari "Nuraini" menjadi "Nur Aini"',
            "sesuai KTP. Dokumen apa saja yang perlu saya kirimkan, dan berapa lama",
            "prosesnya?",
            "",
            "Terima kasih,",
            "Nur Aini",
        ),
        _r(
            "+5h",
            "Yth. Ibu Nur Aini,",
            "",
            "Cukup kirimkan foto KTP dan foto selfie sambil memegang KTP dengan membalas",
            "email ini. Perubahan nama kami proses dalam 1x24 jam kerja setelah dokumen",
            "kami terima, dan Ibu akan mendapat notifikasi di aplikasi.",
            "",
            "Hormat kami,",
        ),
    ),
    _t(
        "t36",
        "id",
        "account-access",
        "generic+repeat_same_thread+good",
        _INDAH,
        "Gak bisa login",
        _q(
            "11-19 20:15",
            'Kak sy gak bisa login, lupa password. Udah klik "Lupa password"',
            "tp link reset nya gak masuk ke email.",
            "Indah",
        ),
        _r(
            "+14h",
            "Halo Kak Indah,",
            "",
            "Silakan cek folder spam atau promosi di email Kakak, ya.",
            "",
            "Salam,",
            flags="norefs",
        ),
        _q(
            "11-21 09:00",
            "Kak sudah berkali-kali sy coba, folder spam sm promosi jg udah dicek,",
            "sampai sekarang masih belum masuk. Email sy indah.permata@mail.example.",
            "Tolong dibantu \U0001f64f",
            flags="noquote",
        ),
        _r(
            "+3h",
            "Halo Kak Indah,",
            "",
            "Mohon maaf merepotkan. Ternyata email di akun Kakak tercatat salah ketik",
            "(indah.permta@mail.example). Sudah kami perbaiki, dan link reset baru sudah",
            "kami kirim barusan ke indah.permata@mail.example. Link berlaku 15 menit.",
            "",
            "Salam,",
        ),
    ),
    _t(
        "t37",
        "id",
        "delivery",
        "good",
        _WAHYU,
        "Resi gak bisa dilacak",
        _q(
            "11-20 10:20",
            "Kak resi utk ORD-50288 gak bisa dilacak, di web kurirnya",
            "katanya nomor tdk ditemukan. Udah 2 hari.",
            "Wahyu",
            flags="noid",
        ),
        _r(
            "+2h",
            "Halo Kak Wahyu,",
            "",
            "Nomor resi di email sebelumnya memang salah. Resi yang benar untuk ORD-50288",
            "adalah JP7712904458. Paket sudah di hub Semarang dan diperkirakan tiba",
            "Senin, 23 Nov.",
            "",
            "Salam,",
            flags="norefs",
        ),
    ),
    _t(
        "t38",
        "id",
        "general-inquiry",
        "good",
        _RATNA,
        "Biaya admin pembayaran",
        _q(
            "11-23 11:30",
            "Selamat siang,",
            "Berapa biaya admin untuk pembayaran melalui transfer bank (virtual account)",
            "dan melalui minimarket? Apakah ada metode pembayaran tanpa biaya admin?",
            "Terima kasih.",
            "Ratna Sari",
            fmt="html",
        ),
        _r(
            "+2h",
            "Yth. Ibu Ratna,",
            "",
            "Biaya admin pembayaran melalui virtual account bank adalah Rp 4.000 dan",
            "melalui minimarket Rp 5.000 per transaksi. Pembayaran dengan QRIS dan",
            "saldo Acme Pay tidak dikenakan biaya admin.",
            "",
            "Hormat kami,",
        ),
    ),
    _t(
        "t39",
        "id",
        "refund",
        "good",
        _EKO,
        "Barang rusak, minta refund",
        _q(
            "11-24 09:45",
            "Kak, TV yg sy terima (ORD-49560) layarnya retak. Foto udah sy kirim lewat chat.",
            "Sy mau refund aja, gak mau tukar barang. Dananya Rp 3.499.000 nanti",
            "balik ke mana ya? Trus barangnya gmn?",
            "Eko",
        ),
        _q("+25m", "Tambahan kak, nomor tiket chat nya CH-88213.", flags="noquote"),
        _r(
            "+5h",
            "Halo Kak Eko,",
            "",
            "Mohon maaf atas kondisi barangnya. Refund untuk ORD-49560 (tiket CH-88213)",
            "sudah kami setujui. Dana Rp 3.499.000 dikembalikan ke kartu kredit BNI yang",
            "dipakai membayar, dalam 7-14 hari kerja. Kurir akan menjemput TV di alamat",
            "Kakak pada Kamis, 26 Nov; Kakak tidak perlu mengemas ulang.",
            "",
            "Salam,",
        ),
    ),
    _t(
        "t40",
        "id",
        "cancellation",
        "partial",
        _FITRI,
        "Batalin pesanan ORD-51230",
        _q(
            "11-24 08:10",
            "Kak sy mau batalin pesanan ORD-51230 yg baru sy buat td pagi, blm dikirim kan?",
            "Dananya Rp 689.000 balik brp lama ya?",
        ),
        _q("+10m", "Bayarnya pakai GoPay kak", flags="noquote"),
        _r(
            "+3h",
            "Halo Kak Fitri,",
            "",
            "Pesanan ORD-51230 sudah kami batalkan dan tidak akan dikirim.",
            "",
            "Salam,",
        ),
    ),
    # ---------------------------------------------------------------- injected live
    _t(
        "t41",
        "en",
        "delivery",
        "live_question",
        _PAUL,
        "Change delivery slot for ORD-52018",
        _q(
            "11-26 06:45",
            "Hi,",
            "Can I move the delivery of ORD-52018 to Saturday morning (Nov 28)?",
            "I won't be home on Friday.",
            "Thanks, Paul",
            flags="live",
        ),
    ),
    _t(
        "t42",
        "id",
        "billing",
        "live_question+good",
        _YUNI,
        "Voucher gak bisa dipakai",
        _q(
            "11-26 10:15",
            "Kak voucher DISKON20 gak bisa dipake utk pesanan ORD-52040, muncul",
            '"kode tidak berlaku". Padahal berlakunya s/d 30 Nov. Knp ya?',
            "Yuni",
            flags="live",
        ),
        _r(
            "+40m",
            "Halo Kak Yuni,",
            "",
            "Voucher DISKON20 berlaku untuk minimal belanja Rp 300.000, sedangkan total",
            "ORD-52040 Rp 275.000. Jika belanjanya ditambah Rp 25.000 lagi, voucher bisa",
            "dipakai sampai 30 Nov.",
            "",
            "Salam,",
            flags="live",
        ),
    ),
)


# --------------------------------------------------------------------------------------------
# Building the messages
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Built:
    key: str  # e.g. "t07.q1"
    role: _Role
    when: datetime
    msgid: str | None
    refs: tuple[str, ...]  # this message's References chain
    name: str
    addr: str
    subject: str
    text: str  # plain-text body as sent (including signature and quote)
    live: bool
    message: EmailMessage


def _tz(hours: int) -> timezone:
    return timezone(timedelta(hours=hours))


def _parse_when(spec: str, prev: datetime | None, tz: timezone) -> datetime:
    if spec.startswith("+"):
        if prev is None:
            raise ValueError(f"relative time {spec!r} on a thread's first message")
        units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
        delta = timedelta(**{units[spec[-1]]: int(spec[1:-1])})
        return (prev + delta).astimezone(tz)
    day, clock = spec.split()
    month, mday = (int(part) for part in day.split("-"))
    hour, minute = (int(part) for part in clock.split(":"))
    return datetime(_YEAR, month, mday, hour, minute, tzinfo=tz)


def _attribution(lang: _Lang, when: datetime, name: str, addr: str) -> str:
    if lang == "id":
        return (
            f"Pada {_ID_DAYS[when.weekday()]}, {when.day} {_ID_MONTHS[when.month - 1]}"
            f" {when.year} pukul {when:%H.%M}, {name} <{addr}> menulis:"
        )
    hour = when.hour % 12 or 12
    ampm = "AM" if when.hour < 12 else "PM"
    return (
        f"On {_EN_DAYS[when.weekday()][:3]}, {_EN_MONTHS[when.month - 1][:3]} {when.day},"
        f" {when.year} at {hour}:{when:%M} {ampm}, {name} <{addr}> wrote:"
    )


def _quote(lang: _Lang, parent: _Built, tz: timezone) -> str:
    head = _attribution(lang, parent.when.astimezone(tz), parent.name, parent.addr)
    quoted = "\n".join(f"> {line}" if line else ">" for line in parent.text.split("\n"))
    return f"{head}\n{quoted}"


def _outlook_quote(parent: _Built, tz: timezone) -> str:
    when = parent.when.astimezone(tz)
    hour = when.hour % 12 or 12
    ampm = "AM" if when.hour < 12 else "PM"
    sent = f"{_EN_DAYS[when.weekday()]}, {_EN_MONTHS[when.month - 1]} {when.day}, {when.year} {hour}:{when:%M} {ampm}"
    return "\n".join(
        (
            "-----Original Message-----",
            f"From: {parent.name} <{parent.addr}>",
            f"Sent: {sent}",
            f"To: {_SUPPORT_FROM}",
            f"Subject: {parent.subject}",
            "",
            parent.text,
        )
    )


def _ack_lines(lang: _Lang, ticket: int) -> tuple[str, ...]:
    if lang == "id":
        return (
            "Terima kasih, pesan Anda telah kami terima.",
            f"Nomor tiket Anda #{ticket}. Tim kami akan segera membalas.",
            "Pesan ini dikirim secara otomatis.",
        )
    return (
        "Thank you for contacting Acme Support.",
        f"We have received your message, ticket #{ticket}, we will reply soon.",
        "This is an automated message - please keep the ticket number in the subject.",
    )


def _to_html(text: str) -> str:
    out: list[str] = []
    quoted: list[str] = []
    for line in [*text.split("\n"), ""]:
        if line.startswith(">"):
            quoted.append(html.escape(line.lstrip("> ")))
            continue
        if quoted:
            out.append("<blockquote>" + "<br>".join(quoted) + "</blockquote>")
            quoted = []
        out.append(f"<div>{html.escape(line)}</div>" if line else "<div><br></div>")
    body = "\n".join(out[:-1])
    return f'<html>\n<head><meta charset="utf-8"></head>\n<body>\n{body}\n</body>\n</html>'


def _set_body(msg: EmailMessage, text: str, fmt: _Fmt, flags: frozenset[str]) -> None:
    if fmt == "html":
        msg.set_content(_to_html(text), subtype="html")
    elif fmt == "alt":
        msg.set_content(text)
        msg.add_alternative(_to_html(text), subtype="html")
    else:
        msg.set_content(text, charset="iso-8859-1" if "latin1" in flags else "utf-8")
    if "pdf" in flags:
        msg.add_attachment(_PDF_BYTES, maintype="application", subtype="pdf", filename=_PDF_NAME)


def _serialize(msg: EmailMessage, seed: str) -> bytes:
    """Bytes with deterministic MIME boundaries (the generator would pick random ones)."""
    for index, part in enumerate(msg.walk()):
        if index:
            del part["MIME-Version"]
        if part.get_content_maintype() == "multipart":
            part.set_boundary(f"=_acme_{seed}_{index}")
    return msg.as_bytes()


def _find_parent(role: _Role, built: list[_Built]) -> _Built | None:
    parents: dict[_Role, tuple[_Role, ...]] = {"q": ("q", "r"), "r": ("q",), "a": ("q",), "o": ("r",)}
    wanted = parents[role]
    for item in reversed(built):
        if item.role in wanted:
            return item
    return None


def _build_thread(thread: _Thread) -> list[_Built]:
    built: list[_Built] = []
    counters: dict[str, int] = {}
    prev: datetime | None = None
    for step in thread.steps:
        counters[step.role] = counters.get(step.role, 0) + 1
        key = f"{step.role}{counters[step.role]}"
        outgoing = step.role in ("r", "a")
        tz = _tz(_SUPPORT_TZ if outgoing else thread.cust.tz)
        when = _parse_when(step.when, prev, tz)
        prev = when
        parent = _find_parent(step.role, built)
        if step.role == "q" and parent is None:
            parent_refs: tuple[str, ...] = ()
        elif parent is None:
            raise ValueError(f"{thread.tid}.{key} has nothing to reply to")
        else:
            parent_refs = parent.refs + ((parent.msgid,) if parent.msgid else ())

        reply_prefix = "Balas: " if thread.lang == "id" else "Re: "
        text = "\n".join(step.lines)
        if outgoing:
            assert parent is not None
            agent = "rina" if "rina" in step.flags else "budi" if "budi" in step.flags else ""
            name, addr, signature = _AGENTS[agent]
            if step.role == "a":
                ticket = 12343 + int(thread.tid[1:])
                text = "\n".join(_ack_lines(thread.lang, ticket))
                label = "Tiket" if thread.lang == "id" else "Ticket"
                subject = f"{reply_prefix}{thread.subject} [{label} #{ticket}]"
            elif "outlook" in step.flags:
                subject = f"RE: {thread.subject}"
            else:
                subject = reply_prefix + thread.subject
            text += f"\n\n-- \n{signature}"
            if step.role == "r" and "outlook" in step.flags:
                text += "\n\n" + _outlook_quote(parent, tz)
            elif step.role == "r" and "noquote" not in step.flags:
                text += "\n\n" + _quote(thread.lang, parent, tz)
            sender = formataddr((name, addr)) if name else addr
            recipient = formataddr((thread.cust.name, parent.addr))
        else:
            name, addr = thread.cust.name, thread.cust.addr
            if step.role == "o":
                assert parent is not None
                subject = f"Automatic reply: {parent.subject}"
            else:
                subject = thread.subject if parent is None else f"Re: {thread.subject}"
            if step.role == "q" and parent is not None and parent.role == "r" and "noquote" not in step.flags:
                text += "\n\n" + _quote(thread.lang, parent, tz)
            sender = formataddr((name, addr))
            recipient = _SUPPORT_FROM

        host = _SUPPORT_MSGID_HOST if outgoing else _CUSTOMER_MSGID_HOST
        msgid = None if "noid" in step.flags else f"<{thread.tid}.{key}@{host}>"
        refs = () if "norefs" in step.flags else parent_refs

        msg = EmailMessage(policy=_POLICY)
        msg["From"] = sender
        msg["To"] = recipient
        msg["Subject"] = subject
        msg["Date"] = format_datetime(when)
        if msgid:
            msg["Message-ID"] = msgid
        if refs:
            msg["In-Reply-To"] = refs[-1]
            msg["References"] = " ".join(refs)
        if step.role in ("a", "o"):
            msg["Auto-Submitted"] = "auto-replied"
        if "outlook" in step.flags:
            msg["X-Mailer"] = "Microsoft Outlook 16.0"
        _set_body(msg, text, step.fmt, step.flags)
        built.append(
            _Built(
                f"{thread.tid}.{key}",
                step.role,
                when,
                msgid,
                refs,
                name,
                addr,
                subject,
                text,
                "live" in step.flags,
                msg,
            )
        )
    return built


def _newsletter() -> EmailMessage:
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = formataddr(("Helpdesk Weekly", "newsletter@news.example.org"))
    msg["To"] = SUPPORT_ADDRESS
    msg["Subject"] = "Helpdesk Weekly #46: five ways to cut first-response time"
    msg["Date"] = format_datetime(datetime(_YEAR, 11, 10, 6, 0, tzinfo=_tz(0)))
    msg["Message-ID"] = "<hw46.20261110@news.example.org>"
    msg["List-Id"] = "Helpdesk Weekly <weekly.news.example.org>"
    msg["List-Unsubscribe"] = "<https://news.example.org/unsubscribe?u=8812>, <mailto:unsubscribe@news.example.org>"
    msg["Precedence"] = "bulk"
    text = (
        "This week in Helpdesk Weekly:\n"
        "\n"
        "- Five ways to cut first-response time without hiring\n"
        "- Macros vs. personal replies: what customers actually notice\n"
        "- Webinar on Dec 3: running a support team in two languages\n"
        "\n"
        "You receive this because support@example.com subscribed at news.example.org.\n"
        "Unsubscribe: https://news.example.org/unsubscribe?u=8812"
    )
    _set_body(msg, text, "alt", frozenset())
    return msg


def _bounce(original: _Built) -> EmailMessage:
    """A delivery status notification (RFC 3464) for one of our replies."""
    rcpt = original.message["To"].addresses[0].addr_spec
    when = original.when + timedelta(minutes=2)
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = formataddr(("Mail Delivery System", "MAILER-DAEMON@mx.example.org"))
    msg["To"] = SUPPORT_ADDRESS
    msg["Subject"] = "Undelivered Mail Returned to Sender"
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = "<t24.dsn@mx.example.org>"
    msg["Auto-Submitted"] = "auto-replied"
    msg["MIME-Version"] = "1.0"
    msg["Content-Type"] = "multipart/report; report-type=delivery-status"

    notice = MIMEPart(policy=_POLICY)
    notice.set_content(
        "\n".join(
            (
                "This is the mail system at host mx.example.org.",
                "",
                "I'm sorry to have to inform you that your message could not",
                "be delivered to one or more recipients.",
                "",
                f"<{rcpt}>: delivery failed after the message was accepted:",
                "    552 5.2.2 Mailbox full (quota exceeded)",
            )
        )
    )
    per_message = MIMEPart(policy=_POLICY)
    per_message["Reporting-MTA"] = "dns; mx.example.org"
    per_message["Arrival-Date"] = format_datetime(original.when)
    per_recipient = MIMEPart(policy=_POLICY)
    per_recipient["Final-Recipient"] = f"rfc822; {rcpt}"
    per_recipient["Action"] = "failed"
    per_recipient["Status"] = "5.2.2"
    per_recipient["Diagnostic-Code"] = "smtp; 552 5.2.2 Mailbox full"
    status = MIMEPart(policy=_POLICY)
    status["Content-Type"] = "message/delivery-status"
    status.set_payload([per_message, per_recipient])
    headers = MIMEPart(policy=_POLICY)
    header_names = ("From", "To", "Subject", "Date", "Message-ID")
    headers.set_content("\n".join(f"{h}: {original.message[h]}" for h in header_names), subtype="rfc822-headers")
    msg.set_payload([notice, status, headers])
    return msg


def _all_messages() -> list[tuple[datetime, bool, SampleMessage]]:
    """Every message as (date, injected live?, message), ordered by date."""
    built = [item for thread in _THREADS for item in _build_thread(thread)]
    bounced = next(item for item in built if item.msgid == "<t24.r1@example.com>")
    entries: list[tuple[datetime, bool, SampleMessage]] = [
        (
            item.when,
            item.live,
            SampleMessage("sent" if item.role in ("r", "a") else "inbox", _serialize(item.message, item.key)),
        )
        for item in built
    ]
    entries.append(
        (
            datetime(_YEAR, 11, 10, 6, 0, tzinfo=_tz(0)),
            False,
            SampleMessage("inbox", _serialize(_newsletter(), "hw46")),
        )
    )
    entries.append(
        (
            bounced.when + timedelta(minutes=2),
            False,
            SampleMessage("inbox", _serialize(_bounce(bounced), "dsn")),
        )
    )
    entries.sort(key=lambda entry: entry[0])
    return entries


def sample_messages() -> list[SampleMessage]:
    """The seeded mailbox (inbox and Sent), ordered by Date."""
    return [message for _, live, message in _all_messages() if not live]


def live_messages() -> list[SampleMessage]:
    """Messages injected while the demo runs: 2 new questions, 1 reply, 1 repeat contact."""
    return [message for _, live, message in _all_messages() if live]

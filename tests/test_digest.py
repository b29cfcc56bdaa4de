"""The digest: built from a real store of invented English and Indonesian support mail, then rendered."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from triage.config import AccountConfig, Config, SupportConfig
from triage.digest.build import (
    build_digest,
    check_precision,
    excerpt,
    first_replies,
    response_minutes,
    volumes,
)
from triage.digest.data import SECTIONS, Digest
from triage.digest.redact import CARD, NIK, PHONE, luhn_valid, redact, redactor
from triage.digest.render import render_html, render_json, render_markdown, render_text
from triage.model import Address, Direction, FolderRole, Mail, MessageView
from triage.store import Captured, Checkpoint, Store, open_store

START = datetime(2026, 11, 2, tzinfo=UTC)
END = datetime(2026, 11, 9, tzinfo=UTC)
NOW = END + timedelta(hours=1)
AGENT1, AGENT2, SUPPORT = "rina@example.com", "dimas@example.com", "support@example.com"
CANNED = (
    "Halo Kak, terima kasih sudah menghubungi kami. Keluhan Kakak sudah kami teruskan ke tim terkait "
    "dan akan segera ditindaklanjuti. Mohon kesediaannya untuk menunggu kabar selanjutnya dari kami ya Kak."
)


# -- a small store, written through the Store API -------------------------------------------------


@dataclass
class MailBox:
    """Invented mail in a real store: row ids and Message-IDs by a short name."""

    store: Store
    ids: dict[str, int] = field(default_factory=dict)
    message_ids: dict[str, str] = field(default_factory=dict)
    uid: int = 0

    def mail(
        self,
        name: str,
        direction: Direction,
        sender: str,
        date: datetime,
        subject: str,
        text: str,
        reply_to: str | None = None,
        lang: str = "en",
        automated: str | None = None,
        account: str = "support",
    ) -> int:
        message_id = f"<{name}.{hashlib.sha1(name.encode()).hexdigest()[:8]}@mail.example>"
        parent = self.message_ids.get(reply_to) if reply_to else None
        parsed = Mail(
            message_id=message_id,
            synthetic_id=False,
            sender=Address("", sender),
            to=(Address("", SUPPORT),),
            cc=(),
            date=date,
            subject=subject,
            subject_norm=re.sub(r"^(re|aw|fwd?):\s*", "", subject, flags=re.IGNORECASE).lower(),
            in_reply_to=parent,
            references=(parent,) if parent else (),
            new_text=text,
            quoted_text="",
            signature="",
            lang=lang,
            automated=automated,
            content_hash=hashlib.sha256(message_id.encode()).hexdigest(),
        )
        role = FolderRole.INBOX if direction is Direction.IN else FolderRole.SENT
        self.uid += 1
        raw = f"Message-ID: {message_id}\r\n\r\n{text}".encode()
        checkpoint = Checkpoint(account, role, role.value.upper(), 7, self.uid)
        [row] = self.store.save_batch(account, [Captured(parsed, raw, direction, role, self.uid, len(raw))], checkpoint)
        self.ids[name], self.message_ids[name] = row, message_id
        return row

    def topics(self, name: str, *hits: tuple[str, list[tuple[str, str]]], skipped: str | None = None) -> None:
        """Topics of one message: (topic, [(evidence kind, rule), ...]); none: unclassified."""
        message = self.ids[name]
        classified = {
            "message": message,
            "rules_version": "test-1",
            "lang": "en",
            "plain": 0,
            "skipped": skipped,
            "unclassified": int(not hits and skipped is None),
            "classified_at": "2026-11-09T00:00:00+00:00",
        }
        rows = [
            {
                "message": message,
                "topic": topic,
                "score": 2.0,
                "rules_version": "test-1",
                "evidence_json": json.dumps([{"kind": k, "rule": r, "matched": r, "weight": 1.0} for k, r in evidence]),
            }
            for topic, evidence in hits
        ]
        self.store.replace_topics([classified], rows)

    def flag(
        self,
        kind: str,
        name: str,
        severity: str,
        explanation: str,
        evidence: dict[str, Any] | None = None,
        related: tuple[str, ...] = (),
    ) -> str:
        """Add one flag the way the flag engine stores it; returns its key."""
        message = self.ids[name]
        key = f"{kind}:{message}"
        row = {
            "key": key,
            "kind": kind,
            "message": message,
            "severity": severity,
            "explanation": explanation,
            "evidence_json": json.dumps(evidence or {}),
            "related_json": json.dumps([self.message_ids[r] for r in related]),
            "rules_version": "test-1",
        }
        existing = [
            {k: f[k] for k in ("key", "kind", "message", "severity", "explanation", "evidence_json", "related_json")}
            | {"rules_version": "test-1"}
            for f in self.store.flags_of([message]).get(message, [])
        ]
        self.store.replace_flags([message], [*existing, row])
        return key

    def set_sync(self, account: str, role: str, last_sync: datetime) -> None:
        self.store.db.execute(
            "UPDATE folder_state SET last_sync = ? WHERE account = ? AND role = ?",
            (last_sync.isoformat(), account, role),
        )


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def populate(store: Store) -> MailBox:
    """A week of support mail (2-9 Nov 2026) and the week before, with flags and verdicts."""
    box = MailBox(store)
    inn, out = Direction.IN, Direction.OUT
    # The previous week: one billing question answered with a deflection, one delivery question.
    box.mail("p1", inn, "andi@tokoandi.example", at(28, 9, month=10), "Tagihan dobel", "Tagihan saya ditagih dua kali.")
    box.mail("p2", out, AGENT1, at(28, 11, month=10), "Re: Tagihan dobel", "Silakan baca FAQ kami.", "p1", "id")
    box.mail(
        "p3",
        inn,
        "budi@tokobudi.example",
        at(30, 8, month=10),
        "Paket belum sampai",
        "Paket saya belum sampai sejak 25 Oktober.",
        lang="id",
    )
    box.mail(
        "p4",
        out,
        AGENT2,
        at(30, 10, month=10),
        "Re: Paket belum sampai",
        "Paket Kakak sedang dalam perjalanan, estimasi tiba 2 hari lagi.",
        "p3",
        "id",
    )
    # This week.
    box.mail(
        "q1",
        inn,
        "margaret@harbour.example",
        at(2, 9),
        "Invoice INV-20418 charged twice",
        "My card 4111 1111 1111 1111 was charged twice for invoice INV-20418. Please refund the second charge, "
        "or call me on +62 812-3456-7890.",
    )
    box.mail(
        "a1",
        out,
        SUPPORT,
        at(2, 9, 1),
        "Auto: we got your message",
        "We received your message.",
        "q1",
        automated="auto-submitted: auto-replied",
    )
    box.mail(
        "r1",
        out,
        AGENT1,
        at(2, 10, 30),
        "Re: Invoice INV-20418 charged twice",
        "Thank you for contacting us. Please check our FAQ at the help centre.",
        "q1",
    )
    box.mail(
        "q2",
        inn,
        "budi@tokobudi.example",
        at(3, 8),
        "Paket belum sampai lagi",
        "Saya sudah transfer tapi paket belum sampai. NIK saya 3201234567890002, HP 0812 3456 7890.",
        lang="id",
    )
    box.mail("r2", out, AGENT2, at(3, 12), "Re: Paket belum sampai lagi", CANNED, "q2", "id")
    box.mail(
        "q3",
        inn,
        "budi@tokobudi.example",
        at(5, 9),
        "Masih belum sampai",
        "Paket saya masih belum sampai, saya sudah tanya sebelumnya.",
        lang="id",
    )
    box.mail("r3", out, AGENT2, at(5, 11), "Re: Masih belum sampai", CANNED, "q3", "id")
    box.mail(
        "q4",
        inn,
        "siti@kopisenja.example",
        at(6, 7),
        "Refund belum masuk",
        "Refund saya belum masuk ke rekening.",
        lang="id",
    )
    box.mail("r4", out, AGENT2, at(6, 9), "Re: Refund belum masuk", CANNED, "q4", "id")
    box.mail("q5", inn, "tom@whitfield.example", at(7, 10), "Cannot log in", "I cannot log in since yesterday.")
    box.mail("q6", inn, "priya@lumencraft.example", at(8, 12), "Something odd", "Hello, something odd happened.")
    box.mail("r5", out, AGENT1, at(8, 14), "Re: Something odd", "Could you tell us more about what happened?", "q6")
    box.mail(
        "q7",
        inn,
        "mailer-daemon@lumencraft.example",
        at(8, 13),
        "Undeliverable",
        "Delivery failed.",
        automated="automated sender mailer-daemon@lumencraft.example",
    )
    # After the period.
    box.mail("q8", inn, "late@example.net", at(9, 2), "Late question", "Are you open on Sunday?")

    box.topics("p1", ("billing", [("keyword", "tagihan")]))
    box.topics("p3", ("delivery", [("keyword", "paket")]))
    box.topics(
        "q1",
        ("billing", [("keyword", "charged twice"), ("regex", "invoice-number")]),
        ("refund", [("keyword", "refund")]),
    )
    box.topics("q2", ("delivery", [("keyword", "paket"), ("example", "ex-3")]))
    box.topics("q3", ("delivery", [("keyword", "paket")]))
    box.topics("q4", ("refund", [("keyword", "refund"), ("header", "subject contains 'refund'")]))
    box.topics("q5", ("account-access", [("keyword", "log in")]))
    box.topics("q6")
    box.topics("q7", skipped="automated")
    box.topics("q8", ("general-inquiry", [("keyword", "open")]))

    mid = box.message_ids
    box.flag("deflection", "p2", "high", "The reply sends the customer to the FAQ.", related=("p1",))
    box.flag(
        "unresolved",
        "p4",
        "medium",
        "The customer wrote again after this reply.",
        {"question": mid["p3"]},
        ("p3", "q2"),
    )
    box.flag(
        "deflection", "r1", "high", "The reply sends the customer to the FAQ instead of answering.", related=("q1",)
    )
    box.flag("partial-answer", "r1", "medium", "The refund request was not taken up.", related=("q1",))
    similar = {
        name: {"message_id": mid[name], "date": "", "questions": [], "question_topics": topics}
        for name, topics in (("r2", ["delivery"]), ("r3", ["delivery"]), ("r4", ["refund"]))
    }
    for name, others, topics in (
        ("r2", ("r3", "r4"), ["delivery"]),
        ("r3", ("r2", "r4"), ["delivery"]),
        ("r4", ("r2", "r3"), ["refund"]),
    ):
        box.flag(
            "canned",
            name,
            "medium",
            "The same reply text was sent 3 times, to questions about delivery "
            "and refund; it does not adapt to this customer's question.",
            {"similar_replies": [similar[o] for o in others], "this_question_topics": topics},
            ("q2",),
        )
    box.flag(
        "unresolved",
        "r2",
        "medium",
        "The customer wrote again after this reply.",
        {"question": mid["q2"]},
        ("q2", "q3"),
    )
    earlier = [
        {
            "message_id": mid["p3"],
            "date": at(30, 8, month=10).isoformat(),
            "subject": "Paket belum sampai",
            "from": "budi@tokobudi.example",
            "reasons": ["same topic"],
            "reply": mid["p4"],
            "reply_date": "",
        },
        {
            "message_id": mid["q2"],
            "date": at(3, 8).isoformat(),
            "subject": "Paket belum sampai lagi",
            "from": "budi@tokobudi.example",
            "reasons": ["says they wrote before"],
            "reply": mid["r2"],
            "reply_date": "",
        },
    ]
    box.flag(
        "repeat-contact",
        "q3",
        "high",
        "Third message in 6 days about delivery from this customer; the earlier reply on 3 Nov did not resolve it.",
        {"earlier": earlier},
        ("p3", "q2", "p4", "r2"),
    )
    box.flag(
        "unanswered",
        "q5",
        "medium",
        "No reply in 39 hours to this message about account-access from "
        "tom@whitfield.example; the reply target is 24 hours.",
        {"age_hours": 39.0, "sla_hours": 24},
    )
    dismissed = box.flag("off-topic", "r5", "low", "The reply does not take up the question.", related=("q6",))
    box.flag("unanswered", "q8", "medium", "No reply to this late question.", {"age_hours": 30.0})

    store.set_feedback(f"deflection:{box.ids['r1']}", "deflection", "confirmed", None)
    store.set_feedback(f"deflection:{box.ids['p2']}", "deflection", "dismissed", "the FAQ answered it")
    store.set_feedback(f"canned:{box.ids['r2']}", "canned", "confirmed", None)
    store.set_feedback(dismissed, "off-topic", "dismissed", None)

    store.record_error("support", [FolderRole.SENT], "XOAUTH2 authentication failed: invalid or expired token")
    box.set_sync("support", "inbox", NOW - timedelta(hours=1))
    box.set_sync("support", "sent", NOW - timedelta(hours=8))
    return box


CONFIG = Config(
    support=SupportConfig(addresses=(SUPPORT,), domains=("example.com",)),
    accounts=(
        AccountConfig(name="support", host="imap.example.com", username="support", password_env="PW", sent="SENT"),
        AccountConfig(name="billing", host="imap.example.com", username="billing", password_env="PW"),
    ),
)


@pytest.fixture
def box(tmp_path: Path) -> MailBox:
    return populate(open_store(tmp_path / "store" / "triage.sqlite"))


@pytest.fixture
def digest(box: MailBox) -> Digest:
    return build_digest(box.store, START, END, CONFIG, NOW)


# -- the digest built from the store -------------------------------------------------------------


def test_sections_are_present_and_in_reading_order(digest: Digest) -> None:
    names = [name for name, *_ in SECTIONS]
    assert names == [
        "health",
        "volumes",
        "flagged_replies",
        "repeat_contacts",
        "unanswered",
        "reused_replies",
        "agents",
        "unclassified",
        "rule_hits",
        "precision",
    ]
    keys = list(json.loads(render_json(digest)))
    assert [k for k in keys if k in names] == names
    for rendered in (render_text(digest), render_markdown(digest)):
        positions = [rendered.index(f"{n}. {title}") for n, (_, _, title, _) in enumerate(SECTIONS, 1)]
        assert positions == sorted(positions)
    html = render_html(digest)
    anchors = [html.index(f'id="{anchor}"') for _, anchor, *_ in SECTIONS]
    assert anchors == sorted(anchors)


def test_health_shows_last_sync_stale_mailboxes_and_oauth_failures(box: MailBox, digest: Digest) -> None:
    folders = {(f.account, f.folder): f for f in digest.health.folders}
    assert set(folders) == {("support", "inbox"), ("support", "sent"), ("billing", "inbox")}
    inbox, sent, never = folders["support", "inbox"], folders["support", "sent"], folders["billing", "inbox"]
    assert (inbox.stale, inbox.hours_since_sync, inbox.oauth_failure) == (False, 1.0, False)
    assert sent.stale and sent.hours_since_sync == 8.0 and sent.oauth_failure
    assert sent.last_error is not None and "XOAUTH2" in sent.last_error
    assert never.stale and never.last_sync is None and never.mailbox == "INBOX"
    assert digest.health.stale_hours == 6.0
    relaxed = build_digest(box.store, START, END, CONFIG, NOW, stale_hours=12)
    assert not {f.folder for f in relaxed.health.folders if f.account == "support" and f.stale}


def recovered(store: Store, error: str, failed: datetime, cleared: datetime) -> None:
    """The inbox failed at `failed` and synced again at `cleared` (as Store.mark_synced records it)."""
    store.db.execute(
        "UPDATE folder_state SET last_error = NULL, last_error_at = ?, recovered_error = ?, recovered_at = ? "
        "WHERE account = 'support' AND role = 'inbox'",
        (failed.isoformat(), error, cleared.isoformat()),
    )


def test_health_shows_an_error_the_folder_recovered_from_in_the_period(box: MailBox) -> None:
    error = "support: fetching messages failed: connection reset by peer <b>&amp;</b>"
    recovered(box.store, error, END - timedelta(hours=3), END - timedelta(hours=2))
    digest = build_digest(box.store, START, END, CONFIG, NOW)
    inbox = next(f for f in digest.health.folders if (f.account, f.folder) == ("support", "inbox"))
    assert (inbox.last_error, inbox.recovered_error) == (None, error)
    assert inbox.recovered_at == END - timedelta(hours=2)
    text = " ".join(render_text(digest).split())  # wrapped at 78 columns
    assert re.search(r"recovered .* from an error at .*: support: fetching messages failed", text), text
    assert "recovered" in render_markdown(digest) and "connection reset by peer" in render_markdown(digest)
    html = render_html(digest)
    assert "Recovered (" in html and "connection reset by peer &lt;b&gt;&amp;amp;&lt;/b&gt;" in html
    health = {(f["account"], f["folder"]): f for f in json.loads(render_json(digest))["health"]["folders"]}
    assert health["support", "inbox"]["recovered_error"] == error
    assert health["support", "inbox"]["recovered_at"] == (END - timedelta(hours=2)).isoformat()


def test_health_leaves_out_an_episode_that_ended_before_the_period(box: MailBox) -> None:
    recovered(box.store, "connection reset by peer", START - timedelta(days=2), START - timedelta(days=1))
    digest = build_digest(box.store, START, END, CONFIG, NOW)
    inbox = next(f for f in digest.health.folders if (f.account, f.folder) == ("support", "inbox"))
    assert (inbox.recovered_error, inbox.recovered_at) == (None, None)
    assert "connection reset" not in render_text(digest) + render_html(digest) + render_markdown(digest)


def test_volumes_per_topic_against_the_previous_period(digest: Digest) -> None:
    topics = {v.topic: (v.count, v.previous, v.change, v.change_percent) for v in digest.volumes.topics}
    assert topics == {
        "delivery": (2, 1, 1, 100.0),
        "refund": (2, 0, 2, None),
        "billing": (1, 1, 0, 0.0),
        "account-access": (1, 0, 1, None),
    }
    assert [v.topic for v in digest.volumes.topics][:2] == ["delivery", "refund"]
    volumes_ = digest.volumes
    assert (volumes_.incoming, volumes_.previous_incoming, volumes_.unclassified) == (7, 2, 1)
    assert (volumes_.outgoing, volumes_.previous_outgoing) == (6, 2)
    assert digest.period.previous_start == START - timedelta(days=7)


def test_flagged_replies_sit_beside_their_questions(box: MailBox, digest: Digest) -> None:
    replies = {r.message_id: r for r in digest.flagged_replies}
    mid = box.message_ids
    assert set(replies) == {mid["r1"], mid["r2"], mid["r3"], mid["r4"]}  # r5's only flag was dismissed
    first = digest.flagged_replies[0]
    assert first.message_id == mid["r1"] and first.severity == "high" and first.agent == AGENT1
    assert [(n.kind, n.severity, n.status) for n in first.flags] == [
        ("deflection", "high", "confirmed"),
        ("partial-answer", "medium", "open"),
    ]
    assert first.question is not None and first.question.subject == "Invoice INV-20418 charged twice"
    assert first.question.sender == "margaret@harbour.example"
    assert first.reply.text.startswith("Thank you for contacting us.")
    assert "FAQ instead of answering" in first.flags[0].explanation
    r2 = replies[mid["r2"]]
    assert r2.question is not None and r2.question.text.startswith("Saya sudah transfer")
    assert {n.kind for n in r2.flags} == {"canned", "unresolved"}
    r3_question = replies[mid["r3"]].question
    assert r3_question is not None and r3_question.subject == "Masih belum sampai"
    assert all(
        len(r.reply.text) <= 300 and (r.question is None or len(r.question.text) <= 300) for r in digest.flagged_replies
    )


def test_repeat_contacts_carry_their_history(digest: Digest) -> None:
    [contact] = digest.repeat_contacts
    assert contact.customer == "budi@tokobudi.example" and contact.times == 3 and contact.severity == "high"
    assert [t.subject for t in contact.history] == [
        "Paket belum sampai",
        "Paket belum sampai lagi",
        "Masih belum sampai",
    ]
    told = [t.reply_text for t in contact.history]
    assert told[0] is not None and told[0].startswith("Paket Kakak sedang dalam perjalanan")
    assert told[1] is not None and told[1].startswith("Halo Kak, terima kasih")
    assert told[2] is not None and told[2].startswith("Halo Kak")  # r3, found through the reply links
    assert contact.history[0].reply_agent == AGENT2
    text = render_text(digest)
    assert "budi@tokobudi.example: 3 contacts" in text and "Paket Kakak sedang dalam perjalanan" in text


def test_unanswered_mail_past_the_sla(box: MailBox, digest: Digest) -> None:
    [item] = digest.unanswered
    assert item.message_id == box.message_ids["q5"] and item.customer == "tom@whitfield.example"
    assert item.age_hours == 39.0 and item.topics == ("account-access",) and item.severity == "medium"
    assert "waiting 1 d 15 h" in render_text(digest)


def test_reused_replies_count_sends_and_topics(box: MailBox, digest: Digest) -> None:
    [reused] = digest.reused_replies
    assert reused.times == 3 and reused.topics == ("delivery", "refund") and reused.agents == (AGENT2,)
    assert reused.text.startswith("Halo Kak, terima kasih sudah menghubungi kami.")
    assert set(reused.message_ids) == {box.message_ids[n] for n in ("r2", "r3", "r4")}


def test_agent_table_counts_replies_flags_and_median_first_response(digest: Digest) -> None:
    agents = {a.agent: a for a in digest.agents}
    assert set(agents) == {AGENT1, AGENT2}  # the auto-acknowledgement sender sent no real reply
    rina, dimas = agents[AGENT1], agents[AGENT2]
    assert rina.replies == 2 and rina.flags == {"deflection": 1, "partial-answer": 1}  # off-topic was dismissed
    assert rina.first_responses == 2 and rina.median_first_response_minutes == 105.0  # 90 and 120 minutes
    assert dimas.replies == 3 and dimas.flags == {"canned": 3, "unresolved": 1}
    assert dimas.median_first_response_minutes == 120.0  # 240, 120, 120
    assert digest.agents[0].agent == AGENT2


def test_unclassified_samples_leave_out_automated_mail(box: MailBox, digest: Digest) -> None:
    assert [s.message_id for s in digest.unclassified] == [box.message_ids["q6"]]
    assert digest.unclassified[0].mail.text == "Hello, something odd happened."


def test_rule_hits_per_topic_with_evidence_kinds(digest: Digest) -> None:
    hits = {h.topic: h for h in digest.rule_hits}
    assert set(hits) == {"delivery", "refund", "billing", "account-access"}  # q8 is after the period
    assert hits["delivery"].messages == 2 and hits["delivery"].kinds == {"keyword": 2, "example": 1}
    assert hits["delivery"].rules[0].rule == "paket" and hits["delivery"].rules[0].hits == 2
    assert hits["billing"].kinds == {"keyword": 1, "regex": 1}


def test_precision_from_leads_feedback(digest: Digest) -> None:
    checks = {c.kind: c for c in digest.precision}
    assert (checks["deflection"].confirmed, checks["deflection"].dismissed, checks["deflection"].precision) == (
        1,
        1,
        0.5,
    )
    assert checks["deflection"].flags == 1  # the dismissed one of the previous week is not in the period
    assert checks["off-topic"].precision == 0.0 and checks["canned"].precision == 1.0
    assert checks["canned"].flags == 3
    assert checks["auto-ack"].precision is None
    assert re.search(r"^deflection +1 +1 +1 +50%$", render_text(digest), re.MULTILINE)
    assert "| deflection | 1 | 1 | 1 | 50% |" in render_markdown(digest)


def test_json_holds_every_flagged_message_of_the_period_and_nothing_outside(box: MailBox, digest: Digest) -> None:
    rendered = render_json(digest)
    data = json.loads(rendered)
    mid = box.message_ids
    inside = {mid[n] for n in ("r1", "r2", "r3", "r4", "q3", "q5", "r5")}
    assert set(data["flagged_message_ids"]) == inside
    assert {f["message_id"] for f in data["flags"]} == inside
    assert {f["message_id"] for f in data["flags"] if f["section"] is None} == {mid["r5"]}  # dismissed
    for outside in ("p1", "p2", "p3", "p4", "q8"):
        assert mid[outside] not in rendered, outside
    shown = {r["message_id"] for r in data["flagged_replies"]} | {u["message_id"] for u in data["unanswered"]}
    shown |= {m for c in data["repeat_contacts"] for m in c["message_ids"]}
    assert shown == inside - {mid["r5"]}
    assert data["period"] == {
        "start": START.isoformat(),
        "end": END.isoformat(),
        "previous_start": (START - timedelta(days=7)).isoformat(),
    }
    assert render_json(digest) == rendered  # stable


def test_sensitive_numbers_are_masked_everywhere(digest: Digest) -> None:
    question = digest.flagged_replies[0].question
    assert question is not None
    assert CARD in question.text and PHONE in question.text
    repeat = digest.repeat_contacts[0].history[1].text
    assert NIK in repeat and PHONE in repeat
    for rendered in (render_json(digest), render_text(digest), render_markdown(digest), render_html(digest)):
        digits = re.sub(r"[ \-]", "", rendered)
        for number in ("4111111111111111", "6281234567890", "3201234567890002", "081234567890"):
            assert number not in digits


def test_extra_redaction_patterns_from_config(box: MailBox) -> None:
    config = Config(accounts=CONFIG.accounts, digest=CONFIG.digest.__class__(redact=(r"INV-\d+",)))
    digest = build_digest(box.store, START, END, config, NOW)
    assert "INV-20418" not in render_json(digest)
    assert digest.flagged_replies[0].reply.subject == "Re: Invoice [redacted] charged twice"


def test_all_time_digest_has_no_previous_period(box: MailBox) -> None:
    digest = build_digest(box.store, None, END, CONFIG, NOW)
    assert digest.period.previous_start is None and digest.period.start == at(28, 9, month=10)
    assert all(v.change_percent is None for v in digest.volumes.topics)
    assert box.message_ids["p2"] in digest.flagged_message_ids
    render_html(digest), render_text(digest), render_markdown(digest)


def test_empty_store_renders_every_section(tmp_path: Path) -> None:
    digest = build_digest(open_store(tmp_path / "empty.sqlite"), START, END, Config(), NOW)
    assert digest.flagged_message_ids == () and digest.health.folders == ()
    for rendered in (render_text(digest), render_markdown(digest), render_html(digest)):
        assert all(title in rendered for _, _, title, _ in SECTIONS)
    assert "Nothing this period." in render_text(digest)


# -- pure parts ----------------------------------------------------------------------------------


def test_redaction_masks_luhn_valid_cards_only() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert redact("card 4111 1111 1111 1111 exp 12/27") == f"card {CARD} exp 12/27"
    assert redact("amex 3782-822463-10005.") == f"amex {CARD}."
    assert redact("order 1234567890123") == "order 1234567890123"  # 13 digits, not Luhn-valid: kept
    assert redact("ref 2026 4111 1111 1111 1111") == f"ref 2026 {CARD}"


def test_redaction_masks_nik_and_phone_numbers() -> None:
    assert redact("NIK 3201234567890002.") == f"NIK {NIK}."
    assert redact("NIK: 3201.2345.6789.0002") == f"NIK: {NIK}"
    assert redact("hubungi 0812-3456-7890 atau 6281234567890") == f"hubungi {PHONE} atau {PHONE}"
    assert redact("call +62 812 3456 7890 or +44 (0)20 7946 0958") == f"call {PHONE} or {PHONE}"
    assert redact("kantor (021) 555-0123") == f"kantor {PHONE}"
    kept = "Order ORD-2026-118842 of Rp 1.250.000 on 2026-11-02 10:15, invoice INV-20418"
    assert redact(kept) == kept


def test_redaction_of_addresses_and_extra_patterns_is_optional() -> None:
    text = "write to budi@tokobudi.example, ticket TCK-99812"
    assert redact(text) == text
    assert redact(text, emails=True) == "write to [email], ticket TCK-99812"
    assert redactor([r"TCK-\d+"])(text) == "write to budi@tokobudi.example, ticket [redacted]"


def test_excerpt_masks_before_cutting() -> None:
    text = "x" * 290 + " 4111 1111 1111 1111 and more"
    cut = excerpt(text, redactor())
    assert len(cut) <= 300 and "4111" not in cut
    assert excerpt("  many\n\n  lines  ", redactor()) == "many lines"


def test_volumes_change_against_previous() -> None:
    shaped = volumes({"a": 3, "b": 1}, {"a": 2, "c": 4}, {"incoming": 4}, {"incoming": 6})
    assert [(v.topic, v.count, v.previous, v.change, v.change_percent) for v in shaped.topics] == [
        ("a", 3, 2, 1, 50.0),
        ("b", 1, 0, 1, None),
        ("c", 0, 4, -4, -100.0),
    ]
    assert (shaped.incoming, shaped.previous_incoming) == (4, 6)


def test_median_first_response_only_counts_the_first_real_reply() -> None:
    def view(row: int, direction: Direction, minutes: int, sender: str) -> MessageView:
        return MessageView(
            row,
            f"<{row}@x>",
            direction,
            sender,
            (),
            START + timedelta(minutes=minutes),
            "s",
            "s",
            None,
            (),
            "t",
            "en",
            None,
        )

    views = [
        view(1, Direction.IN, 0, "c@x"),
        view(2, Direction.OUT, 30, "a@x"),
        view(3, Direction.OUT, 90, "b@x"),
        view(4, Direction.IN, 100, "d@x"),
        view(5, Direction.OUT, 160, "b@x"),
    ]
    firsts = first_replies(views, {2: (1,), 3: (1,), 5: (4,)})
    assert {q: r.id for q, r in firsts.items()} == {1: 2, 4: 5}
    assert response_minutes(views, firsts, START, END) == {"a@x": [30.0], "b@x": [60.0]}
    assert response_minutes(views, firsts, START + timedelta(hours=1), END) == {"b@x": [60.0]}


def test_precision_counts_every_check() -> None:
    checks = check_precision(
        [{"kind": "canned"}], {"canned": {"confirmed": 3, "dismissed": 1}, "new": {"dismissed": 2}}
    )
    by_kind = {c.kind: c for c in checks}
    assert by_kind["canned"].precision == 0.75 and by_kind["canned"].flags == 1
    assert by_kind["new"].precision == 0.0 and by_kind["unanswered"].precision is None


def test_text_and_markdown_keep_hostile_mail_inert(box: MailBox) -> None:
    subject = "\u202eexe.txt <script>alert(1)</script> | # [x](javascript:alert(1))"
    box.mail("h1", Direction.IN, "h@x.example", at(8, 15), subject, "# Heading\n1. list <img src=x onerror=alert(1)>")
    box.topics("h1")
    digest = build_digest(box.store, START, END, CONFIG, NOW)
    text, markdown = render_text(digest), render_markdown(digest)
    assert "\u202e" not in text and "\u202e" not in markdown
    assert "exe.txt <script>alert(1)</script>" in text  # plain text shows it as it is, minus the override
    assert not re.search(r"(?<!\\)(<script|<img|\]\(javascript)", markdown)  # only escaped, never markup
    assert r"\<script\>alert(1)\</script\> \| # \[x\](javascript:alert(1))" in markdown
    assert "\u202e" in json.loads(render_json(digest))["unclassified"][0]["mail"]["subject"]  # the data stays exact


def test_html_draws_volumes_as_css_bars_and_escapes_values(digest: Digest) -> None:
    html = render_html(digest)
    assert re.search(r'<div style="width:100%;background:#2563eb;height:8px;', html)  # the busiest topic
    assert re.search(r'<div style="width:50%;background:#2563eb;height:8px;', html)
    assert "Paket Kakak sedang dalam perjalanan" in html and "max-width:680px" in html
    assert "<script" not in html and "<style" not in html and "<img" not in html

"""Build the digest of one period: a few read-only store queries, then pure functions that shape them."""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from triage.config import AccountConfig, Config
from triage.digest.data import (
    SEVERITY_RANK,
    AgentRow,
    CheckPrecision,
    Digest,
    Excerpt,
    FlaggedReply,
    FlagNote,
    FlagRef,
    FolderHealth,
    Health,
    Period,
    RepeatContact,
    ReusedReply,
    RuleCount,
    RuleHits,
    Sample,
    TopicVolume,
    Turn,
    UnansweredMail,
    Volumes,
)
from triage.digest.redact import Redactor, redact_tree, redactor
from triage.model import FLAG_KINDS, MessageView
from triage.store import Store
from triage.threads import link_replies
from triage.views import view_of

Row = Mapping[str, Any]
Mask = Callable[[str], str]

EXCERPT_CHARS = 300
HISTORY_CHARS = 200
SAMPLES = 10
TOP_REUSED = 10
TOP_RULES = 5
OAUTH = re.compile(r"oauth|xoauth2|token", re.IGNORECASE)


def build_digest(
    store: Store,
    start: datetime | None,
    end: datetime,
    config: Config,
    now: datetime,
    *,
    stale_hours: float | None = None,
    redact: Redactor | None = None,
) -> Digest:
    """The digest of [start, end) (start None: since the first message), every text masked.

    `stale_hours` defaults to [health] stale_hours (6); `redact` to the standard masks plus
    [digest] redact. Flag, topic and volume figures are read at `now` from the derived tables.
    """
    mask = redact or redactor(config.digest.redact)
    stale = config.health.stale_hours if stale_hours is None else stale_hours
    if start is None:
        period = Period(min(store.first_message_date() or end, end), end, None)
    else:
        period = Period(start, end, start - (end - start))
    span = (_utc(period.start), _utc(end))
    flags = store.flags_between(*span)
    flagged = {row["id"]: row for row in store.messages_by_id(sorted({f["message"] for f in flags}))}
    shown = [f for f in flags if f["status"] != "dismissed"]
    linked = store.messages_by_message_id(referenced_ids(shown, flagged))
    # Questions up to recompute_days before the period, so replies in it find what they answer.
    context = store.messages_between(_utc(period.start - timedelta(days=config.flags.recompute_days)), span[1])
    in_period = [row for row in context if row["date_utc"] >= span[0]]
    views = [view_of(dict(row), ()) for row in context]
    firsts = first_replies(views, link_replies(views))
    replied = reply_rows(context, firsts)
    topics = store.topics_of([f["message"] for f in shown if f["kind"] == "unanswered"])
    digest = Digest(
        period=period,
        timezone=config.digest.timezone,
        generated_at=now,
        flagged_message_ids=tuple(dict.fromkeys(f["message_id"] for f in flags)),
        flags=flag_index(flags, flagged),
        health=health(store.status_rows(), config.accounts, store.state(), now, stale, since=period.start),
        volumes=_volumes(store, period),
        flagged_replies=flagged_replies(shown, flagged, linked, mask),
        repeat_contacts=repeat_contacts(shown, flagged, linked, replied, mask),
        unanswered=unanswered(shown, flagged, topics, mask),
        reused_replies=reused_replies(shown, flagged, mask),
        agents=agent_table(in_period, shown, flagged, response_minutes(views, firsts, period.start, end)),
        unclassified=tuple(sample(row, mask) for row in store.unclassified_between(*span, limit=SAMPLES)),
        rule_hits=rule_hits(store.topic_evidence_between(*span)),
        precision=check_precision(flags, store.feedback_counts()),
    )
    return redact_tree(digest, mask)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _volumes(store: Store, period: Period) -> Volumes:
    span = (_utc(period.start), _utc(period.end))
    if period.previous_start is None:
        return volumes(store.topic_volume(*span), {}, store.traffic_counts(*span), None)
    before = (_utc(period.previous_start), span[0])
    return volumes(
        store.topic_volume(*span),
        store.topic_volume(*before),
        store.traffic_counts(*span),
        store.traffic_counts(*before),
    )


# -- text ---------------------------------------------------------------------------------------


def excerpt(text: str | None, mask: Mask, limit: int = EXCERPT_CHARS) -> str:
    """The text on one line, masked first and then cut at a word: a card number is never half shown."""
    flat = " ".join(mask(text or "").split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,.;:") + "…"


def message_date(row: Row) -> datetime:
    return datetime.fromisoformat(row["date_utc"])


def excerpt_of(row: Row, mask: Mask, limit: int = EXCERPT_CHARS) -> Excerpt:
    return Excerpt(
        message_date(row),
        (row["from_addr"] or "").lower(),
        mask(row["subject"] or ""),
        excerpt(row["new_text"], mask, limit),
    )


def evidence(flag: Row) -> dict[str, Any]:
    value = json.loads(flag["evidence_json"] or "{}")
    return value if isinstance(value, dict) else {}


def related(flag: Row) -> list[str]:
    return [str(r) for r in json.loads(flag["related_json"] or "[]")]


def _rank(severity: str) -> int:
    return SEVERITY_RANK.get(severity, len(SEVERITY_RANK))


def highest(severities: Iterable[str]) -> str:
    return min(severities, key=_rank, default="low")


# -- health and volumes -------------------------------------------------------------------------


def health(
    rows: Sequence[Row],
    accounts: Sequence[AccountConfig],
    state: Mapping[str, Row],
    now: datetime,
    stale_hours: float,
    since: datetime | None = None,
) -> Health:
    """Every folder the store knows and every configured one (never synced counts as stale), with
    the error episodes they recovered from since `since` (the period's start)."""
    known = {(row["account"], row["role"]): row for row in rows}
    for account in accounts:
        for role, mailbox in (("inbox", account.inbox), ("sent", account.sent)):
            if mailbox is not None and (account.name, role) not in known:
                known[(account.name, role)] = {"account": account.name, "role": role, "mailbox": mailbox}
    folders = tuple(folder_health(known[key], now, stale_hours, since) for key in sorted(known))
    reload_error = state.get("reload_error", {}).get("value")
    return Health(stale_hours, folders, reload_error or None)


def folder_health(row: Row, now: datetime, stale_hours: float, since: datetime | None = None) -> FolderHealth:
    last_sync = _parse_time(row.get("last_sync"))
    hours = None if last_sync is None else round((now - last_sync).total_seconds() / 3600, 1)
    error = row.get("last_error") or None
    recovered_at = _parse_time(row.get("recovered_at"))
    recent = recovered_at is not None and (since is None or recovered_at >= since)
    return FolderHealth(
        account=row["account"],
        folder=row["role"],
        mailbox=row.get("mailbox"),
        messages=int(row.get("messages") or 0),
        last_sync=last_sync,
        hours_since_sync=hours,
        stale=hours is None or hours > stale_hours,
        last_error=error,
        last_error_at=_parse_time(row.get("last_error_at")),
        oauth_failure=bool(error and OAUTH.search(error)),
        recovered_error=(row.get("recovered_error") or None) if recent else None,
        recovered_at=recovered_at if recent else None,
    )


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def volumes(
    current: Mapping[str, int],
    previous: Mapping[str, int],
    traffic: Mapping[str, int],
    previous_traffic: Mapping[str, int] | None,
) -> Volumes:
    """Per topic: this period's count, the previous period's, and the change (percent when it had some)."""
    before = previous_traffic or {}
    topics = [
        TopicVolume(
            topic,
            current.get(topic, 0),
            previous.get(topic, 0),
            current.get(topic, 0) - previous.get(topic, 0),
            change_percent(current.get(topic, 0), previous.get(topic, 0)) if previous_traffic else None,
        )
        for topic in set(current) | set(previous)
    ]
    topics.sort(key=lambda t: (-t.count, -t.previous, t.topic))
    return Volumes(
        incoming=traffic.get("incoming", 0),
        previous_incoming=before.get("incoming", 0),
        outgoing=traffic.get("outgoing", 0),
        previous_outgoing=before.get("outgoing", 0),
        unclassified=traffic.get("unclassified", 0),
        previous_unclassified=before.get("unclassified", 0),
        topics=tuple(topics),
    )


def change_percent(count: int, previous: int) -> float | None:
    return round((count - previous) * 100 / previous, 1) if previous else None


# -- flags --------------------------------------------------------------------------------------


def referenced_ids(flags: Sequence[Row], messages: Mapping[int, Row]) -> list[str]:
    """Message-IDs the flags point at: questions, earlier contacts and the replies they got."""
    found: list[str] = []
    for flag in flags:
        found += related(flag)
        details = evidence(flag)
        if isinstance(details.get("question"), str):
            found.append(details["question"])
        for earlier in details.get("earlier", ()):
            found += [earlier[k] for k in ("message_id", "reply") if isinstance(earlier.get(k), str)]
        row = messages.get(flag["message"])
        if row is not None and row["in_reply_to"]:
            found.append(row["in_reply_to"])
    return found


def section_of(flag: Row, message: Row | None) -> str | None:
    if flag["status"] == "dismissed":
        return None
    if flag["kind"] == "repeat-contact":
        return "repeat_contacts"
    if flag["kind"] == "unanswered":
        return "unanswered"
    return "flagged_replies" if message is not None and message["direction"] == "out" else None


def flag_index(flags: Sequence[Row], messages: Mapping[int, Row]) -> tuple[FlagRef, ...]:
    return tuple(
        FlagRef(
            f["id"], f["message_id"], f["kind"], f["severity"], f["status"], section_of(f, messages.get(f["message"]))
        )
        for f in flags
    )


def flag_note(flag: Row, mask: Mask) -> FlagNote:
    return FlagNote(flag["id"], flag["kind"], flag["severity"], flag["status"], mask(flag["explanation"] or ""))


def question_of(reply: Row, flags: Sequence[Row], linked: Mapping[str, Row]) -> Row | None:
    """The latest incoming message before the reply among those its flags (or its headers) cite."""
    cited = [reply["in_reply_to"]]
    for flag in flags:
        cited += [*related(flag), evidence(flag).get("question")]
    rows = [linked[c] for c in cited if isinstance(c, str) and c in linked]
    questions = [r for r in rows if r["direction"] == "in" and r["date_utc"] <= reply["date_utc"]]
    return max(questions, key=lambda r: (r["date_utc"], r["id"]), default=None)


def flagged_replies(
    flags: Sequence[Row], messages: Mapping[int, Row], linked: Mapping[str, Row], mask: Mask
) -> tuple[FlaggedReply, ...]:
    """Each flagged reply once, with all its flags and its question; the most severe first."""
    by_reply: dict[int, list[Row]] = defaultdict(list)
    for flag in flags:
        if section_of(flag, messages.get(flag["message"])) == "flagged_replies":
            by_reply[flag["message"]].append(flag)
    found = []
    for message, own in by_reply.items():
        reply = messages[message]
        question = question_of(reply, own, linked)
        notes = tuple(sorted((flag_note(f, mask) for f in own), key=lambda n: (_rank(n.severity), n.kind)))
        found.append(
            FlaggedReply(
                message_id=reply["message_id"],
                agent=(reply["from_addr"] or "").lower(),
                severity=notes[0].severity,
                reply=excerpt_of(reply, mask),
                question=excerpt_of(question, mask) if question is not None else None,
                flags=notes,
            )
        )
    found.sort(key=lambda r: (_rank(r.severity), r.reply.date))
    return tuple(found)


def repeat_contacts(
    flags: Sequence[Row],
    messages: Mapping[int, Row],
    linked: Mapping[str, Row],
    replied: Mapping[str, Row],
    mask: Mask,
) -> tuple[RepeatContact, ...]:
    """One entry per customer with repeat-contact flags: every contact so far and what we replied.

    The reply of an earlier contact is the one the flag's evidence names; otherwise (the latest
    contacts) the first real reply threads link to it, from `replied` (Message-ID -> reply row).
    """
    by_customer: dict[str, list[Row]] = defaultdict(list)
    for flag in flags:
        if section_of(flag, messages.get(flag["message"])) == "repeat_contacts":
            by_customer[(messages[flag["message"]]["from_addr"] or "").lower()].append(flag)
    found = []
    for customer, own in by_customer.items():
        turns: dict[str, Turn] = {}
        for flag in own:
            for earlier in evidence(flag).get("earlier", ()):
                turn = earlier_turn(earlier, linked, mask)
                key = str(earlier.get("message_id"))
                if turn is not None and (key not in turns or turn.reply_text is not None):
                    turns[key] = turn
            row = messages[flag["message"]]
            turns.setdefault(
                row["message_id"],
                Turn(
                    message_date(row),
                    mask(row["subject"] or ""),
                    excerpt(row["new_text"], mask, HISTORY_CHARS),
                    None,
                    None,
                    None,
                ),
            )
        for key, turn in list(turns.items()):
            reply = replied.get(key)
            if turn.reply_text is None and reply is not None:
                turns[key] = replace(
                    turn,
                    reply_date=message_date(reply),
                    reply_agent=(reply["from_addr"] or "").lower(),
                    reply_text=excerpt(reply["new_text"], mask, HISTORY_CHARS),
                )
        history = tuple(sorted(turns.values(), key=lambda t: t.date))
        found.append(
            RepeatContact(
                customer=customer,
                times=len(history),
                severity=highest(f["severity"] for f in own),
                explanation=mask(own[-1]["explanation"] or ""),
                message_ids=tuple(f["message_id"] for f in own),
                flag_ids=tuple(f["id"] for f in own),
                history=history,
            )
        )
    found.sort(key=lambda c: (_rank(c.severity), -c.times, c.customer))
    return tuple(found)


def earlier_turn(earlier: Mapping[str, Any], linked: Mapping[str, Row], mask: Mask) -> Turn | None:
    """An earlier contact named in a repeat flag's evidence, and the reply it got."""
    row = linked.get(str(earlier.get("message_id")))
    reply = linked.get(str(earlier.get("reply")))
    if row is None and not earlier.get("date"):
        return None
    date = message_date(row) if row is not None else datetime.fromisoformat(str(earlier["date"])).astimezone(UTC)
    subject = (row["subject"] if row is not None else earlier.get("subject")) or ""
    return Turn(
        date=date,
        subject=mask(str(subject)),
        text=excerpt(row["new_text"] if row is not None else "", mask, HISTORY_CHARS),
        reply_date=message_date(reply) if reply is not None else None,
        reply_agent=(reply["from_addr"] or "").lower() if reply is not None else None,
        reply_text=excerpt(reply["new_text"], mask, HISTORY_CHARS) if reply is not None else None,
    )


def unanswered(
    flags: Sequence[Row], messages: Mapping[int, Row], topics: Mapping[int, Sequence[Row]], mask: Mask
) -> tuple[UnansweredMail, ...]:
    """Customer mail past the reply target: the oldest, most severe first."""
    found = []
    for flag in flags:
        if section_of(flag, messages.get(flag["message"])) != "unanswered":
            continue
        row = messages[flag["message"]]
        age = evidence(flag).get("age_hours")
        found.append(
            UnansweredMail(
                message_id=row["message_id"],
                flag_id=flag["id"],
                customer=(row["from_addr"] or "").lower(),
                severity=flag["severity"],
                age_hours=float(age) if isinstance(age, int | float) else None,
                topics=tuple(t["topic"] for t in topics.get(row["id"], ())),
                explanation=mask(flag["explanation"] or ""),
                mail=excerpt_of(row, mask),
            )
        )
    found.sort(key=lambda u: (_rank(u.severity), u.mail.date))
    return tuple(found)


def reused_replies(flags: Sequence[Row], messages: Mapping[int, Row], mask: Mask) -> tuple[ReusedReply, ...]:
    """The canned check's groups: replies joined through their similar replies, most sent first."""
    canned = [f for f in flags if f["kind"] == "canned" and f["status"] != "dismissed" and f["message"] in messages]
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    topics_of: dict[str, set[str]] = defaultdict(set)
    for flag in canned:
        details = evidence(flag)
        topics_of[flag["message_id"]].update(details.get("this_question_topics", ()))
        for other in details.get("similar_replies", ()):
            parent[root(str(other["message_id"]))] = root(flag["message_id"])
            topics_of[str(other["message_id"])].update(other.get("question_topics", ()))
    members: dict[str, set[str]] = defaultdict(set)
    for node in list(parent) + [f["message_id"] for f in canned]:
        members[root(node)].add(node)
    found = []
    for group in members.values():
        own = sorted((f for f in canned if f["message_id"] in group), key=lambda f: messages[f["message"]]["date_utc"])
        if not own:
            continue
        found.append(
            ReusedReply(
                text=excerpt(messages[own[-1]["message"]]["new_text"], mask),
                times=len(group),
                topics=tuple(sorted(set().union(*(topics_of[m] for m in group)))),
                agents=tuple(sorted({(messages[f["message"]]["from_addr"] or "").lower() for f in own})),
                message_ids=tuple(dict.fromkeys(f["message_id"] for f in own)),
            )
        )
    found.sort(key=lambda r: (-r.times, -len(r.topics), r.text))
    return tuple(found[:TOP_REUSED])


# -- agents, rules, checks ----------------------------------------------------------------------


def first_replies(views: Sequence[MessageView], links: Mapping[int, Sequence[int]]) -> dict[int, MessageView]:
    """Question row id -> its first real reply, from threads' reply links."""
    by_id = {v.id: v for v in views}
    first: dict[int, MessageView] = {}
    for reply_id, questions in links.items():
        reply = by_id[reply_id]
        for question in questions:
            if question not in first or (reply.date, reply.id) < (first[question].date, first[question].id):
                first[question] = reply
    return first


def reply_rows(rows: Sequence[Row], firsts: Mapping[int, MessageView]) -> dict[str, Row]:
    """Question Message-ID -> the row of its first real reply."""
    by_id = {row["id"]: row for row in rows}
    return {by_id[q]["message_id"]: by_id[r.id] for q, r in firsts.items() if q in by_id and r.id in by_id}


def response_minutes(
    views: Sequence[MessageView], firsts: Mapping[int, MessageView], start: datetime, end: datetime
) -> dict[str, list[float]]:
    """Minutes from each question to its first real reply, per replying agent, for first replies in [start, end)."""
    by_id = {v.id: v for v in views}
    minutes: dict[str, list[float]] = defaultdict(list)
    for question, reply in firsts.items():
        if start <= reply.date < end and question in by_id:
            delay = (reply.date - by_id[question].date).total_seconds() / 60
            minutes[reply.sender.lower()].append(max(0.0, delay))
    return dict(minutes)


def agent_table(
    rows: Sequence[Row], flags: Sequence[Row], messages: Mapping[int, Row], responses: Mapping[str, Sequence[float]]
) -> tuple[AgentRow, ...]:
    """Per reply sender: real replies sent, open/confirmed flags by kind, median first response."""
    replies = Counter(
        (row["from_addr"] or "").lower() for row in rows if row["direction"] == "out" and row["automated"] is None
    )
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    for flag in flags:
        message = messages.get(flag["message"])
        if message is not None and message["direction"] == "out" and flag["status"] != "dismissed":
            kinds[(message["from_addr"] or "").lower()][flag["kind"]] += 1
    agents = sorted(set(replies) | set(kinds) | set(responses), key=lambda a: (-replies[a], a))
    return tuple(
        AgentRow(
            agent=agent,
            replies=replies[agent],
            flags=dict(sorted(kinds[agent].items(), key=lambda kv: (-kv[1], kv[0]))),
            first_responses=len(responses.get(agent, ())),
            median_first_response_minutes=(
                round(statistics.median(responses[agent]), 1) if responses.get(agent) else None
            ),
        )
        for agent in agents
    )


def sample(row: Row, mask: Mask) -> Sample:
    return Sample(row["message_id"], row["lang"] or "other", excerpt_of(row, mask))


def rule_hits(rows: Sequence[Row]) -> tuple[RuleHits, ...]:
    """Per topic: incoming messages, evidence by kind, and the rules that fired most."""
    messages: dict[str, set[int]] = defaultdict(set)
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    rules: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        topic = row["topic"]
        messages[topic].add(row["message"])
        for item in json.loads(row["evidence_json"] or "[]"):
            if isinstance(item, dict):
                kinds[topic][str(item.get("kind", "?"))] += 1
                rules[topic][str(item.get("rule", "?"))] += 1
    hits = [
        RuleHits(
            topic=topic,
            messages=len(ids),
            kinds=dict(sorted(kinds[topic].items(), key=lambda kv: (-kv[1], kv[0]))),
            rules=tuple(
                RuleCount(rule, n)
                for rule, n in sorted(rules[topic].items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_RULES]
            ),
        )
        for topic, ids in messages.items()
    ]
    hits.sort(key=lambda h: (-h.messages, h.topic))
    return tuple(hits)


def check_precision(flags: Sequence[Row], feedback: Mapping[str, Mapping[str, int]]) -> tuple[CheckPrecision, ...]:
    """Each check: its flags in the period and confirmed / (confirmed + dismissed) over all verdicts."""
    counts = Counter(f["kind"] for f in flags)
    kinds = list(FLAG_KINDS) + sorted((set(counts) | set(feedback)) - set(FLAG_KINDS))
    found = []
    for kind in kinds:
        confirmed = feedback.get(kind, {}).get("confirmed", 0)
        dismissed = feedback.get(kind, {}).get("dismissed", 0)
        judged = confirmed + dismissed
        found.append(
            CheckPrecision(kind, counts[kind], confirmed, dismissed, round(confirmed / judged, 3) if judged else None)
        )
    return tuple(found)

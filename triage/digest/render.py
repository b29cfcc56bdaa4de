"""Render a digest as plain text, Markdown, JSON (the contract) or e-mail safe HTML."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from datetime import datetime, tzinfo

from triage.digest import htmlmail
from triage.digest.data import SECTIONS, Digest
from triage.digest.text import change, clean, duration, hours_ago, percent, period_title, total_change, when, zone

__all__ = ["render_html", "render_json", "render_markdown", "render_text"]

WIDTH = 78


def render_json(digest: Digest) -> str:
    """The digest as JSON: dataclass fields in order (sections in reading order), times in ISO 8601 UTC."""
    return json.dumps(asdict(digest), indent=2, ensure_ascii=False, default=_json_value) + "\n"


def _json_value(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def render_html(digest: Digest) -> str:
    """E-mail safe HTML: tables and inline styles only, every value escaped (see htmlmail)."""
    return htmlmail.render_html(digest)


# -- text ---------------------------------------------------------------------------------------


def render_text(digest: Digest) -> str:
    """Plain text for the text/plain part of the digest mail, wrapped at 78 columns."""
    where = zone(digest.timezone)
    title = f"Support digest: {period_title(digest.period, digest.timezone)}"
    lines = [title, "=" * min(len(title), WIDTH), *summary_lines(digest)]
    for number, (name, _, heading, blurb) in enumerate(SECTIONS, 1):
        head = f"{number}. {heading}"
        lines += ["", head, "-" * len(head), blurb, ""]
        body = list(TEXT_SECTIONS[name](digest, where))
        lines += body or ["Nothing this period."]
    lines += [
        "",
        f"Generated {when(digest.generated_at, where, year=True)} by triage. "
        "Act on a flag: triage flags confirm|dismiss ID.",
    ]
    return "\n".join(clean(line).rstrip() for line in lines) + "\n"


def summary_lines(digest: Digest) -> list[str]:
    volumes, has_previous = digest.volumes, digest.period.previous_start is not None
    trend = total_change(volumes.incoming, volumes.previous_incoming, has_previous)
    text = (
        f"Incoming {volumes.incoming}{f' ({trend})' if trend else ''}, replies {volumes.outgoing}; "
        f"{len(digest.flagged_replies)} flagged {'reply' if len(digest.flagged_replies) == 1 else 'replies'}, "
        f"{plural(len(digest.repeat_contacts), 'repeat contact')}, "
        f"{len(digest.unanswered)} unanswered past the SLA."
    )
    lines = textwrap.wrap(text, WIDTH)
    alarms = [f"{f.account}/{f.folder}" for f in digest.health.folders if f.stale or f.oauth_failure or f.last_error]
    if alarms:
        lines.append(f"MAILBOX ALARMS: {', '.join(alarms)}")
    return lines


def wrapped(text: str, indent: str = "    ", first: str | None = None) -> list[str]:
    """Text wrapped at 78 columns; `first` replaces the indent of the first line (a bullet)."""
    start = indent if first is None else first
    return textwrap.wrap(text, WIDTH, initial_indent=start, subsequent_indent=indent) or [start.rstrip()]


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def text_health(digest: Digest, where: tzinfo) -> Iterator[str]:
    health = digest.health
    if not health.folders:
        yield "No account has synced yet."
    for f in health.folders:
        state = ", ".join(
            s
            for s, on in (
                (f"STALE (no sync for more than {health.stale_hours:g} h)", f.stale),
                ("OAUTH FAILURE", f.oauth_failure),
                ("ERROR", bool(f.last_error) and not f.oauth_failure),
            )
            if on
        )
        yield (
            f"{f.account}/{f.folder} ({f.mailbox or '-'}): last sync {when(f.last_sync, where)} "
            f"({hours_ago(f.hours_since_sync)}), {f.messages} messages: {state or 'OK'}"
        )
        if f.last_error:
            yield from wrapped(f"last error {when(f.last_error_at, where)}: {f.last_error}")
        elif f.recovered_error:
            episode = f"recovered {when(f.recovered_at, where)} from an error at {when(f.last_error_at, where)}"
            yield from wrapped(f"{episode}: {f.recovered_error}")
    if health.reload_error:
        yield from wrapped(f"Last reload FAILED, old config and rules still running: {health.reload_error}", "")


def text_volumes(digest: Digest, where: tzinfo) -> Iterator[str]:
    volumes, has_previous = digest.volumes, digest.period.previous_start is not None
    if volumes.topics:
        yield f"{'topic':<28} {'now':>6} {'before':>7}  change"
    for v in volumes.topics:
        yield (
            f"{v.topic[:28]:<28} {v.count:>6} {v.previous if has_previous else '-':>7}  "
            f"{change(v) if has_previous else '-'}"
        )
    yield f"all incoming {volumes.incoming}, unclassified {volumes.unclassified}, our replies {volumes.outgoing}"


def text_flagged(digest: Digest, where: tzinfo) -> Iterator[str]:
    for reply in digest.flagged_replies:
        yield f"[{reply.severity.upper()}] {reply.reply.subject or '(no subject)'}"
        if reply.question is not None:
            yield f"  Customer asked ({reply.question.sender}, {when(reply.question.date, where)}):"
            yield from wrapped(reply.question.text or "(no text)")
        else:
            yield "  (question not found in the store)"
        yield f"  We replied ({reply.agent}, {when(reply.reply.date, where)}):"
        yield from wrapped(reply.reply.text or "(no text)")
        for note in reply.flags:
            yield from wrapped(f"{note.kind} ({note.severity}, flag {note.id}): {note.explanation}", "    ", "  * ")
        yield ""


def text_repeats(digest: Digest, where: tzinfo) -> Iterator[str]:
    for contact in digest.repeat_contacts:
        yield f"[{contact.severity.upper()}] {contact.customer}: {contact.times} contacts"
        yield from wrapped(contact.explanation, "  ")
        for turn in contact.history:
            yield f"  {when(turn.date, where)}  {turn.subject or '(no subject)'}"
            yield from wrapped(turn.text, "      ")
            if turn.reply_text is None:
                yield "      -> no real reply recorded"
            else:
                yield f"      -> {turn.reply_agent} replied {when(turn.reply_date, where)}:"
                yield from wrapped(turn.reply_text, "         ")
        yield ""


def text_unanswered(digest: Digest, where: tzinfo) -> Iterator[str]:
    for item in digest.unanswered:
        age = duration(item.age_hours * 60 if item.age_hours is not None else None)
        topics = f" [{', '.join(item.topics)}]" if item.topics else ""
        yield f"[{item.severity.upper()}] waiting {age}: {item.customer}, {item.mail.subject or '(no subject)'}{topics}"
        yield from wrapped(item.mail.text)


def text_reused(digest: Digest, where: tzinfo) -> Iterator[str]:
    for reused in digest.reused_replies:
        yield (
            f"sent {reused.times} times, to {len(reused.topics)} topics ({', '.join(reused.topics) or '-'}), "
            f"by {', '.join(reused.agents) or '-'}:"
        )
        yield from wrapped(f'"{reused.text}"')


def text_agents(digest: Digest, where: tzinfo) -> Iterator[str]:
    if digest.agents:
        yield f"{'agent':<32} {'replies':>7}  {'median first reply':>18}  flags"
    for a in digest.agents:
        flags = ", ".join(f"{kind} {n}" for kind, n in a.flags.items()) or "-"
        yield f"{a.agent[:32]:<32} {a.replies:>7}  {duration(a.median_first_response_minutes):>18}  {flags}"


def text_samples(digest: Digest, where: tzinfo) -> Iterator[str]:
    for s in digest.unclassified:
        yield f"{when(s.mail.date, where)}  {s.mail.sender}  ({s.lang})  {s.mail.subject or '(no subject)'}"
        yield from wrapped(s.mail.text)


def text_rules(digest: Digest, where: tzinfo) -> Iterator[str]:
    for h in digest.rule_hits:
        kinds = ", ".join(f"{kind} {n}" for kind, n in h.kinds.items())
        yield f"{h.topic}: {plural(h.messages, 'message')} ({kinds})"
        for r in h.rules:
            yield f"    {r.hits:>4} x {r.rule}"


def text_precision(digest: Digest, where: tzinfo) -> Iterator[str]:
    yield f"{'check':<18} {'flags':>6} {'confirmed':>10} {'dismissed':>10} {'precision':>10}"
    for c in digest.precision:
        yield f"{c.kind:<18} {c.flags:>6} {c.confirmed:>10} {c.dismissed:>10} {percent(c.precision):>10}"


TEXT_SECTIONS: dict[str, Callable[[Digest, tzinfo], Iterator[str]]] = {
    "health": text_health,
    "volumes": text_volumes,
    "flagged_replies": text_flagged,
    "repeat_contacts": text_repeats,
    "unanswered": text_unanswered,
    "reused_replies": text_reused,
    "agents": text_agents,
    "unclassified": text_samples,
    "rule_hits": text_rules,
    "precision": text_precision,
}


# -- Markdown -----------------------------------------------------------------------------------

MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
MD_LINE_START = re.compile(r"^(?:([#+\-=])|(\d+)([.)]))")


def md(value: object) -> str:
    """A value as literal Markdown text on one line: specials backslash-escaped, no block syntax at its start."""
    text = MD_SPECIAL.sub(r"\\\1", " ".join(clean(str(value)).split()))
    return MD_LINE_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", text)


def md_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(md(cell) for cell in row) + " |" for row in rows]
    return lines


def render_markdown(digest: Digest) -> str:
    """Markdown with one `##` heading per section; every value from mail escaped."""
    where, has_previous = zone(digest.timezone), digest.period.previous_start is not None
    lines = [f"# Support digest: {md(period_title(digest.period, digest.timezone))}", ""]
    lines += [md(line) for line in summary_lines(digest)]
    for number, (name, anchor, heading, blurb) in enumerate(SECTIONS, 1):
        lines += ["", f'## {number}. {heading} <a id="{anchor}"></a>', "", f"_{blurb}_", ""]
        lines += MD_SECTIONS[name](digest, where, has_previous) or ["Nothing this period."]
    lines += ["", md(f"Generated {when(digest.generated_at, where, year=True)} by triage.")]
    return "\n".join(lines) + "\n"


def md_health(digest: Digest, where: tzinfo, has_previous: bool) -> list[str]:
    rows = [
        (
            f.account,
            f.folder,
            f.mailbox or "-",
            f"{when(f.last_sync, where)} ({hours_ago(f.hours_since_sync)})",
            ", ".join(s for s, on in (("STALE", f.stale), ("OAUTH FAILURE", f.oauth_failure)) if on) or "OK",
            f.last_error
            or (f"recovered {when(f.recovered_at, where)}: {f.recovered_error}" if f.recovered_error else ""),
        )
        for f in digest.health.folders
    ]
    lines = md_table(["account", "folder", "mailbox", "last sync", "status", "last error"], rows) if rows else []
    if digest.health.reload_error:
        lines += ["", f"**Last reload failed:** {md(digest.health.reload_error)}"]
    return lines


def md_volumes(digest: Digest, where: tzinfo, has_previous: bool) -> list[str]:
    v = digest.volumes
    rows = [
        (t.topic, t.count, t.previous if has_previous else "-", change(t) if has_previous else "-") for t in v.topics
    ]
    lines = md_table(["topic", "now", "before", "change"], rows) if rows else []
    return [*lines, "", md(f"All incoming {v.incoming}, unclassified {v.unclassified}, our replies {v.outgoing}.")]


def md_flagged(digest: Digest, where: tzinfo, has_previous: bool) -> list[str]:
    lines: list[str] = []
    for r in digest.flagged_replies:
        lines += [f"### {md(r.severity.upper())}: {md(r.reply.subject or '(no subject)')}", ""]
        if r.question is not None:
            lines += [
                f"**Customer asked** ({md(r.question.sender)}, {md(when(r.question.date, where))}):",
                "",
                f"> {md(r.question.text)}",
                "",
            ]
        lines += [f"**We replied** ({md(r.agent)}, {md(when(r.reply.date, where))}):", "", f"> {md(r.reply.text)}", ""]
        lines += [f"- **{md(n.kind)}** ({md(n.severity)}, flag {n.id}): {md(n.explanation)}" for n in r.flags]
        lines.append("")
    return lines


def md_repeats(digest: Digest, where: tzinfo, has_previous: bool) -> list[str]:
    lines: list[str] = []
    for c in digest.repeat_contacts:
        lines += [f"### {md(c.customer)}: {c.times} contacts ({md(c.severity)})", "", md(c.explanation), ""]
        for t in c.history:
            told = f"{md(t.reply_agent)} replied: {md(t.reply_text)}" if t.reply_text is not None else "no reply"
            lines.append(f"- {md(when(t.date, where))}, {md(t.subject)}: {md(t.text)}  \n  → {told}")
        lines.append("")
    return lines


def md_unanswered(digest: Digest, where: tzinfo, has_previous: bool) -> list[str]:
    rows = [
        (
            duration(u.age_hours * 60 if u.age_hours is not None else None),
            u.severity,
            u.customer,
            u.mail.subject,
            ", ".join(u.topics),
            u.mail.text,
        )
        for u in digest.unanswered
    ]
    return md_table(["waiting", "severity", "customer", "subject", "topics", "excerpt"], rows) if rows else []


def md_reused(digest: Digest, where: tzinfo, has_previous: bool) -> list[str]:
    rows = [(r.times, len(r.topics), ", ".join(r.topics), ", ".join(r.agents), r.text) for r in digest.reused_replies]
    return md_table(["sent", "topics", "which", "by", "text"], rows) if rows else []


def md_agents(digest: Digest, where: tzinfo, has_previous: bool) -> list[str]:
    rows = [
        (
            a.agent,
            a.replies,
            ", ".join(f"{k} {n}" for k, n in a.flags.items()) or "-",
            duration(a.median_first_response_minutes),
        )
        for a in digest.agents
    ]
    return md_table(["agent", "replies", "flags", "median first reply"], rows) if rows else []


def md_samples(digest: Digest, where: tzinfo, has_previous: bool) -> list[str]:
    rows = [(when(s.mail.date, where), s.mail.sender, s.lang, s.mail.subject, s.mail.text) for s in digest.unclassified]
    return md_table(["date", "from", "lang", "subject", "excerpt"], rows) if rows else []


def md_rules(digest: Digest, where: tzinfo, has_previous: bool) -> list[str]:
    rows = [
        (
            h.topic,
            h.messages,
            ", ".join(f"{k} {n}" for k, n in h.kinds.items()),
            "; ".join(f"{r.rule} ×{r.hits}" for r in h.rules),
        )
        for h in digest.rule_hits
    ]
    return md_table(["topic", "messages", "evidence", "top rules"], rows) if rows else []


def md_precision(digest: Digest, where: tzinfo, has_previous: bool) -> list[str]:
    rows = [(c.kind, c.flags, c.confirmed, c.dismissed, percent(c.precision)) for c in digest.precision]
    return md_table(["check", "flags", "confirmed", "dismissed", "precision"], rows)


MD_SECTIONS: dict[str, Callable[[Digest, tzinfo, bool], list[str]]] = {
    "health": md_health,
    "volumes": md_volumes,
    "flagged_replies": md_flagged,
    "repeat_contacts": md_repeats,
    "unanswered": md_unanswered,
    "reused_replies": md_reused,
    "agents": md_agents,
    "unclassified": md_samples,
    "rule_hits": md_rules,
    "precision": md_precision,
}

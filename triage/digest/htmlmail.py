"""The digest as e-mail safe HTML: nested tables, inline styles, CSS bars; every value escaped.

No script, no external images or fonts, no <style> block (mail clients strip it), and no link
is built from mail content: the only links are the constant in-page section anchors.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from datetime import tzinfo
from typing import TypeVar

from triage.digest.data import (
    SECTIONS,
    AgentRow,
    CheckPrecision,
    Digest,
    Excerpt,
    FlaggedReply,
    FolderHealth,
    RepeatContact,
    ReusedReply,
    RuleHits,
    Sample,
    TopicVolume,
    UnansweredMail,
    Volumes,
)
from triage.digest.text import (
    change,
    clean,
    duration,
    hours_ago,
    percent,
    period_title,
    total_change,
    when,
    zone,
)


class Html(str):
    """Markup safe to insert as is: escaped values and constant tags only."""


T = TypeVar("T")
# Outlook on Windows renders with Word, which knows no inline-block: conditional ghost-table markup.
MSO_ROW = Html('<!--[if mso]><table role="presentation" align="center"><tr><![endif]-->')
MSO_ROW_END = Html("<!--[if mso]></tr></table><![endif]-->")
MSO_CELL = Html('<!--[if mso]><td width="150" valign="top"><![endif]-->')
MSO_CELL_END = Html("<!--[if mso]></td><![endif]-->")
BR, SPACE, DOT, NOTHING = Html("<br>"), Html(" "), Html("&nbsp;&middot; "), Html("")


def esc(value: object) -> Html:
    """Any value as text in HTML: cleaned of bidi controls and escaped (quotes too)."""
    if isinstance(value, Html):
        return value
    return Html(html.escape(clean(str(value)), quote=True))


def join(parts: Iterable[object], sep: Html = NOTHING) -> Html:
    """The parts escaped and joined by constant markup."""
    return Html(sep.join(esc(p) for p in parts))


def tag(name: str, *children: object, style: str = "", **attrs: str) -> Html:
    """<name style=... attrs>children</name>; attribute values and text children are escaped."""
    pairs = ([("style", style)] if style else []) + [(k.rstrip("_"), v) for k, v in attrs.items()]
    opening = "".join(f' {key}="{esc(value)}"' for key, value in pairs)
    return Html(f"<{name}{opening}>{join(children)}</{name}>")


# -- look ---------------------------------------------------------------------------------------

FONT = "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;"
INK, MUTED, FAINT, LINE, SOFT, ACCENT = "#0f172a", "#64748b", "#94a3b8", "#e2e8f0", "#f8fafc", "#2563eb"
WRAP = "word-break:break-word;overflow-wrap:anywhere;"
TEXT = f"{FONT}font-size:13px;line-height:19px;color:#1e293b;"
SMALL = f"{FONT}font-size:12px;line-height:17px;color:{MUTED};"
TH = (
    f"{FONT}padding:6px 8px;border-bottom:1px solid {LINE};font-size:11px;line-height:14px;color:{MUTED};"
    "text-transform:uppercase;letter-spacing:0.04em;text-align:left;font-weight:600;"
)
TD = f"{TEXT}padding:8px;border-bottom:1px solid #f1f5f9;vertical-align:top;{WRAP}"
NUM = f"{TEXT}padding:8px;border-bottom:1px solid #f1f5f9;vertical-align:top;text-align:right;white-space:nowrap;"
SEVERITY = {
    "high": ("#fef2f2", "#b91c1c", "#fecaca"),
    "medium": ("#fffbeb", "#b45309", "#fde68a"),
    "low": ("#f1f5f9", "#475569", "#e2e8f0"),
}
GOOD, WARN, BAD = ("#ecfdf5", "#047857", "#a7f3d0"), SEVERITY["medium"], SEVERITY["high"]
CHIP = ("#eef2ff", "#3730a3", "#e0e7ff")


def badge(text: str, colours: tuple[str, str, str]) -> Html:
    background, colour, border = colours
    return tag(
        "span",
        text,
        style=f"{FONT}display:inline-block;padding:0 7px;border-radius:9px;font-size:11px;line-height:17px;"
        f"font-weight:600;background:{background};color:{colour};border:1px solid {border};white-space:nowrap;",
    )


def severity_badge(severity: str) -> Html:
    return badge(severity.upper(), SEVERITY.get(severity, SEVERITY["low"]))


def chip(text: str) -> Html:
    return badge(text, CHIP)


def table(*rows: Html, style: str = "") -> Html:
    return tag(
        "table",
        *rows,
        role="presentation",
        width="100%",
        cellpadding="0",
        cellspacing="0",
        border="0",
        style=f"border-collapse:collapse;width:100%;{style}",
    )


def data_table(headers: Sequence[tuple[str, str]], rows: Iterable[Html]) -> Html:
    """A table with a header row; headers are (title, extra th style)."""
    head = tag("tr", *(tag("th", title, style=TH + extra) for title, extra in headers))
    return table(head, *rows)


def bar(fraction: float, colour: str = ACCENT, height: int = 8, track: str = "#f1f5f9") -> Html:
    """A horizontal CSS bar: a coloured div NN% wide inside a light track."""
    width = max(0, min(100, round(fraction * 100)))
    inner = tag(
        "div",
        Html("&nbsp;"),
        style=f"width:{width}%;background:{colour};height:{height}px;line-height:{height}px;font-size:1px;"
        "border-radius:4px;",
    )
    return tag("div", inner, style=f"background:{track};border-radius:4px;width:100%;")


def muted(text: object, style: str = "") -> Html:
    return tag("span", text, style=SMALL + style)


def quote(label: Html, text: str, colour: str, background: str) -> Html:
    body = tag("div", text or "(no text)", style=f"{TEXT}{WRAP}white-space:pre-line;")
    return tag(
        "div",
        tag("div", label, style=f"{SMALL}margin-bottom:2px;"),
        body,
        style=f"border-left:3px solid {colour};background:{background};padding:6px 10px;margin:6px 0;"
        "border-radius:0 4px 4px 0;",
    )


def label(title: str, excerpt: Excerpt, where: tzinfo) -> Html:
    return join(
        [
            tag("span", title, style="font-weight:700;text-transform:uppercase;letter-spacing:0.04em;font-size:10px;"),
            muted(f"  {excerpt.sender or 'unknown sender'} · {when(excerpt.date, where)}"),
        ]
    )


def nothing(text: str = "Nothing this period.") -> Html:
    return tag("p", text, style=f"{SMALL}margin:0;padding:10px 12px;background:{SOFT};border-radius:6px;")


# -- page ---------------------------------------------------------------------------------------


def render_html(digest: Digest) -> str:
    """The whole digest as one e-mail safe HTML document (max 680px wide, centred)."""
    where = zone(digest.timezone)
    bodies = {
        "health": health_section(digest, where),
        "volumes": volume_section(digest.volumes, digest.period.previous_start is not None),
        "flagged_replies": section_list(digest.flagged_replies, lambda r: flagged_card(r, where)),
        "repeat_contacts": section_list(digest.repeat_contacts, lambda c: repeat_card(c, where)),
        "unanswered": unanswered_table(digest.unanswered, where),
        "reused_replies": section_list(digest.reused_replies, reused_card),
        "agents": agents_table(digest.agents),
        "unclassified": samples_table(digest.unclassified, where),
        "rule_hits": rules_table(digest.rule_hits),
        "precision": precision_table(digest.precision),
    }
    rows = [header(digest), summary(digest), contents()]
    for number, (name, anchor, title, blurb) in enumerate(SECTIONS, 1):
        rows.append(section(number, anchor, title, blurb, count_of(digest, name), bodies[name]))
    rows.append(footer(digest, where))
    card = tag(
        "table",
        *rows,
        role="presentation",
        width="680",
        cellpadding="0",
        cellspacing="0",
        border="0",
        align="center",
        style=f"width:100%;max-width:680px;margin:0 auto;background:#ffffff;border:1px solid {LINE};"
        "border-radius:10px;border-collapse:separate;",
    )
    page = table(tag("tr", tag("td", card, align="center", style="padding:20px 8px;")), style="background:#f1f5f9;")
    title = f"Support digest: {period_title(digest.period, digest.timezone)}"
    head = Html(
        '<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="color-scheme" content="light"><title>{esc(title)}</title></head>'
    )
    body = tag("body", page, style="margin:0;padding:0;background:#f1f5f9;")
    return f'<!DOCTYPE html>\n<html lang="en">{head}{body}</html>\n'


def count_of(digest: Digest, name: str) -> int | None:
    value = getattr(digest, name)
    return len(value) if isinstance(value, tuple) and name in COUNTED else None


COUNTED = {"flagged_replies", "repeat_contacts", "unanswered", "reused_replies", "unclassified"}


def header(digest: Digest) -> Html:
    title = tag("div", "Support digest", style=f"{FONT}font-size:22px;line-height:28px;font-weight:700;color:#ffffff;")
    period = tag(
        "div",
        period_title(digest.period, digest.timezone),
        style=f"{FONT}font-size:13px;line-height:18px;color:#cbd5e1;",
    )
    return tag(
        "tr",
        tag("td", title, period, style=f"background:{INK};padding:22px 24px;border-radius:10px 10px 0 0;"),
    )


def summary(digest: Digest) -> Html:
    volumes = digest.volumes
    alarms = [f for f in digest.health.folders if f.stale or f.oauth_failure or f.last_error]
    tiles = [
        (
            "Incoming",
            volumes.incoming,
            total_change(volumes.incoming, volumes.previous_incoming, digest.period.previous_start is not None)
            or "since the first message",
        ),
        ("Flagged replies", len(digest.flagged_replies), f"{sum(len(r.flags) for r in digest.flagged_replies)} flags"),
        ("Repeat contacts", len(digest.repeat_contacts), "customers"),
        ("Unanswered", len(digest.unanswered), "past the SLA"),
    ]
    # Inline blocks: four in a row from ~560px, two by two below; Outlook's Word engine gets a ghost table.
    cells = [
        join(
            [
                MSO_CELL,
                tag(
                    "div",
                    tag("div", f"{value}", style=f"{FONT}font-size:22px;line-height:28px;font-weight:700;color:{INK};"),
                    tag("div", name, style=f"{FONT}font-size:12px;line-height:16px;font-weight:600;color:#334155;"),
                    tag("div", note, style=f"{FONT}font-size:11px;line-height:15px;color:{MUTED};"),
                    style="display:inline-block;vertical-align:top;width:100%;max-width:124px;box-sizing:border-box;"
                    f"margin:0 4px 8px 4px;"
                    f"padding:10px;background:{SOFT};border:1px solid {LINE};border-radius:6px;text-align:left;",
                ),
                MSO_CELL_END,
            ]
        )
        for name, value, note in tiles
    ]
    content = [tag("div", MSO_ROW, *cells, MSO_ROW_END, style="text-align:center;font-size:0;line-height:0;")]
    if alarms:
        names = ", ".join(f"{f.account}/{f.folder}" for f in alarms)
        content.append(
            tag(
                "div",
                tag("strong", f"{len(alarms)} mailbox alarm{'s' if len(alarms) > 1 else ''}: "),
                names,
                style=f"{TEXT}{WRAP}margin-top:12px;padding:8px 12px;background:#fef2f2;border:1px solid #fecaca;"
                "color:#991b1b;border-radius:6px;",
            )
        )
    return tag("tr", tag("td", *content, style="padding:20px 24px 4px 24px;"))


def contents() -> Html:
    links = [
        tag("a", title, href=f"#{anchor}", style=f"color:{ACCENT};text-decoration:none;white-space:nowrap;")
        for _, anchor, title, _ in SECTIONS
    ]
    return tag("tr", tag("td", join(links, DOT), style=f"{SMALL}padding:10px 24px 0 24px;"))


def section(number: int, anchor: str, title: str, blurb: str, count: int | None, body: Html) -> Html:
    heading = tag(
        "h2",
        tag("span", f"{number}", style=f"color:{FAINT};font-weight:600;"),
        Html("&nbsp; "),
        title,
        tag("span", f"  {count}", style=f"color:{FAINT};font-weight:400;") if count is not None else "",
        id=anchor,
        style=f"{FONT}margin:0;font-size:17px;line-height:24px;color:{INK};font-weight:700;",
    )
    lead = tag("p", blurb, style=f"{SMALL}margin:2px 0 12px 0;")
    return tag(
        "tr",
        tag("td", heading, lead, body, style="padding:26px 24px 4px 24px;border-top:1px solid #f1f5f9;"),
    )


def section_list(items: Sequence[T], draw: Callable[[T], Html]) -> Html:
    return join(draw(item) for item in items) if items else nothing()


def footer(digest: Digest, where: tzinfo) -> Html:
    lines = [
        f"Generated {when(digest.generated_at, where, year=True)} by triage.",
        "Confirm or dismiss a flag with `triage flags confirm ID` or `triage flags dismiss ID`; "
        "verdicts feed the precision table.",
        "Texts are excerpts of the new text of each message; card, ID and phone numbers are masked.",
    ]
    return tag(
        "tr",
        tag(
            "td",
            *(tag("p", line, style=f"{SMALL}margin:0 0 4px 0;") for line in lines),
            style=f"padding:18px 24px 22px 24px;border-top:1px solid {LINE};background:{SOFT};"
            "border-radius:0 0 10px 10px;",
        ),
    )


# -- sections -----------------------------------------------------------------------------------


def health_section(digest: Digest, where: tzinfo) -> Html:
    health = digest.health
    rows = [health_row(folder, health.stale_hours, where) for folder in health.folders]
    body = data_table([("Account", ""), ("Folder", ""), ("Last sync", ""), ("Status", "text-align:right;")], rows)
    if not health.folders:
        body = nothing("No account has synced yet.")
    if health.reload_error:
        warning = tag(
            "p",
            tag("strong", "Last reload failed; the old config and rules are still running: "),
            health.reload_error,
            style=f"{TEXT}{WRAP}margin:10px 0 0 0;color:#991b1b;",
        )
        return join([body, warning])
    return body


def health_row(folder: FolderHealth, stale_hours: float, where: tzinfo) -> Html:
    badges = []
    if folder.oauth_failure:
        badges.append(badge("OAUTH FAILURE", BAD))
    elif folder.last_error:
        badges.append(badge("ERROR", WARN))
    if folder.stale:
        badges.append(badge(f"STALE > {stale_hours:g} H", BAD))
    if not badges:
        badges.append(badge("OK", GOOD))
    sync = join([when(folder.last_sync, where), BR, muted(hours_ago(folder.hours_since_sync))])
    row = tag(
        "tr",
        tag("td", folder.account, style=TD),
        tag("td", join([folder.folder, BR, muted(folder.mailbox or "")]), style=TD),
        tag("td", sync, style=TD),
        tag("td", join(badges, SPACE), style=TD + "text-align:right;"),
    )
    if folder.last_error:
        label, text = muted(f"Last error ({when(folder.last_error_at, where)}): ", "color:#991b1b;"), folder.last_error
    elif folder.recovered_error:
        moments = (
            f"Recovered ({when(folder.recovered_at, where)}) from an error ({when(folder.last_error_at, where)}): "
        )
        label, text = muted(moments), folder.recovered_error
    else:
        return row
    error = tag(
        "td", label, tag("span", text, style=f"{SMALL}color:#7f1d1d;"), colspan="4", style=f"{TD}padding-top:0;"
    )
    return join([row, tag("tr", error)])


def volume_section(volumes: Volumes, has_previous: bool) -> Html:
    """Topics with a bar each (and the previous period's under it), counts and the change."""
    top = max([v.count for v in volumes.topics] + [v.previous for v in volumes.topics] + [1])
    rows = [volume_row(volume, top, has_previous) for volume in volumes.topics]
    total = muted(
        f"All incoming: {volumes.incoming}"
        + (f" (before: {volumes.previous_incoming})" if has_previous else "")
        + f" · our replies: {volumes.outgoing} · unclassified: {volumes.unclassified}"
    )
    if not rows:
        return join([nothing("No incoming mail with a topic this period."), total])
    headers = [("Topic", ""), ("", ""), ("Now", "text-align:right;")]
    if has_previous:
        headers += [("Before", "text-align:right;"), ("Change", "text-align:right;")]
    legend = muted(
        "Blue: this period; grey: the previous period of the same length."
        if has_previous
        else "The period starts with the first message: there is no previous period to compare."
    )
    return join([data_table(headers, rows), tag("div", total, style="margin-top:8px;"), tag("div", legend)])


def volume_row(volume: TopicVolume, top: int, has_previous: bool) -> Html:
    bars = [bar(volume.count / top)]
    if has_previous:
        gap = tag("div", "", style="height:3px;font-size:1px;line-height:3px;")
        bars += [gap, bar(volume.previous / top, "#cbd5e1", height=4, track="#ffffff")]
    cells = [
        # Topic ids break at hyphens only, never inside a word.
        tag("td", volume.topic, style=f"{TEXT}padding:8px;border-bottom:1px solid #f1f5f9;width:32%;"),
        tag("td", join(bars), style=TD + "width:34%;vertical-align:middle;"),
        tag("td", f"{volume.count}", style=NUM + "font-weight:600;"),
    ]
    if has_previous:
        colour = "#b45309" if volume.change > 0 else "#047857" if volume.change < 0 else MUTED
        cells += [
            tag("td", f"{volume.previous}", style=NUM + f"color:{MUTED};"),
            tag("td", change(volume), style=NUM + f"color:{colour};"),
        ]
    return tag("tr", *cells)


def flagged_card(reply: FlaggedReply, where: tzinfo) -> Html:
    top = join(
        [
            severity_badge(reply.severity),
            " ",
            tag("span", reply.reply.subject or "(no subject)", style=f"{TEXT}font-weight:600;color:{INK};"),
        ]
    )
    question = (
        quote(label("Customer asked", reply.question, where), reply.question.text, "#cbd5e1", SOFT)
        if reply.question is not None
        else tag("div", muted("The question was not found in the store."), style="margin:6px 0;")
    )
    answer = quote(label("We replied", reply.reply, where), reply.reply.text, "#3b82f6", "#eff6ff")
    notes = [
        tag(
            "div",
            chip(note.kind),
            " ",
            severity_badge(note.severity),
            " ",
            tag("span", note.explanation, style=TEXT),
            " ",
            muted(f"flag {note.id}" + (", confirmed" if note.status == "confirmed" else "")),
            style=f"{WRAP}margin:6px 0 0 0;",
        )
        for note in reply.flags
    ]
    return card(top, join([question, answer, *notes]))


def card(top: Html, body: Html) -> Html:
    return tag(
        "table",
        tag(
            "tr",
            tag(
                "td",
                top,
                style=f"{WRAP}padding:9px 12px;background:{SOFT};border-bottom:1px solid {LINE};"
                "border-radius:8px 8px 0 0;",
            ),
        ),
        tag("tr", tag("td", body, style=f"{WRAP}padding:6px 12px 12px 12px;")),
        role="presentation",
        width="100%",
        cellpadding="0",
        cellspacing="0",
        border="0",
        style=f"width:100%;border:1px solid {LINE};border-radius:8px;border-collapse:separate;margin:0 0 12px 0;",
    )


def repeat_card(contact: RepeatContact, where: tzinfo) -> Html:
    top = join(
        [
            severity_badge(contact.severity),
            " ",
            tag("span", contact.customer or "unknown sender", style=f"{TEXT}font-weight:600;color:{INK};"),
            " ",
            muted(f"· {contact.times} contacts · flag {', '.join(str(i) for i in contact.flag_ids)}"),
        ]
    )
    turns = []
    for turn in contact.history:
        reply = (
            quote(
                join(
                    [
                        tag("span", "REPLY", style="font-weight:700;font-size:10px;letter-spacing:0.04em;"),
                        muted(f"  {turn.reply_agent or ''} · {when(turn.reply_date, where)}"),
                    ]
                ),
                turn.reply_text,
                "#3b82f6",
                "#eff6ff",
            )
            if turn.reply_text is not None
            else tag("div", muted("No real reply recorded."), style="margin:4px 0;")
        )
        turns.append(
            tag(
                "tr",
                tag(
                    "td",
                    when(turn.date, where),
                    style=f"{SMALL}padding:8px 8px 8px 0;vertical-align:top;width:92px;"
                    "border-bottom:1px solid #f1f5f9;",
                ),
                tag(
                    "td",
                    tag("div", turn.subject or "(no subject)", style=f"{TEXT}font-weight:600;"),
                    tag("div", turn.text, style=f"{TEXT}color:#334155;"),
                    reply,
                    style=f"{WRAP}padding:8px 0;vertical-align:top;border-bottom:1px solid #f1f5f9;",
                ),
            )
        )
    body = join([tag("p", contact.explanation, style=f"{TEXT}{WRAP}margin:6px 0;"), table(*turns)])
    return card(top, body)


def unanswered_table(items: Sequence[UnansweredMail], where: tzinfo) -> Html:
    if not items:
        return nothing()
    rows = [
        tag(
            "tr",
            tag(
                "td",
                duration(item.age_hours * 60 if item.age_hours is not None else None),
                style=NUM + "text-align:left;font-weight:600;width:70px;",
            ),
            tag(
                "td",
                tag(
                    "div",
                    join(
                        [
                            tag("span", item.mail.subject or "(no subject)", style="font-weight:600;"),
                            " ",
                            join((chip(t) for t in item.topics), SPACE),
                        ]
                    ),
                ),
                muted(f"{item.customer} · {when(item.mail.date, where)} · flag {item.flag_id}"),
                tag("div", item.mail.text, style=f"{TEXT}color:#334155;margin-top:2px;"),
                style=TD,
            ),
            tag("td", severity_badge(item.severity), style=TD + "text-align:right;width:60px;"),
        )
        for item in items
    ]
    return data_table([("Waiting", ""), ("Message", ""), ("", "")], rows)


def reused_card(reused: ReusedReply) -> Html:
    topics = join((chip(t) for t in reused.topics), SPACE) if reused.topics else muted("no topics")
    meta = join(
        [
            tag("span", f"Sent {reused.times} times", style=f"{TEXT}font-weight:600;color:{INK};"),
            muted(f" · to {len(reused.topics)} topic{'s' if len(reused.topics) != 1 else ''}: "),
            topics,
        ]
    )
    text = tag("div", reused.text, style=f"{TEXT}{WRAP}color:#334155;font-style:italic;")
    by = muted("by " + ", ".join(reused.agents)) if reused.agents else Html("")
    return tag(
        "div",
        meta,
        tag("div", text, style=f"border-left:3px solid {FAINT};padding:4px 10px;margin:6px 0;"),
        by,
        style=f"{WRAP}padding:10px 12px;border:1px solid {LINE};border-radius:8px;margin:0 0 10px 0;",
    )


def agents_table(agents: Sequence[AgentRow]) -> Html:
    if not agents:
        return nothing("No replies this period.")
    rows = [
        tag(
            "tr",
            tag("td", agent.agent or "unknown sender", style=TD),
            tag("td", f"{agent.replies}", style=NUM),
            tag(
                "td",
                join((chip(f"{kind} {count}") for kind, count in agent.flags.items()), SPACE) or muted("none"),
                style=TD,
            ),
            tag(
                "td",
                join(
                    [duration(agent.median_first_response_minutes), BR, muted(f"{agent.first_responses} first replies")]
                ),
                style=NUM,
            ),
        )
        for agent in agents
    ]
    headers = [
        ("Agent", ""),
        ("Replies", "text-align:right;"),
        ("Flags", ""),
        ("Median first reply", "text-align:right;"),
    ]
    return data_table(headers, rows)


def samples_table(samples: Sequence[Sample], where: tzinfo) -> Html:
    if not samples:
        return nothing("Every incoming message had a topic.")
    rows = [
        tag(
            "tr",
            tag(
                "td",
                tag("div", s.mail.subject or "(no subject)", style="font-weight:600;"),
                muted(f"{s.mail.sender} · {when(s.mail.date, where)} · {s.lang}"),
                tag("div", s.mail.text, style=f"{TEXT}color:#334155;margin-top:2px;"),
                style=TD,
            ),
        )
        for s in samples
    ]
    return table(*rows)


def rules_table(hits: Sequence[RuleHits]) -> Html:
    if not hits:
        return nothing("No topic rule fired on incoming mail this period.")
    top = max(h.messages for h in hits)
    rows = [
        tag(
            "tr",
            tag(
                "td",
                join([h.topic, tag("div", bar(h.messages / top, "#6366f1", height=6), style="margin-top:4px;")]),
                style=TD + "width:30%;",
            ),
            tag("td", f"{h.messages}", style=NUM),
            tag("td", join((muted(f"{kind} {n}") for kind, n in h.kinds.items()), BR), style=TD),
            tag("td", join(tag("div", f"{r.rule} × {r.hits}") for r in h.rules), style=TD + "font-size:12px;"),
        )
        for h in hits
    ]
    headers = [("Topic", ""), ("Mail", "text-align:right;"), ("Evidence", ""), ("Top rules", "")]
    return data_table(headers, rows)


def precision_table(checks: Sequence[CheckPrecision]) -> Html:
    rows = []
    for check in checks:
        value = check.precision
        if value is None:
            shown = tag("span", "no verdicts", style=f"color:{FAINT};")
        else:
            colour = "#059669" if value >= 0.8 else "#d97706" if value >= 0.5 else "#dc2626"
            shown = join([tag("div", percent(value), style="font-weight:600;"), bar(value, colour, height=6)])
        rows.append(
            tag(
                "tr",
                tag("td", check.kind, style=TD),
                tag("td", f"{check.flags}", style=NUM),
                tag(
                    "td",
                    join([f"{check.confirmed} confirmed", BR, muted(f"{check.dismissed} dismissed")]),
                    style=TD + "text-align:right;",
                ),
                tag("td", shown, style=TD + "width:24%;text-align:right;"),
            )
        )
    headers = [
        ("Check", ""),
        ("Flags", "text-align:right;"),
        ("Verdicts", "text-align:right;"),
        ("Precision", "text-align:right;"),
    ]
    return data_table(headers, rows)

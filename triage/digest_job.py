"""Build, render, write and send digests: for `triage digest` and for the daemon's schedule."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from triage.config import Config
from triage.digest.build import build_digest
from triage.digest.render import render_html, render_json, render_markdown, render_text
from triage.mailer import build_message, send
from triage.schedule import Period, due_period, parse_schedule
from triage.store import Store

log = logging.getLogger(__name__)

RENDERERS: dict[str, Callable[..., str]] = {
    "text": render_text,
    "markdown": render_markdown,
    "html": render_html,
    "json": render_json,
}
SUFFIX = {"text": "txt", "markdown": "md", "html": "html", "json": "json"}


def render_period(store: Store, config: Config, start: datetime | None, end: datetime, now: datetime, fmt: str) -> str:
    digest = build_digest(store, start, end, config, now)
    return RENDERERS[fmt](digest)


def subject_for(start: datetime | None, end: datetime) -> str:
    since = start.strftime("%d %b %Y %H:%M") if start else "the beginning"
    return f"triage digest: {since} to {end.strftime('%d %b %Y %H:%M')}"


def send_digest(store: Store, config: Config, start: datetime | None, end: datetime, now: datetime) -> None:
    """Send the digest of a period to [digest] recipients as text plus HTML."""
    if not config.digest.recipients:
        raise ValueError("no [digest] recipients configured")
    digest = build_digest(store, start, end, config, now)
    message = build_message(
        config.smtp.sender, config.digest.recipients, subject_for(start, end), render_text(digest), render_html(digest)
    )
    send(config.smtp, message)


def write_files(store: Store, config: Config, period: Period, now: datetime) -> list[Path]:
    folder = config.digest.directory
    if folder is None:
        return []
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest = build_digest(store, period.start, period.end, config, now)
    written = []
    stamp = period.end.strftime("%Y%m%d-%H%M")
    for fmt in config.digest.formats:
        path = folder / f"digest-{stamp}.{SUFFIX[fmt]}"
        path.write_text(RENDERERS[fmt](digest), encoding="utf-8")
        path.chmod(0o600)
        written.append(path)
    return written


def run_schedule(store: Store, config: Config, now: datetime) -> Period | None:
    """Write and send the latest period's digest unless it was sent already; returns it when sent.

    The period is recorded only after the mail went out, so a crash in between sends it again
    rather than never: a lead would rather get a digest twice than miss one.
    """
    period = due_period(parse_schedule(config.digest.schedule, config.digest.timezone), now)
    if store.digest_sent(period.key) or (not config.digest.recipients and config.digest.directory is None):
        return None
    write_files(store, config, period, now)
    if config.digest.recipients:
        send_digest(store, config, period.start, period.end, now)
    flags = len(store.list_flags(since_utc=period.start.astimezone(UTC).isoformat()))
    store.record_digest_sent(period.key, config.digest.recipients, flags)
    log.info("digest sent", extra={"period": period.key, "recipients": len(config.digest.recipients)})
    return period

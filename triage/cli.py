"""The `triage` command: each subcommand parses its arguments, calls the library, reports errors."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import click

from triage import __version__
from triage.analyze import Analyzer, replay, rules_folders
from triage.classify import Classification
from triage.config import Config, ConfigError, default_config_path, load_config
from triage.credentials import CredentialError
from triage.logs import setup_logging
from triage.model import FLAG_KINDS, FolderRole
from triage.periods import PeriodError, since
from triage.rules import RulesError
from triage.sources.imap import ImapError
from triage.sources.local import LocalSourceError
from triage.store import Store, StoreError, open_store

F = TypeVar("F", bound=Callable[..., Any])
USER_ERRORS = (ConfigError, StoreError, ImapError, CredentialError, LocalSourceError, PeriodError, RulesError)


def config_option(func: F) -> F:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path),
        default=None,
        help="Config file [default: $TRIAGE_CONFIG, else /etc/triage/config.toml].",
    )(func)


@contextmanager
def user_errors() -> Iterator[None]:
    """Library errors become a one-line message and exit status 2, never a traceback."""
    try:
        yield
    except USER_ERRORS as exc:
        click.echo(f"triage: error: {exc}", err=True)
        sys.exit(2)


def get_config(config_path: Path | None, required: bool = True) -> Config:
    """The config; with required=False a missing default file means built-in defaults."""
    path = config_path or default_config_path()
    if not required and config_path is None and not path.exists():
        config = Config()
    else:
        with user_errors():
            config = load_config(path)
    setup_logging(config.log.level)
    return config


def get_analyzer(config: Config) -> Analyzer:
    with user_errors():
        return Analyzer.from_config(config)


def get_store(config: Config) -> Store:
    with user_errors():
        return open_store(config.store.path)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="triage")
def main() -> None:
    """Watch a support mailbox and show where customers are being failed."""


@main.command()
@click.option("--once", is_flag=True, help="One catch-up pass over every account and folder, then exit.")
@config_option
def run(once: bool, config_path: Path | None) -> None:
    """Capture mail from every account: the daemon (IMAP IDLE), or one pass with --once."""
    from triage.service import Daemon, load_analyzer, run_once

    config = get_config(config_path)
    with user_errors():
        analyzer = load_analyzer(config)
        if once:
            errors = run_once(config, analyzer)
            for error in errors:
                click.echo(f"triage: error: {error}", err=True)
            sys.exit(1 if errors else 0)
        daemon = Daemon(config, analyzer=analyzer)
        daemon.install_signal_handlers()
        sys.exit(daemon.run())


@main.command(name="import")
@click.option(
    "--folder",
    type=click.Choice(["inbox", "sent"]),
    required=True,
    help="Treat the mail as received (inbox) or as our replies (sent).",
)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@config_option
def import_(folder: str, paths: tuple[Path, ...], config_path: Path | None) -> None:
    """Import mbox files, Maildir folders and .eml files into the store."""
    from triage.capture import import_raw
    from triage.pipeline import preparer_for
    from triage.sources.local import read_paths

    config = get_config(config_path)
    store = get_store(config)
    analyzer = get_analyzer(config)
    with user_errors(), preparer_for(config, analyzer) as preparer:
        result = import_raw(read_paths(list(paths)), store, config, FolderRole(folder), prepare=preparer.submit)
        analyzer.analyze_missing(store)  # what a failed classification left without topics
        new_ids = list(result.new_ids)
        flags = analyzer.flag_after(store, new_ids, derive_windows=preparer.derive_windows) if new_ids else 0
    click.echo(
        f"read {result.fetched} messages: {result.new} new, "
        f"{result.fetched - result.new} already stored, {result.quarantined} quarantined; "
        f"{flags} flags in the affected period"
    )


@main.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@config_option
def status(fmt: str, config_path: Path | None) -> None:
    """Per account and folder: last sync, UIDVALIDITY, last UID, counts and last error.

    Exits 1 when a watched folder has not synced for [health] stale_hours, for monitoring.
    """
    config = get_config(config_path)
    store = get_store(config)
    rows, counts, state = store.status_rows(), store.counts(), store.state()
    service = {key: row["value"] for key, row in state.items()}
    checks = check_precision(store)
    stale = stale_folders(config, rows, datetime.now(UTC))
    if fmt == "json":
        click.echo(
            json.dumps(
                {"folders": rows, "totals": counts, "service": service, "checks": checks, "stale": stale}, indent=2
            )
        )
    else:
        click.echo(render_status(rows, counts, service))
        click.echo(render_checks(checks))
        for folder in stale:
            click.echo(f"STALE: {folder}")
    sys.exit(1 if stale else 0)


def stale_folders(config: Config, rows: list[dict[str, Any]], now: datetime) -> list[str]:
    """Watched folders of configured accounts with no successful sync for [health] stale_hours."""
    limit = now - timedelta(hours=config.health.stale_hours)
    synced = {(row["account"], row["role"]): row["last_sync"] for row in rows}
    stale = []
    for account in config.accounts:
        for role in ("inbox", "sent"):
            last = synced.get((account.name, role))
            if last is None or datetime.fromisoformat(last) < limit:
                stale.append(f"{account.name}/{role}: last sync {last or 'never'}")
    return stale


def check_precision(store: Store) -> dict[str, dict[str, Any]]:
    """Per check: open flags, and the precision leads observed through confirm/dismiss."""
    open_counts: dict[str, int] = {}
    for flag in store.list_flags():
        open_counts[flag["kind"]] = open_counts.get(flag["kind"], 0) + 1
    feedback = store.feedback_counts()
    checks = {}
    for kind in FLAG_KINDS:
        confirmed = feedback.get(kind, {}).get("confirmed", 0)
        dismissed = feedback.get(kind, {}).get("dismissed", 0)
        judged = confirmed + dismissed
        checks[kind] = {
            "flags": open_counts.get(kind, 0),
            "confirmed": confirmed,
            "dismissed": dismissed,
            "precision": round(confirmed / judged, 3) if judged else None,
        }
    return checks


def render_checks(checks: dict[str, dict[str, Any]]) -> str:
    lines = [f"\n{'check':<16} {'flags':>6} {'confirmed':>10} {'dismissed':>10} {'precision':>10}"]
    for kind, row in checks.items():
        precision = "-" if row["precision"] is None else f"{row['precision']:.2f}"
        lines.append(f"{kind:<16} {row['flags']:>6} {row['confirmed']:>10} {row['dismissed']:>10} {precision:>10}")
    return "\n".join(lines)


def render_status(rows: list[dict[str, Any]], counts: dict[str, int], service: dict[str, Any]) -> str:
    lines = [
        f"{'account':<16} {'folder':<6} {'mailbox':<16} {'uidvalidity':>11} {'last uid':>8} {'msgs':>6}  last sync"
    ]
    for row in rows:
        lines.append(
            f"{row['account']:<16} {row['role']:<6} {row['mailbox'] or '-':<16} "
            f"{row['uidvalidity'] or '-':>11} {row['last_uid'] or 0:>8} {row['messages']:>6}  "
            f"{row['last_sync'] or 'never'}"
        )
        if row["last_error"]:
            lines.append(f"    last error ({row['last_error_at']}): {row['last_error']}")
        elif row["recovered_error"]:
            lines.append(
                f"    recovered {row['recovered_at']} from an error at {row['last_error_at']}: {row['recovered_error']}"
            )
    lines.append(
        f"messages: {counts['messages']} ({counts['incoming']} in, {counts['outgoing']} out, "
        f"{counts['quarantined']} quarantined)"
    )
    if service.get("rules_version"):
        lines.append(f"rules: version {service['rules_version']}")
    if service.get("reload_error"):
        lines.append(f"last reload FAILED, old config and rules still running: {service['reload_error']}")
    return "\n".join(lines)


@main.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "table"]), default="table", show_default=True)
@click.option(
    "--since",
    "since_text",
    default="all",
    show_default=True,
    help="Only mail dated within this period: 30m, 24h, 7d, 2w or all.",
)
@config_option
def messages(fmt: str, since_text: str, config_path: Path | None) -> None:
    """List captured messages (jsonl: one JSON object per message)."""
    config = get_config(config_path)
    store = get_store(config)
    with user_errors():
        start = since(since_text, datetime.now(UTC))
    for rows in batched(store.messages(start.isoformat() if start else None), 500):
        ids = [row["id"] for row in rows]
        topics, flags = store.topics_of(ids), store.flags_of(ids)
        for row in rows:
            echo_message(message_record(row, topics.get(row["id"], []), flags.get(row["id"], [])), fmt)


def batched(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def flag_record(flag: dict[str, Any]) -> dict[str, Any]:
    """A flag as the jsonl contract shows it: at least kind and explanation."""
    return {
        "id": flag["id"],
        "kind": flag["kind"],
        "severity": flag["severity"],
        "explanation": flag["explanation"],
        "status": flag["status"],
        "related": json.loads(flag["related_json"] or "[]"),
        "evidence": json.loads(flag["evidence_json"] or "{}"),
    }


def echo_message(record: dict[str, Any], fmt: str) -> None:
    if fmt == "jsonl":
        click.echo(json.dumps(record, ensure_ascii=False))
        return
    click.echo(
        f"{record['date'][:16]:<16} {record['direction']:<3} {(record['from'] or '-')[:28]:<28} "
        f"{record['lang']:<5} {'auto' if record['automated'] else '':<4} "
        f"{','.join(record['topics']) or '-':<24} {record['subject'][:50]}"
    )


def message_record(row: dict[str, Any], topics: list[dict[str, Any]], flags: list[dict[str, Any]]) -> dict[str, Any]:
    """The `messages --format jsonl` contract for one stored message."""
    return {
        "message_id": row["message_id"],
        "folder": row["folder"],
        "direction": row["direction"],
        "from": row["from_addr"],
        "date": row["date"],
        "subject": row["subject"] or "",
        "lang": row["lang"] or "other",
        "automated": row["automated"] is not None,
        "automated_reason": row["automated"],
        "topics": [t["topic"] for t in topics],
        "topic_scores": {t["topic"]: t["score"] for t in topics},
        "flags": [flag_record(flag) for flag in flags],
        "account": row["account"],
        "status": row["status"],
        "truncated": bool(row["truncated"]),
    }


@main.group()
def rules() -> None:
    """Check, try and replay the topic rules."""


@rules.command(name="check")
@config_option
def rules_check(config_path: Path | None) -> None:
    """Validate every rule file; report overlaps, duplicate ids and unsafe regexes."""
    from triage.rules import check_rules

    config = get_config(config_path, required=False)
    with user_errors():
        report = check_rules(rules_folders(config))
    for line in report.lines():
        click.echo(line)
    sys.exit(1 if report.errors else 0)


@rules.command(name="replay")
@click.option(
    "--since",
    "since_text",
    default="30d",
    show_default=True,
    help="Re-derive mail dated within this period: 24h, 7d, 30d or all.",
)
@click.option("--apply", is_flag=True, help="Write the new topics (without it nothing is written).")
@click.option("--examples", default=3, show_default=True, help="Example messages shown per change.")
@config_option
def rules_replay(since_text: str, apply: bool, examples: int, config_path: Path | None) -> None:
    """Re-derive topics and flags for stored mail with the current rules and show what changes."""
    config = get_config(config_path)
    store = get_store(config)
    analyzer = get_analyzer(config)
    with user_errors():
        start = since(since_text, datetime.now(UTC))
        report = replay(store, analyzer, start.isoformat() if start else None, apply)
    click.echo(
        f"rules version {analyzer.version}: {report.messages} messages, {report.changed} would change"
        + (" (applied)" if apply else " (dry run; --apply writes)")
    )
    for kind, (added, removed) in sorted(report.flag_changes.items()):
        click.echo(f"  flags {kind}: +{added} -{removed}")
    for topic, change in sorted(report.changes.items()):
        click.echo(f"  {topic}: +{len(change.added)} -{len(change.removed)}")
        for sample in (change.added + change.removed)[:examples]:
            click.echo(
                f"      {sample['before']} -> {sample['after']}  {sample['message_id']}  "
                f"{(sample['subject'] or '')[:60]}"
            )


@main.command()
@click.argument("source", required=False, default="-", type=click.File("rb"))
@click.option("--explain", is_flag=True, help="Show the evidence behind every score.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--jsonl",
    is_flag=True,
    help='Batch mode: read {"id", "text"} lines on stdin, write {"id", "topics", "scores"} lines.',
)
@config_option
def classify(source: BinaryIO, explain: bool, fmt: str, jsonl: bool, config_path: Path | None) -> None:
    """Topics of one message (a .eml file, or - for stdin) and why."""
    from triage.model import Mail, RawMail
    from triage.parse import parse_mail

    config = get_config(config_path, required=False)
    classifier = get_analyzer(config).classifier
    if jsonl:
        for line in sys.stdin:
            if line.strip():
                item = json.loads(line)
                result = classifier.classify("", str(item.get("text", "")), item.get("lang"))
                click.echo(
                    json.dumps(
                        {"id": item.get("id"), "topics": result.topic_ids, "scores": result.scores},
                        ensure_ascii=False,
                    )
                )
        return
    parsed = parse_mail(RawMail(source.read()))
    if not isinstance(parsed, Mail):
        click.echo(f"triage: error: cannot parse the message: {parsed.error}", err=True)
        sys.exit(2)
    result = classifier.classify(
        parsed.subject_norm,
        parsed.new_text,
        parsed.lang,
        sender=parsed.sender.email if parsed.sender else "",
        automated=parsed.automated,
    )
    click.echo(render_classification(result, explain, fmt))


def render_classification(result: Classification, explain: bool, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(
            {
                "topics": result.topic_ids,
                "scores": result.scores,
                "lang": result.lang,
                "plain_tokenizer": result.plain_tokenizer,
                "skipped": result.skipped,
                "evidence": {h.topic: [e.as_dict() for e in h.evidence] for h in result.topics + result.rejected},
            },
            ensure_ascii=False,
            indent=2,
        )
    if result.skipped and not explain:
        return f"no topics: {result.skipped}"
    lines = [f"language: {result.lang}" + (" (plain tokenizer, no lemmas)" if result.plain_tokenizer else "")]
    if result.skipped:
        lines.append(f"no topics: {result.skipped}")
    lines.append("topics: " + (", ".join(f"{h.topic} ({h.score:g})" for h in result.topics) or "unclassified"))
    if explain:
        for label, hits in (("", result.topics), ("below threshold: ", result.rejected)):
            for hit in hits:
                lines.append(f"  {label}{hit.topic} {hit.score:g}")
                lines.extend(f"    +{e.weight:g} {e.kind} {e.rule!r} matched {e.matched!r}" for e in hit.evidence)
    return "\n".join(lines)


@main.group()
def flags() -> None:
    """List flags, show one with its evidence, and record a lead's verdict."""


@flags.command(name="list")
@click.option("--kind", type=click.Choice(FLAG_KINDS), default=None, help="Only this check's flags.")
@click.option("--status", type=click.Choice(["open", "confirmed", "dismissed"]), default=None)
@click.option("--since", "since_text", default="all", show_default=True, help="Mail dated within: 24h, 7d, all.")
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table", show_default=True)
@config_option
def flags_list(kind: str | None, status: str | None, since_text: str, fmt: str, config_path: Path | None) -> None:
    """Flags with their message and explanation."""
    config = get_config(config_path)
    store = get_store(config)
    with user_errors():
        start = since(since_text, datetime.now(UTC))
    for flag in store.list_flags(kind, status, start.isoformat() if start else None):
        if fmt == "jsonl":
            click.echo(json.dumps(flag_record(flag) | {"message_id": flag["message_id"]}, ensure_ascii=False))
        else:
            click.echo(
                f"{flag['id']:>5} {flag['kind']:<16} {flag['status']:<9} {flag['date'][:10]} "
                f"{(flag['subject'] or '')[:40]:<40} {flag['explanation'][:90]}"
            )


def get_flag(store: Store, flag_id: int) -> dict[str, Any]:
    flag = store.flag(flag_id)
    if flag is None:
        click.echo(f"triage: error: no flag with id {flag_id}; `triage flags list` shows the ids", err=True)
        sys.exit(2)
    return flag


@flags.command(name="show")
@click.argument("flag_id", type=int)
@config_option
def flags_show(flag_id: int, config_path: Path | None) -> None:
    """One flag: its message, explanation, evidence and linked messages."""
    store = get_store(get_config(config_path))
    flag = get_flag(store, flag_id)
    click.echo(f"flag {flag['id']}: {flag['kind']} ({flag['severity']}), {flag['status']}")
    click.echo(f"message: {flag['message_id']}  {flag['date']}  from {flag['from_addr']}")
    click.echo(f"subject: {flag['subject']}")
    click.echo(f"why: {flag['explanation']}")
    if flag["note"]:
        click.echo(f"note: {flag['note']}")
    click.echo("evidence: " + json.dumps(json.loads(flag["evidence_json"] or "{}"), ensure_ascii=False, indent=2))
    for related in json.loads(flag["related_json"] or "[]"):
        click.echo(f"linked: {related}")


def record_verdict(flag_id: int, verdict: str, note: str | None, config_path: Path | None) -> None:
    store = get_store(get_config(config_path))
    flag = get_flag(store, flag_id)
    store.set_feedback(flag["key"], flag["kind"], verdict, note)
    click.echo(f"flag {flag_id} ({flag['kind']}) {verdict}")


@flags.command(name="dismiss")
@click.argument("flag_id", type=int)
@click.option("--note", default=None, help="Why, for the record.")
@config_option
def flags_dismiss(flag_id: int, note: str | None, config_path: Path | None) -> None:
    """Mark a flag as a false alarm; it stays dismissed when flags are recomputed."""
    record_verdict(flag_id, "dismissed", note, config_path)


@flags.command(name="confirm")
@click.argument("flag_id", type=int)
@click.option("--note", default=None, help="What was done about it.")
@config_option
def flags_confirm(flag_id: int, note: str | None, config_path: Path | None) -> None:
    """Mark a flag as right; confirmed and dismissed counts give each check's precision."""
    record_verdict(flag_id, "confirmed", note, config_path)


@main.command()
@click.option("--since", "since_text", default="24h", show_default=True, help="The period: 24h, 7d, 365d or all.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "markdown", "html", "json"]), default="text", show_default=True
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of standard output.",
)
@click.option("--send", "send_mail", is_flag=True, help="Also e-mail it to [digest] recipients (text and HTML).")
@config_option
def digest(since_text: str, fmt: str, out: Path | None, send_mail: bool, config_path: Path | None) -> None:
    """The digest for support leads: flagged replies, repeats, unanswered mail, volumes, health."""
    from triage.digest_job import render_period, send_digest
    from triage.mailer import MailerError

    config = get_config(config_path)
    store = get_store(config)
    now = datetime.now(UTC)
    with user_errors():
        start = since(since_text, now)
        text = render_period(store, config, start, now, now, fmt)
    if out is None:
        click.echo(text)
    else:
        try:
            out.write_text(text, encoding="utf-8")
            out.chmod(0o600)
        except OSError as exc:  # a full disk, a read-only or missing folder
            click.echo(f"triage: error: cannot write {out}: {exc.strerror or exc}", err=True)
            sys.exit(2)
        click.echo(f"wrote {out}", err=True)
    if send_mail:
        try:
            send_digest(store, config, start, now, now)
        except (MailerError, ValueError) as exc:
            click.echo(f"triage: error: {exc}", err=True)
            sys.exit(2)
        click.echo(f"sent to {', '.join(config.digest.recipients)}", err=True)


@main.command()
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@config_option
def backup(target: Path, config_path: Path | None) -> None:
    """Copy the live store to TARGET (SQLite online backup; safe while the daemon runs)."""
    store = get_store(get_config(config_path))
    with user_errors():
        store.backup(target)
    click.echo(f"backed up {store.counts()['messages']} messages to {target}")


@main.command()
@click.option("--contact", "address", required=True, help="Remove all mail from or to this address.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@config_option
def purge(address: str, yes: bool, config_path: Path | None) -> None:
    """Remove a customer's data (a privacy request): their mail and everything derived from it."""
    config = get_config(config_path)
    store = get_store(config)
    if not yes:
        click.confirm(f"Remove every message from or to {address} from {config.store.path}?", abort=True)
    removed = store.purge_address(address)
    with user_errors():
        flags = get_analyzer(config).flag_all(store)
    click.echo(f"removed {removed} messages of {address}; flags re-derived ({flags})")


@main.command()
@click.option(
    "--keep",
    type=click.Path(path_type=Path),
    default=None,
    help="Keep the demo store in this folder instead of a temporary one.",
)
def demo(keep: Path | None) -> None:
    """Run triage on a bundled sample mailbox served by an embedded IMAP server (pymap)."""
    from triage.demo.run import run_demo

    setup_logging("WARNING")
    with user_errors():
        run_demo(keep, echo=click.echo)


if __name__ == "__main__":
    logging.captureWarnings(True)
    main()

"""The `triage` command: each subcommand parses its arguments, calls the library, reports errors."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from triage import __version__
from triage.config import Config, ConfigError, default_config_path, load_config
from triage.credentials import CredentialError
from triage.logs import setup_logging
from triage.model import FolderRole
from triage.periods import PeriodError, since
from triage.sources.imap import ImapError
from triage.sources.local import LocalSourceError
from triage.store import Store, StoreError, open_store

F = TypeVar("F", bound=Callable[..., Any])
USER_ERRORS = (ConfigError, StoreError, ImapError, CredentialError, LocalSourceError, PeriodError)


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


def get_config(config_path: Path | None) -> Config:
    with user_errors():
        config = load_config(config_path or default_config_path())
    setup_logging(config.log.level)
    return config


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
    from triage.service import Daemon, run_once

    config = get_config(config_path)
    with user_errors():
        if once:
            errors = run_once(config)
            for error in errors:
                click.echo(f"triage: error: {error}", err=True)
            sys.exit(1 if errors else 0)
        daemon = Daemon(config)
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
    from triage.sources.local import read_paths

    config = get_config(config_path)
    store = get_store(config)
    with user_errors():
        result = import_raw(read_paths(list(paths)), store, config, FolderRole(folder))
    click.echo(
        f"read {result.fetched} messages: {result.new} new, "
        f"{result.fetched - result.new} already stored, {result.quarantined} quarantined"
    )


@main.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@config_option
def status(fmt: str, config_path: Path | None) -> None:
    """Per account and folder: last sync, UIDVALIDITY, last UID, counts and last error."""
    config = get_config(config_path)
    store = get_store(config)
    rows, counts = store.status_rows(), store.counts()
    if fmt == "json":
        click.echo(json.dumps({"folders": rows, "totals": counts}, indent=2))
        return
    click.echo(render_status(rows, counts))


def render_status(rows: list[dict[str, Any]], counts: dict[str, int]) -> str:
    lines = [
        f"{'account':<16} {'folder':<6} {'mailbox':<16} {'uidvalidity':>11} {'last uid':>8} "
        f"{'msgs':>6}  last sync"
    ]
    for row in rows:
        lines.append(
            f"{row['account']:<16} {row['role']:<6} {row['mailbox'] or '-':<16} "
            f"{row['uidvalidity'] or '-':>11} {row['last_uid'] or 0:>8} {row['messages']:>6}  "
            f"{row['last_sync'] or 'never'}"
        )
        if row["last_error"]:
            lines.append(f"    last error ({row['last_error_at']}): {row['last_error']}")
    lines.append(
        f"messages: {counts['messages']} ({counts['incoming']} in, {counts['outgoing']} out, "
        f"{counts['quarantined']} quarantined)"
    )
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
    rows = store.messages(start.isoformat() if start else None)
    for row in rows:
        record = message_record(row)
        if fmt == "jsonl":
            click.echo(json.dumps(record, ensure_ascii=False))
        else:
            click.echo(
                f"{record['date'][:16]:<16} {record['direction']:<3} "
                f"{(record['from'] or '-')[:28]:<28} {record['lang']:<5} "
                f"{'auto' if record['automated'] else '':<4} {record['subject'][:60]}"
            )


def message_record(row: dict[str, Any]) -> dict[str, Any]:
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
        "topics": [],
        "flags": [],
        "account": row["account"],
        "status": row["status"],
        "truncated": bool(row["truncated"]),
    }


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

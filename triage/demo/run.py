"""`triage demo`: the daemon against a seeded embedded IMAP server, with mail arriving live."""

from __future__ import annotations

import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from triage.config import AccountConfig, CaptureConfig, Config, StoreConfig, SupportConfig
from triage.demo.pymap_server import pymap_server
from triage.demo.sample_mailbox import (
    SUPPORT_ADDRESS,
    SampleMessage,
    live_messages,
    sample_messages,
)
from triage.service import Daemon
from triage.sources.imap import append_messages
from triage.store import Store, open_store

PASSWORD_ENV = "TRIAGE_DEMO_PASSWORD"
MAILBOX = {"inbox": "INBOX", "sent": "Sent"}


def demo_config(port: int, store_path: Path) -> Config:
    account = AccountConfig(
        name="demo",
        host="127.0.0.1",
        port=port,
        security="none",
        username=SUPPORT_ADDRESS,
        password_env=PASSWORD_ENV,
    )
    return Config(
        store=StoreConfig(path=store_path),
        support=SupportConfig(addresses=(SUPPORT_ADDRESS,), domains=("example.com",)),
        capture=CaptureConfig(poll_interval_seconds=2.0, backoff_max_seconds=5.0),
        accounts=(account,),
    )


def seed(account: AccountConfig, messages: list[SampleMessage]) -> None:
    for folder, mailbox in MAILBOX.items():
        append_messages(account, mailbox, [m.raw for m in messages if m.folder == folder])


def run_demo(keep: Path | None, echo: Callable[[str], None] = print) -> Path:
    """Run the whole demo; returns the store path (deleted afterwards unless `keep`)."""
    password = secrets.token_urlsafe(12)
    os.environ[PASSWORD_ENV] = password
    with tempfile.TemporaryDirectory(prefix="triage-demo-") as tmp:
        workdir = keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        store_path = workdir / "triage.sqlite"
        with pymap_server(SUPPORT_ADDRESS, password) as port:
            config = demo_config(port, store_path)
            seeded = sample_messages()
            seed(config.accounts[0], seeded)
            echo(f"embedded IMAP server (pymap) on 127.0.0.1:{port}: {len(seeded)} sample messages in INBOX and Sent")
            run_daemon_with_live_mail(config, echo)
        from triage.cli import render_status  # the demo prints what `triage status` prints

        store = open_store(store_path)
        echo("")
        echo(render_status(store.status_rows(), store.counts(), {}))
        echo("\nincoming questions per topic:")
        for topic, count in store.topic_counts("in").items():
            echo(f"  {topic:<20} {count:>3}")
        show_flags(store, echo)
        show_digest(store, config, (keep or Path(tempfile.gettempdir())) / "triage-demo-digest.html", echo)
        store.close()
        echo(f"\nstore: {store_path}" + ("" if keep else " (temporary, removed now)"))
    return store_path


def show_flags(store: Store, echo: Callable[[str], None], per_kind: int = 2) -> None:
    flags = store.list_flags()
    echo(f"\nflags: {len(flags)} (`triage flags list` shows them all, `triage flags show ID` one)")
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for flag in flags:
        by_kind.setdefault(flag["kind"], []).append(flag)
    for kind, found in sorted(by_kind.items()):
        echo(f"  {kind} ({len(found)})")
        for flag in found[:per_kind]:
            echo(f"    [{flag['id']}] {(flag['subject'] or '')[:50]}: {flag['explanation']}")


def show_digest(store: Store, config: Config, html_path: Path, echo: Callable[[str], None]) -> None:
    """The lead's view: the HTML digest to a file, the text digest on screen."""
    from triage.digest_job import render_period

    now = datetime.now(UTC)
    html_path.write_text(render_period(store, config, None, now, now, "html"), encoding="utf-8")
    echo(f"\nHTML digest: {html_path}\n")
    echo(render_period(store, config, None, now, now, "text"))


def run_daemon_with_live_mail(config: Config, echo: Callable[[str], None]) -> None:
    daemon = Daemon(config, config_loader=lambda: config)
    thread = threading.Thread(target=daemon.run, name="demo-daemon")
    thread.start()
    try:
        daemon.ready.wait(60)
        store = open_store(config.store.path)
        echo(f"daemon caught up: {store.counts()['messages']} messages captured (read-only)")
        for message in live_messages():
            before = store.counts()["messages"]
            sent_at = time.monotonic()
            append_messages(config.accounts[0], MAILBOX[message.folder], [message.raw])
            while store.counts()["messages"] == before and time.monotonic() - sent_at < 15:
                time.sleep(0.05)
            seen = store.counts()["messages"] > before
            echo(
                f"  new mail in {message.folder}: "
                + (f"captured {time.monotonic() - sent_at:.2f}s after arrival" if seen else "not captured within 15s")
            )
        store.close()
    finally:
        daemon.request_stop()
        thread.join(15)

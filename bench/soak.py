"""Soak run: the daemon under IDLE receives mail at a steady rate for a bounded time while a digest
goes out every minute to a real SMTP server; memory over time, latency, errors, digests, exactly-once.

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 2] [--mailbox 2000] [--keep]
    make soak SOAK_ARGS="--minutes 1"

A private Dovecot on loopback (bench/dovecot.py) holds a generated support mailbox of --mailbox
messages (bench/bigmailbox.py); `triage run` backfills it, and once it logs `daemon ready` the
soak starts: --rate messages per second are APPENDed over one IMAP connection for --minutes
minutes. Four in five are `live_message`s built to be flagged (a customer writing again about a
recent question, or a reply that only redirects), one in five is fresh mail of the last day
(questions, replies, newsletters, out-of-office notes). The store is polled read-only; for each
message latency runs from just before its APPEND until it is stored, and (live messages) flagged.

Digests: with --digest-via schedule (default) the config says `schedule = "every 1 minute"` and
the daemon's own scheduler sends one digest per minute; with --digest-via reload the soak rewrites
`[digest] schedule` to the current minute (a daily schedule) and sends SIGHUP once a minute, so
the daemon also reloads its config and rules every minute, reconnecting its watchers; with
--digest-via command it runs `triage digest --since 24h --send` once a minute beside the daemon.
Either way the daemon also sends the due digest when it starts. The SMTP server is aiosmtpd,
in this process, on loopback.

Time-lapse (--days-per-minute D, default 10; 0 for real time): mail time runs D days ahead for
every real minute. Each
APPENDed message is dated in that simulated time (Date header and INTERNALDATE): fresh mail keeps
its offset from "now" but "now" is simulated, and live messages follow up questions of the last
few simulated days (the mailbox's recent questions first, then the soak's own). The daemon
re-derives `recompute_days` plus a repeat window before the newest arrival after each one, so
with D = 10 that window leaves the mailbox behind after about three minutes and from then on
holds only a few simulated weeks of soak mail: its contents stop growing, and memory can level
off within a run of minutes. Without it, every soak message stays inside the window and the
working set legitimately grows for the whole run.

Reported: the daemon's RSS (VmRSS from /proc every --sample seconds; first, last, max, and the
slope over the second half), its threads and open files, latency p50/p95/max to stored and to
flagged, ERROR lines in its log, messages never stored, digests received against expected, and a
final check that every APPENDed message is stored exactly once (one `messages` row, one
`locations` row). Exit status 0 when nothing was lost, duplicated or left unsent and the log has
no ERROR line; else 1. Needs root (Dovecot drops to nobody).
"""

from __future__ import annotations

import argparse
import email
import email.policy
import io
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from aiosmtpd.controller import Controller
from bigmailbox import MailboxGenerator, Message, Question, write_maildir
from dovecot import MAIL_GID, MAIL_UID, Dovecot, dovecot_missing, free_port
from imapclient import IMAPClient
from live import StorePoller, Tracked, percentile, start_daemon, stop_daemon
from runs import TRIAGE, query, toml_value, write_triage_config

RECIPIENT = "lead@nusantara-net.example"
SENDER = "triage <triage@nusantara-net.example>"
FLAT_MB_PER_MINUTE = 0.5  # |slope| below this over the second half counts as flat
DRAIN_SECONDS = 60.0  # after the last APPEND, how long messages may take to be stored and flagged
# Time-lapse: live messages follow up questions of this many simulated days (within the repeat
# window of 14 days, so a follow-up is a repeat contact).
FOLLOW_UP_DAYS = 7.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long mail arrives (default 10)")
    parser.add_argument("--rate", type=float, default=2.0, help="APPENDs per second (default 2)")
    parser.add_argument("--mailbox", type=int, default=2000, help="messages in the mailbox before the soak")
    parser.add_argument("--fresh-share", type=float, default=0.2, help="share of fresh mail (default 0.2)")
    parser.add_argument("--digest-every", type=float, default=60.0, help="seconds between digests (default 60)")
    parser.add_argument(
        "--digest-via",
        choices=("schedule", "reload", "command"),
        default="schedule",
        help='schedule: "every 1 minute", the daemon sends (default); reload: new schedule + SIGHUP each '
        "minute, the daemon sends; command: `triage digest --send` each minute",
    )
    parser.add_argument(
        "--days-per-minute",
        type=float,
        default=10.0,
        help="time-lapse: APPENDed mail is dated this many simulated days later for every real minute "
        "(Date and INTERNALDATE), so the window the daemon re-derives slides (default 10; 0: real time)",
    )
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between RSS samples (default 10)")
    parser.add_argument("--seed", type=int, default=20261, help="mailbox generator seed")
    parser.add_argument(
        "--commit",
        help="run triage/ and rules/ as committed at this revision (git archive into the work directory, "
        "put first on PYTHONPATH), not the working tree",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    parser.add_argument("--workdir", type=Path, help="where to build everything (default: a new /tmp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, store)")
    return parser.parse_args(argv)


def say(text: str = "") -> None:
    print(text, flush=True)


REPO = Path(__file__).resolve().parent.parent


def git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, check=False)
    return done.stdout.decode().strip()


def export_commit(revision: str, into: Path) -> str:
    """triage/ and rules/ as committed at `revision`, unpacked into `into`; returns the short hash."""
    commit = git("rev-parse", "--short", f"{revision}^{{commit}}")
    if not commit:
        raise SystemExit(f"--commit {revision}: not a revision of {REPO}")
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", commit, "triage", "rules"], capture_output=True, check=True
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return commit


def working_tree_revision() -> str:
    dirty = " + uncommitted changes in triage/ or rules/" if git("status", "--porcelain", "triage", "rules") else ""
    return f"{git('rev-parse', '--short', 'HEAD') or 'unknown'}{dirty} (working tree)"


# -- the SMTP server -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    at: float  # time.monotonic()
    subject: str
    parts: tuple[str, ...]  # content types of the leaves: text/plain and text/html expected
    size: int


class SmtpSink:
    """aiosmtpd's handler: notes every digest that arrives."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # the name aiosmtpd calls
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parts = tuple(part.get_content_type() for part in message.walk() if not part.is_multipart())
        with self.lock:
            self.received.append(Received(time.monotonic(), str(message["Subject"]), parts, len(envelope.content)))
        return "250 OK"

    def count(self, since: float = 0.0) -> int:
        with self.lock:
            return sum(1 for item in self.received if item.at >= since)


# -- config and the digest trigger ---------------------------------------------------------------


def minute_schedule(now: datetime) -> str:
    """A daily schedule at the current UTC minute: due at once, and a new period every minute."""
    return f"daily {now:%H:%M}"


def write_config(path: Path, server: Dovecot, store: Path, smtp_port: int, schedule: str) -> Path:
    """The benchmark's config plus [digest] (every recipient, UTC) and [smtp] (plain, loopback)."""
    scratch = path.with_suffix(".new")
    write_triage_config(scratch, server, store)
    sections: dict[str, dict[str, Any]] = {
        "[digest]": {"recipients": [RECIPIENT], "schedule": schedule, "timezone": "UTC"},
        "[smtp]": {"host": "127.0.0.1", "port": smtp_port, "security": "none", "from": SENDER, "timeout_seconds": 30},
    }
    with open(scratch, "a", encoding="utf-8") as out:
        for head, values in sections.items():
            out.write(f"\n{head}\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in values.items()))
    os.replace(scratch, path)  # the daemon never reads a half-written file on SIGHUP
    return path


class DigestTicker(threading.Thread):
    """Once every `every` seconds from the start of the soak, makes the daemon (or the CLI) send a digest."""

    def __init__(
        self,
        via: str,
        every: float,
        process: subprocess.Popen[bytes],
        config: Path,
        rewrite: Callable[[str], None],
        first_schedule: str,
        log: Path,
    ) -> None:
        super().__init__(name="digest-ticker", daemon=True)
        self.via, self.every, self.process = via, every, process
        self.config, self.rewrite, self.log = config, rewrite, log
        self.stop = threading.Event()
        self.triggers: list[float] = []  # time.monotonic() of each trigger
        self.schedules = {first_schedule}  # reload: each new one is a new period, so one more digest
        self.failures: list[str] = []  # command mode: runs of `triage digest --send` that failed
        self.started = datetime.now(UTC)

    def run(self) -> None:
        start = time.monotonic()
        self.started = datetime.now(UTC)
        while not self.stop.wait(max(0.0, start + (len(self.triggers) + 1) * self.every - time.monotonic())):
            self.triggers.append(time.monotonic())
            if self.via == "schedule":
                continue  # the daemon's scheduler sends
            if self.via == "reload":
                schedule = minute_schedule(datetime.now(UTC))
                self.schedules.add(schedule)
                self.rewrite(schedule)
                self.process.send_signal(signal.SIGHUP)
                continue
            with open(self.log, "ab") as out:
                done = subprocess.run(
                    [str(TRIAGE), "digest", "--since", "24h", "--send", "--config", str(self.config)],
                    stdout=subprocess.DEVNULL,
                    stderr=out,
                    env=os.environ,
                    check=False,
                )
            if done.returncode != 0:
                self.failures.append(f"`triage digest --send` exited {done.returncode} (see {self.log})")

    @property
    def expected(self) -> int:
        """Digests due: the daemon's at its start, then one per new minute (schedule, reload) or per run (command)."""
        if self.via == "schedule":
            # the daemon looks for a due digest every 30 s: a minute that ended less than that ago may not be sent yet
            settled = datetime.now(UTC) - timedelta(seconds=35)
            return 1 + max(0, int((settled - self.started.replace(second=0, microsecond=0)).total_seconds() // 60))
        return len(self.schedules) if self.via == "reload" else 1 + len(self.triggers)


# -- sampling the daemon ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    seconds: float  # since the soak started
    rss_mb: float
    threads: int
    open_files: int
    load: float  # the machine's 1-minute load average


def read_sample(pid: int, started: float) -> Sample | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        files = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    rss_kb = int(fields["VmRSS"].split()[0])
    return Sample(time.monotonic() - started, rss_kb / 1024, int(fields["Threads"]), files, os.getloadavg()[0])


class Sampler(threading.Thread):
    def __init__(self, pid: int, every: float) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[Sample] = []
        self.stop = threading.Event()
        self.started = time.monotonic()

    def run(self) -> None:
        while True:
            sample = read_sample(self.pid, self.started)
            if sample is not None:
                self.samples.append(sample)
            if self.stop.wait(self.every):
                return


def slope_per_minute(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per minute; nan for fewer than two."""
    if len(points) < 2:
        return float("nan")
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return float("nan")
    return 60 * sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


# -- the store --------------------------------------------------------------------------------------


class SoakPoller(StorePoller):
    """The live benchmark's poller; a message is done when stored and, if built to be flagged, flagged."""

    def __init__(self, store: Path, interval: float = 0.05) -> None:
        super().__init__(store, interval)
        self.flag_expected: set[str] = set()

    def track_message(self, item: Tracked, expect_flag: bool) -> None:
        with self.lock:
            if expect_flag:
                self.flag_expected.add(item.message_id)
        self.track(item)

    def pending(self) -> list[Tracked]:
        with self.lock:
            return [
                t
                for t in self.tracked.values()
                if "stored" not in t.seen or (t.message_id in self.flag_expected and "flagged" not in t.seen)
            ]


@dataclass
class ExactlyOnce:
    appended: int
    stored_once: int = 0
    never_stored: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)  # more than one messages row
    locations_not_one: list[str] = field(default_factory=list)  # not exactly one locations row
    total_messages: int = 0
    expected_total: int = 0
    quarantined: int = 0  # in the whole store; quarantined mail has a synthetic Message-ID, so is not found by it

    @property
    def ok(self) -> bool:
        return not (self.never_stored or self.duplicated or self.locations_not_one) and (
            self.total_messages == self.expected_total
        )


def check_exactly_once(store: Path, message_ids: Sequence[str], mailbox: int) -> ExactlyOnce:
    result = ExactlyOnce(len(message_ids), expected_total=mailbox + len(message_ids))
    rows: dict[str, list[int]] = {}
    for start in range(0, len(message_ids), 500):
        chunk = list(message_ids[start : start + 500])
        found = query(
            store,
            "SELECT m.message_id, (SELECT COUNT(*) FROM locations l WHERE l.message = m.id) FROM messages m "
            f"WHERE m.message_id IN ({','.join('?' * len(chunk))})",
            chunk,
        )
        for message_id, locations in found:
            rows.setdefault(message_id, []).append(int(locations))
    for message_id in message_ids:
        locations = rows.get(message_id, [])
        if not locations:
            result.never_stored.append(message_id)
        elif len(locations) > 1:
            result.duplicated.append(message_id)
        elif locations != [1]:
            result.locations_not_one.append(message_id)
        else:
            result.stored_once += 1
    result.total_messages = int(query(store, "SELECT COUNT(*) FROM messages")[0][0])
    result.quarantined = int(query(store, "SELECT COUNT(*) FROM messages WHERE status != 'ok'")[0][0])
    return result


# -- the run ----------------------------------------------------------------------------------------


def message_id_of(raw: bytes) -> str:
    value = email.message_from_bytes(raw, policy=email.policy.compat32)["Message-ID"]
    return str(value).strip()


class SimulatedClock:
    """Mail time: the real clock plus `days_per_minute` days for every real minute since it started."""

    def __init__(self, days_per_minute: float) -> None:
        self.days_per_minute = days_per_minute
        self.started = time.monotonic()

    def shift(self) -> timedelta:
        return timedelta(days=self.days_per_minute * (time.monotonic() - self.started) / 60)


DATE_HEADER = re.compile(rb"^Date:[^\r\n]*\r?\n(?:[ \t][^\r\n]*\r?\n)*", re.MULTILINE | re.IGNORECASE)


def redated(raw: bytes, when: datetime) -> bytes:
    """The message with its Date header set to `when` (only in the header block)."""
    end = raw.find(b"\r\n\r\n")
    head, body = (raw[:end], raw[end:]) if end >= 0 else (raw, b"")
    line = f"Date: {format_datetime(when)}\r\n".encode()
    new_head, count = DATE_HEADER.subn(lambda _: line, head + b"\r\n", count=1)
    if not count:
        raise ValueError("a soak message without a Date header")
    return new_head[:-2] + body


class SoakMail:
    """The soak's messages: fresh mail every 1/share messages, else a live message built to be flagged.

    With a clock (time-lapse) every message is dated in simulated time, and live messages follow
    up questions of the last FOLLOW_UP_DAYS simulated days, the soak's own fresh questions included.
    """

    def __init__(
        self,
        live: MailboxGenerator,
        fresh: list[Message],
        fresh_questions: Sequence[Question],
        share: float,
        clock: SimulatedClock | None = None,
    ) -> None:
        self.live, self.fresh, self.share, self.clock = live, fresh, share, clock
        self.fresh_questions = {q.message_id: q for q in fresh_questions}
        self.questions = list(live.recent)  # what live messages may follow up (time-lapse: grows)

    def next(self, index: int) -> tuple[Message, str, bool]:
        """The index'th message, its Message-ID and whether it is built to be flagged."""
        shift = self.clock.shift() if self.clock is not None else timedelta(0)
        now = (datetime.now(UTC) + shift).replace(microsecond=0)
        step = round(1 / self.share) if self.share > 0 else 0
        if step and index % step == step - 1 and self.fresh:
            message = self.fresh.pop()
            raw = message.raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            message_id = message_id_of(message.raw)
            date = message.date
            if self.clock is not None:
                date = (message.date + shift).replace(microsecond=0)
                raw = redated(raw, date)
                question = self.fresh_questions.get(message_id)
                if question is not None:
                    self.questions.append(replace(question, date=question.date + shift))
            return Message(message.folder, raw, date, seen=False), message_id, False
        questions = self.questions
        if self.clock is not None:
            recent = [q for q in questions if q.date >= now - timedelta(days=FOLLOW_UP_DAYS)]
            questions = recent or questions[-1:]  # none that recent yet: the newest there is
        message, message_id = self.live.live_message(index, questions[index % len(questions)], now)
        return message, message_id, True


@dataclass
class Latencies:
    stored: list[float]
    flagged: list[float]
    never_stored: int
    never_flagged: int
    flag_expected: int


def latencies(poller: SoakPoller) -> Latencies:
    stored, flagged = [], []
    never_stored = never_flagged = 0
    for item in poller.tracked.values():
        if "stored" in item.seen:
            stored.append(item.seen["stored"] - item.sent_at)
        else:
            never_stored += 1
        if item.message_id in poller.flag_expected:
            if "flagged" in item.seen:
                flagged.append(item.seen["flagged"] - item.sent_at)
            else:
                never_flagged += 1
    return Latencies(stored, flagged, never_stored, never_flagged, len(poller.flag_expected))


def build_mailbox(server: Dovecot, generator: MailboxGenerator) -> int:
    stats = write_maildir(server.maildir, generator.messages(), MAIL_UID, MAIL_GID)
    server.start()
    server.index("INBOX")
    server.index("Sent")
    say(
        f"mailbox: {stats.inbox + stats.sent} messages ({stats.inbox} INBOX, {stats.sent} Sent), "
        f"{stats.bytes / 1e6:.1f} MB; dovecot on 127.0.0.1:{server.port}"
    )
    return stats.inbox + stats.sent


def error_lines(log: Path) -> list[str]:
    return [line for line in log.read_text(errors="replace").splitlines() if " ERROR " in line]


def soak(args: argparse.Namespace, work: Path, server: Dovecot) -> dict[str, Any]:
    generator = MailboxGenerator(args.mailbox, seed=args.seed)
    mailbox = build_mailbox(server, generator)
    if not generator.recent:
        raise SystemExit("the mailbox has no recent questions to follow up on; use a larger --mailbox")
    total = math.ceil(args.minutes * 60 * args.rate)
    fresh_generator = MailboxGenerator(total, seed=args.seed + 1, end=datetime.now(UTC), days=1)
    fresh = list(fresh_generator.messages())
    fresh.reverse()  # popped from the end: in the generator's order

    sink = SmtpSink()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    store = work / "store" / "triage.sqlite"
    config = work / "triage.toml"

    def rewrite(schedule: str) -> None:
        write_config(config, server, store, smtp_port, schedule)

    first_schedule = "every 1 minute" if args.digest_via == "schedule" else minute_schedule(datetime.now(UTC))
    rewrite(first_schedule)
    log = work / "daemon.log"
    say(f"triage run: backfilling {mailbox} messages, then {total} APPENDs at {args.rate:g}/s for {args.minutes:g} min")
    daemon, startup = start_daemon(config, server, log)
    say(f"daemon ready after {startup:.1f} s (pid {daemon.pid}); soak starts")
    sampler = Sampler(daemon.pid, args.sample)
    poller = SoakPoller(store)
    ticker = DigestTicker(
        args.digest_via, args.digest_every, daemon, config, rewrite, first_schedule, work / "digest-command.log"
    )
    appended: list[str] = []
    cpu_start = cpu_seconds(daemon.pid)
    try:
        sampler.start()
        poller.start()
        client = IMAPClient(server.host, port=server.port, ssl=False, timeout=60)
        client.login(server.username, server.password)
        first = time.monotonic()
        clock = SimulatedClock(args.days_per_minute) if args.days_per_minute > 0 else None
        mail = SoakMail(generator, fresh, fresh_generator.recent, args.fresh_share, clock)
        ticker.start()
        for index in range(total):
            time.sleep(max(0.0, first + index / args.rate - time.monotonic()))
            message, message_id, expect_flag = mail.next(index)
            poller.track_message(Tracked(message_id, message.folder, time.monotonic()), expect_flag)
            # time-lapse: INTERNALDATE follows the Date header; else the server's clock, as delivery sets it
            client.append(message.folder, message.raw, flags=(), msg_time=message.date if clock else None)
            appended.append(message_id)
            if (index + 1) % max(1, round(60 * args.rate)) == 0:
                last = sampler.samples[-1] if sampler.samples else None
                say(
                    f"  {(time.monotonic() - first) / 60:4.1f} min: {index + 1} appended, "
                    f"{len(poller.pending())} pending, {sink.count()} digests"
                    + (f", RSS {last.rss_mb:.0f} MB, load {last.load:.1f}" if last else "")
                )
        appending = time.monotonic() - first
        client.logout()
        ticker.stop.set()
        deadline = time.monotonic() + DRAIN_SECONDS
        while time.monotonic() < deadline and (poller.pending() or sink.count() < ticker.expected):
            time.sleep(0.2)
    finally:
        ticker.stop.set()
        poller.stop.set()
        sampler.stop.set()
        if sampler.is_alive():
            sampler.join(5)
        cpu_used = cpu_seconds(daemon.pid) - cpu_start
        peak = stop_daemon(daemon) if daemon.poll() is None else float("nan")
        controller.stop()
    once = check_exactly_once(store, appended, mailbox)
    return report(args, sampler.samples, latencies(poller), once, sink, ticker, log, daemon, peak, cpu_used, appending)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a running process, from /proc/PID/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(
    args: argparse.Namespace,
    samples: list[Sample],
    lat: Latencies,
    once: ExactlyOnce,
    sink: SmtpSink,
    ticker: DigestTicker,
    log: Path,
    daemon: subprocess.Popen[bytes],
    peak_rss: float,
    cpu_used: float,
    appending: float,
) -> dict[str, Any]:
    soak_seconds = args.minutes * 60
    second_half = [(s.seconds, s.rss_mb) for s in samples if s.seconds >= soak_seconds / 2]
    slope = slope_per_minute(second_half)
    rss = [s.rss_mb for s in samples]
    errors = error_lines(log)
    expected_digests = ticker.expected
    digests = list(sink.received)
    multipart = sum(1 for d in digests if {"text/plain", "text/html"} <= set(d.parts))
    figures: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "minutes": args.minutes,
        "rate_per_second": args.rate,
        "appended": once.appended,
        "appending_seconds": round(appending, 1),
        "mailbox_before": args.mailbox,
        "digest_via": args.digest_via,
        "days_per_minute": args.days_per_minute,
        "load_mean": round(sum(s.load for s in samples) / len(samples), 2) if samples else None,
        "rss_mb": {
            "first": round(rss[0], 1) if rss else None,
            "last": round(rss[-1], 1) if rss else None,
            "max": round(max(rss), 1) if rss else None,
            "slope_second_half_mb_per_min": round(slope, 2),
            "peak_from_wait4": round(peak_rss, 1),
        },
        "threads": {"first": samples[0].threads, "last": samples[-1].threads} if samples else None,
        "open_files": {"first": samples[0].open_files, "last": samples[-1].open_files} if samples else None,
        "daemon_cpu_seconds": round(cpu_used, 1),
        "latency_seconds": {
            name: {
                "p50": round(percentile(values, 0.5), 2),
                "p95": round(percentile(values, 0.95), 2),
                "max": round(max(values), 2) if values else None,
                "n": len(values),
            }
            for name, values in (("stored", lat.stored), ("flagged", lat.flagged))
        },
        "never_stored": lat.never_stored,
        "never_flagged": lat.never_flagged,
        "flag_expected": lat.flag_expected,
        "error_lines": len(errors),
        "digests": {
            "received": len(digests),
            "expected": expected_digests,
            "text_and_html": multipart,
            "command_failures": ticker.failures,
        },
        "exactly_once": {
            "stored_once": once.stored_once,
            "never_stored": len(once.never_stored),
            "duplicated": len(once.duplicated),
            "locations_not_one": len(once.locations_not_one),
            "total_messages": once.total_messages,
            "expected_total": once.expected_total,
            "quarantined": once.quarantined,
        },
        "daemon_exit": daemon.returncode,
        "samples": [asdict(s) for s in samples],
    }
    verdict = "flat" if abs(slope) < FLAT_MB_PER_MINUTE else ("growing" if slope > 0 else "shrinking")
    say()
    say(
        f"soak: {once.appended} messages at {args.rate:g}/s over {appending / 60:.1f} min onto {args.mailbox}, "
        f"digests via {args.digest_via}; machine load {figures['load_mean']} (1-min mean)"
        + (
            f"; time-lapse: {args.days_per_minute:g} simulated days a minute "
            f"({args.days_per_minute * appending / 60:.0f} days of mail)"
            if args.days_per_minute > 0
            else ""
        )
    )
    if rss:
        say(
            f"RSS (every {args.sample:g} s, {len(rss)} samples): first {rss[0]:.1f} MB, last {rss[-1]:.1f} MB, "
            f"max {max(rss):.1f} MB; slope over the second half {slope:+.2f} MB/min ({verdict}); "
            f"threads {samples[0].threads} -> {samples[-1].threads}, "
            f"open files {samples[0].open_files} -> {samples[-1].open_files}"
        )
    for name, values in (("stored", lat.stored), ("flagged", lat.flagged)):
        if values:
            say(
                f"latency to {name:7} p50 {percentile(values, 0.5):6.2f} s   p95 {percentile(values, 0.95):6.2f} s   "
                f"max {max(values):6.2f} s   ({len(values)} messages)"
            )
    say(
        f"never stored: {lat.never_stored}; built to be flagged but never flagged within {DRAIN_SECONDS:.0f} s "
        f"of the last APPEND: {lat.never_flagged} of {lat.flag_expected}"
    )
    say(
        f"daemon: {cpu_used:.0f} s CPU during the soak, exit status {daemon.returncode}, "
        f"ERROR lines in its log: {len(errors)}"
    )
    for line in errors[:5]:
        say(f"  {line[:300]}")
    say(
        f"digests: {len(digests)} received of {expected_digests} expected "
        f"({multipart} as text + HTML)" + (f"; failures: {ticker.failures}" if ticker.failures else "")
    )
    say(
        f"exactly once: {once.stored_once} of {once.appended} appended messages stored exactly once "
        f"(never stored {len(once.never_stored)}, duplicated {len(once.duplicated)}, "
        f"locations not one {len(once.locations_not_one)}); store holds {once.total_messages} messages, "
        f"expected {once.expected_total} ({once.quarantined} quarantined)"
    )
    figures["ok"] = (
        once.ok and not errors and len(digests) >= expected_digests and not ticker.failures and daemon.returncode == 0
    )
    say("result: " + ("OK" if figures["ok"] else "PROBLEMS (see above)"))
    return figures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = dovecot_missing(need_mbsync=False)
    if missing:
        say(f"soak skipped: {missing}")
        return 0
    if shutil.which(str(TRIAGE)) is None:
        raise SystemExit(f"{TRIAGE} not found: run `make demo` or create .venv first")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="triage-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    say(f"work directory: {work}")
    if args.commit:
        source = work / "source"
        revision = f"{export_commit(args.commit, source)} (committed, from {source})"
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), os.environ.get("PYTHONPATH")]))
    else:
        revision = working_tree_revision()
    say(f"triage measured: {revision}")
    server = Dovecot(work / "dovecot")
    server.configure()
    try:
        figures = soak(args, work, server) | {"revision": revision}
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""Live latency: `triage run` (IDLE) is running, messages are APPENDed at a steady rate, and the
store is polled read-only until each message is visible with its topics and its flags.

Visible means, for one APPENDed message (matched by Message-ID):
  stored      a `messages` row exists (capture committed its batch);
  classified  that row has a `classifications` row (topics derived; `message_topics` is
              written in the same transaction);
  flagged     a `flags` row exists for it: a flag recompute that included the message has
              committed. Every live message is built to be flagged (a customer writing again
              about a recent question: repeat-contact; a reply that only redirects:
              deflection), so this is the moment a lead would see it in `triage flags list`.
Latency runs from just before the APPEND command is sent. Messages never flagged within the
timeout are counted and reported, never silently dropped from the percentiles.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bigmailbox import MailboxGenerator, Question
from dovecot import Dovecot
from imapclient import IMAPClient
from runs import TRIAGE, peak_megabytes, query, triage_env

STATES = ("stored", "classified", "flagged")


@dataclass
class Tracked:
    message_id: str
    folder: str
    sent_at: float  # time.monotonic() just before APPEND
    seen: dict[str, float] = field(default_factory=dict)  # state -> monotonic time first seen


@dataclass
class LiveResult:
    appended: int
    seconds: float  # from the first APPEND to the last
    latencies: dict[str, list[float]]  # state -> seconds, for the messages that reached it
    missing: dict[str, int]  # state -> messages that never reached it
    daemon_peak_rss_mb: float
    startup_seconds: float


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1); nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(share * len(ordered) + 0.5)))
    return ordered[rank - 1]


class StorePoller(threading.Thread):
    """Polls the store every `interval` seconds and notes when each tracked message reaches a state."""

    def __init__(self, store: Path, interval: float = 0.02) -> None:
        super().__init__(name="store-poller", daemon=True)
        self.store, self.interval = store, interval
        self.tracked: dict[str, Tracked] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def track(self, item: Tracked) -> None:
        with self.lock:
            self.tracked[item.message_id] = item

    def pending(self) -> list[Tracked]:
        with self.lock:
            return [t for t in self.tracked.values() if "flagged" not in t.seen]

    def run(self) -> None:
        while not self.stop.is_set():
            waiting = self.pending()
            if waiting:
                self._poll(waiting)
            self.stop.wait(self.interval)

    def _poll(self, waiting: list[Tracked]) -> None:
        marks = ",".join("?" * len(waiting))
        rows = query(
            self.store,
            "SELECT m.message_id, c.message IS NOT NULL, "
            "EXISTS (SELECT 1 FROM flags f WHERE f.message = m.id) "
            f"FROM messages m LEFT JOIN classifications c ON c.message = m.id WHERE m.message_id IN ({marks})",
            [t.message_id for t in waiting],
        )
        now = time.monotonic()
        for message_id, classified, flagged in rows:
            item = self.tracked[message_id]
            for state, reached in zip(STATES, (True, bool(classified), bool(flagged)), strict=True):
                if reached:
                    item.seen.setdefault(state, now)


def start_daemon(
    config: Path, server: Dovecot, log: Path, timeout: float = 600.0
) -> tuple[subprocess.Popen[bytes], float]:
    """Start `triage run` and wait for its "daemon ready" log line; returns it and the startup time."""
    start = time.monotonic()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(TRIAGE), "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=triage_env(server),
        )
    while time.monotonic() - start < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"triage run exited with {process.returncode}; see {log}")
        if b"daemon ready" in log.read_bytes():
            return process, time.monotonic() - start
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"triage run not ready after {timeout:.0f}s; see {log}")


def stop_daemon(process: subprocess.Popen[bytes]) -> float:
    """SIGTERM, as systemd stops it; returns its peak RSS in MB.

    The peak is the daemon's own VmHWM, read before it stops: wait4()'s ru_maxrss also counts the
    benchmark process it was forked from (before exec), which holds a whole mailbox after the stages.
    """
    peak = peak_megabytes(process.pid)
    peak = float("nan") if peak is None else peak
    process.send_signal(signal.SIGTERM)
    try:
        _, status, _ = os.wait4(process.pid, 0)
    except ChildProcessError:
        return peak
    process.returncode = os.waitstatus_to_exitcode(status)
    return peak


def measure_live(
    server: Dovecot,
    config: Path,
    store: Path,
    generator: MailboxGenerator,
    log: Path,
    count: int = 200,
    rate: float = 5.0,
    timeout: float = 60.0,
) -> LiveResult:
    questions: list[Question] = generator.recent or []
    if not questions:
        raise RuntimeError("the mailbox has no recent questions to follow up on")
    process, startup = start_daemon(config, server, log)
    poller = StorePoller(store)
    try:
        time.sleep(2.0)  # let both watchers settle into IDLE: the wake-up is what is measured
        poller.start()
        client = IMAPClient(server.host, port=server.port, ssl=False, timeout=60)
        client.login(server.username, server.password)
        first = time.monotonic()
        for index in range(count):
            time.sleep(max(0.0, first + index / rate - time.monotonic()))
            now = datetime.now(UTC).replace(microsecond=0)
            message, message_id = generator.live_message(index, questions[index % len(questions)], now)
            poller.track(Tracked(message_id, message.folder, time.monotonic()))
            client.append(message.folder, message.raw, flags=())
        last = time.monotonic()
        client.logout()
        deadline = time.monotonic() + timeout
        while poller.pending() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        poller.stop.set()
        rss = stop_daemon(process) if process.poll() is None else float("nan")
    latencies: dict[str, list[float]] = {state: [] for state in STATES}
    missing = dict.fromkeys(STATES, 0)
    for item in poller.tracked.values():
        for state in STATES:
            if state in item.seen:
                latencies[state].append(item.seen[state] - item.sent_at)
            else:
                missing[state] += 1
    return LiveResult(count, last - first, latencies, missing, rss, startup)

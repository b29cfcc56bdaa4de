"""Timed runs of mbsync and the real `triage` command, the triage config, and store checks."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dovecot import MBSYNC, Dovecot

TRIAGE = Path(sys.executable).parent / "triage"
PASSWORD_ENV = "TRIAGE_BENCH_PASSWORD"
SUPPORT_ADDRESS = "support@nusantara-net.example"
SUPPORT_DOMAIN = "nusantara-net.example"


@dataclass(frozen=True)
class Run:
    """One timed child process: wall time, CPU time and peak RSS (its own, from wait4), exit status."""

    seconds: float
    peak_rss_mb: float
    status: int
    cpu_seconds: float = 0.0  # user + system: less sensitive than wall time to a busy machine
    children_peak_rss_mb: float = 0.0  # the largest VmHWM of a process it forked (triage's workers)
    family_peak_pss_mb: float = 0.0  # the peak of its PSS plus its children's: their memory together


def run_timed(argv: Sequence[str], log: Path, env: Mapping[str, str] | None = None) -> Run:
    """Run a command to completion; its output goes to `log`; rusage of this child alone.

    Peak RSS is the child's own VmHWM, sampled while it runs: wait4()'s ru_maxrss also counts this
    process's memory at the moment it forked the child (Linux carries it across exec), and the
    benchmark process can be the larger one.
    """
    with open(log, "wb") as out:
        start = time.perf_counter()
        process = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT, env=dict(env or os.environ))
        peak = PeakWatcher(process.pid)
        peak.start()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        peak.stop.set()
        peak.join()
    process.returncode = os.waitstatus_to_exitcode(status)  # wait4 reaped it; tell Popen
    rss = peak.megabytes or usage.ru_maxrss / 1024
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, rss, process.returncode, cpu, peak.children_megabytes, peak.family_megabytes)


class PeakWatcher(threading.Thread):
    """Reads a process's VmHWM (its own peak RSS since exec) every 50 ms until stopped, and its
    children's (a forked worker's VmHWM counts from the fork, pages shared with its parent included).

    Every FAMILY_EVERY samples it also adds up the PSS of the process and its children: a page
    shared by n of them counts 1/n in each, so the sum is what they hold together, which neither
    the parent's RSS nor a worker's (each counting the shared pages whole) says.
    """

    FAMILY_EVERY = 5  # smaps_rollup walks the page tables: every 250 ms is enough

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.stop = pid, threading.Event()
        self.megabytes = self.children_megabytes = self.family_megabytes = 0.0

    def run(self) -> None:
        sample = 0
        while not self.stop.wait(0.05):
            own = peak_megabytes(self.pid)
            if own is None:
                return
            self.megabytes = max(self.megabytes, own)
            children = children_of(self.pid)
            for child in children:
                self.children_megabytes = max(self.children_megabytes, peak_megabytes(child) or 0.0)
            sample += 1
            if sample % self.FAMILY_EVERY == 0:
                family = sum(pss_megabytes(p) for p in [self.pid, *children])
                self.family_megabytes = max(self.family_megabytes, family)


def pss_megabytes(pid: int) -> float:
    """A process's proportional set size in MB (0 once it is gone)."""
    return proc_megabytes(pid, "smaps_rollup", "Pss") or 0.0


def peak_megabytes(pid: int) -> float | None:
    """A process's VmHWM (its peak RSS) in MB; None once it is gone."""
    return proc_megabytes(pid, "status", "VmHWM")


def proc_megabytes(pid: int, file: str, name: str) -> float | None:
    """A "Name: N kB" field of /proc/PID/FILE in MB; None once the process is gone (0 without the field)."""
    try:
        found = re.search(rf"^{name}:\s+(\d+) kB", Path(f"/proc/{pid}/{file}").read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(found.group(1)) / 1024 if found else 0.0


def children_of(pid: int) -> list[int]:
    """The processes `pid` forked (any of its threads), from /proc."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return children


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def write_triage_config(path: Path, server: Dovecot, store: Path, capture: Mapping[str, Any] | None = None) -> Path:
    """A config for the benchmark's Dovecot; the password comes from $TRIAGE_BENCH_PASSWORD."""
    tables: list[tuple[str, Mapping[str, Any]]] = [
        ("[store]", {"path": store}),
        ("[support]", {"addresses": [SUPPORT_ADDRESS], "domains": [SUPPORT_DOMAIN]}),
        ("[capture]", capture or {}),
        ("[log]", {"level": "INFO"}),
        (
            "[[accounts]]",
            {
                "name": "bench",
                "host": server.host,
                "port": server.port,
                "username": server.username,
                "security": "none",
                "password_env": PASSWORD_ENV,
                "sent": "Sent",
            },
        ),
    ]
    lines = [f"{head}\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in values.items()) for head, values in tables]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def triage_env(server: Dovecot) -> dict[str, str]:
    return os.environ | {PASSWORD_ENV: server.password}


def run_triage_once(config: Path, store: Path, server: Dovecot, log: Path) -> Run:
    """`triage run --once` into a fresh store (the previous round's store is removed first)."""
    shutil.rmtree(store.parent, ignore_errors=True)
    return run_timed([str(TRIAGE), "run", "--once", "--config", str(config)], log, triage_env(server))


def run_mbsync(rc: Path, mirror: Path, log: Path) -> Run:
    """`mbsync -c rc -a` into a fresh mirror (state and mail of the previous round removed)."""
    shutil.rmtree(mirror, ignore_errors=True)
    mirror.mkdir(parents=True)
    return run_timed([MBSYNC, "-c", str(rc), "-a"], log)


def query(store: Path, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Read the store read-only (safe while triage writes to it)."""
    connection = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=10)
    try:
        return list(connection.execute(sql, list(params)))
    finally:
        connection.close()


@dataclass(frozen=True)
class WorkDone:
    """What a backfill left in the store: proof that topics and flags were really computed."""

    messages: int
    parsed: int
    quarantined: int
    classifications: int
    message_topics: int
    flags: int
    flags_by_kind: dict[str, int]
    topics_by_name: dict[str, int]

    def problems(self, expected: int) -> list[str]:
        found = []
        if self.messages != expected:
            found.append(f"{self.messages} messages stored, {expected} in the mailbox")
        if self.classifications != self.parsed:
            found.append(f"{self.classifications} classifications for {self.parsed} parsed messages")
        if self.message_topics == 0:
            found.append("no message_topics rows")
        if self.flags == 0:
            found.append("no flags rows")
        return found


def work_done(store: Path) -> WorkDone:
    def one(sql: str) -> int:
        return int(query(store, sql)[0][0] or 0)

    return WorkDone(
        messages=one("SELECT COUNT(*) FROM messages"),
        parsed=one("SELECT COUNT(*) FROM messages WHERE status = 'ok'"),
        quarantined=one("SELECT COUNT(*) FROM messages WHERE status != 'ok'"),
        classifications=one("SELECT COUNT(*) FROM classifications"),
        message_topics=one("SELECT COUNT(*) FROM message_topics"),
        flags=one("SELECT COUNT(*) FROM flags"),
        flags_by_kind=dict(query(store, "SELECT kind, COUNT(*) FROM flags GROUP BY kind ORDER BY 2 DESC")),
        topics_by_name=dict(query(store, "SELECT topic, COUNT(*) FROM message_topics GROUP BY topic ORDER BY 2 DESC")),
    )

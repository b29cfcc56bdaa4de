"""The daemon: one watcher thread per account folder (IDLE or polling), signals, reload, backoff."""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import FrameType

from triage import systemd
from triage.analyze import Analyzer
from triage.capture import AfterBatch, capture_folder
from triage.collector import settle_memory
from triage.config import AccountConfig, Config, ConfigError, load_config
from triage.credentials import OAuth2Token
from triage.model import FolderRole
from triage.pipeline import preparer_for
from triage.rules import RulesError
from triage.sources.imap import ImapAuthError, ImapError, ImapSession
from triage.store import Store, StoreError, open_store

log = logging.getLogger(__name__)

ROLES = (FolderRole.INBOX, FolderRole.SENT)
SLA_RECHECK_SECONDS = 600.0
DIGEST_CHECK_SECONDS = 30.0


@dataclass
class Backoff:
    """Exponential backoff with jitter, so many clients do not reconnect in step."""

    initial: float = 1.0
    maximum: float = 300.0
    attempt: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.initial * 2**self.attempt)
        self.attempt += 1
        return float(ceiling / 2 + self.rng.uniform(0, ceiling / 2))

    def reset(self) -> None:
        self.attempt = 0


def oauth2_for(account: AccountConfig) -> OAuth2Token | None:
    if account.oauth2_token_command is None:
        return None
    return OAuth2Token(account.oauth2_token_command, owner=f"account {account.name!r}")


def load_analyzer(config: Config) -> Analyzer:
    """The rules and language pipelines, loaded (raises RulesError); the log says how long that took."""
    start = time.monotonic()
    analyzer = Analyzer.from_config(config)
    log.info("rules loaded", extra={"rules_version": analyzer.version, "seconds": _since(start)})
    return analyzer


def run_once(config: Config, analyzer: Analyzer | None = None) -> list[str]:
    """One catch-up pass over every account and folder; returns the errors (empty when all synced).

    Worker processes parse and classify while this process fetches and stores ([capture] workers),
    then derive the flag windows while this process writes them.
    """
    errors: list[str] = []
    analyzer = analyzer or load_analyzer(config)
    new_ids: list[int] = []

    def after_batch(store: Store, ids: list[int]) -> None:
        new_ids.extend(ids)  # their topics were stored with them

    store = open_store(config.store.path)
    try:
        with preparer_for(config, analyzer) as preparer:
            for account in config.accounts:
                try:
                    with ImapSession(account, config.capture.timeout_seconds, oauth2=oauth2_for(account)) as session:
                        for role in ROLES:
                            start = time.monotonic()
                            result = capture_folder(
                                session, store, config, role, after_batch=after_batch, prepare=preparer.submit
                            )
                            log.info(
                                "folder synced",
                                extra={
                                    "account": account.name,
                                    "folder": role.value,
                                    "mailbox": result.mailbox,
                                    "new": result.new,
                                    "seconds": _since(start),
                                },
                            )
                except ImapError as exc:
                    errors.append(str(exc))
                    store.record_error(account.name, ROLES, str(exc))
                    log.error("account failed", extra={"account": account.name, "error": str(exc)})
            analyzer.analyze_missing(store)
            start = time.monotonic()
            flags = analyzer.flag_after(store, new_ids, derive_windows=preparer.derive_windows)
            log.info("flags derived", extra={"new_messages": len(new_ids), "flags": flags, "seconds": _since(start)})
        store.set_state("rules_version", analyzer.version)
    finally:
        store.close()
    return errors


def _since(start: float) -> str:
    """Seconds since a time.monotonic() reading, for a log field."""
    return f"{time.monotonic() - start:.3f}"


def purge_old_raw(store: Store, config: Config, now: datetime) -> int:
    """Raw bytes past [store] raw_retention_days go; parsed text and derived data stay."""
    if config.store.raw_retention_days <= 0:
        return 0
    cutoff = now - timedelta(days=config.store.raw_retention_days)
    purged = store.purge_raw_before(cutoff.astimezone(UTC).isoformat())
    if purged:
        log.info("raw bytes past retention purged", extra={"messages": purged})
    return purged


class FlagWorker(threading.Thread):
    """Derives flags off the watcher threads, merging what arrives while it works into its next run.

    A derivation reads weeks of mail; run per catch-up on the watchers, mail arriving at a few
    messages a second queued derivations behind each other (and behind the other folder's), so
    flags trailed mail by a minute. Merged, flags trail new mail by at most two derivations.
    """

    RETRY_SECONDS = 5.0

    def __init__(self, config: Config, current: Callable[[], Analyzer], stop: threading.Event) -> None:
        super().__init__(name="flags", daemon=True)
        self.config, self.current, self.stop = config, current, stop
        self._pending: list[int] = []
        self._recheck = False  # a re-check of all recent mail is asked for (time alone changes flags)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._settle = threading.Event()

    def submit(self, ids: Sequence[int]) -> None:
        """Ask for a derivation covering these new messages (none: a re-check of recent mail)."""
        with self._lock:
            self._pending.extend(ids)
            self._recheck = self._recheck or not ids
            self._wake.set()

    def _resubmit(self, ids: Sequence[int], recheck: bool) -> None:
        if recheck:
            self.submit([])
        if ids:
            self.submit(ids)

    def after_pass(self, store: Store, ids: list[int]) -> None:
        self.submit(ids)

    def settle(self) -> None:
        """Ask for settle_memory() between two derivations, when no derivation holds an old analyzer."""
        self._settle.set()

    def run(self) -> None:
        store: Store | None = None
        while not self.stop.is_set():
            if self._settle.is_set():
                self._settle.clear()
                settle_memory()
            if not self._wake.wait(1.0):
                continue
            with self._lock:
                ids, self._pending = self._pending, []
                recheck, self._recheck = self._recheck, False
                self._wake.clear()
            try:
                store = store or open_store(self.config.store.path)
                start = time.monotonic()
                flags = self.current().flag_after(store, ids, narrow=not recheck)
                log.info("flags derived", extra={"new_messages": len(ids), "flags": flags, "seconds": _since(start)})
            except StoreError as exc:  # a full or locked store: say so plainly, and try again
                log.error("flag derivation failed; retrying", extra={"messages": len(ids), "error": str(exc)})
                self._resubmit(ids, recheck)
                self.stop.wait(self.RETRY_SECONDS)
            except Exception:
                log.exception("flag derivation failed; retrying", extra={"messages": len(ids)})
                self._resubmit(ids, recheck)
                self.stop.wait(self.RETRY_SECONDS)
        if store is not None:
            store.close()


def analyze_after_batch(current: Callable[[], Analyzer]) -> AfterBatch:
    """The capture hook: derive topics for a committed batch; a failure is logged, never fatal.

    Messages whose analysis failed have no classification row and are retried by
    analyze_missing() at the next start, so nothing captured goes unanalyzed for good.
    """

    def after_batch(store: Store, ids: list[int]) -> None:
        try:
            current().analyze(store, ids)
        except Exception:
            log.exception("analysis failed for a batch; it will be retried", extra={"messages": len(ids)})

    return after_batch


class FolderWatcher(threading.Thread):
    """Keeps one folder of one account captured: catch up, IDLE (or poll), catch up again."""

    def __init__(
        self,
        config: Config,
        account: AccountConfig,
        role: FolderRole,
        stop: threading.Event,
        oauth2: OAuth2Token | None,
        after_batch: AfterBatch | None = None,
        after_pass: AfterBatch | None = None,
    ) -> None:
        super().__init__(name=f"watch-{account.name}-{role.value}", daemon=True)
        self.config, self.account, self.role = config, account, role
        self.stop = stop
        self.oauth2 = oauth2
        self.after_batch = after_batch
        self.after_pass = after_pass  # after a catch-up that stored mail: flags
        self.first_pass = threading.Event()  # set after the first catch-up, or its failure
        capture = config.capture
        self.backoff = Backoff(capture.backoff_initial_seconds, capture.backoff_max_seconds)

    def run(self) -> None:
        store: Store | None = None
        while not self.stop.is_set():
            try:
                store = store or open_store(self.config.store.path)
                with ImapSession(self.account, self.config.capture.timeout_seconds, oauth2=self.oauth2) as session:
                    self._watch(session, store)
            except (ImapError, StoreError) as exc:
                self._failed(store, exc)
            except Exception as exc:
                log.exception("watcher crashed", extra=self._fields())
                self._failed(store, exc)
        if store is not None:
            store.close()

    def _watch(self, session: ImapSession, store: Store) -> None:
        self._catch_up(session, store)
        self.first_pass.set()
        self.backoff.reset()
        idle = session.has_idle
        capture = self.config.capture
        while not self.stop.is_set():
            if idle:
                session.wait_for_change(capture.idle_seconds, self.stop)
            else:
                self._poll_wait(session, capture.poll_interval_seconds, capture.keepalive_seconds)
            if not self.stop.is_set():
                self._catch_up(session, store)

    def _catch_up(self, session: ImapSession, store: Store) -> None:
        start = time.monotonic()
        result = capture_folder(session, store, self.config, self.role, self.stop, self._batch_stored)
        if result.new:
            log.info("captured", extra=self._fields() | {"new": result.new, "seconds": _since(start)})
        if result.new_ids and self.after_pass is not None:
            self.after_pass(store, list(result.new_ids))

    def _batch_stored(self, store: Store, ids: list[int]) -> None:
        """A stored batch is progress: if the connection drops later, back off from the start again.

        Without this, a link that drops now and then during a long backfill would wait longer
        after each drop (up to backoff_max_seconds), although every connection got work done.
        """
        self.backoff.reset()
        if self.after_batch is not None:
            self.after_batch(store, ids)

    def _poll_wait(self, session: ImapSession, interval: float, keepalive: float) -> None:
        deadline = time.monotonic() + interval
        next_noop = time.monotonic() + keepalive
        while not self.stop.is_set() and time.monotonic() < deadline:
            self.stop.wait(min(1.0, deadline - time.monotonic()))
            if time.monotonic() >= next_noop:
                session.noop()
                next_noop = time.monotonic() + keepalive

    def _failed(self, store: Store | None, exc: Exception) -> None:
        delay = self.backoff.next_delay()
        if isinstance(exc, ImapAuthError):
            delay = max(delay, min(self.backoff.maximum, 60.0))  # do not hammer a refusing server
        log.error(
            "folder watch failed; retrying",
            extra=self._fields() | {"error": str(exc), "retry_in": f"{delay:.1f}s"},
        )
        if store is not None:
            try:
                store.record_error(self.account.name, [self.role], str(exc))
            except Exception:  # noqa: BLE001 - the store may be what failed
                log.warning("could not record the error in the store", extra=self._fields())
        self.first_pass.set()
        self.stop.wait(delay)

    def _fields(self) -> dict[str, str]:
        return {"account": self.account.name, "folder": self.role.value}


class Daemon:
    """Runs watchers for every account folder until stopped; reloads config on SIGHUP."""

    def __init__(
        self,
        config: Config,
        config_loader: Callable[[], Config] | None = None,
        analyzer: Analyzer | None = None,
    ) -> None:
        self.config = config
        self.config_loader = config_loader or (lambda: load_config(config.source))
        self.analyzer = analyzer or Analyzer.from_config(config)
        self.after_batch = analyze_after_batch(lambda: self.analyzer)
        self.stop_requested = threading.Event()
        self.flags = FlagWorker(config, lambda: self.analyzer, self.stop_requested)
        self.reload_requested = threading.Event()
        self.ready = threading.Event()
        self.last_reload_error: str | None = None
        self._watch_stop = threading.Event()
        self._watchers: list[FolderWatcher] = []

    def request_stop(self, *_: object) -> None:
        self.stop_requested.set()

    def request_reload(self, *_: object) -> None:
        self.reload_requested.set()

    def install_signal_handlers(self) -> None:
        """Handlers only set flags; the main loop does the work."""

        def on_term(signum: int, frame: FrameType | None) -> None:
            self.request_stop()

        def on_hup(signum: int, frame: FrameType | None) -> None:
            self.request_reload()

        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_term)
        signal.signal(signal.SIGHUP, on_hup)

    def run(self) -> int:
        self._record_rules(None)
        if self.config.metrics.listen:
            from triage.metrics import serve_metrics

            serve_metrics(self.config.metrics.listen, self.config.store.path)
            log.info("metrics endpoint listening", extra={"listen": self.config.metrics.listen})
        self.flags.start()
        self._start_watchers()
        self._wait_first_pass()
        self.flags.settle()
        # Flags of recent mail, as after every arrival: questions may have passed their reply
        # deadline while the daemon was down, and the first arrival then finds the readings warm.
        self.flags.submit([])
        self.ready.set()
        systemd.notify("READY=1", "STATUS=watching")
        log.info("daemon ready", extra={"accounts": len(self.config.accounts)})
        ping = systemd.watchdog_interval()
        next_sla_check = time.monotonic() + SLA_RECHECK_SECONDS
        next_digest_check = time.monotonic()
        while not self.stop_requested.is_set():
            self.stop_requested.wait(min(ping or 1.0, 1.0))
            if ping:
                systemd.notify("WATCHDOG=1")
            if time.monotonic() >= next_sla_check:
                next_sla_check = time.monotonic() + SLA_RECHECK_SECONDS
                self._recheck_flags()
            if time.monotonic() >= next_digest_check:
                next_digest_check = time.monotonic() + DIGEST_CHECK_SECONDS
                self._send_due_digest()
            if self.reload_requested.is_set():
                self.reload_requested.clear()
                self._reload()
        systemd.notify("STOPPING=1")
        log.info("stopping")
        self._stop_watchers()
        self.flags.join(8.0)
        return 0

    def _recheck_flags(self) -> None:
        """Questions cross their reply deadline with time alone, without any new mail; raw bytes age."""
        self.flags.submit([])
        try:
            store = open_store(self.config.store.path)
        except StoreError as exc:
            log.error("cannot open the store to purge raw bytes", extra={"error": str(exc)})
            return
        try:
            purge_old_raw(store, self.config, datetime.now(UTC))
        except StoreError as exc:  # a full disk must not end the main loop: capture resumes when space returns
            log.error("raw bytes past retention not purged; retrying later", extra={"error": str(exc)})
        finally:
            store.close()

    def _send_due_digest(self) -> None:
        """Send the latest scheduled digest if no run of the daemon has sent it yet."""
        from triage.digest_job import run_schedule

        try:
            store = open_store(self.config.store.path)
        except StoreError as exc:
            log.error("cannot open the store for the digest", extra={"error": str(exc)})
            return
        try:
            run_schedule(store, self.config, datetime.now(UTC))
        except Exception as exc:
            log.exception("digest not sent; retrying later", extra={"error": str(exc)})
        finally:
            store.close()

    def _start_watchers(self) -> None:
        self._watch_stop = threading.Event()
        self._watchers = []
        for account in self.config.accounts:
            oauth2 = oauth2_for(account)
            for role in ROLES:
                self._watchers.append(
                    FolderWatcher(
                        self.config, account, role, self._watch_stop, oauth2, self.after_batch, self.flags.after_pass
                    )
                )
        for watcher in self._watchers:
            watcher.start()

    def _wait_first_pass(self) -> None:
        for watcher in self._watchers:
            while not watcher.first_pass.wait(0.5):
                if self.stop_requested.is_set():
                    return

    def _stop_watchers(self, timeout: float = 8.0) -> None:
        self._watch_stop.set()
        deadline = time.monotonic() + timeout
        for watcher in self._watchers:
            watcher.join(max(0.1, deadline - time.monotonic()))

    def _reload(self) -> None:
        systemd.notify("RELOADING=1")
        try:
            new_config = self.config_loader()
            new_analyzer = Analyzer.from_config(new_config)
        except (ConfigError, RulesError) as exc:
            self.last_reload_error = str(exc)
            log.error("reload failed; keeping the running configuration and rules", extra={"error": str(exc)})
        else:
            self._stop_watchers()
            self.config, self.analyzer = new_config, new_analyzer
            self.last_reload_error = None
            self._start_watchers()
            self.flags.settle()  # the old rules and pipelines go, the new ones stay
            log.info(
                "configuration and rules reloaded",
                extra={"accounts": len(new_config.accounts), "rules_version": new_analyzer.version},
            )
        self._record_rules(self.last_reload_error)
        systemd.notify("READY=1")

    def _record_rules(self, reload_error: str | None) -> None:
        """Remember the running rules version and the last reload error for `triage status`."""
        try:
            store = open_store(self.config.store.path)
        except StoreError as exc:
            log.error("cannot record service state", extra={"error": str(exc)})
            return
        try:
            store.set_state("rules_version", self.analyzer.version)
            store.set_state("reload_error", reload_error)
            if reload_error is None:
                self.analyzer.analyze_missing(store)
        except StoreError as exc:  # e.g. a full disk: the daemon starts (or reloads) all the same
            log.error("cannot record service state", extra={"error": str(exc)})
        finally:
            store.close()

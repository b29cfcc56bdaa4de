"""Real IMAP servers on loopback for the integration tests: a private Dovecot and pymap.

Also the few tools the tests need around them: a config writer, a runner for the real `triage`
command, a read-only view of the store and a wait helper. imapclient is used directly here to
seed and inspect mailboxes; triage itself never writes to a mailbox.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from imapclient import IMAPClient

from tests.mailgen import TestMail
from triage.demo.pymap_server import ServerStartError, free_port, pymap_server, wait_for_port

DOVECOT = Path("/usr/sbin/dovecot")
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"
TRIAGE = Path(sys.executable).parent / "triage"
MakeConfig = Callable[..., Path]  # the make_config fixture: (*accounts, capture=None, name=...) -> config path
# Mail is stored as nobody/nogroup: Dovecot refuses to run mail processes as root.
MAIL_UID = MAIL_GID = 65534
USER = "support@example.com"


def dovecot_missing() -> str | None:
    """Why the Dovecot tests cannot run here, or None when they can."""
    if not DOVECOT.exists():
        return f"{DOVECOT} not installed (apt-get install dovecot-imapd, or `make system-deps`)"
    if os.geteuid() != 0:
        return "a private Dovecot needs root to drop privileges to nobody for mail processes"
    return None


# -- IMAP servers ----------------------------------------------------------------------------


@dataclass
class ImapServer:
    """What every test server offers: an address, one user, and mailbox helpers over imapclient."""

    port: int = 0
    username: str = USER
    password: str = "correct horse battery staple 7"
    host: str = "127.0.0.1"
    ca_file: Path | None = None  # set when the server speaks implicit TLS
    name: str = "imap"

    @property
    def security(self) -> str:
        return "tls" if self.ca_file else "none"

    @contextmanager
    def client(self) -> Iterator[IMAPClient]:
        context = ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file else None
        client = IMAPClient(self.host, port=self.port, ssl=bool(self.ca_file), ssl_context=context, timeout=30)
        try:
            client.login(self.username, self.password)
            yield client
        finally:
            try:
                client.logout()
            except (OSError, IMAPClient.Error, IMAPClient.AbortError):
                client.shutdown()

    def append(self, mailbox: str, messages: Iterable[TestMail | bytes], flags: Sequence[bytes] = ()) -> None:
        with self.client() as client:
            if not client.folder_exists(mailbox):
                client.create_folder(mailbox)
            raws = [m.raw if isinstance(m, TestMail) else m for m in messages]
            for start in range(0, len(raws), 100):  # MULTIAPPEND: one round trip per 100 messages
                client.multiappend(mailbox, [{"msg": raw, "flags": tuple(flags)} for raw in raws[start : start + 100]])

    def uids(self, mailbox: str) -> list[int]:
        with self.client() as client:
            client.select_folder(mailbox, readonly=True)
            return sorted(client.search("ALL"))

    def flags(self, mailbox: str) -> dict[int, frozenset[bytes]]:
        """FLAGS of every message by UID; \\Recent is left out (it belongs to sessions, not mail)."""
        with self.client() as client:
            client.select_folder(mailbox, readonly=True)
            uids = client.search("ALL")
            if not uids:
                return {}
            found = client.fetch(uids, ["FLAGS"])
            return {int(uid): frozenset(f for f in data[b"FLAGS"] if f != b"\\Recent") for uid, data in found.items()}

    def bodies(self, mailbox: str) -> list[bytes]:
        """Every message as the server serves it (BODY.PEEK[]), in UID order."""
        with self.client() as client:
            client.select_folder(mailbox, readonly=True)
            found = client.fetch(client.search("ALL"), ["BODY.PEEK[]"])
            return [bytes(found[uid][b"BODY[]"]) for uid in sorted(found)]

    def set_flags(self, mailbox: str, uids: Sequence[int], flags: Sequence[bytes]) -> None:
        with self.client() as client:
            client.select_folder(mailbox)
            client.add_flags(list(uids), list(flags), silent=True)

    def uidvalidity(self, mailbox: str) -> int:
        with self.client() as client:
            return int(client.folder_status(mailbox, [b"UIDVALIDITY"])[b"UIDVALIDITY"])

    def account(self, name: str = "support", password: str | None = None, **extra: Any) -> AccountSpec:
        """A config [[accounts]] entry for this server (the wrong password if given)."""
        return AccountSpec(
            name=name,
            host=self.host,
            port=self.port,
            username=self.username,
            password=self.password if password is None else password,
            security=self.security,
            extra=extra,
        )


DOVECOT_CONF = """\
# A private Dovecot for one test: nothing here touches /etc/dovecot or the system service.
base_dir = {root}/run
state_dir = {root}/state
instance_name = triage-test-{port}
protocols = imap
listen = 127.0.0.1
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
auth_mechanisms = plain login
disable_plaintext_auth = no
auth_failure_delay = 0
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
mail_location = maildir:{root}/mail/%u
mail_home = {root}/home/%u
mail_max_userip_connections = 100
mailbox_idle_check_interval = 1 secs
{ssl}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
}}
"""


@dataclass
class DovecotServer(ImapServer):
    """A Dovecot run as `dovecot -F -c <conf>` with everything in its own directory."""

    root: Path = Path()
    tls: trustme.CA | None = None
    name: str = "dovecot"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def configure(self) -> None:
        self.port = self.port or free_port()
        for sub in ("run", "state", "mail", "home"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("mail", "home"):
            os.chown(self.root / sub, MAIL_UID, MAIL_GID)
        (self.root / "passwd").write_text(f"{self.username}:{{PLAIN}}{self.password}::::::\n")
        ssl_settings = "ssl = no"
        if self.tls is not None:
            cert = self.tls.issue_cert("127.0.0.1", "localhost")
            cert.private_key_pem.write_to_path(str(self.root / "key.pem"))
            (self.root / "cert.pem").write_bytes(b"".join(p.bytes() for p in cert.cert_chain_pems))
            self.tls.cert_pem.write_to_path(str(self.root / "ca.pem"))
            self.ca_file = self.root / "ca.pem"
            ssl_settings = f"ssl = required\nssl_cert = <{self.root}/cert.pem\nssl_key = <{self.root}/key.pem"
        (self.root / "dovecot.conf").write_text(
            DOVECOT_CONF.format(
                root=self.root,
                port=self.port,
                uid=MAIL_UID,
                gid=MAIL_GID,
                ssl=ssl_settings,
                imap_port=0 if self.tls else self.port,
                imaps_port=self.port if self.tls else 0,
            )
        )

    @property
    def log_path(self) -> Path:
        return self.root / "dovecot.log"

    def start(self) -> None:
        assert self.process is None, "already running"
        with open(self.root / "dovecot.out", "ab") as out:
            self.process = subprocess.Popen(
                [str(DOVECOT), "-F", "-c", str(self.root / "dovecot.conf")],
                stdout=out,
                stderr=out,
                start_new_session=True,  # its own process group, so stop() can end every child
            )
        try:
            wait_for_port(self.port, timeout=20, process=self.process)
        except ServerStartError as exc:
            self.stop()
            raise RuntimeError(f"Dovecot did not start: {exc}\n{self.log_tail()}") from None

    def stop(self, graceful: bool = True) -> None:
        """Stop the master and every process it started, dropping client connections.

        Dovecot's master leaves running imap processes behind when it exits, so IDLE clients
        would not notice; a real restart (systemd kills the whole control group) does not.
        """
        process, self.process = self.process, None
        if process is None:
            return
        group = process.pid  # start_new_session: the master leads its own process group
        with suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM if graceful else signal.SIGKILL)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # what the master left behind: imap, log, stats
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                return
            time.sleep(0.02)

    def restart(self) -> None:
        self.stop()
        self.start()

    def maildir(self, mailbox: str) -> Path:
        """The Maildir++ folder holding a mailbox (INBOX is the root, Sent is `.Sent`)."""
        root = self.root / "mail" / self.username
        return root if mailbox.upper() == "INBOX" else root / f".{mailbox.replace('/', '.')}"

    def change_uidvalidity(self, mailbox: str) -> tuple[int, int]:
        """Make the server forget its UIDs for a mailbox, as after a rebuild; returns (old, new)."""
        before = self.uidvalidity(mailbox)
        self.stop()
        folder = self.maildir(mailbox)
        doomed = [*folder.glob("dovecot-uidlist"), *folder.glob("dovecot.index*")]
        doomed += (self.root / "mail" / self.username).glob("dovecot.list.index*")
        for path in doomed:
            path.unlink()
        self.start()
        after = self.uidvalidity(mailbox)
        if after == before:  # a server that reused the value: set a new one explicitly
            subprocess.run(
                [
                    DOVEADM,
                    "-c",
                    str(self.root / "dovecot.conf"),
                    "mailbox",
                    "update",
                    "-u",
                    self.username,
                    "--uid-validity",
                    str(before + 1000),
                    mailbox,
                ],
                check=True,
                capture_output=True,
            )
            after = self.uidvalidity(mailbox)
        assert after != before, f"UIDVALIDITY of {mailbox} did not change ({before})"
        return before, after

    def log_tail(self, lines: int = 40) -> str:
        text = ""
        for path in (self.log_path, self.root / "dovecot.out"):
            if path.exists():
                text += path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


@contextmanager
def running_dovecot(tls: trustme.CA | None = None, password: str | None = None) -> Iterator[DovecotServer]:
    """A started private Dovecot; stopped and its directory removed afterwards.

    The directory is made with mkdtemp rather than pytest's tmp_path because Dovecot's mail
    processes run as nobody and must reach it (pytest's base temp dir is root-only).
    """
    root = Path(tempfile.mkdtemp(prefix="triage-dovecot-"))
    root.chmod(0o755)
    server = DovecotServer(root=root, tls=tls)
    if password is not None:
        server.password = password
    try:
        server.configure()
        server.start()
        yield server
    finally:
        server.stop(graceful=False)  # the test is over: no need to wait for a clean shutdown
        print(f"--- dovecot log ({server.log_path}) ---\n{server.log_tail()}")
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def running_pymap(log_dir: Path) -> Iterator[ImapServer]:
    """pymap's in-memory backend (the demo's server) with INBOX and Sent."""
    server = ImapServer(name="pymap")
    with pymap_server(server.username, server.password, log_dir / "pymap.log") as port:
        server.port = port
        with server.client() as client:
            if not client.folder_exists("Sent"):
                client.create_folder("Sent")
        yield server


# -- config, CLI, store ----------------------------------------------------------------------


@dataclass(frozen=True)
class AccountSpec:
    """An [[accounts]] table; the password goes into the environment, never into the file."""

    name: str
    host: str
    port: int
    username: str
    password: str
    security: str = "none"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def password_env(self) -> str:
        return "TRIAGE_TEST_PASSWORD_" + "".join(c if c.isalnum() else "_" for c in self.name.upper())

    def table(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "security": self.security,
            "password_env": self.password_env,
            **self.extra,
        }


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def toml_table(header: str, values: dict[str, Any]) -> str:
    return f"{header}\n" + "".join(f"{key} = {toml_value(value)}\n" for key, value in values.items())


def write_config(
    path: Path,
    store: Path,
    accounts: Sequence[AccountSpec],
    capture: dict[str, Any] | None = None,
) -> Path:
    parts = [
        toml_table("[store]", {"path": store}),
        toml_table("[support]", {"addresses": ["support@example.com"], "domains": ["example.com"]}),
        toml_table("[capture]", capture or {}),
        toml_table("[log]", {"level": "INFO"}),
        *(toml_table("[[accounts]]", account.table()) for account in accounts),
    ]
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def run_triage(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The real `triage` console script, as a user runs it."""
    return subprocess.run(
        [str(TRIAGE), *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def jsonl_messages(config: Path) -> list[dict[str, Any]]:
    done = run_triage(config, "messages", "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def query_store(path: Path, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Read the store without writing to it (safe while triage is running)."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        connection.row_factory = sqlite3.Row
        return [dict(row) for row in connection.execute(sql, list(params))]
    finally:
        connection.close()


def message_count(path: Path) -> int:
    """Messages stored so far; 0 while the store does not exist or is still being created."""
    if not path.exists():
        return 0
    try:
        return int(query_store(path, "SELECT COUNT(*) AS n FROM messages")[0]["n"])
    except sqlite3.OperationalError:  # no schema yet
        return 0


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class TriageDaemon:
    """`triage run` (the daemon) as a subprocess; its log goes to a file shown on failure."""

    def __init__(self, config: Path, log_path: Path) -> None:
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [str(TRIAGE), "run", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, as systemd stops it; returns the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@contextmanager
def daemon_running(config: Path, log_path: Path) -> Iterator[TriageDaemon]:
    with ExitStack() as stack:
        daemon = TriageDaemon(config, log_path)
        stack.callback(daemon.kill)
        try:
            yield daemon
        except BaseException:
            print(f"--- triage daemon log ---\n{daemon.log()[-6000:]}")
            raise


def port_is_closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0

"""A private Dovecot on loopback for the benchmark, and an mbsync config that mirrors it.

The same set-up as tests/servers.py (own config, passwd-file, Maildir owned by nobody, nothing
under /etc touched), copied small rather than imported so the benchmark does not depend on the
test suite. Needs root: Dovecot drops privileges to nobody for its mail processes.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

DOVECOT = Path("/usr/sbin/dovecot")
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"
MBSYNC = shutil.which("mbsync") or "/usr/bin/mbsync"
MAIL_UID = MAIL_GID = 65534  # nobody/nogroup: Dovecot refuses to run mail processes as root
USER = "support@nusantara-net.example"
PASSWORD = "bench password 7 not secret"

CONF = """\
# A private Dovecot for the benchmark: nothing here touches /etc/dovecot or the system service.
base_dir = {root}/run
state_dir = {root}/state
instance_name = triage-bench-{port}
protocols = imap
listen = 127.0.0.1
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
auth_mechanisms = plain login
disable_plaintext_auth = no
auth_failure_delay = 0
ssl = no
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
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


def dovecot_missing(need_mbsync: bool = True) -> str | None:
    """Why a private Dovecot (and mbsync, when needed) cannot run here, or None when it can."""
    if not DOVECOT.exists():
        return f"{DOVECOT} not installed (apt-get install dovecot-imapd, or `make system-deps`)"
    if need_mbsync and not Path(MBSYNC).exists():
        return f"{MBSYNC} not installed (apt-get install isync)"
    if os.geteuid() != 0:
        return "a private Dovecot needs root to drop privileges to nobody for mail processes"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Dovecot:
    """`dovecot -F -c <conf>` with its config, users, Maildir and logs in `root`."""

    root: Path
    port: int = 0
    username: str = USER
    password: str = PASSWORD
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def maildir(self) -> Path:
        """The user's Maildir++ root: INBOX lives here, Sent in `.Sent`."""
        return self.root / "mail" / self.username

    @property
    def conf(self) -> Path:
        return self.root / "dovecot.conf"

    def configure(self) -> None:
        self.port = self.port or free_port()
        for sub in ("run", "state", "mail", "home"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("mail", "home"):
            os.chown(self.root / sub, MAIL_UID, MAIL_GID)
        (self.root / "passwd").write_text(f"{self.username}:{{PLAIN}}{self.password}::::::\n")
        self.conf.write_text(CONF.format(root=self.root, port=self.port, uid=MAIL_UID, gid=MAIL_GID))

    def start(self, timeout: float = 20.0) -> None:
        assert self.process is None, "already running"
        with open(self.root / "dovecot.out", "ab") as out:
            self.process = subprocess.Popen(
                [str(DOVECOT), "-F", "-c", str(self.conf)],
                stdout=out,
                stderr=out,
                start_new_session=True,  # its own process group, so stop() ends every child
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with suppress(OSError), socket.create_connection((self.host, self.port), timeout=1.0):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Dovecot did not start on port {self.port}:\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop the master and every process it started (its process group)."""
        process, self.process = self.process, None
        if process is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # what the master left behind: imap, log, stats
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                return
            time.sleep(0.02)

    def index(self, mailbox: str) -> None:
        """Let Dovecot index a mailbox now, so no timed client pays for the first scan."""
        subprocess.run(
            [DOVEADM, "-c", str(self.conf), "index", "-u", self.username, mailbox],
            check=True,
            capture_output=True,
        )

    def log_tail(self, lines: int = 30) -> str:
        text = ""
        for path in (self.root / "dovecot.log", self.root / "dovecot.out"):
            if path.exists():
                text += path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


MBSYNCRC = """\
# mbsync (isync) mirroring the benchmark's Dovecot into a local Maildir, pull only.
# FSync yes is isync's default: every message and state file is fsync'ed (what a user gets).
FSync {fsync}

IMAPAccount bench
Host {host}
Port {port}
User {user}
PassCmd "cat {password_file}"
SSLType None
AuthMechs PLAIN LOGIN
PipelineDepth 50

IMAPStore bench-remote
Account bench

MaildirStore bench-local
Path {mirror}/
Inbox {mirror}/INBOX
SubFolders Verbatim

Channel inbox
Far :bench-remote:INBOX
Near :bench-local:INBOX
Sync Pull
Create Near
Expunge None
SyncState *

Channel sent
Far :bench-remote:Sent
Near :bench-local:Sent
Sync Pull
Create Near
Expunge None
SyncState *
"""


def write_mbsyncrc(path: Path, server: Dovecot, mirror: Path, fsync: bool = True) -> Path:
    """An .mbsyncrc pulling INBOX and Sent into `mirror` (plain auth, no TLS: loopback only)."""
    password_file = path.with_name("mbsync-password")
    password_file.write_text(server.password)
    password_file.chmod(0o600)
    path.write_text(
        MBSYNCRC.format(
            host=server.host,
            port=server.port,
            user=server.username,
            password_file=password_file,
            mirror=mirror,
            fsync="yes" if fsync else "no",
        )
    )
    return path

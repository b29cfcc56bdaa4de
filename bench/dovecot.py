"""A private Dovecot on loopback for the benchmark, and an mbsync config that mirrors it.

The server is tests/servers.py's DovecotServer (own config, passwd-file, Maildir owned by nobody,
nothing under /etc touched) with the benchmark's user, so the benchmark and the integration tests
run the same set-up. Needs root: Dovecot drops privileges to nobody for its mail processes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))  # after PYTHONPATH and the venv: only for `tests`, never to shadow triage

from tests.servers import DOVEADM, MAIL_GID, MAIL_UID, DovecotServer  # noqa: E402
from tests.servers import dovecot_missing as dovecot_server_missing  # noqa: E402
from triage.demo.pymap_server import free_port  # noqa: E402

__all__ = ["MAIL_GID", "MAIL_UID", "MBSYNC", "Dovecot", "dovecot_missing", "free_port", "write_mbsyncrc"]

MBSYNC = shutil.which("mbsync") or "/usr/bin/mbsync"
USER = "support@nusantara-net.example"
PASSWORD = "bench password 7 not secret"


def dovecot_missing(need_mbsync: bool = True) -> str | None:
    """Why a private Dovecot (and mbsync, when needed) cannot run here, or None when it can."""
    missing = dovecot_server_missing()
    if missing is None and need_mbsync and not Path(MBSYNC).exists():
        return f"{MBSYNC} not installed (apt-get install isync)"
    return missing


@dataclass
class Dovecot:
    """`dovecot -F -c <conf>` with its config, users, Maildir and logs in `root` (a DovecotServer)."""

    root: Path
    username: str = USER
    password: str = PASSWORD
    host: str = "127.0.0.1"
    server: DovecotServer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Dovecot's auth and mail processes (users dovecot, nobody) must reach the passwd file and
        # the Maildir: the work directory (mkdtemp: mode 0700) has to let them through.
        for folder in (self.root.parent, self.root):
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(folder.stat().st_mode | 0o111)
        self.server = DovecotServer(root=self.root, username=self.username, password=self.password, host=self.host)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def maildir(self) -> Path:
        """The user's Maildir++ root: INBOX lives here, Sent in `.Sent`."""
        return self.server.maildir("INBOX")

    @property
    def conf(self) -> Path:
        return self.root / "dovecot.conf"

    def configure(self) -> None:
        self.server.configure()

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        """Stop the master and every process it started (its process group)."""
        self.server.stop()

    def index(self, mailbox: str) -> None:
        """Let Dovecot index a mailbox now, so no timed client pays for the first scan."""
        subprocess.run(
            [DOVEADM, "-c", str(self.conf), "index", "-u", self.username, mailbox],
            check=True,
            capture_output=True,
        )

    def log_tail(self, lines: int = 30) -> str:
        return self.server.log_tail(lines)


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

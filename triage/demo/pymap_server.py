"""An embedded pymap IMAP server on loopback, for the demo (and the tests that use pymap)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PYMAP_MAIN = "from pymap.main import main; main()"


class ServerStartError(Exception):
    """The embedded IMAP server did not come up."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServerStartError(f"server exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.1)
    raise ServerStartError(f"nothing listening on 127.0.0.1:{port} after {timeout:.0f}s")


@contextmanager
def pymap_server(user: str, password: str, log_path: Path | None = None) -> Iterator[int]:
    """Run pymap's in-memory backend on a free loopback port; yields the port."""
    port = free_port()
    command = [
        sys.executable,
        "-c",
        PYMAP_MAIN,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-tls",
        "dict",
        "--demo-user",
        user,
        "--demo-password",
        password,
    ]
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(command, stdout=log, stderr=log)
    try:
        wait_for_port(port, process=process)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log_path:
            log.close()  # type: ignore[union-attr]

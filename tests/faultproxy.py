"""A fault-injecting TCP proxy for the network tests: resets, stalls, latency and refusals on demand.

One listening socket on a free loopback port forwards every connection to a target port (a
private Dovecot). Faults are switched at runtime from the test:

- `pass_through()`: forward everything, clear latency, stalls and refusal (triggers stay);
- `reset_all()`: drop every open connection now with a TCP RST;
- `on(pattern, ...)`: act when a byte pattern passes in one direction: reset (RST), close
  (FIN), stall, just count, or call a function, optionally `after` N more bytes (mid-literal);
- `stall()`: stop forwarding on every connection, open and new, without closing anything;
- `latency(seconds)`: delay every chunk in both directions;
- `refuse()`: stop listening, so new connections are refused (as when the server is down).

Threads, not asyncio: the tests drive it synchronously and the volumes are tiny.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Literal

Direction = Literal["to_server", "to_client"]
Action = Literal["reset", "close", "stall", "count", "call"]
CHUNK = 65536


@dataclass(eq=False)
class Trigger:
    """What to do when `pattern` passes: occurrences are counted across all connections, from 1."""

    pattern: bytes
    direction: Direction
    action: Action
    after: int = 0  # bytes forwarded past the end of the pattern before acting
    occurrences: frozenset[int] = frozenset({1})  # which occurrences act; the others only count
    callback: Callable[[], None] | None = None  # for action "call", run in the proxy's thread
    seen: int = 0
    fired_count: int = 0
    fired: threading.Event = field(default_factory=threading.Event)
    fired_at: float | None = None  # time.time() of the first firing, comparable with LogRecord.created


class Connection:
    """One client connection and its upstream; closing is idempotent and wakes both pumps."""

    def __init__(self, client: socket.socket, upstream: socket.socket, proxy: FaultProxy) -> None:
        self.client, self.upstream, self.proxy = client, upstream, proxy
        self.closed = False
        self.stalled = False

    def drop(self, reset: bool) -> None:
        """Close both sides: with an RST (SO_LINGER 0) when `reset`, else with a FIN."""
        with self.proxy.changed:
            if self.closed:
                return
            self.closed = True
            self.proxy.changed.notify_all()
        for sock in (self.client, self.upstream):
            with suppress(OSError):
                if reset:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    sock.shutdown(socket.SHUT_RD)  # wakes a pump blocked in recv(); sends nothing
                else:
                    sock.shutdown(socket.SHUT_RDWR)
            with suppress(OSError):
                sock.close()
        self.proxy.forget(self)


class FaultProxy:
    """Forwards 127.0.0.1:<port> to target_host:target_port, with faults switched at runtime."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.changed = threading.Condition()  # guards everything below; notified on every change
        self.accepted = 0  # client connections accepted
        self.upstream_failures = 0  # accepted, but the target refused: the client was reset
        self._connections: list[Connection] = []
        self._triggers: list[Trigger] = []
        self._latency = 0.0
        self._chunk_size = CHUNK
        self._stalled = False
        self._refusing = False
        self._closing = False
        self._listener = self._listen(0)
        self._listening = True
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, name=f"faultproxy-{self.port}", daemon=True)
        self._thread.start()

    # -- control -----------------------------------------------------------------------------

    def pass_through(self) -> None:
        with self.changed:
            self._latency, self._chunk_size, self._stalled, self._refusing = 0.0, CHUNK, False, False
            self.changed.notify_all()
            self.changed.wait_for(lambda: self._listening, timeout=5)

    def latency(self, seconds: float, chunk_size: int = CHUNK) -> None:
        """Delay every piece of at most `chunk_size` bytes by `seconds`, in both directions."""
        with self.changed:
            self._latency, self._chunk_size = seconds, chunk_size

    def stall(self) -> None:
        with self.changed:
            self._stalled = True

    def refuse(self) -> None:
        """Stop listening; returns once connections to the port are refused."""
        with self.changed:
            self._refusing = True
            self.changed.wait_for(lambda: not self._listening, timeout=5)

    def reset_all(self) -> int:
        """RST every open connection; returns how many there were."""
        with self.changed:
            connections = list(self._connections)
        for connection in connections:
            connection.drop(reset=True)
        return len(connections)

    def on(
        self,
        pattern: bytes,
        direction: Direction,
        action: Action,
        after: int = 0,
        occurrences: Iterable[int] = (1,),
        callback: Callable[[], None] | None = None,
    ) -> Trigger:
        """Act on the given occurrences of `pattern` (counted from now, across connections)."""
        assert (action == "call") == (callback is not None), "a callback goes with action 'call'"
        trigger = Trigger(pattern, direction, action, after, frozenset(occurrences), callback)
        with self.changed:
            self._triggers.append(trigger)
        return trigger

    def remove(self, trigger: Trigger) -> None:
        with self.changed:
            self._triggers.remove(trigger)

    @property
    def open_connections(self) -> int:
        with self.changed:
            return len(self._connections)

    def close(self) -> None:
        with self.changed:
            self._closing = True
            self._stalled = False
            self.changed.notify_all()
        self._thread.join(5)
        self.reset_all()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ----------------------------------------------------------------------------

    def forget(self, connection: Connection) -> None:
        with self.changed:
            if connection in self._connections:
                self._connections.remove(connection)

    def _listen(self, port: int) -> socket.socket:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        return listener

    def _accept_loop(self) -> None:
        listener: socket.socket | None = self._listener
        while True:
            with self.changed:
                closing, refusing = self._closing, self._refusing
            if closing:
                break
            if refusing and listener is not None:
                listener.close()  # the kernel now refuses new connections to the port
                listener = None
                self._listening_is(False)
            elif not refusing and listener is None:
                listener = self._listen(self.port)
                self._listening_is(True)
            if listener is None:
                time.sleep(0.02)
                continue
            readable, _, _ = select.select([listener], [], [], 0.02)
            if readable:
                client, _ = listener.accept()
                threading.Thread(target=self._open, args=(client,), daemon=True).start()
        if listener is not None:
            listener.close()

    def _listening_is(self, listening: bool) -> None:
        with self.changed:
            self._listening = listening
            self.changed.notify_all()

    def _open(self, client: socket.socket) -> None:
        with self.changed:
            self.accepted += 1
        try:
            upstream = socket.create_connection(self.target, timeout=10)
        except OSError:
            with self.changed:
                self.upstream_failures += 1
            with suppress(OSError):
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()
            return
        upstream.settimeout(None)
        connection = Connection(client, upstream, self)
        with self.changed:
            self._connections.append(connection)
        for source, target, direction in ((client, upstream, "to_server"), (upstream, client, "to_client")):
            threading.Thread(target=self._pump, args=(connection, source, target, direction), daemon=True).start()

    def _pump(self, connection: Connection, source: socket.socket, target: socket.socket, direction: Direction) -> None:
        tail = b""  # the end of the previous chunk, so a pattern split across chunks is found
        pending: list[tuple[int, Trigger]] = []  # (bytes still to forward, trigger) for `after`
        while True:
            try:
                data = source.recv(CHUNK)
            except OSError:
                data = b""
            if not data:
                connection.drop(reset=False)  # pass the FIN (or the RST, as a FIN) on
                return
            if not self._hold(connection):
                return
            events, pending, tail = self._events(direction, tail, data, pending)
            position = 0
            for offset, trigger in events:
                if not self._send(connection, target, data[position:offset]):
                    return
                position = offset
                if not self._act(connection, trigger):
                    return
            if not self._send(connection, target, data[position:]):
                return

    def _events(
        self, direction: Direction, tail: bytes, data: bytes, pending: list[tuple[int, Trigger]]
    ) -> tuple[list[tuple[int, Trigger]], list[tuple[int, Trigger]], bytes]:
        """Where in `data` triggers act; what carries over to the next chunk; the new tail."""
        events: list[tuple[int, Trigger]] = []
        still: list[tuple[int, Trigger]] = []
        for remaining, trigger in pending:
            if remaining <= len(data):
                events.append((remaining, trigger))
            else:
                still.append((remaining - len(data), trigger))
        window = tail + data
        longest = 1
        with self.changed:
            triggers = [t for t in self._triggers if t.direction == direction]
            for trigger in triggers:
                longest = max(longest, len(trigger.pattern))
                start = 0
                while (found := window.find(trigger.pattern, start)) >= 0:
                    start = found + 1
                    end = found + len(trigger.pattern) - len(tail)  # offset in data after the pattern
                    if end <= 0:
                        continue  # wholly inside the tail: counted with the previous chunk
                    trigger.seen += 1
                    if trigger.seen not in trigger.occurrences:
                        continue
                    at = end + trigger.after
                    if at <= len(data):
                        events.append((at, trigger))
                    else:
                        still.append((at - len(data), trigger))
        events.sort(key=lambda event: event[0])
        return events, still, window[-(longest - 1) :] if longest > 1 else b""

    def _act(self, connection: Connection, trigger: Trigger) -> bool:
        """Carry out a trigger's action; False when the connection is gone."""
        with self.changed:
            trigger.fired_count += 1
            trigger.fired_at = trigger.fired_at or time.time()
        if trigger.action == "reset":
            connection.drop(reset=True)
        elif trigger.action == "close":
            connection.drop(reset=False)
        elif trigger.action == "stall":
            with self.changed:
                connection.stalled = True
        elif trigger.action == "call":
            assert trigger.callback is not None
            trigger.callback()
        trigger.fired.set()
        return not connection.closed and self._hold(connection)

    def _hold(self, connection: Connection) -> bool:
        """Wait while this connection (or the whole proxy) is stalled; False once it is closed."""
        with self.changed:
            while (connection.stalled or self._stalled) and not connection.closed and not self._closing:
                self.changed.wait(0.5)
            return not connection.closed

    def _send(self, connection: Connection, target: socket.socket, data: bytes) -> bool:
        with self.changed:
            latency, size = self._latency, self._chunk_size
        for start in range(0, len(data), size):
            if latency:
                time.sleep(latency)
            try:
                target.sendall(data[start : start + size])
            except OSError:
                connection.drop(reset=True)
                return False
        return not connection.closed


@contextmanager
def fault_proxy(target_port: int) -> Iterator[FaultProxy]:
    proxy = FaultProxy(target_port)
    try:
        yield proxy
    finally:
        proxy.close()

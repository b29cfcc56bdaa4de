"""When the garbage collector runs: never while work keeps all it makes, never over what stays loaded.

Most of what triage makes is freed by reference counting as soon as it is done with; the cyclic
collector only finds the rest. Its rounds walk every tracked object of their generation, so
they cost most where a heap grows without any cycle to free: while the rules and language
pipelines load, while a derivation reads weeks of mail, and over what stays loaded for the
life of the process.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection inside; the collector as it was afterwards.

    For work that keeps nearly everything it makes until it ends and leaves no cycles behind,
    where each collection walks a growing heap to free nothing: a flag derivation (1.2-1.4 s of
    a 7.5-8.3 s derivation of 11,000 messages), loading the rules and pipelines (0.4 s of a
    3 s start, all on one core before a backfill's workers fork).
    Reentrant, and with threads too: the collector is turned back on only by the outermost pause
    that turned it off, and work that starts while another thread's pause is on just runs.
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def settle_memory() -> None:
    """Leave what is loaded by now (rules, language pipelines) out of the garbage collector's rounds.

    A full collection walked the millions of objects the pipelines hold: 80 ms at a time, every
    few derivations, on whichever thread was working, while a message waited to be stored or
    flagged. They live as long as the daemon (or its rules) anyway; memory freed by reference
    counting is freed as before. Before a fork it also keeps the workers' collections from
    writing to those objects, which would copy the pages they share with this process.
    """
    gc.unfreeze()  # what was settled before may be garbage now (the rules before a reload)
    gc.collect()
    gc.freeze()

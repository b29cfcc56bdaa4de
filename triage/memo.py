"""A memo whose entries live while they are used: two generations, the current and the previous."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class GenerationalMemo(Generic[K, V]):
    """Values by key, kept while the current or the previous generation used them.

    The daemon re-derives a sliding window of mail after every arrival: what one derivation read,
    the next mostly reads again, and what left the window is never read again. A cache emptied
    only when full grows with the history up to its bound; here each derivation starts a
    generation (`next_generation`), a value read in it moves to the current generation, and one
    neither generation read is dropped. Memory follows the window, at most two derivations' worth.
    """

    __slots__ = ("_current", "_previous")

    def __init__(self) -> None:
        self._current: dict[K, V] = {}
        self._previous: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        """The value kept for `key` (None when neither generation has it); a read keeps it one more generation."""
        found = self._current.get(key)
        if found is None and self._previous:
            found = self._previous.pop(key, None)
            if found is not None:
                self._current[key] = found
        return found

    def put(self, key: K, value: V) -> V:
        self._current[key] = value
        return value

    def get_or_make(self, key: K, make: Callable[[K], V]) -> V:
        """The value kept for `key`, else `make(key)`, kept."""
        found = self.get(key)
        if found is None:
            found = self._current[key] = make(key)
        return found

    def next_generation(self) -> None:
        """Start a generation: what the one before the current did not read is dropped."""
        self._previous = self._current
        self._current = {}

    def clear(self) -> None:
        self._current, self._previous = {}, {}

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)

    def __contains__(self, key: object) -> bool:
        return key in self._current or key in self._previous

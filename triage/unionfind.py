"""Union-find over strings: the groups of addresses, threads and related mail are all built this way."""

from __future__ import annotations

from collections.abc import Iterable


class UnionFind:
    """Disjoint groups of strings, a member added on first sight; a group's key is its smallest member.

    The smaller key stays the root on every union, so the keys depend only on the set of unions,
    never on their order: derivations give the same result whatever order mail arrived in.
    """

    __slots__ = ("parent",)

    def __init__(self, members: Iterable[str] = ()) -> None:
        self.parent = {member: member for member in members}

    def __contains__(self, member: str) -> bool:
        return member in self.parent

    def find(self, member: str) -> str:
        """The key of the member's group (a member not seen before is a group of its own)."""
        parent = self.parent
        root = parent.setdefault(member, member)
        if root == member:
            return member
        while parent[root] != root:
            root = parent[root]
        while parent[member] != root:
            parent[member], member = root, parent[member]
        return root

    def union(self, first: str, second: str) -> None:
        a, b = self.find(first), self.find(second)
        if a != b:
            self.parent[max(a, b)] = min(a, b)

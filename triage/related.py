"""Which stored messages can change each other's flags: the groups a live derivation narrows to.

Every derivation but the canned-reply check looks only at mail related to the message it flags:
the same thread (headers), the same customer address (as sender, or as recipient of a reply), or
a cited identifier or address that could make two addresses one contact. Groups joined by any of
these are closed under every such lookup (contacts included: every message citing an identifier
is in one group, so a group counts the addresses citing it as all the mail does), and deriving a
group alone gives its messages the flags a derivation of all the mail gives them. New mail can
change only the flags of its own group (merged groups included); the daemon re-derives those
groups and keeps the rest.

The groups may be wider than strictly needed (an identifier cited by many customers joins them
all, though contacts ignore it): wider costs time, never a wrong flag. A colleague's address
copied on every reply joins all those replies into one group; listed in `[support] addresses`
(it is one of ours), it joins nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from triage.contacts import Identify, cited_addresses, normalise_address
from triage.model import Direction, MessageView
from triage.unionfind import UnionFind


class RelatedGroups:
    """Groups of related mail, for a caller that reads the same weeks of mail again and again (the daemon).

    What joins a message to others depends on the message alone, so it is read once per view
    (kept while the view is: views of unchanged rows are the same objects from one read to the next).
    """

    def __init__(self, support: Collection[str], identify: Identify) -> None:
        self.support = frozenset(normalise_address(a) for a in support)
        self.identify = identify
        self._kept: dict[int, tuple[MessageView, list[str]]] = {}

    def __call__(self, views: Sequence[MessageView]) -> dict[int, str]:
        """Row id -> the key of its group of related mail (keys mean nothing beyond equality)."""
        kept: dict[int, tuple[MessageView, list[str]]] = {}
        for view in views:
            known = self._kept.get(view.id)
            kept[view.id] = known if known is not None and known[0] is view else (view, self._links(view))
        self._kept = kept
        return _groups(views, {message: links for message, (_, links) in kept.items()})

    def _links(self, view: MessageView) -> list[str]:
        """The nodes a message joins: the messages its headers name, its customer's addresses, identifiers."""
        nodes = [f"m:{other}" for other in (view.in_reply_to, *view.references) if other]
        if view.direction is Direction.IN:
            nodes.append(f"a:{normalise_address(view.sender)}")
            nodes += [f"a:{address}" for address in cited_addresses(view.text)]
            # as resolve_contacts reads them (the same text, so the kept readings answer)
            nodes += [f"i:{value}" for _, value in self.identify(f"{view.subject}\n{view.text}")]
        else:
            nodes += [f"a:{a}" for a in {normalise_address(r) for r in view.recipients} - self.support]
        return nodes


def _groups(views: Sequence[MessageView], links: Mapping[int, list[str]]) -> dict[int, str]:
    groups = UnionFind()
    for view in views:
        for node in links[view.id]:
            groups.union(f"m:{view.message_id}", node)
    return {view.id: groups.find(f"m:{view.message_id}") for view in views}


def touched_groups(
    views: Sequence[MessageView],
    groups: Mapping[int, str],
    last_views: Mapping[int, MessageView],
    last_groups: Mapping[int, str],
) -> set[str]:
    """The groups whose mail changed since the last derivation (read then as `last_views`, `last_groups`).

    A message is new or changed when its view is not the very object read last time (the view
    reader keeps a view while its row is unchanged). A message that left the window leaves the
    group it was in: that group's mail is touched too.
    """
    current = {view.id for view in views}
    touched = {view.id for view in views if last_views.get(view.id) is not view}
    lost_groups = {last_groups[message] for message in last_views.keys() - current if message in last_groups}
    if lost_groups:
        touched |= {message for message, group in last_groups.items() if group in lost_groups and message in current}
    return {groups[message] for message in touched if message in groups}

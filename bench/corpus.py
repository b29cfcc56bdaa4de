"""Load a labelled corpus (the format of shared/corpus) into a fresh triage store, as a user would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from triage.analyze import Analyzer
from triage.capture import import_raw
from triage.config import Config, StoreConfig, SupportConfig
from triage.model import FolderRole
from triage.sources.local import read_paths
from triage.store import Store, open_store

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@dataclass
class LoadedCorpus:
    store: Store
    labels: dict[str, dict[str, Any]]
    config: Config


def read_labels(folder: Path) -> dict[str, dict[str, Any]]:
    lines = (folder / "labels.jsonl").read_text(encoding="utf-8").splitlines()
    return {row["message_id"]: row for row in map(json.loads, filter(None, lines))}


@contextmanager
def load_corpus(folder: Path) -> Iterator[LoadedCorpus]:
    """Import sent.mbox first, then inbox.mbox (a daemon may see replies before questions)."""
    mailbox = json.loads((folder / "mailbox.json").read_text(encoding="utf-8"))
    with TemporaryDirectory(prefix="triage-eval-") as tmp:
        config = Config(
            store=StoreConfig(path=Path(tmp) / "eval.sqlite"),
            support=SupportConfig(addresses=tuple(mailbox["support_addresses"])),
        )
        store = open_store(config.store.path)
        analyzer = Analyzer.from_config(config)
        for name, role in (("sent.mbox", FolderRole.SENT), ("inbox.mbox", FolderRole.INBOX)):
            import_raw(read_paths([folder / name]), store, config, role, after_batch=analyzer.analyze)
        try:
            yield LoadedCorpus(store, read_labels(folder), config)
        finally:
            store.close()


def missing(path: Path) -> bool:
    if path.exists():
        return False
    print(f"{path} not found: nothing to evaluate (the corpus is not part of the repository)")
    return True

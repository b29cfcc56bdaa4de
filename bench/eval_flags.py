"""Flag quality on a labelled corpus, and canned-reply detection on real Twitter customer care.

.venv/bin/python bench/eval_flags.py [--corpus ../shared/corpus/dev] [--twitter ../shared/data/twitter-cdp-ibm]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import SHARED, load_corpus, missing
from eval_topics import prf

from triage.analyze import Analyzer
from triage.capture import import_raw
from triage.config import Config, StoreConfig, SupportConfig
from triage.model import FolderRole, RawMail
from triage.store import open_store

NOT_ADDRESSED = {"off-topic", "canned", "partial-answer", "ignored-details", "deflection", "auto-ack"}


def report(name: str, gold: set[str], predicted: set[str], universe: set[str]) -> None:
    tp, fp, fn = len(gold & predicted), len(predicted - gold), len(gold - predicted)
    p, r, f = prf(tp, fp, fn)
    print(f"{name:<16} P {p:.3f}  R {r:.3f}  F1 {f:.3f}   (tp {tp}, fp {fp}, fn {fn}, of {len(universe)})")


def evaluate_corpus(folder: Path) -> None:
    with load_corpus(folder) as corpus:
        analyzer = Analyzer.from_config(corpus.config)
        last = max(datetime.fromisoformat(r["date_utc"]) for r in corpus.store.messages())
        analyzer.flag_all(corpus.store, now=last + timedelta(days=2))
        kinds: dict[str, set[str]] = {}
        for flag in corpus.store.list_flags():
            kinds.setdefault(flag["message_id"], set()).add(flag["kind"])
        labels = corpus.labels
        inbox = {m for m, label in labels.items() if label["folder"] == "inbox"}
        sent = {m for m, label in labels.items() if label["folder"] == "sent"}
        print(f"corpus {folder}: {len(inbox)} inbox, {len(sent)} sent messages")
        report(
            "repeat-contact",
            {m for m in inbox if labels[m].get("repeat_contact")},
            {m for m in inbox if "repeat-contact" in kinds.get(m, set())},
            inbox,
        )
        report(
            "not-addressed",
            {m for m in sent if labels[m].get("addresses_question") is False},
            {m for m in sent if kinds.get(m, set()) & NOT_ADDRESSED},
            sent,
        )
        report(
            "canned",
            {m for m in sent if labels[m].get("canned")},
            {m for m in sent if kinds.get(m, set()) & {"canned", "auto-ack"}},
            sent,
        )
        counts = Counter(kind for found in kinds.values() for kind in found)
        print("flags by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(counts.items())))


def reuse_key(text: str) -> str:
    """A reply without its @handles, links and agent initials: what counts as word-for-word reuse."""
    text = re.sub(r"@\w+|https?://\S+|\^\w+", " ", text)
    return " ".join(text.lower().split())


def conversation_mail(index: int, item: dict[str, object]) -> tuple[bytes, bytes, str]:
    """One Twitter conversation as a customer question and the agent's final reply."""
    header = item["dialogHeader"]  # type: ignore[index]
    turns = item["dialogContent"]  # type: ignore[index]
    reply_text = re.sub(r"^(@\w+\s*)+", "", item["agentURL"]["url_utterance"])  # type: ignore[index]
    date = datetime(2026, 1, 1) + timedelta(minutes=10 * index)
    customer_text = "\n".join(t["message"] for t in turns if "client" in t)  # type: ignore[attr-defined]
    question = EmailMessage()
    question["From"] = f"customer{index}@example.net"
    question["To"] = f"care@{header['company'].lower()}.example"  # type: ignore[index]
    question["Subject"] = f"Conversation {index}"
    question["Message-ID"] = f"<q{index}@example.net>"
    question["Date"] = format_datetime(date.astimezone())
    question.set_content(customer_text)
    reply = EmailMessage()
    reply["From"] = f"care@{header['company'].lower()}.example"  # type: ignore[index]
    reply["To"] = f"customer{index}@example.net"
    reply["Subject"] = f"Re: Conversation {index}"
    reply["Message-ID"] = f"<r{index}@example.com>"
    reply["In-Reply-To"] = f"<q{index}@example.net>"
    reply["Date"] = format_datetime((date + timedelta(minutes=5)).astimezone())
    reply.set_content(reply_text)
    return bytes(question), bytes(reply), str(reply_text)


def evaluate_twitter(folder: Path) -> None:
    items = json.loads((folder / "dev.json").read_text()) + json.loads((folder / "test.json").read_text())
    pairs = [conversation_mail(i, item) for i, item in enumerate(items)]
    reuse = Counter(reuse_key(text) for _, _, text in pairs)
    with TemporaryDirectory() as tmp:
        companies = sorted({f"care@{i['dialogHeader']['company'].lower()}.example" for i in items})
        config = Config(
            store=StoreConfig(path=Path(tmp) / "t.sqlite"), support=SupportConfig(addresses=tuple(companies))
        )
        store = open_store(config.store.path)
        analyzer = Analyzer.from_config(config)
        import_raw((RawMail(r) for _, r, _ in pairs), store, config, FolderRole.SENT, after_batch=analyzer.analyze)
        import_raw((RawMail(q) for q, _, _ in pairs), store, config, FolderRole.INBOX, after_batch=analyzer.analyze)
        analyzer.flag_all(store, now=datetime(2026, 3, 1).astimezone())
        canned = {f["message_id"] for f in store.list_flags(kind="canned")}
        store.close()
    reused = [i for i, (_, _, text) in enumerate(pairs) if reuse[reuse_key(text)] > 1]
    unique = [i for i, (_, _, text) in enumerate(pairs) if reuse[reuse_key(text)] == 1]
    hit = sum(f"<r{i}@example.com>" in canned for i in reused)
    false = sum(f"<r{i}@example.com>" in canned for i in unique)
    print(
        f"twitter-cdp-ibm: {len(pairs)} conversations; {len(reused)} agent replies reused word for word "
        f"({len({reuse_key(pairs[i][2]) for i in reused})} distinct texts): {hit} flagged canned "
        f"({hit / max(1, len(reused)):.0%}); "
        f"{len(unique)} unique replies: {false} flagged canned (false alarms {false / max(1, len(unique)):.1%})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=SHARED / "corpus" / "dev")
    parser.add_argument("--twitter", type=Path, default=SHARED / "data" / "twitter-cdp-ibm")
    args = parser.parse_args()
    if not missing(args.corpus):
        evaluate_corpus(args.corpus)
    if not missing(args.twitter):
        evaluate_twitter(args.twitter)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

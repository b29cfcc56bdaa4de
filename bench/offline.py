"""The in-process stages of the backfill on a generated mailbox held in memory: no IMAP, no root.

    .venv/bin/python bench/offline.py --messages 5000
    .venv/bin/python bench/offline.py --messages 5000 --only parse,classify

A quick loop for work on one stage (parse, classify, store, flags); `backfill.py` is the benchmark
of record (it adds the fetch, the whole `triage run --once` against mbsync, and live latency).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import stages
from backfill import report_stages
from bigmailbox import MailboxGenerator
from runs import SUPPORT_ADDRESS, SUPPORT_DOMAIN
from stages import Stage, classify_all, parse_all, store_and_flag, timer

from triage.analyze import Analyzer
from triage.config import AccountConfig, Config, StoreConfig, SupportConfig
from triage.model import FolderRole, Mail, RawMail


def generated_raws(count: int, seed: int) -> list[tuple[FolderRole, RawMail]]:
    """Sent first, then INBOX, each in date order with UIDs from 1, as an IMAP backfill reads them."""
    messages = list(MailboxGenerator(count, seed=seed).messages())
    raws: list[tuple[FolderRole, RawMail]] = []
    for folder, role in (("Sent", FolderRole.SENT), ("INBOX", FolderRole.INBOX)):
        mine = sorted((m for m in messages if m.folder == folder), key=lambda m: m.date)
        for uid, message in enumerate(mine, start=1):
            raw = message.raw.replace(b"\n", b"\r\n")
            raws.append((role, RawMail(raw, internal_date=message.date, uid=uid, size=len(raw))))
    return raws


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=20260)
    parser.add_argument("--wall", action="store_true", help="wall-clock time instead of CPU time")
    parser.add_argument("--only", default="parse,classify,store,flags", help="comma-separated stages to run")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    stages.CLOCK = time.perf_counter if args.wall else time.process_time
    raws = generated_raws(args.messages, args.seed)
    print(f"{len(raws)} messages generated, {sum(len(r.raw) for _, r in raws) / 1e6:.1f} MB")
    with tempfile.TemporaryDirectory(prefix="triage-offline-") as work:
        config = Config(
            store=StoreConfig(path=Path(work) / "store.sqlite"),
            support=SupportConfig(addresses=(SUPPORT_ADDRESS,), domains=(SUPPORT_DOMAIN,)),
            accounts=(AccountConfig(name="offline", host="127.0.0.1", username="offline"),),
        )
        done: list[Stage] = []
        with timer() as elapsed:
            analyzer = Analyzer.from_config(config)
        done.append(Stage("startup: Analyzer.from_config (rules, spaCy)", 1, elapsed[0]))
        stage, parsed = parse_all(raws)
        done.append(stage)
        if only & {"classify", "store", "flags"}:
            mails = [p for _, _, p in parsed if isinstance(p, Mail)]
            stage, results = classify_all(analyzer, mails)
            done.append(stage)
            if only & {"store", "flags"}:
                done += store_and_flag(config, analyzer, parsed, results, config.store.path)
        print(f"times are {'wall-clock' if args.wall else 'CPU'} seconds")
        report_stages(done)
    return 0


if __name__ == "__main__":
    start = time.perf_counter()
    code = main()
    print(f"total {time.perf_counter() - start:.1f} s")
    sys.exit(code)

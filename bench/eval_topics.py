"""Topic precision, recall and F1 per topic and per language on a labelled corpus.

.venv/bin/python bench/eval_topics.py [--corpus ../shared/corpus/dev]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import SHARED, load_corpus, missing


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=SHARED / "corpus" / "dev")
    parser.add_argument("--errors", type=int, default=10, help="how many misclassified messages to show")
    args = parser.parse_args()
    if missing(args.corpus):
        return 0
    with load_corpus(args.corpus) as corpus:
        rows = {row["message_id"]: row for row in corpus.store.messages()}
        topics = corpus.store.topics_of([row["id"] for row in rows.values()])
        per_lang: dict[str, Counter[str]] = {}
        per_topic: dict[str, Counter[str]] = {}
        confusion: Counter[tuple[str, str]] = Counter()
        noise = Counter[str]()
        errors = []
        for message_id, label in corpus.labels.items():
            if label["folder"] != "inbox" or message_id not in rows:
                continue
            gold = set(label.get("topics") or [])
            got = {t["topic"] for t in topics.get(rows[message_id]["id"], [])}
            lang = "id" if label["lang"] in ("id", "mixed") else label["lang"]
            counts = per_lang.setdefault(lang, Counter())
            counts.update(tp=len(gold & got), fp=len(got - gold), fn=len(gold - got))
            for topic in gold | got:
                per_topic.setdefault(topic, Counter()).update(
                    tp=int(topic in gold and topic in got),
                    fp=int(topic in got - gold),
                    fn=int(topic in gold - got),
                )
            for missed in gold - got:
                for extra in (got - gold) or {"(none)"}:
                    confusion[(missed, extra)] += 1
            if not gold:
                noise.update(total=1, clean=int(not got))
            if gold != got:
                errors.append((message_id, sorted(gold), sorted(got), rows[message_id]["subject"]))
        print(f"inbox messages evaluated: {sum(c['tp'] + c['fn'] for c in per_lang.values())} gold topics")
        print(f"\n{'language':<10} {'P':>6} {'R':>6} {'F1':>6}")
        for lang, c in sorted(per_lang.items()):
            print(f"{lang:<10} " + " ".join(f"{v:6.3f}" for v in prf(c["tp"], c["fp"], c["fn"])))
        print(f"\n{'topic':<20} {'P':>6} {'R':>6} {'F1':>6} {'n':>4}")
        for topic, c in sorted(per_topic.items()):
            print(
                f"{topic:<20} "
                + " ".join(f"{v:6.3f}" for v in prf(c["tp"], c["fp"], c["fn"]))
                + f" {c['tp'] + c['fn']:4d}"
            )
        print(f"\nno-topic mail (non-support, automated, thank-you): {noise['clean']}/{noise['total']} got no topics")
        print("\nmost common confusions (gold missed -> predicted instead):")
        for (gold, got), n in confusion.most_common(8):
            print(f"  {gold:<18} -> {got:<18} {n}")
        print(f"\nfirst {args.errors} errors:")
        for message_id, gold, got, subject in errors[: args.errors]:
            print(f"  {message_id[:40]:<40} gold={gold} got={got} {subject[:50]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

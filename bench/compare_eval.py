"""Is one model (or engine change) better than another on a judged set, or is it noise?

    jixiao eval --store A --queries Q --json > a.json
    jixiao eval --store B --queries Q --json > b.json
    .venv/bin/python bench/compare_eval.py a.json b.json

Prints, per mode, nDCG@10 before and after, the mean per-query change and its
paired-bootstrap 95 % interval (10,000 resamples of the queries), and how many
queries got better and worse.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from indexer.relevance import paired_bootstrap

METRIC = "ndcg@10"


def compare(before: dict, after: dict) -> list[str]:
    """Markdown table rows comparing two ``jixiao eval --json`` objects."""
    rows = [
        "| mode | queries | before | after | change | 95 % interval | better / worse |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode in before:
        old, new = before[mode]["per_query"], after[mode]["per_query"]
        if set(old) != set(new):
            raise SystemExit(f"{mode}: the two runs judged different queries")
        ids = sorted(old)
        a = [old[q][METRIC] for q in ids]
        b = [new[q][METRIC] for q in ids]
        mean, low, high = paired_bootstrap(a, b)
        better = sum(y > x + 1e-3 for x, y in zip(a, b, strict=True))
        worse = sum(y < x - 1e-3 for x, y in zip(a, b, strict=True))
        rows.append(
            f"| {mode} | {len(ids)} | {sum(a) / len(a):.3f} | {sum(b) / len(b):.3f} | "
            f"{mean:+.3f} | [{low:+.3f}, {high:+.3f}] | {better} / {worse} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args()
    runs = [json.loads(p.read_text(encoding="utf-8")) for p in (args.before, args.after)]
    print("\n".join(compare(*runs)))


if __name__ == "__main__":
    main()

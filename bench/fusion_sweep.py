"""Which reciprocal-rank-fusion settings rank a judged query set best?

    jixiao index corpus/ --store S
    .venv/bin/python bench/fusion_sweep.py --store S --queries bench/relevance/dev.json

Runs hybrid search for every query under each setting of RRF's k and the weight
of the semantic list (the keyword list weighs 1) and prints hybrid nDCG@10 (all
queries, lexical ones, paraphrases) per setting, the shipped one marked. Choose
on a set kept for that (``dev.json``), then score the others once: a setting
chosen on the set it is reported on flatters it. Each query is embedded once.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from indexer.embeddings import Embedder
from indexer.eval_runner import run_eval
from indexer.search import RRF_K, Searcher
from indexer.store.factory import open_store
from webapp.portal import QueryVectorCache

KS = (5, 10, 20, 30, 60, 100)
WEIGHTS = (0.5, 1.0, 1.5, 2.0, 3.0)
QUERY_VECTORS = 100_000  # every query of any judged set stays cached: embedded once


def sweep(
    searcher_for: Callable[[int, float], Searcher],
    queries: Path,
    ks: tuple[int, ...] = KS,
    weights: tuple[float, ...] = WEIGHTS,
    pooled: bool = True,
) -> list[tuple[int, float, dict]]:
    """``(k, weight, hybrid evaluate())`` for every setting."""
    return [
        (k, w, run_eval(searcher_for(k, w), queries, modes=("hybrid",), pooled=pooled)["hybrid"])
        for k in ks
        for w in weights
    ]


def format_rows(results: list[tuple[int, float, dict]]) -> list[str]:
    """Markdown rows, best first; the shipped setting (k = 60, weight 1) is marked."""
    rows = [
        "| k | semantic weight | nDCG@10 | lexical | paraphrase |",
        "|---|---|---|---|---|",
    ]
    for k, w, result in sorted(results, key=lambda r: -r[2]["mean"]["ndcg@10"]):
        groups = result.get("groups", {})
        cells = [
            f"{result['mean']['ndcg@10']:.3f}",
            *(
                f"{groups[g]['ndcg@10']:.3f}" if g in groups else "–"
                for g in ("lexical", "paraphrase")
            ),
        ]
        label = f"**{k}**" if (k, w) == (RRF_K, 1.0) else str(k)
        rows.append(f"| {label} | {w:g} | " + " | ".join(cells) + " |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--store", type=Path, help="embedded store folder")
    ap.add_argument("--es", help="Elasticsearch URL instead of --store")
    ap.add_argument("--model", help="encoder the store was built with (default: jixiao's)")
    ap.add_argument("--queries", type=Path, nargs="+", required=True, help="judged query sets")
    ap.add_argument("--unpooled", action="store_true", help="first judgments only (no pooled)")
    args = ap.parse_args()
    store = open_store(args.store, args.es)
    try:
        embedder = QueryVectorCache(Embedder(args.model), QUERY_VECTORS)
        for path in args.queries:
            results = sweep(
                lambda k, w: Searcher(store, embedder, k, w), path, pooled=not args.unpooled
            )
            print(f"\n{path} (hybrid nDCG@10, best first)\n")
            print("\n".join(format_rows(results)))
    finally:
        store.close()


if __name__ == "__main__":
    main()

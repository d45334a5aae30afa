"""Run the judged queries against a store in every mode and score the rankings."""

from __future__ import annotations

from pathlib import Path

from indexer.passages import passages_for
from indexer.relevance import evaluate, load_queries, qrels_for
from indexer.search import MODES, Searcher, make_request
from indexer.store.base import Store

QUERIES = Path(__file__).resolve().parents[1] / "bench" / "relevance" / "queries.json"


def stored_passages(store: Store) -> list[dict]:
    """Every passage in the store, rebuilt from the stored filings (ids are deterministic)."""
    out: list[dict] = []
    for doc_id in sorted(store.content_hashes()):
        record = store.get_filing(doc_id)
        if record is not None:
            out.extend(passages_for(record.filing, doc_id))
    return out


def run_eval(
    searcher: Searcher,
    queries_path: Path = QUERIES,
    k: int = 10,
    modes: tuple[str, ...] = MODES,
    pooled: bool = True,
) -> dict[str, dict]:
    """``{mode: evaluate(...)}`` with per-group means for paraphrases and the rest.

    ``pooled=False`` scores with the first judgments alone (see :mod:`indexer.relevance`).
    """
    queries = load_queries(queries_path, pooled)
    qrels = qrels_for(queries, stored_passages(searcher.store))
    groups = {q["id"]: "paraphrase" if q.get("paraphrase") else "lexical" for q in queries}
    results = {}
    for mode in modes:
        run = {
            q["id"]: [
                hit["id"] for hit in searcher.search(make_request(q["query"], mode, k))["hits"]
            ]
            for q in queries
        }
        results[mode] = evaluate(run, qrels, k=k, groups=groups)
    return results


def format_table(results: dict[str, dict], k: int = 10) -> str:
    """A Markdown table: one row per mode and query group."""
    lines = [
        f"| mode | queries | nDCG@{k} | Recall@{k} | MRR |",
        "|---|---|---|---|---|",
    ]
    for mode, result in results.items():
        rows = [("all", {"queries": result["queries"], **result["mean"]})]
        rows += sorted(result.get("groups", {}).items())
        for group, mean in rows:
            label = mode if group == "all" else f"{mode}, {group}"
            lines.append(
                f"| {label} | {mean['queries']} | {mean[f'ndcg@{k}']:.3f} | "
                f"{mean[f'recall@{k}']:.3f} | {mean['mrr']:.3f} |"
            )
    return "\n".join(lines)

"""Complete a judged query set by pooling: grade what the engine returns that nobody judged.

The first judgments of a set were made by reading the filings, before or apart from
the engine; a passage they missed counts as not relevant wherever it is ranked.
Pooling (as TREC does) collects every mode's top 10 that is unjudged, hands the
pairs to an assessor who sees the query and the passage only (no rank, no mode),
and adds the grades to the set marked ``"pooled": true``. ``jixiao eval
--unpooled`` still scores with the first judgments alone.

    .venv/bin/python bench/relevance_pool.py build --store S --queries Q.json --out DIR
    (the assessor writes DIR/<set>_grades.jsonl: {"item", "grade"} per line, 0–3)
    .venv/bin/python bench/relevance_pool.py merge --queries Q.json --out DIR

``build`` also slips in, per query, two passages already judged and one passage
neither judged nor retrieved; ``merge`` reports how the assessor graded them
(agreement with the first judgments, and whether noise is graded low).
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from pathlib import Path

from indexer.relevance import GRADES, load_queries, qrels_for, resolve_ref
from indexer.search import MODES, Searcher, make_request

DEPTH = 10
SEED = 20261122


def pool_items(
    queries: list[dict], qrels: dict, ranked: dict, passages: list[dict], set_name: str
) -> tuple[list[dict], dict]:
    """Assessor items (shuffled per query) and the key that maps them back.

    ``ranked[qid]`` lists the passage ids the engine returned in any mode.
    """
    rng = random.Random(SEED)
    by_id = {p["id"]: p for p in passages}
    items: list[dict] = []
    key: dict[str, dict] = {}
    for query in queries:
        qid, judged = query["id"], qrels[query["id"]]
        pool = [pid for pid in dict.fromkeys(ranked[qid]) if pid not in judged]
        known = rng.sample(sorted(judged), min(2, len(judged)))
        noise = sorted(pid for pid in by_id if pid not in judged and pid not in pool)
        extra = known + ([rng.choice(noise)] if noise else [])
        chosen = pool + extra
        rng.shuffle(chosen)
        for pid in chosen:
            passage = by_id[pid]
            item = f"{set_name}-{len(items):04d}"
            key[item] = {"qid": qid, "pid": pid, "check": pid in extra, "grade": judged.get(pid)}
            filer = (passage.get(f) for f in ("year", "province", "city", "county", "department"))
            items.append(
                {
                    "item": item,
                    "query": query["query"],
                    "kind": passage["kind"],
                    "filer": " ".join(str(x) for x in filer if x),
                    "project": passage.get("project_name"),
                    "heading": passage.get("heading"),
                    "text": passage["text"],
                }
            )
    return items, key


def ref_for(passage: dict, passages: list[dict]) -> dict:
    """The narrowest judgment ref naming ``passage`` (it may name identical rows too)."""
    file = Path(str(passage["source"])).name
    kind = passage["kind"]
    if kind == "narrative":
        text = "".join(passage["text"].split())  # refs compare text without whitespace
        others = ["".join(p["text"].split()) for p in passages if p["id"] != passage["id"]]
        for size in range(8, len(text) + 1, 4):
            for start in range(0, len(text) - size + 1, size):
                part = text[start : start + size]
                if not any(part in other for other in others):
                    return {"file": file, "kind": kind, "contains": part}
        return {"file": file, "kind": kind, "contains": text}
    ref = {"file": file, "kind": kind, "project": passage.get("project_name")}
    if kind == "indicator":
        ref["indicator"] = passage.get("indicator_name")
        if len(resolve_ref(ref, passages)) > 1 and passage.get("level2"):
            ref["level2"] = passage["level2"]
    return ref


def merge(
    queries: list[dict], passages: list[dict], key: dict, grades: dict[str, int]
) -> tuple[int, int, dict]:
    """Add pooled judgments to ``queries`` in place: ``(added, skipped, check report)``.

    A ref that would also name a passage the query already judges is skipped (a
    passage is judged once); refs naming the same rows keep the highest grade.
    """
    missing = sorted(set(key) - set(grades))
    if missing:
        raise SystemExit(f"{len(missing)} items have no grade, e.g. {missing[:3]}")
    by_id = {p["id"]: p for p in passages}
    qrels = qrels_for(queries, passages)
    pending: dict[str, dict[tuple, tuple[dict, int]]] = {}
    skipped = 0
    agreement: list[tuple[int, int]] = []
    noise: Counter = Counter()
    for item, entry in key.items():
        grade = int(grades[item])
        if entry["grade"] is not None:
            agreement.append((entry["grade"], grade))
            continue
        if entry["check"]:
            noise[grade] += 1
        ref = ref_for(by_id[entry["pid"]], passages)
        named = resolve_ref(ref, passages)
        if named & set(qrels[entry["qid"]]):
            skipped += 1
            continue
        slot = pending.setdefault(entry["qid"], {})
        rows = tuple(sorted(named))
        if rows not in slot or slot[rows][1] < grade:
            slot[rows] = (ref, grade)
    added = 0
    for query in queries:
        for ref, grade in pending.get(query["id"], {}).values():
            query["judgments"].append({"ref": ref, "grade": grade, "pooled": True})
            added += 1
    report = {
        "known passages": len(agreement),
        "same grade": sum(a == b for a, b in agreement),
        "within one grade": sum(abs(a - b) <= 1 for a, b in agreement),
        "graded 0 (first judges: relevant)": sum(b == 0 for _, b in agreement),
        "noise passages, grades": dict(sorted(noise.items())),
    }
    return added, skipped, report


def dump_queries(queries: list[dict]) -> str:
    """A query set as JSON with one judgment per line (diffs show what was added)."""
    blocks = []
    for query in queries:
        head = json.dumps({k: v for k, v in query.items() if k != "judgments"}, ensure_ascii=False)
        lines = ",\n".join("  " + json.dumps(j, ensure_ascii=False) for j in query["judgments"])
        blocks.append(f' {head[:-1]}, "judgments": [\n{lines}\n ]}}')
    return "[\n" + ",\n".join(blocks) + "\n]\n"


def _stored(store_path: Path | None, es: str | None):  # noqa: ANN202 - (store, passages)
    from indexer.eval_runner import stored_passages
    from indexer.store.factory import open_store

    store = open_store(store_path, es)
    return store, stored_passages(store)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("action", choices=("build", "merge"))
    ap.add_argument("--queries", type=Path, required=True, help="judged query set (JSON)")
    ap.add_argument("--out", type=Path, required=True, help="folder for items, key and grades")
    ap.add_argument("--store", type=Path, help="embedded store with corpus/ indexed")
    ap.add_argument("--es", help="Elasticsearch URL instead of --store")
    ap.add_argument("--model", help="encoder the store was built with (default: jixiao's)")
    args = ap.parse_args()
    name = args.queries.stem
    store, passages = _stored(args.store, args.es)
    try:
        queries = load_queries(args.queries)
        if args.action == "build":
            from indexer.embeddings import Embedder

            searcher = Searcher(store, Embedder(args.model))
            ranked = {
                q["id"]: [
                    hit["id"]
                    for mode in MODES
                    for hit in searcher.search(make_request(q["query"], mode, DEPTH))["hits"]
                ]
                for q in queries
            }
            items, key = pool_items(queries, qrels_for(queries, passages), ranked, passages, name)
            args.out.mkdir(parents=True, exist_ok=True)
            lines = "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items)
            (args.out / f"{name}_items.jsonl").write_text(lines, encoding="utf-8")
            (args.out / f"{name}_key.json").write_text(json.dumps(key), encoding="utf-8")
            print(f"{name}: {len(items)} items ({sum(k['check'] for k in key.values())} checks)")
            return
        try:
            key = json.loads((args.out / f"{name}_key.json").read_text(encoding="utf-8"))
            lines = (args.out / f"{name}_grades.jsonl").read_text(encoding="utf-8").splitlines()
            grades = {
                row["item"]: int(row["grade"])
                for line in lines
                if line.strip()
                for row in [json.loads(line)]
            }
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise SystemExit(f"{args.out}: cannot read {name}'s key or grades: {err}") from None
        if any(grade not in GRADES for grade in grades.values()):
            raise SystemExit(f"{name}_grades.jsonl: grades must be one of {GRADES}")
        added, skipped, report = merge(queries, passages, key, grades)
        args.queries.write_text(dump_queries(queries), encoding="utf-8")
        print(f"{name}: {added} pooled judgments added, {skipped} skipped; checks: {report}")
    finally:
        store.close()


if __name__ == "__main__":
    main()

"""Graded relevance evaluation: judged queries, their passages, and the metrics.

The judged queries live in ``bench/relevance/queries.json``. Each judgment names
a passage by what it is, not by an id (ids change when the parser or the
passage cutter does)::

    {"file": "003_5dd4e37a73cf10c8.txt", "kind": "indicator",
     "project": "社区矫正业务经费", "indicator": "每名社区矫正对象培训费用"}
    {"file": "003_5dd4e37a73cf10c8.txt", "kind": "project", "project": "法律顾问经费"}
    {"file": "003_5dd4e37a73cf10c8.txt", "kind": "narrative", "contains": "（一）加强组织领导。"}

An indicator ref may add ``"level2"`` when one project has two indicators of the
same name (a count and a cost, say); without it the ref matches all of them.
:func:`resolve_ref` turns a ref into the ids of the passages it names, and
:func:`qrels_for` turns every query into ``{passage_id: grade}``.

Grades: 3 = exactly what was asked, 2 = clearly relevant, 1 = marginal, 0 = judged
not relevant. A judgment with ``"pooled": true`` was added later by pooling
(``bench/relevance_pool.py``): an assessor who saw only the query and the passage
graded what the engine returned that the first judgments had left out;
``load_queries(path, pooled=False)`` leaves those out again.
Metrics (all per query, then the plain mean over queries):

- nDCG@k: gain ``2**grade - 1``, discount ``log2(rank + 1)``, ideal ranking made
  of all the query's judged grades (not only those retrieved).
- Recall@k: judged passages with grade ≥ 1 found in the top k, over all judged
  passages with grade ≥ 1 (every judged passage counts as relevant; grade 1 is
  still something a careful assessor wanted to see).
- Reciprocal rank: 1 / rank of the first passage with grade ≥ 2 (a marginal hit
  is not an answer), 0 when there is none; its mean is MRR.

Unjudged passages count as grade 0.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath

GRADES = (0, 1, 2, 3)
PERSONAS = ("researcher", "journalist", "staff")
KINDS = ("indicator", "project", "narrative")


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain of gains in rank order: ``sum(g_i / log2(i + 1))``, i from 1."""
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1))


def _gain(grade: int) -> float:
    return float(2**grade - 1) if grade > 0 else 0.0


def ndcg_at_k(ranked_grades: Sequence[int], all_grades: Iterable[int], k: int = 10) -> float:
    """nDCG@k of a ranking, given the grade of each ranked passage (0 if unjudged)
    and the grades of every judged passage of the query (the ideal ranking).

    0.0 when the query has no passage with grade > 0.
    """
    ideal = dcg([_gain(g) for g in sorted(all_grades, reverse=True)[:k]])
    if ideal <= 0:
        return 0.0
    return dcg([_gain(g) for g in list(ranked_grades)[:k]]) / ideal


def recall_at_k(ranked_grades: Sequence[int], n_relevant: int, k: int = 10) -> float:
    """Share of the query's relevant passages (grade ≥ 1) found in the top k.

    ``n_relevant`` is the number of judged passages with grade ≥ 1; 0.0 when it is 0.
    """
    if n_relevant <= 0:
        return 0.0
    found = sum(1 for g in list(ranked_grades)[:k] if g >= 1)
    return min(found, n_relevant) / n_relevant


def reciprocal_rank(
    ranked_grades: Sequence[int], min_grade: int = 2, k: int | None = None
) -> float:
    """1 / rank of the first passage with grade ≥ ``min_grade`` (within the top k if
    given), 0.0 when there is none."""
    ranked = list(ranked_grades) if k is None else list(ranked_grades)[:k]
    for rank, grade in enumerate(ranked, start=1):
        if grade >= min_grade:
            return 1.0 / rank
    return 0.0


def _squash(text: str | None) -> str:
    """Whitespace removed: the parser's spacing ("57 号 提前下达") is not part of a name."""
    return "".join((text or "").split())


def resolve_ref(ref: Mapping, passages: Iterable[Mapping]) -> set[str]:
    """Ids of the passages a judgment ref names (see the module docstring).

    Passages are dicts with ``id``, ``kind``, ``source`` (a path; only its file
    name is compared), ``project_name``, ``indicator_name``, ``text`` (and
    ``level2`` when the ref gives one). Names and ``contains`` are compared with
    whitespace removed on both sides; otherwise exactly.
    """
    kind = ref.get("kind")
    if kind not in KINDS:
        raise ValueError(f"unknown ref kind {kind!r} in {dict(ref)!r}")
    file = ref.get("file")
    if not file:
        raise ValueError(f"ref without a file: {dict(ref)!r}")
    project = _squash(ref.get("project"))
    indicator = _squash(ref.get("indicator"))
    contains = _squash(ref.get("contains"))
    if kind in ("indicator", "project") and not project:
        raise ValueError(f"{kind} ref without a project: {dict(ref)!r}")
    if kind == "indicator" and not indicator:
        raise ValueError(f"indicator ref without an indicator: {dict(ref)!r}")
    if kind == "narrative" and not contains:
        raise ValueError(f"narrative ref without 'contains': {dict(ref)!r}")
    found: set[str] = set()
    for passage in passages:
        if passage.get("kind") != kind:
            continue
        if PurePosixPath(str(passage.get("source") or "").replace("\\", "/")).name != file:
            continue
        if kind == "narrative":
            if contains in _squash(passage.get("text")):
                found.add(passage["id"])
            continue
        if _squash(passage.get("project_name")) != project:
            continue
        if kind == "indicator":
            if _squash(passage.get("indicator_name")) != indicator:
                continue
            if ref.get("level2") and passage.get("level2") != ref["level2"]:
                continue
        found.add(passage["id"])
    return found


def load_queries(path: str | Path, pooled: bool = True) -> list[dict]:
    """The judged queries of a ``queries.json`` file, checked for shape.

    With ``pooled=False`` only the first judgments are kept (not those marked
    ``"pooled"``). Raises ``ValueError`` naming the query when a field is missing
    or wrong.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of queries")
    for query in data:
        qid = query.get("id") if isinstance(query, dict) else None
        if not qid or not isinstance(query.get("query"), str) or not query["query"].strip():
            raise ValueError(f"{path}: query without id or text: {query!r}")
        if query.get("persona") not in PERSONAS:
            raise ValueError(f"{path}: {qid}: persona must be one of {PERSONAS}")
        if not isinstance(query.get("paraphrase"), bool):
            raise ValueError(f"{path}: {qid}: 'paraphrase' must be true or false")
        judgments = query.get("judgments")
        if not isinstance(judgments, list) or not judgments:
            raise ValueError(f"{path}: {qid}: no judgments")
        for judgment in judgments:
            if judgment.get("grade") not in GRADES or not isinstance(judgment.get("ref"), dict):
                raise ValueError(f"{path}: {qid}: bad judgment {judgment!r}")
        if not pooled:
            query["judgments"] = [j for j in judgments if not j.get("pooled")]
    return data


def qrels_for(
    queries: Iterable[Mapping], passages: Sequence[Mapping], strict: bool = True
) -> dict[str, dict[str, int]]:
    """``{query_id: {passage_id: grade}}`` for judged queries over a set of passages.

    A passage named by several refs of one query keeps the highest grade. With
    ``strict`` a ref that names no passage raises ``ValueError`` (the corpus or
    the parser changed under the judgments); otherwise it is skipped.
    """
    qrels: dict[str, dict[str, int]] = {}
    for query in queries:
        grades: dict[str, int] = {}
        for judgment in query["judgments"]:
            ids = resolve_ref(judgment["ref"], passages)
            if not ids and strict:
                raise ValueError(f"{query['id']}: ref names no passage: {judgment['ref']!r}")
            for pid in ids:
                grades[pid] = max(grades.get(pid, 0), int(judgment["grade"]))
        qrels[query["id"]] = grades
    return qrels


def evaluate(
    run: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Mapping[str, int]],
    k: int = 10,
    groups: Mapping[str, str] | None = None,
) -> dict:
    """Score a run (``{query_id: [passage_id, …]}`` best first) against qrels.

    Every query of ``qrels`` is scored; one missing from the run scores 0.
    A passage repeated in a ranking counts once (at its first rank). ``groups``
    (``{query_id: group name}``, e.g. paraphrase vs keyword) adds per-group means.

    Returns ``{"k", "queries", "per_query": {qid: {"ndcg@k", "recall@k", "rr"}},
    "mean": {"ndcg@k", "recall@k", "mrr"}, "groups": {name: mean…}}``.
    """
    ndcg_key, recall_key = f"ndcg@{k}", f"recall@{k}"
    per_query: dict[str, dict[str, float]] = {}
    for qid, judged in qrels.items():
        seen: set[str] = set()
        ranking: list[str] = []
        for pid in run.get(qid, ()):
            if pid not in seen:
                seen.add(pid)
                ranking.append(pid)
        ranked_grades = [int(judged.get(pid, 0)) for pid in ranking]
        all_grades = [int(g) for g in judged.values()]
        per_query[qid] = {
            ndcg_key: ndcg_at_k(ranked_grades, all_grades, k),
            recall_key: recall_at_k(ranked_grades, sum(1 for g in all_grades if g >= 1), k),
            "rr": reciprocal_rank(ranked_grades, min_grade=2),
        }

    def mean(qids: list[str]) -> dict[str, float]:
        n = len(qids)
        if not n:
            return {ndcg_key: 0.0, recall_key: 0.0, "mrr": 0.0}
        return {
            ndcg_key: sum(per_query[q][ndcg_key] for q in qids) / n,
            recall_key: sum(per_query[q][recall_key] for q in qids) / n,
            "mrr": sum(per_query[q]["rr"] for q in qids) / n,
        }

    result: dict = {
        "k": k,
        "queries": len(per_query),
        "per_query": per_query,
        "mean": mean(list(per_query)),
    }
    if groups is not None:
        names = sorted({groups[q] for q in per_query if q in groups})
        result["groups"] = {
            name: {"queries": len(members), **mean(members)}
            for name in names
            for members in [[q for q in per_query if groups.get(q) == name]]
        }
    return result


def paired_bootstrap(
    before: Sequence[float], after: Sequence[float], resamples: int = 10_000, seed: int = 0
) -> tuple[float, float, float]:
    """(mean of after − before, 2.5th and 97.5th percentile of it over resampled queries).

    Each resample draws as many queries as there are, with replacement, keeping
    each query's two scores together; an interval containing 0 means the change
    is not told apart from which queries happened to be judged.
    """
    if len(before) != len(after) or not before:
        raise ValueError("paired_bootstrap needs two equally long, non-empty score lists")
    diffs = [b - a for a, b in zip(before, after, strict=True)]
    rng = random.Random(seed)
    n = len(diffs)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    low = means[int(0.025 * (resamples - 1))]
    high = means[int(0.975 * (resamples - 1))]
    return sum(diffs) / n, low, high

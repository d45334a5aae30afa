"""The relevance metrics, and the judged query sets over corpus/ (bench/relevance/*.json)."""

from __future__ import annotations

import json
import math
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from indexer.passages import doc_id_for, passages_for
from indexer.reading import parse_file
from indexer.relevance import (
    dcg,
    evaluate,
    load_queries,
    ndcg_at_k,
    qrels_for,
    recall_at_k,
    reciprocal_rank,
    resolve_ref,
)

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
QUERIES = ROOT / "bench" / "relevance" / "queries.json"


# ---------------------------------------------------------------- metrics


def test_dcg_by_hand() -> None:
    assert dcg([]) == 0.0
    assert dcg([7.0]) == 7.0
    assert dcg([7.0, 3.0, 1.0]) == pytest.approx(7 + 3 / math.log2(3) + 1 / 2)


def test_ndcg_perfect_ranking_is_one() -> None:
    assert ndcg_at_k([3, 2, 1], [1, 3, 2]) == pytest.approx(1.0)
    assert ndcg_at_k([3, 3, 2], [2, 3, 3]) == pytest.approx(1.0)


def test_ndcg_reversed_ranking_by_hand() -> None:
    # gains 1, 3, 7 against the ideal 7, 3, 1:
    # (1 + 3/log2 3 + 7/2) / (7 + 3/log2 3 + 1/2) = 6.392789 / 9.392789 = 0.680606
    assert ndcg_at_k([1, 2, 3], [3, 2, 1]) == pytest.approx(0.680606, abs=1e-6)


def test_ndcg_unjudged_and_missing_passages() -> None:
    assert ndcg_at_k([0, 3], [3]) == pytest.approx(1 / math.log2(3))  # 0.630930
    # two grade-3 passages judged, only one found, at rank 1: 7 / (7 + 7/log2 3)
    assert ndcg_at_k([3], [3, 3]) == pytest.approx(7 / (7 + 7 / math.log2(3)))


def test_ndcg_cut_at_k() -> None:
    assert ndcg_at_k([0, 0, 3], [3], k=2) == 0.0
    assert ndcg_at_k([0, 0, 3], [3], k=3) == pytest.approx(0.5)  # 7/log2(4) / 7
    # the ideal is cut at k too: eleven grade-1 passages, all found in the top 10
    assert ndcg_at_k([1] * 10, [1] * 11, k=10) == pytest.approx(1.0)


def test_ndcg_nothing_relevant_is_zero() -> None:
    assert ndcg_at_k([0, 0, 0], []) == 0.0
    assert ndcg_at_k([], [3, 2]) == 0.0
    assert ndcg_at_k([0, 0], [3, 2]) == 0.0


def test_recall_counts_grade_one_and_up() -> None:
    assert recall_at_k([1, 0, 2, 0, 3], n_relevant=4) == pytest.approx(3 / 4)
    assert recall_at_k([1, 0, 2, 0, 3], n_relevant=4, k=2) == pytest.approx(1 / 4)
    assert recall_at_k([0, 0], n_relevant=3) == 0.0
    assert recall_at_k([3, 3], n_relevant=0) == 0.0
    assert recall_at_k([3, 2, 1], n_relevant=3) == 1.0


def test_reciprocal_rank_needs_grade_two_by_default() -> None:
    assert reciprocal_rank([0, 1, 2]) == pytest.approx(1 / 3)
    assert reciprocal_rank([0, 1, 2], min_grade=1) == pytest.approx(1 / 2)
    assert reciprocal_rank([3, 0]) == 1.0
    assert reciprocal_rank([1, 1, 0]) == 0.0
    assert reciprocal_rank([]) == 0.0
    assert reciprocal_rank([0, 0, 3], k=2) == 0.0


PASSAGES = [
    {"id": "a-p0", "kind": "project", "source": "corpus/a.txt", "project_name": "社区矫正经费",
     "indicator_name": None, "text": "社区矫正经费；年度金额 6 万元"},
    {"id": "a-p0i0", "kind": "indicator", "source": "corpus/a.txt", "project_name": "社区矫正经费",
     "indicator_name": "开展警示教育、培训", "level2": "数量指标", "text": "≥14场次"},
    {"id": "a-p0i1", "kind": "indicator", "source": "corpus/a.txt", "project_name": "社区矫正经费",
     "indicator_name": "开展警示教育、培训", "level2": "成本指标", "text": "2500元/场次"},
    {"id": "a-s0", "kind": "narrative", "source": "corpus/a.txt", "project_name": None,
     "indicator_name": None, "text": "（一）加强组织领导。将事前评估融入预算管理"},
    {"id": "b-p0", "kind": "project", "source": "/elsewhere/b.txt",
     "project_name": "冀财政法〔2022〕57 号 提前下达", "indicator_name": None,
     "text": "…"},
    {"id": "b-p0i0", "kind": "indicator", "source": "/elsewhere/b.txt",
     "project_name": "冀财政法〔2022〕57 号 提前下达", "indicator_name": "矫正对象成本",
     "text": "…"},
]  # fmt: skip


def test_resolve_ref_by_kind_file_and_names() -> None:
    ind = {"file": "a.txt", "kind": "indicator", "project": "社区矫正经费"}
    assert resolve_ref({**ind, "indicator": "开展警示教育、培训"}, PASSAGES) == {"a-p0i0", "a-p0i1"}
    assert resolve_ref(
        {**ind, "indicator": "开展警示教育、培训", "level2": "成本指标"}, PASSAGES
    ) == {"a-p0i1"}
    assert resolve_ref(
        {"file": "a.txt", "kind": "project", "project": "社区矫正经费"}, PASSAGES
    ) == {"a-p0"}
    assert resolve_ref(
        {"file": "a.txt", "kind": "narrative", "contains": "加强组织领导"}, PASSAGES
    ) == {"a-s0"}
    # the file name is matched, not the folder; whitespace inside names does not matter
    ref = {"file": "b.txt", "kind": "indicator", "project": "冀财政法〔2022〕57号 提前下达",
           "indicator": "矫正对象成本"}  # fmt: skip
    assert resolve_ref(ref, PASSAGES) == {"b-p0i0"}
    assert resolve_ref({**ref, "file": "a.txt"}, PASSAGES) == set()
    assert (
        resolve_ref({"file": "a.txt", "kind": "project", "project": "社区矫正"}, PASSAGES) == set()
    )


def test_resolve_ref_rejects_malformed_refs() -> None:
    with pytest.raises(ValueError):
        resolve_ref({"file": "a.txt", "kind": "table"}, PASSAGES)
    with pytest.raises(ValueError):
        resolve_ref({"file": "a.txt", "kind": "indicator", "project": "社区矫正经费"}, PASSAGES)
    with pytest.raises(ValueError):
        resolve_ref({"file": "a.txt", "kind": "narrative", "contains": ""}, PASSAGES)


def test_qrels_keep_the_highest_grade_and_flag_dangling_refs() -> None:
    queries = [
        {"id": "q1", "judgments": [
            {"ref": {"file": "a.txt", "kind": "indicator", "project": "社区矫正经费",
                     "indicator": "开展警示教育、培训"}, "grade": 1},
            {"ref": {"file": "a.txt", "kind": "indicator", "project": "社区矫正经费",
                     "indicator": "开展警示教育、培训", "level2": "成本指标"}, "grade": 3},
        ]},
    ]  # fmt: skip
    assert qrels_for(queries, PASSAGES) == {"q1": {"a-p0i0": 1, "a-p0i1": 3}}
    dangling = [{"id": "q2", "judgments": [{"ref": {"file": "x.txt", "kind": "project",
                                                    "project": "无"}, "grade": 2}]}]  # fmt: skip
    with pytest.raises(ValueError, match="q2"):
        qrels_for(dangling, PASSAGES)
    assert qrels_for(dangling, PASSAGES, strict=False) == {"q2": {}}


def test_evaluate_per_query_and_means() -> None:
    qrels = {"q1": {"a": 3, "b": 2, "c": 1}, "q2": {"d": 3}, "q3": {"e": 2}}
    run = {"q1": ["a", "b", "c"], "q2": ["x", "d", "d"]}  # q3 missing from the run
    result = evaluate(
        run, qrels, k=10, groups={"q1": "keyword", "q2": "paraphrase", "q3": "paraphrase"}
    )
    assert result["k"] == 10 and result["queries"] == 3
    q1, q2, q3 = (result["per_query"][q] for q in ("q1", "q2", "q3"))
    assert q1 == {"ndcg@10": pytest.approx(1.0), "recall@10": 1.0, "rr": 1.0}
    assert q2["ndcg@10"] == pytest.approx(1 / math.log2(3))
    assert q2["recall@10"] == 1.0  # "d" repeated counts once
    assert q2["rr"] == 0.5
    assert q3 == {"ndcg@10": 0.0, "recall@10": 0.0, "rr": 0.0}
    mean = result["mean"]
    assert mean["ndcg@10"] == pytest.approx((1 + 1 / math.log2(3)) / 3)
    assert mean["recall@10"] == pytest.approx(2 / 3)
    assert mean["mrr"] == pytest.approx(1.5 / 3)
    assert result["groups"]["keyword"]["queries"] == 1
    assert result["groups"]["paraphrase"]["mrr"] == pytest.approx(0.25)


def test_evaluate_cuts_at_k() -> None:
    qrels = {"q": {"a": 3, "b": 1}}
    result = evaluate({"q": ["x", "y", "a", "b"]}, qrels, k=2)
    assert result["per_query"]["q"] == {"ndcg@2": 0.0, "recall@2": 0.0, "rr": pytest.approx(1 / 3)}


# ---------------------------------------------------------------- the judged queries


HELDOUT = QUERIES.with_name("heldout.json")  # written apart from the glossary, to check it
HELDOUT2 = QUERIES.with_name("heldout2.json")  # written apart from glossary and domain adapter
DEV = QUERIES.with_name("dev.json")  # written apart from everything, to choose fusion settings on


@pytest.fixture(
    scope="module",
    params=[QUERIES, HELDOUT, HELDOUT2, DEV],
    ids=["judged", "heldout", "heldout2", "dev"],
)
def queries(request) -> list[dict]:  # noqa: ANN001 - pytest's request
    return load_queries(request.param)


@pytest.fixture(scope="module")
def corpus_passages() -> list[dict]:
    passages: list[dict] = []
    for path in sorted(CORPUS.glob("*.txt")):
        filing = parse_file(path).to_json()
        filing["source"] = f"corpus/{path.name}"
        passages.extend(passages_for(filing, doc_id_for(filing["source"])))
    return passages


def test_queries_shape(queries: list[dict]) -> None:
    assert len(queries) >= 20
    ids = [q["id"] for q in queries]
    assert len(set(ids)) == len(ids), "query ids must be unique"
    texts = [q["query"].strip() for q in queries]
    assert len(set(texts)) == len(texts), "query texts must be unique"
    personas = Counter(q["persona"] for q in queries)
    assert set(personas) == {"researcher", "journalist", "staff"}
    assert min(personas.values()) >= 5
    assert sum(q["paraphrase"] for q in queries) * 3 >= len(queries)
    for q in queries:
        grades = [j["grade"] for j in q["judgments"]]
        assert 3 in grades, f"{q['id']}: no passage answers it exactly"
        assert len(grades) >= 2, f"{q['id']}: judge more than one passage"


def test_every_corpus_file_is_covered(queries: list[dict]) -> None:
    files = {p.name for p in CORPUS.glob("*.txt")}
    answered = {j["ref"]["file"] for q in queries for j in q["judgments"] if j["grade"] == 3}
    judged = {j["ref"]["file"] for q in queries for j in q["judgments"]}
    assert judged <= files, f"refs to files not in corpus/: {judged - files}"
    assert answered == files, f"files without a grade-3 answer: {files - answered}"


def test_every_ref_resolves_on_the_parsed_corpus(
    queries: list[dict], corpus_passages: list[dict]
) -> None:
    dangling = []
    for q in queries:
        seen: dict[str, dict] = {}
        for judgment in q["judgments"]:
            ids = resolve_ref(judgment["ref"], corpus_passages)
            if not ids:
                dangling.append((q["id"], judgment["ref"]))
            for pid in ids:
                assert pid not in seen, f"{q['id']}: {pid} judged twice ({seen[pid]}, {judgment})"
                seen[pid] = judgment
    assert not dangling, f"refs naming no passage: {dangling}"
    qrels = qrels_for(queries, corpus_passages)
    assert all(qrels[q["id"]] for q in queries)


def _bigrams(text: str) -> set[str]:
    """2-character substrings, spaces and punctuation/symbols dropped (≥ › ： ，…)."""
    kept = "".join(
        ch for ch in text if not ch.isspace() and unicodedata.category(ch)[0] not in "PSZ"
    )
    return {kept[i : i + 2] for i in range(len(kept) - 1)}


def test_paraphrases_share_no_word_with_their_answers(
    queries: list[dict], corpus_passages: list[dict]
) -> None:
    """A paraphrase shares no 2-character substring with the grade-3 passages its
    author named (pooled judgments may find more): not with their text, nor with the
    project name (indicators) or heading (narrative) the index sees alongside. No
    exceptions, numbers included."""
    by_id = {p["id"]: p for p in corpus_passages}
    overlaps = []
    for q in queries:
        if not q["paraphrase"]:
            continue
        words = _bigrams(q["query"])
        for judgment in q["judgments"]:
            if judgment["grade"] != 3 or judgment.get("pooled"):
                continue
            for pid in resolve_ref(judgment["ref"], corpus_passages):
                passage = by_id[pid]
                fields = (passage["text"], passage.get("project_name"), passage.get("heading"))
                shared = words & set().union(*(_bigrams(f or "") for f in fields))
                if shared:
                    overlaps.append((q["id"], q["query"], pid, sorted(shared)))
    assert not overlaps, overlaps


def test_paired_bootstrap_interval() -> None:
    from indexer.relevance import paired_bootstrap

    scores = [0.2, 0.5, 0.9, 0.4]
    assert paired_bootstrap(scores, scores) == (0.0, 0.0, 0.0)
    shifted = paired_bootstrap(scores, [s + 0.1 for s in scores])
    assert shifted == pytest.approx((0.1, 0.1, 0.1))
    before = [0.5] * 40
    after = [0.9] * 10 + [0.4] * 30  # mean change +0.025, half from 10 queries
    mean, low, high = paired_bootstrap(before, after, resamples=2000, seed=1)
    assert mean == pytest.approx(0.025)
    assert -0.1 <= low < 0 < mean < high <= 0.4  # a few big wins are not a sure gain
    assert paired_bootstrap(before, after, resamples=2000, seed=1) == (mean, low, high)
    with pytest.raises(ValueError):
        paired_bootstrap([0.1], [0.1, 0.2])


# ---------------------------------------------------------------- pooling


def test_pooled_judgments_load_or_drop(tmp_path: Path) -> None:
    ref = {"file": "a.txt", "kind": "project", "project": "P"}
    queries = [
        {
            "id": "q1",
            "query": "x",
            "persona": "staff",
            "paraphrase": False,
            "judgments": [
                {"grade": 3, "ref": ref},
                {"grade": 0, "ref": {**ref, "project": "Q"}, "pooled": True},
                {"grade": 2, "ref": {**ref, "project": "R"}, "pooled": True},
            ],
        }
    ]
    path = tmp_path / "q.json"
    path.write_text(json.dumps(queries), encoding="utf-8")
    assert [j["grade"] for j in load_queries(path)[0]["judgments"]] == [3, 0, 2]
    assert [j["grade"] for j in load_queries(path, pooled=False)[0]["judgments"]] == [3]
    queries[0]["judgments"][0]["grade"] = 4
    path.write_text(json.dumps(queries), encoding="utf-8")
    with pytest.raises(ValueError, match="bad judgment"):
        load_queries(path)


def test_pool_refs_name_their_passage(corpus_passages: list[dict]) -> None:
    """Every passage gets a ref that names it (and, for indicators, only rows like it)."""
    from relevance_pool import ref_for

    for passage in corpus_passages:
        named = resolve_ref(ref_for(passage, corpus_passages), corpus_passages)
        assert passage["id"] in named
        if passage["kind"] == "narrative":
            assert named == {passage["id"]}
        for other in named - {passage["id"]}:  # identical names, same level
            twin = next(p for p in corpus_passages if p["id"] == other)
            assert twin["indicator_name"] == passage["indicator_name"]
            assert twin["project_name"] == passage["project_name"]


def test_pool_items_hide_ranks_and_merge_adds_only_the_unjudged(
    corpus_passages: list[dict],
) -> None:
    import relevance_pool as pool

    queries = load_queries(DEV)[:3]
    qrels = qrels_for(queries, corpus_passages)
    unjudged = [p["id"] for p in corpus_passages if all(p["id"] not in g for g in qrels.values())]
    ranked = {q["id"]: unjudged[:5] + sorted(qrels[q["id"]])[:2] for q in queries}
    items, key = pool.pool_items(queries, qrels, ranked, corpus_passages, "dev")
    assert set(items[0]) == {"item", "query", "kind", "filer", "project", "heading", "text"}
    for q in queries:
        mine = [key[i["item"]] for i in items if key[i["item"]]["qid"] == q["id"]]
        pooled = [e["pid"] for e in mine if not e["check"]]
        assert sorted(pooled) == sorted(unjudged[:5])  # judged hits are not asked again
        checks = [e for e in mine if e["check"]]
        assert len(checks) == 3 and sum(e["grade"] is not None for e in checks) == 2
        assert [e["pid"] for e in mine] != ranked[q["id"]]  # shuffled, so no rank shows
    # the assessor agrees on the known passages and grades everything else 2
    grades = {i: (e["grade"] if e["grade"] is not None else 2) for i, e in key.items()}
    added, skipped, report = pool.merge(queries, corpus_passages, key, grades)
    assert report["same grade"] == report["known passages"] == 6
    assert report["noise passages, grades"] == {2: 3}
    merged = qrels_for(queries, corpus_passages)
    for q in queries:
        new = set(merged[q["id"]]) - set(qrels[q["id"]])
        assert set(unjudged[:5]) <= new
        assert all(merged[q["id"]][pid] == 2 for pid in new)
        assert {pid: g for pid, g in merged[q["id"]].items() if pid in qrels[q["id"]]} == qrels[
            q["id"]
        ]
    assert added >= 3 * 5 and skipped == 0
    with pytest.raises(SystemExit, match="no grade"):
        pool.merge(queries, corpus_passages, key, {})

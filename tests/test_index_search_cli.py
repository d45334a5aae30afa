"""``jixiao index`` and ``jixiao search --json`` end to end on corpus/, with the real model."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from indexer import schema
from indexer.cli import main
from indexer.store.embedded import EmbeddedStore

ROOT = Path(__file__).resolve().parents[1]
CORPUS_PASSAGES = 552  # 70 projects + 452 indicators + 30 narrative paragraphs of corpus/


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A copy of corpus/ indexed once; the embedding cache is shared by every test here."""
    base = tmp_path_factory.mktemp("cli")
    corpus = base / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    os.environ["JIXIAO_CACHE"] = str(base / "cache.sqlite")
    assert main(["index", str(corpus), "--store", str(base / "store")]) == 0
    return {"base": base, "corpus": corpus, "store": base / "store"}


def search(capsys: pytest.CaptureFixture[str], store: Path, *args: str) -> dict:
    assert main(["search", *args, "--json", "--store", str(store)]) == 0
    return json.loads(capsys.readouterr().out)


def test_index_summary_and_idempotent_rerun(env: dict, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["index", str(env["corpus"]), "--store", str(env["store"])]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("jixiao index: 5 files: 0 indexed, 5 unchanged, 0 failed; 0 passages")
    store = EmbeddedStore(env["store"], create=False)
    assert store.count() == CORPUS_PASSAGES
    store.close()


def test_search_json_follows_the_contract(env: dict, capsys: pytest.CaptureFixture[str]) -> None:
    result = search(capsys, env["store"], "社区矫正 成本指标")
    assert {"query", "mode", "total", "hits", "facets"} <= result.keys()
    assert result["mode"] == "hybrid" and result["total"] >= len(result["hits"]) > 0
    assert set(result["facets"]) == set(schema.facet_fields())
    for hit in result["hits"]:
        assert {
            "id",
            "kind",
            "score",
            "text",
            "highlight",
            "doc",
            "project",
            "indicator",
        } <= hit.keys()
        assert {"id", "source", "title", "province", "city", "county", "year", "department"} <= hit[
            "doc"
        ].keys()
        assert (hit["indicator"] is None) == (hit["kind"] != "indicator")
    indicators = [h for h in result["hits"] if h["kind"] == "indicator"]
    assert len({h["doc"]["department"] for h in indicators}) >= 2
    top = indicators[0]
    assert top["indicator"]["level2"] == "成本指标"
    assert "社区矫正" in (top["project"]["name"] or "") + top["text"]
    assert "<mark>成本指标</mark>" in top["highlight"]


def test_facets_count_the_whole_match_set(env: dict, capsys: pytest.CaptureFixture[str]) -> None:
    result = search(capsys, env["store"], "满意度", "--mode", "keyword", "--size", "1")
    assert len(result["hits"]) == 1
    assert sum(f["count"] for f in result["facets"]["kind"]) == result["total"] > 10
    assert sum(f["count"] for f in result["facets"]["province"]) == result["total"]


def test_filters_same_field_or_other_fields_and(
    env: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    one = search(capsys, env["store"], "满意度", "--mode", "keyword", "--filter", "county=临西县")
    two = search(
        capsys, env["store"], "满意度", "--mode", "keyword",
        "--filter", "county=临西县", "--filter", "county=乐亭县",
    )  # fmt: skip
    assert 0 < one["total"] < two["total"]
    assert {h["doc"]["county"] for h in two["hits"]} <= {"临西县", "乐亭县"}
    both = search(
        capsys, env["store"], "满意度", "--mode", "keyword",
        "--filter", "county=临西县", "--filter", "county=乐亭县", "--filter", "year=2024",
    )  # fmt: skip
    assert both["total"] > 0 and {h["doc"]["year"] for h in both["hits"]} == {2024}
    assert both["total"] < two["total"]


def test_semantic_mode_finds_paraphrases(env: dict, capsys: pytest.CaptureFixture[str]) -> None:
    query = "矫正人员再次违法比例"
    result = search(capsys, env["store"], query, "--mode", "semantic", "--size", "3")
    assert all("犯罪率" in h["text"] for h in result["hits"])
    keyword = search(capsys, env["store"], query, "--mode", "keyword")
    assert keyword["total"] == 0  # no passage has these words: only meaning finds them


def ids_of(result: dict) -> set[str]:
    return {hit["id"] for hit in result["hits"]}


def test_an_exclusion_holds_in_every_mode(env: dict, capsys: pytest.CaptureFixture[str]) -> None:
    """社区矫正 -经费: no mode returns a passage that 经费 alone finds; totals and facet
    counts are over what is kept; the encoder never hears of 经费."""
    from indexer.store.base import Filters
    from indexer.tokenize import query_groups

    store = env["store"]
    opened = EmbeddedStore(store, create=False)
    excluded = {pid for pid, _ in opened.keyword(query_groups("经费"), Filters(), 10_000, []).hits}
    opened.close()
    assert len(excluded) > 100
    kept = {}
    for mode in ("keyword", "semantic", "hybrid"):
        result = search(capsys, store, "社区矫正 -经费", "--mode", mode, "--size", "100")
        kept[mode] = ids_of(result)
        assert result["total"] == len(kept[mode]) > 0, mode  # all of it on one page
        assert not kept[mode] & excluded, mode
        assert sum(f["count"] for f in result["facets"]["kind"]) == result["total"]
        assert not any("<mark>经费" in hit["highlight"] for hit in result["hits"])
    assert kept["hybrid"] == kept["keyword"] | kept["semantic"]
    unqualified = search(capsys, store, "社区矫正", "--mode", "semantic", "--size", "100")
    assert kept["semantic"] < ids_of(unqualified)  # the same candidates, less the excluded


def test_a_phrase_holds_in_every_mode(env: dict, capsys: pytest.CaptureFixture[str]) -> None:
    """“社区矫正 经费”: semantic and hybrid hits are among the passages with the phrase."""
    store = env["store"]
    phrased = search(capsys, store, "“社区矫正 经费”", "--mode", "keyword", "--size", "100")
    loose = search(capsys, store, "社区矫正 经费", "--mode", "keyword", "--size", "100")
    assert 0 < phrased["total"] < loose["total"]
    for mode in ("semantic", "hybrid"):
        result = search(capsys, store, "“社区矫正 经费”", "--mode", mode, "--size", "100")
        assert ids_of(result) <= ids_of(phrased) and result["total"] == len(ids_of(result)) > 0


def test_a_query_of_exclusions_alone_browses_the_rest(
    env: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    """After ``--`` (argparse reads a lone ``-经费`` as an option), in any mode."""
    store = env["store"]
    excluded = search(capsys, store, "经费", "--mode", "keyword", "--size", "1")["total"]
    assert main(["search", "--json", "--store", str(store), "--", "-经费"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["total"] == CORPUS_PASSAGES - excluded and result["mode"] == "hybrid"
    assert result["expansions"] == [] and "经费" not in result["hits"][0]["text"]


def test_plain_output_lists_hits_and_glossary_terms(
    env: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["search", "出狱人员 补助", "--size", "3", "--store", str(env["store"])]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.match(r"\d+ matches for '出狱人员 补助' \(hybrid, [\d.]+ ms\)$", lines[0])
    assert lines[1].startswith("also looked for: ") and "刑满释放人员" in lines[1].split()
    assert [line.split(".")[0].strip() for line in lines[2::2]] == ["1", "2", "3"]


def test_bad_parameters_and_missing_store(
    env: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "x", "--store", str(env["store"]), "--filter", "colour=red"]) == 2
    assert "unknown filter field 'colour'" in capsys.readouterr().err
    assert main(["search", "x", "--store", str(env["store"]), "--size", "500"]) == 2
    assert "size" in capsys.readouterr().err
    # the API's limits on filter values, the same in the CLI
    long_value = ["--filter", "province=" + "省" * 101]
    assert main(["search", "x", "--store", str(env["store"]), *long_value]) == 2
    assert "province value longer than 100 characters" in capsys.readouterr().err
    many = [arg for i in range(51) for arg in ("--filter", f"department=d{i}")]
    assert main(["search", "x", "--store", str(env["store"]), *many]) == 2
    assert "more than 50 filter values" in capsys.readouterr().err
    assert main(["search", "x", "--store", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "no index at" in err and "Traceback" not in err


def test_searching_with_another_model_is_refused(
    env: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ["--store", str(env["store"]), "--model", "another/encoder"]
    for command in (["search", "社区矫正"], ["search", "社区矫正", "--mode", "semantic"], ["eval"]):
        assert main([*command, *store]) == 2
        err = capsys.readouterr().err
        assert "built with the embedding model multilingual-e5-small-jixiao@" in err
        assert "another/encoder" in err and "Traceback" not in err
    # keyword search compares no vectors: it answers (and never loads the model)
    assert main(["search", "社区矫正", "--mode", "keyword", "--json", *store]) == 0
    assert json.loads(capsys.readouterr().out)["total"] > 0


def test_an_unloadable_model_is_one_line_and_stops_the_run(
    env: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-model"
    assert (
        main(["index", str(env["corpus"]), "--store", str(tmp_path / "s"), "--model", str(missing)])
        == 2
    )
    err = capsys.readouterr().err
    assert f"cannot load the embedding model {missing}: no such folder" in err
    assert "Traceback" not in err
    assert not (tmp_path / "s").exists()  # no empty store left to answer searches with nothing


def test_embedders_of_one_model_share_its_weights() -> None:
    from indexer.embeddings import Embedder

    first, second = Embedder(), Embedder()
    assert first._load() is second._load()
    assert np.allclose(first.encode_query("培训"), second.encode_query("培训"))


def test_changed_file_replaces_its_passages(env: dict, capsys: pytest.CaptureFixture[str]) -> None:
    changed = env["base"] / "changed"
    changed.mkdir()
    path = changed / "002.txt"
    text = (env["corpus"] / "002_19f2a4c4a62c75e5.txt").read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    store_dir = env["base"] / "store-changed"
    assert main(["index", str(path), "--store", str(store_dir)]) == 0
    path.write_text(text.replace("安置帮教宣传教育", "冰糖葫芦"), encoding="utf-8")
    capsys.readouterr()
    assert main(["index", str(path), "--store", str(store_dir)]) == 0
    assert "1 indexed" in capsys.readouterr().out
    new = search(capsys, store_dir, "冰糖葫芦", "--mode", "keyword")
    old = search(capsys, store_dir, "安置帮教宣传教育", "--mode", "keyword")
    assert new["total"] == 3  # the phrase stood in three indicators
    assert all("安置帮教宣传教育" not in h["text"] for h in old["hits"])
    store = EmbeddedStore(store_dir, create=False)
    assert store.count() == 125  # 10 projects + 115 indicators, once each
    store.close()


def test_kill_minus_nine_during_index_then_rerun(env: dict) -> None:
    """A killed ``jixiao index`` leaves a store that answers; the next run completes it."""
    store_dir = env["base"] / "store-killed"
    command = [
        sys.executable,
        "-m",
        "indexer.cli",
        "index",
        str(env["corpus"]),
        "--store",
        str(store_dir),
    ]
    child = subprocess.Popen(
        command, env={**os.environ}, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        if (store_dir / "jixiao.sqlite").exists() and _filings(store_dir) >= 1:
            break
        time.sleep(0.05)
    if child.poll() is None:
        child.send_signal(signal.SIGKILL)
    child.wait()
    store = EmbeddedStore(store_dir, create=False)  # opens after the kill …
    store.count()  # … and answers
    store.close()
    rerun = subprocess.run(command, capture_output=True, text=True, check=False)
    assert rerun.returncode == 0, rerun.stderr
    store = EmbeddedStore(store_dir, create=False)
    assert store.count() == CORPUS_PASSAGES
    assert len(store.content_hashes()) == 5
    ids = [h for h, _ in store.keyword([], schema_filters(), 10_000, []).hits]
    assert len(ids) == len(set(ids)) == CORPUS_PASSAGES
    store.close()


def schema_filters():  # noqa: ANN201 - a Filters with nothing in it
    from indexer.store.base import Filters

    return Filters()


def _filings(store_dir: Path) -> int:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{store_dir / 'jixiao.sqlite'}?mode=ro", uri=True) as db:
            return db.execute("SELECT count(*) FROM filings").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_hybrid_total_is_the_union_of_both_match_sets(env: dict) -> None:
    """Semantic candidates that the keyword query also matched are counted once."""
    from indexer.embeddings import Embedder
    from indexer.search import Searcher, make_request, nearest, query_text
    from indexer.store.base import Filters
    from indexer.tokenize import query_groups

    store = EmbeddedStore(env["store"], create=False)
    embedder = Embedder()
    query = "产出指标"  # matches far more than the 100 ids a keyword query returns
    result = Searcher(store, embedder).search(make_request(query, "hybrid", 10))
    keyword = store.keyword(query_groups(query), Filters(), 10_000, [])
    near = nearest(store, embedder.encode_query(query_text(query)), Filters())
    union = {pid for pid, _ in keyword.hits} | {pid for pid, _ in near}
    assert keyword.total > 100
    assert result["total"] == len(union)
    assert sum(f["count"] for f in result["facets"]["kind"]) == len(union)
    store.close()


def test_every_passage_is_found_by_its_own_vector_without_filters(env: dict) -> None:
    """corpus/ repeats some indicator rows word for word, so their vectors are twins;
    HNSW can leave a twin unreachable, which is why small kinds are searched exactly.
    Unfiltered, every passage must come back for its own vector, as it does filtered."""
    from indexer.store.base import Filters

    store = EmbeddedStore(env["store"], create=False)
    vectors = store.vectors
    assert vectors.graphs  # what a reopened store searches
    live = np.flatnonzero(vectors.rows[: vectors.top] >= 0)
    found = set()
    for slot in live:
        query = vectors.vec16[slot].astype(np.float32)
        found |= {pid for pid, _ in store.knn(query, Filters(), 10)}
    assert len(found) == len(live) == CORPUS_PASSAGES
    store.close()


@pytest.mark.parametrize("mode", ["hybrid", "semantic"])
def test_a_facet_count_is_what_clicking_it_gives(env: dict, mode: str) -> None:
    """Filters narrow the match set in every mode, they do not refill the semantic
    candidates: each facet value's count is the total of the search filtered by it."""
    from indexer.embeddings import Embedder
    from indexer.search import Searcher, make_request
    from indexer.store.base import Filters

    store = EmbeddedStore(env["store"], create=False)
    searcher = Searcher(store, Embedder())
    checked = 0
    # the last three have rows repeated word for word tied with the pool's last
    for query in ("社区矫正", "社区矫正 成本指标", "重新犯罪率", "经费"):
        everything = searcher.search(make_request(query, mode, 100))
        matched = {hit["id"] for hit in everything["hits"]}
        for field, values in everything["facets"].items():
            for facet in values:
                filters = Filters({field: (str(facet["value"]),)})
                narrowed = searcher.search(make_request(query, mode, 100, filters=filters))
                assert narrowed["total"] == facet["count"], (query, field, facet)
                if everything["total"] <= 100:  # all of the match set is on that page
                    assert {hit["id"] for hit in narrowed["hits"]} <= matched
                checked += 1
    assert checked >= 60
    store.close()


def test_fusion_sweep_weights_move_hybrid_between_the_two_lists(env: dict) -> None:
    """bench/fusion_sweep.py: the semantic weight reaches the fusion, the shipped row is marked."""
    from fusion_sweep import format_rows, sweep

    from indexer.embeddings import Embedder
    from indexer.eval_runner import run_eval
    from indexer.search import Searcher

    dev = ROOT / "bench" / "relevance" / "dev.json"
    store = EmbeddedStore(env["store"], create=False)
    embedder = Embedder()
    results = sweep(
        lambda k, w: Searcher(store, embedder, k, w), dev, ks=(60,), weights=(1e-6, 1.0, 1e6)
    )
    alone = run_eval(Searcher(store, embedder), dev, modes=("keyword", "semantic"))
    store.close()
    lean_keyword, shipped, lean_semantic = (result for _, _, result in results)
    # all but the semantic list's weight vanishes: hybrid ranks as semantic search does
    assert lean_semantic["per_query"] == alone["semantic"]["per_query"]
    # keyword matches first, semantic ones only fill the page: never worse than keyword alone
    for qid, scores in alone["keyword"]["per_query"].items():
        assert lean_keyword["per_query"][qid]["ndcg@10"] >= scores["ndcg@10"] - 1e-9
    assert lean_keyword["per_query"] != lean_semantic["per_query"]
    rows = format_rows(results)
    assert len(rows) == 2 + 3
    assert sum("**60**" in row for row in rows) == 1
    assert f"{shipped['mean']['ndcg@10']:.3f}" in next(r for r in rows if "**60**" in r)


def test_eval_scores_with_or_without_pooled_judgments(
    env: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`jixiao eval --unpooled` leaves out the judgments that pooling added."""
    from relevance_pool import ref_for

    from indexer.eval_runner import stored_passages
    from indexer.relevance import resolve_ref

    store = EmbeddedStore(env["store"], create=False)
    passages = stored_passages(store)
    store.close()
    query = "社区矫正 成本指标"
    top = [hit["id"] for hit in search(capsys, env["store"], query, "--size", "10")["hits"]]
    by_id = {p["id"]: p for p in passages}
    far = next(
        p
        for p in passages
        if not resolve_ref(ref_for(p, passages), passages) & set(top) and p["kind"] == "project"
    )
    judged = [
        {"ref": ref_for(far, passages), "grade": 3},
        {"ref": ref_for(by_id[top[0]], passages), "grade": 3, "pooled": True},
    ]
    entry = {"id": "q", "query": query, "persona": "staff", "paraphrase": False}
    file = tmp_path / "q.json"
    file.write_text(json.dumps([{**entry, "judgments": judged}]), encoding="utf-8")
    scores = {}
    for extra in ([], ["--unpooled"]):
        args = ["eval", "--store", str(env["store"]), "--queries", str(file), "--json", *extra]
        assert main(args) == 0
        scores[bool(extra)] = json.loads(capsys.readouterr().out)["hybrid"]["mean"]
    assert scores[True]["ndcg@10"] == 0.0  # its one first judgment is not in the top 10
    assert scores[False]["ndcg@10"] > 0.3  # the pooled one is the first hit
    assert scores[False]["mrr"] == 1.0

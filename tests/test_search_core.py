"""Pure parts of search: tokens, passages, fusion, highlights, parameters, embedding cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer import schema
from indexer.embeddings import EmbeddingCache, embed_cached
from indexer.passages import doc_id_for, embedding_text, passages_for
from indexer.reading import parse_file
from indexer.search import (
    QueryError,
    highlight,
    hit_from_passage,
    make_request,
    parse_filters,
    rrf,
)
from indexer.tokenize import index_tokens, query_groups

ROOT = Path(__file__).resolve().parents[1]


def test_index_tokens_keep_domain_words_whole_and_their_parts() -> None:
    tokens = index_tokens("每名社区矫正对象培训费用 ≤350 元，安置帮教")
    for token in ("社区矫正", "社区", "矫正", "对象", "安置帮教", "安置", "帮教", "350"):
        assert token in tokens
    assert not any(t in tokens for t in ("，", " ", "≤"))


def test_query_groups_drop_function_words_and_repeats() -> None:
    assert query_groups("社区矫正 成本指标") == [
        ["社区矫正", "ctx:社区矫正"],
        ["成本指标", "ctx:成本指标"],
    ]
    assert [g[0] for g in query_groups("社区矫正的成本 社区矫正")] == ["社区矫正", "成本"]
    assert query_groups("  ，。 ") == []


def test_full_width_digits_and_letters_match_their_ascii_forms() -> None:
    assert query_groups("满意度 ９０％") == query_groups("满意度 90%")
    assert query_groups("ＰＰＰ项目") == query_groups("ppp项目")
    assert "90" in index_tokens("满意度≥９０％") and "90" in index_tokens("满意度≥90%")


def test_every_query_token_of_a_phrase_is_indexed_in_that_phrase() -> None:
    text = "2025年全区社区矫正经费：对困难、残疾、患病社区矫正对象进行走访、帮扶"
    tokens = set(index_tokens(text))
    for query in ("社区矫正 帮扶", "社区矫正对象", "走访"):
        assert all(group[0] in tokens for group in query_groups(query)), query


@pytest.fixture(scope="module")
def passages() -> list[dict]:
    filing = parse_file(ROOT / "corpus" / "002_19f2a4c4a62c75e5.txt").to_json()
    return passages_for(filing, doc_id_for(filing["source"]))


def test_passages_cover_projects_and_indicators(passages: list[dict]) -> None:
    kinds = [p["kind"] for p in passages]
    assert kinds.count("project") == 10
    assert kinds.count("indicator") == 115
    assert len({p["id"] for p in passages}) == len(passages)
    assert [p["position"] for p in passages] == list(range(len(passages)))
    allowed = set(schema.stored_fields())
    assert all(set(p) <= allowed for p in passages)


def test_indicator_passage_carries_its_project_and_levels(passages: list[dict]) -> None:
    cost = next(p for p in passages if p.get("value") == "260元/人/年")
    assert cost["text"] == "产出指标 › 成本指标：安置帮教宣传教育 260元/人/年"
    assert cost["project_name"] == "2025年全区安置帮教经费"
    assert (cost["level1"], cost["level2"], cost["op"], cost["low"], cost["unit"]) == (
        "产出指标", "成本指标", "=", 260.0, "元/人/年",
    )  # fmt: skip
    assert (cost["province"], cost["county"], cost["year"]) == ("宁夏回族自治区", "平罗县", "2025")
    # The project's words are searchable on its indicators, marked as context.
    tokens = set(cost["tokens"].split())
    assert {"安置帮教", "成本指标", "ctx:安置帮教", "ctx:经费"} <= tokens
    assert "经费" not in tokens and "ctx:成本指标" not in tokens
    # The encoder sees what the reader sees, level path included.
    assert embedding_text(cost) == "产出指标 › 成本指标：安置帮教宣传教育 260元/人/年"


def test_rrf_fuses_by_reciprocal_rank() -> None:
    fused = rrf([["a", "b", "c"], ["c", "a", "d"]], k=60)
    scores = dict(fused)
    assert [item for item, _ in fused][:2] == ["a", "c"]
    assert scores["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert scores["d"] == pytest.approx(1 / 63)
    assert rrf([]) == []


def test_rrf_weights_lean_on_one_list() -> None:
    keyword, semantic = ["a", "b"], ["b", "c"]
    assert [item for item, _ in rrf([keyword, semantic], k=1)] == ["b", "a", "c"]
    leaning = rrf([keyword, semantic], k=1, weights=[1.0, 3.0])
    assert [item for item, _ in leaning] == ["b", "c", "a"]
    assert dict(leaning)["c"] == pytest.approx(3 / 3)
    assert dict(leaning)["a"] == pytest.approx(1 / 2)
    with pytest.raises(ValueError):
        rrf([keyword, semantic], weights=[1.0])


def test_highlight_marks_terms_and_escapes_everything_else() -> None:
    assert (
        highlight("每名社区矫正对象≤350元", ["社区矫正"]) == "每名<mark>社区矫正</mark>对象≤350元"
    )
    evil = '<script>alert(1)</script>"><img src=x onerror=alert(1)> 矫正'
    marked = highlight(evil, ["script", "矫正", "<img"])
    assert "<script>" not in marked and "<img" not in marked
    assert marked.count("<mark>") == 4  # script ×2, <img, 矫正
    assert "&lt;<mark>script</mark>&gt;" in marked
    assert highlight("社区矫正", ["社区", "社区矫正", "矫正"]) == "<mark>社区矫正</mark>"


def test_parameters_are_validated() -> None:
    filters = parse_filters([("year", "2021"), ("province", "河北省"), ("year", "2023")])
    assert filters.terms == {"year": ("2021", "2023"), "province": ("河北省",)}
    with pytest.raises(QueryError) as err:
        parse_filters([("color", "red")])
    assert err.value.param == "color"
    for kwargs, param in (
        ({"mode": "fuzzy"}, "mode"),
        ({"size": 0}, "size"),
        ({"size": 101}, "size"),
        ({"page": 0}, "page"),
    ):
        with pytest.raises(QueryError) as err:
            make_request("社区矫正", **kwargs)
        assert err.value.param == param
    with pytest.raises(QueryError):
        make_request("矫" * 201)


@pytest.mark.parametrize("query", ["！？。，、", "🙂", "\x00", " ≤ % "])
def test_a_query_of_symbols_alone_browses(query: str) -> None:
    # no word to match or embed: a hybrid search would otherwise be 50 arbitrary neighbours
    assert make_request(query, "hybrid").query == ""
    assert make_request(f"{query}社区矫正{query}").query.strip("！？。，、🙂\x00 ≤%") == "社区矫正"


class CountingEmbedder:
    """Deterministic vectors from text, counting how many texts it was asked to encode."""

    name = "counting"

    def __init__(self) -> None:
        self.encoded = 0

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        self.encoded += len(texts)
        rng = [np.random.default_rng(abs(hash(t)) % 2**32) for t in texts]
        return np.stack([r.standard_normal(8).astype(np.float32) for r in rng])


def test_a_damaged_cache_is_moved_aside_and_one_that_cannot_open_is_one_error(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from indexer.errors import CacheUnavailable

    path = tmp_path / "cache.sqlite"
    path.write_text("junk, not a database")
    cache = EmbeddingCache(path)
    _, encoded = embed_cached(["甲"], CountingEmbedder(), cache)
    assert encoded == 1
    cache.close()
    assert "is damaged; moved to" in capfd.readouterr().err
    assert (tmp_path / "cache.sqlite.damaged").read_text() == "junk, not a database"
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    with pytest.raises(CacheUnavailable, match="embedding cache .* cannot be opened"):
        EmbeddingCache(blocked / "cache.sqlite")  # its folder is a file


def test_embeddings_are_cached_by_text(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    embedder = CountingEmbedder()
    first, encoded = embed_cached(["甲", "乙", "甲"], embedder, cache)
    assert encoded == 2 and embedder.encoded == 2
    assert np.array_equal(first[0], first[2])
    second, encoded = embed_cached(["乙", "丙", "甲"], embedder, cache)
    assert encoded == 1 and embedder.encoded == 3
    assert np.array_equal(second[0], first[1]) and np.array_equal(second[2], first[0])
    cache.close()
    reopened = EmbeddingCache(tmp_path / "cache.sqlite")
    _, encoded = embed_cached(["丙"], embedder, reopened)
    assert encoded == 0


def test_a_change_target_rides_from_the_reader_to_the_search_hit(tmp_path: Path) -> None:
    seed = (ROOT / "corpus" / "002_19f2a4c4a62c75e5.txt").read_text(encoding="utf-8")
    level = "重新违法犯罪率下降\t明显改善"
    assert level in seed
    path = tmp_path / "change.txt"
    path.write_text(seed.replace(level, "重新违法犯罪率\t同比下降5%", 1), encoding="utf-8")
    filing = parse_file(path).to_json()
    changed = [i for p in filing["projects"] for i in p["indicators"] if i["change"]]
    assert [(i["value"], i["op"], i["low"], i["high"], i["unit"]) for i in changed] == [
        ("同比下降5%", "=", 5.0, 5.0, "%"),  # the size of the change as stated
    ]
    assert changed[0]["change"] == "decrease"
    passages = passages_for(filing, "d")
    passage = next(p for p in passages if p.get("value") == "同比下降5%")
    assert passage["change"] == "decrease"
    assert all(set(p) <= set(schema.stored_fields()) for p in passages)  # declared in mappings/
    indicator = hit_from_passage(passage, 1.0, [])["indicator"]
    assert (indicator["op"], indicator["low"], indicator["unit"]) == ("=", 5.0, "%")
    assert indicator["change"] == "decrease"

"""Query understanding: numbers, amounts, years, regions, traditional characters, units.

Each test states a QA defect as the index and the query see it: a query token must
be among the passage's tokens exactly when the passage should match.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from indexer import passages, schema
from indexer.passages import passages_for
from indexer.search import Searcher, highlight, make_request
from indexer.store.base import FilingRecord
from indexer.store.embedded import EmbeddedStore
from indexer.targets import parse_target
from indexer.tokenize import highlight_terms, index_tokens, query_groups


def _matches(query: str, tokens: list[str]) -> bool:
    """Whether a passage with ``tokens`` matches ``query`` as the stores' AND of groups does."""
    have = set(tokens)
    return all(any(t in have for t in group) for group in query_groups(query))


def _mark(text: str, query: str) -> str:
    return highlight(text, highlight_terms(query))


def test_a_decimal_number_matches_only_itself() -> None:
    assert _matches("8.3", index_tokens("完成率 8.3%"))
    assert not _matches("8.3", index_tokens("培训经费8万元，其余≤3万元"))
    assert not _matches("59.183", index_tokens("年度金额 183.59 万元"))
    assert _matches("8.30", index_tokens("比例 8.3"))  # one spelling per number


def test_a_number_is_highlighted_only_whole() -> None:
    assert _mark("160+ 人，≤0.2百分比", "0.2") == "160+ 人，≤<mark>0.2</mark>百分比"
    assert "<mark>" not in _mark("18.35 万元", "8.3")


def test_an_amount_in_wan_matches_however_its_unit_is_written() -> None:
    for text in ("年度金额 92 万元", "经费92万元", "年度本级预算金额 92万"):
        for query in ("92万", "92万元", "92"):
            assert _matches(query, index_tokens(text)), (query, text)
    assert not _matches("92万", index_tokens("92人，年度金额 5 万元"))
    assert _mark("年度金额 92 万元", "92万") == "年度金额 <mark>92 万元</mark>"
    assert _matches("183.59万", index_tokens("≤183.59万元"))
    assert _matches("万元", index_tokens("年度金额 92 万元"))  # 万元 alone still found


def test_a_year_in_the_query_is_the_year_not_its_character() -> None:
    assert query_groups("2021年 普法") == query_groups("2021 普法") == query_groups("2021年度 普法")
    assert "年" not in highlight_terms("社区矫正 2024年")
    marked = _mark("2024年度社区矫正", "社区矫正 2024年")
    assert marked == "<mark>2024</mark>年度<mark>社区矫正</mark>"


FILING = {
    "source": "x.txt",
    "province": "河北省",
    "city": "唐山市",
    "county": "乐亭县",
    "year": 2021,
    "department": "乐亭县司法局",
    "projects": [
        {"name": "普法宣传经费", "indicators": [{"name": "普法宣传场次", "value": "≥6次"}]}
    ],
    "sections": [{"heading": None, "text": "开展社区矫正工作"}],
}


def test_a_passage_matches_its_year_and_every_name_of_its_region_as_context() -> None:
    for passage in passages_for(FILING, "d"):
        tokens = passage["tokens"].split()
        for query in ("2021年 普法", "河北省", "河北", "唐山市", "唐山", "乐亭县", "乐亭"):
            if query.endswith("普法") and passage["kind"] == "narrative":
                continue
            assert _matches(query, tokens), (query, passage["kind"])
        # context, not the passage's own words: they weigh less than its text
        assert "ctx:河北省" in tokens and "河北省" not in tokens
        assert not _matches("2023 普法", tokens)


def test_short_region_names_drop_suffixes_and_peoples() -> None:
    assert passages.short_region_name("宁夏回族自治区") == "宁夏"
    assert passages.short_region_name("郴州市") == "郴州"
    assert passages.short_region_name("湘西土家族苗族自治州") == "湘西"
    assert passages.short_region_name("城区") is None  # one character left
    words = passages.region_words("北京市", "北京市", "平罗县")
    assert words == ["北京市", "北京", "平罗县", "平罗"]
    assert passages.short_region_name("东城区") is None  # 东城 is an everyday word (regions.py)


def test_traditional_characters_are_simplified_before_tokenising() -> None:
    assert query_groups("社區矯正") == query_groups("社区矫正")
    assert highlight_terms("社區矯正") == ["社区矫正"]


def test_a_compound_unit_matches_the_unit_in_any_spelling() -> None:
    for query in ("元/人/年", "元/人·年"):
        assert query_groups(query) == [["元/人·年", "ctx:元/人·年"]]
        for text in ("宣传教育 260元/人/年", "宣传教育 260元/人·年", "宣传教育 260元/人•年"):
            assert _matches(query, index_tokens(text)), (query, text)
    assert not _matches("元/人/年", index_tokens("刑满释放人员 2025年 每次500元"))
    assert not _matches("人/年", index_tokens("2025年开展帮教25人"))
    assert _mark("260元/人/年", "元/人·年") == "260<mark>元/人/年</mark>"
    assert _mark("刑满释放人员", "人/年") == "刑满释放人员"
    assert "人" in index_tokens("260元/人/年")  # the unit's words stay searchable alone


def test_a_unit_joined_with_每_is_the_unit_with_slashes() -> None:
    for query in ("元/人/月", "元/人·月", "元每人每月"):
        assert query_groups(query) == [["元/人·月", "ctx:元/人·月"]]
        for text in (
            "生活补助 260元每人每月",
            "生活补助 260 元每人每月",
            "生活补助 0.3万元每人每月",
        ):
            assert _matches(query, index_tokens(text)), (query, text)
    assert _mark("260元每人每月", "元/人/月") == "260<mark>元每人每月</mark>"
    # in prose 每 is a word: no unit, and the words around it stay whole
    tokens = index_tokens("全年每月开展一次，个人每年缴纳")
    assert {"全年", "个人", "每月", "每年"} <= set(tokens)
    assert not any("/" in t for t in tokens)
    assert query_groups("个人每年") == [["个人", "ctx:个人"], ["每年", "ctx:每年"]]
    assert not any("/" in t for t in index_tokens("2025年每月开展1次走访"))  # 年 is the year's
    assert query_groups("2025年每月") == [["2025", "ctx:2025"], ["每月", "ctx:每月"]]


def test_search_finds_a_unit_written_with_每_by_its_slash_spelling(tmp_path: Path) -> None:
    indicators = []
    for name, value in (("生活补助标准", "260元每人每月"), ("走访频次", "每月走访1次")):
        indicator = {"level1": "产出指标", "level2": "成本指标", "name": name, "value": value}
        indicators.append({**indicator, **dataclasses.asdict(parse_target(value))})
    project = {"name": "困难群众生活补助", "indicators": indicators}
    filing = {"source": "a.txt", "year": 2025, "projects": [project]}
    assert indicators[0]["unit"] == "元/人/月"  # the parser's spelling of the same unit
    found = passages_for(filing, "d")
    vectors = np.random.default_rng(1).standard_normal((len(found), schema.vector_dims()))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    store = EmbeddedStore(tmp_path / "store")
    try:
        store.write_filing(FilingRecord("d", "a.txt", "h", filing), found, vectors)
        for query in ("元/人/月", "元每人每月"):
            result = Searcher(store, None).search(make_request(query, "keyword"))
            assert [h["indicator"]["value"] for h in result["hits"]] == ["260元每人每月"]
            assert "<mark>元每人每月</mark>" in result["hits"][0]["highlight"]
    finally:
        store.close()

"""The domain glossary: its format, how a query is expanded, and how search uses it."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.search import Searcher, make_request
from indexer.store.base import Filters, KeywordResult
from indexer.synonyms import expand, glossary, parse_glossary

RULES = parse_glossary(
    """
    # comment lines and trailing comments are ignored
    出狱, 出狱人员 => 刑满释放人员, 安置帮教   # one way
    普法, 法治宣传
    """
)


def test_one_way_rules_map_sources_to_targets_only() -> None:
    assert RULES.rules["出狱"] == ("刑满释放人员", "安置帮教")
    assert "刑满释放人员" not in RULES.rules


def test_equivalent_terms_each_look_for_the_others() -> None:
    assert RULES.rules["普法"] == ("法治宣传",)
    assert RULES.rules["法治宣传"] == ("普法",)


def test_a_rule_without_targets_is_an_error_naming_the_line() -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse_glossary("普法, 法治宣传\n出狱 =>\n")


def test_expand_reads_the_longest_term_and_skips_what_the_query_says() -> None:
    assert expand("出狱人员的帮教经费", RULES) == ["刑满释放人员", "安置帮教"]
    assert expand("出狱的刑满释放人员", RULES) == ["安置帮教"]
    assert expand("普法 出狱", RULES) == ["法治宣传", "刑满释放人员", "安置帮教"]
    assert expand("办公楼装修", RULES) == []
    assert expand("", RULES) == []


def test_the_shipped_glossary_parses_and_maps_everyday_words_to_filing_terms() -> None:
    shipped = glossary()
    assert len(shipped.rules) > 100
    assert "刑满释放人员" in expand("出狱者重返社会")
    assert "社区矫正对象" in expand("缓刑人员")


class RecordingEmbedder:
    """Remembers the query texts it was asked to encode."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    def encode_query(self, text: str) -> np.ndarray:
        self.queries.append(text)
        return np.ones(4, dtype=np.float32)


class EmptyStore:
    """A store with nothing in it: the searcher's own behaviour is what is tested."""

    def keyword(self, groups, filters, size, facets, exclude=()):  # noqa: ANN001, ANN201
        return KeywordResult([], 0, {})

    def knn(self, vector, filters: Filters, k: int):  # noqa: ANN001, ANN201
        return []

    def get_passages(self, ids):  # noqa: ANN001, ANN201
        return []

    def view_vectors(self, ids):  # noqa: ANN001, ANN201
        return {}


@pytest.mark.parametrize("mode", ["hybrid", "semantic"])
def test_the_semantic_side_embeds_the_query_with_its_expansions(mode: str) -> None:
    embedder = RecordingEmbedder()
    result = Searcher(EmptyStore(), embedder).search(make_request("出狱者 补助", mode))
    assert "刑满释放人员" in result["expansions"]
    assert embedder.queries == [" ".join(["出狱者 补助", *result["expansions"]])]


def test_keyword_mode_neither_embeds_nor_expands() -> None:
    embedder = RecordingEmbedder()
    result = Searcher(EmptyStore(), embedder).search(make_request("出狱者", "keyword"))
    assert result["expansions"] == [] and embedder.queries == []

"""Query operators: -word excludes, "…" / “…” / 「…」 is a phrase, A OR B (A | B) takes either.

The parser is pure (``parse_query``); the searcher's part — exclusions and phrases
holding in semantic and hybrid mode too, totals and facets over what is kept, the
encoder's text — runs on a small embedded store whose every passage is a semantic
candidate, with an encoder that records what it was asked.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from indexer.passages import passage_tokens
from indexer.search import (
    MODES,
    Searcher,
    highlight,
    make_request,
    matches_groups,
    query_expansions,
    query_text,
)
from indexer.store.base import FilingRecord, Filters
from indexer.store.embedded import EmbeddedStore
from indexer.tokenize import (
    CONTEXT_PREFIX,
    QUERY_STOPWORDS,
    AllOf,
    Phrase,
    _keep,
    _query_tokens,
    index_tokens,
    normalize_query,
    parse_query,
    phrase_tokens,
)

ROOT = Path(__file__).resolve().parents[1]


def words(groups) -> list[str]:
    """The text form of each single-word group."""
    return [group[0] for group in groups]


def passage(text: str, context: str | None = None) -> dict:
    return {"tokens": " ".join(passage_tokens(text, context))}


def finds(query: str, text: str, context: str | None = None) -> bool:
    """Whether the keyword side matches a passage saying ``text`` (the searcher's matcher,
    which the store contract tests hold the stores to)."""
    parsed = parse_query(query)
    found = passage(text, context)
    return matches_groups(found, parsed.groups) and not any(
        matches_groups(found, [group]) for group in parsed.exclude
    )


# -- without operators nothing changes ------------------------------------------------


def _judged_queries() -> list[str]:
    queries = []
    for path in sorted((ROOT / "bench" / "relevance").glob("*.json")):
        queries += [q["query"] for q in json.loads(path.read_text(encoding="utf-8"))]
    return queries


def test_a_query_without_operators_reads_as_before() -> None:
    """Every judged query: a group per word of each whitespace-separated term, in its
    text or its context, nothing required of semantic hits, the query itself encoded."""
    for query in _judged_queries():
        parsed = parse_query(query)
        tokens = [t.lower() for term in normalize_query(query).split() for t in _query_tokens(term)]
        kept = [t for t in dict.fromkeys(tokens) if _keep(t) and t not in QUERY_STOPWORDS]
        assert list(parsed.groups) == [(t, CONTEXT_PREFIX + t) for t in kept], query
        assert (parsed.required, parsed.exclude) == ((), ()), query
        assert parsed.text == normalize_query(query), query


# -- exclusion ------------------------------------------------------------------------


def test_a_leading_minus_excludes_the_word_as_the_keyword_side_reads_it() -> None:
    parsed = parse_query("社区矫正 -经费")
    assert parsed.groups == (("社区矫正", "ctx:社区矫正"),)
    assert parsed.exclude == (("经费", "ctx:经费"),)
    assert parsed.text == "社区矫正"  # the encoder never sees it
    assert finds("社区矫正 -经费", "社区矫正对象走访")
    assert not finds("社区矫正 -经费", "社区矫正工作经费")
    assert not finds("社区矫正 -经费", "社区矫正对象走访", context="2025年社区矫正经费")
    # a term the dictionary splits is excluded where all of its words are
    assert parse_query("走访 -社区矫正经费").exclude == (
        (AllOf((("社区矫正", "ctx:社区矫正"), ("经费", "ctx:经费"))),),
    )
    assert finds("走访 -社区矫正经费", "社区矫正对象走访")
    assert not finds("走访 -社区矫正经费", "走访社区矫正对象，经费到位")


@pytest.mark.parametrize(
    ("query", "looked_for"),
    [
        ("2021-2023", ["2021", "2023"]),
        ("COVID-19 防控", ["covid", "19", "防控"]),
        ("社区矫正 - 经费", ["社区矫正", "经费"]),  # a lone - is nothing
        ("社区矫正 -", ["社区矫正"]),
    ],
)
def test_a_minus_inside_a_term_or_alone_is_no_operator(query: str, looked_for: list) -> None:
    parsed = parse_query(query)
    assert parsed.exclude == ()
    assert words(parsed.groups) == looked_for


@pytest.mark.parametrize("minus", ["－", "−", "–", "—"])
def test_a_minus_as_an_input_method_types_it_excludes_too(minus: str) -> None:
    """QA: 经费 －培训 looked for 培训 (full-width ＯＲ and ｜ were read, the minus not)."""
    assert parse_query(f"经费 {minus}培训") == parse_query("经费 -培训")
    assert parse_query(f"2021{minus}2023").exclude == ()


def test_the_glossary_never_adds_a_word_the_query_excludes() -> None:
    """QA: 出狱 -刑满释放人员 still sent 刑满释放人员 to the encoder as an expansion."""
    assert "刑满释放人员" in query_expansions(parse_query("出狱"))
    parsed = parse_query("出狱 -刑满释放人员")
    assert "刑满释放人员" not in query_expansions(parsed)
    assert "刑满释放人员" not in query_text("出狱 -刑满释放人员")
    assert query_expansions(parsed) == [
        t for t in query_expansions(parse_query("出狱")) if "刑满释放人员" not in t
    ]


def test_a_query_of_exclusions_alone_has_nothing_to_look_for_or_embed() -> None:
    parsed = parse_query("-经费 -“社区矫正 对象”")
    assert parsed.groups == () and parsed.text == "" and parsed.terms == ()
    assert parsed.exclude[0] == ("经费", "ctx:经费")
    assert isinstance(parsed.exclude[1][0], Phrase)


def test_highlights_never_mark_an_excluded_word() -> None:
    assert parse_query("社区矫正经费 -经费").highlights == ("社区矫正",)
    text = "社区矫正工作经费"
    assert highlight(text, list(parse_query("社区矫正经费 -经费").highlights)) == (
        "<mark>社区矫正</mark>工作经费"
    )
    assert parse_query('"社区矫正的经费" 走访').highlights == ("社区矫正", "经费", "走访")


# -- phrases --------------------------------------------------------------------------


@pytest.mark.parametrize("quoted", ['"社区矫正 经费"', "“社区矫正 经费”", "「社区矫正 经费」"])
def test_quotes_make_a_phrase_required_in_every_mode(quoted: str) -> None:
    parsed = parse_query(f"{quoted} 走访")
    tokens = phrase_tokens("社区矫正 经费")
    phrase = (Phrase(tokens), Phrase(tuple(CONTEXT_PREFIX + t for t in tokens)))
    assert parsed.groups == (phrase, ("走访", "ctx:走访"))
    assert parsed.required == (phrase,)
    assert parsed.text == "社区矫正 经费 走访"  # the quoted words go to the encoder
    assert parsed.terms == (quoted, "走访")


def test_a_phrase_needs_its_words_together_and_in_order() -> None:
    assert finds('"社区矫正经费"', "2025年全区社区矫正经费：走访")
    assert finds('"社区矫正 经费"', "2025年全区社区矫正经费：走访")
    assert finds('"矫正经费"', "2025年全区社区矫正经费")  # a word's last part
    assert not finds('"社区矫正 经费"', "经费用于社区矫正")
    assert not finds('"社区矫正 经费"', "社区矫正对象培训经费")
    assert finds('"社区矫正 经费"', "培训", context="2025年全区社区矫正经费")
    # one quoted word is that word, found inside a longer one as unquoted
    assert phrase_tokens("社区矫正") == ("社区矫正",)
    assert finds('"社区矫正"', "社区矫正对象报到率")
    # the phrase's tokens stand in a text that says it, in that order
    tokens = index_tokens("每名社区矫正对象培训费用 ≤350 元")
    sequence = list(phrase_tokens("社区矫正对象培训费用"))
    assert any(tokens[i : i + len(sequence)] == sequence for i in range(len(tokens)))


# -- OR -------------------------------------------------------------------------------


def test_or_makes_two_terms_alternatives_within_the_and_of_the_others() -> None:
    parsed = parse_query("安置帮教 OR 社区矫正 成本指标")
    assert parsed.groups == (
        ("安置帮教", "ctx:安置帮教", "社区矫正", "ctx:社区矫正"),
        ("成本指标", "ctx:成本指标"),
    )
    for bar in (" | ", "|", " ｜ "):
        spelled = f"安置帮教{bar}社区矫正 成本指标"
        assert parse_query(spelled).groups == parsed.groups, spelled
    assert parsed.required == () and parsed.text == "安置帮教 社区矫正 成本指标"
    assert finds("安置帮教 OR 社区矫正 成本指标", "成本指标：安置帮教人数")
    assert finds("安置帮教 OR 社区矫正 成本指标", "成本指标：社区矫正对象")
    assert not finds("安置帮教 OR 社区矫正 成本指标", "成本指标：普法宣传")
    assert not finds("安置帮教 OR 社区矫正 成本指标", "安置帮教 社区矫正")


def test_an_or_alternative_of_several_words_needs_them_all() -> None:
    query = "走访 OR 社区矫正经费"
    (group,) = parse_query(query).groups
    assert group[:2] == ("走访", "ctx:走访")
    assert group[2] == AllOf((("社区矫正", "ctx:社区矫正"), ("经费", "ctx:经费")))
    assert finds(query, "社区矫正工作经费")
    assert not finds(query, "社区矫正对象报到率")
    either = parse_query('"社区矫正 经费" OR 走访')  # a phrase may be an alternative too
    assert finds('"社区矫正 经费" OR 走访', "走访")
    assert either.required == either.groups  # and binds semantic hits with its alternative


@pytest.mark.parametrize(
    ("query", "read_as"),
    [
        ('"社区矫正 经费', "社区矫正 经费"),  # an unbalanced quote is punctuation
        ("社区矫正 经费”", "社区矫正 经费"),
        ("「社区矫正 经费", "社区矫正 经费"),
        ("OR 社区矫正 经费 OR", "社区矫正 经费"),  # OR at either end
        ("社区矫正 OR OR 经费", "社区矫正 OR 经费"),
        ("社区矫正 OR -经费 走访", "社区矫正 -经费 走访"),  # OR beside an exclusion
        ("-经费 OR 社区矫正", "社区矫正 -经费"),
        ("社区矫正 OR 的", "社区矫正"),  # an alternative with no words
        ('社区矫正 ""', "社区矫正"),
    ],
)
def test_malformed_operators_are_read_literally_or_ignored(query: str, read_as: str) -> None:
    parsed, expected = parse_query(query), parse_query(read_as)
    assert (parsed.groups, parsed.exclude) == (expected.groups, expected.exclude)


def test_lower_case_or_is_a_word() -> None:
    assert words(parse_query("社区矫正 or 经费").groups) == ["社区矫正", "or", "经费"]


# -- the searcher ---------------------------------------------------------------------

DIMS = 16
QUERY_VECTOR = np.eye(DIMS, dtype=np.float32)[0]
TEXTS = [
    ("社区矫正经费", "河北省"),
    ("社区矫正对象走访", "河北省"),
    ("社区矫正对象培训经费", "宁夏回族自治区"),
    ("经费用于社区矫正", "宁夏回族自治区"),
    ("安置帮教走访", "河北省"),
    ("安置帮教经费", "宁夏回族自治区"),
    ("普法宣传", "河北省"),
]


class RecordingEmbedder:
    """Every query lands on QUERY_VECTOR, near every passage: all are semantic candidates."""

    name = "recording"

    def __init__(self) -> None:
        self.texts: list[str] = []

    def encode_query(self, text: str) -> np.ndarray:
        self.texts.append(text)
        return QUERY_VECTOR


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory):
    store = EmbeddedStore(tmp_path_factory.mktemp("ops") / "store", dims=DIMS)
    passages = [
        {
            "id": f"d-p{i}",
            "doc_id": "d",
            "kind": "indicator" if i % 2 else "project",
            "text": text,
            "tokens": " ".join(passage_tokens(text)),
            "province": province,
            "year": "2025",
        }
        for i, (text, province) in enumerate(TEXTS)
    ]
    rng = np.random.default_rng(3)
    vectors = QUERY_VECTOR + 0.1 * rng.standard_normal((len(TEXTS), DIMS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store.write_filing(FilingRecord("d", "d.txt", "h", {}, "recording"), passages, vectors)
    yield Searcher(store, RecordingEmbedder())
    store.close()


def run(searcher: Searcher, query: str, mode: str) -> dict:
    return searcher.search(make_request(query, mode, size=100))


def texts(result: dict) -> set[str]:
    return {hit["text"] for hit in result["hits"]}


@pytest.mark.parametrize("mode", MODES)
def test_an_exclusion_holds_in_every_mode_with_totals_and_facets_over_what_is_kept(
    searcher: Searcher, mode: str
) -> None:
    result = run(searcher, "社区矫正 -经费", mode)
    if mode == "keyword":
        assert texts(result) == {"社区矫正对象走访"}
    else:  # every passage is a semantic candidate: all those without 经费
        assert texts(result) == {"社区矫正对象走访", "安置帮教走访", "普法宣传"}
    assert result["total"] == len(result["hits"])
    provinces = Counter(province for text, province in TEXTS if text in texts(result))
    assert {v["value"]: v["count"] for v in result["facets"]["province"]} == provinces
    assert sum(v["count"] for v in result["facets"]["kind"]) == result["total"]


@pytest.mark.parametrize("mode", MODES)
def test_a_phrase_holds_in_every_mode(searcher: Searcher, mode: str) -> None:
    result = run(searcher, '"社区矫正 经费"', mode)
    assert texts(result) == {"社区矫正经费"}
    assert result["total"] == 1


def test_or_widens_the_keyword_side(searcher: Searcher) -> None:
    result = run(searcher, "安置帮教 OR 社区矫正 走访", "keyword")
    assert texts(result) == {"社区矫正对象走访", "安置帮教走访"}


def test_the_encoder_reads_the_words_looked_for_not_the_excluded_ones(searcher: Searcher) -> None:
    searcher.embedder.texts.clear()
    run(searcher, '社区矫正 -经费 "安置 帮教" OR 走访', "hybrid")
    # nor the glossary's terms for them (出狱 → 刑满释放人员, 安置帮教)
    result = run(searcher, "社区矫正 -出狱", "semantic")
    assert searcher.embedder.texts == ["社区矫正 安置 帮教 走访", "社区矫正"]
    assert result["expansions"] == []


@pytest.mark.parametrize("mode", MODES)
def test_a_query_of_exclusions_alone_browses_the_rest(searcher: Searcher, mode: str) -> None:
    searcher.embedder.texts.clear()
    result = run(searcher, "-经费", mode)
    assert texts(result) == {"社区矫正对象走访", "安置帮教走访", "普法宣传"}
    assert result["total"] == 3 and result["mode"] == mode
    assert searcher.embedder.texts == []  # nothing to embed
    filtered = searcher.search(
        make_request("-经费", mode, 100, filters=Filters({"province": ("河北省",)}))
    )
    assert filtered["total"] == 3

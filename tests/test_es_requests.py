"""The Elasticsearch store's request bodies and response parsing (no server needed).

Response fixtures are written by hand in the shapes the Elasticsearch reference
documents for each API; they test the parsers, they do not stand in for a server.
Behaviour against a real server is the contract suite's job (JIXIAO_ES_URL).
"""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pytest

from indexer import schema
from indexer.store import es_requests as req
from indexer.store.base import FilingRecord, Filters, StoreError
from indexer.store.elastic import ElasticStore, _redact, _split_url, client_options

DIMS = schema.vector_dims()


def unit_vector(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=DIMS).astype(np.float32)
    return v / np.linalg.norm(v)


def passage(pid: str, doc_id: str = "d1", **fields) -> dict:
    return {"id": pid, "doc_id": doc_id, "kind": "indicator", "tokens": "社区 矫正", **fields}


# --- index definitions -------------------------------------------------------------


def test_index_body_is_passages_json_as_declared():
    declared = json.loads(schema.MAPPING_PATH.read_text(encoding="utf-8"))
    declared.pop("_comment")
    assert req.index_body() == declared
    assert set(req.index_body()) == {"settings", "mappings"}


def test_index_body_is_a_copy_and_refresh_interval_only_added_on_request():
    body = req.index_body(refresh_interval="-1")
    assert body["settings"]["refresh_interval"] == "-1"
    body["mappings"]["properties"]["id"]["type"] = "changed"
    assert "refresh_interval" not in req.index_body()["settings"]
    assert schema.properties()["id"]["type"] == "keyword"


def test_replicas_as_declared_unless_set(monkeypatch):
    assert req.index_body()["settings"]["number_of_replicas"] == 0  # one node
    assert req.index_body(replicas=2)["settings"]["number_of_replicas"] == 2
    assert req.filings_index_body(replicas=1)["settings"]["number_of_replicas"] == 1
    assert req.replicas_setting(None) is None and req.replicas_setting(" 1 ") == 1
    for bad in ("-1", "two", "1.5"):
        with pytest.raises(ValueError, match="JIXIAO_ES_REPLICAS"):
            req.replicas_setting(bad)
    monkeypatch.setenv("JIXIAO_ES_REPLICAS", "-1")
    with pytest.raises(StoreError, match="JIXIAO_ES_REPLICAS"):
        ElasticStore("http://localhost:9200")


def test_filter_and_facet_fields_are_aggregatable_keyword_fields():
    props = req.index_body()["mappings"]["properties"]
    for name in schema.filter_fields() + schema.facet_fields():
        assert props[name]["type"] == "keyword", name
        # terms filters need the field indexed, terms aggregations its doc values
        assert props[name].get("index", True) is True, name
        assert props[name].get("doc_values", True) is True, name
    assert set(schema.facet_fields()) <= set(schema.filter_fields())


def test_mapping_tokens_vector_and_year_as_the_store_expects():
    body = req.index_body()
    props = body["mappings"]["properties"]
    analyzer = props["tokens"]["analyzer"]
    assert body["settings"]["analysis"]["analyzer"][analyzer]["tokenizer"] == "whitespace"
    vector = props["vector"]
    assert vector["type"] == "dense_vector" and vector["dims"] == 384
    assert vector["similarity"] == "cosine" and vector["index"] is True
    # explicit, or 9.1+ would pick bbq_hnsw for 384 dims (research notes)
    assert vector["index_options"]["type"] == "hnsw"
    assert props["year"]["type"] == "keyword"
    assert body["mappings"]["dynamic"] == "strict"


def test_filings_index_body():
    body = req.filings_index_body()
    props = body["mappings"]["properties"]
    assert body["mappings"]["dynamic"] == "strict"
    assert {
        name: props[name]["type"] for name in ("doc_id", "source", "content_hash", "model")
    } == {"doc_id": "keyword", "source": "keyword", "content_hash": "keyword", "model": "keyword"}
    assert props["written"] == {"type": "long"}
    assert props["filing"] == {"type": "object", "enabled": False}
    assert "_comment" not in body
    assert req.filings_index_body(refresh_interval="-1")["settings"]["refresh_interval"] == "-1"
    # an index made before a field was declared gets every declared field added
    assert req.filings_mapping_update() == {"properties": props}


def test_passages_mapping_update_adds_only_the_fields_an_older_index_lacks():
    props = req.index_body()["mappings"]["properties"]
    older = {name: field for name, field in props.items() if name != "change"}
    current = {"jixiao-passages-1": {"mappings": {"dynamic": "strict", "properties": older}}}
    assert req.passages_mapping_update(current) == {"properties": {"change": {"type": "keyword"}}}
    # two indices behind the alias: a field missing from either is added
    both = {**current, "jixiao-passages-2": {"mappings": {"properties": props}}}
    assert req.passages_mapping_update(both) == {"properties": {"change": {"type": "keyword"}}}
    up_to_date = {"jixiao-passages-2": {"mappings": {"properties": props}}}
    assert req.passages_mapping_update(up_to_date) is None


def test_names():
    now = datetime(2026, 11, 22, 10, 15, 0, 123456)
    assert req.versioned_index_name("jixiao-passages", now) == "jixiao-passages-20261122t101500-123"
    assert req.check_index_name(req.versioned_index_name("jixiao-passages", now))
    assert req.filings_alias("jixiao-passages") == "jixiao-passages-filings"
    assert req.initial_index_name("jixiao-passages") == "jixiao-passages-initial"
    for bad in ("", "Upper", "has space", "a/b", "-lead", "_lead", "..", "a*", "a,b", "x" * 256):
        with pytest.raises(ValueError):
            req.check_index_name(bad)
    assert req.check_index_name("jixiao-test-3f2a") == "jixiao-test-3f2a"


def test_alias_swap_is_one_request_removing_old_and_adding_new():
    body = req.alias_swap_actions("jx", "jx-new", ["jx-old1", "jx-old2"])
    assert body == {
        "actions": [
            {"remove": {"index": "jx-old1", "alias": "jx"}},
            {"remove": {"index": "jx-old2", "alias": "jx"}},
            {"add": {"index": "jx-new", "alias": "jx"}},
        ]
    }
    # first build: nothing to remove; the new index is never removed from its own alias
    assert req.alias_swap_actions("jx", "jx-new", ["jx-new"]) == {
        "actions": [{"add": {"index": "jx-new", "alias": "jx"}}]
    }
    concrete = req.alias_swap_actions("jx", "jx-new", [], drop_concrete=True)["actions"]
    assert concrete == [
        {"remove_index": {"index": "jx"}},
        {"add": {"index": "jx-new", "alias": "jx"}},
    ]


# --- queries ------------------------------------------------------------------------


def test_filters_same_field_one_terms_clause_different_fields_separate():
    clauses = req.filters_clause(
        Filters({"province": ("河北省", "宁夏回族自治区"), "year": ("2025",), "kind": ("project",)})
    )
    assert clauses == [
        {"terms": {"province": ["河北省", "宁夏回族自治区"]}},
        {"terms": {"year": ["2025"]}},
        {"terms": {"kind": ["project"]}},
    ]
    assert req.filters_clause(Filters()) == []


def test_filters_values_are_strings_and_unknown_fields_refused():
    assert req.filters_clause(Filters({"year": (2025,)})) == [{"terms": {"year": ["2025"]}}]
    with pytest.raises(ValueError, match="text"):
        req.filters_clause(Filters({"text": ("x",)}))


def test_keyword_body_groups_are_must_of_should_with_minimum_should_match():
    body = req.keyword_search_body(
        [["社区矫正", "社区"], ["成本指标"]],
        Filters({"province": ("河北省",)}),
        size=20,
        facets=["province", "year"],
    )
    query = body["query"]["bool"]
    assert query["must"] == [
        {
            "bool": {
                "should": [{"term": {"tokens": "社区矫正"}}, {"term": {"tokens": "社区"}}],
                "minimum_should_match": 1,
            }
        },
        {"bool": {"should": [{"term": {"tokens": "成本指标"}}], "minimum_should_match": 1}},
    ]
    assert query["filter"] == [{"terms": {"province": ["河北省"]}}]
    assert body["size"] == 20
    assert body["track_total_hits"] is True
    assert body["_source"] is False
    assert body["sort"][0] == "_score" and body["track_scores"] is True
    json.dumps(body)  # what the client will serialise


def test_context_tokens_are_boosted_by_their_weight():
    from indexer.tokenize import CONTEXT_WEIGHT

    group = req.keyword_search_body([["装修", "ctx:装修", "ctx:a b"]], Filters(), 5, [])
    should = group["query"]["bool"]["must"][0]["bool"]["should"]
    assert should[0] == {"term": {"tokens": "装修"}}
    assert should[1] == {"term": {"tokens": {"value": "ctx:装修", "boost": CONTEXT_WEIGHT}}}
    assert should[2]["bool"]["boost"] == CONTEXT_WEIGHT
    assert CONTEXT_WEIGHT < 1


def test_keyword_body_without_groups_matches_all_and_has_no_filter_when_unfiltered():
    body = req.keyword_search_body([], Filters(), size=0, facets=[])
    assert body["query"] == {"bool": {"must": [{"match_all": {}}]}}
    assert "aggs" not in body
    # groups with nothing searchable in them count as no groups
    assert req.keyword_search_body([[" ", ""]], Filters(), 0, [])["query"] == body["query"]


def test_keyword_body_tokens_lowercased_deduplicated_and_split_on_spaces():
    group = req.keyword_search_body([["PDF", "pdf", " ", "a b"]], Filters(), 10, [])["query"][
        "bool"
    ]["must"][0]["bool"]["should"]
    assert group == [
        {"term": {"tokens": "pdf"}},
        {"bool": {"must": [{"term": {"tokens": "a"}}, {"term": {"tokens": "b"}}]}},
    ]


def test_a_phrase_is_a_match_phrase_of_its_tokens_boosted_in_context():
    from indexer.tokenize import CONTEXT_WEIGHT, Phrase

    group = [Phrase(("社区矫正", "社区", "矫正", "经费")), Phrase(("ctx:社区矫正", "ctx:经费"))]
    should = req.keyword_search_body([group], Filters(), 10, [])["query"]["bool"]["must"][0]
    assert should == {
        "bool": {
            "should": [
                {"match_phrase": {"tokens": {"query": "社区矫正 社区 矫正 经费"}}},
                {
                    "match_phrase": {
                        "tokens": {"query": "ctx:社区矫正 ctx:经费", "boost": CONTEXT_WEIGHT}
                    }
                },
            ],
            "minimum_should_match": 1,
        }
    }
    # the analyser lowercases the indexed tokens; a phrase of one token is that token
    one = req.keyword_search_body([[Phrase(("PDF", "X")), Phrase(("经费",))]], Filters(), 1, [])
    assert one["query"]["bool"]["must"][0]["bool"]["should"] == [
        {"match_phrase": {"tokens": {"query": "pdf x"}}},
        {"term": {"tokens": "经费"}},
    ]


def test_an_alternative_of_several_words_is_a_bool_must_of_its_groups():
    from indexer.tokenize import AllOf

    group = ["走访", AllOf((("社区矫正", "ctx:社区矫正"), ("经费",)))]
    should = req.keyword_search_body([group], Filters(), 10, [])["query"]["bool"]["must"][0]
    assert should["bool"]["should"][1] == {
        "bool": {
            "must": [
                {
                    "bool": {
                        "should": [
                            {"term": {"tokens": "社区矫正"}},
                            {"term": {"tokens": {"value": "ctx:社区矫正", "boost": 0.25}}},
                        ],
                        "minimum_should_match": 1,
                    }
                },
                {"bool": {"should": [{"term": {"tokens": "经费"}}], "minimum_should_match": 1}},
            ]
        }
    }


def test_excluded_groups_are_must_not_and_alone_browse_the_rest():
    exclude = [["经费", "ctx:经费"], [" "]]
    body = req.keyword_search_body(
        [["社区矫正"]], Filters({"year": ("2021",)}), 10, ["kind"], exclude=exclude
    )
    query = body["query"]["bool"]
    assert query["must_not"] == [
        {
            "bool": {
                "should": [
                    {"term": {"tokens": "经费"}},
                    {"term": {"tokens": {"value": "ctx:经费", "boost": 0.25}}},
                ],
                "minimum_should_match": 1,
            }
        }
    ]  # a group with nothing searchable in it excludes nothing
    assert query["must"][0]["bool"]["should"] == [{"term": {"tokens": "社区矫正"}}]
    assert query["filter"] == [{"terms": {"year": ["2021"]}}]
    alone = req.keyword_search_body([], Filters(), 10, [], exclude=exclude)["query"]["bool"]
    assert alone == {"must": [{"match_all": {}}], "must_not": query["must_not"]}
    nothing = req.keyword_search_body([["x"]], Filters(), 1, [], exclude=[[""]])
    assert "must_not" not in nothing["query"]["bool"]
    json.dumps(body, ensure_ascii=False)


def test_keyword_body_facets_become_terms_aggs_of_the_schema_size():
    body = req.keyword_search_body([["x"]], Filters(), 10, ["province", "county", "department"])
    aggs = body["aggs"]
    assert list(aggs) == ["province", "county", "department"]
    assert aggs["province"]["terms"]["field"] == "province"
    assert {a["terms"]["size"] for a in aggs.values()} == {schema.FACET_SIZE}
    assert aggs["province"]["terms"]["order"] == [{"_count": "desc"}, {"_key": "asc"}]
    small = req.keyword_search_body([["x"]], Filters(), 10, ["kind"], facet_size=5)
    assert small["aggs"]["kind"]["terms"]["size"] == 5


def test_keyword_body_size_capped_at_result_window():
    assert req.keyword_search_body([], Filters(), 50_000, [])["size"] == req.MAX_RESULT_WINDOW


def test_hits_past_the_result_window_are_read_by_search_after():
    first = req.keyword_search_body([["x"]], Filters({"year": ("2023",)}), 25_000, ["province"])
    after = [3.5, "p9999"]
    more = req.keyword_next_page_body(first, after, 15_000)
    assert more["search_after"] == after and more["sort"] == first["sort"]
    assert more["query"] == first["query"]  # the same filtered match set, the same order
    assert more["size"] == req.MAX_RESULT_WINDOW  # still one window per request
    assert req.keyword_next_page_body(first, after, 20)["size"] == 20
    assert "aggs" not in more and more["track_total_hits"] is False  # came with page one
    assert "aggs" in first and "search_after" not in first  # the first body is untouched
    assert req.last_sort(KEYWORD_RESPONSE) == [3.5, "p2"]
    assert req.last_sort({"hits": {"hits": []}}) is None


def test_knn_body_filter_is_inside_the_knn_section():
    vector = unit_vector(1)
    body = req.knn_search_body(vector, Filters({"year": ("2025", "2024")}), k=10)
    knn = body["knn"]
    assert knn["field"] == "vector"
    assert knn["k"] == 10 and knn["num_candidates"] >= 10
    assert knn["filter"] == [{"terms": {"year": ["2025", "2024"]}}]
    assert "query" not in body and "post_filter" not in body
    assert body["size"] == 10 and body["_source"] is False
    assert len(knn["query_vector"]) == DIMS
    assert all(type(x) is float for x in knn["query_vector"])
    assert knn["query_vector"] == pytest.approx(vector.tolist())
    json.dumps(body)


def test_knn_body_limits():
    vector = unit_vector(2)
    assert "filter" not in req.knn_search_body(vector, Filters(), 5)["knn"]
    big = req.knn_search_body(vector, Filters(), 20_000)["knn"]
    assert big["k"] == req.MAX_NUM_CANDIDATES == big["num_candidates"]
    assert (
        req.knn_search_body(vector, Filters(), 50, num_candidates=10)["knn"]["num_candidates"] == 50
    )
    with pytest.raises(ValueError):
        req.knn_search_body(vector, Filters(), 0)
    with pytest.raises(ValueError, match="dimensions"):
        req.knn_search_body(vector[:10], Filters(), 5)


def test_delete_bodies():
    assert req.delete_by_doc_body("d1") == {"query": {"term": {"doc_id": "d1"}}}
    assert req.stale_passages_body("d1", ["a", "b"]) == {
        "query": {
            "bool": {
                "filter": [{"term": {"doc_id": "d1"}}],
                "must_not": [{"ids": {"values": ["a", "b"]}}],
            }
        }
    }
    # a new version without passages removes them all
    assert req.stale_passages_body("d1", []) == {
        "query": {"bool": {"filter": [{"term": {"doc_id": "d1"}}]}}
    }


def test_filings_page_body():
    first = req.filings_page_body(size=100)
    assert first["sort"] == [{"doc_id": "asc"}] and first["size"] == 100
    assert "search_after" not in first
    assert req.filings_page_body(after=["d9"])["search_after"] == ["d9"]
    assert first["_source"] == ["doc_id", "content_hash"]
    where = req.filings_page_body(fields=req.FILING_LOCATIONS)
    assert where["_source"] == ["doc_id", "source", "filing.path"]


# --- writes -------------------------------------------------------------------------


def test_bulk_actions_alternate_action_and_source_with_vector():
    vectors = np.stack([unit_vector(4), unit_vector(5)])
    lines = req.bulk_actions("jx", [passage("p1"), passage("p2", year="2025")], vectors)
    assert len(lines) == 4
    assert lines[0] == {"index": {"_index": "jx", "_id": "p1"}}
    assert lines[2] == {"index": {"_index": "jx", "_id": "p2"}}
    assert lines[1]["id"] == "p1" and lines[3]["year"] == "2025"
    assert lines[1]["vector"] == pytest.approx(vectors[0].tolist())
    assert all(type(x) is float for x in lines[3]["vector"])
    json.dumps(lines)  # float32 arrays would not serialise


def test_views_ride_in_the_source_as_half_precision_and_read_back_by_id():
    views = [np.stack([unit_vector(6), unit_vector(7)]), np.zeros((0, DIMS), np.float32)]
    lines = req.bulk_actions(
        "jx", [passage("p1"), passage("p2")], unit_vector(4)[None] * [[1], [1]], views
    )
    assert "views" not in lines[3]  # a passage without views sends no field
    resp = {
        "docs": [
            {"_id": "p1", "found": True, "_source": {"views": lines[1]["views"]}},
            {"_id": "p2", "found": True, "_source": {}},
            {"_id": "gone", "found": False},
        ]
    }
    got = req.parse_views_response(resp)
    assert set(got) == {"p1"} and got["p1"].dtype == np.float32
    assert np.allclose(got["p1"], views[0], atol=2e-3) and not np.array_equal(got["p1"], views[0])
    assert req.index_body()["mappings"]["properties"]["views"] == {"type": "binary"}
    assert "views" not in schema.stored_fields()  # not a passage field
    with pytest.raises(ValueError, match="views"):
        req.bulk_actions("jx", [passage("p1")], unit_vector(4)[None], [])
    with pytest.raises(ValueError, match="NaN"):
        req.bulk_actions("jx", [passage("p1")], unit_vector(4)[None], [np.full((1, DIMS), np.nan)])


def test_empty_filter_values_are_not_sent_as_terms():
    lines = req.bulk_actions("jx", [passage("p1", county="", heading="")], unit_vector(3)[None])
    assert "county" not in lines[1]  # "" would be a facet bucket and a filter match
    assert lines[1]["heading"] == ""  # not a filter field: kept as written


def test_an_empty_facet_bucket_is_not_a_value():
    resp = {
        "hits": {"total": {"value": 3, "relation": "eq"}, "hits": []},
        "aggregations": {
            "county": {"buckets": [{"key": "", "doc_count": 2}, {"key": "正定县", "doc_count": 1}]}
        },
    }
    assert req.parse_keyword_response(resp).facets == {"county": [("正定县", 1)]}


def test_long_free_text_keyword_fields_stop_short_of_lucenes_term_limit():
    fields = req.index_body()["mappings"]["properties"]
    for name in ("title", "heading", "project_name", "indicator_name", "value", "source"):
        # 8191 characters × 4 bytes ≤ 32,766, the most Lucene takes in one term
        assert fields[name]["ignore_above"] * 4 <= 32_766
    for name in schema.filter_fields():
        assert "ignore_above" not in fields[name]  # filter values are matched in full


def test_bulk_actions_refuses_mismatches():
    with pytest.raises(ValueError, match="vectors"):
        req.bulk_actions("jx", [passage("p1")], np.stack([unit_vector(1), unit_vector(2)]))
    with pytest.raises(ValueError, match="nonsense"):
        req.bulk_actions("jx", [passage("p1", nonsense=1)], unit_vector(1)[None])
    with pytest.raises(ValueError, match="vector"):
        req.bulk_actions("jx", [{**passage("p1"), "vector": [0.0]}], unit_vector(1)[None])
    with pytest.raises(ValueError, match="id"):
        req.bulk_actions("jx", [passage("")], unit_vector(1)[None])
    with pytest.raises(ValueError, match="NaN"):
        req.bulk_actions("jx", [passage("p1")], np.full((1, DIMS), np.nan))


def test_filing_documents_round_trip():
    record = FilingRecord("d1", "corpus/a.txt", "sha256:ab", {"title": "表"}, "e5@abc")
    assert req.filing_actions("jx-filings", [record], 1_700_000_000_000_000) == [
        {"index": {"_index": "jx-filings", "_id": "d1"}},
        {
            "doc_id": "d1",
            "source": "corpus/a.txt",
            "content_hash": "sha256:ab",
            "model": "e5@abc",
            "written": 1_700_000_000_000_000,
            "filing": record.filing,
        },
    ]
    assert req.filing_from_source(req.filing_source(record, 1)) == record
    # a filing written before models were recorded has none
    assert req.filing_from_source({"doc_id": "d0"}).model == ""


def test_stamp_request_and_response():
    body = req.stamp_body()
    assert body["size"] == 0 and body["track_total_hits"] is True  # an exact count
    assert body["aggs"] == {"written": {"max": {"field": "written"}}}
    resp = {"hits": {"total": {"value": 3}}, "aggregations": {"written": {"value": 17.0}}}
    later = {"hits": {"total": {"value": 3}}, "aggregations": {"written": {"value": 18.0}}}
    fewer = {"hits": {"total": {"value": 2}}, "aggregations": {"written": {"value": 17.0}}}
    stamps = {req.parse_stamp_response(r) for r in (resp, later, fewer)}
    assert len(stamps) == 3
    # an index made before records said when they were written: the count alone
    empty = {"hits": {"total": {"value": 3}}, "aggregations": {"written": {"value": None}}}
    assert req.parse_stamp_response(empty) != req.parse_stamp_response(resp)


def test_models_request_and_response():
    body = req.models_body()
    assert body["size"] == 0
    # filings without a model are counted under "", not left out
    assert body["aggs"]["models"]["terms"] == {
        "field": "model",
        "size": req.MODELS_SIZE,
        "missing": "",
    }
    resp = {
        "hits": {"hits": []},
        "aggregations": {
            "models": {"buckets": [{"key": "e5@abc", "doc_count": 7}, {"key": "", "doc_count": 2}]}
        },
    }
    assert req.parse_models_response(resp) == {"e5@abc": 7, "": 2}
    assert req.parse_models_response({"hits": {"hits": []}}) == {}


# --- responses ----------------------------------------------------------------------


KEYWORD_RESPONSE = {
    "took": 4,
    "timed_out": False,
    "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
    "hits": {
        "total": {"value": 57, "relation": "eq"},
        "max_score": 7.25,
        "hits": [
            {"_index": "jx-initial", "_id": "p1", "_score": 7.25, "sort": [7.25, "p1"]},
            {"_index": "jx-initial", "_id": "p2", "_score": 3.5, "sort": [3.5, "p2"]},
        ],
    },
    "aggregations": {
        "province": {
            "doc_count_error_upper_bound": 0,
            "sum_other_doc_count": 0,
            "buckets": [
                {"key": "河北省", "doc_count": 31},
                {"key": "宁夏回族自治区", "doc_count": 26},
            ],
        },
        "county": {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0, "buckets": []},
    },
}


def test_parse_keyword_response():
    result = req.parse_keyword_response(KEYWORD_RESPONSE)
    assert result.hits == [("p1", 7.25), ("p2", 3.5)]
    assert result.total == 57
    assert result.facets == {"province": [("河北省", 31), ("宁夏回族自治区", 26)], "county": []}


def test_parse_keyword_response_int_total_and_sort_only_score():
    resp = {
        "hits": {
            "total": 3,
            "hits": [{"_id": "p9", "_score": None, "sort": [1.5, "p9"], "_source": {"id": "p9"}}],
        }
    }
    result = req.parse_keyword_response(resp)
    assert result.total == 3 and result.hits == [("p9", 1.5)] and result.facets == {}


def test_parse_knn_response_converts_score_back_to_cosine():
    resp = {
        "took": 2,
        "timed_out": False,
        "hits": {
            "total": {"value": 3, "relation": "eq"},
            "max_score": 0.9,
            "hits": [
                {"_index": "jx-initial", "_id": "a", "_score": 0.9},
                {"_index": "jx-initial", "_id": "b", "_score": 0.5},
                {"_index": "jx-initial", "_id": "c", "_score": 0.1},
            ],
        },
    }
    hits = req.parse_knn_response(resp)
    assert [pid for pid, _ in hits] == ["a", "b", "c"]
    # _score = (1 + cosine) / 2
    assert [score for _, score in hits] == pytest.approx([0.8, 0.0, -0.8])
    assert req.cosine_from_score(1.0) == 1.0 and req.cosine_from_score(0.0) == -1.0


def test_parse_mget_response_keeps_order_and_drops_missing():
    resp = {
        "docs": [
            {"_index": "jx-initial", "_id": "b", "_version": 1, "_seq_no": 1, "_primary_term": 1,
             "found": True, "_source": {"id": "b", "doc_id": "d1", "text": "二"}},
            {"_index": "jx", "_id": "zz", "found": False},
            {"_index": "jx-initial", "_id": "a", "_version": 1, "_seq_no": 0, "_primary_term": 1,
             "found": True, "_source": {"id": "a", "doc_id": "d1", "text": "一"}},
        ]
    }  # fmt: skip
    assert [p["id"] for p in req.parse_mget_response(resp)] == ["b", "a"]


def test_parse_filings_page():
    resp = {
        "hits": {
            "total": {"value": 2, "relation": "eq"},
            "hits": [
                {"_id": "d1", "_score": None, "_source": {"doc_id": "d1", "content_hash": "h1"},
                 "sort": ["d1"]},
                {"_id": "d2", "_score": None, "_source": {"doc_id": "d2", "content_hash": "h2"},
                 "sort": ["d2"]},
            ],
        }
    }  # fmt: skip
    assert req.parse_filings_page(resp) == ({"d1": "h1", "d2": "h2"}, ["d2"])
    assert req.parse_filings_page({"hits": {"hits": []}}) == ({}, None)


def test_parse_filing_locations():
    # _source filtering returns only the asked paths: the filing's path where recorded
    resp = {
        "hits": {
            "hits": [
                {"_source": {"doc_id": "d1", "source": "corpus/a.txt",
                             "filing": {"path": "/srv/corpus/a.txt"}}, "sort": ["d1"]},
                {"_source": {"doc_id": "d2", "source": "corpus/b.txt"}, "sort": ["d2"]},
            ],
        }
    }  # fmt: skip
    page, after = req.parse_filings_page(resp, req.filing_location)
    assert page == {"d1": "/srv/corpus/a.txt", "d2": "corpus/b.txt"} and after == ["d2"]


def test_bulk_errors_and_response_error():
    ok = {"took": 3, "errors": False, "items": [{"index": {"_id": "1", "status": 201}}]}
    assert req.bulk_errors(ok) == []
    failed = {
        "took": 3,
        "errors": True,
        "items": [
            {"index": {"_index": "jx", "_id": "1", "status": 201, "result": "created"}},
            {"index": {"_index": "jx", "_id": "2", "status": 400, "error": {
                "type": "strict_dynamic_mapping_exception",
                "reason": "[1:10] mapping set to strict, dynamic introduction of [foo] "
                          "within [_doc] is not allowed"}}},
        ],
    }  # fmt: skip
    (message,) = req.bulk_errors(failed)
    assert message.startswith("2: strict_dynamic_mapping_exception: [1:10] mapping set to strict")
    error_body = {
        "error": {
            "root_cause": [{"type": "index_not_found_exception", "reason": "no such index [jx]"}],
            "type": "index_not_found_exception",
            "reason": "no such index [jx]",
        },
        "status": 404,
    }
    assert req.response_error(error_body) == "index_not_found_exception: no such index [jx]"
    assert req.response_error(KEYWORD_RESPONSE) is None


# --- the store's URL handling (no request is sent) ---------------------------------


def test_split_url_takes_credentials_out_of_the_url(monkeypatch):
    monkeypatch.delenv("JIXIAO_ES_PASSWORD", raising=False)
    monkeypatch.delenv("ELASTIC_PASSWORD", raising=False)
    assert _split_url("http://elastic:p%40ss@es:9200/") == ("http://es:9200", ("elastic", "p@ss"))
    assert _split_url("http://localhost") == ("http://localhost:9200", None)
    assert _split_url("https://es.example.org") == ("https://es.example.org:443", None)
    monkeypatch.setenv("JIXIAO_ES_PASSWORD", "fromenv")
    assert _split_url("http://elastic@es:9200") == ("http://es:9200", ("elastic", "fromenv"))
    with pytest.raises(StoreError, match="http://host:9200"):
        _split_url("localhost:9200")
    assert _redact("http://elastic:secret@es:9200") == "http://elastic:***@es:9200"


def test_client_options_credentials_and_tls_from_the_environment():
    env = {"JIXIAO_ES_PASSWORD": "pw", "JIXIAO_ES_CA_CERTS": "/certs/http_ca.crt"}
    plain = client_options("http://es:9200", env=env)
    assert plain["basic_auth"] == ("elastic", "pw") and "ca_certs" not in plain  # http: no TLS
    tls = client_options("https://es:9200", env={**env, "JIXIAO_ES_FINGERPRINT": "AB:CD"})
    assert tls["ca_certs"] == "/certs/http_ca.crt" and tls["ssl_assert_fingerprint"] == "AB:CD"
    assert tls["verify_certs"] is True
    keyed = client_options("https://es:9200", env={**env, "JIXIAO_ES_API_KEY": "k1"})
    assert keyed["api_key"] == "k1" and "basic_auth" not in keyed
    # what the caller gives wins over the environment
    given = client_options("http://es:9200", url_auth=("u", "p"), env={"JIXIAO_ES_API_KEY": "k1"})
    assert given["basic_auth"] == ("u", "p") and "api_key" not in given
    assert "basic_auth" not in client_options("http://es:9200", env={})


def test_store_constructor_validates_without_connecting():
    with pytest.raises(StoreError, match="index name"):
        ElasticStore("http://localhost:9200", index="Bad Name")
    with pytest.raises(StoreError) as info:
        ElasticStore("ftp://elastic:secret@x")
    assert "secret" not in str(info.value) and "***" in str(info.value)
    store = ElasticStore("http://elastic:secret@localhost:9200", index="jixiao-test")
    assert store.url == "http://localhost:9200" and store.backend == "elasticsearch"
    assert store.filings_index == "jixiao-test-filings"


def test_unreachable_server_is_one_line_store_error():
    # A real connection attempt to a closed local port: no server is involved.
    store = ElasticStore("http://127.0.0.1:9", index="jixiao-test", request_timeout=5)
    with pytest.raises(StoreError) as info:
        store.count()
    assert str(info.value) == "cannot reach Elasticsearch at http://127.0.0.1:9: connection refused"

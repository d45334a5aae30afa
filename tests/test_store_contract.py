"""One contract for every store: the same tests against the embedded store and Elasticsearch.

Expected answers come from a brute-force reference over the synthetic passages, so
the tests check semantics (AND over groups, OR within, filters, facets over the whole
match set, kNN order) rather than hand-picked numbers.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from indexer.store.base import EncodedFiling, FilingRecord, Filters, Store, StoreError
from indexer.tokenize import AllOf, Phrase

DIMS = 384
FACETS = ["province", "city", "county", "year", "kind", "level2"]

FILINGS = [
    # doc_id, province, city, county, year, department
    ("doc-a", "河北省", "承德市", None, "2021", "承德市司法局"),
    ("doc-b", "河北省", "石家庄市", "正定县", "2022", "正定县司法局"),
    ("doc-c", "宁夏回族自治区", "石嘴山市", "平罗县", "2025", "平罗县司法局"),
]
WORDS = ["社区", "矫正", "安置", "帮教", "法律援助", "经费", "培训", "宣传教育", "案件", "补助"]
LEVEL2 = ["数量指标", "质量指标", "时效指标", "成本指标", "社会效益指标"]
KINDS = ["indicator", "indicator", "project", "narrative"]


def unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


QUERY = unit(np.random.default_rng(99).standard_normal(DIMS))
# passages whose vectors sit next to QUERY, nearest first
NEAR = ["doc-b-p03", "doc-c-p07", "doc-a-p05"]


def make_passages(
    sizes: tuple[int, ...] = (10, 11, 9),
) -> list[tuple[FilingRecord, list, np.ndarray]]:
    """Three filings, ~30 passages with varied fields and tokens, unit vectors (seeded)."""
    rng = np.random.default_rng(7)
    out = []
    for filing, size in zip(FILINGS, sizes, strict=True):
        doc_id, province, city, county, year, department = filing
        passages = []
        vectors = np.empty((size, DIMS), np.float32)
        for i in range(size):
            kind = KINDS[(i + len(doc_id)) % len(KINDS)]
            words = [WORDS[(i * 3 + j * 7 + len(passages)) % len(WORDS)] for j in range(1 + i % 3)]
            if i % 4 == 0:
                words.append(WORDS[(ord(doc_id[-1]) + i) % len(WORDS)])
            pid = f"{doc_id}-p{i:02d}"
            passages.append(
                {
                    "id": pid,
                    "doc_id": doc_id,
                    "kind": kind,
                    "position": i,
                    "text": "".join(words),
                    "tokens": " ".join(words),
                    "source": f"corpus/{doc_id}.txt",
                    "title": f"{department}绩效目标表",
                    "province": province,
                    "city": city,
                    "county": county,
                    "year": year,
                    "department": department,
                    "level1": "产出指标" if kind == "indicator" else None,
                    "level2": LEVEL2[i % len(LEVEL2)] if kind == "indicator" else None,
                    "unit": "%" if i % 2 else "万元",
                    # a field declared after the first stores (同比下降5%): kept by every store
                    "change": "decrease" if kind == "indicator" and i % 3 == 0 else None,
                }
            )
            vectors[i] = unit(rng.standard_normal(DIMS))
            if pid in NEAR:
                noise = unit(rng.standard_normal(DIMS))
                vectors[i] = unit(QUERY + (0.05 + 0.1 * NEAR.index(pid)) * noise)
        record = FilingRecord(
            doc_id=doc_id,
            source=f"corpus/{doc_id}.txt",
            content_hash=f"hash-{doc_id}",
            filing={"title": f"{department}绩效目标表", "province": province, "year": int(year)},
            model="encoder-b" if doc_id == "doc-c" else "encoder-a",
        )
        out.append((record, passages, vectors))
    return out


# -- a brute-force reference ---------------------------------------------------------


def all_passages(data) -> list[dict]:
    return [p for _, passages, _ in data for p in passages]


def ref_form(form, tokens: list[str]) -> bool:
    """A token anywhere, a phrase's tokens side by side in order, or every group of an AllOf."""
    if isinstance(form, Phrase):
        n = len(form.tokens)
        return any(tuple(tokens[i : i + n]) == form.tokens for i in range(len(tokens)))
    if isinstance(form, AllOf):
        return all(any(ref_form(f, tokens) for f in group) for group in form.groups)
    return form in tokens


def ref_match(data, groups: list, filters: Filters, exclude: list = ()) -> list[dict]:
    matched = []
    for p in all_passages(data):
        tokens = p["tokens"].split()
        found = [any(ref_form(form, tokens) for form in group) for group in groups]
        excluded = [any(ref_form(form, tokens) for form in group) for group in exclude]
        if all(found) and not any(excluded) and filters.matches(p):
            matched.append(p)
    return matched


def ref_facets(matched: list[dict], field: str) -> list[tuple[str, int]]:
    counts = Counter(str(p[field]) for p in matched if p.get(field) not in (None, ""))
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def ref_knn(data, query: np.ndarray, filters: Filters, k: int) -> list[str]:
    scored = []
    for _, passages, vectors in data:
        for p, v in zip(passages, vectors, strict=True):
            if filters.matches(p):
                scored.append((float(v @ query), p["id"]))
    return [pid for _, pid in sorted(scored, reverse=True)[:k]]


# -- the stores ----------------------------------------------------------------------


@pytest.fixture(params=["embedded", "elasticsearch"])
def store(request, tmp_path) -> Store:
    if request.param == "embedded":
        from indexer.store.embedded import EmbeddedStore

        made: Store = EmbeddedStore(tmp_path / "store")
    else:
        url = os.environ.get("JIXIAO_ES_URL")
        if not url:
            pytest.skip("JIXIAO_ES_URL is not set: Elasticsearch contract tests skipped")
        from indexer.store.elastic import ElasticStore

        made = ElasticStore(url, index=f"jixiao-test-{uuid.uuid4().hex[:12]}")
    yield made
    drop = getattr(made, "drop", None)
    if drop is not None:
        drop()
    made.close()


@pytest.fixture
def data():
    return make_passages()


@pytest.fixture
def filled(store, data) -> Store:
    for record, passages, vectors in data:
        store.write_filing(record, passages, vectors)
    return store


def ids(hits) -> list[str]:
    return [pid for pid, _ in hits]


# -- the contract --------------------------------------------------------------------


def test_write_and_count(filled, data):
    assert filled.count() == len(all_passages(data)) == 30


@pytest.mark.parametrize(
    "groups",
    [
        [["矫正"]],
        [["矫正", "帮教"]],  # OR within a group
        [["社区"], ["宣传教育"]],  # AND over groups
        [["社区"], ["法律援助"], ["宣传教育", "矫正"]],
        [["社区", "安置"], ["经费", "培训"]],
        [["没有这个词"]],
        [["社区"], ["没有这个词"]],
    ],
)
def test_keyword_and_or(filled, data, groups):
    expected = ref_match(data, groups, Filters())
    result = filled.keyword(groups, Filters(), size=100, facets=[])
    assert result.total == len(expected)
    assert sorted(ids(result.hits)) == sorted(p["id"] for p in expected)
    scores = [score for _, score in result.hits]
    assert scores == sorted(scores, reverse=True)


def test_keyword_or_is_wider_than_and(filled):
    one = filled.keyword([["安置"]], Filters(), 100, []).total
    either = filled.keyword([["安置", "经费"]], Filters(), 100, []).total
    both = filled.keyword([["安置"], ["经费"]], Filters(), 100, []).total
    assert 0 < both < one < either


@pytest.mark.parametrize(
    "terms",
    [
        {"province": ("河北省",)},
        {"city": ("承德市", "石嘴山市")},  # same field: OR
        {"province": ("河北省",), "year": ("2022",)},  # different fields: AND
        {"province": ("河北省",), "year": ("2025",)},  # AND of disjoint: nothing
        {"kind": ("indicator",), "level2": ("成本指标", "数量指标")},
        {"doc_id": ("doc-c",)},
        {"province": ("没有这个省",)},
    ],
)
def test_filters(filled, data, terms):
    filters = Filters(terms)
    for groups in ([], [["社区", "经费", "矫正"]]):
        expected = ref_match(data, groups, filters)
        result = filled.keyword(groups, filters, size=100, facets=[])
        assert result.total == len(expected), (groups, terms)
        assert sorted(ids(result.hits)) == sorted(p["id"] for p in expected)


def test_facets_count_the_whole_match_set(filled, data):
    groups = [["社区", "帮教", "经费"]]
    expected = ref_match(data, groups, Filters())
    assert len(expected) > 3
    result = filled.keyword(groups, Filters(), size=1, facets=FACETS)
    assert len(result.hits) == 1
    assert result.total == len(expected)
    for field in FACETS:
        assert result.facets[field] == ref_facets(expected, field), field
    # None values are not counted: doc-a has no county
    county_total = sum(count for _, count in result.facets["county"])
    assert county_total == sum(1 for p in expected if p["county"])


def test_facets_follow_the_filters(filled, data):
    filters = Filters({"province": ("河北省",), "kind": ("indicator", "project")})
    expected = ref_match(data, [["社区", "帮教", "经费", "培训"]], filters)
    result = filled.keyword([["社区", "帮教", "经费", "培训"]], filters, size=2, facets=FACETS)
    assert result.total == len(expected)
    for field in FACETS:
        assert result.facets[field] == ref_facets(expected, field), field
    assert [value for value, _ in result.facets["province"]] == ["河北省"]
    assert {value for value, _ in result.facets["kind"]} <= {"indicator", "project"}


def test_facet_values_are_strings_most_frequent_first(filled):
    result = filled.keyword([], Filters(), size=0, facets=["year", "city"])
    assert result.hits == []
    for pairs in result.facets.values():
        assert all(isinstance(value, str) and isinstance(n, int) for value, n in pairs)
        assert pairs == sorted(pairs, key=lambda kv: (-kv[1], kv[0]))
    assert dict(result.facets["year"]) == {"2021": 10, "2022": 11, "2025": 9}


def test_empty_groups_browse_everything(filled, data):
    result = filled.keyword([], Filters(), size=5, facets=FACETS)
    assert result.total == 30
    assert len(result.hits) == 5
    for field in FACETS:
        assert result.facets[field] == ref_facets(all_passages(data), field)
    filtered = filled.keyword([], Filters({"year": ("2021", "2025")}), size=100, facets=["year"])
    assert filtered.total == 19
    assert dict(filtered.facets["year"]) == {"2021": 10, "2025": 9}


def test_equal_keyword_scores_come_in_id_order(store, data):
    """Passages with the same tokens score alike; written last-id-first, they still come
    back in id order (two builds of one corpus rank alike, on every store)."""
    for record, passages, vectors in reversed(data):
        same = [{**p, "text": "经费培训", "tokens": "经费 培训"} for p in reversed(passages[:3])]
        store.write_filing(record, same, vectors[:3][::-1])
    hits = store.keyword([["经费"]], Filters(), size=9, facets=[])
    assert len({score for _, score in hits.hits}) == 1
    assert ids(hits.hits) == sorted(ids(hits.hits))
    assert len(hits.hits) == 9


def test_a_word_in_the_passage_outranks_the_same_word_in_its_context(store, data):
    """A short indicator that has 装修 only from its project's name comes after the
    project that says 装修 itself, though BM25 favours the shorter passage."""
    record, passages, vectors = data[0]
    own = {**passages[0], "text": "办公楼装修维修", "tokens": "办公楼 装修 维修 工程款 维修费 目标"}
    context = {**passages[1], "text": "未涉及", "tokens": "未涉及 ctx:装修"}
    store.write_filing(record, [own, context], vectors[:2])
    hits = store.keyword([["装修", "ctx:装修"]], Filters(), size=5, facets=[]).hits
    assert ids(hits) == [own["id"], context["id"]]


@pytest.mark.parametrize(
    ("groups", "terms"),
    [([["经费"]], {}), ([], {}), ([], {"province": ("河北省",)})],
    ids=["equal-scores", "browse", "browse-filtered"],
)
def test_every_page_is_a_slice_of_one_order(store, data, groups, terms):
    """However many hits are asked for, they are the first ones of the same order, even
    when every score ties across the cut: a page never repeats or skips a passage."""
    for record, passages, vectors in data:
        same = [{**p, "text": "经费培训", "tokens": "经费 培训"} for p in passages]
        store.write_filing(record, same, vectors)
    everything = store.keyword(groups, Filters(terms), size=100, facets=[])
    order = ids(everything.hits)
    assert len(order) == len(set(order)) == everything.total > 3
    assert order == sorted(order)  # ties in id order, as on every store
    for size in range(1, everything.total + 1):
        assert ids(store.keyword(groups, Filters(terms), size, []).hits) == order[:size]


# -- query operators: exclusions, phrases, alternatives of several words ----------------


@pytest.mark.parametrize(
    ("groups", "exclude"),
    [
        ([["社区"]], [["宣传教育"]]),
        ([["社区", "安置"]], [["培训"], ["补助", "案件"]]),  # any excluded group excludes
        ([], [["经费"]]),  # exclusions alone: browse the rest
        ([], [["经费"], ["社区"], ["矫正"]]),
        ([["社区"]], [[AllOf((("宣传教育",), ("法律援助",)))]]),  # only where both words are
        ([["社区"]], [["没有这个词"]]),
    ],
)
def test_keyword_leaves_out_what_an_excluded_group_matches(filled, data, groups, exclude):
    for filters in (Filters(), Filters({"province": ("河北省",)})):
        expected = ref_match(data, groups, filters, exclude)
        result = filled.keyword(groups, filters, size=100, facets=FACETS, exclude=exclude)
        assert result.total == len(expected), (groups, exclude, filters)
        assert sorted(ids(result.hits)) == sorted(p["id"] for p in expected)
        for field in FACETS:  # facets count the kept set
            assert result.facets[field] == ref_facets(expected, field), field
    if exclude != [["没有这个词"]]:  # the others leave something out, not everything
        kept = ref_match(data, groups, Filters(), exclude)
        assert 0 < len(kept) < len(ref_match(data, groups, Filters()))


def test_exclusions_alone_browse_the_rest_in_id_order(filled, data):
    result = filled.keyword([], Filters(), size=100, facets=[], exclude=[["经费"]])
    assert ids(result.hits) == sorted(p["id"] for p in ref_match(data, [], Filters(), [["经费"]]))


PHRASED = [  # tokens of passages with the same words in several orders
    "社区 矫正 经费",
    "矫正 社区 经费",
    "社区 经费 矫正",
    "经费 社区 矫正 培训",
    "培训 ctx:社区 ctx:矫正",
    "社区矫正 社区 矫正",
]


@pytest.fixture
def phrased(store, data):
    record, passages, vectors = data[0]
    written = [
        {**p, "text": tokens.replace(" ", ""), "tokens": tokens}
        for p, tokens in zip(passages, PHRASED, strict=False)
    ]
    store.write_filing(record, written, vectors[: len(written)])
    return store, [(record, written, vectors[: len(written)])]


@pytest.mark.parametrize(
    ("group", "found"),
    [
        ([Phrase(("社区", "矫正"))], [0, 3, 5]),
        ([Phrase(("社区", "矫正", "经费"))], [0]),
        ([Phrase(("矫正", "社区"))], [1]),
        ([Phrase(("经费", "矫正"))], [2]),
        ([Phrase(("ctx:社区", "ctx:矫正"))], [4]),
        ([Phrase(("社区", "矫正")), Phrase(("ctx:社区", "ctx:矫正"))], [0, 3, 4, 5]),
        ([Phrase(("经费",))], [0, 1, 2, 3]),  # a phrase of one token is the token
        ([Phrase(("培训", "社区"))], []),  # context tokens are not the passage's own
        ([AllOf(((Phrase(("社区", "矫正")),), ("培训",)))], [3]),
        ([AllOf((("社区",), ("经费",))), "培训"], [0, 1, 2, 3, 4]),
    ],
)
def test_a_phrase_needs_its_tokens_side_by_side_in_order(phrased, group, found):
    store, written = phrased
    expected = ref_match(written, [group], Filters())
    assert [p["id"] for p in expected] == [written[0][1][i]["id"] for i in found]
    result = store.keyword([group], Filters(), size=100, facets=["kind"])
    assert sorted(ids(result.hits)) == sorted(p["id"] for p in expected)
    assert result.total == len(expected)
    excluded = store.keyword([], Filters(), size=100, facets=[], exclude=[group])
    assert excluded.total == len(PHRASED) - len(expected)


def test_knn_nearest_first(filled, data):
    hits = filled.knn(QUERY, Filters(), k=5)
    assert ids(hits)[:3] == NEAR
    assert ids(hits) == ref_knn(data, QUERY, Filters(), 5)
    scores = [score for _, score in hits]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == pytest.approx(float(data[1][2][3] @ QUERY), abs=2e-3)


@pytest.mark.parametrize(
    "terms",
    [
        {"province": ("河北省",)},
        {"city": ("承德市", "石嘴山市")},
        {"doc_id": ("doc-a",), "kind": ("narrative",)},  # highly selective
        {"year": ("2025",), "level2": ("时效指标",)},
    ],
)
def test_knn_respects_filters(filled, data, terms):
    filters = Filters(terms)
    hits = filled.knn(QUERY, filters, k=4)
    expected = ref_knn(data, QUERY, filters, 4)
    assert ids(hits) == expected
    for passage in filled.get_passages(ids(hits)):
        assert filters.matches(passage)


def test_knn_with_nothing_passing(filled):
    assert filled.knn(QUERY, Filters({"province": ("没有这个省",)}), k=5) == []


def test_rewrite_replaces_the_filing(filled, data):
    record, passages, vectors = data[0]
    # the new version keeps p00..p05 (changed) and adds p20; p06..p09 are gone
    kept = [dict(p, tokens="新版 " + p["tokens"]) for p in passages[:6]]
    new = dict(passages[0], id="doc-a-p20", tokens="新增 条目")
    new_vectors = np.vstack([vectors[:6], unit(np.ones(DIMS))])
    changed = FilingRecord(record.doc_id, record.source, "hash-new", {"title": "v2"})
    filled.write_filing(changed, [*kept, new], new_vectors)

    assert filled.count() == 30 - 10 + 7
    assert filled.keyword([["新版"]], Filters(), 100, []).total == 6
    assert ids(filled.keyword([["新增"]], Filters(), 100, []).hits) == ["doc-a-p20"]
    gone = [p["id"] for p in passages[6:]]
    assert filled.get_passages(gone) == []
    doc_a = filled.keyword([], Filters({"doc_id": ("doc-a",)}), 100, [])
    assert sorted(ids(doc_a.hits)) == sorted([*(p["id"] for p in kept), "doc-a-p20"])
    near = filled.knn(unit(np.ones(DIMS)), Filters(), k=3)
    assert near[0][0] == "doc-a-p20"
    all_ids = ids(filled.knn(QUERY, Filters(), k=100))
    assert len(all_ids) == len(set(all_ids)) == 27
    assert not set(gone) & set(all_ids)
    assert filled.content_hashes()["doc-a"] == "hash-new"
    assert filled.get_filing("doc-a").filing == {"title": "v2"}


def test_locations_are_recorded_paths_else_sources(filled, data):
    assert filled.locations() == {r.doc_id: r.source for r, _, _ in data}
    record, passages, vectors = data[0]
    moved = FilingRecord(
        record.doc_id,
        record.source,
        record.content_hash,
        {**record.filing, "path": "/srv/filings/doc-a.txt"},
        record.model,
    )
    filled.write_filing(moved, passages, vectors)
    assert filled.locations()[record.doc_id] == "/srv/filings/doc-a.txt"
    assert filled.locations()[data[1][0].doc_id] == data[1][0].source


def test_rewrite_same_filing_twice_changes_nothing(filled, data):
    before = filled.keyword([["社区"]], Filters(), 100, FACETS)
    record, passages, vectors = data[1]
    filled.write_filing(record, passages, vectors)
    assert filled.count() == 30
    after = filled.keyword([["社区"]], Filters(), 100, FACETS)
    assert after.total == before.total
    assert sorted(ids(after.hits)) == sorted(ids(before.hits))
    assert after.facets == before.facets


def test_delete_removes_everything_of_the_filing(filled, data):
    filled.delete_filing("doc-b")
    filled.delete_filing("doc-b")  # absent: no error
    filled.delete_filing("never-there")
    assert filled.count() == 19
    assert filled.get_filing("doc-b") is None
    assert "doc-b" not in filled.content_hashes()
    browse = filled.keyword([], Filters(), 100, ["city"])
    assert browse.total == 19
    assert not any(pid.startswith("doc-b") for pid in ids(browse.hits))
    assert "石家庄市" not in dict(browse.facets["city"])
    hits = filled.knn(QUERY, Filters(), k=100)
    assert not any(pid.startswith("doc-b") for pid in ids(hits))
    assert ids(hits)[:2] == ["doc-c-p07", "doc-a-p05"]
    assert filled.keyword([], Filters({"doc_id": ("doc-b",)}), 10, []).total == 0
    assert filled.knn(QUERY, Filters({"doc_id": ("doc-b",)}), 5) == []


def test_get_passages_keeps_the_order_asked(filled, data):
    wanted = ["doc-c-p02", "doc-a-p00", "unknown", "doc-b-p10", "doc-a-p09"]
    got = filled.get_passages(wanted)
    assert [p["id"] for p in got] == ["doc-c-p02", "doc-a-p00", "doc-b-p10", "doc-a-p09"]
    original = {p["id"]: p for p in all_passages(data)}
    for passage in got:
        expected = original[passage["id"]]
        for key, value in expected.items():
            assert passage.get(key) == value, key
    assert filled.get_passages([]) == []


def test_content_hashes_and_get_filing(filled, data):
    assert filled.content_hashes() == {r.doc_id: r.content_hash for r, _, _ in data}
    for record, _, _ in data:
        got = filled.get_filing(record.doc_id)
        assert got == record
    assert filled.get_filing("unknown") is None


def test_models_count_filings_per_encoder(store, data):
    assert store.models() == {}
    for record, passages, vectors in data:
        store.write_filing(record, passages, vectors)
    assert store.models() == {"encoder-a": 2, "encoder-b": 1}
    record, passages, vectors = data[2]
    store.write_filing(replace(record, model="encoder-a"), passages, vectors)
    assert store.models() == {"encoder-a": 3}
    assert store.get_filing(record.doc_id).model == "encoder-a"
    store.delete_filing(record.doc_id)
    assert store.models() == {"encoder-a": 2}


def test_results_visible_after_each_write(store, data):
    record, passages, vectors = data[2]
    store.write_filing(record, passages, vectors)
    assert store.count() == 9
    assert store.keyword([], Filters(), 100, []).total == 9
    assert ids(store.knn(QUERY, Filters(), 1)) == ["doc-c-p07"]
    store.write_filing(*data[0])
    assert store.keyword([], Filters(), 100, []).total == 19
    assert ids(store.knn(QUERY, Filters(), 2)) == ["doc-c-p07", "doc-a-p05"]


def test_more_hits_than_one_elasticsearch_search_returns(store):
    """Exports and deep pages ask for more than 10,000 hits (index.max_result_window):
    every store returns them all, in one order, with the facets of the whole set."""
    n = 10_050
    vectors = np.tile(QUERY, (n, 1))
    passages = [
        {
            "id": f"bulk-{i:05d}",
            "doc_id": "bulk",
            "kind": "indicator",
            "tokens": "经费",
            "text": "经费",
            "province": "河北省" if i % 2 else "宁夏回族自治区",
        }
        for i in range(n)
    ]
    record = FilingRecord("bulk", "corpus/bulk.txt", "hash-bulk", {"title": "bulk"})
    store.write_filing(record, passages, vectors)
    result = store.keyword([["经费"]], Filters(), size=n + 10, facets=["province"])
    assert result.total == n and ids(result.hits) == [p["id"] for p in passages]
    assert dict(result.facets["province"]) == {"河北省": n // 2, "宁夏回族自治区": n // 2}


def test_a_rebuild_replaces_every_filing_at_once(store, data):
    """Elasticsearch loads new indices and moves the aliases in one request; a store
    that cannot says so with a clear error, and nothing changes."""
    for record, passages, vectors in data:
        store.write_filing(record, passages, vectors)
    kept = [
        EncodedFiling(replace(r, content_hash=f"new-{r.doc_id}"), p[:4], v[:4])
        for r, p, v in data[:2]
    ]
    if store.backend != "elasticsearch":
        with pytest.raises(StoreError, match="cannot be rebuilt"):
            store.rebuild(iter(kept))
        assert store.count() == len(all_passages(data))
        return
    assert store.rebuild(iter(kept)) == 8
    assert store.count() == 8
    assert store.content_hashes() == {r.doc_id: f"new-{r.doc_id}" for r, _, _ in data[:2]}
    assert store.get_filing(data[2][0].doc_id) is None
    assert {pid for pid, _ in store.keyword([], Filters(), 100, []).hits} == {
        p["id"] for _, passages, _ in kept for p in passages
    }


def test_views_are_stored_per_passage_and_only_re_score(store, data):
    """A passage's views come back by id (half precision); passages without views are
    left out; kNN and passages themselves never show them; a rewrite replaces them."""
    record, passages, vectors = data[0]
    rng = np.random.default_rng(3)
    views = [
        np.array([unit(rng.standard_normal(DIMS)) for _ in range(i % 3)]).reshape(-1, DIMS)
        for i in range(len(passages))
    ]
    views[1] = QUERY[None, :]  # a view at the query: knn still ranks main vectors only
    store.write_filing(record, passages, vectors, views)
    ids = [p["id"] for p in passages]
    got = store.view_vectors([*ids, "no-such-passage"])
    assert set(got) == {pid for pid, rows in zip(ids, views, strict=True) if len(rows)}
    for pid, rows in zip(ids, views, strict=True):
        if len(rows):
            assert got[pid].shape == rows.shape and np.allclose(got[pid], rows, atol=2e-3)
    nearest_main = max(zip(ids, vectors @ QUERY, strict=True), key=lambda x: x[1])[0]
    assert store.knn(QUERY, Filters(), 1)[0][0] == nearest_main != ids[1]
    assert all("views" not in p and "vector" not in p for p in store.get_passages(ids))
    store.write_filing(record, passages, vectors)
    assert store.view_vectors(ids) == {}


def test_the_stamp_changes_with_every_write_and_delete_only(store, data):
    stamps = [store.stamp()]
    for record, passages, vectors in data:
        store.write_filing(record, passages, vectors)
        stamps.append(store.stamp())
    assert store.stamp() == stamps[-1]  # nothing changed: the same stamp
    store.keyword([["矫正"]], Filters(), 10, ["province"])
    assert store.stamp() == stamps[-1]  # reading changes nothing
    record, passages, vectors = data[1]
    moved = [{**p, "county": "新县"} for p in passages]  # as many passages as before
    store.write_filing(replace(record, content_hash="hash-new"), moved, vectors)
    stamps.append(store.stamp())
    store.delete_filing(record.doc_id)
    stamps.append(store.stamp())
    assert len(set(stamps)) == len(stamps)

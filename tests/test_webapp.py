"""The portal through Flask's test client, over one index of corpus/ per session."""

from __future__ import annotations

import csv
import io
import json
import re
import statistics
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from browser.webapp_index import CORPUS_PASSAGES, ROOT, corpus_index, embedder
from flask import Flask
from flask.testing import FlaskClient
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from indexer import schema
from indexer.passages import passages_for
from indexer.search import Searcher, make_request, parse_filters
from indexer.store.base import StoreError
from indexer.store.embedded import EmbeddedStore
from webapp import create_app
from webapp.compare import Row, group_by_unit, make_chart, nice_ticks, sort_rows, table, tick_label
from webapp.filing import mime_type
from webapp.openapi import document

QUERY = "社区矫正 成本指标"
XSS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return corpus_index(tmp_path_factory)


@pytest.fixture(scope="module")
def store(index: dict[str, Path]) -> Iterator[EmbeddedStore]:
    opened = EmbeddedStore(index["store"], create=False)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def app(store: EmbeddedStore) -> Flask:
    return create_app(store=store, embedder=embedder())


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def api(client: FlaskClient, **params: object) -> dict:
    response = client.get("/api/search", query_string=params)
    assert response.status_code == 200, response.data
    return response.json


def csv_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


# -- API contract ---------------------------------------------------------------------


def test_api_search_is_the_cli_json(client: FlaskClient, store: EmbeddedStore) -> None:
    got = api(client, q=QUERY, size=5, province="河北省", year=["2021", "2023"])
    filters = parse_filters([("province", "河北省"), ("year", "2021"), ("year", "2023")])
    expected = Searcher(store, embedder()).search(make_request(QUERY, size=5, filters=filters))
    got.pop("took_ms")
    expected.pop("took_ms")
    assert got == expected
    assert {"query", "mode", "total", "hits", "facets"} <= got.keys()
    assert set(got["facets"]) == set(schema.facet_fields())
    for hit in got["hits"]:
        assert hit["doc"]["province"] == "河北省" and hit["doc"]["year"] in (2021, 2023)


def test_api_search_finds_indicators_of_several_filers(client: FlaskClient) -> None:
    result = api(client, q=QUERY, size=20)
    indicators = [h for h in result["hits"] if h["kind"] == "indicator"]
    assert len({h["doc"]["department"] for h in indicators}) >= 2
    assert indicators[0]["indicator"]["level2"] == "成本指标"
    assert "<mark>" in indicators[0]["highlight"]


def test_repeated_filter_values_combine_with_or(client: FlaskClient) -> None:
    both = api(client, q="满意度", mode="keyword", year=["2021", "2025"])["total"]
    one = api(client, q="满意度", mode="keyword", year="2021")["total"]
    other = api(client, q="满意度", mode="keyword", year="2025")["total"]
    assert both == one + other > 0


def test_a_full_width_year_filters_as_its_ascii_digits(client: FlaskClient) -> None:
    full_width = api(client, q="满意度", mode="keyword", year="２０２１")
    ascii_digits = api(client, q="满意度", mode="keyword", year="2021")
    assert full_width["total"] == ascii_digits["total"] > 0
    assert full_width["hits"] == ascii_digits["hits"]


def test_healthz_names_backend_and_count(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "backend": "embedded", "passages": CORPUS_PASSAGES}


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("size=0", "size"),
        ("size=101", "size"),
        ("size=ten", "size"),
        ("page=0", "page"),
        ("page=1001", "page"),
        ("page=1.5", "page"),
        ("mode=fuzzy", "mode"),
        ("q=" + "很" * 201, "q"),
        ("q=a&q=b", "q"),
        ("q=a&mode=keyword&mode=semantic", "mode"),
        ("size=5&size=10", "size"),
        ("year=abc", "year"),
        ("year=2021.0", "year"),
        ("year=2024.5", "year"),
        ("year=-1", "year"),
        ("year=99999999999999999999", "year"),
        ("year=0", "year"),
        ("year=2021&year=3000", "year"),
        ("colour=red", "colour"),
        ("province=" + "省" * 101, "province"),
    ],
)
def test_bad_parameters_get_400_json_naming_them(
    client: FlaskClient, query: str, param: str
) -> None:
    response = client.get(f"/api/search?{query}")
    assert response.status_code == 400
    assert response.is_json and response.json["param"] == param
    assert "Traceback" not in response.get_data(as_text=True)
    export = client.get(f"/export/search.csv?{query}")
    assert export.status_code == 400 and export.json["param"] == param


def test_bad_parameters_on_pages_get_a_400_page(client: FlaskClient) -> None:
    for url, hint in (
        ("/?size=500", "每页条数须为 1 到 100 之间的整数"),
        ("/?colour=red", "不认识的参数。可用的筛选：省份 province"),
        ("/compare?sort=nonsense", "排序须为比较表中的一列"),
        ("/?year=abc", "年度须为数字"),
        ("/?province=" + "省" * 101, "「省份」筛选值有误"),
    ):
        response = client.get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == 400
        assert response.mimetype == "text/html"
        assert "请求参数有误" in html and hint in html, url


@pytest.mark.parametrize("sort", ["--year", "---year", "--number", "-", "--"])
def test_sort_takes_one_leading_dash_at_most(client: FlaskClient, sort: str) -> None:
    page = client.get("/compare", query_string={"q": QUERY, "sort": sort})
    assert page.status_code == 400 and "<code>sort</code>" in page.get_data(as_text=True)
    for export in ("/export/compare.json", "/export/compare.csv"):
        response = client.get(export, query_string={"q": QUERY, "sort": sort})
        assert response.status_code == 400 and response.json["param"] == "sort", export
    assert client.get("/compare", query_string={"q": QUERY, "sort": "-year"}).status_code == 200


def test_parameters_that_are_not_utf8_are_refused(client: FlaskClient) -> None:
    gbk = "%B3%C9%B1%BE"  # 成本 in GBK
    response = client.get(f"/api/search?q={gbk}")
    assert response.status_code == 400 and response.json["param"] == "q"
    assert "UTF-8" in response.json["error"]
    page = client.get(f"/?mode=keyword&q={gbk}")
    assert page.status_code == 400 and "不是 UTF-8 编码" in page.get_data(as_text=True)
    assert client.get("/?q=%E6").status_code == 400  # a cut UTF-8 sequence
    assert client.get(f"/?province={gbk}").status_code == 400
    # UTF-8 in any spelling still works: percent-encoded, + for spaces
    assert client.get("/api/search?q=%E6%88%90%E6%9C%AC+%E6%8C%87%E6%A0%87").status_code == 200


def test_tracking_parameters_on_shared_links_are_ignored(client: FlaskClient) -> None:
    clean = client.get("/?q=社区矫正&province=河北省")
    tracking = (
        "&from=singlemessage&isappinstalled=0&utm_source=x&ref=1&msclkid=1&vd_source=1"
        "&nsukey=abc&wfr=spider&for=pc&UTM_SOURCE=y&sharer_shareinfo=z&scene=1"
    )
    shared = client.get("/?q=社区矫正&province=河北省" + tracking)
    assert clean.status_code == shared.status_code == 200
    tracked = api(client, q="社区矫正", utm_medium="email", spm="a.b")
    plain = api(client, q="社区矫正")
    assert (tracked["total"], tracked["hits"]) == (plain["total"], plain["hits"])
    # a mistyped filter is still refused
    assert client.get("/?q=社区矫正&provnce=河北省").status_code == 400


@pytest.mark.parametrize(
    ("page", "last", "expected"),
    [
        (1, 1, [1]),
        (1, 9, [1, 2, 3, 4, 5, 6, 7, 8, 9]),  # a gap would have hidden 8 alone
        (1, 10, [1, 2, 3, 4, 5, 6, 7, None, 10]),
        (6, 20, [1, 2, 3, 4, 5, 6, 7, 8, 9, None, 20]),
        (10, 20, [1, None, 7, 8, 9, 10, 11, 12, 13, None, 20]),
    ],
)
def test_pager_links_every_page_or_a_gap_of_two_or_more(
    client: FlaskClient, page: int, last: int, expected: list
) -> None:
    from indexer.search import make_request
    from webapp.views.pages import _pages

    with client.application.test_request_context():
        links = _pages(make_request("培训", page=page), last * 10)
    assert [n for n, _ in links] == expected
    assert all(url.endswith(f"page={n}") for n, url in links if n is not None)


def test_past_the_last_page(client: FlaskClient) -> None:
    total = api(client, q=QUERY, mode="keyword")["total"]
    assert api(client, q=QUERY, mode="keyword", page=50)["hits"] == []
    page = client.get("/", query_string={"q": QUERY, "mode": "keyword", "page": 50})
    assert page.status_code == 200
    assert "回到第 1 页" in page.get_data(as_text=True) and total
    # past the last of several pages, "previous" leads to the last one
    total = api(client, q="满意度", mode="keyword")["total"]
    last = -(-total // 10)
    assert last > 1
    page = client.get("/", query_string={"q": "满意度", "mode": "keyword", "page": last + 5})
    html = page.get_data(as_text=True)
    previous = re.search(r'<a rel="prev" href="([^"]+)"', html)
    assert previous is not None and f"page={last}" in previous[1].replace("&amp;", "&")


def test_a_year_with_leading_zeros_is_that_year(client: FlaskClient) -> None:
    padded = api(client, q="满意度", mode="keyword", year="02021")
    assert padded["total"] == api(client, q="满意度", mode="keyword", year="2021")["total"] > 0


# -- the store down -----------------------------------------------------------------


class FailingStore(EmbeddedStore):
    """A store whose every call fails the way an unreachable index does."""

    backend = "failing"

    def __init__(self) -> None:  # no files
        pass

    def __getattribute__(self, name: str) -> object:
        failing = (
            "keyword",
            "knn",
            "get_passages",
            "get_filing",
            "count",
            "content_hashes",
            "models",
        )
        if name in failing:

            def fail(*args: object) -> None:
                raise StoreError("connection refused")

            return fail
        return object.__getattribute__(self, name)

    def close(self) -> None:
        pass


@pytest.mark.parametrize("kind", ["failing", "missing"])
def test_store_down_is_503_never_a_traceback(kind: str, tmp_path: Path) -> None:
    if kind == "failing":
        down = create_app(store=FailingStore(), embedder=embedder())
    else:
        down = create_app(embedder=embedder(), config={"STORE_DIR": str(tmp_path / "none")})
    client = down.test_client()
    health = client.get("/healthz")
    assert health.status_code == 503 and "error" in health.json
    api_response = client.get("/api/search", query_string={"q": QUERY})
    assert api_response.status_code == 503 and api_response.is_json
    for url in ("/?q=x", "/compare?q=x", "/filing/0123456789abcdef", "/export/search.csv?q=x"):
        response = client.get(url)
        text = response.get_data(as_text=True)
        assert response.status_code == 503, url
        assert "Traceback" not in text and "StoreError" not in text
    page = client.get("/?q=x")
    assert page.mimetype == "text/html" and "检索服务暂不可用" in page.get_data(as_text=True)


def test_a_store_folder_moved_away_while_serving_is_503(
    index: dict[str, Path], tmp_path: Path
) -> None:
    import shutil

    folder = tmp_path / "store"
    shutil.copytree(index["store"], folder, ignore=shutil.ignore_patterns("write.lock"))
    client = create_app(embedder=embedder(), config={"STORE_DIR": str(folder)}).test_client()
    assert (
        client.get("/api/search", query_string={"q": QUERY, "mode": "keyword"}).status_code == 200
    )
    folder.rename(tmp_path / "moved")  # an operator moves or deletes the index under the server
    health = client.get("/healthz")
    assert health.status_code == 503 and "index unavailable" in health.json["error"]
    assert str(tmp_path) not in health.get_data(as_text=True)  # no server paths shown
    for url in ("/api/search?q=x&mode=keyword", "/?q=x", "/export/search.csv?q=x"):
        response = client.get(url)
        assert response.status_code == 503, url
        assert "Traceback" not in response.get_data(as_text=True)


class OtherEncoder:
    """An encoder the corpus index was not built with; it must never be asked to encode."""

    name = "another/encoder"

    def encode_query(self, text: str) -> None:
        raise AssertionError(f"encoded {text!r} for an index built with another model")


def test_an_index_built_with_another_model_is_refused(store: EmbeddedStore) -> None:
    client = create_app(store=store, embedder=OtherEncoder()).test_client()
    health = client.get("/healthz")
    assert health.status_code == 503
    assert "built with the embedding model multilingual-e5-small-jixiao@" in health.json["error"]
    for mode in ("hybrid", "semantic"):
        response = client.get("/api/search", query_string={"q": QUERY, "mode": mode})
        assert response.status_code == 503 and response.is_json
    page = client.get("/", query_string={"q": QUERY})
    assert page.status_code == 503 and "Traceback" not in page.get_data(as_text=True)
    # keyword search and browsing compare no vectors: they still answer
    keyword = client.get("/api/search", query_string={"q": QUERY, "mode": "keyword"})
    assert keyword.status_code == 200 and keyword.json["total"] > 0
    assert client.get("/api/search", query_string={"province": "河北省"}).status_code == 200


# -- escaping and headers -----------------------------------------------------------


@pytest.mark.parametrize("payload", XSS)
def test_user_strings_are_inert(client: FlaskClient, payload: str) -> None:
    for url in ("/", "/compare"):
        for mode in ("hybrid", "keyword"):
            page = client.get(url, query_string={"q": payload, "mode": mode}).get_data(as_text=True)
            assert payload not in page
            assert "<img" not in page and "alert(1)</script>" not in page
            assert "&lt;" in page  # shown, escaped
    result = api(client, q=payload)
    assert result["query"] == payload  # JSON carries it as data
    for hit in result["hits"]:
        assert re.sub(r"</?mark>", "", hit["highlight"]).count("<") == 0
    # a filter value echoed in a chip
    page = client.get("/", query_string={"q": "培训", "department": payload}).get_data(as_text=True)
    assert payload not in page and "<img" not in page


def test_highlight_mark_is_the_only_markup(client: FlaskClient) -> None:
    page = client.get("/", query_string={"q": QUERY}).get_data(as_text=True)
    assert "<mark>社区矫正</mark>" in page or "<mark>成本指标</mark>" in page


def test_security_headers_and_no_inline_script(client: FlaskClient) -> None:
    urls = ("/", f"/?q={QUERY}", "/compare", "/api", "/api/search?q=x", "/healthz", "/nowhere")
    for url in urls:
        response = client.get(url)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        if response.mimetype == "text/html":
            html = response.get_data(as_text=True)
            for tag in re.findall(r"<script\b[^>]*>", html):
                assert "src=" in tag  # no inline script anywhere
            assert " on" + "click=" not in html and "style=" not in html


def test_the_api_page_describes_every_endpoint_and_its_example_works(client: FlaskClient) -> None:
    from webapp.openapi import document

    page = client.get("/api")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for path, operations in document()["paths"].items():
        for method, operation in operations.items():
            assert f"{method.upper()} {path}" in html
            for parameter in operation.get("parameters", []):
                assert f"<code>{parameter['name']}</code>" in html
    (example,) = re.findall(r'<a href="(/api/search\?[^"]+)"', html)
    answer = client.get(example.replace("&amp;", "&"))
    assert answer.status_code == 200 and answer.get_json()["total"] > 0
    assert 'href="/api"' in client.get("/").get_data(as_text=True)  # the nav's API link


def test_the_api_page_examples_can_be_copied_as_they_are(client: FlaskClient) -> None:
    import html as html_lib
    import shlex
    from urllib.parse import urlencode, urlsplit

    page = client.get("/api").get_data(as_text=True)
    found = re.findall(r'<code class="copyable">([^<]+)</code>', page)
    copyable = [html_lib.unescape(c) for c in found]
    assert len(copyable) == 2
    url, curl = copyable
    assert url.isascii() and " " not in url  # sent as it is, by any client
    answer = client.get(urlsplit(url).path + "?" + urlsplit(url).query)
    assert answer.status_code == 200 and answer.get_json()["total"] > 0
    words = shlex.split(curl.replace("\\\n", " "))
    assert words[:3] == ["curl", "--get", url.split("?")[0]]
    params = [words[i + 1] for i, word in enumerate(words) if word == "--data-urlencode"]
    pairs = [tuple(p.split("=", 1)) for p in params]
    assert pairs == [("q", "社区矫正 成本指标"), ("level2", "成本指标"), ("size", "5")]
    by_curl = client.get("/api/search?" + urlencode(pairs)).get_json()
    assert by_curl["total"] == answer.get_json()["total"]
    assert "社区矫正 成本指标" in page  # the readable form stays beside them


@pytest.mark.parametrize(
    ("schema", "text"),
    [
        ({"type": "string", "maxLength": 200}, "文字，最长 200 字"),
        ({"enum": ["hybrid", "keyword"], "default": "hybrid"}, "hybrid | keyword（默认 hybrid）"),
        ({"type": "integer", "minimum": 1, "maximum": 100, "default": 10}, "整数 1–100（默认 10）"),
        ({"type": "array", "items": {"type": "string", "pattern": "^[0-9]+$"}}, "可重复；数字"),
    ],
)
def test_schema_summary(schema: dict, text: str) -> None:
    from webapp.openapi import schema_summary

    assert schema_summary(schema) == text


def test_custom_404_and_405(client: FlaskClient) -> None:
    page = client.get("/no/such/page")
    assert page.status_code == 404 and "页面不存在" in page.get_data(as_text=True)
    posted = client.post("/api/search")
    assert posted.status_code == 405 and posted.is_json


# -- the original file --------------------------------------------------------------


def test_download_serves_the_indexed_file(client: FlaskClient, store: EmbeddedStore) -> None:
    for doc_id in store.content_hashes():
        record = store.get_filing(doc_id)
        response = client.get(f"/filing/{doc_id}/original")
        assert response.status_code == 200
        assert response.data == Path(record.source).read_bytes()
        assert "attachment" in response.headers["Content-Disposition"]
        assert response.headers["Content-Type"].count("charset") <= 1


def test_an_original_is_found_when_the_server_runs_elsewhere(
    index: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Indexed by a relative path in one folder, served from another: the filing
    keeps the folder it was indexed in."""
    import os
    import shutil

    from indexer.embeddings import EmbeddingCache
    from indexer.pipeline import index_files
    from indexer.reading import expand_paths

    shutil.copytree(index["corpus"], tmp_path / "work" / "corpus")
    monkeypatch.chdir(tmp_path / "work")
    cache = EmbeddingCache(
        Path(os.environ.get("JIXIAO_CACHE") or index["store"].parent / "cache.sqlite")
    )
    store = EmbeddedStore(tmp_path / "store", create=True)
    try:
        index_files(expand_paths([Path("corpus")]), store, embedder(), cache)
    finally:
        cache.close()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    client = create_app(store=store, embedder=embedder()).test_client()
    doc_id, _ = next(iter(store.content_hashes().items()))
    record = store.get_filing(doc_id)
    assert record is not None and not Path(record.source).is_absolute()
    response = client.get(f"/filing/{doc_id}/original")
    assert response.status_code == 200
    assert response.data == (tmp_path / "work" / record.source).read_bytes()
    store.close()


def index_folder(folder: Path, store_dir: Path) -> EmbeddedStore:
    """An embedded store of the files in ``folder`` (embeddings cached with the corpus's)."""
    import os

    from indexer.embeddings import EmbeddingCache
    from indexer.pipeline import index_files
    from indexer.reading import expand_paths

    cache_path = os.environ.get("JIXIAO_CACHE") or store_dir.parent / "cache.sqlite"
    cache = EmbeddingCache(Path(cache_path))
    store = EmbeddedStore(store_dir, create=True)
    try:
        summary = index_files(expand_paths([folder]), store, embedder(), cache)
    finally:
        cache.close()
    assert not summary.failed, summary.failed
    return store


def test_an_original_whose_name_holds_a_line_break_downloads(
    index: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "filings"
    folder.mkdir()
    original = folder / "平罗县\r\n司法局.txt"
    original.write_bytes((index["corpus"] / "002_19f2a4c4a62c75e5.txt").read_bytes())
    store = index_folder(folder, tmp_path / "store")
    try:
        client = create_app(store=store, embedder=embedder()).test_client()
        (doc_id,) = store.content_hashes()
        response = client.get(f"/filing/{doc_id}/original")
        assert response.status_code == 200
        assert response.data == original.read_bytes()
        disposition = response.headers["Content-Disposition"]
        assert "\r" not in disposition and "\n" not in disposition
        assert "attachment" in disposition
    finally:
        store.close()


@pytest.mark.parametrize(
    ("encoding", "charset"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8"), ("gb18030", "gb18030"), ("utf-16", "utf-16")],
)
def test_a_text_original_is_sent_with_its_own_charset(
    tmp_path: Path, encoding: str, charset: str
) -> None:
    text = "部门项目支出绩效目标表\n项目名称\t社区矫正业务经费\n"
    path = tmp_path / "filing.txt"
    path.write_bytes(text.encode(encoding))
    content_type = mime_type(path)
    assert content_type == f"text/plain; charset={charset}"
    assert path.read_bytes().decode(content_type.split("charset=")[1]).lstrip("\ufeff") == text
    path.write_bytes(b"\x81\x30\xff\xfe\xff" * 3)  # no encoding reads it: no charset claimed
    assert mime_type(path) == "text/plain"


@pytest.mark.parametrize(
    "url",
    [
        "/filing/0123456789abcdef/original",
        "/filing/..%2F..%2F..%2Fetc%2Fpasswd/original",
        "/filing/%2e%2e%2f%2e%2e%2fetc%2fpasswd/original",
        "/filing/../../etc/passwd/original",
        "/filing/....//....//etc/passwd/original",
        "/filing/%2Fetc%2Fpasswd/original",
        "/filing/9d52cc56254f142d%00/original",
        "/static/../../../../etc/passwd",
        "/static/..%2F..%2Fpyproject.toml",
        "/filing/corpus%2F000_c108e284426fe8e6.txt/original",
    ],
)
def test_download_refuses_anything_else(client: FlaskClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404
    assert b"root:" not in response.data and b"[project]" not in response.data


def test_a_file_edited_after_indexing_is_not_served_as_the_original(
    client: FlaskClient, store: EmbeddedStore
) -> None:
    doc_id = next(iter(store.content_hashes()))
    source = Path(store.get_filing(doc_id).source)
    indexed = source.read_bytes()
    source.write_bytes(indexed + "\n补充说明：本表已修订。\n".encode())
    try:
        response = client.get(f"/filing/{doc_id}/original")
        assert response.status_code == 409
        assert "重新运行 jixiao index" in response.get_data(as_text=True)
        page = client.get(f"/filing/{doc_id}").get_data(as_text=True)
        assert f"/filing/{doc_id}/original" not in page and "改动过" in page
    finally:
        source.write_bytes(indexed)
    assert client.get(f"/filing/{doc_id}/original").data == indexed
    assert f"/filing/{doc_id}/original" in client.get(f"/filing/{doc_id}").get_data(as_text=True)


def test_download_of_a_moved_file_is_404(
    client: FlaskClient, store: EmbeddedStore, index: dict, tmp_path: Path
) -> None:
    doc_id = next(iter(store.content_hashes()))
    source = Path(store.get_filing(doc_id).source)
    moved = tmp_path / source.name
    source.rename(moved)
    try:
        assert client.get(f"/filing/{doc_id}/original").status_code == 404
        assert client.get(f"/filing/{doc_id}").status_code == 200  # the page still renders
    finally:
        moved.rename(source)


# -- exports ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"q": QUERY},
        {"q": "满意度", "mode": "keyword"},
        {"q": "培训", "mode": "semantic"},
        {"q": "", "province": "河北省"},
        {"q": "社区矫正", "year": ["2021", "2025"]},
    ],
)
def test_exports_stream_every_matching_row(client: FlaskClient, params: dict) -> None:
    total = api(client, **params)["total"]
    response = client.get("/export/search.csv", query_string=params)
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    rows = csv_rows(response.data)
    assert len(rows) == total == int(response.headers["X-Jixiao-Total"])
    assert len({r["id"] for r in rows}) == total
    as_json = client.get("/export/search.json", query_string=params)
    data = json.loads(as_json.data)
    assert data["total"] == total == len(data["hits"])
    assert [h["id"] for h in data["hits"]] == [r["id"] for r in rows]


@pytest.mark.parametrize("mode", ["hybrid", "keyword", "semantic"])
def test_pages_put_together_are_the_export(client: FlaskClient, mode: str) -> None:
    """One order however deep a caller reads: 经费 has keyword matches well past the
    100 that hybrid fuses, some of them also among the semantic candidates."""
    first = api(client, q="经费", mode=mode, size=100)
    assert mode == "semantic" or first["total"] > 200
    paged = []
    for page in range(1, -(-first["total"] // 100) + 1):
        paged += api(client, q="经费", mode=mode, size=100, page=page)["hits"]
    exported = json.loads(
        client.get("/export/search.json", query_string={"q": "经费", "mode": mode}).data
    )
    assert [(h["id"], h["score"]) for h in paged] == [
        (h["id"], h["score"]) for h in exported["hits"]
    ]
    assert len(paged) == first["total"]


@pytest.mark.parametrize("mode", ["hybrid", "keyword", "semantic"])
def test_operators_hold_in_the_api_and_the_exports(client: FlaskClient, mode: str) -> None:
    """The exports rank the whole match set their own way (webapp/ranking.py): they too
    leave out excluded words and passages without a quoted phrase, in every mode."""
    for query in ("社区矫正 -经费", "“社区矫正 经费” OR 安置帮教"):
        result = api(client, q=query, mode=mode, size=100)
        exported = json.loads(
            client.get("/export/search.json", query_string={"q": query, "mode": mode}).data
        )
        assert [h["id"] for h in exported["hits"]] == [h["id"] for h in result["hits"]]
        assert exported["total"] == result["total"] == len(result["hits"]) > 0
    excluded = api(client, q="社区矫正 -经费", mode=mode, size=100)["hits"]
    assert not any("经费" in hit["text"] for hit in excluded)
    rest = api(client, q="-经费", mode=mode)
    assert rest["total"] == CORPUS_PASSAGES - api(client, q="经费", mode="keyword")["total"]


def test_the_search_box_and_the_api_page_explain_the_operators(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    assert 'aria-describedby="q-help"' in html
    help_text = re.search(r'<p class="search-help muted" id="q-help">(.*?)</p>', html, re.S)
    assert help_text and all(op in help_text.group(1) for op in ("-经费", "OR", "“…”", "「…」"))
    page = client.get("/api").get_data(as_text=True)
    assert "检索语法" in page and "-经费" in page
    (q,) = [p for p in document()["paths"]["/api/search"]["get"]["parameters"] if p["name"] == "q"]
    assert "-word" in q["description"] and "OR" in q["description"]
    # QA: the help said every word must match in every mode; only keyword search does
    assert "关键词检索要求" in help_text.group(1) and "keyword mode" in q["description"]


@pytest.mark.parametrize(
    ("query", "mode", "hint"),
    [
        ("满意度 -满意", "hybrid", "排除词"),
        ('"社区矫正 培训"', "keyword", "排除词"),
    ],
)
def test_an_empty_result_hints_at_what_emptied_it(
    client: FlaskClient, query: str, mode: str, hint: str
) -> None:
    """QA: with an exclusion or quotes to blame, the hint said to switch modes, which
    cannot help (operators hold in every mode)."""
    html = client.get("/", query_string={"q": query, "mode": mode}).get_data(as_text=True)
    assert "没有找到匹配的结果" in html and hint in html


def test_export_of_everything_is_more_than_a_page(client: FlaskClient) -> None:
    rows = csv_rows(client.get("/export/search.csv").data)
    assert len(rows) == CORPUS_PASSAGES > 100


def test_csv_cells_never_start_a_spreadsheet_formula(client: FlaskClient) -> None:
    rows = csv_rows(client.get("/export/compare.csv", query_string={"q": "满意度"}).data)
    data = json.loads(client.get("/export/compare.json", query_string={"q": "满意度"}).data)
    assert len(rows) == len(data["rows"]) > 0
    cells = [cell for row in rows for cell in row.values()]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@"))]
    # the JSON keeps the filing's text; the CSV shows the same text behind a '
    by_id = {row["id"]: row for row in data["rows"]}
    guarded = [(row, by_id[row["id"]]) for row in rows if row["op"] == "'="]
    assert guarded and all(original["op"] == "=" for _, original in guarded)
    assert any(row["value"] == "'" + original["value"] for row, original in guarded)


def test_compare_export_has_every_indicator(client: FlaskClient) -> None:
    total = api(client, q=QUERY, kind="indicator")["total"]
    rows = csv_rows(client.get("/export/compare.csv", query_string={"q": QUERY}).data)
    assert len(rows) == total > 0
    assert set(rows[0]) >= {"region", "year", "filer", "project", "level2", "indicator"}
    assert set(rows[0]) >= {"value", "op", "low", "high", "unit", "number", "filing_url"}
    data = json.loads(client.get("/export/compare.json", query_string={"q": QUERY}).data)
    assert len(data["rows"]) == total


def test_compare_json_gives_null_where_search_json_does(client: FlaskClient) -> None:
    query = {"q": "效益指标", "mode": "keyword"}
    rows = json.loads(client.get("/export/compare.json", query_string=query).data)["rows"]
    hits = json.loads(client.get("/export/search.json", query_string=query).data)["hits"]
    indicators = {h["id"]: h["indicator"] for h in hits if h["kind"] == "indicator"}
    assert rows and len(rows) == len(indicators)
    assert any(row["op"] is None and row["unit"] is None for row in rows)  # 有效促进 and the like
    for row in rows:
        for key in ("value", "op", "unit", "low", "high", "level1", "description"):
            assert row[key] == indicators[row["id"]][key], (row["id"], key)
        assert "" not in row.values()


def test_compare_exports_add_the_fields_researchers_need(client: FlaskClient) -> None:
    old = ["id", "region", "year", "filer", "project", "level2", "indicator", "value", "op"]
    old += ["low", "high", "unit", "number", "filing_url"]
    added = ["level1", "description", "adcode", "province", "city", "county"]
    added += ["project_code", "amount_wan"]
    added += ["unit_comparable", "low_comparable", "high_comparable", "number_comparable"]
    added += ["change"]
    query = {"q": QUERY}
    response = client.get("/export/compare.csv", query_string=query)
    header = next(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert header == old + added  # the old columns first, in their order
    hits = json.loads(client.get("/export/search.json", query_string=query).data)["hits"]
    by_id = {h["id"]: h for h in hits}
    rows = json.loads(client.get("/export/compare.json", query_string=query).data)["rows"]
    assert list(rows[0]) == old + added
    for row in rows:
        hit = by_id[row["id"]]
        assert row["level1"] == hit["indicator"]["level1"]
        assert row["description"] == hit["indicator"]["description"]
        for key in ("adcode", "province", "city", "county"):
            assert row[key] == hit["doc"][key]
        assert row["project_code"] == hit["project"]["code"]
        assert row["amount_wan"] == hit["project"]["amount_wan"]
    assert any(row["adcode"] and row["amount_wan"] for row in rows)
    assert any(row["county"] for row in rows) and any(row["level1"] for row in rows)
    for row in csv_rows(response.data):
        assert row["province"] == (by_id[row["id"]]["doc"]["province"] or "")


# -- OpenAPI ------------------------------------------------------------------------


def _validator(name: str) -> jsonschema.Draft202012Validator:
    spec = document()
    registry = Registry().with_resource("urn:openapi", DRAFT202012.create_resource(spec))
    ref = {"$ref": f"urn:openapi#/components/schemas/{name}"}
    return jsonschema.Draft202012Validator(ref, registry=registry)


def test_openapi_document_is_served(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert {"/api/search", "/healthz"} <= set(spec["paths"])
    names = {p["name"] for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    assert names == {"q", "mode", "size", "page", *schema.filter_fields()}
    jsonschema.Draft202012Validator.check_schema(spec["components"]["schemas"]["Hit"])


@pytest.mark.parametrize(
    "params",
    [
        {"q": QUERY},
        {"q": "满意度", "mode": "keyword", "size": 100},
        {"q": "成本", "mode": "semantic", "page": 2, "size": 7},
        {"q": "", "province": "宁夏回族自治区", "kind": ["indicator", "project"]},
        {"q": "社区矫正", "level2": "成本指标", "unit": "元"},
    ],
)
def test_api_responses_match_the_openapi_schemas(client: FlaskClient, params: dict) -> None:
    _validator("SearchResult").validate(api(client, **params))


def test_every_documented_status_is_what_the_api_does(client: FlaskClient, tmp_path: Path) -> None:
    spec = document()
    responses = spec["paths"]["/api/search"]["get"]["responses"]
    bad = client.get("/api/search?size=0")
    assert str(bad.status_code) in responses
    _validator("Error").validate(bad.json)
    _validator("Health").validate(client.get("/healthz").json)
    down = create_app(embedder=embedder(), config={"STORE_DIR": str(tmp_path / "none")})
    unavailable = down.test_client().get("/healthz")
    assert str(unavailable.status_code) in spec["paths"]["/healthz"]["get"]["responses"]
    _validator("Error").validate(unavailable.json)
    # each documented parameter is accepted with a value its schema allows
    examples = {"q": "培训", "mode": "keyword", "size": "3", "page": "1", "sort": "-year"}
    examples["year"] = "2025"
    for path in ("/api/search", "/export/search.csv", "/export/compare.json"):
        for param in spec["paths"][path]["get"]["parameters"]:
            value = examples.get(param["name"], "x")
            response = client.get(path, query_string={param["name"]: value, "q": "培训"})
            response.get_data()  # read a streamed export to its end (closes its context)
            assert response.status_code == 200, (path, param["name"])
        # and nothing undocumented is accepted
        assert client.get(path, query_string={"undocumented": "1"}).status_code == 400


# -- pages --------------------------------------------------------------------------


def test_search_page_shows_cards_facets_and_state(client: FlaskClient) -> None:
    html = client.get("/", query_string={"q": QUERY, "province": "河北省"}).get_data(as_text=True)
    assert 'class="badge badge-indicator">指标<' in html
    assert "产出指标 › 成本指标" in html
    assert "毫秒" in html and 'id="total"' in html
    # the chosen province as a chip, and its facet value still offered with the others
    assert "省份：河北省" in html
    assert 'data-field="province" data-value="宁夏回族自治区"' in html  # OR stays possible
    # region tree: 承德市 sits below 河北省
    tree = html[html.index('data-value="河北省"') :]
    assert tree.index('data-value="承德市"') < tree.index('data-value="宁夏回族自治区"')
    # links keep the state in the URL
    assert "/filing/" in html and "#" in html
    assert "/export/search.csv?q=" in html


def test_search_page_says_which_glossary_terms_it_also_looked_for(client: FlaskClient) -> None:
    html = client.get("/", query_string={"q": "出狱人员 花多少钱"}).get_data(as_text=True)
    line = re.search(r'<p class="expansions">同时查找：([^<]*)</p>', html)
    assert line and "刑满释放人员" in line.group(1).split("、")
    plain = client.get("/", query_string={"q": "出狱人员", "mode": "keyword"})
    assert 'class="expansions"' not in plain.get_data(as_text=True)


def test_facet_links_toggle_values_in_the_url(client: FlaskClient) -> None:
    html = client.get("/", query_string={"q": QUERY, "year": "2021"}).get_data(as_text=True)
    links = dict(re.findall(r'href="([^"]+)" data-field="year" data-value="(\d+)"', html))
    by_value = {v: k for k, v in links.items()}
    assert "year=2021" not in by_value["2021"]  # the chosen one unchecks
    assert "year=2021" in by_value["2025"] and "year=2025" in by_value["2025"]


def test_empty_results_suggest_what_to_loosen(client: FlaskClient) -> None:
    html = client.get(
        "/", query_string={"q": "社区矫正", "mode": "keyword", "year": "2024", "county": "平罗县"}
    ).get_data(as_text=True)
    assert "没有找到匹配的结果" in html
    assert "去掉筛选" in html


def test_pagination_links(client: FlaskClient) -> None:
    html = client.get("/", query_string={"q": "满意度", "mode": "keyword"}).get_data(as_text=True)
    assert 'rel="next"' in html and "page=2" in html
    first = api(client, q="满意度", mode="keyword", page=1)["hits"]
    second = api(client, q="满意度", mode="keyword", page=2)["hits"]
    assert {h["id"] for h in first}.isdisjoint(h["id"] for h in second)


def test_filing_page_has_an_anchor_for_every_passage(
    client: FlaskClient, store: EmbeddedStore
) -> None:
    for doc_id in store.content_hashes():
        record = store.get_filing(doc_id)
        html = client.get(f"/filing/{doc_id}").get_data(as_text=True)
        ids = set(re.findall(r'id="([0-9a-f]{16}-[ps][0-9i]+)"', html))
        expected = {p["id"] for p in passages_for(record.filing, doc_id)}
        assert ids == expected
        assert f"/filing/{doc_id}/original" in html


def test_search_hits_link_to_their_passage(client: FlaskClient) -> None:
    hit = api(client, q=QUERY)["hits"][0]
    html = client.get("/", query_string={"q": QUERY}).get_data(as_text=True)
    link = f"/filing/{hit['doc']['id']}#{hit['id']}"
    assert link in html
    filing = client.get(link.split("#")[0]).get_data(as_text=True)
    assert f'id="{hit["id"]}"' in filing


def test_filing_page_unknown_ids_are_404(client: FlaskClient) -> None:
    assert client.get("/filing/0123456789abcdef").status_code == 404
    assert client.get("/filing/not-an-id").status_code == 404


def test_compare_page_statistics_per_unit(client: FlaskClient) -> None:
    rows = csv_rows(client.get("/export/compare.csv", query_string={"q": QUERY}).data)
    numbers = [float(r["number"]) for r in rows if r["unit"] == "%" and r["number"]]
    assert numbers == [
        float(r["number_comparable"]) for r in rows if r["unit_comparable"] == "%" and r["number"]
    ]
    assert len(numbers) >= 3
    html = client.get("/compare", query_string={"q": QUERY}).get_data(as_text=True)
    group = html[html.index('data-unit="%"') :]
    stats = re.search(r'data-min="([^"]+)" data-median="([^"]+)" data-max="([^"]+)"', group)
    assert stats is not None
    assert float(stats[1]) == min(numbers)
    assert float(stats[2]) == statistics.median(numbers)
    assert float(stats[3]) == max(numbers)
    assert "<svg" in html and "<circle" in html


def test_compare_sorting(client: FlaskClient) -> None:
    html = client.get("/compare", query_string={"q": QUERY, "sort": "-year"}).get_data(as_text=True)
    assert 'aria-sort="descending"' in html
    rows = csv_rows(
        client.get("/export/compare.csv", query_string={"q": QUERY, "sort": "year"}).data
    )
    # sorted within each unit's group, as the table shows them
    for unit in {r["unit_comparable"] for r in rows}:
        years = [int(r["year"]) for r in rows if r["year"] and r["unit_comparable"] == unit]
        assert years == sorted(years)
    for sort in ("number", "-number"):
        query = {"q": "指标", "mode": "keyword", "sort": sort}
        rows = csv_rows(client.get("/export/compare.csv", query_string=query).data)
        numbered = [
            (r["unit_comparable"], float(r["number_comparable"])) for r in rows if r["number"]
        ]
        units = [unit for unit, _ in numbered]
        assert len(set(units)) > 1
        # each unit's rows together, in order within it: numbers of two units never mix
        runs = [unit for i, unit in enumerate(units) if i == 0 or units[i - 1] != unit]
        assert len(runs) == len(set(runs))
        for unit in set(units):
            values = [n for u, n in numbered if u == unit]
            assert values == sorted(values, reverse=sort.startswith("-"))


@pytest.mark.parametrize("sort", ["", "year", "-number", "region", "-value"])
def test_compare_exports_list_the_rows_in_the_page_order(client: FlaskClient, sort: str) -> None:
    query = {"q": "满意度", "sort": sort} if sort else {"q": "满意度"}
    html = client.get("/compare", query_string=query).get_data(as_text=True)
    table = html[html.index('id="compare-table"') :]
    on_page = re.findall(r'href="/filing/[0-9a-f]+#([^"]+)"', table)
    rows = csv_rows(client.get("/export/compare.csv", query_string=query).data)
    data = json.loads(client.get("/export/compare.json", query_string=query).data)
    assert len(on_page) > 20
    assert [r["id"] for r in rows] == on_page == [r["id"] for r in data["rows"]]


def _group_stats(html: str) -> dict[str, tuple[float, float, float]]:
    """Each level group's (min, median, max) by its unit (groups of changes left out)."""
    found = re.findall(
        r'data-change="" data-unit="([^"]*)">(?:(?!</tbody>).)*?'
        r'data-min="([^"]+)" data-median="([^"]+)" data-max="([^"]+)"',
        html,
        flags=re.S,
    )
    return {unit: (float(a), float(b), float(c)) for unit, a, b, c in found}


@pytest.mark.parametrize("sort", ["-number", "number", ""])
def test_compare_statistics_and_sort_cover_more_rows_than_the_table_shows(
    store: EmbeddedStore, sort: str
) -> None:
    """The table's limit lowered to 20 rows (QA saw it at 2,000 of 2,100)."""
    client = create_app(store=store, embedder=embedder(), config={"COMPARE_MAX_ROWS": 20})
    client = client.test_client()
    query = {"q": "指标", "mode": "keyword", "sort": sort}
    rows = csv_rows(client.get("/export/compare.csv", query_string=query).data)
    assert len(rows) > 100
    html = client.get("/compare", query_string=query).get_data(as_text=True)
    table = html[html.index('id="compare-table"') :]
    on_page = re.findall(r'href="/filing/[0-9a-f]+#([^"]+)"', table)
    assert on_page == [r["id"] for r in rows[:20]]  # the first rows of the sorted whole
    assert "表格显示当前排序的前 20 条" in html and f"全部 {len(rows)} 条" in html
    stats = _group_stats(html)
    units = {r["unit_comparable"] or "（无单位）" for r in rows if r["number"]}
    assert units <= set(stats)
    for unit in units:
        numbers = [
            float(r["number_comparable"])
            for r in rows
            if (r["unit_comparable"] or "（无单位）") == unit and r["number"]
        ]
        assert stats[unit] == (min(numbers), statistics.median(numbers), max(numbers)), unit


def test_compare_says_plainly_when_statistics_cover_only_part(store: EmbeddedStore) -> None:
    config = {"COMPARE_MAX_ROWS": 20, "COMPARE_STATS_MAX_ROWS": 50}
    client = create_app(store=store, embedder=embedder(), config=config).test_client()
    html = client.get("/compare", query_string={"q": "指标", "mode": "keyword"}).get_data(
        as_text=True
    )
    total = int(re.search(r'id="total">(\d+)<', html)[1])  # type: ignore[index]
    assert total > 50
    assert f"只涵盖按相关度排前 50 条，不是全部 {total} 条" in html


def test_chart_dots_of_one_column_and_number_are_one() -> None:
    from webapp.compare import make_chart

    def row(region: str, number: float) -> Row:
        return Row("i", "d", region, 2023, "f", "p", "l2", "n", "v", "=", number, number, "元")

    rows = [row("江苏省 南京市 鼓楼区", 5)] * 3000 + [row("江苏省 南京市 鼓楼区", 9)]
    chart = make_chart(rows)
    assert len(chart.points) == 2
    assert any("同值共 3000 条" in p.title for p in chart.points)


def test_compare_lists_indicators_whatever_kind_the_search_had(client: FlaskClient) -> None:
    plain = client.get("/compare", query_string={"q": QUERY}).get_data(as_text=True)
    html = client.get("/compare", query_string={"q": QUERY, "kind": "project"}).get_data(
        as_text=True
    )
    total = re.search(r'id="total">(\d+)<', html)
    assert total is not None and total[1] == re.search(r'id="total">(\d+)<', plain)[1]
    assert int(total[1]) > 0
    assert "类型：项目" not in html and "kind=project" not in html
    assert 'id="kind-ignored"' in html and 'id="kind-ignored"' not in plain  # said, not silent
    indicators = client.get("/compare", query_string={"q": QUERY, "kind": "indicator"})
    assert 'id="kind-ignored"' not in indicators.get_data(as_text=True)


def test_exports_take_size_and_page_and_say_they_ignore_them(client: FlaskClient) -> None:
    for path in ("/export/search.csv", "/export/compare.csv"):
        whole = csv_rows(client.get(path, query_string={"q": QUERY}).data)
        paged = client.get(path, query_string={"q": QUERY, "size": 5, "page": 2})
        assert paged.status_code == 200 and csv_rows(paged.data) == whole and len(whole) > 5
        params = {p["name"]: p for p in document()["paths"][path]["get"]["parameters"]}
        assert (
            "ignored" in params["size"]["description"]
            and "ignored" in params["page"]["description"]
        )
    compare_kind = next(
        p
        for p in document()["paths"]["/export/compare.csv"]["get"]["parameters"]
        if p["name"] == "kind"
    )
    assert "ignored" in compare_kind["description"]


def test_compare_shows_the_regions_above_the_place(client: FlaskClient) -> None:
    query = {"q": "满意度", "sort": "region"}
    html = client.get("/compare", query_string=query).get_data(as_text=True)
    groups = html.split('<tbody class="unit-group"')[1:]
    assert groups and '<span class="above">河北省' in html
    for group in groups:
        cells = re.findall(
            r'<tr>\s*<td>(?:<span class="above">([^<]*)</span> )?([^<]+)</td>', group
        )
        shown = [f"{above} {place}".strip() for above, place in cells]
        assert shown == sorted(shown)  # sorted by what the column shows


def test_forms_keep_the_page_size_and_the_sort(client: FlaskClient) -> None:
    html = client.get("/", query_string={"q": QUERY, "size": 3}).get_data(as_text=True)
    form = html[html.index('<form class="search"') : html.index("</form>")]
    assert '<input type="hidden" name="size" value="3">' in form
    html = client.get("/compare", query_string={"q": QUERY, "sort": "-year"}).get_data(as_text=True)
    form = html[html.index('<form class="search"') : html.index("</form>")]
    assert '<input type="hidden" name="sort" value="-year">' in form
    plain = client.get("/", query_string={"q": QUERY}).get_data(as_text=True)
    form = plain[plain.index('<form class="search"') : plain.index("</form>")]
    assert 'name="size"' not in form and 'name="sort"' not in form


class KnownParents:
    """RegionParents with the answers given (no store)."""

    PARENTS = {
        ("city", "邢台市"): "河北省",
        ("city", "石嘴山市"): "宁夏回族自治区",
        ("city", "北京市"): "北京市",
        ("county", "临西县"): "邢台市",
        ("county", "平罗县"): "石嘴山市",
        ("county", "朝阳区"): "北京市",
        ("county", "无名县"): None,
    }

    def parent(self, portal: object, child_field: str, value: str) -> str | None:
        return self.PARENTS[child_field, value]


def test_a_county_hangs_under_its_city_and_province_even_when_they_are_not_counted() -> None:
    from webapp.facets import FacetValue, region_tree

    def make(name: str, entry: dict) -> FacetValue:
        return FacetValue(name, str(entry["value"]), int(entry["count"]), False, "#")

    # county=临西县 chosen: provinces and cities are counted inside it, counties beside it
    counts = {
        "province": [{"value": "河北省", "count": 7}],
        "city": [{"value": "邢台市", "count": 7}],
        "county": [
            {"value": "平罗县", "count": 125},
            {"value": "临西县", "count": 7},
            {"value": "朝阳区", "count": 3},
            {"value": "无名县", "count": 1},
        ],
    }
    top = region_tree(None, KnownParents(), counts, make)  # type: ignore[arg-type]

    def shape(nodes: list[FacetValue]) -> list:
        return [(n.value, n.count, shape(n.children)) for n in nodes]

    assert shape(top) == [
        ("河北省", 7, [("邢台市", 7, [("临西县", 7, [])])]),
        ("宁夏回族自治区", 0, [("石嘴山市", 0, [("平罗县", 125, [])])]),
        ("北京市", 0, [("朝阳区", 3, [])]),
        ("无名县", 1, []),
    ]


def test_unit_groups_and_numbers() -> None:
    def row(op: str, low: float | None, high: float | None, unit: str) -> Row:
        return Row("i", "d", "河北省", 2021, "f", "p", "l2", "n", "v", op, low, high, unit)

    rows = [
        row("=", 10, 10, "元"),
        row(">=", 95, None, "%"),
        row("<=", None, 30, "元"),
        row("range", 1, 3, "元"),
        row("", None, None, ""),
    ]
    groups = {g.unit: g for g in group_by_unit(rows)}
    assert groups["元"].numbers == [10, 30, 2]
    assert (groups["元"].minimum, groups["元"].median, groups["元"].maximum) == (2, 10, 30)
    assert groups["%"].numbers == [95] and groups["（无单位）"].numbers == []
    assert nice_ticks(0.03, 100) == [0, 25, 50, 75, 100]
    # one value: from zero, never a negative tick on a cost axis
    assert nice_ticks(0.5, 0.5)[0] == 0 and nice_ticks(0.5, 0.5)[-1] >= 0.5
    assert nice_ticks(-3, -3)[-1] == 0
    assert nice_ticks(98, 98) == [0, 25, 50, 75, 100]  # a percentage ends at 100, not 200


@pytest.mark.parametrize(
    ("value", "label"),
    [
        (0, "0"),
        (0.25, "0.25"),
        (2500, "2500"),
        (10_000, "1万"),
        (75_000, "7.5万"),
        (2.5e7, "2500万"),
        (5e7, "5000万"),
        (1e8, "1亿"),
        (1.25e8, "1.25亿"),
        (-5e4, "-5万"),
    ],
)
def test_tick_labels_write_large_numbers_in_wan_and_yi(value: float, label: str) -> None:
    assert tick_label(value) == label


def test_a_chart_of_large_amounts_has_no_scientific_notation() -> None:
    rows = [_cost(f"{n:g}万元", "=", n, "万元") for n in (3000, 8000, 9500)]
    labels = [label for _, label in make_chart(rows).ticks]
    assert labels == ["2000万", "4000万", "6000万", "8000万", "1亿"]


def test_compare_sorts_targets_by_the_number_they_state() -> None:
    def row(value: str, op: str, low: float | None, high: float | None) -> Row:
        return Row("i", "d", "河北省", 2021, "f", "p", "l2", "n", value, op, low, high, "万元")

    rows = [
        row("≤16.5", "<=", None, 16.5),
        row("≤2", "<=", None, 2),
        row("有效控制", "", None, None),
        row("≤183.59", "<=", None, 183.59),
        row("≤20", "<=", None, 20),
    ]
    assert [r.value for r in sort_rows(rows, "value")] == [
        "≤2",
        "≤16.5",
        "≤20",
        "≤183.59",
        "有效控制",
    ]
    assert [r.value for r in sort_rows(rows, "-value")][:2] == ["≤183.59", "≤20"]


@pytest.mark.parametrize(
    ("low", "high", "unit", "number", "comparable"),
    [
        (0.29, 0.57, "万元", 0.43, 4300),
        (1.1, 1.3, "千元", 1.2, 1200),
        (0.1, 0.2, "%", 0.15, 0.15),
    ],
)
def test_a_range_s_middle_has_no_float_noise(
    low: float, high: float, unit: str, number: float, comparable: float
) -> None:
    row = Row("i", "d", "河北省", 2021, "f", "p", "l2", "n", "v", "range", low, high, unit)
    assert (row.number, row.number_comparable) == (number, comparable)
    assert str(row.number) == str(number)  # what the exports write


def _cost(value: str, op: str, number: float, unit: str) -> Row:
    low, high = (None, number) if op == "<=" else (number, number)
    return Row("i", "d", "河北省", 2021, "f", "p", "成本指标", "n", value, op, low, high, unit)


def test_compare_groups_units_that_mean_the_same_in_one_scale() -> None:
    rows = [
        _cost("≤350元/人", "<=", 350, "元/人"),
        _cost("0.25万元/人", "=", 0.25, "万元/人"),
        _cost("≤400元/人", "<=", 400, "元/人"),
        _cost("2500元/次", "=", 2500, "元/次"),
        _cost("3000元/场次", "=", 3000, "元/场次"),
        _cost("20人次", "=", 20, "人次"),
        _cost("30人", "=", 30, "人"),
    ]
    groups = {g.unit: g for g in group_by_unit(rows)}
    assert set(groups) == {"元/人", "元/次", "人次", "人"}  # 人次 is not 人
    per_person = groups["元/人"]
    assert per_person.numbers == [350, 2500, 400]
    assert (per_person.minimum, per_person.median, per_person.maximum) == (350, 400, 2500)
    chart = per_person.chart()
    assert chart is not None and float(chart.ticks[-1][1].replace(",", "")) >= 2500
    wan = per_person.rows[1]  # the filing's own words and numbers stay as filed
    assert (wan.value, wan.unit, wan.low, wan.high, wan.number) == (
        "0.25万元/人", "万元/人", 0.25, 0.25, 0.25,
    )  # fmt: skip
    assert (wan.unit_comparable, wan.low_comparable, wan.high_comparable) == ("元/人", 2500, 2500)
    assert wan.number_comparable == 2500
    assert [r.value for r in groups["元/次"].rows] == ["2500元/次", "3000元/场次"]
    for sort in ("number", "value"):
        ordered = next(g for g in table(rows, sort) if g.unit == "元/人")
        assert [r.value for r in ordered.rows] == ["≤350元/人", "≤400元/人", "0.25万元/人"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("low", ["≥500元", "≥3千元", "≥0.8万元", "≥1.2亿元"]),
        ("-low", ["≥1.2亿元", "≥0.8万元", "≥3千元", "≥500元"]),
        ("high", ["≤500元", "≤3千元", "≤0.8万元", "≤1.2亿元"]),
        ("-high", ["≤1.2亿元", "≤0.8万元", "≤3千元", "≤500元"]),
    ],
)
def test_compare_sorts_bounds_by_their_comparable_values(sort: str, expected: list[str]) -> None:
    op, symbol = (">=", "≥") if sort.endswith("low") else ("<=", "≤")
    rows = [
        _cost(f"{symbol}{n:g}{unit}", op, n, unit)
        for n, unit in ((1.2, "亿元"), (3, "千元"), (500, "元"), (0.8, "万元"))
    ]
    (group,) = table(rows, sort)
    assert [r.value for r in group.rows] == expected


@pytest.mark.parametrize("sort", ["low", "-low", "high", "-high"])
def test_compare_exports_sort_bounds_by_their_comparable_values(
    client: FlaskClient, sort: str
) -> None:
    query = {"q": "成本指标", "mode": "keyword", "sort": sort}
    rows = json.loads(client.get("/export/compare.json", query_string=query).data)["rows"]
    bound = sort.removeprefix("-")
    in_yuan = [r for r in rows if r["unit_comparable"] == "元" and r[bound] is not None]
    assert {r["unit"] for r in in_yuan} >= {"元", "万元"}
    values = [r[f"{bound}_comparable"] for r in in_yuan]
    assert values == sorted(values, reverse=sort.startswith("-"))


def test_a_comparable_unit_filter_selects_a_whole_compare_group(client: FlaskClient) -> None:
    def rows(**filters: str) -> list[dict]:
        query = {"q": "成本指标", "mode": "keyword", **filters}
        return json.loads(client.get("/export/compare.json", query_string=query).data)["rows"]

    group = [r["id"] for r in rows() if r["unit_comparable"] == "元"]
    chosen = rows(unit_comparable="元")
    assert [r["id"] for r in chosen] == group
    assert {r["unit"] for r in chosen} >= {"元", "万元"}
    # unit= keeps its meaning: the filing's own unit
    assert {r["unit"] for r in rows(unit="元")} == {"元"} and len(rows(unit="元")) < len(group)
    page = client.get("/compare", query_string={"q": "成本指标", "mode": "keyword"})
    html = page.get_data(as_text=True)
    link = re.search(r'<a class="group-only" href="([^"]+unit_comparable=%E5%85%83[^"]*)"', html)
    assert link is not None
    shown = client.get(link[1].replace("&amp;", "&")).get_data(as_text=True)
    assert f'id="total">{len(group)}<' in shown and "可比单位" in shown
    assert 'class="group-only"' not in shown  # one group left, already chosen


def test_compare_puts_amounts_in_wan_yuan_and_yuan_in_one_group(client: FlaskClient) -> None:
    query = {"q": "成本指标", "mode": "keyword"}
    rows = json.loads(client.get("/export/compare.json", query_string=query).data)["rows"]
    wan = [r for r in rows if r["unit"] == "万元" and r["number"] is not None]
    assert wan and any(r["unit"] == "元" and r["number"] is not None for r in rows)
    for row in wan:
        assert row["unit_comparable"] == "元"
        assert row["number_comparable"] == pytest.approx(row["number"] * 1e4)
        for key in ("low", "high"):
            if row[key] is not None:
                assert row[f"{key}_comparable"] == pytest.approx(row[key] * 1e4)
    assert any(r["unit"] == "元/场次" and r["unit_comparable"] == "元/次" for r in rows)
    html = client.get("/compare", query_string=query).get_data(as_text=True)
    assert 'data-unit="万元"' not in html and 'data-unit="元/场次"' not in html
    numbers = [r["number_comparable"] for r in rows if r["unit_comparable"] == "元"]
    numbers = [n for n in numbers if n is not None]
    assert _group_stats(html)["元"] == (min(numbers), statistics.median(numbers), max(numbers))
    in_csv = csv_rows(client.get("/export/compare.csv", query_string=query).data)
    assert any(r["unit"] == "万元" and r["unit_comparable"] == "元" for r in in_csv)


def test_static_assets_and_accessibility_basics(client: FlaskClient) -> None:
    html = client.get("/", query_string={"q": QUERY}).get_data(as_text=True)
    assert '<label class="sr" for="q">' in html and 'id="q"' in html
    for radio in re.findall(r'<input type="radio"[^>]*id="([^"]+)"', html):
        assert f'for="{radio}"' in html
    assert '<html lang="zh-CN">' in html and 'name="viewport"' in html
    assert client.get("/static/portal.js").status_code == 200
    assert client.get("/static/portal.css").status_code == 200


# -- jixiao serve (gunicorn) --------------------------------------------------------


def test_jixiao_serve_runs_the_portal_under_gunicorn(index: dict[str, Path]) -> None:
    import http.client
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    jixiao = str(Path(sys.executable).parent / "jixiao")
    command = [jixiao, "serve", "--store", str(index["store"]), "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--workers", "1", "--threads", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        health = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                connection.request("GET", "/healthz")
                health = connection.getresponse()
                break
            except OSError:
                time.sleep(0.5)
        assert health is not None and health.status == 200
        assert json.loads(health.read())["passages"] == CORPUS_PASSAGES
        connection.request("GET", "/api/search?q=%E5%9F%B9%E8%AE%AD&size=3")
        answer = connection.getresponse()
        assert answer.status == 200 and answer.getheader("Server", "").startswith("gunicorn")
        assert len(json.loads(answer.read())["hits"]) == 3
        # a request line past gunicorn's default 4094 bytes still reaches the app
        connection.request("GET", "/api/search?q=" + "%E5%BE%88" * 450)
        too_long = connection.getresponse()
        assert too_long.status == 400 and json.loads(too_long.read())["param"] == "q"
        # kill -HUP (after an index run): the master loads the index again for the
        # workers it restarts, and the portal keeps answering meanwhile
        os.kill(server.pid, signal.SIGHUP)
        for _ in range(15):
            time.sleep(1)
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", "/healthz")
            assert connection.getresponse().status == 200
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        output = server.communicate(timeout=60)[0].decode(errors="replace")
    assert "Traceback" not in output
    # the master loaded the model and the vector index for its workers before forking
    assert "model multilingual-e5-small-jixiao@" in output
    shared = f"vector index of {CORPUS_PASSAGES} passages loaded once for all workers"
    assert output.count(shared) == 2


def write_gulou(folder: Path, corpus: Path, *cities: str) -> None:
    """Filings of filers in a 鼓楼区: ``nanjing.txt`` (南京市, 320106, two projects),
    ``fuzhou.txt`` (福州市, 350102, one)."""
    text = (corpus / "002_19f2a4c4a62c75e5.txt").read_text(encoding="utf-8")
    head = "部门项目支出预算绩效目标表"
    first, second = text.split(head, 2)[1:3]
    projects = {"nanjing": head + first + head + second, "fuzhou": head + first}
    city = {"nanjing": "南京市", "fuzhou": "福州市"}
    for name in cities:
        filing = projects[name].replace("平罗县司法局", f"{city[name]}鼓楼区司法局")
        (folder / f"{name}.txt").write_text(filing, encoding="utf-8")


def tree_codes(client: FlaskClient) -> set[str]:
    """The counties of the search page's region tree, by adcode."""
    html = client.get("/").get_data(as_text=True)
    return set(re.findall(r'data-field="adcode" data-value="(\d{6})"', html))


@pytest.fixture(scope="module")
def two_gulou(index: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """A store of two filers in a 鼓楼区 each: 南京市 (320106, two projects) and 福州市
    (350102, one)."""
    folder = tmp_path_factory.mktemp("gulou")
    write_gulou(folder, index["corpus"], "nanjing", "fuzhou")
    store = index_folder(folder, folder / "store")
    yield create_app(store=store, embedder=embedder())
    store.close()


def test_counties_of_one_name_in_two_cities_stay_apart(two_gulou: Flask) -> None:
    client = two_gulou.test_client()
    nanjing = api(client, adcode="320106")["total"]
    fuzhou = api(client, adcode="350102")["total"]
    assert nanjing > fuzhou > 0
    result = api(client, county="鼓楼区")  # a shared county= link keeps meaning both
    assert result["total"] == nanjing + fuzhou
    assert set(result["facets"]) == set(schema.facet_fields())  # the API's facets as before

    html = client.get("/").get_data(as_text=True)
    links = re.findall(
        r'<a class="fl" href="([^"]+)" data-field="([^"]+)" data-value="([^"]+)"', html
    )
    order = [(name, value) for _, name, value in links]
    assert order[order.index(("city", "南京市")) + 1] == ("adcode", "320106")
    assert order[order.index(("city", "福州市")) + 1] == ("adcode", "350102")
    counts = dict(re.findall(r'data-value="(\d{6})"[^>]*>.*?class="count">(\d+)<', html, re.S))
    assert counts == {"320106": str(nanjing), "350102": str(fuzhou)}

    href = next(h for h, name, value in links if value == "320106").replace("&amp;", "&")
    assert "adcode=320106" in href and "county=" not in href
    page = client.get(href).get_data(as_text=True)
    assert re.search(r'id="total">(\d+)<', page)[1] == str(nanjing)  # type: ignore[index]
    assert "区县：鼓楼区（南京市）" in page  # the chip names the place, not the code
    # a second county adds to the first (OR), a county= link's names become codes
    chosen = client.get("/", query_string={"county": "鼓楼区"}).get_data(as_text=True)
    assert 'aria-current="true"' in chosen
    off = re.search(r'href="([^"]+)" data-field="adcode" data-value="350102"', chosen)[1]  # type: ignore[index]
    assert "adcode=320106" in off and "350102" not in off and "county=" not in off


def test_the_compare_chart_keeps_counties_of_one_name_apart(two_gulou: Flask) -> None:
    client = two_gulou.test_client()
    html = client.get("/compare", query_string={"county": "鼓楼区"}).get_data(as_text=True)
    charts = html.split("<svg")[1:]
    assert any(
        {"南京市鼓楼区 2025", "福州市鼓楼区 2025"}
        <= set(re.findall(r'<text class="cat"[^>]*>([^<]+)</text>', chart))
        for chart in charts
    )
    for chart in charts:  # never one column for two places
        columns = re.findall(r'<text class="cat"[^>]*>([^<]+)</text>', chart)
        assert len(columns) == len(set(columns))


def test_a_county_indexed_while_the_portal_runs_shows_in_its_tree(tmp_path: Path) -> None:
    """QA: the region tree kept what it learnt of the store for the life of the process,
    so a county indexed meanwhile (here a second 鼓楼区) showed only after a restart."""
    folder = tmp_path / "filings"
    folder.mkdir()
    write_gulou(folder, ROOT / "corpus", "nanjing")
    index_folder(folder, tmp_path / "store").close()
    store = EmbeddedStore(tmp_path / "store", create=False)  # the portal's, a reader
    client = create_app(store=store, embedder=embedder()).test_client()
    assert tree_codes(client) == {"320106"}
    write_gulou(folder, ROOT / "corpus", "fuzhou")
    index_folder(folder, tmp_path / "store").close()  # jixiao index, while the portal runs
    assert tree_codes(client) == {"320106", "350102"}
    store.close()


@pytest.fixture(scope="module")
def with_changes(
    index: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    """Seed 002 with its two 重新违法犯罪率下降 rows stated as changes against last year."""
    folder = tmp_path_factory.mktemp("changes")
    text = (index["corpus"] / "002_19f2a4c4a62c75e5.txt").read_text(encoding="utf-8")
    level = "重新违法犯罪率下降\t明显改善"
    assert text.count(level) == 2
    text = text.replace(level, "重新违法犯罪率\t同比下降5%", 1)
    text = text.replace(level, "重新违法犯罪率\t较上年下降不超过8%", 1)
    (folder / "changes.txt").write_text(text, encoding="utf-8")
    store = index_folder(folder, folder / "store")
    yield create_app(store=store, embedder=embedder())
    store.close()


def test_compare_keeps_changes_apart_from_levels(with_changes: Flask) -> None:
    client = with_changes.test_client()
    query = {"q": "指标", "mode": "keyword"}
    rows = json.loads(client.get("/export/compare.json", query_string=query).data)["rows"]
    changes = [r for r in rows if r["change"]]
    assert sorted((r["value"], r["op"], r["low"], r["high"], r["unit"]) for r in changes) == [
        ("同比下降5%", "=", 5, 5, "%"),
        ("较上年下降不超过8%", "<=", None, 8, "%"),
    ]
    assert {r["change"] for r in changes} == {"decrease"}
    levels = [r["number"] for r in rows if r["unit"] == "%" and not r["change"] and r["number"]]
    html = client.get("/compare", query_string=query).get_data(as_text=True)
    groups = re.findall(r'data-change="([^"]*)" data-unit="([^"]*)"', html)
    assert ("decrease", "%") in groups and ("", "%") in groups
    assert "单位 <strong>%（降幅）</strong> · 2 条" in html
    # the level group's statistics leave the changes out
    assert _group_stats(html)["%"] == (min(levels), statistics.median(levels), max(levels))
    search = client.get("/", query_string={"q": "同比下降5%", "mode": "keyword"})
    assert "降幅 ＝ 5 %" in search.get_data(as_text=True)
    hits = api(client, q="违法犯罪", mode="keyword", size=50)["hits"]
    indicators = [h["indicator"] for h in hits if h["kind"] == "indicator"]
    assert {i["value"]: i["change"] for i in indicators}["同比下降5%"] == "decrease"
    assert any(i["change"] is None and i["op"] for i in indicators)  # levels say null

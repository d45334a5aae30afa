"""The Elasticsearch store's requests and response parsing, as pure functions.

Every function here builds the JSON body of one request (or reads one response)
and does no I/O beyond reading the two mapping files, so all of it is unit-tested
without a server; ``indexer/store/elastic.py`` only sends these bodies.

Why the requests look the way they do (see ``shared/notes/research.md``):

- Reciprocal rank fusion and the ``linear`` retriever need an Enterprise licence,
  so the keyword and kNN searches are separate bodies, fused in Python above the
  store.
- ``tokens`` is analysed by whitespace + lowercase only; the caller has already
  segmented the text with jieba, so query tokens are sent as exact ``term``
  queries (lowercased here, as the analyser lowercased the indexed tokens).
- Passages are written under their own id (``_id`` = ``id``), so search hits are
  read from ``_id`` and no ``_source`` is fetched for them.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from indexer import schema
from indexer.store.base import FilingRecord, Filters, KeywordResult
from indexer.tokenize import AllOf, Form, Phrase, group_forms, token_weight

FILINGS_MAPPING_PATH = Path(schema.MAPPING_PATH).with_name("filings.json")

#: ``index.max_result_window``: a search cannot return hits beyond this rank.
MAX_RESULT_WINDOW = 10_000
#: The largest ``k`` and ``num_candidates`` a kNN search accepts.
MAX_NUM_CANDIDATES = 10_000
#: Page size when listing every filing's content hash.
FILINGS_PAGE_SIZE = 1000
# A store holds one model's vectors, two during a re-index with another: more is a mess
# worth reporting, not paging through.
MODELS_SIZE = 20

# Elasticsearch index naming rules: lowercase, none of \ / * ? " < > | , # : or
# space, not starting with - _ +, not . or .., at most 255 bytes.
_BAD_INDEX_CHARS = re.compile(r'[\\/*?"<>|,#: A-Z]')


# --- index definitions -------------------------------------------------------------


def index_body(*, refresh_interval: str | None = None, replicas: int | None = None) -> dict:
    """Settings + mappings of a passages index: ``mappings/passages.json`` as declared.

    ``refresh_interval`` ("-1" while bulk-loading a rebuild) and ``replicas`` (the
    declared 0 suits one node; a cluster wants copies) replace the settings when
    given; the declared file is never modified.
    """
    return _with_settings(schema.mapping(), refresh_interval, replicas)


def _with_settings(declared: dict, refresh_interval: str | None, replicas: int | None) -> dict:
    body = copy.deepcopy(declared)
    if refresh_interval is not None:
        body["settings"]["refresh_interval"] = refresh_interval
    if replicas is not None:
        body["settings"]["number_of_replicas"] = replicas
    return body


@cache
def _filings_mapping() -> dict:
    data = json.loads(FILINGS_MAPPING_PATH.read_text(encoding="utf-8"))
    data.pop("_comment", None)
    return data


def filings_index_body(*, refresh_interval: str | None = None, replicas: int | None = None) -> dict:
    """Settings + mappings of a filings index: ``mappings/filings.json`` as declared."""
    return _with_settings(_filings_mapping(), refresh_interval, replicas)


def replicas_setting(value: str | None) -> int | None:
    """``JIXIAO_ES_REPLICAS`` as a replica count (None: as declared), else ValueError."""
    if value is None or not value.strip():
        return None
    if not value.strip().isdigit():
        raise ValueError(f"JIXIAO_ES_REPLICAS must be a whole number ≥ 0, not {value!r}")
    return int(value)


def check_index_name(name: str) -> str:
    """``name`` if Elasticsearch accepts it as an index or alias name, else ValueError."""
    if (
        not name
        or name in (".", "..")
        or name[0] in "-_+"
        or _BAD_INDEX_CHARS.search(name)
        or len(name.encode("utf-8")) > 255
    ):
        raise ValueError(
            f"{name!r} is not a valid Elasticsearch index name "
            '(lowercase, no spaces or \\ / * ? " < > | , # :, not starting with - _ +)'
        )
    return name


def filings_alias(alias: str) -> str:
    """The alias of the filings index that belongs to the passages alias ``alias``."""
    return f"{alias}-filings"


def versioned_index_name(alias: str, now: datetime) -> str:
    """A concrete index behind ``alias``, named by its build time.

    ``jixiao-passages`` at 2026-11-22 10:15:00.123 → ``jixiao-passages-20261122t101500-123``.
    The milliseconds keep two rebuilds within one second apart; lowercase ``t``
    because index names must be lowercase.
    """
    return f"{alias}-{now:%Y%m%dt%H%M%S}-{now.microsecond // 1000:03d}"


def initial_index_name(alias: str) -> str:
    """The concrete index ``ensure_index`` creates the first time.

    A fixed name, not a timestamp: two indexers starting at once both try to
    create the same index, one wins and the other sees ``resource_already_exists``,
    instead of each creating its own index and leaving the alias on two indices
    (which makes every write through the alias fail).
    """
    return f"{alias}-initial"


def alias_swap_actions(
    alias: str, new_index: str, old_indices: Iterable[str], *, drop_concrete: bool = False
) -> dict:
    """The ``_aliases`` body moving ``alias`` from ``old_indices`` to ``new_index``.

    All actions are one request, which Elasticsearch applies atomically: a reader
    resolves the alias to the old index or to the new one, never to both or none.
    ``drop_concrete`` is for an index that is itself named ``alias`` (made before
    aliases were used): ``remove_index`` deletes it in the same atomic step, as an
    alias cannot be added while an index holds its name.
    """
    actions: list[dict] = [
        {"remove": {"index": old, "alias": alias}} for old in old_indices if old != new_index
    ]
    if drop_concrete:
        actions.append({"remove_index": {"index": alias}})
    actions.append({"add": {"index": new_index, "alias": alias}})
    return {"actions": actions}


# --- queries ------------------------------------------------------------------------


def filters_clause(filters: Filters) -> list[dict]:
    """One ``terms`` clause per field: its values OR'd; the clauses go in a filter (AND).

    Values are sent as strings (filter fields are keyword fields; ``year`` is
    ``"2025"``), matching ``Filters.matches``. An empty value tuple matches nothing,
    which is what OR over no values means. Unknown fields are refused: Elasticsearch
    would silently match nothing on an unmapped field.
    """
    allowed = schema.filter_fields()
    clauses = []
    for name, values in filters.terms.items():
        if name not in allowed:
            raise ValueError(f"cannot filter on {name!r}; filterable fields: {', '.join(allowed)}")
        clauses.append({"terms": {name: [str(value) for value in values]}})
    return clauses


def _token_query(token: str) -> dict:
    """An exact match of one jieba token in ``tokens``.

    A token with spaces inside was split by the whitespace analyser at index
    time, so all of its parts must be present instead.
    """
    parts = token.lower().split()
    weight = token_weight(token)
    if len(parts) == 1:
        if weight == 1.0:
            return {"term": {"tokens": parts[0]}}
        return {"term": {"tokens": {"value": parts[0], "boost": weight}}}
    query: dict[str, Any] = {"must": [{"term": {"tokens": part}} for part in parts]}
    if weight != 1.0:
        query["boost"] = weight
    return {"bool": query}


def _phrase_query(phrase: Phrase) -> dict:
    """The phrase's tokens at consecutive positions of ``tokens``.

    ``match_phrase`` reads its text with the field's analyser (whitespace, lowercase),
    which gives the tokens back one per position, as they were indexed.
    """
    query: dict[str, Any] = {"query": " ".join(phrase.tokens)}
    weight = token_weight(phrase.tokens[0])
    if weight != 1.0:
        query["boost"] = weight
    return {"match_phrase": {"tokens": query}}


def _form_query(form: Form) -> dict:
    """A token, a phrase, or groups that must all match (one alternative of an OR)."""
    if isinstance(form, AllOf):
        return {"bool": {"must": [q for q in map(_group_query, form.groups) if q is not None]}}
    if isinstance(form, Phrase):
        return _phrase_query(form)
    return _token_query(form)


def _group_query(group: Sequence[Form]) -> dict | None:
    """Any form of the group (``should`` with minimum_should_match 1); None if it has none."""
    forms = group_forms(group)
    if not forms:
        return None
    return {"bool": {"should": [_form_query(f) for f in forms], "minimum_should_match": 1}}


def facet_aggs(facets: Sequence[str], facet_size: int = schema.FACET_SIZE) -> dict:
    """A ``terms`` aggregation per facet field, named after the field.

    Most frequent first, then by value, so equal counts come out in a stable order.
    """
    return {
        name: {
            "terms": {
                "field": name,
                "size": facet_size,
                "order": [{"_count": "desc"}, {"_key": "asc"}],
            }
        }
        for name in facets
    }


def keyword_search_body(
    groups: Sequence[Sequence[Form]],
    filters: Filters,
    size: int,
    facets: Sequence[str],
    facet_size: int = schema.FACET_SIZE,
    exclude: Sequence[Sequence[Form]] = (),
) -> dict:
    """BM25 search: every group must match (any form of it), none of ``exclude`` may,
    filtered, with facet counts.

    No groups (or only empty ones) match every passage, for browsing by facets
    (less the excluded ones).
    Facet counts are aggregations over the whole filtered match set, and
    ``track_total_hits`` makes ``total`` exact instead of capped at 10,000.
    ``size`` is capped at ``index.max_result_window`` (see
    :func:`keyword_next_page_body` for deeper hits). Ties in score are broken by
    passage id so pages are stable.
    """
    must = [q for q in (_group_query(g) for g in groups) if q is not None]
    query: dict[str, Any] = {"must": must or [{"match_all": {}}]}
    clauses = filters_clause(filters)
    if clauses:
        query["filter"] = clauses
    must_not = [q for q in (_group_query(g) for g in exclude) if q is not None]
    if must_not:
        query["must_not"] = must_not
    body: dict[str, Any] = {
        "query": {"bool": query},
        "size": max(0, min(size, MAX_RESULT_WINDOW)),
        "track_total_hits": True,
        "_source": False,
        "sort": ["_score", {"id": "asc"}],
        # Sorting on more than _score alone would otherwise leave _score null.
        "track_scores": True,
    }
    if facets:
        body["aggs"] = facet_aggs(facets, facet_size)
    return body


def keyword_next_page_body(first: dict, after: Sequence, size: int) -> dict:
    """The keyword search ``first`` continued past ``index.max_result_window``.

    Hits deeper than 10,000 are read by ``search_after`` on the sort values
    (score, passage id) of the last hit so far; facets and the total came with
    the first page, so the follow-ups leave them out.
    """
    body = {k: v for k, v in first.items() if k != "aggs"}
    body.update(
        size=max(0, min(size, MAX_RESULT_WINDOW)), track_total_hits=False, search_after=list(after)
    )
    return body


def last_sort(resp: Mapping) -> list | None:
    """The sort values of a response's last hit (for ``search_after``), None if no hits."""
    hits = resp["hits"]["hits"]
    return list(hits[-1]["sort"]) if hits and hits[-1].get("sort") else None


def knn_search_body(
    vector: np.ndarray | Sequence[float],
    filters: Filters,
    k: int,
    num_candidates: int | None = None,
) -> dict:
    """Approximate kNN over ``vector`` with the filters inside the ``knn`` section.

    A filter there is applied while the HNSW graph is searched, so the result is
    the ``k`` nearest among passages that pass, not ``k`` nearest then filtered
    (which could return fewer than ``k``). ``num_candidates`` defaults to
    ``max(2k, 100)``: more candidates per shard, better recall; both capped at 10,000.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    k = min(k, MAX_NUM_CANDIDATES)
    if num_candidates is None:
        num_candidates = max(2 * k, 100)
    num_candidates = min(max(num_candidates, k), MAX_NUM_CANDIDATES)
    knn: dict[str, Any] = {
        "field": "vector",
        "query_vector": _vector_list(vector),
        "k": k,
        "num_candidates": num_candidates,
    }
    clauses = filters_clause(filters)
    if clauses:
        knn["filter"] = clauses
    return {"knn": knn, "size": k, "_source": False}


FILING_HASHES = ("doc_id", "content_hash")
FILING_LOCATIONS = ("doc_id", "source", "filing.path")


def filings_page_body(
    size: int = FILINGS_PAGE_SIZE, after: list | None = None, fields: tuple = FILING_HASHES
) -> dict:
    """One page of the filings index by doc_id, each hit's ``fields`` of its source.

    ``search_after`` (the last hit's sort values) pages through any number of
    filings; ``from`` would stop at 10,000.
    """
    body: dict[str, Any] = {
        "query": {"match_all": {}},
        "size": size,
        "sort": [{"doc_id": "asc"}],
        "_source": list(fields),
        "track_total_hits": False,
    }
    if after is not None:
        body["search_after"] = after
    return body


def models_body(size: int = MODELS_SIZE) -> dict:
    """Filings per encoder (``model``) over the filings index; none recorded counts as ""."""
    return {
        "size": 0,
        "track_total_hits": False,
        "aggs": {"models": {"terms": {"field": "model", "size": size, "missing": ""}}},
    }


def delete_by_doc_body(doc_id: str) -> dict:
    """``_delete_by_query`` body removing every passage of one filing."""
    return {"query": {"term": {"doc_id": doc_id}}}


def stale_passages_body(doc_id: str, keep_ids: Sequence[str]) -> dict:
    """``_delete_by_query`` body removing a filing's passages except ``keep_ids``.

    Run after the filing's new passages were written, it removes the ones the new
    version no longer has, so the filing never drops out of search while it is
    being replaced.
    """
    query: dict[str, Any] = {"filter": [{"term": {"doc_id": doc_id}}]}
    if keep_ids:
        query["must_not"] = [{"ids": {"values": list(keep_ids)}}]
    return {"query": {"bool": query}}


# --- writes -------------------------------------------------------------------------


def _vector_list(vector: np.ndarray | Sequence[float]) -> list[float]:
    """Plain Python floats (JSON serialisable), after checking the dimension."""
    values = np.asarray(vector, dtype=np.float32).ravel()
    if values.shape[0] != schema.vector_dims():
        raise ValueError(
            f"vector has {values.shape[0]} dimensions, the index {schema.vector_dims()}"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError("vector has NaN or infinite values")
    return [float(x) for x in values]


def bulk_actions(
    index: str,
    passages: Sequence[dict],
    vectors: np.ndarray | Sequence[Sequence[float]],
    views: Sequence[np.ndarray] | None = None,
) -> list[dict]:
    """``_bulk`` lines: an ``index`` action (``_id`` = passage id), then passage + vector
    (+ its views' vectors, when it has any).

    ``index`` overwrites a passage with the same id, so writing a filing again is
    idempotent. Unknown fields are refused here with their name, rather than by the
    strict mapping as a per-item bulk error.
    """
    if len(passages) != len(vectors) or (views is not None and len(views) != len(passages)):
        raise ValueError(f"{len(passages)} passages but {len(vectors)} vectors or views")
    known = set(schema.stored_fields())
    filtered = set(schema.filter_fields())
    lines: list[dict] = []
    for i, (passage, vector) in enumerate(zip(passages, vectors, strict=True)):
        unknown = sorted(set(passage) - known)
        if unknown:
            raise ValueError(f"passage fields not in mappings/passages.json: {', '.join(unknown)}")
        if not passage.get("id"):
            raise ValueError("passage without an id")
        lines.append({"index": {"_index": index, "_id": str(passage["id"])}})
        # "" is no value to filter or count on (the embedded store indexes none); a
        # keyword field would make it a term, a facet bucket and a filter match
        source = {k: v for k, v in passage.items() if v != "" or k not in filtered}
        source["vector"] = _vector_list(vector)
        if views is not None and len(views[i]):
            source["views"] = views_value(views[i])
        lines.append(source)
    return lines


def views_value(views: np.ndarray) -> str:
    """A passage's views' vectors as the ``views`` field holds them: base64 of float16
    rows (a cosine moves by about 1e-3; they only re-score candidates)."""
    rows = np.asarray(views, dtype="<f2").reshape(-1, schema.vector_dims())
    if not np.isfinite(rows).all():
        raise ValueError("a view's vector has NaN or infinite values")
    return base64.b64encode(rows.tobytes()).decode("ascii")


def parse_views_response(resp: Mapping) -> dict[str, np.ndarray]:
    """An ``_mget`` of ``views`` → passage id → its views' vectors (float32 rows)."""
    out: dict[str, np.ndarray] = {}
    for doc in resp["docs"]:
        value = (doc.get("_source") or {}).get("views") if doc.get("found") else None
        if value:
            rows = np.frombuffer(base64.b64decode(value), "<f2")
            out[doc["_id"]] = rows.reshape(-1, schema.vector_dims()).astype(np.float32)
    return out


def filing_source(record: FilingRecord, written: int) -> dict:
    """The filings-index document for ``record`` (``_id`` = ``record.doc_id``), written at
    ``written`` (microseconds since the epoch: see :func:`stamp_body`)."""
    return {
        "doc_id": record.doc_id,
        "source": record.source,
        "content_hash": record.content_hash,
        "model": record.model,
        "written": written,
        "filing": record.filing,
    }


def filing_actions(index: str, records: Iterable[FilingRecord], written: int) -> list[dict]:
    """``_bulk`` lines indexing filing records, for a rebuild."""
    lines: list[dict] = []
    for record in records:
        lines.append({"index": {"_index": index, "_id": record.doc_id}})
        lines.append(filing_source(record, written))
    return lines


def stamp_body() -> dict:
    """How many filings there are and when the latest was written, over the filings index:
    a write moves the latest time (its record is written after its passages), a delete
    the count. The store's stamp (``Store.stamp``)."""
    return {
        "size": 0,
        "track_total_hits": True,
        "aggs": {"written": {"max": {"field": "written"}}},
    }


def parse_stamp_response(resp: Mapping) -> str:
    """A ``stamp_body`` response → the stamp: "<filings>:<latest write>"."""
    written = resp.get("aggregations", {}).get("written", {}).get("value")
    return f"{resp['hits']['total']['value']}:{written}"


# --- responses ----------------------------------------------------------------------


def cosine_from_score(score: float) -> float:
    """Cosine similarity from a kNN ``_score`` on a ``cosine`` dense_vector field.

    Elasticsearch makes scores non-negative by reporting ``(1 + cosine) / 2``
    for ``similarity: cosine``; the store interface promises cosine, so this
    inverts it: ``cosine = 2 * score - 1``.
    """
    return 2.0 * float(score) - 1.0


def _hit_id(hit: Mapping) -> str:
    source = hit.get("_source") or {}
    return str(source.get("id") or hit["_id"])


def _hit_score(hit: Mapping) -> float:
    score = hit.get("_score")
    if score is None and hit.get("sort"):
        score = hit["sort"][0]
    return float(score or 0.0)


def _total(hits: Mapping) -> int:
    total = hits.get("total", 0)
    # An int when the request said rest_total_hits_as_int, else {"value", "relation"}.
    return int(total["value"] if isinstance(total, Mapping) else total)


def parse_keyword_response(resp: Mapping) -> KeywordResult:
    """A keyword search response → hits (id, BM25 score), exact total, facet counts."""
    hits = resp["hits"]
    facets: dict[str, list[tuple[str, int]]] = {}
    for name, agg in (resp.get("aggregations") or {}).items():
        buckets = (
            (str(b.get("key_as_string", b["key"])), int(b["doc_count"])) for b in agg["buckets"]
        )
        facets[name] = [(key, count) for key, count in buckets if key != ""]
    return KeywordResult(
        hits=[(_hit_id(h), _hit_score(h)) for h in hits["hits"]],
        total=_total(hits),
        facets=facets,
    )


def parse_knn_response(resp: Mapping) -> list[tuple[str, float]]:
    """A kNN search response → (passage id, cosine similarity), nearest first."""
    return [(_hit_id(h), cosine_from_score(_hit_score(h))) for h in resp["hits"]["hits"]]


def parse_mget_response(resp: Mapping) -> list[dict]:
    """An ``_mget`` response → the found passages' sources, in the order asked."""
    return [dict(d["_source"]) for d in resp["docs"] if d.get("found")]


def filing_from_source(source: Mapping) -> FilingRecord:
    """A filings-index ``_source`` → FilingRecord."""
    return FilingRecord(
        doc_id=source["doc_id"],
        source=source.get("source") or "",
        content_hash=source.get("content_hash") or "",
        filing=source.get("filing") or {},
        model=source.get("model") or "",
    )


def parse_filings_page(
    resp: Mapping, value: Callable[[Mapping], str] | None = None
) -> tuple[dict[str, str], list | None]:
    """One page of ``filings_page_body`` → (doc_id → ``value`` of the hit's source, the
    content hash by default; ``search_after`` for the next page).

    The second value is the last hit's sort values, None for an empty page; a page
    with fewer hits than asked is the last one.
    """
    hits = resp["hits"]["hits"]
    value = value or (lambda source: source.get("content_hash", ""))
    page = {h["_source"]["doc_id"]: value(h["_source"]) for h in hits}
    return page, (hits[-1]["sort"] if hits else None)


def filing_location(source: Mapping) -> str:
    """Where a filing's file is, from a ``FILING_LOCATIONS`` source (see Store.locations)."""
    return (source.get("filing") or {}).get("path") or source.get("source", "")


def parse_models_response(resp: Mapping) -> dict[str, int]:
    """A ``models_body`` response → encoder name → number of filings."""
    buckets = resp.get("aggregations", {}).get("models", {}).get("buckets", [])
    return {str(b["key"]): int(b["doc_count"]) for b in buckets}


def filings_mapping_update() -> dict:
    """``_mapping`` body adding the declared filings fields an older index lacks."""
    return {"properties": _filings_mapping()["mappings"]["properties"]}


def passages_mapping_update(current: Mapping) -> dict | None:
    """``_mapping`` body adding the declared passage fields that an index behind the alias
    lacks, from a ``GET <alias>/_mapping`` response; None when none is missing.

    The mapping is strict, so a field declared after the index was made (``change``)
    would fail every write. Only missing fields are sent: re-sending the others could
    conflict with how an older index declared them.
    """
    declared = schema.properties()
    present = [set(m.get("mappings", {}).get("properties", {})) for m in current.values()]
    everywhere = set.intersection(*present) if present else set()
    missing = {name: field for name, field in declared.items() if name not in everywhere}
    return {"properties": missing} if missing else None


def response_error(resp: Mapping) -> str | None:
    """The error of an Elasticsearch error body as one line, else None."""
    error = resp.get("error")
    if not error:
        return None
    if isinstance(error, Mapping):
        return f"{error.get('type', 'error')}: {error.get('reason', '')}".strip()
    return str(error)


def bulk_errors(resp: Mapping) -> list[str]:
    """Each failed item of a ``_bulk`` response as ``"<_id>: <type>: <reason>"``."""
    if not resp.get("errors"):
        return []
    failed = []
    for item in resp.get("items", []):
        ((_, result),) = item.items()
        error = result.get("error")
        if error:
            failed.append(f"{result.get('_id')}: {response_error({'error': error})}")
    return failed

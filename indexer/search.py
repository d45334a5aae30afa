"""Search above the stores: query parsing, reciprocal rank fusion, facets, highlights.

Written once for every store. Modes:

* ``keyword``: every word of the query must match (BM25 ranks); the match set
  is all such passages, and facets count them all.
* ``semantic``: the nearest passages by embedding (a passage's similarity is the
  best of its text's and its views', see :func:`nearest`); the match set is the top
  ``SEMANTIC_POOL`` candidates and any passage tied with the last of them
  (similarities of e5 sit in a narrow band, so no fixed threshold can say which
  are "matches"). Filters narrow that set, they do not refill it: a filtered
  search keeps the nearest passages within the filters that are at least as
  similar as the unfiltered search's last candidate. So a facet's count is what
  clicking it gives, as in keyword mode.
* ``hybrid``: both lists fused by reciprocal rank fusion, computed here so it is
  free on every Elasticsearch licence; the match set is their union. The first
  ``FUSION_DEPTH`` keyword hits are fused; deeper ones follow in BM25 order.

The semantic side embeds the query with the official terms the domain glossary
adds to it (``expansions`` in the result): 出狱 → 刑满释放人员.

Operators (read by :func:`indexer.tokenize.parse_query`) hold in every mode: the
store leaves out what ``-word`` excludes and keeps only passages with a quoted
phrase; semantic candidates that fail either are dropped before fusion, so totals
and facets count what is kept. Excluded words are not embedded.
"""

from __future__ import annotations

import html
import re
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from indexer import schema
from indexer.model_check import check_models
from indexer.store.base import Filters, Store
from indexer.synonyms import expand
from indexer.tokenize import (
    Form,
    Group,
    ParsedQuery,
    Phrase,
    fold_width,
    parse_query,
    term_pattern,
)

MODES = ("hybrid", "keyword", "semantic")
RRF_K = 60
FUSION_DEPTH = 100  # keyword hits fused with the semantic list; deeper ones follow them
SEMANTIC_POOL = 50  # semantic candidates a hybrid or semantic search counts as matches
# Main-vector kNN candidates re-scored by their views (see nearest): chosen between 100
# and 200 on the development set, pre-registered (hybrid nDCG@10 0.702 and 0.702).
RESCORE_DEPTH = 100
# A filtered kNN may score a passage by another path (exact int16 vs the graph's
# float32) than the unfiltered one did: allow for that rounding at the floor.
SIMILARITY_SLACK = 2e-4
MAX_TIED_DEPTH = 1000  # how deep a kNN goes for passages tied with the pool's last
MAX_QUERY_CHARS = 200
MAX_SIZE = 100
MAX_VALUE_CHARS = 100  # one filter value
MAX_FILTER_VALUES = 50  # filter values in one request
YEARS = (1900, 2100)  # a budget year filter outside these is a typo, refused
# The query is encoded on a pool thread while the keyword search runs: torch releases
# the GIL, so hybrid costs the slower of the two, not their sum. The pool starts its
# threads on first use, so a server that forks before searching forks none.
_EMBED_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="jixiao-embed")


class QueryError(ValueError):
    """A bad search parameter; ``param`` names it (HTTP 400 / exit status 2)."""

    def __init__(self, param: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.hint = hint  # what the portal's 400 page says, when more than the default


@dataclass(frozen=True)
class SearchRequest:
    query: str
    mode: str = "hybrid"
    size: int = 10
    page: int = 1
    filters: Filters = Filters()

    @property
    def parsed(self) -> ParsedQuery:
        """The query with its operators read (:func:`indexer.tokenize.parse_query`)."""
        return parse_query(self.query)

    @property
    def uses_vectors(self) -> bool:
        """Whether the query is embedded (a browse by filters alone, or by exclusions
        alone, is keyword-only)."""
        return self.mode in ("semantic", "hybrid") and bool(self.parsed.text)


def parse_filters(pairs: list[tuple[str, str]]) -> Filters:
    """``[("province", "河北省"), ("year", "2021"), ("year", "2023")]`` → Filters.

    The same limits for the CLI and the API: values of at most MAX_VALUE_CHARS,
    at most MAX_FILTER_VALUES of them.
    """
    allowed = schema.filter_fields()
    terms: dict[str, list[str]] = {}
    for name, value in pairs:
        if name not in allowed:
            raise QueryError(
                name, f"unknown filter field {name!r}; use one of {', '.join(allowed)}"
            )
        if len(value) > MAX_VALUE_CHARS:
            raise QueryError(name, f"{name} value longer than {MAX_VALUE_CHARS} characters")
        if name == "year":
            value = fold_width(value)  # ２０２３ from a Chinese input method
            if not (value.isascii() and value.isdigit()):
                raise QueryError(name, f"year must be a number such as 2025, not {value[:20]!r}")
            if not YEARS[0] <= int(value) <= YEARS[1]:
                raise QueryError(name, f"year must be between {YEARS[0]} and {YEARS[1]}")
            value = str(int(value))  # 02021 is 2021
        if value not in terms.setdefault(name, []):
            terms[name].append(value)
    if len(pairs) > MAX_FILTER_VALUES:
        raise QueryError(pairs[-1][0], f"more than {MAX_FILTER_VALUES} filter values")
    return Filters({k: tuple(v) for k, v in terms.items()})


def make_request(
    query: str, mode: str = "hybrid", size: int = 10, page: int = 1, filters: Filters | None = None
) -> SearchRequest:
    """Validate parameters into a request; raises :class:`QueryError` naming the bad one."""
    query = (query or "").strip()
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError("q", f"query longer than {MAX_QUERY_CHARS} characters")
    if not re.search(r"\w", query):
        query = ""  # only punctuation or symbols: nothing to match or embed, so browse
    if mode not in MODES:
        raise QueryError("mode", f"mode must be one of {', '.join(MODES)}")
    if not 1 <= size <= MAX_SIZE:
        raise QueryError("size", f"size must be between 1 and {MAX_SIZE}")
    if not 1 <= page <= 1000:
        raise QueryError("page", "page must be between 1 and 1000")
    return SearchRequest(query, mode, size, page, filters or Filters())


def rrf(
    rankings: list[list[str]], k: int = RRF_K, weights: list[float] | None = None
) -> list[tuple[str, float]]:
    """Reciprocal rank fusion: score = Σ w / (k + rank), best first (ties by first list).

    ``weights`` (one per ranking, default 1) let ``bench/fusion_sweep.py`` try
    leaning on one list; the shipped hybrid weighs both lists alike.
    """
    weights = weights or [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError("rrf: one weight per ranking")
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    order = {item: i for i, item in enumerate(x for r in rankings for x in r)}
    return sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))


def highlight(text: str, terms: list[str]) -> str:
    """HTML-escaped ``text`` with ``<mark>`` around every occurrence of ``terms``
    (numbers only whole, units in any spelling: :func:`term_pattern`)."""
    if not text:
        return ""
    spans: list[tuple[int, int]] = []
    lowered = text.lower()
    for term in terms:
        if not term:
            continue
        for match in re.finditer(term_pattern(term.lower()), lowered):
            spans.append((match.start(), match.end()))
    spans.sort()
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, cursor = [], 0
    for start, end in merged:
        out.append(html.escape(text[cursor:start]))
        out.append(f"<mark>{html.escape(text[start:end])}</mark>")
        cursor = end
    out.append(html.escape(text[cursor:]))
    return "".join(out)


def query_expansions(query: ParsedQuery) -> list[str]:
    """The glossary's official terms for the query's words, but none that holds a word
    the query excludes (出狱 -刑满释放人员 must not look for 刑满释放人员)."""
    return [term for term in expand(query.text) if not any(word in term for word in query.excluded)]


def query_text(query: str, expansions: list[str] | None = None) -> str:
    """What the encoder sees for a query: its words without exclusions and operators
    (simplified, as for the keyword side), and the glossary's official terms for them
    (``expansions``, when the caller has already looked them up)."""
    parsed = parse_query(query)
    return " ".join(
        [parsed.text, *(query_expansions(parsed) if expansions is None else expansions)]
    )


def nearest(store: Store, vector: np.ndarray, filters: Filters) -> list[tuple[str, float]]:
    """The semantic candidates: the unfiltered top SEMANTIC_POOL, and every passage as
    similar as the last of them (repeated rows have identical vectors), narrowed by
    filters, best first.

    A passage's similarity is the best of its main text's and its views'
    (:func:`indexer.passages.embedding_views`). Views only re-score: the store's kNN
    over main vectors names the candidates, the passages at least as similar as its
    RESCORE_DEPTH-th, and their views' vectors are read for those alone, so the
    vector index holds one vector per passage whatever the views.

    Within filters the candidates are searched for there (an approximate index finds
    them better than by sifting the unfiltered list), down to the unfiltered depth's
    last similarity, and cut at the unfiltered pool's last re-scored similarity;
    ties are kept on both sides, so a filter's total is its count among the
    unfiltered.
    """
    first = RESCORE_DEPTH + 1  # one more than the depth: is its last tied with the next?
    if filters.terms:
        unfiltered = _EMBED_POOL.submit(store.knn, vector, Filters(), first)
        within = store.knn(vector, filters, first)
        found = unfiltered.result()
    else:
        found = within = store.knn(vector, filters, first)
    depth_floor = _floor([score for _, score in found], RESCORE_DEPTH)
    candidates = _down_to(store, vector, Filters(), depth_floor, found, first)
    if filters.terms:
        within = _down_to(store, vector, filters, depth_floor, within, first)
    else:
        within = candidates
    scores = _rescored(store, vector, candidates + within)
    pool_floor = _floor(sorted((scores[pid] for pid, _ in candidates), reverse=True), SEMANTIC_POOL)
    kept = [(pid, scores[pid]) for pid, _ in within if scores[pid] >= pool_floor]
    return sorted(kept, key=lambda hit: -hit[1])  # stable: ties keep the kNN's order


def _rescored(store: Store, vector: np.ndarray, found: list[tuple[str, float]]) -> dict[str, float]:
    """Passage id → the best of its kNN similarity and its views' similarities."""
    scores: dict[str, float] = {}
    for pid, score in found:
        scores.setdefault(pid, score)  # the first path's score, as in the unfiltered pool
    for pid, views in store.view_vectors(list(scores)).items():
        scores[pid] = max(scores[pid], float((views @ vector).max()))
    return scores


def _floor(similarities: list[float], depth: int) -> float:
    """The least of the first ``depth`` ``similarities`` (best first), less the slack;
    -inf when there are no more than ``depth``: the store holds fewer passages than
    that, so all count."""
    if len(similarities) <= depth:
        return -np.inf
    return similarities[depth - 1] - SIMILARITY_SLACK


def _down_to(
    store: Store,
    vector: np.ndarray,
    filters: Filters,
    floor: float,
    found: list[tuple[str, float]],
    asked: int,
) -> list[tuple[str, float]]:
    """``found`` (the kNN answer for ``asked``) cut at ``floor``, searched deeper while
    it is full and ends above the floor."""
    while len(found) == asked < MAX_TIED_DEPTH and found[-1][1] >= floor:
        asked = min(2 * asked, MAX_TIED_DEPTH)
        found = store.knn(vector, filters, asked)
    return [(pid, score) for pid, score in found if score >= floor]


class Searcher:
    """Runs requests against a store with an embedder for the query side."""

    def __init__(
        self,
        store: Store,
        embedder,  # noqa: ANN001 - any Embedder-like
        rrf_k: int = RRF_K,
        semantic_weight: float = 1.0,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.rrf_k = rrf_k  # the fusion settings, variable for bench/fusion_sweep.py
        self.semantic_weight = semantic_weight

    def check_model(self) -> str | None:
        """Raise ModelMismatch when the store's vectors come from another encoder.

        Returns a warning when only some filings do (see :func:`check_models`).
        """
        return check_models(self.store.models(), self.embedder.name)

    def search(self, request: SearchRequest) -> dict:
        """The ``jixiao search --json`` object for ``request``."""
        started = time.perf_counter()
        facets = schema.facet_fields()
        wanted = request.page * request.size
        query = request.parsed
        mode = request.mode
        if not query.text:
            mode = "keyword"  # nothing to embed: browse by filters (and exclusions)
        keyword_ids: list[str] = []
        keyword_total = 0
        facet_counts: dict[str, Counter] = {f: Counter() for f in facets}
        expansions = query_expansions(query) if mode != "keyword" else []
        embedding = None
        if request.uses_vectors:
            embedding = _EMBED_POOL.submit(
                self.embedder.encode_query, query_text(request.query, expansions)
            )
        if mode in ("keyword", "hybrid") and (query.groups or not query.text):
            result = self.store.keyword(
                query.groups, request.filters, max(wanted, FUSION_DEPTH), facets, query.exclude
            )
            keyword_ids = [pid for pid, _ in result.hits]
            keyword_total = result.total
            for name, values in result.facets.items():
                facet_counts[name].update(dict(values))
        semantic_ids: list[str] = []
        if embedding is not None:
            vector = np.asarray(embedding.result(), dtype=np.float32)
            semantic_ids = [pid for pid, _ in nearest(self.store, vector, request.filters)]
        in_keyword = set(keyword_ids)
        extra = [pid for pid in semantic_ids if pid not in in_keyword]
        extra_passages = admitted(self.store.get_passages(extra), query) if extra else []
        if query.binds_semantic:
            kept = in_keyword | {passage["id"] for passage in extra_passages}
            semantic_ids = [pid for pid in semantic_ids if pid in kept]
        ranked = fuse(mode, keyword_ids, semantic_ids, self.rrf_k, self.semantic_weight)
        total = keyword_total
        # Semantic-only matches are not in the keyword aggregation: count them here,
        # leaving out those the keyword query matched beyond the ids it returned.
        keyword_ran = mode == "hybrid" and bool(query.groups)
        for passage in extra_passages:
            if keyword_ran and matches_groups(passage, query.groups):
                continue
            total += 1
            for name in facets:
                value = passage.get(name)
                if value not in (None, ""):
                    facet_counts[name][str(value)] += 1
        page_ids = ranked[(request.page - 1) * request.size : wanted]
        passages = {p["id"]: p for p in self.store.get_passages([pid for pid, _ in page_ids])}
        terms = list(query.highlights)
        hits = [
            hit_from_passage(passages[pid], score, terms)
            for pid, score in page_ids
            if pid in passages
        ]
        return {
            "query": request.query,
            "mode": request.mode,
            "total": total,
            "page": request.page,
            "size": request.size,
            "took_ms": round((time.perf_counter() - started) * 1000, 1),
            "expansions": expansions,
            "hits": hits,
            "facets": {
                name: [
                    {"value": _facet_value(name, v), "count": c}
                    for v, c in sorted(counts.items(), key=lambda vc: (-vc[1], vc[0]))
                ]
                for name, counts in facet_counts.items()
            },
        }


def matches_groups(passage: dict, groups: Iterable[Group]) -> bool:
    """True when the passage's tokens match every group, as the stores' keyword query does."""
    tokens = (passage.get("tokens") or "").split()
    return _all_match(groups, tokens, set(tokens))


def _all_match(groups: Iterable[Group], tokens: list[str], present: set[str]) -> bool:
    return all(any(_form_matches(form, tokens, present) for form in group) for group in groups)


def _form_matches(form: Form, tokens: list[str], present: set[str]) -> bool:
    if isinstance(form, str):
        return form in present
    if isinstance(form, Phrase):
        n = len(form.tokens)
        words = list(form.tokens)
        return form.tokens[0] in present and any(
            tokens[i : i + n] == words for i in range(len(tokens) - n + 1)
        )
    return _all_match(form.groups, tokens, present)


def admitted(passages: list[dict], query: ParsedQuery) -> list[dict]:
    """The passages a semantic search may return for ``query``: those with its quoted
    phrases and none of the words it excludes (all of them for most queries)."""
    return [
        passage
        for passage in passages
        if matches_groups(passage, query.required)
        and not any(matches_groups(passage, [group]) for group in query.exclude)
    ]


def fuse(
    mode: str,
    keyword_ids: list[str],
    semantic_ids: list[str],
    rrf_k: int = RRF_K,
    semantic_weight: float = 1.0,
) -> list[tuple[str, float]]:
    """The ranking of a mode, best first, with reciprocal-rank scores in every mode.

    Keyword mode reports reciprocal ranks too, so scores compare across modes. Hybrid
    fuses the first FUSION_DEPTH keyword hits with the semantic list; deeper keyword
    hits follow in their own order. So the order never depends on how many keyword
    hits a caller fetched (a page fetches enough for itself, an export all of them).
    """
    if mode == "keyword":
        return [(pid, 1.0 / (RRF_K + rank)) for rank, pid in enumerate(keyword_ids, start=1)]
    if mode == "semantic":
        return rrf([semantic_ids])
    fused = rrf([keyword_ids[:FUSION_DEPTH], semantic_ids], rrf_k, [1.0, semantic_weight])
    seen = {pid for pid, _ in fused}
    deeper = enumerate(keyword_ids[FUSION_DEPTH:], start=FUSION_DEPTH + 1)
    return fused + [(pid, 1.0 / (rrf_k + rank)) for rank, pid in deeper if pid not in seen]


def _facet_value(name: str, value: str) -> str | int:
    return int(value) if name == "year" and value.isdigit() else value


def hit_from_passage(passage: dict, score: float, terms: list[str]) -> dict:
    """One hit of the search JSON (the contract's shape) from a stored passage."""
    kind = passage["kind"]
    year = passage.get("year")
    hit = {
        "id": passage["id"],
        "kind": kind,
        "score": round(score, 6),
        "text": passage["text"],
        "highlight": highlight(passage["text"], terms),
        "doc": {
            "id": passage["doc_id"],
            "source": passage.get("source"),
            "title": passage.get("title"),
            "province": passage.get("province"),
            "city": passage.get("city"),
            "county": passage.get("county"),
            "adcode": passage.get("adcode"),
            "year": int(year) if year and str(year).isdigit() else None,
            "department": passage.get("department"),
        },
        "project": None,
        "indicator": None,
        "page": passage.get("page"),
        "position": passage.get("position"),
    }
    if kind in ("project", "indicator"):
        hit["project"] = {
            "name": passage.get("project_name"),
            "code": passage.get("project_code"),
            "amount_wan": passage.get("amount_wan"),
        }
    if kind == "indicator":
        hit["indicator"] = {
            key: passage.get(src)
            for key, src in (
                ("level1", "level1"),
                ("level2", "level2"),
                ("level1_raw", "level1_raw"),
                ("level2_raw", "level2_raw"),
                ("name", "indicator_name"),
                ("description", "description"),
                ("value", "value"),
                ("op", "op"),
                ("low", "low"),
                ("high", "high"),
                ("unit", "unit"),
                ("change", "change"),
            )
        }
    if kind == "narrative":
        hit["heading"] = passage.get("heading")
    return hit

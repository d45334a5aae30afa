"""Every match of a request, best first: what exports and the compare page need.

:class:`indexer.search.Searcher` returns one page; exports and the compare table
need the whole match set. It is built the way the searcher builds it (see that
module's docstring): keyword matches ranked by BM25, the semantic candidates of
:func:`indexer.search.nearest` for the same query text, fused by reciprocal rank
fusion in hybrid mode.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from indexer.search import (
    SearchRequest,
    admitted,
    fuse,
    hit_from_passage,  # the one hit shape of the contract
    nearest,
    query_text,
)
from webapp.portal import Portal

CHUNK = 200


@dataclass
class Ranking:
    """Passage ids with scores, best first; ``total`` may exceed them when capped."""

    ranked: list[tuple[str, float]]
    total: int

    @property
    def truncated(self) -> bool:
        return self.total > len(self.ranked)


def rank_all(portal: Portal, request: SearchRequest, limit: int) -> Ranking:
    """At most ``limit`` matches of ``request`` (page and size ignored), best first."""
    query = request.parsed
    mode = request.mode if query.text else "keyword"
    keyword_ids: list[str] = []
    keyword_total = 0
    if mode in ("keyword", "hybrid") and (query.groups or not query.text):
        result = portal.call("keyword", query.groups, request.filters, limit, [], query.exclude)
        keyword_ids = [pid for pid, _ in result.hits]
        keyword_total = result.total
    semantic_ids: list[str] = []
    if mode in ("semantic", "hybrid") and query.text:
        text = query_text(request.query)
        vector = np.asarray(portal.embedder.encode_query(text), dtype=np.float32)
        semantic_ids = [pid for pid, _ in portal.call(nearest, vector, request.filters)]
        if query.binds_semantic:  # quoted phrases and exclusions hold in every mode
            passages = portal.call("get_passages", semantic_ids)
            semantic_ids = [passage["id"] for passage in admitted(passages, query)]
    ranked = fuse(mode, keyword_ids, semantic_ids)
    # when the keyword list was capped, semantic ids outside it may be keyword matches
    # too: the total is then at least the keyword total
    capped = keyword_total > len(keyword_ids)
    total = max(keyword_total, len(ranked)) if capped else len(ranked)
    return Ranking(ranked[:limit], total)


def iter_hits(portal: Portal, request: SearchRequest, ranking: Ranking) -> Iterator[dict]:
    """The hits of ``ranking`` in the ``jixiao search --json`` shape, fetched in chunks."""
    terms = list(request.parsed.highlights)
    for start in range(0, len(ranking.ranked), CHUNK):
        chunk = ranking.ranked[start : start + CHUNK]
        passages = {p["id"]: p for p in portal.call("get_passages", [pid for pid, _ in chunk])}
        for pid, score in chunk:
            if pid in passages:
                yield hit_from_passage(passages[pid], score, terms)

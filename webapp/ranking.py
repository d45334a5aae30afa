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
    fuse,
    hit_from_passage,  # the one hit shape of the contract
    nearest,
    query_text,
)
from indexer.tokenize import highlight_terms, query_groups
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
    groups = query_groups(request.query)
    mode = request.mode if request.query else "keyword"
    keyword_ids: list[str] = []
    keyword_total = 0
    if mode in ("keyword", "hybrid") and (groups or not request.query):
        result = portal.call("keyword", groups, request.filters, limit, [])
        keyword_ids = [pid for pid, _ in result.hits]
        keyword_total = result.total
    semantic_ids: list[str] = []
    if mode in ("semantic", "hybrid") and request.query:
        text = query_text(request.query)
        vector = np.asarray(portal.embedder.encode_query(text), dtype=np.float32)
        semantic_ids = [pid for pid, _ in portal.call(nearest, vector, request.filters)]
    ranked = fuse(mode, keyword_ids, semantic_ids)
    # when the keyword list was capped, semantic ids outside it may be keyword matches
    # too: the total is then at least the keyword total
    capped = keyword_total > len(keyword_ids)
    total = max(keyword_total, len(ranked)) if capped else len(ranked)
    return Ranking(ranked[:limit], total)


def iter_hits(portal: Portal, request: SearchRequest, ranking: Ranking) -> Iterator[dict]:
    """The hits of ``ranking`` in the ``jixiao search --json`` shape, fetched in chunks."""
    terms = highlight_terms(request.query)
    for start in range(0, len(ranking.ranked), CHUNK):
        chunk = ranking.ranked[start : start + CHUNK]
        passages = {p["id"]: p for p in portal.call("get_passages", [pid for pid, _ in chunk])}
        for pid, score in chunk:
            if pid in passages:
                yield hit_from_passage(passages[pid], score, terms)

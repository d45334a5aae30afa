"""The embedded store's keyword index: tantivy, derived from the SQLite records.

One document per passage: ``tokens`` (jieba tokens, split on whitespace, lowercased,
BM25), the filter and facet fields as raw-tokenised fast fields (exact match, terms
aggregations), ``id`` stored. ``jixiao-state.json`` beside tantivy's files records the
records generation the last commit reflects; it is written after the commit, so it
never claims more than the index holds.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import tantivy

from indexer import schema
from indexer.store.base import Filters, KeywordResult, StoreError
from indexer.store.fsutil import read_json, write_json_atomic
from indexer.tokenize import AllOf, Form, Group, Phrase, group_forms, token_weight

STATE_FILE = "jixiao-state.json"
ANALYZER = "jieba_tokens"  # same name and behaviour as the Elasticsearch analyzer
# Buckets each index segment hands over. tantivy's counts are exact when every
# segment hands over all its values (its default, 1.5 × size + 10, may cut them off
# once a segment holds more than that many counties), so: all of them.
SEGMENT_BUCKETS = 65_000
# How far past the cut a tie of equal BM25 scores is fetched to order it by id.
TIE_LIMIT = 2_000
WRITER_HEAP = 128_000_000
# Facet counting (one terms aggregation per facet, ~2/3 of a keyword query's time at
# 1M passages) runs on a pool thread beside the BM25 search and the fetching of hit
# ids: tantivy releases the GIL, so on two cores the query costs about the longer of
# the two, not their sum. Splitting the aggregation into several calls gained nothing
# more (measured in the scale benchmark's store). One pool per process (the store
# runs one operation at a time); its threads only wait on tantivy.
_FACET_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="jixiao-facets")


def exact_fields() -> list[str]:
    """Fields indexed for exact filtering and facet counts (raw tokenizer, fast)."""
    return list(dict.fromkeys([*schema.filter_fields(), *schema.facet_fields()]))


def _signature() -> str:
    """Changes when the fields change, so an index with the old layout is rebuilt."""
    return hashlib.sha256(json.dumps(["v2", exact_fields()]).encode()).hexdigest()[:16]


def field_value(value: object) -> str | None:
    """A passage value as an exact-match term; None and "" are not indexed (not counted)."""
    if value is None:
        return None
    text = str(value)
    return text or None


class TextIndex:
    """Open (or create) the tantivy index in ``directory``; ``generation`` is None if unknown."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.fields = exact_fields()
        builder = tantivy.SchemaBuilder()
        # fast: browsing orders by it (see keyword)
        builder.add_text_field("id", stored=True, tokenizer_name="raw", fast=True)
        builder.add_text_field("tokens", tokenizer_name=ANALYZER)
        for name in self.fields:
            builder.add_text_field(name, tokenizer_name="raw", fast=True)
        self.schema = builder.build()
        state = read_json(directory / STATE_FILE)
        # generation: what the last finished commit reflects (None: unknown, rebuild);
        # committing: set while a commit is under way, cleared after it
        self.generation: int | None = None
        self.committing: int | None = None
        if state is not None and state.get("signature") == _signature():
            self.generation = int(state["generation"])
            self.committing = state.get("committing")
        if self.generation is not None and not (directory / "meta.json").exists():
            # tantivy would quietly start an empty index where its catalogue went missing
            raise DamagedIndex(f"text index at {directory} has lost its meta.json")
        directory.mkdir(parents=True, exist_ok=True)
        try:
            self.index = tantivy.Index(self.schema, path=str(directory), reuse=True)
            self.index.register_tokenizer(
                ANALYZER,
                tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace())
                .filter(tantivy.Filter.lowercase())
                .build(),
            )
            self.index.reload()
            self.index.searcher()
        except Exception as err:  # tantivy raises ValueError/OSError for damaged files
            raise DamagedIndex(f"text index at {directory} cannot be opened: {err}") from None
        self.writer: tantivy.IndexWriter | None = None

    @classmethod
    def recreate(cls, directory: Path) -> TextIndex:
        """Throw away whatever is in ``directory`` and start an empty index."""
        shutil.rmtree(directory, ignore_errors=True)
        return cls(directory)

    # -- writing (the caller holds the store's write lock) ---------------------------

    def open_writer(self) -> None:
        if self.writer is not None:
            return
        try:
            self.writer = self.index.writer(heap_size=WRITER_HEAP)
        except ValueError as err:
            if "LockBusy" in str(err):
                raise StoreError(
                    f"another jixiao index run is writing to {self.directory.parent}"
                ) from None
            raise

    def close_writer(self) -> None:
        """Drop the writer, which releases tantivy's own lock file."""
        if self.writer is not None:
            self.writer.wait_merging_threads()
            self.writer = None

    def replace(self, doc_id: str, passages: Iterable[dict] | None) -> None:
        """Stage: remove every document of ``doc_id``, then add ``passages`` (None = delete)."""
        assert self.writer is not None
        # doc_id is a raw text field: delete by term works there (not on u64 fields)
        self.writer.delete_documents_by_term("doc_id", doc_id)
        for passage in passages or ():
            doc = tantivy.Document()
            doc.add_text("id", str(passage["id"]))
            doc.add_text("tokens", passage.get("tokens") or "")
            for name in self.fields:
                value = field_value(passage.get(name))
                if value is not None:
                    doc.add_text(name, value)
            self.writer.add_document(doc)

    def clear(self) -> None:
        assert self.writer is not None
        self.writer.delete_all_documents()

    def commit(self, generation: int) -> None:
        """Publish staged changes, then record the generation they reflect.

        The intent is written first: if a power cut rolls SQLite back past
        ``generation`` after tantivy's commit hit the disk, the store sees that the
        index may hold changes the records lost, and rebuilds it.
        """
        assert self.writer is not None
        state = {"generation": self.generation or 0, "signature": _signature()}
        write_json_atomic(self.directory / STATE_FILE, {**state, "committing": generation})
        self.writer.commit()
        write_json_atomic(self.directory / STATE_FILE, {**state, "generation": generation})
        self.generation = generation
        self.committing = None
        self.index.reload()

    # -- reading ---------------------------------------------------------------------

    def committed_generation(self) -> int | None:
        """The records generation that the last commit on disk reflects, whichever
        process made it (``generation`` is this object's own view)."""
        state = read_json(self.directory / STATE_FILE)
        return None if state is None else state.get("generation")

    def keyword(
        self,
        groups: Sequence[Group],
        filters: Filters,
        size: int,
        facets: list[str],
        exclude: Sequence[Group] = (),
    ) -> KeywordResult:
        clauses = [(tantivy.Occur.Must, q) for q in map(self._group_query, groups) if q]
        ranked = bool(clauses)  # words to score by; filters alone only select
        for name, values in filters.terms.items():
            if name not in self.fields:
                raise ValueError(f"cannot filter on {name!r}")
            # score 0: filters select, they do not rank (like Elasticsearch's filter context)
            match = tantivy.Query.term_set_query(self.schema, name, [str(v) for v in values])
            clauses.append((tantivy.Occur.Must, tantivy.Query.const_score_query(match, 0.0)))
        excluded = [(tantivy.Occur.MustNot, q) for q in map(self._group_query, exclude) if q]
        if excluded and not clauses:
            # exclusions alone browse the rest (in tantivy must-not alone matches nothing)
            clauses.append((tantivy.Occur.Must, tantivy.Query.all_query()))
        clauses += excluded
        # no clauses: browsing everything
        query = tantivy.Query.boolean_query(clauses) if clauses else tantivy.Query.all_query()
        # pick up commits from other processes too (cheap: ~0.1 ms when nothing changed)
        try:
            self.index.reload()
        except ValueError as err:  # tantivy's I/O errors (a folder moved or deleted under it)
            raise StoreError(f"text index at {self.directory} cannot be read: {err}") from None
        searcher = self.index.searcher()
        wanted = [f for f in dict.fromkeys(facets) if f in self.fields]
        counting = None
        if wanted:
            listed = schema.FACET_SIZE
            aggs = {
                f: {"terms": {"field": f, "size": listed, "segment_size": SEGMENT_BUCKETS}}
                for f in wanted
            }
            counting = _FACET_POOL.submit(searcher.aggregate, query, aggs)
        if ranked:
            total, hits = _best_in_id_order(searcher, query, size)
        else:
            total, hits = _browse(searcher, query, size)
        answer = counting.result() if counting is not None else {}
        counts: dict[str, list[tuple[str, int]]] = {}
        for name in wanted:
            buckets = answer.get(name, {}).get("buckets", [])
            pairs = [(str(b["key"]), int(b["doc_count"])) for b in buckets if b["key"] != ""]
            counts[name] = sorted(pairs, key=lambda p: (-p[1], p[0]))
        for name in facets:
            counts.setdefault(name, [])
        return KeywordResult(hits=hits, total=total, facets=counts)

    def _group_query(self, group: Group) -> tantivy.Query | None:
        """Any form of the group; None when it has none."""
        forms = group_forms(group)
        if not forms:
            return None
        alternatives = [(tantivy.Occur.Should, self._form_query(form)) for form in forms]
        return tantivy.Query.boolean_query(alternatives)

    def _form_query(self, form: Form) -> tantivy.Query:
        """A token, a phrase (its tokens at consecutive positions) or groups that all match."""
        if isinstance(form, AllOf):
            parts = [(tantivy.Occur.Must, q) for q in map(self._group_query, form.groups) if q]
            return tantivy.Query.boolean_query(parts)
        if isinstance(form, Phrase):
            query = tantivy.Query.phrase_query(self.schema, "tokens", list(form.tokens))
            weight = token_weight(form.tokens[0])
        else:
            query = tantivy.Query.term_query(self.schema, "tokens", form)
            weight = token_weight(form)
        return query if weight == 1.0 else tantivy.Query.boost_query(query, weight)

    def num_docs(self) -> int:
        self.index.reload()
        return int(self.index.searcher().num_docs)


def _browse(
    searcher: tantivy.Searcher, query: tantivy.Query, size: int
) -> tuple[int, list[tuple[str, float]]]:
    """No words to rank by: every passage ties, so they come in id order (score 1.0).

    Sorting on the id column inside tantivy keeps pages stable to the end; ranking by
    a constant score would leave which passages reach each page to segment order.
    """
    result = searcher.search(
        query, limit=max(size, 1), count=True, order_by_field="id", order=tantivy.Order.Asc
    )
    return int(result.count), [(searcher.doc(a)["id"][0], 1.0) for _, a in result.hits[:size]]


def _best_in_id_order(
    searcher: tantivy.Searcher, query: tantivy.Query, size: int
) -> tuple[int, list[tuple[str, float]]]:
    """The ``size`` best hits by BM25, equal scores in passage-id order.

    That is how the Elasticsearch store sorts (``_score``, then ``id``), so two
    builds of one corpus rank alike and a page is the same slice whatever ``size``
    asked for it. tantivy cuts ties by where documents sit in its segments, so when a
    tie straddles the cut it is fetched to its end (at most TIE_LIMIT more hits)
    and the cut made within it by id.
    """
    limit = size + 1  # one more than asked: does a tie go on past the cut?
    while True:
        result = searcher.search(query, limit=limit, count=True)
        scored = result.hits
        straddles = len(scored) > size > 0 and scored[size][0] == scored[size - 1][0]
        if not straddles or len(scored) < limit or scored[-1][0] != scored[size - 1][0]:
            break
        if limit >= size + TIE_LIMIT:
            break  # a longer tie keeps tantivy's choice of its members
        limit = min(2 * limit, size + TIE_LIMIT)
    cut = scored[size - 1][0] if len(scored) >= size > 0 else None
    kept = [(s, a) for s, a in scored if cut is None or s >= cut]
    hits = sorted(
        ((searcher.doc(a)["id"][0], float(s)) for s, a in kept), key=lambda h: (-h[1], h[0])
    )
    return int(result.count), hits[:size]


class DamagedIndex(StoreError):
    """A derived index cannot be opened; the store rebuilds it from the records."""

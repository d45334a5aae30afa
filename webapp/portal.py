"""The portal's access to the index: one store and one embedder per process, opened lazily.

Every store failure (missing index, unreachable Elasticsearch, a damaged file) is
turned into :class:`StoreUnavailable`, which the views answer with a 503 page or
JSON; a later request tries to open the store again.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from indexer.errors import ModelUnavailable
from indexer.model_check import ModelMismatch, check_models
from indexer.search import Searcher, SearchRequest
from indexer.store.base import FilingRecord, Filters, Store, StoreError

QUERY_CACHE_SIZE = 512
# what a search can raise that the user sees as "the index does not answer" (a 503)
FAILURES = (StoreError, ModelUnavailable, OSError, sqlite3.Error, ConnectionError)
MODEL_CHECK_SECONDS = 30.0

log = logging.getLogger(__name__)


class StoreUnavailable(Exception):
    """The index does not answer; ``str(err)`` says why (for the log: it may name paths)."""


class WrongModel(StoreUnavailable):
    """The index's vectors come from another encoder; ``str(err)`` names both, no paths."""


class QueryVectorCache:
    """Wraps an embedder: query vectors are remembered (LRU), passages pass through.

    The search page runs a few searches per view (facet counts of chosen facets,
    the export of the same query), so the same query is encoded once, not each time.
    """

    def __init__(self, embedder: Any, size: int = QUERY_CACHE_SIZE) -> None:
        self.embedder = embedder
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.embedder.name

    def encode_query(self, text: str) -> np.ndarray:
        """The query's vector, from the cache when it was encoded lately."""
        with self._lock:
            if text in self._vectors:
                self._vectors.move_to_end(text)
                return self._vectors[text]
        vector = self.embedder.encode_query(text)
        with self._lock:
            self._vectors[text] = vector
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
        return vector

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self.embedder.encode_passages(texts)

    def warm(self) -> None:
        """Load the model now (a gunicorn worker does this once, before its first request)."""
        self.encode_query("预算绩效")


class Portal:
    """The store (opened on first use) and a searcher over it."""

    def __init__(
        self,
        store: Store | None = None,
        embedder: Any = None,
        store_dir: Path | None = None,
        es_url: str | None = None,
        model: str | None = None,
    ) -> None:
        self._store = store
        self._store_dir = store_dir
        self._es_url = es_url
        if embedder is None:
            from indexer.embeddings import Embedder

            embedder = Embedder(model)
        self.embedder = QueryVectorCache(embedder)
        self._lock = threading.Lock()
        self._model_checked_at = -MODEL_CHECK_SECONDS

    @property
    def store(self) -> Store:
        """The open store; raises :class:`StoreUnavailable` when it cannot be opened."""
        if self._store is None:
            with self._lock:
                if self._store is None:
                    from indexer.store.factory import open_store

                    try:
                        self._store = open_store(self._store_dir, self._es_url)
                    except (StoreError, OSError, sqlite3.Error) as err:
                        raise StoreUnavailable(str(err)) from None
        return self._store

    def call(self, method: str | Callable[..., Any], *args: Any) -> Any:
        """``store.method(*args)``, or ``method(store, *args)`` for a function taking
        the store first, with store failures as :class:`StoreUnavailable`."""
        try:
            if callable(method):
                return method(self.store, *args)
            return getattr(self.store, method)(*args)
        except StoreUnavailable:
            raise
        except FAILURES as err:
            raise StoreUnavailable(str(err) or type(err).__name__) from None

    def search(self, request: SearchRequest) -> dict:
        """The ``jixiao search --json`` object for ``request``."""
        if request.uses_vectors:
            self._check_model()
        store = self.store
        try:
            return Searcher(store, self.embedder).search(request)
        except FAILURES as err:
            raise StoreUnavailable(str(err) or type(err).__name__) from None

    def _check_model(self, *, fresh: bool = False) -> None:
        """Refuse vectors from another encoder; looked up again every MODEL_CHECK_SECONDS.

        An index run with another model may start while the portal serves, so the
        answer is not kept for ever; nor is it looked up on every request.
        """
        now = time.monotonic()
        if fresh or now - self._model_checked_at >= MODEL_CHECK_SECONDS:
            try:
                warning = check_models(self.call("models"), self.embedder.name)
            except ModelMismatch as err:
                raise WrongModel(str(err)) from None
            if warning:
                log.warning("%s", warning)
            self._model_checked_at = now

    def warm(self) -> None:
        """Load the model, the word segmenter and the store before the first request."""
        from indexer.tokenize import query_groups

        self.embedder.warm()
        query_groups("预算绩效 成本指标")
        with contextlib.suppress(StoreUnavailable):  # a 503 until the index is there
            self.health()

    def filing(self, doc_id: str) -> FilingRecord | None:
        """A stored filing by id, or None."""
        return self.call("get_filing", doc_id)

    def health(self) -> dict:
        """Backend name and passage count; raises :class:`StoreUnavailable`.

        Also runs the cheapest search (browse one passage): the count alone comes from
        the records, which answer even when the search index cannot.
        """
        count = self.call("count")
        self.call("keyword", [], Filters(), 1, [])
        self._check_model(fresh=True)
        return {"status": "ok", "backend": self.store.backend, "passages": int(count)}

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

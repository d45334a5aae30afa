"""Open the store a command asks for: the embedded one in a folder, or Elasticsearch."""

from __future__ import annotations

import os
from pathlib import Path

from indexer.store.base import Store


def open_store(
    store_dir: Path | None = None, es_url: str | None = None, create: bool = False
) -> Store:
    """``es_url`` (or ``JIXIAO_ES_URL``) picks Elasticsearch; otherwise the embedded store."""
    es_url = es_url or (None if store_dir else os.environ.get("JIXIAO_ES_URL"))
    if es_url:
        from indexer.store.elastic import ElasticStore

        return ElasticStore(es_url, index=os.environ.get("JIXIAO_ES_INDEX", "jixiao-passages"))
    from indexer.pipeline import default_store_dir
    from indexer.store.embedded import EmbeddedStore

    return EmbeddedStore(store_dir or default_store_dir(), create=create)

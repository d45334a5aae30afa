"""Open the store a command asks for: the embedded one in a folder, or Elasticsearch."""

from __future__ import annotations

import os
from pathlib import Path

from indexer.store.base import Store


def open_store(
    store_dir: Path | None = None, es_url: str | None = None, create: bool = False
) -> Store:
    """``es_url`` (or ``JIXIAO_ES_URL``) picks Elasticsearch; otherwise the embedded store."""
    folder = embedded_store_dir(store_dir, es_url)
    if folder is None:
        from indexer.store.elastic import ElasticStore

        return ElasticStore(
            es_url or os.environ["JIXIAO_ES_URL"],
            index=os.environ.get("JIXIAO_ES_INDEX", "jixiao-passages"),
        )
    from indexer.store.embedded import EmbeddedStore

    return EmbeddedStore(folder, create=create)


def embedded_store_dir(store_dir: Path | None = None, es_url: str | None = None) -> Path | None:
    """The folder :func:`open_store` opens, None when it picks Elasticsearch."""
    if es_url or (not store_dir and os.environ.get("JIXIAO_ES_URL")):
        return None
    from indexer.pipeline import default_store_dir

    return Path(store_dir or default_store_dir())

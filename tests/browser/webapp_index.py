"""One index of corpus/ per test session, shared by the portal's tests (Flask and browser).

The index lives in the session's temporary folder; embeddings are cached in
``JIXIAO_CACHE`` when set, else next to the index, so the model encodes the 552
passages once per session at most.
"""

from __future__ import annotations

import os
import shutil
from functools import cache
from pathlib import Path

import pytest

from indexer.embeddings import Embedder, EmbeddingCache
from indexer.pipeline import index_files
from indexer.reading import expand_paths
from indexer.store.embedded import EmbeddedStore

ROOT = Path(__file__).resolve().parents[2]
CORPUS_PASSAGES = 552


@cache
def embedder() -> Embedder:
    """The session's one embedder (the model loads once)."""
    return Embedder()


def corpus_index(factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{"store", "corpus"}``: a copy of corpus/ and its embedded store, built once."""
    base = factory.getbasetemp() / "webapp-index"
    store_dir, corpus, done = base / "store", base / "corpus", base / "done"
    if not done.exists():
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True)
        shutil.copytree(ROOT / "corpus", corpus)
        cache_path = Path(os.environ.get("JIXIAO_CACHE") or base / "cache.sqlite")
        embeddings = EmbeddingCache(cache_path)
        store = EmbeddedStore(store_dir, create=True)
        try:
            summary = index_files(expand_paths([corpus]), store, embedder(), embeddings)
        finally:
            store.close()
            embeddings.close()
        assert not summary.failed, summary.failed
        done.touch()
    return {"store": store_dir, "corpus": corpus}

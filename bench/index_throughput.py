"""Indexing throughput of the real pipeline on corpus/, next to the raw encoder's.

    .venv/bin/python bench/index_throughput.py

Indexes corpus/ into a fresh embedded store with an empty embedding cache
(read → parse → passages → encode → store), then encodes the same passage texts
with the bare encoder, in the same run; then re-indexes (nothing changed) and
re-indexes into a second fresh store with the cache warm.
"""

from __future__ import annotations

import platform
import tempfile
import time
from datetime import date
from pathlib import Path

from indexer.embeddings import Embedder, EmbeddingCache
from indexer.passages import embedding_text, passages_for
from indexer.pipeline import index_files
from indexer.reading import expand_paths, parse_file
from indexer.store.embedded import EmbeddedStore

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    files = expand_paths([ROOT / "corpus"])
    embedder = Embedder()
    embedder.encode_query("预热")  # load the model outside every timing
    texts = [
        embedding_text(p) for f in files for p in passages_for(parse_file(f).to_json(), "bench")
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = EmbeddingCache(Path(tmp) / "cache.sqlite")
        store = EmbeddedStore(Path(tmp) / "a")
        cold = index_files(files, store, embedder, cache, show_progress=False)
        rows.append(("pipeline, cold cache", cold.passages, cold.seconds))
        again = index_files(files, store, embedder, cache, show_progress=False)
        rows.append(("re-index, nothing changed (5 files skipped)", again.passages, again.seconds))
        store.close()
        store = EmbeddedStore(Path(tmp) / "b")
        warm = index_files(files, store, embedder, cache, show_progress=False)
        rows.append(("pipeline, warm cache (new store)", warm.passages, warm.seconds))
        store.close()
        cache.close()
    start = time.perf_counter()
    embedder.encode_passages(texts)
    rows.append(("raw encoder (batch 64)", len(texts), time.perf_counter() - start))
    print(
        f"machine: {platform.machine()}, Python {platform.python_version()}, "
        f"{len(__import__('os').sched_getaffinity(0))} cores; {date.today()}; "
        f"{len(files)} files, model {embedder.name}"
    )
    print("| run | passages | seconds | passages/s |")
    print("|---|---|---|---|")
    for name, count, seconds in rows:
        rate = f"{count / seconds:.1f}" if count else "—"
        print(f"| {name} | {count} | {seconds:.2f} | {rate} |")


if __name__ == "__main__":
    main()

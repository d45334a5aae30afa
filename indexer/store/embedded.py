"""The default store: one directory, no server.

``<dir>/jixiao.sqlite`` (records.py) is the source of truth; ``<dir>/text/`` (tantivy,
textindex.py) and ``<dir>/vectors/`` (HNSW + exact, vectorindex.py) are derived from
it and record the records generation they reflect. A write goes to SQLite first (one
transaction per filing), then to the derived indexes. Whoever takes the write lock
first reconciles: a derived index that is missing, unreadable, of another layout,
behind or ahead of SQLite is caught up (replaying the filings changed since its
generation, which is idempotent) or rebuilt. So a process killed at any point leaves
SQLite with whole filings, and the next run brings the derived indexes back in line.

Writers: one at a time, enforced by ``flock`` on ``<dir>/write.lock`` (released by the
kernel when a process dies), taken at the first write and held until ``close()``.
Readers need no lock and keep answering while a writer writes: the text index is
reloaded before each search, the vector index follows the records generation.
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from indexer.store import vectorindex
from indexer.store.base import FilingRecord, Filters, KeywordResult, Store, StoreError
from indexer.store.fsutil import read_json
from indexer.store.records import FILE_NAME, Records
from indexer.store.textindex import DamagedIndex, TextIndex, exact_fields
from indexer.store.vectorindex import VectorIndex

if TYPE_CHECKING:
    from indexer.tokenize import Group

LOCK_FILE = "write.lock"
# Test hook: seconds to sleep between the SQLite commit and the tantivy commit, so a
# test can kill a writer inside that window.
SLEEP_BEFORE_TEXT_COMMIT = "JIXIAO_TEST_SLEEP_BEFORE_TEXT_COMMIT"


def _log(message: str) -> None:
    print(f"jixiao: {message}", file=sys.stderr, flush=True)


# Vector indexes loaded ahead of opening their store, by store folder (preload_vectors).
_preloaded: dict[Path, VectorIndex] = {}


def preload_vectors(path: Path, dims: int = 384) -> int | None:
    """Load the saved vector index of the store in ``path`` now; the passages it holds.

    For a server that forks workers: loaded in the parent before the fork, the HNSW
    graphs (most of a large store's memory) are shared by every worker copy-on-write
    (searches only read them) instead of each worker loading its own. The first
    :class:`EmbeddedStore` a process opens on ``path`` takes the preloaded index if
    the index on disk is still the one loaded; otherwise it loads the newer one as
    usual. None (and nothing kept) when there is no readable saved index: opening
    the store will then report or rebuild it.
    """
    path = Path(path)
    _preloaded.pop(path.resolve(), None)  # freed before its successor loads
    try:
        vectors = VectorIndex.load(path / "vectors", dims, exact_fields())
    except DamagedIndex:
        return None
    if vectors is None:
        return None
    _preloaded[path.resolve()] = vectors
    return int((vectors.rows >= 0).sum())


class EmbeddedStore(Store):
    """SQLite + tantivy + HNSW in ``path``; see the module docstring."""

    backend = "embedded"
    # tantivy commits are batched (each costs ~20 ms and adds a segment); a search in
    # the writing process commits first, so its own writes are always visible to it
    commit_every_filings = 200
    commit_every_seconds = 2.0
    # save the vector index during a long run after this many passages, so a crash
    # does not lose more HNSW insertion work than that
    checkpoint_passages = 200_000

    def __init__(self, path: Path, *, create: bool = True, dims: int = 384) -> None:
        self.path = Path(path)
        self.dims = dims
        if not (self.path / FILE_NAME).exists():
            if not create:
                raise StoreError(f"no index at {self.path}: run jixiao index first")
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise StoreError(f"cannot create an index at {self.path}: {err}") from None
        self._mutex = threading.RLock()  # one operation at a time per store object
        self._lock_fd: int | None = None
        self._pending = 0  # filings staged in tantivy, not committed
        self._pending_since = 0.0
        self._unsaved_passages = 0
        self.records = Records(self.path, create=create, dims=dims)
        self.text: TextIndex | None = None
        self.vectors: VectorIndex | None = None
        try:
            self._open_derived()
        except BaseException:
            self.records.close()
            raise

    # -- opening and reconciling -----------------------------------------------------

    def _open_derived(self) -> None:
        if self._try_lock():
            try:
                self._reconcile()
            finally:
                self._unlock()
            return
        # someone else is writing: read what is there, follow the records in memory
        text_dir = self.path / "text"
        deadline = time.monotonic() + 10
        while not (text_dir / "meta.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # a first index run is creating it right now
        try:
            self.text = TextIndex(text_dir)
        except DamagedIndex:
            raise StoreError(
                f"the text index in {self.path} is damaged and another jixiao index run is "
                "writing there; search again when it has finished"
            ) from None
        self.vectors = self._load_vectors(self.records.generation())
        self._refresh_vectors()

    def _load_vectors(self, generation: int) -> VectorIndex:
        """The saved vector index if usable, else an empty one (to be filled from records)."""
        try:
            vectors = self._take_preloaded() or VectorIndex.load(
                self.path / "vectors", self.dims, exact_fields()
            )
        except DamagedIndex as err:
            _log(f"{err}; rebuilding it from the records")
            vectors = None
        if vectors is not None and vectors.generation > generation:
            _log(f"vector index in {self.path} is ahead of the records; rebuilding it")
            vectors = None
        if vectors is None:
            if generation > 0 and not (self.path / "vectors").exists():
                _log(f"vector index in {self.path} is missing; rebuilding it from the records")
            vectors = VectorIndex(self.path / "vectors", self.dims, exact_fields())
        return vectors

    def _take_preloaded(self) -> VectorIndex | None:
        """The index preload_vectors loaded for this folder, if it is still the saved one."""
        vectors = _preloaded.pop(self.path.resolve(), None)
        if vectors is None or vectors.dims != self.dims:
            return None
        state = read_json(self.path / "vectors" / vectorindex.STATE_FILE) or {}
        return vectors if state.get("files") == vectors.saved_files else None

    def _reconcile(self) -> None:
        """With the write lock: bring text and vectors up to the records' generation."""
        generation = self.records.generation()
        text_dir = self.path / "text"
        try:
            text = TextIndex(text_dir)
            if (
                text.generation is None
                or text.generation > generation
                or (text.committing or 0) > generation
            ):
                if generation > 0:
                    _log(f"text index in {self.path} does not match the records; rebuilding it")
                text = TextIndex.recreate(text_dir)
        except DamagedIndex as err:
            _log(f"{err}; rebuilding it from the records")
            text = TextIndex.recreate(text_dir)
        if text.generation is None or text.generation < generation:
            if text.generation is not None:
                _log(
                    f"text index in {self.path} is behind the records "
                    f"(generation {text.generation} < {generation}); catching up"
                )
            text.open_writer()
            try:
                with self.records.snapshot() as snapshot_gen:
                    for change in self.records.changes_since(text.generation or 0):
                        rows = None if change.rows is None else [r.fields for r in change.rows]
                        text.replace(change.doc_id, rows)
                    text.commit(snapshot_gen)
            finally:
                text.close_writer()  # _start_writing opens its own; readers need none
        self.text = text

        vectors = self._load_vectors(generation)
        behind = vectors.generation < generation
        if behind and vectors.saved_generation is not None:
            _log(
                f"vector index in {self.path} is behind the records "
                f"(generation {vectors.generation} < {generation}); catching up"
            )
        self.vectors = vectors
        self._refresh_vectors(fold=True)
        if behind or vectors.saved_generation is None:
            vectors.save()

    def _refresh_vectors(self, *, fold: bool = False) -> None:
        """Replay into the vector index what the records changed since its generation."""
        vectors = self.vectors
        assert vectors is not None
        if self.records.generation() == vectors.generation:
            return
        if not fold and len(vectors.overlay) > vectorindex.FOLD_AT:
            # a reader far behind: a writer's newer saved index beats exact search
            state = read_json(self.path / "vectors" / "state.json") or {}
            if int(state.get("generation", -1)) > (vectors.saved_generation or -1):
                loaded = self._load_vectors(self.records.generation())
                if loaded.saved_generation is not None:
                    self.vectors = vectors = loaded
        with self.records.snapshot() as snapshot_gen:
            for change in self.records.changes_since(vectors.generation):
                vectors.apply(change.doc_id, change.rows)
                if fold and len(vectors.overlay) >= vectorindex.FOLD_AT:
                    vectors.fold()
            vectors.generation = snapshot_gen

    # -- the write lock --------------------------------------------------------------

    @property
    def _writing(self) -> bool:
        return self.text is not None and self.text.writer is not None

    def _try_lock(self) -> bool:
        if self._lock_fd is not None:
            return True
        fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def _start_writing(self) -> None:
        """Take the write lock (once), catch up with whatever others wrote meanwhile."""
        if self._writing:
            return
        if not self._try_lock():
            raise StoreError(f"another jixiao index run is writing to {self.path}")
        try:
            self._reconcile()
            self.text.open_writer()
        except BaseException:
            self._unlock()
            raise

    # -- writing ---------------------------------------------------------------------

    def write_filing(
        self,
        record: FilingRecord,
        passages: list[dict],
        vectors: np.ndarray,
        views: list[np.ndarray] | None = None,
    ) -> None:
        if len(passages) != len(vectors) or (views is not None and len(views) != len(passages)):
            raise ValueError(f"{len(passages)} passages but {len(vectors)} vectors or views")
        with self._mutex:
            self._start_writing()
            self.records.write(record, passages, vectors, views)
            self._stage(record.doc_id, passages)
            self._unsaved_passages += len(passages)

    def delete_filing(self, doc_id: str) -> None:
        with self._mutex:
            self._start_writing()
            if self.records.delete(doc_id) is not None:
                self._stage(doc_id, None)

    def _stage(self, doc_id: str, passages: list[dict] | None) -> None:
        """After the SQLite commit: stage the text change, follow with the vectors."""
        self.text.replace(doc_id, passages)
        if self._pending == 0:
            self._pending_since = time.monotonic()
        self._pending += 1
        if (
            self._pending >= self.commit_every_filings
            or time.monotonic() - self._pending_since >= self.commit_every_seconds
        ):
            self._commit_text()
        self._refresh_vectors(fold=True)
        if self._unsaved_passages >= self.checkpoint_passages:
            self.vectors.save()
            self._unsaved_passages = 0

    def _commit_text(self) -> None:
        if not self._pending:
            return
        pause = os.environ.get(SLEEP_BEFORE_TEXT_COMMIT)
        if pause:
            time.sleep(float(pause))
        # everything up to the records' generation is staged: we hold the write lock
        self.text.commit(self.records.generation())
        self._pending = 0

    # -- reading ---------------------------------------------------------------------

    def keyword(
        self,
        groups: Sequence[Group],
        filters: Filters,
        size: int,
        facets: list[str],
        exclude: Sequence[Group] = (),
    ) -> KeywordResult:
        with self._mutex:
            self._commit_text()  # a writer sees its own writes
            return self.text.keyword(groups, filters, size, facets, exclude)

    def knn(self, vector: np.ndarray, filters: Filters, k: int) -> list[tuple[str, float]]:
        with self._mutex:
            for _attempt in range(3):
                self._refresh_vectors(fold=self._writing)
                found = self.vectors.search(np.asarray(vector, np.float32), filters.terms, k)
                ids = self.records.ids_for_rowids([rowid for rowid, _ in found])
                if len(ids) == len(found):
                    break
                # a writer replaced a filing between the refresh and the lookup (its
                # rows got new rowids): catch up with it and search again
            return [(ids[rowid], score) for rowid, score in found if rowid in ids]

    def get_filing(self, doc_id: str) -> FilingRecord | None:
        with self._mutex:
            return self.records.get_filing(doc_id)

    def get_passages(self, ids: list[str]) -> list[dict]:
        with self._mutex:
            return self.records.get_passages(ids)

    def view_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        with self._mutex:
            return self.records.view_vectors(ids)

    def content_hashes(self) -> dict[str, str]:
        with self._mutex:
            return self.records.content_hashes()

    def locations(self) -> dict[str, str]:
        with self._mutex:
            return self.records.locations()

    def models(self) -> dict[str, int]:
        with self._mutex:
            return self.records.models()

    def count(self) -> int:
        with self._mutex:
            return self.records.count()

    def stamp(self) -> str:
        with self._mutex:
            self._commit_text()  # a writer sees its own writes
            # Searches answer from the text index, which a writer commits after the
            # records: a cache built between the two commits is stale at the second.
            return f"{self.records.generation()}.{self.text.committed_generation()}"

    def close(self) -> None:
        """Commit and save what is pending, release the write lock and the files."""
        with self._mutex:
            try:
                if self._writing:
                    self._commit_text()
                    self.text.close_writer()
                    self._refresh_vectors(fold=True)
                    self.vectors.save()
            finally:
                self._unlock()
                self.records.close()

    def __enter__(self) -> EmbeddedStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

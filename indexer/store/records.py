"""The embedded store's source of truth: filings and passages in one SQLite file.

Everything else in the store directory (the tantivy text index, the vector index) is
derived from this file and can be rebuilt from it. Every change bumps a generation
number stored here; each filing row carries the generation of its last write and
each deleted filing leaves a tombstone with the generation of its deletion, so a
derived index that reflects generation G catches up by replaying the filings and
tombstones newer than G.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.store.base import FilingRecord, StoreError

FILE_NAME = "jixiao.sqlite"
SCHEMA_VERSION = "4"  # 2: filings.model; 3: filings.path; 4: passages.views
# columns later versions added: an older store gains them in place (model "" = not
# recorded; path NULL = only the source is known; views NULL = none stored)
ADDED_COLUMNS = {
    "filings": {"model": "TEXT NOT NULL DEFAULT ''", "path": "TEXT"},
    "passages": {"views": "BLOB"},
}
# Views re-score a short list of candidates (search.nearest): half precision moves a
# cosine by about 1e-3 and halves what they cost on disk.
VIEW_DTYPE = np.float16

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS filings (
    doc_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    filing TEXT NOT NULL,
    gen INTEGER NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    path TEXT
);
CREATE INDEX IF NOT EXISTS filings_gen ON filings (gen);
-- rowid is the passage's stable integer handle for the derived indexes;
-- AUTOINCREMENT so a handle is never reused for another passage.
CREATE TABLE IF NOT EXISTS passages (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL,
    pos INTEGER NOT NULL,
    fields TEXT NOT NULL,
    vector BLOB NOT NULL,
    views BLOB
);
CREATE INDEX IF NOT EXISTS passages_doc ON passages (doc_id, pos);
CREATE TABLE IF NOT EXISTS tombstones (doc_id TEXT PRIMARY KEY, gen INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tombstones_gen ON tombstones (gen);
"""


@dataclass
class PassageRow:
    """One passage as the derived indexes need it."""

    rowid: int
    id: str
    doc_id: str
    fields: dict
    vector: np.ndarray  # float32


@dataclass
class Change:
    """A filing written (``rows``: its passages) or deleted (``rows`` None) after a generation."""

    doc_id: str
    rows: list[PassageRow] | None


def _has_indexes(directory: Path) -> bool:
    return (directory / "text").exists() or (directory / "vectors").exists()


class Records:
    """Filings and passages in SQLite (WAL): atomic replace per filing, generations for replay."""

    def __init__(self, directory: Path, *, create: bool, dims: int) -> None:
        self.path = directory / FILE_NAME
        self.dims = dims
        existed = self.path.exists()
        if not existed and not create:
            raise StoreError(f"no index at {directory}: run jixiao index first")
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a filing's
            # replace is exactly one transaction. check_same_thread=False: the store
            # serialises access with its own lock (a portal may call from threads).
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA busy_timeout = 10000")
            self.db.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode: a commit is in the OS once COMMIT returns, so it survives
            # kill -9 of the process; only a power cut can lose the last commits, and then
            # the database is still consistent (older). The derived indexes detect being
            # *ahead* of SQLite after such a loss and rebuild (see embedded.py). FULL
            # would fsync every filing, which dominates the time of an index run.
            self.db.execute("PRAGMA synchronous = NORMAL")
            has_meta = self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone()
            if existed and has_meta is None and (not create or _has_indexes(directory)):
                # an emptied file (truncated to 0 bytes) beside a store's indexes: opening
                # it as a new store would answer nothing and wipe those indexes
                raise sqlite3.DatabaseError("it holds no jixiao tables")
            self.db.executescript(_SCHEMA)
            self._init_meta()
        except sqlite3.DatabaseError as err:
            raise StoreError(
                f"{self.path} is damaged or not a jixiao store ({err}); "
                f"remove {directory} and run jixiao index again"
            ) from None

    def _init_meta(self) -> None:
        if any(not set(added) <= self._columns(table) for table, added in ADDED_COLUMNS.items()):
            self._add_columns()
        # covers locations(): read beside the filings' JSON, which an index run never needs
        self.db.execute(
            "CREATE INDEX IF NOT EXISTS filings_where ON filings (doc_id, source, path)"
        )
        row = self.db.execute("SELECT value FROM meta WHERE key = 'dims'").fetchone()
        if row is None:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('dims', ?), ('generation', '0'), "
                "('schema_version', ?)",
                (str(self.dims), SCHEMA_VERSION),
            )
            self.db.execute("COMMIT")
        elif int(row[0]) != self.dims:
            raise StoreError(
                f"{self.path} holds {row[0]}-dimensional vectors, not {self.dims}: "
                "index again with the same embedding model or use another --store"
            )

    def _columns(self, table: str) -> set[str]:
        return {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}

    def _add_columns(self) -> None:
        """Upgrade an older store in place with the columns later versions added."""
        with self._transaction() as db:
            for table, added in ADDED_COLUMNS.items():
                for name, definition in added.items():
                    if name not in self._columns(table):  # another process may have added it
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")
            db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION,))

    # -- writing ---------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so the generation read below cannot
        # be raced by another writer between read and update.
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _next_generation(self) -> int:
        gen = int(self.db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
        self.db.execute("UPDATE meta SET value = ? WHERE key = 'generation'", (str(gen + 1),))
        return gen + 1

    def write(
        self,
        record: FilingRecord,
        passages: list[dict],
        vectors: np.ndarray,
        views: list[np.ndarray] | None = None,
    ) -> tuple[int, list[PassageRow]]:
        """Replace the filing and all its passages in one transaction; (generation, rows)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(passages), self.dims)
        blobs = [self._views_blob(v) for v in views] if views else [None] * len(passages)
        rows: list[PassageRow] = []
        try:
            with self._transaction() as db:
                gen = self._next_generation()
                db.execute("DELETE FROM passages WHERE doc_id = ?", (record.doc_id,))
                db.execute("DELETE FROM tombstones WHERE doc_id = ?", (record.doc_id,))
                db.execute(
                    "INSERT OR REPLACE INTO filings (doc_id, source, content_hash, filing, gen, "
                    "model, path) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        record.doc_id,
                        record.source,
                        record.content_hash,
                        json.dumps(record.filing, ensure_ascii=False),
                        gen,
                        record.model,
                        record.filing.get("path"),
                    ),
                )
                rows_in = zip(passages, vectors, blobs, strict=True)
                for pos, (passage, vector, blob) in enumerate(rows_in):
                    cur = db.execute(
                        "INSERT INTO passages (id, doc_id, pos, fields, vector, views) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            str(passage["id"]),
                            record.doc_id,
                            pos,
                            json.dumps(passage, ensure_ascii=False),
                            vector.tobytes(),
                            blob,
                        ),
                    )
                    pid = str(passage["id"])
                    rows.append(PassageRow(cur.lastrowid, pid, record.doc_id, passage, vector))
        except sqlite3.IntegrityError as err:
            raise StoreError(
                f"filing {record.doc_id}: a passage id is already used by another filing ({err})"
            ) from None
        return gen, rows

    def _views_blob(self, views: np.ndarray) -> bytes | None:
        """A passage's views as stored: half-precision rows, None when it has none."""
        views = np.asarray(views, dtype=VIEW_DTYPE).reshape(-1, self.dims)
        return views.tobytes() if len(views) else None

    def delete(self, doc_id: str) -> int | None:
        """Remove a filing and its passages; the new generation, or None if it was absent."""
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM filings WHERE doc_id = ?", (doc_id,)).fetchone() is None:
                return None
            gen = self._next_generation()
            db.execute("DELETE FROM passages WHERE doc_id = ?", (doc_id,))
            db.execute("DELETE FROM filings WHERE doc_id = ?", (doc_id,))
            db.execute("INSERT OR REPLACE INTO tombstones VALUES (?, ?)", (doc_id, gen))
        return gen

    # -- reading ---------------------------------------------------------------------

    def generation(self) -> int:
        return int(self.db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])

    @contextmanager
    def snapshot(self) -> Iterator[int]:
        """A read transaction: every read inside sees one state; yields its generation."""
        self.db.execute("BEGIN")
        try:
            yield self.generation()
        finally:
            self.db.execute("COMMIT")

    def changes_since(self, gen: int) -> Iterator[Change]:
        """Filings written or deleted after ``gen`` (call inside ``snapshot()``)."""
        cur = self.db.execute("SELECT doc_id FROM filings WHERE gen > ?", (gen,))
        written = [r[0] for r in cur]
        for doc_id in written:
            yield Change(doc_id, self.passage_rows(doc_id))
        for (doc_id,) in self.db.execute("SELECT doc_id FROM tombstones WHERE gen > ?", (gen,)):
            yield Change(doc_id, None)

    def passage_rows(self, doc_id: str) -> list[PassageRow]:
        cur = self.db.execute(
            "SELECT rowid, id, fields, vector FROM passages WHERE doc_id = ? ORDER BY pos",
            (doc_id,),
        )
        return [
            PassageRow(rowid, pid, doc_id, json.loads(fields), np.frombuffer(blob, np.float32))
            for rowid, pid, fields, blob in cur
        ]

    def ids_for_rowids(self, rowids: list[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for start in range(0, len(rowids), 500):
            chunk = rowids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            out.update(
                self.db.execute(f"SELECT rowid, id FROM passages WHERE rowid IN ({marks})", chunk)
            )
        return out

    def get_passages(self, ids: list[str]) -> list[dict]:
        found = {pid: json.loads(fields) for pid, fields in self._by_id("fields", ids)}
        return [found[i] for i in ids if i in found]

    def view_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        return {
            pid: np.frombuffer(blob, VIEW_DTYPE).reshape(-1, self.dims).astype(np.float32)
            for pid, blob in self._by_id("views", ids)
            if blob is not None
        }

    def _by_id(self, column: str, ids: list[str]) -> Iterator[tuple[str, object]]:
        """(id, ``column``) of the passages with these ids, 500 ids a query."""
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            yield from self.db.execute(
                f"SELECT id, {column} FROM passages WHERE id IN ({marks})", chunk
            )

    def get_filing(self, doc_id: str) -> FilingRecord | None:
        row = self.db.execute(
            "SELECT doc_id, source, content_hash, filing, model FROM filings WHERE doc_id = ?",
            (doc_id,),
        ).fetchone()
        if row is None:
            return None
        return FilingRecord(row[0], row[1], row[2], json.loads(row[3]), row[4])

    def content_hashes(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT doc_id, content_hash FROM filings"))

    def locations(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT doc_id, coalesce(path, source) FROM filings"))

    def models(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT model, count(*) FROM filings GROUP BY model"))

    def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM passages").fetchone()[0])

    def close(self) -> None:
        self.db.close()

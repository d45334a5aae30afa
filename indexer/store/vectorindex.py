"""The embedded store's vector index: HNSW for broad queries, exact search for narrow ones.

Derived from the SQLite records. Every live passage occupies a *slot* (a small integer,
reused after deletes so arrays stay as long as the live set). Per slot we keep the
passage's records rowid, its filter-field values as integer codes, and its vector as
float16 (for exact search: half the memory of float32, and the float32 copy lives only
inside hnswlib). The HNSW graph uses the slot as its label.

New passages first go to an *overlay*: slots that are searched exactly and are not in
the graph yet. Inserting into HNSW is the expensive part (research.md: 547 s at 1M), so
a writer folds the overlay into the graph in batches and saves it; a reader never
inserts, it only keeps its overlay in step with the records. So an index run over a
few files costs milliseconds here, and catching up after a crash costs only what
was not saved.

On disk (``vectors/``): ``hnsw-<tag>.bin``, ``slots-<tag>.npz``, ``vec16-<tag>.npy``
and ``state.json`` naming them with the records generation they reflect; state.json
is replaced atomically after the files are written, so a crash leaves the previous
complete set.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import hnswlib
import numpy as np

from indexer.store.fsutil import fsync_path, read_json, write_json_atomic
from indexer.store.records import PassageRow
from indexer.store.textindex import DamagedIndex, field_value

STATE_FILE = "state.json"
FORMAT = 1
EXACT_LIMIT = 8192  # at most this many candidates: exact search (≈10 ms from float16)
FOLD_AT = 20_000  # overlay size at which a writer inserts the overlay into the graph
HNSW_M = 16  # as in mappings/passages.json
HNSW_EF_CONSTRUCTION = 100
HNSW_EF_SEARCH = 96
CHUNK = 2048  # rows gathered and converted to float32 at a time (stays in cache)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


class VectorIndex:
    """Slots, overlay and graph; ``generation`` is the records generation reflected."""

    def __init__(self, directory: Path, dims: int, fields: list[str]) -> None:
        self.directory = directory
        self.dims = dims
        self.fields = fields
        self.field_pos = {name: i for i, name in enumerate(fields)}
        self.generation = 0
        self.saved_generation: int | None = None  # what state.json on disk reflects
        self.values: list[dict[str, int]] = [{} for _ in fields]
        self.top = 0  # slots in use are below top
        self.rows = np.full(0, -1, np.int64)  # slot → records rowid, -1 = free
        self.codes = np.full((len(fields), 0), -1, np.int32)  # field, slot → value code
        self.vec16 = np.zeros((0, dims), np.float16)
        self.in_graph = np.zeros(0, bool)  # the graph holds this slot's current vector
        self.free: list[int] = []
        self.by_doc: dict[str, list[int]] = {}
        self.overlay: set[int] = set()
        self.graph: hnswlib.Index | None = None
        self.dirty = False

    # -- loading and saving ----------------------------------------------------------

    @classmethod
    def load(cls, directory: Path, dims: int, fields: list[str]) -> VectorIndex | None:
        """The saved index, None when there is none; DamagedIndex when it cannot be read."""
        for _attempt in range(3):
            state = read_json(directory / STATE_FILE)
            if state is None:
                return None
            try:
                return cls._load_state(directory, dims, fields, state)
            except FileNotFoundError:
                continue  # a writer replaced the files while we read: read the new state
            except Exception as err:
                raise DamagedIndex(f"vector index at {directory} cannot be read: {err}") from None
        raise DamagedIndex(f"vector index at {directory} keeps changing while being read")

    @classmethod
    def _load_state(
        cls, directory: Path, dims: int, fields: list[str], state: dict
    ) -> VectorIndex | None:
        if state.get("format") != FORMAT or state.get("dims") != dims or state["fields"] != fields:
            return None  # another layout: rebuild
        index = cls(directory, dims, fields)
        files = state["files"]
        with np.load(directory / files["slots"]) as arrays:
            index.rows = arrays["rows"].copy()
            index.codes = arrays["codes"].copy()
            index.in_graph = arrays["in_graph"].copy()
        # copy-on-write map: pages are read on demand and shared with the page cache;
        # only slots this process rewrites become private memory
        index.vec16 = np.load(directory / files["vec16"], mmap_mode="c")
        index.top = len(index.rows)
        if index.vec16.shape != (index.top, dims) or index.codes.shape != (len(fields), index.top):
            raise ValueError("array shapes disagree")
        index.values = [{v: i for i, v in enumerate(names)} for names in state["values"]]
        if files.get("hnsw"):
            graph = hnswlib.Index(space="cosine", dim=dims)
            graph.load_index(str(directory / files["hnsw"]), max_elements=max(index.top, 1))
            index.graph = graph
        index.free = np.flatnonzero(index.rows < 0).tolist()
        doc_codes = index.codes[index.field_pos["doc_id"]]
        doc_names = state["values"][index.field_pos["doc_id"]]
        live = np.flatnonzero(index.rows >= 0)
        for slot, code in zip(live.tolist(), doc_codes[live].tolist(), strict=True):
            index.by_doc.setdefault(doc_names[code], []).append(slot)
        index.overlay = set(np.flatnonzero((index.rows >= 0) & ~index.in_graph).tolist())
        index.generation = index.saved_generation = int(state["generation"])
        return index

    def save(self) -> None:
        """Fold the overlay into the graph and write everything; no-op when unchanged."""
        self.fold()
        if not self.dirty and self.saved_generation == self.generation:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        tag = f"{self.generation}-{uuid.uuid4().hex[:8]}"
        files = {"slots": f"slots-{tag}.npz", "vec16": f"vec16-{tag}.npy", "hnsw": None}
        top = self.top
        with open(self.directory / files["slots"], "wb") as out:
            np.savez(
                out, rows=self.rows[:top], codes=self.codes[:, :top], in_graph=self.in_graph[:top]
            )
            out.flush()
            os.fsync(out.fileno())
        with open(self.directory / files["vec16"], "wb") as out:
            np.save(out, np.ascontiguousarray(self.vec16[:top]))
            out.flush()
            os.fsync(out.fileno())
        if self.graph is not None:
            files["hnsw"] = f"hnsw-{tag}.bin"
            self.graph.save_index(str(self.directory / files["hnsw"]))
            fsync_path(self.directory / files["hnsw"])
        names = [sorted(v, key=v.__getitem__) for v in self.values]
        state = {
            "format": FORMAT,
            "generation": self.generation,
            "dims": self.dims,
            "fields": self.fields,
            "files": files,
            "values": names,
        }
        write_json_atomic(self.directory / STATE_FILE, state)  # the commit point
        keep = {STATE_FILE, *(f for f in files.values() if f)}
        for path in self.directory.iterdir():
            if path.name not in keep and not path.name.startswith("."):
                path.unlink(missing_ok=True)
        self.saved_generation = self.generation
        self.dirty = False

    # -- changing --------------------------------------------------------------------

    def _grow(self, needed: int) -> None:
        capacity = len(self.rows)
        if needed <= capacity:
            return
        new = max(needed, int(capacity * 1.25) + 1024)  # modest: growing copies the arrays
        extra = new - capacity
        self.rows = np.concatenate([self.rows, np.full(extra, -1, np.int64)])
        self.codes = np.concatenate(
            [self.codes, np.full((len(self.fields), extra), -1, np.int32)], axis=1
        )
        self.vec16 = np.concatenate([self.vec16, np.zeros((extra, self.dims), np.float16)])
        self.in_graph = np.concatenate([self.in_graph, np.zeros(extra, bool)])

    def _release(self, slot: int) -> None:
        if self.in_graph[slot]:
            self.graph.mark_deleted(slot)  # the label is reused (and unmarked) on re-insert
            self.in_graph[slot] = False
        self.overlay.discard(slot)
        self.rows[slot] = -1
        self.codes[:, slot] = -1
        self.free.append(slot)

    def _code(self, field: int, value: object) -> int:
        text = field_value(value)
        if text is None:
            return -1
        table = self.values[field]
        return table.setdefault(text, len(table))

    def apply(self, doc_id: str, rows: list[PassageRow] | None) -> None:
        """Make the filing ``doc_id`` hold exactly ``rows`` (None: remove it). Idempotent."""
        for slot in self.by_doc.pop(doc_id, []):
            self._release(slot)
        if rows:
            needed = max(0, len(rows) - len(self.free))
            self._grow(self.top + needed)
            slots = []
            for row in rows:
                if self.free:
                    slot = self.free.pop()
                else:
                    slot = self.top
                    self.top += 1
                self.rows[slot] = row.rowid
                for name, pos in self.field_pos.items():
                    self.codes[pos, slot] = self._code(pos, row.fields.get(name))
                self.in_graph[slot] = False
                self.overlay.add(slot)
                slots.append(slot)
            vectors = np.stack([row.vector for row in rows]).reshape(len(rows), self.dims)
            self.vec16[slots] = _normalise(vectors).astype(np.float16)
            self.by_doc[doc_id] = slots
        self.dirty = True

    def fold(self) -> None:
        """Insert the overlay into the graph (the costly part of HNSW, done in batches)."""
        if not self.overlay:
            return
        slots = np.array(sorted(self.overlay), dtype=np.int64)
        if self.graph is None:
            self.graph = hnswlib.Index(space="cosine", dim=self.dims)
            self.graph.init_index(
                max_elements=max(self.top, 1024), M=HNSW_M, ef_construction=HNSW_EF_CONSTRUCTION
            )
        if self.graph.get_max_elements() < self.top:
            # labels are slots < top, and the graph never holds more labels than that
            self.graph.resize_index(int(self.top * 1.25) + 1024)
        for start in range(0, len(slots), 4096):
            part = slots[start : start + 4096]
            self.graph.add_items(self.vec16[part].astype(np.float32), part)
        self.in_graph[slots] = True
        self.overlay.clear()
        self.dirty = True

    # -- searching -------------------------------------------------------------------

    def candidates(self, terms: dict[str, tuple[str, ...]]) -> np.ndarray:
        """Bool per slot: live and passing the filters (same field OR, fields AND)."""
        mask = self.rows[: self.top] >= 0
        for name, values in terms.items():
            if name not in self.field_pos:
                raise ValueError(f"cannot filter on {name!r}")
            pos = self.field_pos[name]
            codes = self.codes[pos, : self.top]
            wanted = {self.values[pos][str(v)] for v in values if str(v) in self.values[pos]}
            field_mask = np.zeros(self.top, bool)
            for code in wanted:
                field_mask |= codes == code
            mask &= field_mask
        return mask

    def _exact(self, slots: np.ndarray, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        if len(slots) == 0:
            return []
        scores = np.empty(len(slots), np.float32)
        buffer = np.empty((CHUNK, self.dims), np.float32)
        for start in range(0, len(slots), CHUNK):
            part = slots[start : start + CHUNK]
            block = buffer[: len(part)]
            block[...] = self.vec16[part]  # gather and widen in one step, no big temporaries
            scores[start : start + len(part)] = block @ query
        k = min(k, len(slots))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(slots) else np.arange(len(slots))
        best = top[np.argsort(-scores[top])]
        return [(int(slots[i]), float(scores[i])) for i in best]

    def search(
        self, query: np.ndarray, terms: dict[str, tuple[str, ...]], k: int
    ) -> list[tuple[int, float]]:
        """The ``k`` best (records rowid, cosine) among passages passing ``terms``."""
        if k <= 0 or self.top == 0:
            return []
        query = _normalise(query.reshape(self.dims))
        mask = self.candidates(terms)
        count = int(np.count_nonzero(mask))
        if count == 0:
            return []
        if self.graph is None or count <= EXACT_LIMIT:
            # few candidates: exact is fast and has perfect recall
            found = self._exact(np.flatnonzero(mask), query, k)
        else:
            found = self._graph_search(query, mask, terms, k)
        found.sort(key=lambda item: -item[1])
        return [(int(self.rows[slot]), score) for slot, score in found[:k]]

    def _graph_search(
        self, query: np.ndarray, mask: np.ndarray, terms: dict, k: int
    ) -> list[tuple[int, float]]:
        """HNSW over the graph's candidates plus exact over the overlay's; exact if short."""
        overlay = np.array(sorted(s for s in self.overlay if mask[s]), dtype=np.int64)
        in_graph = mask & self.in_graph[: self.top]
        graph_count = int(np.count_nonzero(in_graph))
        wanted = min(k, graph_count)
        found: list[tuple[int, float]] = []
        if wanted:
            self.graph.set_ef(max(HNSW_EF_SEARCH, 4 * wanted))
            # Filtered: hnswlib checks the filter while walking the graph, the in-graph
            # form of oversample-and-post-filter (it keeps walking until enough pass).
            accept = None if not terms else in_graph.__getitem__
            try:
                labels, distances = self.graph.knn_query(
                    query, k=wanted, num_threads=1, filter=accept
                )
                found = [
                    (int(s), 1.0 - float(d)) for s, d in zip(labels[0], distances[0], strict=True)
                ]
            except RuntimeError:
                # too few candidates reachable through the graph: exact over them all
                return self._exact(np.flatnonzero(mask), query, k)
        found.extend(self._exact(overlay, query, k))
        return found

    def live_count(self) -> int:
        return int(np.count_nonzero(self.rows[: self.top] >= 0))

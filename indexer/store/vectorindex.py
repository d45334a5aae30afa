"""The embedded store's vector index: HNSW per passage kind, exact search for narrow filters.

Derived from the SQLite records. Every live passage occupies a *slot* (a small integer,
reused after deletes so arrays stay as long as the live set). Per slot we keep the
passage's records rowid, its filter-field values as integer codes, and its vector as
16-bit fixed point (for exact search; the float32 copy lives only inside hnswlib). Each value of
``kind`` has its own HNSW graph, with the slot as label.

Why one graph per kind: ``kind`` follows the embedding (narrative paragraphs, project
headers and indicator rows sit in different regions of the space), so a kind filter
on one shared graph made hnswlib walk most of the graph looking for the few nodes
that pass, calling a Python filter for each: 150–400 ms at 1M passages. With a graph
per kind, a kind filter is an unfiltered search of its own graph (~1 ms), and an
unfiltered query searches the three graphs and merges.

Other filters never use hnswlib's filtered walk: its filter is a Python callable, run
for every node visited, each call taking the GIL back; beside a busy Python thread (a
threaded web server) one walk took up to 2.8 s. Instead, up to ``EXACT_LIMIT``
candidates in a kind are searched exactly (fast, perfect recall); above that they
are at least 1/14 of the indicators' graph, and an unfiltered search for enough
nearest passages that ``k`` of them should pass, filtered afterwards, finds them
(year filters: recall@10 1.00 against exact); when too few pass (a filter that
follows the embedding, such as level2, for a query far from it), exact search over
the candidates answers instead.

Why 16-bit fixed point: exact search widens the candidates' vectors to float32 in
chunks. numpy converts float16 one value at a time (≈2 ns a value); int16 → float32
is one vectorised cast (≈0.3 ns), with the scale moved into the query. For unit
vectors (components in [-1, 1]) a step of 1/32767 is as fine as float16's for the
typical component of ±0.05, so cosines move by < 1e-4 and ranks match float32.

New passages first go to an *overlay*: slots that are searched exactly and are not in
a graph yet. Inserting into HNSW is the expensive part (research.md: 547 s at 1M), so
a writer folds the overlay into the graphs in batches and saves them; a reader never
inserts, it only keeps its overlay in step with the records. So an index run over a
few files costs milliseconds here, and catching up after a crash costs only what
was not saved.

On disk (``vectors/``): ``hnsw-<tag>-<kind code>.bin``, ``slots-<tag>.npz``,
``vec16-<tag>.npy`` and ``state.json`` naming them with the records generation they
reflect; state.json is replaced atomically after the files are written, so a crash
leaves the previous complete set.
"""

from __future__ import annotations

import mmap
import os
import uuid
from pathlib import Path

import hnswlib
import numpy as np

from indexer.store.fsutil import fsync_path, read_json, write_json_atomic
from indexer.store.records import PassageRow
from indexer.store.textindex import DamagedIndex, field_value

STATE_FILE = "state.json"
FORMAT = 2  # 2: one graph per kind, int16 vectors (1: one graph, float16)
PARTITION_FIELD = "kind"  # one HNSW graph per value of this field
# At most this many candidates in a graph: exact search (int16, ≈ 0.23 µs a
# candidate on this project's machine, so ≈ 15 ms at the limit). Above it the
# candidates are ≥ 1/14 of the 887k-passage indicators' graph, and over-fetching
# from the graph asks it for at most ~30 × k passages.
EXACT_LIMIT = 65_536
# A whole kind this small is searched exactly even without filters (see _whole_kind):
# ~0.23 µs a passage, so about 1 ms, what its graph takes.
EXACT_WHOLE_KIND = 4_096
FOLD_AT = 20_000  # overlay size at which a writer inserts the overlay into the graphs
HNSW_M = 16  # as in mappings/passages.json
HNSW_EF_CONSTRUCTION = 100
# Beam width (at least; the number of results asked when larger): recall@10 of the
# top 10 of k=50 against exact search, 1M synthetic passages full of near-duplicates:
# 0.38 at ef 200, 0.62 at 400, 0.67 at 800, 0.80 at 1600; each doubling costs ~1 ms
# a graph.
HNSW_EF_SEARCH = 800
# Over-fetch for a filter: ask for OVERFETCH × k / (share of the graph passing) + k.
OVERFETCH = 2.0
# Rows gathered and widened to float32 at a time. Not small: every numpy call releases
# the GIL and must win it back, which beside a busy Python thread can take the whole
# switch interval (5 ms); not large: past ~4096 rows (6 MiB of float32) the chunk
# falls out of cache and exact search gets slower (measured 1024-16384).
CHUNK = 4096


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


FIXED_SCALE = 32767.0  # int16 steps per unit: components of unit vectors lie in [-1, 1]


def to_fixed16(vectors: np.ndarray) -> np.ndarray:
    """Unit vectors (float32) → int16 fixed point."""
    scaled = np.rint(np.asarray(vectors, dtype=np.float32) * FIXED_SCALE)
    return np.clip(scaled, -FIXED_SCALE, FIXED_SCALE).astype(np.int16)


def from_fixed16(values: np.ndarray) -> np.ndarray:
    """int16 fixed point → float32 vectors."""
    return np.asarray(values, dtype=np.float32) / np.float32(FIXED_SCALE)


def map_vectors(path: Path) -> np.ndarray:
    """The saved vectors (an ``.npy`` file), mapped copy-on-write and paged in at once.

    Mapped, not read: the pages are shared with the page cache, so gunicorn workers on
    one store hold one copy, and only slots this process rewrites become private.
    Paged in at once: otherwise the first exact searches of a process fault pages in
    one by one, from disk when the cache is cold (in the scale benchmark, province
    filters took 96 ms at p95 right after opening instead of 23). Reading one byte of
    every page maps the page cache's own pages (MAP_POPULATE on a writable private
    map would copy them all instead).
    """
    vectors = np.load(path, mmap_mode="c")
    raw = getattr(vectors, "_mmap", None)
    if isinstance(raw, mmap.mmap):
        if hasattr(mmap, "MADV_WILLNEED"):
            raw.madvise(mmap.MADV_WILLNEED)  # read ahead in large chunks
        int(np.frombuffer(raw, dtype=np.uint8)[:: mmap.PAGESIZE].sum())
    return vectors


class VectorIndex:
    """Slots, overlay and graphs; ``generation`` is the records generation reflected."""

    def __init__(self, directory: Path, dims: int, fields: list[str]) -> None:
        self.directory = directory
        self.dims = dims
        self.fields = fields
        self.field_pos = {name: i for i, name in enumerate(fields)}
        self.part_pos = self.field_pos[PARTITION_FIELD]
        self.generation = 0
        self.saved_generation: int | None = None  # what state.json on disk reflects
        self.saved_files: dict | None = None  # the files of that state.json
        self.values: list[dict[str, int]] = [{} for _ in fields]
        self.top = 0  # slots in use are below top
        self.rows = np.full(0, -1, np.int64)  # slot → records rowid, -1 = free
        self.codes = np.full((len(fields), 0), -1, np.int32)  # field, slot → value code
        self.vec16 = np.zeros((0, dims), np.int16)  # fixed point, see to_fixed16
        self.in_graph = np.zeros(0, bool)  # its kind's graph holds this slot's vector
        self.free: list[int] = []
        self.by_doc: dict[str, list[int]] = {}
        self.overlay: set[int] = set()
        self.graphs: dict[int, hnswlib.Index] = {}  # kind code (-1: none) → graph
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
        index.vec16 = map_vectors(directory / files["vec16"])
        index.top = len(index.rows)
        if index.vec16.shape != (index.top, dims) or index.codes.shape != (len(fields), index.top):
            raise ValueError("array shapes disagree")
        if index.vec16.dtype != np.int16:
            raise ValueError(f"vectors are {index.vec16.dtype}, not int16")
        index.values = [{v: i for i, v in enumerate(names)} for names in state["values"]]
        for code, name in files["hnsw"].items():
            graph = hnswlib.Index(space="cosine", dim=dims)
            # room for exactly what it holds: hnswlib allocates a lock per element up
            # front; a writer grows it when it folds
            graph.load_index(str(directory / name), max_elements=max(state["sizes"][code], 1))
            index.graphs[int(code)] = graph
        index.free = np.flatnonzero(index.rows < 0).tolist()
        doc_codes = index.codes[index.field_pos["doc_id"]]
        doc_names = state["values"][index.field_pos["doc_id"]]
        live = np.flatnonzero(index.rows >= 0)
        for slot, code in zip(live.tolist(), doc_codes[live].tolist(), strict=True):
            index.by_doc.setdefault(doc_names[code], []).append(slot)
        index.overlay = set(np.flatnonzero((index.rows >= 0) & ~index.in_graph).tolist())
        index.generation = index.saved_generation = int(state["generation"])
        index.saved_files = files
        return index

    def save(self) -> None:
        """Fold the overlay into the graphs and write everything; no-op when unchanged."""
        self.fold()
        if not self.dirty and self.saved_generation == self.generation:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        tag = f"{self.generation}-{uuid.uuid4().hex[:8]}"
        files: dict = {"slots": f"slots-{tag}.npz", "vec16": f"vec16-{tag}.npy", "hnsw": {}}
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
        sizes = {}
        for code, graph in sorted(self.graphs.items()):
            name = f"hnsw-{tag}-{code}.bin"
            graph.save_index(str(self.directory / name))
            fsync_path(self.directory / name)
            files["hnsw"][str(code)] = name
            sizes[str(code)] = int(graph.get_current_count())
        names = [sorted(v, key=v.__getitem__) for v in self.values]
        state = {
            "format": FORMAT,
            "generation": self.generation,
            "dims": self.dims,
            "fields": self.fields,
            "files": files,
            "sizes": sizes,
            "values": names,
        }
        write_json_atomic(self.directory / STATE_FILE, state)  # the commit point
        keep = {STATE_FILE, files["slots"], files["vec16"], *files["hnsw"].values()}
        for path in self.directory.iterdir():
            if path.name not in keep and not path.name.startswith("."):
                path.unlink(missing_ok=True)
        self.saved_generation = self.generation
        self.saved_files = files
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
        self.vec16 = np.concatenate([self.vec16, np.zeros((extra, self.dims), self.vec16.dtype)])
        self.in_graph = np.concatenate([self.in_graph, np.zeros(extra, bool)])

    def _release(self, slot: int) -> None:
        if self.in_graph[slot]:
            # the label is reused (and unmarked) if the slot comes back with this kind
            self.graphs[int(self.codes[self.part_pos, slot])].mark_deleted(slot)
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
            self.vec16[slots] = to_fixed16(_normalise(vectors))
            self.by_doc[doc_id] = slots
        self.dirty = True

    def fold(self) -> None:
        """Insert the overlay into the graphs (the costly part of HNSW, done in batches)."""
        if not self.overlay:
            return
        slots = np.array(sorted(self.overlay), dtype=np.int64)
        parts = self.codes[self.part_pos, slots]
        for code in np.unique(parts).tolist():
            mine = slots[parts == code]
            graph = self.graphs.get(code)
            if graph is None:
                graph = hnswlib.Index(space="cosine", dim=self.dims)
                graph.init_index(
                    max_elements=len(mine) + 1024, M=HNSW_M, ef_construction=HNSW_EF_CONSTRUCTION
                )
                self.graphs[code] = graph
            # a graph never holds more labels than slots exist, and these may be new ones
            needed = min(graph.get_current_count() + len(mine), max(self.top, 1))
            if graph.get_max_elements() < needed:
                graph.resize_index(int(needed * 1.25) + 1024)
            for start in range(0, len(mine), 4096):
                part = mine[start : start + 4096]
                graph.add_items(from_fixed16(self.vec16[part]), part)
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
        narrow = np.empty((CHUNK, self.dims), np.int16)
        wide = np.empty((CHUNK, self.dims), np.float32)
        scaled = (query / np.float32(FIXED_SCALE)).astype(np.float32)
        for start in range(0, len(slots), CHUNK):
            part = slots[start : start + CHUNK]
            n = len(part)
            # mode="clip": no bounds-checking copy (slots are valid by construction)
            np.take(self.vec16, part, axis=0, out=narrow[:n], mode="clip")
            np.copyto(wide[:n], narrow[:n])
            # einsum, not ``@``: numpy's OpenBLAS starts threads for a matrix-vector
            # product, and on a busy 2-core server they spin against the other work
            # (measured 5-15× slower than one thread); einsum stays on this thread.
            np.einsum("ij,j->i", wide[:n], scaled, out=scores[start : start + n])
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
        # within one kind's graph, a filter on kind alone lets every node pass
        walk_filter = any(name != PARTITION_FIELD for name in terms)
        codes = self._partition_codes(terms)
        found: list[tuple[int, float]] = []
        if not walk_filter:
            # whole kinds: their graphs (+ overlays) answer without any per-slot mask
            # (the masks cost ~5 ms over 1M slots, more than the graph searches)
            rest = []
            for code in codes:
                whole = self._whole_kind(code, query, k)
                if whole is None:
                    rest.append(code)
                else:
                    found.extend(whole)
            codes = rest
        if codes:
            mask = self.candidates(terms)
            parts = self.codes[self.part_pos, : self.top]
        for code in codes:
            part_mask = mask & (parts == code)
            count = int(np.count_nonzero(part_mask))
            if count == 0:
                continue
            graph = self.graphs.get(code)
            if graph is None or count <= EXACT_LIMIT:
                # few candidates: exact is fast and has perfect recall
                found.extend(self._exact(np.flatnonzero(part_mask), query, k))
            else:
                found.extend(self._graph_search(graph, query, part_mask, walk_filter, k))
        found.sort(key=lambda item: -item[1])
        return [(int(self.rows[slot]), score) for slot, score in found[:k]]

    def _whole_kind(self, code: int, query: np.ndarray, k: int) -> list[tuple[int, float]] | None:
        """The best ``k`` of one whole kind from its graph and overlay; None: search exactly.

        A large kind goes to its graph (ef 800 in the 18k narrative paragraphs of the
        1M benchmark: ~1 ms, exact search ~4 ms). A kind of up to EXACT_WHOLE_KIND
        passages is searched exactly: as fast, and HNSW cannot reach every exact
        duplicate (hnswlib's neighbour heuristic prunes links to a node's twin), so a
        repeated indicator row would be missing from unfiltered results that a
        filtered, exact search finds.
        """
        graph = self.graphs.get(code)
        if graph is None or graph.get_current_count() <= EXACT_WHOLE_KIND:
            return None
        graph.set_ef(max(HNSW_EF_SEARCH, k))
        try:
            labels, distances = graph.knn_query(query, k=k, num_threads=1)
        except RuntimeError:
            return None  # fewer than k live nodes in the graph: exact search instead
        found = [(int(s), 1.0 - float(d)) for s, d in zip(labels[0], distances[0], strict=True)]
        if self.overlay:
            overlay = np.fromiter(self.overlay, np.int64, len(self.overlay))
            overlay = np.sort(overlay[self.codes[self.part_pos, overlay] == code])
            found.extend(self._exact(overlay, query, k))
        return found

    def _partition_codes(self, terms: dict[str, tuple[str, ...]]) -> list[int]:
        """The kind codes a search must look at (those the filter allows, if any)."""
        table = self.values[self.part_pos]
        if PARTITION_FIELD in terms:
            return sorted({table[str(v)] for v in terms[PARTITION_FIELD] if str(v) in table})
        return [-1, *table.values()]

    def _graph_search(
        self, graph: hnswlib.Index, query: np.ndarray, mask: np.ndarray, walk_filter: bool, k: int
    ) -> list[tuple[int, float]]:
        """HNSW over one graph's candidates plus exact over its overlay's."""
        live_in_graph = self.in_graph[: self.top]
        in_graph = mask & live_in_graph
        overlay = np.flatnonzero(mask & ~live_in_graph)
        count = int(np.count_nonzero(in_graph))
        wanted = min(k, count)
        found: list[tuple[int, float]] = []
        if wanted:
            fetch = wanted
            if walk_filter:
                # enough nearest passages that ``wanted`` of them should pass the filter
                share = count / max(graph.get_current_count(), 1)
                fetch = min(count, int(OVERFETCH * wanted / share) + wanted)
            graph.set_ef(max(HNSW_EF_SEARCH, fetch))
            try:
                labels, distances = graph.knn_query(query, k=fetch, num_threads=1)
            except RuntimeError:
                # fewer reachable through the graph than asked: exact over them all
                return self._exact(np.flatnonzero(mask), query, k)
            labels, distances = labels[0], distances[0]
            if walk_filter:
                keep = in_graph[labels]
                labels, distances = labels[keep][:wanted], distances[keep][:wanted]
                if len(labels) < wanted:
                    # the filter follows the embedding and the query is far from it
                    return self._exact(np.flatnonzero(mask), query, k)
            found = [(int(s), 1.0 - float(d)) for s, d in zip(labels, distances, strict=True)]
        found.extend(self._exact(overlay, query, k))
        return found

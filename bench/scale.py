"""Scale benchmark of the embedded store: build 1M SYNTHETIC passages, then serve queries.

    .venv/bin/python bench/scale.py                      # 1,000,000 passages, /tmp/jixiao-scale
    .venv/bin/python bench/scale.py --passages 50000     # a quick run
    .venv/bin/python bench/scale.py --reuse              # query an existing store again

Build: synthetic filings from ``bench/synthetic_corpus.py`` (recombined seed rows,
clearly labelled, never shipped) go into a fresh ``EmbeddedStore`` through
``store.write_filing`` directly. Vectors have structure, as HNSW needs (research.md:
its recall collapses on random-normal vectors): the ~550 real corpus passages are
encoded with the real e5 model, and every synthetic passage takes the vector of the
real passage it was derived from plus Gaussian noise of norm ``--noise``,
renormalised. The build reports its time (with the store's write path broken down,
HNSW insertion on its own) and the store's size on disk. The float32 vectors are also
written beside the store (``<store>.bench/``) for the exact brute-force recall check.

Serve: the store is closed and reopened in a fresh process (so memory is the serving
process's alone) with the real e5 ``Embedder``; after a warm-up, a fixed seeded list
of queries (1–3 words from real indicator and project names, some with province, year
or kind filters) is run through ``Searcher.search`` in keyword, semantic and hybrid
mode, timed with ``time.perf_counter`` (semantic and hybrid include embedding the
query), next to the query embedding alone and ``store.knn`` alone, then per filter
kind. torch uses every core by default; the embedding and hybrid are timed again with
one torch thread at the end (on a shared 2-core machine two threads are far slower),
and hybrid once more with the query embedded only after the keyword search, as
``Searcher`` did before it overlapped the two (emulated: the searcher's embedder
waits for the store's keyword call to return), to show what the overlap gains.
Then recall@10 of
``store.knn`` against exact float32 brute force over the same filtered candidates.
Other processes' CPU use during the build and the timed queries is measured from
/proc/stat and printed: this machine may be shared.

Processes: the parent only starts a *prepare* child (build unless ``--reuse``, write
the query list) and a *serve* child, and prints the report; it stays small because
Linux carries a parent's RSS at fork into the child's ``ru_maxrss``.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import threading
import time
import types
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from indexer.embeddings import Embedder
from indexer.passages import embedding_text, embedding_views
from indexer.search import SEMANTIC_POOL, Searcher, make_request, parse_filters
from indexer.store import vectorindex
from indexer.store.base import FilingRecord, Filters
from indexer.store.embedded import EmbeddedStore
from indexer.store.records import FILE_NAME, Records
from indexer.store.textindex import TextIndex
from indexer.store.vectorindex import VectorIndex
from indexer.tokenize import query_groups

# the synthetic corpus module lives beside this file; it is imported only by the
# building process, so the serving process loads no parser (its memory is measured)
BENCH = Path(__file__).resolve().parent
if TYPE_CHECKING:
    from synthetic_corpus import RealCorpus


def _synthetic() -> types.ModuleType:
    """``bench/synthetic_corpus.py``, imported on first use."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    import synthetic_corpus

    return synthetic_corpus


DEFAULT_STORE = Path("/tmp/jixiao-scale")
DIMS = 384
TARGET_HYBRID_P95_MS = 100.0
TARGET_KEYWORD_P95_MS = 30.0
TARGET_MEMORY_GIB = 4.0
WARMUP_QUERIES = 20
KNN_POOL = SEMANTIC_POOL + 1  # what Searcher first asks store.knn for (one more shows ties)


# -- measuring helpers --------------------------------------------------------------


def rss_kib() -> dict[str, int]:
    """VmRSS, RssAnon and RssFile of this process in KiB (from /proc/self/status)."""
    out: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def peak_rss_kib() -> int:
    """Peak resident set of this process (ru_maxrss is KiB on Linux)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) clock ticks of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def own_cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (user + system)."""
    mine = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


class OtherLoad:
    """How many cores other processes kept busy between ``start()`` and ``cores()``."""

    def __init__(self) -> None:
        self.start()

    def start(self) -> None:
        """Begin a measuring window now."""
        self._busy, self._total = cpu_jiffies()
        self._own = own_cpu_seconds()
        self._wall = time.monotonic()

    def cores(self) -> float:
        """Cores other processes used on average since ``start()``."""
        busy, _total = cpu_jiffies()
        ticks = os.sysconf("SC_CLK_TCK")
        wall = time.monotonic() - self._wall
        other = (busy - self._busy) / ticks - (own_cpu_seconds() - self._own)
        return max(0.0, other / wall) if wall > 0 else 0.0


def wait_for_idle(limit_seconds: float, window: float = 5.0, busy_cores: float = 0.15) -> float:
    """Wait (at most ``limit_seconds``) until other processes use < ``busy_cores`` cores."""
    deadline = time.monotonic() + limit_seconds
    while True:
        load = OtherLoad()
        time.sleep(window)
        used = load.cores()
        if used < busy_cores or time.monotonic() >= deadline:
            return used
        print(f"  machine busy ({used:.2f} cores used by others); waiting", file=sys.stderr)


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (linear interpolation, as numpy's default)."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def dir_size(path: Path) -> int:
    """Bytes of the files under ``path`` (apparent size)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class Timings:
    """Exclusive wall time per labelled method, by wrapping methods of the store's classes.

    Only this process is affected (the bench's own instrumentation; the store's files
    are unchanged). A wrapped call's time excludes the wrapped calls inside it.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self._stack: list[float] = []
        self.folds: list[tuple[int, int, float]] = []  # (graph size before, added, seconds)

    def wrap(self, owner: type, name: str, label: str) -> None:
        """Replace ``owner.name`` by a wrapper adding its exclusive time to ``label``."""
        original = getattr(owner, name)
        timings = self

        @functools.wraps(original)
        def wrapper(*args: object, **kwargs: object) -> object:
            timings._stack.append(0.0)
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                inner = timings._stack.pop()
                timings.seconds[label] += elapsed - inner
                timings.calls[label] += 1
                if timings._stack:
                    timings._stack[-1] += elapsed

        setattr(owner, name, wrapper)

    def wrap_fold(self) -> None:
        """Time HNSW insertion separately, with the graph size at each fold."""
        original = VectorIndex.fold
        timings = self

        @functools.wraps(original)
        def fold(index: VectorIndex) -> None:
            added = len(index.overlay)
            before = sum(g.get_current_count() for g in index.graphs.values())
            timings._stack.append(0.0)
            start = time.perf_counter()
            try:
                original(index)
            finally:
                elapsed = time.perf_counter() - start
                timings._stack.pop()
                timings.seconds["HNSW insertion (fold)"] += elapsed
                timings.calls["HNSW insertion (fold)"] += 1
                if timings._stack:
                    timings._stack[-1] += elapsed
                if added:
                    timings.folds.append((before, added, elapsed))

        VectorIndex.fold = fold  # type: ignore[method-assign]


def instrument() -> Timings:
    """Wrap the store's write path so the build can say where its time goes."""
    timings = Timings()
    timings.wrap(EmbeddedStore, "write_filing", "store bookkeeping (rest)")
    timings.wrap(Records, "write", "SQLite write (JSON + insert + commit)")
    timings.wrap(TextIndex, "replace", "tantivy staging (documents)")
    timings.wrap(TextIndex, "commit", "tantivy commit")
    timings.wrap(EmbeddedStore, "_refresh_vectors", "vector follow-up (SQL + loop)")
    timings.wrap(Records, "passage_rows", "re-read passages from SQLite for vectors")
    timings.wrap(VectorIndex, "apply", "vector slots (apply)")
    timings.wrap(VectorIndex, "save", "vector index save (files + fsync)")
    timings.wrap_fold()
    return timings


# -- building -----------------------------------------------------------------------


def bench_dir(store: Path) -> Path:
    """Where the bench keeps its own files beside the store (vectors, build stats)."""
    return store.with_name(store.name + ".bench")


def noised(
    base: np.ndarray, origins: list[int], rng: np.random.Generator, noise: float
) -> np.ndarray:
    """``base[origins]`` plus Gaussian noise of norm ``noise`` each, renormalised (float32)."""
    vectors = base[origins].astype(np.float32)
    jitter = rng.standard_normal(vectors.shape, dtype=np.float32)
    jitter *= noise / np.linalg.norm(jitter, axis=1, keepdims=True)
    vectors += jitter
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def memoise_tokens() -> None:
    """Cache ``index_tokens`` by text in this process: same tokens, jieba run once per text.

    Synthetic passages repeat real texts, so this only shortens corpus generation;
    passages still come from ``passages_for`` with the real pipeline's tokens.
    """
    import indexer.passages as passages_module

    original = passages_module.index_tokens
    cached = functools.lru_cache(maxsize=200_000)(lambda text: tuple(original(text)))
    passages_module.index_tokens = lambda text: list(cached(text))


def prepare_store_dir(store: Path) -> None:
    """Remove an earlier benchmark store (only if it looks like one) so the build is fresh."""
    if store.exists():
        if not (store / FILE_NAME).exists() and any(store.iterdir()):
            raise SystemExit(f"{store} exists and is not a jixiao store; choose another --store")
        shutil.rmtree(store)
    shutil.rmtree(bench_dir(store), ignore_errors=True)


def build(args: argparse.Namespace, real: RealCorpus, embedder: Embedder) -> dict:
    """Index ``args.passages`` synthetic passages into a fresh store; the build stats."""
    store_dir: Path = args.store
    prepare_store_dir(store_dir)
    extra = bench_dir(store_dir)
    extra.mkdir(parents=True)
    started = time.perf_counter()
    base = embedder.encode_passages([embedding_text(p) for p in real.passages])
    view_texts = [embedding_views(p) for p in real.passages]
    flat = embedder.encode_passages([t for texts in view_texts for t in texts])
    base_views, cursor = [], 0
    for texts in view_texts:
        base_views.append(flat[cursor : cursor + len(texts)])
        cursor += len(texts)
    encode_seconds = time.perf_counter() - started

    memoise_tokens()
    timings = instrument()
    generator = _synthetic().Generator(args.seed, real=real, passages_per_filing=args.per_filing)
    rng = np.random.default_rng(args.seed)
    all_vectors = np.lib.format.open_memmap(
        extra / "vectors.f32.npy", mode="w+", dtype=np.float32, shape=(args.passages, DIMS)
    )
    store = EmbeddedStore(store_dir, dims=DIMS)
    done = filings = 0
    generate_seconds = 0.0
    first_id = last_id = ""
    next_report = args.report_every
    other = OtherLoad()
    build_start = time.perf_counter()
    while done < args.passages:
        tick = time.perf_counter()
        synthetic = generator.filing(filings, min(args.per_filing, args.passages - done))
        vectors = noised(base, synthetic.origins, rng, args.noise)
        # each synthetic passage's views: its real passage's, noised the same way
        views = [
            noised(base_views[o], list(range(len(base_views[o]))), rng, args.noise)
            for o in synthetic.origins
        ]
        all_vectors[done : done + len(vectors)] = vectors
        generate_seconds += time.perf_counter() - tick
        content = json.dumps(synthetic.filing, ensure_ascii=False, sort_keys=True)
        record = FilingRecord(
            synthetic.doc_id,
            synthetic.filing["source"],
            hashlib.sha1(content.encode("utf-8")).hexdigest(),
            synthetic.filing,
        )
        store.write_filing(record, synthetic.passages, vectors, views)
        first_id = first_id or synthetic.passages[0]["id"]
        last_id = synthetic.passages[-1]["id"]
        done += len(synthetic.passages)
        filings += 1
        if done >= next_report:
            elapsed = time.perf_counter() - build_start
            fold = timings.seconds["HNSW insertion (fold)"]
            print(
                f"  {done:>9,} passages  {elapsed:7.1f} s  {done / elapsed:6.0f}/s  "
                f"HNSW {fold:6.1f} s  RSS {rss_kib()['VmRSS'] / 2**20:.2f} GiB",
                file=sys.stderr,
                flush=True,
            )
            next_report += args.report_every
    close_start = time.perf_counter()
    store.close()
    close_seconds = time.perf_counter() - close_start
    build_seconds = time.perf_counter() - build_start
    all_vectors.flush()
    del all_vectors

    sizes = {
        "SQLite": sum(dir_size(p) for p in store_dir.glob(FILE_NAME + "*")),
        "tantivy (text/)": dir_size(store_dir / "text"),
        "vectors/ (HNSW per kind + int16 + slots)": dir_size(store_dir / "vectors"),
    }
    vector_files = {
        path.name.split("-")[0]: path.stat().st_size for path in (store_dir / "vectors").iterdir()
    }
    stats = {
        "passages": done,
        "filings": filings,
        "seed": args.seed,
        "noise": args.noise,
        "first_id": first_id,
        "last_id": last_id,
        "build_seconds": build_seconds,
        "generate_seconds": generate_seconds,
        "close_seconds": close_seconds,
        "encode_real_seconds": encode_seconds,
        "real_passages": len(real.passages),
        "parts": dict(timings.seconds),
        "calls": dict(timings.calls),
        "folds": timings.folds,
        "sizes": sizes,
        "vector_files": vector_files,
        "total_size": dir_size(store_dir),
        "peak_rss_kib": peak_rss_kib(),
        "other_cores": other.cores(),
        "date": str(date.today()),
    }
    (extra / "build.json").write_text(json.dumps(stats, indent=1), encoding="utf-8")
    return stats


# -- queries ------------------------------------------------------------------------


def make_queries(real: RealCorpus, count: int, seed: int) -> list[dict]:
    """A fixed list: 1–3 words of one real indicator or project name, some with filters."""
    rng = random.Random(f"queries:{seed}")
    sources = [row.get("name") or "" for row, _ in real.indicators + real.projects]
    word_lists = []
    for text in sources:
        words = [g[0] for g in query_groups(text)]
        words = [w for w in dict.fromkeys(words) if len(w) >= 2 and not w.isascii()]
        if words:
            word_lists.append(words)
    provinces = [r.province for r in _synthetic().filer_regions() if r.province]
    queries = []
    for _ in range(count):
        words = rng.choice(word_lists)
        size = min(len(words), rng.choice((1, 1, 2, 2, 2, 3)))
        picked = sorted(rng.sample(range(len(words)), size))
        text = " ".join(words[i] for i in picked)
        roll = rng.random()
        filters: list[tuple[str, str]] = []
        if roll < 0.15:
            filters = [("province", rng.choice(provinces))]
        elif roll < 0.27:
            filters = [("year", str(rng.randint(2019, 2026)))]
        elif roll < 0.35:
            filters = [("kind", rng.choice(("indicator", "project", "narrative")))]
        elif roll < 0.42:
            filters = [("province", rng.choice(provinces)), ("year", str(rng.randint(2019, 2026)))]
        queries.append({"q": text, "filters": filters})
    return queries


# -- serving (runs in a fresh process) ----------------------------------------------


def timed(run: Callable[[], object]) -> float:
    """Milliseconds ``run()`` takes."""
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) * 1000


def serve(store_dir: Path, extra: Path, recall_count: int) -> dict:
    """Open the store read-side, time the query kinds, measure memory and recall."""
    out: dict = {"rss_start": rss_kib()}
    start = time.perf_counter()
    store = EmbeddedStore(store_dir, create=False, dims=DIMS)
    out["open_seconds"] = time.perf_counter() - start
    out["rss_after_open"] = rss_kib()
    embedder = Embedder()
    start = time.perf_counter()
    embedder.encode_query("预热")
    out["model_load_seconds"] = time.perf_counter() - start
    out["rss_after_model"] = rss_kib()
    searcher = Searcher(store, embedder)
    queries = json.loads((extra / "queries.json").read_text(encoding="utf-8"))
    requests = {
        mode: [
            make_request(q["q"], mode, 10, filters=parse_filters([tuple(f) for f in q["filters"]]))
            for q in queries
        ]
        for mode in ("keyword", "semantic", "hybrid")
    }
    for i in range(min(WARMUP_QUERIES, len(queries))):
        for mode in requests:
            searcher.search(requests[mode][i])

    other = OtherLoad()
    times: dict[str, list[float]] = {}
    times["embed"] = [timed(lambda q=q: embedder.encode_query(q["q"])) for q in queries]
    vectors = [np.asarray(embedder.encode_query(q["q"]), np.float32) for q in queries]
    filters = [r.filters for r in requests["keyword"]]
    times["knn"] = [
        timed(lambda v=v, f=f: store.knn(v, f, KNN_POOL))
        for v, f in zip(vectors, filters, strict=True)
    ]
    totals: dict[str, list[int]] = {}
    for mode, batch in requests.items():
        results = []
        times[mode] = []
        for request in batch:
            start = time.perf_counter()
            result = searcher.search(request)
            times[mode].append((time.perf_counter() - start) * 1000)
            results.append(result)
        totals[mode] = [r["total"] for r in results]
    out["other_cores"] = other.cores()
    out["times_ms"] = times
    out["totals"] = totals
    # how many filtered kNN searches were answered exactly (few candidates) vs by HNSW
    counts = [int(np.count_nonzero(store.vectors.candidates(f.terms))) for f in filters]
    out["knn_exact_path"] = sum(1 for c in counts if c <= vectorindex.EXACT_LIMIT)
    out["peak_rss_kib"] = peak_rss_kib()
    out["rss_after_queries"] = rss_kib()
    out["recall"] = recall(store, vectors, filters, store_dir, recall_count)
    # torch uses every core by default; one thread is what a busy server would give it
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    times["embed_1_thread"] = [timed(lambda q=q: embedder.encode_query(q["q"])) for q in queries]
    times["hybrid_1_thread"] = [timed(lambda r=r: searcher.search(r)) for r in requests["hybrid"]]
    times["hybrid_sequential_1_thread"] = sequential_hybrid(store, embedder, requests["hybrid"])
    torch.set_num_threads(threads)
    times["hybrid_sequential"] = sequential_hybrid(store, embedder, requests["hybrid"])
    out["torch_threads"] = threads
    out["passages"] = store.count()
    store.close()
    return out


class _KeywordFirst:
    """A store whose ``keyword`` calls set an event, and an embedder that waits for it."""

    def __init__(self, store: EmbeddedStore, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder
        self.keyword_done = threading.Event()

    def keyword(self, *args: object) -> object:
        try:
            return self.store.keyword(*args)
        finally:
            self.keyword_done.set()

    def encode_query(self, text: str) -> np.ndarray:
        self.keyword_done.wait(timeout=10)  # hybrid always runs the keyword search
        return self.embedder.encode_query(text)

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)


def sequential_hybrid(store: EmbeddedStore, embedder: Embedder, requests: list) -> list[float]:
    """Hybrid timings with the query embedded only after the keyword search returned,
    as ``Searcher`` did before it overlapped the two (emulated without editing it)."""
    out = []
    both = _KeywordFirst(store, embedder)
    searcher = Searcher(both, both)  # type: ignore[arg-type] - a store-like proxy
    for request in requests:
        both.keyword_done.clear()
        start = time.perf_counter()
        searcher.search(request)
        out.append((time.perf_counter() - start) * 1000)
    return out


def recall(
    store: EmbeddedStore,
    vectors: list[np.ndarray],
    filters: list[Filters],
    store_dir: Path,
    count: int,
) -> dict:
    """Mean recall@10 of ``store.knn`` against exact float32 brute force (evenly spread queries)."""
    stats = json.loads((bench_dir(store_dir) / "build.json").read_text(encoding="utf-8"))
    exact_vectors = np.load(bench_dir(store_dir) / "vectors.f32.npy", mmap_mode="r")
    # a fresh store numbers passages from rowid 1 in writing order: check both ends
    ids = store.records.ids_for_rowids([1, stats["passages"]])
    if ids.get(1) != stats["first_id"] or ids.get(stats["passages"]) != stats["last_id"]:
        raise SystemExit("store rowids do not follow the writing order; cannot check recall")
    index = store.vectors
    step = max(1, len(vectors) // max(count, 1))
    picked = list(range(0, len(vectors), step))[:count]
    scores = []
    per_query = []
    pool_scores = []
    gaps: list[float] = []
    for i in picked:
        answer = store.knn(vectors[i], filters[i], 10)
        found = [pid for pid, _ in answer]
        # what Searcher sees: the top 10 of its SEMANTIC_POOL request (a wider HNSW beam)
        pooled = [pid for pid, _ in store.knn(vectors[i], filters[i], KNN_POOL)][:10]
        slots = np.flatnonzero(index.candidates(filters[i].terms))
        rowids = index.rows[slots]
        rowids.sort()
        best_scores = np.empty(len(rowids), np.float32)
        for start in range(0, len(rowids), 65536):
            part = rowids[start : start + 65536]
            best_scores[start : start + len(part)] = exact_vectors[part - 1] @ vectors[i]
        k = min(10, len(rowids))
        if k == 0:
            continue
        top = np.argpartition(-best_scores, k - 1)[:k] if k < len(rowids) else np.arange(k)
        truth_ids = store.records.ids_for_rowids([int(r) for r in rowids[top]])
        truth = set(truth_ids.values())
        hit = len(truth & set(found)) / k
        pool_hit = len(truth & set(pooled)) / k
        # how much worse the 10th answer is than the true 10th (0: as good; ties are common)
        gaps.append(float(np.min(best_scores[top])) - (answer[-1][1] if answer else 0.0))
        scores.append(hit)
        pool_scores.append(pool_hit)
        per_query.append(
            {"query": i, "candidates": int(len(rowids)), "recall": hit, "recall_pool": pool_hit}
        )
    return {
        "queries": len(scores),
        "mean": float(np.mean(scores)) if scores else None,
        "mean_pool": float(np.mean(pool_scores)) if pool_scores else None,
        "filtered": [p for p in per_query if filters[p["query"]].terms],
        "min": float(min(scores)) if scores else None,
        "gap_mean": float(np.mean(gaps)) if gaps else None,
        "gap_max": float(max(gaps)) if gaps else None,
        "per_query": per_query,
    }


# -- reporting ----------------------------------------------------------------------


def machine_line() -> str:
    """Cores, CPU, RAM, Python and date, for the report."""
    cpu = "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"machine: {len(os.sched_getaffinity(0))} cores ({cpu}), {memory:.0f} GiB RAM, "
        f"{platform.machine()}, Python {platform.python_version()}, {date.today()}"
    )


def filter_class(query: dict) -> str:
    """ "none", "province", "year", "kind", "province+year", "kind=narrative" …"""
    names = [name for name, _ in query["filters"]]
    if names == ["kind"]:
        return f"kind={query['filters'][0][1]}"
    return "+".join(names) or "none"


def breakdown(served: dict, queries: list[dict]) -> list[str]:
    """p50 / p95 per filter class: where the slow queries are."""
    classes: dict[str, list[int]] = defaultdict(list)
    for i, query in enumerate(queries):
        classes[filter_class(query)].append(i)
    times = served["times_ms"]
    kinds = ("keyword", "knn", "hybrid", "hybrid_1_thread")
    lines = [
        "| filter | queries | keyword p50 / p95 | store.knn p50 / p95 | hybrid p50 / p95 | "
        "hybrid, 1 thread, p50 / p95 |",
        "|---|---|---|---|---|---|",
    ]
    for name, members in sorted(classes.items(), key=lambda kv: -len(kv[1])):
        cells = []
        for kind in kinds:
            values = [times[kind][i] for i in members]
            cells.append(f"{percentile(values, 50):.1f} / {percentile(values, 95):.1f}")
        lines.append(f"| {name} | {len(members)} | " + " | ".join(cells) + " |")
    return lines


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def report(stats: dict, served: dict, queries: list[dict]) -> str:
    """The Markdown report: build, query latencies, per-filter breakdown, memory, recall."""
    gib = 2**30
    lines = [machine_line()]
    filtered = sum(1 for q in queries if q["filters"])
    lines.append(
        f"corpus: {stats['passages']:,} SYNTHETIC passages in {stats['filings']:,} filings "
        f"(seed {stats['seed']}), vectors = e5 of the {stats['real_passages']} real passages "
        f"+ noise of norm {stats['noise']}; {len(queries)} queries ({filtered} filtered), "
        f"{WARMUP_QUERIES} warm-up"
    )
    lines += ["", "| build | value |", "|---|---|"]
    lines.append(
        f"| total build (write_filing ×{stats['filings']:,} + close) | "
        f"{stats['build_seconds']:.0f} s ({stats['passages'] / stats['build_seconds']:,.0f} "
        "passages/s) |"
    )
    lines.append(f"| of which synthetic corpus generation | {stats['generate_seconds']:.0f} s |")
    for name, seconds in sorted(stats["parts"].items(), key=lambda kv: -kv[1]):
        calls = stats["calls"].get(name, 0)
        lines.append(f"| of which {name} | {seconds:.1f} s ({calls:,} calls) |")
    lines.append(f"| close (final fold + save) | {stats['close_seconds']:.1f} s |")
    folds = stats["folds"]
    if folds:
        first, last = folds[0], folds[-1]
        lines.append(
            f"| HNSW insertion rate, first / last fold | {first[1] / first[2]:,.0f} / "
            f"{last[1] / last[2]:,.0f} vectors/s (graph {first[0]:,} → {last[0]:,}) |"
        )
    lines.append(f"| cores used by other processes meanwhile | {stats['other_cores']:.2f} |")
    lines.append(f"| build process peak RSS | {stats['peak_rss_kib'] * 1024 / gib:.2f} GiB |")
    lines.append(f"| size on disk | {stats['total_size'] / gib:.2f} GiB |")
    for name, size in stats["sizes"].items():
        lines.append(f"| of which {name} | {size / 2**20:,.0f} MiB |")
    times = served["times_ms"]
    rows = [
        (f"query embedding alone (e5, torch {served['torch_threads']} threads)", "embed", None),
        ("keyword + facets", "keyword", TARGET_KEYWORD_P95_MS),
        ("semantic (incl. query embedding)", "semantic", None),
        ("hybrid + facets (incl. query embedding)", "hybrid", TARGET_HYBRID_P95_MS),
        (f"store.knn alone (k={KNN_POOL}, vector given)", "knn", None),
        ("query embedding alone (e5, torch 1 thread, measured last)", "embed_1_thread", None),
        (
            "hybrid + facets (incl. embedding, torch 1 thread, measured last)",
            "hybrid_1_thread",
            TARGET_HYBRID_P95_MS,
        ),
        (
            "hybrid, query embedded after the keyword search (the order before 79be2ba)",
            "hybrid_sequential",
            TARGET_HYBRID_P95_MS,
        ),
        (
            "same, torch 1 thread",
            "hybrid_sequential_1_thread",
            TARGET_HYBRID_P95_MS,
        ),
    ]
    lines += [
        "",
        f"serving process: opened in {served['open_seconds']:.1f} s, model loaded in "
        f"{served['model_load_seconds']:.1f} s; {served['knn_exact_path']} of {len(queries)} "
        f"kNN searches had ≤ {vectorindex.EXACT_LIMIT} candidates (exact path); other "
        f"processes kept {served['other_cores']:.2f} cores busy during the timed queries",
        "",
        "| query kind | p50 ms | p95 ms | target (p95) | result |",
        "|---|---|---|---|---|",
    ]
    for name, key, target in rows:
        p50, p95 = percentile(times[key], 50), percentile(times[key], 95)
        goal = f"≤ {target:.0f} ms" if target else "–"
        result = verdict(p95 <= target) if target else "–"
        lines.append(f"| {name} | {p50:.1f} | {p95:.1f} | {goal} | {result} |")
    lines += ["", *breakdown(served, queries)]
    peak = served["peak_rss_kib"] * 1024 / gib
    now = served["rss_after_queries"]
    lines += [
        "",
        "| serving memory | GiB | target | result |",
        "|---|---|---|---|",
        f"| peak RSS (ru_maxrss) | {peak:.2f} | ≤ {TARGET_MEMORY_GIB:.0f} GiB | "
        f"{verdict(peak <= TARGET_MEMORY_GIB)} |",
        f"| peak RSS of the process's own memory (VmHWM) | {now['VmHWM'] / 2**20:.2f} | | |",
        f"| current RSS after the queries (VmRSS) | {now['VmRSS'] / 2**20:.2f} | | |",
        f"| of which anonymous / file-backed | {now['RssAnon'] / 2**20:.2f} / "
        f"{now['RssFile'] / 2**20:.2f} | | |",
        f"| after opening the store / after loading the model | "
        f"{served['rss_after_open']['VmRSS'] / 2**20:.2f} / "
        f"{served['rss_after_model']['VmRSS'] / 2**20:.2f} | | |",
    ]
    rec = served["recall"]
    filtered_recall = [p["recall"] for p in rec["filtered"]]
    unfiltered = [p for p in rec["per_query"] if p not in rec["filtered"]]
    lines += [
        "",
        f"recall@10 of store.knn vs exact float32 brute force over {rec['queries']} queries: "
        f"k=10 {rec['mean']:.3f} mean, {rec['min']:.2f} min; top 10 of k={KNN_POOL} as "
        f"Searcher asks {rec['mean_pool']:.3f} mean (HNSW ef {vectorindex.HNSW_EF_SEARCH}, "
        f"exact search at ≤ {vectorindex.EXACT_LIMIT:,} candidates in a kind's graph, "
        f"over-fetch ×{vectorindex.OVERFETCH:g} and post-filter above). "
        f"Unfiltered {len(unfiltered)}: "
        f"{np.mean([p['recall'] for p in unfiltered]):.3f} / "
        f"{np.mean([p['recall_pool'] for p in unfiltered]):.3f}; filtered "
        f"{len(filtered_recall)}: {np.mean(filtered_recall):.3f} / "
        f"{np.mean([p['recall_pool'] for p in rec['filtered']]):.3f}; the 10th answer's "
        f"cosine is below the true 10th's by {rec['gap_mean']:.4f} on average, "
        f"{rec['gap_max']:.4f} at worst",
    ]
    keyword_totals = served["totals"]["keyword"]
    lines.append(
        f"keyword match-set size: median {int(np.median(keyword_totals)):,}, "
        f"max {max(keyword_totals):,}, zero for {sum(1 for t in keyword_totals if t == 0)} queries"
    )
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Parse options; run as the parent, the prepare child or the serve child."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=1_000_000)
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--recall-queries", type=int, default=50)
    parser.add_argument("--reuse", action="store_true", help="skip building if the store exists")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-filing", type=int, default=100, help="passages per filing")
    parser.add_argument("--noise", type=float, default=0.3, help="norm of the vectors' noise")
    parser.add_argument("--report-every", type=int, default=50_000, help="progress lines")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=900,
        help="seconds to wait for other processes to go quiet before serving (0: don't)",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.store = args.store.resolve()

    if args.serve:  # second child: the serving process, prints one JSON object
        print(json.dumps(serve(args.store, bench_dir(args.store), args.recall_queries)))
        return 0
    if args.prepare:  # first child: build (unless reusing) and write the queries
        prepare(args)
        return 0
    # The parent only starts the two children and reports, so it stays small: a child's
    # ru_maxrss starts from its parent's RSS at fork (Linux keeps the high-water mark
    # across exec), and the serving process's peak must be its own.
    common = ["--store", str(args.store), "--recall-queries", str(args.recall_queries)]
    passed = [
        *common,
        *("--passages", str(args.passages), "--queries", str(args.queries)),
        *("--seed", str(args.seed), "--per-filing", str(args.per_filing)),
        *("--noise", str(args.noise), "--report-every", str(args.report_every)),
        *(["--reuse"] if args.reuse else []),
    ]
    subprocess.run([sys.executable, __file__, "--prepare", *passed], check=True)
    if args.wait_idle > 0:
        wait_for_idle(args.wait_idle)
    print("serving in a fresh process …", file=sys.stderr, flush=True)
    child = subprocess.run(
        [sys.executable, __file__, "--serve", *common],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    served = json.loads(child.stdout.strip().splitlines()[-1])
    extra = bench_dir(args.store)
    (extra / "served.json").write_text(json.dumps(served), encoding="utf-8")
    stats = json.loads((extra / "build.json").read_text(encoding="utf-8"))
    queries = json.loads((extra / "queries.json").read_text(encoding="utf-8"))
    print(report(stats, served, queries))
    return 0


def prepare(args: argparse.Namespace) -> None:
    """Build the store unless ``--reuse`` finds one; write the query list beside it."""
    real = _synthetic().load_real_corpus()
    stats_path = bench_dir(args.store) / "build.json"
    if args.reuse and (args.store / FILE_NAME).exists() and stats_path.exists():
        stats = json.loads(stats_path.read_text(encoding="utf-8"))
        print(f"reusing {args.store} ({stats['passages']:,} passages)", file=sys.stderr)
    else:
        print(f"building {args.passages:,} passages into {args.store}", file=sys.stderr)
        build(args, real, Embedder())
    queries = make_queries(real, args.queries, args.seed)
    (bench_dir(args.store) / "queries.json").write_text(
        json.dumps(queries, ensure_ascii=False), encoding="utf-8"
    )


if __name__ == "__main__":
    raise SystemExit(main())

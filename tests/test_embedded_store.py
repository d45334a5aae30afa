"""The embedded store on disk: reopening, damage, the write lock, kill -9, concurrent readers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from indexer.store import embedded
from indexer.store.base import FilingRecord, Filters, StoreError
from indexer.store.embedded import SLEEP_BEFORE_TEXT_COMMIT, EmbeddedStore, preload_vectors

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
DIMS = 384
PER_FILING = 8
QUERY = np.ones(DIMS, np.float32) / np.sqrt(DIMS)


def synthetic_filing(i: int, version: int = 0) -> tuple[FilingRecord, list[dict], np.ndarray]:
    """Filing ``i``: PER_FILING passages, deterministic vectors, tokens naming the filing."""
    rng = np.random.default_rng(1000 * version + i)
    doc_id = f"f{i:04d}"
    passages = [
        {
            "id": f"{doc_id}-p{j}",
            "doc_id": doc_id,
            "kind": ["indicator", "project"][j % 2],
            "tokens": f"社区 矫正 {doc_id} v{version} w{j}",
            "text": f"passage {j}",
            "province": ["河北省", "宁夏回族自治区", "江苏省"][i % 3],
            "year": str(2020 + i % 5),
        }
        for j in range(PER_FILING)
    ]
    vectors = rng.standard_normal((PER_FILING, DIMS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    record = FilingRecord(doc_id, f"corpus/{doc_id}.txt", f"h{version}-{i}", {"n": i})
    return record, passages, vectors


def fill(store: EmbeddedStore, n: int, version: int = 0) -> None:
    for i in range(n):
        store.write_filing(*synthetic_filing(i, version))


def snapshot(store: EmbeddedStore) -> tuple:
    """Answers that must not change when the store is reopened or its indexes rebuilt."""
    keyword = store.keyword([["矫正"], ["w3", "w5"]], Filters(), 50, ["province", "year", "kind"])
    browse = store.keyword([], Filters({"year": ("2021", "2023")}), 5, ["province"])
    near = store.knn(QUERY, Filters(), 6)
    narrow = store.knn(QUERY, Filters({"doc_id": ("f0002",), "kind": ("project",)}), 3)
    return (
        keyword.total,
        # ids, not BM25 scores: a rebuilt index no longer counts deleted passages in its
        # statistics, so scores may shift while the answers stay the same
        sorted(pid for pid, _ in keyword.hits),
        keyword.facets,
        browse.total,
        browse.facets,
        [pid for pid, _ in near],
        [pid for pid, _ in narrow],
        store.count(),
    )


def assert_consistent(store: EmbeddedStore) -> None:
    """Every passage in SQLite is in tantivy and the vectors once, and nothing else is."""
    n = store.count()
    in_sqlite = {row[0] for row in store.records.db.execute("SELECT id FROM passages")}
    assert len(in_sqlite) == n
    browse = store.keyword([], Filters(), n + 10, [])
    text_ids = [pid for pid, _ in browse.hits]
    assert browse.total == n
    assert len(text_ids) == len(set(text_ids)) == n
    assert set(text_ids) == in_sqlite
    vector_ids = [pid for pid, _ in store.knn(QUERY, Filters(), n + 10)]
    assert len(vector_ids) == len(set(vector_ids)) == n
    assert set(vector_ids) == in_sqlite
    rowids = {row[0] for row in store.records.db.execute("SELECT rowid FROM passages")}
    vectors = store.vectors
    live = vectors.rows[: vectors.top]
    assert sorted(live[live >= 0].tolist()) == sorted(rowids)
    hashes = store.content_hashes()
    for doc_id in hashes:
        got = store.keyword([], Filters({"doc_id": (doc_id,)}), 100, []).total
        assert got == PER_FILING, doc_id


@pytest.fixture
def store_dir(tmp_path) -> Path:
    return tmp_path / "store"


def test_reopen_gives_the_same_answers(store_dir):
    store = EmbeddedStore(store_dir)
    fill(store, 12)
    before = snapshot(store)
    store.close()
    reopened = EmbeddedStore(store_dir, create=False)
    assert snapshot(reopened) == before
    assert_consistent(reopened)
    reopened.close()


def test_a_store_from_before_models_were_recorded_is_upgraded(store_dir):
    store = EmbeddedStore(store_dir)
    fill(store, 3)
    before = snapshot(store)
    store.close()
    db = sqlite3.connect(store_dir / "jixiao.sqlite")
    db.execute("DROP INDEX filings_where")  # the version-1 layout
    db.execute("ALTER TABLE filings DROP COLUMN model")
    db.execute("ALTER TABLE filings DROP COLUMN path")
    db.execute("ALTER TABLE passages DROP COLUMN views")
    db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    upgraded = EmbeddedStore(store_dir, create=False)
    assert upgraded.models() == {"": 3}  # nothing recorded: not guessed
    assert snapshot(upgraded) == before
    assert upgraded.view_vectors([p["id"] for p in synthetic_filing(0)[1]]) == {}
    record, passages, vectors = synthetic_filing(1, version=1)
    views = [vectors[:1]] + [vectors[:0]] * (len(passages) - 1)
    upgraded.write_filing(replace(record, model="e5@x"), passages, vectors, views)
    assert list(upgraded.view_vectors([p["id"] for p in passages])) == [passages[0]["id"]]
    assert upgraded.models() == {"": 2, "e5@x": 1}
    assert upgraded.get_filing("f0001").model == "e5@x"
    upgraded.close()
    db = sqlite3.connect(store_dir / "jixiao.sqlite")
    version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    db.close()
    assert version == ("4",)


def test_a_store_from_before_paths_were_recorded_is_upgraded(store_dir):
    store = EmbeddedStore(store_dir)
    fill(store, 2)
    store.close()
    db = sqlite3.connect(store_dir / "jixiao.sqlite")
    db.execute("DROP INDEX filings_where")  # the version-2 layout
    db.execute("ALTER TABLE filings DROP COLUMN path")
    db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    upgraded = EmbeddedStore(store_dir, create=False)
    sources = {doc_id: upgraded.get_filing(doc_id).source for doc_id in upgraded.content_hashes()}
    assert upgraded.locations() == sources  # only the sources are known
    record, passages, vectors = synthetic_filing(1, version=1)
    moved = replace(record, filing={**record.filing, "path": "/srv/filings/f0001.txt"})
    upgraded.write_filing(moved, passages, vectors)
    assert upgraded.locations()["f0001"] == "/srv/filings/f0001.txt"
    upgraded.close()


def test_missing_directory(tmp_path):
    with pytest.raises(StoreError, match="no index at .*nothing-here: run jixiao index first"):
        EmbeddedStore(tmp_path / "nothing-here", create=False)
    assert not (tmp_path / "nothing-here").exists()


def replace_sqlite(store_dir: Path, data: bytes) -> None:
    """A store of two filings whose SQLite file (and its WAL) is then replaced by ``data``."""
    store = EmbeddedStore(store_dir)
    fill(store, 2)
    store.close()
    for name in os.listdir(store_dir):
        if name.startswith("jixiao.sqlite"):
            (store_dir / name).unlink()
    (store_dir / "jixiao.sqlite").write_bytes(data)


@pytest.mark.parametrize("create", [False, True])
def test_an_emptied_sqlite_file_is_a_damaged_store_not_a_new_one(store_dir, create):
    replace_sqlite(store_dir, b"")  # truncated to 0 bytes
    with pytest.raises(StoreError, match="damaged or not a jixiao store"):
        EmbeddedStore(store_dir, create=create)
    assert (store_dir / "text").exists() and (store_dir / "vectors").exists()  # not wiped


def test_corrupt_sqlite_is_a_clear_store_error(store_dir):
    replace_sqlite(store_dir, b"this is not a database at all" * 200)
    with pytest.raises(StoreError) as caught:
        EmbeddedStore(store_dir, create=False)
    message = str(caught.value)
    assert "damaged or not a jixiao store" in message
    assert "jixiao.sqlite" in message
    assert "Traceback" not in message


def _damage_text(store_dir: Path) -> None:
    shutil.rmtree(store_dir / "text")


def _damage_vectors(store_dir: Path) -> None:
    shutil.rmtree(store_dir / "vectors")


def _garble_text(store_dir: Path) -> None:
    (store_dir / "text" / "meta.json").write_text("{not json", encoding="utf-8")


def _lose_text_meta(store_dir: Path) -> None:
    (store_dir / "text" / "meta.json").unlink()


def _garble_vectors(store_dir: Path) -> None:
    state = json.loads((store_dir / "vectors" / "state.json").read_text())
    (store_dir / "vectors" / state["files"]["slots"]).write_bytes(b"garbage")


def _text_state_ahead(store_dir: Path) -> None:
    path = store_dir / "text" / "jixiao-state.json"
    state = json.loads(path.read_text())
    path.write_text(json.dumps(dict(state, generation=state["generation"] + 100)))


@pytest.mark.parametrize(
    "damage",
    [
        _damage_text,
        _damage_vectors,
        _garble_text,
        _lose_text_meta,
        _garble_vectors,
        _text_state_ahead,
    ],
)
def test_derived_index_is_rebuilt_from_the_records(store_dir, damage, capfd):
    store = EmbeddedStore(store_dir)
    fill(store, 10)
    store.delete_filing("f0004")
    before = snapshot(store)
    store.close()
    capfd.readouterr()
    damage(store_dir)
    reopened = EmbeddedStore(store_dir, create=False)
    err = capfd.readouterr().err
    assert err.count("\n") >= 1 and "rebuilding" in err
    assert snapshot(reopened) == before
    assert_consistent(reopened)
    reopened.close()
    again = EmbeddedStore(store_dir, create=False)  # repaired for good: silent now
    assert capfd.readouterr().err == ""
    assert snapshot(again) == before
    again.close()


def test_second_writer_gets_a_clear_error(store_dir):
    first = EmbeddedStore(store_dir)
    first.write_filing(*synthetic_filing(0))
    second = EmbeddedStore(store_dir)  # opening to read is fine
    assert second.count() == PER_FILING
    with pytest.raises(StoreError, match=f"another jixiao index run is writing to {store_dir}"):
        second.write_filing(*synthetic_filing(1))
    with pytest.raises(StoreError, match="another jixiao index run"):
        second.delete_filing("f0000")
    first.close()
    second.write_filing(*synthetic_filing(1))  # the lock is free again
    assert second.count() == 2 * PER_FILING
    assert_consistent(second)
    second.close()


WRITER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_embedded_store import synthetic_filing
from indexer.store.embedded import EmbeddedStore

store = EmbeddedStore(Path({path!r}))
store.commit_every_filings = {commit_every}
store.checkpoint_passages = {checkpoint}
for i in range({count}):
    store.write_filing(*synthetic_filing(i, {version}))
    print("wrote", i, flush=True)
    time.sleep({pause})
store.close()
print("done", flush=True)
"""


def start_writer(
    path: Path,
    count: int,
    *,
    version: int = 0,
    pause: float = 0.02,
    commit_every: int = 1,
    checkpoint: int = 24,
    env: dict | None = None,
) -> subprocess.Popen:
    script = WRITER.format(
        tests=str(TESTS),
        path=str(path),
        count=count,
        version=version,
        pause=pause,
        commit_every=commit_every,
        checkpoint=checkpoint,
    )
    return subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def wait_for_writes(writer: subprocess.Popen, at_least: int) -> int:
    """Read the writer's progress until it reports ``at_least`` filings written."""
    written = 0
    while written < at_least:
        line = writer.stdout.readline()
        if not line:
            raise AssertionError(f"writer ended early: {writer.stderr.read()}")
        if line.startswith("wrote"):
            written = int(line.split()[1]) + 1
    return written


@pytest.mark.parametrize(
    ("case", "kill_after", "env", "commit_every"),
    [
        ("between writes", 0.013, {}, 1),
        ("batched commits", 0.031, {}, 4),
        ("between sqlite and tantivy commit", 0.15, {SLEEP_BEFORE_TEXT_COMMIT: "0.5"}, 1),
    ],
)
def test_kill_9_during_an_index_run(store_dir, case, kill_after, env, commit_every):
    total = 40
    writer = start_writer(store_dir, total, env=env, commit_every=commit_every)
    try:
        written = wait_for_writes(writer, 3 + int(kill_after * 100) % 5)
        time.sleep(kill_after)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == -signal.SIGKILL

    db = sqlite3.connect(store_dir / "jixiao.sqlite")
    records_gen = int(db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])
    db.close()
    text_gen = json.loads((store_dir / "text" / "jixiao-state.json").read_text())["generation"]
    if env:
        # killed inside the window: SQLite has the filing, tantivy does not yet
        assert text_gen < records_gen

    store = EmbeddedStore(store_dir)
    assert store.count() % PER_FILING == 0
    assert store.count() >= written * PER_FILING
    assert store.keyword([["矫正"]], Filters(), 5, ["province"]).total == store.count()
    assert len(store.knn(QUERY, Filters({"province": ("河北省",)}), 5)) == 5
    assert_consistent(store)
    # the next run writes everything again (a new version), nothing lost or doubled
    fill(store, total, version=1)
    assert store.count() == total * PER_FILING
    assert store.keyword([["v1"]], Filters(), 1, []).total == total * PER_FILING
    assert store.keyword([["v0"]], Filters(), 1, []).total == 0
    assert_consistent(store)
    store.close()
    reopened = EmbeddedStore(store_dir, create=False)
    assert reopened.count() == total * PER_FILING
    assert_consistent(reopened)
    reopened.close()


def test_kill_9_repeatedly_then_finish(store_dir):
    """Several killed runs in a row, each resuming; the last one finishes."""
    total = 30
    for round_ in range(3):
        writer = start_writer(store_dir, total, version=round_, commit_every=3, checkpoint=16)
        wait_for_writes(writer, 3)
        time.sleep(0.01 * round_)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    writer = start_writer(store_dir, total, version=9, pause=0.0)
    out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err
    store = EmbeddedStore(store_dir, create=False)
    assert store.count() == total * PER_FILING
    assert store.keyword([["v9"]], Filters(), 1, []).total == total * PER_FILING
    assert_consistent(store)
    store.close()


def test_reader_keeps_answering_while_a_writer_writes(store_dir):
    seed = EmbeddedStore(store_dir)
    seed.write_filing(*synthetic_filing(0))
    seed.close()
    reader = EmbeddedStore(store_dir, create=False)
    writer = start_writer(store_dir, 60, pause=0.01, commit_every=2, checkpoint=40)
    counts, totals, answered = [], [], 0
    try:
        while writer.poll() is None or answered < 5:
            counts.append(reader.count())
            totals.append(reader.keyword([["矫正"]], Filters(), 3, ["province"]).total)
            hits = reader.knn(QUERY, Filters({"year": ("2020", "2022")}), 4)
            assert len(hits) == 4
            assert len(reader.get_passages([pid for pid, _ in hits])) == 4
            answered += 1
            time.sleep(0.005)
        assert writer.wait(timeout=60) == 0, writer.stderr.read()
    finally:
        if writer.poll() is None:
            writer.kill()
    assert answered >= 5
    assert counts == sorted(counts)
    assert totals == sorted(totals)
    assert counts[-1] == 60 * PER_FILING
    assert reader.count() == 60 * PER_FILING
    assert len({pid for pid, _ in reader.knn(QUERY, Filters(), 1000)}) == 60 * PER_FILING
    time.sleep(0.5)  # tantivy publishes commits to other processes shortly after
    assert reader.keyword([["矫正"]], Filters(), 1, []).total == 60 * PER_FILING
    reader.close()


def exact_reference(store: EmbeddedStore, query: np.ndarray, filters: Filters, k: int) -> list:
    """Brute force over what SQLite holds."""
    scored = []
    for pid, fields, blob in store.records.db.execute("SELECT id, fields, vector FROM passages"):
        if filters.matches(json.loads(fields)):
            scored.append((float(np.frombuffer(blob, np.float32) @ query), pid))
    return [pid for _, pid in sorted(scored, reverse=True)[:k]]


def test_graph_path_agrees_with_exact_search(store_dir, monkeypatch):
    """Force HNSW (tiny exact limit, tiny batches): graphs + overlay, deletes, slot reuse."""
    from indexer.store import vectorindex

    monkeypatch.setattr(vectorindex, "EXACT_LIMIT", 4)
    monkeypatch.setattr(vectorindex, "FOLD_AT", 20)
    store = EmbeddedStore(store_dir)
    fill(store, 20)  # folds into the graph every few filings
    store.delete_filing("f0003")  # marks labels deleted in the graph
    store.write_filing(*synthetic_filing(5, version=2))  # reuses freed slots
    store.write_filing(*synthetic_filing(25))  # stays in the overlay until folded
    assert store.vectors.graphs and store.vectors.overlay
    assert store.vectors.vec16.dtype == np.int16  # growing keeps the storage type
    rng = np.random.default_rng(3)
    queries = [QUERY, *(synthetic_filing(i, 0)[2][1] for i in (7, 25))]
    queries += [rng.standard_normal(DIMS).astype(np.float32) for _ in range(3)]
    filter_sets = [
        Filters(),
        Filters({"province": ("河北省",)}),
        Filters({"kind": ("project",), "year": ("2021", "2024")}),
        Filters({"doc_id": ("f0005",)}),
        # a kind filter alone searches that kind's graph without a filter
        Filters({"kind": ("indicator",)}),
        Filters({"kind": ("project", "indicator")}),
    ]

    def check(s: EmbeddedStore) -> None:
        for query in queries:
            unit = query / np.linalg.norm(query)
            for filters in filter_sets:
                got = [pid for pid, _ in s.knn(query, filters, 5)]
                assert got == exact_reference(s, unit, filters, 5), filters

    check(store)
    assert store.knn(synthetic_filing(7)[2][1], Filters(), 1)[0][0] == "f0007-p1"
    store.close()
    reopened = EmbeddedStore(store_dir, create=False)
    assert not reopened.vectors.overlay  # saved folded
    check(reopened)
    assert_consistent(reopened)
    reopened.close()


def test_fixed_point_vectors_keep_cosines():
    """Exact search reads int16 vectors: cosines stay within 1e-4 of float32."""
    from indexer.store.vectorindex import from_fixed16, to_fixed16

    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((200, DIMS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[0] = 0.0
    vectors[0, 3] = 1.0  # a component at the end of the range
    stored = to_fixed16(vectors)
    assert stored.dtype == np.int16
    query = vectors[7]
    assert np.abs(from_fixed16(stored) @ query - vectors @ query).max() < 1e-4


def test_facet_counts_stay_exact_across_segments(store_dir, monkeypatch):
    """Many values in every index segment, few listed: the listed counts are exact."""
    from collections import Counter

    from indexer import schema

    monkeypatch.setattr(schema, "FACET_SIZE", 5)
    store = EmbeddedStore(store_dir)
    store.commit_every_filings = 20  # several segments, each with ~45 counties
    expected: Counter[str] = Counter()
    for i in range(60):
        record, passages, vectors = synthetic_filing(i)
        for j, passage in enumerate(passages):
            passage["county"] = f"县{(i * 7 + j * (i % 5 + 1)) % 45:02d}"
            expected[passage["county"]] += 1
        store.write_filing(record, passages, vectors)
    store.close()
    reopened = EmbeddedStore(store_dir, create=False)
    assert reopened.text.index.searcher().num_segments > 1
    got = reopened.keyword([["矫正"]], Filters(), 1, ["county"]).facets["county"]
    assert got == sorted(expected.items(), key=lambda p: (-p[1], p[0]))[:5]
    reopened.close()


# -- a vector index loaded before the store is opened (jixiao serve's master) -------


def test_a_preloaded_vector_index_is_taken_once_by_the_next_open(store_dir):
    with EmbeddedStore(store_dir) as store:
        fill(store, 6)
        expected = snapshot(store)
    assert preload_vectors(store_dir) == 6 * PER_FILING
    preloaded = embedded._preloaded[store_dir.resolve()]
    with EmbeddedStore(store_dir, create=False) as store:
        assert store.vectors is preloaded
        assert snapshot(store) == expected
        assert_consistent(store)
    with EmbeddedStore(store_dir, create=False) as store:
        assert store.vectors is not preloaded  # a second store loads its own
        assert snapshot(store) == expected


def test_a_preloaded_vector_index_older_than_the_disk_is_not_used(store_dir):
    with EmbeddedStore(store_dir) as store:
        fill(store, 3)
    preload_vectors(store_dir)
    # a server master loaded the index, then an index run wrote a filing and saved
    stale = embedded._preloaded.pop(store_dir.resolve())
    with EmbeddedStore(store_dir) as store:
        store.write_filing(*synthetic_filing(7))
    embedded._preloaded[store_dir.resolve()] = stale
    with EmbeddedStore(store_dir, create=False) as store:
        assert store.vectors is not stale
        assert "f0007-p0" in [pid for pid, _ in store.knn(QUERY, Filters(), 100)]
        assert_consistent(store)


def test_a_server_reload_shares_the_index_an_index_run_saved(store_dir):
    from webapp.serve import share_vectors

    with EmbeddedStore(store_dir) as store:
        fill(store, 3)
    assert share_vectors(store_dir) == 3 * PER_FILING
    stale = embedded._preloaded[store_dir.resolve()]
    with EmbeddedStore(store_dir) as store:  # an index run while serving
        store.write_filing(*synthetic_filing(7))
    # gunicorn's on_reload (kill -HUP): the next workers share the new index
    assert share_vectors(store_dir) == 3 * PER_FILING + PER_FILING
    fresh = embedded._preloaded[store_dir.resolve()]
    assert fresh is not stale
    with EmbeddedStore(store_dir, create=False) as store:
        assert store.vectors is fresh
        assert "f0007-p0" in [pid for pid, _ in store.knn(QUERY, Filters(), 100)]


def test_nothing_to_preload(store_dir, tmp_path):
    assert preload_vectors(tmp_path / "no-such-store") is None
    with EmbeddedStore(store_dir) as store:
        fill(store, 2)
    vectors = store_dir / "vectors"
    (vectors / "state.json").write_text("{not json", encoding="utf-8")
    assert preload_vectors(store_dir) is None
    assert store_dir.resolve() not in embedded._preloaded


class UnreachableTwinGraph:
    """Stands in for an HNSW graph that cannot reach some nodes (exact duplicates)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.queried = 0

    def get_current_count(self) -> int:
        return self.count

    def set_ef(self, ef: int) -> None:
        pass

    def knn_query(self, query, k, num_threads):  # noqa: ANN001, ANN201 - hnswlib's signature
        self.queried += 1
        return np.zeros((1, 0), np.uint64), np.zeros((1, 0), np.float32)


def test_a_small_kind_is_searched_exactly_without_filters(store_dir, monkeypatch):
    """HNSW can leave one of two identical vectors unreachable (repeated indicator
    rows); a kind small enough for exact search to cost what its graph does is never
    left to the graph, so unfiltered results equal exact ones."""
    from indexer.store import vectorindex

    with EmbeddedStore(store_dir) as store:
        fill(store, 6)
        expected = [pid for pid, _ in store.knn(QUERY, Filters(), 20)]  # overlay: exact
    with EmbeddedStore(store_dir, create=False) as store:
        graphs = store.vectors.graphs
        assert graphs
        for code, graph in list(graphs.items()):
            graphs[code] = UnreachableTwinGraph(graph.get_current_count())
        assert [pid for pid, _ in store.knn(QUERY, Filters(), 20)] == expected
        assert not any(graph.queried for graph in graphs.values())
        # a kind above the limit does go to its graph
        monkeypatch.setattr(vectorindex, "EXACT_WHOLE_KIND", 1)
        store.knn(QUERY, Filters(), 20)
        assert all(graph.queried for graph in graphs.values())


def test_a_reader_s_stamp_follows_another_writer(store_dir):
    """Another process's writes change the stamp: when it commits the records, and again
    when it commits the text index that searches answer from."""
    with EmbeddedStore(store_dir) as first:
        fill(first, 2)
    reader = EmbeddedStore(store_dir, create=False)
    before = reader.stamp()
    writer = EmbeddedStore(store_dir)
    writer.write_filing(*synthetic_filing(5))  # the text index commits later (batched)
    between = reader.stamp()
    writer.close()
    after = reader.stamp()
    assert len({before, between, after}) == 3
    assert reader.stamp() == after
    assert reader.keyword([["f0005"]], Filters(), 10, []).total == PER_FILING
    reader.close()

"""index_files: passages of several filings encoded together, each vector on its own passage."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from indexer.embeddings import BATCH_SIZE, EmbeddingCache
from indexer.model_check import ModelMismatch
from indexer.passages import embedding_text, embedding_views, passages_for
from indexer.pipeline import ENCODE_BATCH, RebuildStopped, index_files
from indexer.reading import expand_paths
from indexer.search import Searcher
from indexer.store.base import Filters
from indexer.store.embedded import EmbeddedStore

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def text_vector(text: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha1(text.encode()).digest()[:4], "little")
    vector = np.random.default_rng(seed).standard_normal(
        384
    )  # the dims the mapping declares.astype(np.float32)
    return vector / np.linalg.norm(vector)


class CallCountingEmbedder:
    """Vectors derived from each text alone; remembers the size of every encode call."""

    name = "call-counting"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        self.calls.append(len(texts))
        return np.stack([text_vector(t) for t in texts])


def test_filings_are_encoded_together_and_vectors_land_on_their_passages(tmp_path: Path) -> None:
    files = []
    for path in sorted(CORPUS.glob("*.txt"))[:3]:
        files.append(Path(shutil.copy(path, tmp_path / path.name)))
    embedder = CallCountingEmbedder()
    store = EmbeddedStore(tmp_path / "index")
    summary = index_files(files, store, embedder, EmbeddingCache(tmp_path / "cache.sqlite"))
    assert summary.indexed == 3 and not summary.failed
    # The filings' texts (views included) are encoded together, in as few chunks as
    # the encoder takes, when their passages fit one batch.
    assert summary.passages <= ENCODE_BATCH
    assert len(embedder.calls) == -(-summary.encoded // (BATCH_SIZE * 4))
    passages = store.get_passages([pid for pid, _ in store.keyword([], Filters(), 10_000, []).hits])
    assert len(passages) == summary.passages
    views = {p["id"]: embedding_views(p) for p in passages}
    assert sum(embedder.calls) == summary.encoded <= len(views) + sum(map(len, views.values()))
    # each passage's views are stored with it, row for row, in order
    stored = store.view_vectors(list(views))
    assert set(stored) == {pid for pid, texts in views.items() if texts}
    for pid, rows in stored.items():
        expected = np.stack([text_vector(t) for t in views[pid]])
        assert np.allclose(rows, expected, atol=2e-3)
    for passage in passages[:: max(1, len(passages) // 25)]:
        nearest = store.knn(text_vector(embedding_text(passage)), Filters(), 50)
        best = max(score for _, score in nearest)
        assert passage["id"] in {pid for pid, score in nearest if score >= best - 1e-4}
    store.close()


def test_another_model_re_encodes_every_filing(tmp_path: Path) -> None:
    """Vectors of two models never mix in one store: a new model makes every filing new."""
    files = [Path(shutil.copy(p, tmp_path / p.name)) for p in sorted(CORPUS.glob("*.txt"))[:2]]
    store = EmbeddedStore(tmp_path / "index")
    first = CallCountingEmbedder()
    initial = index_files(files, store, first, None)
    assert initial.indexed == 2
    again = index_files(files, store, first, None)
    assert (again.indexed, again.unchanged, again.encoded) == (0, 2, 0)
    other = CallCountingEmbedder()
    other.name = "another-model"
    with pytest.raises(ModelMismatch, match="call-counting"):
        Searcher(store, other).check_model()  # refused before the re-index …
    redone = index_files(files, store, other, None)
    assert (redone.indexed, redone.unchanged) == (2, 0)
    assert redone.encoded == initial.encoded > 0  # every distinct text, encoded again
    assert store.models() == {"another-model": 2}  # … answered after it
    assert Searcher(store, other).check_model() is None
    store.close()


def folder_of(folder: Path, files: list[Path]) -> Path:
    """``folder``, made, holding copies of ``files``."""
    folder.mkdir(parents=True)
    for path in files:
        shutil.copy(path, folder / path.name)
    return folder


def test_a_file_is_one_filing_whatever_folder_the_run_starts_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = folder_of(tmp_path / "work" / "corpus", sorted(CORPUS.glob("*.txt"))[:2])
    store = EmbeddedStore(tmp_path / "index")
    embedder = CallCountingEmbedder()
    monkeypatch.chdir(tmp_path / "work")
    first = index_files(expand_paths([Path("corpus")]), store, embedder, None)
    ids = set(store.content_hashes())
    assert first.indexed == 2 and len(ids) == 2
    for folder, named in ((corpus, Path(".")), (tmp_path, Path("work/corpus"))):
        monkeypatch.chdir(folder)
        again = index_files(expand_paths([named]), store, embedder, None)
        assert (again.indexed, again.unchanged) == (0, 2), folder
        assert set(store.content_hashes()) == ids
    # a file named twice, through its folder and by itself, is read once
    monkeypatch.chdir(tmp_path / "work")
    one = sorted(corpus.glob("*.txt"))[0]
    twice = index_files(
        expand_paths([Path("corpus"), one, Path("./corpus")]), store, embedder, None
    )
    assert (twice.files, twice.unchanged) == (2, 2)
    store.close()


def test_files_deleted_from_an_indexed_folder_leave_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = sorted(CORPUS.glob("*.txt"))
    corpus = folder_of(tmp_path / "corpus", texts[:3])
    other = folder_of(tmp_path / "other", texts[3:4])
    store = EmbeddedStore(tmp_path / "index")
    embedder = CallCountingEmbedder()
    monkeypatch.chdir(tmp_path)
    index_files(expand_paths([corpus, other]), store, embedder, None, folders=[corpus, other])
    assert len(store.content_hashes()) == 4
    gone = corpus / texts[0].name
    gone.unlink()
    # named without its folder: nothing is removed
    kept = index_files(expand_paths([corpus / texts[1].name]), store, embedder, None)
    assert kept.removed == 0 and len(store.content_hashes()) == 4
    # the folder named again: its deleted file's filing goes, the other folder's stays
    synced = index_files(expand_paths([corpus]), store, embedder, None, folders=[corpus])
    assert (synced.unchanged, synced.removed) == (2, 1) and "1 removed" in synced.line()
    locations = store.locations().values()
    assert str(gone) not in locations and str(other / texts[3].name) in locations
    total = store.keyword([], Filters(), 10_000, []).total
    assert total == sum(len(passages_of(store, d)) for d in store.content_hashes())
    store.close()


def passages_of(store: EmbeddedStore, doc_id: str) -> list[dict]:
    record = store.get_filing(doc_id)
    assert record is not None
    return passages_for(record.filing, doc_id)


def test_a_filing_s_warnings_reach_the_index_summary(tmp_path: Path) -> None:
    from indexer.readers import ocr

    if not ocr.ocr_available():
        pytest.skip("tesseract with chi_sim not installed")
    from PIL import Image

    blank = tmp_path / "blank.pdf"
    Image.new("RGB", (600, 400), "white").save(blank)
    store = EmbeddedStore(tmp_path / "index")
    summary = index_files([blank], store, CallCountingEmbedder(), None)
    assert summary.warnings == [(str(blank), "OCR found no text on page 1")]
    store.close()


def test_a_symbolic_link_is_a_file_of_the_folder_it_is_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = sorted(CORPUS.glob("*.txt"))
    folder = folder_of(tmp_path / "folder", texts[:1])
    target = folder_of(tmp_path / "outside", texts[1:2]) / texts[1].name
    (folder / "linked.txt").symlink_to(target)
    monkeypatch.chdir(tmp_path)
    store = EmbeddedStore(tmp_path / "index")
    embedder = CallCountingEmbedder()
    first = index_files(expand_paths([folder]), store, embedder, None, folders=[folder])
    assert first.indexed == 2
    assert "folder/linked.txt" in {r.source for r in map(store.get_filing, store.content_hashes())}
    (folder / "linked.txt").unlink()  # the link goes; its target stays
    again = index_files(expand_paths([folder]), store, embedder, None, folders=[folder])
    assert (again.unchanged, again.removed) == (1, 1)
    assert len(store.content_hashes()) == 1
    store.close()


class ReplacingStore(EmbeddedStore):
    """An embedded store given a one-step rebuild for these tests: it takes what the
    pipeline hands it, then replaces its filings (Elasticsearch swaps an alias instead;
    that part is the contract suite's, against a server)."""

    def rebuild(self, filings) -> int:  # noqa: ANN001 - Store.rebuild's iterable
        taken = list(filings)  # all of it first: a failure leaves the store as it was
        for doc_id in self.content_hashes():
            self.delete_filing(doc_id)
        for filing in taken:
            self.write_filing(*filing)
        return sum(len(filing.passages) for filing in taken)


def test_a_rebuild_reads_every_file_again_and_drops_those_not_named(tmp_path: Path) -> None:
    files = [Path(shutil.copy(p, tmp_path / p.name)) for p in sorted(CORPUS.glob("*.txt"))[:3]]
    store = ReplacingStore(tmp_path / "index")
    embedder = CallCountingEmbedder()
    index_files(files, store, embedder, None)
    before = store.content_hashes()
    summary = index_files(files[:2], store, embedder, None, rebuild=True)
    # unchanged files are read again (a rebuild trusts nothing of the old index)
    assert (summary.indexed, summary.unchanged, summary.removed) == (2, 0, 1)
    assert len(store.content_hashes()) == 2 and set(store.content_hashes()) < set(before)
    assert {store.get_filing(d).filing["path"] for d in store.content_hashes()} == {
        str(f) for f in files[:2]
    }
    store.close()


def test_a_rebuild_with_a_file_it_cannot_read_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    files = [Path(shutil.copy(p, tmp_path / p.name)) for p in sorted(CORPUS.glob("*.txt"))[:2]]
    store = ReplacingStore(tmp_path / "index")
    embedder = CallCountingEmbedder()
    index_files(files, store, embedder, None)
    before = store.content_hashes()
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")
    with pytest.raises(RebuildStopped, match="1 of 3 files could not be read"):
        index_files([*files, broken], store, embedder, None, rebuild=True)
    assert store.content_hashes() == before
    store.close()


def test_a_file_whose_name_is_not_utf8_is_refused_alone(tmp_path: Path) -> None:
    """Such a name cannot be stored or shown as text: that file fails, the rest index."""
    good = Path(shutil.copy(sorted(CORPUS.glob("*.txt"))[0], tmp_path / "good.txt"))
    bad = Path(os.fsdecode(bytes(tmp_path) + b"/bad\xff\xfename.txt"))
    shutil.copy(good, bad)
    store = EmbeddedStore(tmp_path / "index")
    summary = index_files(expand_paths([tmp_path]), store, CallCountingEmbedder(), None)
    assert summary.indexed == 1 and len(store.content_hashes()) == 1
    ((name, reason),) = summary.failed
    assert "\\udcff" in name and "not valid UTF-8" in reason
    name.encode("utf-8")  # printable as it is reported
    store.close()

"""Index files: read → parse → passages → embed → store, skipping what has not changed."""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from indexer.embeddings import Embedder, EmbeddingCache, embed_cached
from indexer.errors import ReadError
from indexer.passages import doc_id_for, embedding_text, embedding_views, passages_for
from indexer.reading import parse_file
from indexer.store.base import EncodedFiling, FilingRecord, Store

# Part of every content hash: bump it when parsing or passages change, so that
# the next run re-indexes files whose bytes did not change.
# 7: filings record their path; 8: null headings, filer and label fixes; 9: passages'
# views' vectors are stored, prose after the project tables kept as narrative, DOCX
# nested tables read, numbers, amounts and compound units as whole tokens, region
# names and year as context; 10: a DOCX's paragraphs are narrative passages of their own,
# regions' short forms (context tokens) by rule over the whole region table; 11: indicators
# carry change (同比下降5%: a decrease of 5 %), a unit joined with 每 after a number
# (260元每人每月) is the unit token 元/人·月; 12: a DOCX with styled headings takes only
# them and numbered lines as headings; 13: a minus sign before a target's number is read
# (增长率-3% is −3, 同比-5% a decrease of 5, -5%~5% is −5 to 5), and a target value is
# the filing's text only trimmed (a text export's 同比 下降 5 % kept its inner spaces);
# indicator passages carry unit_comparable (a filter: the compare page's groups)
PIPELINE_VERSION = "13"
# Passages encoded per call: across filings, since the encoder sorts a call's texts
# by length and pads less the more it has (one call per filing ran at half speed).
ENCODE_BATCH = 512


@dataclass
class IndexSummary:
    files: int = 0
    indexed: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    removed: int = 0  # filings whose files were deleted from an indexed folder
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (file, warning)
    passages: int = 0
    encoded: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"{self.files} files: {self.indexed} indexed, {self.unchanged} unchanged, "
            f"{len(self.failed)} failed{f', {self.removed} removed' if self.removed else ''}; "
            f"{self.passages} passages "
            f"({self.encoded} texts newly encoded, views included) in {self.seconds:.1f} s"
        )


def source_name(path: Path) -> str:
    """The path a filing is known by: relative to the working folder when inside it."""
    where = Path(location(path))
    try:
        return where.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return where.as_posix()


def location(path: Path) -> str:
    """Where a file is, absolute, symbolic links kept: a link in an indexed folder is
    a file of that folder (deleting the link removes its filing), wherever it points."""
    return Path(os.path.abspath(path)).as_posix()


def content_hash(path: Path, model: str) -> str:
    """Identifies what a filing's stored passages came from: its bytes, the pipeline, the model.

    The model is part of it so that indexing with another encoder re-encodes every
    filing instead of mixing two models' vectors in one store.
    """
    digest = hashlib.sha256(f"{PIPELINE_VERSION}\0{model}\0".encode())
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def stored_ids_by_file(locations: dict[str, str]) -> dict[str, str]:
    """Absolute file path → doc_id of the stored filings (``Store.locations``).

    A filing indexed before paths were recorded has only its source, relative to
    the folder it was indexed in: taken as relative to this one, the usual case.
    """
    return {location(Path(where)): doc_id for doc_id, where in locations.items()}


def removed_files(locations: dict[str, str], folders: list[Path], seen: set[str]) -> list[str]:
    """The stored filings whose recorded files were under ``folders`` and are gone."""
    roots = [Path(location(folder)) for folder in folders]
    gone = []
    for doc_id, where in locations.items():
        path = Path(where)
        if not path.is_absolute() or where in seen or path.exists():
            continue  # an old relative source says too little to delete on
        if any(path.is_relative_to(root) for root in roots):
            gone.append(doc_id)
    return gone


def index_files(
    files: list[Path],
    store: Store,
    embedder: Embedder,
    cache: EmbeddingCache | None,
    max_bytes: int | None = None,
    show_progress: bool | None = None,
    folders: list[Path] | None = None,
    rebuild: bool = False,
) -> IndexSummary:
    """Index ``files`` into ``store``; one bad file is reported and skipped.

    A file keeps the id it was first stored under, whatever folder the run starts
    in; a file named twice is read once. Filings of files that were under one of
    ``folders`` (the folders the user named) and are gone are removed.

    ``rebuild`` reads every file again into a new index that replaces the whole
    store at once (``Store.rebuild``): filings of files not named are dropped.
    """
    started = time.perf_counter()
    locations = store.locations()
    unique: dict[str, Path] = {}  # where each file is → the file, once per run
    for path in files:
        unique.setdefault(location(path), path)
    summary = IndexSummary(files=len(unique))
    known = {} if rebuild else store.content_hashes()
    filings = _encoded_filings(
        unique,
        stored_ids_by_file(locations),
        known,
        embedder,
        cache,
        max_bytes,
        show_progress,
        summary,
    )
    if rebuild:
        rebuilt: set[str] = set()
        store.rebuild(_complete(filings, summary, rebuilt))
        summary.removed = len(set(locations) - rebuilt)
    else:
        for record, passages, vectors, views in filings:
            store.write_filing(record, passages, vectors, views)
        for doc_id in removed_files(locations, folders or [], set(unique)):
            store.delete_filing(doc_id)
            summary.removed += 1
    summary.seconds = time.perf_counter() - started
    return summary


class RebuildStopped(Exception):
    """A full rebuild met files it could not read: the live index was left as it was."""


def _complete(
    filings: Iterator[EncodedFiling],
    summary: IndexSummary,
    rebuilt: set[str],
) -> Iterator[EncodedFiling]:
    """``filings`` for a rebuild, stopping it before the swap if any file failed: the
    new index would lack those filings, which the live one may still have."""
    for filing in filings:
        rebuilt.add(filing[0].doc_id)
        yield filing
    if summary.failed:
        raise RebuildStopped(
            f"{len(summary.failed)} of {summary.files} files could not be read; "
            "the index was not replaced (fix or remove them, then rebuild again)"
        )


def _encoded_filings(
    unique: dict[str, Path],
    by_file: dict[str, str],
    known: dict[str, str],
    embedder: Embedder,
    cache: EmbeddingCache | None,
    max_bytes: int | None,
    show_progress: bool | None,
    summary: IndexSummary,
) -> Iterator[EncodedFiling]:
    """Each new or changed file's record, passages, vectors and views' vectors,
    counted in ``summary``.

    Files are parsed one by one and encoded across filings in batches of
    ENCODE_BATCH passages; unchanged files (hash in ``known``) are skipped.
    """
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    pending: list[tuple[FilingRecord, list[dict]]] = []  # parsed, waiting to be encoded
    bar = tqdm(unique.items(), unit="file", disable=not show_progress, file=sys.stderr)
    for where, path in bar:
        if not _is_utf8(where):
            # stores and pages hold names as UTF-8 text: such a path could not be
            # recorded, shown or found again, so the file is refused on its own
            summary.failed.append((ascii(where), "its name is not valid UTF-8: rename the file"))
            continue
        bar.set_postfix_str(path.name[-30:])
        source = source_name(path)
        doc_id = by_file.get(where) or doc_id_for(source)
        try:
            digest = content_hash(path, embedder.name)
        except OSError as err:
            summary.failed.append((str(path), f"cannot open ({err.strerror or err})"))
            continue
        if known.get(doc_id) == digest:
            summary.unchanged += 1
            continue
        try:
            filing = parse_file(path, max_bytes).to_json()
        except ReadError as err:
            summary.failed.append((str(path), str(err)))
            continue
        except Exception as err:  # noqa: BLE001 - one bad file must not stop the run
            summary.failed.append((str(path), f"could not parse ({type(err).__name__}: {err})"))
            continue
        summary.warnings.extend((str(path), warning) for warning in filing.get("warnings", []))
        filing["source"] = source
        filing["path"] = where  # finds the file from any folder (serving, re-indexing)
        record = FilingRecord(doc_id, source, digest, filing, embedder.name)
        pending.append((record, passages_for(filing, doc_id)))
        if sum(len(passages) for _, passages in pending) >= ENCODE_BATCH:
            yield from _encoded(pending, embedder, cache, summary)
            pending = []
    yield from _encoded(pending, embedder, cache, summary)


def _is_utf8(name: str) -> bool:
    """False for a path with bytes that were not UTF-8 (decoded as lone surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _encoded(
    pending: list[tuple[FilingRecord, list[dict]]],
    embedder: Embedder,
    cache: EmbeddingCache | None,
    summary: IndexSummary,
) -> Iterator[EncodedFiling]:
    """Encode the passages (main texts and views) of several filings in one call,
    then hand out each filing."""
    every = [p for _, passages in pending for p in passages]
    views = [embedding_views(p) for p in every]
    texts = [embedding_text(p) for p in every] + [v for some in views for v in some]
    vectors, encoded = embed_cached(texts, embedder, cache)
    summary.encoded += encoded
    mains, extra = vectors[: len(every)], vectors[len(every) :]
    view_vectors, cursor = [], 0
    for some in views:
        view_vectors.append(extra[cursor : cursor + len(some)])
        cursor += len(some)
    offset = 0
    for record, passages in pending:
        end = offset + len(passages)
        yield EncodedFiling(record, passages, mains[offset:end], view_vectors[offset:end])
        offset = end
        summary.indexed += 1
        summary.passages += len(passages)


def default_store_dir() -> Path:
    """``JIXIAO_STORE``, else ``data/index`` under the working folder."""
    return Path(os.environ.get("JIXIAO_STORE") or "data/index")

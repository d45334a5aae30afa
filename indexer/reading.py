"""Choose a reader by what a file is (its first bytes), not by its name alone."""

from __future__ import annotations

import math
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

from indexer.errors import ReadError
from indexer.model import Filing, RawDocument

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
SUPPORTED_SUFFIXES = (".pdf", ".docx", ".txt")


def max_bytes_from_env() -> int:
    """The size limit: ``JIXIAO_MAX_FILE_MB`` megabytes, 50 by default."""
    raw = os.environ.get("JIXIAO_MAX_FILE_MB")
    if not raw:
        return DEFAULT_MAX_BYTES
    try:
        megabytes = float(raw)
    except ValueError as err:
        raise ReadError(f"JIXIAO_MAX_FILE_MB is not a number: {raw!r}") from err
    if not 0 < megabytes < math.inf:
        raise ReadError(f"JIXIAO_MAX_FILE_MB must be a number more than 0, not {raw!r}")
    return int(megabytes * 1024 * 1024)


def sniff(path: Path) -> str:
    """ "pdf", "docx" or "text", from the file's magic bytes."""
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "docx"
    # A file named .pdf or .docx that is not one goes to that reader, which
    # says precisely what it is instead (not a zip, an old .doc, …).
    suffix = path.suffix.lower()
    if suffix in (".pdf", ".docx"):
        return suffix[1:]
    return "text"


def read_document(path: Path, max_bytes: int | None = None) -> RawDocument:
    """Read any supported file into blocks; raises :class:`ReadError` with the reason."""
    limit = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    try:
        size = path.stat().st_size
    except OSError as err:
        raise ReadError(f"cannot open ({err.strerror or err})") from err
    if path.is_dir():
        raise ReadError("is a directory")
    if size == 0:
        raise ReadError("empty file")
    if size > limit:
        raise ReadError(f"file is {size / 1048576:.1f} MB, over the {limit / 1048576:.0f} MB limit")
    kind = sniff(path)
    reader = _reader(kind)
    try:
        document = reader(path)
    except ReadError:
        raise
    except (zipfile.BadZipFile, KeyError) as err:
        raise ReadError(f"corrupt {kind.upper()} ({err})") from err
    except (ValueError, OSError, RuntimeError, TypeError, AttributeError, IndexError) as err:
        # Third-party parsers fail in many ways on damaged files; the user needs
        # the file and the gist, not a traceback.
        raise ReadError(f"could not read {kind.upper()}: {type(err).__name__}: {err}") from err
    document.source = str(path)  # the path as given, so results trace back to it
    return document


def _reader(kind: str) -> Callable[[Path], RawDocument]:
    # Imported lazily: pdfplumber and python-docx cost start-up time a text run never needs.
    if kind == "pdf":
        from indexer.readers.pdf import read_pdf

        return read_pdf
    if kind == "docx":
        from indexer.readers.docx import read_docx

        return read_docx
    from indexer.readers.text import read_text

    return read_text


def parse_file(path: Path, max_bytes: int | None = None) -> Filing:
    """Read and split one filing."""
    from indexer.splitter import split_document

    return split_document(read_document(path, max_bytes))


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files named, plus the supported files inside folders named (recursively, sorted;
    hidden files and folders such as ``.git`` left out)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file()
                    and p.suffix.lower() in SUPPORTED_SUFFIXES
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)
                )
            )
        else:
            files.append(path)
    return files

"""A stored filing as the filing page shows it, and its original file for download.

Anchors are passage ids (``<doc_id>-p3i2`` for indicator 2 of project 3, as
:func:`indexer.passages.passages_for` numbers them), so a search hit links to
``/filing/<doc_id>#<passage id>`` and the page scrolls to it.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from indexer.errors import ReadError
from indexer.pipeline import content_hash
from indexer.readers.text import text_encoding
from indexer.store.base import FilingRecord

DOC_ID = re.compile(r"^[0-9a-f]{16}$")
MIME = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
# Python's codec names as HTTP charsets (a BOM stays in the bytes; browsers read it)
CHARSETS = {"utf-8-sig": "utf-8", "utf-16-le": "utf-16le", "utf-16-be": "utf-16be"}


@dataclass
class Section:
    """Narrative paragraphs under one heading."""

    heading: str
    paragraphs: list[dict] = field(default_factory=list)  # {"id", "text", "page"}


@dataclass
class FilingView:
    """What the filing page renders."""

    doc_id: str
    source: str
    filing: dict
    projects: list[dict]  # each with "anchor" and indicators with "anchor"
    sections: list[Section]

    @property
    def indicator_count(self) -> int:
        return sum(len(p["indicators"]) for p in self.projects)

    @property
    def file_name(self) -> str:
        return Path(self.source).name


def filing_view(record: FilingRecord) -> FilingView:
    """Projects and narrative with their passage anchors."""
    doc_id = record.doc_id
    filing = record.filing
    projects = []
    for p_index, project in enumerate(filing.get("projects", [])):
        indicators = [
            {**indicator, "anchor": f"{doc_id}-p{p_index}i{i_index}"}
            for i_index, indicator in enumerate(project.get("indicators", []))
        ]
        projects.append({**project, "anchor": f"{doc_id}-p{p_index}", "indicators": indicators})
    sections: list[Section] = []
    for s_index, section in enumerate(filing.get("sections", [])):
        heading = section.get("heading") or ""
        if not sections or sections[-1].heading != heading:
            sections.append(Section(heading))
        sections[-1].paragraphs.append(
            {
                "id": f"{doc_id}-s{s_index}",
                "text": section.get("text") or "",
                "page": section.get("page"),
            }
        )
    return FilingView(doc_id, record.source, filing, projects, sections)


def original_path(record: FilingRecord, source_root: Path) -> Path | None:
    """The indexed file of ``record`` if it is still there; None otherwise.

    A relative source is looked for under ``source_root`` (the portal's setting), then
    at the absolute path the filing recorded when it was indexed (pipeline 7 on).
    """
    source = Path(record.source)
    candidates = [source] if source.is_absolute() else [source_root / source]
    if record.filing.get("path"):
        candidates.append(Path(record.filing["path"]))
    for path in candidates:
        try:
            path = path.resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if path.is_file():
            return path
    return None


@dataclass(frozen=True)
class Original:
    """A filing's indexed file as it is on disk now."""

    path: Path
    unchanged: bool  # it still holds the bytes (and pipeline) its passages came from


def find_original(record: FilingRecord, source_root: Path) -> Original | None:
    """The indexed file of ``record`` and whether it changed since; None when it is gone.

    A file edited after indexing no longer backs the passages shown for it, so
    the portal says so instead of serving it as the source. A store built by an
    older pipeline reads as changed too: its filings are re-read on the next run.
    """
    path = original_path(record, source_root)
    if path is None:
        return None
    try:
        stat = path.stat()
        digest = _file_hash(str(path), stat.st_mtime_ns, stat.st_size, record.model)
    except OSError:
        return None
    return Original(path, digest == record.content_hash)


@lru_cache(maxsize=256)
def _file_hash(path: str, mtime_ns: int, size: int, model: str) -> str:
    """``content_hash`` of a file as it is now: read again only when its modification
    time or size changed, not on every view of its filing page (files run to 50 MB)."""
    return content_hash(Path(path), model)


def mime_type(path: Path) -> str:
    """The content type of an original file by its suffix; for text, with the charset
    the indexer read it in (GB18030 and UTF-16 filings are common)."""
    suffix = path.suffix.lower()
    if suffix == ".txt":
        try:
            encoding = text_encoding(path.read_bytes())
        except (OSError, ReadError):
            return "text/plain"  # left to the browser, as it cannot be told
        return f"text/plain; charset={CHARSETS.get(encoding, encoding)}"
    return MIME.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"

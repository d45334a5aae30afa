"""Read a PDF into paragraphs and tables in reading order (pdfplumber, OCR for scans).

Tables come from ruling lines (pdfplumber's "lines" strategy). A table that runs over a
page break is joined back into one :class:`Table`: the repeated header row on the new page
is dropped and a row split by the break is glued back together (see :func:`_join_pages`).
Prose is the text outside the tables, grouped into paragraphs by line spacing and indents.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import pdfplumber
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfplumber.utils.exceptions import PdfminerException

from ..errors import ReadError
from ..model import Block, Paragraph, RawDocument, Table
from . import ocr
from .cells import join_lines, join_wrapped, tidy_prose

# pdfminer logs its repairs of damaged files ("Not adding object 1 to xref …") as
# warnings on stderr; a file that cannot be read is reported once, as a ReadError
logging.getLogger("pdfminer").setLevel(logging.ERROR)

TABLE_SETTINGS = {"vertical_strategy": "lines", "horizontal_strategy": "lines"}

# A whole line that is only a page number: "3", "- 3 -", "第3页", "第 3 页 共 10 页", "3/10".
_PAGE_NO_RE = re.compile(
    r"^(?:[-—–－]?\s*\d{1,4}\s*[-—–－]?|\d{1,4}\s*/\s*\d{1,4}"
    r"|第\s*\d{1,4}\s*页(?:\s*[,，/]?\s*共\s*\d{1,4}\s*页)?|page\s*\d{1,4}(?:\s*of\s*\d{1,4})?)$",
    re.IGNORECASE,
)
_MARGIN_ZONE = 0.12  # bare numbers count as page numbers only in the top/bottom 12 % of a page
_PARA_GAP = 0.9  # a vertical gap above this many line heights starts a new paragraph
_SHORT_LINE = 3.0  # a line ending this many line heights before the right edge ends a paragraph
_INDENT = 1.5  # a line starting this many line heights in from the left edge starts one
_SCAN_MAX_CHARS = 30  # fewer chars than this over a page-sized image: a scan with a stamp
_SCAN_MIN_COVER = 0.5
_EDGE_TOL = 5.0  # points: how closely a continued table must line up with the one before


@dataclass
class _Item:
    """A block with the geometry the page-break logic needs (kept out of the public model)."""

    block: Block
    top: float
    x0: float = 0.0
    x1: float = 0.0
    cols: list[float] = field(default_factory=list)  # left edges of a table's columns


@dataclass
class _Page:
    number: int
    items: list[_Item] = field(default_factory=list)


def read_pdf(path: Path) -> RawDocument:
    """Read ``path``; raise :class:`ReadError` when the file cannot be read at all."""
    path = Path(path)
    _check_envelope(path)
    try:
        pdf = pdfplumber.open(path)
    except PdfminerException as exc:
        raise _open_error(exc.args[0] if exc.args else exc) from exc
    except (PDFPasswordIncorrect, PDFEncryptionError) as exc:
        raise ReadError("PDF is encrypted") from exc
    except Exception as exc:  # pdfminer raises many kinds on malformed input
        raise ReadError("PDF is truncated or corrupt") from exc

    doc = RawDocument(source=path.name, blocks=[])
    with pdf:
        pages: list[_Page] = []
        scanned: list[int] = []
        try:
            for number, page in enumerate(pdf.pages, start=1):
                if _is_scanned(page):
                    pages.append(_Page(number))
                    scanned.append(number)
                else:
                    pages.append(_read_page(page, number))
        except ReadError:
            raise
        except Exception as exc:
            raise _open_error(exc.args[0] if isinstance(exc, PdfminerException) else exc) from exc
        if scanned:
            _ocr_pages(pdf, scanned, pages, doc)
    doc.blocks = _join_pages(pages)
    return doc


def _check_envelope(path: Path) -> None:
    """Cheap checks on the raw bytes that give a clearer reason than the parser would."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(1024)
            fh.seek(max(0, size - 2048))
            tail = fh.read()
    except OSError as exc:
        raise ReadError(f"cannot open file ({exc.strerror})") from exc
    if size == 0:
        raise ReadError("file is empty")
    if b"%PDF-" not in head:
        raise ReadError("not a PDF (no %PDF header)")
    # Every complete PDF (and every incremental update) ends with %%EOF; a cut-off download
    # does not, and pdfminer would otherwise salvage a misleading part of it.
    if b"%%EOF" not in tail:
        raise ReadError("PDF is truncated or corrupt")


def _is_scanned(page) -> bool:
    """No text layer, just a picture of the page (a stamped page number doesn't count)."""
    if len(page.chars) >= _SCAN_MAX_CHARS or not page.images:
        return False
    if not page.chars:
        return True
    area = float(page.width * page.height) or 1.0
    covered = sum(
        max(0.0, float(im["x1"] - im["x0"])) * max(0.0, float(im["bottom"] - im["top"]))
        for im in page.images
    )
    return covered / area >= _SCAN_MIN_COVER


def _open_error(exc: BaseException) -> ReadError:
    if isinstance(exc, PDFPasswordIncorrect | PDFEncryptionError):
        return ReadError("PDF is encrypted")
    return ReadError("PDF is truncated or corrupt")


def _read_page(page, number: int) -> _Page:
    """Tables and paragraphs of one page, ordered top to bottom."""
    found = [t for t in page.find_tables(TABLE_SETTINGS) if _is_real_table(t)]
    items: list[_Item] = []
    for t in found:
        rows = [[join_wrapped(cell) for cell in row] for row in t.extract()]
        rows = [row for row in rows if any(row)]
        if rows:
            cols = sorted({cell[0] for cell in t.cells})
            table = Table(rows=rows, page=number)
            items.append(_Item(table, t.bbox[1], t.bbox[0], t.bbox[2], cols))

    bboxes = [t.bbox for t in found]

    def outside(obj) -> bool:
        if obj.get("object_type") != "char":
            return True
        cx, cy = (obj["x0"] + obj["x1"]) / 2, (obj["top"] + obj["bottom"]) / 2
        return not any(x0 <= cx <= x1 and top <= cy <= bottom for x0, top, x1, bottom in bboxes)

    lines = page.filter(outside).extract_text_lines(return_chars=False)
    lines = [ln for ln in lines if ln["text"].strip() and not _is_page_number(ln, page.height)]
    table_tops = sorted(item.top for item in items)
    items += _paragraphs(lines, table_tops, number)
    items.sort(key=lambda item: item.top)
    return _Page(number, items)


def _is_real_table(t) -> bool:
    """A ruled box around a single cell (a framed note) is prose, not a table."""
    return bool(t.rows) and (len(t.rows) > 1 or len(t.rows[0].cells) > 1)


def _is_page_number(line: dict, height: float) -> bool:
    text = line["text"].strip()
    if not _PAGE_NO_RE.match(text):
        return False
    if not text.isdigit():
        return True
    return line["top"] < height * _MARGIN_ZONE or line["bottom"] > height * (1 - _MARGIN_ZONE)


def _paragraphs(lines: list[dict], table_tops: list[float], number: int) -> list[_Item]:
    """Group text lines into paragraphs.

    A new paragraph starts after a table, after a gap wider than normal line spacing, at an
    indented line, or after a line that stops well short of the right edge (the last line
    of a paragraph in justified Chinese text).
    """
    if not lines:
        return []
    left = min(ln["x0"] for ln in lines)
    right = max(ln["x1"] for ln in lines)
    groups: list[list[dict]] = []
    prev = None
    for ln in sorted(lines, key=lambda ln: ln["top"]):
        h = max(ln["bottom"] - ln["top"], 1.0)
        new = prev is None
        if prev is not None:
            crosses_table = any(prev["top"] < top < ln["top"] for top in table_tops)
            gap = ln["top"] - prev["bottom"]
            new = (
                crosses_table
                or gap > _PARA_GAP * h
                or ln["x0"] > left + _INDENT * h
                or prev["x1"] < right - _SHORT_LINE * h
            )
        if new:
            groups.append([ln])
        else:
            groups[-1].append(ln)
        prev = ln
    items = []
    for group in groups:
        text = tidy_prose(join_lines([ln["text"] for ln in group]))
        if text:
            items.append(_Item(Paragraph(text=text, page=number), group[0]["top"]))
    return items


def _ocr_pages(pdf, scanned: list[int], pages: list[_Page], doc: RawDocument) -> None:
    """OCR image-only pages into paragraphs, or explain why they stay empty."""
    if not ocr.ocr_available():
        doc.warnings.append(
            f"no text layer on {ocr.describe_pages(scanned)} and Tesseract (chi_sim) is not "
            f"installed; {ocr.INSTALL_HINT}"
        )
        return
    failed: list[int] = []
    blank: list[int] = []
    for number in scanned:
        try:
            image = pdf.pages[number - 1].to_image(resolution=ocr.OCR_DPI).original
            text = ocr.ocr_page_image(image)
        except RuntimeError:
            failed.append(number)
            continue
        page = pages[number - 1]
        blocks = ocr.ocr_blocks(text)
        if not blocks:
            blank.append(number)
        for i, block in enumerate(blocks):
            page.items.append(_Item(Paragraph(text=block, page=number), float(i)))
        doc.low_confidence = True
    if failed:
        doc.warnings.append(f"OCR failed on {ocr.describe_pages(failed)}")
    if blank:
        doc.warnings.append(f"OCR found no text on {ocr.describe_pages(blank)}")


def _join_pages(pages: list[_Page]) -> list[Block]:
    """Flatten pages into blocks, joining tables that continue over a page break.

    A page's first block continues the previous page's last block when both are tables
    with the same left and right edges whose column edges line up (the part of a form
    left on one page may show fewer columns, e.g. only merged header rows), and the new
    one does not start the way the previous table started (a new table of the same form).
    """
    blocks: list[Block] = []
    prev_last: _Item | None = None
    for page in pages:
        items = page.items
        if items and prev_last is not None and _continues(prev_last, items[0]):
            _append_continuation(prev_last, items[0])
            items = items[1:]
        blocks.extend(item.block for item in items)
        if not page.items:
            prev_last = None  # a blank or unread scanned page breaks the chain
        elif items:
            prev_last = items[-1]
        # else: the page held only the continuation; the joined table may continue again
    return blocks


def _continues(prev: _Item, first: _Item) -> bool:
    a, b = prev.block, first.block
    if not isinstance(a, Table) or not isinstance(b, Table):
        return False
    if abs(prev.x0 - first.x0) > _EDGE_TOL or abs(prev.x1 - first.x1) > _EDGE_TOL:
        return False
    if _common_grid(prev.cols, first.cols) is None:
        return False
    a0, b0 = a.rows[0], b.rows[0]
    starts_alike = bool(a0[0]) and a0[0] == b0[0]
    return not starts_alike or _same_row(a0, b0)


def _common_grid(a: list[float], b: list[float]) -> list[float] | None:
    """The finer of two column grids when every edge of the coarser one is in it, else None."""
    coarse, fine = sorted((a, b), key=len)
    if all(any(abs(x - y) <= _EDGE_TOL for y in fine) for x in coarse):
        return fine
    return None


def _regrid(rows: list[list[str]], cols: list[float], grid: list[float]) -> list[list[str]]:
    """Spread rows over a finer grid: a wide cell's text goes to its first column, "" after."""
    if len(cols) == len(grid):
        return rows
    index = [min(range(len(grid)), key=lambda j: abs(grid[j] - x)) for x in cols]
    out = []
    for row in rows:
        new = [""] * len(grid)
        for i, text in zip(index, row, strict=True):
            new[i] = text
        out.append(new)
    return out


def _same_row(r1: list[str], r2: list[str]) -> bool:
    return [re.sub(r"\s+", "", c) for c in r1] == [re.sub(r"\s+", "", c) for c in r2]


_HEADER_WINDOW = 12  # a repeated header repeats one of the table's first rows


def _append_continuation(prev: _Item, first: _Item) -> None:
    """Add ``first``'s rows to ``prev``'s table: drop repeated header rows, glue a split row."""
    table, cont = prev.block, first.block
    assert isinstance(table, Table) and isinstance(cont, Table)
    grid = _common_grid(prev.cols, first.cols) or prev.cols
    table.rows = _regrid(table.rows, prev.cols, grid)
    rows = _regrid(cont.rows, first.cols, grid)
    prev.cols = grid
    window = table.rows[:_HEADER_WINDOW]
    while rows and sum(1 for c in rows[0] if c) >= 2 and any(_same_row(rows[0], r) for r in window):
        rows.pop(0)
    if rows and _is_split_row(table.rows[-1], rows[0]):
        last = table.rows[-1]
        table.rows[-1] = [join_lines([x, y]) for x, y in zip(last, rows.pop(0), strict=True)]
    pages = table.row_pages or [table.page] * len(table.rows)
    table.row_pages = pages + [cont.page] * len(rows)  # a glued row keeps its first page
    table.rows.extend(rows)


def _is_split_row(last: list[str], first: list[str]) -> bool:
    """True when ``first`` (top of the new page) is the rest of ``last`` cut by the break.

    A row broken over a page leaves text only in cells that overflowed, all of which have
    text above the break, and the short cells (the value at the right, or the label at the
    left) have nothing left over. A real new row carries its own value; one that is merely
    under vertically merged labels has empty leading cells but a filled last cell.
    """
    filled_first = {i for i, c in enumerate(first) if c}
    filled_last = {i for i, c in enumerate(last) if c}
    if not filled_first or not filled_first < filled_last:
        return False
    value_cut = not first[-1] and bool(last[-1])
    label_cut = not first[0] and bool(last[0]) and len(filled_first) == 1
    return value_cut or label_cut

"""Read a DOCX into paragraphs and tables in document order (python-docx + its XML).

The zip is checked before python-docx sees it, so a renamed file or a zip bomb gives a
one-line reason instead of a traceback or an exhausted machine.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path, PurePosixPath

from docx import Document
from docx.oxml.ns import qn
from lxml import etree

from .. import labels
from ..errors import ReadError
from ..model import Block, Paragraph, RawDocument, Table
from .cells import join_lines

MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_RATIO = 100  # uncompressed / compressed; real DOCX XML packs roughly 5-30x
_RATIO_FLOOR = 1024 * 1024  # below 1 MB unpacked the ratio says nothing
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_REL_OFFICE_DOC = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
)

_P, _TBL, _TR, _TC, _SDT = qn("w:p"), qn("w:tbl"), qn("w:tr"), qn("w:tc"), qn("w:sdt")
_T, _TAB, _BR, _CR = qn("w:t"), qn("w:tab"), qn("w:br"), qn("w:cr")
_VAL = qn("w:val")
_PPR, _PSTYLE, _OUTLINE_LVL = qn("w:pPr"), qn("w:pStyle"), qn("w:outlineLvl")
# built-in heading styles by name, for styles that do not state their outline level
_HEADING_STYLE = re.compile(r"(?:heading\s*(\d)|title)", re.IGNORECASE)
_RENDERED_BREAK = qn("w:lastRenderedPageBreak")
# Not text: tracked deletions, field codes, and the legacy copy of a text box (mc:Fallback
# repeats what mc:Choice holds).
_SKIP = {
    qn("w:delText"),
    qn("w:instrText"),
    "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback",
}


def read_docx(
    path: Path, max_unpacked: int = MAX_UNPACKED_BYTES, max_ratio: float = MAX_RATIO
) -> RawDocument:
    """Read ``path``; raise :class:`ReadError` when it is not a readable DOCX."""
    path = Path(path)
    check_zip(path, max_unpacked, max_ratio)
    try:
        doc = Document(str(path))
    except etree.XMLSyntaxError as exc:
        raise ReadError(_xml_error_reason(exc)) from exc
    except Exception as exc:  # python-docx/lxml raise many kinds on broken parts
        raise ReadError("DOCX is corrupt (cannot parse its XML)") from exc
    body = doc.element.body
    # Page numbers exist only if Word saved its layout (lastRenderedPageBreak marks).
    has_pages = next(body.iter(_RENDERED_BREAK), None) is not None
    walker = _Walker(has_pages, _style_outlines(doc))
    walker.walk(body)
    blocks = walker.blocks
    if not any(isinstance(b, Paragraph) and _TITLE_WORDS.search(b.text) for b in blocks[:40]):
        blocks = _header_lines(doc) + blocks
    return RawDocument(source=path.name, blocks=blocks)


def _xml_error_reason(exc: etree.XMLSyntaxError) -> str:
    """Why the XML could not be parsed: libxml2's safety limits are not corruption."""
    if "Excessive depth" in str(exc):
        # libxml2 stops at 256 levels; each table inside a cell adds three (table, row, cell)
        return "DOCX nested too deeply (tables inside tables past the XML parser's depth limit)"
    if exc.code == etree.ErrorTypes.ERR_RESOURCE_LIMIT:
        return "DOCX exceeds an XML parser limit (a part too large or too deep)"
    return "DOCX is corrupt (cannot parse its XML)"


# what a title says (as the splitter looks for it): used to tell whether the body has one
_TITLE_WORDS = re.compile(r"绩效(目标|文本)|预算")


def _header_lines(doc) -> list[Paragraph]:  # noqa: ANN001 - a python-docx Document
    """The first page header's lines: some filings put their title only there, and the
    body then starts with the tables."""
    try:
        paragraphs = doc.sections[0].header.paragraphs if doc.sections else []
    except Exception:  # noqa: BLE001 - a header python-docx cannot read is left out
        return []
    texts = [p.text.strip() for p in paragraphs]
    return [Paragraph(text=text, page=1, whole=True) for text in texts if text]


def check_zip(path: Path, max_unpacked: int = MAX_UNPACKED_BYTES, max_ratio: float = MAX_RATIO):
    """Refuse files that are not a DOCX package or would unpack to too much."""
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise ReadError(f"cannot open file ({exc.strerror})") from exc
    if not head:
        raise ReadError("file is empty")
    if head == _OLE_MAGIC:
        raise ReadError("not a DOCX (an OLE file: an old .doc or a password-protected DOCX)")
    if not zipfile.is_zipfile(path):
        raise ReadError("not a DOCX (not a zip archive)")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            # Declared sizes bound what zipfile will inflate (it stops at file_size and
            # fails the CRC), so checking them is enough.
            unpacked = sum(i.file_size for i in infos)
            packed = sum(i.compress_size for i in infos) or 1
            if unpacked > max_unpacked or (
                unpacked > min(_RATIO_FLOOR, max_unpacked) and unpacked / packed > max_ratio
            ):
                raise ReadError("DOCX too large when unpacked (possible zip bomb)")
            names = set(zf.namelist())
            if "word/document.xml" not in names and _main_part(zf, names) is None:
                raise ReadError("not a DOCX (no word/document.xml)")
    except zipfile.BadZipFile as exc:
        raise ReadError("not a DOCX (broken zip archive)") from exc


def _main_part(zf: zipfile.ZipFile, names: set[str]) -> str | None:
    """The main document part named by ``_rels/.rels`` (some tools don't call it document.xml)."""
    if "_rels/.rels" not in names or zf.getinfo("_rels/.rels").file_size > 1024 * 1024:
        return None
    try:
        rels = etree.fromstring(zf.read("_rels/.rels"))
    except etree.XMLSyntaxError:
        return None
    for rel in rels:
        if rel.get("Type") == _REL_OFFICE_DOC:
            target = str(PurePosixPath(rel.get("Target", "").lstrip("/")))
            return target if target in names else None
    return None


class _Walker:
    """Walks the body XML in document order, emitting blocks."""

    def __init__(self, has_pages: bool, style_outlines: dict[str, int]) -> None:
        self.blocks: list[Block] = []
        self.style_outlines = style_outlines
        self.page: int | None = 1 if has_pages else None
        self._boxes_open = 0  # how many layout boxes (cells holding a table) we are inside

    def walk(self, parent) -> None:
        for child in parent.iterchildren():
            if child.tag == _P:
                text = self._para_text(child).strip()
                if text:
                    outline = self._outline(child)
                    self.blocks.append(
                        Paragraph(text=text, page=self.page, whole=True, outline=outline)
                    )
            elif child.tag == _TBL:
                self._table(child)
            elif child.tag == _SDT:
                content = child.find(qn("w:sdtContent"))
                if content is not None:
                    self.walk(content)

    def _table(self, tbl) -> None:
        """Emit a table. A cell holding a table of its own is a layout box (a project table
        inside an outer layout table): its paragraphs and tables are emitted as blocks of
        their own after its row, which ends the table there; later rows start another."""
        # a table that holds tables, or sits in one, is layout: rows of it that are no
        # part of a project form are prose (the title in an outer layout table's first row)
        layout = self._boxes_open > 0 or next(tbl.iterdescendants(_TBL), None) is not None
        rows: list[list[str]] = []
        page = self.page
        for tr in _children(tbl, _TR):
            row, boxes = self._row(tr)
            rows.append(row)
            if boxes:
                self._emit_rows(rows, _grid_width(tbl), page, layout)
                rows = []
                self._boxes_open += 1
                for box in boxes:
                    self.walk(box)  # nesting is bounded by the XML parser's depth limit
                self._boxes_open -= 1
                page = self.page
        self._emit_rows(rows, _grid_width(tbl), page, layout)

    def _emit_rows(self, rows: list[list[str]], width: int, page: int | None, layout: bool) -> None:
        """Append rows as a table (padded to the widest of grid and rows, empty rows out),
        or, for layout rows that are no project form, as paragraphs."""
        width = max([width, *(len(r) for r in rows)])
        rows = [r + [""] * (width - len(r)) for r in rows if any(r)]
        if layout and not _reads_as_form(rows):
            for row in rows:
                text = " ".join(c for c in row if c)
                self.blocks.append(Paragraph(text=text, page=page, whole=True))
        elif rows:
            self.blocks.append(Table(rows=rows, page=page))

    def _outline(self, p) -> int | None:
        """The outline level of a paragraph: its own, else its style's (None: body text)."""
        ppr = p.find(_PPR)
        if ppr is None:
            return None
        own = _outline_value(ppr.find(_OUTLINE_LVL))
        if own is not None:
            return own
        style = ppr.find(_PSTYLE)
        return None if style is None else self.style_outlines.get(style.get(_VAL, ""))

    def _para_text(self, p) -> str:
        """Text of a paragraph: runs, hyperlinks, fields' results; tabs and breaks kept."""
        parts: list[str] = []
        self._collect(p, parts)
        return "".join(parts)

    def _collect(self, el, parts: list[str]) -> None:
        for child in el.iterchildren():
            tag = child.tag
            if tag == _T:
                parts.append(child.text or "")
            elif tag == _TAB:
                parts.append("\t")
            elif tag in (_BR, _CR):
                if child.get(qn("w:type")) != "page":
                    parts.append("\n")
            elif tag == _RENDERED_BREAK and self.page is not None:
                self.page += 1
            elif tag in _SKIP:
                continue
            else:
                self._collect(child, parts)

    def _cell_text(self, tc) -> str:
        """A cell's paragraphs joined like wrapped lines (a cell with a table is a box)."""
        lines: list[str] = []
        for child in tc.iterchildren():
            if child.tag == _P:
                lines.append(self._para_text(child))
            elif child.tag == _SDT:
                content = child.find(qn("w:sdtContent"))
                if content is not None:
                    lines.append(self._cell_text(content))
        return join_lines([ln for part in lines for ln in part.splitlines()])

    def _row(self, tr) -> tuple[list[str], list]:
        """A row on the table grid (a merged cell's text at its top-left, "" elsewhere) and
        the cells in it that hold a table (layout boxes, read as blocks: "" in the row)."""
        row: list[str] = [""] * _grid_skip(tr, "w:gridBefore")
        boxes = []
        for tc in _children(tr, _TC):
            span = _tc_int(tc, "w:gridSpan", 1)
            vmerge = _tc_prop(tc, "w:vMerge")
            # vMerge without val="restart" continues the cell above: its text is there.
            continues = vmerge is not None and vmerge.get(_VAL) != "restart"
            if continues:
                text = ""
            elif next(_children(tc, _TBL), None) is not None:
                boxes.append(tc)
                text = ""
            else:
                text = self._cell_text(tc)
            row.append(text)
            row.extend([""] * (max(span, 1) - 1))
        row.extend([""] * _grid_skip(tr, "w:gridAfter"))
        return row, boxes


def _style_outlines(doc) -> dict[str, int]:  # noqa: ANN001 - a python-docx Document
    """Style id → the outline level its paragraphs have (heading styles only)."""
    try:
        styles = doc.styles.element
    except Exception:  # noqa: BLE001 - a styles part python-docx cannot read: no headings known
        return {}
    outlines: dict[str, int] = {}
    for style in styles.iterchildren(qn("w:style")):
        style_id = style.get(qn("w:styleId"))
        ppr = style.find(_PPR)
        level = _outline_value(None if ppr is None else ppr.find(_OUTLINE_LVL))
        name = style.find(qn("w:name"))
        named = _HEADING_STYLE.fullmatch((name.get(_VAL, "") if name is not None else "").strip())
        if level is None and named:
            level = int(named[1]) - 1 if named[1] else 0
        if style_id and level is not None:
            outlines[style_id] = level
    return outlines


def _outline_value(element) -> int | None:  # noqa: ANN001 - a w:outlineLvl element or None
    """A w:outlineLvl's level, 0–8; 9 (and anything unreadable) is body text."""
    value = None if element is None else element.get(_VAL)
    return int(value) if value is not None and value.isdigit() and int(value) < 9 else None


def _reads_as_form(rows: list[list[str]]) -> bool:
    """Whether rows hold a project form: a header label (项目名称 …), an indicator table's
    heading row, or an indicator level label (rows of a table continued from a box above)."""
    return any(
        labels.is_indicator_header(row)
        or any(labels.project_field(c) or labels.is_level_label(c) for c in row if c)
        for row in rows
    )


def _grid_width(tbl) -> int:
    """The number of columns the table's grid declares (0 when it declares none)."""
    grid_cols = tbl.find(qn("w:tblGrid"))
    return len(grid_cols) if grid_cols is not None else 0


def _children(el, tag: str):
    """Direct children with ``tag``, looking through content controls (w:sdt)."""
    for child in el.iterchildren():
        if child.tag == tag:
            yield child
        elif child.tag == _SDT:
            content = child.find(qn("w:sdtContent"))
            if content is not None:
                yield from _children(content, tag)


def _tc_prop(tc, name: str):
    tcpr = tc.find(qn("w:tcPr"))
    return None if tcpr is None else tcpr.find(qn(name))


def _tc_int(tc, name: str, default: int) -> int:
    el = _tc_prop(tc, name)
    try:
        return int(el.get(_VAL)) if el is not None else default
    except (TypeError, ValueError):
        return default


def _grid_skip(tr, name: str) -> int:
    trpr = tr.find(qn("w:trPr"))
    el = None if trpr is None else trpr.find(qn(name))
    try:
        return int(el.get(_VAL)) if el is not None else 0
    except (TypeError, ValueError):
        return 0

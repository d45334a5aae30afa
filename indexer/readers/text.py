"""Plain-text filings: decode the bytes, then recover tables from the layout.

Text conversions of filings come in three layouts (see ``corpus/README``):

* tab-separated rows, one table row per line (PDF text exports);
* one cell per line, each cell line indented by a tab, rows separated by blank
  lines (DOCX text exports); a cell wrapped in the source continues on a line
  without the tab;
* PDF text with no tabs at all, cells wrapped over several lines: handled by
  :mod:`indexer.readers.wrapped`.

Lines that belong to no table become paragraphs.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from indexer.errors import ReadError
from indexer.model import Block, Paragraph, RawDocument, Table
from indexer.readers import wrapped

_BOOKMARK = re.compile(r"\[bookmark:[^\]]*\]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def decode_text(data: bytes) -> str:
    """Decode a text filing, detecting UTF-8, UTF-16 or GB18030 (never assumed)."""
    if not data.strip():
        raise ReadError("empty file")
    encoding = text_encoding(data)
    try:
        return _checked(data.decode(encoding))
    except UnicodeDecodeError as err:
        raise ReadError(f"not a text file (bad {encoding})") from err


def text_encoding(data: bytes) -> str:
    """The codec of a text filing: its BOM's, UTF-16 told by its NULs, else UTF-8 or
    GB18030, whichever decodes it; ReadError when none does."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return encoding
    if _looks_utf16(data):
        encoding = "utf-16-le" if data[1::2].count(0) > data[0::2].count(0) else "utf-16-be"
        try:
            data.decode(encoding)
            return encoding
        except UnicodeDecodeError:
            pass  # NULs by chance: try the others
    for encoding in ("utf-8", "gb18030"):
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    raise ReadError("not a text file (neither UTF-8, UTF-16 nor GB18030)")


def _looks_utf16(data: bytes) -> bool:
    """UTF-16 without a BOM: NULs, nearly all in odd or all in even positions.

    UTF-8 and GB18030 text has no NUL at all; in UTF-16 every ASCII character
    (line breaks, tabs, digits) brings one. Chinese-heavy text has few of them
    (one line break per 20–40 characters), so a few NULs are enough.
    """
    sample = data[:4096]
    zeros = sample.count(0)
    if zeros < max(2, len(sample) // 200):
        return False
    odd, even = sample[1::2].count(0), sample[0::2].count(0)
    return max(odd, even) > 0.75 * zeros  # CJK characters U+xx00 put some on the other side


def _checked(text: str) -> str:
    """Reject decoded junk: binary files decode as GB18030 more often than one hopes."""
    sample = text[:20000]
    if not sample.strip():
        raise ReadError("empty file")
    control = len(_CONTROL.findall(sample))
    odd = sum(1 for ch in sample if 0xE000 <= ord(ch) <= 0xF8FF or ch == "\ufffd")
    if (control + odd) > 0.02 * len(sample):
        raise ReadError("not a text file (binary content)")
    if not any("\u4e00" <= ch <= "\u9fff" or ch.isalnum() for ch in sample):
        raise ReadError("not a text file (no readable text)")
    return text


def read_text(path: Path) -> RawDocument:
    """Read a .txt filing into paragraphs and tables."""
    text = decode_text(path.read_bytes())
    return RawDocument(source=str(path), blocks=text_to_blocks(text))


# A converter that wrapped a cell's text left a space where the line broke ("产出 指标",
# "服务对象 满意度指 标"); Chinese puts no space between characters, so it goes.
# A space before the next item of a list ("…人员 目标3：…", "… 二是…") is kept.
_WRAP_GAP = re.compile(
    r"(?<=[\u4e00-\u9fff，、；：]) (?=[\u4e00-\u9fff])(?!目标\d|[一二三四五六七八九十]+[、是])"
)


_ALIGN_GAP = re.compile(r"(?<=\S) {2,}(?=\S)")


def text_to_blocks(text: str) -> list[Block]:
    """Split decoded text into paragraphs and tables by its layout."""
    # \r\n, \n, and the old Mac \r alone all end a line
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [_BOOKMARK.sub("", line) for line in text.replace("\u3000", " ").split("\n")]
    if sum(1 for line in lines if line.startswith("\t")) >= 5 and _cell_per_line(lines):
        return _cells_per_line_blocks(lines)
    if sum(1 for line in lines if "\t" in line.strip("\t ")) >= 5:
        return _tab_row_blocks(lines)
    if _aligned_with_spaces(lines):
        return _tab_row_blocks([_ALIGN_GAP.sub("\t", line.strip()) for line in lines])
    return wrapped.wrapped_blocks(lines)


def _aligned_with_spaces(lines: list[str]) -> bool:
    """Columns lined up with runs of spaces (``pdftotext -layout``, a typed table): the
    indicator heading is spread that way, and so are a fifth of the lines."""
    aligned = [line for line in lines if _ALIGN_GAP.search(line.strip())]
    heading = any("一级指标" in line and "二级指标" in line for line in aligned)
    return heading and len(aligned) >= 0.2 * sum(1 for line in lines if line.strip())


def _cell_per_line(lines: list[str]) -> bool:
    """True when tab-indented lines hold one cell each (no tab inside the line)."""
    indented = [line for line in lines if line.startswith("\t")]
    inner_tabs = sum(1 for line in indented if "\t" in line[1:].strip())
    return inner_tabs < 0.1 * len(indented)


def _tab_row_blocks(lines: list[str]) -> list[Block]:
    """Tab-separated layout: consecutive lines with tabs form one table."""
    blocks: list[Block] = []
    rows: list[list[str]] = []
    for line in lines:
        if "\t" in line.strip(" "):
            rows.append([cell.strip() for cell in line.split("\t")])
            continue
        if not line.strip() and rows:
            continue  # a blank line inside a table run does not end it
        if rows:
            blocks.append(_unwrapped_table(rows))
            rows = []
        if line.strip():
            blocks.append(Paragraph(text=line.strip()))
    if rows:
        blocks.append(_unwrapped_table(rows))
    return blocks


def _unwrapped_table(rows: list[list[str]]) -> Table:
    """A table whose cells are read without a converter's wrap spaces, kept as filed
    too: a space in a target value ("同比 下降 5 %") may be the author's."""
    filed = _trim_rows(rows)
    unwrapped = [[_WRAP_GAP.sub("", cell) for cell in row] for row in filed]
    return Table(rows=unwrapped, as_filed=filed)


def _cells_per_line_blocks(lines: list[str]) -> list[Block]:
    """One-cell-per-line layout: a row is a run of tab-indented lines."""
    blocks: list[Block] = []
    rows: list[list[str]] = []
    row: list[str] = []

    def end_row() -> None:
        nonlocal row
        if row and any(cell.strip() for cell in row):
            rows.append([cell.strip() for cell in row])
        row = []

    def end_table() -> None:
        nonlocal rows
        end_row()
        if rows:
            blocks.append(Table(rows=rows))
        rows = []

    for line in lines:
        if line.startswith("\t"):
            row.append(line[1:])
        elif not line.strip():
            end_row()
        elif row and _continues_cell(line):
            row[-1] += line.strip()  # a cell wrapped onto a line of its own
        else:
            end_table()
            blocks.append(Paragraph(text=line.strip()))
    end_table()
    return blocks


def _continues_cell(line: str) -> bool:
    """A tab-less line inside a row continues the cell when it is short, not a heading."""
    text = line.strip()
    return len(text) <= 20 and not re.match(r"^(附件|[一二三四五六七八九十]+、|\d+[、.．])", text)


def _trim_rows(rows: list[list[str]]) -> list[list[str]]:
    """Drop trailing empty cells so row widths reflect content."""
    out = []
    for row in rows:
        while row and not row[-1]:
            row = row[:-1]
        out.append(row)
    return out

"""Narrative text (部门整体绩效目标, 工作保障措施 …) as heading-path + paragraph sections.

PDF exports break prose into lines of the page width; paragraphs are rebuilt by
joining lines until one ends a sentence short of the full width, or the next
starts an enumerated item. A DOCX says where its paragraphs end: each is a
passage of its own, unless it stops mid-sentence at the full width (a line that a
conversion from PDF made a paragraph).
"""

from __future__ import annotations

import re

from indexer.model import Paragraph, Section
from indexer.readers.cells import join_lines

# Heading levels, outermost first: 第一部分 › 一、 › （一） › 1.
_HEADING_LEVELS = (
    re.compile(r"^第[一二三四五六七八九十]+部分"),
    re.compile(r"^[一二三四五六七八九十]+[、.．]"),
    re.compile(r"^[（(][一二三四五六七八九十]+[）)]"),
)
_ITEM = re.compile(r"^(\d{1,2}[、.．]+|[（(]\d{1,2}[）)]|[①②③④⑤⑥⑦⑧⑨⑩])")
_PAGE_NUMBER = re.compile(r"^[-—\s]*\d{1,3}[-—\s]*$")
_TOC_LINE = re.compile(r"\.{4,}|…{2,}")
_SENTENCE_END = ("。", "！", "？", "；", "”", "：")


def heading_level(line: str, width: int = 0, bare_titles: bool = True) -> int | None:
    """0-based heading level of ``line``, or None for body text.

    ``width`` is the longest line of the text: a line that long is the first
    line of a wrapped paragraph, whatever it starts with. ``bare_titles``: whether a
    short unnumbered line may be a heading (not where the author's styles say which
    lines are headings).
    """
    text = line.strip()
    if not text or len(text) > 40 or (width and len(text) >= 0.85 * width):
        return None
    for level, pattern in enumerate(_HEADING_LEVELS):
        if pattern.match(text):
            # "一、坚持……，统筹……" is a heading; a long sentence after "一、" is body text.
            return level if not text.endswith("。") or len(text) <= 30 else None
    if bare_titles and len(text) <= 16 and not re.search(r"[，。；：:,.%\d\n]", text):
        return 1  # a bare title line such as "部门整体绩效目标"
    return None


def sections_from_paragraphs(
    paragraphs: list[Paragraph],
    restarts: set[int] | frozenset[int] = frozenset(),
    ends_document: bool = False,
) -> list[Section]:
    """Group lines under their heading path and rebuild the paragraphs.

    ``restarts`` are the indices of paragraphs that follow a table: the heading path
    starts over there (prose after a table is not under the heading before it).
    ``ends_document``: no table follows the last paragraph, so if it reads as a heading
    it heads nothing and is kept as text (before a table, such a line is the table's).
    """
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    lines: list[tuple[str, bool]] = []  # (text, whether a whole paragraph)
    page: int | None = None
    width = _page_width([len(p.text.strip()) for p in paragraphs])
    # a document whose author styled its headings says which lines are headings
    styled = any(p.outline is not None for p in paragraphs)

    def flush() -> None:
        nonlocal lines
        heading = " › ".join(text for _, text in path) or None  # not stated: null
        for text in _join_lines(lines, width):
            sections.append(Section(heading=heading, text=text, page=page))
        lines = []

    for index, paragraph in enumerate(paragraphs):
        if index in restarts:
            flush()
            path = []
        text = paragraph.text.strip()
        if not text or _PAGE_NUMBER.match(text) or _TOC_LINE.search(text):
            continue
        level = _level(paragraph, width, styled)
        if level is None:
            if not lines:
                page = paragraph.page
            lines.append((text, paragraph.whole))
            continue
        flush()
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, join_lines(text.splitlines())))  # a soft break is no newline
        if ends_document and index == len(paragraphs) - 1:
            lines.append((path.pop()[1], paragraph.whole))
            page = paragraph.page
    flush()
    return sections


def _level(paragraph: Paragraph, width: int, styled: bool) -> int | None:
    """The heading level of a paragraph, or None for body text."""
    text = paragraph.text.strip()
    if paragraph.outline is None:
        return heading_level(text, width, bare_titles=not styled)
    level = heading_level(text, width)  # a styled heading nests by its numbering
    return 1 if level is None else level


def _page_width(lengths: list[int]) -> int:
    """The usual length of a full line: the 90th percentile of the longer lines."""
    long_lines = sorted(n for n in lengths if n >= 10)
    return long_lines[int(0.9 * (len(long_lines) - 1))] if long_lines else 0


def _join_lines(lines: list[tuple[str, bool]], width: int) -> list[str]:
    """Rebuild paragraphs from page-width lines and whole paragraphs."""
    paragraphs: list[str] = []
    current = ""
    previous = ("", False)
    for line, whole in lines:
        if current and (_ITEM.match(line) or _ends_paragraph(*previous, width)):
            paragraphs.append(current)
            current = ""
        current += line
        previous = (line, whole)
    if current:
        paragraphs.append(current)
    return paragraphs


def _ends_paragraph(line: str, whole: bool, width: int) -> bool:
    """A line ends its paragraph when it closes a sentence well short of the page width;
    a whole paragraph does unless it runs to the full width without closing one."""
    closes = line.endswith(_SENTENCE_END)
    short = not width or len(line) < 0.9 * width  # no full lines: none is full width
    return closes or short if whole else closes and short

"""Recover tables from PDF text exports whose cells wrap over several lines.

Such text has no tabs: a table row comes out cell after cell, each cell broken
into lines of its column's width ("受援人员数" / "量"), several short cells
sometimes sharing a line ("质量指标 调解成功率"). Two facts make it readable:

* a cell's lines are all "full" (the column's width) except its last, and
* level labels (产出指标, 社会效益指标 …) are a known vocabulary that starts rows.

Column widths differ per table, so they are learned: the widths chosen are those
under which the text parses with the fewest contradictions (a line wider than
its column, a row cut short).  Header blocks (项目名称 …, 绩效目标 …) become
label/value rows, and everything else stays prose.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import product

from indexer import labels
from indexer.model import Block, Paragraph, Table

_PAGE_NUMBER = re.compile(r"^\s*[-—]?\s*\d{1,3}\s*[-—]?\s*$")
_PROJECT_TITLE = re.compile(r"^\s*\d{1,2}\s*[.、．].*(绩效目标表|绩\s*$)|^\s*绩效目标表\s*$")
# Lines that end a wrapped header value: the next label of the header block.
_HEADER_STOP = re.compile(
    r"^(预算规模|资金用途|其中|资金支出|划（|划\(|其他资金|\d+\s*月底|单位[：:])"
)
_WRAPPING_FIELDS = {"code", "name", "goal", "purpose"}
# Notes and sign-offs after a table end it: read as rows they would skew the column
# widths learnt for the whole table.
_AFTER_TABLE = re.compile(
    r"^(填报说明|填表说明|说明[:：]|注[:：]|备注[:：]|联系人|联系电话|填报人|审核人|"
    r"单位负责人|财务负责人|填报日期)"
)
_SPLIT_SPACE = re.compile(r"\s+")
_OPERATOR = "≥≤≧≦<>=＞＜＝"


def char_width(ch: str) -> float:
    """Display width in CJK cells: ASCII letters and digits take half a cell."""
    return 0.5 if ord(ch) < 0x2000 and ch not in _OPERATOR else 1.0


def text_width(text: str) -> float:
    return sum(char_width(ch) for ch in text if not ch.isspace())


def wrapped_blocks(lines: list[str]) -> list[Block]:
    """Blocks from tab-less text: prose, header blocks and wrapped indicator tables."""
    content = [line.strip() for line in lines if line.strip()]
    blocks: list[Block] = []
    index = 0
    while index < len(content):
        line = content[index]
        words = line.split()
        cut = labels.heading_start(words) if _starts_header_block(line) else 0
        if cut:
            # "项目名称 法律援助经费 一级指标 二级指标 …": a header row and the table's
            # heading on one line; read them as two
            content[index : index + 1] = [" ".join(words[:cut]), " ".join(words[cut:])]
            continue
        if _starts_header_block(line):
            rows, index = _header_block(content, index)
            blocks.append(Table(rows=rows))
        elif labels.is_indicator_header(words):
            table, index = _indicator_table(content, index)
            blocks.append(table)
        elif _org_unit_line(line):
            # "315001 临西县司法局本级 单位：万元": the implementing unit and the money unit.
            org, _, unit = line.partition("单位")
            blocks.append(Table(rows=[[org.strip(), "单位" + unit]]))
            index += 1
        else:
            blocks.append(Paragraph(text=line))
            index += 1
    return blocks


def _starts_header_block(line: str) -> bool:
    first = line.split()[0] if line.split() else ""
    return labels.project_field(first) in {"code", "name"}


def _header_block(content: list[str], index: int) -> tuple[list[list[str]], int]:
    """Label/value rows of a project header, up to the indicator heading row."""
    rows: list[list[str]] = []
    wrapping = code = False
    while index < len(content):
        line = content[index]
        parts = line.split(maxsplit=1)
        if labels.is_indicator_header(line.split()):
            break
        fld = labels.project_field(parts[0]) if parts else None
        if fld is not None:
            rows.append([parts[0], parts[1] if len(parts) > 1 else ""])
            wrapping = fld in _WRAPPING_FIELDS
            code = fld == "code"
        elif code and re.fullmatch(r"[0-9A-Za-z]{1,6}", line):
            rows[-1][1] += line  # a code's last characters wrapped ("…1013" / "36")
        elif wrapping and not _HEADER_STOP.match(line) and not _PAGE_NUMBER.match(line):
            rows[-1][1] += line
        else:
            wrapping = False
            rows.append(line.split())
        index += 1
    return rows, index


# -- indicator tables -------------------------------------------------------


@dataclass
class _Fragment:
    text: str
    width: float
    line: int


@dataclass
class _Row:
    level1: str = ""
    level2: str = ""
    cells: list[list[_Fragment]] = field(default_factory=list)
    labelled: bool = False  # the row began with level labels of its own

    def texts(self) -> list[str]:
        return ["".join(f.text for f in cell) for cell in self.cells]


def _indicator_table(content: list[str], index: int) -> tuple[Table, int]:
    """Read one wrapped indicator table starting at its heading line."""
    heading = content[index].split()
    index += 1
    continuation: list[str] = []
    # The last heading cell often wraps ("指标值确定" / "依据") onto lines of its own.
    while index < len(content) and not _is_label_start(content, index) and len(content[index]) <= 6:
        continuation.append(content[index])
        index += 1
    if continuation:
        heading.append("".join(continuation))
    body: list[str] = []
    while index < len(content):
        line = content[index]
        if (
            _PROJECT_TITLE.match(line)
            or _starts_header_block(line)
            or _org_unit_line(line)
            or _AFTER_TABLE.match(line)
        ):
            break
        if labels.is_indicator_header(line.split()):
            # A heading repeated at the top of a new page, with its wrapped tail.
            index += 1
            for piece in continuation:
                if index < len(content) and content[index] == piece:
                    index += 1
            continue
        if not _PAGE_NUMBER.match(line):
            body.append(line)
        index += 1
    roles = [labels.column_role(h) for h in heading]
    rows = parse_wrapped_rows(
        body, free_columns=sum(1 for r in roles if r not in ("level1", "level2"))
    )
    table_rows = [heading]
    for row in rows:
        table_rows.append([row.level1, row.level2, *row.texts()])
    return Table(rows=table_rows), index


def _org_unit_line(line: str) -> bool:
    """ "315001 临西县司法局本级 单位：万元" opens the next project's header."""
    return bool(re.match(r"^\d{3,9}\s*\S+.*单位[：:]", line))


def _is_label_start(content: list[str], index: int) -> bool:
    return labels.is_level_label(content[index].split()[0]) or _label_prefix(content[index])


def _label_prefix(text: str) -> bool:
    return any(label.startswith(text) for label in _LABELS)


_LABELS = sorted(
    set(
        labels.LEVEL1
        + labels.LEVEL2
        + ("效果指标", "经济效益", "社会效益", "生态效益", "可持续影响")
    ),
    key=len,
    reverse=True,
)


def fragments(lines: list[str]) -> list[_Fragment]:
    """Split lines into cell fragments: a space between cells splits, one inside a cell not."""
    out: list[_Fragment] = []
    for number, line in enumerate(lines):
        pieces = _SPLIT_SPACE.split(line.strip())
        current = pieces[0]
        for piece in pieces[1:]:
            if _separates_cells(current, piece):
                out.append(_Fragment(current, text_width(current), number))
                current = piece
            else:
                current = f"{current} {piece}"
        out.append(_Fragment(current, text_width(current), number))
    return out


def _separates_cells(left: str, right: str) -> bool:
    """pdfminer puts spaces between digits and CJK inside a cell; cells end in CJK or ')'."""
    last, first = left[-1], right[0]
    left_ends_cell = _is_cjk(last) or last in ")）%％"
    right_starts_cell = _is_cjk(first) or first in _OPERATOR
    return left_ends_cell and right_starts_cell and left not in _OPERATOR


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def parse_wrapped_rows(lines: list[str], free_columns: int) -> list[_Row]:
    """Rows of a wrapped table, with column widths learned from the text itself."""
    frags = fragments(lines)
    if not frags or free_columns <= 0:
        return []
    labels_at = [_take_labels(frags, i) for i in range(len(frags) + 1)]
    counts = Counter(f.width for f in frags if f.width >= 2)
    candidates = sorted(width for width, n in counts.items() if n >= 2) or sorted(counts)
    # Exhaustive over the widths seen more than once: few enough (about 10^4
    # combinations for four columns) and, unlike a local search, never stuck.
    best = min(
        product(candidates, repeat=free_columns),
        key=lambda widths: (_parse(frags, list(widths), labels_at)[1], widths),
    )
    rows = _parse(frags, list(best), labels_at)[0]
    anchors = _repeated_last_cells(frags, rows)
    if any(anchors):
        rows = _parse(frags, list(best), labels_at, anchors)[0]
    return rows


def _repeated_last_cells(frags: list[_Fragment], rows: list[_Row]) -> list[bool]:
    """Where the text that fills most rows' last cell begins ("临西办字〔2019〕28 号").

    A value whose last line happens to be full would otherwise swallow the first
    line of that basis cell; a repeated last cell is a boundary worth knowing.
    """
    anchors = [False] * (len(frags) + 1)
    lasts = Counter(row.texts()[-1] for row in rows if row.cells and row.cells[-1])
    if not lasts:
        return anchors
    text, count = lasts.most_common(1)[0]
    if count < 3 or count < 0.5 * len(rows) or len(text) < 2:
        return anchors
    for start in range(len(frags)):
        joined = ""
        for frag in frags[start:]:
            joined += frag.text
            if not text.startswith(joined):
                break
            if joined == text:
                anchors[start] = True
                break
    return anchors


_NO_LINE_START = "，。、；：？！）》」』”’%"


def _is_full(frag: _Fragment, nxt: _Fragment | None, width: float) -> bool:
    """A fragment fills its column, so its cell may go on in the next fragment.

    A line may stop one character short when the next would begin with
    punctuation that may not start a line ("…执行到" / "位，无…").
    """
    # Half-width characters leave a line short of the edge for no reason but the
    # next character's width, so a line is full only when it truly reaches it.
    if frag.width >= width - (0.25 if frag.width % 1 else 0.5):
        return True
    return (
        nxt is not None
        and frag.width >= width - 1.5
        and any(ch in _NO_LINE_START for ch in nxt.text[:2])
    )


def _take_labels(frags: list[_Fragment], index: int) -> tuple[list[str], int]:
    """Level labels starting at ``index`` (a label may itself wrap over fragments)."""
    found: list[str] = []
    while index < len(frags):
        text, end = "", index
        match_end = None
        while end < len(frags) and _label_prefix(text + frags[end].text):
            text += frags[end].text
            end += 1
            if text in _LABELS:
                match_end = end
        if match_end is None:
            break
        found.append("".join(f.text for f in frags[index:match_end]))
        index = match_end
    return found, index


def _parse(
    frags: list[_Fragment],
    widths: list[float],
    labels_at: list[tuple[list[str], int]],
    anchors: list[bool] | None = None,
) -> tuple[list[_Row], int]:
    """Assign fragments to cells under ``widths``; returns rows and a contradiction count."""
    rows: list[_Row] = []
    cost = 0
    level1 = level2 = ""
    row: _Row | None = None
    column = 0
    index = 0
    columns = len(widths)
    while index < len(frags):
        found, after = labels_at[index]
        if found:
            if row is not None:
                cost += _close_early(rows, row, widths)
            level1, level2 = _assign_levels(found, level1, level2)
            row = _Row(level1, level2, [[] for _ in range(columns)], labelled=True)
            rows.append(row)
            column, index = 0, after
            continue
        if row is None:
            row = _Row(level1, level2, [[] for _ in range(columns)])
            rows.append(row)
            column = 0
        if anchors is not None and anchors[index] and 0 < column < columns - 1:
            # The repeated last cell starts here: the cells in between were swallowed.
            column = columns - 1
            _borrow_for_empty_cells(row)
        frag = frags[index]
        width = widths[column]
        if frag.width > width + 0.5:
            cost += 1
        row.cells[column].append(frag)
        nxt = frags[index + 1] if index + 1 < len(frags) else None
        if (
            not _is_full(frag, nxt, width)
            or nxt is None
            or nxt.line == frag.line
            or nxt.width > width + 0.5
            or labels_at[index + 1][0]
            or (anchors is not None and anchors[index + 1] and column == columns - 2)
        ):
            column += 1
        index += 1
        if column >= columns:
            row = None
    if row is not None:
        cost += _close_early(rows, row, widths)
    return rows, cost


def _borrow_for_empty_cells(row: _Row) -> None:
    """Give an empty cell the last line of the cell before it, which had taken it."""
    for column in range(1, len(row.cells) - 1):
        if not row.cells[column] and len(row.cells[column - 1]) >= 2:
            row.cells[column].append(row.cells[column - 1].pop())


def _close_early(rows: list[_Row], row: _Row, widths: list[float]) -> int:
    """A row cut short by the next labels (or the table's end); returns its cost.

    An unlabelled short row right after a complete one is the tail of that row
    spilled over a page break (after the repeated heading): its text goes back to
    the previous row's cell that was left full, i.e. still wrapping.
    """
    if all(row.cells):
        return 0
    if not row.labelled and len(rows) >= 2 and rows[-1] is row:
        previous = rows[-2]
        spill = [frag for cell in row.cells for frag in cell]
        full = [
            i for i, cell in enumerate(previous.cells) if cell and cell[-1].width >= widths[i] - 0.5
        ]
        target = full[0] if full else len(previous.cells) - 1
        previous.cells[target].extend(spill)
        rows.pop()
    return 1


def _assign_levels(found: list[str], level1: str, level2: str) -> tuple[str, str]:
    """Which of the labels found is the first level and which the second."""
    if len(found) >= 2:
        return found[0], found[1]
    label = found[0]
    only_first = labels.canonical_level2(label) is None or label.replace(" ", "") in (
        "产出指标",
        "效益指标",
        "效果指标",
        "满意度指标",
    )
    if only_first and labels.canonical_level1(label):
        return label, ""
    return level1, label

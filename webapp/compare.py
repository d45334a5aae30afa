"""The compare view: indicators as rows, grouped by unit, with statistics and a chart.

A row's *number* is the value its target states: the number of ``=``, the lower
bound of ``>=``/``>``, the upper bound of ``<=``/``<``, the middle of a range; a
target that is not numeric has none and is left out of the statistics and chart.

Rows are grouped by their *comparable* unit (:mod:`indexer.units`: 2.5万元 and 3000元
are one group in 元, 元/场次 and 元/次 one in 元/次), and the statistics, chart and
number sort use the values brought to it; each row keeps the filing's own value
text, unit and numbers. A target stated as a change against a baseline (同比下降5%)
is a group of its own per direction, never averaged with levels (满意度≥95%).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from indexer.units import Comparable, comparable_unit, denoised, scaled

COLUMNS = (
    ("region", "地区"),
    ("year", "年度"),
    ("filer", "填报单位"),
    ("project", "项目"),
    ("level2", "二级指标"),
    ("indicator", "三级指标"),
    ("value", "指标值（原文）"),
    ("op", "符号"),
    ("low", "下限"),
    ("high", "上限"),
    ("unit", "单位"),
)
SORT_KEYS = tuple(key for key, _ in COLUMNS) + ("number",)
# numeric columns sort by their values in the group's comparable unit: 1.2亿元 after 3千元
COMPARABLE_SORT_KEYS = {
    "number": "number_comparable",
    "low": "low_comparable",
    "high": "high_comparable",
}
# the page's table: the columns above, then the number in the group's comparable unit
TABLE_COLUMNS = COLUMNS + (("number", "可比值"),)
# what the exports add after the table's columns (appended, so older readers keep working)
EXTRA_COLUMNS = (
    "level1", "description", "adcode", "province", "city", "county", "project_code",
    "amount_wan", "unit_comparable", "low_comparable", "high_comparable",
    "number_comparable", "change",
)  # fmt: skip
NO_UNIT = "（无单位）"
# how Chinese writes large numbers on a chart's axis, the largest first
CN_SCALES = ((1e8, "亿"), (1e4, "万"))
# a group of changes against a baseline is labelled with its direction
CHANGE_LABELS = {"increase": "增幅", "decrease": "降幅"}


@dataclass
class Row:
    """One indicator as the compare table shows it."""

    id: str
    doc_id: str
    region: str
    year: int | None
    filer: str
    project: str
    level2: str
    indicator: str
    value: str
    op: str
    low: float | None
    high: float | None
    unit: str
    # not columns of the table: what the exports add for researchers
    level1: str | None = None
    description: str | None = None
    adcode: str | None = None
    province: str | None = None
    city: str | None = None
    county: str | None = None
    project_code: str | None = None
    amount_wan: float | None = None
    change: str | None = None  # "increase" / "decrease": the target is a change (同比下降5%)

    @property
    def number(self) -> float | None:
        """The value the target states (see the module docstring)."""
        if self.op in ("=", ">=", ">"):
            return self.low
        if self.op in ("<=", "<"):
            return self.high
        if self.op == "range" and self.low is not None and self.high is not None:
            return denoised((self.low + self.high) / 2)
        return None

    @cached_property
    def comparable(self) -> Comparable:
        """The unit this row is compared in, and the factor from the filing's unit to it."""
        return comparable_unit(self.unit)

    @property
    def unit_comparable(self) -> str:
        """The unit the row is compared in (``元`` for 万元); empty when it has none."""
        return self.comparable.unit or ""

    @property
    def low_comparable(self) -> float | None:
        """:attr:`low` in the comparable unit."""
        return scaled(self.low, self.comparable.factor)

    @property
    def high_comparable(self) -> float | None:
        """:attr:`high` in the comparable unit."""
        return scaled(self.high, self.comparable.factor)

    @property
    def number_comparable(self) -> float | None:
        """:attr:`number` in the comparable unit: what statistics, chart and sort use."""
        return scaled(self.number, self.comparable.factor)

    @property
    def group(self) -> tuple[str, str]:
        """(comparable unit, change or ""): rows of one group are one scale."""
        return (self.unit_comparable or NO_UNIT, self.change or "")

    @property
    def place(self) -> str:
        """The most specific name of the region (临武县 for 湖南省 郴州市 临武县)."""
        return self.region.split(" ")[-1] if self.region else ""

    @property
    def above(self) -> str:
        """The regions above :attr:`place` (湖南省 郴州市 for 湖南省 郴州市 临武县)."""
        return " ".join(self.region.split(" ")[:-1]) if self.region else ""


def row_from_hit(hit: dict) -> Row:
    """A compare row from an indicator hit (``jixiao search --json`` shape)."""
    doc = hit["doc"]
    indicator = hit.get("indicator") or {}
    project = hit.get("project") or {}
    region = " ".join(
        dict.fromkeys(x for x in (doc.get("province"), doc.get("city"), doc.get("county")) if x)
    )
    return Row(
        id=hit["id"],
        doc_id=doc["id"],
        region=region,
        year=doc.get("year"),
        filer=doc.get("department") or "",
        project=project.get("name") or "",
        level2=indicator.get("level2") or "",
        indicator=indicator.get("name") or "",
        value=indicator.get("value") or "",
        op=indicator.get("op") or "",
        low=indicator.get("low"),
        high=indicator.get("high"),
        unit=indicator.get("unit") or "",
        level1=indicator.get("level1"),
        description=indicator.get("description"),
        adcode=doc.get("adcode"),
        province=doc.get("province"),
        city=doc.get("city"),
        county=doc.get("county"),
        project_code=project.get("code"),
        amount_wan=project.get("amount_wan"),
        change=indicator.get("change"),
    )


def sort_rows(rows: list[Row], key: str) -> list[Row]:
    """Rows sorted by a column (``-column`` for descending); empty values always last."""
    descending = key.startswith("-")
    name = key.removeprefix("-")
    if name not in SORT_KEYS:
        return rows

    def value(row: Row) -> object:
        return getattr(row, name)

    present = [r for r in rows if value(r) not in (None, "")]
    missing = [r for r in rows if value(r) in (None, "")]
    sign = -1 if descending else 1
    if name in COMPARABLE_SORT_KEYS:
        # numbers compare within a group only: 98 % and 350 元 are not one scale; within
        # one, 0.3万元 is 3000 元
        comparable = COMPARABLE_SORT_KEYS[name]
        present.sort(key=lambda r: (r.group, sign * getattr(r, comparable), r.region, r.year or 0))
    elif name == "value":
        # targets as written sort by the number they state (≤2 before ≤16.5; 0.3万元
        # after 2500元), then the ones stating none by their text
        stated = [r for r in present if r.number is not None]
        stated.sort(key=lambda r: (sign * r.number_comparable, r.value, r.region, r.year or 0))  # type: ignore[operator]
        textual = [r for r in present if r.number is None]
        textual.sort(key=lambda r: (r.value, r.region, r.year or 0), reverse=descending)
        present = stated + textual
    else:
        present.sort(key=lambda r: (value(r), r.region, r.year or 0), reverse=descending)
    return present + missing


@dataclass
class Point:
    """A dot of the chart, in SVG coordinates."""

    x: float
    y: float
    title: str


@dataclass
class Chart:
    """Values of one group by region and year: categories on x, the comparable number on y."""

    width: int
    height: int
    left: int
    bottom: int
    categories: list[tuple[float, str]]  # (x, label)
    ticks: list[tuple[float, str]]  # (y, label)
    points: list[Point]


@dataclass
class UnitGroup:
    """The rows of one comparable unit (and change direction) with their statistics."""

    unit: str
    change: str = ""
    rows: list[Row] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The unit, with the direction for changes: ``%（降幅）``."""
        return f"{self.unit}（{CHANGE_LABELS[self.change]}）" if self.change else self.unit

    @property
    def numbers(self) -> list[float]:
        """The rows' numbers in the comparable unit."""
        return [r.number_comparable for r in self.rows if r.number_comparable is not None]

    @property
    def minimum(self) -> float | None:
        return min(self.numbers, default=None)

    @property
    def median(self) -> float | None:
        numbers = self.numbers
        return statistics.median(numbers) if numbers else None

    @property
    def maximum(self) -> float | None:
        return max(self.numbers, default=None)

    def chart(self) -> Chart | None:
        """The chart of this group, or None when fewer than two values are numeric."""
        return make_chart(self.rows) if len(self.numbers) >= 2 else None


def table(rows: Iterable[Row], sort: str) -> list[UnitGroup]:
    """The compare table: rows sorted by ``sort`` (ranking order when empty), grouped by
    unit. The page and its exports list rows in this one order."""
    rows = list(rows)
    return group_by_unit(sort_rows(rows, sort) if sort else rows)


@dataclass
class ShownGroup:
    """A unit group and the rows of it the table shows (statistics cover all its rows)."""

    group: UnitGroup
    rows: list[Row]


def first_rows(groups: list[UnitGroup], limit: int) -> list[ShownGroup]:
    """The groups with the first ``limit`` rows of the table's order (the export's
    order) shared out in it: later groups may show none of their rows."""
    shown: list[ShownGroup] = []
    left = limit
    for group in groups:
        shown.append(ShownGroup(group, group.rows[: max(left, 0)]))
        left -= len(group.rows)
    return shown


def group_by_unit(rows: Iterable[Row]) -> list[UnitGroup]:
    """Groups by comparable unit and change, the largest first (rows without a unit last)."""
    groups: dict[tuple[str, str], UnitGroup] = {}
    for row in rows:
        groups.setdefault(row.group, UnitGroup(*row.group)).rows.append(row)
    return sorted(
        groups.values(), key=lambda g: (g.unit == NO_UNIT, -len(g.rows), g.unit, g.change)
    )


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) covering ``low``–``high``."""
    if low == high:  # one value: an axis from zero to it (never below zero for costs)
        low, high = (min(0.0, low), max(0.0, high)) if low else (0.0, 1.0)
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks = [start]
    while ticks[-1] < high - 1e-9:
        ticks.append(ticks[-1] + step)
    return [round(t, 10) for t in ticks]


def make_chart(rows: list[Row], width: int = 560, height: int = 240) -> Chart:
    """Dots of each row's comparable number, one column per region and year."""
    left, right, top, bottom = 56, 16, 12, 64
    numbered = [r for r in rows if r.number_comparable is not None]
    # a column per region and year: the whole region, not its last name (鼓楼区 is in
    # 南京市 and in 福州市)
    keys = {(r.region, r.year) for r in numbered}
    names = _column_labels(keys)
    labels = sorted(keys, key=lambda k: (names[k], k[0]))
    values = [r.number_comparable for r in numbered if r.number_comparable is not None]
    tick_values = nice_ticks(min(values), max(values))
    low, high = tick_values[0], tick_values[-1]
    plot_w = width - left - right
    plot_h = height - top - bottom
    step = plot_w / max(len(labels), 1)
    x_of = {key: left + step * (i + 0.5) for i, key in enumerate(labels)}

    def y_of(value: float) -> float:
        return round(top + plot_h * (1 - (value - low) / (high - low)), 1)

    ticks = [(y_of(t), tick_label(t)) for t in tick_values]
    # rows of one column with the same number are one dot (titled with how many): the
    # chart covers every row, and thousands of repeated targets would be as many circles
    same: dict[tuple[str, float], list[Row]] = {}
    for r in numbered:
        same.setdefault(((r.region, r.year), r.number_comparable), []).append(r)  # type: ignore[arg-type]
    points = [
        Point(round(x_of[category], 1), y_of(number), _dot_title(rows_at))
        for (category, number), rows_at in same.items()
    ]
    categories = [(round(x_of[key], 1), names[key]) for key in labels]
    return Chart(width, height, left, height - bottom, categories, ticks, points)


def _dot_title(rows: list[Row]) -> str:
    first = rows[0]
    title = f"{first.region} {first.year or ''} · {first.filer} · {first.indicator}：{first.value}"
    return title if len(rows) == 1 else f"{title}（同值共 {len(rows)} 条）"


def _column_labels(keys: set[tuple[str, int | None]]) -> dict[tuple[str, int | None], str]:
    """``鼓楼区 2023`` for each (region, year); ``南京市鼓楼区 2023`` where the last name
    alone would label two regions alike."""

    def short(region: str, year: int | None, depth: int) -> str:
        parts = region.split(" ")[-depth:] if region else ["?"]
        return f"{''.join(parts)} {year or ''}".strip()

    labels = {key: short(*key, 1) for key in keys}
    clashing = Counter(labels.values())
    for key, label in labels.items():
        if clashing[label] > 1:
            labels[key] = short(*key, 2)
    return labels


def tick_label(value: float) -> str:
    """A tick as budgets write amounts: digits below 1万 (2500, as the table shows
    numbers), then 万 and 亿 (2.5万, 5000万, 1.5亿), never 5e+07."""
    for scale, word in CN_SCALES:
        if abs(value) >= scale:
            return f"{denoised(value / scale):.12g}{word}"
    return f"{denoised(value):.12g}"

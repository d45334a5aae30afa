"""Read the target value (指标值) of a performance indicator into op / low / high / unit.

The contract is in ``shared/notes/interfaces.md``: ``op`` is one of ``>=``, ``<=``,
``>``, ``<``, ``=``, ``range`` or ``None``; ``>=``/``>`` fill ``low`` only, ``<=``/``<``
fill ``high`` only, ``=`` fills both with the same number and ``range`` fills both
ends. ``unit`` is what follows the number (spaces removed, 百分比 → ``%``, 每 → ``/``),
numbers are never rescaled (``82.38万元`` is 82.38 in 万元).

Everything here is pure string work; :func:`parse_target` is the only public entry.

Choices the contract leaves open (kept deliberately conservative, because a wrong
number in a search facet is worse than a missing one):

* Dates and deadlines give all-``None``: anything with a year (``2025年``), a month
  of the year (``12月``, ``1-12月``; ``6个月`` is a duration and is read), a dotted
  date (``2021.1-12``) or a time-of-year word (年底, 上旬, 月末 …), even when the
  sentence also holds a count ("年底前完成3次" is a deadline row).
* A bare number of five digits between 36526 and 54789 with no operator and no
  unit (``44,561``) is an Excel date serial (2000-01-01 … 2049-12-31) that leaked
  through a spreadsheet export; it is treated as a date, i.e. all-``None``.
* Several different numbers make a sentence ambiguous (all-``None``) unless exactly
  one of them carries an explicit comparator (≥, 不低于, 以上, an ``=`` or a range),
  which is then taken as the target.
* ``100余人`` / ``100多人`` read as ``>`` 100 人; ``约`` and ``左右`` are ignored.
* Chinese numerals are converted (via ``cn2an``) only where they clearly count
  something: after 百分之, before a known unit or 以上/以下, or as the whole value;
  idioms such as 一次性, 一站式, 十分 are left alone.
* A target stated as a change against a baseline (同比, 环比, 较上年, 比上年, 较去年,
  与上年相比 … then 增长, 提高, 增加, 上升 or 下降, 减少, 降低 … directly before the
  number and its comparator) sets ``change`` to ``"increase"`` or ``"decrease"``;
  op/low/high/unit stay the size of the change as stated (同比下降5% → ``=`` 5 %,
  decrease). Without a baseline word a rate is a level: 下降率≤5% has no change.
  A change without a number (较上年增加) is not numeric and stays all-``None``.
* A minus sign (-, －, −, or a single — or –) directly before a number makes it
  negative unless it follows a number, where it joins a range (300-500, -5%~5% is
  −5 to 5). After a baseline the sign states the direction (同比-5% is a decrease
  of 5, 同比+5% an increase of 5), and a change whose stated numbers are all
  negative is the opposite change (同比增长-5% is a decrease of 5; 同比增长≥-5% a
  decrease of at most 5): a change keeps one direction per size, so the compare
  page's 增幅 / 降幅 groups hold like with like. A rate without a baseline is a
  level and keeps its sign (增长率-3% is −3).
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, replace
from typing import NamedTuple

import cn2an

__all__ = ["Target", "parse_target"]


@dataclass(frozen=True)
class Target:
    """A target value read into a comparison: ``op`` applied to ``low``/``high`` in ``unit``;
    ``change`` is ``"increase"``/``"decrease"`` when that is the size of a change against
    a baseline (同比下降5%), else None (a level)."""

    op: str | None = None
    low: float | None = None
    high: float | None = None
    unit: str | None = None
    change: str | None = None


EMPTY = Target()

# ---------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------

# Comparators written before the number. Matched longest first so that 不低于 wins
# over 低于 and ">=" over "=".
_PREFIX_WORDS = {
    ">=": "≥ ⩾ ≧ >= => ≮ 大于等于 大于或等于 不低于 不少于 不小于 不短于 至少 最少 最低",
    "<=": "≤ ⩽ ≦ <= =< ≯ 小于等于 小于或等于 不高于 不超过 不多于 不大于 不长于 至多 最多 "
    "最高 控制在",
    ">": "> 大于 高于 超过 多于",
    "<": "< 小于 低于 少于",
    "=": "= 等于",
}
_PREFIX_OPS: dict[str, str] = {w: op for op, words in _PREFIX_WORDS.items() for w in words.split()}
_PREFIX = "|".join(re.escape(k) for k in sorted(_PREFIX_OPS, key=len, reverse=True))
_PREFIX_RE = re.compile(f"(?:{_PREFIX})$")

# A change against a baseline written before the number: the baseline, the direction,
# then at most a rate word, a verb and a comparator ("同比增长不低于10%", "较上年下降率
# 为5%"). Nothing else may stand between them and the number, so "同比增长的人数达到
# 100人" stays a level.
_BASELINE = r"(?:同比|环比|(?:较|比|与)(?:上一?|去)(?:年度?|期)(?:同期)?(?:相比)?)"
_DIRECTION_WORDS = {
    "increase": "增长 提高 增加 上升 提升 增多",
    "decrease": "下降 减少 降低 减低 下滑 压减",
}
_DIRECTIONS = {w: d for d, words in _DIRECTION_WORDS.items() for w in words.split()}
# A minus sign, or a dash standing for one (a hyphen-like character folds to "-" in
# _normalise); a sign after a baseline may also be a plus (同比+5%).
_MINUS = "—–-"  # the hyphen last: these go into character classes
_CHANGE_RE = re.compile(
    rf"{_BASELINE}(?:分别)?(?:(?P<w>{'|'.join(_DIRECTIONS)})(?:率|幅度?)?)?(?:为|达到?|在)?约?"
    rf"(?:{_PREFIX})?(?P<sign>[+{_MINUS}])?$"
)
# What a minus must not follow to be one: a number (300-500 is a range) or another
# dash (—— is a Chinese dash, not a sign).
_NOT_BEFORE_MINUS = re.compile(rf"[\d.%‰{_MINUS}]$")
_MIRRORED_OPS = {">=": "<=", "<=": ">=", ">": "<", "<": ">", "=": "=", "range": "range"}
_OPPOSITE = {"increase": "decrease", "decrease": "increase"}

# Comparators written after the number and its unit ("10场次以上", "0.25%以下").
# A bare 内 counts only at a clause end ("15日内", "3日内办结"), not in 内容 or 内部.
_SUFFIX_RE = re.compile(r"(?:及|或|\(含\))?(?P<w>以上|以下|以内|之内|内(?=$|[,;。、)完办结]))")
_SUFFIX_OPS = {"以上": ">=", "以下": "<=", "以内": "<=", "之内": "<=", "内": "<="}

# Measure words that may follow a number. Longest first so 人次 wins over 人 and
# 个月 over 个. A unit may be compounded with / or 每 ("元/人/年", "元每人每月").
# fmt: off
_BASE_UNITS = [
    # money, share
    "元", "角", "分", "%", "‰", "个百分点", "百分点", "倍",
    # people and events
    "人", "人次", "人日", "名", "位", "户", "户次", "次", "场", "场次", "件", "件次",
    "期", "期次", "批", "批次", "班", "班次", "轮", "宗", "起", "单", "笔", "案", "例",
    # time spans (a month of the year is a date, see _DATE_RES)
    "个月", "个工作日", "工作日", "月", "日", "天", "周", "年", "季度", "小时", "分钟",
    "秒", "课时", "学时", "岁",
    # things and places
    "个", "家", "所", "台", "套", "份", "册", "本", "篇", "项", "条", "处", "张", "辆",
    "座", "间", "栋", "幢", "块", "部", "支", "副", "把", "双", "只", "头", "棵", "株",
    "种", "类", "村", "镇", "乡", "社区", "卷", "床", "网点",
    # measures
    "亩", "公顷", "平方米", "平米", "立方米", "米", "千米", "公里", "厘米", "吨", "公斤",
    "千克", "克", "升", "度", "摄氏度", "千瓦时",
]
# fmt: on
_UNIT_WORD = (
    r"(?:千万|百万|万|亿|千)?(?:"
    + "|".join(re.escape(u) for u in sorted(_BASE_UNITS, key=len, reverse=True))
    + ")"
)
# A compound unit joins its parts with / 每 or · ("元/人·年", "元/(人·年)"); a Latin part
# may carry ² ³ ("kg/人", "元/m²").
UNIT_PART = rf"(?:{_UNIT_WORD}|[A-Za-z]+[²³]?)"
_UNIT_RE = re.compile(
    rf"{UNIT_PART}(?:(?:/|每|[·•・.]){UNIT_PART}|/\({UNIT_PART}(?:[·•・.]{UNIT_PART})*\))*"
)
_LATIN_UNIT_RE = re.compile(r"[A-Za-z]+(?:/[A-Za-z]+)*")
# A short word standing alone after the number at the end of the value ("≥5 栋" where
# the word is not in the list): read verbatim, as the contract says "what follows".
_TRAILING_WORD_RE = re.compile(r"[^\W\d_]{1,4}")
_TRAILER_RE = re.compile(r"(?:左右|之间|为宜)?[。.;,]*$")

# An Arabic number: thousands separators (only the ASCII comma, see _normalise) and
# decimals.
# "1e5" is an exponent, not 1 with the unit "e"
_NUMBER_RE = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?(?:[eE][+-]?\d+(?![A-Za-z]))?")
# the second end may carry its own minus sign: -5~-3
_RANGE_SEP_RE = re.compile(r"(?:-+|[—–―]+|[~〜]|至|到)(?P<minus>-)?")
_APPROX_MORE_RE = re.compile(r"[余多]")  # "100余人", "10多次": more than the number

# Chinese numerals. 点 only inside a run (三点五).
_CN_DIGITS = "零〇一二两三四五六七八九十百千万亿"
_CN_RUN_RE = re.compile(rf"[{_CN_DIGITS}](?:[{_CN_DIGITS}点]*[{_CN_DIGITS}])?")
_PERCENT_WORD_RE = re.compile(rf"百分之(?P<n>\d+(?:\.\d+)?|[{_CN_DIGITS}点]+)")
# Set phrases where a numeral is not a count; converting them would invent numbers.
_CN_IDIOM_RE = re.compile(
    r"^(?:一次性|一站式|一条龙|一揽子|十分|一把手|一件事|一张网|一张图|一盘棋|一门式|"
    r"一体|[一两](?:户|人|案|村|事|对|企|岗|校|车)一)"
)

# Dates and deadlines. A month is a digit directly before 月 (so 6个月 stays a duration).
_DATE_RES = (
    re.compile(r"\d{4}年"),
    re.compile(r"\d月"),
    re.compile(r"(?<!\d)(?:19|20)\d{2}[./](?:0?[1-9]|1[0-2])(?=$|[-./~至—–月])"),
    re.compile(r"\d{4}-\d{1,2}-\d{1,2}"),
    re.compile(r"^(?:19|20)\d{2}[-~至—–](?:19|20)\d{2}$"),  # a span of years, "2021-2023"
    re.compile(r"\d日前|\d号"),
    re.compile(r"第\d+季度|Q[1-4]\b"),
    re.compile(r"年底|年末|年初|年中|月底|月末|月初|上旬|中旬|下旬|上半年|下半年"),
)
_FW_THOUSANDS_RE = re.compile(r"(?<=[0-9０-９])，(?=[0-9０-９]{3}(?![0-9０-９]))")
_EXCEL_SERIAL_RE = re.compile(r"\d{2},?\d{3}(?:\.\d+)?")
_EXCEL_SERIAL_SPAN = (36526, 54789)  # 2000-01-01 … 2049-12-31 in Excel's 1900 system


# ---------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------


def _normalise(text: str) -> str:
    """Fold width variants and spacing so the readers below see one spelling.

    A full-width comma is a clause break in Chinese prose, so it is swapped for 、
    first (NFKC would make it an ASCII comma, and an ASCII comma between digits is
    read as a thousands separator), unless it sits inside a number ("１，２００").
    """
    s = _FW_THOUSANDS_RE.sub(",", text).replace("，", "、")
    # NFKC would make m² "m2", a number of its own
    s = unicodedata.normalize("NFKC", s.replace("²", "\0sq").replace("³", "\0cu"))
    s = s.replace("\0sq", "²").replace("\0cu", "³")
    s = re.sub("[−‐]", "-", s)  # the minus sign and hyphens NFKC leaves alone
    s = re.sub(r"\s+", "", s)
    return s.replace("百分比", "%")


def _cn_number(run: str) -> str | None:
    """Convert a Chinese numeral run to Arabic text, or ``None`` if it is not a number."""
    try:
        value = cn2an.cn2an(run, "smart")
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return _format_number(float(value))


def _format_number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def _counts_something(after: str, before: str) -> bool:
    """Whether a numeral is followed by a unit / 以上 or preceded by a comparator."""
    return bool(_UNIT_RE.match(after) or _SUFFIX_RE.match(after) or _PREFIX_RE.search(before))


def _replace_cn_numerals(s: str) -> str:
    """Rewrite Chinese numerals that count something as Arabic numbers.

    "百分之九十五" → "95%", "两次" → "2次", "十万元" → "10万元" (a trailing 万/亿 stays
    with the unit, the same as for "10万元"). Numerals inside words (一般, 进一步,
    十四五规划) are left alone because nothing countable follows them.
    """

    def percent(m: re.Match[str]) -> str:
        n = m["n"]
        num = n if n[0].isdigit() else _cn_number(n)
        return m[0] if num is None else num + "%"

    s = _PERCENT_WORD_RE.sub(percent, s)
    out: list[str] = []
    pos = 0
    for m in _CN_RUN_RE.finditer(s):
        run, before, after = m[0], s[: m.start()], s[m.end() :]
        # A numeral glued to Arabic digits is a multiplier inside a unit ("10万元").
        if before[-1:].isdigit() or _CN_IDIOM_RE.match(s[m.start() :]):
            continue
        replacement: str | None = None
        if run == s:
            replacement = _cn_number(run)
        elif len(run) > 1 and run[-1] in "万亿" and _counts_something(run[-1] + after, before):
            core = _cn_number(run[:-1])
            replacement = None if core is None else core + run[-1]
        elif _counts_something(after, before):
            replacement = _cn_number(run)
        if replacement is not None:
            out.append(s[pos : m.start()])
            out.append(replacement)
            pos = m.end()
    out.append(s[pos:])
    return "".join(out)


# ---------------------------------------------------------------------------
# Guards
# ---------------------------------------------------------------------------


def _looks_like_date(s: str) -> bool:
    """Whether the value is (or contains) a date or deadline rather than an amount."""
    return any(r.search(s) for r in _DATE_RES)


def _is_excel_serial(s: str) -> bool:
    """Whether the whole value is a bare Excel date serial such as ``44,561``."""
    if not _EXCEL_SERIAL_RE.fullmatch(s):
        return False
    low, high = _EXCEL_SERIAL_SPAN
    return low <= float(s.replace(",", "")) <= high


# ---------------------------------------------------------------------------
# Reading numbers
# ---------------------------------------------------------------------------


class _Reading(NamedTuple):
    """One number found in the value, with whether a comparator explicitly governs it."""

    target: Target
    governed: bool
    end: int


def _to_float(num: str) -> float:
    return float(num.replace(",", ""))


def _read_unit(s: str, pos: int) -> tuple[str | None, int]:
    """Read the unit starting at ``pos``; return it (or ``None``) and the position after it."""
    rest = s[pos:]
    m = _UNIT_RE.match(rest) or _LATIN_UNIT_RE.match(rest)
    if m:
        # one spelling per unit, so the compare page groups them: 元/人•年 is 元/人·年
        return re.sub(r"[•・.]", "·", m[0].replace("每", "/")), pos + m.end()
    if _SUFFIX_RE.match(rest) or _TRAILER_RE.fullmatch(rest):
        return None, pos  # "10以上", "100左右": no unit, and 以上 is not one
    # An unlisted word standing alone at the end ("≥3 栋", "≥5 栋以上"): take it
    # verbatim, shortest first so a trailing 以上 / 左右 is left for the caller.
    m = _TRAILING_WORD_RE.match(rest)
    for size in range(1, len(m[0]) + 1 if m else 0):
        tail = rest[size:]
        if not tail or _SUFFIX_RE.match(tail) or _TRAILER_RE.fullmatch(tail):
            return rest[:size], pos + size
    return None, pos


def _prefix_op(s: str, start: int) -> str | None:
    m = _PREFIX_RE.search(s, 0, start)
    return _PREFIX_OPS[m[0]] if m else None


def _suffix_op(s: str, pos: int) -> tuple[str | None, int]:
    m = _SUFFIX_RE.match(s, pos)
    return (_SUFFIX_OPS[m["w"]], m.end()) if m else (None, pos)


def _fill(op: str, value: float, unit: str | None) -> Target:
    """Build a one-sided or exact target following the contract's fill rules."""
    if op in (">=", ">"):
        return Target(op, value, None, unit)
    if op in ("<=", "<"):
        return Target(op, None, value, unit)
    return Target("=", value, value, unit)


def _read_range(s: str, first: float, unit1: str | None, pos: int) -> _Reading | None:
    """Read "300-500元/人次" / "90%至95%" when a separator and a second number follow
    the first number (``first``, its sign applied)."""
    sep = _RANGE_SEP_RE.match(s, pos)
    if not sep:
        return None
    m2 = _NUMBER_RE.match(s, sep.end())
    if not m2:
        return None
    unit2, end = _read_unit(s, m2.end())
    if unit1 and unit2 and unit1 != unit2:
        return None  # "1万-5000元": the ends are in different units, not a plain range
    second = -_to_float(m2[0]) if sep["minus"] else _to_float(m2[0])
    low, high = sorted((first, second))
    if not math.isfinite(high):
        return None
    return _Reading(Target("range", low, high, unit2 or unit1), True, end)


def _has_minus(s: str, start: int) -> bool:
    """Whether the number whose digits start at ``start`` has a minus sign before it."""
    return start > 0 and s[start - 1] in _MINUS and not _NOT_BEFORE_MINUS.search(s, 0, start - 1)


def _change(s: str, start: int) -> str | None:
    """``"increase"``/``"decrease"`` when the number whose digits start at ``start`` is a
    change against a baseline written just before it (see the module docstring), else
    None. A sign without a direction word (同比-5%) states a signed increase, which
    :func:`_one_direction` turns into a decrease when negative."""
    m = _CHANGE_RE.search(s, 0, start)
    if not m:
        return None
    if m["w"]:
        return _DIRECTIONS[m["w"]]
    return "increase" if m["sign"] else None


def _one_direction(target: Target) -> Target:
    """A change whose stated numbers are all negative as the opposite change of their
    sizes (an increase of -5 is a decrease of 5); anything else unchanged."""
    stated = [n for n in (target.low, target.high) if n is not None]
    if target.change is None or not stated or max(stated) >= 0:
        return target
    low, high = (None if n is None else -n for n in (target.high, target.low))
    op = _MIRRORED_OPS[target.op or "="]
    return Target(op, low, high, target.unit, _OPPOSITE[target.change])


def _read_number(s: str, m: re.Match[str]) -> _Reading | None:
    """Read the number matched by ``m`` with its comparator, unit and change.

    Returns ``None`` when a prefix and a suffix comparator contradict each other
    ("≥10以下"), which makes the whole value unreliable.
    """
    start = m.start()
    value = _to_float(m[0])
    if not math.isfinite(value):
        return None  # "≥999…9" past a float's range: no usable number (JSON has no Infinity)
    change = _change(s, start)
    if _has_minus(s, start):
        start -= 1
        value = -value
    pos = m.end()
    approx = _APPROX_MORE_RE.match(s, pos)
    if approx:
        pos = approx.end()
    unit, pos = _read_unit(s, pos)
    if not approx:
        ranged = _read_range(s, value, unit, pos)
        if ranged:
            target = _one_direction(replace(ranged.target, change=change))
            return ranged._replace(target=target)
    before = _prefix_op(s, start)
    after, pos = _suffix_op(s, pos)
    if before and after and before != after:
        return None
    op = before or after or (">" if approx else "=")
    target = _one_direction(replace(_fill(op, value, unit), change=change))
    return _Reading(target, bool(before or after), pos)


def _readings(s: str) -> list[_Reading] | None:
    """Every number in ``s`` read in order; ``None`` if any reading is contradictory."""
    found: list[_Reading] = []
    pos = 0
    while True:
        m = _NUMBER_RE.search(s, pos)
        if not m:
            return found
        reading = _read_number(s, m)
        if reading is None:
            return None
        found.append(reading)
        pos = max(reading.end, m.end())


def _choose(readings: list[_Reading]) -> Target:
    """Pick the one target a value states, or ``EMPTY`` when it is ambiguous."""
    distinct = {r.target for r in readings}
    if len(distinct) == 1:
        return distinct.pop()
    governed = {r.target for r in readings if r.governed}
    if len(governed) == 1:
        return governed.pop()
    return EMPTY


def parse_target(text: str | None) -> Target:
    """Read an indicator's target value (指标值) into a :class:`Target`.

    >>> parse_target("≥95%")
    Target(op='>=', low=95.0, high=None, unit='%')
    >>> parse_target("300-500元/人次")
    Target(op='range', low=300.0, high=500.0, unit='元/人次')
    >>> parse_target("有效促进")
    Target(op=None, low=None, high=None, unit=None)
    """
    if not text:
        return EMPTY
    s = _replace_cn_numerals(_normalise(text))
    if not s or _looks_like_date(s) or _is_excel_serial(s):
        return EMPTY
    readings = _readings(s)
    if not readings:
        return EMPTY
    return _choose(readings)

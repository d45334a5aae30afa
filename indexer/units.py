"""One spelling and scale per unit, so targets of different filings compare.

A filing's unit is kept as written everywhere (``jixiao parse`` never rescales);
this module only says how to bring a value to a *comparable* unit: ``2.5万元``
is 25000 元, ``元/场次`` is ``元/次``. The table is small and explicit on purpose: a
wrong conversion would put unlike values in one statistic, a missing one only
leaves two groups apart.

* Money scales (``MONEY_SCALES``): 元, 千元, 万元, 百万元, 千万元, 亿元 → 元 times the
  scale, alone or inside a compound unit (``万元/人`` → ``元/人`` × 10000; in the
  denominator the scale divides: ``人/万元`` → ``人/元`` × 0.0001).
* Spellings of one thing (``SPELLINGS``): 场 and 场次 are 次 (an event counted),
  百分点 is 个百分点, 天 is 日, 平米 is 平方米, 公斤 is 千克, 公里 is 千米. Counts that
  mean something else stay apart: 人次 is not 人, 户次 not 户, 件次 not 件.
* A compound unit is written ``numerator/denominator/denominator`` (``元/人·年``,
  ``元/(人·年)`` and ``元/人/年`` are all ``元/人/年``; parts before the first ``/``
  multiply, ``人·年``).
* Anything else (an unlisted word, a Latin unit, 万人, ‰) stays itself, factor 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from indexer.targets import UNIT_PART

__all__ = ["MONEY_SCALES", "SPELLINGS", "Comparable", "comparable_unit", "denoised", "scaled"]

MONEY_SCALES = {"元": 1.0, "千元": 1e3, "万元": 1e4, "百万元": 1e6, "千万元": 1e7, "亿元": 1e8}
SPELLINGS = {
    "场": "次",
    "场次": "次",
    "百分点": "个百分点",
    "天": "日",
    "平米": "平方米",
    "公斤": "千克",
    "公里": "千米",
}
_PART_RE = re.compile(UNIT_PART)
_DENOMINATOR_SEPARATORS = re.compile(r"[/·()]")


@dataclass(frozen=True)
class Comparable:
    """A unit values are compared in, and what a value in the original unit is multiplied by."""

    unit: str | None
    factor: float = 1.0


def _part(word: str) -> tuple[str, float]:
    """One part of a unit in its comparable spelling, with its scale."""
    if word in MONEY_SCALES:
        return "元", MONEY_SCALES[word]
    return SPELLINGS.get(word, word), 1.0


def comparable_unit(unit: str | None) -> Comparable:
    """The comparable form of a unit as the target reader writes it (see the module doc).

    >>> comparable_unit("万元/人")
    Comparable(unit='元/人', factor=10000.0)
    >>> comparable_unit("人次")
    Comparable(unit='人次', factor=1.0)
    """
    if not unit:
        return Comparable(unit)
    head, slash, tail = unit.partition("/")
    numerator = head.split("·")
    denominator = [p for p in _DENOMINATOR_SEPARATORS.split(tail) if p]
    if slash and not denominator:
        return Comparable(unit)
    if not all(_PART_RE.fullmatch(p) for p in numerator + denominator):
        return Comparable(unit)  # not a unit the reader builds from its words: as written
    factor = 1.0
    top: list[str] = []
    for word in numerator:
        spelled, scale = _part(word)
        top.append(spelled)
        factor *= scale
    bottom: list[str] = []
    for word in denominator:
        spelled, scale = _part(word)
        bottom.append(spelled)
        factor /= scale
    return Comparable("/".join(["·".join(top), *bottom]), factor)


def denoised(value: float) -> float:
    """``value`` to 12 significant digits: arithmetic on decimals written in a filing
    leaves float noise past them ((0.29 + 0.57) / 2 is 0.42999999999999994)."""
    return float(f"{value:.12g}")


def scaled(value: float | None, factor: float) -> float | None:
    """``value`` times ``factor``, without float noise (82.38 × 10000 is 823800, not
    823799.9999999999); None stays None."""
    if value is None:
        return None
    return denoised(value * factor)

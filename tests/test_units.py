"""indexer.units: the comparable form of a unit, from its small explicit table."""

from __future__ import annotations

import pytest

from indexer.targets import parse_target
from indexer.units import Comparable, comparable_unit, scaled


@pytest.mark.parametrize(
    ("unit", "canonical", "factor"),
    [
        # money scales, alone and inside compound units
        ("元", "元", 1),
        ("千元", "元", 1e3),
        ("万元", "元", 1e4),
        ("亿元", "元", 1e8),
        ("万元/人", "元/人", 1e4),
        ("万元/人/年", "元/人/年", 1e4),
        ("人/万元", "人/元", 1e-4),  # in the denominator the scale divides
        # events counted, however spelled, alone and inside compound units
        ("次", "次", 1),
        ("场", "次", 1),
        ("场次", "次", 1),
        ("元/场次", "元/次", 1),
        ("元/场", "元/次", 1),
        ("万元/场次", "元/次", 1e4),
        # one spelling of a compound unit
        ("元/人·年", "元/人/年", 1),
        ("元/(人·年)", "元/人/年", 1),
        ("元/人/年", "元/人/年", 1),
        # exact synonyms
        ("百分点", "个百分点", 1),
        ("天", "日", 1),
        ("元/人/天", "元/人/日", 1),
        ("平米", "平方米", 1),
        ("公斤", "千克", 1),
        # counts of something else stay apart
        ("人次", "人次", 1),
        ("元/人次", "元/人次", 1),
        ("户次", "户次", 1),
        ("件次", "件次", 1),
        ("人", "人", 1),
        # not in the table: as written
        ("%", "%", 1),
        ("‰", "‰", 1),
        ("万人", "万人", 1),
        ("栋", "栋", 1),
        ("kg/人", "kg/人", 1),
        ("元/", "元/", 1),
        ("元/人（含）", "元/人（含）", 1),
    ],
)
def test_comparable_unit(unit: str, canonical: str, factor: float) -> None:
    got = comparable_unit(unit)
    assert got.unit == canonical
    assert got.factor == pytest.approx(factor, rel=1e-12)


@pytest.mark.parametrize("unit", [None, ""])
def test_no_unit_stays_none(unit: str | None) -> None:
    assert comparable_unit(unit) == Comparable(unit, 1.0)


def test_researchers_example_lands_in_one_unit() -> None:
    """≤350元/人 and 0.25万元/人 are both 元/人; 2500元/次 and 2500元/场次 both 元/次."""
    per_person = [parse_target(v) for v in ("≤350元/人", "0.25万元/人")]
    assert {comparable_unit(t.unit).unit for t in per_person} == {"元/人"}
    per_event = [parse_target(v) for v in ("2500元/次", "2500元/场次")]
    assert {comparable_unit(t.unit).unit for t in per_event} == {"元/次"}


def test_scaled_has_no_float_noise() -> None:
    assert scaled(82.38, 1e4) == 823800.0
    assert scaled(0.3, 1e4) == 3000.0
    assert scaled(3, 1e-4) == 0.0003
    assert scaled(None, 1e4) is None

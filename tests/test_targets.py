"""Tests for indexer.targets: reading a target value (指标值) into op / low / high / unit.

The oracle is the hand-checked gold annotation of the five sample filings, kept in
tests/gold/ (the project's own copy of shared/corpus/seeds-gold, so the suite runs
without shared/). The parametrised cases below spell out each rule of the contract
in shared/notes/interfaces.md; their expectations were written from that contract.

Gold corrections made in tests/gold/ (rows believed wrong in seeds-gold):
    none — every non-ambiguous row agrees with the contract as read here.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest

from indexer.targets import Target, parse_target

GOLD_DIR = Path(__file__).resolve().parent / "gold"
SHARED_GOLD_DIR = Path(__file__).resolve().parents[2] / "shared/corpus/seeds-gold"
MIN_RATIO = 0.98


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _same_number(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _matches(
    got: Target, op: str | None, low: float | None, high: float | None, unit: str | None
) -> bool:
    return (
        got.op == op
        and _same_number(got.low, low)
        and _same_number(got.high, high)
        and got.unit == unit
    )


def _gold_indicators(directory: Path) -> list[dict[str, Any]]:
    """Every indicator row of every gold file in ``directory``, in document order."""
    rows: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.json")):
        filing = json.loads(path.read_text(encoding="utf-8"))
        for project in filing["projects"]:
            for indicator in project["indicators"]:
                rows.append({**indicator, "_file": path.name})
    return rows


# ---------------------------------------------------------------------------
# Gold oracle
# ---------------------------------------------------------------------------


def test_gold_copy_present() -> None:
    assert len(sorted(GOLD_DIR.glob("*.json"))) == 5


@pytest.mark.skipif(not SHARED_GOLD_DIR.is_dir(), reason="shared/ corpus not present")
def test_gold_copy_tracks_shared_values() -> None:
    """The project's copy must hold the same rows and texts as the shared oracle.

    Only op/low/high/unit may differ (that is where corrections go), so a stale or
    truncated copy is caught without forbidding fixes.
    """
    ours = [(r["_file"], r.get("value")) for r in _gold_indicators(GOLD_DIR)]
    theirs = [(r["_file"], r.get("value")) for r in _gold_indicators(SHARED_GOLD_DIR)]
    assert ours == theirs


def test_gold_targets() -> None:
    rows = [r for r in _gold_indicators(GOLD_DIR) if not r.get("ambiguous")]
    assert len(rows) > 400, "gold files look truncated"
    numeric = [r for r in rows if r["op"] is not None]
    textual = [r for r in rows if r["op"] is None]
    assert numeric and textual

    misses: list[str] = []
    numeric_ok = all_ok = textual_ok = 0
    for row in rows:
        got = parse_target(row["value"])
        exact = _matches(got, row["op"], row["low"], row["high"], row["unit"])
        all_ok += exact
        if row["op"] is not None:
            numeric_ok += exact
        elif got.op is None:
            textual_ok += 1
        if not exact:
            want = (row["op"], row["low"], row["high"], row["unit"])
            misses.append(f"  {row['_file']}: {row['value']!r} want {want} got {got}")

    numeric_ratio = numeric_ok / len(numeric)
    print(
        f"\ntargets: {numeric_ok}/{len(numeric)} numeric exact ({numeric_ratio:.3f}), "
        f"{all_ok}/{len(rows)} all exact"
    )
    if misses:
        print("misses:\n" + "\n".join(misses))
    assert numeric_ratio >= MIN_RATIO
    assert textual_ok / len(textual) >= MIN_RATIO


def test_gold_rows_follow_fill_rules() -> None:
    """Whatever the parser reads must obey the contract's fill rules."""
    for row in _gold_indicators(GOLD_DIR):
        got = parse_target(row["value"])
        if got.op is None:
            assert got == Target(None, None, None, None)
        elif got.op in (">=", ">"):
            assert got.low is not None and got.high is None
        elif got.op in ("<=", "<"):
            assert got.low is None and got.high is not None
        elif got.op == "=":
            assert got.low is not None and got.low == got.high
        else:
            assert got.op == "range"
            assert got.low is not None and got.high is not None and got.low <= got.high


# ---------------------------------------------------------------------------
# Rules, one parametrised group each
# ---------------------------------------------------------------------------

N = None


@pytest.mark.parametrize(
    ("text", "op", "low", "high", "unit"),
    [
        ("≥95%", ">=", 95, N, "%"),
        ("≧95%", ">=", 95, N, "%"),
        (">=95%", ">=", 95, N, "%"),
        ("大于等于 98 %", ">=", 98, N, "%"),
        ("不低于95%", ">=", 95, N, "%"),
        ("不少于3次", ">=", 3, N, "次"),
        ("≥10人次", ">=", 10, N, "人次"),
        ("≥150 件", ">=", 150, N, "件"),
        ("≥90", ">=", 90, N, N),
        ("≤350元/人", "<=", N, 350, "元/人"),
        ("≦5%", "<=", N, 5, "%"),
        ("小于等于10天", "<=", N, 10, "天"),
        ("不高于2%", "<=", N, 2, "%"),
        ("不超过5万元", "<=", N, 5, "万元"),
        ("≤2 日", "<=", N, 2, "日"),
        ("大于5件", ">", 5, N, "件"),
        ("高于80%", ">", 80, N, "%"),
        ("超过3个", ">", 3, N, "个"),
        ("小于10%", "<", N, 10, "%"),
        ("低于2%", "<", N, 2, "%"),
        ("<3 天", "<", N, 3, "天"),
        ("=100%", "=", 100, 100, "%"),
        ("100%", "=", 100, 100, "%"),
        ("20人", "=", 20, 20, "人"),
        ("0", "=", 0, 0, N),
    ],
)
def test_comparators(
    text: str, op: str, low: float | None, high: float | None, unit: str | None
) -> None:
    assert _matches(parse_target(text), op, low, high, unit), parse_target(text)


@pytest.mark.parametrize(
    ("text", "op", "low", "high", "unit"),
    [
        ("10场次以上", ">=", 10, N, "场次"),
        ("2次以上", ">=", 2, N, "次"),
        ("90%及以上", ">=", 90, N, "%"),
        ("0.25%以下", "<=", N, 0.25, "%"),
        ("5%以内", "<=", N, 5, "%"),
        ("3个工作日内", "<=", N, 3, "个工作日"),
        ("10以上", ">=", 10, N, N),
        ("5栋以上", ">=", 5, N, "栋"),
        ("100人左右", "=", 100, 100, "人"),
    ],
)
def test_trailing_comparators(
    text: str, op: str, low: float | None, high: float | None, unit: str | None
) -> None:
    assert _matches(parse_target(text), op, low, high, unit), parse_target(text)


@pytest.mark.parametrize(
    ("text", "low", "high", "unit"),
    [
        ("300-500元/人次", 300, 500, "元/人次"),
        ("200-1000元/人", 200, 1000, "元/人"),
        ("300～500元", 300, 500, "元"),
        ("300~500元", 300, 500, "元"),
        ("300至500元", 300, 500, "元"),
        ("300—500元", 300, 500, "元"),
        ("90%-95%", 90, 95, "%"),
        ("3到5次", 3, 5, "次"),
    ],
)
def test_ranges(text: str, low: float, high: float, unit: str) -> None:
    assert _matches(parse_target(text), "range", low, high, unit), parse_target(text)


@pytest.mark.parametrize(
    ("text", "op", "low", "high", "unit"),
    [
        ("4583.33元每人每月", "=", 4583.33, 4583.33, "元/人/月"),
        ("260元/人/年", "=", 260, 260, "元/人/年"),
        ("2次每年", "=", 2, 2, "次/年"),
        ("82.38万元", "=", 82.38, 82.38, "万元"),
        ("≥ 90 百分比", ">=", 90, N, "%"),
        ("=100 百分比", "=", 100, 100, "%"),
        ("≤0.2百分比", "<=", N, 0.2, "%"),
        ("≥95％", ">=", 95, N, "%"),
        ("≥2500 平方米", ">=", 2500, N, "平方米"),
        ("≥6 个月", ">=", 6, N, "个月"),
        ("≥5 栋", ">=", 5, N, "栋"),
        # compound units, whole: the compare page groups by unit
        ("≤1500元/人·年", "<=", N, 1500, "元/人·年"),
        ("1500元/(人·年)", "=", 1500, 1500, "元/(人·年)"),
        ("20kg/人", "=", 20, 20, "kg/人"),
        ("1500元/m²", "=", 1500, 1500, "元/m²"),
        ("1500元/人.年", "=", 1500, 1500, "元/人·年"),  # one spelling, one compare group
        ("1500元/人•年", "=", 1500, 1500, "元/人·年"),
    ],
)
def test_units(text: str, op: str, low: float | None, high: float | None, unit: str | None) -> None:
    assert _matches(parse_target(text), op, low, high, unit), parse_target(text)


@pytest.mark.parametrize(
    ("text", "op", "low", "high", "unit"),
    [
        ("1,200元", "=", 1200, 1200, "元"),
        ("≥1,500,000元", ">=", 1_500_000, N, "元"),
        ("１，２００元", "=", 1200, 1200, "元"),
        ("≥９５％", ">=", 95, N, "%"),
        ("≤16.5万元", "<=", N, 16.5, "万元"),
        ("百分之九十五", "=", 95, 95, "%"),
        ("百分之九十五以上", ">=", 95, N, "%"),
        ("百分之99.5", "=", 99.5, 99.5, "%"),
        ("两次", "=", 2, 2, "次"),
        ("不少于两次", ">=", 2, N, "次"),
        ("三个月", "=", 3, 3, "个月"),
        ("十万元", "=", 10, 10, "万元"),
        ("一百二十人", "=", 120, 120, "人"),
        ("开展一次培训", "=", 1, 1, "次"),
        ("≥1e5次", ">=", 100_000, N, "次"),  # an exponent, not the unit "e"
        ("1.5E3元", "=", 1500, 1500, "元"),
    ],
)
def test_numbers(
    text: str, op: str, low: float | None, high: float | None, unit: str | None
) -> None:
    assert _matches(parse_target(text), op, low, high, unit), parse_target(text)


@pytest.mark.parametrize(
    "text",
    [
        # dates and deadlines
        "2025年年底",
        "2025年",
        "2025年年度",
        "2021年12月",
        "2021.1-12",
        "12月31日",
        "12 月上旬",
        "1-12月",
        "年底前",
        "2021年底前完成发放",
        "二〇二五年",
        "十二月三十一日",
        "第4季度",
        "2021-2023",
        # an Excel date serial leaking into the value (44561 = 2021-12-31)
        "44,561",
        "44561",
        # non-numeric targets
        "有效促进",
        "未涉及",
        "/",
        "—",
        "明显提升",
        "控制在预算内",
        "及时完成",
        "每月月末完成支付",
        "进一步提升群众满意度",
        "一次性补助发放到位",
        "十分满意",
        "一站式服务",
        # past a float's range: no usable number (JSON has no Infinity)
        "≥" + "9" * 400 + "次",
        "100-" + "9" * 400 + "元",
        "",
        "   ",
        None,
    ],
)
def test_not_numeric(text: str | None) -> None:
    assert parse_target(text) == Target(None, None, None, None)


@pytest.mark.parametrize(
    ("text", "op", "low", "high", "unit"),
    [
        ("开展普法宣传10场次以上", ">=", 10, N, "场次"),
        ("群众满意度90%以上", ">=", 90, N, "%"),
        ("满意度不低于95%", ">=", 95, N, "%"),
        ("培训人数达到500人", "=", 500, 500, "人"),
        # one explicit comparator governs a sentence with a second, incidental number
        ("≥95%（较上年提高2个百分点）", ">=", 95, N, "%"),
        ("100余人", ">", 100, N, "人"),
        ("开展10多次", ">", 10, N, "次"),
    ],
)
def test_sentences(
    text: str, op: str, low: float | None, high: float | None, unit: str | None
) -> None:
    assert _matches(parse_target(text), op, low, high, unit), parse_target(text)


@pytest.mark.parametrize(
    "text",
    [
        "开展3次培训，100人参加",  # two different numbers, neither governed
        "≥95%，≤100%",  # two governed numbers
        "≥10以下",  # contradictory comparators
        "1万-5000元",  # range ends in different units
    ],
)
def test_ambiguous(text: str) -> None:
    assert parse_target(text) == Target(None, None, None, None)


def test_repeated_number_is_not_ambiguous() -> None:
    assert _matches(parse_target("100%（100%）"), "=", 100, 100, "%")


def test_target_is_frozen() -> None:
    target = parse_target("≥95%")
    with pytest.raises(dataclasses.FrozenInstanceError):
        target.op = "="  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "op", "low", "high", "unit", "change"),
    [
        ("同比下降5%", "=", 5, 5, "%", "decrease"),
        ("较上年增长10%", "=", 10, 10, "%", "increase"),
        ("比上年提高2个百分点", "=", 2, 2, "个百分点", "increase"),
        ("同比增长不低于10%", ">=", 10, N, "%", "increase"),
        ("较上年增长10%以上", ">=", 10, N, "%", "increase"),
        ("较去年下降不超过5%", "<=", N, 5, "%", "decrease"),
        ("环比下降百分之五", "=", 5, 5, "%", "decrease"),
        ("与上年相比减少2起", "=", 2, 2, "起", "decrease"),
        ("较去年同期下降3%-5%", "range", 3, 5, "%", "decrease"),
        ("较上年度下降率为5%", "=", 5, 5, "%", "decrease"),
        # levels, not changes: no baseline, or the baseline is not about this number
        ("下降率≤5%", "<=", N, 5, "%", N),
        ("增长率≥10%", ">=", 10, N, "%", N),
        ("满意度≥95%", ">=", 95, N, "%", N),
        ("同比增长的人数达到100人", "=", 100, 100, "人", N),
        ("≥95%（较上年提高2个百分点）", ">=", 95, N, "%", N),
    ],
)
def test_changes_against_a_baseline(
    text: str, op: str, low: float | None, high: float | None, unit: str, change: str | None
) -> None:
    got = parse_target(text)
    assert _matches(got, op, low, high, unit), got
    assert got.change == change


def test_a_change_without_a_number_is_not_numeric() -> None:
    assert parse_target("人数较上年增加") == Target(None, None, None, None)


@pytest.mark.parametrize(
    ("text", "op", "low", "high", "unit", "change"),
    [
        # a level keeps its sign, whichever hyphen-like character writes it
        ("增长率-3%", "=", -3, -3, "%", N),
        ("增长率−3%", "=", -3, -3, "%", N),
        ("利润率－3%", "=", -3, -3, "%", N),
        ("—5%", "=", -5, -5, "%", N),
        ("≥-5%", ">=", -5, N, "%", N),
        # a range: the dash after a number joins, the one before the number is a sign
        ("-5%~5%", "range", -5, 5, "%", N),
        ("−5%至5%", "range", -5, 5, "%", N),
        ("-5%-5%", "range", -5, 5, "%", N),
        ("-5~-3%", "range", -5, -3, "%", N),
        ("300−500", "range", 300, 500, N, N),
        # after a baseline the sign is the direction; all-negative changes turn around
        ("同比-5%", "=", 5, 5, "%", "decrease"),
        ("同比－5%", "=", 5, 5, "%", "decrease"),
        ("同比−5%", "=", 5, 5, "%", "decrease"),
        ("同比—5%", "=", 5, 5, "%", "decrease"),
        ("同比+5%", "=", 5, 5, "%", "increase"),
        ("较上年-2个百分点", "=", 2, 2, "个百分点", "decrease"),
        ("同比增长-5%", "=", 5, 5, "%", "decrease"),
        ("同比增长不低于-5%", "<=", N, 5, "%", "decrease"),
        ("同比-3%~-5%", "range", 3, 5, "%", "decrease"),
        ("同比-5%~5%", "range", -5, 5, "%", "increase"),
        # not signs: a Chinese dash (——), and a number without a sign after a baseline
        ("——5%", "=", 5, 5, "%", N),
        ("同比5%", "=", 5, 5, "%", N),
    ],
)
def test_minus_signs(
    text: str, op: str, low: float | None, high: float | None, unit: str | None, change: str | None
) -> None:
    got = parse_target(text)
    assert _matches(got, op, low, high, unit), got
    assert got.change == change


@pytest.mark.parametrize("text", ["2021.1−12", "2021.1－12"])
def test_a_dated_span_with_a_minus_sign_is_a_date(text: str) -> None:
    assert parse_target(text) == Target(None, None, None, None)

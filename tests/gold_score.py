"""Score parsed filings against the hand-checked gold annotations (tests/gold/)."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

GOLD_DIR = Path(__file__).parent / "gold"
REPORT: list[str] = []  # score lines, printed by conftest at the end of the run
_SPACES = re.compile(r"\s+")


def load_gold(stem: str) -> dict:
    return json.loads((GOLD_DIR / f"{stem}.json").read_text(encoding="utf-8"))


def gold_stems() -> list[str]:
    return sorted(p.stem for p in GOLD_DIR.glob("*.json"))


def _norm(text: str | None) -> str:
    return _SPACES.sub("", text or "")


def row_key(indicator: dict) -> tuple[str, str, str, str]:
    """A row is right when its levels, name and target text agree (spaces aside)."""
    return (
        indicator.get("level1") or "",
        indicator.get("level2") or "",
        _norm(indicator.get("name")),
        _norm(indicator.get("value")),
    )


def _same_number(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def same_target(got: dict, want: dict) -> bool:
    return (
        got.get("op") == want.get("op")
        and _same_number(got.get("low"), want.get("low"))
        and _same_number(got.get("high"), want.get("high"))
        and (got.get("unit") or None) == (want.get("unit") or None)
    )


@dataclass
class Score:
    gold_rows: int
    parsed_rows: int
    matched: int
    numeric: int
    numeric_right: int

    @property
    def precision(self) -> float:
        return self.matched / self.parsed_rows if self.parsed_rows else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.gold_rows if self.gold_rows else 0.0

    @property
    def target_accuracy(self) -> float:
        return self.numeric_right / self.numeric if self.numeric else 1.0

    def __add__(self, other: Score) -> Score:
        return Score(*(a + b for a, b in zip(self.astuple(), other.astuple(), strict=True)))

    def astuple(self) -> tuple[int, ...]:
        return (self.gold_rows, self.parsed_rows, self.matched, self.numeric, self.numeric_right)

    def line(self, label: str) -> str:
        return (
            f"{label:<28} rows P {self.precision:.3f} R {self.recall:.3f} "
            f"({self.matched}/{self.gold_rows} gold, {self.parsed_rows} parsed)  "
            f"targets {self.numeric_right}/{self.numeric} = {self.target_accuracy:.3f}"
        )


def score_filing(parsed: dict, gold: dict) -> Score:
    """Indicator rows matched as a multiset; ambiguous gold rows are left out of both sides."""
    gold_rows = [i for p in gold["projects"] for i in p["indicators"] if not i.get("ambiguous")]
    ambiguous = Counter(
        row_key(i) for p in gold["projects"] for i in p["indicators"] if i.get("ambiguous")
    )
    parsed_rows = []
    for indicator in (i for p in parsed["projects"] for i in p["indicators"]):
        key = row_key(indicator)
        if ambiguous[key] > 0:
            ambiguous[key] -= 1
            continue
        parsed_rows.append(indicator)
    available: dict[tuple, list[dict]] = {}
    for indicator in parsed_rows:
        available.setdefault(row_key(indicator), []).append(indicator)
    matched = numeric = numeric_right = 0
    for want in gold_rows:
        candidates = available.get(row_key(want))
        got = candidates.pop(0) if candidates else None
        if got is not None:
            matched += 1
        if want.get("op") is not None:
            numeric += 1
            if got is not None and same_target(got, want):
                numeric_right += 1
    return Score(len(gold_rows), len(parsed_rows), matched, numeric, numeric_right)


def missed_rows(parsed: dict, gold: dict) -> tuple[list[tuple], list[tuple]]:
    """(gold rows not found, parsed rows not in gold): for reading failures."""
    want = Counter(
        row_key(i) for p in gold["projects"] for i in p["indicators"] if not i.get("ambiguous")
    )
    amb = Counter(
        row_key(i) for p in gold["projects"] for i in p["indicators"] if i.get("ambiguous")
    )
    got = Counter(row_key(i) for p in parsed["projects"] for i in p["indicators"])
    return list((want - got).elements()), list((got - want - amb).elements())

"""The parser scored against the hand-checked gold of all five seeds, and their renderings.

Scores are printed (run ``pytest -s`` or see the summary): rows precision and
recall, parsed targets (op/low/high/unit) on the numeric rows.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gold_score import REPORT, Score, gold_stems, load_gold, row_key, score_filing

from indexer.reading import parse_file

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(scope="module")
def parsed_seeds() -> dict[str, dict]:
    return {stem: parse_file(CORPUS / f"{stem}.txt").to_json() for stem in gold_stems()}


def _report(scores: dict[str, Score], title: str) -> Score:
    total = None
    lines = [title]
    for name, score in scores.items():
        lines.append("  " + score.line(name))
        total = score if total is None else total + score
    assert total is not None
    if len(scores) > 1:
        lines.append("  " + total.line("TOTAL"))
    print("\n".join(lines))
    REPORT.extend(lines)
    return total


def test_gold_has_every_seed() -> None:
    assert len(gold_stems()) == 5
    assert all((CORPUS / f"{stem}.txt").exists() for stem in gold_stems())


def test_indicator_rows_and_targets_match_gold(parsed_seeds: dict[str, dict]) -> None:
    scores = {stem: score_filing(parsed_seeds[stem], load_gold(stem)) for stem in gold_stems()}
    total = _report(scores, "text seeds against gold")
    assert total.precision >= 0.98
    assert total.recall >= 0.98
    assert total.target_accuracy >= 0.98
    for stem, score in scores.items():
        assert score.recall >= 0.9, f"{stem}: recall {score.recall:.3f}"


@pytest.mark.parametrize("stem", gold_stems())
def test_region_year_and_filer(parsed_seeds: dict[str, dict], stem: str) -> None:
    got, want = parsed_seeds[stem], load_gold(stem)
    for key in ("province", "city", "county", "adcode", "year", "department"):
        assert got[key] == want[key], f"{stem} {key}: {got[key]!r} != {want[key]!r}"


@pytest.mark.parametrize("stem", gold_stems())
def test_projects_match_gold(parsed_seeds: dict[str, dict], stem: str) -> None:
    got, want = parsed_seeds[stem]["projects"], load_gold(stem)["projects"]
    assert [p["name"] for p in got] == [p["name"] for p in want]
    assert [p["code"] for p in got] == [p["code"] for p in want]
    assert [p["amount_wan"] for p in got] == pytest.approx([p["amount_wan"] for p in want])
    assert [p["department"] for p in got] == [p["department"] for p in want]
    goals_right = sum(g["goal"] == w["goal"] for g, w in zip(got, want, strict=True))
    assert goals_right >= 0.9 * len(want)


def test_indicator_text_is_the_gold_s_character_for_character(
    parsed_seeds: dict[str, dict],
) -> None:
    """The scores above ignore spaces; what users read should not have a converter's wrap
    spaces inside words ("服务对象 满意度指 标"). Rows are paired, project by project, by
    their spaceless key."""
    fields = ("level1_raw", "level2_raw", "name", "description")
    wrong = []
    for stem in gold_stems():
        pairs = zip(parsed_seeds[stem]["projects"], load_gold(stem)["projects"], strict=True)
        for parsed, gold in pairs:
            got = {row_key(i): i for i in parsed["indicators"]}
            for want in gold["indicators"]:
                have = got.get(row_key(want))
                for field in fields if have else ():
                    if (have[field] or None) != (want[field] or None):
                        wrong.append((stem[:3], field, have[field], want[field]))
    assert wrong == []


def test_narrative_sections_have_heading_paths(parsed_seeds: dict[str, dict]) -> None:
    sections = parsed_seeds["003_5dd4e37a73cf10c8"]["sections"]
    headings = {s["heading"] for s in sections}
    assert any(h.endswith("三、工作保障措施") for h in headings)
    assert any("总体绩效目标" in h for h in headings)
    # Page-width lines of a PDF export are joined back into paragraphs.
    county = parsed_seeds["000_c108e284426fe8e6"]["sections"]
    assert any(
        s["text"].startswith("1.推进依法治县工作。") and len(s["text"]) > 100 for s in county
    )
    # Table titles and sign-offs are not narrative.
    assert not any("绩效目标表" in s["text"][-6:] for s in sections)


RENDERINGS = sorted(p for p in FIXTURES.glob("0*") if p.suffix in (".pdf", ".docx"))


def test_renderings_exist_for_two_seeds_at_least() -> None:
    stems = {p.stem for p in RENDERINGS}
    assert len(stems) >= 2
    assert {p.suffix for p in RENDERINGS} == {".pdf", ".docx"}


@pytest.mark.parametrize("path", RENDERINGS, ids=lambda p: p.name)
def test_renderings_score_against_gold(path: Path) -> None:
    parsed = parse_file(path).to_json()
    gold = load_gold(path.stem)
    score = score_filing(parsed, gold)
    _report({path.name: score}, f"{path.suffix[1:].upper()} rendering against gold")
    assert score.recall >= 0.95
    assert score.precision >= 0.95
    assert (parsed["adcode"], parsed["year"]) == (gold["adcode"], gold["year"])

"""SYNTHETIC scale corpus for benchmarks, recombined from the seeds' real rows.

    .venv/bin/python bench/synthetic_corpus.py --filings 100 [--out /tmp/jixiao-synthetic]

Everything this module makes is SYNTHETIC DATA for measuring speed and memory at
scale (``bench/scale.py``). It is never shipped as data and never indexed into a
real store: the command line writes only into the folder it is given (default
``/tmp/jixiao-synthetic``), and ``bench/scale.py`` streams the filings straight into
a throw-away store.

How a synthetic filing is made (deterministic for a given seed):

* the real filings in ``corpus/`` are parsed (``indexer.reading.parse_file``) and
  their passages cut by the real pipeline (``indexer.passages.passages_for``);
* a filer is drawn from the real region table (``indexer/data/regions.tsv``, resolved
  by :func:`indexer.regions.region_from_code`): mostly county level, some prefecture
  level; its department is ``<county or city>司法局``; the year is 2019–2026;
* every filing is labelled: its title starts with ``【合成数据】`` and its source is
  ``synthetic/000123.txt``;
* projects take a real project's name (its years moved to the filing's year), a real
  amount (rescaled), purpose and goal; indicators take a real indicator row's
  name, description and levels, and a real value of the same second-level kind;
  narrative sections are real sections;
* passages come from ``passages_for``, so tokens and fields are the real pipeline's;
  each synthetic passage records the real passage it was derived from
  (:attr:`SyntheticFiling.origins`), so a benchmark can give it a vector near that
  real passage's embedding.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from indexer.passages import doc_id_for, passages_for
from indexer.reading import parse_file
from indexer.regions import Region, region_from_code

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
LABEL = "【合成数据】"
YEARS = tuple(range(2019, 2027))
DEFAULT_OUT = Path("/tmp/jixiao-synthetic")
PASSAGES_PER_FILING = 100
_YEAR = re.compile(r"20[12]\d(?=年)")


@dataclass
class RealCorpus:
    """The seeds' real rows, and their passages in ``passages_for`` order.

    ``passages[i]`` is the i-th real passage; ``projects``, ``indicators`` and
    ``sections`` hold the rows each was cut from, with the index of that passage.
    """

    passages: list[dict] = field(default_factory=list)
    projects: list[tuple[dict, int]] = field(default_factory=list)
    indicators: list[tuple[dict, int]] = field(default_factory=list)
    sections: list[tuple[dict, int]] = field(default_factory=list)
    values_by_level2: dict[str, list[dict]] = field(default_factory=dict)


@dataclass
class SyntheticFiling:
    """One synthetic filing: parse JSON, its passages, and each passage's real origin."""

    doc_id: str
    filing: dict
    passages: list[dict]
    origins: list[int]  # origins[i]: index into RealCorpus.passages


def load_real_corpus(corpus: Path = CORPUS) -> RealCorpus:
    """Parse the seed filings and index their projects, indicators and sections."""
    real = RealCorpus()
    for path in sorted(corpus.glob("*.txt")):
        filing = parse_file(path).to_json()
        passages = passages_for(filing, doc_id_for(str(filing.get("source") or path.name)))
        cursor = len(real.passages)
        # passages_for order: each project, then its indicators; then the sections
        for project in filing.get("projects", []):
            real.projects.append((project, cursor))
            cursor += 1
            for indicator in project.get("indicators", []):
                real.indicators.append((indicator, cursor))
                cursor += 1
                key = indicator.get("level2") or ""
                if indicator.get("value"):
                    real.values_by_level2.setdefault(key, []).append(indicator)
        for section in filing.get("sections", []):
            if section.get("text"):
                real.sections.append((section, cursor))
            cursor += 1
        if cursor - len(real.passages) != len(passages):
            raise RuntimeError(f"{path}: passages_for order is not projects, indicators, sections")
        real.passages.extend(passages)
    if not real.projects or not real.indicators:
        raise RuntimeError(f"no projects or indicators parsed from {corpus}")
    return real


def filer_regions() -> list[Region]:
    """Current county- and prefecture-level divisions from the real region table."""
    text = resources.files("indexer").joinpath("data/regions.tsv").read_text(encoding="utf-8")
    regions: list[Region] = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        code, _name, successor = line.split("\t")
        if successor or code.endswith("0000"):
            continue  # former names and provinces: filers here are counties and cities
        region = region_from_code(code)
        if region is not None and (region.county or region.city):
            regions.append(region)
    return regions


def _move_years(text: str | None, year: int) -> str | None:
    """Shift the years a real name mentions so the newest becomes ``year``."""
    if not text:
        return text
    years = [int(y) for y in _YEAR.findall(text)]
    if not years:
        return text
    shift = year - max(years)
    return _YEAR.sub(lambda m: str(int(m.group()) + shift), text)


class Generator:
    """Deterministic synthetic filings: ``Generator(seed).filings(count)``."""

    def __init__(
        self,
        seed: int = 0,
        *,
        real: RealCorpus | None = None,
        passages_per_filing: int = PASSAGES_PER_FILING,
    ) -> None:
        self.seed = seed
        self.real = real or load_real_corpus()
        self.regions = filer_regions()
        self.per_filing = passages_per_filing

    def filings(self, count: int, start: int = 0) -> Iterator[SyntheticFiling]:
        """Filings number ``start`` … ``start + count - 1`` (each one reproducible alone)."""
        for number in range(start, start + count):
            yield self.filing(number)

    def filing(self, number: int, passages: int | None = None) -> SyntheticFiling:
        """Synthetic filing ``number`` with exactly ``passages`` passages (default per filing)."""
        rng = random.Random(f"{self.seed}:{number}")
        wanted = passages or self.per_filing
        real = self.real
        # one in eight filers is a prefecture-level 司法局 (like 承德市司法局)
        region = rng.choice(self.regions)
        if region.county and rng.random() < 0.125 and region.city:
            region = region_from_code(region.adcode[:4] + "00") or region
        place = region.county or region.city or region.province or ""
        year = rng.choice(YEARS)
        department = f"{place}司法局"
        source = f"synthetic/{number:06d}.txt"
        kind = rng.choice(("部门项目支出预算绩效目标表", "部门整体绩效目标", "项目支出绩效目标表"))
        sections_wanted = min(len(real.sections), rng.choice((0, 0, 1, 2, 3, 5)), wanted - 2)
        budget = wanted - max(sections_wanted, 0)
        projects: list[dict] = []
        origins: list[int] = []
        while budget > 0:
            project, origin = self._project(rng, region, year, department, budget)
            projects.append(project)
            origins.extend(origin)
            budget -= len(origin)
        sections = []
        section_origins = []
        for section, origin in rng.sample(real.sections, max(sections_wanted, 0)):
            sections.append({**section, "page": None})
            section_origins.append(origin)
        filing = {
            "source": source,
            "title": f"{LABEL}{department}{year}年{kind}",
            "province": region.province,
            "city": region.city,
            "county": region.county,
            "adcode": region.adcode,
            "year": year,
            "department": department,
            "projects": projects,
            "sections": sections,
            "low_confidence": False,
            "warnings": [],
        }
        doc_id = doc_id_for(source)
        out = passages_for(filing, doc_id)
        origins.extend(section_origins)
        if len(out) != len(origins):
            raise RuntimeError("passages and origins disagree")
        return SyntheticFiling(doc_id, filing, out, origins)

    def _project(
        self, rng: random.Random, region: Region, year: int, department: str, budget: int
    ) -> tuple[dict, list[int]]:
        """A recombined project with at most ``budget`` passages (itself + indicators)."""
        real = self.real
        base, base_origin = rng.choice(real.projects)
        amount_from, _ = rng.choice(real.projects)
        amount = amount_from.get("amount_wan")
        if amount is not None:
            amount = round(amount * rng.uniform(0.5, 2.0), 2)
        code = None
        if rng.random() < 0.6 and region.adcode:
            code = f"{region.adcode}{year}{rng.randrange(10**6):06d}"
        indicator_count = min(budget - 1, rng.randint(4, 16))
        indicators = []
        origins = [base_origin]
        for indicator, origin in rng.sample(real.indicators, indicator_count):
            indicator = {**indicator, "page": None, "low_confidence": False}
            pool = real.values_by_level2.get(indicator.get("level2") or "")
            if pool and rng.random() < 0.5:
                other = rng.choice(pool)
                for key in ("value", "op", "low", "high", "unit"):
                    indicator[key] = other.get(key)
            indicators.append(indicator)
            origins.append(origin)
        project = {
            "name": _move_years(base.get("name"), year),
            "code": code,
            "department": department,
            "amount_wan": amount,
            "period": base.get("period"),
            "goal": base.get("goal"),
            "purpose": base.get("purpose"),
            "page": None,
            "indicators": indicators,
        }
        return project, origins


def main(argv: list[str] | None = None) -> int:
    """Write ``--filings`` synthetic filings as JSON Lines into ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filings", type=int, default=100, help="how many filings to make")
    parser.add_argument("--passages-per-filing", type=int, default=PASSAGES_PER_FILING)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"folder to write (default {DEFAULT_OUT})"
    )
    args = parser.parse_args(argv)
    generator = Generator(args.seed, passages_per_filing=args.passages_per_filing)
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "filings.jsonl"
    count = 0
    with open(target, "w", encoding="utf-8") as out:
        for synthetic in generator.filings(args.filings):
            out.write(json.dumps(synthetic.filing, ensure_ascii=False) + "\n")
            count += len(synthetic.passages)
    print(
        f"wrote {args.filings} SYNTHETIC filings ({count} passages) to {target}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Parsing speed: filings per second for text, DOCX and PDF inputs.

    .venv/bin/python bench/parse_speed.py [--runs 5]

Each input kind is parsed end to end (read → split → targets → region) several
times; the table shows the median run. Text uses corpus/, DOCX and PDF the
renderings in tests/fixtures/ (the same filings as tables in real files).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from datetime import date
from pathlib import Path

from indexer.reading import parse_file

ROOT = Path(__file__).resolve().parents[1]
INPUTS = {
    "text": sorted((ROOT / "corpus").glob("*.txt")),
    "docx": sorted((ROOT / "tests" / "fixtures").glob("0*.docx")),
    "pdf": sorted((ROOT / "tests" / "fixtures").glob("0*.pdf")),
}


def time_kind(files: list[Path], runs: int) -> tuple[float, int]:
    """Median seconds to parse all ``files`` once, and the indicator rows found."""
    seconds = []
    rows = 0
    for _ in range(runs):
        start = time.perf_counter()
        rows = sum(len(p.indicators) for f in files for p in parse_file(f).projects)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for path in INPUTS["text"][:1]:
        parse_file(path)  # warm imports and the region table, not part of any run
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {len(__import__('os').sched_getaffinity(0))} cores; "
        f"{date.today()}; median of {args.runs} runs"
    )
    print("| input | filings | indicator rows | seconds (median) | filings/s | rows/s |")
    print("|---|---|---|---|---|---|")
    for kind, files in INPUTS.items():
        seconds, rows = time_kind(files, args.runs)
        print(
            f"| {kind} | {len(files)} | {rows} | {seconds:.2f} | "
            f"{len(files) / seconds:.1f} | {rows / seconds:.0f} |"
        )


if __name__ == "__main__":
    main()

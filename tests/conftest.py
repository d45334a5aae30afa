"""Shared test setup: helpers from this folder and the bench/ scripts importable, scores
printed at the end."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).parents[1] / "bench"))

import gold_score  # noqa: E402  (needs the path above)


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001 - pytest's hook signature
    """Print the parser's scores against the gold, whatever the verbosity."""
    if gold_score.REPORT:
        terminalreporter.section("parser scores against tests/gold")
        for line in gold_score.REPORT:
            terminalreporter.write_line(line)

"""Shared test setup: helpers importable from this folder, scores printed at the end."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import gold_score  # noqa: E402  (needs the path above)


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001 - pytest's hook signature
    """Print the parser's scores against the gold, whatever the verbosity."""
    if gold_score.REPORT:
        terminalreporter.section("parser scores against tests/gold")
        for line in gold_score.REPORT:
            terminalreporter.write_line(line)

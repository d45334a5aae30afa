#!/usr/bin/env bash
# Install (into .venv/) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
.venv/bin/ruff check indexer webapp tests scripts bench
.venv/bin/python -m pytest "$@"

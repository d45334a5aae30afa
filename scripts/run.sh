#!/usr/bin/env bash
# Install, build the embedding model, index corpus/ into the embedded store, try a search.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
.venv/bin/python -m indexer.e5_model models/multilingual-e5-small
.venv/bin/jixiao index corpus/ --store data/index
.venv/bin/jixiao search "社区矫正 成本指标" --store data/index --size 5

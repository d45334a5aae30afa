#!/usr/bin/env bash
# Install, build the embedding model, and read every filing in corpus/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
.venv/bin/python -m indexer.e5_model models/multilingual-e5-small
mkdir -p data
.venv/bin/jixiao parse corpus/ --json > data/corpus.jsonl
echo "parsed $(wc -l < data/corpus.jsonl) filings into data/corpus.jsonl"

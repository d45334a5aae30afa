#!/usr/bin/env bash
# Install, build the embedding model, index corpus/ into the embedded store, serve the portal.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
.venv/bin/python -m indexer.e5_model  # e5-small + the domain adapter, into models/
.venv/bin/jixiao index corpus/ --store data/index
echo "portal: http://127.0.0.1:${PORT:-8000}/"
exec .venv/bin/jixiao serve --store data/index --host 127.0.0.1 --port "${PORT:-8000}"

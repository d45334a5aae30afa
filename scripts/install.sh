#!/usr/bin/env bash
# Create .venv/ in the repo and install jixiao with everything it needs.
# Safe to re-run: what is already installed is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip

# torch first, pinned to a CPU build: sentence-transformers would otherwise pull a
# multi-GB CUDA build. Elsewhere set JIXIAO_TORCH to what suits your machine.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  .venv/bin/python -m pip install --quiet "${JIXIAO_TORCH:-torch==2.13.0}"
fi
.venv/bin/python -m pip install --quiet -e ".[test]"

# OCR for scanned PDFs is optional: install Tesseract where we may (root + apt).
if ! command -v tesseract >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing tesseract-ocr (chi_sim) for scanned PDFs…"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
     tesseract-ocr tesseract-ocr-chi-sim >/dev/null) \
    || echo "warning: could not install tesseract; scanned PDFs will be skipped with a warning"
fi

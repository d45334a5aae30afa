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

# System packages, where we may install them (root + apt): Tesseract for scanned
# PDFs (optional at run time), Debian's Chromium and CJK fonts for the browser
# tests (Playwright drives /usr/bin/chromium; it never downloads a browser).
missing=""
command -v tesseract >/dev/null 2>&1 || missing="$missing tesseract-ocr tesseract-ocr-chi-sim"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
fc-list 2>/dev/null | grep -qi "noto sans cjk" || missing="$missing fonts-noto-cjk"
if [ -n "$missing" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing:$missing"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null) \
    || echo "warning: could not install$missing (OCR / browser tests will say they are skipped)"
fi

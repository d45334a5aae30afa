"""OCR for scanned pages: Tesseract (``chi_sim``) run as a subprocess.

The command is ``tesseract`` unless the environment variable ``JIXIAO_TESSERACT`` names
another binary (tests point it at a missing one to simulate a machine without it).
"""

from __future__ import annotations

import functools
import io
import os
import re
import subprocess

from PIL import Image

from .cells import _CJK

OCR_DPI = 300  # tesseract's sweet spot for body text; 200 dpi loses small table digits
OCR_TIMEOUT_S = 120
INSTALL_HINT = "install tesseract-ocr tesseract-ocr-chi-sim to read scanned PDFs"

# Tesseract puts a space between every pair of Chinese characters it recognises.
_CJK_GAP = re.compile(rf"(?<=[{_CJK}]) +(?=[{_CJK}])")
_CJK_CHAR = re.compile(rf"[{_CJK}]")
# a page read by --psm 6 as fewer lines than this is read by --psm 4 as well
FEW_LINES = 8


def tesseract_cmd() -> str:
    """The tesseract binary to run (``$JIXIAO_TESSERACT`` or ``tesseract``)."""
    return os.environ.get("JIXIAO_TESSERACT") or "tesseract"


@functools.lru_cache(maxsize=8)
def _has_chi_sim(cmd: str) -> bool:
    try:
        out = subprocess.run(
            [cmd, "--list-langs"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    # Older versions print the list on stderr.
    langs = (out.stdout + out.stderr).split()
    return out.returncode == 0 and "chi_sim" in langs


def ocr_available() -> bool:
    """True when the tesseract command runs and has the Simplified Chinese model."""
    return _has_chi_sim(tesseract_cmd())


def ocr_page_image(image: Image.Image) -> str:
    """OCR one page image; returns text with the spaces between Chinese characters removed.

    ``--psm 6`` (one uniform block) keeps table rows on one line each, which suits these
    forms better than the automatic layout analysis; on some pages (a large title over
    a ruled table) it finds only a line or two, and ``--psm 4`` (one column of lines of
    any size) is read as well, keeping the reading with more Chinese characters.
    Raises ``RuntimeError`` on failure.
    """
    buf = io.BytesIO()
    image.convert("L").save(buf, format="PNG")
    png = buf.getvalue()
    text = _tesseract(png, "6")
    if sum(1 for line in text.splitlines() if line.strip()) < FEW_LINES:
        other = _tesseract(png, "4")
        if len(_CJK_CHAR.findall(other)) > len(_CJK_CHAR.findall(text)):
            text = other
    return "\n".join(_CJK_GAP.sub("", line).strip() for line in text.splitlines())


def _tesseract(png: bytes, psm: str) -> str:
    try:
        out = subprocess.run(
            [tesseract_cmd(), "-", "-", "-l", "chi_sim", "--psm", psm],
            input=png,
            capture_output=True,
            timeout=OCR_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise RuntimeError(f"tesseract failed: {exc}") from exc
    if out.returncode != 0:
        err = out.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(f"tesseract failed: {err[-1] if err else out.returncode}")
    return out.stdout.decode("utf-8", "replace")


def ocr_blocks(text: str) -> list[str]:
    """Split OCR output into blocks at blank lines; lines inside a block keep their breaks.

    OCR cannot tell a wrapped prose line from a table row, so line breaks are kept for the
    splitter rather than guessed away.
    """
    blocks: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        if line.strip():
            current.append(line.strip())
        elif current:
            blocks.append("\n".join(current))
            current = []
    if current:
        blocks.append("\n".join(current))
    return blocks


def describe_pages(pages: list[int]) -> str:
    """[1, 2, 3, 5] → "pages 1-3, 5"; [4] → "page 4"."""
    ranges: list[str] = []
    start = prev = None
    for n in sorted(pages):
        if prev is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            ranges.append(f"{start}-{prev}" if prev != start else str(start))
        start = prev = n
    if start is not None:
        ranges.append(f"{start}-{prev}" if prev != start else str(start))
    word = "page" if len(pages) == 1 else "pages"
    return f"{word} {', '.join(ranges)}"

"""Text clean-up shared by the PDF and DOCX readers (cell text and prose lines)."""

from __future__ import annotations

import re

# Han ideographs, CJK punctuation and full-width forms: text where a line wrap is not a space.
_CJK = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_RE = re.compile(f"[{_CJK}]")
_WORDISH_RE = re.compile(r"[0-9A-Za-z\u00c0-\u024f]")


def is_cjk(ch: str) -> bool:
    """True for a Han character or CJK/full-width punctuation."""
    return bool(_CJK_RE.match(ch))


def _glue(left: str, right: str) -> str:
    """The separator that a line wrap between ``left`` and ``right`` stood for.

    Chinese wraps anywhere without a space, so anything touching CJK joins with "".
    Two Latin words or numbers were split at a space, which the wrap swallowed.
    """
    if _WORDISH_RE.match(left[-1]) and _WORDISH_RE.match(right[0]):
        return " "
    return ""


def join_lines(lines: list[str]) -> str:
    """Join already split lines as :func:`join_wrapped` does."""
    out = ""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        out = line if not out else out + _glue(out, line) + line
    return out


def join_wrapped(text: str | None) -> str:
    """Undo line wraps inside a cell: "委托出庭参加行\\n政应诉案件数" → "…参加行政应诉…".

    Lines are trimmed; CJK joins without a separator, Latin/digits on both sides with a
    space; ``None`` (pdfplumber's merged-cell marker) becomes "".
    """
    if not text:
        return ""
    return join_lines(text.splitlines())


_DIGIT_CJK_SPACE = re.compile(
    rf"(?<=[0-9%])[ \u00a0]+(?=[{_CJK}])|(?<=[{_CJK}])[ \u00a0]+(?=[0-9])"
)


def tidy_prose(text: str) -> str:
    """Drop the spaces text extraction puts between numbers and Chinese ("2025 年" → "2025年").

    Only digit↔CJK gaps are touched: spaces between Latin words, between numbers
    ("2025 2026") and between Chinese words are left as they are, because they can be real.
    """
    return _DIGIT_CJK_SPACE.sub("", text).strip()

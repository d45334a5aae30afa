"""Chinese tokens for search: the same segmenter for documents and queries.

jieba with a domain word list (``indexer/data/domain_words.txt``) keeps terms
such as 社区矫正 and 安置帮教 whole; documents are indexed with whole words and
their parts (``cut_for_search``) so that either form of a query matches.
"""

from __future__ import annotations

import logging
import re
import threading
from functools import cache
from importlib import resources

import jieba

_DROP = re.compile(r"^[\s\W_]+$", re.UNICODE)  # punctuation and whitespace only
# Function words that carry no meaning in a query ("社区矫正的成本" ≡ "社区矫正 成本").
QUERY_STOPWORDS = frozenset(
    ["的", "了", "和", "与", "及", "或", "是", "在", "对", "为", "等", "中", "有"]
    + ["哪些", "什么", "多少", "如何", "怎么"]
)
_lock = threading.Lock()
CONTEXT_PREFIX = "ctx:"  # marks tokens from a passage's context (its project, its heading)
# A query word found only in a passage's context scores this share of its BM25: the
# passage is about something inside that context, not about the word itself.
CONTEXT_WEIGHT = 0.25
# Full-width digits, Latin letters and ％, which Chinese input methods often type:
# folded to ASCII on both sides, so ９０％ finds 90%.
_WIDTH = str.maketrans(
    {chr(c): chr(c - 0xFEE0) for c in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B)]}
    | {chr(c): chr(c - 0xFEE0) for c in [*range(0xFF41, 0xFF5B), 0xFF05]}
)


def fold_width(text: str) -> str:
    """``text`` with full-width digits, Latin letters and ％ as ASCII."""
    return text.translate(_WIDTH)


@cache
def _segmenter() -> jieba.Tokenizer:
    with _lock:
        jieba.setLogLevel(logging.WARNING)
        tokenizer = jieba.Tokenizer()
        words = resources.files("indexer").joinpath("data/domain_words.txt")
        with resources.as_file(words) as path:
            tokenizer.load_userdict(str(path))
        tokenizer.initialize()
        return tokenizer


def _keep(token: str) -> bool:
    return bool(token) and not _DROP.match(token)


def index_tokens(text: str) -> list[str]:
    """Tokens to index: whole words and every dictionary word inside them, lowercased.

    jieba's own ``cut_for_search`` adds only 2- and 3-character parts, so 社区矫正
    inside 社区矫正对象 would be lost; here every known sub-word is kept.
    """
    segmenter = _segmenter()
    out: list[str] = []
    for word in segmenter.cut(fold_width(text or ""), HMM=False):
        if not _keep(word):
            continue
        out.append(word.lower())
        for size in range(len(word) - 1, 1, -1):
            for start in range(len(word) - size + 1):
                part = word[start : start + size]
                if segmenter.FREQ.get(part):
                    out.append(part.lower())
    return out


def query_groups(query: str) -> list[list[str]]:
    """A query as AND-groups of tokens: every word the user typed must match.

    Each group lists the accepted forms of one word: in the passage's own text,
    or in its context (``ctx:`` tokens); a word the dictionary splits gives one
    group per part.
    """
    groups: list[list[str]] = []
    seen: set[str] = set()
    for term in fold_width(query or "").split():
        for token in _segmenter().cut(term, HMM=False):
            token = token.lower()
            if not _keep(token) or token in QUERY_STOPWORDS or token in seen:
                continue
            seen.add(token)
            groups.append([token, CONTEXT_PREFIX + token])
    return groups


def highlight_terms(query: str) -> list[str]:
    """The strings to mark in a hit: the query's tokens, longest first."""
    terms = {group[0] for group in query_groups(query)}
    return sorted(terms, key=len, reverse=True)


def token_weight(token: str) -> float:
    """The boost a store gives a query token: CONTEXT_WEIGHT for context tokens, else 1."""
    return CONTEXT_WEIGHT if token.startswith(CONTEXT_PREFIX) else 1.0

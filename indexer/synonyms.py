"""Query expansion from the domain glossary (``indexer/data/synonyms.txt``).

People type 出狱 where filings say 刑满释放人员, and 缓刑 where they say
社区矫正对象. The glossary, in the Solr / Elasticsearch synonym format, maps the
first to the second; :func:`expand` finds its terms in a query. Expansion runs
above the stores, so both of them get it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Glossary:
    """``rules[term]`` = the terms a query containing ``term`` also looks for."""

    rules: dict[str, tuple[str, ...]]


def parse_glossary(text: str) -> Glossary:
    """Rules from Solr-format lines: ``a, b => x, y`` (one way) or ``a, b, c`` (equivalent)."""
    rules: dict[str, list[str]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if "=>" in line:
            left, _, right = line.partition("=>")
            sources, targets = _terms(left), _terms(right)
        else:
            sources = targets = _terms(line)
        if not sources or not targets:
            raise ValueError(f"synonyms line {number}: a rule needs terms on both sides: {raw!r}")
        for source in sources:
            known = rules.setdefault(source, [])
            known.extend(t for t in targets if t != source and t not in known)
    return Glossary({term: tuple(targets) for term, targets in rules.items() if targets})


def _terms(part: str) -> list[str]:
    return [t.strip().lower() for t in part.split(",") if t.strip()]


@cache
def glossary() -> Glossary:
    """The glossary shipped with jixiao."""
    data = resources.files("indexer").joinpath("data/synonyms.txt")
    return parse_glossary(data.read_text(encoding="utf-8"))


def expand(query: str, rules: Glossary | None = None) -> list[str]:
    """Terms to look for besides the query's own, in the order the query says them.

    Where glossary terms overlap, the longest wins (出狱人员 is not also read as
    出狱); targets the query already contains are skipped.
    """
    rules = rules or glossary()
    text = (query or "").lower()
    covered = [False] * len(text)
    found: list[tuple[int, str]] = []
    for term in sorted(rules.rules, key=len, reverse=True):
        start = text.find(term)
        while start >= 0:
            end = start + len(term)
            if not any(covered[start:end]):
                covered[start:end] = [True] * len(term)
                found.append((start, term))
            start = text.find(term, end)
    out: list[str] = []
    for _, term in sorted(found):
        out.extend(t for t in rules.rules[term] if t not in out and t not in text)
    return out

"""Passage fields, read from ``mappings/passages.json``: declared once, used by every store."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

MAPPING_PATH = Path(__file__).resolve().parents[1] / "mappings" / "passages.json"


@cache
def mapping() -> dict:
    """The Elasticsearch index definition (settings + mappings)."""
    data = json.loads(MAPPING_PATH.read_text(encoding="utf-8"))
    data.pop("_comment", None)
    return data


def properties() -> dict[str, dict]:
    """Field name → its mapping."""
    return mapping()["mappings"]["properties"]


def facet_fields() -> list[str]:
    """Fields shown as facets, in display order."""
    return list(mapping()["mappings"]["_meta"]["facets"])


def filter_fields() -> list[str]:
    """Fields a search may filter on (facets plus a few exact keys)."""
    return list(mapping()["mappings"]["_meta"]["filters"])


def stored_fields() -> list[str]:
    """Every field of a passage except its vector."""
    return [name for name in properties() if name != "vector"]


def vector_dims() -> int:
    return int(properties()["vector"]["dims"])

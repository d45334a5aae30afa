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


# Most values one facet lists, most frequent first, in every store. 300: what the
# portal places per level of its region tree; at 1M passages county and department
# have ~2,800 values each, and listing 1000 cost the embedded store ~4 ms at p95.
FACET_SIZE = 300


def facet_fields() -> list[str]:
    """Fields shown as facets, in display order."""
    return list(mapping()["mappings"]["_meta"]["facets"])


def filter_fields() -> list[str]:
    """Fields a search may filter on (facets plus a few exact keys)."""
    return list(mapping()["mappings"]["_meta"]["filters"])


# Not passage fields: the passage's embedding, and its views' embeddings (base64 of
# float16 rows, kept in _source only, read back to re-score kNN candidates).
VECTOR_FIELDS = ("vector", "views")


def stored_fields() -> list[str]:
    """Every field of a passage except its vectors."""
    return [name for name in properties() if name not in VECTOR_FIELDS]


def vector_dims() -> int:
    return int(properties()["vector"]["dims"])

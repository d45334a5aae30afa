"""Whether a store's vectors can be searched with a given encoder.

Vectors of two models live in unrelated spaces: a query encoded by one model and
compared with passages encoded by another gives confident nonsense. Every filing
records the encoder of its vectors (``FilingRecord.model``), so searches can refuse
that instead of answering it.
"""

from __future__ import annotations

from collections.abc import Mapping

from indexer.store.base import StoreError


class ModelMismatch(StoreError):
    """No filing in the store was encoded by the model asked to search it."""


def check_models(models: Mapping[str, int], name: str) -> str | None:
    """Raise ModelMismatch when no filing of a store holding ``models`` was encoded by ``name``.

    Returns a warning when some filings were encoded by another model (an index run
    with another model is under way or was cut short), else None. Filings whose model
    was not recorded ("") pass: a store indexed before models were recorded.
    """
    known = sorted(m for m in models if m)
    if known and name not in known:
        raise ModelMismatch(
            f"this index was built with the embedding model {', '.join(known)}, and this "
            f"search uses {name}: their vectors cannot be compared. Search with the model "
            f"that built the index (--model or JIXIAO_MODEL), or run jixiao index again "
            f"with this one"
        )
    other = sum(n for m, n in models.items() if m and m != name)
    if other:
        return (
            f"{other} filing(s) in this index were encoded with another model: their "
            f"semantic scores mean nothing until jixiao index has run with {name}"
        )
    return None

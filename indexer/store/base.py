"""The interface every store implements; query parsing, fusion and facets live above it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from indexer.tokenize import Group


class StoreError(Exception):
    """The store is missing, corrupt or unreachable; ``str(err)`` is shown to the user."""


@dataclass(frozen=True)
class Filters:
    """field → accepted values: values of one field OR, different fields AND."""

    terms: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def matches(self, passage: dict) -> bool:
        """True when ``passage`` passes every filter (for candidates checked in Python)."""
        return all(str(passage.get(name)) in values for name, values in self.terms.items())


@dataclass
class KeywordResult:
    """Top hits by BM25, the size of the whole match set, and facet counts over it."""

    hits: list[tuple[str, float]]  # (passage id, score), best first
    total: int
    facets: dict[str, list[tuple[str, int]]]  # field → (value, count), most frequent first


@dataclass
class FilingRecord:
    """A filing as stored: identity, content hash (for idempotent re-indexing), parse JSON."""

    doc_id: str
    source: str
    content_hash: str
    filing: dict  # the ``jixiao parse --json`` object
    model: str = ""  # the encoder of its passages' vectors (Embedder.name); "" not recorded


class EncodedFiling(NamedTuple):
    """A filing ready to store: its passages, their vectors, and their views' vectors."""

    record: FilingRecord
    passages: list[dict]
    vectors: np.ndarray  # vectors[i]: passages[i]'s normalised embedding
    views: list[np.ndarray] | None = None  # views[i]: (m, dims) for passages[i]'s views


class Store(ABC):
    """Keyword search with filters and facet counts, kNN with filters, filings by id."""

    backend: str = "?"

    def rebuild(self, filings: Iterable[EncodedFiling]) -> int:
        """Replace every filing with ``filings`` in one step; returns passages loaded."""
        raise StoreError(f"the {self.backend} store cannot be rebuilt in one step")

    @abstractmethod
    def write_filing(
        self,
        record: FilingRecord,
        passages: list[dict],
        vectors: np.ndarray,
        views: list[np.ndarray] | None = None,
    ) -> None:
        """Store a filing and its passages, replacing whatever the filing had before.

        ``passages[i]`` has the fields of ``mappings/passages.json`` (no vector);
        ``vectors[i]`` is its normalised embedding, and ``views[i]`` (if given) the
        embeddings of its other views, one row each (possibly none), which only
        :meth:`view_vectors` returns: they re-score kNN candidates, not find them.
        """

    @abstractmethod
    def delete_filing(self, doc_id: str) -> None:
        """Remove a filing and all its passages (no error if absent)."""

    @abstractmethod
    def content_hashes(self) -> dict[str, str]:
        """doc_id → content hash of every stored filing."""

    @abstractmethod
    def locations(self) -> dict[str, str]:
        """doc_id → where every stored filing's file is: its ``path`` (absolute, recorded
        since pipeline 7), else its ``source`` as given at index time."""

    @abstractmethod
    def models(self) -> dict[str, int]:
        """Encoder name → number of filings whose vectors it made ("" for not recorded)."""

    @abstractmethod
    def get_filing(self, doc_id: str) -> FilingRecord | None:
        """One stored filing, or None."""

    @abstractmethod
    def get_passages(self, ids: list[str]) -> list[dict]:
        """Passages by id, in the order asked (unknown ids left out)."""

    @abstractmethod
    def keyword(
        self,
        groups: Sequence[Group],
        filters: Filters,
        size: int,
        facets: list[str],
        exclude: Sequence[Group] = (),
    ) -> KeywordResult:
        """Passages whose tokens match every group (any form of a group), filtered,
        less those matching any group of ``exclude``.

        A form is a token, a :class:`~indexer.tokenize.Phrase` (its tokens at
        consecutive positions) or an :class:`~indexer.tokenize.AllOf` (every group of
        it). An empty ``groups`` matches every passage (browsing by facets).
        """

    @abstractmethod
    def knn(self, vector: np.ndarray, filters: Filters, k: int) -> list[tuple[str, float]]:
        """The ``k`` nearest passages by cosine similarity among those passing ``filters``."""

    @abstractmethod
    def view_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        """Passage id → its views' vectors (rows), for the ids that have any."""

    @abstractmethod
    def count(self) -> int:
        """Number of passages stored."""

    @abstractmethod
    def stamp(self) -> str:
        """A value that changes whenever what searches find does (a filing written or
        deleted, by this process or another), cheap enough to ask on every page view:
        caches above the store compare it to know when to start over. Opaque."""

    def close(self) -> None:  # noqa: B027 - optional for stores holding nothing open
        """Release files and connections."""

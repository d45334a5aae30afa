"""The facet sidebar: counts per value, the region tree, chosen-filter chips, suggestions.

Counts are disjunctive: a facet with chosen values is counted as if its own values
were not chosen (the other filters still apply), so more values of it can be added
(values of one facet combine with OR). The API keeps the contract's counts (after
every filter); only the page asks for these.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from indexer import schema
from indexer.search import SearchRequest
from indexer.store.base import Filters
from webapp.params import state_pairs, view_url, with_filter
from webapp.portal import Portal

LABELS = {
    "province": "省份",
    "city": "地市",
    "county": "区县",
    "year": "年度",
    "department": "部门",
    "kind": "类型",
    "level1": "一级指标",
    "level2": "二级指标",
    "adcode": "行政区划代码",
    "unit": "单位",
    "doc_id": "文件",
}
KIND_LABELS = {"project": "项目", "indicator": "指标", "narrative": "正文"}
REGION_FIELDS = ("province", "city", "county")
SEARCHABLE_AT = 8  # facets with more values than this get a filter box
TREE_LIMIT = 300  # region values placed in the tree per level


def value_label(name: str, value: str) -> str:
    """How a facet value is shown (kinds in Chinese, the rest as stored)."""
    return KIND_LABELS.get(value, value) if name == "kind" else str(value)


@dataclass
class FacetValue:
    """One value of a facet with its count and the URL that toggles it."""

    field: str
    value: str
    count: int
    selected: bool
    url: str
    children: list[FacetValue] = field(default_factory=list)

    @property
    def label(self) -> str:
        return value_label(self.field, self.value)

    @property
    def open(self) -> bool:
        """A tree node is unfolded when it or something below it is chosen."""
        return self.selected or any(c.open for c in self.children)


@dataclass
class Facet:
    """A facet of the sidebar (flat, or the region tree)."""

    name: str
    label: str
    values: list[FacetValue]

    @property
    def searchable(self) -> bool:
        return self._size(self.values) > SEARCHABLE_AT

    def _size(self, values: list[FacetValue]) -> int:
        return sum(1 + self._size(v.children) for v in values)


@dataclass
class Chip:
    """A chosen filter value and the URL without it."""

    field: str
    value: str
    remove_url: str

    @property
    def label(self) -> str:
        return f"{LABELS.get(self.field, self.field)}：{value_label(self.field, self.value)}"


class RegionParents:
    """Which province a city is in and which city a county is in, asked of the store once.

    Names alone are ambiguous (桥西区 is in several cities); the store knows which
    filings carry a name, so a one-passage search filtered by it gives its parent.
    """

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], str | None] = {}
        self._lock = threading.Lock()

    def parent(self, portal: Portal, child_field: str, value: str) -> str | None:
        parent_field = "province" if child_field == "city" else "city"
        key = (child_field, value)
        with self._lock:
            if key in self._known:
                return self._known[key]
        result = portal.call("keyword", [], Filters({child_field: (value,)}), 1, [parent_field])
        buckets = result.facets.get(parent_field) or []
        found = buckets[0][0] if buckets else None
        with self._lock:
            if len(self._known) > 50_000:
                self._known.clear()
            self._known[key] = found
        return found


def facet_counts(portal: Portal, request: SearchRequest, result: dict) -> dict[str, list[dict]]:
    """Counts per facet, each chosen facet counted without its own filter."""
    counts = {name: list(values) for name, values in result["facets"].items()}
    for name in request.filters.terms:
        if name not in counts:
            continue
        others = {k: v for k, v in request.filters.terms.items() if k != name}
        loose = portal.search(replace(request, size=1, page=1, filters=Filters(others)))
        counts[name] = loose["facets"][name]
    for name, values in request.filters.terms.items():
        present = {str(v["value"]) for v in counts.get(name, [])}
        for value in values:
            if name in counts and value not in present:
                counts[name].append({"value": value, "count": 0})
    return counts


def build_facets(
    portal: Portal,
    parents: RegionParents,
    request: SearchRequest,
    counts: dict[str, list[dict]],
    endpoint: str = "pages.search",
) -> list[Facet]:
    """The sidebar: the region tree first, then the other facets in schema order."""
    chosen = request.filters.terms

    def make(name: str, entry: dict) -> FacetValue:
        value = str(entry["value"])
        selected = value in chosen.get(name, ())
        url = view_url(with_filter(request, name, value, not selected), endpoint)
        return FacetValue(name, value, int(entry["count"]), selected, url)

    facets = [Facet("region", "地区", region_tree(portal, parents, counts, make))]
    for name in schema.facet_fields():
        if name in REGION_FIELDS:
            continue
        entries = counts.get(name, [])
        if name == "year":
            entries = sorted(entries, key=lambda e: str(e["value"]), reverse=True)
        facets.append(Facet(name, LABELS.get(name, name), [make(name, e) for e in entries]))
    return facets


def region_tree(portal: Portal, parents: RegionParents, counts: dict, make) -> list[FacetValue]:  # noqa: ANN001
    """Provinces with their cities with their counties; a municipality's districts hang
    directly under it. A place whose parent has no count (a county chosen elsewhere
    narrows the provinces and cities counted) hangs under that parent shown with 0,
    which is what clicking it gives; a place whose parent is unknown stays on top."""
    provinces = {str(e["value"]): make("province", e) for e in counts.get("province", [])}
    cities: dict[str, FacetValue] = {}
    top: list[FacetValue] = list(provinces.values())

    def province(name: str) -> FacetValue:
        if name not in provinces:
            provinces[name] = make("province", {"value": name, "count": 0})
            top.append(provinces[name])
        return provinces[name]

    def hang(node: FacetValue, parent: str | None, under: Callable[[str], FacetValue]) -> None:
        if parent is None:
            top.append(node)
        else:
            under(parent).children.append(node)

    def city(name: str) -> FacetValue:
        if name not in cities:
            parent = parents.parent(portal, "city", name)
            if parent == name:  # 北京市 the city is 北京市 the province
                cities[name] = province(name)
            else:
                cities[name] = make("city", {"value": name, "count": 0})
                hang(cities[name], parent, province)
        return cities[name]

    for entry in counts.get("city", [])[:TREE_LIMIT]:
        node = make("city", entry)
        parent = parents.parent(portal, "city", node.value)
        if parent == node.value:
            cities[node.value] = province(parent)
        else:
            cities[node.value] = node
            hang(node, parent, province)
    for entry in counts.get("county", [])[:TREE_LIMIT]:
        node = make("county", entry)
        hang(node, parents.parent(portal, "county", node.value), city)
    return top


def chips(request: SearchRequest, endpoint: str = "pages.search") -> list[Chip]:
    """One chip per chosen filter value."""
    return [
        Chip(name, value, view_url(with_filter(request, name, value, on=False), endpoint))
        for name in schema.filter_fields()
        for value in request.filters.terms.get(name, ())
    ]


@dataclass
class Suggestion:
    """A way to loosen a search that found nothing, with what it would find."""

    label: str
    url: str
    total: int


def suggestions(portal: Portal, request: SearchRequest, limit: int = 6) -> list[Suggestion]:
    """Loosenings of an empty search that do find something: drop a filter, a word, or
    switch to hybrid mode."""
    if not (request.query or request.filters.terms):
        return []
    options: list[tuple[str, SearchRequest]] = []
    for chip in chips(request)[:limit]:
        terms = {
            k: tuple(v for v in vals if (k, v) != (chip.field, chip.value))
            for k, vals in request.filters.terms.items()
        }
        loose = Filters({k: v for k, v in terms.items() if v})
        options.append((f"去掉筛选「{chip.label}」", replace(request, filters=loose)))
    if request.filters.terms:
        options.append(("清除全部筛选", replace(request, filters=Filters())))
    if request.mode == "keyword" and request.query:
        options.append(("改用综合检索", replace(request, mode="hybrid")))
    words = request.query.split()
    if len(words) > 1:
        for word in words[:3]:
            options.append((f"只搜「{word}」", replace(request, query=word)))
    found: list[Suggestion] = []
    for label, loose_request in options[:limit]:
        loose_request = replace(loose_request, page=1, size=1)
        total = portal.search(loose_request)["total"]
        if total:
            url = view_url(state_pairs(replace(loose_request, size=request.size)))
            found.append(Suggestion(label, url, total))
    return found

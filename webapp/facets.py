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
    "unit_comparable": "可比单位",
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
    name: str | None = None  # what to show when the value is a code (a county's adcode)

    @property
    def label(self) -> str:
        return self.name or value_label(self.field, self.value)

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
    text: str | None = None  # the label, when the value alone says little (an adcode)

    @property
    def label(self) -> str:
        if self.text:
            return self.text
        return f"{LABELS.get(self.field, self.field)}：{value_label(self.field, self.value)}"


class RegionParents:
    """Which province a city is in and which city a county is in, asked of the store once
    for as long as the store holds the same filings.

    Names alone are ambiguous (桥西区 is in several cities); the store knows which
    filings carry a name, so a one-passage search filtered by it gives its parent.
    """

    def __init__(self) -> None:
        self._known: dict[tuple[str, str, str], list[str]] = {}
        self._stamp: str | None = None  # the store's stamp that _known was learnt at
        self._lock = threading.Lock()

    def follow(self, portal: Portal) -> None:
        """Forget what was learnt if the store changed since (a re-index may bring a new
        county, or a second county of a known name); asked once per page view."""
        stamp = portal.call("stamp")
        with self._lock:
            if stamp != self._stamp:
                self._known.clear()
                self._stamp = stamp

    def parent(self, portal: Portal, child_field: str, value: str) -> str | None:
        parent_field = "province" if child_field == "city" else "city"
        found = self._values(portal, child_field, value, parent_field)
        return found[0] if found else None

    def adcodes(self, portal: Portal, county: str) -> list[str]:
        """The codes of the counties called ``county`` (鼓楼区: 320106 in 南京市, 350102
        in 福州市, …) that the store holds."""
        return sorted(self._values(portal, "county", county, "adcode"))

    def place(self, portal: Portal, adcode: str) -> tuple[str | None, str | None]:
        """(county, city) of a county's code; (None, city) for a city's code."""
        county = self._values(portal, "adcode", adcode, "county")
        city = self._values(portal, "adcode", adcode, "city")
        return (county[0] if county else None, city[0] if city else None)

    def _values(self, portal: Portal, field_: str, value: str, wanted: str) -> list[str]:
        """The values of ``wanted`` in passages whose ``field_`` is ``value``, most first."""
        key = (field_, value, wanted)
        with self._lock:
            if key in self._known:
                return self._known[key]
            stamp = self._stamp
        result = portal.call("keyword", [], Filters({field_: (value,)}), 1, [wanted])
        found = [str(v) for v, _ in result.facets.get(wanted) or []]
        with self._lock:
            if len(self._known) > 50_000:
                self._known.clear()
            if self._stamp == stamp:  # else it may have been learnt from the store before
                self._known[key] = found
        return found

    def label(self, portal: Portal, adcode: str) -> str:
        """A chip's label for an adcode filter: 区县：鼓楼区（南京市）."""
        county, city = self.place(portal, adcode)
        if county:
            where = f"（{city}）" if city else ""
            return f"{LABELS['county']}：{county}{where}"
        return f"{LABELS['adcode']}：{city or adcode}"


def facet_counts(portal: Portal, request: SearchRequest, result: dict) -> dict[str, list[dict]]:
    """Counts per facet, each chosen facet counted without its own filter."""
    counts = {name: list(values) for name, values in result["facets"].items()}
    for name in loosened(request):
        if name not in counts:
            continue
        others = {k: v for k, v in request.filters.terms.items() if k not in same_facet(name)}
        loose = portal.search(replace(request, size=1, page=1, filters=Filters(others)))
        counts[name] = loose["facets"][name]
    for name, values in request.filters.terms.items():
        present = {str(v["value"]) for v in counts.get(name, [])}
        for value in values:
            if name in counts and value not in present:
                counts[name].append({"value": value, "count": 0})
    return counts


# A county is chosen in the tree by its adcode (names repeat: 鼓楼区 in 南京市 and in
# 福州市), so adcode filters belong to the county facet when counting it.
COUNTY_FILTERS = ("county", "adcode")


def same_facet(name: str) -> tuple[str, ...]:
    """The filter fields a facet is counted without (its own, and adcode for county)."""
    return COUNTY_FILTERS if name == "county" else (name,)


def loosened(request: SearchRequest) -> list[str]:
    """The facets counted without their own filters: the chosen ones."""
    names = [n for n in request.filters.terms if n != "adcode"]
    if "adcode" in request.filters.terms and "county" not in names:
        names.append("county")
    return names


def without_counties(request: SearchRequest) -> dict[str, tuple[str, ...]]:
    """The filters of ``request`` but its county and adcode ones."""
    return {k: v for k, v in request.filters.terms.items() if k not in COUNTY_FILTERS}


def build_facets(
    portal: Portal,
    parents: RegionParents,
    request: SearchRequest,
    counts: dict[str, list[dict]],
    endpoint: str = "pages.search",
    counted: SearchRequest | None = None,
) -> list[Facet]:
    """The sidebar: the region tree first, then the other facets in schema order.

    Counts are over ``counted`` (default ``request``; the compare page counts
    indicators only)."""
    chosen = request.filters.terms

    def make(name: str, entry: dict) -> FacetValue:
        value = str(entry["value"])
        selected = value in chosen.get(name, ())
        url = view_url(with_filter(request, name, value, not selected), endpoint)
        return FacetValue(name, value, int(entry["count"]), selected, url)

    counties = CountyNodes(portal, parents, request, counted or request, endpoint)
    tree = region_tree(portal, parents, counts, make, counties.nodes)
    facets = [Facet("region", "地区", tree)]
    for name in schema.facet_fields():
        if name in REGION_FIELDS:
            continue
        entries = counts.get(name, [])
        if name == "year":
            entries = sorted(entries, key=lambda e: str(e["value"]), reverse=True)
        facets.append(Facet(name, LABELS.get(name, name), [make(name, e) for e in entries]))
    return facets


@dataclass
class CountyNodes:
    """The tree's county nodes of one county name: one per adcode, each under its city,
    chosen by its adcode (a ``county=`` URL keeps meaning every county of that name)."""

    portal: Portal
    parents: RegionParents
    request: SearchRequest
    counted: SearchRequest
    endpoint: str

    def nodes(self, entry: dict) -> list[tuple[FacetValue, str | None]]:
        """(node, its city) for each county called ``entry["value"]``."""
        name = str(entry["value"])
        codes = self.parents.adcodes(self.portal, name)
        if not codes:  # a store without codes for it: the name alone, as before
            node = self._by_name(name, int(entry["count"]))
            return [(node, self.parents.parent(self.portal, "county", name))]
        chosen = self.request.filters.terms
        found = []
        for code in codes:
            count = int(entry["count"]) if len(codes) == 1 else self._count(code)
            selected = code in chosen.get("adcode", ()) or name in chosen.get("county", ())
            url = view_url(self._toggle(code, selected), self.endpoint)
            node = FacetValue("adcode", code, count, selected, url, name=name)
            found.append((node, self.parents.place(self.portal, code)[1]))
        return found

    def _by_name(self, name: str, count: int) -> FacetValue:
        selected = name in self.request.filters.terms.get("county", ())
        url = view_url(with_filter(self.request, "county", name, not selected), self.endpoint)
        return FacetValue("county", name, count, selected, url)

    def _count(self, code: str) -> int:
        """What choosing this county alone among the counties gives."""
        filters = Filters({**without_counties(self.counted), "adcode": (code,)})
        return self.portal.search(replace(self.counted, size=1, page=1, filters=filters))["total"]

    def _toggle(self, code: str, on: bool) -> list[tuple[str, str]]:
        """The state with ``code`` added (or removed), chosen county names turned into
        their codes so that counties still combine with OR."""
        chosen = self.request.filters.terms
        pairs = [p for p in state_pairs(self.request) if p[0] not in COUNTY_FILTERS]
        codes = list(chosen.get("adcode", ()))
        for name in chosen.get("county", ()):
            named = self.parents.adcodes(self.portal, name)
            codes += named
            if not named:
                pairs.append(("county", name))
        codes = [c for c in dict.fromkeys(codes) if c != code]
        if not on:
            codes.append(code)
        return pairs + [("adcode", c) for c in codes]


def region_tree(
    portal: Portal,
    parents: RegionParents,
    counts: dict,
    make: Callable[[str, dict], FacetValue],
    counties: Callable[[dict], list[tuple[FacetValue, str | None]]] | None = None,
) -> list[FacetValue]:
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

    def by_name(entry: dict) -> list[tuple[FacetValue, str | None]]:
        return [(make("county", entry), parents.parent(portal, "county", str(entry["value"])))]

    for entry in counts.get("county", [])[:TREE_LIMIT]:
        for node, parent in (counties or by_name)(entry):
            hang(node, parent, city)
    return top


def chips(
    request: SearchRequest,
    endpoint: str = "pages.search",
    code_label: Callable[[str], str] | None = None,
) -> list[Chip]:
    """One chip per chosen filter value; ``code_label`` names an adcode's place."""
    return [
        Chip(
            name,
            value,
            view_url(with_filter(request, name, value, on=False), endpoint),
            code_label(value) if code_label and name == "adcode" else None,
        )
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
    words = request.parsed.terms  # what it looks for: not its exclusions or operators
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

"""The HTML pages: search, filing (with the original file), compare."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from pathlib import Path

from flask import Blueprint, abort, current_app, render_template, request, send_file
from werkzeug.wrappers import Response

from indexer.search import QueryError, SearchRequest
from indexer.store.base import Filters
from webapp import compare as cmp
from webapp import facets as fc
from webapp.filing import DOC_ID, filing_view, find_original, mime_type
from webapp.params import query_string, search_request, state_pairs, view_url
from webapp.portal import Portal
from webapp.ranking import iter_hits, rank_all
from webapp.views.errors import error_response

bp = Blueprint("pages", __name__)
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
MAX_PAGE_LINKS = 7
CHANGED_ORIGINAL = (
    "原文件在编入索引之后改动过（或索引由旧版 jixiao 建立），与本页内容不再对应。"
    "请重新运行 jixiao index 后再下载。"
)


def portal() -> Portal:
    return current_app.extensions["jixiao"]


def _sidebar(
    req: SearchRequest, result: dict, endpoint: str, counted: SearchRequest | None = None
) -> dict:
    """Facets, chips and the clear-all link; counts over ``counted`` (default ``req``)."""
    counts = fc.facet_counts(portal(), counted or req, result)
    regions = current_app.extensions["jixiao.regions"]
    regions.follow(portal())
    facets = fc.build_facets(portal(), regions, req, counts, endpoint, counted)
    if counted is not None:
        facets = [f for f in facets if f.name not in counted.filters.terms]
    return {
        "facets": facets,
        "chips": fc.chips(req, endpoint, lambda code: regions.label(portal(), code)),
        "clear_url": view_url(
            [p for p in state_pairs(req) if p[0] in ("q", "mode", "size")], endpoint
        ),
    }


def _pages(req: SearchRequest, total: int) -> list[tuple[int | None, str | None]]:
    """Page links around the current one: (number, url); (None, None) is a gap."""
    last = min(max(1, math.ceil(total / req.size)), 1000)
    start = max(1, min(req.page - MAX_PAGE_LINKS // 2, last - MAX_PAGE_LINKS + 1))
    shown = {1, last, *range(start, min(last, start + MAX_PAGE_LINKS - 1) + 1)}
    # a gap that would hide a single page shows that page instead
    shown |= {n + 1 for n in shown if n + 2 in shown and n + 1 not in shown}
    links: list[tuple[int | None, str | None]] = []
    for n in sorted(shown):
        if links and links[-1][0] is not None and n > links[-1][0] + 1:
            links.append((None, None))
        links.append((n, view_url(state_pairs(req) + [("page", str(n))])))
    return links


@bp.get("/")
def search() -> str:
    """The search page: query box, results, facets; the whole state in the URL."""
    req = search_request(request.args)
    result = portal().search(req)
    last_page = max(1, math.ceil(result["total"] / req.size))
    state = state_pairs(req)
    return render_template(
        "search.html",
        req=req,
        result=result,
        pages=_pages(req, result["total"]),
        last_page=last_page,
        # past the last page, "previous" leads to the last one, not to another empty page
        prev_url=(
            view_url(state + [("page", str(min(req.page - 1, last_page)))])
            if req.page > 1
            else None
        ),
        next_url=(
            view_url(state + [("page", str(req.page + 1))]) if req.page < last_page else None
        ),
        suggestions=fc.suggestions(portal(), req) if not result["total"] else [],
        keep=[pair for pair in state if pair[0] == "size"],  # the form keeps the page size
        export_qs=query_string(state),
        compare_url=view_url(state, "pages.compare"),
        **_sidebar(req, result, "pages.search"),
    )


@bp.get("/filing/<doc_id>")
def filing(doc_id: str) -> str:
    """A filing rendered as its narrative and project tables, anchors by passage id."""
    record = _record_or_404(doc_id)
    view = filing_view(record)
    return render_template(
        "filing.html",
        view=view,
        f=view.filing,
        original=find_original(record, Path(current_app.config["SOURCE_ROOT"])),
        back_url=request.referrer if _same_site(request.referrer) else None,
    )


def _record_or_404(doc_id: str):  # noqa: ANN202 - the store's FilingRecord
    """The stored filing for a well-formed id, or a 404."""
    if not DOC_ID.match(doc_id):
        abort(404)
    record = portal().filing(doc_id)
    if record is None:
        abort(404)
    return record


def _same_site(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url)  # type: ignore[union-attr]


@bp.get("/filing/<doc_id>/original")
def original(doc_id: str) -> Response:
    """The indexed file of a filing, and nothing else: looked up by id, never by path."""
    record = _record_or_404(doc_id)
    found = find_original(record, Path(current_app.config["SOURCE_ROOT"]))
    if found is None:
        abort(404)
    if not found.unchanged:
        return error_response(409, CHANGED_ORIGINAL)[0]
    path = found.path
    content_type = mime_type(path)
    response = send_file(
        path,
        mimetype=content_type,
        as_attachment=True,
        download_name=download_name(path.name),
        max_age=0,
    )
    response.headers["Content-Type"] = content_type  # Werkzeug would add a second charset
    return response


def download_name(name: str) -> str:
    """``name`` fit for a Content-Disposition header: control characters (a CR or LF
    in a file name would split the header, which Werkzeug refuses) become ``_``."""
    return CONTROL_CHARS.sub("_", name) or "original"


@bp.get("/compare")
def compare() -> str:
    """Indicators matching the query and filters as one table, grouped by comparable unit."""
    req = without_kind(search_request(request.args, extra=("sort",)))
    sort = compare_sort(request.args.get("sort", ""))
    indicators = indicator_request(req)
    # statistics, chart and sort over every matching row (up to the stats limit), the
    # table over the first COMPARE_MAX_ROWS of that order: never the top rows' stats
    ranking = rank_all(portal(), indicators, current_app.config["COMPARE_STATS_MAX_ROWS"])
    groups = cmp.table(
        (cmp.row_from_hit(h) for h in iter_hits(portal(), indicators, ranking)), sort
    )
    shown = cmp.first_rows(groups, current_app.config["COMPARE_MAX_ROWS"])
    rows = [row for part in shown for row in part.rows]
    result = portal().search(replace(indicators, size=1, page=1))
    state = state_pairs(req)
    sort_urls = {
        key: view_url(state + [("sort", key if sort != key else f"-{key}")], "pages.compare")
        for key in cmp.SORT_KEYS
    }
    export_pairs = state + ([("sort", sort)] if sort else [])
    # each group's link to itself alone: the filter by comparable unit (万元 rows are in 元)
    chosen = req.filters.terms.get("unit_comparable", ())
    group_urls = {
        g.unit: view_url(export_pairs + [("unit_comparable", g.unit)], "pages.compare")
        for g in groups
        if g.unit != cmp.NO_UNIT and g.unit not in chosen
    }
    return render_template(
        "compare.html",
        req=req,
        groups=groups,
        shown=shown,
        columns=cmp.TABLE_COLUMNS,
        rows=rows,
        counted=sum(len(group.rows) for group in groups),
        total=ranking.total,
        truncated=ranking.truncated,
        sort=sort,
        sort_urls=sort_urls,
        export_qs=query_string(export_pairs),
        group_urls=group_urls,
        search_url=view_url(state),
        keep=[pair for pair in export_pairs if pair[0] in ("size", "sort")],
        kind_ignored=any(v.strip() not in ("", "indicator") for v in request.args.getlist("kind")),
        **_sidebar(req, result, "pages.compare", counted=indicators),
    )


def compare_sort(sort: str) -> str:
    """A valid ``sort`` parameter (a column, ``-`` for descending) or a QueryError."""
    sort = sort.strip()
    # one leading dash means descending; "--year" is a typo, not a column
    if sort and sort.removeprefix("-") not in cmp.SORT_KEYS:
        raise QueryError("sort", f"sort must be one of {', '.join(cmp.SORT_KEYS)}")
    return sort


def without_kind(req: SearchRequest) -> SearchRequest:
    """``req`` without a ``kind`` filter: the compare table lists indicators whatever
    kind the search it came from was narrowed to, so no chip may say otherwise."""
    terms = {name: values for name, values in req.filters.terms.items() if name != "kind"}
    return replace(req, filters=Filters(terms))


def indicator_request(req: SearchRequest) -> SearchRequest:
    """``req`` restricted to indicators (the compare table has nothing else)."""
    terms = dict(req.filters.terms)
    terms["kind"] = ("indicator",)
    return replace(req, filters=Filters(terms))

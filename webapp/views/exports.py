"""CSV and JSON of a search or compare view: every matching row, streamed.

The ranking is computed before the response starts (so a store failure is a
503, not a cut-off file); passages are then fetched and written in chunks.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from flask import Blueprint, current_app, request, stream_with_context, url_for
from werkzeug.wrappers import Response

from indexer.search import SearchRequest
from webapp import compare as cmp
from webapp.params import search_request
from webapp.portal import Portal
from webapp.ranking import Ranking, iter_hits, rank_all
from webapp.views.pages import compare_sort, indicator_request

bp = Blueprint("exports", __name__, url_prefix="/export")

SEARCH_COLUMNS = (
    "id", "kind", "score", "text", "doc_id", "title", "source", "province", "city", "county",
    "year", "department", "project", "project_code", "amount_wan", "level1", "level2",
    "indicator", "description", "value", "op", "low", "high", "unit", "heading", "page",
    "filing_url", "change",
)  # fmt: skip
COMPARE_COLUMNS = (
    ("id",) + tuple(key for key, _ in cmp.COLUMNS) + ("number", "filing_url") + cmp.EXTRA_COLUMNS
)


def portal() -> Portal:
    return current_app.extensions["jixiao"]


def _ranking(req: SearchRequest) -> Ranking:
    return rank_all(portal(), req, current_app.config["EXPORT_MAX_ROWS"])


def _filing_url(doc_id: str, passage_id: str) -> str:
    return url_for("pages.filing", doc_id=doc_id, _anchor=passage_id, _external=True)


def search_row(hit: dict) -> dict:
    """A search hit as one flat CSV row."""
    doc, project = hit["doc"], hit.get("project") or {}
    indicator = hit.get("indicator") or {}
    return {
        "id": hit["id"], "kind": hit["kind"], "score": hit["score"], "text": hit["text"],
        "doc_id": doc["id"], "title": doc.get("title"), "source": doc.get("source"),
        "province": doc.get("province"), "city": doc.get("city"), "county": doc.get("county"),
        "year": doc.get("year"), "department": doc.get("department"),
        "project": project.get("name"), "project_code": project.get("code"),
        "amount_wan": project.get("amount_wan"),
        "level1": indicator.get("level1"), "level2": indicator.get("level2"),
        "indicator": indicator.get("name"), "description": indicator.get("description"),
        "value": indicator.get("value"), "op": indicator.get("op"), "low": indicator.get("low"),
        "high": indicator.get("high"), "unit": indicator.get("unit"),
        "heading": hit.get("heading"), "page": hit.get("page"),
        "filing_url": _filing_url(doc["id"], hit["id"]),
        "change": indicator.get("change"),
    }  # fmt: skip


def compare_row(row: cmp.Row) -> dict:
    """A compare row with its number, a link to it in its filing and the extra fields
    (among them the values in the comparable unit the page groups by).

    Text the filing does not state is null, as in ``/api/search`` and the search
    export (the table shows it as an empty cell; the CSV writes null as empty).
    """
    out: dict = {"id": row.id}
    for key, _ in cmp.COLUMNS:
        out[key] = getattr(row, key)
    out["number"] = row.number
    out["filing_url"] = _filing_url(row.doc_id, row.id)
    for key in cmp.EXTRA_COLUMNS:
        out[key] = getattr(row, key)
    return {key: None if value == "" else value for key, value in out.items()}


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A CSV cell: text a spreadsheet would run as a formula (``=100%``, the op ``=``)
    gets a leading ``'``, which Excel and WPS show as text; numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_stream(columns: Iterable[str], rows: Iterable[dict]) -> Iterator[str]:
    """CSV text in pieces: a BOM (so spreadsheets read UTF-8), the header, the rows."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    buffer.write("\ufeff")
    writer.writeheader()
    for number, row in enumerate(rows, start=1):
        writer.writerow({k: spreadsheet_safe(v) for k, v in row.items()})
        if number % 200 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def json_stream(head: dict, key: str, rows: Iterable[dict]) -> Iterator[str]:
    """One JSON object, ``head`` fields first, then ``key`` as an array written row by row."""
    opening = json.dumps(head, ensure_ascii=False)[:-1]
    yield f'{opening}, "{key}": ['
    for number, row in enumerate(rows):
        yield ("," if number else "") + "\n" + json.dumps(row, ensure_ascii=False)
    yield "\n]}\n"


def _download(chunks: Iterator[str], name: str, mimetype: str, ranking: Ranking) -> Response:
    response = Response(stream_with_context(chunks), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["X-Jixiao-Total"] = str(ranking.total)
    response.headers["X-Jixiao-Truncated"] = "1" if ranking.truncated else "0"
    return response


def _head(req: SearchRequest, ranking: Ranking) -> dict:
    return {
        "query": req.query,
        "mode": req.mode,
        "filters": {k: list(v) for k, v in req.filters.terms.items()},
        "total": ranking.total,
        "truncated": ranking.truncated,
    }


@bp.get("/search.csv")
def search_csv() -> Response:
    """Every hit of a search as CSV."""
    req = search_request(request.args)
    ranking = _ranking(req)
    rows = (search_row(hit) for hit in iter_hits(portal(), req, ranking))
    return _download(csv_stream(SEARCH_COLUMNS, rows), "jixiao-search.csv", "text/csv", ranking)


@bp.get("/search.json")
def search_json() -> Response:
    """Every hit of a search as JSON (the hits in the ``jixiao search --json`` shape)."""
    req = search_request(request.args)
    ranking = _ranking(req)
    hits = iter_hits(portal(), req, ranking)
    chunks = json_stream(_head(req, ranking), "hits", hits)
    return _download(chunks, "jixiao-search.json", "application/json", ranking)


def _compare_rows(req: SearchRequest, ranking: Ranking, sort: str) -> Iterator[dict]:
    """The rows in the page's order (grouped by comparable unit), so the file matches the
    table."""
    groups = cmp.table((cmp.row_from_hit(hit) for hit in iter_hits(portal(), req, ranking)), sort)
    return (compare_row(row) for group in groups for row in group.rows)


@bp.get("/compare.csv")
def compare_csv() -> Response:
    """Every indicator of a compare view as CSV."""
    sort = compare_sort(request.args.get("sort", ""))
    req = indicator_request(search_request(request.args, extra=("sort",)))
    ranking = _ranking(req)
    rows = _compare_rows(req, ranking, sort)
    return _download(csv_stream(COMPARE_COLUMNS, rows), "jixiao-compare.csv", "text/csv", ranking)


@bp.get("/compare.json")
def compare_json() -> Response:
    """Every indicator of a compare view as JSON rows."""
    sort = compare_sort(request.args.get("sort", ""))
    req = indicator_request(search_request(request.args, extra=("sort",)))
    ranking = _ranking(req)
    chunks = json_stream(_head(req, ranking), "rows", _compare_rows(req, ranking, sort))
    return _download(chunks, "jixiao-compare.json", "application/json", ranking)

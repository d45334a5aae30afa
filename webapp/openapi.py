"""The OpenAPI 3.1 document of ``/api/search``, ``/healthz`` and the exports.

Schemas are plain JSON Schema (2020-12, as OpenAPI 3.1 uses), so tests validate
real responses against them with ``jsonschema``.
"""

from __future__ import annotations

from typing import Any

from indexer import schema
from indexer.search import MAX_QUERY_CHARS, MAX_SIZE, MAX_VALUE_CHARS, MODES
from webapp.compare import SORT_KEYS

STR = {"type": "string"}
NSTR = {"type": ["string", "null"]}
NNUM = {"type": ["number", "null"]}
NINT = {"type": ["integer", "null"]}


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required if required is not None else list(properties),
        "additionalProperties": False,  # the tests find any field the document lacks
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable_ref(name: str) -> dict[str, Any]:
    return {"oneOf": [_ref(name), {"type": "null"}]}


def schemas() -> dict[str, Any]:
    """The component schemas."""
    doc = _obj(
        {
            "id": STR,
            "source": NSTR,
            "title": NSTR,
            "province": NSTR,
            "city": NSTR,
            "county": NSTR,
            "adcode": NSTR,
            "year": NINT,
            "department": NSTR,
        },
        ["id", "source", "title", "province", "city", "county", "year", "department"],
    )
    project = _obj({"name": NSTR, "code": NSTR, "amount_wan": NNUM}, ["name", "amount_wan"])
    indicator = _obj(
        {
            "level1": NSTR,
            "level2": NSTR,
            "level1_raw": NSTR,
            "level2_raw": NSTR,
            "name": NSTR,
            "description": NSTR,
            "value": NSTR,
            "op": {"enum": [">=", "<=", ">", "<", "=", "range", None]},
            "low": NNUM,
            "high": NNUM,
            "unit": NSTR,
            "change": {
                "enum": ["increase", "decrease", None],
                "description": "the target is the size of a change against a baseline "
                "(同比下降5%: op =, 5, %, decrease); null for a level",
            },
        },
        ["level1", "level2", "name", "value", "op", "low", "high", "unit"],
    )
    hit = _obj(
        {
            "id": STR,
            "kind": {"enum": ["project", "indicator", "narrative"]},
            "score": {"type": "number"},
            "text": STR,
            "highlight": {
                "type": "string",
                "description": "HTML-escaped text; <mark> around matched words is the only markup",
            },
            "doc": _ref("Doc"),
            "project": _nullable_ref("Project"),
            "indicator": _nullable_ref("Indicator"),
            "page": NINT,
            "position": NINT,
            "heading": NSTR,
        },
        ["id", "kind", "score", "text", "highlight", "doc", "project", "indicator"],
    )
    bucket = _obj(
        {"value": {"type": ["string", "integer"]}, "count": {"type": "integer", "minimum": 0}}
    )
    facets = _obj(
        {name: {"type": "array", "items": _ref("FacetBucket")} for name in schema.facet_fields()}
    )
    result = _obj(
        {
            "query": STR,
            "mode": {"enum": list(MODES)},
            "total": {"type": "integer", "minimum": 0},
            "page": {"type": "integer", "minimum": 1},
            "size": {"type": "integer", "minimum": 1, "maximum": MAX_SIZE},
            "took_ms": {"type": "number"},
            "expansions": {
                "type": "array",
                "items": STR,
                "description": "glossary terms the semantic side also looked for",
            },
            "hits": {"type": "array", "items": _ref("Hit")},
            "facets": _ref("Facets"),
        },
        ["query", "mode", "total", "hits", "facets"],
    )
    error = _obj(
        {
            "error": {"type": "string", "description": "what is wrong"},
            "param": {"type": ["string", "null"], "description": "the parameter at fault"},
        },
        ["error"],
    )
    health = _obj(
        {"status": {"const": "ok"}, "backend": STR, "passages": {"type": "integer"}},
    )
    return {
        "Doc": doc,
        "Project": project,
        "Indicator": indicator,
        "Hit": hit,
        "FacetBucket": bucket,
        "Facets": facets,
        "SearchResult": result,
        "Error": error,
        "Health": health,
    }


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


EXPORT_IGNORES = "checked as in the search, then ignored: an export has every matching row"
COMPARE_IGNORES = "ignored: the compare table and its exports list indicators whatever kind"


def search_parameters() -> list[dict[str, Any]]:
    """``q``, ``mode``, ``size``, ``page`` and one repeatable parameter per filter field."""
    params: list[dict[str, Any]] = [
        {
            "name": "q",
            "in": "query",
            "description": (
                "the query: in keyword mode every word must match (hybrid and semantic "
                "rank by relevance and need not contain every word); in every mode "
                '`"…"` (or `“…”`, `「…」`) needs the words in that order, `-word` leaves '
                "out passages with the word, `A OR B` (or `A | B`) takes either; empty, "
                "or exclusions alone, browses by filters"
            ),
            "schema": {"type": "string", "maxLength": MAX_QUERY_CHARS},
        },
        {
            "name": "mode",
            "in": "query",
            "schema": {"enum": list(MODES), "default": "hybrid"},
        },
        {
            "name": "size",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_SIZE, "default": 10},
        },
        {
            "name": "page",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1},
        },
    ]
    for name in schema.filter_fields():
        params.append(
            {
                "name": name,
                "in": "query",
                "description": "filter; repeat for OR, different fields combine with AND",
                "style": "form",
                "explode": True,
                "schema": {
                    "type": "array",
                    "items": (
                        {"type": "string", "pattern": "^[0-9]+$"}
                        if name == "year"
                        else {"type": "string", "maxLength": MAX_VALUE_CHARS}
                    ),
                },
            }
        )
    return params


def document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    bad = _json("Error", "a bad parameter, named in `param`")
    down = _json("Error", "the index does not answer")
    params = search_parameters()
    # the view's own parameters pass on to its export (the pages' export links carry
    # size), so size and page are taken, checked and ignored rather than refused
    export_params = [
        *params[:2],
        *({**p, "description": EXPORT_IGNORES} for p in params[2:4]),
        *params[4:],
    ]
    compare_params = [
        {**p, "description": COMPARE_IGNORES} if p["name"] == "kind" else p for p in export_params
    ]
    export = {
        "parameters": export_params,
        "responses": {
            "200": {"description": "every matching row, streamed"},
            "400": bad,
            "503": down,
        },
    }
    sort = {
        "name": "sort",
        "in": "query",
        "description": "a column to sort by, `-column` for descending",
        "schema": {"enum": [f"{sign}{key}" for key in SORT_KEYS for sign in ("", "-")]},
    }
    compare = {**export, "parameters": [*compare_params, sort]}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "jixiao 绩效 search API",
            "version": "1",
            "description": "Search Chinese budget performance filings (绩效目标表).",
        },
        "paths": {
            "/api/search": {
                "get": {
                    "summary": "hybrid, keyword or semantic search with filters and facets",
                    "operationId": "search",
                    "parameters": search_parameters(),
                    "responses": {
                        "200": _json("SearchResult", "a page of hits and the facet counts"),
                        "400": bad,
                        "503": down,
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "whether the index answers",
                    "operationId": "health",
                    "responses": {
                        "200": _json("Health", "the backend and its passage count"),
                        "503": down,
                    },
                }
            },
            "/export/search.csv": {"get": {"operationId": "exportSearchCsv", **export}},
            "/export/search.json": {"get": {"operationId": "exportSearchJson", **export}},
            "/export/compare.csv": {"get": {"operationId": "exportCompareCsv", **compare}},
            "/export/compare.json": {"get": {"operationId": "exportCompareJson", **compare}},
        },
        "components": {"schemas": schemas()},
    }


def schema_summary(schema: dict | None) -> str:
    """A parameter's schema in a few Chinese words, for the API page."""
    if not schema:
        return ""
    if schema.get("type") == "array":
        return "可重复；" + schema_summary(schema.get("items"))
    if "enum" in schema:
        text = " | ".join(str(v) for v in schema["enum"])
    elif schema.get("type") == "integer":
        text = f"整数 {schema.get('minimum', '')}–{schema.get('maximum', '')}".rstrip("–")
    elif "pattern" in schema:
        text = "数字"
    else:
        text = f"文字，最长 {schema['maxLength']} 字" if "maxLength" in schema else "文字"
    return f"{text}（默认 {schema['default']}）" if "default" in schema else text

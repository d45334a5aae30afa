"""URL parameters → a validated :class:`SearchRequest`, and URLs back from a state.

The whole state of a view lives in its URL: ``q``, ``mode``, ``page``, ``size`` and
the filters as repeated parameters (``province=河北省&year=2021&year=2023``).
Tracking parameters that apps add to shared links are ignored; anything else is
refused with a :class:`QueryError` naming the parameter.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote_to_bytes, urlencode

from flask import request, url_for
from werkzeug.datastructures import MultiDict

from indexer import schema
from indexer.search import QueryError, SearchRequest, make_request, parse_filters

SEARCH_PARAMS = ("q", "mode", "page", "size")
# Added to shared links by messaging apps and analytics, never filters: ignored, so a
# link forwarded from WeChat or a newsletter opens the view it was shared from.
TRACKING_PARAMS = (
    *("from", "isappinstalled", "scene", "subscene", "clicktime", "wxfrom", "sessionid"),
    *("nsukey", "enterid", "ascene", "devicetype", "version", "lang", "pass_ticket"),
    *("spm", "share_source", "vd_source", "ref", "si", "wfr", "for"),
    *("fbclid", "gclid", "msclkid", "igshid", "ttclid", "mc_cid", "mc_eid"),
)
TRACKING_PREFIXES = ("utm_", "sharer_")  # any case: UTM_SOURCE too
DEFAULT_SIZE = 10


def _int(args: MultiDict, name: str, default: int) -> int:
    raw = args.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise QueryError(name, f"{name} must be an integer, not {raw[:20]!r}") from None


def not_utf8(query_string: bytes) -> str | None:
    """The first parameter of a raw query string whose name or value is not UTF-8
    once percent-decoded (a GBK form or script); None when all are."""
    for part in query_string.split(b"&"):
        name, _, value = part.partition(b"=")
        for raw in (name, value):
            try:
                unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                return unquote_to_bytes(name).decode("utf-8", "replace")
    return None


def require_utf8() -> None:
    """Refuse (400) a request whose parameters are not UTF-8 instead of searching for
    mojibake; run before every request."""
    name = not_utf8(request.query_string)
    if name is not None:
        raise QueryError(
            name,
            f"{name} is not UTF-8 text; percent-encode parameters as UTF-8",
            hint="参数不是 UTF-8 编码（可能是 GBK）。请用 UTF-8 编码后再提交。",
        )


def is_tracking(name: str) -> bool:
    """Whether ``name`` is a parameter apps add to shared links (ignored)."""
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def filter_pairs(args: MultiDict, extra: Iterable[str] = ()) -> list[tuple[str, str]]:
    """The filters in ``args`` as (field, value) pairs; unknown parameters are refused."""
    known = set(SEARCH_PARAMS) | set(extra)
    allowed = set(schema.filter_fields())
    pairs: list[tuple[str, str]] = []
    for name, value in args.items(multi=True):
        if name in known or is_tracking(name):
            continue
        if name not in allowed:
            raise QueryError(
                name,
                f"unknown parameter {name!r}; filters are {', '.join(schema.filter_fields())}",
            )
        value = value.strip()
        if not value:
            continue  # an empty form field filters nothing
        pairs.append((name, value))
    return pairs


def search_request(
    args: MultiDict, extra: Iterable[str] = (), default_size: int = DEFAULT_SIZE
) -> SearchRequest:
    """Validate ``args`` into a request; raises :class:`QueryError` naming the bad parameter."""
    for name in (*SEARCH_PARAMS, *extra):
        if len(args.getlist(name)) > 1:
            raise QueryError(name, f"{name} given more than once")
    pairs = filter_pairs(args, extra)
    return make_request(
        args.get("q", ""),
        args.get("mode", "hybrid").strip() or "hybrid",
        _int(args, "size", default_size),
        _int(args, "page", 1),
        parse_filters(pairs),
    )


def state_pairs(request: SearchRequest) -> list[tuple[str, str]]:
    """The URL parameters of ``request`` (defaults left out), filters in schema order."""
    pairs: list[tuple[str, str]] = []
    if request.query:
        pairs.append(("q", request.query))
    if request.mode != "hybrid":
        pairs.append(("mode", request.mode))
    if request.size != DEFAULT_SIZE:
        pairs.append(("size", str(request.size)))
    for name in schema.filter_fields():
        for value in request.filters.terms.get(name, ()):
            pairs.append((name, value))
    return pairs


def query_string(pairs: Iterable[tuple[str, str | int]]) -> str:
    """``?a=1&b=2`` (empty string when there is nothing)."""
    encoded = urlencode([(k, str(v)) for k, v in pairs])
    return f"?{encoded}" if encoded else ""


def with_filter(request: SearchRequest, name: str, value: str, on: bool) -> list[tuple[str, str]]:
    """State pairs of ``request`` with one filter value added or removed (page reset)."""
    pairs = [p for p in state_pairs(request) if p != (name, value)]
    if on:
        pairs.append((name, value))
    return pairs


def view_url(pairs: Iterable[tuple[str, str | int]], endpoint: str = "pages.search") -> str:
    """The URL of a view (search by default) in the state ``pairs``."""
    return url_for(endpoint) + query_string(pairs)

"""``/api/search``, ``/healthz``, ``/api/openapi.json`` (see shared/notes/interfaces.md), and
``/api``, the same described for people."""

from __future__ import annotations

import shlex

from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from werkzeug.wrappers import Response

from webapp import openapi
from webapp.params import search_request
from webapp.portal import Portal, StoreUnavailable, WrongModel

bp = Blueprint("api", __name__)


def portal() -> Portal:
    return current_app.extensions["jixiao"]


@bp.get("/api/search")
def search() -> Response:
    """The same JSON as ``jixiao search --json``."""
    return jsonify(portal().search(search_request(request.args)))


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 with the backend and passage count when the index answers, 503 when not."""
    try:
        return jsonify(portal().health()), 200
    except WrongModel as err:  # what to fix, and it names no server path
        return jsonify({"error": f"index unavailable: {err}", "param": None}), 503
    except StoreUnavailable as err:
        # the reason may name the server's paths: it goes to the log, not to the caller
        current_app.logger.warning("healthz: index unavailable: %s", err)
        return jsonify({"error": "index unavailable (the server log says why)", "param": None}), 503


@bp.get("/api")
def api_page() -> str:
    """The API described for people, from the same OpenAPI document the JSON serves."""
    example = {"q": "社区矫正 成本指标", "level2": "成本指标", "size": 5}
    encoded = url_for("api.search", **example)  # percent-encoded: what a client must send
    return render_template(
        "api.html",
        doc=openapi.document(),
        example=encoded,
        example_url=url_for("api.search", _external=True, **example),
        example_text="/api/search?" + "&".join(f"{k}={v}" for k, v in example.items()),
        example_curl=curl_command(url_for("api.search", _external=True), example),
    )


def curl_command(url: str, params: dict) -> str:
    """A copyable ``curl --get`` command that lets curl percent-encode each parameter
    (pasted raw, Chinese text and spaces would reach the server unencoded: a 400)."""
    parts = [f"curl --get {shlex.quote(url)}"]
    parts += [f"--data-urlencode {shlex.quote(f'{k}={v}')}" for k, v in params.items()]
    return " \\\n  ".join(parts)


@bp.get("/api/openapi.json")
def openapi_document() -> Response:
    """The OpenAPI 3.1 document of the API."""
    return jsonify(openapi.document())

"""Errors as pages or JSON, never a traceback: 400 names the parameter, 503 when the
index does not answer, custom 404 and 500."""

from __future__ import annotations

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from indexer.search import QueryError
from webapp.portal import StoreUnavailable

JSON_PREFIXES = ("/api/", "/healthz", "/export/")
TITLES = {
    400: "请求参数有误",
    404: "页面不存在",
    405: "不支持的请求方式",
    413: "请求过大",
    500: "服务器内部错误",
    503: "检索服务暂不可用",
}


def wants_json() -> bool:
    """API and export paths answer errors in JSON; pages answer with a page."""
    return request.path.startswith(JSON_PREFIXES)


def error_response(status: int, message: str, param: str | None = None) -> tuple[Response, int]:
    """A JSON error or the error page for ``status``."""
    if wants_json():
        from flask import jsonify

        return jsonify({"error": message, "param": param}), status
    page = render_template(
        "error.html",
        status=status,
        title=TITLES.get(status, "出错了"),
        message=message,
        param=param,
    )
    return Response(page, status=status, mimetype="text/html"), status


def install(app: Flask) -> None:
    """Register the handlers."""

    @app.errorhandler(QueryError)
    def _bad_param(err: QueryError) -> tuple[Response, int]:
        return error_response(400, str(err), err.param)

    @app.errorhandler(StoreUnavailable)
    def _store_down(err: StoreUnavailable) -> tuple[Response, int]:
        app.logger.warning("index unavailable: %s", err)
        return error_response(503, "检索索引暂时无法访问，请稍后再试。")

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException) -> tuple[Response, int]:
        status = err.code or 500
        return error_response(status, TITLES.get(status, err.name))

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> tuple[Response, int]:
        app.logger.exception("unhandled error")
        return error_response(500, "处理请求时出错，已记录。")

"""Errors as pages or JSON, never a traceback: 400 names the parameter, 503 when the
index does not answer, custom 404 and 500."""

from __future__ import annotations

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from indexer import schema
from indexer.search import MAX_SIZE, YEARS, QueryError
from webapp.facets import LABELS
from webapp.portal import StoreUnavailable

JSON_PREFIXES = ("/api/", "/healthz", "/export/")
TITLES = {
    400: "请求参数有误",
    404: "页面不存在",
    405: "不支持的请求方式",
    409: "原文件已改动",
    413: "请求过大",
    500: "服务器内部错误",
    503: "检索服务暂不可用",
}


# what a 400 page says in Chinese about each parameter (the API keeps the English detail)
PARAM_HINTS = {
    "q": "检索词只能给一个，最长 200 个字符。",
    "mode": "检索方式只能是 hybrid（综合）、keyword（关键词）或 semantic（语义）。",
    "size": f"每页条数须为 1 到 {MAX_SIZE} 之间的整数。",
    "page": "页码须为 1 到 1000 之间的整数。",
    "sort": "排序须为比较表中的一列，前加 - 表示倒序。",
    "year": f"年度须为数字，如 2025（{YEARS[0]} 到 {YEARS[1]} 之间）。",
}


def param_hint(param: str | None) -> str | None:
    """The 400 page's Chinese explanation of what is wrong with ``param``."""
    if param is None:
        return None
    if param in PARAM_HINTS:
        return PARAM_HINTS[param]
    if param in schema.filter_fields():
        label = LABELS.get(param, param)
        return f"「{label}」筛选值有误：每个值最多 100 个字符，筛选值合计最多 50 个。"
    fields = "、".join(f"{LABELS.get(f, f)} {f}" for f in schema.filter_fields())
    return f"不认识的参数。可用的筛选：{fields}。"


def wants_json() -> bool:
    """API and export paths answer errors in JSON; pages answer with a page."""
    return request.path.startswith(JSON_PREFIXES)


def error_response(
    status: int, message: str, param: str | None = None, hint: str | None = None
) -> tuple[Response, int]:
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
        hint=hint or (param_hint(param) if status == 400 else None),
    )
    return Response(page, status=status, mimetype="text/html"), status


def install(app: Flask) -> None:
    """Register the handlers."""

    @app.errorhandler(QueryError)
    def _bad_param(err: QueryError) -> tuple[Response, int]:
        return error_response(400, str(err), err.param, err.hint)

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

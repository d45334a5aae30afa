"""The jixiao portal: faceted hybrid search, filings, indicator comparison, exports, API.

``create_app()`` builds the Flask app; ``jixiao serve`` runs it under gunicorn.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

from indexer.store.base import Store
from webapp.facets import RegionParents
from webapp.params import require_utf8
from webapp.portal import Portal

DEFAULTS: dict[str, Any] = {
    "STORE_DIR": None,  # embedded store folder (default JIXIAO_STORE or data/index)
    "ES_URL": None,  # Elasticsearch instead (or JIXIAO_ES_URL)
    "MODEL": None,  # sentence-transformers model (default e5 + adapter, or JIXIAO_MODEL)
    "SOURCE_ROOT": None,  # where relative source paths of the index live (default: cwd)
    "EXPORT_MAX_ROWS": 100_000,  # rows one export streams at most
    "COMPARE_MAX_ROWS": 2_000,  # indicator rows the compare page's table shows at most
    # rows the compare page's statistics, chart and sort cover at most (the best by
    # relevance beyond it; the page says so): bounds what one page view fetches
    "COMPARE_STATS_MAX_ROWS": 20_000,
}


def create_app(
    store: Store | None = None, embedder: Any = None, config: dict[str, Any] | None = None
) -> Flask:
    """The portal over ``store`` (opened from the config when None) and ``embedder``."""
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    app.config.update(config or {})
    app.config["JSON_AS_ASCII"] = False
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    root = app.config["SOURCE_ROOT"] or os.environ.get("JIXIAO_SOURCE_ROOT") or os.getcwd()
    app.config["SOURCE_ROOT"] = str(Path(root).resolve())
    store_dir = app.config["STORE_DIR"]
    app.extensions["jixiao"] = Portal(
        store=store,
        embedder=embedder,
        store_dir=Path(store_dir) if store_dir else None,
        es_url=app.config["ES_URL"],
        model=app.config["MODEL"],
    )
    app.extensions["jixiao.regions"] = RegionParents()

    from webapp import security, templating
    from webapp.views import api, errors, exports, pages

    app.before_request(require_utf8)
    security.install(app)
    templating.install(app)
    errors.install(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(exports.bp)
    return app

"""``jixiao serve``: the portal under gunicorn, the model and vectors loaded once.

The master loads the embedding model and the embedded store's vector index, then
forks the workers: they share the model's weights and the HNSW graphs copy-on-write
(searches only read them) instead of each loading its own (at a million passages
that is 0.45 + 1.7 GiB per worker). Each worker creates the app (its own store
connection, which takes that index) and encodes one query before it accepts
requests, so no request pays for a load. The master never encodes (the model is
loaded on one thread, so no OpenMP team exists at the fork); SQLite and tantivy
are only opened after the fork, where they are safe.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from indexer.store.factory import embedded_store_dir

DEFAULT_THREADS = 8


class PortalServer(BaseApplication):
    """A gunicorn application serving ``create_app(config=...)``."""

    def __init__(self, app_config: dict[str, Any], options: dict[str, Any]) -> None:
        self.app_config = app_config
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key.lower(), value)

    def load(self):  # noqa: ANN201 - a WSGI app
        from webapp import create_app

        app = create_app(config=self.app_config)
        app.extensions["jixiao"].warm()
        return app


def _post_fork(server: Any, worker: Any) -> None:  # noqa: ARG001 - gunicorn's hook signature
    """Split the cores among the workers: torch would otherwise use them all in each."""
    workers = max(1, int(server.cfg.workers))
    threads = max(1, (os.cpu_count() or 1) // workers)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


def share_with_workers(store_dir: Path | None, model: str | None) -> int | None:
    """Load the model and the store's vector index in this (master) process for the
    workers it forks; the passages in that index (None without one)."""
    from indexer.embeddings import preload_model

    _say(f"model {preload_model(model)} loaded once for all workers")
    return share_vectors(store_dir)


def share_vectors(store_dir: Path | None) -> int | None:
    """(Re)load the store's vector index here for the workers forked next.

    Also gunicorn's ``on_reload`` hook: after an index run, ``kill -HUP`` on the
    master shares the new index with the new workers it starts.
    """
    from indexer.store.embedded import preload_vectors

    passages = preload_vectors(store_dir) if store_dir is not None else None
    if passages:
        _say(f"vector index of {passages} passages loaded once for all workers")
    # the workers' collector would otherwise write to every object it tracks, and
    # copy the pages they live on
    gc.freeze()
    return passages


def _say(message: str) -> None:
    print(f"jixiao serve: {message}", file=sys.stderr, flush=True)


def serve(
    store_dir: str | None,
    es_url: str | None,
    host: str,
    port: int,
    workers: int,
    threads: int = DEFAULT_THREADS,
    model: str | None = None,
    timeout: int = 120,
) -> None:
    """Run gunicorn in the foreground until interrupted."""
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": timeout,
        "graceful_timeout": 10,
        "preload_app": False,  # each worker creates its own app and store (see above)
        "post_fork": _post_fork,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
        "control_socket_disable": True,  # several servers may run on one machine
        # gunicorn's most (default 4094): a shared link with many filters, or an over-long
        # query, reaches the app and gets its answer (a 400 naming q), not an HTML 414
        "limit_request_line": 8190,
    }
    config = {"STORE_DIR": store_dir, "ES_URL": es_url, "MODEL": model}
    folder = embedded_store_dir(store_dir and Path(store_dir), es_url)
    options["on_reload"] = lambda server: share_vectors(folder)  # noqa: ARG005 - its signature
    share_with_workers(folder, model)
    PortalServer(config, options).run()

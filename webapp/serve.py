"""``jixiao serve``: the portal under gunicorn, the model loaded once in each worker.

Workers are forked from a master that holds nothing open; each worker creates the
app (its own store connection), loads the embedding model and encodes one query
before it accepts requests, so no request pays for the model load.
"""

from __future__ import annotations

import os
from typing import Any

from gunicorn.app.base import BaseApplication

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
        "preload_app": False,  # each worker opens its own store and model
        "post_fork": _post_fork,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
        "control_socket_disable": True,  # several servers may run on one machine
    }
    config = {"STORE_DIR": store_dir, "ES_URL": es_url, "MODEL": model}
    PortalServer(config, options).run()

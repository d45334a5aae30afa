"""Errors a user sees as one line: the file and the reason, never a traceback."""

from __future__ import annotations


class ReadError(Exception):
    """A file could not be read; ``str(err)`` is the reason shown to the user."""


class ModelUnavailable(Exception):
    """The embedding model could not be loaded; ``str(err)`` names it and says why."""


class CacheUnavailable(Exception):
    """The embedding cache cannot be opened; ``str(err)`` names it and says why."""

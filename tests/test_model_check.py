"""A store's vectors are searched only with the encoder that made them."""

from __future__ import annotations

import pytest

from indexer.model_check import ModelMismatch, check_models
from indexer.store.base import StoreError


def test_same_model_passes_quietly() -> None:
    assert check_models({"e5@1": 5}, "e5@1") is None


def test_empty_or_unrecorded_stores_pass() -> None:
    assert check_models({}, "e5@1") is None
    # filings indexed before models were recorded: no evidence of a mismatch
    assert check_models({"": 4}, "e5@1") is None


def test_another_model_is_refused_naming_both() -> None:
    with pytest.raises(ModelMismatch) as caught:
        check_models({"e5@1": 5, "": 1}, "bge-small")
    message = str(caught.value)
    assert "e5@1" in message and "bge-small" in message and "jixiao index" in message
    # the CLI and the portal show StoreErrors as one line, never a traceback
    assert isinstance(caught.value, StoreError)


def test_a_store_switching_models_warns_with_the_count() -> None:
    warning = check_models({"old@1": 3, "new@2": 2}, "new@2")
    assert warning is not None and "3 filing(s)" in warning
    with pytest.raises(ModelMismatch, match="new@2, old@1"):
        check_models({"old@1": 3, "new@2": 2}, "third")

"""Fold a LoRA adapter, as peft saves it, into a model's weights (numpy, no peft).

jixiao adapts multilingual-e5-small to the register of budget filings with a small
LoRA adapter (``indexer/data/e5-jixiao-lora/``, trained by ``python -m
indexer.finetune``). At setup the adapter is merged into the weights once
(``W += scale · B·A``), so the encoder that indexes and searches is an ordinary
BERT folder and runs exactly as fast as the base model.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
_PREFIX = "base_model.model."


class AdapterError(Exception):
    """The adapter folder is missing, unreadable or does not fit the model."""


@dataclass(frozen=True)
class LoraAdapter:
    """Low-rank updates by the name of the weight they change: ``(A [r, in], B [out, r])``."""

    scale: float
    updates: dict[str, tuple[np.ndarray, np.ndarray]]


def _config(folder: Path) -> dict:
    try:
        config = json.loads((folder / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    except OSError as err:
        raise AdapterError(
            f"{folder}: no readable {ADAPTER_CONFIG} ({err.strerror or err})"
        ) from None
    except ValueError as err:
        raise AdapterError(f"{folder / ADAPTER_CONFIG}: not JSON ({err})") from None
    if config.get("peft_type") != "LORA":
        raise AdapterError(f"{folder}: not a LoRA adapter (peft_type {config.get('peft_type')})")
    # Variants that change the update's formula are not what merge_lora computes.
    for option in (
        "use_dora",
        "fan_in_fan_out",
        "rank_pattern",
        "alpha_pattern",
        "lora_bias",
        "modules_to_save",
        "trainable_token_indices",
        "use_qalora",
    ):
        if config.get(option):
            raise AdapterError(f"{folder}: adapters with {option} are not supported")
    return config


def read_adapter(folder: Path) -> LoraAdapter:
    """Read a peft LoRA adapter folder (``adapter_config.json`` + safetensors weights)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    folder = Path(folder)
    config = _config(folder)
    rank, alpha = int(config["r"]), float(config["lora_alpha"])
    scale = alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank
    try:
        weights = load_file(str(folder / ADAPTER_WEIGHTS))
    except (OSError, SafetensorError) as err:
        raise AdapterError(f"{folder / ADAPTER_WEIGHTS}: cannot read ({err})") from None
    updates: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for key, a in weights.items():
        if not key.endswith(".lora_A.weight"):
            continue
        base = key.removesuffix(".lora_A.weight")
        b = weights.get(base + ".lora_B.weight")
        if b is None:
            raise AdapterError(f"{folder}: {base} has lora_A but no lora_B")
        updates[base.removeprefix(_PREFIX) + ".weight"] = (
            a.astype(np.float32),
            b.astype(np.float32),
        )
    if not updates:
        raise AdapterError(f"{folder / ADAPTER_WEIGHTS}: holds no LoRA weights")
    return LoraAdapter(scale, updates)


def merge_lora(tensors: dict[str, np.ndarray], adapter: LoraAdapter) -> None:
    """Add each low-rank update to the weight it adapts, in place.

    Raises :class:`AdapterError` when the adapter names a weight the model lacks or
    its shapes do not fit, before any weight is changed.
    """
    for name, (a, b) in adapter.updates.items():
        weight = tensors.get(name)
        if weight is None:
            raise AdapterError(f"the adapter changes {name}, which the model does not have")
        if b.shape[1] != a.shape[0] or (b.shape[0], a.shape[1]) != weight.shape:
            raise AdapterError(
                f"{name}: update {b.shape[0]}×{a.shape[1]} does not fit weight "
                f"{weight.shape[0]}×{weight.shape[1]}"
            )
    for name, (a, b) in adapter.updates.items():
        tensors[name] = tensors[name] + adapter.scale * (b @ a)


def adapter_digest(folder: Path) -> str:
    """sha256 over the adapter's config and weights: a build records which it merged."""
    digest = hashlib.sha256()
    for name in (ADAPTER_CONFIG, ADAPTER_WEIGHTS):
        try:
            digest.update((Path(folder) / name).read_bytes())
        except OSError as err:
            raise AdapterError(f"{folder}: cannot read {name} ({err.strerror or err})") from None
    return digest.hexdigest()

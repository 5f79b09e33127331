"""OpenVINO backend: adapter scaling, stop set, precision, export venv and export cache without OpenVINO; parity
with the transformers backend on the real Gemma-3-270M with it.

The real-model tests (``-m integration``) need ``openvino_genai`` importable here and the export venv
``.venv-openvino`` (``BOOTEMBED_OPENVINO_VENV``), which they build on first use (about 2 min, 1.5 GB), and export the
model into ``.openvino-cache`` (``BOOTEMBED_OPENVINO_CACHE``; about 1.5 min, 1.1 GB, reused while the weights do not
change). ``BOOTEMBED_SKIP_OPENVINO=1`` skips them instead.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from bootembed.generation import openvino_backend, openvino_env
from bootembed.generation.base import SamplingConfig
from bootembed.generation.openvino_backend import (
    OpenVINOBackend,
    lora_scaling,
    precision_properties,
    read_lora_adapter,
    stop_token_ids,
)

REPO = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("BOOTEMBED_OPENVINO_VENV", REPO / ".venv-openvino"))
CACHE = Path(os.environ.get("BOOTEMBED_OPENVINO_CACHE", REPO / ".openvino-cache"))
SKIP_OPENVINO = os.environ.get("BOOTEMBED_SKIP_OPENVINO", "") not in ("", "0")


# --- LoRA scaling -----------------------------------------------------------------------------------------------


def test_lora_scaling_is_alpha_over_rank() -> None:
    assert lora_scaling({"peft_type": "LORA", "r": 8, "lora_alpha": 16}) == 2.0
    assert lora_scaling({"r": 16, "lora_alpha": 8}) == 0.5


def test_lora_scaling_rslora_divides_by_sqrt_rank() -> None:
    assert lora_scaling({"r": 16, "lora_alpha": 16, "use_rslora": True}) == 4.0


def test_lora_scaling_accepts_patterns_with_the_same_scaling() -> None:
    config = {
        "r": 8,
        "lora_alpha": 16,
        "rank_pattern": {"q_proj": 4},
        "alpha_pattern": {"q_proj": 8},
    }
    assert lora_scaling(config) == 2.0


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"rank_pattern": {"q_proj": 4}}, "one scaling per adapter"),
        ({"alpha_pattern": {"down_proj": 32}}, "one scaling per adapter"),
        ({"use_dora": True}, "use_dora"),
        ({"modules_to_save": ["lm_head"]}, "modules_to_save"),
        ({"bias": "lora_only"}, "bias"),
        ({"peft_type": "IA3"}, "peft_type"),
        ({"r": 0}, "r: expected"),
        ({"lora_alpha": None}, "lora_alpha"),
    ],
)
def test_lora_scaling_rejects_what_one_scalar_cannot_express(
    extra: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        lora_scaling({"peft_type": "LORA", "r": 8, "lora_alpha": 16, **extra})


def test_read_lora_adapter_needs_safetensors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        read_lora_adapter("a", tmp_path)
    (tmp_path / "adapter_config.json").write_text(json.dumps({"r": 4, "lora_alpha": 8}))
    (tmp_path / "adapter_model.bin").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="safetensors"):
        read_lora_adapter("a", tmp_path)
    (tmp_path / "adapter_model.safetensors").write_bytes(b"")
    spec = read_lora_adapter("a", tmp_path)
    assert (spec.name, spec.scaling, spec.rank) == ("a", 2.0, 4)
    assert spec.weights == (tmp_path / "adapter_model.safetensors").resolve()


def test_read_lora_adapter_names_the_adapter_in_errors(tmp_path: Path) -> None:
    (tmp_path / "adapter_config.json").write_text(
        json.dumps({"r": 4, "lora_alpha": 8, "use_dora": True})
    )
    (tmp_path / "adapter_model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="adapter 'pos'"):
        read_lora_adapter("pos", tmp_path)


# --- stop set, precision, options -------------------------------------------------------------------------------


def test_stop_token_ids_are_eos_and_single_token_newlines() -> None:
    vocab = {"\n": [107], "\n\n": [108]}
    assert stop_token_ids(1, vocab.__getitem__) == [1, 107, 108]


def test_stop_token_ids_skip_multi_token_newlines_and_missing_eos() -> None:
    vocab = {"\n": [10], "\n\n": [10, 10]}
    assert stop_token_ids(None, vocab.__getitem__) == [10]
    assert stop_token_ids(-1, vocab.__getitem__) == [10]
    assert stop_token_ids(10, vocab.__getitem__) == [10]


def test_precision_properties_force_the_kv_cache_precision_too() -> None:
    assert precision_properties("float32") == {
        "INFERENCE_PRECISION_HINT": "f32",
        "KV_CACHE_PRECISION": "f32",
    }
    assert precision_properties("bfloat16", native_bf16=True)["KV_CACHE_PRECISION"] == "bf16"
    # Without native bf16 OpenVINO computes in f32, and its paged attention rejects a bf16 KV cache.
    assert precision_properties("bfloat16") == {
        "INFERENCE_PRECISION_HINT": "bf16",
        "KV_CACHE_PRECISION": "f32",
    }
    assert precision_properties("float32", "u8")["KV_CACHE_PRECISION"] == "u8"


def test_precision_properties_auto_follows_native_bf16() -> None:
    assert precision_properties("auto")["INFERENCE_PRECISION_HINT"] == "f32"
    assert precision_properties("auto", native_bf16=True)["INFERENCE_PRECISION_HINT"] == "bf16"


@pytest.mark.parametrize(("dtype", "kv"), [("float16", None), ("float32", "i4")])
def test_precision_properties_reject_unknown_values(dtype: str, kv: str | None) -> None:
    with pytest.raises(ValueError):
        precision_properties(dtype, kv)


def test_backend_rejects_bad_options_before_loading_anything(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="tensor_parallel"):
        OpenVINOBackend(tmp_path, tensor_parallel_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        OpenVINOBackend(tmp_path, batch_size=0)
    with pytest.raises(ValueError, match="kv_cache_gib"):
        OpenVINOBackend(tmp_path, kv_cache_gib=0)


def test_backend_is_registered_with_its_options(tmp_path: Path) -> None:
    import bootembed.generation as generation

    registry = getattr(generation, "BACKENDS", None)
    if registry is None:
        pytest.skip("this tree has no backend registry")
    from bootembed.generation.base import make_backend

    assert registry.get("openvino") is OpenVINOBackend
    assert openvino_backend.BACKEND.options == ("merge_lora",)
    with pytest.raises(ValueError, match="tensor_parallel_size"):
        make_backend("openvino", tmp_path, tensor_parallel_size=2)


def test_native_stderr_capture_collects_and_echoes(capfd: pytest.CaptureFixture[str]) -> None:
    sink: list[str] = []
    with openvino_backend._native_stderr(sink):
        os.write(2, b"[ WARNING ] Unused LoRA tensor: x\n")
    assert sink == ["[ WARNING ] Unused LoRA tensor: x\n"]
    assert "Unused LoRA tensor" in capfd.readouterr().err


# --- fingerprint ------------------------------------------------------------------------------------------------


def _model_folder(root: Path, weights: bytes = b"weights") -> Path:
    root.mkdir(parents=True)
    (root / "config.json").write_text('{"model_type": "gemma3_text"}')
    (root / "model.safetensors").write_bytes(weights)
    return root


def test_fingerprint_depends_on_content_not_location(tmp_path: Path) -> None:
    a = _model_folder(tmp_path / "a")
    b = _model_folder(tmp_path / "elsewhere" / "b")
    assert openvino_env.model_fingerprint(a) == openvino_env.model_fingerprint(b)
    (b / "model.safetensors").write_bytes(b"weightz")
    assert openvino_env.model_fingerprint(a) != openvino_env.model_fingerprint(b)


def test_fingerprint_ignores_markers_and_hidden_files(tmp_path: Path) -> None:
    a = _model_folder(tmp_path / "a")
    before = openvino_env.model_fingerprint(a)
    (a / openvino_env.EXPORT_MARKER).write_text("{}")
    (a / ".cache").mkdir()
    (a / ".cache" / "x").write_text("x")
    assert openvino_env.model_fingerprint(a) == before
    (a / "tokenizer.json").write_text("{}")
    assert openvino_env.model_fingerprint(a) != before


def test_fingerprint_of_a_missing_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        openvino_env.model_fingerprint(tmp_path / "nope")


# --- export venv (fake pip) -------------------------------------------------------------------------------------


class FakeRunner:
    """Stands in for ``openvino_env._run``: records commands, fakes ``venv`` creation and the import check."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def __call__(self, cmd: Sequence[str], what: str, timeout: float, env: Any = None) -> str:
        self.calls.append((what, list(cmd)))
        if what == "create venv":
            python = openvino_env.venv_python(cmd[-1])
            python.parent.mkdir(parents=True, exist_ok=True)
            python.write_text("")
        if what == "list optimum-intel requirements":
            return json.dumps(["transformers<5.6,>=4.51", "optimum~=2.3.0"])
        if what == "import check":
            return "2.13.0+cpu 5.0.0 2026.4.1\n"
        return ""


def test_ensure_env_builds_once_then_returns_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = FakeRunner()
    monkeypatch.setattr(openvino_env, "_run", runner)
    venv = tmp_path / ".venv-openvino"
    python = openvino_env.ensure_openvino_env(venv, torch_index_url=None)
    assert python == openvino_env.venv_python(venv.absolute())
    steps = [what for what, _ in runner.calls]
    assert steps == [
        "create venv",
        "install torch",
        "install optimum-intel",
        "list optimum-intel requirements",
        "install requirements",
        "import check",
    ]
    install = dict(runner.calls)["install requirements"]
    assert "transformers==5.0.0" in install and openvino_env.TORCH_SPEC in install
    assert not any(arg.startswith("torchvision") for arg in install)
    assert "--no-deps" in dict(runner.calls)["install optimum-intel"]
    marker = json.loads((venv / openvino_env.MARKER).read_text())
    assert marker["versions"].startswith("2.13.0+cpu")
    assert not (venv / openvino_env.BUILDING).exists()
    runner.calls.clear()
    assert openvino_env.ensure_openvino_env(venv) == python
    assert runner.calls == []


def test_ensure_env_rebuilds_an_interrupted_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = FakeRunner()
    monkeypatch.setattr(openvino_env, "_run", runner)
    venv = tmp_path / ".venv-openvino"
    venv.mkdir()
    (venv / openvino_env.BUILDING).write_text("")
    (venv / "leftover").write_text("")
    openvino_env.ensure_openvino_env(venv, torch_index_url=None)
    assert not (venv / "leftover").exists()
    assert (venv / openvino_env.MARKER).is_file()


def test_ensure_env_rebuilds_a_venv_of_another_recipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = FakeRunner()
    monkeypatch.setattr(openvino_env, "_run", runner)
    venv = tmp_path / ".venv-openvino"
    openvino_env.ensure_openvino_env(venv, torch_index_url=None)
    marker = json.loads((venv / openvino_env.MARKER).read_text())
    marker["recipe"]["optimum-intel"] = "optimum-intel==1.0"
    (venv / openvino_env.MARKER).write_text(json.dumps(marker))
    runner.calls.clear()
    openvino_env.ensure_openvino_env(venv, torch_index_url=None)
    assert runner.calls[0][0] == "create venv"


def test_ensure_env_refuses_a_foreign_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(openvino_env, "_run", FakeRunner())
    venv = tmp_path / "someone-elses-venv"
    venv.mkdir()
    with pytest.raises(RuntimeError, match="remove it"):
        openvino_env.ensure_openvino_env(venv)


def test_ensure_env_hints_at_the_torch_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = FakeRunner()

    def failing(cmd: Sequence[str], what: str, timeout: float, env: Any = None) -> str:
        if what == "install torch":
            raise RuntimeError("no matching distribution")
        return runner(cmd, what, timeout, env)

    monkeypatch.setattr(openvino_env, "_run", failing)
    venv = tmp_path / ".venv-openvino"
    with pytest.raises(RuntimeError, match="BOOTEMBED_TORCH_INDEX_URL"):
        openvino_env.ensure_openvino_env(venv, torch_index_url=None)
    assert (venv / openvino_env.BUILDING).is_file()  # recognised as an interrupted build next time


# --- export (fake optimum-cli in a fake complete venv) ----------------------------------------------------------

_FAKE_CLI = """\
#!{python}
import os, sys
from pathlib import Path
count = Path(os.environ["FAKE_CLI_COUNT"])
count.write_text(str(int(count.read_text() or 0) + 1) if count.exists() else "1")
if os.environ.get("FAKE_CLI_FAIL"):
    out = Path(sys.argv[-1]); out.mkdir(parents=True); (out / "partial").write_text("x")
    sys.exit("export failed")
assert os.environ["HF_HUB_OFFLINE"] == "1"
args = sys.argv[1:]
assert args[:2] == ["export", "openvino"], args
assert args[args.index("--task") + 1] == "text-generation-with-past"
out = Path(args[-1]); out.mkdir(parents=True)
src = Path(args[args.index("--model") + 1])
for name in {files!r}:
    (out / name).write_text(args[args.index("--weight-format") + 1])
(out / "source.txt").write_text((src / "model.safetensors").read_text())
"""


@pytest.fixture
def fake_venv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A venv that passes the completeness check, with an ``optimum-cli`` that writes fake IR files."""
    if os.name == "nt":
        pytest.skip("fake optimum-cli is a POSIX script")
    venv = tmp_path / "venv"
    python = openvino_env.venv_python(venv)
    python.parent.mkdir(parents=True)
    python.write_text("")
    cli = python.parent / "optimum-cli"
    cli.write_text(_FAKE_CLI.format(python=sys.executable, files=openvino_env.IR_FILES))
    cli.chmod(cli.stat().st_mode | stat.S_IXUSR)
    (venv / openvino_env.MARKER).write_text(
        json.dumps({"recipe": openvino_env._recipe(), "versions": "fake"})
    )
    monkeypatch.setenv("FAKE_CLI_COUNT", str(tmp_path / "count"))
    yield venv


def _count(tmp_path: Path) -> int:
    path = tmp_path / "count"
    return int(path.read_text()) if path.exists() else 0


def test_export_runs_once_per_content(tmp_path: Path, fake_venv: Path) -> None:
    model = _model_folder(tmp_path / "model", b"v1")
    out = openvino_env.export_model(model, tmp_path / "ir", venv=fake_venv)
    assert openvino_env.is_openvino_ir(out)
    assert (out / "source.txt").read_text() == "v1"
    marker = json.loads((out / openvino_env.EXPORT_MARKER).read_text())
    assert marker["source_fingerprint"] == openvino_env.model_fingerprint(model)
    assert marker["weight_format"] == "fp32"
    assert openvino_env.export_model(model, tmp_path / "ir", venv=fake_venv) == out
    assert _count(tmp_path) == 1
    (model / "model.safetensors").write_bytes(b"v2")  # new weights: re-exported in place
    openvino_env.export_model(model, tmp_path / "ir", venv=fake_venv)
    assert _count(tmp_path) == 2
    assert (out / "source.txt").read_text() == "v2"
    openvino_env.export_model(model, tmp_path / "ir", venv=fake_venv, weight_format="int8")
    assert _count(tmp_path) == 3
    assert (out / "openvino_model.xml").read_text() == "int8"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_concurrent_exports_run_the_exporter_once(tmp_path: Path, fake_venv: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    model = _model_folder(tmp_path / "model", b"v1")
    with ThreadPoolExecutor(3) as pool:
        outs = list(
            pool.map(
                lambda _: openvino_env.export_model(model, tmp_path / "ir", venv=fake_venv),
                range(3),
            )
        )
    assert len(set(outs)) == 1 and openvino_env.is_openvino_ir(outs[0])
    assert _count(tmp_path) == 1


def test_failed_export_keeps_the_previous_one(
    tmp_path: Path, fake_venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _model_folder(tmp_path / "model", b"v1")
    out = openvino_env.export_model(model, tmp_path / "ir", venv=fake_venv)
    (model / "model.safetensors").write_bytes(b"v2")
    monkeypatch.setenv("FAKE_CLI_FAIL", "1")
    with pytest.raises(RuntimeError, match="export failed"):
        openvino_env.export_model(model, tmp_path / "ir", venv=fake_venv)
    assert (out / "source.txt").read_text() == "v1"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".ir.tmp")] == []


def test_cached_export_is_content_addressed(tmp_path: Path, fake_venv: Path) -> None:
    a = _model_folder(tmp_path / "a", b"same")
    b = _model_folder(tmp_path / "b", b"same")
    out_a = openvino_env.cached_export(a, tmp_path / "cache", venv=fake_venv)
    out_b = openvino_env.cached_export(b, tmp_path / "cache", venv=fake_venv)
    assert out_a == out_b
    assert out_a.name == openvino_env.model_fingerprint(a)[:16] + "-fp32"
    assert _count(tmp_path) == 1


def test_export_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="weight_format"):
        openvino_env.export_model(tmp_path, tmp_path / "ir", weight_format="q4_k")
    with pytest.raises(FileNotFoundError, match="config.json"):
        openvino_env.export_model(tmp_path, tmp_path / "ir")


# --- real model (integration) -----------------------------------------------------------------------------------

N_PROMPTS = 16
GREEDY = SamplingConfig(max_new_tokens=32)


_NO_OPENVINO_REASON = (
    "BOOTEMBED_SKIP_OPENVINO is set"
    if SKIP_OPENVINO
    else "openvino_genai is not installed (pip install --no-deps "
    + " ".join(openvino_env.RUNTIME_REQUIREMENTS)
    + ")"
)
#: Evaluated at collection, so a skipped test does not materialise the real model first.
requires_openvino = pytest.mark.skipif(
    SKIP_OPENVINO or not openvino_backend.openvino_genai_importable(), reason=_NO_OPENVINO_REASON
)


def _require_openvino() -> None:
    if SKIP_OPENVINO or not openvino_backend.openvino_genai_importable():
        pytest.skip(_NO_OPENVINO_REASON)


@pytest.fixture(scope="module")
def ov_model_dir(request: pytest.FixtureRequest) -> Path:
    """The real Gemma-3-270M exported to OpenVINO IR (builds the export venv on first use)."""
    _require_openvino()  # before materialising the model
    real_generator_dir: Path = request.getfixturevalue("real_generator_dir")
    try:
        return openvino_env.cached_export(real_generator_dir, CACHE, venv=VENV)
    except RuntimeError as exc:
        pytest.skip(f"the OpenVINO export venv / export is unavailable: {exc}")


@pytest.fixture(scope="module")
def hau_prompts(data_root: Path) -> list[str]:
    from bootembed.prompts import xllora_prompt

    lines = (data_root / "flores200" / "dev" / "hau_Latn.dev").read_text(encoding="utf-8")
    return [xllora_prompt(s, "positive") for s in lines.splitlines()[:N_PROMPTS]]


@pytest.fixture(scope="module")
def random_lora(real_generator_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A peft LoRA on the real model (r 8, alpha 16, all linear layers) with small random non-zero B."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    out = tmp_path_factory.mktemp("ov_lora") / "lora"
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(str(real_generator_dir), dtype=torch.float32)
    config = LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, config)
    with torch.no_grad():
        for name, weight in peft_model.named_parameters():
            if "lora_B" in name:
                weight.normal_(0.0, 0.02)
    peft_model.save_pretrained(str(out))
    return out


@pytest.fixture(scope="module")
def transformers_reference(
    ov_model_dir: Path, real_generator_dir: Path, random_lora: Path, hau_prompts: list[str]
) -> dict[str, Any]:
    """Greedy float32 transformers outputs (base and LoRA), token counts and the stop set."""
    from bootembed.generation.transformers_backend import TransformersBackend

    with TransformersBackend(
        real_generator_dir, adapters={"lora": random_lora}, dtype="float32", batch_size=16
    ) as backend:
        base = backend.generate(hau_prompts, adapter=None, sampling=GREEDY)
        base_tokens = backend.generated_tokens
        lora = backend.generate(hau_prompts, adapter="lora", sampling=GREEDY)
        return {
            "base": base,
            "base_tokens": base_tokens,
            "lora": lora,
            "lora_tokens": backend.generated_tokens - base_tokens,
            "stop_ids": backend._stop_token_ids(),
            "input_ids": backend.tokenizer(hau_prompts).input_ids,
        }


@pytest.mark.integration
@requires_openvino
def test_base_greedy_matches_transformers(
    ov_model_dir: Path, hau_prompts: list[str], transformers_reference: dict[str, Any]
) -> None:
    with OpenVINOBackend(ov_model_dir, dtype="float32", batch_size=16) as backend:
        assert backend.stop_token_ids == transformers_reference["stop_ids"]
        ids = [list(t.data[0]) for t in backend._encode(hau_prompts)]
        assert ids == transformers_reference["input_ids"]  # same tokenizer
        texts = backend.generate(hau_prompts, adapter=None, sampling=GREEDY)
        assert backend.generated_tokens == transformers_reference["base_tokens"]
        settings = backend.settings()
        assert settings["name"] == "openvino" and settings["kv_cache_precision"] == "f32"
        assert settings["weight_format"] == "fp32"
    assert texts == transformers_reference["base"]
    with pytest.raises(RuntimeError, match="close"):
        backend.generate(hau_prompts[:1], adapter=None, sampling=GREEDY)


@pytest.mark.integration
@requires_openvino
@pytest.mark.parametrize("merge_lora", [True, False], ids=["fused", "dynamic"])
def test_lora_greedy_matches_peft(
    ov_model_dir: Path,
    random_lora: Path,
    hau_prompts: list[str],
    transformers_reference: dict[str, Any],
    merge_lora: bool,
) -> None:
    with OpenVINOBackend(
        ov_model_dir, adapters={"lora": random_lora}, dtype="float32", merge_lora=merge_lora
    ) as backend:
        lora = backend.generate(hau_prompts, adapter="lora", sampling=GREEDY)
        assert backend.generated_tokens == transformers_reference["lora_tokens"]
        base = backend.generate(hau_prompts[:4], adapter=None, sampling=GREEDY)
        with pytest.raises(KeyError):
            backend.generate(hau_prompts[:1], adapter="missing", sampling=GREEDY)
    assert lora == transformers_reference["lora"]
    assert lora != transformers_reference["base"]  # the adapter changes the outputs
    assert base == transformers_reference["base"][:4]  # adapter=None is the base model


@pytest.mark.integration
@requires_openvino
def test_sampling_is_seeded_per_prompt(ov_model_dir: Path, hau_prompts: list[str]) -> None:
    sampling = SamplingConfig(max_new_tokens=8, do_sample=True, temperature=1.0, top_p=0.95)
    with OpenVINOBackend(ov_model_dir, batch_size=4) as backend:
        first = backend.generate(hau_prompts[:6], adapter=None, sampling=sampling)
        again = backend.generate(hau_prompts[:6], adapter=None, sampling=sampling)
        reseeded = backend.generate(
            hau_prompts[:6], adapter=None, sampling=dataclasses.replace(sampling, seed=7)
        )
    assert first == again
    assert first != reseeded


@pytest.mark.integration
@requires_openvino
def test_adapter_for_another_model_is_rejected(
    ov_model_dir: Path, random_lora: Path, tmp_path: Path
) -> None:
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(random_lora / "adapter_model.safetensors"))
    renamed = {k.replace("self_attn.q_proj", "attn.wq"): v for k, v in tensors.items()}
    (tmp_path / "adapter_config.json").write_text((random_lora / "adapter_config.json").read_text())
    save_file(renamed, str(tmp_path / "adapter_model.safetensors"))
    with pytest.raises(ValueError, match="match no layer"):
        OpenVINOBackend(ov_model_dir, adapters={"bad": tmp_path})

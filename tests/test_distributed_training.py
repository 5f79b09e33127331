"""Issue 17: generator SFT and encoder training under ``accelerate launch`` with 2 CPU processes (gloo, DDP).

One launch of ``configs/accelerate/ddp.yaml`` (the file shipped for GPUs: without CUDA its processes talk over
gloo) trains a tiny random Gemma-3 LoRA generator and a tiny random BERT encoder with the library functions the
stages call (``tests/distributed_harness.py``), the generator run killed right after its step-2 checkpoint; a second
launch resumes it. Checked: the two processes hold the same weights after every run (the gradients are
all-reduced), the runs equal a one-process run with the same global batch, only the main process writes, and the
resume starts from the checkpoint.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import torch
from helpers import build_tiny_encoder, torch_threads

from bootembed.encoder_training import train_encoder
from bootembed.generator_training import train_lora_adapter

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "accelerate" / "ddp.yaml"
HARNESS = REPO / "tests" / "distributed_harness.py"

EXAMPLES = [
    {
        "prompt": f"Premise: the cat {i} sits on the mat. English sentence:",
        "completion": f" a cat {i}",
    }
    for i in range(16)
]
#: Generator SFT: 2 processes x batch 2 = a global batch of 4 per step, as one process with batch 2 x grad_accum 2.
SFT = {
    "rank": 4,
    "alpha": 8,
    "dropout": 0.0,
    "max_steps": 4,
    "learning_rate": 1e-2,
    "batch_size": 2,
    "max_length": 48,
    "seed": 3,
    "dtype": "float32",
    "logging_steps": 1,
    "save_steps": 2,
}
#: Encoder: 2 processes x batch 4 with gathered embeddings = one process with batch 8 (no dropout in the model).
ENCODER = {
    "max_steps": 3,
    "learning_rate": 1e-3,
    "warmup_ratio": 0.0,
    "max_seq_length": 16,
    "prompt": None,
    "seed": 5,
    "logging_steps": 1,
    "save_steps": 100,
    "dtype": "float32",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _launch(settings: dict, cwd: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(CONFIG),
        "--num_processes",
        "2",
        "--main_process_port",
        str(_free_port()),
        str(HARNESS),
        json.dumps(settings),
    ]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    words = [f"w{i}" for i in range(40)]
    st_dir = build_tiny_encoder(tmp_path_factory.mktemp("enc"), words)
    config = json.loads((st_dir / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (st_dir / "config.json").write_text(json.dumps(config))
    return st_dir


def _triplets() -> pl.DataFrame:
    # every text distinct, so the no-duplicates batch sampler groups rows the same way for any batch size
    rows = [(f"w{i}", f"w{i} w{i + 1}", f"w{i} w{39 - i} w{39 - i}") for i in range(24)]
    return pl.DataFrame(rows, schema=["anchor", "positive", "negative"], orient="row")


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], atol: float) -> None:
    assert a.keys() == b.keys() and a
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=atol, msg=key)


def test_ddp_two_processes_train_in_sync_write_once_and_resume(
    tiny_causal_lm: Path, tiny_encoder: Path, tmp_path: Path
) -> None:
    from peft import PeftModel
    from safetensors.torch import load_file
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModelForCausalLM

    triplets = _triplets()
    triplets.write_parquet(tmp_path / "triplets.parquet")
    (tmp_path / "examples.json").write_text(json.dumps(EXAMPLES))
    # one process, the same global batches
    with torch_threads(1):
        single_sft = train_lora_adapter(
            tiny_causal_lm,
            EXAMPLES,
            tmp_path / "single" / "adapter",
            grad_accum=2,
            work_root=tmp_path / "single" / "work",
            **SFT,
        )
        single_enc = train_encoder(
            tiny_encoder,
            triplets,
            tmp_path / "single" / "encoder",
            batch_size=8,
            work_root=tmp_path / "single" / "work",
            **ENCODER,
        )
    out = tmp_path / "ddp"
    out.mkdir()
    work = out / "work"
    sft = {
        "base_model_dir": str(tiny_causal_lm),
        "output_dir": str(out / "adapter"),
        "examples_file": str(tmp_path / "examples.json"),
        "work_root": str(work),
        **SFT,
    }
    encoder = {
        "base_model_dir": str(tiny_encoder),
        "output_dir": str(out / "encoder"),
        "triplets_file": str(tmp_path / "triplets.parquet"),
        "work_root": str(work),
        "batch_size": 4,
        **ENCODER,
    }
    first = _launch(
        {"out": str(out), "encoder": encoder, "sft": sft, "kill_sft_after_step": 2}, tmp_path
    )
    assert first.returncode != 0, "the generator run should have been killed"
    assert "killed after checkpoint-2" in first.stderr, first.stderr[-3000:]
    # encoder: both processes hold the weights of the one-process run; only the main process wrote the model
    ranks = [torch.load(out / f"encoder-rank{r}.pt") for r in (0, 1)]
    _same(ranks[0], ranks[1], atol=0)
    saved = SentenceTransformer(str(out / "encoder"), device="cpu")
    _same(ranks[0], {k: p.detach() for k, p in saved.named_parameters()}, atol=0)
    reference = SentenceTransformer(str(single_enc.model_dir), device="cpu")
    _same(ranks[0], {k: p.detach() for k, p in reference.named_parameters()}, atol=1e-5)
    log = json.loads((out / "encoder" / "training_log.json").read_text())
    assert log["hyper_parameters"]["processes"] == 2 and log["steps"] == ENCODER["max_steps"]
    # the killed generator run: no adapter, no half-written folder; the main process's checkpoint is kept
    assert not (out / "adapter").exists()
    assert sorted(p.name for p in out.iterdir()) == [
        "encoder",
        "encoder-rank0.pt",
        "encoder-rank1.pt",
        "work",
    ]
    assert [p.name for p in work.rglob("checkpoint-*")] == ["checkpoint-2"]

    second = _launch({"out": str(out), "sft": sft}, tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    ranks = [torch.load(out / f"sft-rank{r}.pt") for r in (0, 1)]
    _same(ranks[0], ranks[1], atol=0)
    log = json.loads((out / "adapter" / "training_log.json").read_text())
    assert log["resumed_from"] == "checkpoint-2" and log["steps"] == SFT["max_steps"]
    assert log["hyperparameters"]["processes"] == 2
    # the logged loss is the mean over both processes' tokens: the one-process curve (a loss scaled wrongly for
    # the gathered token count would not show in the weights: Adam and clipping at 0.3 cancel a constant factor)
    assert log["losses"] == pytest.approx(single_sft.losses, rel=2e-3)
    assert not work.exists() or not any(
        work.rglob("checkpoint-*")
    )  # removed once the adapter was written
    # resumed 2-process run = uninterrupted one-process run with grad_accum 2
    got, want = (
        load_file(str(d / "adapter_model.safetensors"))
        for d in (out / "adapter", single_sft.adapter_dir)
    )
    _same(got, want, atol=1e-5)
    base = AutoModelForCausalLM.from_pretrained(tiny_causal_lm, dtype=torch.float32)
    assert any(
        "lora_B" in n and p.abs().sum() > 0
        for n, p in PeftModel.from_pretrained(base, out / "adapter").named_parameters()
    )
    shutil.rmtree(out)


def test_one_process_needs_no_process_group(monkeypatch: pytest.MonkeyPatch) -> None:
    from bootembed import distributed

    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert (distributed.world_size(), distributed.rank(), distributed.is_main()) == (1, 0, True)
    with distributed.main_first():  # no barrier, no accelerate state
        distributed.barrier()
    distributed.refuse_measurement("train_encoder.dtype")  # allowed on one process
    assert distributed.kbit_device_map(use_cpu=True) == {"": "cpu"}
    assert distributed.kbit_device_map(use_cpu=False) == "auto"


def test_several_processes_pick_their_gpu_and_refuse_the_auto_measurement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bootembed import distributed

    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert (distributed.world_size(), distributed.is_main()) == (4, False)
    assert distributed.kbit_device_map(use_cpu=False) == {
        "": 1
    }  # one replica per GPU, not spread by "auto"
    with pytest.raises(
        ValueError, match=r"train_generator.dtype: auto .* 4 processes; set float32 or bfloat16"
    ):
        distributed.refuse_measurement("train_generator.dtype")


@pytest.mark.parametrize(("rank", "writes"), [("0", True), ("1", False)])
def test_stage_metrics_are_written_by_the_main_process_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, rank: str, writes: bool
) -> None:
    """The stage wrappers under ``accelerate launch``: every process trains, only rank 0 writes the metrics."""
    from conftest import load_default_params

    from bootembed.generator_training import LoraTrainingResult
    from bootembed.stages import train_encoder as encoder_stage
    from bootembed.stages import train_generator as generator_stage

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", rank)
    params = load_default_params(train_generator={"dtype": "float32"})
    trained: list[str] = []

    def fake_encoder(request, **options):  # noqa: ANN001, ANN202
        trained.append(f"encoder {request.language}")
        return {"steps": 1}

    def fake_generator(params, base, examples, out, *, lm, dtype, **_):  # noqa: ANN001, ANN202
        trained.append(f"generator {out.name}")
        return LoraTrainingResult(out, 1, 1.0, [1.0], 0.1, len(examples))

    monkeypatch.setattr(encoder_stage, "_train", fake_encoder)
    monkeypatch.setattr(generator_stage, "_train", fake_generator)
    encoder_stage.run(
        params,
        params_path=REPO / "params.yaml",
        language="hau_Latn",
        metrics_path=tmp_path / "encoder.json",
        base=tmp_path,
        triplets=tmp_path / "t.parquet",
        out=tmp_path / "enc",
    )
    text = tmp_path / "lm_text.jsonl"
    text.write_text('{"prompt": "", "completion": "Ina son ruwa."}\n')
    generator_stage.run_language_adapter(
        params,
        params_path=REPO / "params.yaml",
        base=tmp_path,
        text_path=text,
        out=tmp_path / "lang",
        metrics_path=tmp_path / "generator.json",
    )
    assert trained == ["encoder hau_Latn", "generator lang"]  # every process trains
    assert (tmp_path / "encoder.json").exists() is writes
    assert (tmp_path / "generator.json").exists() is writes

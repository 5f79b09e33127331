"""One hardware probe, one dtype rule: faked machines of every kind, down to the trainer arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootembed import hardware
from bootembed.hardware import (
    MIN_SPEEDUP,
    SYNTHESIS_MIN_AGREEMENT,
    Hardware,
    Measurement,
    greedy_agreement,
    loss_curve_difference,
    resolve_dtype,
    trainer_precision,
)

AVX2 = Hardware(device="cpu", cpu_model="AMD EPYC", cpu_flags=frozenset({"avx2", "fma"}), cpus=2)
AVX512 = Hardware(
    device="cpu", cpu_model="Xeon", cpu_flags=frozenset({"avx2", "avx512f", "avx512_vnni"}), cpus=2
)
AVX512_BF16 = Hardware(
    device="cpu",
    cpu_model="AMD EPYC 9R14",
    cpu_flags=frozenset({"avx2", "avx512f", "avx512_bf16"}),
    cpu_capability="AVX512",  # what torch answers there: the flag, not the capability, tells bf16
    cpus=2,
)
AMX = Hardware(
    device="cpu",
    cpu_model="Xeon Sapphire Rapids",
    cpu_flags=frozenset({"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}),
    cpus=2,
)
CUDA_BF16 = Hardware(device="cuda", cpu_model="x", cuda_device="NVIDIA H200", cuda_bf16=True)
CUDA_NO_BF16 = Hardware(device="cuda", cpu_model="x", cuda_device="Tesla T4", cuda_bf16=False)

MACHINES = {
    "avx2": (AVX2, False),
    "avx512": (AVX512, False),
    "avx512_bf16": (AVX512_BF16, True),
    "amx": (AMX, True),
    "cuda_bf16": (CUDA_BF16, True),
    "cuda_no_bf16": (CUDA_NO_BF16, False),
}


def _measurement(speedup: float, safe: bool) -> Measurement:
    return Measurement(
        float32_seconds=speedup,
        bfloat16_seconds=1.0,
        check="greedy agreement",
        value=0.95 if safe else 0.6,
        threshold=SYNTHESIS_MIN_AGREEMENT,
        safe=safe,
    )


@pytest.mark.parametrize("kind", list(MACHINES))
def test_native_bf16_by_machine(kind):
    machine, native = MACHINES[kind]
    assert machine.native_bf16 is native
    assert machine.native_dtypes == (("float32", "bfloat16") if native else ("float32",))
    assert machine.as_dict()["native_bf16"] is native


@pytest.mark.parametrize("kind", list(MACHINES))
@pytest.mark.parametrize("step", hardware.STEPS)
def test_auto_is_float32_without_native_bf16_and_never_measures(kind, step):
    machine, native = MACHINES[kind]
    calls = []

    def measure() -> Measurement:
        calls.append(1)
        return _measurement(3.0, True)

    decision = resolve_dtype(step, "auto", hardware=machine, measure=measure)
    if native:
        assert decision.dtype == "bfloat16" and calls == [1]
        assert "measured side by side" in decision.reason
    else:
        assert decision.dtype == "float32" and calls == []
        assert "no native bf16" in decision.reason


@pytest.mark.parametrize(
    ("speedup", "safe", "expected"),
    [
        (2.0, True, "bfloat16"),
        (2.0, False, "float32"),  # faster but greedy outputs change too often
        (MIN_SPEEDUP - 0.05, True, "float32"),  # safe but not faster
        (0.5, False, "float32"),
    ],
)
def test_auto_on_native_bf16_needs_faster_and_safe(speedup, safe, expected):
    decision = resolve_dtype(
        "synthesis", "auto", hardware=AVX512_BF16, measure=lambda: _measurement(speedup, safe)
    )
    assert decision.dtype == expected
    record = decision.as_dict()
    assert record["measurement"]["speedup"] == pytest.approx(speedup, abs=1e-3)
    assert record["reason"].endswith(expected)


def test_native_bf16_without_a_measurement_stays_float32():
    decision = resolve_dtype("encoding", "auto", hardware=AMX)
    assert decision.dtype == "float32" and "no side-by-side measurement" in decision.reason


def test_explicit_dtypes_are_taken_as_given():
    assert resolve_dtype("synthesis", "float32", hardware=AMX).dtype == "float32"
    emulated = resolve_dtype("synthesis", "bfloat16", hardware=AVX2)
    assert emulated.dtype == "bfloat16" and "emulated" in emulated.reason
    with pytest.raises(ValueError, match="synthesize.dtype"):
        resolve_dtype("synthesis", "fp16", field_name="synthesize.dtype", hardware=AVX2)
    with pytest.raises(ValueError, match="step"):
        resolve_dtype("pretraining", "auto", hardware=AVX2)


@pytest.mark.parametrize("kind", list(MACHINES))
def test_trainer_arguments_per_machine(kind):
    machine, native = MACHINES[kind]
    decision = resolve_dtype(
        "generator_training", "auto", hardware=machine, measure=lambda: _measurement(2.0, True)
    )
    args = trainer_precision(decision, machine)
    assert args == {"bf16": native, "use_cpu": machine.device == "cpu"}


def test_probe_reads_flags(monkeypatch, tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text(
        "processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu avx2 avx512f avx512_bf16\n"
    )
    model, flags = hardware._cpuinfo(info)
    assert model == "Test CPU" and {"avx2", "avx512_bf16"} <= flags
    assert hardware._cpuinfo(tmp_path / "missing")[1] == frozenset()
    real = hardware.probe()
    assert real.device in ("cpu", "cuda") and real.describe()


def test_safety_checks():
    assert greedy_agreement(["a", "b", "c", "d"], ["a", "b", "x", "d"]) == 0.75
    assert loss_curve_difference([2.0, 1.0], [2.0, 1.1]) == pytest.approx(0.05)
    with pytest.raises(ValueError):
        greedy_agreement([], [])
    with pytest.raises(ValueError):
        loss_curve_difference([1.0], [1.0, 2.0])


def test_sft_trainer_gets_bf16_and_use_cpu_on_a_faked_bf16_cpu(
    monkeypatch, tiny_causal_lm, tmp_path
):
    """The crash of issue 9: bf16=True without use_cpu on a CPU. With the probe faked to an avx512_bf16 CPU, the
    SFTConfig the project builds has bf16=True *and* use_cpu=True, and one step trains."""
    from bootembed.generator_training import _build_trainer

    monkeypatch.setattr(hardware, "probe", lambda: AVX512_BF16)
    decision = resolve_dtype(
        "generator_training", "auto", hardware=AVX512_BF16, measure=lambda: _measurement(2.0, True)
    )
    precision = trainer_precision(decision)
    examples = [{"prompt": "Premise: a cat.\nEnglish sentence:", "completion": " A cat.\n"}] * 4
    trainer, _, _ = _build_trainer(
        Path(tiny_causal_lm),
        examples,
        tmp_path / "ckpt",
        rank=2,
        alpha=4,
        dropout=0.0,
        target_modules="all-linear",
        max_steps=1,
        learning_rate=1e-3,
        batch_size=2,
        grad_accum=1,
        max_length=64,
        seed=0,
        precision=precision,
        logging_steps=1,
        save_steps=10,
    )
    assert trainer.args.bf16 is True and trainer.args.use_cpu is True
    # the loss really is computed under bf16 autocast (the project's loss calls the backbone directly, past the
    # forward accelerate wraps): the LM head's logits come out in bf16
    import torch

    head = trainer.accelerator.unwrap_model(trainer.model).get_base_model().get_output_embeddings()
    seen: list[torch.dtype] = []
    handle = head.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    trainer.train()
    handle.remove()
    assert trainer.state.global_step == 1
    assert seen and set(seen) == {torch.bfloat16}


def test_bf16_without_use_cpu_is_what_crashed():
    """Documents why use_cpu is passed: transformers refuses bf16 on a CPU-only setup without it."""
    import torch
    from transformers import TrainingArguments

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: bf16 without use_cpu is valid there")
    with pytest.raises(ValueError, match="bf16"):
        TrainingArguments(output_dir="unused", bf16=True, use_cpu=False)


def test_encoder_trainer_gets_the_same_precision(monkeypatch):
    from sentence_transformers import SentenceTransformerTrainingArguments

    monkeypatch.setattr(hardware, "probe", lambda: AMX)
    decision = resolve_dtype(
        "encoder_training", "auto", hardware=AMX, measure=lambda: _measurement(2.0, True)
    )
    args = SentenceTransformerTrainingArguments(output_dir="unused", **trainer_precision(decision))
    assert args.bf16 is True and args.use_cpu is True


@pytest.mark.integration
def test_train_task_adapters_in_bf16_where_native(real_generator_dir, tmp_path):
    """Smoke-size ``train_task_adapters`` with native bf16 (skipped where the CPU has none)."""
    machine = hardware.probe()
    if not machine.native_bf16 or machine.device != "cpu":
        pytest.skip(
            f"this machine has no native CPU bf16 ({machine.describe()}); "
            "the faked avx512_bf16 path is tested down to the trainer arguments above"
        )
    from bootembed.generator_training import train_lora_adapter

    examples = [
        {
            "prompt": "Premise: A man is playing a guitar.\nSentence:",
            "completion": " A man plays music.\n",
        }
    ] * 8
    result = train_lora_adapter(
        real_generator_dir,
        examples,
        tmp_path / "positive",
        max_steps=2,
        batch_size=4,
        dtype="bfloat16",
        work_root=tmp_path / "work",
    )
    assert result.steps == 2


def test_auto_decision_is_measured_once_per_machine_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A speed measurement differs between runs: every later stage (a second seed, a rerun after a kill) must get
    the first decision, not a new one; another machine, base model or size measures again."""
    from conftest import load_default_params

    from bootembed.stages import common

    monkeypatch.setenv("BOOTEMBED_WORK_DIR", str(tmp_path))
    monkeypatch.setattr(common, "probe", lambda: AVX512_BF16)
    calls: list[float] = []

    def measure(speedup: float):  # noqa: ANN202
        def run() -> Measurement:
            calls.append(speedup)
            return _measurement(speedup, safe=True)

        return run

    params = load_default_params(train_encoder={"dtype": "auto"})
    first = common.stage_dtype(params, "encoder_training", measure(2.0))
    assert first.dtype == "bfloat16" and calls == [2.0]
    # a later measurement would say float32 (no speed-up): the kept decision wins, and says where it comes from
    again = common.stage_dtype(params, "encoder_training", measure(0.5))
    assert again.dtype == "bfloat16" and calls == [2.0]
    assert again.measurement == first.measurement and "kept in" in again.reason
    # another seed list or checkpoint interval is the same step: kept; another batch size is measured again
    seeds = load_default_params(train_encoder={"dtype": "auto", "seeds": [7], "save_steps": 3})
    assert common.stage_dtype(seeds, "encoder_training", measure(0.5)).dtype == "bfloat16"
    bigger = load_default_params(train_encoder={"dtype": "auto", "batch_size": 64})
    assert common.stage_dtype(bigger, "encoder_training", measure(0.5)).dtype == "float32"
    assert calls == [2.0, 0.5]
    # another base encoder is measured again; the generator steps have their own decisions
    other = load_default_params(
        train_encoder={"dtype": "auto"},
        models={"encoder": {"source": "hub", "id": "x/y", "revision": "abc"}},
    )
    common.stage_dtype(other, "encoder_training", measure(3.0))
    assert calls == [2.0, 0.5, 3.0]
    assert len(list((tmp_path / "dtype").glob("encoder_training-*.json"))) == 3
    # a float32 machine, or an explicit dtype, never measures nor keeps anything
    monkeypatch.setattr(common, "probe", lambda: AVX2)
    assert common.stage_dtype(params, "encoder_training", measure(9.0)).dtype == "float32"
    explicit = load_default_params(train_encoder={"dtype": "float32"})
    monkeypatch.setattr(common, "probe", lambda: AVX512_BF16)
    assert common.stage_dtype(explicit, "encoder_training", measure(9.0)).dtype == "float32"
    assert calls == [2.0, 0.5, 3.0]

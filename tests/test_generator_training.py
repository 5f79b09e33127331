"""Tests for bootembed.generator_training (tiny random-init Gemma-3 + tiny word-level tokenizer)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import torch

from bootembed.curves import read_loss_curves
from bootembed.generator_training import (
    IGNORE_INDEX,
    LoraTrainingResult,
    _build_trainer,
    completion_only_loss,
    tokenize_prompt_completion,
    train_lora_adapter,
)

WORDS = (
    "premise entailment contradiction : the a cat dog sat ran on mat sun is hot cold "
    "bird flew sky red blue house big small tree green water fish swims"
).split()


def _make_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<eos>", "<bos>", "<unk>"]
    vocab = {tok: i for i, tok in enumerate(specials + WORDS)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
    )


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    path = tmp_path_factory.mktemp("tiny_gemma3")
    tok = _make_tokenizer()
    config = Gemma3TextConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=128,
        sliding_window=16,
        initializer_range=0.5,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(0)
    Gemma3ForCausalLM(config).save_pretrained(path)
    tok.save_pretrained(path)
    return path


EXAMPLES = [
    {"prompt": "premise : the cat sat on the mat entailment :", "completion": "cat sat"},
    {"prompt": "premise : the dog ran entailment :", "completion": "dog ran"},
    {"prompt": "premise : the sun is hot entailment :", "completion": "sun hot"},
    {"prompt": "premise : bird flew sky entailment :", "completion": "bird flew"},
]


def test_tokenize_prompt_completion_masks_prompt_and_adds_bos_once(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    ex = tokenize_prompt_completion(tok, "premise : the cat", "cat sat", max_length=64)
    assert ex is not None
    ids, mask = ex["input_ids"], ex["completion_mask"]
    assert ids[0] == tok.bos_token_id and ids.count(tok.bos_token_id) == 1
    assert ids[-1] == tok.eos_token_id
    n_prompt = 1 + len(tok("premise : the cat", add_special_tokens=False)["input_ids"])
    assert mask == [0] * n_prompt + [1] * (len(ids) - n_prompt)
    assert tok.decode([i for i, m in zip(ids, mask, strict=True) if m]) == "cat sat <eos>"
    # BOS string already in the prompt is not duplicated
    ex2 = tokenize_prompt_completion(tok, "<bos> premise : the cat", "cat sat", max_length=64)
    assert ex2 is not None and ex2["input_ids"] == ids
    # truncation keeps the start; a prompt that fills max_length leaves no completion -> None
    assert tokenize_prompt_completion(tok, "premise : the cat", "cat sat", max_length=5) is None
    short = tokenize_prompt_completion(tok, "premise : the cat", "cat sat", max_length=6)
    assert short is not None and len(short["input_ids"]) == 6 and short["completion_mask"][-1] == 1
    # Language-adapter text (empty prompt): the loss covers every token after BOS.
    lm = tokenize_prompt_completion(tok, "", "the cat sat", max_length=64)
    assert lm is not None and lm["input_ids"][0] == tok.bos_token_id
    assert lm["completion_mask"] == [0] + [1] * (len(lm["input_ids"]) - 1)


def test_trainer_collated_batch_ignores_prompt_tokens(tiny_model_dir: Path, tmp_path: Path) -> None:
    trainer, tok, n = _build_trainer(
        tiny_model_dir,
        EXAMPLES,
        tmp_path / "ckpt",
        rank=4,
        alpha=8,
        dropout=0.0,
        target_modules="all-linear",
        max_steps=1,
        learning_rate=1e-3,
        batch_size=4,
        grad_accum=1,
        max_length=64,
        seed=0,
        precision={"bf16": False, "use_cpu": True},
        logging_steps=1,
        save_steps=10,
    )
    assert n == len(EXAMPLES)
    features = [trainer.train_dataset[i] for i in range(n)]
    batch = trainer.data_collator(features)
    for row, ex in enumerate(EXAMPLES):
        ids = batch["input_ids"][row].tolist()
        labels = batch["labels"][row].tolist()
        n_prompt = 1 + len(tok(ex["prompt"], add_special_tokens=False)["input_ids"])
        assert ids[0] == tok.bos_token_id
        assert all(lab == IGNORE_INDEX for lab in labels[:n_prompt])
        supervised = [i for i, lab in zip(ids, labels, strict=True) if lab != IGNORE_INDEX]
        assert tok.decode(supervised) == ex["completion"] + " <eos>"


def test_train_lora_adapter_writes_loadable_adapter_and_learns(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "adapters" / "pos"
    res = train_lora_adapter(
        tiny_model_dir,
        EXAMPLES,
        out,
        rank=4,
        alpha=8,
        dropout=0.0,
        max_steps=30,
        learning_rate=3e-2,
        batch_size=4,
        max_length=32,
        seed=0,
        dtype="float32",
        logging_steps=1,
        work_root=tmp_path / "work",
    )
    assert isinstance(res, LoraTrainingResult)
    assert res.adapter_dir == out and res.steps == 30 and res.num_examples == len(EXAMPLES)
    assert len(res.losses) >= 15
    assert sum(res.losses[-5:]) / 5 < 0.5 * sum(res.losses[:3]) / 3
    for name in ("adapter_config.json", "adapter_model.safetensors", "training_log.json"):
        assert (out / name).is_file(), name
    assert not (out / "model.safetensors").exists()  # adapter only
    assert sorted(p.name for p in out.parent.iterdir()) == ["pos"]  # no staging leftovers
    log = json.loads((out / "training_log.json").read_text())
    assert log["seed"] == 0 and log["losses"] == res.losses
    assert log["hyperparameters"]["rank"] == 4 and "trl" in log["versions"]
    assert log["dtype"]["dtype"] == "float32" and log["base_model_dir"] == str(tiny_model_dir)
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").rglob("*"))

    weights = load_file(str(out / "adapter_model.safetensors"))
    lora_b = [v for k, v in weights.items() if "lora_B" in k]
    assert lora_b and any(v.abs().max() > 0 for v in lora_b)  # lora_B starts at zero

    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    model = PeftModel.from_pretrained(base, str(out)).eval()
    tok = AutoTokenizer.from_pretrained(str(out))
    ids = tok(EXAMPLES[0]["prompt"], add_special_tokens=False)["input_ids"]
    prompt_ids = torch.tensor([[tok.bos_token_id, *ids]])
    with torch.no_grad():
        nxt = model(input_ids=prompt_ids).logits[0, -1].argmax().item()
    assert tok.convert_ids_to_tokens(nxt) == "cat"  # memorised completion

    # re-training into the same directory replaces it atomically
    res2 = train_lora_adapter(
        tiny_model_dir,
        EXAMPLES[:2],
        out,
        rank=2,
        alpha=4,
        max_steps=2,
        dtype="float32",
        work_root=tmp_path / "work",
    )
    assert res2.num_examples == 2
    assert json.loads((out / "adapter_config.json").read_text())["r"] == 2
    assert sorted(p.name for p in out.parent.iterdir()) == ["pos"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"examples": []}, "examples"),
        ({"examples": [{"prompt": "a"}]}, "completion"),
        ({"examples": [{"prompt": None, "completion": "b"}]}, "prompt"),
        ({"examples": [{"prompt": "a", "completion": " "}]}, "completion"),
        ({"examples": "premise"}, "examples"),
        ({"rank": 0}, "rank"),
        ({"alpha": -1}, "alpha"),
        ({"dropout": 1.5}, "dropout"),
        ({"max_steps": 0}, "max_steps"),
        ({"batch_size": 0}, "batch_size"),
        ({"grad_accum": 0}, "grad_accum"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"max_length": 1}, "max_length"),
        ({"target_modules": []}, "target_modules"),
        ({"dtype": "maybe"}, "dtype"),
        ({"save_steps": 0}, "save_steps"),
    ],
)
def test_invalid_inputs_raise_value_error_naming_field(
    tiny_model_dir: Path, tmp_path: Path, kwargs: dict, field: str
) -> None:
    call = {"examples": EXAMPLES, **kwargs}
    examples = call.pop("examples")
    with pytest.raises(ValueError, match=field):
        train_lora_adapter(
            tiny_model_dir, examples, tmp_path / "out", work_root=tmp_path / "work", **call
        )
    assert not (tmp_path / "out").exists()


def test_missing_base_model_dir(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="base_model_dir"):
        train_lora_adapter(tmp_path / "nope", EXAMPLES, tmp_path / "out")


@pytest.mark.integration
def test_real_gemma_short_run(tmp_path: Path, real_generator_dir: Path, data_root: Path) -> None:
    base = real_generator_dir
    csv_path = data_root / "xllora" / "mixed_parallel_xnli_14l_opusmt_10k_fin_pos.csv"
    with csv_path.open(encoding="utf-8") as fh:
        rows = [r for _, r in zip(range(16), csv.DictReader(fh), strict=False)]
    examples = [
        {"prompt": f"Premise: {r['sent0']}\nEntailment:", "completion": " " + r["sent1"]}
        for r in rows
    ]
    res = train_lora_adapter(
        base, examples, tmp_path / "pos", max_steps=2, batch_size=8, work_root=tmp_path / "work"
    )
    assert res.steps == 2 and all(x == x for x in res.losses)  # finite (not NaN)
    assert (tmp_path / "pos" / "adapter_model.safetensors").is_file()


def test_completion_only_loss_matches_model_loss(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)).eval()
    rows = [tokenize_prompt_completion(tok, e["prompt"], e["completion"], 64) for e in EXAMPLES]
    width = max(len(r["input_ids"]) for r in rows)
    ids = torch.full((len(rows), width), tok.pad_token_id)
    labels = torch.full((len(rows), width), IGNORE_INDEX)
    attn = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        ids[i, :n] = torch.tensor(r["input_ids"])
        attn[i, :n] = 1
        lab = [
            t if m else IGNORE_INDEX
            for t, m in zip(r["input_ids"], r["completion_mask"], strict=True)
        ]
        labels[i, :n] = torch.tensor(lab)
    batch = {"input_ids": ids, "attention_mask": attn, "labels": labels}
    with torch.no_grad():
        expected = model(**batch).loss
        got = completion_only_loss(model, batch)
        n_items = int((labels[:, 1:] != IGNORE_INDEX).sum())
        halved = completion_only_loss(model, batch, num_items=2 * n_items)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(halved, expected / 2, rtol=1e-5, atol=1e-5)


def test_killed_training_resumes_from_its_last_checkpoint(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13, gap 3: checkpoints go to a stable work folder; after an interruption the rerun continues from the
    last checkpoint and ends with the same adapter as an uninterrupted run."""
    from safetensors.torch import load_file
    from transformers import TrainerCallback

    import bootembed.generator_training as gt

    settings = {
        "rank": 4,
        "alpha": 8,
        "dropout": 0.0,
        "max_steps": 6,
        "learning_rate": 1e-2,
        "batch_size": 2,
        "max_length": 32,
        "seed": 0,
        "dtype": "float32",
        "save_steps": 2,
    }
    reference = train_lora_adapter(
        tiny_model_dir, EXAMPLES, tmp_path / "ref", work_root=tmp_path / "w1", **settings
    )

    class _Kill(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001, ANN003
            if state.global_step == 5:
                raise KeyboardInterrupt

    original = gt._build_trainer

    def killing(*args, **kwargs):  # noqa: ANN002, ANN003
        trainer, tok, n = original(*args, **kwargs)
        trainer.add_callback(_Kill())
        return trainer, tok, n

    monkeypatch.setattr(gt, "_build_trainer", killing)
    with pytest.raises(KeyboardInterrupt):
        train_lora_adapter(
            tiny_model_dir, EXAMPLES, tmp_path / "out", work_root=tmp_path / "w2", **settings
        )
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in (tmp_path / "w2").rglob("checkpoint-*")) == ["checkpoint-4"]
    monkeypatch.setattr(gt, "_build_trainer", original)
    resumed = train_lora_adapter(
        tiny_model_dir, EXAMPLES, tmp_path / "out", work_root=tmp_path / "w2", **settings
    )
    assert resumed.resumed_from == "checkpoint-4" and resumed.steps == 6
    a = load_file(str(tmp_path / "ref" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "out" / "adapter_model.safetensors"))
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-6)
    assert reference.steps == resumed.steps
    assert not any((tmp_path / "w2").rglob("checkpoint-*"))  # removed after success

    # Changed settings never resume from another run's checkpoint.
    monkeypatch.setattr(gt, "_build_trainer", killing)
    with pytest.raises(KeyboardInterrupt):
        train_lora_adapter(
            tiny_model_dir, EXAMPLES, tmp_path / "o2", work_root=tmp_path / "w3", **settings
        )
    monkeypatch.setattr(gt, "_build_trainer", original)
    fresh = train_lora_adapter(
        tiny_model_dir,
        EXAMPLES,
        tmp_path / "o2",
        work_root=tmp_path / "w3",
        **{**settings, "learning_rate": 2e-2},
    )
    assert fresh.resumed_from is None


def test_kill_after_the_final_checkpoint_restores_it_without_an_extra_step(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kill after the last checkpoint (step == max_steps) but before the adapter is written: the rerun restores
    that checkpoint. Resumed by the HF Trainer, it would run step max_steps + 1 when max_steps is not a multiple of
    the steps per epoch (here 5 steps, 2 per epoch), and the adapter would differ from an uninterrupted run's."""
    from safetensors.torch import load_file
    from transformers import TrainerCallback

    import bootembed.generator_training as gt

    settings = {
        "rank": 4,
        "alpha": 8,
        "dropout": 0.0,
        "max_steps": 5,
        "learning_rate": 1e-2,
        "batch_size": 2,
        "max_length": 32,
        "seed": 0,
        "dtype": "float32",
        "save_steps": 5,
    }
    assert settings["max_steps"] % (len(EXAMPLES) // settings["batch_size"]) != 0
    reference = train_lora_adapter(
        tiny_model_dir,
        EXAMPLES,
        tmp_path / "ref",
        work_root=tmp_path / "w1",
        live_dir=tmp_path / "live_ref",
        **settings,
    )

    class _KillAfterSave(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):  # noqa: ANN001, ANN003
            if state.global_step == settings["max_steps"]:
                raise KeyboardInterrupt

    original = gt._build_trainer

    def killing(*args, **kwargs):  # noqa: ANN002, ANN003
        trainer, tok, n = original(*args, **kwargs)
        trainer.add_callback(_KillAfterSave())
        return trainer, tok, n

    monkeypatch.setattr(gt, "_build_trainer", killing)
    with pytest.raises(KeyboardInterrupt):
        train_lora_adapter(
            tiny_model_dir, EXAMPLES, tmp_path / "out", work_root=tmp_path / "w2", **settings
        )
    assert [p.name for p in (tmp_path / "w2").rglob("checkpoint-*")] == ["checkpoint-5"]
    monkeypatch.setattr(gt, "_build_trainer", original)
    resumed = train_lora_adapter(
        tiny_model_dir,
        EXAMPLES,
        tmp_path / "out",
        work_root=tmp_path / "w2",
        live_dir=tmp_path / "live",
        **settings,
    )
    assert resumed.resumed_from == "checkpoint-5"
    # the dvclive curves (bootembed.curves) of the restored run are those of the uninterrupted one
    curves = read_loss_curves(tmp_path)
    assert curves["live_ref"] == [(e["step"], e["loss"]) for e in reference.loss_curve]
    for name in ("metrics.json", *(f"plots/metrics/train/{m}.tsv" for m in ("loss", "grad_norm"))):
        assert (tmp_path / "live" / name).read_bytes() == (
            tmp_path / "live_ref" / name
        ).read_bytes()
    assert resumed.steps == reference.steps == 5
    assert resumed.train_loss == pytest.approx(reference.train_loss, abs=1e-3)
    a = load_file(str(tmp_path / "ref" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "out" / "adapter_model.safetensors"))
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def _bitsandbytes_4bit_or_skip() -> None:
    """Skip unless bitsandbytes is installed and quantises to 4 bits on this hardware."""
    pytest.importorskip("bitsandbytes", reason="bitsandbytes is not installed (extra: qlora)")
    import bitsandbytes.functional as bnbf

    try:
        bnbf.quantize_4bit(torch.randn(64, 64), quant_type="nf4")
    except Exception as exc:  # noqa: BLE001 - any failure means: no kernel here
        pytest.skip(f"bitsandbytes has no 4-bit kernel on this hardware: {exc}")


@pytest.mark.parametrize("quantization", ["nf4", "int8"])
def test_qlora_builds_a_kbit_base_with_trainable_lora_only(
    tiny_model_dir: Path, tmp_path: Path, quantization: str
) -> None:
    """Issue 17: ``nf4`` is QLoRA as the reference (NF4 weights, double quantisation, LoRA on every linear layer);
    ``int8`` is LLM.int8 weights under the same LoRA."""
    _bitsandbytes_4bit_or_skip()
    import bitsandbytes as bnb

    trainer, _, _ = _build_trainer(
        tiny_model_dir,
        EXAMPLES,
        tmp_path / "checkpoints",
        rank=4,
        alpha=8,
        dropout=0.0,
        target_modules="all-linear",
        max_steps=2,
        learning_rate=1e-2,
        batch_size=2,
        grad_accum=1,
        max_length=32,
        seed=0,
        precision={"bf16": False, "use_cpu": True},
        logging_steps=1,
        save_steps=10,
        quantization=quantization,
    )
    base = trainer.model.get_base_model()
    kind = bnb.nn.Linear4bit if quantization == "nf4" else bnb.nn.Linear8bitLt
    quantized = [m for m in base.modules() if isinstance(m, kind)]
    assert quantized, f"no {kind.__name__} layer in the base model"
    if quantization == "nf4":
        assert {m.weight.quant_state.quant_type for m in quantized} == {"nf4"}
        assert all(m.weight.quant_state.nested for m in quantized)  # double quantisation
        assert base.config.quantization_config.bnb_4bit_use_double_quant
    else:
        assert {m.weight.dtype for m in quantized} == {torch.int8}
        assert base.config.quantization_config.load_in_8bit
    # LoRA sits on every quantised linear layer (all-linear), and only LoRA weights train
    lora_wrapped = [m for m in trainer.model.modules() if hasattr(m, "lora_A") and m.lora_A]
    assert len(lora_wrapped) == len(quantized)
    trainable = [n for n, p in trainer.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    trainer.train()  # two optimiser steps on the k-bit base
    assert trainer.state.global_step == 2
    assert all(math.isfinite(h["loss"]) for h in trainer.state.log_history if "loss" in h)


def test_qlora_nf4_adapter_trains_and_loads_on_the_full_precision_base(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    _bitsandbytes_4bit_or_skip()
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    result = train_lora_adapter(
        tiny_model_dir,
        EXAMPLES,
        tmp_path / "qlora",
        rank=4,
        alpha=8,
        dropout=0.0,
        max_steps=3,
        learning_rate=1e-2,
        batch_size=2,
        max_length=32,
        seed=0,
        dtype="float32",
        logging_steps=1,
        work_root=tmp_path / "work",
        quantization="nf4",
    )
    assert result.steps == 3
    assert all(torch.isfinite(torch.tensor(result.losses)))
    log = json.loads((result.adapter_dir / "training_log.json").read_text())
    assert log["hyperparameters"]["quantization"] == "nf4"
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, result.adapter_dir)
    assert any("lora_A" in n for n, _ in model.named_parameters())
    plain = train_lora_adapter(
        tiny_model_dir,
        EXAMPLES,
        tmp_path / "plain",
        rank=4,
        alpha=8,
        dropout=0.0,
        max_steps=1,
        batch_size=2,
        max_length=32,
        dtype="float32",
        logging_steps=1,
        work_root=tmp_path / "work",
    )
    plain_log = json.loads((plain.adapter_dir / "training_log.json").read_text())
    assert (
        "quantization" not in plain_log["hyperparameters"]
    )  # defaults leave earlier logs as they were


def test_quantization_settings_are_checked() -> None:
    from bootembed.generator_training import quantization_config

    with pytest.raises(ValueError, match="train_generator.quantization"):
        quantization_config("int4", torch.float32)


def test_keep_work_leaves_the_final_checkpoint_for_a_rerun_to_restore(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """``keep_work=True`` (the generator stage trains a positive then a negative adapter): the first adapter's work
    folder and final checkpoint stay, so a rerun after a kill during the second restores the first from it
    instead of training it again; ``work.remove()`` clears it once both are written."""
    settings = {
        "rank": 4,
        "alpha": 8,
        "dropout": 0.0,
        "max_steps": 4,
        "batch_size": 2,
        "max_length": 32,
        "dtype": "float32",
        "save_steps": 2,
        "work_root": tmp_path / "w",
    }
    first = train_lora_adapter(tiny_model_dir, EXAMPLES, tmp_path / "a", keep_work=True, **settings)
    assert first.resumed_from is None and first.work is not None
    assert [p.name for p in first.work.path.glob("checkpoint-*")] == ["checkpoint-4"]
    again = train_lora_adapter(tiny_model_dir, EXAMPLES, tmp_path / "a", **settings)
    assert again.resumed_from == "checkpoint-4"  # restored, not trained again
    assert again.work is None and not list((tmp_path / "w").rglob("checkpoint-*"))

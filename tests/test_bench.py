from __future__ import annotations

import json
from pathlib import Path

import pytest

from bootembed.bench import (
    BenchRun,
    bench_synthesize,
    default_runs,
    model_cost,
    parse_run,
    ratios,
    render_markdown,
)

GEMMA3_270M = {
    "hidden_size": 640,
    "intermediate_size": 2048,
    "num_attention_heads": 4,
    "num_key_value_heads": 1,
    "head_dim": 256,
    "num_hidden_layers": 18,
    "vocab_size": 262144,
    "sliding_window": 512,
    "layer_types": (["sliding_attention"] * 5 + ["full_attention"]) * 3,
}


def test_model_cost_counts_linear_layers_lm_head_and_attention():
    cost = model_cost(GEMMA3_270M, prompt_tokens=0, new_tokens=0, bytes_per_weight=4)
    per_layer = 640 * 1024 * 2 + 640 * 256 * 2 + 3 * 640 * 2048
    assert cost["layer_params"] == 18 * per_layer
    assert cost["head_params"] == 640 * 262144
    assert cost["linear_params"] == 18 * per_layer + 640 * 262144 == 268_042_240
    # A prompt token costs the blocks only (no engine computes logits for prompt positions) ...
    assert cost["flops_per_prompt_token"] == 2 * cost["layer_params"]
    # ... a generated token the blocks plus the LM head.
    assert cost["flops_per_generated_token"] == 2 * cost["linear_params"]
    assert cost["weight_bytes"] == 4 * cost["linear_params"]
    # Attention: 2 matmuls x 2 FLOPs x heads x head_dim per attended position; sliding layers cap at 512.
    # A prompt token attends to prompt_tokens / 2 positions on average, a generated token to
    # prompt_tokens + new_tokens / 2.
    long = model_cost(GEMMA3_270M, prompt_tokens=2000, new_tokens=100, bytes_per_weight=2)
    per_position = 4 * 4 * 256
    prompt_attention = long["flops_per_prompt_token"] - 2 * long["layer_params"]
    assert prompt_attention == per_position * (15 * 512 + 3 * 1000)
    generated_attention = long["flops_per_generated_token"] - 2 * long["linear_params"]
    assert generated_attention == per_position * (15 * 512 + 3 * 2050)
    assert long["weight_bytes"] == 2 * long["linear_params"]
    # A text_config inside (multimodal configs) is what counts.
    assert (
        model_cost({"text_config": GEMMA3_270M}, prompt_tokens=0, new_tokens=0, bytes_per_weight=4)
        == cost
    )
    with pytest.raises(KeyError):
        model_cost({"hidden_size": 8}, prompt_tokens=1, new_tokens=1, bytes_per_weight=4)


def test_parse_run_reads_options_and_rejects_bad_ones():
    run = parse_run("vllm:batch_size=32:env.VLLM_CPU_OMP_THREADS_BIND=all", batch_size=8)
    assert run == BenchRun("vllm", 32, "float32", True, {"VLLM_CPU_OMP_THREADS_BIND": "all"})
    assert run.label == "vllm[bs=32,dtype=float32,VLLM_CPU_OMP_THREADS_BIND=all]"
    assert parse_run("transformers:merge_lora=false:dtype=float32").merge_lora is False
    assert parse_run("transformers", batch_size=8).batch_size == 8
    assert parse_run("transformers").dtype == "float32"  # the default dtype
    assert parse_run("transformers", dtype="bfloat16").dtype == "bfloat16"
    assert parse_run("vllm:dtype=auto", dtype="bfloat16").dtype == "auto"  # the spec wins
    assert (
        parse_run("transformers:merge_lora=false").label
        == "transformers[bs=16,dtype=float32,merge_lora=false]"
    )
    for bad in ("llamacpp", "vllm:batch_size=0", "vllm:dtype=fp8", "vllm:bogus=1", "vllm:x"):
        with pytest.raises(ValueError, match="run"):
            parse_run(bad)
    with pytest.raises(ValueError, match="backend must be one of"):
        parse_run("llamacpp")


def test_default_runs_cover_every_registered_backend():
    from bootembed.generation import BACKENDS

    runs = default_runs(("float32",))
    assert runs[:2] == ["transformers:dtype=float32", "transformers:dtype=float32:merge_lora=false"]
    assert {parse_run(r).backend for r in runs} == set(BACKENDS.names())
    assert all(parse_run(r).dtype == "float32" for r in runs)
    assert len({parse_run(r).label for r in runs}) == len(runs)  # no two runs alike
    both = default_runs(("float32", "bfloat16"))
    assert both[: len(runs)] == runs
    assert both[len(runs) :] == [r.replace("float32", "bfloat16") for r in runs]
    assert default_runs(()) == []


def _run_record(label: str, backend: str, dtype: str, rates: dict, merge_lora: bool = True) -> dict:
    """A bench_synthesize run entry with only what ratios() reads: prompts/s and tokens/s per target."""
    return {
        "label": label,
        "settings": {"backend": backend, "merge_lora": merge_lora},
        "engine": {"dtype": f"torch.{dtype}" if backend == "transformers" else dtype},
        "targets": {
            name: {"prompts_per_second": rate, "output_tokens_per_second": 10 * rate}
            for name, rate in rates.items()
        },
    }


def test_ratios_against_the_first_run_and_bf16_over_fp32():
    runs = [
        _run_record("t32", "transformers", "float32", {"base": 2.0, "lora": 1.0}),
        _run_record("t32u", "transformers", "float32", {"base": 9.0, "lora": 0.5}, False),
        _run_record("t16", "transformers", "bfloat16", {"base": 3.0, "lora": 1.5}),
        _run_record("v32", "vllm", "float32", {"base": 4.0, "lora": 3.0}),
    ]
    out = ratios(runs, ["base", "lora", "missing"])
    assert set(out) == {"base", "lora"}  # the first run has no "missing" target
    base = out["base"]
    assert base["first_run"] == "t32"
    assert base["vs_first_run"] == {
        "t32": {"prompts_per_second": 1.0, "output_tokens_per_second": 1.0},
        "t32u": {"prompts_per_second": 4.5, "output_tokens_per_second": 4.5},
        "t16": {"prompts_per_second": 1.5, "output_tokens_per_second": 1.5},
        "v32": {"prompts_per_second": 2.0, "output_tokens_per_second": 2.0},
    }
    # unmerged-LoRA transformers runs are left out of the dtype ratio; vLLM has no bf16 run
    assert base["bfloat16_over_float32"] == {"transformers": 1.5}
    assert out["lora"]["vs_first_run"]["v32"] == {
        "prompts_per_second": 3.0,
        "output_tokens_per_second": 3.0,
    }
    assert out["lora"]["bfloat16_over_float32"] == {"transformers": 1.5}
    assert ratios([], ["base"]) == {}


def test_bench_runs_backends_side_by_side_and_reports_roofline(
    tiny_causal_lm: Path, tmp_path: Path
):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_causal_lm),
        LoraConfig(r=4, lora_alpha=32, target_modules="all-linear", init_lora_weights=False),
    )
    model.save_pretrained(tmp_path / "lora")
    prompts = [f"Premise: the cat {i} sits" + " more" * i for i in range(5)]
    runs = [
        BenchRun("transformers", batch_size=2, dtype="float32"),
        BenchRun("transformers", batch_size=3, dtype="float32", merge_lora=False),
    ]
    result = bench_synthesize(
        tiny_causal_lm,
        prompts,
        runs,
        adapter_dir=tmp_path / "lora",
        max_new_tokens=4,
        machine_seconds=0.05,
        profile=True,
    )
    json.dumps(result)  # JSON-ready
    assert [r["label"] for r in result["runs"]] == [r.label for r in runs]
    assert result["machine"]["matmul_gflops"]["float32"] > 0
    assert result["machine"]["memory_bandwidth_gbps"] > 0
    rate = result["machine"]["matmul_gflops"]["float32"] * 1e9
    config = json.loads((tiny_causal_lm / "config.json").read_text(encoding="utf-8"))
    for run in result["runs"]:
        assert run["engine"]["dtype"].removeprefix("torch.") == "float32"
        assert 0 < run["profile"]["matmul_share"] <= 1
        assert run["profile"]["top_ops"][0]["share"] >= run["profile"]["top_ops"][-1]["share"]
        assert run["peak_rss_mib"] > 50  # a Python process with torch loaded
        assert run["time_to_first_batch_seconds"] >= run["load_seconds"] > 0
        assert set(run["targets"]) == {"base", "lora"}
        for stats in run["targets"].values():
            assert stats["prompts"] == 5
            assert 5 <= stats["generated_tokens"] <= 5 * 4
            # Merged and unmerged LoRA decode greedily to the same text on this float32 model.
            assert stats["greedy_agreement_with_first_run"] == 1.0
            # A generated token also pays for the LM head.
            assert stats["flops_per_generated_token"] > stats["flops_per_prompt_token"] > 0
            roof = stats["roofline"]
            assert roof["matmul_gflops_own_dtype"] == round(rate / 1e9, 1)
            assert roof["compute_bound_tokens_per_second_decode_only"] == round(
                rate / stats["flops_per_generated_token"], 1
            )
            assert roof["compute_bound_seconds"] >= 0
            assert roof["memory_bound_tokens_per_second_at_batch_size"] > 0
            # FLOPs per token come from the model's config at this run's mean prompt / output length.
            cost = model_cost(
                config,
                prompt_tokens=result["settings"]["mean_prompt_tokens"],
                new_tokens=stats["generated_tokens"] / 5,
                bytes_per_weight=4,
            )
            for key in ("flops_per_prompt_token", "flops_per_generated_token"):
                assert stats[key] == pytest.approx(cost[key], rel=1e-3)
            share = stats["share_of_roof"]
            # Counting prefill work can only raise the share of the matmul rate in use (a tiny model
            # uses so little of it that the rounded shares may be 0).
            assert share["with_prefill"] >= share["decode_only"] >= 0
            assert stats["output_tokens_per_second"] > 0
    assert result["model"]["linear_params"] == (
        result["model"]["layer_params"] + result["model"]["head_params"]
    )
    # ratios: every run against the first one; no bf16 run, so no dtype ratio
    first = result["runs"][0]
    assert set(result["ratios"]) == {"base", "lora"}
    for name, target_ratios in result["ratios"].items():
        assert target_ratios["first_run"] == first["label"]
        versus = target_ratios["vs_first_run"]
        assert versus[first["label"]] == {
            "prompts_per_second": 1.0,
            "output_tokens_per_second": 1.0,
        }
        second = result["runs"][1]
        assert versus[second["label"]]["prompts_per_second"] == round(
            second["targets"][name]["prompts_per_second"]
            / first["targets"][name]["prompts_per_second"],
            3,
        )
        assert target_ratios["bfloat16_over_float32"] == {}
    rows = [line for line in render_markdown(result).splitlines() if line.startswith("| `")]
    assert len(rows) == 2 * 2  # one row per run and target
    assert rows[0].startswith(f"| `{first['label']}` | base |") and "| 1.00x |" in rows[0]
    with pytest.raises(ValueError, match="no prompts"):
        bench_synthesize(tiny_causal_lm, [], runs)


def test_collapsed_py_spy_stacks_give_shares(tmp_path: Path):
    from bootembed.bench import _collapsed_shares

    raw = tmp_path / "raw.txt"
    raw.write_text(
        "main (a.py:1);step (vllm/lora/punica.py:9);mm (x.py:3) 30\n"
        "main (a.py:1);forward (layers/linear.py:5);mm (x.py:3) 60\n"
        "main (a.py:1);sample (sample/sampler.py:2) 10\n"
        "garbage line\n"
    )
    shares = _collapsed_shares(raw, top=2)
    assert shares["samples"] == 100
    assert shares["share_in_vllm_lora_code"] == 0.3
    assert shares["share_in_vllm_lora_ops"] == 0.0
    assert shares["share_in_linear_layers"] == 0.6
    assert shares["share_in_sampler"] == 0.1
    assert shares["top_self"] == [
        {"frame": "mm (x.py:3)", "share": 0.9},
        {"frame": "sample (sample/sampler.py:2)", "share": 0.1},
    ]
    assert shares["top_inclusive"][0] == {"frame": "main (a.py:1)", "share": 1.0}
    table = render_markdown(
        {
            "runs": [
                {
                    "label": "vllm[bs=16]",
                    "time_to_first_batch_seconds": 70.0,
                    "peak_rss_mib": 8000.0,
                    "targets": {
                        "base": {
                            "output_tokens_per_second": 69.0,
                            "prompts_per_second": 2.33,
                            "greedy_agreement_with_first_run": 1.0,
                            "share_of_roof": {"with_prefill": 0.906, "decode_only": 0.205},
                        }
                    },
                }
            ],
            "ratios": {
                "base": {
                    "first_run": "transformers[bs=16]",
                    "vs_first_run": {
                        "vllm[bs=16]": {"prompts_per_second": 1.79, "output_tokens_per_second": 1.7}
                    },
                    "bfloat16_over_float32": {"vllm": 1.5},
                }
            },
        }
    )
    lines = table.splitlines()
    assert lines[0].startswith("| run | target | output tokens/s | prompts/s | × first run")
    assert lines[0].count("|") == lines[1].count("|") == lines[2].count("|") == 11
    assert lines[2] == (
        "| `vllm[bs=16]` | base | 69.0 | 2.33 | 1.79x | 70.0 | 8000 | 90.6% | 20.5% | 100% |"
    )
    assert "bf16 / float32 (vllm, base): **1.50x** prompts/s" in table

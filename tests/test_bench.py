from __future__ import annotations

import json
from pathlib import Path

import pytest

from bootembed.bench import BenchRun, bench_synthesize, model_cost, parse_run

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
    cost = model_cost(GEMMA3_270M, context=0, bytes_per_weight=4)
    per_layer = 640 * 1024 * 2 + 640 * 256 * 2 + 3 * 640 * 2048
    assert cost["linear_params"] == 18 * per_layer + 640 * 262144 == 268_042_240
    assert cost["flops_per_token"] == 2 * cost["linear_params"]
    assert cost["weight_bytes"] == 4 * cost["linear_params"]
    # Attention: 2 matmuls x 2 FLOPs x heads x head_dim per attended position; sliding layers cap at 512.
    long = model_cost(GEMMA3_270M, context=1000, bytes_per_weight=2)
    expected = 4 * 4 * 256 * (15 * 512 + 3 * 1000)
    assert long["flops_per_token"] - 2 * long["linear_params"] == expected
    assert long["weight_bytes"] == 2 * long["linear_params"]
    with pytest.raises(KeyError):
        model_cost({"hidden_size": 8}, context=1, bytes_per_weight=4)


def test_parse_run_reads_options_and_rejects_bad_ones():
    run = parse_run("vllm:batch_size=32:env.VLLM_CPU_OMP_THREADS_BIND=all", batch_size=8)
    assert run == BenchRun("vllm", 32, "auto", True, {"VLLM_CPU_OMP_THREADS_BIND": "all"})
    assert run.label == "vllm[bs=32,dtype=auto,VLLM_CPU_OMP_THREADS_BIND=all]"
    assert parse_run("transformers:merge_lora=false:dtype=float32").merge_lora is False
    assert parse_run("transformers", batch_size=8).batch_size == 8
    for bad in ("llamacpp", "vllm:batch_size=0", "vllm:dtype=fp8", "vllm:bogus=1", "vllm:x"):
        with pytest.raises(ValueError, match="run"):
            parse_run(bad)


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
    for run in result["runs"]:
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
            roof = stats["roofline_tokens_per_second"]
            assert roof["attainable_own_dtype"] == min(
                roof["compute_float32"], roof["memory_at_batch_size"]
            )
            share = stats["share_of_roofline"]
            # Counting prefill tokens can only raise the share of the matmul rate in use.
            assert share["float32_matmul_incl_prefill"] >= share["float32_matmul"] >= 0
            assert stats["output_tokens_per_second"] > 0
    assert result["ratios"] == {}  # no vLLM run
    with pytest.raises(ValueError, match="no prompts"):
        bench_synthesize(tiny_causal_lm, [], runs)


def test_collapsed_py_spy_stacks_give_shares(tmp_path: Path):
    from bootembed.bench import _collapsed_shares, render_markdown

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
                            "share_of_roofline": {
                                "float32_matmul": 0.205,
                                "float32_matmul_incl_prefill": 0.906,
                            },
                        }
                    },
                }
            ],
            "ratios": {
                "base": {"vllm_over_transformers": 1.79, "vllm_run": "v", "transformers_run": "t"}
            },
        }
    )
    assert "| `vllm[bs=16]` | base | 69.0 | 2.33 | 70.0 | 8000 | 20.5% | 90.6% | 100% |" in table
    assert "**1.79x**" in table

"""Tests for bootembed.composition: exact weighted LoRA sums, loadability, and input errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pydantic
import pytest
import torch
from helpers import default_section
from safetensors.torch import load_file

from bootembed.composition import CompositionResult, compose_adapters
from bootembed.strategies.composition import CompositionParams, composition_weights

AdaMergeX = {"task": 1.0, "lang": 0.7, "ref": -0.7}


def _make_adapter(base_dir: Path, out: Path, seed: int, **lora_kwargs: object) -> Path:
    """Save a LoRA adapter with random non-zero A and B (init_lora_weights=False)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32)
    kwargs: dict[str, object] = {
        "r": 2,
        "lora_alpha": 4,
        "target_modules": "all-linear",
        "init_lora_weights": False,
        "task_type": "CAUSAL_LM",
    }
    kwargs.update(lora_kwargs)
    torch.manual_seed(seed)
    model = get_peft_model(base, LoraConfig(**kwargs))
    with torch.no_grad():  # make B clearly non-zero and distinct per adapter
        for name, param in model.named_parameters():
            if "lora_" in name:
                param.normal_(0.0, 0.3)
    model.save_pretrained(str(out))
    return out


def _deltas(adapter_dir: Path) -> dict[str, torch.Tensor]:
    """Module name -> scaling * B @ A (shape ``(d_out, d_in)``), read from the saved files only."""
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    r, alpha = config["r"], config["lora_alpha"]
    scaling = alpha / math.sqrt(r) if config.get("use_rslora") else alpha / r
    state = load_file(str(adapter_dir / "adapter_model.safetensors"))
    out = {}
    for key, a in state.items():
        if key.endswith(".lora_A.weight"):
            module = key[: -len(".lora_A.weight")]
            b = state[f"{module}.lora_B.weight"]
            out[module.removeprefix("base_model.model.")] = scaling * (b.double() @ a.double())
    return out


@pytest.fixture(scope="module")
def adapters(tiny_causal_lm: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("adapters")
    return {
        "task": _make_adapter(tiny_causal_lm, root / "task", 1, r=4, lora_alpha=8),
        "lang": _make_adapter(tiny_causal_lm, root / "lang", 2, r=2, lora_alpha=4),
        "ref": _make_adapter(tiny_causal_lm, root / "ref", 3, r=2, lora_alpha=16),
    }


@pytest.fixture(scope="module")
def composed_cat(
    tiny_causal_lm: Path, adapters: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> CompositionResult:
    out = tmp_path_factory.mktemp("composed") / "cat"
    return compose_adapters(tiny_causal_lm, adapters, AdaMergeX, out)


def _expected_sum(adapters: dict[str, Path], weights: dict[str, float]) -> dict[str, torch.Tensor]:
    per = {name: _deltas(path) for name, path in adapters.items()}
    modules = next(iter(per.values())).keys()
    return {m: sum(weights[n] * per[n][m] for n in adapters) for m in modules}


def test_cat_delta_is_exact_weighted_sum(
    composed_cat: CompositionResult, adapters: dict[str, Path]
) -> None:
    assert composed_cat.rank == 4 + 2 + 2
    assert composed_cat.combination_type == "cat"
    assert composed_cat.weights == AdaMergeX
    got = _deltas(composed_cat.out_dir)
    expected = _expected_sum(adapters, AdaMergeX)
    assert set(got) == set(expected) and len(got) == 2 * 7  # 2 layers x 7 linear modules
    for module, delta in expected.items():
        assert delta.abs().max() > 1e-2  # the test is not vacuous
        torch.testing.assert_close(got[module], delta, atol=1e-5, rtol=0)
    # The negative weight matters: with +0.7 on ref the result would differ.
    flipped = _expected_sum(adapters, {"task": 1.0, "lang": 0.7, "ref": 0.7})
    module = next(iter(expected))
    assert (got[module] - flipped[module]).abs().max() > 1e-3


def test_cat_output_folder_and_record(
    composed_cat: CompositionResult, adapters: dict[str, Path], tiny_causal_lm: Path
) -> None:
    out = composed_cat.out_dir
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "adapter_config.json",
        "adapter_model.safetensors",
        "composition.json",
    ]
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["r"] == 8 and config["lora_alpha"] == 8 and config["use_rslora"] is False
    assert config["peft_type"] == "LORA"
    record = json.loads((out / "composition.json").read_text())
    assert record["combination_type"] == "cat" and record["rank"] == 8
    assert [a["name"] for a in record["adapters"]] == ["task", "lang", "ref"]
    assert {a["name"]: a["weight"] for a in record["adapters"]} == AdaMergeX
    assert {a["name"]: Path(a["path"]) for a in record["adapters"]} == {
        k: v.resolve() for k, v in adapters.items()
    }
    assert not list(out.parent.glob(".cat.*"))  # no temp leftovers


def test_cat_logits_match_manually_updated_base(
    composed_cat: CompositionResult, adapters: dict[str, Path], tiny_causal_lm: Path
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    ids = torch.tensor([[2, 10, 40, 77, 5, 120, 33]])
    plain = AutoModelForCausalLM.from_pretrained(str(tiny_causal_lm), dtype=torch.float32).eval()
    with torch.no_grad():
        base_logits = plain(input_ids=ids).logits
        modules = dict(plain.named_modules())
        for module, delta in _expected_sum(adapters, AdaMergeX).items():
            modules[module].weight += delta.float()
        manual_logits = plain(input_ids=ids).logits

    base = AutoModelForCausalLM.from_pretrained(str(tiny_causal_lm), dtype=torch.float32)
    peft_model = PeftModel.from_pretrained(base, str(composed_cat.out_dir)).eval()
    with torch.no_grad():
        composed_logits = peft_model(input_ids=ids).logits
        merged_logits = peft_model.merge_and_unload()(input_ids=ids).logits
    assert (composed_logits - base_logits).abs().max() > 1e-3  # adapter has an effect
    torch.testing.assert_close(composed_logits, manual_logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(merged_logits, manual_logits, atol=1e-4, rtol=1e-4)


def test_cat_with_rslora_input_is_exact(
    tiny_causal_lm: Path, adapters: dict[str, Path], tmp_path: Path
) -> None:
    rs = _make_adapter(tiny_causal_lm, tmp_path / "rs", 4, r=4, lora_alpha=8, use_rslora=True)
    inputs = {"rs": rs, "lang": adapters["lang"]}
    weights = {"rs": 1.0, "lang": -0.5}
    result = compose_adapters(tiny_causal_lm, inputs, weights, tmp_path / "out")
    got = _deltas(result.out_dir)
    expected = _expected_sum(inputs, weights)
    assert set(got) == set(expected)
    for module, delta in expected.items():
        torch.testing.assert_close(got[module], delta, atol=1e-5, rtol=0)


def test_linear_follows_peft_formula(
    tiny_causal_lm: Path, adapters: dict[str, Path], tmp_path: Path
) -> None:
    inputs = {"lang": adapters["lang"], "ref": adapters["ref"]}
    weights = {"lang": 0.7, "ref": -0.7}
    result = compose_adapters(
        tiny_causal_lm, inputs, weights, tmp_path / "lin", combination_type="linear"
    )
    assert result.rank == 2
    got = _deltas(result.out_dir)
    states = {n: load_file(str(p / "adapter_model.safetensors")) for n, p in inputs.items()}
    scal = {"lang": 4 / 2, "ref": 16 / 2}
    key = "base_model.model.model.layers.1.self_attn.q_proj"
    a = sum(
        math.copysign(math.sqrt(abs(weights[n] * scal[n])), weights[n])
        * states[n][f"{key}.lora_A.weight"].double()
        for n in inputs
    )
    b = sum(
        math.sqrt(abs(weights[n] * scal[n])) * states[n][f"{key}.lora_B.weight"].double()
        for n in inputs
    )
    module = key.removeprefix("base_model.model.")
    torch.testing.assert_close(got[module], b @ a, atol=1e-5, rtol=0)
    # ... which is not the exact weighted sum (cross terms B_i A_j).
    exact = _expected_sum(inputs, weights)[module]
    assert (got[module] - exact).abs().max() > 1e-3


def test_svd_loads_with_max_rank(
    tiny_causal_lm: Path, adapters: dict[str, Path], tmp_path: Path
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    result = compose_adapters(
        tiny_causal_lm, adapters, AdaMergeX, tmp_path / "svd", combination_type="svd"
    )
    assert result.rank == 4
    base = AutoModelForCausalLM.from_pretrained(str(tiny_causal_lm), dtype=torch.float32)
    PeftModel.from_pretrained(base, str(result.out_dir))
    got = _deltas(result.out_dir)
    exact = _expected_sum(adapters, AdaMergeX)
    for module, delta in got.items():
        assert torch.linalg.matrix_rank(delta) <= 4
        # best rank-4 approximation: error equals the tail singular values of the exact sum
        tail = torch.linalg.svdvals(exact[module])[4:]
        err = torch.linalg.matrix_norm(delta - exact[module])
        assert err == pytest.approx(float(tail.norm()), abs=1e-4)


def test_overwrites_existing_out_dir(
    tiny_causal_lm: Path, adapters: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    compose_adapters(tiny_causal_lm, {"task": adapters["task"]}, {"task": 2.0}, out)
    assert not (out / "stale.txt").exists()
    got = _deltas(out)
    for module, delta in _deltas(adapters["task"]).items():
        torch.testing.assert_close(got[module], 2.0 * delta, atol=1e-5, rtol=0)


def test_params_section_weights_compose_adapters(
    tiny_causal_lm: Path, adapters: dict[str, Path], tmp_path: Path
) -> None:
    """The ``composition`` params section (AdaMergeX weights) drives compose_adapters exactly."""
    section: CompositionParams = default_section(
        "composition", task_weight=1.0, language_weight=0.7, reference_weight=-0.7
    )
    inputs, weights = composition_weights(
        section, adapters["task"], adapters["lang"], adapters["ref"]
    )
    assert inputs == {
        "task": adapters["task"],
        "language": adapters["lang"],
        "reference": adapters["ref"],
    }
    assert weights == {"task": 1.0, "language": 0.7, "reference": -0.7}
    result = compose_adapters(
        tiny_causal_lm, inputs, weights, tmp_path / "out", combination_type=section.combination_type
    )
    got = _deltas(result.out_dir)
    for module, delta in _expected_sum(inputs, weights).items():
        torch.testing.assert_close(got[module], delta, atol=1e-5, rtol=0)
    # reference_weight 0 is plain addition: the reference adapter is left out altogether
    inputs, weights = composition_weights(
        section.model_copy(update={"reference_weight": 0.0}),
        adapters["task"],
        adapters["lang"],
        adapters["ref"],
    )
    assert set(inputs) == set(weights) == {"task", "language"}
    with pytest.raises(pydantic.ValidationError, match="reference_language"):
        default_section("composition", reference_language="english")
    with pytest.raises(pydantic.ValidationError, match="combination_type"):
        default_section("composition", combination_type="ties")


# ---------------------------------------------------------------------------- errors


def test_error_weight_keys(tiny_causal_lm: Path, adapters: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="weights: keys must equal"):
        compose_adapters(tiny_causal_lm, adapters, {"task": 1.0, "lang": 0.5}, tmp_path / "o")


def test_error_unknown_type(
    tiny_causal_lm: Path, adapters: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="combination_type"):
        compose_adapters(
            tiny_causal_lm, adapters, AdaMergeX, tmp_path / "o", combination_type="ties"
        )


def test_error_empty(tiny_causal_lm: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one adapter"):
        compose_adapters(tiny_causal_lm, {}, {}, tmp_path / "o")


def test_error_nonfinite_weight(
    tiny_causal_lm: Path, adapters: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=r"weights\['ref'\]"):
        compose_adapters(tiny_causal_lm, adapters, {**AdaMergeX, "ref": math.nan}, tmp_path / "o")


def test_error_linear_different_ranks(
    tiny_causal_lm: Path, adapters: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="same rank"):
        compose_adapters(
            tiny_causal_lm, adapters, AdaMergeX, tmp_path / "o", combination_type="linear"
        )
    assert not (tmp_path / "o").exists()


def test_error_different_target_modules(
    tiny_causal_lm: Path, adapters: dict[str, Path], tmp_path: Path
) -> None:
    qv = _make_adapter(tiny_causal_lm, tmp_path / "qv", 5, target_modules=["q_proj", "v_proj"])
    with pytest.raises(ValueError, match=r"qv.*adapter_config\.json: field 'target_modules'"):
        compose_adapters(
            tiny_causal_lm,
            {"task": adapters["task"], "qv": qv},
            {"task": 1, "qv": 1},
            tmp_path / "o",
        )


def test_error_different_base(
    tiny_causal_lm: Path, adapters: dict[str, Path], tmp_path: Path
) -> None:
    dirs = {}
    for name, base in (("a", "/models/gemma-3-270m"), ("b", "/models/other")):
        dirs[name] = _make_adapter(tiny_causal_lm, tmp_path / name, 6)
        path = dirs[name] / "adapter_config.json"
        config = json.loads(path.read_text())
        config["base_model_name_or_path"] = base
        path.write_text(json.dumps(config))
    with pytest.raises(
        ValueError, match=r"b/adapter_config\.json: field 'base_model_name_or_path'"
    ):
        compose_adapters(tiny_causal_lm, dirs, {"a": 1.0, "b": 1.0}, tmp_path / "o")


def test_error_missing_config_and_out_is_input(
    tiny_causal_lm: Path, adapters: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        compose_adapters(tiny_causal_lm, {"x": tmp_path}, {"x": 1.0}, tmp_path / "o")
    with pytest.raises(ValueError, match="also the folder of input adapter 'task'"):
        compose_adapters(tiny_causal_lm, adapters, AdaMergeX, adapters["task"])


def test_error_dora(tiny_causal_lm: Path, tmp_path: Path) -> None:
    dora = _make_adapter(tiny_causal_lm, tmp_path / "dora", 7, use_dora=True)
    with pytest.raises(ValueError, match="field 'use_dora'"):
        compose_adapters(tiny_causal_lm, {"d": dora}, {"d": 1.0}, tmp_path / "o")

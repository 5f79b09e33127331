"""Issue 17: data-parallel synthesis on Ray (local instance, CPU) keeps the one-engine guarantees.

Two transformers engines on a tiny random Gemma-3 with two random LoRA adapters run as Ray actors
(:class:`bootembed.generation.ray_pool.RayReplicas`): the greedy rows equal a one-engine run's, a run whose replica
fails mid-way keeps the chunks it finished, and the rerun, by one engine or by Ray, resumes them. The same with the
vLLM CPU backend (``.venv-vllm``) is ``tests/test_vllm_backend.py::test_ray_replicas_of_vllm_match_one_engine``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import polars as pl
import pytest

from bootembed.generation.base import SamplingConfig, make_backend
from bootembed.synthesize import synthesize_triplets

ray = pytest.importorskip("ray", reason="ray is not installed (extra: ray)")

REPO = Path(__file__).resolve().parents[1]
SAMPLING = SamplingConfig(max_new_tokens=6, do_sample=False, seed=3)


@pytest.fixture(scope="module")
def adapters(tiny_causal_lm: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two random (non-zero) LoRA adapters on the tiny model, so each changes the output."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    out = tmp_path_factory.mktemp("adapters")
    for i, name in enumerate(("positive", "negative")):
        torch.manual_seed(200 + i)
        model = get_peft_model(
            AutoModelForCausalLM.from_pretrained(tiny_causal_lm),
            LoraConfig(r=4, lora_alpha=64, target_modules="all-linear", init_lora_weights=False),
        )
        model.save_pretrained(out / name)
    return {name: out / name for name in ("positive", "negative")}


@pytest.fixture(scope="module")
def local_ray():  # noqa: ANN201
    """A local Ray instance (2 CPUs, small object store) whose workers import ``bootembed`` and ``tests/``."""
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "src"), str(REPO / "tests"), *([before] if before else [])]
    )
    ray.init(
        num_cpus=2, include_dashboard=False, object_store_memory=128 * 2**20, log_to_driver=False
    )
    try:
        yield ray
    finally:
        ray.shutdown()
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


def _anchors(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "anchor_id": list(range(10, 10 + n)),
            "anchor": [f"Premise number {i} the cat sits." for i in range(n)],
            "language": ["hau_Latn"] * n,
        }
    )


def test_ray_replicas_equal_one_engine_and_resume_after_a_lost_replica(
    local_ray, tiny_causal_lm: Path, adapters: dict[str, Path], tmp_path: Path
) -> None:
    from bootembed.generation.ray_pool import RayReplicas

    anchors = _anchors(12)
    common = {"sampling": SAMPLING, "generator_id": "tiny+lora", "chunk_size": 3, "output": "out"}
    settings = {"adapters": adapters, "dtype": "float32", "batch_size": 2}
    with make_backend("transformers", tiny_causal_lm, **settings) as one:
        expected, _, _ = synthesize_triplets(one, anchors, work_dir=tmp_path / "one", **common)
    assert (
        expected["positive_raw"].to_list() != expected["negative_raw"].to_list()
    )  # LoRA per polarity

    from ray_helpers import flaky_transformers_backend

    healed = tmp_path / "healed"
    create = functools.partial(
        flaky_transformers_backend,
        tiny_causal_lm,
        fail_on="Premise number 7 ",  # chunk 2 of 4
        healed=str(healed),
        **settings,
    )
    work = tmp_path / "work"
    with RayReplicas(create, replicas=2) as replicas:
        assert replicas.name == "transformers" and replicas.settings()["batch_size"] == 2
        with pytest.raises(RuntimeError, match="replica lost"):
            synthesize_triplets(replicas, anchors, work_dir=work, **common)
        parts = sorted(p.name for p in work.rglob("part-*.parquet"))
        assert (
            parts and "part-00002.parquet" not in parts
        )  # what finished is kept, the failed chunk is not
        # one engine resumes the Ray run's parts (same manifest), and gives the one-engine rows
        with make_backend("transformers", tiny_causal_lm, **settings) as one:
            resumed, stats, _ = synthesize_triplets(one, anchors, work_dir=work, **common)
        assert stats["chunks_resumed"] == len(parts)
        assert resumed.equals(expected)
        # a whole run on the two replicas gives the same rows, every chunk generated there
        healed.touch()
        got, stats, _ = synthesize_triplets(replicas, anchors, work_dir=tmp_path / "ray", **common)
        assert stats["chunks"] == 4 and stats["chunks_resumed"] == 0
        assert got.equals(expected)
        assert set(got["backend"]) == {"transformers"}
    assert replicas.generated_tokens > 0  # counted by the replicas, collected at close


def test_replicas_with_different_settings_are_refused(
    local_ray, tiny_causal_lm: Path, tmp_path: Path
) -> None:
    from ray_helpers import SettingsByPid

    from bootembed.generation.ray_pool import RayReplicas

    with pytest.raises(RuntimeError, match="report different settings"):
        RayReplicas(functools.partial(SettingsByPid, tiny_causal_lm), replicas=2)

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from bootembed.generation.base import SamplingConfig, make_backend
from bootembed.generation.transformers_backend import TransformersBackend
from bootembed.synthesize import TRIPLET_SCHEMA, synthesize_triplets

SAMPLING = SamplingConfig(max_new_tokens=6, do_sample=False, seed=3)


@pytest.fixture(scope="module")
def adapters(tiny_causal_lm: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two random (non-zero) LoRA adapters on the tiny model, so each changes the output."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    out = tmp_path_factory.mktemp("adapters")
    result = {}
    for i, name in enumerate(("positive", "negative")):
        torch.manual_seed(100 + i)
        base = AutoModelForCausalLM.from_pretrained(tiny_causal_lm)
        model = get_peft_model(
            base,
            LoraConfig(r=4, lora_alpha=64, target_modules="all-linear", init_lora_weights=False),
        )
        model.save_pretrained(out / name)
        result[name] = out / name
    return result


@pytest.fixture(scope="module")
def backend(tiny_causal_lm: Path, adapters: dict[str, Path]) -> TransformersBackend:
    return make_backend(
        "transformers", tiny_causal_lm, adapters=adapters, dtype="float32", batch_size=3
    )


def _anchors(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "anchor_id": list(range(10, 10 + n)),
            "anchor": [f"Premise number {i} the cat sits." for i in range(n)],
            "language": ["hau_Latn"] * n,
        }
    )


def test_backend_keeps_order_and_switches_adapters(backend: TransformersBackend):
    prompts = ["Premise: a", "Premise: the cat sits on the mat and more words", "x"]
    base = backend.generate(prompts, adapter=None, sampling=SAMPLING)
    pos = backend.generate(prompts, adapter="positive", sampling=SAMPLING)
    assert len(base) == len(pos) == 3
    assert base != pos  # the random LoRA changes what is generated
    # Same prompt alone gives the same greedy output as inside a length-sorted batch.
    assert backend.generate([prompts[2]], adapter="positive", sampling=SAMPLING) == [pos[2]]
    assert backend.generate([], adapter=None, sampling=SAMPLING) == []
    with pytest.raises(KeyError, match="unknown-adapter"):
        backend.generate(prompts, adapter="unknown-adapter", sampling=SAMPLING)


class _Interrupting(TransformersBackend):
    """The real backend, interrupted (KeyboardInterrupt) at a given generate call."""

    def __init__(self, inner: TransformersBackend, fail_at: int) -> None:
        self.__dict__.update(inner.__dict__)
        self.calls = 0
        self.fail_at = fail_at

    def generate(self, prompts, *, adapter, sampling):
        self.calls += 1
        if self.calls == self.fail_at:
            raise KeyboardInterrupt
        return super().generate(prompts, adapter=adapter, sampling=sampling)


def test_interrupted_run_resumes_without_loss_or_duplicates(
    backend: TransformersBackend, tmp_path: Path
):
    anchors = _anchors(7)
    expected, stats = synthesize_triplets(
        backend,
        anchors,
        work_dir=tmp_path / "ref",
        sampling=SAMPLING,
        generator_id="g",
        chunk_size=3,
    )
    assert stats["chunks"] == 3 and stats["chunks_resumed"] == 0
    assert list(expected.columns) == list(TRIPLET_SCHEMA)
    assert expected["anchor_id"].to_list() == anchors["anchor_id"].to_list()
    assert not list((tmp_path / "ref").glob("*/*.parquet"))  # parts removed after success

    # Interrupt during chunk 2 (calls: chunk1 pos, chunk1 neg, chunk2 pos -> interrupted).
    flaky = _Interrupting(backend, fail_at=3)
    with pytest.raises(KeyboardInterrupt):
        synthesize_triplets(
            flaky,
            anchors,
            work_dir=tmp_path / "w",
            sampling=SAMPLING,
            generator_id="g",
            chunk_size=3,
        )
    assert len(list((tmp_path / "w").glob("*/part-*.parquet"))) == 1

    resumed, stats = synthesize_triplets(
        backend, anchors, work_dir=tmp_path / "w", sampling=SAMPLING, generator_id="g", chunk_size=3
    )
    assert stats["chunks_resumed"] == 1
    assert (
        stats["generations"] == 2 * 4
    )  # only the 4 anchors of the unfinished chunks were generated
    assert resumed.equals(expected)

    # A different generator id never reuses old parts.
    flaky = _Interrupting(backend, fail_at=3)
    with pytest.raises(KeyboardInterrupt):
        synthesize_triplets(
            flaky,
            anchors,
            work_dir=tmp_path / "v",
            sampling=SAMPLING,
            generator_id="g",
            chunk_size=3,
        )
    _, stats = synthesize_triplets(
        backend,
        anchors,
        work_dir=tmp_path / "v",
        sampling=SAMPLING,
        generator_id="other",
        chunk_size=3,
    )
    assert stats["chunks_resumed"] == 0


def test_bad_anchor_frames(backend: TransformersBackend, tmp_path: Path):
    with pytest.raises(ValueError, match="anchor_id"):
        synthesize_triplets(
            backend,
            _anchors(3).drop("anchor_id"),
            work_dir=tmp_path,
            sampling=SAMPLING,
            generator_id="g",
        )
    dup = pl.concat([_anchors(2), _anchors(2)])
    with pytest.raises(ValueError, match="unique"):
        synthesize_triplets(backend, dup, work_dir=tmp_path, sampling=SAMPLING, generator_id="g")


def test_merged_lora_gives_the_same_greedy_output(
    tiny_causal_lm: Path, adapters: dict[str, Path], backend: TransformersBackend
):
    merged = make_backend(
        "transformers",
        tiny_causal_lm,
        adapters=adapters,
        dtype="float32",
        batch_size=3,
        merge_lora=True,
    )
    prompts = ["Premise: a", "Premise: the cat sits on the mat and more words", "x"]
    for adapter in (None, "positive", "negative"):
        assert merged.generate(prompts, adapter=adapter, sampling=SAMPLING) == backend.generate(
            prompts, adapter=adapter, sampling=SAMPLING
        ), adapter
    with pytest.raises(KeyError, match="nope"):
        merged.generate(prompts, adapter="nope", sampling=SAMPLING)


def test_custom_prompt_builder_and_base_model_per_polarity(
    backend: TransformersBackend, tmp_path: Path
):
    seen: list[tuple[int, str]] = []

    def build(row, polarity):
        seen.append((row["anchor_id"], polarity))
        return f"{polarity}: {row['anchor']}"

    triplets, _ = synthesize_triplets(
        backend,
        _anchors(4),
        work_dir=tmp_path,
        sampling=SAMPLING,
        generator_id="tiny",
        chunk_size=3,
        strategy="icl",
        adapters={"positive": None, "negative": None},
        build_prompt=build,
    )
    assert sorted(seen) == sorted((i, p) for i in range(10, 14) for p in ("positive", "negative"))
    expected = backend.generate(
        [f"negative: {a}" for a in _anchors(4)["anchor"]], adapter=None, sampling=SAMPLING
    )
    assert triplets["negative_raw"].to_list() == expected
    assert set(triplets["strategy"]) == {"icl"}

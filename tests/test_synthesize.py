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
    expected, stats, _ = synthesize_triplets(
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
    assert not list((tmp_path / "ref").rglob("*.parquet"))  # parts removed after success

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
    assert len(list((tmp_path / "w").rglob("part-*.parquet"))) == 1

    resumed, stats, _ = synthesize_triplets(
        backend, anchors, work_dir=tmp_path / "w", sampling=SAMPLING, generator_id="g", chunk_size=3
    )
    assert stats["chunks_resumed"] == 1
    assert (
        stats["generations"] == 2 * 4
    )  # only the 4 anchors of the unfinished chunks were generated
    assert resumed.equals(expected)

    # A different generator id never reuses old parts: they are discarded, and the log says why.
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
    _, stats, _ = synthesize_triplets(
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

    triplets, _, _ = synthesize_triplets(
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


@pytest.mark.parametrize("do_sample", [False, True])
def test_shards_merge_exactly_into_the_unsharded_output(
    backend: TransformersBackend, tmp_path: Path, do_sample: bool
):
    from bootembed.synthesize import merge_shards

    sampling = SamplingConfig(max_new_tokens=6, do_sample=do_sample, seed=5)
    anchors = _anchors(7)
    common = {"sampling": sampling, "generator_id": "tiny", "chunk_size": 2}
    full, _, _ = synthesize_triplets(backend, anchors, work_dir=tmp_path / "full", **common)
    shards = []
    for index in (2, 0, 1):  # any order; each shard has its own work folder under one root
        part, stats, _ = synthesize_triplets(
            backend, anchors, work_dir=tmp_path / "shards", shard=(index, 3), **common
        )
        # 4 chunks of ids 10-11, 12-13, 14-15, 16 dealt round-robin to 3 shards.
        expected_ids = [i for k, i in enumerate(range(10, 17)) if (k // 2) % 3 == index]
        assert part["anchor_id"].to_list() == expected_ids
        assert stats["generations"] == 2 * len(expected_ids)
        shards.append(part)
    merged = merge_shards(anchors, shards)
    assert merged.equals(full)
    assert not (tmp_path / "shards").exists() or not any((tmp_path / "shards").rglob("*.parquet"))


def test_merge_shards_rejects_gaps_duplicates_and_foreign_rows(
    backend: TransformersBackend, tmp_path: Path
):
    from bootembed.synthesize import merge_shards, parse_shard

    anchors = _anchors(4)
    common = {"sampling": SAMPLING, "generator_id": "tiny", "chunk_size": 2, "work_dir": tmp_path}
    first, _, _ = synthesize_triplets(backend, anchors, shard=(0, 2), **common)
    second, _, _ = synthesize_triplets(backend, anchors, shard=(1, 2), **common)
    with pytest.raises(ValueError, match="2 anchor\\(s\\) missing"):
        merge_shards(anchors, [first])
    with pytest.raises(ValueError, match="more than one shard"):
        merge_shards(anchors, [first, second, first])
    with pytest.raises(ValueError, match="unknown anchor_id"):
        merge_shards(anchors.head(3), [first, second])
    with pytest.raises(ValueError, match="expected columns"):
        merge_shards(anchors, [first.drop("seed"), second])
    assert parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "-1/2", "1", "a/b", "0/0"):
        with pytest.raises(ValueError, match="I/N"):
            parse_shard(bad)
    with pytest.raises(ValueError, match="shard"):
        synthesize_triplets(backend, anchors, shard=(2, 2), **common)


def test_transformers_backend_counts_generated_tokens(tiny_causal_lm: Path):
    import torch

    from bootembed.generation.transformers_backend import _count_generated

    stops = torch.tensor([1, 7])
    block = torch.tensor([[5, 6, 7, 0, 0], [5, 5, 5, 5, 5], [1, 0, 0, 0, 0]])
    assert _count_generated(block, stops) == 3 + 5 + 1
    assert _count_generated(torch.empty(0, 0, dtype=torch.long), stops) == 0
    backend = make_backend("transformers", tiny_causal_lm, dtype="float32", batch_size=2)
    outputs = backend.generate(["a b", "the cat", "x"], adapter=None, sampling=SAMPLING)
    assert len(outputs) == 3
    assert 3 <= backend.generated_tokens <= 3 * SAMPLING.max_new_tokens
    assert backend.generate_seconds > 0


def test_tensor_parallel_needs_vllm(tiny_causal_lm: Path):
    with pytest.raises(ValueError, match="tensor_parallel_size"):
        make_backend("transformers", tiny_causal_lm, tensor_parallel_size=2)


def test_merge_shards_command_writes_anchor_order_and_names_the_files(
    backend: TransformersBackend, tmp_path: Path
):
    from click.testing import CliRunner

    from bootembed.cli import main

    anchors = _anchors(5)
    anchors.write_parquet(tmp_path / "anchors.parquet")
    common = {"sampling": SAMPLING, "generator_id": "tiny", "chunk_size": 2, "work_dir": tmp_path}
    paths = []
    for index in (1, 0):
        frame, _, _ = synthesize_triplets(backend, anchors, shard=(index, 2), **common)
        paths.append(tmp_path / f"shard-{index}.parquet")
        frame.write_parquet(paths[-1])
    out = tmp_path / "merged.parquet"
    args = ["merge-shards", "--anchors", str(tmp_path / "anchors.parquet"), "--out", str(out)]
    result = CliRunner().invoke(main, [*args, *map(str, paths)])
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(out)["anchor_id"].to_list() == list(range(10, 15))
    result = CliRunner().invoke(main, [*args, str(paths[0])])
    assert result.exit_code != 0
    assert "shard-1.parquet" in result.output and "missing" in result.output


def test_changed_settings_after_a_kill_never_mix(
    tiny_causal_lm: Path,
    adapters: dict[str, Path],
    backend: TransformersBackend,
    tmp_path: Path,
    caplog,
):
    """Issue 13, gap 1: kill a run after its first chunk, change a setting that can change tokens (batch size,
    merged LoRA, weights), rerun: the old parts are discarded with a log line naming the change."""
    anchors = _anchors(6)
    common = {"sampling": SAMPLING, "generator_id": "g", "chunk_size": 3, "work_dir": tmp_path}
    flaky = _Interrupting(backend, fail_at=3)
    with pytest.raises(KeyboardInterrupt):
        synthesize_triplets(flaky, anchors, **common)
    assert len(list(tmp_path.rglob("part-*.parquet"))) == 1
    other = make_backend(
        "transformers", tiny_causal_lm, adapters=adapters, dtype="float32", batch_size=2
    )
    with caplog.at_level("WARNING", logger="bootembed.work"):
        _, stats, _ = synthesize_triplets(other, anchors, **common)
    assert stats["chunks_resumed"] == 0 and stats["parts_discarded"] == 1
    assert "settings changed (backend)" in caplog.text
    # A changed weight digest (the manifest the synthesis stage adds) discards as well.
    with pytest.raises(KeyboardInterrupt):
        synthesize_triplets(_Interrupting(backend, fail_at=3), anchors, manifest={"w": 1}, **common)
    _, stats, _ = synthesize_triplets(backend, anchors, manifest={"w": 2}, **common)
    assert stats["chunks_resumed"] == 0 and stats["parts_discarded"] == 1


def test_parts_stay_until_the_caller_removes_them(backend: TransformersBackend, tmp_path: Path):
    """Issue 13, gap 2: with keep_parts the parts outlive the call, so a kill before the stage writes its output
    loses nothing; the stage removes them after writing."""
    anchors = _anchors(4)
    common = {"sampling": SAMPLING, "generator_id": "g", "chunk_size": 2, "work_dir": tmp_path}
    first, _, work = synthesize_triplets(backend, anchors, keep_parts=True, **common)
    assert len(list(work.path.glob("part-*.parquet"))) == 2
    again, stats, work = synthesize_triplets(backend, anchors, keep_parts=True, **common)
    assert stats["chunks_resumed"] == 2 and stats["generations"] == 0 and again.equals(first)
    work.remove()
    assert not work.path.exists()

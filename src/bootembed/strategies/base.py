"""The strategy interface: how an encoder's training triplets come about.

A strategy is one module of :mod:`bootembed.strategies` holding one :class:`Strategy` instance called
``STRATEGY``, in the shape of peft's tuners (a config, and the code that uses it):

* its params section (``params_model``; the section is named after the strategy, e.g. ``icl:``),
* the language its positives and negatives are written in (:meth:`Strategy.output_language`),
* the DVC stages that build its inputs (:meth:`Strategy.stages`): the generator of a synthetic strategy, the
  triplets of a baseline (one ``baseline`` stage declared by class attributes, and the triplets from
  :meth:`BaselineStrategy.triplets`),
* for a synthetic strategy, the adapters it needs per polarity, its prompts and its output parsing
  (:class:`SyntheticStrategy`); the shared ``synthesize`` matrix stage runs every synthetic strategy the same way.

A third kind, :class:`RetrievalStrategy` (SWIM-IR), trains retrievers on synthetic (query, passage) pairs instead of
triplet encoders: it is not a ``strategies`` entry (those train the triplet encoders of the shared stages) but brings
its own stages and its own encoders (:meth:`RetrievalStrategy.models`), which the report adds as rows.

Every synthetic strategy keeps its generator in ``models/generators/<strategy>/<language>/``: LoRA adapters in
``positive/`` and ``negative/`` when it has them, and whatever its prompts need (exemplars).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from bootembed.data.sources import DataSources
from bootembed.prompts import POLARITIES, parse_generation
from bootembed.provenance import WEIGHTS_ONLY, dir_digest, generator_base_id
from bootembed.schema import Section
from bootembed.stage_spec import StageSpec

__all__ = [
    "BaselineInputs",
    "BaselineStrategy",
    "PromptBuilder",
    "RetrievalStrategy",
    "Strategy",
    "SyntheticStrategy",
]

#: ``(anchor row with anchor_id / anchor / language, polarity) -> prompt``
PromptBuilder = Callable[[Mapping[str, object], str], str]

ENGLISH = "eng_Latn"


class Strategy(abc.ABC):
    """One way to obtain (anchor, positive, hard negative) triplets for a target language.

    Attributes:
        name: registry name = module name = params section name.
        kind: ``"baseline"`` (no generator) or ``"synthetic"`` (an LLM writes positives and negatives).
        order: report order (baselines first, then the paper's strategies in section order).
        paper: where the method comes from (``"arXiv 2603.01732, Sec. 3.3"``).
        description: one line for tables and the README.
        params_model: the pydantic model of the strategy's params section, or ``None`` if it has none.
    """

    name: ClassVar[str]
    kind: ClassVar[str]
    order: ClassVar[int]
    paper: ClassVar[str]
    description: ClassVar[str]
    params_model: ClassVar[type[Section] | None] = None

    @property
    def params_section(self) -> str | None:
        """Name of the params section this strategy needs (its own name), or ``None``."""
        return self.name if self.params_model is not None else None

    @abc.abstractmethod
    def output_language(self, language: str) -> str:
        """FLORES-200 code of the language the positives and negatives are written in, for target ``language``."""

    @abc.abstractmethod
    def stages(self) -> list[StageSpec]:
        """The DVC stages that build this strategy's generator (synthetic) or its triplets (baseline)."""

    def triplets_path(self, language: str) -> str:
        """Where the strategy's training triplets for ``language`` end up (after filtering, for synthetic ones)."""
        return f"data/triplets/{language}/{self.name}.parquet"

    def section(self, params: Any) -> Any:
        """This strategy's validated params section (``None`` if it has none)."""
        return getattr(params, self.name) if self.params_model is not None else None

    def report_names(self) -> tuple[str, ...]:
        """The names of the encoders this strategy can add to the report, in report order (default: its name)."""
        return (self.name,)


class SyntheticStrategy(Strategy):
    """A strategy whose positives and negatives an LLM writes, one prompt per (anchor, polarity).

    Attributes:
        adapters: polarity -> LoRA adapter subfolder of the generator folder, or ``None`` (the base model).
    """

    kind: ClassVar[str] = "synthetic"
    adapters: ClassVar[Mapping[str, str | None]] = {p: p for p in POLARITIES}

    def generator_dir(self, language: str) -> str:
        """The strategy's generator folder for ``language`` (``models/generators/<name>/<language>``)."""
        return f"models/generators/{self.name}/{language}"

    def adapter_dirs(self, generator_dir: Path) -> dict[str, Path] | None:
        """Adapter name -> folder for the generation backend, or ``None`` when only the base model is used."""
        named = {name for name in self.adapters.values() if name is not None}
        return {name: Path(generator_dir) / name for name in sorted(named)} or None

    def generator_id(self, base_dir: Path, generator_dir: Path) -> str:
        """Identity of base model + adapters, recorded in every triplet: ``<base id>+<strategy>[@<digest>]``.

        The digest (sha256 of the adapter files, training logs left out) appears only for strategies with
        adapters; identical weights give the same id on every machine and every rerun.
        """
        base_id = generator_base_id(base_dir)
        if self.adapter_dirs(generator_dir) is None:
            return f"{base_id}+{self.name}"
        return f"{base_id}+{self.name}@{dir_digest(generator_dir, exclude=WEIGHTS_ONLY)}"

    @abc.abstractmethod
    def prompt_builder(self, params: Any, language: str, generator_dir: Path) -> PromptBuilder:
        """The ``(anchor row, polarity) -> prompt`` function for target ``language``.

        Args:
            params: the validated :data:`bootembed.config.Params`.
            language: FLORES-200 code of the target language.
            generator_dir: the strategy's generator folder (adapters, exemplars).
        """

    def build_generator(
        self, params: Any, language: str, inputs: Mapping[str, Path], out_dir: Path
    ) -> dict[str, object]:
        """Build the generator folder from files (``bootembed build-generator``); metrics of the build.

        Strategies whose generator is trained or composed build it in their own stages instead.

        Raises:
            NotImplementedError: the strategy has no file-built generator.
        """
        raise NotImplementedError(f"strategy {self.name!r}: its generator is not built from files")

    def parse(self, text: str) -> str | None:
        """The sentence in a raw continuation, or ``None`` if there is none (default: first line, label removed)."""
        return parse_generation(text)


@dataclass(frozen=True)
class BaselineInputs:
    """What a baseline builds its triplets from (:meth:`BaselineStrategy.build_triplets`).

    Attributes:
        params: the validated :data:`bootembed.config.Params`.
        language: FLORES-200 code of the target language.
        files: the stage's ``--input`` files by name.
        sources: the data mirror.
        encoder_dtype: dtype of the encoder, for a baseline that encodes.
    """

    params: Any
    language: str
    files: Mapping[str, Path]
    sources: DataSources
    encoder_dtype: str


class BaselineStrategy(Strategy):
    """A strategy whose triplets need no generator (FLORES translations, English-only SICK).

    Its one stage, ``baseline_<name>`` (matrix over the languages), runs ``bootembed baseline`` with the
    ``--input`` files of :attr:`stage_inputs` and writes :meth:`Strategy.triplets_path` and the metrics JSON under
    ``metrics/baselines/``.

    Attributes:
        stage_inputs: ``--input`` name -> path (``${item.language}`` for the language), in command order.
        stage_deps: the stage's data and model dependencies (default: the :attr:`stage_inputs` paths).
        stage_params: params keys the stage reads.
        stage_comment: the comment above the stage in ``dvc.yaml``.
    """

    kind: ClassVar[str] = "baseline"
    stage_inputs: ClassVar[Mapping[str, str]]
    stage_deps: ClassVar[tuple[str, ...] | None] = None
    stage_params: ClassVar[tuple[str, ...]] = ()
    stage_comment: ClassVar[str]

    def output_language(self, language: str) -> str:
        """Baselines pair target anchors with English positives / negatives (or are English throughout)."""
        return ENGLISH

    def build_triplets(
        self,
        params: Any,
        language: str,
        inputs: Mapping[str, Path],
        sources: DataSources,
        *,
        encoder_dtype: str = "float32",
    ) -> pl.DataFrame:
        """The baseline's triplets for ``language`` (``bootembed baseline``).

        Args:
            params: the validated :data:`bootembed.config.Params`.
            language: FLORES-200 code of the target language.
            inputs: the stage's ``--input`` files by name (:attr:`stage_inputs`).
            sources: the data mirror.
            encoder_dtype: dtype of the encoder, for a baseline that encodes (``"float32"`` or ``"bfloat16"``).

        Returns:
            The triplets (:data:`bootembed.triplets.TRIPLET_SCHEMA` columns), one row per anchor.

        Raises:
            DataError: an input does not fit the baseline (the file and field are named).
        """
        return self.triplets(BaselineInputs(params, language, inputs, sources, encoder_dtype))

    @abc.abstractmethod
    def triplets(self, given: BaselineInputs) -> pl.DataFrame:
        """The hook of :meth:`build_triplets`: the triplets of ``given``."""

    def stages(self) -> list[StageSpec]:
        language = "${item.language}"
        out = self.triplets_path(language)
        metrics = f"metrics/baselines/{language}/{self.name}.json"
        inputs = " ".join(f"--input {name}={path}" for name, path in self.stage_inputs.items())
        return [
            StageSpec(
                name=f"baseline_{self.name}",
                module="baseline",
                matrix={"language": "${languages}"},
                cmd=f"baseline --strategy {self.name} --language {language} {inputs} "
                f"--out {out} --metrics {metrics}",
                deps=self.stage_deps
                if self.stage_deps is not None
                else tuple(self.stage_inputs.values()),
                params=self.stage_params,
                outs=(out,),
                metrics=(metrics,),
                comment=self.stage_comment,
            )
        ]


class RetrievalStrategy(Strategy):
    """A strategy that trains retrievers on synthetic (query, passage) pairs (SWIM-IR, Thakur et al., NAACL 2024).

    Unlike a triplet strategy it has several encoders, one per variant (:meth:`models`), and its :meth:`stages`
    build, train and evaluate them all (passages, query synthesis, encoder training through the ``train-encoder``
    command, evaluation through the ``evaluate`` command on its own retrieval task). Its evaluation files lie in
    the folders of the shared ones (``metrics/eval/<language>/...``, ``results/mteb/<language>/...``) at
    :meth:`evaluation_runs`, so the report adds its encoders as rows beside the triplet encoders, and the base
    encoder's scores on its task to the base row.
    """

    kind: ClassVar[str] = "retrieval"

    def output_language(self, language: str) -> str:
        """The language SWIM-IR's own variants (cross-lingual, monolingual) write their queries in: the target."""
        return language

    @abc.abstractmethod
    def report_names(self) -> tuple[str, ...]:
        """Every encoder (variant) this strategy can train, in report order."""

    @abc.abstractmethod
    def models(self, params: Any) -> tuple[str, ...]:
        """The encoders ``params`` selects (a subset of :meth:`report_names`, possibly empty)."""

    @abc.abstractmethod
    def evaluation_runs(self, params: Any, model: str) -> list[str]:
        """Evaluation files of ``model`` relative to a language folder, without suffix (one per training seed).

        ``model == "base"`` gives the base encoder's evaluation on this strategy's own tasks (one file), which the
        report merges into the base row.
        """

    def seeds(self, params: Any) -> tuple[int, ...]:
        """The training seeds of its encoders (one evaluation each). None by default."""
        return ()

    def paired_models(self, params: Any) -> list[tuple[str, str]]:
        """Pairs ``(a, b)`` of :meth:`models` whose difference ``a - b`` the report tests directly (paired bootstrap
        over the test items), beside each one's Δ vs the base: an ablation of the strategy. None by default."""
        return []

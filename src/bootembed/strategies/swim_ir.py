"""SWIM-IR (Thakur et al., "Leveraging LLMs for Synthesizing Training Data Across Many Languages in Multilingual
Dense Retrieval", NAACL 2024): summarize-then-ask query synthesis and retriever training, on FLORES-200 passages.

A :class:`~bootembed.strategies.base.RetrievalStrategy`: its encoders are retrievers trained on synthetic (query,
passage) pairs, one per variant of ``swim_ir.variants`` (:mod:`bootembed.sap`: cross-lingual, monolingual and
swapped, each with summarize-then-ask prompting and with plain prompting as the ablation) and training seed of
``swim_ir.seeds``. Its stages (a DVC matrix over variant x language (x seed)):

* ``swim_ir_passages@<lang>``: training passages from FLORES-200 ``dev`` (:func:`bootembed.passages.training_passages`);
* ``swim_ir_synthesize@<variant>-<lang>``: a summary and a query per passage with the base generator on the
  ``synthesize.backend`` engine; generations (malformed ones kept) and the usable pairs;
* ``swim_ir_train@<variant>-<lang>-<seed>``: the ``train-encoder`` command on the pairs (MultipleNegativesRankingLoss
  with in-batch negatives; E5 ``query: `` / ``passage: `` prompts), ``swim_ir.train_steps`` steps;
* ``swim_ir_evaluate_base@<lang>``, ``swim_ir_evaluate@<variant>-<lang>-<seed>``: the ``evaluate`` command on the
  ``swim_ir_retrieval`` task (FLORES-200 ``devtest`` passages, three directions), with per-item data for the report;
* ``swim_ir_report@<lang>``: the SWIM-IR comparison alone (:func:`bootembed.stages.report.run_retrieval`): base vs
  every retriever, and SAP vs plain prompting per direction (:func:`bootembed.sap.prompting_pairs`), in
  ``metrics/swim_ir_report/<lang>.json`` / ``.md``; the ``report`` stage has the same rows beside the triplet
  encoders.

Why a kind of its own rather than a :class:`~bootembed.strategies.base.SyntheticStrategy`: that interface is one
prompt per (anchor, polarity), both generated from prompts fixed up front, and a (anchor, positive, hard negative)
row per anchor; SAP needs a second prompt built from the first output (the summary), yields (query, passage) pairs
with no hard negative, has six encoders rather than one, and is scored by a retrieval task the triplet encoders are
not trained for.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from bootembed.sap import VARIANTS, prompting_pairs
from bootembed.schema import Section, StrList
from bootembed.stage_spec import LIVE_ROOT, StageSpec, live_outputs
from bootembed.strategies.base import RetrievalStrategy

__all__ = ["EVAL_TASK", "STRATEGY", "SwimIrParams", "SwimIrStrategy"]

#: The evaluation task of every SWIM-IR encoder (:mod:`bootembed.evaluation.tasks.swim_ir_retrieval`).
EVAL_TASK = "swim_ir_retrieval"

_L = "${item.language}"
_V = "${item.variant}"
_N = "${item.seed}"
_PASSAGES = f"data/swim_ir/{_L}/passages.parquet"
_GENERATIONS = f"data/swim_ir/{_L}/{_V}.parquet"
_PAIRS = f"data/swim_ir/{_L}/{_V}.pairs.parquet"
_RETRIEVER = f"models/retrievers/{_L}/{_V}/seed{_N}"
_LIVE = f"{LIVE_ROOT}/train_encoder/{_L}/swim_ir/{_V}/seed{_N}"
_REPORT = f"metrics/swim_ir_report/{_L}"
#: Mirror files the contamination guard of the training passages reads, and the FLORES-200 dev metadata (URLs).
_PASSAGE_DATA = (
    f"${{data.root}}/flores200/dev/{_L}.dev",
    "${data.root}/flores200/dev/eng_Latn.dev",
    "${data.root}/flores200/metadata_dev.tsv",
    f"${{data.root}}/flores200/devtest/{_L}.devtest",
    "${data.root}/flores200/devtest/eng_Latn.devtest",
    f"${{data.root}}/sib200/annotated/{_L}",
    "${data.root}/sib200/annotated/eng_Latn",
    "${data.root}/semrel2024",
    "${data.root}/tatoeba",
)

#: The ``train_encoder`` settings a retriever's training reads (``swim_ir.train_steps`` replaces ``max_steps``, and
#: ``swim_ir.seeds`` the seeds).
_TRAIN_PARAMS = tuple(
    f"train_encoder.{name}"
    for name in (
        "batch_size",
        "learning_rate",
        "warmup_ratio",
        "scale",
        "max_seq_length",
        "dtype",
        "save_steps",
        "freeze_embeddings",
        "batch_order",
    )
)
#: The ``evaluate`` settings an evaluation on the SWIM-IR task reads (``--tasks`` replaces ``evaluate.tasks``).
_EVAL_PARAMS = ("evaluate.limit", "evaluate.batch_size", "evaluate.dtype")


class SwimIrParams(Section):
    """The ``swim_ir`` params section.

    Attributes:
        variants: SAP variants to synthesise, train and evaluate (:data:`bootembed.sap.VARIANTS`); ``[]`` runs
            only the base encoder's evaluation on the SWIM-IR task.
        passages: training passages per language (a seeded sample of the FLORES-200 ``dev`` passages); ``null``
            keeps all (about 280).
        max_sentences: most consecutive sentences per training passage.
        fallback: exemplars for a query language without its own: ``english`` (English exemplar questions, target
            instruction) or ``zero_shot`` (:mod:`bootembed.sap`).
        max_summary_tokens: generation budget of a summary (tokens).
        max_query_tokens: generation budget of a query (tokens).
        train_steps: optimiser steps of each retriever (the other settings are ``train_encoder``'s).
        seeds: training seeds, one retriever per seed and variant (a DVC matrix axis).
    """

    variants: StrList
    passages: int | None = Field(ge=2, le=100_000)
    max_sentences: int = Field(ge=2, le=20)
    fallback: Literal["english", "zero_shot"]
    max_summary_tokens: int = Field(ge=1, le=4096)
    max_query_tokens: int = Field(ge=1, le=4096)
    train_steps: int = Field(ge=1, le=10_000_000)
    seeds: Annotated[
        tuple[Annotated[int, Field(ge=0, lt=2**32)], ...], Field(strict=False, min_length=1)
    ]

    @field_validator("variants")
    @classmethod
    def _known_variants(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if v not in VARIANTS]
        if bad or len(set(value)) != len(value):
            raise ValueError(f"expected distinct names from {list(VARIANTS)}, got {list(value)}")
        return value

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(value)) != len(value):
            raise ValueError(f"expected distinct seeds, got {list(value)}")
        return value


class SwimIrStrategy(RetrievalStrategy):
    """Summarize-then-ask query synthesis; retrievers on (query, passage) pairs, one per variant."""

    name = "swim_ir"
    order = 60
    paper = "Thakur et al., NAACL 2024 (SWIM-IR), Sec. 3"
    description = (
        "summarize-then-ask: passage -> summary -> query (cross-lingual, monolingual, swapped; plain prompting "
        "as the ablation) -> retriever on (query, passage) pairs"
    )
    params_model = SwimIrParams

    def report_names(self) -> tuple[str, ...]:
        return VARIANTS

    def models(self, params: Any) -> tuple[str, ...]:
        return tuple(params.swim_ir.variants)

    def seeds(self, params: Any) -> tuple[int, ...]:
        return tuple(params.swim_ir.seeds)

    def paired_models(self, params: Any) -> list[tuple[str, str]]:
        """SAP vs plain prompting in each direction where ``swim_ir.variants`` has both (Sec. 3's ablation)."""
        return prompting_pairs(params.swim_ir.variants)

    def evaluation_runs(self, params: Any, model: str) -> list[str]:
        if model == "base":
            return ["swim_ir/base"]
        return [f"swim_ir/{model}/seed{seed}" for seed in params.swim_ir.seeds]

    def stages(self) -> list[StageSpec]:
        from bootembed.evaluation.tasks import TASKS

        task_data = TASKS.get(EVAL_TASK).data
        per_variant = {"variant": "${swim_ir.variants}", "language": "${languages}"}
        per_seed = {**per_variant, "seed": "${swim_ir.seeds}"}
        evaluate = "evaluate --language {l} --model {m} --name {n}{s} --tasks " + EVAL_TASK
        return [
            StageSpec(
                name="swim_ir_passages",
                module="passages",
                matrix={"language": "${languages}"},
                cmd=f"swim-ir-passages --language {_L} --out {_PASSAGES} "
                f"--metrics metrics/swim_ir/passages/{_L}.json",
                deps=_PASSAGE_DATA,
                params=("seed", "data", "swim_ir.passages", "swim_ir.max_sentences"),
                outs=(_PASSAGES,),
                metrics=(f"metrics/swim_ir/passages/{_L}.json",),
                comment="SWIM-IR: training passages, consecutive sentences of one FLORES-200 dev article "
                "(target + English), no evaluation sentence",
            ),
            StageSpec(
                name="swim_ir_synthesize",
                module="swim_ir",
                matrix=per_variant,
                cmd=f"swim-ir-synthesize --variant {_V} --language {_L} --passages {_PASSAGES} "
                f"--out {_GENERATIONS} --pairs {_PAIRS} --metrics metrics/swim_ir/synthesize/{_L}/{_V}.json",
                deps=("models/base/generator", _PASSAGES, "${data.root}/swim_ir_prompts"),
                code=("src/bootembed/generation",),
                params=(
                    "seed",
                    "data",
                    "synthesize",
                    "swim_ir.fallback",
                    "swim_ir.max_summary_tokens",
                    "swim_ir.max_query_tokens",
                ),
                outs=(_GENERATIONS, _PAIRS),
                metrics=(f"metrics/swim_ir/synthesize/{_L}/{_V}.json",),
                comment="SWIM-IR (SAP, Sec. 3): summary then query per passage (or the query alone: plain "
                "prompting); malformed outputs counted and kept; usable (query, passage) pairs",
            ),
            StageSpec(
                name="swim_ir_train",
                module="train_encoder",
                matrix=per_seed,
                cmd=f"train-encoder --language {_L} --pairs {_PAIRS} --seed {_N} "
                f"--max-steps ${{swim_ir.train_steps}} --out {_RETRIEVER} "
                f"--metrics metrics/train_encoder/{_L}/swim_ir/{_V}/seed{_N}.json --live-dir {_LIVE}",
                deps=("models/base/encoder", _PAIRS),
                params=("seed", "models.encoder.prompt", *_TRAIN_PARAMS, "swim_ir.train_steps"),
                outs=(_RETRIEVER, *live_outputs(_LIVE)[0]),
                plots=live_outputs(_LIVE)[1],
                metrics=(f"metrics/train_encoder/{_L}/swim_ir/{_V}/seed{_N}.json",),
                comment="SWIM-IR retrievers: MultipleNegativesRankingLoss on (query, passage) pairs, in-batch "
                "negatives, E5 query/passage prompts; one per training seed",
            ),
            StageSpec(
                name="swim_ir_evaluate_base",
                module="evaluate",
                matrix={"language": "${languages}"},
                cmd=evaluate.format(l=_L, m="models/base/encoder", n="base", s="")
                + f" --results-dir results/mteb/{_L}/swim_ir/base --metrics metrics/eval/{_L}/swim_ir/base.json",
                deps=("models/base/encoder", *task_data),
                code=("src/bootembed/evaluation",),
                params=("seed", "data", *_EVAL_PARAMS),
                outs=({f"results/mteb/{_L}/swim_ir/base": {"cache": False}},),
                metrics=(f"metrics/eval/{_L}/swim_ir/base.json",),
                comment="the base encoder on the SWIM-IR retrieval task (FLORES-200 devtest passages, three "
                "directions)",
            ),
            StageSpec(
                name="swim_ir_evaluate",
                module="evaluate",
                matrix=per_seed,
                cmd=evaluate.format(l=_L, m=_RETRIEVER, n=_V, s=f" --train-seed {_N}")
                + f" --results-dir results/mteb/{_L}/swim_ir/{_V}/seed{_N}"
                f" --metrics metrics/eval/{_L}/swim_ir/{_V}/seed{_N}.json",
                deps=(_RETRIEVER, *task_data),
                code=("src/bootembed/evaluation",),
                params=("seed", "data", *_EVAL_PARAMS),
                outs=({f"results/mteb/{_L}/swim_ir/{_V}/seed{_N}": {"cache": False}},),
                metrics=(f"metrics/eval/{_L}/swim_ir/{_V}/seed{_N}.json",),
                comment="each SWIM-IR retriever (every seed) on the SWIM-IR retrieval task, with per-item data "
                "for the bootstrap",
            ),
            StageSpec(
                name="swim_ir_report",
                module="report",
                matrix={"language": "${languages}"},
                cmd=f"swim-ir-report --language {_L} --eval-dir metrics/eval --results-dir results/mteb "
                f"--out {_REPORT}.json --markdown {_REPORT}.md",
                deps=(f"metrics/eval/{_L}/swim_ir", f"results/mteb/{_L}/swim_ir"),
                params=("seed", "swim_ir.variants", "swim_ir.seeds", "report"),
                outs=({f"{_REPORT}.json": {"cache": False}}, {f"{_REPORT}.md": {"cache": False}}),
                comment="SWIM-IR alone: base vs every retriever (seed mean ± sd, Δ with paired bootstrap CIs) and "
                "SAP vs plain prompting per direction; `dvc repro swim_ir_report` runs no triplet strategy",
            ),
        ]


STRATEGY = SwimIrStrategy()

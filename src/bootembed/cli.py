"""``bootembed`` command line: one thin command per DVC stage (``dvc.yaml`` shows the data flow).

Each command parses its options, reads ``params.yaml`` through the one strict reader
(:func:`bootembed.config.load_params`) and calls its stage function in :mod:`bootembed.stages`; every stage writes
its outputs atomically. Errors in params or data end the command with one line naming the file and field
(``Error: params.yaml: seed: expected a value greater than or equal to 0, got -1``); ``-v`` shows the traceback.
"""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path
from typing import Any

import click

from bootembed.config import load_params

logger = logging.getLogger("bootembed")

_VERBOSE = False


class _Main(click.Group):
    """Turns known errors (params, data, contamination, missing files) into one-line click errors."""

    def invoke(self, ctx: click.Context) -> Any:
        from bootembed.data.contamination import ContaminationError
        from bootembed.data.sources import DataError
        from bootembed.schema import ConfigError

        try:
            return super().invoke(ctx)
        except (ConfigError, DataError, ContaminationError, FileNotFoundError, ValueError) as exc:
            if _VERBOSE:
                raise
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise click.ClickException(message) from None


@click.group(cls=_Main)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging, and tracebacks on errors.")
def main(verbose: bool) -> None:
    """Bootstrap sentence embeddings for low-resource languages from LLM-synthesised triplets."""
    global _VERBOSE
    _VERBOSE = verbose
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


_PARAMS = click.option(
    "--params",
    "params_path",
    default="params.yaml",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Parameter file.",
)
_LANGUAGE = click.option(
    "--language",
    required=True,
    help="FLORES-200 code of the target language (one of params.yaml `languages`), e.g. hau_Latn.",
)
_METRICS = click.option(
    "--metrics", "metrics_path", required=True, type=Path, help="Metrics JSON to write."
)
_WORK = click.option(
    "--work-dir",
    type=Path,
    default=None,
    help="Root of the resumable work folders [default: BOOTEMBED_WORK_DIR or .bootembed-work].",
)
_BASE_GENERATOR = click.option(
    "--base", default="models/base/generator", show_default=True, type=Path
)
_LIVE = click.option(
    "--live-dir",
    type=Path,
    default=None,
    help="dvclive folder of the training curves (loss, learning rate, gradient norm) [default: none].",
)


def _path(*names: str, **kwargs: Any) -> Any:
    """A path option (required unless ``required=False``): ``_path("--model", "model_dir")``."""
    return click.option(*names, type=Path, **({"required": True} | kwargs))


def _strategy(kind: str) -> Any:
    """``--strategy``, its choices read from the strategy registry (module names; nothing is imported)."""
    from bootembed.strategies import STRATEGIES

    return click.option(
        "--strategy",
        required=True,
        type=click.Choice(list(STRATEGIES.names())),
        help=f"A {kind} (a module of bootembed.strategies).",
    )


def _parse_inputs(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict:
    out: dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise click.BadParameter(f"expected NAME=PATH, got {value!r}")
        out[name] = Path(path)
    return out


_INPUT = click.option(
    "--input",
    "inputs",
    multiple=True,
    callback=_parse_inputs,
    help="NAME=PATH input of the strategy (repeatable).",
)


def _stage_command(name: str, target: str, options: list[Any], doc: str) -> None:
    """Register ``bootembed <name>``: parse ``options``, read the params, call ``bootembed.stages.<target>``.

    ``target`` is ``module`` or ``module:function`` (default function ``run``); the function receives the params,
    ``params_path`` and every option by its name, so the command holds no stage logic.
    """
    module, _, function = target.partition(":")

    def callback(params_path: Path, **options_: Any) -> None:
        stage = importlib.import_module(f"bootembed.stages.{module}")
        getattr(stage, function or "run")(
            load_params(params_path), params_path=params_path, **options_
        )

    callback.__doc__ = doc
    for option in reversed([_PARAMS, *options]):
        callback = option(callback)
    main.command(name)(callback)


_STAGE_COMMANDS: list[tuple[str, str, list[Any], str]] = [
    (
        "models",
        "models",
        [
            click.option(
                "--generator-out", default="models/base/generator", show_default=True, type=Path
            ),
            click.option(
                "--encoder-out", default="models/base/encoder", show_default=True, type=Path
            ),
        ],
        "Materialise the base generator and base encoder (packaged, hub id or local path).",
    ),
    (
        "prepare",
        "prepare:run_language",
        [_LANGUAGE, _path("--out-dir", help="e.g. data/prepared/hau_Latn"), _METRICS],
        "Per language: anchors, XL-LoRA reference SFT sets, augmentation pairs and language-adapter text.",
    ),
    (
        "prepare-english",
        "prepare:run_english",
        [
            _path("--out-dir", required=False, default="data/prepared/english", show_default=True),
            _path(
                "--metrics", "metrics_path", required=False, default="metrics/prepare/english.json"
            ),
        ],
        "Language-independent sets: SICK task SFT, ICL exemplar pool, English-only triplets, reference LM text.",
    ),
    (
        "train-generator",
        "train_generator:run_generators",
        [
            _BASE_GENERATOR,
            _path(
                "--sft",
                "sft_dirs",
                multiple=True,
                help="Folder with <prefix>positive.jsonl and <prefix>negative.jsonl; repeat for the union.",
            ),
            click.option("--prefix", default="sft_", show_default=True),
            _path("--out-dir"),
            _METRICS,
            _LIVE,
        ],
        "Train a positive and a negative LoRA generator (XL-LoRA or English task adapters) with TRL SFT.",
    ),
    (
        "train-language-adapter",
        "train_generator:run_language_adapter",
        [
            _BASE_GENERATOR,
            _path("--text", "text_path", help="lm_text.jsonl"),
            _path("--out"),
            _METRICS,
            _LIVE,
        ],
        "Train a language LoRA (causal LM on one language's text) for adapter composition.",
    ),
    (
        "compose",
        "compose",
        [
            _LANGUAGE,
            _BASE_GENERATOR,
            _path("--task-adapters"),
            _path("--language-adapter"),
            _path("--reference-adapter"),
            _path("--out-dir"),
            _METRICS,
        ],
        "Merge the English task adapters with the language adapters (peft add_weighted_adapter / AdaMergeX).",
    ),
    (
        "augment",
        "augment",
        [
            _LANGUAGE,
            _BASE_GENERATOR,
            _path("--task-adapters"),
            _path("--pairs", help="augment_pairs.parquet"),
            _path("--out-dir"),
            _WORK,
            _METRICS,
        ],
        "XL-LoRA augmentation: English task adapters label the English side; the anchor swaps back.",
    ),
    (
        "build-generator",
        "build_generator",
        [_strategy("synthetic strategy"), _LANGUAGE, _INPUT, _path("--out"), _METRICS],
        "Build a strategy's generator folder from files (the ICL exemplar pool).",
    ),
    (
        "synthesize",
        "synthesize",
        [
            _strategy("synthetic strategy"),
            _LANGUAGE,
            _BASE_GENERATOR,
            _path(
                "--generator",
                "generator_dir",
                help="The strategy's generator folder (models/generators/<strategy>/<language>).",
            ),
            _path("--anchors"),
            _path("--out"),
            _WORK,
            click.option(
                "--shard",
                default="0/1",
                show_default=True,
                help="Generate shard I of N (0-based; chunks dealt round-robin); merge with `merge-shards`.",
            ),
            _METRICS,
        ],
        "Generate a positive and a hard negative for every anchor with one strategy (resumable).",
    ),
    (
        "baseline",
        "baseline",
        [_strategy("baseline"), _LANGUAGE, _INPUT, _path("--out"), _METRICS],
        "Non-synthetic baseline triplets (FLORES-200 translations, English-only SICK) and their diagnostics.",
    ),
    (
        "filter",
        "filter",
        [
            _LANGUAGE,
            _path("--triplets"),
            _path("--out"),
            _path(
                "--encoder",
                required=False,
                default=None,
                help="The base encoder, for the negatives and consistency steps of the chain.",
            ),
            _path(
                "--dropped",
                required=False,
                default=None,
                help="Sample of dropped rows per reason (Parquet) [default: <metrics>-dropped.parquet].",
            ),
            click.option(
                "--variant",
                # = bootembed.filters.base.ABLATION_VARIANTS (not imported here: every stage imports this module)
                type=click.Choice(["unfiltered", "mined"]),
                default=None,
                help="An ablation variant's chain (filter.ablation) instead of the configured one.",
            ),
            _METRICS,
        ],
        "Run the quality-filter chain (every dropped row counted under one reason); filter report and diagnostics.",
    ),
    (
        "langid",
        "langid",
        [_path("--out", help="e.g. metrics/langid/flores200_dev.json")],
        "Measure the language-ID model of the filter chain on FLORES-200 dev (accuracy, false drops).",
    ),
    (
        "swim-ir-passages",
        "passages",
        [_LANGUAGE, _path("--out", help="e.g. data/swim_ir/hau_Latn/passages.parquet"), _METRICS],
        "SWIM-IR training passages: consecutive sentences of one FLORES-200 dev article, no evaluation sentence.",
    ),
    (
        "swim-ir-synthesize",
        "swim_ir",
        [
            click.option(
                "--variant",
                required=True,
                help="SAP variant, <crosslingual|monolingual|swapped>_<sap|plain> (bootembed.sap.VARIANTS).",
            ),
            _LANGUAGE,
            _BASE_GENERATOR,
            _path("--passages", help="swim-ir-passages output"),
            _path("--out", help="every generation, malformed ones kept (Parquet)"),
            _path("--pairs", help="the usable (query, passage) pairs (Parquet)"),
            _WORK,
            _METRICS,
        ],
        "SWIM-IR: summary then query per passage with one SAP variant (resumable); usable pairs and diagnostics.",
    ),
    (
        "swim-ir-report",
        "report:run_retrieval",
        [
            _LANGUAGE,
            _path("--eval-dir", required=False, default="metrics/eval", show_default=True),
            _path(
                "--results-dir",
                required=False,
                default="results/mteb",
                show_default=True,
                help="Per-item evaluation data (<language>/swim_ir/...items.json) for the bootstrap.",
            ),
            _path("--out", help="e.g. metrics/swim_ir_report/hau_Latn.json"),
            _path("--markdown", help="e.g. metrics/swim_ir_report/hau_Latn.md"),
        ],
        "SWIM-IR alone: base vs every retriever with paired bootstrap CIs, and SAP vs plain prompting per direction.",
    ),
    (
        "train-encoder",
        "train_encoder",
        [
            _LANGUAGE,
            click.option("--base", default="models/base/encoder", show_default=True, type=Path),
            _path(
                "--triplets",
                required=False,
                default=None,
                help="(anchor, positive, negative) table",
            ),
            _path(
                "--pairs",
                required=False,
                default=None,
                help="(query, passage) table instead of --triplets: a SWIM-IR retriever",
            ),
            click.option(
                "--seed",
                "train_seed",
                type=int,
                default=None,
                help="Training seed (one of train_encoder.seeds); default: params.yaml `seed`.",
            ),
            click.option(
                "--max-steps",
                type=click.IntRange(min=1),
                default=None,
                help="Optimiser steps [default: params.yaml train_encoder.max_steps].",
            ),
            _path("--out"),
            _METRICS,
            _LIVE,
        ],
        "Fine-tune the encoder with MultipleNegativesRankingLoss (in-batch negatives + hard negative, or in-batch "
        "negatives on --pairs).",
    ),
    (
        "fidelity",
        "fidelity",
        [
            _LANGUAGE,
            click.option("--encoder", default="models/base/encoder", show_default=True, type=Path),
            _path("--triplets"),
            _METRICS,
        ],
        "Fidelity of one strategy's training triplets with the base encoder (positive closer than negative?).",
    ),
    (
        "evaluate",
        "evaluate",
        [
            _LANGUAGE,
            _path("--model", "model_dir", help="sentence-transformers folder"),
            click.option(
                "--name", required=True, help="model name in the report: base or a strategy"
            ),
            click.option(
                "--train-seed",
                type=int,
                default=None,
                help="The encoder's training seed (recorded; the evaluation itself uses params.yaml `seed`).",
            ),
            click.option(
                "--tasks",
                multiple=True,
                help="Task (a module of bootembed.evaluation.tasks) to run instead of params.yaml "
                "evaluate.tasks (repeatable).",
            ),
            _path("--results-dir", help="MTEB result files"),
            _METRICS,
        ],
        "Evaluate one encoder on one language with MTEB tasks built on local data.",
    ),
    (
        "report",
        "report",
        [
            _path("--eval-dir", required=False, default="metrics/eval", show_default=True),
            _path(
                "--diagnostics",
                "diagnostics_dirs",
                required=False,
                multiple=True,
                help="Folders (or files) of filter / baseline metrics JSON with diagnostics (repeat).",
            ),
            _path("--out", required=False, default="metrics/summary.json", show_default=True),
            _path("--markdown", required=False, default="metrics/summary.md", show_default=True),
            _path("--plots-dir", required=False, default="metrics/plots", show_default=True),
            _path(
                "--results-dir",
                required=False,
                default="results/mteb",
                show_default=True,
                help="Per-item evaluation data (<language>/<model>[/seed<N>]/items.json) for the bootstrap.",
            ),
            _path("--fidelity-dir", required=False, default="metrics/fidelity", show_default=True),
            _path(
                "--curves-dir",
                required=False,
                default="metrics/dvclive",
                show_default=True,
                help="dvclive folders of the training stages; their loss curves go into the HTML report.",
            ),
        ],
        "Collect every evaluation into metrics/summary.json, a Markdown table and per-task plot data.",
    ),
    (
        "model-card",
        "model_card",
        [
            _LANGUAGE,
            _strategy("strategy"),
            click.option("--seed", "train_seed", type=int, required=True, help="Training seed."),
            _path(
                "--encoder", help="models/encoders/<language>/<strategy>/seed<N> (its README.md)"
            ),
            _path("--triplets", help="Its training triplets."),
            _path("--eval", "eval_path", help="Its evaluation (metrics/eval/...json)."),
            _path(
                "--summary",
                "summary_path",
                required=False,
                default="metrics/summary.json",
                show_default=True,
            ),
            _path(
                "--diagnostics",
                "diagnostics_dirs",
                required=False,
                multiple=True,
                help="Folders of filter / baseline metrics JSON (repeat).",
            ),
            click.option("--base", default="models/base/encoder", show_default=True, type=Path),
            _path("--out", help="The card (models/cards/<language>/<strategy>/seed<N>/README.md)."),
        ],
        "The shareable model card of one fine-tuned encoder: its card, data lineage, scores with intervals.",
    ),
]

for _command in _STAGE_COMMANDS:
    _stage_command(*_command)


@main.command("merge-shards")
@_path("--anchors", help="The anchors the shards were made from.")
@_path("--out")
@click.argument("shards", nargs=-1, required=True, type=Path)
def merge_shards_command(anchors: Path, out: Path, shards: tuple[Path, ...]) -> None:
    """Merge `synthesize --shard I/N` outputs (SHARDS: Parquet files) into one file in anchor order."""
    from bootembed.stages import synthesize as stage

    stage.merge(anchors=anchors, out=out, shards=shards)


@main.command("export-encoder")
@_path("--encoder", help="models/encoders/<language>/<strategy>/seed<N>")
@_path("--card", help="models/cards/<language>/<strategy>/seed<N>/README.md")
@_path("--out", help="Folder to write (replaced as a whole).")
def export_encoder_command(encoder: Path, card: Path, out: Path) -> None:
    """Copy a fine-tuned encoder with its shareable model card as README.md, ready to share (e.g. on the Hub)."""
    from bootembed.stages.model_card import export

    click.echo(str(export(encoder=encoder, card=card, out=out)))


@main.command("dvc-yaml")
@click.option("--out", default="dvc.yaml", show_default=True, type=Path)
@click.option(
    "--check", is_flag=True, help="Fail if the file differs from what the registries render."
)
def dvc_yaml(out: Path, check: bool) -> None:
    """Render dvc.yaml from the stage specs and the registries (strategies, tasks); code deps from imports."""
    from bootembed.pipeline import render_dvc_yaml

    text = render_dvc_yaml()
    if check:
        if not out.is_file() or out.read_text(encoding="utf-8") != text:
            raise click.ClickException(f"{out}: out of date; run `bootembed dvc-yaml`")
        click.echo(f"{out}: up to date")
        return
    from bootembed.io import atomic_file

    with atomic_file(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    click.echo(f"wrote {out}")


def _venv_path(default: str, what: str, variable: str) -> Any:
    """``--path`` of an ``*-env`` command: the ``what`` venv folder, which ``variable`` sets for synthesis."""
    return click.option(
        "--path",
        default=default,
        show_default=True,
        type=Path,
        help=f"Where the {what} venv lives ({variable} also sets it for synthesis).",
    )


@main.command("vllm-env")
@_venv_path(".venv-vllm", "vLLM", "BOOTEMBED_VLLM_VENV")
def vllm_env_command(path: Path) -> None:
    """Build the CPU vLLM venv now (synthesis builds it on first use otherwise); idempotent."""
    from bootembed.generation.vllm_backend import vllm_importable
    from bootembed.generation.vllm_env import ensure_vllm_env

    if vllm_importable():
        logger.info("vllm imports in this environment (GPU install): no separate venv needed")
        return
    click.echo(str(ensure_vllm_env(path)))


@main.command("openvino-env")
@_venv_path(".venv-openvino", "export", "BOOTEMBED_OPENVINO_VENV")
@click.option(
    "--export",
    "export_dir",
    type=Path,
    default=None,
    help="Also export this transformers model folder (e.g. models/base/generator) into the export cache.",
)
def openvino_env_command(path: Path, export_dir: Path | None) -> None:
    """Build the OpenVINO export venv now (synthesis builds it on first use otherwise); idempotent."""
    from bootembed.generation import openvino_env

    click.echo(str(openvino_env.ensure_openvino_env(path)))
    if export_dir is not None:
        from bootembed.generation.openvino_backend import DEFAULT_CACHE

        click.echo(str(openvino_env.cached_export(export_dir, DEFAULT_CACHE, venv=path)))


@main.group()
def bench() -> None:
    """Benchmarks: timings and memory go to JSON under metrics/bench/, never into tests."""


_BENCH_OPTIONS = [
    _LANGUAGE,
    _BASE_GENERATOR,
    _path(
        "--adapter",
        required=False,
        help="LoRA adapter besides the base model "
        "[default: models/generators/xllora/<language>/positive when present].",
    ),
    click.option("--prompts", "n_prompts", default=64, show_default=True, help="XL-LoRA prompts."),
    click.option("--max-new-tokens", default=32, show_default=True),
]
_BENCH_COMMANDS: list[tuple[str, str, list[Any], str]] = [
    (
        "synthesize",
        "run_synthesize",
        [
            click.option(
                "--run",
                "run_specs",
                multiple=True,
                help="backend[:batch_size=N][:dtype=D][:merge_lora=B][:env.NAME=V] (repeatable) "
                "[default: every backend in float32, and in bf16 where it is native].",
            ),
            click.option(
                "--profile/--no-profile",
                default=True,
                show_default=True,
                help="Profile one batch of each transformers run with torch.profiler.",
            ),
            _path(
                "--out", required=False, default="metrics/bench/synthesize.json", show_default=True
            ),
        ],
        "Same prompts through each synthesis backend, one after another: tokens/s, RSS, roofline.",
    ),
    (
        "profile-vllm",
        "run_profile_vllm",
        [
            _path(
                "--raw-dir", required=False, default="data/.bench/vllm-profile", show_default=True
            ),
            _path(
                "--out",
                required=False,
                default="metrics/bench/vllm_profile.json",
                show_default=True,
            ),
        ],
        "Where vLLM's engine spends its time (py-spy samples), base model vs LoRA adapter.",
    ),
]


def _bench_command(name: str, function: str, options: list[Any], doc: str) -> None:
    """Register ``bootembed bench <name>`` calling ``bootembed.bench.<function>`` with every option by name."""

    def callback(params_path: Path, **options_: Any) -> None:
        from bootembed import bench as module

        getattr(module, function)(load_params(params_path), params_path=params_path, **options_)

    callback.__doc__ = doc
    for option in reversed([_PARAMS, *_BENCH_OPTIONS, *options]):
        callback = option(callback)
    bench.command(name)(callback)


for _command in _BENCH_COMMANDS:
    _bench_command(*_command)


@bench.command("encoder-batching")
@_PARAMS
@_LANGUAGE
@click.option("--base", default="models/base/encoder", show_default=True, type=Path)
@click.option(
    "--triplets", "triplets_n", default=500, show_default=True, help="FLORES-200 dev rows."
)
@click.option("--steps", default=20, show_default=True, help="Optimiser steps per timed run.")
@click.option(
    "--rounds", default=2, show_default=True, help="Timed runs per batch order, alternated."
)
@_path("--work-dir", required=False, default="data/.bench/encoder-batching", show_default=True)
@_path("--out", required=False, default="metrics/bench/encoder_batching.json", show_default=True)
def bench_encoder_batching(params_path: Path, **options: Any) -> None:
    """Random vs length-grouped encoder batches (train_encoder.batch_order): padding and s/step, side by side."""
    from bootembed.bench_batching import bench_encoder_batching as run

    run(load_params(params_path), params_path=params_path, **options)


# After every command is defined, so `python -m bootembed.cli bench ...` works.
if __name__ == "__main__":
    sys.exit(main())

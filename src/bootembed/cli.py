"""``bootembed`` command line: one thin command per DVC stage (see ``dvc.yaml`` for the data flow).

Every command reads ``params.yaml`` (``--params``), calls library functions, and writes its outputs atomically.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import platform
import time
from pathlib import Path

import click

from bootembed.config import Params, load_params
from bootembed.io import read_json, write_json

logger = logging.getLogger("bootembed")

_PARAMS = click.option(
    "--params",
    "params_path",
    default="params.yaml",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Parameter file.",
)


def _sources(params: Params, params_path: Path):  # noqa: ANN202 - DataSources, imported lazily
    from bootembed.data import DataSourceConfig, DataSources

    return DataSources(
        DataSourceConfig(mode=params.data.mode, root=params.data.root),
        base_dir=params_path.resolve().parent,
    )


def _environment() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in (
        "torch",
        "transformers",
        "peft",
        "trl",
        "sentence-transformers",
        "mteb",
        "polars",
    ):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


def _dir_digest(path: Path) -> str:
    """sha256 over the names and bytes of the files in ``path`` (sorted), first 12 hex digits."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def main(verbose: bool) -> None:
    """Bootstrap sentence embeddings for low-resource languages from LLM-synthesised triplets."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.command()
@_PARAMS
@click.option("--generator-out", default="models/base/generator", show_default=True, type=Path)
@click.option("--encoder-out", default="models/base/encoder", show_default=True, type=Path)
def models(params_path: Path, generator_out: Path, encoder_out: Path) -> None:
    """Materialise the base generator and base encoder (packaged, hub id or local path)."""
    from bootembed.models.sources import materialize_encoder, materialize_generator

    params = load_params(params_path)
    start = time.perf_counter()
    materialize_generator(params.models.generator, generator_out)
    materialize_encoder(params.models.encoder, encoder_out)
    logger.info("models stage done in %.1f s", time.perf_counter() - start)


_LANGUAGE = click.option(
    "--language",
    required=True,
    help="FLORES-200 code of the target language (one of params.yaml `languages`), e.g. hau_Latn.",
)


_METRICS = click.option(
    "--metrics", "metrics_path", required=True, type=Path, help="Metrics JSON to write."
)


def _write_jsonl(path: Path, examples: list) -> None:  # list[PromptExample]
    from bootembed.io import atomic_file

    with atomic_file(path) as tmp:
        with tmp.open("w", encoding="utf-8") as handle:
            for example in examples:
                handle.write(json.dumps(example.as_dict(), ensure_ascii=False) + "\n")


def _check_language(language: str) -> str:
    from bootembed.config import ConfigError, check_language

    try:
        return check_language(language, "--language")
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None


@main.command()
@_PARAMS
@_LANGUAGE
@click.option("--out-dir", required=True, type=Path, help="e.g. data/prepared/hau_Latn")
@_METRICS
def prepare(params_path: Path, language: str, out_dir: Path, metrics_path: Path) -> None:
    """Per language: anchors, XL-LoRA reference SFT sets, augmentation pairs and language-adapter text."""
    from bootembed.data.contamination import ContaminationGuard
    from bootembed.io import write_parquet
    from bootembed.prepare import (
        build_anchors,
        build_augment_pairs,
        build_lm_text,
        build_xllora_sft,
    )

    params = load_params(params_path)
    language = _check_language(language)
    sources = _sources(params, params_path)
    p = params.prepare
    start = time.perf_counter()
    guard = ContaminationGuard.for_language(sources, language)
    anchors, counts = build_anchors(
        sources,
        language,
        anchor_source=p.anchor_source,
        max_anchors=p.max_anchors,
        seed=params.seed,
        guard=guard,
    )
    sft = build_xllora_sft(
        sources,
        num_examples=p.sft_examples,
        max_chars=p.max_sft_chars,
        seed=params.seed,
        guard=guard,
    )
    exclude = anchors["source_index"].to_list() if p.anchor_source == "flores_dev" else []
    augment = build_augment_pairs(
        sources,
        language,
        num_pairs=p.augment_pairs,
        exclude_indices=exclude,
        seed=params.seed,
        guard=guard,
    )
    lm_text = build_lm_text(
        sources, language, max_sentences=p.lm_sentences, seed=params.seed, guard=guard
    )
    write_parquet(out_dir / "anchors.parquet", anchors)
    write_parquet(out_dir / "augment_pairs.parquet", augment)
    for polarity, examples in sft.items():
        _write_jsonl(out_dir / f"sft_{polarity}.jsonl", examples)
    _write_jsonl(out_dir / "lm_text.jsonl", lm_text)
    write_json(
        metrics_path,
        {
            "language": language,
            "seed": params.seed,
            "anchors": counts,
            "sft_examples": {k: len(v) for k, v in sft.items()},
            "augment_pairs": augment.height,
            "lm_sentences": len(lm_text),
            "seconds": round(time.perf_counter() - start, 2),
        },
    )


@main.command("prepare-english")
@_PARAMS
@click.option("--out-dir", default="data/prepared/english", show_default=True, type=Path)
@click.option(
    "--metrics",
    "metrics_path",
    default="metrics/prepare/english.json",
    show_default=True,
    type=Path,
)
def prepare_english(params_path: Path, out_dir: Path, metrics_path: Path) -> None:
    """Language-independent sets: SICK task SFT, ICL exemplars, English-only triplets, reference LM text."""
    from bootembed.baselines import sick_triplets
    from bootembed.data import load_sick
    from bootembed.io import write_parquet
    from bootembed.prepare import build_lm_text, build_task_sft

    params = load_params(params_path)
    sources = _sources(params, params_path)
    p = params.prepare
    start = time.perf_counter()
    task = build_task_sft(sources, num_examples=p.task_examples, seed=params.seed)
    reference = params.compose.reference_language
    lm_text = build_lm_text(sources, reference, max_sentences=p.lm_sentences, seed=params.seed)
    pairs = load_sick(sources)
    # Only premises with both an entailment and a contradiction qualify (SICK TRAIN+TRIAL: 144, TEST: 155).
    # ICL exemplars come from SICK TEST, the English-only baseline from TRAIN + TRIAL (SICK is not an
    # evaluation set here): disjoint by construction.
    exemplars = sick_triplets(
        pairs, max_triplets=params.icl.pool_size, seed=params.seed, splits=("TEST",)
    )
    english = sick_triplets(
        pairs,
        max_triplets=p.english_triplets or p.max_anchors,
        seed=params.seed,
        splits=("TRAIN", "TRIAL"),
    )
    for polarity, examples in task.items():
        _write_jsonl(out_dir / f"task_{polarity}.jsonl", examples)
    _write_jsonl(out_dir / "lm_text.jsonl", lm_text)
    write_parquet(out_dir / "icl_exemplars.parquet", exemplars)
    write_parquet(out_dir / "english_triplets.parquet", english)
    write_json(
        metrics_path,
        {
            "seed": params.seed,
            "task_examples": {k: len(v) for k, v in task.items()},
            "reference_language": reference,
            "lm_sentences": len(lm_text),
            "icl_exemplars": exemplars.height,
            "english_triplets": english.height,
            "seconds": round(time.perf_counter() - start, 2),
        },
    )


def _read_jsonl(path: Path) -> list[dict[str, str]]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise click.ClickException(f"{path}:{number}: not valid JSON ({exc})") from None
            if not isinstance(row, dict) or not {"prompt", "completion"} <= set(row):
                raise click.ClickException(
                    f"{path}:{number}: expected an object with 'prompt' and 'completion'"
                )
            rows.append(row)
    return rows


def _train_adapter(params: Params, base: Path, examples: list, out: Path, *, lm: bool) -> dict:
    from bootembed.generator_training import train_lora_adapter

    p = params.train_generator
    target = p.target_modules if isinstance(p.target_modules, str) else list(p.target_modules)
    result = train_lora_adapter(
        base,
        examples,
        out,
        rank=p.rank,
        alpha=p.alpha,
        dropout=p.dropout,
        target_modules=target,
        max_steps=p.lm_max_steps if lm else p.max_steps,
        learning_rate=p.learning_rate,
        batch_size=p.batch_size,
        grad_accum=p.grad_accum,
        max_length=p.max_length,
        seed=params.seed,
        bf16=p.bf16,
    )
    return {
        "steps": result.steps,
        "train_loss": round(result.train_loss, 4),
        "first_loss": round(result.losses[0], 4) if result.losses else None,
        "last_loss": round(result.losses[-1], 4) if result.losses else None,
        "examples": result.num_examples,
        "seconds": round(result.seconds, 1),
    }


@main.command("train-generator")
@_PARAMS
@click.option("--base", default="models/base/generator", show_default=True, type=Path)
@click.option(
    "--sft",
    "sft_dirs",
    multiple=True,
    required=True,
    type=Path,
    help="Folder with <prefix>positive.jsonl and <prefix>negative.jsonl; repeat to train on the union.",
)
@click.option("--prefix", default="sft_", show_default=True)
@click.option("--out-dir", required=True, type=Path)
@_METRICS
def train_generator(
    params_path: Path,
    base: Path,
    sft_dirs: tuple[Path, ...],
    prefix: str,
    out_dir: Path,
    metrics_path: Path,
) -> None:
    """Train a positive and a negative LoRA generator (XL-LoRA or English task adapters) with TRL SFT."""
    from bootembed.prompts import POLARITIES

    params = load_params(params_path)
    metrics: dict[str, object] = {"seed": params.seed, "environment": _environment()}
    for polarity in POLARITIES:
        examples = [
            row for folder in sft_dirs for row in _read_jsonl(folder / f"{prefix}{polarity}.jsonl")
        ]
        metrics[polarity] = _train_adapter(params, base, examples, out_dir / polarity, lm=False)
    write_json(metrics_path, metrics)


@main.command("train-language-adapter")
@_PARAMS
@click.option("--base", default="models/base/generator", show_default=True, type=Path)
@click.option("--text", "text_path", required=True, type=Path, help="lm_text.jsonl of a language")
@click.option("--out", required=True, type=Path)
@_METRICS
def train_language_adapter(
    params_path: Path, base: Path, text_path: Path, out: Path, metrics_path: Path
) -> None:
    """Train a language LoRA (causal LM on one language's text) for adapter composition."""
    params = load_params(params_path)
    metrics = _train_adapter(params, base, _read_jsonl(text_path), out, lm=True)
    write_json(metrics_path, {"seed": params.seed, **metrics})


@main.command()
@_PARAMS
@_LANGUAGE
@click.option("--base", default="models/base/generator", show_default=True, type=Path)
@click.option("--task-adapters", required=True, type=Path)
@click.option("--language-adapter", required=True, type=Path)
@click.option("--reference-adapter", required=True, type=Path)
@click.option("--out-dir", required=True, type=Path)
@_METRICS
def compose(
    params_path: Path,
    language: str,
    base: Path,
    task_adapters: Path,
    language_adapter: Path,
    reference_adapter: Path,
    out_dir: Path,
    metrics_path: Path,
) -> None:
    """Merge the English task adapters with the language adapters (peft add_weighted_adapter / AdaMergeX)."""
    from bootembed.composition import compose_adapters
    from bootembed.prompts import POLARITIES

    params = load_params(params_path)
    c = params.compose
    metrics: dict[str, object] = {"language": language, "combination_type": c.combination_type}
    for polarity in POLARITIES:
        adapters = {"task": task_adapters / polarity, "language": language_adapter}
        weights = {"task": c.task_weight, "language": c.language_weight}
        if c.reference_weight != 0:
            adapters["reference"] = reference_adapter
            weights["reference"] = c.reference_weight
        result = compose_adapters(
            base, adapters, weights, out_dir / polarity, combination_type=c.combination_type
        )
        metrics[polarity] = {"weights": result.weights, "rank": result.rank}
    write_json(metrics_path, metrics)


def _generator_id(base: Path, adapters_dir: Path | None, strategy: str) -> str:
    base_id = (
        read_json(base / "source.json").get("id", str(base))
        if (base / "source.json").exists()
        else str(base)
    )
    if adapters_dir is None:
        return f"{base_id}+{strategy}"
    return f"{base_id}+{strategy}@{_dir_digest(adapters_dir)}"


def _sampling(params: Params):  # noqa: ANN202 - SamplingConfig
    from bootembed.generation.base import SamplingConfig

    s = params.synthesize
    return SamplingConfig(
        max_new_tokens=s.max_new_tokens,
        do_sample=s.do_sample,
        temperature=s.temperature,
        top_p=s.top_p,
        seed=params.seed,
    )


def _backend(params: Params, base: Path, adapters: dict[str, Path] | None):  # noqa: ANN202
    from bootembed.generation.base import make_backend

    s = params.synthesize
    return make_backend(
        s.backend,
        base,
        adapters=adapters,
        dtype=s.dtype,
        batch_size=s.batch_size,
        merge_lora=s.merge_lora,
        tensor_parallel_size=s.tensor_parallel_size,
    )


@main.command()
@_PARAMS
@_LANGUAGE
@click.option("--base", default="models/base/generator", show_default=True, type=Path)
@click.option("--task-adapters", required=True, type=Path)
@click.option("--pairs", required=True, type=Path, help="augment_pairs.parquet")
@click.option("--out-dir", required=True, type=Path)
@click.option("--work-dir", default="data/.synthesize-work", show_default=True, type=Path)
@_METRICS
def augment(
    params_path: Path,
    language: str,
    base: Path,
    task_adapters: Path,
    pairs: Path,
    out_dir: Path,
    work_dir: Path,
    metrics_path: Path,
) -> None:
    """XL-LoRA augmentation: English task adapters label the English side; the anchor swaps back to the target."""
    import polars as pl

    from bootembed.augment import augmentation_examples
    from bootembed.prompts import POLARITIES, task_prompt
    from bootembed.synthesize import synthesize_triplets

    params = load_params(params_path)
    frame = pl.read_parquet(pairs)
    english = frame.select(
        pl.col("source_index").alias("anchor_id"),
        pl.col("english").alias("anchor"),
        pl.lit("eng_Latn").alias("language"),
    )
    with _backend(params, base, {p: task_adapters / p for p in POLARITIES}) as backend:
        generated, stats = synthesize_triplets(
            backend,
            english,
            work_dir=work_dir,
            sampling=_sampling(params),
            generator_id=_generator_id(base, task_adapters, "task"),
            chunk_size=params.synthesize.chunk_size,
            strategy="augment",
            build_prompt=lambda row, polarity: task_prompt(str(row["anchor"]), polarity),
        )
    examples, counts = augmentation_examples(frame, generated)
    for polarity in POLARITIES:
        _write_jsonl(out_dir / f"sft_{polarity}.jsonl", examples[polarity])
    write_json(
        metrics_path,
        {"language": language, "seed": params.seed, "generation": stats, "examples": counts},
    )


@main.command()
@_PARAMS
@_LANGUAGE
@click.option("--strategy", required=True, type=click.Choice(["icl", "composition", "xllora"]))
@click.option("--base", default="models/base/generator", show_default=True, type=Path)
@click.option(
    "--adapters",
    "adapters_dir",
    type=Path,
    help="Folder with positive/ and negative/ LoRA adapters (composition, xllora).",
)
@click.option("--exemplars", type=Path, help="icl_exemplars.parquet (icl)")
@click.option("--anchors", required=True, type=Path)
@click.option("--out", required=True, type=Path)
@click.option(
    "--work-dir",
    default="data/.synthesize-work",
    show_default=True,
    type=Path,
    help="Resumable chunk parts (kept across interruptions, removed on success).",
)
@click.option(
    "--shard",
    default="0/1",
    show_default=True,
    help="Generate shard I of N (0-based; chunks dealt round-robin); merge with `merge-shards`.",
)
@_METRICS
def synthesize(
    params_path: Path,
    language: str,
    strategy: str,
    base: Path,
    adapters_dir: Path | None,
    exemplars: Path | None,
    anchors: Path,
    out: Path,
    work_dir: Path,
    shard: str,
    metrics_path: Path,
) -> None:
    """Generate a positive and a hard negative for every anchor with one strategy (resumable)."""
    import polars as pl

    from bootembed.io import write_parquet
    from bootembed.prompts import POLARITIES
    from bootembed.strategies import prompt_builder
    from bootembed.synthesize import parse_shard, synthesize_triplets

    try:
        shard_spec = parse_shard(shard)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--shard") from exc
    params = load_params(params_path)
    language = _check_language(language)
    anchor_frame = pl.read_parquet(anchors)
    if strategy == "icl":
        if exemplars is None:
            raise click.UsageError("--exemplars is required for --strategy icl")
        adapter_dirs = None
        adapters: dict[str, str | None] = {p: None for p in POLARITIES}
    else:
        if adapters_dir is None:
            raise click.UsageError(f"--adapters is required for --strategy {strategy}")
        adapter_dirs = {p: adapters_dir / p for p in POLARITIES}
        adapters = {p: p for p in POLARITIES}
    build = prompt_builder(
        strategy,
        language=language,
        icl=params.icl,
        exemplars=pl.read_parquet(exemplars) if exemplars is not None else None,
        seed=params.seed,
    )
    generator_id = _generator_id(base, adapters_dir, strategy)
    with _backend(params, base, adapter_dirs) as backend:
        triplets, stats = synthesize_triplets(
            backend,
            anchor_frame,
            work_dir=work_dir,
            sampling=_sampling(params),
            generator_id=generator_id,
            chunk_size=params.synthesize.chunk_size,
            strategy=strategy,
            adapters=adapters,
            build_prompt=build,
            shard=shard_spec,
        )
    write_parquet(out, triplets)
    shard_info = {"shard": shard} if shard_spec != (0, 1) else {}
    write_json(
        metrics_path,
        {
            "strategy": strategy,
            "language": language,
            "backend": params.synthesize.backend,
            "generator_id": generator_id,
            "seed": params.seed,
            **shard_info,
            **stats,
        },
    )


@main.command("merge-shards")
@click.option("--anchors", required=True, type=Path, help="The anchors the shards were made from.")
@click.option("--out", required=True, type=Path)
@click.argument("shards", nargs=-1, required=True, type=Path)
def merge_shards_command(anchors: Path, out: Path, shards: tuple[Path, ...]) -> None:
    """Merge `synthesize --shard I/N` outputs (SHARDS: Parquet files) into one file in anchor order."""
    import polars as pl

    from bootembed.io import write_parquet
    from bootembed.synthesize import merge_shards

    frames = [pl.read_parquet(path) for path in shards]
    try:
        merged = merge_shards(pl.read_parquet(anchors), frames)
    except ValueError as exc:
        raise click.ClickException(f"{', '.join(map(str, shards))}: {exc}") from exc
    write_parquet(out, merged)
    logger.info("merged %d shard(s) into %s (%d rows)", len(shards), out, merged.height)


@main.command()
@_PARAMS
@_LANGUAGE
@click.option("--anchors", required=True, type=Path)
@click.option("--english-triplets", required=True, type=Path)
@click.option("--encoder", default="models/base/encoder", show_default=True, type=Path)
@click.option("--out-dir", required=True, type=Path, help="e.g. data/triplets/hau_Latn")
@_METRICS
def baselines(
    params_path: Path,
    language: str,
    anchors: Path,
    english_triplets: Path,
    encoder: Path,
    out_dir: Path,
    metrics_path: Path,
) -> None:
    """Non-synthetic baselines: FLORES-200 translation triplets and English-only SICK triplets."""
    import polars as pl

    from bootembed.baselines import translation_triplets
    from bootembed.data import load_flores
    from bootembed.data.contamination import ContaminationGuard
    from bootembed.diagnostics import LANGID_MODEL, triplet_diagnostics
    from bootembed.io import write_parquet

    params = load_params(params_path)
    language = _check_language(language)
    sources = _sources(params, params_path)
    anchor_frame = pl.read_parquet(anchors)
    if anchor_frame["source"].unique().to_list() != ["flores_dev"]:
        raise click.ClickException(
            f"{anchors}: the translation baseline needs FLORES-200 dev anchors "
            "(prepare.anchor_source: flores_dev)"
        )
    english_dev = [" ".join(s.split()) for s in load_flores(sources, "eng_Latn", "dev")]
    guard = ContaminationGuard.for_language(sources, language)
    pool = [s for s in dict.fromkeys(english_dev) if s and not guard.is_blocked(s)]
    translations = [english_dev[i] for i in anchor_frame["source_index"].to_list()]
    translation = translation_triplets(
        anchor_frame,
        translations,
        pool,
        encoder,
        prompt=params.models.encoder.prompt or None,
        batch_size=params.evaluate.batch_size,
        seed=params.seed,
    )
    english = pl.read_parquet(english_triplets)
    write_parquet(out_dir / "translation.parquet", translation)
    write_parquet(out_dir / "english.parquet", english)
    write_json(
        metrics_path,
        {
            "language": language,
            "langid_model": LANGID_MODEL,
            "translation": triplet_diagnostics(
                translation, positive_language="eng_Latn", negative_language="eng_Latn"
            ),
            "english": triplet_diagnostics(
                english, positive_language="eng_Latn", negative_language="eng_Latn"
            ),
        },
    )


@main.command("filter")
@_PARAMS
@_LANGUAGE
@click.option("--triplets", required=True, type=Path)
@click.option("--out", required=True, type=Path)
@_METRICS
def filter_cmd(
    params_path: Path, language: str, triplets: Path, out: Path, metrics_path: Path
) -> None:
    """Drop unusable synthetic triplets (count each reason) and record the data diagnostics."""
    import polars as pl

    from bootembed.diagnostics import LANGID_MODEL, triplet_diagnostics
    from bootembed.filtering import filter_triplets
    from bootembed.io import write_parquet
    from bootembed.strategies import output_language

    params = load_params(params_path)
    frame = pl.read_parquet(triplets)
    strategies = frame["strategy"].unique().to_list()
    if len(strategies) != 1:
        raise click.ClickException(f"{triplets}: expected one strategy, found {strategies}")
    strategy = strategies[0]
    target = output_language(strategy, language)
    diagnostics = triplet_diagnostics(frame, positive_language=target, negative_language=target)
    kept, counts = filter_triplets(frame, params.filter)
    if kept.height < 2:
        raise click.ClickException(
            f"{triplets}: only {kept.height} triplet(s) survived the filter ({counts}); need >= 2 to train"
        )
    write_parquet(out, kept)
    write_json(
        metrics_path,
        {
            "strategy": strategy,
            "language": language,
            "langid_model": LANGID_MODEL,
            "filter": counts,
            "diagnostics": diagnostics,
        },
    )


@main.command("train-encoder")
@_PARAMS
@click.option("--base", default="models/base/encoder", show_default=True, type=Path)
@click.option("--triplets", required=True, type=Path)
@click.option("--out", required=True, type=Path)
@_METRICS
def train_encoder_cmd(
    params_path: Path, base: Path, triplets: Path, out: Path, metrics_path: Path
) -> None:
    """Fine-tune the encoder with MultipleNegativesRankingLoss (in-batch negatives + hard negative)."""
    import polars as pl

    from bootembed.encoder_training import train_encoder

    params = load_params(params_path)
    p = params.train_encoder
    result = train_encoder(
        base,
        pl.read_parquet(triplets),
        out,
        epochs=p.epochs,
        max_steps=p.max_steps,
        batch_size=p.batch_size,
        learning_rate=p.learning_rate,
        warmup_ratio=p.warmup_ratio,
        scale=p.scale,
        max_seq_length=p.max_seq_length,
        prompt=params.models.encoder.prompt or None,
        seed=params.seed,
    )
    write_json(
        metrics_path,
        {
            "steps": result.steps,
            "train_loss": round(result.train_loss, 4),
            "triplets": result.num_triplets,
            "seconds": round(result.seconds, 1),
            "seed": params.seed,
        },
    )


@main.command()
@_PARAMS
@_LANGUAGE
@click.option("--model", "model_dir", required=True, type=Path, help="sentence-transformers folder")
@click.option("--name", required=True, help="model name in the report: base or a strategy")
@click.option("--results-dir", required=True, type=Path, help="MTEB result files")
@_METRICS
def evaluate(
    params_path: Path,
    language: str,
    model_dir: Path,
    name: str,
    results_dir: Path,
    metrics_path: Path,
) -> None:
    """Evaluate one encoder on one language with MTEB tasks built on local data."""
    from bootembed.evaluation import evaluate_encoder
    from bootembed.io import atomic_dir

    params = load_params(params_path)
    language = _check_language(language)
    sources = _sources(params, params_path)
    e = params.evaluate
    start = time.perf_counter()
    with atomic_dir(results_dir) as tmp:
        scores = evaluate_encoder(
            model_dir,
            sources=sources,
            lang=language,
            output_dir=tmp,
            tasks=e.tasks,
            batch_size=e.batch_size,
            limit=e.limit,
            seed=params.seed,
        )
    write_json(
        metrics_path,
        {
            "language": language,
            "model": name,
            "limit": e.limit,
            "scores": {k: round(v, 4) for k, v in scores.items()},
            "seconds": round(time.perf_counter() - start, 1),
        },
    )


@main.command()
@_PARAMS
@click.option("--eval-dir", default="metrics/eval", show_default=True, type=Path)
@click.option(
    "--diagnostics",
    "diagnostics_files",
    multiple=True,
    type=Path,
    help="filter / baselines metrics JSON files, or folders of them, with diagnostics (repeat).",
)
@click.option("--out", default="metrics/summary.json", show_default=True, type=Path)
@click.option("--markdown", default="metrics/summary.md", show_default=True, type=Path)
@click.option("--plots-dir", default="metrics/plots", show_default=True, type=Path)
def report(
    params_path: Path,
    eval_dir: Path,
    diagnostics_files: tuple[Path, ...],
    out: Path,
    markdown: Path,
    plots_dir: Path,
) -> None:
    """Collect every evaluation into metrics/summary.json, a Markdown table and per-task plot data."""
    from bootembed.io import atomic_file
    from bootembed.report import build_summary, render_markdown, write_plot_data

    params = load_params(params_path)
    evals: dict[str, dict[str, dict[str, float]]] = {}
    for language in params.languages:
        for name in ("base", *params.strategies):
            path = eval_dir / language / f"{name}.json"
            if not path.is_file():
                raise click.ClickException(f"{path}: evaluation result missing")
            evals.setdefault(language, {})[name] = read_json(path)["scores"]
    diagnostics: dict[str, dict[str, dict[str, float]]] = {}
    files = [
        file
        for path in diagnostics_files
        for file in (sorted(path.rglob("*.json")) if path.is_dir() else [path])
    ]
    for path in files:
        data = read_json(path)
        language = data["language"]
        if "strategy" in data:
            diagnostics.setdefault(language, {})[data["strategy"]] = {
                **data["diagnostics"],
                "kept_after_filter": data["filter"].get("kept"),
            }
        else:
            for name in ("translation", "english"):
                if name in data:
                    diagnostics.setdefault(language, {})[name] = data[name]
    summary = build_summary(evals, diagnostics)
    summary["seed"] = params.seed
    write_json(out, summary)
    with atomic_file(markdown) as tmp:
        tmp.write_text(render_markdown(summary), encoding="utf-8")
    write_plot_data(summary, plots_dir)


if __name__ == "__main__":
    main()


def _bench_inputs(
    params: Params, params_path: Path, language: str, adapter: Path | None, n_prompts: int
) -> tuple[str, Path | None, list[str]]:
    """Checked language, the adapter (default: the trained XL-LoRA positive one, when present) and the
    first ``n_prompts`` XL-LoRA prompts of FLORES-200 dev in that language."""
    from bootembed.data import load_flores
    from bootembed.prompts import xllora_prompt

    language = _check_language(language)
    if adapter is None:
        default = Path("models/adapters/xllora") / language / "positive"
        adapter = default if (default / "adapter_config.json").is_file() else None
    sentences = load_flores(_sources(params, params_path), language, "dev")[:n_prompts]
    return language, adapter, [xllora_prompt(sentence, "positive") for sentence in sentences]


def _bench_options(command):  # noqa: ANN001, ANN202 - a click decorator
    """The inputs every bench command shares: params, language, base model, adapter, prompt count, budget."""
    for option in reversed(
        [
            _PARAMS,
            _LANGUAGE,
            click.option("--base", default="models/base/generator", show_default=True, type=Path),
            click.option(
                "--adapter",
                type=Path,
                help="LoRA adapter besides the base model "
                "[default: models/adapters/xllora/<language>/positive when present].",
            ),
            click.option(
                "--prompts", "n_prompts", default=64, show_default=True, help="XL-LoRA prompts."
            ),
            click.option("--max-new-tokens", default=32, show_default=True),
        ]
    ):
        command = option(command)
    return command


@main.group()
def bench() -> None:
    """Benchmarks: timings and memory go to JSON under metrics/bench/, never into tests."""


@bench.command("synthesize")
@_bench_options
@click.option(
    "--run",
    "run_specs",
    multiple=True,
    help="backend[:batch_size=N][:dtype=D][:merge_lora=B][:env.NAME=V] (repeatable) "
    "[default: tuned transformers, unmerged transformers, vLLM, vLLM bound to all CPUs].",
)
@click.option(
    "--profile/--no-profile",
    default=True,
    show_default=True,
    help="Profile one batch of each transformers run with torch.profiler (operator time shares).",
)
@click.option("--out", default="metrics/bench/synthesize.json", show_default=True, type=Path)
def bench_synthesize_command(
    params_path: Path,
    language: str,
    base: Path,
    adapter: Path | None,
    n_prompts: int,
    max_new_tokens: int,
    run_specs: tuple[str, ...],
    profile: bool,
    out: Path,
) -> None:
    """Same prompts through each synthesis backend, one after another: tokens/s, RSS, roofline."""
    from bootembed.bench import DEFAULT_RUNS, bench_synthesize, parse_run

    params = load_params(params_path)
    language, adapter, prompts = _bench_inputs(params, params_path, language, adapter, n_prompts)
    try:
        runs = [
            parse_run(spec, batch_size=params.synthesize.batch_size, dtype=params.synthesize.dtype)
            for spec in run_specs or DEFAULT_RUNS
        ]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--run") from exc
    result = bench_synthesize(
        base, prompts, runs, adapter_dir=adapter, max_new_tokens=max_new_tokens, profile=profile
    )
    result["settings"]["language"] = language
    write_json(out, result)
    for run in result["runs"]:
        for name, stats in run["targets"].items():
            logger.info(
                "%s [%s]: %.1f tokens/s, %.2f prompts/s, first batch %.1f s, peak RSS %.0f MiB",
                run["label"],
                name,
                stats["output_tokens_per_second"],
                stats["prompts_per_second"],
                run["time_to_first_batch_seconds"],
                run["peak_rss_mib"],
            )
    logger.info("ratios: %s", result["ratios"])


@main.command("vllm-env")
@click.option(
    "--path",
    default=".venv-vllm",
    show_default=True,
    type=Path,
    help="Where the vLLM venv lives (BOOTEMBED_VLLM_VENV also sets it for synthesis).",
)
def vllm_env_command(path: Path) -> None:
    """Build the CPU vLLM venv now (synthesis builds it on first use otherwise); idempotent."""
    from bootembed.generation.vllm_backend import vllm_importable
    from bootembed.generation.vllm_env import ensure_vllm_env

    if vllm_importable():
        logger.info("vllm imports in this environment (GPU install): no separate venv needed")
        return
    python = ensure_vllm_env(path)
    click.echo(str(python))


@bench.command("profile-vllm")
@_bench_options
@click.option("--raw-dir", default="data/.bench/vllm-profile", show_default=True, type=Path)
@click.option("--out", default="metrics/bench/vllm_profile.json", show_default=True, type=Path)
def bench_profile_vllm_command(
    params_path: Path,
    language: str,
    base: Path,
    adapter: Path | None,
    n_prompts: int,
    max_new_tokens: int,
    raw_dir: Path,
    out: Path,
) -> None:
    """Where vLLM's engine spends its time (py-spy samples), base model vs LoRA adapter."""
    from bootembed.bench import profile_vllm

    params = load_params(params_path)
    language, adapter, prompts = _bench_inputs(params, params_path, language, adapter, n_prompts)
    result = profile_vllm(
        base,
        prompts,
        adapter_dir=adapter,
        max_new_tokens=max_new_tokens,
        batch_size=params.synthesize.batch_size,
        out_dir=raw_dir,
    )
    result["settings"] = {"language": language, "prompts": len(prompts), "adapter": str(adapter)}
    write_json(out, result)
    for name, stats in result["targets"].items():
        logger.info(
            "%s: %.1f tokens/s; samples in vllm/lora %.1f%%, linear layers %.1f%%, sampler %.1f%%",
            name,
            stats["output_tokens_per_second"],
            100 * stats["share_in_vllm_lora_code"],
            100 * stats["share_in_linear_layers"],
            100 * stats["share_in_sampler"],
        )

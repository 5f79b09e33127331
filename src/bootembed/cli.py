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


@main.command()
@_PARAMS
@click.option("--out-dir", default="data/prepared", show_default=True, type=Path)
@click.option(
    "--metrics", "metrics_path", default="metrics/prepare.json", show_default=True, type=Path
)
def prepare(params_path: Path, out_dir: Path, metrics_path: Path) -> None:
    """Select contamination-free anchors and build the XL-LoRA SFT sets."""
    from bootembed.data.contamination import ContaminationGuard
    from bootembed.io import atomic_file, write_parquet
    from bootembed.prepare import build_anchors, build_xllora_sft

    params = load_params(params_path)
    sources = _sources(params, params_path)
    start = time.perf_counter()
    guard = ContaminationGuard.for_language(sources, params.language)
    anchors, counts = build_anchors(
        sources,
        params.language,
        anchor_source=params.prepare.anchor_source,
        max_anchors=params.prepare.max_anchors,
        seed=params.seed,
        guard=guard,
    )
    sft = build_xllora_sft(
        sources,
        num_examples=params.prepare.sft_examples,
        max_chars=params.prepare.max_sft_chars,
        seed=params.seed,
        guard=guard,
    )
    write_parquet(out_dir / "anchors.parquet", anchors)
    for polarity, examples in sft.items():
        with atomic_file(out_dir / f"sft_{polarity}.jsonl") as tmp:
            with tmp.open("w", encoding="utf-8") as handle:
                for example in examples:
                    handle.write(json.dumps(example.as_dict(), ensure_ascii=False) + "\n")
    metrics = {
        "language": params.language,
        "seed": params.seed,
        "anchors": counts,
        "sft_examples": {k: len(v) for k, v in sft.items()},
        "seconds": round(time.perf_counter() - start, 2),
    }
    write_json(metrics_path, metrics)


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


@main.command("train-generator")
@_PARAMS
@click.option("--base", default="models/base/generator", show_default=True, type=Path)
@click.option("--sft-dir", default="data/prepared", show_default=True, type=Path)
@click.option("--out-dir", default="models/generator", show_default=True, type=Path)
@click.option(
    "--metrics",
    "metrics_path",
    default="metrics/train_generator.json",
    show_default=True,
    type=Path,
)
def train_generator(
    params_path: Path, base: Path, sft_dir: Path, out_dir: Path, metrics_path: Path
) -> None:
    """Train the XL-LoRA positive and negative LoRA generators with TRL SFT (completion-only loss)."""
    from bootembed.generator_training import train_lora_adapter
    from bootembed.prompts import POLARITIES

    params = load_params(params_path)
    p = params.train_generator
    target = p.target_modules if isinstance(p.target_modules, str) else list(p.target_modules)
    metrics: dict[str, object] = {"seed": params.seed, "environment": _environment()}
    for polarity in POLARITIES:
        examples = _read_jsonl(sft_dir / f"sft_{polarity}.jsonl")
        result = train_lora_adapter(
            base,
            examples,
            out_dir / polarity,
            rank=p.rank,
            alpha=p.alpha,
            dropout=p.dropout,
            target_modules=target,
            max_steps=p.max_steps,
            learning_rate=p.learning_rate,
            batch_size=p.batch_size,
            grad_accum=p.grad_accum,
            max_length=p.max_length,
            seed=params.seed,
            bf16=p.bf16,
        )
        metrics[polarity] = {
            "steps": result.steps,
            "train_loss": round(result.train_loss, 4),
            "first_loss": round(result.losses[0], 4) if result.losses else None,
            "last_loss": round(result.losses[-1], 4) if result.losses else None,
            "examples": result.num_examples,
            "seconds": round(result.seconds, 1),
        }
    write_json(metrics_path, metrics)


@main.command()
@_PARAMS
@click.option("--base", default="models/base/generator", show_default=True, type=Path)
@click.option(
    "--adapters", "adapters_dir", default="models/generator", show_default=True, type=Path
)
@click.option("--anchors", default="data/prepared/anchors.parquet", show_default=True, type=Path)
@click.option("--out", default="data/synthetic/triplets.parquet", show_default=True, type=Path)
@click.option(
    "--work-dir",
    default="data/.synthesize-work",
    show_default=True,
    type=Path,
    help="Resumable chunk parts (kept across interruptions, removed on success).",
)
@click.option(
    "--metrics", "metrics_path", default="metrics/synthesize.json", show_default=True, type=Path
)
def synthesize(
    params_path: Path,
    base: Path,
    adapters_dir: Path,
    anchors: Path,
    out: Path,
    work_dir: Path,
    metrics_path: Path,
) -> None:
    """Generate an English positive and hard negative for every anchor with the XL-LoRA adapters (resumable)."""
    import polars as pl

    from bootembed.generation.base import SamplingConfig, make_backend
    from bootembed.io import write_parquet
    from bootembed.prompts import POLARITIES
    from bootembed.synthesize import synthesize_triplets

    params = load_params(params_path)
    s = params.synthesize
    anchor_frame = pl.read_parquet(anchors)
    adapter_dirs = {polarity: adapters_dir / polarity for polarity in POLARITIES}
    base_id = (
        read_json(base / "source.json").get("id", str(base))
        if (base / "source.json").exists()
        else str(base)
    )
    generator_id = f"{base_id}+xllora@{_dir_digest(adapters_dir)}"
    sampling = SamplingConfig(
        max_new_tokens=s.max_new_tokens,
        do_sample=s.do_sample,
        temperature=s.temperature,
        top_p=s.top_p,
        seed=params.seed,
    )
    with make_backend(
        s.backend, base, adapters=adapter_dirs, dtype=s.dtype, batch_size=s.batch_size
    ) as backend:
        triplets, stats = synthesize_triplets(
            backend,
            anchor_frame,
            work_dir=work_dir,
            sampling=sampling,
            generator_id=generator_id,
            chunk_size=s.chunk_size,
        )
    write_parquet(out, triplets)
    write_json(
        metrics_path,
        {"backend": s.backend, "generator_id": generator_id, "seed": params.seed, **stats},
    )


@main.command("filter")
@_PARAMS
@click.option("--triplets", default="data/synthetic/triplets.parquet", show_default=True, type=Path)
@click.option("--out", default="data/filtered/triplets.parquet", show_default=True, type=Path)
@click.option(
    "--metrics", "metrics_path", default="metrics/filter.json", show_default=True, type=Path
)
def filter_cmd(params_path: Path, triplets: Path, out: Path, metrics_path: Path) -> None:
    """Drop empty, unparseable, anchor-copy and duplicate triplets; count each reason."""
    import polars as pl

    from bootembed.filtering import filter_triplets
    from bootembed.io import write_parquet

    params = load_params(params_path)
    kept, counts = filter_triplets(pl.read_parquet(triplets), params.filter)
    if kept.height < 2:
        raise click.ClickException(
            f"{triplets}: only {kept.height} triplet(s) survived the filter ({counts}); need >= 2 to train"
        )
    write_parquet(out, kept)
    write_json(metrics_path, counts)


@main.command("train-encoder")
@_PARAMS
@click.option("--base", default="models/base/encoder", show_default=True, type=Path)
@click.option("--triplets", default="data/filtered/triplets.parquet", show_default=True, type=Path)
@click.option("--out", default="models/encoder", show_default=True, type=Path)
@click.option(
    "--metrics", "metrics_path", default="metrics/train_encoder.json", show_default=True, type=Path
)
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
@click.option("--base", default="models/base/encoder", show_default=True, type=Path)
@click.option("--finetuned", default="models/encoder", show_default=True, type=Path)
@click.option("--results-dir", default="results/mteb", show_default=True, type=Path)
@click.option(
    "--metrics", "metrics_path", default="metrics/eval.json", show_default=True, type=Path
)
def evaluate(
    params_path: Path, base: Path, finetuned: Path, results_dir: Path, metrics_path: Path
) -> None:
    """Evaluate the base and the fine-tuned encoder with MTEB tasks on local data."""
    from bootembed.evaluation import evaluate_encoder
    from bootembed.io import atomic_dir

    params = load_params(params_path)
    sources = _sources(params, params_path)
    e = params.evaluate
    scores: dict[str, dict[str, float]] = {}
    seconds: dict[str, float] = {}
    with atomic_dir(results_dir) as tmp:
        for name, model_dir in (("base", base), ("finetuned", finetuned)):
            start = time.perf_counter()
            scores[name] = evaluate_encoder(
                model_dir,
                sources=sources,
                lang=params.language,
                output_dir=tmp / name,
                tasks=e.tasks,
                batch_size=e.batch_size,
                limit=e.limit,
                seed=params.seed,
            )
            seconds[name] = round(time.perf_counter() - start, 1)
    delta = {
        key: round(scores["finetuned"][key] - scores["base"][key], 4)
        for key in scores["base"]
        if key in scores["finetuned"]
    }
    write_json(
        metrics_path,
        {
            "language": params.language,
            "limit": e.limit,
            "base": {k: round(v, 4) for k, v in scores["base"].items()},
            "finetuned": {k: round(v, 4) for k, v in scores["finetuned"].items()},
            "delta": delta,
            "seconds": seconds,
        },
    )


if __name__ == "__main__":
    main()

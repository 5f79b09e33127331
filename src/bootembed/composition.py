"""Compose peft LoRA adapters into one standalone adapter (the "adapter composition" strategy).

Implements the adapter-composition baseline of Basoz, Horne & Opper, "Bootstrapping Embeddings for
Low Resource Languages" (arXiv 2603.01732, Sec. 3.2), which follows AdaMergeX (Zhao et al. 2024,
arXiv 2402.18913): a *language* LoRA trained as a causal LM on target-language text and English
*task* LoRAs (premise -> entailment, premise -> contradiction) are merged with peft's
``add_weighted_adapter``. For LoRA, AdaMergeX's additive merge is::

    composed = task(English) + lambda * (language(target) - language(English reference))

i.e. ``weights = {"task": 1.0, "lang": lambda, "ref": -lambda}``.

What peft 0.21 ``LoraModel.add_weighted_adapter`` does with the weights (read from the installed
``peft/tuners/lora/model.py``), with ``s_i = lora_alpha_i / r_i`` (or ``/ sqrt(r_i)`` with rsLoRA):

* ``cat``: ``A = concat_rows(w_i * s_i * A_i)``, ``B = concat_cols(B_i)``; the new adapter has
  ``r = lora_alpha = sum_i r_i`` (scaling 1), so ``delta W = sum_i w_i * s_i * B_i @ A_i``
  exactly. The weight multiplies ``A`` only, with no square root, so negative weights are exact.
* ``linear`` (all ranks equal): ``A = sum_i sign(w_i) sqrt(|w_i s_i|) A_i`` and
  ``B = sum_i sqrt(|w_i s_i|) B_i``, so ``delta W = (sum_i ...B_i)(sum_j ...A_j)`` contains the
  cross terms ``B_i A_j``: an approximation, not a weighted sum. Negative weights are accepted
  (the sign goes on ``A`` only).
* ``svd``: ``delta = sum_i w_i * delta W_i`` exactly (negative weights fine), then a truncated SVD
  to ``max_i r_i``: exact only when the sum has that rank.

peft copies every other field of the first adapter's config into the new one. With rsLoRA that
would make the composed adapter's scaling ``sqrt(r)`` instead of 1, so the saved config sets
``use_rslora=False`` and ``lora_alpha=r`` (the scalings are already folded into the tensors).
DoRA, LoRA bias and ``modules_to_save`` adapters are rejected (peft cannot merge them).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bootembed.io import atomic_dir, write_json
from bootembed.provenance import canonical_model_files

logger = logging.getLogger(__name__)

__all__ = ["COMBINATION_TYPES", "CompositionResult", "compose_adapters"]

#: Combination types supported by :func:`compose_adapters`.
COMBINATION_TYPES: tuple[str, ...] = ("cat", "linear", "svd")

_COMPOSED = "composed"


@dataclass(frozen=True)
class CompositionResult:
    """Outcome of :func:`compose_adapters`.

    Attributes:
        out_dir: The standalone peft LoRA folder (``adapter_config.json``,
            ``adapter_model.safetensors``, ``composition.json``).
        combination_type: The requested combination type (``cat``, ``linear`` or ``svd``).
        weights: Adapter name -> weight, as given.
        rank: LoRA rank ``r`` of the composed adapter (sum of ranks for ``cat``, the common rank
            for ``linear``, the largest rank for ``svd``).
    """

    out_dir: Path
    combination_type: str
    weights: dict[str, float]
    rank: int


def _read_config(name: str, adapter_dir: Path) -> dict[str, Any]:
    path = adapter_dir / "adapter_config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: peft adapter config not found (adapter {name!r})")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(config).__name__}")
    if config.get("peft_type") != "LORA":
        raise ValueError(
            f"{path}: field 'peft_type': expected 'LORA', got {config.get('peft_type')!r}"
        )
    rank = config.get("r")
    if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
        raise ValueError(f"{path}: field 'r': expected a positive integer, got {rank!r}")
    for field in ("use_dora", "lora_bias"):
        if config.get(field):
            raise ValueError(f"{path}: field {field!r}: composition needs False, got True")
    if config.get("modules_to_save"):
        raise ValueError(
            f"{path}: field 'modules_to_save': composition needs none, "
            f"got {config['modules_to_save']!r}"
        )
    if config.get("target_parameters"):
        raise ValueError(f"{path}: field 'target_parameters': composition needs none")
    return config


def _normalise_targets(value: Any) -> Any:
    return sorted(value) if isinstance(value, list | tuple | set) else value


def _max_rank(config: Mapping[str, Any]) -> int:
    return max([int(config["r"]), *(int(r) for r in (config.get("rank_pattern") or {}).values())])


def _check_compatible(
    dirs: Mapping[str, Path], configs: Mapping[str, dict[str, Any]], combination_type: str
) -> None:
    names = list(configs)
    first = names[0]
    first_file = dirs[first] / "adapter_config.json"
    for name in names[1:]:
        path = dirs[name] / "adapter_config.json"
        for field in ("target_modules", "base_model_name_or_path", "task_type", "fan_in_fan_out"):
            mine, theirs = configs[name].get(field), configs[first].get(field)
            if field == "base_model_name_or_path" and (mine is None or theirs is None):
                continue  # not recorded (adapter saved from an in-memory model)
            if _normalise_targets(mine) != _normalise_targets(theirs):
                raise ValueError(
                    f"{path}: field {field!r} is {mine!r}, but {first_file} has {theirs!r}; "
                    "all composed adapters must share base model and target modules"
                )
    if combination_type == "linear":
        ranks = {name: _max_rank(configs[name]) for name in names}
        if len(set(ranks.values())) != 1:
            raise ValueError(
                f"combination_type 'linear' needs every adapter to have the same rank, got "
                f"{ranks} (fields 'r'/'rank_pattern'); use 'cat' (exact) or 'svd'"
            )


def compose_adapters(
    base_model_dir: str | Path,
    adapters: Mapping[str, str | Path],
    weights: Mapping[str, float],
    out_dir: str | Path,
    *,
    combination_type: str = "cat",
) -> CompositionResult:
    """Merge LoRA adapters with weights into one standalone peft LoRA adapter.

    Adapter composition of arXiv 2603.01732 (Sec. 3.2) following AdaMergeX (arXiv 2402.18913):
    for every targeted linear layer with weight ``W`` of shape ``(d_out, d_in)`` and adapter ``i``
    with ``A_i: (r_i, d_in)``, ``B_i: (d_out, r_i)`` and scaling ``s_i``, ``combination_type="cat"``
    gives exactly ``delta W = sum_i w_i * s_i * B_i @ A_i`` (rank ``sum_i r_i``; negative weights
    are exact). ``"linear"`` and ``"svd"`` are passed through to peft (see the module docstring for
    what they compute). The base model is loaded in float32 on the CPU.

    Args:
        base_model_dir: transformers folder of the base causal LM all adapters were trained on.
        adapters: Name -> peft LoRA folder (``adapter_config.json`` + weights). Names are only
            labels (recorded in ``composition.json``), any string.
        weights: Name -> weight; same keys as ``adapters``; may be negative (e.g. AdaMergeX's
            ``{"task": 1.0, "lang": lam, "ref": -lam}``).
        out_dir: Output folder, replaced atomically. Receives ``adapter_config.json``,
            ``adapter_model.safetensors`` (loadable with ``PeftModel.from_pretrained(base,
            out_dir)`` and by vLLM) and ``composition.json`` (inputs, weights, type, rank).
        combination_type: ``"cat"`` (default, exact), ``"linear"`` (same ranks only) or ``"svd"``.

    Returns:
        A :class:`CompositionResult`.

    Raises:
        ValueError: empty ``adapters``; ``weights`` keys differ from ``adapters`` keys; a
            non-finite weight; unknown ``combination_type``; ``out_dir`` is an input folder;
            adapters differ in base model / target modules / task type (message names the
            folder and field); different ranks with ``"linear"``; a non-LoRA, DoRA, LoRA-bias or
            ``modules_to_save`` adapter.
        FileNotFoundError: an adapter folder has no ``adapter_config.json``.

    Example:
        >>> compose_adapters(
        ...     "models/gemma-3-270m",
        ...     {"task": "lora/entail_en", "lang": "lora/lang_hau", "ref": "lora/lang_eng"},
        ...     {"task": 1.0, "lang": 0.7, "ref": -0.7},
        ...     "lora/entail_hau_composed",
        ... )  # doctest: +SKIP
    """
    if combination_type not in COMBINATION_TYPES:
        raise ValueError(
            f"combination_type: expected one of {list(COMBINATION_TYPES)}, got {combination_type!r}"
        )
    if not adapters:
        raise ValueError("adapters: expected at least one adapter, got none")
    if set(weights) != set(adapters):
        raise ValueError(
            f"weights: keys must equal the adapter names {sorted(adapters)}, got {sorted(weights)}"
        )
    clean_weights: dict[str, float] = {}
    for name in adapters:
        value = weights[name]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValueError(f"weights[{name!r}]: expected a finite number, got {value!r}")
        clean_weights[name] = float(value)

    out_dir = Path(out_dir)
    dirs = {name: Path(path) for name, path in adapters.items()}
    for name, path in dirs.items():
        if path.resolve() == out_dir.resolve():
            raise ValueError(f"out_dir {out_dir} is also the folder of input adapter {name!r}")
    configs = {name: _read_config(name, path) for name, path in dirs.items()}
    _check_compatible(dirs, configs, combination_type)

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    names = list(adapters)
    # peft adapter names must be valid module-dict keys, so use internal names.
    internal = {name: f"input_{i}" for i, name in enumerate(names)}
    logger.info("loading base model %s (float32, CPU)", base_model_dir)
    base = AutoModelForCausalLM.from_pretrained(str(base_model_dir), dtype=torch.float32)
    model = PeftModel.from_pretrained(base, str(dirs[names[0]]), adapter_name=internal[names[0]])
    for name in names[1:]:
        model.load_adapter(str(dirs[name]), adapter_name=internal[name])
    logger.info(
        "composing %s with %s",
        ", ".join(f"{n}={clean_weights[n]:g}" for n in names),
        combination_type,
    )
    with torch.no_grad():
        model.add_weighted_adapter(
            adapters=[internal[n] for n in names],
            weights=[clean_weights[n] for n in names],
            adapter_name=_COMPOSED,
            combination_type=combination_type,
        )
    config = model.peft_config[_COMPOSED]
    # Scalings are folded into the composed tensors; the composed adapter must scale by exactly 1.
    config.use_rslora = False
    config.lora_alpha = config.r
    config.base_model_name_or_path = str(base_model_dir)
    config.inference_mode = True
    rank = int(config.r)

    with atomic_dir(out_dir) as tmp:
        scratch = tmp / ".peft_save"
        # peft writes a non-"default" adapter to a subfolder named after it.
        model.save_pretrained(
            str(scratch), selected_adapters=[_COMPOSED], save_embedding_layers=False
        )
        saved = scratch / _COMPOSED
        for item in saved.iterdir():
            item.replace(tmp / item.name)
        shutil.rmtree(scratch)
        canonical_model_files(tmp)
        write_json(
            tmp / "composition.json",
            {
                "method": "adapter composition (arXiv 2603.01732 Sec. 3.2; AdaMergeX 2402.18913)",
                "base_model_dir": str(base_model_dir),
                "combination_type": combination_type,
                "rank": rank,
                "adapters": [
                    {
                        "name": name,
                        "path": str(dirs[name].resolve()),
                        "weight": clean_weights[name],
                        "r": configs[name]["r"],
                        "lora_alpha": configs[name].get("lora_alpha"),
                        "use_rslora": bool(configs[name].get("use_rslora")),
                    }
                    for name in names
                ],
            },
        )
    logger.info("wrote composed adapter (r=%d) to %s", rank, out_dir)
    return CompositionResult(
        out_dir=out_dir, combination_type=combination_type, weights=clean_weights, rank=rank
    )

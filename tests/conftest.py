"""Shared fixtures: the real data mirror (integration tests) and a tiny random-init causal LM (unit tests)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

_GIB = 1024**3
_disk: dict[str, object] = {}


def _free_gib() -> float:
    return shutil.disk_usage(tempfile.gettempdir()).free / _GIB


def pytest_sessionstart(session: pytest.Session) -> None:  # noqa: ARG001 - pytest hook signature
    """Record the free disk where the tests write (the temp folder) at the start."""
    free = _free_gib()
    _disk.update(start=free, least=free, least_after="(start)")


def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Track the least free disk seen after any test (a CI machine short of disk failed mid-suite)."""
    free = _free_gib()
    if free < float(_disk.get("least", float("inf"))):
        _disk.update(least=free, least_after=item.nodeid)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line: free disk at the start, the least seen (and after which test), and at the end, in GiB."""
    if "start" in _disk:
        terminalreporter.write_line(
            f"disk free in {tempfile.gettempdir()}: {_disk['start']:.1f} GiB at the start, "
            f"{_disk['least']:.1f} GiB least (after {_disk['least_after']}), {_free_gib():.1f} GiB at the end"
        )


def default_params_dict(**overrides: object) -> dict:
    """``params.yaml`` of this repository as a dict, with ``overrides`` merged in (``{"filter": {...}}``)."""
    from bootembed.config import deep_merge, read_yaml

    return deep_merge(read_yaml(REPO / "params.yaml"), overrides)


def load_default_params(**overrides: object):  # noqa: ANN201 - bootembed.config.Params
    """The validated ``params.yaml`` of this repository with ``overrides`` merged in."""
    from bootembed.config import params_from_dict

    return params_from_dict(default_params_dict(**overrides), source="params.yaml")


@pytest.fixture(scope="session")
def default_params():  # noqa: ANN201 - bootembed.config.Params
    """The validated ``params.yaml`` of this repository (the one place defaults live)."""
    return load_default_params()


def data_mirror_root() -> Path:
    """The real data mirror's folder: ``BOOTEMBED_DATA_ROOT``, default ``../shared/data`` (not checked)."""
    return Path(os.environ.get("BOOTEMBED_DATA_ROOT", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The real data mirror (``BOOTEMBED_DATA_ROOT``, default ``../shared/data``); skips if absent."""
    root = data_mirror_root()
    if not (root / "flores200").is_dir():
        pytest.skip(f"real data mirror not found at {root} (set BOOTEMBED_DATA_ROOT)")
    return root


@pytest.fixture(scope="session")
def real_sources(data_root: Path):  # noqa: ANN201 - bootembed.data.DataSources
    """``DataSources`` reading the real mirror."""
    from bootembed.data import DataSourceConfig, DataSources

    return DataSources(DataSourceConfig(mode="local", root=str(data_root)))


@pytest.fixture(scope="session")
def real_generator_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real Gemma-3-270M from the packaged GGUF, materialised once per session (about 1 GB, 1-3 min).

    ``BOOTEMBED_GEMMA_DIR`` may point at an already materialised folder to skip the work.
    """
    preset = os.environ.get("BOOTEMBED_GEMMA_DIR")
    if preset and (Path(preset) / "config.json").is_file():
        return Path(preset)
    from bootembed.config import GeneratorSourceParams
    from bootembed.models.sources import materialize_generator

    defaults = load_default_params().models.generator
    return materialize_generator(
        GeneratorSourceParams(source="gguf-package", id="", revision=defaults.revision),
        tmp_path_factory.mktemp("gemma") / "generator",
    )


_CORPUS = [
    "Write an English sentence that is entailed by the premise.",
    "Write an English sentence that contradicts the premise.",
    "Premise: the cat sits on the mat. English sentence: a cat is sitting.",
    "Premise: ruwa yana da kyau. English sentence: the water is good.",
    "A man is playing a guitar. Nobody is playing music. Children run in the park.",
]


@pytest.fixture(scope="session")
def tiny_causal_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-init Gemma-3 causal LM with a small byte-level BPE tokenizer that adds BOS.

    Returns:
        A transformers folder (config, safetensors, tokenizer), a few hundred kB.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig, PreTrainedTokenizerFast

    out = tmp_path_factory.mktemp("tiny_causal_lm")
    specials = ["<pad>", "<eos>", "<bos>", "<unk>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_CORPUS * 5, trainer=trainer)
    bos = tok.token_to_id("<bos>")
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A $B", special_tokens=[("<bos>", bos)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
    )
    torch.manual_seed(0)
    config = Gemma3TextConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=256,
        sliding_window=64,
        pad_token_id=fast.pad_token_id,
        bos_token_id=bos,
        eos_token_id=fast.eos_token_id,
    )
    Gemma3ForCausalLM(config).save_pretrained(out)
    fast.save_pretrained(out)
    return out

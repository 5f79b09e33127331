"""Provenance helpers: files that hash the same for the same model."""

from __future__ import annotations

import json
from pathlib import Path

from bootembed.provenance import canonical_model_files, dir_digest


def test_canonical_model_files_make_equal_models_equal_files(tmp_path: Path) -> None:
    """peft's set-ordered target_modules and the HF_HUB_OFFLINE-dependent local_files_only no longer reach the bytes."""

    def save(folder: Path, modules: list[str], offline: bool) -> None:
        (folder / "positive").mkdir(parents=True)
        (folder / "positive" / "adapter_config.json").write_text(
            json.dumps({"r": 8, "target_modules": modules})
        )
        (folder / "tokenizer_config.json").write_text(
            json.dumps({"model_max_length": 512, "local_files_only": offline})
        )

    save(tmp_path / "a", ["q_proj", "k_proj", "down_proj"], True)
    save(tmp_path / "b", ["down_proj", "q_proj", "k_proj"], False)
    assert dir_digest(tmp_path / "a") != dir_digest(tmp_path / "b")
    assert canonical_model_files(tmp_path / "a") == [
        "positive/adapter_config.json",
        "tokenizer_config.json",
    ]
    canonical_model_files(tmp_path / "b")
    assert dir_digest(tmp_path / "a") == dir_digest(tmp_path / "b")
    tok = json.loads((tmp_path / "a" / "tokenizer_config.json").read_text())
    assert tok == {"model_max_length": 512}
    assert canonical_model_files(tmp_path / "a") == []  # idempotent

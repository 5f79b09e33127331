"""The click layer: one-line errors naming file and field, registry-derived choices, every command reachable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from conftest import REPO, data_mirror_root, default_params_dict

from bootembed.cli import main
from bootembed.config import read_yaml


def _params(tmp_path: Path, **overrides: object) -> Path:
    import yaml

    raw = default_params_dict(**overrides)
    raw["data"]["root"] = str(data_mirror_root())
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_bad_params_end_in_one_line_naming_file_and_field(tmp_path: Path):
    path = _params(tmp_path, seed=-1)
    code, out = _invoke(
        "prepare",
        "--params",
        str(path),
        "--language",
        "hau_Latn",
        "--out-dir",
        str(tmp_path / "o"),
        "--metrics",
        str(tmp_path / "m.json"),
    )
    assert code == 1
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines == [f"Error: {path}: seed: expected a value greater than or equal to 0, got -1"]
    assert not (tmp_path / "o").exists()


def test_language_must_be_one_of_the_params_languages(tmp_path: Path):
    path = _params(tmp_path)
    code, out = _invoke(
        "prepare",
        "--params",
        str(path),
        "--language",
        "yor_Latn",
        "--out-dir",
        str(tmp_path / "o"),
        "--metrics",
        str(tmp_path / "m.json"),
    )
    assert code == 1 and "--language: 'yor_Latn' is not in" in out and "languages" in out
    code, out = _invoke(
        "prepare",
        "--params",
        str(path),
        "--language",
        "hausa",
        "--out-dir",
        str(tmp_path / "o"),
        "--metrics",
        str(tmp_path / "m.json"),
    )
    assert code == 1 and "--language: expected a FLORES-200 code" in out


def test_a_data_error_names_the_file(tmp_path: Path):
    """Issue 13, gap 7: `filter` on a Parquet without a `strategy` column fails naming the file and field."""
    path = _params(tmp_path)
    bad = tmp_path / "no_strategy.parquet"
    pl.DataFrame({"anchor": ["a"], "positive": ["b"], "negative": ["c"]}).write_parquet(bad)
    code, out = _invoke(
        "filter",
        "--params",
        str(path),
        "--language",
        "hau_Latn",
        "--triplets",
        str(bad),
        "--out",
        str(tmp_path / "o.parquet"),
        "--metrics",
        str(tmp_path / "m.json"),
    )
    assert code == 1
    assert (
        out.strip()
        == f"Error: {bad}: field 'strategy': expected synthetic triplets with a 'strategy' column"
    )


def test_verbose_shows_the_traceback(tmp_path: Path):
    path = _params(tmp_path, seed=-1)
    result = CliRunner().invoke(main, ["-v", "models", "--params", str(path)])
    assert result.exit_code == 1 and result.exception is not None  # re-raised, not a one-liner


def test_choices_come_from_the_registries():
    code, out = _invoke("synthesize", "--help")
    assert code == 0
    for name in ("icl", "composition", "xllora"):
        assert name in out


def test_every_command_reachable_through_python_m():
    """`python -m bootembed.cli bench ...` works: the __main__ guard comes after every command."""
    proc = subprocess.run(
        [sys.executable, "-m", "bootembed.cli", "bench", "synthesize", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "--run" in proc.stdout


def test_duplicate_key_in_params_is_one_line(tmp_path: Path):
    path = tmp_path / "params.yaml"
    path.write_text((REPO / "params.yaml").read_text() + "\nseed: 1\n")
    code, out = _invoke("models", "--params", str(path))
    assert code == 1 and out.count("\n") == 1 and "duplicate key" in out


@pytest.mark.parametrize("field", ["prepare", "xllora"])
def test_missing_section_is_one_line(tmp_path: Path, field: str):
    raw = read_yaml(REPO / "params.yaml")
    del raw[field]
    import yaml

    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    code, out = _invoke("models", "--params", str(path))
    assert code == 1 and out.strip() == f"Error: {path}: {field}: required field missing"

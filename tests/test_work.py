"""Resumable work folders: a manifest per output; a changed setting empties the folder and says which."""

from __future__ import annotations

import logging

from bootembed.work import MANIFEST, WorkDir


def test_same_manifest_resumes_and_changed_manifest_discards(tmp_path, caplog):
    work = WorkDir(
        "synthesize",
        "data/synthetic/hau_Latn/xllora.parquet",
        {"dtype": "float32", "n": 1},
        root=tmp_path,
    )
    assert not work.resumed and (work.path / MANIFEST).is_file()
    (work.path / "part-00000.parquet").write_bytes(b"x")
    again = WorkDir(
        "synthesize",
        "data/synthetic/hau_Latn/xllora.parquet",
        {"n": 1, "dtype": "float32"},
        root=tmp_path,
    )
    assert again.resumed and (again.path / "part-00000.parquet").is_file()
    with caplog.at_level(logging.WARNING, logger="bootembed.work"):
        changed = WorkDir(
            "synthesize",
            "data/synthetic/hau_Latn/xllora.parquet",
            {"dtype": "bfloat16", "n": 1},
            root=tmp_path,
        )
    assert not changed.resumed and changed.discarded == ["dtype"]
    assert not (changed.path / "part-00000.parquet").exists()
    assert "settings changed (dtype)" in caplog.text
    changed.remove()
    assert not tmp_path.joinpath("synthesize").exists()


def test_unreadable_manifest_is_discarded(tmp_path):
    work = WorkDir("train_encoder", "models/encoders/x", {"a": 1}, root=tmp_path)
    (work.path / MANIFEST).write_text("{broken")
    again = WorkDir("train_encoder", "models/encoders/x", {"a": 1}, root=tmp_path)
    assert not again.resumed and again.discarded == ["<no readable manifest>"]


def test_outputs_get_separate_folders(tmp_path):
    a = WorkDir("synthesize", "data/synthetic/hau_Latn/icl.parquet", {}, root=tmp_path)
    b = WorkDir("synthesize", "data/synthetic/afr_Latn/icl.parquet", {}, root=tmp_path)
    assert a.path != b.path and a.path.parent == b.path.parent

"""The filter chain (bootembed.filtering) and the filter stage: every input row kept or counted under exactly one
reason, in the declared order, on hand-written and fuzzed input; the filter report and the dropped sample."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from helpers import build_tiny_encoder, default_section, torch_threads
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_filters import MINING_WORDS, KeyedEncoder

from bootembed.data.sources import DataError
from bootembed.filtering import (
    BASIC_REASONS,
    DROPPED_SCHEMA,
    REASONS,
    dice,
    run_chain,
    variant_params,
)
from bootembed.filters.base import ABLATION_VARIANTS, FilterContext
from bootembed.text import dice as text_dice

HAU = "hau_Latn"


def _frame(rows, **extra):  # noqa: ANN001, ANN202
    frame = pl.DataFrame(
        rows,
        schema={"anchor": pl.String, "positive": pl.String, "negative": pl.String},
        orient="row",
    )
    return frame.with_columns(**extra) if extra else frame


def _context(**overrides: object) -> FilterContext:
    options: dict = {
        "language": HAU,
        "output_language": HAU,
        "encoder": KeyedEncoder(dim=8),
        "prompt": "query: ",
        "mining": default_section("mining"),
    }
    return FilterContext(**(options | overrides))


def _params(**sections: dict):  # noqa: ANN202 - FilterParams
    """``filter`` of params.yaml with some steps' fields overridden (``copying={"enabled": False}``)."""
    base = default_section("filter")
    return default_section(
        "filter", **{k: {**getattr(base, k).model_dump(), **v} for k, v in sections.items()}
    )


ANCHOR = "Yara suna wasa a filin makaranta da safe."
GOOD = (ANCHOR, "Yara suna wasa a waje.", "Babu yaro da yake wasa a yau.")
ROWS = [
    GOOD,  # 0 kept
    (ANCHOR, None, "Babu yaro da yake wasa a yau."),  # 1 unparseable
    (ANCHOR, "Yara suna wasa a waje.", "   "),  # 2 empty
    (ANCHOR, "Yara suna wasa a", "Babu yaro."),  # 3 truncated
    (
        ANCHOR,
        "yara suna wasa a filin makaranta da safe",
        "The children sleep.",
    ),  # 4 truncated first
    (
        ANCHOR,
        "Yara suna wasa a filin makaranta da safe!",
        "The children sleep.",
    ),  # 5 copy before language
    (ANCHOR, "The children are playing outside.", "No child is playing today."),  # 6 wrong_language
    GOOD,  # 7 duplicate
    (
        "Mutumin yana karanta littafi a gida.",
        "Mutum yana karatu.",
        "Mutumin yana barci a kasuwa.",
    ),  # 8 kept
]


def test_each_row_is_counted_once_under_the_first_reason() -> None:
    table = {
        ANCHOR: [1.0, 0, 0],
        GOOD[1]: [0.9, 0.2, 0],
        GOOD[2]: [0.1, 1.0, 0],
        ROWS[8][0]: [0, 0, 1.0],
        ROWS[8][1]: [0.2, 0.1, 1.0],
        ROWS[8][2]: [0, 1.0, 0.3],
    }
    frame = _frame(ROWS, anchor_id=pl.Series(range(len(ROWS)), dtype=pl.Int64))
    result = run_chain(frame, _params(), _context(encoder=KeyedEncoder(table)))
    assert result.reasons == [
        None,
        "unparseable",
        "empty",
        "truncated",
        "truncated",
        "copy_of_anchor",
        "wrong_language",
        "duplicate",
        None,
    ]
    counts = result.counts
    assert counts["input"] == 9 and counts["kept"] == 2 and counts["rows_out"] == 2
    assert counts["input"] == counts["kept"] + sum(counts[r] for r in REASONS)
    assert result.kept["anchor_id"].to_list() == [0, 8]  # extra columns survive, input order
    assert result.kept["negative_source"].to_list() == ["generated", "generated"]
    steps = {s["name"]: s for s in result.steps}
    assert list(steps) == ["readable", *(f.name for f in _registry())]
    assert steps["readable"]["dropped"] == {"unparseable": 1, "empty": 1}
    assert steps["negatives"]["enabled"] is False and steps["judge"]["enabled"] is False
    assert steps["consistency"]["rows_in"] == 2 and steps["consistency"]["dropped"] == {
        "inconsistent": 0
    }
    # a disabled step lets its rows through: without structure, row 4 is a copy, row 3 reaches duplicates
    no_structure = run_chain(frame, _params(structure={"enabled": False}), _context())
    assert no_structure.reasons[3] != "truncated"
    assert no_structure.reasons[4] == "copy_of_anchor"


def _registry():  # noqa: ANN202
    from bootembed.filters import FILTERS

    return FILTERS.ordered()


def test_consistency_drops_a_swapped_triplet_in_the_chain() -> None:
    anchor, positive, negative = ROWS[8]
    table = {anchor: [1.0, 0, 0], positive: [0.9, 0.2, 0], negative: [0.1, 1.0, 0]}
    swapped = (anchor, negative.replace("kasuwa", "gida"), positive)
    table[swapped[1]] = [0.1, 1.0, 0]
    on = _params(consistency={"enabled": True})  # off by default (params.yaml says why)
    result = run_chain(_frame([ROWS[8], swapped]), on, _context(encoder=KeyedEncoder(table)))
    assert result.reasons == [None, "inconsistent"]
    assert not _params().consistency.enabled


def test_variants() -> None:
    params = _params()
    unfiltered = variant_params(params, "unfiltered")
    assert all(not getattr(unfiltered, s.name).enabled for s in _registry())
    result = run_chain(_frame(ROWS), unfiltered, _context())
    assert result.reasons == [None, "unparseable", "empty", *[None] * 6]
    mined = variant_params(params, "mined")
    assert mined.negatives.enabled and not mined.negatives.keep_generated
    assert mined.consistency == params.consistency and mined.structure == params.structure
    with pytest.raises(ValueError, match="--variant: expected one of"):
        variant_params(params, "judged")
    assert set(ABLATION_VARIANTS) == {"unfiltered", "mined"}


def test_dropped_sample_is_seeded_and_capped() -> None:
    rows = [(ANCHOR, None, "x y.")] * 7 + [GOOD] * 5
    result = run_chain(_frame(rows), _params(consistency={"enabled": False}), _context())
    sample = result.dropped_sample(3, seed=1)
    assert sample.schema == pl.Schema(DROPPED_SCHEMA)
    assert sample["reason"].to_list() == ["unparseable"] * 3 + ["duplicate"] * 3
    assert sample["filter"].to_list() == ["readable"] * 3 + ["duplicates"] * 3
    assert sample.equals(result.dropped_sample(3, seed=1))
    assert result.dropped_sample(0, seed=1).height == 0


def test_malformed_columns_never_raise_but_missing_ones_do() -> None:
    frame = pl.DataFrame({"anchor": ["a b."], "positive": [3], "negative": [None]})
    result = run_chain(frame, _params(), _context())
    assert result.reasons == ["unparseable"] and result.kept.height == 0
    assert result.dropped_sample(5, 0)["positive"].to_list() == ["3"]
    with pytest.raises(ValueError, match=r"missing column\(s\) \['negative'\]"):
        run_chain(frame.drop("negative"), _params(), _context())


def test_dice_ignores_punctuation() -> None:
    assert dice is text_dice
    assert dice("I like water.", "I like water") == 1.0
    assert dice("Ina son ruwa!", "ina SON ruwa") == 1.0
    assert dice("a b", "c d") == 0.0


# --- fuzzed generator output ----------------------------------------------------------------------------------------

_TEXT = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.sampled_from(
        [
            "Yara suna wasa a waje.",
            "The children are playing outside.",
            "Die kinders speel buite.",
            "wani wani wani wani.",
            "   ",
            "Yara suna wasa a",
        ]
    ),
)
_ROWS = st.lists(st.tuples(_TEXT, _TEXT, _TEXT), min_size=1, max_size=12)


def _check_counts(frame: pl.DataFrame, result) -> None:  # noqa: ANN001
    counts = result.counts
    assert counts["input"] == frame.height == len(result.reasons)
    assert counts["kept"] + sum(counts[r] for r in REASONS) == counts["input"]
    assert counts["kept"] == sum(r is None for r in result.reasons)
    for reason in REASONS:
        assert counts[reason] == result.reasons.count(reason)
    assert set(result.reasons) <= {None, *REASONS}
    assert sum(sum(s["dropped"].values()) for s in result.steps) == counts["input"] - counts["kept"]
    assert result.kept.height == counts["rows_out"] >= counts["kept"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_ROWS)
def test_fuzzed_rows_are_kept_or_counted_once(rows) -> None:  # noqa: ANN001
    frame = _frame(rows)
    result = run_chain(frame, _params(), _context())
    _check_counts(frame, result)
    assert not set(result.reasons[i] for i, r in enumerate(rows) if None in r) - set(BASIC_REASONS)


@pytest.fixture(scope="module")
def tiny_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_encoder(tmp_path_factory.mktemp("tiny_enc"), ["query", ":", *MINING_WORDS])


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(rows=_ROWS)
def test_fuzzed_rows_with_mining_are_kept_or_counted_once(rows, tiny_encoder_dir: Path) -> None:  # noqa: ANN001
    frame = _frame(rows)
    params = _params(negatives={"enabled": True, "keep_generated": True})
    with torch_threads(1):
        result = run_chain(frame, params, _context(encoder=tiny_encoder_dir))
    _check_counts(frame, result)


# --- the filter stage -----------------------------------------------------------------------------------------------


def _stage_params(**filter_sections: dict):  # noqa: ANN202
    from conftest import load_default_params

    base = default_section("filter")
    sections = {k: {**getattr(base, k).model_dump(), **v} for k, v in filter_sections.items()}
    return load_default_params(filter=sections, evaluate={"dtype": "float32"})


def test_filter_stage_writes_triplets_report_and_sample(
    tmp_path: Path, tiny_encoder_dir: Path
) -> None:
    from bootembed.stages.filter import run

    frame = _frame(ROWS, strategy=pl.lit("icl"), anchor_id=pl.Series(range(len(ROWS))))
    src = tmp_path / "icl.parquet"
    frame.write_parquet(src)
    out, metrics = tmp_path / "out" / "icl.parquet", tmp_path / "m" / "icl.json"
    with torch_threads(1):
        report = run(
            _stage_params(
                consistency={"margin": -2.0}
            ),  # a random encoder: embed every row, drop none
            params_path=Path("params.yaml"),
            language=HAU,
            metrics_path=metrics,
            triplets=src,
            out=out,
            encoder=tiny_encoder_dir,
        )
    written = json.loads(metrics.read_text())
    assert written["filter"] == report["filter"]
    counts = written["filter"]
    assert counts["input"] == 9 and counts["input"] == counts["kept"] + sum(
        counts[r] for r in REASONS
    )
    assert written["variant"] == "filtered" and written["output_language"] == HAU
    assert [s["name"] for s in written["chain"]][:3] == ["readable", "structure", "copying"]
    assert written["diagnostics"]["rows"] == 9
    assert written["diagnostics_kept"]["rows"] == counts["rows_out"]
    kept = pl.read_parquet(out)
    assert kept.height == counts["rows_out"]
    dropped = pl.read_parquet(metrics.with_name("icl-dropped.parquet"))
    assert dropped.height == counts["input"] - counts["kept"]  # samples: 10 per reason, fewer here
    assert set(dropped["reason"]) == {r for r in REASONS if counts[r]}
    # the unfiltered variant keeps every readable row
    with torch_threads(1):
        unfiltered = run(
            _stage_params(),
            params_path=Path("params.yaml"),
            language=HAU,
            metrics_path=tmp_path / "u.json",
            triplets=src,
            out=tmp_path / "u.parquet",
            variant="unfiltered",
        )
    assert unfiltered["filter"]["kept"] == 7 and unfiltered["variant"] == "unfiltered"


def test_filter_stage_reports_before_failing_on_too_few_rows(tmp_path: Path) -> None:
    from bootembed.stages.filter import run

    src = tmp_path / "icl.parquet"
    _frame([ROWS[1], ROWS[2], GOOD], strategy=pl.lit("icl")).write_parquet(src)
    metrics = tmp_path / "icl.json"
    with pytest.raises(DataError, match=r">= 2 triplets surviving the filter to train on, got 1"):
        run(
            _stage_params(consistency={"enabled": False}),
            params_path=Path("params.yaml"),
            language=HAU,
            metrics_path=metrics,
            triplets=src,
            out=tmp_path / "out.parquet",
        )
    assert json.loads(metrics.read_text())["filter"]["unparseable"] == 1
    assert not (tmp_path / "out.parquet").exists()
    # a column of the wrong type: every row counted as unparseable, the report written, one clear error
    wrong = tmp_path / "wrong.parquet"
    pl.DataFrame(
        {"anchor": ["a b."] * 3, "positive": [1, 2, 3], "negative": ["c d."] * 3, "strategy": "icl"}
    ).write_parquet(wrong)
    with pytest.raises(DataError, match="got 0"):
        run(
            _stage_params(consistency={"enabled": False}),
            params_path=Path("params.yaml"),
            language=HAU,
            metrics_path=metrics,
            triplets=wrong,
            out=tmp_path / "out.parquet",
        )
    report = json.loads(metrics.read_text())
    assert report["filter"]["unparseable"] == 3 and report["diagnostics"]["rows"] == 3
    with pytest.raises(ValueError, match=r"filter\.consistency: needs the base encoder"):
        run(
            _stage_params(consistency={"enabled": True}),
            params_path=Path("params.yaml"),
            language=HAU,
            metrics_path=metrics,
            triplets=src,
            out=tmp_path / "out.parquet",
        )


def test_cli_variants_are_the_ablation_variants() -> None:
    from bootembed.cli import main

    option = next(p for p in main.commands["filter"].params if p.name == "variant")
    assert tuple(option.type.choices) == ABLATION_VARIANTS


def test_raw_generations_reach_the_structure_step() -> None:
    row = (ANCHOR, "Yara suna wasa a waje", "Babu yaro da yake wasa a yau")
    params = _params(consistency={"enabled": False})
    assert run_chain(_frame([row]), params, _context()).reasons == ["truncated"]
    raw = _frame(
        [row],
        positive_raw=pl.lit(" Yara suna wasa a waje\n"),
        negative_raw=pl.lit(" Babu yaro da yake wasa a yau\n"),
    )
    result = run_chain(raw, params, _context())
    assert result.reasons == [None]
    assert result.kept["negative_raw"].to_list() == [" Babu yaro da yake wasa a yau\n"]

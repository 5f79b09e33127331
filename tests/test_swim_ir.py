"""SWIM-IR (summarize-then-ask): FLORES-200 passages, exemplars and prompts, output parsing, query synthesis with a
scripted backend, retriever training on pairs, the three-direction retrieval task, the registry and the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from helpers import build_tiny_encoder, params_yaml, torch_threads

from bootembed.data.flores import load_flores, load_flores_urls
from bootembed.data.swim_ir import (
    MIRACL_FILE,
    XOR_FILE,
    load_crosslingual_exemplars,
    load_monolingual_exemplars,
)
from bootembed.generation.base import GenerationBackend, SamplingConfig
from bootembed.passages import (
    MIN_SENTENCES,
    article_runs,
    build_passages,
    evaluation_passages,
    split_run,
    training_passages,
)
from bootembed.query_synthesis import query_diagnostics, synthesize_queries, training_pairs
from bootembed.sap import (
    VARIANTS,
    SapPrompts,
    choose_exemplars,
    get_variant,
    parse_query,
    parse_summary,
    prompting_pairs,
)
from bootembed.text import normalize_sentence

# ----------------------------------------------------------------------------- passages


def test_passages_group_consecutive_sentences_of_one_article_and_cut_at_blocked_lines():
    urls = ["a", "a", "a", "a", "a", "b", "b", "c", "a"]
    assert article_runs(urls) == [[0, 1, 2, 3, 4], [5, 6], [7], [8]]  # "a" again later: a new run
    assert article_runs(urls, blocked={2}.__contains__) == [[0, 1], [3, 4], [5, 6], [7], [8]]
    assert split_run([0, 1, 2, 3, 4], 4) == [[0, 1, 2], [3, 4]]  # balanced, never 4 + 1
    assert split_run(list(range(10)), 4) == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert split_run([5, 6], 4) == [[5, 6]]
    target = [f"t{i}." for i in range(9)]
    english = [f"e{i}." for i in range(9)]
    frame = build_passages(
        target,
        english,
        urls,
        language="hau_Latn",
        split="dev",
        max_sentences=2,
        blocked={2}.__contains__,
    )
    assert frame["lines"].to_list() == [[0, 1], [3, 4], [5, 6], [7], [8]]
    assert (
        frame.row(1, named=True)["target"] == "t3. t4."
        and frame.row(1, named=True)["english"] == "e3. e4."
    )
    assert frame["passage_id"].to_list() == [0, 3, 5, 7, 8]
    with pytest.raises(ValueError, match="line-parallel"):
        build_passages(
            target, english[:-1], urls, language="hau_Latn", split="dev", max_sentences=2
        )


def test_training_passages_come_from_dev_and_hold_no_devtest_text(real_sources):
    """Every training passage is consecutive dev lines of one article, in both languages, and no devtest sentence
    (target or English) is in it, as a sentence or inside the passage text."""
    frame, counts = training_passages(
        real_sources, "hau_Latn", max_sentences=4, max_passages=None, seed=7
    )
    dev = {lang: load_flores(real_sources, lang, "dev") for lang in ("hau_Latn", "eng_Latn")}
    urls = load_flores_urls(real_sources, "dev")
    assert counts["passages"] == frame.height > 200 and counts["blocked_lines"] > 0
    devtest = {
        normalize_sentence(s)
        for lang in ("hau_Latn", "eng_Latn")
        for s in load_flores(real_sources, lang, "devtest")
    }
    for row in frame.iter_rows(named=True):
        lines = row["lines"]
        assert MIN_SENTENCES <= len(lines) <= 4 and lines == list(
            range(lines[0], lines[0] + len(lines))
        )
        assert {urls[i] for i in lines} == {row["url"]}
        assert row["target"] == " ".join(" ".join(dev["hau_Latn"][i].split()) for i in lines)
        for i in lines:
            assert normalize_sentence(dev["hau_Latn"][i]) not in devtest
            assert normalize_sentence(dev["eng_Latn"][i]) not in devtest
    texts = " ".join(normalize_sentence(t) for t in [*frame["target"], *frame["english"]])
    assert not [s for s in devtest if len(s) > 30 and s in texts]
    sampled, _ = training_passages(
        real_sources, "hau_Latn", max_sentences=4, max_passages=16, seed=7
    )
    assert sampled.height == 16 and set(sampled["passage_id"]) <= set(frame["passage_id"])


def test_a_dev_line_that_is_an_evaluation_sentence_never_reaches_a_passage(real_sources):
    """FLORES dev and devtest share no sentence, so plant two: a used dev line whose Hausa side and another whose
    English side count as evaluation sentences; both lines are left out and their passages split there."""
    from bootembed.data.contamination import ContaminationGuard

    real = ContaminationGuard.for_language(real_sources, "hau_Latn")
    dev = {lang: load_flores(real_sources, lang, "dev") for lang in ("hau_Latn", "eng_Latn")}
    before, counts_before = training_passages(
        real_sources, "hau_Latn", max_sentences=4, max_passages=None, seed=1, guard=real
    )
    long = [lines for lines in before["lines"].to_list() if len(lines) >= 3]
    hausa_line, english_line = long[0][1], long[1][1]  # the middle of two passages
    planted = {
        normalize_sentence(dev["hau_Latn"][hausa_line]),
        normalize_sentence(dev["eng_Latn"][english_line]),
    }
    frame, counts = training_passages(
        real_sources,
        "hau_Latn",
        max_sentences=4,
        max_passages=None,
        seed=1,
        guard=ContaminationGuard(blocked=real.blocked | planted),
    )
    used = {i for lines in frame["lines"].to_list() for i in lines}
    assert not {hausa_line, english_line} & used
    assert counts["blocked_lines"] == counts_before["blocked_lines"] + 2
    assert not any(dev["hau_Latn"][hausa_line] in text for text in frame["target"].to_list())
    assert not any(dev["eng_Latn"][english_line] in text for text in frame["english"].to_list())


def test_evaluation_passages_hold_the_query_sentence_out(real_sources):
    frame = evaluation_passages(real_sources, "hau_Latn", seed=42)
    devtest = load_flores(real_sources, "hau_Latn", "devtest")
    assert frame.height > 250 and (frame["split"] == "devtest").all()
    for row in frame.iter_rows(named=True):
        assert row["query_line"] not in row["lines"] and row["lines"]
        assert row["query_target"] == " ".join(devtest[row["query_line"]].split())
        assert row["query_target"] not in row["target"]
    assert evaluation_passages(real_sources, "hau_Latn", seed=42).equals(frame)  # seeded


# ----------------------------------------------------------------------------- exemplars and prompts


def _prompts(real_sources, variant: str, language: str, fallback: str = "english") -> SapPrompts:
    chosen = get_variant(variant)
    choice = choose_exemplars(
        chosen,
        language,
        crosslingual=load_crosslingual_exemplars(real_sources),
        monolingual=load_monolingual_exemplars(real_sources, language),
        english_monolingual=load_monolingual_exemplars(real_sources, "eng_Latn"),
        fallback=fallback,
    )
    return SapPrompts(chosen, chosen.query_language(language), choice)


def test_prompts_with_the_languages_own_exemplars(real_sources):
    """Swahili has XOR-Retrieve questions (5, cross-lingual) and MIRACL rows (3, monolingual)."""
    xor = load_crosslingual_exemplars(real_sources)
    cross = _prompts(real_sources, "crosslingual_sap", "swh_Latn")
    assert cross.choice.fallback is None and cross.choice.source == XOR_FILE
    assert [ex.language for ex in cross.choice.exemplars] == ["swh_Latn"] * 5
    prompt = cross.first("Kwanza. Pili.")
    for passage, summary, question in zip(
        xor.passages, xor.summaries, xor.queries["swh_Latn"], strict=True
    ):
        assert f"Article: {passage}\nSummary: {summary}\nQuestion in Swahili: {question}" in prompt
    assert prompt.endswith("\n\nArticle: Kwanza. Pili.\nSummary:") and prompt.count("Article:") == 6
    assert cross.second(prompt, "Kwanza.") == prompt + " Kwanza.\nQuestion in Swahili:"
    plain = _prompts(real_sources, "crosslingual_plain", "swh_Latn")
    plain_prompt = plain.first("Kwanza. Pili.")
    assert "Summary:" not in plain_prompt and plain_prompt.endswith(
        "Article: Kwanza. Pili.\nQuestion in Swahili:"
    )
    with pytest.raises(ValueError, match="no second step"):
        plain.second(plain_prompt, "x")
    mono = _prompts(real_sources, "monolingual_sap", "swh_Latn")
    assert mono.choice.source == MIRACL_FILE and mono.choice.fallback is None
    assert len(mono.choice.exemplars) == 3 and {ex.language for ex in mono.choice.exemplars} == {
        "swh_Latn"
    }
    assert all(ex.summary for ex in mono.choice.exemplars)
    # swapped: English questions for every language, no fallback needed
    swapped = _prompts(real_sources, "swapped_sap", "hau_Latn")
    assert swapped.choice.fallback is None and swapped.question_cue == "Question in English:"
    assert [ex.query for ex in swapped.choice.exemplars] == list(xor.queries["eng_Latn"])


def test_prompts_for_hausa_without_exemplars(real_sources):
    """Hausa has no exemplars: English questions (labelled English) with a Hausa instruction and cue, or zero-shot."""
    assert "hau_Latn" not in load_crosslingual_exemplars(real_sources).queries
    assert load_monolingual_exemplars(real_sources, "hau_Latn") == ()
    cross = _prompts(real_sources, "crosslingual_sap", "hau_Latn")
    assert cross.choice.fallback == "english" and len(cross.choice.exemplars) == 5
    prompt = cross.first("Ranar Litinin. Masana kimiyya.")
    assert "write one question in Hausa" in prompt and prompt.count("Question in English:") == 5
    assert prompt.count("Question in Hausa") == 0 and prompt.endswith("\nSummary:")
    assert cross.second(prompt, "Ranar Litinin.").endswith("\nQuestion in Hausa:")
    mono = _prompts(real_sources, "monolingual_plain", "hau_Latn")
    assert mono.choice.fallback == "english" and mono.choice.source == MIRACL_FILE
    assert {ex.language for ex in mono.choice.exemplars} == {"eng_Latn"} and len(
        mono.choice.exemplars
    ) == 3
    zero = _prompts(real_sources, "crosslingual_sap", "hau_Latn", fallback="zero_shot")
    assert zero.choice.as_dict()["shots"] == 0 and zero.choice.source == "none"
    assert zero.first("Ranar Litinin.").count("Article:") == 1
    with pytest.raises(ValueError, match="fallback"):
        _prompts(real_sources, "crosslingual_sap", "hau_Latn", fallback="guess")


def test_variants_and_their_languages():
    assert VARIANTS == (
        "crosslingual_sap",
        "crosslingual_plain",
        "monolingual_sap",
        "monolingual_plain",
        "swapped_sap",
        "swapped_plain",
    )
    sides = {
        name: (
            v.read_language("hau_Latn"),
            v.query_language("hau_Latn"),
            v.passage_language("hau_Latn"),
        )
        for name in VARIANTS
        for v in [get_variant(name)]
    }
    assert sides["crosslingual_sap"] == ("eng_Latn", "hau_Latn", "eng_Latn")
    assert sides["monolingual_plain"] == ("hau_Latn", "hau_Latn", "hau_Latn")
    assert sides["swapped_sap"] == ("eng_Latn", "eng_Latn", "hau_Latn")
    assert get_variant("swapped_plain").summarize is False
    with pytest.raises(ValueError, match="variant"):
        get_variant("crosslingual")


# ----------------------------------------------------------------------------- parsing

PASSAGE = "Scientists at Stanford announced a chip. It costs about one cent."


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            " Scientists announced a cheap chip.\nQuestion in Hausa: x",
            ("Scientists announced a cheap chip.", None),
        ),
        (" Summary: A chip.", ("A chip.", None)),
        (' "A chip that sorts cells."', ("A chip that sorts cells.", None)),
        (" Question in Hausa: Menene?", (None, "field_label")),
        ("Article: more text", (None, "field_label")),
        ("  \n", (None, "empty")),
        (" ...", (None, "empty")),
        ("", (None, "empty")),
    ],
)
def test_parse_summary(raw, expected):
    assert parse_summary(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" Me masana kimiyya suka sanar?\nArticle: next", ("Me masana kimiyya suka sanar?", None)),
        (" Question in Hausa: Nawa ne kudin?", ("Nawa ne kudin?", None)),
        (" «What does the chip cost?»", ("What does the chip cost?", None)),
        (" Summary: the chip", (None, "field_label")),
        (" Article: Scientists", (None, "field_label")),
        (" ?!", (None, "empty")),
        (
            " It costs about one cent",
            (None, "copy_of_passage"),
        ),  # a verbatim piece of the passage, not a question
        (" scientists at stanford ANNOUNCED a chip.", (None, "copy_of_passage")),
        (
            " It costs about one ce",
            (None, "copy_of_passage"),
        ),  # a copy cut short by the token budget
        (
            " What costs about one cent?",
            ("What costs about one cent?", None),
        ),  # asks, reusing passage words
    ],
)
def test_parse_query(raw, expected):
    assert parse_query(raw, passage=PASSAGE) == expected


# ----------------------------------------------------------------------------- query synthesis


class ScriptedBackend(GenerationBackend):
    """Answers by rule: a summary for prompts ending ``Summary:`` (a malformed one where the passage says BAD), a
    query otherwise: ``queries[k]`` for the passage that holds ``k``, else ``default``."""

    name = "scripted"

    def __init__(
        self, queries: dict[str, str] | None = None, default: str = " Wanene ya sanar?"
    ) -> None:
        super().__init__(".")
        self.queries, self.default, self.calls = dict(queries or {}), default, []

    @property
    def adapters(self) -> tuple[str, ...]:
        return ()

    def generate(self, prompts, *, adapter, sampling):  # noqa: ANN001, ANN201 - the interface's types
        self.calls.append((len(prompts), sampling.max_new_tokens))
        out = []
        for prompt in prompts:
            passage = prompt.rsplit("Article: ", 1)[1]
            if prompt.endswith("Summary:"):
                out.append(
                    " Question in Hausa: no summary here" if "BAD" in passage else " A summary."
                )
            else:
                out.append(next((a for k, a in self.queries.items() if k in passage), self.default))
        self.generated_tokens += len(out)
        return out


def _passages(n: int) -> pl.DataFrame:
    rows = [
        {
            "passage_id": 10 * i,
            "url": f"u{i}",
            "lines": [10 * i, 10 * i + 1],
            "target": f"Hausa rubutu {i}. Na biyu {i}.",
            "english": ("BAD " if i == 1 else "") + f"English text {i}. Second {i}.",
            "language": "hau_Latn",
            "split": "dev",
        }
        for i in range(n)
    ]
    return pl.DataFrame(rows)


def _zero_shot(variant: str) -> SapPrompts:
    from bootembed.sap import ExemplarChoice

    chosen = get_variant(variant)
    return SapPrompts(
        chosen, chosen.query_language("hau_Latn"), ExemplarChoice((), "none", "zero_shot")
    )


def test_synthesize_queries_counts_malformed_outputs_keeps_them_and_resumes(tmp_path):
    passages = _passages(5)
    backend = ScriptedBackend({"text 3.": " English text 3"})
    options = {
        "language": "hau_Latn",
        "summary_sampling": SamplingConfig(max_new_tokens=64),
        "query_sampling": SamplingConfig(max_new_tokens=32),
        "generator_id": "scripted+swim_ir",
        "work_dir": tmp_path / "work",
        "output": tmp_path / "out.parquet",
        "chunk_size": 2,
    }
    rows, stats, work = synthesize_queries(
        backend, passages, _zero_shot("crosslingual_sap"), **options
    )
    assert rows["passage_id"].to_list() == [0, 10, 20, 30, 40] and stats["chunks"] == 3.0
    assert rows["malformed"].to_list() == [None, "no_summary", None, "copy_of_passage", None]
    assert rows.row(1, named=True)["summary_raw"] == " Question in Hausa: no summary here"
    assert rows.row(1, named=True)["query_raw"] is None  # no query asked without a summary
    assert rows.row(3, named=True)["query_raw"] == " English text 3"  # kept for inspection
    assert (
        rows["passage"] == passages["english"]
    ).all()  # cross-lingual: trained on the English passage
    # (prompts, budget) per call: the summaries of a chunk, then the queries of the passages with a summary
    # (the first prompt of a call goes alone: it fills the prefix cache for the others)
    assert backend.calls == [
        (1, 64),
        (1, 64),
        (1, 32),
        (1, 64),
        (1, 64),
        (1, 32),
        (1, 32),
        (1, 64),
        (1, 32),
    ]
    pairs = training_pairs(rows)
    assert pairs["anchor"].to_list() == ["Wanene ya sanar?"] * 3 and pairs.height == 3
    diagnostics = query_diagnostics(rows, summarize=True)
    assert diagnostics["summary_parse_rate"] == 0.8 and diagnostics["query_parse_rate"] == 0.6
    assert (
        diagnostics["malformed_no_summary"] == 1 and diagnostics["malformed_copy_of_passage"] == 1
    )
    # a rerun resumes every finished chunk and generates nothing
    again = ScriptedBackend(default=" Other?")
    rows2, stats2, _ = synthesize_queries(
        again, passages, _zero_shot("crosslingual_sap"), **options
    )
    assert rows2.equals(rows) and stats2["chunks_resumed"] == 3.0 and again.calls == []
    work.remove()


def test_swapped_and_plain_variants_pair_queries_with_their_passage(tmp_path):
    passages = _passages(3)
    options = {
        "language": "hau_Latn",
        "summary_sampling": SamplingConfig(max_new_tokens=64),
        "query_sampling": SamplingConfig(max_new_tokens=32),
        "generator_id": "g",
        "work_dir": tmp_path / "work",
        "chunk_size": 8,
    }
    backend = ScriptedBackend(
        {"text 0.": " Who announced it?", "text 1.": " When?"}, default=" Where?"
    )
    rows, _, work = synthesize_queries(
        backend, passages, _zero_shot("swapped_plain"), output=tmp_path / "a", **options
    )
    work.remove()
    assert backend.calls == [
        (1, 32),
        (2, 32),
    ]  # plain prompting: queries only (the first prompt alone)
    assert (
        rows["summary"].null_count() == 3
        and rows["read_text"].to_list() == passages["english"].to_list()
    )
    assert (
        rows["passage"].to_list() == passages["target"].to_list()
    )  # swapped for the Hausa translation
    assert set(rows["passage_language"]) == {"hau_Latn"} and set(rows["query_language"]) == {
        "eng_Latn"
    }
    mono, _, work = synthesize_queries(
        ScriptedBackend(), passages, _zero_shot("monolingual_sap"), output=tmp_path / "b", **options
    )
    work.remove()
    assert mono["read_text"].to_list() == mono["passage"].to_list() == passages["target"].to_list()


# ----------------------------------------------------------------------------- training and evaluation

_TOPICS = [[f"t{t}w{k}" for k in range(10)] for t in range(8)]


def _topic_pairs(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    anchors, positives = [], []
    for i in range(n):
        words = list(rng.choice(_TOPICS[i % 8], size=6, replace=False))
        anchors.append(" ".join(words[:3]))
        positives.append(" ".join(words[3:]) + f" x{i % 3}")
    return pl.DataFrame({"anchor": anchors, "positive": positives})


def _in_batch_accuracy(model_dir: Path, pairs: pl.DataFrame) -> float:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    q = model.encode(pairs["anchor"].to_list(), prompt="query: ", normalize_embeddings=True)
    p = model.encode(pairs["positive"].to_list(), prompt="passage: ", normalize_embeddings=True)
    return float(np.mean((q @ p.T).argmax(axis=1) == np.arange(len(q))))


def test_retriever_trains_on_pairs_with_query_and_passage_prompts(tmp_path):
    from bootembed.encoder_training import TRAINING_LOG_NAME, document_prompt, train_encoder

    words = ["query", "passage", ":", "x0", "x1", "x2", *(w for topic in _TOPICS for w in topic)]
    base = build_tiny_encoder(
        tmp_path / "enc", words, prompts={"query": "query: ", "passage": "passage: "}
    )
    assert document_prompt(base) == "passage: "
    train, held_out = _topic_pairs(64, 0), _topic_pairs(8, 1)  # held out: one pair per topic
    with torch_threads(1):
        before = _in_batch_accuracy(base, held_out)
        result = train_encoder(
            base,
            train.with_columns(pl.lit("ignored").alias("extra")),
            tmp_path / "retriever",
            max_steps=16,
            batch_size=8,
            learning_rate=3e-3,
            prompt={"anchor": "query: ", "positive": "passage: "},
            pairs=True,
            work_root=tmp_path / "work",
        )
        after = _in_batch_accuracy(result.model_dir, held_out)
    log = json.loads((result.model_dir / TRAINING_LOG_NAME).read_text())
    assert log["hyper_parameters"]["prompt"] == {"anchor": "query: ", "positive": "passage: "}
    assert log["hyper_parameters"]["columns"] == ["anchor", "positive"]
    assert log["method"].startswith("MultipleNegativesRankingLoss (in-batch negatives)")
    assert after > before + 0.2, (before, after)
    with pytest.raises(ValueError, match="not among"):
        train_encoder(
            base, train, tmp_path / "x", max_steps=1, prompt={"negative": "q"}, pairs=True
        )


def test_swim_ir_retrieval_task_three_directions_with_per_item_data(
    real_sources, tmp_path, monkeypatch
):
    """A tiny encoder on real hau_Latn devtest passages: 9 metrics whose per-query data reproduce mteb's scores (the
    runner checks it), MRR@10 included; each distinct set of texts is encoded once."""
    from mteb.models import SentenceTransformerEncoderWrapper

    from bootembed.evaluation import evaluate_encoder

    encoded: list[tuple[str, str, int]] = []
    original = SentenceTransformerEncoderWrapper.encode

    def spy(self, inputs, *, hf_subset, prompt_type=None, **kwargs):  # noqa: ANN001, ANN202
        encoded.append((hf_subset, str(prompt_type), len(inputs.dataset)))
        return original(self, inputs, hf_subset=hf_subset, prompt_type=prompt_type, **kwargs)

    monkeypatch.setattr(SentenceTransformerEncoderWrapper, "encode", spy)
    hausa = {w.lower() for s in load_flores(real_sources, "hau_Latn", "devtest") for w in s.split()}
    words = ["query", "passage", ":", *sorted(hausa)[:3000]]
    encoder = build_tiny_encoder(
        tmp_path / "enc", words, prompts={"query": "query: ", "passage": "passage: "}, layers=1
    )
    with torch_threads(1):
        result = evaluate_encoder(
            encoder,
            sources=real_sources,
            lang="hau_Latn",
            output_dir=tmp_path / "out",
            tasks=["swim_ir_retrieval"],
            limit=60,
            seed=42,
        )
    keys = [
        f"swim_ir_{d}_{m}"
        for d in ("tgt2eng", "tgt2tgt", "eng2tgt")
        for m in ("ndcg_at_10", "recall_at_10", "mrr_at_10")
    ]
    assert list(result.scores) == keys
    assert all(len(result.items[k]["values"]) == 60 for k in keys)
    assert set(result.item_check) == set(keys) and all(
        v <= 1e-4 for v in result.item_check.values()
    )
    # MRR@10 <= recall@10 per query, and the same-language direction is the easiest for a bag of Hausa words
    for d in ("tgt2eng", "tgt2tgt", "eng2tgt"):
        mrr = np.asarray(result.items[f"swim_ir_{d}_mrr_at_10"]["values"])
        recall = np.asarray(result.items[f"swim_ir_{d}_recall_at_10"]["values"])
        assert (mrr <= recall).all()
    tgt2tgt, tgt2eng = (result.scores[f"swim_ir_{d}_recall_at_10"] for d in ("tgt2tgt", "tgt2eng"))
    assert tgt2tgt > tgt2eng, (tgt2tgt, tgt2eng)
    # 4 distinct sets (target / English queries, target / English passages), not 6: the rest come from the cache
    assert len(encoded) == 4 and sum(n for *_, n in encoded) == 4 * 60, encoded
    assert json.loads((tmp_path / "out" / "items.json").read_text())["language"] == "hau_Latn"


# ----------------------------------------------------------------------------- registry, params, report


def test_swim_ir_is_one_registry_module_with_its_own_section_and_stages():
    from conftest import default_params_dict

    from bootembed.config import ConfigError, params_from_dict
    from bootembed.strategies import STRATEGIES, baselines, synthetic

    strategy = STRATEGIES.get("swim_ir")
    assert (
        strategy.kind == "retrieval" and strategy not in synthetic() and strategy not in baselines()
    )
    assert strategy.report_names() == VARIANTS
    params = params_yaml()
    assert strategy.models(params) == params.swim_ir.variants
    assert strategy.evaluation_runs(params, "base") == ["swim_ir/base"]
    assert strategy.evaluation_runs(params, "swapped_sap") == [
        f"swim_ir/swapped_sap/seed{s}" for s in params.swim_ir.seeds
    ]
    names = [spec.name for spec in strategy.stages()]
    assert names == [
        "swim_ir_passages",
        "swim_ir_synthesize",
        "swim_ir_train",
        "swim_ir_evaluate_base",
        "swim_ir_evaluate",
        "swim_ir_report",
    ]
    report = strategy.stages()[-1]
    assert report.module == "report" and report.deps == (
        "metrics/eval/${item.language}/swim_ir",
        "results/mteb/${item.language}/swim_ir",
    )  # only SWIM-IR evaluations: `dvc repro swim_ir_report` trains no triplet encoder
    train = strategy.stages()[2]
    assert (
        "--pairs" in train.cmd
        and train.module == "train_encoder"
        and "${swim_ir.train_steps}" in train.cmd
    )
    with pytest.raises(ConfigError, match="strategies"):
        params_from_dict(
            default_params_dict(strategies=["translation", "swim_ir"]), source="p.yaml"
        )
    with pytest.raises(ConfigError, match="swim_ir.variants"):
        params_from_dict(
            default_params_dict(swim_ir={"variants": ["crosslingual"]}), source="p.yaml"
        )
    empty = params_from_dict(default_params_dict(swim_ir={"variants": []}), source="p.yaml")
    assert strategy.models(empty) == ()


def test_report_adds_swim_ir_rows_and_compares_each_model_on_its_metrics(tmp_path):
    from conftest import default_params_dict

    from bootembed.comparison import compare_language
    from bootembed.config import params_from_dict
    from bootembed.stages.report import collect_evaluations, collect_items

    params = params_from_dict(
        default_params_dict(
            strategies=["translation"],
            train_encoder={"seeds": [1]},
            swim_ir={"variants": ["crosslingual_sap"], "seeds": [1, 2]},
        ),
        source="p.yaml",
    )
    rng = np.random.default_rng(0)

    def write(rel: str, scores: dict[str, float], items: dict[str, list[float]]) -> None:
        path = tmp_path / "eval" / "hau_Latn" / f"{rel}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"scores": scores}))
        folder = tmp_path / "results" / "hau_Latn" / rel
        folder.mkdir(parents=True, exist_ok=True)
        entries = {k: {"statistic": "mean", "values": v} for k, v in items.items()}
        (folder / "items.json").write_text(json.dumps({"language": "hau_Latn", "items": entries}))

    main = {"sib200_accuracy": list(rng.integers(0, 2, 50).astype(float))}
    swim = {"swim_ir_tgt2eng_ndcg_at_10": list(rng.random(50))}
    write("base", {"sib200_accuracy": 0.5}, main)
    write("swim_ir/base", {"swim_ir_tgt2eng_ndcg_at_10": 0.4}, swim)
    write("translation/seed1", {"sib200_accuracy": 0.6}, main)
    better = {
        "swim_ir_tgt2eng_ndcg_at_10": [
            min(1.0, v + 0.3) for v in swim["swim_ir_tgt2eng_ndcg_at_10"]
        ]
    }
    for seed in (1, 2):
        write(f"swim_ir/crosslingual_sap/seed{seed}", {"swim_ir_tgt2eng_ndcg_at_10": 0.7}, better)
    evals = collect_evaluations(params, tmp_path / "eval")["hau_Latn"]
    assert evals["base"] == [{"sib200_accuracy": 0.5, "swim_ir_tgt2eng_ndcg_at_10": 0.4}]
    assert len(evals["crosslingual_sap"]) == 2 and list(evals) == [
        "base",
        "translation",
        "crosslingual_sap",
    ]
    items = collect_items(params, tmp_path / "results")["hau_Latn"]
    out = compare_language(
        items,
        kinds={"translation": "baseline", "crosslingual_sap": "synthetic"},
        resamples=1000,
        confidence=0.95,
        seed=0,
    )
    assert set(out["delta_vs_base"]["translation"]) == {"sib200_accuracy"}
    interval = out["delta_vs_base"]["crosslingual_sap"]["swim_ir_tgt2eng_ndcg_at_10"]
    assert (
        interval["low"] > 0
        and out["winners"]["swim_ir_tgt2eng_ndcg_at_10"]["model"] == "crosslingual_sap"
    )
    assert (
        out["winners"]["sib200_accuracy"]["model"] == "translation"
    )  # the triplet table is unchanged


def test_prompting_pairs_pair_sap_with_plain_in_the_same_direction():
    assert prompting_pairs(["swapped_sap", "swapped_plain"]) == [("swapped_sap", "swapped_plain")]
    assert prompting_pairs(
        [
            "swapped_plain",
            "monolingual_plain",
            "crosslingual_sap",
            "crosslingual_plain",
            "monolingual_sap",
        ]
    ) == [
        ("crosslingual_sap", "crosslingual_plain"),
        ("monolingual_sap", "monolingual_plain"),
    ]  # DIRECTIONS order; swapped has no SAP partner
    assert prompting_pairs(["crosslingual_sap", "swapped_plain"]) == []
    assert prompting_pairs([]) == []
    with pytest.raises(ValueError, match="variant"):
        prompting_pairs(["swapped"])


def test_swim_ir_report_compares_base_retrievers_and_sap_vs_plain_without_triplet_encoders(
    tmp_path,
):
    """``swim-ir-report`` (the ``swim_ir_report`` stage) reads only SWIM-IR evaluations: base vs each retriever with
    paired intervals, and SAP - plain per direction; a SAP retriever that is better on every query reads a
    significant positive difference, a copy of its plain partner none."""
    from conftest import default_params_dict

    from bootembed.config import params_from_dict
    from bootembed.data.sources import DataError
    from bootembed.stages.report import run_retrieval

    params = params_from_dict(
        default_params_dict(
            languages=["hau_Latn"],
            strategies=[
                "translation",
                "icl",
            ],  # no evaluation of theirs is written: the stage must not read one
            swim_ir={
                "variants": [
                    "swapped_sap",
                    "swapped_plain",
                    "crosslingual_sap",
                    "crosslingual_plain",
                ],
                "seeds": [1, 2],
            },
        ),
        source="p.yaml",
    )
    rng = np.random.default_rng(0)
    metric = "swim_ir_eng2tgt_ndcg_at_10"
    base_values = list(rng.random(80) * 0.6)

    def write(rel: str, values: list[float]) -> None:
        path = tmp_path / "eval" / "hau_Latn" / f"{rel}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"scores": {metric: float(np.mean(values))}}))
        folder = tmp_path / "results" / "hau_Latn" / rel
        folder.mkdir(parents=True, exist_ok=True)
        items = {metric: {"statistic": "mean", "values": values}}
        (folder / "items.json").write_text(json.dumps({"language": "hau_Latn", "items": items}))

    write("swim_ir/base", base_values)
    plain = [v + 0.1 for v in base_values]
    for seed in (1, 2):
        write(f"swim_ir/swapped_sap/seed{seed}", [v + 0.3 for v in base_values])
        write(f"swim_ir/swapped_plain/seed{seed}", plain)
        write(f"swim_ir/crosslingual_sap/seed{seed}", plain)
        write(f"swim_ir/crosslingual_plain/seed{seed}", plain)
    out, markdown = tmp_path / "report" / "hau_Latn.json", tmp_path / "report" / "hau_Latn.md"
    options = {
        "params_path": Path("p.yaml"),
        "eval_dir": tmp_path / "eval",
        "results_dir": tmp_path / "results",
        "out": out,
        "markdown": markdown,
    }
    summary = run_retrieval(params, language="hau_Latn", **options)
    assert json.loads(out.read_text()) == json.loads(json.dumps(summary))
    assert set(summary["models"]) == {
        "base",
        "swapped_sap",
        "swapped_plain",
        "crosslingual_sap",
        "crosslingual_plain",
    }
    assert summary["seeds"] == [1, 2] and summary["bootstrap"]["resamples"] >= 1000
    assert summary["intervals"]["hau_Latn"]["swapped_sap"][metric]["low"] > 0  # vs base
    pairs = summary["pairs"]["hau_Latn"]
    assert list(pairs) == ["crosslingual_sap - crosslingual_plain", "swapped_sap - swapped_plain"]
    sap = pairs["swapped_sap - swapped_plain"]["metrics"][metric]
    assert sap["delta"] == pytest.approx(0.2) and sap["significant"]
    same = pairs["crosslingual_sap - crosslingual_plain"]["metrics"][metric]
    assert same["delta"] == 0 and not same["significant"]
    text = markdown.read_text()
    assert "### Paired differences (hau_Latn)" in text and "`swapped_sap` − `swapped_plain`" in text
    with pytest.raises(ValueError, match=r"p\.yaml: languages: expected 'afr_Latn'"):
        run_retrieval(params, language="afr_Latn", **options)
    (
        tmp_path / "results" / "hau_Latn" / "swim_ir" / "swapped_plain" / "seed2" / "items.json"
    ).unlink()
    with pytest.raises(DataError, match=r"swapped_plain/seed2/items\.json"):
        run_retrieval(params, language="hau_Latn", **options)


def test_exemplar_files_have_a_pinned_official_url():
    from bootembed.data.sources import DataError, official_url

    url = official_url("swim_ir_prompts/MIRACL-prompts.csv")
    assert url.startswith(
        "https://raw.githubusercontent.com/google-research-datasets/swim-ir/653fad75"
    )
    assert url.endswith("/MIRACL-prompts.csv")
    with pytest.raises(DataError):
        official_url("swim_ir_prompts/other.csv")

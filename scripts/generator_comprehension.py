"""Does the generator understand the anchor language? A few-shot translation probe of the synthesis LLM.

``python scripts/generator_comprehension.py`` writes ``metrics/diagnostics/generator_comprehension.json``.

Every synthesis strategy (arXiv 2603.01732, Sec. 3) asks the generator for a positive and a hard negative of an
anchor written in the target language; both can only differ in meaning if the generator reads that language. This
probe measures that directly and cheaply: the base generator (``models/base/generator``, the ``models`` stage's
output) translates ``--n`` FLORES-200 ``dev`` sentences into English with ``--shots`` gold examples in the prompt
(greedy, first line of the completion), and the base encoder (``models/base/encoder``) compares each output with
the gold English sentence of the same row:

- ``cos_translation_gold`` / ``cos_translation_shuffled_gold``: mean cosine with the gold sentence of the row and
  with the gold sentence of the next row (a shuffled pairing);
- ``gold_closer_than_shuffled_share``: share of rows whose own gold sentence is the closer one (chance: 0.5);
- ``top1_retrieval_accuracy``: share of rows whose own gold sentence is the nearest of all ``n`` (chance: 1/n);
- ``source_gold_cos``: the encoder's cosine between the source sentence itself and its gold translation.

The JSON names both models by their ``source.json`` (no machine paths). A one-off diagnostic, not a DVC stage: it
reads the models the pipeline built and the configured data sources
(``data`` in ``params.yaml``). Runs from a plain checkout (``src/`` is put on the path).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from bootembed.config import load_params  # noqa: E402
from bootembed.data.flores import load_flores  # noqa: E402
from bootembed.data.sources import DataSources  # noqa: E402
from bootembed.io import write_json  # noqa: E402
from bootembed.prompts import language_name  # noqa: E402

log = logging.getLogger("generator_comprehension")

#: Control languages the pipeline's prompt table does not name.
CONTROL_NAMES = {"fra_Latn": "French", "deu_Latn": "German", "spa_Latn": "Spanish"}


def main(argv: list[str] | None = None) -> int:
    """Run the probe for every ``--languages`` code and write the JSON (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--generator", default="models/base/generator")
    parser.add_argument("--encoder", default="models/base/encoder")
    parser.add_argument("--languages", default="hau_Latn,afr_Latn,fra_Latn")
    parser.add_argument(
        "--n", type=int, default=64, help="sentences per language (FLORES dev rows 100..)"
    )
    parser.add_argument(
        "--shots", type=int, default=3, help="gold examples in the prompt (dev rows 0..)"
    )
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--out", default="metrics/diagnostics/generator_comprehension.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    params = load_params(args.params)
    sources = DataSources(params.data, base_dir=Path(args.params).resolve().parent)
    english = load_flores(sources, "eng_Latn", "dev")
    tokenizer = AutoTokenizer.from_pretrained(args.generator)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(args.generator, dtype=torch.float32).eval()
    encoder = SentenceTransformer(args.encoder, device="cpu")
    prompt = (encoder.prompts or {}).get("query") or None
    rows = list(range(100, 100 + args.n))
    shots = list(range(args.shots))
    result: dict[str, object] = {
        "generator": json.loads((Path(args.generator) / "source.json").read_text(encoding="utf-8")),
        "encoder": json.loads((Path(args.encoder) / "source.json").read_text(encoding="utf-8")),
        "settings": {
            "n": args.n,
            "shots": args.shots,
            "rows": [rows[0], rows[-1]],
            "max_new_tokens": args.max_new_tokens,
            "decoding": "greedy, first line",
            "dtype": "float32",
            "torch_threads": torch.get_num_threads(),
        },
        "languages": {},
    }
    for language in args.languages.split(","):
        source = load_flores(sources, language, "dev")
        name = CONTROL_NAMES.get(language) or language_name(language)
        head = "".join(f"{name}: {source[s]}\nEnglish: {english[s]}\n\n" for s in shots)
        prompts = [f"{head}{name}: {source[i]}\nEnglish:" for i in rows]
        outputs: list[str] = []
        start = time.perf_counter()
        for b in range(0, len(prompts), args.batch_size):
            batch = tokenizer(prompts[b : b + args.batch_size], return_tensors="pt", padding=True)
            with torch.no_grad():
                ids = model.generate(**batch, max_new_tokens=args.max_new_tokens, do_sample=False)
            texts = tokenizer.batch_decode(
                ids[:, batch["input_ids"].shape[1] :], skip_special_tokens=True
            )
            outputs += [t.strip().split("\n")[0].strip() for t in texts]
        seconds = time.perf_counter() - start

        def embed(texts: list[str]) -> torch.Tensor:
            # the encoder's own query prompt (multilingual-e5: "query: "), as the fidelity stage encodes
            return encoder.encode(
                texts, prompt=prompt, normalize_embeddings=True, convert_to_tensor=True
            )

        gold = embed([english[i] for i in rows])
        sim = embed(outputs) @ gold.T
        own = sim.diag()
        shuffled = sim[torch.arange(len(rows)), torch.roll(torch.arange(len(rows)), 1)]
        source_gold = (embed([source[i] for i in rows]) * gold).sum(dim=1)
        scores = {
            "seconds": round(seconds, 1),
            "cos_translation_gold": round(own.mean().item(), 4),
            "cos_translation_shuffled_gold": round(shuffled.mean().item(), 4),
            "gold_closer_than_shuffled_share": round((own > shuffled).float().mean().item(), 4),
            "top1_retrieval_accuracy": round(
                (sim.argmax(dim=1) == torch.arange(len(rows))).float().mean().item(), 4
            ),
            "source_gold_cos": round(source_gold.mean().item(), 4),
        }
        log.info("%s %s", language, scores)
        examples = [
            {"source": source[i], "gold": english[i], "generated": outputs[k]}
            for k, i in enumerate(rows[:5])
        ]
        result["languages"][language] = {**scores, "examples": examples}  # type: ignore[index]
    write_json(Path(args.out), result)
    return 0


if __name__ == "__main__":
    sys.exit(main())

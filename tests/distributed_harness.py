"""Run by ``tests/test_distributed_training.py`` under ``accelerate launch`` (one copy per process).

Trains an encoder and / or a LoRA generator (in that order) with the library functions the stages call, then every process saves
the trainable weights it holds (``<out>/<what>-rank<R>.pt``), so the test can check that the processes stayed in
sync and match a one-process run. ``kill_sft_after_step`` ends every process right after that step's checkpoint
is written (all of them, after a barrier), as a kill between checkpoints would.

Usage: ``accelerate launch ... tests/distributed_harness.py '<json settings>'``
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def main(settings: dict[str, Any]) -> None:
    import polars as pl
    import torch
    from transformers import TrainerCallback

    from bootembed import distributed, encoder_training, generator_training, training

    torch.set_num_threads(1)
    out = Path(settings["out"])
    rank = int(os.environ["RANK"])
    trainers: list[Any] = []

    def capture(resume: Any) -> Any:
        def wrapped(trainer: Any, checkpoint: Any) -> Any:
            trainers.append(trainer)
            return resume(trainer, checkpoint)

        return wrapped

    generator_training.resume_training = capture(generator_training.resume_training)
    training.resume_training = capture(training.resume_training)

    if "encoder" in settings:
        enc = settings["encoder"]
        triplets = pl.read_parquet(enc.pop("triplets_file"))
        encoder_training.train_encoder(triplets=triplets, **enc)
        model = trainers[-1].model
        weights = {name: p.detach().clone() for name, p in model.named_parameters()}
        torch.save(weights, out / f"encoder-rank{rank}.pt")

    if "sft" in settings:
        kill_at = settings.get("kill_sft_after_step")
        if kill_at:
            build = generator_training._build_trainer

            class _Kill(TrainerCallback):
                def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                    if state.global_step == kill_at:
                        distributed.barrier()
                        raise KeyboardInterrupt(f"killed after checkpoint-{kill_at}")

            def killing(*args: Any, **kwargs: Any) -> Any:
                trainer, tokenizer, n = build(*args, **kwargs)
                trainer.add_callback(_Kill())
                return trainer, tokenizer, n

            generator_training._build_trainer = killing
        sft = settings["sft"]
        examples = json.loads(Path(sft.pop("examples_file")).read_text())
        generator_training.train_lora_adapter(examples=examples, **sft)
        weights = {
            name: p.detach().clone()
            for name, p in trainers[-1].model.named_parameters()
            if "lora_" in name
        }
        torch.save(weights, out / f"sft-rank{rank}.pt")


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))

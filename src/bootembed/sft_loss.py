"""The completion-only causal-LM loss of generator SFT (torch only, so the GPU check script can import it).

The loss of XL-LoRA's generator training (Basoz, Horne, Opper, arXiv 2603.01732, Sec. 3; TRL ``SFTTrainer`` with
``completion_only_loss=True`` in the reference code): token cross-entropy over the completion tokens only, summed and
divided by the number of supervised tokens (``num_items``, the trainer's count over the whole accumulated and,
under several processes, gathered batch).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["IGNORE_INDEX", "completion_only_loss", "completion_only_loss_via_forward"]

IGNORE_INDEX = -100
"""Label value ignored by the cross-entropy loss (prompt and padding tokens)."""


def completion_only_loss(model: Any, inputs: Mapping[str, Any], num_items: Any = None) -> Any:
    """Causal-LM cross-entropy over the supervised (completion) tokens only.

    Runs the decoder backbone on the whole sequence but projects through the LM head only the
    positions whose next-token label is not ``IGNORE_INDEX``. With Gemma-3's 262k-token vocabulary
    this is ~3x faster on CPU than TRL 1.16's chunked fused head, which also computes metrics and a
    gradient for the frozen head (Gemma-3-270M, batch 8 x ~94 tokens, 2 cores: 23 s -> 6.8 s per
    step), and it gives the same loss value.

    Args:
        model: A causal LM (``*ForCausalLM``), optionally wrapped by peft (LoRA layers injected).
        inputs: Batch with ``input_ids`` (B, T), ``labels`` (B, T; ``-100`` = ignored) and an
            optional ``attention_mask`` (B, T).
        num_items: Number of supervised tokens to divide by (HF Trainer's ``num_items_in_batch``
            under gradient accumulation); defaults to this batch's count.

    Returns:
        Scalar loss tensor: summed token NLL (nats) / ``num_items``.
    """
    import torch
    import torch.nn.functional as F

    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    backbone = causal_lm.base_model
    hidden = backbone(
        input_ids=inputs["input_ids"], attention_mask=inputs.get("attention_mask"), use_cache=False
    ).last_hidden_state
    targets = inputs["labels"][:, 1:]
    keep = targets != IGNORE_INDEX
    logits = causal_lm.get_output_embeddings()(hidden[:, :-1][keep]).float()
    cap = getattr(causal_lm.config.get_text_config(), "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    total = F.cross_entropy(logits, targets[keep], reduction="sum")
    denom = keep.sum() if num_items is None else torch.as_tensor(num_items)
    return total / denom.to(total.device).clamp(min=1)


def completion_only_loss_via_forward(
    model: Any, inputs: Mapping[str, Any], num_items: Any = None
) -> Any:
    """The same loss as :func:`completion_only_loss`, through the model's own ``forward``.

    Under DDP or FSDP the model is wrapped, and only a call of the wrapper synchronises the gradients (DDP) or
    gathers the sharded weights (FSDP); :func:`completion_only_loss` reaches into the unwrapped backbone and would
    bypass both. This variant calls ``model(...)`` and projects every position through the LM head (logits
    ``(B, T, V)``: with Gemma-3's 262k vocabulary, 16 x 512 tokens take 8.6 GB in float32), then keeps the completion
    positions. The LM head's final-logit soft-capping is applied by the model itself.

    Args:
        model: a causal LM, possibly wrapped (DDP / FSDP / peft), returning ``logits``.
        inputs: as for :func:`completion_only_loss`.
        num_items: as for :func:`completion_only_loss`.

    Returns:
        Scalar loss tensor: summed token NLL (nats) / ``num_items``.
    """
    import torch
    import torch.nn.functional as F

    logits = model(
        input_ids=inputs["input_ids"], attention_mask=inputs.get("attention_mask"), use_cache=False
    ).logits
    targets = inputs["labels"][:, 1:]
    keep = targets != IGNORE_INDEX
    total = F.cross_entropy(logits[:, :-1][keep].float(), targets[keep], reduction="sum")
    denom = keep.sum() if num_items is None else torch.as_tensor(num_items)
    return total / denom.to(total.device).clamp(min=1)

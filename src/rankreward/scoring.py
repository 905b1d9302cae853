"""Scoring tokenized ranked prompts with a reward model, without gradients."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from rankreward.collator import RankingCollator
from rankreward.model import RewardHead
from rankreward.trainer import MODEL_INPUTS


@torch.no_grad()
def score_examples(
    model,
    examples: Sequence[dict],
    *,
    pad_token_id: int,
    reward_head: RewardHead,
    prompts_per_batch: int = 16,
) -> list[np.ndarray]:
    """Return each example's rewards, in the order of its responses."""
    collate = RankingCollator(pad_token_id)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    rewards: list[np.ndarray] = []
    try:
        for start in range(0, len(examples), prompts_per_batch):
            chunk = examples[start : start + prompts_per_batch]
            batch = collate(chunk)
            inputs = {k: batch[k].to(device) for k in MODEL_INPUTS if k in batch}
            logits = model(**inputs).logits.squeeze(-1).float()  # (N,)
            values = reward_head(logits).cpu().numpy()
            owner = batch["response_prompt"].numpy()
            for p in range(len(chunk)):
                rewards.append(values[owner == p].astype(np.float64))
    finally:
        model.train(was_training)
    return rewards

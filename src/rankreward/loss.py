"""The ranking loss over a batch of prompts, with a utility chosen per prompt.

Shapes: P prompts, N responses (all prompts together), E preference edges.

For prompt p with edges E_p and weights w, the loss is the negated mean utility

    loss_p = - sum over (i, j) in E_p of w_ij U_p(r_i - r_j) / sum of w_ij,

so that every prompt counts the same whatever its number of edges. Dividing by
a per-prompt constant leaves each prompt's optimum unchanged. The module
returns per-prompt values and the caller reduces them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from rankreward.utilities import Utility, parse_utility


@dataclass
class RankingLossOutput:
    """Per-prompt loss and diagnostics of one batch."""

    loss: torch.Tensor  # (P,) negated mean utility of each prompt's edges
    edge_margin: torch.Tensor  # (E,) r_better - r_worse, detached
    edge_correct: torch.Tensor  # (E,) bool, r_better > r_worse


class RankingLoss(nn.Module):
    """Negated mean utility of reward differences along preference edges.

    ``utilities`` is the table that the batch's ``prompt_utility`` indexes, so
    a prompt-aware run lists several and a fixed run lists one. The utility
    is applied per group of edges with a mask, never per edge in Python.
    Rewards are upcast to float32 before the differences are taken, so that
    steep utilities such as ``-1/t`` keep their range under bfloat16.

    A reversed pair under ``log`` or ``-t^(-g)`` has a slope of up to 1e12
    (the tangent continuation's). Train with gradient-norm clipping, as
    ``transformers.Trainer`` does by default (``max_grad_norm=1``): without
    it, one such gradient fills Adam's second moment and stalls training
    for thousands of steps.
    """

    def __init__(self, utilities: Sequence[str | Utility]):
        super().__init__()
        if isinstance(utilities, (str, Utility)):
            utilities = [utilities]
        if not utilities:
            raise ValueError("RankingLoss needs at least one utility")
        self.utilities = tuple(parse_utility(u) for u in utilities)

    def forward(
        self,
        rewards: torch.Tensor,  # (N,)
        edges: torch.Tensor,  # (E, 2) long, (better, worse) into rewards
        edge_prompt: torch.Tensor,  # (E,) long, prompt of each edge
        edge_weight: torch.Tensor,  # (E,) float
        prompt_utility: torch.Tensor,  # (P,) long, index into self.utilities
    ) -> RankingLossOutput:
        num_prompts = prompt_utility.shape[0]
        if num_prompts and not (
            0 <= int(prompt_utility.min())
            and int(prompt_utility.max()) < len(self.utilities)
        ):
            # An index outside the table would match no utility and add 0.
            raise ValueError(
                f"prompt_utility must index the {len(self.utilities)} utilities of the "
                f"table, got values {prompt_utility.tolist()}"
            )
        r = _upcast(rewards)
        margin = r[edges[:, 0]] - r[edges[:, 1]]  # (E,)
        edge_utility = prompt_utility[edge_prompt]  # (E,)

        # Evaluate each utility on its own edges; the loop runs over the
        # utilities of the table, not over edges.
        value = torch.zeros_like(margin)  # (E,)
        for index, utility in enumerate(self.utilities):
            mask = edge_utility == index
            if len(self.utilities) == 1:
                value = utility.torch_value(margin)
            elif bool(mask.any()):
                value = torch.where(mask, utility.torch_value(margin), value)

        weight = edge_weight.to(margin.dtype)
        total = torch.zeros(num_prompts, dtype=margin.dtype, device=margin.device)
        total = total.index_add(0, edge_prompt, weight * value)  # (P,)
        norm = torch.zeros_like(total).index_add(0, edge_prompt, weight)  # (P,)
        loss = -total / norm.clamp_min(torch.finfo(norm.dtype).tiny)
        return RankingLossOutput(
            loss=loss,
            edge_margin=margin.detach(),
            edge_correct=(margin > 0).detach(),
        )


class _UpcastWithFiniteGradient(torch.autograd.Function):
    """float32 forward; backward clamps the gradient to the input's range.

    A reversed pair's slope reaches 1e12 (the tangent continuation's), which
    float16 (largest value 65504) would turn into inf on the way back. The
    clamp keeps the gradient's sign; its size is clipped anyway by the
    Trainer's gradient-norm clipping.
    """

    @staticmethod
    def forward(ctx, rewards):
        ctx.input_dtype = rewards.dtype
        return rewards.float()

    @staticmethod
    def backward(ctx, grad):
        limit = torch.finfo(ctx.input_dtype).max
        return grad.clamp(-limit, limit).to(ctx.input_dtype)


def _upcast(rewards: torch.Tensor) -> torch.Tensor:
    # Only float16 has a smaller range than the float32 loss; bfloat16 has
    # float32's.
    if rewards.dtype == torch.float16 and rewards.requires_grad:
        return _UpcastWithFiniteGradient.apply(rewards)
    return rewards.float()

"""Free per-response rewards trained with the loss land on the solver's optimum.

This is the interpolating regime: when every reward is its own parameter, the
objective separates by prompt and each prompt's optimum is the solver's.
"""

import numpy as np
import pytest
import torch

from rankreward.loss import RankingLoss
from rankreward.solver import solve_ranking


def fit_free_rewards(table, prompt_utility, k=8, steps=3000, lr=0.05):
    # Each reward is sigmoid(theta) with its own theta, as with the model's
    # bounded head. Adam clips the gradient norm at 1, as the Trainer does by
    # default. Without the clipping, one reversed pair's slope of up to 1e12
    # fills Adam's second moment and stalls those rewards.
    num_prompts = len(prompt_utility)
    torch.manual_seed(0)
    theta = (0.1 * torch.randn(num_prompts * k, dtype=torch.float64)).requires_grad_()
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    edges = torch.tensor(
        [[p * k + i, p * k + j] for p in range(num_prompts) for i, j in pairs]
    )
    edge_prompt = torch.tensor([p for p in range(num_prompts) for _ in pairs])
    weights = torch.ones(len(edges), dtype=torch.float64)
    loss_fn = RankingLoss(table)
    optimizer = torch.optim.Adam([theta], lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        rewards = torch.sigmoid(theta)
        out = loss_fn(
            rewards, edges, edge_prompt, weights, torch.tensor(prompt_utility)
        )
        out.loss.mean().backward()
        torch.nn.utils.clip_grad_norm_([theta], 1.0)
        optimizer.step()
    return torch.sigmoid(theta).detach().numpy().reshape(num_prompts, k)


@pytest.mark.parametrize(
    "spec", ["linear", "log", "inverse", "logsigmoid:4", "power:0.5"]
)
def test_free_rewards_reach_solver_optimum(spec):
    fitted = fit_free_rewards([spec], [0, 0])
    expected = solve_ranking(spec, 8).rewards
    for row in fitted:
        np.testing.assert_allclose(row, expected, atol=5e-3)


def test_prompt_aware_free_rewards_get_their_own_optimum():
    # Prompt 0 trains with linear, prompt 1 with inverse, in one batch.
    fitted = fit_free_rewards(["linear", "inverse"], [0, 1])
    np.testing.assert_allclose(fitted[0], solve_ranking("linear", 8).rewards, atol=5e-3)
    np.testing.assert_allclose(
        fitted[1], solve_ranking("inverse", 8).rewards, atol=5e-3
    )
    # The two prompts share a ranking but not a reward distribution.
    assert np.abs(fitted[0] - fitted[1]).max() > 0.1

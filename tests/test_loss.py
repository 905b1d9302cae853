import math

import pytest
import torch

from rankreward.loss import RankingLoss
from rankreward.utilities import EXAMPLE_SPECS, parse_utility

ALL_SPECS = list(EXAMPLE_SPECS)


def batch_two_prompts():
    # Prompt 0 ranks a > b > c with rewards 0.9, 0.5, 0.1; prompt 1 ranks
    # d > e with rewards 0.8, 0.4. Rows: a, b, c, d, e.
    rewards = torch.tensor([0.9, 0.5, 0.1, 0.8, 0.4], dtype=torch.float64)
    edges = torch.tensor([[0, 1], [0, 2], [1, 2], [3, 4]])
    edge_prompt = torch.tensor([0, 0, 0, 1])
    edge_weight = torch.ones(4)
    return rewards, edges, edge_prompt, edge_weight


def test_linear_loss_by_hand():
    # Prompt 0: differences 0.4, 0.8, 0.4, mean 1.6 / 3; prompt 1: 0.4.
    rewards, edges, edge_prompt, edge_weight = batch_two_prompts()
    out = RankingLoss(["linear"])(
        rewards, edges, edge_prompt, edge_weight, torch.tensor([0, 0])
    )
    assert out.loss.tolist() == pytest.approx([-1.6 / 3, -0.4])
    assert out.edge_correct.tolist() == [True, True, True, True]


def test_per_prompt_utility_by_hand():
    # Prompt 0 uses log: -(log 0.4 + log 0.8 + log 0.4) / 3.
    # Prompt 1 uses inverse: -(-1 / 0.4) = 2.5.
    rewards, edges, edge_prompt, edge_weight = batch_two_prompts()
    loss_fn = RankingLoss(["log", "inverse"])
    out = loss_fn(rewards, edges, edge_prompt, edge_weight, torch.tensor([0, 1]))
    expected_0 = -(math.log(0.4) + math.log(0.8) + math.log(0.4)) / 3
    assert out.loss[0].item() == pytest.approx(expected_0, rel=1e-6)
    assert out.loss[1].item() == pytest.approx(2.5, rel=1e-6)


def test_edge_weights_count_repeats():
    # Edge a > b given twice: prompt 0's mean becomes (2*0.4 + 0.8 + 0.4) / 4.
    rewards, edges, edge_prompt, _ = batch_two_prompts()
    weight = torch.tensor([2.0, 1.0, 1.0, 1.0])
    out = RankingLoss(["linear"])(
        rewards, edges, edge_prompt, weight, torch.tensor([0, 0])
    )
    assert out.loss[0].item() == pytest.approx(-2.0 / 4)


def test_gradient_by_hand():
    # Linear utility, prompt 0 alone:
    # loss = -((r_a - r_b) + (r_a - r_c) + (r_b - r_c)) / 3 = -(2 r_a - 2 r_c) / 3.
    rewards, edges, edge_prompt, edge_weight = batch_two_prompts()
    rewards = rewards.clone().requires_grad_(True)
    out = RankingLoss(["linear"])(
        rewards, edges, edge_prompt, edge_weight, torch.tensor([0, 0])
    )
    out.loss[0].backward()
    assert rewards.grad.tolist() == pytest.approx([-2 / 3, 0.0, 2 / 3, 0.0, 0.0])


@pytest.mark.parametrize("spec", ALL_SPECS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_loss_and_gradient_finite_at_ties_and_reversals(spec, dtype):
    # Equal rewards (difference exactly 0) and reversed pairs (difference < 0).
    rewards = torch.tensor([0.5, 0.5, 0.2, 0.9], dtype=dtype, requires_grad=True)
    edges = torch.tensor([[0, 1], [2, 3], [0, 3]])
    out = RankingLoss([spec])(
        rewards, edges, torch.tensor([0, 0, 0]), torch.ones(3), torch.tensor([0])
    )
    out.loss.sum().backward()
    assert torch.isfinite(out.loss).all()
    assert torch.isfinite(rewards.grad.float()).all()


def test_loss_matches_utility_value():
    for spec in ALL_SPECS:
        utility = parse_utility(spec)
        rewards = torch.tensor([0.7, 0.3], dtype=torch.float64)
        out = RankingLoss([spec])(
            rewards,
            torch.tensor([[0, 1]]),
            torch.tensor([0]),
            torch.ones(1),
            torch.tensor([0]),
        )
        assert out.loss.item() == pytest.approx(-float(utility.value(0.4)), rel=1e-6)


def test_empty_utility_table_rejected():
    with pytest.raises(ValueError, match="at least one utility"):
        RankingLoss([])


def test_single_spec_string_accepted():
    assert RankingLoss("linear").utilities == RankingLoss(["linear"]).utilities


def test_out_of_range_utility_index_rejected():
    rewards, edges, edge_prompt, edge_weight = batch_two_prompts()
    with pytest.raises(ValueError, match="must index the 2 utilities"):
        RankingLoss(["log", "linear"])(
            rewards, edges, edge_prompt, edge_weight, torch.tensor([0, 5])
        )

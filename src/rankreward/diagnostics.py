"""Collapse diagnostics for the rewards a model gives held-out rankings.

Rewards come per prompt, best response first. A profile is a group's mean
reward at each rank position, listed worst to best (index 1 is the worst
response), which is how the reward-collapse figures are drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class GroupProfile:
    """Rewards of one group of prompts, each row worst to best."""

    rewards: np.ndarray  # (prompts, K)

    @property
    def mean(self) -> np.ndarray:
        return self.rewards.mean(axis=0)

    def band(
        self, lower: float = 10.0, upper: float = 90.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Percentile band of the rewards at each rank position."""
        return (
            np.percentile(self.rewards, lower, axis=0),
            np.percentile(self.rewards, upper, axis=0),
        )


def group_profiles(
    rewards_best_first: Sequence[np.ndarray], groups: Sequence[str]
) -> dict[str, GroupProfile]:
    """Stack each group's rewards, worst to best; groups must share one K."""
    if len(rewards_best_first) != len(groups):
        raise ValueError(
            f"got {len(rewards_best_first)} reward vectors for "
            f"{len(groups)} group labels"
        )
    by_group: dict[str, list[np.ndarray]] = {}
    for rewards, group in zip(rewards_best_first, groups, strict=True):
        by_group.setdefault(group, []).append(
            np.asarray(rewards, dtype=np.float64)[::-1]
        )
    profiles = {}
    for group, rows in sorted(by_group.items()):
        sizes = {len(r) for r in rows}
        if len(sizes) != 1:
            raise ValueError(
                f"group {group!r} mixes prompts with {sorted(sizes)} responses; "
                "a profile needs one number of responses per group"
            )
        profiles[group] = GroupProfile(np.vstack(rows))
    return profiles


def between_group_w1(
    profiles: Mapping[str, GroupProfile], first: str, second: str
) -> float:
    """1-Wasserstein distance between two groups' pooled rewards."""
    return float(
        stats.wasserstein_distance(
            profiles[first].rewards.ravel(), profiles[second].rewards.ravel()
        )
    )


def prediction_mae(profile: np.ndarray, prediction_worst_first: np.ndarray) -> float:
    """Mean absolute gap between a mean profile and the solver's prediction."""
    return float(
        np.mean(np.abs(np.asarray(profile) - np.asarray(prediction_worst_first)))
    )


def pairwise_accuracy(
    rewards_best_first: Sequence[np.ndarray], edges: Sequence[Sequence[Sequence[int]]]
) -> float:
    """Fraction of preference edges whose better response gets a strictly higher reward.

    A tie counts as wrong, so a model whose optimum ties responses (the linear
    utility's) scores below 1 even at that optimum.
    """
    correct = 0
    total = 0
    for rewards, prompt_edges in zip(rewards_best_first, edges, strict=True):
        e = np.asarray(prompt_edges, dtype=np.int64).reshape(-1, 2)
        correct += int(np.sum(rewards[e[:, 0]] > rewards[e[:, 1]]))
        total += len(e)
    return correct / total if total else float("nan")


def mean_kendall_tau(rewards_best_first: Sequence[np.ndarray]) -> float:
    """Mean Kendall tau-b between each prompt's rewards and its full ranking."""
    taus = []
    for rewards in rewards_best_first:
        rank_score = -np.arange(len(rewards))  # best first: higher is better
        tau = stats.kendalltau(rank_score, rewards).statistic
        # All rewards equal leave tau undefined; that prompt counts as 0.
        taus.append(float(tau) if np.isfinite(tau) else 0.0)
    return float(np.mean(taus)) if taus else float("nan")

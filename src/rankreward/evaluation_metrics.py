"""Metrics of a reward model on held-out preference graphs.

Each prompt has n responses, raw scores s (the model's logits), rewards r in
[0, 1] (the scores under a reward map) and weighted preference edges
(better, worse). The metrics:

- **Pairwise accuracy**: ``sum_e w_e c_e / sum_e w_e`` over every edge of
  every prompt, where ``c_e`` is 1 when the better response scores higher,
  1/2 on a tie and 0 otherwise.
- **Kendall's tau** per prompt. When the edges are exactly the pairs that a
  ranking with ties orders (full rankings, and the edges of scores or ranks),
  it is Kendall's tau-b between that ranking and the scores, as
  ``scipy.stats.kendalltau`` computes it. For any other graph (pairwise rows
  that do not compare every pair, contradicting edges) it is
  ``sum_e w_e sign(s_better - s_worse) / sum_e w_e``, which is ``2 * accuracy
  - 1`` for that prompt. Both are 1 when the scores agree with every edge and
  -1 when they reverse every edge. On a full ranking with no tied scores the
  two definitions give the same number. A prompt whose scores are all equal
  has no tau-b and counts as 0, which is the edge definition's value too.
- **Profiles**: for the prompts of one group with one number of responses,
  the mean and the 10th and 90th percentiles of the k-th smallest reward,
  k = 1..n.
- **Between-group W1**: the 1-Wasserstein distance between the pooled
  rewards of two groups (``scipy.stats.wasserstein_distance``). Near 0 means
  both groups got the same reward distribution, which is reward collapse.
- **Distance to the solver's prediction** per prompt: the mean absolute
  difference between the sorted rewards and the sorted optimum of that
  prompt's graph under its utility (``rankreward.solver.solve_graph``).

Accuracy and tau use the raw scores. Every reward map keeps their order, but
a sigmoid can round distinct large scores to the same float.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from rankreward.diagnostics import GroupProfile
from rankreward.solver import SolverConvergenceWarning, solve_graph

TAU_B = "tau-b"
TAU_EDGES = "edges"
TAU_QUANTILES = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)
TAU_BINS = 10


@dataclass(frozen=True)
class PromptResult:
    """One prompt's scores, rewards and metrics.

    ``optimum`` is the solver's optimum in the order of the responses, or
    ``None`` when the prompt has no utility.
    """

    group: str
    edges: np.ndarray  # (E, 2) local (better, worse) indices
    weights: np.ndarray  # (E,)
    scores: np.ndarray  # (n,) raw
    rewards: np.ndarray  # (n,) in [0, 1]
    accuracy: float
    kendall_tau: float
    tau_definition: str
    utility: str | None = None
    optimum: np.ndarray | None = None
    optimum_converged: bool = True

    @property
    def prediction_mae(self) -> float | None:
        if self.optimum is None:
            return None
        return float(np.mean(np.abs(np.sort(self.rewards) - np.sort(self.optimum))))


def edge_credit(scores: np.ndarray, edges: np.ndarray, weights: np.ndarray) -> float:
    """Return ``sum_e w_e c_e``: weight 1 per agreeing edge, 1/2 per tie."""
    better, worse = scores[edges[:, 0]], scores[edges[:, 1]]
    credit = (better > worse) + 0.5 * (better == worse)
    return float(np.sum(weights * credit))


def weak_order_levels(n: int, edges: np.ndarray) -> np.ndarray | None:
    """Return a level per response if the edges are a ranking with ties, else None.

    The edges are such a ranking when they are exactly the pairs (i, j) with
    ``level[i] > level[j]``. If they are, the number of responses that each
    response beats is one valid level, so that count is built and checked.
    """
    beats = np.zeros((n, n), dtype=bool)
    beats[edges[:, 0], edges[:, 1]] = True
    levels = beats.sum(axis=1)
    ordered = levels[:, None] > levels[None, :]
    return levels if np.array_equal(beats, ordered) else None


def kendall_tau(
    scores: np.ndarray, edges: np.ndarray, weights: np.ndarray
) -> tuple[float, str]:
    """Return a prompt's Kendall's tau and which definition applied (module doc)."""
    levels = weak_order_levels(len(scores), edges)
    if levels is not None:
        tau = stats.kendalltau(levels, scores).statistic
        return (float(tau) if np.isfinite(tau) else 0.0), TAU_B
    signs = np.sign(scores[edges[:, 0]] - scores[edges[:, 1]])
    return float(np.sum(weights * signs) / np.sum(weights)), TAU_EDGES


class SolverCache:
    """Solver optima by (utility, n, edges, weights), since prompts share graphs."""

    def __init__(self):
        self._results: dict = {}

    def optimum(self, utility: str, n: int, edges: np.ndarray, weights: np.ndarray):
        """Return ``(rewards, converged)`` of the graph's optimum."""
        key = (utility, n, edges.tobytes(), weights.tobytes())
        if key not in self._results:
            with warnings.catch_warnings():
                # Counted per prompt and reported, instead of one warning each.
                warnings.simplefilter("ignore", SolverConvergenceWarning)
                result = solve_graph(utility, n, edges, weights)
            self._results[key] = (np.asarray(result.rewards), bool(result.converged))
        return self._results[key]


def evaluate_prompt(
    group: str,
    edges: Sequence[Sequence[int]],
    weights: Sequence[float],
    scores: np.ndarray,
    rewards: np.ndarray,
    utility: str | None,
    solver: SolverCache,
) -> PromptResult:
    """Compute one prompt's accuracy, tau and, given a utility, its optimum."""
    edge_array = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    weight_array = np.asarray(weights, dtype=np.float64)
    tau, definition = kendall_tau(scores, edge_array, weight_array)
    optimum, converged = None, True
    if utility is not None:
        optimum, converged = solver.optimum(
            utility, len(scores), edge_array, weight_array
        )
    return PromptResult(
        group=group,
        edges=edge_array,
        weights=weight_array,
        scores=scores,
        rewards=rewards,
        accuracy=edge_credit(scores, edge_array, weight_array) / weight_array.sum(),
        kendall_tau=tau,
        tau_definition=definition,
        utility=utility,
        optimum=optimum,
        optimum_converged=converged,
    )


def accuracy_summary(results: Sequence[PromptResult]) -> dict:
    """Pairwise accuracy over all edges, weighted, ties counted as half."""
    credit = sum(edge_credit(r.scores, r.edges, r.weights) for r in results)
    weight = sum(float(r.weights.sum()) for r in results)
    tied = sum(
        float(np.sum(r.weights[r.scores[r.edges[:, 0]] == r.scores[r.edges[:, 1]]]))
        for r in results
    )
    return {
        "value": credit / weight,
        "edges": sum(len(r.edges) for r in results),
        "comparisons": weight,
        "tied_comparisons": tied,
    }


def tau_summary(results: Sequence[PromptResult]) -> dict:
    """Summarise the per-prompt taus: their mean, quantiles and histogram."""
    taus = np.array([r.kendall_tau for r in results])
    counts, bin_edges = np.histogram(taus, bins=TAU_BINS, range=(-1.0, 1.0))
    definitions = {TAU_B: 0, TAU_EDGES: 0}
    for result in results:
        definitions[result.tau_definition] += 1
    return {
        "mean": float(taus.mean()),
        "prompts": len(taus),
        "definitions": definitions,
        "quantiles": {f"{q:g}": float(np.quantile(taus, q)) for q in TAU_QUANTILES},
        "histogram": {
            "bin_edges": [round(float(e), 6) for e in bin_edges],
            "counts": [int(c) for c in counts],
        },
    }


def profiles(results: Sequence[PromptResult]) -> dict[tuple[str, int], dict]:
    """Profiles by (group, number of responses), in sorted key order.

    Each value has the ``GroupProfile`` of the sorted rewards and the mean
    sorted optimum of the prompts that have one (``None`` if none has).
    """
    by_key: dict[tuple[str, int], list[PromptResult]] = {}
    for result in results:
        by_key.setdefault((result.group, len(result.rewards)), []).append(result)
    built = {}
    for key in sorted(by_key):
        members = by_key[key]
        rows = np.vstack([np.sort(r.rewards) for r in members])  # (prompts, n)
        optima = [np.sort(r.optimum) for r in members if r.optimum is not None]
        built[key] = {
            "profile": GroupProfile(rows),
            "prediction": np.mean(optima, axis=0) if optima else None,
        }
    return built


def between_group_w1(results: Sequence[PromptResult]) -> dict:
    """W1 between every two groups: within each size, and pooled over sizes.

    ``max_same_size`` is the largest distance between two groups' profiles
    of one size, or ``None`` when no size has prompts of two groups.
    """
    pooled_rewards: dict[str, list[np.ndarray]] = {}
    sized: dict[int, dict[str, list[np.ndarray]]] = {}
    for result in results:
        pooled_rewards.setdefault(result.group, []).append(result.rewards)
        by_group = sized.setdefault(len(result.rewards), {})
        by_group.setdefault(result.group, []).append(result.rewards)

    pooled = [
        {
            "groups": [first, second],
            "w1": _w1(pooled_rewards[first], pooled_rewards[second]),
        }
        for first, second in itertools.combinations(sorted(pooled_rewards), 2)
    ]
    by_size = [
        {
            "responses": n,
            "groups": [first, second],
            "w1": _w1(sized[n][first], sized[n][second]),
        }
        for n in sorted(sized)
        for first, second in itertools.combinations(sorted(sized[n]), 2)
    ]
    return {
        "max_same_size": max((p["w1"] for p in by_size), default=None),
        "by_size": by_size,
        "pooled": pooled,
    }


def _w1(first: list[np.ndarray], second: list[np.ndarray]) -> float:
    return float(
        stats.wasserstein_distance(np.concatenate(first), np.concatenate(second))
    )


def prediction_summary(results: Sequence[PromptResult]) -> dict | None:
    """Mean distance to the solver's prediction, overall and per group."""
    predicted = [r for r in results if r.optimum is not None]
    if not predicted:
        return None
    by_group: dict[str, list[float]] = {}
    utilities: dict[str, int] = {}
    for result in predicted:
        by_group.setdefault(result.group, []).append(result.prediction_mae)
        utilities[result.utility] = utilities.get(result.utility, 0) + 1
    return {
        "mean_mae": float(np.mean([r.prediction_mae for r in predicted])),
        "prompts": len(predicted),
        "prompts_without_utility": len(results) - len(predicted),
        "not_converged": sum(not r.optimum_converged for r in predicted),
        "utilities": dict(sorted(utilities.items())),
        "by_group": {
            group: {"mae": float(np.mean(values)), "prompts": len(values)}
            for group, values in sorted(by_group.items())
        },
    }

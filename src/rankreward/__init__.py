"""rankreward: reward models from ranked preferences, and reward collapse.

Song, Cai, Lee and Su, "Reward Collapse in Aligning Large Language Models"
(arXiv:2305.17608) show that a ranking objective in the interpolating regime
gives every prompt with the same comparison structure the same reward
distribution. This package trains reward models with any concave ranking
utility, predicts the distribution an objective produces, and measures and
prevents collapse with prompt-aware utilities.
"""

from rankreward.loss import RankingLoss, RankingLossOutput
from rankreward.solver import (
    SolverConvergenceWarning,
    SolverResult,
    solve_graph,
    solve_ranking,
)
from rankreward.utilities import Utility, UtilitySpecError, parse_utility

__version__ = "0.1.0"

__all__ = [
    "RankingLoss",
    "RankingLossOutput",
    "SolverConvergenceWarning",
    "SolverResult",
    "Utility",
    "UtilitySpecError",
    "parse_utility",
    "solve_graph",
    "solve_ranking",
]

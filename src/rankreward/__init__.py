"""rankreward: reward models from ranked preferences, and reward collapse.

Song, Cai, Lee and Su, "Reward Collapse in Aligning Large Language Models"
(arXiv:2305.17608) show that a ranking objective in the interpolating regime
gives every prompt with the same comparison structure the same reward
distribution. This package trains reward models with any concave ranking
utility, predicts the distribution an objective produces, and measures and
prevents collapse with prompt-aware utilities.
"""

from rankreward.solver import (
    SolverConvergenceWarning,
    SolverResult,
    solve_graph,
    solve_ranking,
)
from rankreward.utilities import Utility, UtilitySpecError, parse_utility

__version__ = "0.1.0"


def __getattr__(name: str):
    # The loss needs torch, which takes about a second to import. Loading it
    # on first use keeps the solver and the command line quick to start.
    if name in ("RankingLoss", "RankingLossOutput"):
        from rankreward import loss

        return getattr(loss, name)
    raise AttributeError(f"module 'rankreward' has no attribute {name!r}")


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

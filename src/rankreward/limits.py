"""The large-n law of a full ranking's optimal rewards, per utility.

As the number of ranked responses n grows, the empirical distribution of the
optimal rewards converges to the law mu on [0, 1] that maximises
E U(|X - X'|) for independent X, X' drawn from mu. The closed forms below are
the equilibrium measures of one-dimensional Riesz energies (Song, Cai, Lee
and Su, arXiv:2305.17608):

- ``power:g`` (0 < g < 1): Beta((1 - g)/2, (1 - g)/2);
- ``log``: Beta(1/2, 1/2), the arcsine law;
- ``inverse-power:g`` with 0 < g < 1: Beta((1 + g)/2, (1 + g)/2);
- ``inverse-power:g`` with g >= 1 (``inverse`` included): uniform on [0, 1];
- ``linear``: mass 1/2 at 0 and 1/2 at 1.

``logsigmoid:S`` has no closed form. Its law is the empirical distribution of
the solver's optimum at a large n, labelled as numerical.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from rankreward.utilities import (
    InversePower,
    Linear,
    Log,
    LogSigmoid,
    Power,
    parse_utility,
)

# The n at which the numerical law of a utility without a closed form is taken.
NUMERICAL_LIMIT_N = 1000


@dataclass(frozen=True)
class LimitLaw:
    """A limiting reward law: a frozen scipy.stats distribution and its name."""

    distribution: object  # frozen scipy.stats distribution
    family: str  # "beta", "uniform", "two-point" or "empirical"
    parameters: dict
    numerical: bool  # True when taken from the solver, not a closed form

    def describe(self) -> str:
        params = ", ".join(f"{k}={v:g}" for k, v in self.parameters.items())
        origin = "numerical" if self.numerical else "closed form"
        return f"{self.family}({params}), {origin}"


def limit_law(utility) -> LimitLaw:
    """Return the large-n law of the optimal rewards of a full ranking."""
    utility = parse_utility(utility)
    law = closed_form_law(utility)
    if law is not None:
        return law
    if isinstance(utility, LogSigmoid):
        return _numerical(utility)
    raise TypeError(f"no limit law is known for utility {utility.spec!r}")


def closed_form_law(utility) -> LimitLaw | None:
    """Return the closed-form large-n law, or None where none is known."""
    family = closed_form_family(parse_utility(utility))
    if family is None:
        return None
    name, a = family
    if name == "two-point":
        two_point = stats.rv_discrete(values=([0.0, 1.0], [0.5, 0.5]), name="two-point")
        return LimitLaw(two_point, "two-point", {"p0": 0.5, "p1": 0.5}, False)
    if name == "uniform":
        uniform = stats.uniform(0.0, 1.0)
        return LimitLaw(uniform, "uniform", {"low": 0, "high": 1}, False)
    return LimitLaw(stats.beta(a, a), "beta", {"a": a, "b": a}, False)


def closed_form_quantiles(utility, positions: np.ndarray) -> np.ndarray | None:
    """Return the closed-form law's quantiles at ``positions``, or None.

    The same law as ``closed_form_law``, without building a scipy.stats
    object, which costs more than a small solve.
    """
    family = closed_form_family(parse_utility(utility))
    if family is None:
        return None
    name, a = family
    positions = np.asarray(positions, dtype=np.float64)
    if name == "two-point":
        return np.where(positions > 0.5, 1.0, 0.0)
    if name == "uniform":
        return positions.copy()
    return special.betaincinv(a, a, positions)


def closed_form_family(utility) -> tuple[str, float | None] | None:
    """Return the closed-form law's family and its a for Beta(a, a), or None."""
    if isinstance(utility, Linear):
        return "two-point", None
    if isinstance(utility, Log):
        return "beta", 0.5
    if isinstance(utility, Power):
        return "beta", (1.0 - utility.exponent) / 2.0
    if isinstance(utility, InversePower):
        if utility.exponent >= 1.0:
            return "uniform", None
        return "beta", (1.0 + utility.exponent) / 2.0
    return None


def limit_distribution(utility):
    """Return the large-n law as a frozen ``scipy.stats`` distribution."""
    return limit_law(utility).distribution


def _numerical(utility) -> LimitLaw:
    from rankreward.solver import solve_ranking

    rewards = np.sort(solve_ranking(utility, NUMERICAL_LIMIT_N).rewards)
    # Equal masses on the solver's rewards; ties at the bounds keep their
    # share of the mass as atoms.
    values, counts = np.unique(rewards, return_counts=True)
    law = stats.rv_discrete(values=(values, counts / counts.sum()), name="empirical")
    return LimitLaw(law, "empirical", {"n": NUMERICAL_LIMIT_N}, True)

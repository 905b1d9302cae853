"""The optimal reward vector of one prompt in the interpolating regime.

For a utility U and preference edges E over n responses, with weights w, the
solver finds

    r* = argmax over r in [0, 1]^n of  f(r) = sum over (i, j) in E of w_ij U(r_i - r_j).

This is the reward vector that a model able to fit any values gives every
prompt with that comparison structure (Song, Cai, Lee and Su, "Reward Collapse
in Aligning Large Language Models", arXiv:2305.17608).

f is concave, so a point that meets the box-constrained KKT conditions is a
global maximum. The method is projected Newton (Bertsekas, 1982): variables at
a bound whose gradient points outwards stay fixed, the others take a Newton
step on the reduced Hessian, and a backtracking search along the projected arc
keeps the step ascending. The Hessian is a negated weighted graph Laplacian.
It is singular along the all-ones direction because f ignores a common shift,
and a tiny ridge term settles that direction. For the linear utility the
Hessian is zero and the first step lands on the bounds, which is exact.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from rankreward.solver_problems import DenseGraphProblem, SymmetricRankingProblem
from rankreward.utilities import parse_utility


class SolverConvergenceWarning(RuntimeWarning):
    """The solver stopped before its KKT residual reached the tolerance."""


@dataclass(frozen=True)
class SolverResult:
    """The optimum of one preference structure.

    ``rewards`` are in the order of the responses given (best first for a
    full ranking). ``residual`` is the largest entry of the projected gradient
    ``|r - clip(r + grad f(r) / s, 0, 1)|``, zero exactly at a KKT point, where
    ``s`` is the largest sum of absolute slope terms of one response, so the
    residual is free of f's units.
    """

    rewards: np.ndarray
    objective: float
    converged: bool
    iterations: int
    residual: float
    utility: str


def full_ranking_weights(n: int) -> np.ndarray:
    """Dense edge weights of a full ranking of n responses listed best first.

    ``W[i, j] = 1`` when response i is preferred to response j (i < j).
    """
    _check_n(n)
    return np.triu(np.ones((n, n)), k=1)


def edges_to_weights(n: int, edges, weights=None) -> np.ndarray:
    """Dense weights from ``(better, worse)`` index pairs; repeats add up."""
    _check_n(n)
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if edges.size and (edges.min() < 0 or edges.max() >= n):
        bad = edges[(edges < 0).any(axis=1) | (edges >= n).any(axis=1)][0]
        raise ValueError(
            f"edge {bad.tolist()} names a response outside 0..{n - 1}; "
            f"indices are 0-based and must be below n={n}"
        )
    if (edges[:, 0] == edges[:, 1]).any():
        bad = edges[edges[:, 0] == edges[:, 1]][0]
        raise ValueError(f"edge {bad.tolist()} is a self loop; remove it")
    w = np.ones(len(edges)) if weights is None else np.asarray(weights, float)
    if w.shape != (len(edges),) or not np.all(np.isfinite(w)) or (w < 0).any():
        raise ValueError("edge weights must be finite, non-negative, one per edge")
    W = np.zeros((n, n))
    np.add.at(W, (edges[:, 0], edges[:, 1]), w)
    return W


def solve_ranking(utility, n: int, **options) -> SolverResult:
    """Solve a full ranking of n responses; rewards come back best first.

    This path uses the ranking's mirror symmetry (the k-th best and the k-th
    worst rewards add up to 1), so it solves for the better half only, and
    starts from the quantiles of the utility's large-n law where one is
    known in closed form.
    """
    _check_n(n)
    utility = parse_utility(utility)
    problem = SymmetricRankingProblem(utility, n)
    return _finish(utility, n, problem, _maximize(problem, problem.start(), **options))


def solve_graph(utility, n: int, edges, weights=None, **options) -> SolverResult:
    """Solve any preference graph given as ``(better, worse)`` index pairs.

    NOTE: under ``power:G`` a start with level or reversed edges can stall
    on the tangent line, where the curvature is 0. The result then has
    ``converged=False`` and a ``SolverConvergenceWarning``.
    """
    return solve_weights(utility, edges_to_weights(n, edges, weights), **options)


def solve_weights(utility, W: np.ndarray, **options) -> SolverResult:
    """Solve for a dense weight matrix, ``W[i, j]`` the weight of edge i > j."""
    utility = parse_utility(utility)
    problem = DenseGraphProblem(utility, np.asarray(W, dtype=np.float64))
    n = problem.size
    return _finish(utility, n, problem, _maximize(problem, problem.start(), **options))


def _finish(utility, n, problem, outcome) -> SolverResult:
    x, objective, converged, iterations, residual, tol = outcome
    if not converged:
        warnings.warn(
            f"solver for {utility.spec} with n={n} stopped after {iterations} "
            f"iterations with KKT residual {residual:.3g} above tol={tol:g}",
            SolverConvergenceWarning,
            stacklevel=3,
        )
    return SolverResult(
        rewards=problem.rewards(x),
        objective=float(objective),
        converged=converged,
        iterations=iterations,
        residual=residual,
        utility=utility.spec,
    )


def _maximize(problem, x, *, tol: float = 1e-10, max_iterations: int = 200):
    """Projected Newton on ``problem`` over its box; see the module docstring."""
    lower, upper = problem.lower, problem.upper
    objective = problem.objective(x)
    converged = False
    residual = np.inf
    iteration = 0
    for iteration in range(1, max_iterations + 1):
        grad, hessian, scale = problem.derivatives(x)
        residual = _kkt_residual(x, grad, scale, lower, upper)
        if residual <= tol:
            converged = True
            iteration -= 1
            break

        # Variables at (or within the current residual of) a bound whose
        # gradient points outwards move onto that bound. The rest take the
        # Newton step on the Hessian restricted to them.
        margin = min(residual, 1e-8)
        at_lower = (x <= lower + margin) & (grad < 0)
        at_upper = (x >= upper - margin) & (grad > 0)
        free = ~(at_lower | at_upper)
        step = np.where(at_lower, lower - x, np.where(at_upper, upper - x, 0.0))
        if free.any():
            step[free] = _newton_direction(hessian[np.ix_(free, free)], grad[free])

        previous = x
        x, objective = _projected_search(problem, x, objective, grad, scale, step)
        if np.array_equal(x, previous):
            break  # the search found no better point: stop, not spin
    else:
        grad, _, scale = problem.derivatives(x)
        residual = _kkt_residual(x, grad, scale, lower, upper)
        converged = residual <= tol
    return x, objective, converged, iteration, residual, tol


def _newton_direction(hessian: np.ndarray, grad: np.ndarray) -> np.ndarray:
    # Solve (-H) d = grad with -H positive semidefinite, after scaling rows
    # and columns by the square root of -H's diagonal: entries range from
    # about 1 to 1e22 where the optimum crowds its ends, and the scaling
    # makes one small ridge fit every variable. Along a null direction (a
    # common shift, or every direction of the linear utility, whose Hessian
    # is zero) the ridge gives a very long gradient step, which the
    # projection onto the box turns into a move to the bounds.
    neg = -hessian
    diagonal = np.diag(neg).copy()
    diagonal[diagonal <= 0.0] = 1.0
    root = np.sqrt(diagonal)
    system = neg / root[:, None] / root[None, :]
    system[np.diag_indices_from(system)] += 1e-12
    rhs = grad / root
    try:
        scaled = scipy.linalg.solve(system, rhs, assume_a="pos", check_finite=False)
    except np.linalg.LinAlgError:
        scaled = np.linalg.lstsq(system, rhs, rcond=None)[0]
    return scaled / root


def _projected_search(problem, x, objective, grad, scale, step):
    # Backtracking (Armijo) search along the projected arc clip(x + a d),
    # first along the Newton direction, then along the gradient.
    lower, upper = problem.lower, problem.upper
    noise = 1e-13 * max(1.0, abs(objective))
    for direction in (step, grad / scale):
        # A step longer than the box is wide only lands on the bounds.
        longest = float(np.max(np.abs(direction), initial=0.0))
        if longest == 0.0:
            continue
        direction = direction / max(1.0, longest)
        alpha = 1.0
        for attempt in range(60):
            candidate = np.clip(x + alpha * direction, lower, upper)
            value = problem.objective(candidate)
            if value >= objective + 1e-4 * float(grad @ (candidate - x)):
                return candidate, value
            if attempt == 0 and abs(value - objective) <= noise:
                # Near the optimum the gain of a Newton step falls below the
                # rounding error of f, so Armijo's test is noise. Take the
                # step when it shrinks the KKT residual instead.
                new_grad, _, new_scale = problem.derivatives(candidate)
                before = _kkt_residual(x, grad, scale, lower, upper)
                after = _kkt_residual(candidate, new_grad, new_scale, lower, upper)
                if after < before:
                    return candidate, value
            alpha *= 0.5
    return x, objective


def _kkt_residual(x, grad, scale, lower, upper) -> float:
    # The projected gradient of f / scale: zero exactly at a KKT point, and
    # free of f's units, so one tolerance serves every utility and n.
    projected = np.clip(x + grad / scale, lower, upper)
    return float(np.max(np.abs(x - projected), initial=0.0))


def _check_n(n) -> None:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 2:
        raise ValueError(f"n must be an integer of at least 2, got {n!r}")

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
and a tiny ridge term settles that direction.

Two safeguards keep the Newton steps few. A step may at most halve an edge
difference (``solver_problems._step_limit``), because the quadratic model of
``log t``, ``t^g`` or ``-t^(-g)`` overshoots towards 0. And a variable counts
as sitting at a bound only if its step along the gradient, scaled by its
curvature, crosses the bound: an optimum crowds its ends, where a reward
1e-11 from a bound with a curvature of 1e22 is an interior point.

For the linear utility f is linear in r, ``sum of r_k net_k`` with net_k
the weight of k's wins minus its losses, so its optimum is known: 1 where
net_k > 0, 0 where it is negative, 1/2 where it is 0. The solver starts
there and stops at once.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack

from rankreward.solver_problems import EdgeGraphProblem, SymmetricRankingProblem
from rankreward.utilities import Linear, parse_utility

# The relative ridge added to the Newton system's diagonal.
RIDGE = 1e-12
# The default tolerance of solve_graph (solve_ranking's is 1e-10).
GRAPH_TOLERANCE = 1e-9


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

    ``tangent_pairs`` counts the edges whose difference ends below the
    utility's continuation point, where U is its tangent line (see
    ``rankreward.utilities``). It is 0 for an optimum of the uncontinued
    utility. Above 0, the rewards are still the optimum of the function that
    training maximises, but the large-n law of the uncontinued utility no
    longer describes them: this happens on contradicting edges, and for
    ``inverse-power:G`` with a large G, whose continuation point is large.
    """

    rewards: np.ndarray
    objective: float
    converged: bool
    iterations: int
    residual: float
    utility: str
    tangent_pairs: int = 0


def full_ranking_weights(n: int) -> np.ndarray:
    """Dense edge weights of a full ranking of n responses listed best first.

    ``W[i, j] = 1`` when response i is preferred to response j (i < j).
    """
    _check_n(n)
    return np.triu(np.ones((n, n)), k=1)


def edges_to_weights(n: int, edges, weights=None) -> np.ndarray:
    """Dense weights from ``(better, worse)`` index pairs; repeats add up."""
    better, worse, weight = _merged_edges(n, edges, weights)
    W = np.zeros((n, n))
    W[better, worse] = weight
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

    Indices are 0-based integers below n. Repeated edges add their weights
    (one each when ``weights`` is None); a pair of opposite edges is a
    contradiction, which the objective weighs like any other edges.
    Multiplying every weight by one positive number leaves the optimum as it
    is, so the solver works with weights divided by the largest and scales
    the objective back.
    """
    utility = parse_utility(utility)
    # Each gradient entry sums up to n - 1 edge terms, so at n in the
    # thousands rounding leaves a residual near 1e-10. A full ranking of
    # 5,000 given as a graph stops at 1.6e-10, so graphs get 1e-9.
    options.setdefault("tol", GRAPH_TOLERANCE)
    better, worse, weight = _merged_edges(n, edges, weights)
    unit = float(weight.max()) if weight.size else 1.0
    problem = EdgeGraphProblem(utility, n, better, worse, weight / unit)
    start = problem.start()
    if isinstance(utility, Linear):
        net = np.bincount(better, weight, n) - np.bincount(worse, weight, n)
        start = np.where(net > 0, 1.0, np.where(net < 0, 0.0, 0.5))
    outcome = _maximize(problem, start, **options)
    return _finish(utility, n, problem, outcome, unit=unit)


def solve_weights(utility, W: np.ndarray, **options) -> SolverResult:
    """Solve for a dense weight matrix, ``W[i, j]`` the weight of edge i > j."""
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"the weight matrix must be square, got shape {W.shape}")
    better, worse = np.nonzero(W)
    return solve_graph(
        utility,
        W.shape[0],
        np.stack([better, worse], axis=1),
        W[better, worse],
        **options,
    )


def _merged_edges(n, edges, weights):
    # Validated (better, worse, weight) arrays, with repeated edges merged
    # and zero weights dropped.
    _check_n(n)
    pairs = _edge_array(n, edges)
    out_of_range = (pairs < 0).any(axis=1) | (pairs >= n).any(axis=1)
    if out_of_range.any():
        bad = pairs[out_of_range][0]
        raise ValueError(
            f"edge {bad.tolist()} names a response outside 0..{n - 1}; "
            f"indices are 0-based and must be below n={n}"
        )
    loops = pairs[:, 0] == pairs[:, 1]
    if loops.any():
        raise ValueError(f"edge {pairs[loops][0].tolist()} is a self loop; remove it")
    weight = _edge_weights(weights, len(pairs))
    keep = weight > 0
    key = pairs[keep, 0] * n + pairs[keep, 1]
    unique, inverse = np.unique(key, return_inverse=True)
    return unique // n, unique % n, np.bincount(inverse, weight[keep])


def _edge_array(n, edges) -> np.ndarray:
    # (E, 2) int64 indices. Integer arrays pass as they are; anything else
    # is checked entry by entry, so that 1.5 or True is an error, not an
    # index.
    if isinstance(edges, np.ndarray) and edges.dtype.kind in "iu":
        array = edges
    else:
        array = np.asarray(edges, dtype=object)
        for index in array.reshape(-1):
            if isinstance(index, (bool, np.bool_)) or not isinstance(
                index, (int, np.integer)
            ):
                raise ValueError(
                    f"edge index {index!r} is not an integer; indices are "
                    f"0-based integers below n={n}"
                )
    if array.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(
            f"edges must be (better, worse) pairs, got an array of shape {array.shape}"
        )
    return array.astype(np.int64)


def _edge_weights(weights, count: int) -> np.ndarray:
    if weights is None:
        return np.ones(count)
    try:
        weight = np.asarray(weights, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError("edge weights must be numbers, one per edge") from None
    if weight.shape != (count,):
        raise ValueError(
            f"got {weight.size} edge weights for {count} edges; give one per edge"
        )
    bad = ~np.isfinite(weight) | (weight < 0)
    if bad.any():
        raise ValueError(
            f"edge weight {float(weight[bad][0])!r} is not a finite non-negative number"
        )
    return weight


def _finish(utility, n, problem, outcome, unit: float = 1.0) -> SolverResult:
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
        objective=float(objective) * unit,
        converged=converged,
        iterations=iterations,
        residual=residual,
        utility=utility.spec,
        tangent_pairs=problem.tangent_pairs(x),
    )


def _maximize(problem, x, *, tol: float = 1e-10, max_iterations: int = 200):
    """Projected Newton on ``problem`` over its box; see the module docstring."""
    lower, upper = problem.lower, problem.upper
    state = problem.evaluate(x)
    converged = False
    residual = np.inf
    iteration = 0
    for iteration in range(1, max_iterations + 1):
        if state.grad is None:
            state = problem.evaluate(x)
        grad, scale = state.grad, state.scale
        residual = _kkt_residual(x, grad, scale, lower, upper)
        if residual <= tol:
            converged = True
            iteration -= 1
            break
        hessian = state.hessian  # assembled only now, if the problem defers it

        # Variables at (or within the current residual of) a bound, whose
        # step along the curvature-scaled gradient crosses that bound, move
        # onto it. The rest take the Newton step on the Hessian restricted
        # to them.
        margin = min(residual, 1e-8)
        curvature = -hessian.diagonal()
        reach = grad / np.where(curvature > 0.0, curvature, 1.0)
        at_lower = (x <= lower + margin) & (grad < 0) & (x + reach <= lower)
        at_upper = (x >= upper - margin) & (grad > 0) & (x + reach >= upper)
        fixed = at_lower | at_upper
        step = _newton_direction(hessian, grad, fixed)  # overwrites hessian
        step[at_lower] = (lower - x)[at_lower]
        step[at_upper] = (upper - x)[at_upper]

        previous = x
        x, state = _projected_search(problem, x, state, residual, step)
        if x is previous:
            break  # the search found no better point: stop, not spin
    else:
        if state.grad is None:
            state = problem.evaluate(x)
        residual = _kkt_residual(x, state.grad, state.scale, lower, upper)
        converged = residual <= tol
    return x, state.objective, converged, iteration, residual, tol


def _newton_direction(hessian: np.ndarray, grad: np.ndarray, fixed) -> np.ndarray:
    # Solve (-H) d = grad on the free variables, with -H positive
    # semidefinite, reading H's upper triangle only. Diagonal entries range
    # from about 1 to 1e22 where the optimum crowds its ends, so the ridge
    # that settles null directions is relative to each diagonal entry. That
    # equals one ridge after scaling -H to a unit diagonal, and Cholesky
    # itself is indifferent to such scaling. A variable without curvature
    # gets a tiny absolute ridge instead. Along a null direction (a common
    # shift, or every direction of the linear utility) that gives a very
    # long gradient step, which the projection onto the box turns into a
    # move to the bounds. Fixed variables get an identity row and column and
    # a zero right-hand side, so the system keeps its size and the work
    # happens in place on ``hessian``, which is overwritten.
    system = np.negative(hessian, out=hessian)
    system[fixed, :] = 0.0
    system[:, fixed] = 0.0
    diagonal = system.diagonal()
    ridged = np.where(diagonal > 0.0, diagonal * (1.0 + RIDGE), RIDGE)
    np.fill_diagonal(system, np.where(fixed, 1.0, ridged))
    rhs = np.where(fixed, 0.0, grad)
    # LAPACK directly: scipy's wrappers cost more than the factorisation of
    # a small system. The factor overwrites ``system``; its transpose is in
    # Fortran order, with H's upper triangle as its lower one.
    factor, info = lapack.dpotrf(system.T, lower=True, overwrite_a=True, clean=False)
    if info != 0:
        # Rounding made the system indefinite: take the diagonally scaled
        # gradient step, which the line search then shortens.
        return rhs / np.where(fixed, 1.0, ridged)
    step, info = lapack.dpotrs(factor, rhs, lower=True)
    return step


def _projected_search(problem, x, state, residual, step):
    # Backtracking (Armijo) search along the projected arc clip(x + a d),
    # first along the Newton direction, then along the gradient. The first
    # candidate of a direction is evaluated with derivatives, because it is
    # usually taken and the next iteration needs them. Shorter ones are
    # evaluated without. Returns the new point and its evaluation.
    lower, upper = problem.lower, problem.upper
    objective, grad, scale = state.objective, state.grad, state.scale
    noise = 1e-13 * max(1.0, abs(objective))
    for direction in (step, grad / scale):
        # A step longer than the box is wide only lands on the bounds.
        longest = float(np.abs(direction).max()) if direction.size else 0.0
        if longest == 0.0:
            continue
        direction = direction / max(1.0, longest)
        alpha = problem.step_limit(x, direction)
        noisy_tries = 0
        for attempt in range(60):
            candidate = np.minimum(np.maximum(x + alpha * direction, lower), upper)
            noisy = False
            trial = problem.evaluate(candidate, derivatives=attempt == 0)
            if abs(trial.objective - objective) <= noise:
                # Near the optimum the gain of a step falls below the
                # rounding error of f, so Armijo's test is noise. Take the
                # step when it shrinks the KKT residual instead; shorter
                # steps only add noise, so give up on this direction after
                # two tries.
                noisy = True
                if trial.grad is None:
                    trial = problem.evaluate(candidate)
                after = _kkt_residual(candidate, trial.grad, trial.scale, lower, upper)
                if after < residual:
                    return candidate, trial
                noisy_tries += 1
            elif trial.objective >= objective + 1e-4 * float(grad @ (candidate - x)):
                return candidate, trial
            if noisy and noisy_tries == 2:
                break
            alpha *= 0.5
    return x, state


def _kkt_residual(x, grad, scale, lower, upper) -> float:
    # The projected gradient of f / scale: zero exactly at a KKT point, and
    # free of f's units, so one tolerance serves every utility and n.
    projected = np.minimum(np.maximum(x + grad / scale, lower), upper)
    return float(np.abs(x - projected).max()) if x.size else 0.0


def _check_n(n) -> None:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 2:
        raise ValueError(f"n must be an integer of at least 2, got {n!r}")

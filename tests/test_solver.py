import itertools
import warnings

import numpy as np
import pytest
from scipy import optimize

from rankreward.solver import (
    SolverConvergenceWarning,
    full_ranking_weights,
    solve_graph,
    solve_ranking,
)
from rankreward.utilities import parse_utility

STRICT = [
    "log",
    "power:0.5",
    "inverse-power:0.5",
    "inverse",
    "inverse-power:2",
    "logsigmoid:4",
    "logsigmoid:1",
]
ALL = ["linear", *STRICT]


def generic_optimum(spec, W, starts=4, seed=0):
    """The same objective maximised by scipy's L-BFGS-B from several starts."""
    utility = parse_utility(spec)
    n = W.shape[0]
    mask = W > 0

    def negative(r):
        diff = r[:, None] - r[None, :]
        slope = np.zeros_like(W)
        slope[mask] = W[mask] * utility.slope(diff[mask])
        grad = slope.sum(axis=1) - slope.sum(axis=0)
        return -np.sum(W[mask] * utility.value(diff[mask])), -grad

    rng = np.random.default_rng(seed)
    best = None
    for _ in range(starts):
        x0 = np.sort(rng.uniform(0.2, 0.8, n))[::-1]
        res = optimize.minimize(
            negative,
            x0,
            jac=True,
            method="L-BFGS-B",
            bounds=[(0.0, 1.0)] * n,
            options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 20000},
        )
        if best is None or res.fun < best.fun:
            best = res
    return best


@pytest.mark.parametrize("spec", ALL)
@pytest.mark.parametrize("n", [2, 3, 5, 8])
def test_full_ranking_matches_generic_optimizer(spec, n):
    W = full_ranking_weights(n)
    ours = solve_ranking(spec, n)
    generic = generic_optimum(spec, W)
    assert ours.converged
    # Ours is exact, so it can only be as good as or better than L-BFGS-B.
    assert ours.objective >= -generic.fun - 1e-9 * max(1.0, abs(generic.fun))
    if parse_utility(spec).strictly_concave:
        np.testing.assert_allclose(ours.rewards, generic.x, atol=2e-4)


@pytest.mark.parametrize("spec", STRICT)
@pytest.mark.parametrize("n", [2, 3, 4, 7, 8, 20, 60])
def test_full_ranking_invariants(spec, n):
    result = solve_ranking(spec, n)
    r = result.rewards
    assert result.converged
    assert result.residual <= 1e-10
    assert r[0] == pytest.approx(1.0, abs=1e-12), "best response gets 1"
    assert r[-1] == pytest.approx(0.0, abs=1e-12), "worst response gets 0"
    assert np.all(np.diff(r) <= 1e-12), "rewards keep the ranking's order"
    np.testing.assert_allclose(r + r[::-1], 1.0, atol=1e-8)  # k-th best + k-th worst


def test_strict_utilities_separate_responses():
    # Utilities with an infinite slope at 0 never tie two responses.
    for spec in ["log", "power:0.5", "inverse", "inverse-power:0.5"]:
        r = solve_ranking(spec, 12).rewards
        assert np.min(-np.diff(r)) > 1e-3, spec


@pytest.mark.parametrize(
    "n, expected",
    [
        (2, [1, 0]),
        (4, [1, 1, 0, 0]),
        (5, [1, 1, 0.5, 0, 0]),
        (8, [1, 1, 1, 1, 0, 0, 0, 0]),
    ],
)
def test_linear_closed_form(n, expected):
    result = solve_ranking("linear", n)
    np.testing.assert_allclose(result.rewards, expected, atol=1e-12)
    assert result.converged


@pytest.mark.parametrize("spec", ["log", "inverse", "power:0.5"])
def test_three_responses_middle_is_half(spec):
    # f(m) = U(1 - m) + U(m) + U(1) is symmetric in m <-> 1 - m and concave,
    # so its maximiser is m = 1/2.
    np.testing.assert_allclose(solve_ranking(spec, 3).rewards, [1, 0.5, 0], atol=1e-9)


def test_four_responses_log_by_hand():
    # By symmetry r = (1, a, 1 - a, 0). The six pairs give
    # f(a) = 2 log(1 - a) + 2 log(a) + log(2a - 1) + log(1), so
    # f'(a) = -2/(1 - a) + 2/a + 2/(2a - 1) = 0, which brentq solves on (1/2, 1).
    a = optimize.brentq(
        lambda a: -2 / (1 - a) + 2 / a + 2 / (2 * a - 1),
        0.5 + 1e-9,
        1 - 1e-9,
        xtol=1e-15,
    )
    np.testing.assert_allclose(
        solve_ranking("log", 4).rewards, [1, a, 1 - a, 0], atol=1e-9
    )


def test_four_responses_inverse_by_hand():
    # r = (1, a, 1 - a, 0): f(a) = -2/(1 - a) - 2/a - 1/(2a - 1) - 1, so
    # f'(a) = -2/(1 - a)^2 + 2/a^2 + 2/(2a - 1)^2 = 0.
    a = optimize.brentq(
        lambda a: -2 / (1 - a) ** 2 + 2 / a**2 + 2 / (2 * a - 1) ** 2,
        0.5 + 1e-6,
        1 - 1e-9,
        xtol=1e-15,
    )
    np.testing.assert_allclose(
        solve_ranking("inverse", 4).rewards, [1, a, 1 - a, 0], atol=1e-9
    )


def test_logsigmoid_ties_at_the_bounds():
    # log sigmoid has a finite slope at 0, so the top responses can share 1.
    r = solve_ranking("logsigmoid:4", 8).rewards
    assert r[0] == r[1] == 1.0
    assert r[-1] == r[-2] == 0.0


def test_graph_relabelling_permutes_answer():
    rng = np.random.default_rng(3)
    n = 6
    edges = [
        (i, j) for i, j in itertools.combinations(range(n), 2) if rng.random() < 0.7
    ]
    perm = rng.permutation(n)
    base = solve_graph("log", n, edges)
    relabelled = solve_graph("log", n, [(perm[i], perm[j]) for i, j in edges])
    np.testing.assert_allclose(relabelled.rewards[perm], base.rewards, atol=1e-9)


def test_graph_full_ranking_equals_ranking():
    n = 6
    edges = list(itertools.combinations(range(n), 2))
    np.testing.assert_allclose(
        solve_graph("inverse", n, edges).rewards,
        solve_ranking("inverse", n).rewards,
        atol=1e-10,
    )


def random_graph(rng, allow_cycles):
    n = int(rng.integers(3, 7))
    pairs = [
        (i, j) for i, j in itertools.combinations(range(n), 2) if rng.random() < 0.6
    ]
    pairs = pairs or [(0, 1)]
    if allow_cycles:
        pairs = [(i, j) if rng.random() < 0.8 else (j, i) for i, j in pairs]
    # Hide the order behind a random relabelling.
    perm = rng.permutation(n)
    edges = [(int(perm[i]), int(perm[j])) for i, j in pairs]
    weights = rng.integers(1, 4, len(edges)).astype(float)
    W = np.zeros((n, n))
    for (i, j), w in zip(edges, weights, strict=True):
        W[i, j] += w
    return n, edges, weights, W


@pytest.mark.parametrize("spec", ALL)
def test_random_acyclic_graphs_match_generic_optimizer(spec):
    rng = np.random.default_rng(7)
    for _ in range(6):
        n, edges, weights, W = random_graph(rng, allow_cycles=False)
        ours = solve_graph(spec, n, edges, weights)
        generic = generic_optimum(spec, W)
        assert ours.converged
        assert ours.objective >= -generic.fun - 1e-7 * max(1.0, abs(generic.fun))


@pytest.mark.parametrize("spec", ["logsigmoid:1", "logsigmoid:4"])
def test_contradicting_edges_match_generic_optimizer(spec):
    # With cycles some edge must have a difference <= 0; log sigmoid is
    # smooth there, so the optimum does not depend on any continuation.
    rng = np.random.default_rng(11)
    for _ in range(6):
        n, edges, weights, W = random_graph(rng, allow_cycles=True)
        ours = solve_graph(spec, n, edges, weights)
        generic = generic_optimum(spec, W)
        assert ours.converged
        assert ours.objective >= -generic.fun - 1e-7 * max(1.0, abs(generic.fun))
        np.testing.assert_allclose(ours.objective, -generic.fun, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "n, edges, message",
    [
        (3, [(0, 3)], r"edge \[0, 3\] names a response outside 0..2"),
        (3, [(-1, 0)], r"outside 0..2"),
        (3, [(1, 1)], r"edge \[1, 1\] is a self loop"),
        (1, [], r"n must be an integer of at least 2, got 1"),
    ],
)
def test_bad_graphs_raise(n, edges, message):
    with pytest.raises(ValueError, match=message):
        solve_graph("log", n, edges)


def test_nonconvergence_warns_with_own_class():
    with pytest.warns(SolverConvergenceWarning, match="stopped after 1 iterations"):
        result = solve_ranking("inverse", 30, max_iterations=1)
    assert not result.converged


def test_converged_solve_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", SolverConvergenceWarning)
        solve_ranking("log", 8)


def test_scaled_utility_has_same_optimum():
    # t^g with a tiny g is 1 + g log t to first order, so it shares log's
    # optimum; the residual must not call the start converged because the
    # slopes are tiny.
    tiny = solve_ranking("power:1e-12", 8)
    assert tiny.iterations > 0
    np.testing.assert_allclose(tiny.rewards, solve_ranking("log", 8).rewards, atol=1e-6)


def test_steep_logsigmoid_spreads_evenly():
    # At scale 1000 every slope is below 1e-40 at the optimum, which spreads
    # the responses evenly to maximise the smallest gap.
    result = solve_ranking("logsigmoid:1000", 8)
    assert result.converged
    np.testing.assert_allclose(result.rewards, np.linspace(1, 0, 8), atol=1e-6)


def test_graph_without_edges():
    result = solve_graph("log", 3, [])
    assert result.converged
    assert result.rewards.tolist() == [0.5, 0.5, 0.5]


@pytest.mark.parametrize("spec", STRICT)
def test_chain_gets_equal_gaps(spec):
    # Edges 0 > 1 > 2 > 3 only: f = U(a) + U(b) + U(c) for the gaps, with
    # a + b + c <= 1. U is increasing, so the gaps use the whole range, and
    # strictly concave, so by Jensen's inequality they are equal: 1/3 each.
    result = solve_graph(spec, 4, [(0, 1), (1, 2), (2, 3)])
    assert result.converged
    np.testing.assert_allclose(result.rewards, [1, 2 / 3, 1 / 3, 0], atol=1e-7)


@pytest.mark.parametrize("spec", ALL)
def test_two_tiers_split_to_the_bounds(spec):
    # Tier {0, 1} beats tier {2, 3} with no edge inside a tier: every edge
    # reaches its largest difference, 1, when the top tier is at 1 and the
    # bottom tier at 0.
    edges = [(0, 2), (0, 3), (1, 2), (1, 3)]
    result = solve_graph(spec, 4, edges)
    assert result.converged
    np.testing.assert_allclose(result.rewards, [1, 1, 0, 0], atol=1e-9)


@pytest.mark.parametrize("spec", ALL)
def test_star_puts_centre_at_the_bound(spec):
    # Response 0 beats each of 1, 2, 3, and they share no edge: 0 goes to 1
    # and the leaves to 0. Reversed, the centre goes to 0.
    out = solve_graph(spec, 4, [(0, 1), (0, 2), (0, 3)])
    into = solve_graph(spec, 4, [(1, 0), (2, 0), (3, 0)])
    np.testing.assert_allclose(out.rewards, [1, 0, 0, 0], atol=1e-9)
    np.testing.assert_allclose(into.rewards, [0, 1, 1, 1], atol=1e-9)

"""The solver's objectives, their derivatives, starts and edge handling."""

import itertools

import numpy as np
import pytest

from rankreward import solver_problems
from rankreward.solver import solve_graph, solve_ranking, solve_weights
from rankreward.solver_problems import (
    EdgeGraphProblem,
    SymmetricRankingProblem,
    _layered_start,
)
from rankreward.utilities import parse_utility

SPECS = ["linear", "log", "power:0.5", "inverse", "inverse-power:0.5", "logsigmoid:4"]


def full_ranking_problem(spec, n):
    better, worse = np.triu_indices(n, k=1)
    return EdgeGraphProblem(parse_utility(spec), n, better, worse, np.ones(len(better)))


def mirror_jacobian(n):
    # r = J y + c for the symmetric parametrisation: r_k = 1 - y_k for the
    # better half and r_(n-1-k) = y_k for its mirror image.
    m = n // 2
    J = np.zeros((n, m))
    J[np.arange(m), np.arange(m)] = -1.0
    J[n - 1 - np.arange(m), np.arange(m)] = 1.0
    return J


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("n", [2, 3, 6, 41, 130, 131])
@pytest.mark.parametrize("packed", [True, False])
def test_symmetric_ranking_equals_full_graph(spec, n, packed, monkeypatch):
    # The symmetric problem in y must be the full ranking's objective in r,
    # with gradient J^T g and Hessian J^T H J (chain rule). The row-block
    # path is forced into several small blocks.
    if not packed:
        monkeypatch.setattr(solver_problems, "PACKED_SIZE", 0)
        monkeypatch.setattr(solver_problems, "BLOCK_ENTRIES", 64)
    rng = np.random.default_rng(n)
    symmetric = SymmetricRankingProblem(parse_utility(spec), n)
    y = np.sort(rng.uniform(0.0, 0.5, n // 2))
    ours = symmetric.evaluate(y)
    graph = full_ranking_problem(spec, n).evaluate(symmetric.rewards(y))
    J = mirror_jacobian(n)
    np.testing.assert_allclose(ours.objective, graph.objective, rtol=1e-12, atol=1e-12)
    assert symmetric.evaluate(y, derivatives=False).objective == pytest.approx(
        ours.objective, rel=1e-12, abs=1e-12
    )
    grad = J.T @ graph.grad
    np.testing.assert_allclose(
        ours.grad, grad, rtol=1e-9, atol=1e-9 * np.abs(grad).max()
    )
    hessian = J.T @ graph.hessian @ J
    upper = np.triu_indices(n // 2)
    np.testing.assert_allclose(
        ours.hessian[upper],
        hessian[upper],
        rtol=1e-9,
        atol=1e-9 * max(np.abs(hessian).max(), 1e-300),
    )


@pytest.mark.parametrize("spec", ["log", "inverse", "logsigmoid:1", "power:0.5"])
def test_graph_derivatives_match_finite_differences(spec):
    # Central differences of the objective and of the gradient, on a
    # weighted graph whose responses have several edges each, at a point
    # where every difference is well above the continuation point.
    rng = np.random.default_rng(5)
    n = 5
    edges = np.array([(0, 1), (1, 2), (0, 3), (3, 4), (2, 4), (1, 4)])
    weights = np.array([1.0, 2.0, 0.5, 1.0, 3.0, 1.0])
    problem = EdgeGraphProblem(
        parse_utility(spec), n, edges[:, 0], edges[:, 1], weights
    )
    r = np.array([0.9, 0.6, 0.35, 0.7, 0.1]) + rng.uniform(-0.01, 0.01, n)
    at = problem.evaluate(r)
    h = 1e-6
    for k in range(n):
        e = np.zeros(n)
        e[k] = h
        up, down = problem.evaluate(r + e), problem.evaluate(r - e)
        assert (up.objective - down.objective) / (2 * h) == pytest.approx(
            at.grad[k], rel=1e-6, abs=1e-6
        )
        np.testing.assert_allclose(
            (up.grad - down.grad) / (2 * h), at.hessian[k], rtol=1e-5, atol=1e-5
        )


def test_layered_start_keeps_every_acyclic_edge_positive():
    rng = np.random.default_rng(2)
    for _ in range(20):
        n = int(rng.integers(2, 12))
        pairs = [p for p in itertools.combinations(range(n), 2) if rng.random() < 0.4]
        if not pairs:
            continue
        perm = rng.permutation(n)
        better = perm[[i for i, _ in pairs]]
        worse = perm[[j for _, j in pairs]]
        start = _layered_start(n, better, worse)
        assert np.all(start[better] > start[worse])
        assert start.min() >= 0.0
        assert start.max() == 1.0


def test_layered_start_of_a_cycle_shares_a_layer():
    # 0 > 1 > 2 > 0 is one cycle, and all of it beats 3.
    better = np.array([0, 1, 2, 0, 1, 2])
    worse = np.array([1, 2, 0, 3, 3, 3])
    start = _layered_start(4, better, worse)
    assert start.tolist() == [1.0, 1.0, 1.0, 0.0]


@pytest.mark.parametrize("spec", ["power:0.5", "power:0.1", "log", "inverse"])
def test_branching_graph_by_hand(spec):
    # 0 > 1, 1 > 2 and 1 > 3: responses 2 and 3 go to 0 and response 0 to
    # 1, so r_1 = x maximises U(1 - x) + 2 U(x). For power:0.5 that is
    # -1/(2 sqrt(1 - x)) + 1/sqrt(x) = 0, x = 0.8; for log, 1/(1 - x) = 2/x,
    # x = 2/3; for power:0.1 and inverse, x solves (1 - x)^(g-1) = 2 x^(g-1)
    # with g = 0.1 and g = -1: x = 1 / (1 + 2^(1/(g-1))).
    expected = {
        "power:0.5": 0.8,
        "log": 2 / 3,
        "power:0.1": 1 / (1 + 2 ** (1 / (0.1 - 1))),
        "inverse": 1 / (1 + 2 ** (1 / (-1 - 1))),
    }[spec]
    result = solve_graph(spec, 4, [(0, 1), (1, 2), (1, 3)])
    assert result.converged
    np.testing.assert_allclose(result.rewards, [1, expected, 0, 0], atol=1e-9)


@pytest.mark.parametrize(
    "edges, weights",
    [
        ([(0, 1), (1, 2), (0, 2), (2, 1)], None),
        ([(0, 1), (1, 0), (1, 2)], [3.0, 1.0, 1.0]),
        ([(0, 2), (1, 2)], [1.0, 0.0]),
    ],
)
def test_linear_graph_closed_form(edges, weights):
    # f = sum of r_k net_k: 1 where net > 0, 0 where net < 0, 1/2 at 0.
    n = 3
    w = np.ones(len(edges)) if weights is None else np.asarray(weights)
    net = np.zeros(n)
    for (i, j), wt in zip(edges, w, strict=True):
        net[i] += wt
        net[j] -= wt
    expected = np.where(net > 0, 1.0, np.where(net < 0, 0.0, 0.5))
    result = solve_graph("linear", n, edges, weights)
    assert result.iterations == 0
    assert result.converged
    np.testing.assert_allclose(result.rewards, expected)
    assert result.objective == pytest.approx(float(net @ expected))


@pytest.mark.parametrize("spec", ["log", "logsigmoid:4", "inverse"])
def test_scaling_the_weights_scales_only_the_objective(spec):
    edges = [(0, 1), (1, 2), (0, 2), (2, 3)]
    weights = np.array([1.0, 2.0, 1.0, 4.0])
    base = solve_graph(spec, 4, edges, weights)
    huge = solve_graph(spec, 4, edges, weights * 1e300)
    np.testing.assert_allclose(huge.rewards, base.rewards, atol=1e-12)
    assert np.isfinite(huge.objective)
    assert huge.objective == pytest.approx(base.objective * 1e300, rel=1e-9)


def test_repeated_edges_add_their_weights():
    once = solve_graph("log", 3, [(0, 1), (1, 2)], [2.0, 1.0])
    twice = solve_graph("log", 3, [(0, 1), (0, 1), (1, 2)])
    np.testing.assert_allclose(twice.rewards, once.rewards, atol=1e-12)
    dense = np.zeros((3, 3))
    dense[0, 1], dense[1, 2] = 2.0, 1.0
    np.testing.assert_allclose(solve_weights("log", dense).rewards, once.rewards)


@pytest.mark.parametrize(
    "edges, weights, message",
    [
        ([(0, 1.5)], None, r"edge index 1\.5 is not an integer"),
        ([(True, 0)], None, r"edge index True is not an integer"),
        ([("a", 0)], None, r"edge index 'a' is not an integer"),
        ([(0, 1, 2)], None, r"\(better, worse\) pairs"),
        ([(0, 1)], [float("nan")], r"edge weight nan is not a finite"),
        ([(0, 1)], [-1.0], r"edge weight -1\.0 is not a finite"),
        ([(0, 1)], [1.0, 2.0], r"got 2 edge weights for 1 edges"),
        ([(0, 1)], ["x"], r"edge weights must be numbers"),
    ],
)
def test_bad_edges_and_weights_raise(edges, weights, message):
    with pytest.raises(ValueError, match=message):
        solve_graph("log", 3, edges, weights)


def test_integer_arrays_pass_as_edges():
    edges = np.array([[0, 1], [1, 2]], dtype=np.int32)
    assert solve_graph("log", 3, edges).converged


@pytest.mark.parametrize("spec", ["log", "power:0.5", "inverse", "logsigmoid:4"])
def test_ordinary_optima_stay_off_the_tangent_line(spec):
    assert solve_ranking(spec, 300).tangent_pairs == 0


def test_tangent_pairs_are_counted():
    # inverse-power:10 continues below t0 = (10 / 1e12)^(1/11) = 0.1, above
    # the gaps of 30 responses spread over [0, 1]. A 3-cycle of log must put
    # at least one edge at a difference <= 0.
    result = solve_ranking("inverse-power:10", 30)
    r = result.rewards
    expected = sum(r[i] - r[j] < 0.1 for i in range(30) for j in range(i + 1, 30))
    assert result.tangent_pairs == expected > 0
    cycle = solve_graph("log", 3, [(0, 1), (1, 2), (2, 0)])
    assert cycle.tangent_pairs >= 1

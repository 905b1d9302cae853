import numpy as np
import pytest
from scipy import stats

from rankreward.limits import limit_distribution, limit_law
from rankreward.solver import solve_ranking


@pytest.mark.parametrize("spec", ["power:0.5", "log", "inverse-power:0.5"])
def test_finite_optimum_matches_closed_form_law(spec):
    # The empirical law of the optimum at n = 2000 is within Kolmogorov-Smirnov
    # distance 0.01 of the closed-form limit.
    result = solve_ranking(spec, 2000)
    assert result.converged
    distance = stats.kstest(result.rewards, limit_distribution(spec).cdf).statistic
    assert distance <= 0.01


@pytest.mark.parametrize(
    "spec, a",
    [
        ("power:0.5", 0.25),
        ("power:0.2", 0.4),
        ("log", 0.5),
        ("inverse-power:0.5", 0.75),
        ("inverse-power:0.2", 0.6),
    ],
)
def test_beta_parameters(spec, a):
    law = limit_law(spec)
    assert law.family == "beta"
    assert law.parameters == {"a": a, "b": a}
    assert not law.numerical
    assert law.distribution.mean() == pytest.approx(0.5)
    # Var of Beta(a, a) is 1 / (4 (2a + 1)).
    assert law.distribution.var() == pytest.approx(1 / (4 * (2 * a + 1)))


@pytest.mark.parametrize("spec", ["inverse", "inverse-power:1", "inverse-power:3"])
def test_steep_inverse_powers_are_uniform(spec):
    law = limit_law(spec)
    assert law.family == "uniform"
    assert law.distribution.cdf(0.3) == pytest.approx(0.3)


def test_linear_is_two_point():
    law = limit_law("linear")
    assert law.family == "two-point"
    assert law.distribution.pmf(0.0) == pytest.approx(0.5)
    assert law.distribution.pmf(1.0) == pytest.approx(0.5)
    assert law.distribution.var() == pytest.approx(0.25)


def test_logsigmoid_law_is_numerical():
    law = limit_law("logsigmoid:4")
    assert law.numerical
    assert law.family == "empirical"
    assert "numerical" in law.describe()
    assert law.distribution.mean() == pytest.approx(0.5, abs=1e-9)
    support = law.distribution.support()
    assert support[0] >= 0.0
    assert support[1] <= 1.0
    # It matches the solver's optimum at the same n.
    rewards = solve_ranking("logsigmoid:4", law.parameters["n"]).rewards
    assert law.distribution.var() == pytest.approx(np.var(rewards), rel=1e-9)


@pytest.mark.parametrize(
    "spec",
    ["linear", "log", "power:0.3", "inverse-power:0.5", "inverse", "inverse-power:4"],
)
def test_fast_quantiles_match_the_frozen_law(spec):
    from rankreward.limits import closed_form_law, closed_form_quantiles

    positions = np.array([0.001, 0.1, 0.37, 0.5, 0.63, 0.9, 0.999])
    np.testing.assert_allclose(
        closed_form_quantiles(spec, positions),
        closed_form_law(spec).distribution.ppf(positions),
        rtol=1e-10,
        atol=1e-14,
    )


def test_logsigmoid_has_no_fast_quantiles():
    from rankreward.limits import closed_form_quantiles

    assert closed_form_quantiles("logsigmoid:4", np.array([0.5])) is None

import math

import numpy as np
import pytest
import torch

from rankreward.utilities import (
    EXAMPLE_SPECS,
    InversePower,
    LogSigmoid,
    Power,
    UtilitySpecError,
    parse_utility,
)

ALL_SPECS = list(EXAMPLE_SPECS)


# Hand-derived values at t = 0.25 and t = 0.5:
#   log:              log 0.25 = -1.386294, slope 1/t = 4
#   power:0.5:        sqrt(0.25) = 0.5, slope 0.5 / sqrt(0.25) = 1
#   inverse:          -1/0.25 = -4, slope 1/t^2 = 16
#   inverse-power:2:  -1/0.25^2 = -16, slope 2/t^3 = 128
#   logsigmoid:4 at 0.5: log sigmoid(2) = -log(1 + e^-2) = -0.126928,
#                        slope 4 sigmoid(-2) = 4 / (1 + e^2) = 0.476811
#   linear:           t, slope 1
@pytest.mark.parametrize(
    "spec, t, value, slope",
    [
        ("linear", 0.25, 0.25, 1.0),
        ("log", 0.25, -1.3862943611, 4.0),
        ("power:0.5", 0.25, 0.5, 1.0),
        ("inverse", 0.25, -4.0, 16.0),
        ("inverse-power:2", 0.25, -16.0, 128.0),
        ("logsigmoid:4", 0.5, -0.1269280110, 0.4768116880),
    ],
)
def test_value_and_slope_hand_derived(spec, t, value, slope):
    utility = parse_utility(spec)
    assert float(utility.value(t)) == pytest.approx(value, rel=1e-9)
    assert float(utility.slope(t)) == pytest.approx(slope, rel=1e-9)
    torch_value = utility.torch_value(torch.tensor(t, dtype=torch.float64))
    assert float(torch_value) == pytest.approx(value, rel=1e-9)


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_torch_slope_matches_numpy(spec):
    utility = parse_utility(spec)
    t = torch.tensor(
        [-0.7, -1e-3, 0.0, 1e-7, 0.05, 0.3, 0.9],
        dtype=torch.float64,
        requires_grad=True,
    )
    (grad,) = torch.autograd.grad(utility.torch_value(t).sum(), t)
    expected = utility.slope(t.detach().numpy())
    np.testing.assert_allclose(grad.numpy(), expected, rtol=1e-9)
    np.testing.assert_allclose(
        utility.torch_value(t).detach().numpy(),
        utility.value(t.detach().numpy()),
        rtol=1e-9,
    )


@pytest.mark.parametrize("spec", ALL_SPECS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_value_and_gradient_finite_at_and_below_zero(spec, dtype):
    utility = parse_utility(spec)
    t = torch.tensor([-1.0, -0.5, -1e-8, 0.0, 1e-12], dtype=dtype, requires_grad=True)
    value = utility.torch_value(t)
    (grad,) = torch.autograd.grad(value.sum(), t)
    assert torch.isfinite(value).all()
    assert torch.isfinite(grad).all()
    assert (grad > 0).all(), "the continuation must stay increasing"


@pytest.mark.parametrize("spec", ALL_SPECS)
def test_continuation_is_concave_and_continuous(spec):
    utility = parse_utility(spec)
    t = np.linspace(-1.0, 1.0, 20001)
    slope = utility.slope(t)
    assert np.all(np.diff(slope) <= 1e-9 * np.abs(slope[:-1])), (
        "slope must not increase"
    )
    t0 = utility.continuation_point
    if math.isfinite(t0):
        below, above = utility.value(t0 - 1e-12), utility.value(t0 + 1e-12)
        assert abs(above - below) <= 3e-12 * max(1.0, float(utility.slope(t0)))
        # Below t0 the function is its tangent line at t0.
        expected = utility.value(t0) + utility.slope(t0) * (-0.5 - t0)
        assert float(utility.value(-0.5)) == pytest.approx(float(expected), rel=1e-12)


def test_continuation_point_keeps_slope_in_float32_range():
    for g in (0.5, 1.0, 2.0, 5.0, 20.0):
        utility = InversePower(g)
        assert utility.slope(utility.continuation_point) <= 1.01e12
        assert np.isfinite(np.float32(utility.value(-1.0)))


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("linear", "linear"),
        ("LOG", "log"),
        (" power:0.25 ", "power:0.25"),
        ("inverse", "inverse"),
        ("inverse-power:1", "inverse"),
        ("inverse-power:0.5", "inverse-power:0.5"),
        ("logsigmoid", "logsigmoid:1"),
        ("logsigmoid:4", "logsigmoid:4"),
    ],
)
def test_spec_round_trip(spec, expected):
    utility = parse_utility(spec)
    assert utility.spec == expected
    assert parse_utility(utility.spec) == utility


def test_spec_builds_the_right_class():
    assert parse_utility("power:0.3") == Power(0.3)
    assert parse_utility("logsigmoid:2") == LogSigmoid(2.0)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("cubic", r"unknown utility 'cubic'; valid specs: linear, log, power"),
        ("power", r"'power' needs a parameter, as in 'power:VALUE' with 0 < G < 1"),
        ("power:1", r"must satisfy 0 < G < 1, got 1"),
        ("power:0", r"must satisfy 0 < G < 1, got 0"),
        ("power:abc", r"the parameter 'abc' is not a number"),
        ("inverse-power:0", r"must satisfy 0 < G <= 100, got 0"),
        ("inverse-power:-1", r"must satisfy 0 < G <= 100, got -1"),
        ("inverse-power:1e300", r"must satisfy 0 < G <= 100, got 1e\+300"),
        ("logsigmoid:-2", r"must satisfy 0.0001 <= S <= 10000, got -2"),
        ("logsigmoid:1e-300", r"must satisfy 0.0001 <= S <= 10000, got 1e-300"),
        ("logsigmoid:nan", r"the parameter must be finite"),
        ("linear:2", r"'linear' takes no parameter"),
        ("", r"unknown utility ''"),
        (3, r"expected a string"),
    ],
)
def test_bad_specs_raise_clear_errors(spec, message):
    with pytest.raises(UtilitySpecError, match=message):
        parse_utility(spec)


@pytest.mark.parametrize("spec", [*ALL_SPECS, "power:0.2", "inverse-power:2"])
def test_slope_and_curvature_match_separate(spec):
    utility = parse_utility(spec)
    t = np.array([-0.5, -1e-9, 0.0, 1e-13, 1e-7, 0.01, 0.3, 1.0])
    slope, curvature = utility.derivatives(t)[1:]
    np.testing.assert_allclose(slope, utility.slope(t), rtol=1e-12)
    np.testing.assert_allclose(curvature, utility.curvature(t), rtol=1e-12)

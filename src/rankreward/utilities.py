"""Ranking utilities U: increasing concave functions of a reward difference t.

A reward model is trained to maximise ``sum over edges (i, j) of U(r_i - r_j)``.
Each utility here evaluates U, its slope U' and its curvature U'' in numpy
(float64, for the solver) and U in torch (for the training loss). Both
evaluate the very same function, so the solver's prediction describes the
objective that is trained.

``log t``, ``t^g`` and ``-t^(-g)`` are undefined or have an infinite slope at
``t <= 0``. Below a small point ``t0 > 0``, where U' reaches 1e12, they
continue as their tangent line at ``t0``: ``U(t0) + U'(t0) (t - t0)``. The
continued function is finite, increasing, concave and once differentiable
everywhere. An optimum whose differences all exceed ``t0`` is also the
optimum of the uncontinued problem, because the two objectives and their
gradients agree there.

Utilities are named by spec strings, the one way to name them in configs, data
and the command line: ``linear``, ``log``, ``power:G`` (0 < G < 1),
``inverse-power:G`` (G > 0), ``inverse`` (the same as ``inverse-power:1``) and
``logsigmoid:S`` (S > 0; ``logsigmoid`` alone means S = 1).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.special

if TYPE_CHECKING:
    import torch

# The tangent starts where U' reaches MAX_SLOPE, so U and U' stay far inside
# float32 range (about 3e38). For log and t^g that point is also below the
# gaps of an optimum at large n: near the ends of a ranking of 10,000
# responses they are above 1e-8 for log and far smaller for t^g.
# NOTE: for -t^(-g) with a large g (t0 = 0.31 at g = 20) the tangent starts
# above the optimum's gaps, so the solver optimises the continued function.
MAX_SLOPE = 1e12
# The training loss takes differences in float32, whose smallest normal
# number this is: a continuation point below it would round to 0 there (so
# t^g with g above about 0.68 gets a smaller slope at its t0 than MAX_SLOPE).
MIN_CONTINUATION_POINT = 1.1754943508222875e-38
# Parameter ranges of the families, see the registry below.
MAX_INVERSE_EXPONENT = 100.0
MIN_SCALE = 1e-4
MAX_SCALE = 1e4


class UtilitySpecError(ValueError):
    """An invalid utility spec string."""


@dataclass(frozen=True)
class Utility:
    """Base class: a concave increasing utility with a finite continuation.

    Subclasses define ``_value``, ``_slope`` and ``_curvature`` for numpy on
    ``t >= t0`` and ``_torch_value`` for torch on ``t >= t0``; this class adds
    the tangent-line continuation below ``t0``.
    """

    @property
    def spec(self) -> str:
        raise NotImplementedError

    @property
    def continuation_point(self) -> float:
        """The point ``t0`` below which U continues as its tangent line.

        Zero or less means U needs no continuation.
        """
        return -math.inf

    @property
    def strictly_concave(self) -> bool:
        return True

    # numpy, float64

    def value(self, t: np.ndarray) -> np.ndarray:
        """U(t), elementwise."""
        t = np.asarray(t, dtype=np.float64)
        t0 = self.continuation_point
        if _beyond(t, t0):
            return self._value(t)
        inside = self._value(np.maximum(t, t0))
        tangent = self._value(np.float64(t0)) + self._slope(np.float64(t0)) * (t - t0)
        return np.where(t >= t0, inside, tangent)

    def slope(self, t: np.ndarray) -> np.ndarray:
        """U'(t), elementwise."""
        t = np.asarray(t, dtype=np.float64)
        t0 = self.continuation_point
        if _beyond(t, t0):
            return self._slope(t)
        return np.where(t >= t0, self._slope(np.maximum(t, t0)), self._slope(t0))

    def curvature(self, t: np.ndarray) -> np.ndarray:
        """U''(t), elementwise (zero on the tangent line)."""
        t = np.asarray(t, dtype=np.float64)
        t0 = self.continuation_point
        if _beyond(t, t0):
            return self._curvature(t)
        return np.where(t >= t0, self._curvature(np.maximum(t, t0)), 0.0)

    def derivatives(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """U(t), U'(t) and U''(t) together, sharing the work of one pass.

        The solver's hot path: one power or logarithm serves all three where
        the formulas allow, and the continuation costs nothing when every
        entry is above ``t0``. The arrays returned are new.
        """
        t = np.asarray(t, dtype=np.float64)
        t0 = self.continuation_point
        if _beyond(t, t0):
            return self._derivatives(t)
        tangent = t < t0
        value, slope, curvature = self._derivatives(np.maximum(t, t0))
        u0 = self._value(np.float64(t0))
        s0 = self._slope(np.float64(t0))
        value[tangent] = u0 + s0 * (t[tangent] - t0)
        slope[tangent] = s0
        curvature[tangent] = 0.0
        return value, slope, curvature

    # torch

    def torch_value(self, t: torch.Tensor) -> torch.Tensor:
        """U(t) in torch, differentiable, in the dtype of ``t``."""
        import torch  # here, so that the solver and the CLI load without torch

        t0 = self.continuation_point
        if t0 == -math.inf:
            return self._torch_value(t)
        # The inner clamp keeps the unused branch of torch.where finite, whose
        # gradient would otherwise be NaN (0 times infinity) below t0.
        inside = self._torch_value(torch.clamp(t, min=t0))
        u0 = float(self._value(np.float64(t0)))
        s0 = float(self._slope(np.float64(t0)))
        tangent = u0 + s0 * (t - t0)
        return torch.where(t >= t0, inside, tangent)

    def __str__(self) -> str:
        return self.spec

    # Subclass hooks.

    def _derivatives(self, t):
        return tuple(
            np.array(part(t), dtype=np.float64)
            for part in (self._value, self._slope, self._curvature)
        )

    def _value(self, t):  # pragma: no cover - abstract
        raise NotImplementedError

    def _slope(self, t):  # pragma: no cover - abstract
        raise NotImplementedError

    def _curvature(self, t):  # pragma: no cover - abstract
        raise NotImplementedError

    def _torch_value(self, t):  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class Linear(Utility):
    """U(t) = t. Concave but not strictly: its optima tie responses."""

    @property
    def spec(self) -> str:
        return "linear"

    @property
    def strictly_concave(self) -> bool:
        return False

    def _value(self, t):
        return t

    def _slope(self, t):
        return np.ones_like(t)

    def _curvature(self, t):
        return np.zeros_like(t)

    def _torch_value(self, t):
        return t


@dataclass(frozen=True)
class Log(Utility):
    """U(t) = log t."""

    @property
    def spec(self) -> str:
        return "log"

    @functools.cached_property
    def continuation_point(self) -> float:
        # U'(t) = 1/t reaches MAX_SLOPE at t = 1 / MAX_SLOPE.
        return 1.0 / MAX_SLOPE

    def _value(self, t):
        return np.log(t)

    def _slope(self, t):
        return 1.0 / t

    def _curvature(self, t):
        return -1.0 / t**2

    def _derivatives(self, t):
        slope = 1.0 / t
        return np.log(t), slope, -(slope * slope)

    def _torch_value(self, t):
        return t.log()


@dataclass(frozen=True)
class Power(Utility):
    """U(t) = t^g with 0 < g < 1."""

    exponent: float

    @property
    def spec(self) -> str:
        return f"power:{_format_number(self.exponent)}"

    @functools.cached_property
    def continuation_point(self) -> float:
        # U'(t) = g t^(g-1) reaches MAX_SLOPE at t = (g / MAX_SLOPE)^(1/(1-g)).
        g = self.exponent
        return max(MIN_CONTINUATION_POINT, (g / MAX_SLOPE) ** (1.0 / (1.0 - g)))

    def _value(self, t):
        return t**self.exponent

    def _slope(self, t):
        return self.exponent * t ** (self.exponent - 1.0)

    def _curvature(self, t):
        g = self.exponent
        return g * (g - 1.0) * t ** (g - 2.0)

    def _derivatives(self, t):
        # U = t^g, U' = g U / t and U'' = (g-1) U' / t share one power.
        g = self.exponent
        value = t**g
        slope = g * value / t
        return value, slope, (g - 1.0) * slope / t

    def _torch_value(self, t):
        return t**self.exponent


@dataclass(frozen=True)
class InversePower(Utility):
    """U(t) = -t^(-g) with g > 0; g = 1 is -1/t."""

    exponent: float

    @property
    def spec(self) -> str:
        if self.exponent == 1.0:
            return "inverse"
        return f"inverse-power:{_format_number(self.exponent)}"

    @functools.cached_property
    def continuation_point(self) -> float:
        # U'(t) = g t^(-g-1) reaches MAX_SLOPE at t = (g / MAX_SLOPE)^(1/(g+1)).
        g = self.exponent
        return max(MIN_CONTINUATION_POINT, (g / MAX_SLOPE) ** (1.0 / (g + 1.0)))

    def _value(self, t):
        if self.exponent == 1.0:
            return -1.0 / t  # a division is several times cheaper than a power
        return -(t ** (-self.exponent))

    def _slope(self, t):
        if self.exponent == 1.0:
            return 1.0 / (t * t)
        return self.exponent * t ** (-self.exponent - 1.0)

    def _curvature(self, t):
        g = self.exponent
        return -g * (g + 1.0) * t ** (-g - 2.0)

    def _derivatives(self, t):
        # U = -t^(-g), U' = -g U / t and U'' = -(g+1) U' / t share one power.
        g = self.exponent
        if g == 1.0:  # one division instead of a power and three divisions
            inverse = 1.0 / t
            slope = inverse * inverse
            return -inverse, slope, -2.0 * slope * inverse
        value = -(t ** (-g))
        slope = -g * value / t
        return value, slope, -(g + 1.0) * slope / t

    def _torch_value(self, t):
        return -(t ** (-self.exponent))


@dataclass(frozen=True)
class LogSigmoid(Utility):
    """U(t) = log sigmoid(s t), the Bradley-Terry log-likelihood with scale s."""

    scale: float

    @property
    def spec(self) -> str:
        return f"logsigmoid:{_format_number(self.scale)}"

    def _value(self, t):
        # log sigmoid(x) = min(x, 0) - log(1 + exp(-|x|)). The exp of a
        # number <= 0 cannot overflow, and a microbenchmark on 640,000 values
        # measured it about 3 times cheaper than numpy's logaddexp.
        x = self.scale * t
        return np.minimum(x, 0.0) - np.log1p(np.exp(-np.abs(x)))

    def _slope(self, t):
        return self.scale * _numpy_sigmoid(-self.scale * t)

    def _curvature(self, t):
        x = self.scale * t
        return -(self.scale**2) * _numpy_sigmoid(x) * _numpy_sigmoid(-x)

    def _derivatives(self, t):
        # With p = sigmoid(-x): U' = s p and U'' = -s^2 p (1 - p), one
        # sigmoid for both. 1 - p loses relative precision only where U''
        # is below 1e-16 of its peak, which the Newton step does not feel.
        p = _numpy_sigmoid(-self.scale * t)
        slope = self.scale * p
        return self._value(t), slope, -self.scale * slope * (1.0 - p)

    def _torch_value(self, t):
        from torch.nn.functional import logsigmoid

        return logsigmoid(self.scale * t)


def _beyond(t: np.ndarray, t0: float) -> bool:
    # True when every entry is at or above the continuation point, so the
    # tangent branch can be skipped (a select costs more than U itself).
    return t0 == -math.inf or t.size == 0 or float(np.min(t)) >= t0


def _numpy_sigmoid(x):
    # expit keeps relative precision far into the tails, where a tanh form
    # rounds to 0 and would hide a tiny but nonzero slope.
    return scipy.special.expit(x)


def _format_number(x: float) -> str:
    return f"{x:g}"


# The registry: spec name -> (parameter rule, constructor). A name without a
# parameter takes None.
def _no_parameter(name: str, build: Callable[[], Utility]):
    def make(param: float | None, spec: str) -> Utility:
        if param is not None:
            raise UtilitySpecError(
                f"invalid utility spec {spec!r}: {name!r} takes no parameter; "
                f"write {name!r}"
            )
        return build()

    return make


def _with_parameter(name, build, check, rule, default=None):
    def make(param: float | None, spec: str) -> Utility:
        if param is None:
            if default is None:
                raise UtilitySpecError(
                    f"invalid utility spec {spec!r}: {name!r} needs a parameter, "
                    f"as in '{name}:VALUE' with {rule}"
                )
            param = default
        if not check(param):
            raise UtilitySpecError(
                f"invalid utility spec {spec!r}: the parameter of {name!r} must "
                f"satisfy {rule}, got {param:g}"
            )
        return build(param)

    return make


_REGISTRY: dict[str, Callable[[float | None, str], Utility]] = {
    "linear": _no_parameter("linear", Linear),
    "log": _no_parameter("log", Log),
    "inverse": _no_parameter("inverse", lambda: InversePower(1.0)),
    "power": _with_parameter("power", Power, lambda g: 0.0 < g < 1.0, "0 < G < 1"),
    # The upper bound on G and the range of S keep U and its continuation
    # inside float64: -t^(-G) at G = 1e300 overflows everywhere below 1, and
    # logsigmoid:1e-300 is linear to the last digit.
    "inverse-power": _with_parameter(
        "inverse-power",
        InversePower,
        lambda g: 0.0 < g <= MAX_INVERSE_EXPONENT,
        f"0 < G <= {MAX_INVERSE_EXPONENT:g}",
    ),
    "logsigmoid": _with_parameter(
        "logsigmoid",
        LogSigmoid,
        lambda s: MIN_SCALE <= s <= MAX_SCALE,
        f"{MIN_SCALE:g} <= S <= {MAX_SCALE:g}",
        default=1.0,
    ),
}

# One utility of each built-in family, for examples, tests and benchmarks.
EXAMPLE_SPECS = (
    "linear",
    "log",
    "power:0.5",
    "inverse-power:0.5",
    "inverse",
    "logsigmoid:4",
)

VALID_SPECS = (
    "linear",
    "log",
    "power:G (0<G<1)",
    "inverse-power:G (0<G<=100)",
    "inverse",
    "logsigmoid:S (1e-4<=S<=1e4)",
)


def parse_utility(spec: str | Utility) -> Utility:
    """Return the utility named by a spec string such as ``power:0.5``.

    Raises ``UtilitySpecError`` naming the valid specs for an unknown name, and
    the rule for an out-of-range or missing parameter.
    """
    if isinstance(spec, Utility):
        return spec
    if not isinstance(spec, str):
        raise UtilitySpecError(
            f"invalid utility spec {spec!r}: expected a string such as 'log'"
        )
    text = spec.strip()
    name, sep, raw_param = text.partition(":")
    name = name.strip().lower()
    if name not in _REGISTRY:
        raise UtilitySpecError(
            f"unknown utility {spec!r}; valid specs: {', '.join(VALID_SPECS)}"
        )
    param = None
    if sep:
        try:
            param = float(raw_param)
        except ValueError:
            raise UtilitySpecError(
                f"invalid utility spec {spec!r}: the parameter {raw_param.strip()!r} "
                "is not a number"
            ) from None
        if not math.isfinite(param):
            raise UtilitySpecError(
                f"invalid utility spec {spec!r}: the parameter must be finite"
            )
    return _REGISTRY[name](param, spec)

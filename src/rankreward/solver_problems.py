"""The objectives the solver maximises, with their gradient and Hessian.

Each problem exposes its variables' box (``lower``, ``upper``), a feasible
start, ``objective(x)``, ``derivatives(x)`` returning the gradient, the
Hessian and the gradient's scale, and ``rewards(x)``, which maps variables
back to one reward per response.

The scale is the largest sum of absolute slope terms that one gradient entry
adds up (at least 1). Rounding errors in the gradient are a few ulps of it,
so the solver's residual is measured against it.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from rankreward.utilities import InversePower, Log, Power, Utility

# Rows of the n x n pair matrices evaluated at once: bounds memory at large n.
ROW_BLOCK = 512


class DenseGraphProblem:
    """Any preference graph as a dense weight matrix, ``W[i, j]`` for i > j.

    The Hessian is ``diag(rowsum(C)) - C`` with ``C = U''(d) W + (U''(d) W)^T``,
    a negated weighted graph Laplacian. Memory grows as n^2.
    """

    def __init__(self, utility: Utility, W: np.ndarray):
        self.utility = utility
        self.W = W
        self.mask = W > 0
        self.size = W.shape[0]
        self.lower = np.zeros(self.size)
        self.upper = np.ones(self.size)

    def start(self) -> np.ndarray:
        # Ordered by net wins and spread over [0, 1].
        net = self.W.sum(axis=1) - self.W.sum(axis=0)
        spread = np.ptp(net)
        r = 0.5 + (0.5 * (net - net.mean()) / spread if spread > 0 else 0.0)
        return np.clip(r, 0.0, 1.0)

    def rewards(self, x: np.ndarray) -> np.ndarray:
        return x

    def objective(self, r: np.ndarray) -> float:
        diff = r[:, None] - r[None, :]  # (n, n), diff[i, j] = r_i - r_j
        return float(np.sum(self.W[self.mask] * self.utility.value(diff[self.mask])))

    def derivatives(self, r: np.ndarray):
        W, mask = self.W, self.mask
        diff = r[:, None] - r[None, :]
        slope = np.zeros_like(W)
        curv = np.zeros_like(W)
        slope[mask] = W[mask] * self.utility.slope(diff[mask])
        curv[mask] = W[mask] * self.utility.curvature(diff[mask])

        # d f / d r_k: +U' on edges out of k, -U' on edges into k.
        grad = slope.sum(axis=1) - slope.sum(axis=0)
        scale = max(
            1.0, float(np.max(slope.sum(axis=1) + slope.sum(axis=0), initial=0.0))
        )
        sym = curv + curv.T
        hessian = np.diag(sym.sum(axis=1)) - sym
        return grad, hessian, scale


class SymmetricRankingProblem:
    """A full ranking of n responses, best first, solved on its better half.

    The problem is unchanged by ``r -> 1 - reversed(r)``, and it is concave,
    so averaging any optimum with its mirror image gives an optimum with
    ``r_k + r_(n-1-k) = 1``. The variables are the m = floor(n/2) best
    rewards, in [1/2, 1]. For odd n the middle reward is 1/2. Each
    evaluation touches the m x n pairs of the better half, in row blocks.
    """

    def __init__(self, utility: Utility, n: int):
        self.utility = utility
        self.n = n
        self.size = n // 2
        self.lower = np.full(self.size, 0.5)
        self.upper = np.ones(self.size)

    def start(self) -> np.ndarray:
        return _start_from_limit(self.utility, self.n)[: self.size]

    def rewards(self, x: np.ndarray) -> np.ndarray:
        middle = [0.5] if self.n % 2 else []
        return np.concatenate([x, middle, 1.0 - x[::-1]])

    def _blocks(self, r: np.ndarray):
        # Yield (rows, d, above) for row blocks of the better half: d[k, j] is
        # the difference along the edge between k and j (better minus worse),
        # and above marks the pairs with j > k.
        columns = np.arange(self.n)
        for start in range(0, self.size, ROW_BLOCK):
            rows = np.arange(start, min(start + ROW_BLOCK, self.size))
            diff = r[rows, None] - r[None, :]  # (B, n)
            above = columns[None, :] > rows[:, None]  # (B, n)
            yield rows, np.where(above, diff, -diff), above

    def objective(self, x: np.ndarray) -> float:
        # Pairs (k, j > k) from better-half rows, plus their mirror images
        # among the worse half: pairs inside the better half and pairs with
        # the middle response occur twice.
        r = self.rewards(x)
        m = self.size
        total = 0.0
        for _, d, above in self._blocks(r):
            value = self.utility.value(d)
            total += float(np.sum(value[above]))
            inside = above[:, :m]
            total += float(np.sum(value[:, :m][inside]))
            if self.n % 2:
                total += float(np.sum(value[:, m]))
        return total

    def derivatives(self, x: np.ndarray):
        r = self.rewards(x)
        n, m = self.n, self.size
        grad = np.zeros(m)
        hessian = np.zeros((m, m))
        scale = 1.0
        mirror = n - 1 - np.arange(m)  # columns of the worse half, mirrored
        for rows, d, above in self._blocks(r):
            off_diagonal = rows[:, None] != np.arange(n)[None, :]
            slope = np.where(off_diagonal, self.utility.slope(d), 0.0)  # (B, n)
            curv = np.where(off_diagonal, self.utility.curvature(d), 0.0)  # (B, n)
            sign = np.where(above, 1.0, -1.0)

            # Full gradient entry k: +U' towards worse, -U' towards better.
            # Its mirror entry is its negative, so the reduced one is twice it.
            grad[rows] = 2.0 * np.sum(sign * slope, axis=1)
            scale = max(scale, 2.0 * float(np.max(np.sum(slope, axis=1))))

            # Full Hessian rows: -C off the diagonal, the row sum of C on it.
            # Reduced: 2 (H[k, l] - H[k, n-1-l]) for l in the better half.
            full = -curv
            full[np.arange(len(rows)), rows] = np.sum(curv, axis=1)
            hessian[rows] = 2.0 * (full[:, :m] - full[:, mirror])
        return grad, hessian, scale


def _start_from_limit(utility: Utility, n: int) -> np.ndarray:
    # Quantiles of the large-n law put a start close to the optimum, so the
    # Newton iterations are few even at large n; otherwise an even spread.
    positions = 1.0 - (np.arange(n) + 0.5) / n  # best first
    law = None
    if isinstance(utility, Log):
        law = stats.beta(0.5, 0.5)
    elif isinstance(utility, Power):
        a = (1.0 - utility.exponent) / 2.0
        law = stats.beta(a, a)
    elif isinstance(utility, InversePower) and utility.exponent < 1.0:
        a = (1.0 + utility.exponent) / 2.0
        law = stats.beta(a, a)
    r = law.ppf(positions) if law is not None else positions.copy()
    # The ends of a strictly concave optimum are exactly 1 and 0.
    r[0], r[-1] = 1.0, 0.0
    return np.clip(r, 0.0, 1.0)

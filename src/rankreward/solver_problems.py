"""The objectives the solver maximises, with their gradient and Hessian.

Each problem exposes its variables' box (``lower``, ``upper``), a feasible
start, ``objective(x)``, ``derivatives(x)`` returning the gradient, the
Hessian and the gradient's scale, and ``rewards(x)``, which maps variables
back to one reward per response.

The scale is the largest sum of absolute slope terms that one gradient entry
adds up. Rounding errors in the gradient are a few ulps of it, so the
solver's residual is measured against it, which also makes the residual
independent of the utility's units (``1e-12 log t`` has the optimum of
``log t``).
"""

from __future__ import annotations

import numpy as np

from rankreward.limits import closed_form_law
from rankreward.utilities import Utility

# Rows of the n x n pair matrices evaluated at once: bounds memory at large n.
ROW_BLOCK = 512
# The scale of a gradient whose slopes are all zero, to avoid dividing by 0.
TINY_SCALE = 1e-300


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
        if spread == 0:
            return np.full(self.size, 0.5)
        return np.clip(0.5 + 0.5 * (net - net.mean()) / spread, 0.0, 1.0)

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
            TINY_SCALE,
            float(np.max(slope.sum(axis=1) + slope.sum(axis=0), initial=0.0)),
        )
        sym = curv + curv.T
        hessian = np.diag(sym.sum(axis=1)) - sym
        return grad, hessian, scale


class SymmetricRankingProblem:
    """A full ranking of n responses, best first, solved on its better half.

    The problem is unchanged by ``r -> 1 - reversed(r)``, and it is concave,
    so averaging any optimum with its mirror image gives an optimum with
    ``r_k + r_(n-1-k) = 1``. The variables are ``y_k = 1 - r_k`` for the
    m = floor(n/2) best responses, in [0, 1/2]; for odd n the middle reward
    is 1/2. Working with distances from the bound keeps full relative
    precision where the optimum crowds its ends: near the top, differences
    are ``y_j - y_k`` of small numbers, not ``r_k - r_j`` of numbers near 1.
    Each evaluation touches the m x n pairs of the better half, in row blocks.
    """

    def __init__(self, utility: Utility, n: int):
        self.utility = utility
        self.n = n
        self.size = n // 2
        self.lower = np.zeros(self.size)
        self.upper = np.full(self.size, 0.5)

    def start(self) -> np.ndarray:
        return _start_from_limit(self.utility, self.n)[: self.size]

    def rewards(self, y: np.ndarray) -> np.ndarray:
        middle = [0.5] if self.n % 2 else []
        return np.concatenate([1.0 - y, middle, y[::-1]])

    def _blocks(self, y: np.ndarray):
        # Yield (rows, d) for row blocks of the better half, where d[k, j] is
        # the difference along the edge between k and j (better minus worse).
        # Columns: the better half (j < m), the middle (odd n), the worse
        # half, whose reward r_j = y_(n-1-j) comes from the mirror variable.
        n, m = self.n, self.size
        mirrored = y[::-1]  # rewards of the worse half, in column order
        for start in range(0, m, ROW_BLOCK):
            rows = np.arange(start, min(start + ROW_BLOCK, m))
            yk = y[rows, None]
            top = y[None, :] - yk  # r_k - r_j for j in the better half
            top = np.where(np.arange(m)[None, :] > rows[:, None], top, -top)
            parts = [top]
            if n % 2:
                parts.append(0.5 - yk)
            parts.append(1.0 - yk - mirrored[None, :])
            yield rows, np.concatenate(parts, axis=1)  # (B, n)

    def objective(self, y: np.ndarray) -> float:
        # Pairs (k, j > k) from better-half rows, plus their mirror images
        # among the worse half: pairs inside the better half and pairs with
        # the middle response occur twice.
        # Pairs (k, j > k) from better-half rows, plus their mirror images
        # among the worse half: pairs inside the better half and pairs with
        # the middle response occur twice.
        m = self.size
        total = 0.0
        for rows, d in self._blocks(y):
            value = self.utility.value(d)
            inside = np.arange(m)[None, :] > rows[:, None]
            total += 2.0 * float(np.sum(value[:, :m][inside]))
            total += float(np.sum(value[:, m:]))
            if self.n % 2:
                total += float(np.sum(value[:, m]))
        return total

    def derivatives(self, y: np.ndarray):
        n, m = self.n, self.size
        grad = np.zeros(m)
        hessian = np.zeros((m, m))
        scale = TINY_SCALE
        columns = np.arange(n)
        for rows, d in self._blocks(y):
            local = np.arange(len(rows))
            slope, curv = self.utility.slope_and_curvature(d)  # (B, n) each
            slope[local, rows] = 0.0  # no pair of a response with itself
            curv[local, rows] = 0.0
            # In r: entry k gains +U' towards worse responses (j > k) and -U'
            # towards better ones (j < k), and its mirror entry is its
            # negative, so the reduced gradient is twice it. In y = 1 - r
            # the sign flips.
            total = np.sum(slope, axis=1)
            toward_worse = np.where(columns[None, :] > rows[:, None], slope, 0.0)
            grad[rows] = -2.0 * (2.0 * np.sum(toward_worse, axis=1) - total)
            scale = max(scale, 2.0 * float(np.max(total)))

            # Full Hessian rows: -C off the diagonal, the row sum of C on it.
            # Reduced: 2 (H[k, l] - H[k, n-1-l]) for l in the better half,
            # and the same in y, where both signs flip. Column n-1-l of row k
            # is never k's own, so the row sum lands on the diagonal alone.
            mirrored = curv[:, ::-1][:, :m]  # column n-1-l at position l, a view
            hessian[rows] = 2.0 * (mirrored - curv[:, :m])
            hessian[rows, rows] += 2.0 * np.sum(curv, axis=1)
        return grad, hessian, scale


def _start_from_limit(utility: Utility, n: int) -> np.ndarray:
    # Quantiles of the large-n law put a start close to the optimum, so the
    # Newton iterations are few even at large n. Without a closed-form law
    # the start is an even spread. The result is y = 1 - r, best first. It
    # is computed as lower quantiles, so the smallest distances keep their
    # precision.
    positions = (np.arange(n) + 0.5) / n
    law = closed_form_law(utility)
    y = law.distribution.ppf(positions) if law is not None else positions.copy()
    y[0] = 0.0  # the best response of any optimum gets exactly 1
    return np.clip(y, 0.0, 1.0)

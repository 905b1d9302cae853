"""The objectives the solver maximises, with their gradient and Hessian.

Each problem exposes its variables' box (``lower``, ``upper``), a feasible
start, ``evaluate(x, derivatives)`` returning an ``Evaluation``,
``step_limit(x, direction)`` (see ``_step_limit``) and ``rewards(x)``, which
maps variables back to one reward per response.

The gradient's scale is the largest sum of absolute slope terms that one
gradient entry adds up. Rounding errors in the gradient are a few ulps of it,
so the solver's residual is measured against it, which also makes the
residual independent of the utility's units (``1e-12 log t`` has the optimum
of ``log t``).
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.sparse
import scipy.sparse.csgraph
import scipy.special

from rankreward.limits import closed_form_family, closed_form_quantiles
from rankreward.utilities import Utility

# Entries of the pair matrices evaluated at once, about 2 MB of float64 per
# matrix. A block then stays in cache at large n, and at small n the whole
# triangle is one block, so per-block overhead does not dominate.
BLOCK_ENTRIES = 1 << 18
# Up to this many variables, evaluations use a packed list of pairs instead
# of row blocks of the pair matrices.
PACKED_SIZE = 400
# A step may shrink a positive edge difference to this fraction of itself at
# most, unless the difference ends in the tangent region anyway.
KEEP_FRACTION = 0.5
# The scale of a gradient whose slopes are all zero, to avoid dividing by 0.
TINY_SCALE = 1e-300


class Evaluation:
    """The objective at a point and, where asked for, its derivatives.

    Only the upper triangle of ``hessian`` is meaningful. A problem may pass
    ``build_hessian`` instead of the matrix, to assemble it only when the
    solver reads ``hessian``. The evaluation that shows convergence never
    needs it.
    """

    __slots__ = ("objective", "grad", "scale", "_hessian", "_build")

    def __init__(
        self, objective, grad=None, hessian=None, scale=None, build_hessian=None
    ):
        self.objective = objective
        self.grad = grad
        self.scale = scale
        self._hessian = hessian
        self._build = build_hessian

    @property
    def hessian(self) -> np.ndarray | None:
        if self._hessian is None and self._build is not None:
            self._hessian = self._build()
            self._build = None
        return self._hessian


class EdgeGraphProblem:
    """Any preference graph as a list of weighted edges ``better > worse``.

    Repeated edges must be merged beforehand. The Hessian is the weighted
    graph Laplacian with the negative weights ``w U''(d)``. It is dense, so
    memory grows as n^2, while the work of an evaluation grows with the
    number of edges.
    """

    def __init__(self, utility: Utility, n: int, better, worse, weight):
        self.utility = utility
        self.size = n
        self.better = np.asarray(better, dtype=np.int64)
        self.worse = np.asarray(worse, dtype=np.int64)
        self.weight = np.asarray(weight, dtype=np.float64)
        self.lower = np.zeros(n)
        self.upper = np.ones(n)

    def start(self) -> np.ndarray:
        return _layered_start(self.size, self.better, self.worse)

    def rewards(self, x: np.ndarray) -> np.ndarray:
        return x

    def step_limit(self, r: np.ndarray, direction: np.ndarray) -> float:
        i, j = self.better, self.worse
        return _step_limit(self.utility, r[i] - r[j], direction[i] - direction[j])

    def tangent_pairs(self, r: np.ndarray) -> int:
        """Edges whose difference is below the continuation point."""
        t0 = self.utility.continuation_point
        return int(np.count_nonzero(r[self.better] - r[self.worse] < t0))

    def evaluate(self, r: np.ndarray, derivatives: bool = True) -> Evaluation:
        n, i, j, w = self.size, self.better, self.worse, self.weight
        diff = r[i] - r[j]
        if not derivatives:
            return Evaluation(float(np.dot(w, self.utility.value(diff))))
        value, slope, curv = self.utility.derivatives(diff)
        slope *= w
        curv *= w
        # d f / d r_k: +w U' on edges out of k, -w U' on edges into k.
        out_sum = np.bincount(i, slope, minlength=n)
        in_sum = np.bincount(j, slope, minlength=n)
        scale = max(TINY_SCALE, float(np.max(out_sum + in_sum, initial=0.0)))
        hessian = np.zeros((n, n))
        np.add.at(hessian, (i, j), -curv)
        np.add.at(hessian, (j, i), -curv)
        hessian[np.diag_indices(n)] = np.bincount(i, curv, minlength=n) + np.bincount(
            j, curv, minlength=n
        )
        return Evaluation(float(np.dot(w, value)), out_sum - in_sum, hessian, scale)


class SymmetricRankingProblem:
    """A full ranking of n responses, best first, solved on its better half.

    The problem is unchanged by ``r -> 1 - reversed(r)``, and it is concave,
    so averaging any optimum with its mirror image gives an optimum with
    ``r_k + r_(n-1-k) = 1``. The variables are ``y_k = 1 - r_k`` for the
    m = floor(n/2) best responses, in [0, 1/2]; for odd n the middle reward
    is 1/2. Working with distances from the bound keeps full relative
    precision where the optimum crowds its ends: near the top, differences
    are ``y_l - y_k`` of small numbers, not ``r_k - r_l`` of numbers near 1.

    In these variables the objective is

        2 sum over k < l of [U(y_l - y_k) + U(1 - y_k - y_l)]
        + sum over k of U(1 - 2 y_k)  [+ 2 sum over k of U(1/2 - y_k), odd n]

    The first term contains each pair inside the better half and its mirror
    image among the worse half; the second each pair across the halves,
    (k, n-1-l) and (l, n-1-k) being mirror images. So an evaluation touches
    the m(m-1)/2 pairs k < l twice, a quarter of the n^2 ordered pairs, in
    row blocks of that triangle.
    """

    def __init__(self, utility: Utility, n: int):
        self.utility = utility
        self.n = n
        self.size = n // 2
        self.lower = np.zeros(self.size)
        self.upper = np.full(self.size, 0.5)

    def start(self) -> np.ndarray:
        return _start_from_limit(self.utility, self.n, self.size)

    def rewards(self, y: np.ndarray) -> np.ndarray:
        middle = [0.5] if self.n % 2 else []
        return np.concatenate([1.0 - y, middle, y[::-1]])

    def step_limit(self, y: np.ndarray, direction: np.ndarray) -> float:
        # Every difference is a sum of consecutive gaps of the ordered
        # rewards: y_k - y_(k-1) in the better half, and 1 - 2 y_(m-1)
        # between the worst of the better half and its mirror image.
        gaps = np.empty_like(y)
        np.subtract(y[1:], y[:-1], out=gaps[:-1])
        gaps[-1] = 1.0 - 2.0 * y[-1]
        change = np.empty_like(direction)
        np.subtract(direction[1:], direction[:-1], out=change[:-1])
        change[-1] = -2.0 * direction[-1]
        return _step_limit(self.utility, gaps, change)

    def tangent_pairs(self, y: np.ndarray) -> int:
        """Pairs i < j of the ranking with r_i - r_j below the continuation point."""
        t0 = self.utility.continuation_point
        if t0 <= 0.0:
            return 0
        # Sorted, the rewards of a response's n - 1 - i worse ones are the
        # ones below it, and those above r_i - t0 are on the tangent line.
        r = np.sort(self.rewards(y))[::-1]
        clear = np.searchsorted(r[::-1], r - t0, side="right")
        worse = self.n - 1 - np.arange(self.n)
        return int(np.sum(np.maximum(worse - clear, 0)))

    def _blocks(self, y: np.ndarray):
        # Yield (start, pairs, lower) for row blocks [start, end) of the
        # triangle k < l, columns l >= start: pairs[0, k, l] = y_l - y_k (a
        # pair inside the better half) and pairs[1, k, l] = 1 - y_k - y_l (a
        # pair across the halves). ``lower`` marks the entries of the block's
        # leading square with l <= k, which are no pair: they hold 1/2, a
        # harmless argument for U, and their results must be zeroed.
        m = self.size
        rows_per_block = max(16, BLOCK_ENTRIES // max(m, 1))
        for start in range(0, m, rows_per_block):
            end = min(start + rows_per_block, m)
            rows = y[start:end, None]
            pairs = np.empty((2, end - start, m - start))
            np.subtract(y[None, start:], rows, out=pairs[0])
            np.subtract(1.0 - rows, y[None, start:], out=pairs[1])
            lower = _lower_mask(end - start)
            np.copyto(pairs[:, :, : end - start], 0.5, where=lower)
            yield start, pairs, lower

    def _singles(self, y: np.ndarray):
        # The terms of one variable: U(1 - 2 y_k) with weight 1 and, for odd
        # n, U(1/2 - y_k) with weight 2; as (difference, weight, dd/dy).
        singles = [(1.0 - 2.0 * y, 1.0, -2.0)]
        if self.n % 2:
            singles.append((0.5 - y, 2.0, -1.0))
        return singles

    def evaluate(self, y: np.ndarray, derivatives: bool = True) -> Evaluation:
        if not derivatives:
            return Evaluation(self._objective(y))
        if self.size <= PACKED_SIZE:
            return self._evaluate_packed(y)
        m = self.size
        objective = 0.0
        grad = np.zeros(m)
        total = np.zeros(m)  # sum of the slope terms of each variable
        diagonal = np.zeros(m)
        hessian = np.zeros((m, m))  # upper triangle only
        for start, pairs, lower in self._blocks(y):
            end = start + lower.shape[0]
            value, slope, curv = self.utility.derivatives(pairs)
            for part in (value, slope, curv):
                np.copyto(part[:, :, : lower.shape[0]], 0.0, where=lower)
            objective += 2.0 * float(np.sum(value))
            # 2 U(y_l - y_k): -2 U' to k, +2 U' to l; 2 U(1 - y_k - y_l):
            # -2 U' to both. Second derivatives: -2 U'' and +2 U'' off the
            # diagonal, +2 U'' on both diagonal entries.
            by_row = slope.sum(axis=2)  # (2, rows)
            by_column = slope.sum(axis=1)  # (2, columns)
            grad[start:end] -= 2.0 * (by_row[0] + by_row[1])
            grad[start:] += 2.0 * (by_column[0] - by_column[1])
            total[start:end] += by_row[0] + by_row[1]
            total[start:] += by_column[0] + by_column[1]
            diagonal[start:end] += 2.0 * curv.sum(axis=(0, 2))
            diagonal[start:] += 2.0 * curv.sum(axis=(0, 1))
            block = hessian[start:end, start:]
            np.subtract(curv[1], curv[0], out=block)
            block *= 2.0
        for diff, weight, dd in self._singles(y):
            value, slope, curv = self.utility.derivatives(diff)
            objective += weight * float(np.sum(value))
            grad += weight * dd * slope
            total += 0.5 * weight * abs(dd) * slope
            diagonal += weight * dd * dd * curv
        hessian[np.diag_indices(m)] = diagonal
        scale = max(TINY_SCALE, 2.0 * float(np.max(total)))
        return Evaluation(objective, grad, hessian, scale)

    def _evaluate_packed(self, y: np.ndarray) -> Evaluation:
        # The same sums as ``evaluate`` over one packed array of the pairs
        # k < l and the single terms, without the unused half of a square
        # block: at small m the cost is in the number of array operations,
        # not in cache misses. Row and column sums go through dense
        # matrices, which numpy fills and sums faster than it runs bincount.
        m, odd = self.size, self.n % 2
        rows, cols, flat = _packed_pairs(m)
        count = len(rows)
        pairs = np.empty(2 * count + (1 + odd) * m)
        yk, yl = y[rows], y[cols]
        np.subtract(yl, yk, out=pairs[:count])
        np.subtract(1.0 - yk, yl, out=pairs[count : 2 * count])
        ends = pairs[2 * count :].reshape(1 + odd, m)
        np.subtract(1.0, 2.0 * y, out=ends[0])  # U(1 - 2 y_k), weight 1
        if odd:
            np.subtract(0.5, y, out=ends[1])  # U(1/2 - y_k), weight 2
        value, slope, curv = self.utility.derivatives(pairs)
        objective = 2.0 * float(np.sum(value[: 2 * count]))
        objective += float(np.sum(value[2 * count :][:m])) + 2.0 * float(
            np.sum(value[2 * count + m :])
        )
        dense = np.zeros((2, m, m))
        packed = dense.reshape(2, m * m)
        packed[0, flat] = slope[:count]  # within the better half
        packed[1, flat] = slope[count : 2 * count]  # across the halves
        by_row = dense.sum(axis=2)
        by_column = dense.sum(axis=1)
        grad = 2.0 * (by_column[0] - by_column[1] - by_row[0] - by_row[1])
        total = by_row[0] + by_row[1] + by_column[0] + by_column[1]
        # The single terms: d/dy of U(1 - 2 y) is -2 U', of 2 U(1/2 - y) -2 U'.
        end_slope = slope[2 * count :].reshape(1 + odd, m)
        grad -= 2.0 * end_slope.sum(axis=0)
        total += end_slope.sum(axis=0)
        scale = max(TINY_SCALE, 2.0 * float(np.max(total)))

        def build_hessian() -> np.ndarray:
            hessian = np.zeros((m, m))  # upper triangle only
            flat_view = hessian.reshape(m * m)
            flat_view[flat] = curv[:count] + curv[count : 2 * count]
            diagonal = 2.0 * (hessian.sum(axis=1) + hessian.sum(axis=0))
            flat_view[flat] = 2.0 * (curv[count : 2 * count] - curv[:count])
            end_curv = curv[2 * count :].reshape(1 + odd, m)
            diagonal += 4.0 * end_curv[0]
            if odd:
                diagonal += 2.0 * end_curv[1]
            np.fill_diagonal(hessian, diagonal)
            return hessian

        return Evaluation(objective, grad, scale=scale, build_hessian=build_hessian)

    def _objective(self, y: np.ndarray) -> float:
        U = self.utility.value
        total = 0.0
        for _, pairs, lower in self._blocks(y):
            values = U(pairs)
            np.copyto(values[:, :, : lower.shape[0]], 0.0, where=lower)
            total += 2.0 * float(np.sum(values))
        for diff, weight, _ in self._singles(y):
            total += weight * float(np.sum(U(diff)))
        return total


@functools.lru_cache(maxsize=4)
def _packed_pairs(m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Row, column and flat (row-major) indices of the pairs k < l of m
    # variables; read-only, as they are shared.
    rows, cols = np.triu_indices(m, k=1)
    flat = rows * m + cols
    for array in (rows, cols, flat):
        array.flags.writeable = False
    return rows, cols, flat


@functools.lru_cache(maxsize=8)
def _lower_mask(size: int) -> np.ndarray:
    # Entries (i, j) of a square block with j <= i; read-only, as it is shared.
    mask = np.tril(np.ones((size, size), dtype=bool))
    mask.flags.writeable = False
    return mask


def _step_limit(utility: Utility, diff: np.ndarray, change: np.ndarray) -> float:
    # The largest step a <= 1 along which no positive difference above the
    # continuation point shrinks below KEEP_FRACTION of itself. Newton's
    # quadratic model of log t, t^g or -t^(-g) is poor near 0, so a full step
    # can overshoot a gap far below its optimum, or onto the tangent line.
    # There the curvature is zero, and later Newton steps grow the gap back
    # only geometrically.
    t0 = utility.continuation_point
    if t0 <= 0.0:
        return 1.0
    shrinking = (diff > t0 / KEEP_FRACTION) & (change < 0.0)
    if not shrinking.any():
        return 1.0
    limits = (1.0 - KEEP_FRACTION) * diff[shrinking] / -change[shrinking]
    return float(min(1.0, np.min(limits)))


def _start_from_limit(utility: Utility, n: int, count: int) -> np.ndarray:
    # Quantiles of the large-n law put a start close to the optimum, so the
    # Newton iterations are few even at large n. Without a closed-form law
    # the start is an even spread. The result is y = 1 - r for the ``count``
    # best responses, best first, computed as lower quantiles so that the
    # smallest distances keep their precision. The start only sets how fast
    # the solver converges, never where to; the two rules below are
    # empirical fits that took the fewest Newton iterations over the
    # built-in families at n = 20 to 3,000.
    #
    # Response k sits at position (k + delta) / (n - 1 + 2 delta), with the
    # best one moved onto the bound, and delta = (1 - a) / 2 for a Beta(a, a)
    # law: the optimum's first gaps sit at offsets of about 0.39 (a = 1/4),
    # 0.22 (a = 1/2) and -0.1 (a = 3/4) from the law's quantiles k / n.
    #
    # -t^(-g) with 1 <= g < 2 tends to the uniform law only slowly (at g = 1
    # a Beta fit to the optimum has a = 0.75 at n = 200 and 0.91 at n =
    # 3,000), so its start is Beta(a, a) with a = 0.8 + 0.1 g, and delta 0.
    family = closed_form_family(utility)
    if family is None or family[0] == "two-point":
        a = 1.0
    elif family[0] == "uniform":
        a = min(1.0, 0.8 + 0.1 * utility.exponent)
    else:
        a = family[1]
    delta = 0.0 if family is not None and family[0] == "uniform" else 0.5 * (1.0 - a)
    positions = (np.arange(count) + delta) / (n - 1 + 2.0 * delta)
    positions = np.clip(positions, 0.0, 1.0)
    if family is not None and family[0] == "two-point":
        y = closed_form_quantiles(utility, positions)
    elif family is not None:
        y = _beta_lower_quantiles(a, positions)
    else:
        y = positions
    y[0] = 0.0  # the best response of any optimum gets exactly 1
    return np.clip(y, 0.0, 1.0)


def _beta_lower_quantiles(a: float, positions: np.ndarray) -> np.ndarray:
    # Quantiles of Beta(a, a) at positions in [0, 1/2], from a table built
    # once per a: scipy's betaincinv costs about 1 us per entry, more than
    # the rest of a small solve. The table lists s = (2 y)^a against the CDF
    # F(y). Near 0, F is close to proportional to y^a, so s is close to
    # linear in F, and linear interpolation keeps a relative error below
    # about 3e-6 (measured over a = 0.05 to 1), plenty for a start.
    cdf, s = _beta_table(a)
    return 0.5 * np.interp(positions, cdf, s) ** (1.0 / a)


@functools.lru_cache(maxsize=16)
def _beta_table(a: float) -> tuple[np.ndarray, np.ndarray]:
    s = np.linspace(0.0, 1.0, 4097)
    cdf = scipy.special.betainc(a, a, 0.5 * s ** (1.0 / a))
    return cdf, s


def _layered_start(n: int, better: np.ndarray, worse: np.ndarray) -> np.ndarray:
    # Rewards spread by layers: a response's layer is the length of the
    # longest chain of edges below it, so every edge of an acyclic graph
    # starts with a positive difference, clear of the tangent line. The
    # responses of one cycle (a strongly connected component) share a layer.
    graph = scipy.sparse.coo_matrix(
        (np.ones(len(better)), (better, worse)), shape=(n, n)
    ).tocsr()
    count, component = scipy.sparse.csgraph.connected_components(
        graph, directed=True, connection="strong"
    )
    # The graph of the components, with its edges between components only.
    a, b = component[better], component[worse]
    keep = a != b
    condensed = scipy.sparse.coo_matrix(
        (np.ones(int(keep.sum())), (b[keep], a[keep])), shape=(count, count)
    ).tocsr()  # reversed: from worse to better
    condensed.sum_duplicates()
    # Kahn's order from the sinks (responses preferred to nothing) upwards.
    indptr, indices = condensed.indptr, condensed.indices
    pending = np.bincount(indices, minlength=count)  # worse ones left to place
    layer = np.zeros(count)
    ready = list(np.flatnonzero(pending == 0))
    while ready:
        node = ready.pop()
        above = indices[indptr[node] : indptr[node + 1]]
        np.maximum.at(layer, above, layer[node] + 1.0)
        np.subtract.at(pending, above, 1)
        ready.extend(above[pending[above] == 0].tolist())
    top = layer.max()
    if top == 0:
        return np.full(n, 0.5)
    return layer[component] / top

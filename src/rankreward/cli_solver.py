"""The ``solve`` and ``limit`` commands: optimal rewards and their large-n law."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings

import numpy as np

from rankreward.limits import limit_law
from rankreward.utilities import UtilitySpecError, parse_utility

QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
# Largest sizes the dense solvers take here: a full ranking's Hessian is
# (n/2)^2 floats and a graph's pair matrices are n^2 floats, several at once.
MAX_RANKING_N = 20_000
MAX_GRAPH_N = 5_000
# A continuation point above this is within reach of an optimum's gaps at
# the n people solve for (gaps of a spread law are about 1/n).
LARGE_CONTINUATION = 1e-5


def add_solver_commands(commands, error_type) -> None:
    """Add ``solve`` and ``limit`` to the CLI's subcommands."""
    solve = commands.add_parser(
        "solve",
        help="print the optimal rewards of a full ranking or a preference graph",
        description="Maximise sum over edges (i, j) of U(r_i - r_j) over rewards in "
        "[0, 1]: the rewards every prompt with this comparison structure gets once "
        "a reward model fits its training set.",
    )
    solve.add_argument("--utility", required=True, help="utility spec, such as log")
    source = solve.add_mutually_exclusive_group(required=True)
    source.add_argument("--n", type=int, help="responses in one full ranking")
    source.add_argument(
        "--graph",
        help="JSON file {'n': N, 'edges': [[better, worse], ...]} (0-based), or one "
        "ranking record with responses and optional ranks or scores",
    )
    solve.add_argument("--json", action="store_true", help="print JSON")
    solve.add_argument("--plot", help="PNG file: the rewards against the limit law")
    solve.epilog = (
        "Exit code 0 when the solver converged, 1 when it stopped first (the "
        "rewards are then its last iterate), 2 for bad input."
    )
    solve.set_defaults(handler=lambda args: _run_solve(args, error_type))

    limit = commands.add_parser(
        "limit",
        help="print the large-n law of a full ranking's optimal rewards",
        description="The law on [0, 1] that the optimal rewards of a full ranking "
        "of n responses approach as n grows: a closed form where one is known, "
        "else the solver's optimum at a large n.",
    )
    limit.add_argument("--utility", required=True, help="utility spec, such as log")
    limit.add_argument("--json", action="store_true", help="print JSON")
    limit.add_argument("--plot", help="PNG file: the law's density and CDF")
    limit.set_defaults(handler=lambda args: _run_limit(args, error_type))


def _utility(spec, error_type):
    try:
        return parse_utility(spec)
    except UtilitySpecError as error:
        raise error_type(str(error)) from error


def _run_solve(args: argparse.Namespace, error_type) -> int:
    from rankreward.graph_file import GraphFileError, read_graph_file
    from rankreward.solver import (
        SolverConvergenceWarning,
        solve_graph,
        solve_ranking,
    )

    utility = _utility(args.utility, error_type)
    if args.plot is not None:
        _check_plot_path(args.plot, error_type)
    if args.graph is not None:
        try:
            graph = read_graph_file(args.graph)
        except GraphFileError as error:
            raise error_type(str(error)) from error
        if graph.n > MAX_GRAPH_N:
            raise error_type(
                f"{args.graph}: n={graph.n} is above the {MAX_GRAPH_N} responses "
                "the dense graph solver takes; split the graph"
            )
        n = graph.n
        solve = lambda: solve_graph(utility, n, graph.edges, graph.weights)  # noqa: E731
    else:
        if not 2 <= args.n <= MAX_RANKING_N:
            raise error_type(f"--n must be between 2 and {MAX_RANKING_N}, got {args.n}")
        n = args.n
        solve = lambda: solve_ranking(utility, n)  # noqa: E731
    with warnings.catch_warnings():
        # Reported below, as one line, from the result's flag.
        warnings.simplefilter("ignore", SolverConvergenceWarning)
        result = solve()

    if args.json:
        print(
            json.dumps(
                {
                    "utility": utility.spec,
                    "n": n,
                    "rewards": [float(r) for r in result.rewards],
                    "objective": _finite_or_none(result.objective),
                    "converged": result.converged,
                    "iterations": result.iterations,
                    "residual": _finite_or_none(result.residual),
                    "tangent_pairs": result.tangent_pairs,
                },
                allow_nan=False,
            )
        )
    else:
        order = "best first" if args.graph is None else "in the order of the responses"
        print(
            f"utility {utility.spec}, n={n}: objective {result.objective:.10g}, "
            f"converged {result.converged} after {result.iterations} iterations, "
            f"residual {result.residual:.2g}"
        )
        print(f"rewards ({order}):")
        print(" ".join(f"{r:.6f}" for r in result.rewards))
        if result.tangent_pairs:
            print(
                f"note: {result.tangent_pairs} pairs end less than "
                f"{utility.continuation_point:.3g} apart, where {utility.spec} "
                "continues as its tangent line; these rewards maximise that "
                "continued function, which training maximises too"
            )
    if args.plot:
        _plot(
            result.rewards,
            utility,
            args.plot,
            f"optimal rewards, {utility.spec}, n={n}",
            error_type,
        )
    if not result.converged:
        print(
            f"rankreward: the solver stopped after {result.iterations} iterations "
            f"with KKT residual {result.residual:.3g}, above its tolerance; the "
            "rewards above are its last iterate",
            file=sys.stderr,
        )
        return 1
    return 0


def _run_limit(args: argparse.Namespace, error_type) -> int:
    utility = _utility(args.utility, error_type)
    if args.plot is not None:
        _check_plot_path(args.plot, error_type)
    law = limit_law(utility)
    dist = law.distribution
    summary = {
        "utility": utility.spec,
        "family": law.family,
        "parameters": law.parameters,
        "numerical": law.numerical,
        "mean": float(dist.mean()),
        "variance": float(dist.var()),
        "quantiles": {f"{q:g}": float(dist.ppf(q)) for q in QUANTILES},
        "continuation_point": max(0.0, utility.continuation_point),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"utility {utility.spec}: {law.describe()}")
        print(f"mean {summary['mean']:.6f}, variance {summary['variance']:.6f}")
        print(
            "quantiles: "
            + ", ".join(f"{q}: {v:.6f}" for q, v in summary["quantiles"].items())
        )
        if summary["continuation_point"] > LARGE_CONTINUATION:
            print(
                f"note: {utility.spec} continues as its tangent line below "
                f"{summary['continuation_point']:.3g}; optima whose gaps fall "
                "below that (large n) follow the continued function, not this law"
            )
    if args.plot:
        _plot(None, utility, args.plot, f"limit law of {utility.spec}", error_type)
    return 0


def _finite_or_none(value: float) -> float | None:
    # JSON has no NaN or infinity; an overflowing objective prints as null.
    return float(value) if math.isfinite(value) else None


def _check_plot_path(path: str, error_type) -> None:
    # Checked before solving, so a long solve is not lost to a typo.
    if not path:
        raise error_type("--plot needs a file name such as rewards.png")
    if os.path.isdir(path):
        raise error_type(f"--plot {path} is a folder; give a file name such as a.png")
    if not path.lower().endswith(".png"):
        raise error_type(f"--plot {path}: the plot is a PNG file; end the name in .png")
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise error_type(
            f"--plot {path}: the folder {folder} does not exist; create it first"
        )
    if not os.access(folder, os.W_OK):
        raise error_type(f"--plot {path}: the folder {folder} is not writable")


def _plot(rewards, utility, path, title, error_type) -> None:
    from rankreward.plots import plot_against_limit

    law = limit_law(utility)
    values = None if rewards is None else np.asarray(rewards, dtype=float)
    if values is not None and not all(math.isfinite(v) for v in values):
        values = values[np.isfinite(values)]
    try:
        plot_against_limit(values, law, path, title)
    except OSError as error:
        raise error_type(f"--plot {path}: cannot write the file: {error}") from error

"""Figures of reward profiles: reward against response index, per group."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rankreward.diagnostics import GroupProfile

GROUP_COLOURS = {"open": "tab:blue", "closed": "tab:orange"}


@dataclass(frozen=True)
class ProfilePanel:
    """One panel: a title, each group's profile and each group's prediction."""

    title: str
    profiles: Mapping[str, GroupProfile]
    predictions: Mapping[str, np.ndarray]  # worst to best, per group


def plot_profile_panels(
    panels: Sequence[ProfilePanel], path: str | os.PathLike
) -> None:
    """Draw one panel per run and save the figure as PNG (atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = len(panels)
    fig, axes = plt.subplots(1, columns, figsize=(3.2 * columns, 3.4), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, panel in zip(axes, panels, strict=True):
        for group, profile in panel.profiles.items():
            colour = GROUP_COLOURS.get(group)
            x = np.arange(1, profile.rewards.shape[1] + 1)
            low, high = profile.band()
            ax.fill_between(x, low, high, color=colour, alpha=0.2, linewidth=0)
            ax.plot(
                x,
                profile.mean,
                marker="o",
                markersize=3,
                color=colour,
                label=f"{group}-ended (n={len(profile.rewards)})",
            )
        if _plot_predictions(ax, panel.predictions) and ax is not axes[0]:
            ax.legend(fontsize=7, loc="upper left")
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel("response index (1 = worst)")
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("reward")
    axes[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()

    tmp = f"{os.fspath(path)}.tmp.png"
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)


def _plot_predictions(ax, predictions: Mapping[str, np.ndarray]) -> bool:
    # One black dashed line when every group shares the prediction (a fixed
    # utility), else one dashed line per group in that group's colour.
    # Returns whether the lines differ by group, which the legend must show.
    values = list(predictions.values())
    shared = all(np.allclose(v, values[0]) for v in values)
    if shared:
        x = np.arange(1, len(values[0]) + 1)
        ax.plot(x, values[0], "--", color="black", linewidth=1.2, label="solver")
        return False
    for group, prediction in predictions.items():
        x = np.arange(1, len(prediction) + 1)
        ax.plot(
            x,
            prediction,
            "--",
            color=GROUP_COLOURS.get(group),
            linewidth=1.2,
            label=f"solver ({group})",
        )
    return True


def plot_against_limit(rewards, law, path: str | os.PathLike, title: str) -> None:
    """Draw rewards (or none) against a limit law: density and CDF, as PNG.

    ``rewards`` may be None to draw the law alone. The left panel is a
    histogram against the density for a continuous law, or the masses for
    a discrete one; the right panel is the empirical CDF against the law's.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(8.0, 3.4))
    grid = np.linspace(0.0, 1.0, 801)
    discrete = law.family in ("two-point", "empirical")
    if rewards is not None:
        left.hist(
            rewards,
            bins=min(50, max(5, len(rewards) // 10)),
            range=(0, 1),
            density=True,
            color="tab:blue",
            alpha=0.5,
            label=f"optimum, n={len(rewards)}",
        )
        ordered = np.sort(rewards)
        right.step(
            ordered,
            np.arange(1, len(ordered) + 1) / len(ordered),
            where="post",
            color="tab:blue",
            label=f"optimum, n={len(rewards)}",
        )
    if discrete:
        points = np.asarray(law.distribution.xk)  # the atoms of an rv_discrete
        left.vlines(
            points,
            0,
            law.distribution.pmf(points),
            color="black",
            label=f"limit: {law.describe()}",
        )
    else:
        left.plot(
            grid[1:-1],
            law.distribution.pdf(grid[1:-1]),
            "k--",
            label=f"limit: {law.describe()}",
        )
    right.plot(grid, law.distribution.cdf(grid), "k--", label="limit")
    left.set_xlabel("reward")
    left.set_ylabel("density" if not discrete else "mass")
    right.set_xlabel("reward")
    right.set_ylabel("cumulative share")
    left.legend(fontsize=7)
    right.legend(fontsize=7, loc="upper left")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    tmp = f"{os.fspath(path)}.tmp.png"
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)

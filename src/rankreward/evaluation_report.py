"""The files ``rankreward evaluate`` writes: report.json, report.md, profiles.png."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rankreward.evaluation_metrics import (
    PromptResult,
    accuracy_summary,
    between_group_w1,
    prediction_summary,
    profiles,
    tau_summary,
)
from rankreward.plots import GROUP_COLOURS
from rankreward.report import write_json_atomic

# Panels in profiles.png: the sizes (numbers of responses) with the most
# prompts. The report lists every size.
MAX_PANELS = 6
PREVIEW_CHARS = 100

DEFINITIONS = {
    "pairwise_accuracy": "sum over edges of w * c / sum of w, where c is 1 when the "
    "better response has the higher raw score, 1/2 on a tie and 0 otherwise",
    "kendall_tau": "per prompt: Kendall's tau-b between the preference order and the "
    "raw scores when the edges are exactly the pairs that a ranking with ties "
    "orders (full rankings, scores, ranks); for any other graph, sum over edges of "
    "w * sign(better score - worse score) / sum of w; 0 when all scores are equal",
    "profiles": "per group and number of responses n: the mean and the 10th and 90th "
    "percentiles of the k-th smallest reward, k = 1..n",
    "between_group_w1": "1-Wasserstein distance between two groups' pooled rewards, "
    "within one number of responses (by_size) and over all sizes (pooled); near 0 "
    "means both groups got the same reward distribution (collapse)",
    "prediction_mae": "per prompt: mean absolute difference between its sorted "
    "rewards and the sorted solver optimum of its preference graph under its "
    "utility, averaged over prompts",
}


def build_report(
    *,
    groups,
    results: Sequence[PromptResult],
    read_report,
    reward_map,
    requested_map: str,
    model_info: dict,
    max_length: int,
    truncated_ties: int,
    utility_sources: dict,
    encoding: str = "pair",
) -> dict:
    """Assemble the JSON report of one evaluation."""
    accuracy = accuracy_summary(results)
    tau = tau_summary(results)
    w1 = between_group_w1(results)
    prediction = prediction_summary(results)
    profile_rows = [
        {
            "group": group,
            "responses": n,
            "prompts": len(block["profile"].rewards),
            "mean": _floats(block["profile"].mean),
            "p10": _floats(block["profile"].band()[0]),
            "p90": _floats(block["profile"].band()[1]),
            "prediction": (
                None if block["prediction"] is None else _floats(block["prediction"])
            ),
        }
        for (group, n), block in profiles(results).items()
    ]
    return {
        "model": model_info,
        "data": read_report.to_dict(),
        "reward_map": {
            "requested": requested_map,
            "name": reward_map.name,
            "formula": reward_map.formula,
            "logit_scale": reward_map.logit_scale,
            "reason": reward_map.reason,
        },
        "max_length": max_length,
        "encoding": encoding,
        "prompts_tied_by_truncation": truncated_ties,
        "utility_sources": utility_sources,
        "summary": {
            "prompts": len(results),
            "edges": accuracy["edges"],
            "rewards/accuracy": accuracy["value"],
            "rewards/kendall_tau": tau["mean"],
            "collapse/w1": w1["max_same_size"],
            "solver/mae": None if prediction is None else prediction["mean_mae"],
        },
        "pairwise_accuracy": accuracy,
        "kendall_tau": tau,
        "profiles": profile_rows,
        "between_group_w1": w1,
        "prediction": prediction,
        "definitions": DEFINITIONS,
        "prompts": [
            _prompt_entry(index, group, result)
            for index, (group, result) in enumerate(zip(groups, results, strict=True))
        ],
    }


def _prompt_entry(index: int, group, result: PromptResult) -> dict:
    return {
        "index": index,
        "source": group.source,
        "group": group.group,
        "prompt": _preview(group.prompt),
        "responses": len(result.scores),
        "edges": result.edges.tolist(),
        "weights": _floats(result.weights),
        "raw_scores": _floats(result.scores),
        "rewards": _floats(result.rewards),
        "accuracy": result.accuracy,
        "kendall_tau": result.kendall_tau,
        "tau_definition": result.tau_definition,
        "utility": result.utility,
        "optimum": None if result.optimum is None else _floats(result.optimum),
        "prediction_mae": result.prediction_mae,
    }


def _preview(content) -> str:
    # A conversation shows its last message, which the responses reply to.
    text = content if isinstance(content, str) else content[-1]["content"]
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 3] + "..."


def _floats(values) -> list[float]:
    return [float(v) for v in np.asarray(values).ravel()]


def write_reports(report: dict, results: Sequence[PromptResult], out) -> None:
    """Write report.json, report.md and profiles.png, each atomically."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plotted = plot_profiles(results, out / "profiles.png")
    report["plotted_sizes"] = plotted
    write_json_atomic(out / "report.json", report)
    write_text_atomic(out / "report.md", markdown_report(report))


def write_text_atomic(path: Path, text: str) -> None:
    """Write text to a temporary file in the same folder, then rename it.

    A reader sees the old file or the whole new one, never a part. The file
    gets the permissions the umask gives a new file, not the 0600 of a
    temporary file.
    """
    handle = tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    )
    try:
        with handle:
            handle.write(text)
        os.chmod(handle.name, 0o666 & ~_umask())
        os.replace(handle.name, path)
    except BaseException:
        os.unlink(handle.name)
        raise


def _umask() -> int:
    # os.umask can only be read by setting it, so it is set back at once.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def markdown_report(report: dict) -> str:
    """Return the Markdown summary of a report built by ``build_report``."""
    lines = _summary_lines(report)
    lines += _profile_lines(report["profiles"])
    lines += _w1_lines(report["between_group_w1"])
    lines += _prediction_lines(report["prediction"])

    tau = report["kendall_tau"]
    quantiles = ", ".join(f"{q}: {v:.3f}" for q, v in tau["quantiles"].items())
    lines += ["", f"Kendall tau quantiles: {quantiles}.", "", "## Definitions", ""]
    lines += [f"- {name}: {text}." for name, text in report["definitions"].items()]
    return "\n".join(lines) + "\n"


def _summary_lines(report: dict) -> list[str]:
    summary = report["summary"]
    data = report["data"]
    model = report["model"]
    reward_map = report["reward_map"]
    return [
        "# Reward model evaluation",
        "",
        f"Model: {model['path']} ({model['architecture']}, "
        f"{model['parameters'] / 1e6:.1f}M parameters). "
        f"Data: {data['source']}, {data['prompts']} prompts, {data['edges']} edges. "
        f"Rewards: {reward_map['name']}, {reward_map['formula']} "
        f"({reward_map['reason']}). Max length: {report['max_length']} tokens.",
        "",
        "| metric | value |",
        "|---|---|",
        f"| pairwise accuracy | {_number(summary['rewards/accuracy'])} |",
        f"| mean Kendall tau | {_number(summary['rewards/kendall_tau'])} |",
        f"| between-group W1, largest within one size | "
        f"{_number(summary['collapse/w1'])} |",
        f"| distance to the solver's prediction (mean MAE) | "
        f"{_number(summary['solver/mae'])} |",
    ]


def _profile_lines(rows: list[dict]) -> list[str]:
    lines = [
        "",
        "## Profiles (sorted rewards, smallest first)",
        "",
        "| group | responses | prompts | mean | 10% | 90% | solver |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        prediction = "" if row["prediction"] is None else _row(row["prediction"])
        lines.append(
            f"| {row['group']} | {row['responses']} | {row['prompts']} "
            f"| {_row(row['mean'])} | {_row(row['p10'])} | {_row(row['p90'])} "
            f"| {prediction} |"
        )
    return lines


def _w1_lines(w1: dict) -> list[str]:
    if not w1["by_size"] and not w1["pooled"]:
        return ["", "Between-group W1: the prompts form one group, so there is none."]
    lines = [
        "",
        "## Between-group W1",
        "",
        "| responses | groups | W1 |",
        "|---|---|---|",
    ]
    for pair in w1["by_size"]:
        lines.append(
            f"| {pair['responses']} | {' vs '.join(pair['groups'])} "
            f"| {pair['w1']:.4f} |"
        )
    for pair in w1["pooled"]:
        lines.append(f"| all | {' vs '.join(pair['groups'])} | {pair['w1']:.4f} |")
    return lines


def _prediction_lines(prediction: dict | None) -> list[str]:
    if prediction is None:
        return [
            "",
            "No prompt has a utility, so there is no solver prediction; give "
            "--utility.",
        ]
    lines = [
        "",
        "## Distance to the solver's prediction",
        "",
        "| group | prompts | mean MAE |",
        "|---|---|---|",
    ]
    for group, block in prediction["by_group"].items():
        lines.append(f"| {group} | {block['prompts']} | {block['mae']:.4f} |")
    utilities = ", ".join(f"{k} ({v})" for k, v in prediction["utilities"].items())
    lines += ["", f"Utilities (prompts): {utilities}."]
    if prediction["not_converged"]:
        lines.append(
            f"The solver did not converge on {prediction['not_converged']} "
            "prompts; their optimum is the last iterate."
        )
    return lines


def _number(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _row(values) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def plot_profiles(results: Sequence[PromptResult], path) -> list[int]:
    """Draw the profiles, one panel per size, as PNG; return the sizes drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    built = profiles(results)
    prompts_per_size: dict[int, int] = {}
    for (_, n), block in built.items():
        prompts_per_size[n] = prompts_per_size.get(n, 0) + len(block["profile"].rewards)
    sizes = sorted(prompts_per_size, key=lambda n: (-prompts_per_size[n], n))
    sizes = sorted(sizes[:MAX_PANELS])
    group_names = sorted({group for group, _ in built})
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colours = {
        g: GROUP_COLOURS.get(g, cycle[i % len(cycle)])
        for i, g in enumerate(group_names)
    }

    fig, axes = plt.subplots(
        1, len(sizes), figsize=(3.4 * len(sizes), 3.4), sharey=True, squeeze=False
    )
    for ax, n in zip(axes[0], sizes, strict=True):
        x = np.arange(1, n + 1)
        for (group, size), block in built.items():
            if size != n:
                continue
            profile = block["profile"]
            low, high = profile.band()
            colour = colours[group]
            ax.fill_between(x, low, high, color=colour, alpha=0.2, linewidth=0)
            ax.plot(
                x,
                profile.mean,
                marker="o",
                markersize=3,
                color=colour,
                label=f"{group} ({len(profile.rewards)})",
            )
            if block["prediction"] is not None:
                ax.plot(x, block["prediction"], "--", color=colour, linewidth=1.0)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"{n} responses", fontsize=10)
        ax.set_xlabel("sorted response (1 = lowest reward)")
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    axes[0][0].set_ylabel("reward (dashed: solver)")
    fig.tight_layout()

    handle = tempfile.NamedTemporaryFile(
        dir=Path(path).parent, prefix=".profiles.", suffix=".png", delete=False
    )
    handle.close()
    try:
        fig.savefig(handle.name, dpi=120)
        os.chmod(handle.name, 0o666 & ~_umask())
        os.replace(handle.name, path)
    except BaseException:
        if os.path.exists(handle.name):
            os.unlink(handle.name)
        raise
    finally:
        plt.close(fig)
    return sizes

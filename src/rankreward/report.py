"""Writing reports: JSON for machines, a short Markdown table for people."""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_json_atomic(path: str | os.PathLike, data) -> None:
    """Write JSON to a temporary file, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _utility_text(utility) -> str:
    if isinstance(utility, dict):
        return ", ".join(f"{kind}: `{spec}`" for kind, spec in sorted(utility.items()))
    return f"`{utility}`"


def write_markdown_report(report: dict, path: str | os.PathLike) -> None:
    """Write the runs of a ``reproduce`` report as one Markdown table."""
    data = report["data"]
    model = report.get("model") or {}
    settings = report["settings"]
    lines = [
        "# Reward collapse: held-out reward profiles",
        "",
        f"Model: {model.get('name_or_path')}, {settings['num_layers'] or 'all'} layers "
        f"({model.get('parameters', 0) / 1e6:.1f}M parameters). "
        f"Data: {data['num_train']} training and {data['num_eval']} held-out prompts "
        f"({data['eval_kinds']['open']} open-ended, {data['eval_kinds']['closed']} "
        f"closed-ended), 8 prefixes each; "
        f"open lengths {data['open_prefix_words']} words, "
        f"closed lengths {data['closed_prefix_words']} words. "
        f"{settings['max_steps']} steps of {settings['prompts_per_step']} prompts, "
        f"learning rate {settings['learning_rate']:g}, reward = "
        f"sigmoid({settings['logit_scale']:g} * logit). "
        f"Wall time {report['wall_seconds']:.0f} s.",
        "",
        "| run | utility | between-kind W1 | prediction MAE | pairwise accuracy "
        "| Kendall tau | open profile (worst to best) | closed profile |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, run in report["runs"].items():
        profiles = {
            kind: " ".join(f"{v:.2f}" for v in block["profile"])
            for kind, block in run["kinds"].items()
        }
        lines.append(
            f"| {name} | {_utility_text(run['utility'])} "
            f"| {run['between_kind_w1']:.3f} "
            f"| {run['prediction_mae']:.3f} | {run['pairwise_accuracy']:.3f} "
            f"| {run['kendall_tau']:.3f} | {profiles.get('open', '')} "
            f"| {profiles.get('closed', '')} |"
        )
    lines += [
        "",
        "Between-kind W1 is the 1-Wasserstein distance between the pooled rewards "
        "of open-ended and closed-ended prompts: near 0 means both kinds got one "
        "distribution (collapse). Prediction MAE is the mean absolute gap between "
        "each kind's mean profile and the solver's optimum for that kind's utility.",
        "",
    ]
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    os.replace(tmp, path)

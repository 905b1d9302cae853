"""The per-run summary, data summary and figure of ``rankreward reproduce``.

Every reward array in a summary runs worst to best (index 1 is the worst
response), the way profiles are drawn, while records and the solver list
responses best first.
"""

from __future__ import annotations

import numpy as np

from rankreward import diagnostics
from rankreward.plots import ProfilePanel, plot_profile_panels
from rankreward.solver import solve_ranking
from rankreward.sotu_data import scaled_lengths

KINDS = ("open", "closed")
REWARD_ORDER = "worst to best: index 1 is the worst response"


class TrainingDivergedError(RuntimeError):
    """A run whose held-out rewards are not finite numbers."""


def full_ranking_edges(k: int) -> list[list[int]]:
    """Return all k(k-1)/2 (better, worse) pairs of k responses listed best first."""
    return [[i, j] for i in range(k) for j in range(i + 1, k)]


def summarise_run(name, kind_utilities, rewards, held_out, train_output) -> dict:
    """Summarise one run's held-out rewards (each best first) by prompt kind."""
    if not all(np.all(np.isfinite(r)) for r in rewards):
        raise TrainingDivergedError(
            f"run {name!r} diverged: its held-out rewards are not finite; "
            "lower --learning-rate or --logit-scale"
        )
    kinds = [r["kind"] for r in held_out]
    profiles = diagnostics.group_profiles(rewards, kinds)
    k = len(rewards[0])
    per_kind = {}
    gaps = []
    for kind in KINDS:
        if kind not in profiles:
            continue
        prediction = solve_ranking(kind_utilities[kind], k).rewards[::-1]
        profile = profiles[kind]
        low, high = profile.band()
        gaps.append(np.abs(profile.mean - prediction))
        per_kind[kind] = {
            "utility": kind_utilities[kind],
            "num_prompts": int(profile.rewards.shape[0]),
            "prompt_ids": [r["id"] for r in held_out if r["kind"] == kind],
            "profile": _rounded(profile.mean),
            "band_p10": _rounded(low),
            "band_p90": _rounded(high),
            "prediction": _rounded(prediction),
            "prediction_mae": round(
                diagnostics.prediction_mae(profile.mean, prediction), 4
            ),
            "rewards": [_rounded(row) for row in profile.rewards],
        }
    specs = set(kind_utilities.values())
    edges = [full_ranking_edges(len(r)) for r in rewards]
    return {
        "utility": next(iter(specs)) if len(specs) == 1 else dict(kind_utilities),
        "kinds": per_kind,
        "between_kind_w1": round(diagnostics.between_group_w1(profiles, *KINDS), 4),
        "prediction_mae": round(float(np.mean(np.concatenate(gaps))), 4),
        "pairwise_accuracy": round(diagnostics.pairwise_accuracy(rewards, edges), 4),
        "kendall_tau": round(diagnostics.mean_kendall_tau(rewards), 4),
        "train_loss": round(float(train_output.training_loss), 6),
        "train_seconds": round(
            float(train_output.metrics.get("train_runtime", 0.0)), 1
        ),
    }


def summarise_data(config, held_out, out) -> dict:
    kinds = [r["kind"] for r in held_out]
    return {
        "source": "sotu package: State of the Union paragraphs of 100+ words",
        "num_train": config.num_train,
        "num_eval": config.num_eval,
        "eval_kinds": {kind: kinds.count(kind) for kind in KINDS},
        "responses_per_prompt": 8,
        "length_scale": config.length_scale,
        "open_prefix_words": list(scaled_lengths("open", config.length_scale)),
        "closed_prefix_words": list(scaled_lengths("closed", config.length_scale)),
        "train_file": str(out / "data" / "train.jsonl"),
        "eval_file": str(out / "data" / "eval.jsonl"),
    }


def plot_report(report, path) -> None:
    """Draw one profile panel per run of a report."""
    panels = []
    for name, run in report["runs"].items():
        profiles = {
            kind: diagnostics.GroupProfile(np.asarray(block["rewards"]))
            for kind, block in run["kinds"].items()
        }
        predictions = {
            kind: np.asarray(block["prediction"])
            for kind, block in run["kinds"].items()
        }
        title = (
            f"{name}\nW1 {run['between_kind_w1']:.3f}, MAE {run['prediction_mae']:.3f}"
        )
        panels.append(ProfilePanel(title, profiles, predictions))
    plot_profile_panels(panels, path)


def _rounded(values) -> list[float]:
    return [round(float(v), 5) for v in values]

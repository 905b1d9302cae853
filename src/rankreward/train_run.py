"""``rankreward train``: a reward model from the user's own data and model.

The data is read into one preference group per prompt
(``rankreward.preference_data``), each group is tokenized once as
(prompt, response) pairs with the package's truncation policy
(``rankreward.collator.tokenize_ranking``), and ``RankingTrainer`` trains
with the utility of each prompt. The output folder ends with a model that
``AutoModelForSequenceClassification.from_pretrained`` loads (safetensors),
its tokenizer, ``rankreward.json`` with the settings that scoring needs to
read rewards the same way, and ``train_summary.json`` with what was read and
how training went.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from rankreward.model import REWARD_SETTINGS_FILE, RewardHead, load_reward_model
from rankreward.report import write_json_atomic
from rankreward.train_config import TrainConfigError, TrainOptions

logger = logging.getLogger("rankreward")

TRUNCATION_POLICY = (
    "prompt cut from the left; a response longer than 3/4 of max_length keeps "
    "its first tokens"
)
SUMMARY_FILE = "train_summary.json"


def run_train(options: TrainOptions, training_args) -> dict:
    """Train, save the model into ``training_args.output_dir``, return a summary."""
    from rankreward.collator import RankingCollator
    from rankreward.loss import RankingLoss
    from rankreward.trainer import RankingTrainer

    train_groups, train_report = _read(options, options.data)
    eval_groups, eval_report = (
        _read(options, options.eval_data) if options.eval_data else (None, None)
    )
    utilities = sorted(
        {g.utility or options.utility for g in train_groups + (eval_groups or [])}
    )
    logger.info(
        "read %d prompts, %d responses and %d edges from %s; utilities %s",
        train_report.prompts,
        train_report.responses,
        train_report.edges,
        options.data,
        ", ".join(utilities),
    )
    for reason, where in train_report.dropped.items():
        logger.info("dropped %d records (%s)", len(where), reason)
    logger.info(
        "%d tied pairs gave no edge, %d repeated pairs were merged into edge "
        "weights, %d pairs contradict another (both kept)",
        train_report.ties,
        train_report.duplicate_edges,
        train_report.contradictions,
    )

    model, tokenizer = load_reward_model(
        options.model,
        num_layers=options.num_layers,
        dropout=options.dropout,
        trust_remote_code=options.trust_remote_code,
    )
    _ensure_padding(model, tokenizer)
    train_dataset, train_cut = _tokenize(options, tokenizer, train_groups, utilities)
    eval_dataset, eval_cut = (
        _tokenize(options, tokenizer, eval_groups, utilities)
        if eval_groups
        else (None, None)
    )
    if options.lora:
        model = _with_lora(model, options)
    head = RewardHead(options.logit_scale, bounded=options.rewards == "bounded")
    trainer = RankingTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=RankingCollator(tokenizer.pad_token_id),
        loss_fn=RankingLoss(utilities),
        reward_head=head,
    )
    outcome = trainer.train(resume_from_checkpoint=_checkpoint(options, training_args))
    metrics = dict(outcome.metrics)
    if eval_dataset is not None:
        metrics.update(trainer.evaluate())

    summary = {
        "data": train_report.to_dict(),
        "eval_data": eval_report.to_dict() if eval_report else None,
        "utilities": utilities,
        "identical_after_truncation": {"train": train_cut, "eval": eval_cut},
        "metrics": metrics,
    }
    if trainer.is_world_process_zero():
        final = trainer.model.merge_and_unload() if options.lora else trainer.model
        _save(final, tokenizer, head, options, utilities, training_args.output_dir)
        write_json_atomic(Path(training_args.output_dir) / SUMMARY_FILE, summary)
    return summary


def _checkpoint(options: TrainOptions, training_args) -> str | None:
    # --resume takes the newest checkpoint-N folder that Trainer wrote whole:
    # Trainer writes trainer_state.json after the weights, optimizer and
    # random states, so a folder without it is one a kill cut short. Without
    # a whole checkpoint the run starts from the beginning.
    if training_args.resume_from_checkpoint or not options.resume:
        return training_args.resume_from_checkpoint
    folder = Path(training_args.output_dir)
    whole = [
        (int(path.name.split("-")[1]), path)
        for path in folder.glob("checkpoint-*")
        if path.name.split("-")[1].isdigit() and _is_whole(path)
    ]
    last = str(max(whole)[1]) if whole else None
    if last is None:
        logger.info("no checkpoint in %s; training from the start", folder)
    else:
        logger.info("resuming from %s", last)
    return last


def _is_whole(checkpoint: Path) -> bool:
    # The state file is written last and not atomically, so it must parse.
    try:
        json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def _read(options: TrainOptions, path: str):
    from rankreward.data_files import read_preferences

    return read_preferences(
        path,
        format=options.data_format,
        columns=options.column_map() or None,
        group_utilities=options.group_map() or None,
        split=options.split,
    )


def _ensure_padding(model, tokenizer) -> None:
    # Decoder tokenizers such as GPT-2's have no pad token, so their
    # end-of-text token pads. The model then reads each score at the last
    # token before the padding.
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token is None:
            raise TrainConfigError(
                f"the tokenizer of {model.name_or_path} has neither a pad nor an "
                "end-of-text token; set one with tokenizer.pad_token"
            )
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id


def _tokenize(options, tokenizer, groups, utilities):
    """Return the tokenized data set and what truncation made identical.

    Policy: an edge between two responses whose inputs are identical after
    truncation to ``max_length`` can teach nothing, because the model must
    give them one reward. Such an edge is dropped and counted, and so is a
    prompt left without edges.
    """
    from datasets import Dataset

    from rankreward.collator import tokenize_responses
    from rankreward.preference_chat import render_chat

    index = {spec: position for position, spec in enumerate(utilities)}
    examples = []
    counts = {"edges_dropped": 0, "prompts_dropped": 0}
    for group in groups:
        try:
            group = render_chat(group, tokenizer)
        except ValueError as error:
            raise TrainConfigError(f"{group.source}: {error}") from error
        example = {"source": group.source} | tokenize_responses(
            options.encoding,
            tokenizer,
            group.prompt,
            list(group.responses),
            group.edges,
            index[group.utility or options.utility],
            options.max_length,
            edge_weights=group.weights,
        )
        inputs = [tuple(ids) for ids in example["input_ids"]]
        kept = [
            position
            for position, (better, worse) in enumerate(example["edges"])
            if inputs[better] != inputs[worse]
        ]
        counts["edges_dropped"] += len(example["edges"]) - len(kept)
        if not kept:
            counts["prompts_dropped"] += 1
            continue
        example["edges"] = [example["edges"][k] for k in kept]
        example["edge_weights"] = [example["edge_weights"][k] for k in kept]
        examples.append(example)
    if counts["edges_dropped"]:
        logger.warning(
            "%d edges (%d whole prompts) dropped: their responses are identical "
            "after truncation to %d tokens; raise --max-length to keep them",
            counts["edges_dropped"],
            counts["prompts_dropped"],
            options.max_length,
        )
    if not examples:
        raise TrainConfigError(
            f"every prompt's responses are identical after truncation to "
            f"{options.max_length} tokens; raise --max-length"
        )
    return Dataset.from_list(examples), counts


def _with_lora(model, options: TrainOptions):
    try:
        from peft import LoraConfig, TaskType, get_peft_model
    except ImportError as error:
        raise TrainConfigError(
            "--lora needs peft: pip install 'rankreward[lora]'"
        ) from error
    targets = options.lora_target_modules
    if targets != "all-linear":
        targets = [name.strip() for name in targets.split(",")]
    config = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=options.lora_r,
        lora_alpha=options.lora_alpha,
        lora_dropout=options.lora_dropout,
        target_modules=targets,
    )
    try:
        return get_peft_model(model, config)
    except ValueError as error:
        raise TrainConfigError(
            f"--lora-target-modules {options.lora_target_modules}: {error}"
        ) from error


def _save(model, tokenizer, head: RewardHead, options, utilities, folder) -> None:
    # Into the output folder itself, next to any checkpoints, as a Trainer
    # user expects. Every file is written whole before it replaces an old one.
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # Written whole into a temporary folder first, then each file is renamed
    # into place, so a kill never leaves a half-written model that loads.
    staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=folder))
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        for path in staging.iterdir():
            os.replace(path, folder / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    settings = {
        "reward": head.formula,
        "bounded": head.bounded,
        "logit_scale": head.logit_scale,
        "utilities": utilities,
        "default_utility": options.utility,
        "group_field": options.group_field,
        "group_utilities": options.group_map(),
        "max_length": options.max_length,
        "encoding": options.encoding,
        "truncation": TRUNCATION_POLICY,
    }
    write_json_atomic(folder / REWARD_SETTINGS_FILE, settings)
    logger.info("saved the model to %s", os.fspath(folder))

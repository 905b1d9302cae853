"""Time reward-model training: rankreward's trainer, TRL's and a bare loop.

On the same ranked State of the Union prompts (K = 8 responses, best first,
all 28 pairs), from the same starting weights, with AdamW at the same
constant learning rate, the same gradient clipping (max norm 1) and the same
prompts per optimizer step, it trains three contenders:

- rankreward: ``RankingTrainer`` with ``RankingLoss(["logsigmoid:1"])`` on
  unbounded rewards, so the loss is Bradley-Terry. Each response is encoded
  once per step, which makes P * K sequences for P prompts.
- trl: ``trl.RewardTrainer`` on the rankings flattened into pairwise rows
  (prompt, chosen, rejected). A response is encoded once per pair that it
  appears in, which makes P * K * (K - 1) sequences.
- floor: a plain PyTorch loop (forward, loss, backward, clipping, AdamW) over
  the batches that rankreward's collator builds, in the same order, with
  nothing around it. Its batches are built before the clock starts, while
  the trainers load and collate theirs inside their timed steps.

Each contender's speed is in prompts per second over its training steps
after the first (a warm-up). Data preparation, model loading and trainer
construction are timed apart. After training, each model scores held-out
prompts and the table gives the fraction of ranked pairs that it orders
correctly.

Usage: python bench/train_throughput.py [--models minilm,tiny] [--prompts 48]
       python bench/train_throughput.py --quick
"""

from __future__ import annotations

import os

# Nothing may reach the Hugging Face hub: every model here is a local folder.
os.environ["HF_HUB_OFFLINE"] = "1"

import argparse  # noqa: E402
import datetime  # noqa: E402
import itertools  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from rankreward.sotu_data import OPEN_LENGTHS  # noqa: E402

MODELS = ("minilm", "tiny")
# NOTE: each contender runs once, in this order, so load from other processes
# during one run skews that contender alone. The median step column shows it.
CONTENDERS = ("rankreward", "trl", "floor")
# Transformers 5.25 defaults to this AdamW with torch 2.8 and later. Naming it
# keeps both trainers and the floor on one implementation.
OPTIMIZER = "adamw_torch_fused"
MAX_GRAD_NORM = 1.0
QUICK = dict(
    models="tiny",
    prompts=32,
    prompts_per_step=4,
    max_length=64,
    eval_prompts=8,
    length_scale=0.25,
)


@dataclass
class Settings:
    """Sizes and hyperparameters shared by every contender of one run."""

    prompts: int
    prompts_per_step: int
    max_length: int
    eval_prompts: int
    length_scale: float
    learning_rate: float
    seed: int
    trl_accumulation: int

    @property
    def steps(self) -> int:
        return self.prompts // self.prompts_per_step


@dataclass
class Outcome:
    """One contender's timings, batch sizes and held-out accuracy."""

    name: str
    setup_seconds: float  # tokenization, collation and trainer construction
    warmup_seconds: float  # from the call that starts training to step 1's end
    stamps: list[float]  # perf_counter at the end of each optimizer step
    sequences_per_step: float
    real_tokens_per_step: float
    padded_tokens_per_step: float
    accuracy: float = float("nan")
    weight_gap: float | None = None  # max |w - w_rankreward| after training

    @property
    def timed_steps(self) -> int:
        return len(self.stamps) - 1

    @property
    def timed_seconds(self) -> float:
        return self.stamps[-1] - self.stamps[0]

    @property
    def median_step_seconds(self) -> float:
        return float(np.median(np.diff(self.stamps)))


def parse_args(argv=None) -> tuple[list[str], Settings]:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--models",
        default=",".join(MODELS),
        help="comma-separated models to train: minilm (pretrained all-MiniLM-L6-v2, "
        "6 layers) and tiny (random BERT, 2 layers, hidden size 128)",
    )
    parser.add_argument("--prompts", type=int, default=48, help="training prompts")
    parser.add_argument(
        "--prompts-per-step",
        type=int,
        default=8,
        help="prompts per optimizer step, which must divide --prompts",
    )
    parser.add_argument(
        "--max-length",
        type=int,
        default=128,
        help="token limit of one (prompt, response) sequence",
    )
    parser.add_argument(
        "--eval-prompts", type=int, default=32, help="held-out prompts scored"
    )
    parser.add_argument(
        "--length-scale",
        type=float,
        default=0.6,
        help="factor on the prefix lengths in words. The run stops if any "
        "sequence would exceed --max-length",
    )
    parser.add_argument(
        "--learning-rate", type=float, default=1e-4, help="constant AdamW learning rate"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the data and of the weights"
    )
    parser.add_argument(
        "--trl-accumulation",
        type=int,
        default=1,
        help="gradient accumulation steps for TRL, which splits its "
        "prompts-per-step * K(K-1)/2 pairs into this many equal micro-batches. "
        "This saves memory, and on a CPU it can also make TRL faster",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads (None: torch's own choice). On cores "
        "shared with other work, 1 thread gives steadier times, because "
        "waiting OpenMP threads busy-wait on the cores that the other work needs",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the tiny model only, with small sizes as defaults: "
        + " ".join(f"{k}={v}" for k, v in QUICK.items()),
    )
    args = parser.parse_args(argv)
    if args.quick:
        # The quick sizes replace the defaults, and flags given still win.
        parser.set_defaults(**QUICK)
        args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(models) - set(MODELS))
    if unknown or not models:
        parser.error(f"--models must list some of {', '.join(MODELS)}, got {models}")
    settings = Settings(
        prompts=args.prompts,
        prompts_per_step=args.prompts_per_step,
        max_length=args.max_length,
        eval_prompts=args.eval_prompts,
        length_scale=args.length_scale,
        learning_rate=args.learning_rate,
        seed=args.seed,
        trl_accumulation=args.trl_accumulation,
    )
    if settings.prompts_per_step < 1 or settings.prompts % settings.prompts_per_step:
        parser.error(
            "--prompts-per-step must divide --prompts, got "
            f"{settings.prompts_per_step} and {settings.prompts}"
        )
    if settings.steps < 2:
        parser.error(
            f"--prompts must give at least 2 optimizer steps (one warm-up, one timed), "
            f"got {settings.steps}; raise --prompts or lower --prompts-per-step"
        )
    if settings.eval_prompts < 2:
        parser.error(f"--eval-prompts must be at least 2, got {settings.eval_prompts}")
    # Every built-in ranking has one response per prefix length.
    pairs_per_step = settings.prompts_per_step * len(ranking_edges(len(OPEN_LENGTHS)))
    if settings.trl_accumulation < 1 or pairs_per_step % settings.trl_accumulation:
        parser.error(
            f"--trl-accumulation must divide the {pairs_per_step} pairs of a step, "
            f"got {settings.trl_accumulation}"
        )
    return models, settings


def print_machine(settings: Settings, models: list[str]) -> None:
    import transformers
    import trl

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            names = [ln.split(":", 1)[1].strip() for ln in handle if "model name" in ln]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    print(f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(f"cpu: {cpu}, {os.cpu_count()} cores ({usable} usable by this process)")
    print(
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"transformers {transformers.__version__}, trl {trl.__version__}"
    )
    print(
        f"torch threads: {torch.get_num_threads()} intra-op, "
        f"{torch.get_num_interop_threads()} inter-op"
    )
    print(f"load average at start: {_load_average()}")
    print(
        f"settings: models={','.join(models)} prompts={settings.prompts} "
        f"prompts_per_step={settings.prompts_per_step} steps={settings.steps} "
        f"max_length={settings.max_length} eval_prompts={settings.eval_prompts} "
        f"length_scale={settings.length_scale:g} "
        f"learning_rate={settings.learning_rate:g} seed={settings.seed} "
        f"trl_accumulation={settings.trl_accumulation}"
    )
    print(
        f"shared: optimizer {OPTIMIZER} (weight decay 0), constant learning rate, "
        f"gradient clipping at norm {MAX_GRAD_NORM:g}, dropout 0, fp32, sequential "
        "data order, first step untimed"
    )


def _load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


# ---------------------------------------------------------------- models


def build_tiny_model(folder: str, seed: int) -> str:
    """Save a random 2-layer BERT (hidden size 128) with MiniLM's tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from rankreward.model import default_model_path

    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=512,
        max_position_embeddings=512,
        num_labels=1,
    )
    torch.manual_seed(seed)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def load_fresh(path: str, seed: int):
    """Load the model and tokenizer anew, seeding torch for a new head."""
    from rankreward.model import load_reward_model

    torch.manual_seed(seed)
    model, tokenizer = load_reward_model(path, num_layers=None, dropout=0.0)
    active = [
        name
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Dropout) and module.p > 0
    ]
    if active:
        raise RuntimeError(f"dropout is still active in {active[:3]} of {path}")
    return model, tokenizer


def check_same_start(model, reference: dict[str, torch.Tensor] | None):
    """Return a copy of the weights, or raise if they differ from ``reference``."""
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if reference is not None:
        differing = [k for k in reference if not torch.equal(reference[k], state[k])]
        if differing or reference.keys() != state.keys():
            raise RuntimeError(
                f"contenders start from different weights, for example {differing[:3]}"
            )
    return state


def max_weight_gap(model, reference: dict[str, torch.Tensor]) -> float:
    state = model.state_dict()
    return max(
        float((state[k].float() - v.float()).abs().max()) for k, v in reference.items()
    )


# ------------------------------------------------------------------ data


def ranking_edges(num_responses: int) -> list[tuple[int, int]]:
    """Return all pairs (better, worse) of a ranking listed best first."""
    return list(itertools.combinations(range(num_responses), 2))


def tokenize_pairs(tokenizer, records, max_length: int) -> list[dict]:
    """Tokenize records as (prompt, response) text pairs, rankreward's encoding."""
    from rankreward.collator import tokenize_ranking

    return [
        tokenize_ranking(
            tokenizer,
            r["prompt"],
            r["responses"],
            ranking_edges(len(r["responses"])),
            0,
            max_length,
        )
        for r in records
    ]


def tokenize_trl_style(tokenizer, records, max_length: int) -> list[dict]:
    """Tokenize records as prompt + response + EOS, the encoding TRL trains on."""
    from rankreward.collator import tokenize_concatenated

    return [
        tokenize_concatenated(
            tokenizer,
            r["prompt"],
            r["responses"],
            ranking_edges(len(r["responses"])),
            0,
            max_length,
        )
        for r in records
    ]


def check_untruncated(tokenizer, records, max_length: int) -> None:
    """Raise unless every sequence fits ``max_length`` in both encodings.

    rankreward truncates a sequence that is too long, and TRL drops the pair
    instead, so any such sequence would give the contenders different data.
    """
    eos = tokenizer.eos_token or tokenizer.sep_token
    longest_pair = longest_concat = 0
    for record in records:
        for response in record["responses"]:
            pair = len(tokenizer(record["prompt"], response)["input_ids"])
            concat = len(tokenizer(record["prompt"] + response + eos)["input_ids"])
            longest_pair = max(longest_pair, pair)
            longest_concat = max(longest_concat, concat)
    # tokenize_ranking also cuts a response longer than 3/4 of max_length.
    examples = tokenize_pairs(tokenizer, records, max_length)
    cut = sum(
        ids != tokenizer(record["prompt"], response)["input_ids"]
        for record, example in zip(records, examples, strict=True)
        for response, ids in zip(record["responses"], example["input_ids"], strict=True)
    )
    if max(longest_pair, longest_concat) > max_length or cut:
        raise SystemExit(
            f"error: sequences reach {longest_pair} tokens as text pairs and "
            f"{longest_concat} as prompt + response + EOS, and {cut} would be cut, "
            f"with --max-length {max_length}; lower --length-scale or raise "
            "--max-length so that no sequence is truncated or dropped"
        )


def pairwise_rows(records) -> list[dict]:
    """Flatten rankings into all their pairs, as TRL's prompt/chosen/rejected rows."""
    return [
        {
            "prompt": r["prompt"],
            "chosen": r["responses"][better],
            "rejected": r["responses"][worse],
        }
        for r in records
        for better, worse in ranking_edges(len(r["responses"]))
    ]


def batch_sizes(batches) -> tuple[float, float, float]:
    """Return the mean sequences, real tokens and padded tokens per batch."""
    return (
        float(np.mean([b["input_ids"].shape[0] for b in batches])),
        float(np.mean([int(b["attention_mask"].sum()) for b in batches])),
        float(np.mean([b["input_ids"].numel() for b in batches])),
    )


def heldout_accuracy(model, examples, pad_token_id: int) -> float:
    """Score held-out prompts, return the fraction of pairs ordered correctly."""
    from rankreward.model import RewardHead
    from rankreward.scoring import score_examples

    scores = score_examples(
        model,
        examples,
        pad_token_id=pad_token_id,
        reward_head=RewardHead(1.0, bounded=False),
    )
    correct = total = 0
    for rewards in scores:
        for better, worse in ranking_edges(len(rewards)):
            correct += int(rewards[better] > rewards[worse])
            total += 1
    return correct / total


# ----------------------------------------------------------- contenders


def _step_clock():
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        """Records perf_counter at the end of every optimizer step."""

        def __init__(self):
            self.stamps: list[float] = []

        def on_step_end(self, args, state, control, **kwargs):
            self.stamps.append(time.perf_counter())

    return StepClock()


def _prepare_trainer(trainer) -> None:
    """Remove the metrics printout and check that checkpointing is off."""
    from transformers.trainer_callback import PrinterCallback

    # With tqdm off, Trainer prints the final metrics through PrinterCallback,
    # which would break up the tables.
    trainer.remove_callback(PrinterCallback)
    if trainer.args.gradient_checkpointing:
        raise RuntimeError("activation checkpointing is on, which slows one trainer")


def _trainer_options(settings: Settings, output_dir: str) -> dict:
    # Options that both trainers take from TrainingArguments.
    from transformers import TrainingArguments

    fields = TrainingArguments.__dataclass_fields__
    if "train_sampling_strategy" not in fields:
        raise SystemExit(
            "error: this benchmark needs TrainingArguments.train_sampling_strategy "
            "(transformers 5.x) to feed both trainers in the same order"
        )
    # Transformers 5.25 warns that gradient_checkpointing is a deprecated alias
    # of activation_checkpointing. TRL 1.16's RewardConfig turns it on by default.
    if "activation_checkpointing" in fields:
        checkpointing = {"activation_checkpointing": False}
    else:
        checkpointing = {"gradient_checkpointing": False}
    return dict(
        output_dir=output_dir,
        max_steps=settings.steps,
        learning_rate=settings.learning_rate,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        optim=OPTIMIZER,
        max_grad_norm=MAX_GRAD_NORM,
        seed=settings.seed,
        train_sampling_strategy="sequential",
        bf16=False,
        fp16=False,
        use_cpu=True,
        report_to="none",
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        dataloader_num_workers=0,
        **checkpointing,
    )


def run_rankreward(model, tokenizer, train, settings: Settings, output_dir: str):
    from datasets import Dataset

    from rankreward.collator import RankingCollator
    from rankreward.loss import RankingLoss
    from rankreward.model import RewardHead
    from rankreward.trainer import RankingTrainer, ranking_training_arguments

    started = time.perf_counter()
    examples = tokenize_pairs(tokenizer, train, settings.max_length)
    collate = RankingCollator(tokenizer.pad_token_id)
    clock = _step_clock()
    trainer = RankingTrainer(
        model=model,
        args=ranking_training_arguments(
            per_device_train_batch_size=settings.prompts_per_step,
            remove_unused_columns=False,
            **_trainer_options(settings, output_dir),
        ),
        train_dataset=Dataset.from_list(examples),
        data_collator=collate,
        loss_fn=RankingLoss(["logsigmoid:1"]),
        reward_head=RewardHead(1.0, bounded=False),
        callbacks=[clock],
    )
    _prepare_trainer(trainer)
    setup = time.perf_counter() - started

    started = time.perf_counter()
    trainer.train()
    step = settings.prompts_per_step
    sizes = batch_sizes(
        [collate(examples[i : i + step]) for i in range(0, len(examples), step)]
    )
    return Outcome("rankreward", setup, clock.stamps[0] - started, clock.stamps, *sizes)


def run_trl(model, tokenizer, train, settings: Settings, output_dir: str):
    import trl
    from datasets import Dataset

    pairs_per_step = settings.prompts_per_step * len(
        ranking_edges(len(train[0]["responses"]))
    )
    micro_batch = pairs_per_step // settings.trl_accumulation

    started = time.perf_counter()
    rows = pairwise_rows(train)
    clock = _step_clock()
    config = trl.RewardConfig(
        per_device_train_batch_size=micro_batch,
        gradient_accumulation_steps=settings.trl_accumulation,
        max_length=settings.max_length,
        eos_token=tokenizer.eos_token or tokenizer.sep_token,
        **_trainer_options(settings, output_dir),
    )
    trainer = trl.RewardTrainer(
        model=model,
        args=config,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        callbacks=[clock],
    )
    _prepare_trainer(trainer)
    setup = time.perf_counter() - started
    if len(trainer.train_dataset) != len(rows):
        raise SystemExit(
            f"error: TRL kept {len(trainer.train_dataset)} of {len(rows)} pairs; "
            "lower --length-scale or raise --max-length"
        )

    started = time.perf_counter()
    trainer.train()
    # The padding of TRL's collator: chosen and rejected rows of a micro-batch
    # are padded together to its longest sequence.
    lengths = [
        (len(c), len(r))
        for c, r in zip(
            trainer.train_dataset["chosen_ids"],
            trainer.train_dataset["rejected_ids"],
            strict=True,
        )
    ]
    real = padded = 0
    for i in range(0, len(lengths), micro_batch):
        chunk = lengths[i : i + micro_batch]
        real += sum(c + r for c, r in chunk)
        padded += 2 * len(chunk) * max(max(pair) for pair in chunk)
    steps = settings.steps
    return Outcome(
        "trl",
        setup,
        clock.stamps[0] - started,
        clock.stamps,
        2.0 * pairs_per_step,
        real / steps,
        padded / steps,
    )


def run_floor(model, tokenizer, train, settings: Settings):
    from rankreward.collator import RankingCollator
    from rankreward.trainer import MODEL_INPUTS

    started = time.perf_counter()
    examples = tokenize_pairs(tokenizer, train, settings.max_length)
    collate = RankingCollator(tokenizer.pad_token_id)
    step = settings.prompts_per_step
    batches = [collate(examples[i : i + step]) for i in range(0, len(examples), step)]
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        params,
        lr=settings.learning_rate,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        fused=True,
    )
    setup = time.perf_counter() - started

    started = time.perf_counter()
    model.train()
    stamps = []
    for batch in batches:
        inputs = {k: batch[k] for k in MODEL_INPUTS if k in batch}
        logits = model(**inputs).logits.squeeze(-1)  # (N,)
        edges = batch["edges"]  # (E, 2)
        margin = logits[edges[:, 0]] - logits[edges[:, 1]]  # (E,)

        # Mean over each prompt's edges, then over prompts, as RankingLoss.
        num_prompts = batch["prompt_utility"].shape[0]
        per_edge = -F.logsigmoid(margin)  # (E,)
        total = torch.zeros(num_prompts).index_add(0, batch["edge_prompt"], per_edge)
        count = torch.zeros(num_prompts).index_add(
            0, batch["edge_prompt"], torch.ones_like(per_edge)
        )
        loss = (total / count).mean()

        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        stamps.append(time.perf_counter())
    return Outcome("floor", setup, stamps[0] - started, stamps, *batch_sizes(batches))


# ----------------------------------------------------------------- report


def print_table(title: str, settings: Settings, outcomes: list[Outcome]) -> None:
    print(f"\n{title}")
    print(
        f"{'contender':10s} {'prompts/s':>9s} {'timed s':>8s} {'steps':>5s} "
        f"{'median step s':>13s} "
        f"{'warm-up s':>9s} {'setup s':>8s} {'seq/step':>8s} {'tokens/step':>11s} "
        f"{'padded/step':>11s} {'held-out acc':>12s} {'max |dw| vs rr':>14s}"
    )
    for o in outcomes:
        speed = o.timed_steps * settings.prompts_per_step / o.timed_seconds
        gap = "-" if o.weight_gap is None else f"{o.weight_gap:.2e}"
        print(
            f"{o.name:10s} {speed:9.3f} {o.timed_seconds:8.2f} {o.timed_steps:5d} "
            f"{o.median_step_seconds:13.3f} "
            f"{o.warmup_seconds:9.2f} {o.setup_seconds:8.2f} "
            f"{o.sequences_per_step:8.0f} {o.real_tokens_per_step:11.0f} "
            f"{o.padded_tokens_per_step:11.0f} {o.accuracy:12.4f} {gap:>14s}"
        )
    speeds = {o.name: o.timed_steps / o.timed_seconds for o in outcomes}
    for other in ("trl", "floor"):
        ratio = speeds["rankreward"] / speeds[other]
        print(f"rankreward / {other}: {ratio:.2f}x the prompts per second")
    print(
        "max |dw| vs rr: the largest difference of any weight from rankreward's "
        "after training"
    )


def bench_model(name: str, path: str, records, settings: Settings) -> None:
    train, held_out = records
    reference = None
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="bench-train-") as output_dir:
        for contender in CONTENDERS:
            model, tokenizer = load_fresh(path, settings.seed)
            reference_state = check_same_start(model, reference)
            if reference is None:
                reference = reference_state
                check_untruncated(tokenizer, train + held_out, settings.max_length)
                layers = model.config.num_hidden_layers
                hidden = model.config.hidden_size
                size = sum(p.numel() for p in model.parameters()) / 1e6
                before = heldout_accuracy(
                    model,
                    tokenize_pairs(tokenizer, held_out, settings.max_length),
                    tokenizer.pad_token_id,
                )
            del reference_state

            if contender == "rankreward":
                outcome = run_rankreward(model, tokenizer, train, settings, output_dir)
                trained = {k: v.detach().clone() for k, v in model.state_dict().items()}
            elif contender == "trl":
                outcome = run_trl(model, tokenizer, train, settings, output_dir)
            else:
                outcome = run_floor(model, tokenizer, train, settings)

            # Each model is scored on the encoding it trained on. TRL has set
            # its tokenizer's EOS token by now.
            if contender == "trl":
                examples = tokenize_trl_style(tokenizer, held_out, settings.max_length)
            else:
                examples = tokenize_pairs(tokenizer, held_out, settings.max_length)
            outcome.accuracy = heldout_accuracy(model, examples, tokenizer.pad_token_id)
            if contender != "rankreward":
                outcome.weight_gap = max_weight_gap(model, trained)
            outcomes.append(outcome)
            del model

    k = len(train[0]["responses"])
    print_table(
        f"{name}: {path}\n{layers} layers, hidden size {hidden}, {size:.1f}M "
        f"parameters; {settings.prompts} prompts x {k} responses, "
        f"{settings.prompts_per_step} prompts per step, {settings.steps} steps; "
        f"held-out accuracy before training {before:.4f} ({len(held_out)} prompts)",
        settings,
        outcomes,
    )


def main(argv=None) -> None:
    import datasets
    from transformers.utils import logging as hf_logging

    from rankreward.model import default_model_path
    from rankreward.sotu_data import build_sotu_rankings

    models, settings = parse_args(argv)
    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
    print_machine(settings, models)

    started = time.perf_counter()
    records = build_sotu_rankings(
        settings.prompts,
        settings.eval_prompts,
        length_scale=settings.length_scale,
        seed=settings.seed,
    )
    print(f"data: {time.perf_counter() - started:.1f} s to build the rankings")

    with tempfile.TemporaryDirectory(prefix="bench-tiny-bert-") as tiny_folder:
        paths = {"minilm": default_model_path()}
        if "tiny" in models:
            paths["tiny"] = build_tiny_model(tiny_folder, settings.seed)
        for name in models:
            bench_model(name, paths[name], records, settings)
    print(f"\nload average at end: {_load_average()}")


if __name__ == "__main__":
    main()

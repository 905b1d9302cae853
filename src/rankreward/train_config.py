"""Settings of ``rankreward train``: rankreward's own, plus TrainingArguments.

The command line and the YAML file share one set of names. ``TrainOptions``
contains the reward-modelling settings and ``transformers.TrainingArguments``
everything about the run (batch size, accumulation, learning rate and
schedule, precision, ``report_to``, checkpoints, resuming), so any option
that ``Trainer`` users know works under its usual name. Flags come in both
spellings, ``--learning_rate`` and ``--learning-rate``. A value given on the
command line overrides the same key in ``--config FILE.yaml``.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field, fields

from rankreward.reward_settings import ENCODINGS
from rankreward.utilities import LogSigmoid, UtilitySpecError, parse_utility

# TrainingArguments defaults that ranked prompts need, applied unless the
# user sets them: the edge columns must reach the loss, and nothing is sent
# to a logging service unless asked for.
RANKING_DEFAULTS = {
    "remove_unused_columns": False,
    "report_to": "none",
    "logging_steps": 10,
    "save_strategy": "no",
}


class TrainConfigError(ValueError):
    """An invalid training setting, reported as one line."""


@dataclass
class TrainOptions:
    """Reward-modelling settings of ``rankreward train``."""

    data: str = field(
        metadata={
            "help": "training data: .jsonl, .json, .parquet, .csv or a "
            "saved data set folder"
        }
    )
    model: str = field(metadata={"help": "model folder, or a hub id (needs a network)"})
    data_format: str | None = field(
        default=None,
        metadata={
            "help": "jsonl, json, parquet, csv or saved; "
            "by default the extension picks it"
        },
    )
    split: str | None = field(
        default=None, metadata={"help": "split of a saved DatasetDict"}
    )
    columns: str | None = field(
        default=None,
        metadata={
            "help": "field=column pairs for other column names, such as "
            "prompt=question,chosen=better"
        },
    )
    eval_data: str | None = field(
        default=None, metadata={"help": "held-out data, read like --data"}
    )
    utility: str = field(
        default="logsigmoid:4",
        metadata={
            "help": "utility spec for every prompt without its own, such "
            "as log, power:0.5, inverse, linear, logsigmoid:4"
        },
    )
    group_field: str | None = field(
        default=None,
        metadata={
            "help": "column naming each prompt's group (kind), for "
            "prompt-aware training with --group-utilities"
        },
    )
    group_utilities: str | None = field(
        default=None,
        metadata={"help": "group=utility pairs, such as open=inverse,closed=linear"},
    )
    rewards: str = field(
        default="bounded",
        metadata={
            "help": "bounded: reward = sigmoid(logit_scale * logit) in "
            "[0, 1]; unbounded: reward = logit_scale * logit (logsigmoid only)"
        },
    )
    logit_scale: float = field(
        default=1.0, metadata={"help": "factor on the model's logit"}
    )
    max_length: int = field(
        default=512,
        metadata={
            "help": "tokens of prompt plus response; the prompt is cut "
            "from the left, a response longer than 3/4 of it keeps its start"
        },
    )
    encoding: str = field(
        default="pair",
        metadata={
            "help": "model input: pair (prompt and response as a text "
            "pair) or concat (prompt + response + end of sequence as one text, as "
            "TRL's RewardTrainer)"
        },
    )
    num_layers: int | None = field(
        default=None, metadata={"help": "keep only the first layers of the model"}
    )
    dropout: float | None = field(
        default=None,
        metadata={
            "help": "hidden and attention dropout in place of the model's "
            "own; 0 makes runs repeatable"
        },
    )
    trust_remote_code: bool = field(
        default=False,
        metadata={"help": "run the model repository's own code (off by default)"},
    )
    resume: bool = field(
        default=False,
        metadata={
            "help": "resume from the last checkpoint in --output-dir, if "
            "there is one (the same as --resume-from-checkpoint with its path)"
        },
    )
    lora: bool = field(
        default=False, metadata={"help": "train LoRA adapters (needs peft)"}
    )
    lora_r: int = field(default=8, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA alpha"})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout"})
    lora_target_modules: str = field(
        default="all-linear",
        metadata={
            "help": "modules that get adapters: all-linear, or a comma "
            "list of names such as query,value"
        },
    )

    def column_map(self) -> dict[str, str]:
        """Return the field-to-column mapping of ``columns`` and ``group_field``."""
        mapping = _pairs("--columns", self.columns)
        if self.group_field:
            mapping["group"] = self.group_field
        return mapping

    def group_map(self) -> dict[str, str]:
        """Return the group-to-utility mapping of ``group_utilities``."""
        return _pairs("--group-utilities", self.group_utilities)

    def check(self) -> None:
        """Raise ``TrainConfigError`` naming the first invalid setting."""
        try:
            utility = parse_utility(self.utility)
        except UtilitySpecError as error:
            raise TrainConfigError(f"--utility: {error}") from error
        self.utility = utility.spec
        if self.rewards not in ("bounded", "unbounded"):
            raise TrainConfigError(
                f"--rewards must be bounded or unbounded, got {self.rewards!r}"
            )
        if self.rewards == "unbounded":
            specs = [self.utility, *self.group_map().values()]
            for spec in specs:
                try:
                    named = parse_utility(spec)
                except UtilitySpecError as error:
                    raise TrainConfigError(f"--group-utilities: {error}") from error
                if not isinstance(named, LogSigmoid):
                    raise TrainConfigError(
                        f"--rewards unbounded needs logsigmoid utilities, but "
                        f"{named.spec} has no maximiser on an unbounded range; "
                        "use --rewards bounded"
                    )
        if self.encoding not in ENCODINGS:
            raise TrainConfigError(
                f"--encoding must be one of {', '.join(ENCODINGS)}, "
                f"got {self.encoding!r}"
            )
        if not self.logit_scale > 0:
            raise TrainConfigError(
                f"--logit-scale must be positive, got {self.logit_scale}"
            )
        if self.max_length < 8:
            raise TrainConfigError(
                f"--max-length must be at least 8, got {self.max_length}"
            )
        if self.num_layers is not None and self.num_layers < 1:
            raise TrainConfigError(
                f"--num-layers must be at least 1, got {self.num_layers}"
            )
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise TrainConfigError(f"--dropout must be in [0, 1), got {self.dropout}")
        if self.group_utilities and not self.group_field:
            raise TrainConfigError(
                "--group-utilities needs --group-field, the column that names "
                "each prompt's group"
            )
        for name in ("data", "eval_data"):
            path = getattr(self, name)
            if path is not None and not os.path.exists(path):
                raise TrainConfigError(f"--{name.replace('_', '-')} {path}: not found")


def parse_train_arguments(argv: list[str]):
    """Parse ``rankreward train`` flags and an optional YAML file.

    Returns ``(TrainOptions, TrainingArguments)``. Raises
    ``TrainConfigError`` for an unreadable or invalid YAML file, an unknown
    key, or an invalid rankreward setting. Invalid flags end the process
    with argparse's usage message and exit code 2, as for every command.
    """
    from transformers import HfArgumentParser, TrainingArguments

    parser = HfArgumentParser(
        (TrainOptions, TrainingArguments),
        prog="rankreward train",
        description="Train a reward model on ranked, scored or pairwise "
        "preferences with any concave ranking utility.",
    )
    parser.add_argument(
        "--config", help="YAML file of settings; flags given here override it"
    )
    import torch

    config_path = _config_path(argv)
    defaults = dict(RANKING_DEFAULTS)
    # Without a GPU, Trainer runs several processes (torchrun, accelerate
    # launch) as one data-parallel job on the gloo back end only with
    # use_cpu set. Without it each process would train alone.
    defaults["use_cpu"] = not torch.cuda.is_available()
    if config_path is not None:
        defaults.update(_read_yaml(config_path, parser))
    parser.set_defaults(**defaults)
    for action in parser._actions:  # required flags given by the YAML file
        if action.dest in defaults:
            action.required = False
    try:
        options, training = parser.parse_args_into_dataclasses(args=argv)[:2]
    except ValueError as error:
        # TrainingArguments checks its own values as it is built.
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise TrainConfigError(first or type(error).__name__) from error
    options.check()
    return options, training


def _config_path(argv: list[str]) -> str | None:
    for position, token in enumerate(argv):
        if token == "--config" and position + 1 < len(argv):
            return argv[position + 1]
        if token.startswith("--config="):
            return token.split("=", 1)[1]
    return None


def _read_yaml(path: str, parser) -> dict:
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as error:
        raise TrainConfigError(
            f"--config {path}: cannot read: {error.strerror}"
        ) from error
    except UnicodeDecodeError as error:
        raise TrainConfigError(f"--config {path}: not UTF-8 text") from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        reason = getattr(error, "problem", None) or "invalid YAML"
        raise TrainConfigError(f"--config {path}{where}: {reason}") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TrainConfigError(
            f"--config {path}: expected a mapping of setting names to values, "
            f"found {type(data).__name__}"
        )
    known = {action.dest for action in parser._actions}
    known |= {f.name for f in fields(TrainOptions)}
    settings = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in known or name in ("help", "config"):
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise TrainConfigError(f"--config {path}: unknown setting {key!r}{hint}")
        settings[name] = value
    return settings


def _pairs(flag: str, text: str | None) -> dict[str, str]:
    # "a=b,c=d" as a dict; a key given twice is an error.
    result: dict[str, str] = {}
    if not text:
        return result
    for item in text.split(","):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise TrainConfigError(
                f"{flag}: {item!r} is not NAME=VALUE; write pairs such as a=b,c=d"
            )
        if key in result:
            raise TrainConfigError(f"{flag}: {key!r} is given twice")
        result[key] = value
    return result

"""The ``evaluate`` and ``score`` commands: a reward model on held-out data."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from rankreward.cli_data import _pairs
from rankreward.data_files import FORMATS
from rankreward.reward_settings import REWARD_MAPS
from rankreward.utilities import UtilitySpecError, parse_utility

REWARD_MAP_HELP = (
    "how raw scores become rewards in [0, 1]: sigmoid is sigmoid(logit_scale * "
    "score) with the logit_scale in the model's rankreward.json, or 1 without "
    "one; minmax rescales each prompt's scores so that its best response gets 1 "
    "and its worst 0; auto is the model's own bounded reward when rankreward.json "
    "records one, else minmax (default: auto)"
)
MODEL_HELP = (
    "folder of a one-label AutoModelForSequenceClassification and its tokenizer, "
    "trained by rankreward or elsewhere, such as with TRL's RewardTrainer"
)
MAX_LENGTH_HELP = (
    "tokens per (prompt, response) pair; the prompt loses tokens from its start "
    "first (default: the model's rankreward.json, else 1024, capped at what the "
    "model encodes)"
)


def _add_encoding(parser) -> None:
    parser.add_argument(
        "--encoding",
        choices=("auto", "pair", "concat"),
        default="auto",
        help="model input: pair encodes (prompt, response) as a text pair, as "
        "rankreward trains; concat encodes prompt + response + end of sequence as "
        "one text, as TRL's RewardTrainer trains; auto takes the model's "
        "rankreward.json, else pair (default: auto)",
    )


def add_evaluate_commands(commands, error_type) -> None:
    """Add ``evaluate`` and ``score`` to the CLI's subcommands."""
    evaluate = commands.add_parser(
        "evaluate",
        help="measure a reward model's accuracy and reward collapse on held-out data",
        description="Score every response of a preference data file and report "
        "pairwise accuracy, Kendall's tau per prompt, reward profiles per group and "
        "number of responses, the Wasserstein-1 distance between groups (near 0 "
        "means collapse) and, given utilities, the distance to the solver's "
        "optimum. Writes report.json, report.md and profiles.png to --out.",
    )
    evaluate.add_argument("--model", required=True, metavar="DIR", help=MODEL_HELP)
    evaluate.add_argument(
        "--data",
        required=True,
        metavar="PATH",
        help="a .jsonl, .json, .parquet or .csv file, or a folder written by "
        "save_to_disk, in any layout that validate reads",
    )
    evaluate.add_argument("--out", required=True, metavar="DIR", help="report folder")
    evaluate.add_argument(
        "--group-field",
        metavar="NAME",
        help="column naming each prompt's group (default: the model's recorded "
        "group field, else group, else kind)",
    )
    evaluate.add_argument(
        "--utility",
        metavar="SPEC",
        help="utility for the solver's prediction: one spec such as inverse for "
        "every prompt, or GROUP=SPEC pairs separated by commas (default: each "
        "record's utility field, else the utilities in the model's rankreward.json)",
    )
    evaluate.add_argument(
        "--reward-map", choices=REWARD_MAPS, default="auto", help=REWARD_MAP_HELP
    )
    _add_encoding(evaluate)
    evaluate.add_argument("--max-length", type=int, metavar="N", help=MAX_LENGTH_HELP)
    evaluate.add_argument(
        "--batch-size",
        type=int,
        default=16,
        metavar="P",
        help="prompts per forward pass, with all their responses (default: 16)",
    )
    evaluate.add_argument(
        "--format",
        choices=FORMATS,
        help="file format, where 'saved' is a save_to_disk folder (default: from "
        "the extension, and 'saved' for a folder)",
    )
    evaluate.add_argument(
        "--columns",
        metavar="FIELD=COLUMN,...",
        help="columns with other names than the fields, as FIELD=COLUMN pairs "
        "separated by commas, such as prompt=question,chosen=better",
    )
    evaluate.add_argument(
        "--split", metavar="NAME", help="split of a saved DatasetDict"
    )
    evaluate.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow the model folder's own Python code to run",
    )
    evaluate.set_defaults(handler=lambda args: _run_evaluate(args, error_type))

    score = commands.add_parser(
        "score",
        help="add a reward model's rewards to the records of a JSONL file",
        description="Read JSONL records with a prompt and either responses (a "
        "list) or one response, and write the same records to --out with reward "
        "and raw_score added: lists for responses, numbers for response.",
    )
    score.add_argument("--model", required=True, metavar="DIR", help=MODEL_HELP)
    score.add_argument("--data", required=True, metavar="PATH", help="JSONL file")
    score.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="JSONL file to write, replaced whole once every record is scored",
    )
    score.add_argument(
        "--batch-size",
        type=int,
        default=16,
        metavar="P",
        help="records per forward pass, with all their responses (default: 16)",
    )
    score.add_argument("--max-length", type=int, metavar="N", help=MAX_LENGTH_HELP)
    score.add_argument(
        "--reward-map", choices=REWARD_MAPS, default="auto", help=REWARD_MAP_HELP
    )
    _add_encoding(score)
    score.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow the model folder's own Python code to run",
    )
    score.set_defaults(handler=lambda args: _run_score(args, error_type))


def _check_batch_size(args, error_type) -> None:
    if args.batch_size < 1:
        raise error_type(f"--batch-size must be at least 1, got {args.batch_size}")


def _utility_option(text: str | None, error_type):
    """Return ``(spec, None)``, ``(None, group mapping)`` or ``(None, None)``."""
    if text is None:
        return None, None
    try:
        if "=" not in text:
            return parse_utility(text).spec, None
        pairs = _pairs("--utility", text, "GROUP=SPEC", error_type)
        return None, {group: parse_utility(spec).spec for group, spec in pairs.items()}
    except UtilitySpecError as error:
        raise error_type(f"--utility: {error}") from error


def _columns_option(args, error_type) -> dict[str, str]:
    columns = _pairs("--columns", args.columns, "FIELD=COLUMN", error_type)
    if args.group_field is not None and columns.get("group", args.group_field) != (
        args.group_field
    ):
        raise error_type(
            f"--group-field {args.group_field!r} and --columns "
            f"group={columns['group']} name different columns; give one of them"
        )
    return columns


def _prepare_output_folder(out: str, error_type) -> None:
    try:
        os.makedirs(out, exist_ok=True)
        # A real write is the only check that also holds for root and
        # read-only mounts, where the permission bits do not tell.
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        raise error_type(
            f"--out {out}: cannot create or write the folder: {error.strerror or error}"
        ) from error


def _quiet_libraries(model: str) -> None:
    # Before transformers, datasets and huggingface_hub are imported (the
    # evaluation modules import them), because they read these variables
    # once, at import. Nothing leaves the machine unless the user names a
    # hub model.
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    if Path(model).expanduser().is_dir():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    # Weight-loading bars would add lines to stderr, where an error must stay
    # one line; the scoring bar shows progress.
    hf_logging.disable_progress_bar()


def _run_evaluate(args: argparse.Namespace, error_type) -> int:
    _quiet_libraries(args.model)
    from rankreward.evaluation import EvaluateOptions, EvaluationError, run_evaluation
    from rankreward.model import ModelLoadError
    from rankreward.model_scoring import ScoringError
    from rankreward.reward_settings import SettingsError

    _check_batch_size(args, error_type)
    spec, mapping = _utility_option(args.utility, error_type)
    columns = _columns_option(args, error_type)
    _prepare_output_folder(args.out, error_type)
    options = EvaluateOptions(
        model=args.model,
        data=args.data,
        out=args.out,
        group_field=args.group_field,
        utility=spec,
        group_utilities=mapping,
        reward_map=args.reward_map,
        encoding=args.encoding,
        max_length=args.max_length,
        batch_size=args.batch_size,
        format=args.format,
        columns=columns,
        split=args.split,
        trust_remote_code=args.trust_remote_code,
    )
    try:
        report = run_evaluation(options)
    except (ModelLoadError, SettingsError, ScoringError, EvaluationError) as error:
        raise error_type(str(error)) from error
    except OSError as error:
        raise error_type(
            f"cannot write the report to {args.out!r}: {error.strerror or error}"
        ) from error

    summary = report["summary"]
    print(
        f"prompts {summary['prompts']}, edges {summary['edges']}: "
        f"pairwise accuracy {_number(summary['rewards/accuracy'])}, "
        f"mean Kendall tau {_number(summary['rewards/kendall_tau'])}, "
        f"between-group W1 {_number(summary['collapse/w1'])}, "
        f"solver MAE {_number(summary['solver/mae'])}"
    )
    reward_map = report["reward_map"]
    print(f"rewards: {reward_map['name']} ({reward_map['reason']})")
    print(f"report: {os.path.join(args.out, 'report.md')}")
    return 0


def _run_score(args: argparse.Namespace, error_type) -> int:
    _quiet_libraries(args.model)
    from rankreward.model import ModelLoadError
    from rankreward.model_scoring import ScoringError
    from rankreward.reward_settings import SettingsError
    from rankreward.score_file import check_output_path, score_file

    _check_batch_size(args, error_type)
    try:
        check_output_path(args.out)
    except OSError as error:
        raise error_type(f"--out {args.out}: {error}") from error
    try:
        counts = score_file(
            args.model,
            args.data,
            args.out,
            batch_size=args.batch_size,
            max_length=args.max_length,
            reward_map=args.reward_map,
            encoding=args.encoding,
            trust_remote_code=args.trust_remote_code,
        )
    except (ModelLoadError, SettingsError, ScoringError) as error:
        raise error_type(str(error)) from error
    except OSError as error:
        raise error_type(
            f"--out {args.out}: cannot write the file: {error.strerror or error}"
        ) from error
    reward_map = counts["reward_map"]
    print(
        f"scored {counts['records']} records ({counts['responses']} responses) to "
        f"{args.out}; rewards: {reward_map.name} ({reward_map.reason})"
    )
    return 0


def _number(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"

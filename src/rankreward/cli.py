"""The ``rankreward`` command line."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from dataclasses import MISSING

from rankreward.cli_data import add_data_commands
from rankreward.cli_evaluate import add_evaluate_commands
from rankreward.cli_solver import add_solver_commands
from rankreward.cli_train import (
    add_train_command,
    run_train_command,
    train_command_position,
)
from rankreward.preference_errors import DataError
from rankreward.reproduce_config import PRESETS
from rankreward.utilities import UtilitySpecError

logger = logging.getLogger("rankreward")

EXIT_USAGE = 2


class CommandError(Exception):
    """A user's mistake, reported as one line with exit code 2."""


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    from rankreward.reproduce_config import option_fields

    for f in option_fields():
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata.get("help", "")
        default = f.default if f.default is not MISSING else None
        if f.name == "runs":
            kind = _comma_list
        elif f.name == "num_layers":
            kind = int
        elif f.name == "dropout":
            kind = float
        elif isinstance(default, bool):
            kind = _boolean
        elif isinstance(default, int):
            kind = int
        elif isinstance(default, float):
            kind = float
        else:
            kind = str
        if default is not None:
            shown = ",".join(default) if f.name == "runs" else default
            help_text = f"{help_text} (default: {shown})"
        # SUPPRESS leaves unset flags out, so a preset's values stay in force.
        parser.add_argument(flag, type=kind, default=argparse.SUPPRESS, help=help_text)


def _flag_text(name: str, value) -> str:
    flag = "--" + name.replace("_", "-")
    if value is None:
        return f"{flag} (all)" if name == "num_layers" else f"{flag} (the model's own)"
    return f"{flag} {value}"


def _flag_message(message: str) -> str:
    """Name the command-line flag where a settings message starts with a field."""
    from rankreward.reproduce_config import option_fields

    for f in option_fields():
        if re.match(rf"{f.name}(?=[ =])", message):
            return "--" + f.name.replace("_", "-") + message[len(f.name) :]
    return message


def _comma_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in text.split(",") if part.strip())


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rankreward",
        description="Train reward models from ranked preferences, predict their "
        "reward distributions, and detect and prevent reward collapse.",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks and debug logs"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    reproduce = commands.add_parser(
        "reproduce",
        help="rebuild the reward-collapse experiment on State of the Union text",
        description="Train one reward model per utility on ranked prefixes of State "
        "of the Union paragraphs and show whether open-ended and closed-ended "
        "prompts collapse to one reward distribution.",
    )
    reproduce.add_argument("--out", required=True, help="output folder")
    reproduce.add_argument(
        "--preset",
        default="default",
        choices=tuple(PRESETS),
        help="starting values of the settings below, which flags then override "
        "(default: default). 'paper' is the original scale and needs a network "
        "and, in practice, a GPU; it sets "
        + ", ".join(_flag_text(k, v) for k, v in PRESETS["paper"].items()),
    )
    _add_config_options(reproduce)
    reproduce.set_defaults(handler=_run_reproduce)

    add_solver_commands(commands, CommandError)
    add_data_commands(commands, CommandError)
    add_evaluate_commands(commands, CommandError)
    add_train_command(commands)
    # --debug also works after the command name; SUPPRESS keeps the main
    # parser's value when it is not given there.
    for name, command in commands.choices.items():
        if name == "train":
            continue  # its flags are TrainingArguments', where --debug is taken
        command.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show tracebacks and debug logs",
        )
    return parser


def _run_reproduce(args) -> int:
    from rankreward.model import ModelLoadError
    from rankreward.reproduce import ReproduceError, run_reproduce
    from rankreward.reproduce_config import config_from_preset, option_fields
    from rankreward.reproduce_summary import TrainingDivergedError

    overrides = {
        f.name: getattr(args, f.name) for f in option_fields() if hasattr(args, f.name)
    }
    if overrides.get("num_layers", 1) == 0:
        overrides["num_layers"] = None
    if overrides.get("dropout", 0.0) == -1:
        overrides["dropout"] = None
    try:
        config = config_from_preset(args.preset, **overrides)
    except (ValueError, UtilitySpecError) as error:
        raise CommandError(_flag_message(str(error))) from error
    if config.model is None or os.path.isdir(config.model):
        # Nothing leaves the machine unless the user names a hub model.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as error:
        raise CommandError(
            f"cannot create output folder {args.out!r}: {error}"
        ) from error
    try:
        report = run_reproduce(config, args.out)
    except (ModelLoadError, ReproduceError, TrainingDivergedError) as error:
        raise CommandError(_flag_message(str(error))) from error
    except OSError as error:
        raise CommandError(
            f"cannot write the results to {args.out!r}: {error}"
        ) from error
    for name, run in report["runs"].items():
        print(
            f"{name:14s} W1 {run['between_kind_w1']:.3f}"
            f"  MAE {run['prediction_mae']:.3f}"
            f"  accuracy {run['pairwise_accuracy']:.3f}"
        )
    report_path = os.path.join(args.out, "report.md")
    print(f"report: {report_path} ({report['wall_seconds']:.0f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    position = train_command_position(argv)
    if position is not None:
        return run_train_command(
            argv[position + 1 :], debug="--debug" in argv[:position]
        )
    parser = build_parser()
    args = parser.parse_args(argv)
    # Other libraries log at WARNING and above; rankreward's own progress
    # lines at INFO.
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logger.setLevel(logging.DEBUG if args.debug else logging.INFO)
    try:
        return args.handler(args)
    except (CommandError, DataError) as error:
        if args.debug:
            raise
        print(f"rankreward {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"rankreward {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout (head, say) has gone; exit quietly like other tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:
        # Output that cannot be written (a full disk, say) is not a bug.
        if args.debug:
            raise
        print(f"rankreward {args.command}: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

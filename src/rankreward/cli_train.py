"""The ``train`` command; its flags are parsed by ``rankreward.train_config``."""

from __future__ import annotations

import logging
import os
import sys

TRAIN_HELP = "train a reward model on your own preference data"


def add_train_command(commands) -> None:
    """List ``train`` in the CLI's help; ``main`` hands its flags on whole."""
    commands.add_parser(
        "train",
        help=TRAIN_HELP,
        description="rankreward train --help lists every flag.",
        add_help=False,
    )


def train_command_position(argv: list[str]) -> int | None:
    """Return the position of ``train`` in ``argv`` if it is the command, else None."""
    for position, token in enumerate(argv):
        if token == "--debug":
            continue
        return position if token == "train" else None
    return None


def run_train_command(argv: list[str], *, debug: bool) -> int:
    """Parse ``train``'s flags and train; user mistakes print one line, exit 2."""
    from rankreward.model import ModelLoadError
    from rankreward.preference_errors import DataError
    from rankreward.train_config import TrainConfigError, parse_train_arguments
    from rankreward.train_run import run_train
    from rankreward.trainer import NonFiniteLossError

    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("rankreward").setLevel(logging.DEBUG if debug else logging.INFO)
    try:
        options, training = parse_train_arguments(argv)
        if os.path.isdir(options.model):
            # Nothing leaves the machine unless the user names a hub model.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        summary = run_train(options, training)
    except (TrainConfigError, DataError, ModelLoadError) as error:
        if debug:
            raise
        print(f"rankreward train: error: {error}", file=sys.stderr)
        return 2
    except NonFiniteLossError as error:
        if debug:
            raise
        print(f"rankreward train: stopped: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rankreward train: interrupted", file=sys.stderr)
        return 130
    metrics = summary["metrics"]
    loss = metrics.get("train_loss")
    print(
        f"trained on {summary['data']['prompts']} prompts; "
        + (f"final mean loss {loss:.4f}; " if loss is not None else "")
        + f"model saved to {training.output_dir}"
    )
    return 0

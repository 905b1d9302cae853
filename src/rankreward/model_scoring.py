"""Loading a reward model for scoring, and its raw scores for prompts.

Shared by ``rankreward evaluate`` and ``rankreward score``. The raw score of
a response is the model's one logit for the ``(prompt, response)`` pair,
tokenized by ``rankreward.collator.tokenize_ranking`` (the package's
truncation policy).

NOTE: a model trained on prompt and response as one concatenated text, as
TRL's RewardTrainer (1.16) tokenizes them, sees a text pair here, which a
BERT-style tokenizer separates with [SEP]. Its scores can then differ from
the ones it gave in training.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from rankreward.collator import tokenize_responses
from rankreward.model import ModelLoadError, load_reward_model
from rankreward.scoring import score_examples

logger = logging.getLogger(__name__)

# The token budget of a (prompt, response) pair when neither the user nor
# the model's settings give one; a model with fewer positions lowers it.
DEFAULT_MAX_LENGTH = 1024
# Below this, the prompt and a response cut to 3/4 of the budget leave too
# few tokens to tell responses apart.
MIN_MAX_LENGTH = 16
# Tokenizers without a known limit report a huge model_max_length (1e30).
UNSET_TOKENIZER_LIMIT = 1_000_000


class ScoringError(ValueError):
    """Settings that the model cannot meet, or scores it cannot give."""


def check_model_folder(name_or_path: str, *, trust_remote_code: bool = False):
    """Load a model's config and check that it is a one-label reward model.

    Loading the config is fast, so a wrong folder fails before the data is
    read and before the weights load. Raises ``ModelLoadError`` for a missing
    folder, an unreadable config, a checkpoint without a sequence-classification
    head (a base model would get a randomly initialised head and random
    scores) and a head with more than one label.
    """
    from transformers import AutoConfig

    local = Path(name_or_path).expanduser()
    if not local.exists() and name_or_path.startswith(("/", ".", "~")):
        # The rule of load_reward_model: a hub id never starts like a path.
        raise ModelLoadError(f"model folder not found: {name_or_path!r}")
    if local.exists() and not local.is_dir():
        raise ModelLoadError(
            f"model path {name_or_path!r} is a file; give the model's folder"
        )
    try:
        config = AutoConfig.from_pretrained(
            str(local) if local.exists() else name_or_path,
            trust_remote_code=trust_remote_code,
        )
    except (OSError, ValueError) as error:
        lines = str(error).strip().splitlines()
        reason = lines[0] if lines else type(error).__name__
        raise ModelLoadError(
            f"could not load the config of model {name_or_path!r}: {reason}"
        ) from error

    architectures = list(getattr(config, "architectures", None) or [])
    auto_map = getattr(config, "auto_map", None) or {}
    classifier = any(a.endswith("ForSequenceClassification") for a in architectures)
    if (
        architectures
        and not classifier
        and not (trust_remote_code and "AutoModelForSequenceClassification" in auto_map)
    ):
        raise ModelLoadError(
            f"model {name_or_path!r} is a {architectures[0]} checkpoint without a "
            "sequence-classification head, so its scores would come from a random "
            "head; give a reward model saved from AutoModelForSequenceClassification"
        )
    if not architectures:
        logger.warning(
            "the config of %s names no architecture, so it cannot be checked for a "
            "trained score head",
            name_or_path,
        )
    if config.num_labels != 1:
        labels = ", ".join(str(v) for v in config.id2label.values())
        raise ModelLoadError(
            f"model {name_or_path!r} has {config.num_labels} labels ({labels}); a "
            "reward model has one label, its score"
        )
    return config


def load_scoring_model(name_or_path: str, *, trust_remote_code: bool = False):
    """Load a checked reward model in eval mode, on the GPU when there is one.

    Returns ``(model, tokenizer, pad_token_id)``. A tokenizer without a pad
    token pads with its end-of-sequence token. Raises ``ModelLoadError``.
    """
    check_model_folder(name_or_path, trust_remote_code=trust_remote_code)
    try:
        model, tokenizer = load_reward_model(
            name_or_path, trust_remote_code=trust_remote_code
        )
    except RuntimeError as error:
        # from_pretrained raises RuntimeError for weights whose shapes do not
        # match the config, with a multi-line report; keep its first line.
        lines = str(error).strip().splitlines()
        raise ModelLoadError(
            f"could not load model {name_or_path!r}: "
            f"{lines[0] if lines else 'RuntimeError'}"
        ) from error
    pad = tokenizer.pad_token_id
    if pad is None:
        pad = tokenizer.eos_token_id
        if pad is None:
            raise ModelLoadError(
                f"the tokenizer of {name_or_path!r} has neither a pad token nor an "
                "end-of-sequence token to pad with; set tokenizer.pad_token"
            )
    if model.config.pad_token_id is None:
        model.config.pad_token_id = pad
    if torch.cuda.is_available():
        model.to("cuda")
    model.eval()
    return model, tokenizer, pad


def resolve_max_length(requested: int | None, model, tokenizer, recorded=None) -> int:
    """Return the token budget of one (prompt, response) pair.

    ``requested`` comes from the command line and ``recorded`` from the
    model's settings. Without either, ``DEFAULT_MAX_LENGTH`` applies. The
    result never exceeds the positions the model and its tokenizer support;
    a request above that raises ``ScoringError``.
    """
    limits = []
    for name in ("max_position_embeddings", "n_positions"):
        value = getattr(model.config, name, None)
        if isinstance(value, int) and value > 0:
            limits.append(value)
            break
    tokenizer_limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(tokenizer_limit, int) and tokenizer_limit < UNSET_TOKENIZER_LIMIT:
        limits.append(tokenizer_limit)
    limit = min(limits) if limits else None

    if requested is None:
        chosen = recorded or DEFAULT_MAX_LENGTH
        return min(chosen, limit) if limit is not None else chosen
    if requested < MIN_MAX_LENGTH:
        raise ScoringError(
            f"--max-length must be at least {MIN_MAX_LENGTH} tokens, got {requested}"
        )
    if limit is not None and requested > limit:
        raise ScoringError(
            f"--max-length {requested} exceeds the {limit} tokens this model can "
            f"encode; use --max-length {limit} or less"
        )
    return requested


def tokenize_texts(
    tokenizer,
    prompt: str,
    responses: Sequence[str],
    edges,
    weights,
    max_length: int,
    encoding: str = "pair",
) -> dict:
    """Tokenize one prompt's text responses for ``score_examples``.

    ``encoding`` is ``pair`` (prompt and response as a text pair, as
    rankreward trains) or ``concat`` (prompt + response + end of sequence as
    one text, as TRL's RewardTrainer trains).
    """
    return tokenize_responses(
        encoding,
        tokenizer,
        prompt,
        list(responses),
        [list(edge) for edge in edges],
        0,
        max_length,
        edge_weights=list(weights) if weights is not None else None,
    )


def raw_scores(
    model,
    pad_token_id: int,
    count: int,
    encode: Callable[[int], dict],
    *,
    batch_size: int,
    unit: str = "prompt",
) -> tuple[list[np.ndarray], int]:
    """Return the raw score of every response of ``count`` prompts.

    ``encode(i)`` returns prompt i tokenized by ``tokenize_texts``; prompts
    are tokenized one batch at a time, so a large file is never held
    tokenized at once. ``batch_size`` prompts go through the model together,
    with a tqdm progress bar on stderr. Also returns how many prompts have
    responses that are identical after truncation (they then tie).
    """
    from tqdm import tqdm

    scores: list[np.ndarray] = []
    truncated_ties = 0
    with tqdm(total=count, unit=unit, desc="scoring", dynamic_ncols=True) as bar:
        for start in range(0, count, batch_size):
            chunk = [encode(i) for i in range(start, min(start + batch_size, count))]
            for example in chunk:
                rows = [tuple(ids) for ids in example["input_ids"]]
                truncated_ties += len(set(rows)) < len(rows)
            scores += score_examples(
                model,
                chunk,
                pad_token_id=pad_token_id,
                # The identity keeps the raw logits; the reward map comes later.
                reward_head=torch.nn.Identity(),
                prompts_per_batch=len(chunk),
            )
            bar.update(len(chunk))
    return scores, truncated_ties

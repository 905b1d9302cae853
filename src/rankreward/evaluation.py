"""``rankreward evaluate``: a reward model's accuracy and collapse on held-out data.

``run_evaluation`` reads preference data (any layout ``read_preferences``
reads), scores every response with the model, maps the raw scores to
rewards in [0, 1] (``rankreward.reward_settings``), computes the metrics of
``rankreward.evaluation_metrics`` and writes ``report.json``, ``report.md``
and ``profiles.png`` to the output folder.

Each prompt's utility, for the distance to the solver's prediction, comes
from the first of these that gives one:

1. the ``utility`` option (one spec for every prompt) or ``group_utilities``
   (one spec per group);
2. the record's own ``utility`` field;
3. the utility that the model's ``rankreward.json`` gives the prompt's group.

A prompt with none of these gets no prediction.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from rankreward.data_files import read_preferences
from rankreward.evaluation_metrics import SolverCache, evaluate_prompt
from rankreward.evaluation_report import build_report, write_reports
from rankreward.model import REWARD_SETTINGS_FILE
from rankreward.model_scoring import (
    check_model_folder,
    load_scoring_model,
    raw_scores,
    resolve_max_length,
    tokenize_texts,
)
from rankreward.preference_chat import render_chat
from rankreward.preference_errors import DataError
from rankreward.reward_settings import (
    choose_reward_map,
    read_model_settings,
    resolve_encoding,
)

logger = logging.getLogger(__name__)

# Group labels of prompts without a group: ALL_PROMPTS when no prompt has
# one, NO_GROUP when only some have.
ALL_PROMPTS = "all"
NO_GROUP = "(no group)"


class EvaluationError(ValueError):
    """An evaluation setting that the data or the model cannot meet."""


@dataclass(frozen=True)
class EvaluateOptions:
    """The settings of one evaluation; the CLI flags have the same names.

    ``utility`` is one spec for every prompt, and ``group_utilities`` one
    spec per group; at most one of them is given. ``columns`` maps fields to
    the data's column names, as for ``read_preferences``.
    """

    model: str
    data: str
    out: str
    group_field: str | None = None
    utility: str | None = None
    group_utilities: Mapping[str, str] | None = None
    reward_map: str = "auto"
    encoding: str = "auto"
    max_length: int | None = None
    batch_size: int = 16
    format: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    split: str | None = None
    trust_remote_code: bool = False


def run_evaluation(options: EvaluateOptions) -> dict:
    """Evaluate a reward model on a data file; write and return the report.

    Raises:
        ModelLoadError: the model does not load, or is not a one-label
            reward model.
        SettingsError: the model's ``rankreward.json`` is invalid.
        DataError: the data is invalid.
        ScoringError: ``max_length`` is out of range.
        EvaluationError: the utility mapping misses a group, the tokenizer
            cannot render a conversation, or a score is not finite.
    """
    # Checks that need no weights come first, so that mistakes fail fast.
    config = check_model_folder(
        options.model, trust_remote_code=options.trust_remote_code
    )
    settings = (
        read_model_settings(options.model) if os.path.isdir(options.model) else None
    )
    reward_map = choose_reward_map(options.reward_map, settings)
    columns = dict(options.columns)
    if options.group_field is not None:
        columns["group"] = options.group_field
    elif "group" not in columns and settings is not None and settings.group_field:
        columns["group"] = settings.group_field
    groups, read_report = read_preferences(
        options.data,
        format=options.format,
        columns=columns,
        split=options.split,
    )
    if "group" in columns and all(g.group is None for g in groups):
        logger.warning(
            "no record has the group column %r, so all prompts form one group",
            columns["group"],
        )
    utilities, utility_sources = _prompt_utilities(groups, options, settings)
    labels = _group_labels(groups)

    # Scores. Conversations are rendered before scoring starts, so that a
    # template error is reported alone, without a progress bar before it.
    model, tokenizer, pad_token_id = load_scoring_model(
        options.model, trust_remote_code=options.trust_remote_code
    )
    max_length = resolve_max_length(
        options.max_length,
        model,
        tokenizer,
        settings.max_length if settings is not None else None,
    )
    encoding = resolve_encoding(options.encoding, settings)
    rendered = [_rendered(group, tokenizer) for group in groups]
    logger.debug(
        "read %d prompts and %d edges from %s",
        read_report.prompts,
        read_report.edges,
        read_report.source,
    )

    def encode(index: int) -> dict:
        group = rendered[index]
        return tokenize_texts(
            tokenizer,
            group.prompt,
            group.responses,
            group.edges,
            group.weights,
            max_length,
            encoding,
        )

    scores, truncated_ties = raw_scores(
        model, pad_token_id, len(groups), encode, batch_size=options.batch_size
    )
    if truncated_ties:
        logger.warning(
            "%d prompts have responses that are identical after truncation to %d "
            "tokens, so they tie; raise --max-length to tell them apart",
            truncated_ties,
            max_length,
        )

    # Metrics.
    solver = SolverCache()
    results = []
    for group, label, prompt_scores, utility in zip(
        groups, labels, scores, utilities, strict=True
    ):
        if not np.all(np.isfinite(prompt_scores)):
            raise EvaluationError(
                f"{group.source}: the model gave non-finite scores "
                f"{prompt_scores.tolist()}; check the model's weights"
            )
        results.append(
            evaluate_prompt(
                label,
                group.edges,
                group.weights,
                prompt_scores,
                reward_map(prompt_scores),
                utility,
                solver,
            )
        )

    report = build_report(
        groups=groups,
        results=results,
        read_report=read_report,
        reward_map=reward_map,
        requested_map=options.reward_map,
        model_info={
            "path": options.model,
            "architecture": (config.architectures or [None])[0],
            "parameters": sum(p.numel() for p in model.parameters()),
            "settings_file": settings.path if settings is not None else None,
        },
        max_length=max_length,
        encoding=encoding,
        truncated_ties=truncated_ties,
        utility_sources=utility_sources,
    )
    write_reports(report, results, options.out)
    return report


def _rendered(group, tokenizer):
    try:
        return render_chat(group, tokenizer)
    except DataError:
        # A ValueError too, but one that already names the record.
        raise
    except ValueError as error:
        raise EvaluationError(f"{group.source}: {error}") from error


def _group_labels(groups) -> list[str]:
    if all(g.group is None for g in groups):
        return [ALL_PROMPTS] * len(groups)
    return [g.group if g.group is not None else NO_GROUP for g in groups]


def _prompt_utilities(groups, options: EvaluateOptions, settings):
    """Return each prompt's utility spec and a count of where the specs came from."""
    utilities: list[str | None] = []
    sources = {"--utility": 0, "data": 0, REWARD_SETTINGS_FILE: 0, "none": 0}
    mapping = dict(options.group_utilities or {})
    for group in groups:
        if options.utility is not None:
            utilities.append(options.utility)
            sources["--utility"] += 1
        elif mapping:
            if group.group not in mapping:
                name = "no group" if group.group is None else f"group {group.group!r}"
                raise EvaluationError(
                    f"{group.source}: the prompt has {name}, which --utility does not "
                    f"map (mapped groups: {', '.join(map(repr, mapping))}); add it to "
                    "the mapping"
                )
            utilities.append(mapping[group.group])
            sources["--utility"] += 1
        elif group.utility is not None:
            utilities.append(group.utility)
            sources["data"] += 1
        elif settings is not None and settings.utility_for(group.group) is not None:
            utilities.append(settings.utility_for(group.group))
            sources[REWARD_SETTINGS_FILE] += 1
        else:
            utilities.append(None)
            sources["none"] += 1
    return utilities, {k: v for k, v in sources.items() if v}

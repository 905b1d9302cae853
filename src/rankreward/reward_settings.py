"""A saved model's reward settings, and the maps from raw scores to rewards.

A model trained by rankreward has ``rankreward.json`` in its folder. It
records how the logit becomes a reward (``bounded`` and ``logit_scale``) and
the utilities trained with. Models trained elsewhere (TRL, OpenRLHF) have no
such file, and their raw score is an unbounded number.

Profiles, collapse distances and the solver's optimum all live on [0, 1], so
raw scores are mapped there by one of ``REWARD_MAPS``:

- ``sigmoid``: ``sigmoid(logit_scale * score)``, with the model's recorded
  ``logit_scale``, or 1 when the model records none;
- ``minmax``: each prompt's scores rescaled to ``(score - min) / (max - min)``,
  so its best response gets 1 and its worst 0. A prompt whose scores are all
  equal gets 0.5 for each response;
- ``auto``: ``sigmoid`` with the recorded scale when ``rankreward.json``
  records bounded rewards, because that is the reward the model
  was trained to output. Otherwise ``minmax``, because a Bradley-Terry loss
  fixes only score differences, so the offset and the scale of an outside
  model's score are arbitrary, and a sigmoid of it would put each prompt's
  rewards anywhere in [0, 1].
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.special import expit

from rankreward.utilities import UtilitySpecError, parse_utility

# The file next to a saved model that records how to read rewards from it.
REWARD_SETTINGS_FILE = "rankreward.json"
# Model input encodings of a (prompt, response) pair: ``pair`` encodes a
# text pair (rankreward's training), ``concat`` one text of prompt +
# response + end of sequence (TRL's RewardTrainer).
ENCODINGS = ("pair", "concat")

REWARD_MAPS = ("auto", "sigmoid", "minmax")


class SettingsError(ValueError):
    """An invalid ``rankreward.json``, as one line naming the file and the field."""


@dataclass(frozen=True)
class ModelSettings:
    """The contents of a model's ``rankreward.json`` that evaluation reads.

    ``group_utilities`` maps a group to its utility spec. ``utilities`` is
    the list of every spec trained with. ``default_utility`` is the spec of
    prompts without a mapped group.
    """

    path: str
    bounded: bool = True
    logit_scale: float = 1.0
    default_utility: str | None = None
    group_utilities: dict[str, str] = field(default_factory=dict)
    utilities: tuple[str, ...] = ()
    group_field: str | None = None
    max_length: int | None = None
    encoding: str = "pair"

    def utility_for(self, group: str | None) -> str | None:
        """Return the utility spec the model was trained with for a group.

        The group's mapped utility comes first, then the default utility,
        then the only utility of a model trained with one. ``None`` means
        the settings do not determine it.
        """
        if group is not None and group in self.group_utilities:
            return self.group_utilities[group]
        if self.default_utility is not None:
            return self.default_utility
        if len(self.utilities) == 1:
            return self.utilities[0]
        return None


def read_model_settings(folder: str | os.PathLike) -> ModelSettings | None:
    """Read ``rankreward.json`` from a model folder; ``None`` if it has none.

    Two layouts are read. ``rankreward train`` writes ``utilities`` as a list
    with ``default_utility`` and ``group_utilities`` next to it. The
    ``reproduce`` command writes ``utilities`` as a group-to-spec object.
    Raises ``SettingsError`` for invalid JSON or an invalid field.
    """
    path = Path(folder) / REWARD_SETTINGS_FILE
    if not path.is_file():
        return None
    name = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SettingsError(f"{name}: cannot read the settings: {error}") from error
    if not isinstance(data, dict):
        raise SettingsError(
            f"{name}: expected a JSON object, got {type(data).__name__}"
        )

    bounded = data.get("bounded", True)
    if not isinstance(bounded, bool):
        raise SettingsError(f"{name}: 'bounded' must be true or false, got {bounded!r}")
    scale = data.get("logit_scale", 1.0)
    valid_scale = isinstance(scale, (int, float)) and not isinstance(scale, bool)
    if not valid_scale or not math.isfinite(scale) or scale <= 0:
        raise SettingsError(
            f"{name}: 'logit_scale' must be a positive number, got {scale!r}"
        )

    utilities = data.get("utilities")
    group_utilities = _spec_mapping(
        name, "group_utilities", data.get("group_utilities")
    )
    listed: tuple[str, ...] = ()
    if isinstance(utilities, Mapping):
        # The reproduce layout: one spec per group.
        for group, spec in _spec_mapping(name, "utilities", utilities).items():
            group_utilities.setdefault(group, spec)
        listed = tuple(sorted(set(group_utilities.values())))
    elif isinstance(utilities, str):
        listed = (_spec(name, "utilities", utilities),)
    elif isinstance(utilities, list):
        listed = tuple(
            _spec(name, f"utilities[{i}]", s) for i, s in enumerate(utilities)
        )
    elif utilities is not None:
        raise SettingsError(
            f"{name}: 'utilities' must be a list of specs or a group-to-spec object, "
            f"got {type(utilities).__name__}"
        )
    default = data.get("default_utility")
    if default is not None:
        default = _spec(name, "default_utility", default)

    group_field = data.get("group_field")
    if group_field is not None and (
        not isinstance(group_field, str) or not group_field
    ):
        raise SettingsError(
            f"{name}: 'group_field' must be a column name, got {group_field!r}"
        )
    max_length = data.get("max_length")
    if max_length is not None and (
        isinstance(max_length, bool)
        or not isinstance(max_length, int)
        or max_length < 1
    ):
        raise SettingsError(
            f"{name}: 'max_length' must be a positive integer, got {max_length!r}"
        )
    encoding = data.get("encoding", "pair")
    if encoding not in ENCODINGS:
        raise SettingsError(
            f"{name}: 'encoding' must be one of {', '.join(ENCODINGS)}, "
            f"got {encoding!r}"
        )
    return ModelSettings(
        path=name,
        bounded=bounded,
        logit_scale=float(scale),
        default_utility=default,
        group_utilities=group_utilities,
        utilities=listed,
        group_field=group_field,
        max_length=max_length,
        encoding=encoding,
    )


def resolve_encoding(requested: str, settings: ModelSettings | None) -> str:
    """Return the encoding to score with: the requested one, or for ``auto``
    the one the model was trained with (``pair`` without rankreward.json).

    NOTE: a model trained by TRL's RewardTrainer has no rankreward.json, and
    was trained on ``concat`` inputs; ``auto`` cannot tell, so pass
    ``--encoding concat`` for such models.
    """
    if requested != "auto":
        return requested
    return settings.encoding if settings is not None else "pair"


def _spec(name: str, key: str, spec) -> str:
    try:
        return parse_utility(spec).spec
    except UtilitySpecError as error:
        raise SettingsError(f"{name}: '{key}': {error}") from error


def _spec_mapping(name: str, key: str, value) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SettingsError(
            f"{name}: '{key}' must be a group-to-spec object, got "
            f"{type(value).__name__}"
        )
    return {str(group): _spec(name, f"{key}.{group}", s) for group, s in value.items()}


@dataclass(frozen=True)
class RewardMap:
    """The map from a prompt's raw scores to rewards in [0, 1].

    ``name`` is ``sigmoid`` or ``minmax`` (``auto`` is resolved by
    ``choose_reward_map``), and ``reason`` explains the choice.
    """

    name: str
    logit_scale: float | None = None
    reason: str = ""

    @property
    def formula(self) -> str:
        """The map as text, as written in reports."""
        if self.name == "sigmoid":
            return f"sigmoid({self.logit_scale:g} * score)"
        return "(score - min) / (max - min) over each prompt's scores, 0.5 if all equal"

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores, dtype=np.float64)
        if self.name == "sigmoid":
            return expit(self.logit_scale * scores)
        low, high = scores.min(), scores.max()
        if high == low:
            return np.full_like(scores, 0.5)
        return (scores - low) / (high - low)


def choose_reward_map(requested: str, settings: ModelSettings | None) -> RewardMap:
    """Resolve a ``--reward-map`` choice against the model's settings."""
    if requested not in REWARD_MAPS:
        raise ValueError(
            f"unknown reward map {requested!r}; valid maps: {', '.join(REWARD_MAPS)}"
        )
    scale = settings.logit_scale if settings is not None else 1.0
    if requested == "sigmoid":
        source = "the model's logit_scale" if settings else "no recorded logit_scale"
        return RewardMap(
            "sigmoid", scale, f"requested, with scale {scale:g} ({source})"
        )
    if requested == "minmax":
        return RewardMap("minmax", reason="requested")
    if settings is None:
        return RewardMap(
            "minmax",
            reason=f"the model folder has no {REWARD_SETTINGS_FILE}, so the offset and "
            "scale of its score are unknown and each prompt's scores are rescaled",
        )
    if not settings.bounded:
        return RewardMap(
            "minmax",
            reason=f"{REWARD_SETTINGS_FILE} records unbounded rewards "
            "(logit_scale * logit), so each prompt's scores are rescaled",
        )
    return RewardMap(
        "sigmoid",
        scale,
        reason=f"the model's own bounded reward, recorded in {REWARD_SETTINGS_FILE}",
    )

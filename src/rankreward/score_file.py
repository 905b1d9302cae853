"""``rankreward score``: add a model's rewards to the records of a JSONL file.

Each record has a ``prompt`` and either ``responses`` (a list) or one
``response``, as texts or as conversations (lists of ``{"role", "content"}``
messages, rendered with the tokenizer's chat template). The output has the
same records in the same order, every field kept, with ``reward`` and
``raw_score`` added: lists for ``responses`` and numbers for ``response``.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rankreward.data_json import jsonl_records, read_text
from rankreward.evaluation_report import write_text_atomic
from rankreward.model_scoring import (
    ScoringError,
    load_scoring_model,
    raw_scores,
    resolve_max_length,
    tokenize_texts,
)
from rankreward.preference_chat import render_chat
from rankreward.preference_data import PreferenceGroup
from rankreward.preference_errors import DataError, printable_path
from rankreward.preference_records import resolve_columns
from rankreward.preference_values import FieldReader
from rankreward.reward_settings import (
    choose_reward_map,
    read_model_settings,
    resolve_encoding,
)

logger = logging.getLogger(__name__)

OUTPUT_FIELDS = ("reward", "raw_score")


@dataclass(frozen=True)
class ScoreRecord:
    """One checked input record; ``single`` is True for a ``response`` record."""

    where: str
    record: dict[str, Any]
    prompt: Any
    responses: tuple[Any, ...]
    single: bool


def read_score_records(path: str) -> list[ScoreRecord]:
    """Read and check every record of a JSONL file before anything is scored.

    Raises ``DataError`` naming the file, the line (from 1) and the field.
    """
    name = printable_path(path)
    if not os.path.exists(path):
        raise DataError(f"{name}: file not found; check the path")
    if os.path.isdir(path):
        raise DataError(f"{name}: is a folder; give a JSONL file")
    columns = resolve_columns(None)
    records = []
    for where, row in jsonl_records(name, read_text(path, name)):
        records.append(_check_record(where, row, columns))
    if not records:
        raise DataError(f"{name}: no records found; the file is empty")
    return records


def _check_record(where: str, row: dict, columns) -> ScoreRecord:
    reader = FieldReader(where, row, columns, json_cells=False)
    if "prompt" not in row:
        raise DataError(f"{where}: field 'prompt' is missing; give the prompt")
    prompt = reader.content("prompt", row["prompt"])
    if "responses" in row and "response" in row:
        raise DataError(
            f"{where}: fields 'responses' and 'response' are both given; keep one"
        )
    if "response" in row:
        response = reader.content("response", row["response"])
        reader.same_kind("response", prompt, response)
        return ScoreRecord(where, row, prompt, (response,), single=True)
    if "responses" not in row:
        raise DataError(
            f"{where}: field 'responses' (a list) or 'response' (one response) is "
            "missing; give the responses to score"
        )
    values = row["responses"]
    if not isinstance(values, list) or not values:
        raise reader.error(
            "responses",
            "must be a non-empty list",
            values,
            'write e.g. ["first", "second"]',
        )
    responses = []
    for position, value in enumerate(values):
        label = f"responses[{position}]"
        response = reader.content(label, value)
        reader.same_kind(label, prompt, response)
        responses.append(response)
    return ScoreRecord(where, row, prompt, tuple(responses), single=False)


def check_output_path(out: str) -> None:
    """Raise ``OSError`` with a one-line reason if ``out`` cannot be written."""
    path = Path(out)
    if path.is_dir():
        raise IsADirectoryError("is a folder; give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"the folder {folder} does not exist; create it first")
    # A real write is the only check that also holds for root and read-only
    # mounts, where the permission bits do not tell.
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise OSError(
            f"cannot write to the folder {folder}: {error.strerror or error}"
        ) from error


def score_file(
    model_path: str,
    data: str,
    out: str,
    *,
    batch_size: int = 16,
    max_length: int | None = None,
    reward_map: str = "auto",
    encoding: str = "auto",
    trust_remote_code: bool = False,
) -> dict:
    """Score every record of ``data`` and write them to ``out``, atomically.

    Returns counts for the caller to print. Raises ``DataError`` for bad
    input, ``ModelLoadError``, ``SettingsError`` or ``ScoringError`` for the
    model, and ``OSError`` when ``out`` cannot be written.
    """
    check_output_path(out)
    records = read_score_records(data)
    settings = read_model_settings(model_path) if os.path.isdir(model_path) else None
    mapping = choose_reward_map(reward_map, settings)
    encoding = resolve_encoding(encoding, settings)
    model, tokenizer, pad_token_id = load_scoring_model(
        model_path, trust_remote_code=trust_remote_code
    )
    max_length = resolve_max_length(
        max_length,
        model,
        tokenizer,
        settings.max_length if settings is not None else None,
    )

    # Conversations are rendered before scoring starts, so that a template
    # error is reported alone, without a progress bar before it.
    rendered = [_rendered(item, tokenizer) for item in records]

    def encode(index: int) -> dict:
        prompt, responses = rendered[index]
        return tokenize_texts(
            tokenizer, prompt, responses, (), (), max_length, encoding
        )

    scores, _ = raw_scores(
        model, pad_token_id, len(records), encode, batch_size=batch_size, unit="record"
    )

    lines = []
    replaced = 0
    for item, record_scores in zip(records, scores, strict=True):
        if not np.all(np.isfinite(record_scores)):
            raise ScoringError(
                f"{item.where}: the model gave non-finite scores "
                f"{record_scores.tolist()}; check the model's weights"
            )
        rewards = [float(v) for v in mapping(record_scores)]
        raw = [float(v) for v in record_scores]
        replaced += any(name in item.record for name in OUTPUT_FIELDS)
        output = dict(item.record)
        output["reward"] = rewards[0] if item.single else rewards
        output["raw_score"] = raw[0] if item.single else raw
        # Default json.dumps settings, so that input values that json.loads
        # accepts (NaN among them) are written back as they were read.
        lines.append(json.dumps(output, ensure_ascii=False))

    singles = sum(len(item.responses) == 1 for item in records)
    if mapping.name == "minmax" and singles:
        logger.warning(
            "%s with one response: minmax gives each the reward 0.5; use "
            "--reward-map sigmoid or read raw_score",
            _records(singles),
        )
    if replaced:
        logger.warning(
            "%s already had a reward or raw_score field; the output replaces it",
            _records(replaced),
        )
    write_text_atomic(Path(out), "".join(line + "\n" for line in lines))
    return {
        "records": len(records),
        "responses": sum(len(item.responses) for item in records),
        "reward_map": mapping,
        "max_length": max_length,
    }


def _rendered(item: ScoreRecord, tokenizer) -> tuple[str, tuple[str, ...]]:
    group = PreferenceGroup(
        prompt=item.prompt,
        responses=item.responses,
        edges=(),
        weights=(),
        source=item.where,
    )
    try:
        group = render_chat(group, tokenizer)
    except DataError:
        # A ValueError too, but one that already names the record.
        raise
    except ValueError as error:
        raise DataError(f"{item.where}: {error}") from error
    return group.prompt, group.responses


def _records(count: int) -> str:
    return "1 record" if count == 1 else f"{count} records"

"""Reading one preference graph from a file, for ``rankreward solve --graph``.

Two layouts are accepted:

- a JSON object ``{"n": N, "edges": [[better, worse], ...]}`` with 0-based
  indices and an optional ``"weights"`` list, one per edge;
- one ranking record (a JSON object, alone in a .json or .jsonl file) with
  ``responses`` and either ``ranks`` (1 is best) or ``scores`` (higher is
  better). Equal ranks or scores tie, and a tie gives no edge. Without
  either field the responses are listed best first.

Every error names the file, the field and the value, and states what to do.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

# The fields each layout reads. A ranking record may carry others, such as an
# id or a kind. A near miss of a known field is an error, so that a misspelt
# "rank" is not silently read as a record without ranks.
EDGE_FIELDS = ("n", "edges", "weights")
RANKING_FIELDS = ("prompt", "responses", "ranks", "scores")


class GraphFileError(ValueError):
    """A graph file that cannot be read as one preference graph."""


@dataclass(frozen=True)
class PreferenceGraph:
    n: int
    edges: list[tuple[int, int]]
    weights: list[float] | None = None


def read_graph_file(path: str | os.PathLike) -> PreferenceGraph:
    """Read a preference graph in either layout of the module docstring."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8-sig") as handle:
            text = handle.read()
    except OSError as error:
        raise GraphFileError(
            f"{path}: cannot read the file: {error.strerror}"
        ) from error
    except UnicodeDecodeError as error:
        raise GraphFileError(
            f"{path}: byte {error.start} is not UTF-8 text; save the file as UTF-8 JSON"
        ) from error
    try:
        record = _parse_one_object(path, text)
    except RecursionError as error:
        raise GraphFileError(
            f"{path}: the JSON is nested too deeply to read; a graph file contains "
            "one flat object"
        ) from error
    if "edges" in record:
        _reject_typos(path, record, EDGE_FIELDS)
        return _edge_list(path, record)
    if "responses" in record:
        _reject_typos(path, record, RANKING_FIELDS)
        return _ranking_record(path, record)
    raise GraphFileError(
        f"{path}: expected an object with 'n' and 'edges', or a ranking record with "
        f"'responses'; found the fields {sorted(record)}"
    )


def _parse_one_object(path: str, text: str) -> dict:
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1)]
    lines = [(number, line) for number, line in lines if line.strip()]
    if not lines:
        raise GraphFileError(f"{path}: the file is empty; write one JSON object")
    try:
        data = json.loads(text)
        where = f"{path}"
    except json.JSONDecodeError as whole_error:
        # A JSONL file: only one record is allowed.
        if len(lines) > 1:
            try:
                json.loads(lines[0][1])
            except json.JSONDecodeError:
                raise _json_error(path, whole_error) from whole_error
            raise GraphFileError(
                f"{path}: found {len(lines)} lines; a graph file contains one record, "
                "so pass one prompt's ranking"
            ) from whole_error
        raise _json_error(path, whole_error) from whole_error
    if not isinstance(data, dict):
        raise GraphFileError(
            f"{where}: expected a JSON object, found {type(data).__name__}"
        )
    return data


def _reject_typos(path: str, record: dict, known: tuple[str, ...]) -> None:
    import difflib

    for key in record:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.7)
        if close and close[0] not in record:
            raise GraphFileError(
                f"{path}: field {key!r} is not a known field; did you mean "
                f"{close[0]!r}? Rename it, or remove it if it is unrelated"
            )


def _json_error(path: str, error: json.JSONDecodeError) -> GraphFileError:
    return GraphFileError(
        f"{path}, line {error.lineno}, column {error.colno}: invalid JSON: {error.msg}"
    )


def _edge_list(path: str, record: dict) -> PreferenceGraph:
    n = record.get("n")
    if n is None:
        raise GraphFileError(
            f"{path}: field 'n' is missing; give the number of responses"
        )
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise GraphFileError(
            f"{path}: field 'n' must be an integer of at least 2, got {n!r}"
        )
    edges = record["edges"]
    if not isinstance(edges, list):
        raise GraphFileError(
            f"{path}: field 'edges' must be a list of [better, worse] pairs, "
            f"got {edges!r}"
        )
    pairs = []
    for position, edge in enumerate(edges):
        where = f"{path}: edges[{position}]"
        if not (isinstance(edge, list) and len(edge) == 2):
            raise GraphFileError(
                f"{where} must be a [better, worse] pair, got {edge!r}"
            )
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in edge):
            raise GraphFileError(f"{where} must hold two integer indices, got {edge!r}")
        better, worse = edge
        for index in edge:
            if not 0 <= index < n:
                raise GraphFileError(
                    f"{where} = {edge} names response {index}, but indices are 0-based "
                    f"and n={n}; use 0..{n - 1}"
                )
        if better == worse:
            raise GraphFileError(f"{where} = {edge} is a self loop; remove it")
        pairs.append((better, worse))
    weights = record.get("weights")
    if weights is not None:
        if not isinstance(weights, list) or len(weights) != len(pairs):
            raise GraphFileError(
                f"{path}: field 'weights' must be a list of {len(pairs)} numbers, "
                "one per edge"
            )
        for position, weight in enumerate(weights):
            if not _is_number(weight) or weight < 0:
                raise GraphFileError(
                    f"{path}: weights[{position}] must be a finite number >= 0, "
                    f"got {weight!r}"
                )
    return PreferenceGraph(n, pairs, weights)


def _ranking_record(path: str, record: dict) -> PreferenceGraph:
    responses = record["responses"]
    if not isinstance(responses, list) or len(responses) < 2:
        raise GraphFileError(
            f"{path}: field 'responses' must list at least 2 responses, "
            f"got {responses!r}"
        )
    n = len(responses)
    seen = {}
    for position, response in enumerate(responses):
        key = json.dumps(response, sort_keys=True)
        if key in seen:
            raise GraphFileError(
                f"{path}: responses[{position}] repeats responses[{seen[key]}]; "
                "list each response once"
            )
        seen[key] = position
    if "ranks" in record and "scores" in record:
        raise GraphFileError(f"{path}: give either 'ranks' or 'scores', not both")
    if "ranks" in record:
        values = _per_response(path, record, "ranks", n, integer=True)
        # Rank 1 is best: lower is better.
        better = [[values[i] < values[j] for j in range(n)] for i in range(n)]
    elif "scores" in record:
        values = _per_response(path, record, "scores", n, integer=False)
        better = [[values[i] > values[j] for j in range(n)] for i in range(n)]
    else:
        better = [[i < j for j in range(n)] for i in range(n)]
    edges = [(i, j) for i in range(n) for j in range(n) if better[i][j]]
    return PreferenceGraph(n, edges)


def _per_response(path, record, field, n, integer):
    values = record[field]
    if not isinstance(values, list) or len(values) != n:
        raise GraphFileError(
            f"{path}: field {field!r} must list one value per response ({n}), "
            f"got {values!r}"
        )
    for position, value in enumerate(values):
        if integer and isinstance(value, float) and value.is_integer():
            value = int(value)  # 2.0 is rank 2, as the data readers take it
            values[position] = value
        if integer and not (isinstance(value, int) and not isinstance(value, bool)):
            raise GraphFileError(
                f"{path}: {field}[{position}] must be an integer rank, got {value!r}"
            )
        if not _is_number(value):
            raise GraphFileError(
                f"{path}: {field}[{position}] must be a finite number, got {value!r}"
            )
    return values


def _is_number(value) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )

"""Preference records grouped by prompt, and the report of what was read.

Every record of a data set, whatever its layout (see
``rankreward.preference_records``), becomes edges between the responses of
its prompt. Records with the same prompt are merged into one
``PreferenceGroup``, so each distinct response text is stored, and later
encoded, once per prompt:

- an edge given again, such as a repeated pairwise row or a second ranking
  of the same responses, adds 1 to that edge's weight and is counted in
  ``ReadReport.duplicate_edges``;
- a pair given in both directions, say by two annotators, is kept as two
  edges and counted in ``ReadReport.contradictions``;
- a record whose responses all tie gives no edge, so it is dropped and listed
  in ``ReadReport.dropped``.

Each group's utility is the record's ``utility`` field if it has one, else the
utility that the caller's ``group_utilities`` mapping gives its group.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rankreward.preference_errors import DataError, DataUtilityError, show_value
from rankreward.preference_records import (
    Content,
    ParsedRecord,
    parse_record,
    resolve_columns,
    response_key,
)
from rankreward.utilities import UtilitySpecError, parse_utility

ALL_TIED = "all responses tied, so the record gives no edge"


@dataclass(frozen=True)
class PreferenceGroup:
    """One prompt, its distinct responses, and the preference edges among them.

    ``edges`` are ``(better, worse)`` indices into ``responses``, and
    ``weights[k]`` counts how many times ``edges[k]`` was given. The prompt
    and the responses are texts or conversations (lists of ``{"role",
    "content"}`` messages). ``source`` is where the prompt's first record is.
    """

    prompt: Content
    responses: tuple[Content, ...]
    edges: tuple[tuple[int, int], ...]
    weights: tuple[float, ...]
    utility: str | None = None
    group: str | None = None
    source: str = ""


@dataclass(frozen=True)
class ReadReport:
    """Counts of what a data set contained, and of the policies applied to it.

    ``records`` counts every record read, dropped ones included, and
    ``layouts`` splits that count by layout (ranking, scores, ranks,
    pairwise). ``prompts``, ``responses`` and ``edges`` count the groups,
    their distinct responses and their distinct edges. ``comparisons`` is
    the sum of the edge weights. ``ties`` counts response pairs that a
    record scored or ranked equally. ``dropped`` maps each reason to the
    records dropped for it. ``ignored_fields`` lists the columns that no
    field reads.
    """

    source: str
    format: str
    records: int
    layouts: dict[str, int]
    prompts: int
    responses: int
    edges: int
    comparisons: int
    ties: int
    duplicate_edges: int
    contradictions: int
    groups: dict[str, int]
    utilities: dict[str, int]
    dropped: dict[str, tuple[str, ...]]
    ignored_fields: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON-ready values."""
        report = dataclasses.asdict(self)
        report["dropped"] = {k: list(v) for k, v in self.dropped.items()}
        report["ignored_fields"] = list(self.ignored_fields)
        return report


def check_group_utilities(mapping: Mapping[str, str] | None) -> dict[str, str]:
    """Check a group-to-utility mapping and return it with canonical specs.

    Raises ``DataUtilityError``, a ``UtilitySpecError``, naming the group
    whose spec is invalid.
    """
    checked = {}
    for group, spec in (mapping or {}).items():
        if not isinstance(group, str) or not group.strip():
            raise DataError(
                f"group utilities: the group name {show_value(group)} must be "
                "non-empty text"
            )
        try:
            checked[group] = parse_utility(spec).spec
        except UtilitySpecError as error:
            raise DataUtilityError(
                f"group utilities: group {group!r}: {error}"
            ) from error
    return checked


def group_records(
    records: Iterable[Mapping[str, Any]],
    *,
    columns: Mapping[str, str] | None = None,
    group_utilities: Mapping[str, str] | None = None,
    name: str = "records",
) -> tuple[list[PreferenceGroup], ReadReport]:
    """Check in-memory records and group them by prompt.

    Errors name the record as ``records[3]``, with ``name`` in place of
    ``records``.
    """
    located = ((f"{name}[{i}]", record) for i, record in enumerate(records))
    return group_located_records(
        located,
        source=name,
        format="records",
        columns=columns,
        group_utilities=group_utilities,
    )


def group_located_records(
    located: Iterable[tuple[str, Mapping[str, Any]]],
    *,
    source: str,
    format: str,
    columns: Mapping[str, str] | None = None,
    group_utilities: Mapping[str, str] | None = None,
    json_cells: bool = False,
) -> tuple[list[PreferenceGroup], ReadReport]:
    """Check ``(where, record)`` pairs and group the records by prompt.

    ``where`` names the record in errors, as in ``data.jsonl, line 3``.
    Raises ``DataError`` on the first bad record, on an empty data set, and
    when every record is dropped.
    """
    try:
        resolved = resolve_columns(columns)
        mapping = check_group_utilities(group_utilities) if group_utilities else None
    except DataError as error:
        # Name the file here too, so that every data error starts the same way.
        raise type(error)(f"{source}: {error}") from error
    builders: dict[str, _GroupBuilder] = {}
    layouts: Counter[str] = Counter()
    dropped: dict[str, list[str]] = {}
    ignored: dict[str, None] = {}
    ties = 0
    for where, row in located:
        if not isinstance(row, Mapping):
            raise DataError(
                f"{where}: expected a record with named fields, got "
                f"{type(row).__name__}; write one object per record"
            )
        record = parse_record(where, row, resolved, json_cells=json_cells)
        layouts[record.layout] += 1
        ties += record.ties
        ignored.update(dict.fromkeys(record.ignored))
        utility = _record_utility(record, mapping)
        if not record.edges:
            dropped.setdefault(ALL_TIED, []).append(where)
            continue
        key = response_key(record.prompt)
        if key not in builders:
            builders[key] = _GroupBuilder(record, utility)
        builders[key].add(record, utility)

    records = sum(layouts.values())
    if records == 0:
        raise DataError(f"{source}: no records found; the data set is empty")
    if not builders:
        reasons = "; ".join(f"{len(v)} because {k}" for k, v in dropped.items())
        raise DataError(
            f"{source}: all {records} records were dropped ({reasons}); no prompt "
            "has a preference edge to train on"
        )
    groups = [builder.build() for builder in builders.values()]
    report = ReadReport(
        source=source,
        format=format,
        records=records,
        layouts=dict(layouts),
        prompts=len(groups),
        responses=sum(len(g.responses) for g in groups),
        edges=sum(len(g.edges) for g in groups),
        comparisons=sum(int(sum(g.weights)) for g in groups),
        ties=ties,
        duplicate_edges=sum(b.duplicate_edges for b in builders.values()),
        contradictions=sum(b.contradictions() for b in builders.values()),
        groups=dict(Counter(g.group for g in groups if g.group is not None)),
        utilities=dict(Counter(g.utility for g in groups if g.utility is not None)),
        dropped={k: tuple(v) for k, v in dropped.items()},
        ignored_fields=tuple(ignored),
    )
    return groups, report


def _record_utility(record: ParsedRecord, mapping) -> str | None:
    if record.utility is not None or mapping is None:
        return record.utility
    group_column = record.group_column
    if record.group is None:
        raise DataError(
            f"{record.where}: field {group_column!r} is missing, and group "
            "utilities are given; give the record a group or its own utility"
        )
    if record.group not in mapping:
        mapped = ", ".join(repr(g) for g in mapping)
        raise DataError(
            f"{record.where}: field {group_column!r} is {record.group!r}, which has "
            f"no utility in the group mapping (mapped groups: {mapped}); add it to "
            "the mapping or fix the record"
        )
    return mapping[record.group]


class _GroupBuilder:
    """Responses and edge weights of one prompt, merged over its records."""

    def __init__(self, first: ParsedRecord, utility: str | None):
        self.first = first
        self.utility = utility
        self.responses: list[Content] = []
        self.index: dict[str, int] = {}
        self.weights: dict[tuple[int, int], float] = {}
        self.duplicate_edges = 0

    def add(self, record: ParsedRecord, utility: str | None) -> None:
        self.check_same("group", self.first.group, record.group, record)
        self.check_same("utility", self.utility, utility, record)
        local = []
        for response in record.responses:
            key = response_key(response)
            if key not in self.index:
                self.index[key] = len(self.responses)
                self.responses.append(response)
            local.append(self.index[key])
        for better, worse in record.edges:
            edge = (local[better], local[worse])
            if edge in self.weights:
                self.duplicate_edges += 1
            self.weights[edge] = self.weights.get(edge, 0.0) + 1.0

    def check_same(self, field: str, first_value, value, record: ParsedRecord):
        if first_value != value:
            raise DataError(
                f"{record.where}: the {field} is {show_value(value)}, but "
                f"{self.first.where} gives {show_value(first_value)} for the same "
                f"prompt; give every record of a prompt the same {field}"
            )

    def contradictions(self) -> int:
        return sum(1 for i, j in self.weights if i < j and (j, i) in self.weights)

    def build(self) -> PreferenceGroup:
        return PreferenceGroup(
            prompt=self.first.prompt,
            responses=tuple(self.responses),
            edges=tuple(self.weights),
            weights=tuple(self.weights.values()),
            utility=self.utility,
            group=self.first.group,
            source=self.first.where,
        )

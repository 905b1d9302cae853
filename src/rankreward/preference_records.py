"""Checking one preference record and turning it into responses and edges.

A record is one row of a data file, as a dict of column name to value, in one
of these layouts:

- ranking: ``prompt`` and ``responses`` listed best first, so every pair of
  responses gives an edge;
- scores: ``prompt``, ``responses`` and ``scores`` (higher is better);
- ranks: ``prompt``, ``responses`` and ``ranks`` (integers, 1 is best);
- pairwise, TRL's layout: ``prompt``, ``chosen`` and ``rejected``. The
  prompt may be left out when ``chosen`` and ``rejected`` are whole
  conversations or texts that start with the same prompt.

Equal scores or ranks are a tie and give no edge. Prompts and responses are
texts or conversations, which are lists of ``{"role", "content"}`` messages.
The optional fields are ``utility`` (a utility spec string) and ``group`` (a
name that a caller's mapping turns into a utility). Without a mapping for the
group field, the ``group`` column is read, else ``kind``.

A null value counts as an absent optional field, because Arrow-backed files
(Parquet, saved data sets) give every row every column. So a record whose
``scores`` and ``ranks`` are null is read as best first, and a pair whose
``prompt`` is null has its prompt split off. ``ReadReport.layouts`` counts
the records read in each layout.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rankreward.preference_errors import DataError, DataUtilityError, show_value
from rankreward.preference_values import (
    Content,
    FieldReader,
    response_key,
    shared_prompt_end,
)
from rankreward.utilities import UtilitySpecError, parse_utility

# Field roles. Each is read from the column of the same name unless the
# caller's column mapping names another.
FIELDS = (
    "prompt",
    "responses",
    "scores",
    "ranks",
    "chosen",
    "rejected",
    "utility",
    "group",
)
# An unused column this close (difflib ratio) to an absent optional field is
# taken for a typo of it, so that "score" is an error and not a record
# silently read as best first. At 0.85, "prompt_id" (0.8 against "prompt")
# and "source" (0.67 against "scores") pass.
TYPO_CUTOFF = 0.85


@dataclass(frozen=True)
class ParsedRecord:
    """One checked record: its responses and the edges among them.

    ``edges`` are ``(better, worse)`` indices into ``responses``. ``ties``
    counts the pairs of responses with equal scores or ranks. ``ignored``
    lists the record's columns that no field reads.
    """

    where: str
    layout: str
    prompt: Content
    responses: list[Content]
    edges: list[tuple[int, int]]
    ties: int
    utility: str | None
    group: str | None
    group_column: str
    ignored: tuple[str, ...]


def resolve_columns(columns: Mapping[str, str] | None) -> dict[str, str]:
    """Check a field-to-column mapping such as ``{"prompt": "question"}``.

    Returns a column for every field in ``FIELDS``. The group field gets
    ``""`` unless the mapping names its column, which means the ``group``
    column, else ``kind``.
    """
    mapping = dict(columns or {})
    for field, column in mapping.items():
        if field not in FIELDS:
            raise DataError(
                f"unknown field {field!r} in the column mapping"
                f"{_suggestion(field, FIELDS)}; known fields: {', '.join(FIELDS)}"
            )
        if not isinstance(column, str) or not column.strip():
            raise DataError(
                f"the column mapping gives field {field!r} the column "
                f"{show_value(column)}; give a column name"
            )
    resolved = {field: mapping.get(field, field) for field in FIELDS}
    resolved["group"] = mapping.get("group", "")
    for column in set(resolved.values()) - {""}:
        sharing = [f for f in FIELDS if resolved[f] == column]
        if len(sharing) > 1:
            raise DataError(
                f"the column mapping reads fields {' and '.join(map(repr, sharing))} "
                f"from column {column!r}; map each of them to its own column"
            )
    return resolved


def parse_record(
    where: str,
    row: Mapping[str, Any],
    columns: Mapping[str, str],
    *,
    json_cells: bool = False,
) -> ParsedRecord:
    """Check one record and return its responses and edges.

    ``where`` names the file and line or row in error messages. ``columns``
    comes from ``resolve_columns``. With ``json_cells``, for CSV files, list
    values arrive as JSON text and are decoded. Raises ``DataError`` on the
    first problem found.
    """
    reader = _RecordReader(where, row, columns, json_cells)
    # Arrow-backed files give every row every column, with nulls where a row
    # has no value, so the layout follows the non-null fields first.
    if reader.given("chosen") or reader.given("rejected"):
        return reader.pairwise()
    if reader.given("responses"):
        return reader.ranking()
    if reader.present("chosen") or reader.present("rejected"):
        return reader.pairwise()
    if reader.present("responses"):
        return reader.ranking()
    raise reader.no_layout_error()


class _RecordReader(FieldReader):
    # Layouts.

    def ranking(self) -> ParsedRecord:
        self.require("prompt")
        self.reject_typos(("scores", "ranks", "utility", "group"))
        prompt = self.content("prompt", self.value("prompt"))
        responses = self.responses(prompt)
        n = len(responses)
        if self.given("scores") and self.given("ranks"):
            raise DataError(
                f"{self.where}: fields {self.name('scores')!r} and "
                f"{self.name('ranks')!r} are both given; keep one of them"
            )
        if self.given("ranks"):
            ranks = self.per_response("ranks", n, self.rank)
            return self.finish("ranks", prompt, responses, [-r for r in ranks])
        if self.given("scores"):
            scores = self.per_response("scores", n, self.score)
            return self.finish("scores", prompt, responses, scores)
        # Best first: an earlier response has more merit.
        return self.finish("ranking", prompt, responses, list(range(n, 0, -1)))

    def pairwise(self) -> ParsedRecord:
        self.require("chosen")
        self.require("rejected")
        self.reject_typos(("prompt", "utility", "group"))
        chosen = self.content("chosen", self.value("chosen"))
        rejected = self.content("rejected", self.value("rejected"))
        if response_key(chosen) == response_key(rejected):
            raise self.error(
                "rejected",
                f"is the same as {self.name('chosen')!r}",
                rejected,
                "a pair needs two different responses, so fix or drop the row",
            )
        self.same_kind("rejected", chosen, rejected)
        if self.given("prompt"):
            prompt = self.content("prompt", self.value("prompt"))
            self.same_kind("chosen", prompt, chosen)
        elif isinstance(chosen, list):
            prompt, chosen, rejected = self.split_conversations(chosen, rejected)
        else:
            prompt, chosen, rejected = self.split_texts(chosen, rejected)
        return self.finish("pairwise", prompt, [chosen, rejected], [1, 0])

    def finish(self, layout, prompt, responses, merit) -> ParsedRecord:
        n = len(responses)
        edges = [(i, j) for i in range(n) for j in range(n) if merit[i] > merit[j]]
        ties = sum(merit[i] == merit[j] for i in range(n) for j in range(i + 1, n))
        utility, group = self.labels()
        return ParsedRecord(
            self.where,
            layout,
            prompt,
            responses,
            edges,
            ties,
            utility,
            group,
            self.columns["group"],
            tuple(self.unused()),
        )

    def labels(self) -> tuple[str | None, str | None]:
        """Return the record's utility spec and group name, each None if absent."""
        utility = self.row.get(self.columns["utility"])
        if utility is not None:
            if not isinstance(utility, str):
                raise self.error(
                    "utility", "must be a utility spec", utility, "write e.g. 'log'"
                )
            try:
                utility = parse_utility(utility).spec
            except UtilitySpecError as error:
                raise DataUtilityError(
                    f"{self.where}: field {self.name('utility')!r}: {error}"
                ) from error
        group = self.row.get(self.columns["group"])
        if group is not None:
            if isinstance(group, bool) or not isinstance(group, (str, int)):
                raise self.error(
                    "group", "must be a group name", group, "write the name as text"
                )
            group = str(group)
            if not group.strip():
                raise self.error(
                    "group", "is empty", group, "name the group or drop it"
                )
        return utility, group

    # Missing and misspelt fields.

    def require(self, field: str) -> None:
        column = self.columns[field]
        if column not in self.row:
            raise DataError(
                f"{self.where}: field {column!r} is missing{self.hint(field)}"
            )

    def hint(self, field: str) -> str:
        column = self.columns[field]
        close = difflib.get_close_matches(column, self.unused(), n=1, cutoff=0.6)
        if close:
            return (
                f"; the record has {close[0]!r}: rename it to {column!r} or map it "
                f"with --columns {field}={close[0]}"
            )
        found = ", ".join(repr(name) for name in self.row) or "none"
        return f"; the record's fields are {found}: add it or map it in columns"

    def unused(self) -> list[str]:
        used = set(self.columns.values())
        return [name for name in self.row if name not in used]

    def reject_typos(self, optional: tuple[str, ...]) -> None:
        absent = [self.columns[f] for f in optional if not self.present(f)]
        if "group" in optional and not self.present("group"):
            absent.extend(self.group_columns)
        typo = _find_typo(tuple(self.unused()), tuple(absent))
        if typo is not None:
            raise DataError(
                f"{self.where}: field {typo[0]!r} is not a known field; did you "
                f"mean {typo[1]!r}? Rename it, or remove it if it is unrelated"
            )

    def no_layout_error(self) -> DataError:
        expected = [self.columns[f] for f in ("responses", "chosen", "rejected")]
        found = ", ".join(repr(name) for name in self.row) or "none"
        text = (
            f"{self.where}: field {expected[0]!r} (a ranking) or fields "
            f"{expected[1]!r} and {expected[2]!r} (a preference pair) are missing; "
            "the record's fields "
            f"are {found}"
        )
        for field, column in zip(
            ("responses", "chosen", "rejected"), expected, strict=True
        ):
            close = difflib.get_close_matches(column, self.unused(), n=1)
            if close:
                return DataError(
                    f"{text}; rename {close[0]!r} to {column!r} or map it with "
                    f"--columns {field}={close[0]}"
                )
        return DataError(f"{text}; rename the fields or map them in columns")

    def split_texts(self, chosen: str, rejected: str) -> tuple[str, str, str]:
        # NOTE: when both responses start with the same words (say "I think"),
        # those words become part of the prompt, so such a row can land in a
        # different group from other rows of its prompt. A prompt field avoids
        # this.
        cut = shared_prompt_end(chosen, rejected)
        prompt_column = self.name("prompt")
        if cut == 0:
            raise self.error(
                "rejected",
                f"shares no leading prompt text with {self.name('chosen')!r}",
                rejected,
                f"add a {prompt_column!r} field",
            )
        for field, text in (("chosen", chosen), ("rejected", rejected)):
            if not text[cut:].strip():
                raise self.error(
                    field,
                    "is empty once the shared prompt is split off",
                    text,
                    f"add a {prompt_column!r} field",
                )
        return chosen[:cut], chosen[cut:], rejected[cut:]

    def split_conversations(self, chosen: list, rejected: list):
        # The prompt is every message before the last assistant turn.
        cuts = []
        for field, messages in (("chosen", chosen), ("rejected", rejected)):
            roles = [message["role"] for message in messages]
            if "assistant" not in roles[1:]:
                raise self.error(
                    field,
                    "has no assistant turn after its first message, so no prompt "
                    "can be split off",
                    messages,
                    f"add a {self.name('prompt')!r} field",
                )
            cuts.append(len(roles) - 1 - roles[::-1].index("assistant"))
        if chosen[: cuts[0]] != rejected[: cuts[1]]:
            raise self.error(
                "rejected",
                f"differs from {self.name('chosen')!r} before the last assistant "
                "turn, so they share no prompt",
                rejected,
                f"add a {self.name('prompt')!r} field or fix the conversations",
            )
        return chosen[: cuts[0]], chosen[cuts[0] :], rejected[cuts[1] :]


# Records of one file mostly share their column names, so the result is cached.
@functools.lru_cache(maxsize=1024)
def _find_typo(unused: tuple[str, ...], absent: tuple[str, ...]):
    """Return (column, field column it resembles) for the first typo, or None."""
    for name in unused:
        close = difflib.get_close_matches(name, absent, n=1, cutoff=TYPO_CUTOFF)
        if close:
            return name, close[0]
    return None


def _suggestion(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""

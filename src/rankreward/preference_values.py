"""Checks of the values in one preference record: texts, conversations, numbers.

``FieldReader`` reads the fields of one record through the caller's column
mapping and raises a one-line ``DataError`` naming the record, the column and
the value for the first invalid value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from rankreward.preference_errors import DataError, show_value

# A text, or a conversation: a list of {"role", "content"} messages.
Content = str | list[dict[str, str]]
# Columns read as the group when the mapping names none, in order of preference.
GROUP_COLUMNS = ("group", "kind")


class FieldReader:
    """The fields of one record, read through a field-to-column mapping."""

    def __init__(
        self,
        where: str,
        row: Mapping[str, Any],
        columns: Mapping[str, str],
        json_cells: bool,
    ):
        self.where = where
        self.row = row
        self.columns = dict(columns)
        self.group_columns = (self.columns["group"],)
        if not self.columns["group"]:
            self.group_columns = GROUP_COLUMNS
            used = set(self.columns.values())
            present = [c for c in GROUP_COLUMNS if c in row and c not in used]
            self.columns["group"] = (present or GROUP_COLUMNS)[0]
        self.json_cells = json_cells

    def name(self, field: str) -> str:
        """Return the column of a field role, or a label such as 'responses[2]'."""
        return self.columns.get(field, field)

    def present(self, field: str) -> bool:
        return self.columns[field] in self.row

    def given(self, field: str) -> bool:
        return self.row.get(self.columns[field]) is not None

    def value(self, field: str):
        return self.row[self.columns[field]]

    def error(self, field: str, problem: str, value, fix: str) -> DataError:
        return DataError(
            f"{self.where}: field {self.name(field)!r} {problem}, "
            f"got {show_value(value)}; {fix}"
        )

    def content(self, field: str, value) -> Content:
        """Check a prompt or a response: non-blank text or a conversation."""
        if self.json_cells and isinstance(value, str) and value.startswith("["):
            decoded = _json_or_none(value)
            if isinstance(decoded, list) and all(isinstance(m, dict) for m in decoded):
                value = decoded
        if isinstance(value, list):
            return self.messages(field, value)
        if value is None:
            raise self.error(field, "has no value", value, "give the text")
        if not isinstance(value, str):
            raise self.error(
                field,
                "must be text or a list of {'role', 'content'} messages",
                value,
                "fix its type",
            )
        if not value.strip():
            raise self.error(field, "is empty", value, "give the text")
        return value

    def messages(self, field: str, value: list) -> list[dict[str, str]]:
        if not value:
            raise self.error(field, "is an empty conversation", value, "add messages")
        checked = []
        for position, message in enumerate(value):
            label = f"{self.name(field)}[{position}]"
            if not isinstance(message, dict) or "role" not in message:
                raise self.error(
                    label,
                    "must be a message with 'role' and 'content'",
                    message,
                    "write {'role': 'user', 'content': '...'}",
                )
            role, text = message["role"], message.get("content")
            if not isinstance(role, str) or not role.strip():
                raise self.error(
                    f"{label}.role", "must be a role name", role, "write e.g. 'user'"
                )
            if not isinstance(text, str):
                raise self.error(
                    f"{label}.content", "must be text", text, "give the message text"
                )
            if not text.strip():
                raise self.error(
                    f"{label}.content", "is empty", text, "give the message text"
                )
            # Arrow fills in keys that other messages have as None. Dropping
            # them makes equal messages compare equal in every file format.
            checked.append({k: v for k, v in message.items() if v is not None})
        return checked

    def same_kind(self, field: str, reference: Content, value: Content) -> None:
        if isinstance(reference, list) != isinstance(value, list):
            kind = "a conversation" if isinstance(reference, list) else "text"
            raise self.error(
                field,
                f"must be {kind}, like the prompt and the other responses",
                value,
                "write prompts and responses all as text or all as conversations",
            )

    def responses(self, prompt: Content) -> list[Content]:
        """Check that there are two or more responses and that none repeats."""
        column = self.name("responses")
        values = self.list_value("responses", 'e.g. ["first", "second"]')
        if len(values) < 2:
            raise self.error(
                "responses",
                "must list at least 2 responses",
                values,
                "a ranking needs two or more, so add responses or drop the record",
            )
        responses, seen = [], {}
        for position, value in enumerate(values):
            label = f"{column}[{position}]"
            response = self.content(label, value)
            self.same_kind(label, prompt, response)
            key = response_key(response)
            if key in seen:
                raise self.error(
                    label,
                    f"repeats {column}[{seen[key]}]",
                    response,
                    "list each response once (equal scores or ranks make a tie)",
                )
            seen[key] = position
            responses.append(response)
        return responses

    def list_value(self, field: str, example: str) -> list:
        value = self.value(field)
        if value is None:
            raise self.error(field, "has no value", value, "give a list or drop it")
        if self.json_cells and isinstance(value, str):
            decoded = _json_or_none(value)
            if not isinstance(decoded, list):
                raise self.error(
                    field,
                    "must be a JSON list in the CSV cell",
                    value,
                    f"write {example}",
                )
            value = decoded
        if not isinstance(value, list):
            raise self.error(field, "must be a list", value, f"write {example}")
        return value

    def per_response(self, field: str, n: int, check) -> list:
        values = self.list_value(field, "one value per response, e.g. [2, 1]")
        if len(values) != n:
            raise self.error(
                field,
                f"must list one value per response ({n})",
                values,
                f"give {n} values in the order of the responses",
            )
        return [check(f"{self.name(field)}[{i}]", v) for i, v in enumerate(values)]

    def score(self, label: str, value) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(
                label, "must be a number", value, "write the score as a number"
            )
        # Only floats can be infinite, and math.isfinite fails on huge ints.
        if isinstance(value, float) and not math.isfinite(value):
            raise self.error(label, "must be finite", value, "give a finite score")
        return value

    def rank(self, label: str, value) -> int:
        integral = isinstance(value, int) or (
            isinstance(value, float) and value.is_integer()
        )
        if isinstance(value, bool) or not integral or value < 1:
            raise self.error(
                label,
                "must be an integer rank of at least 1 (1 is best)",
                value,
                "use the scores field for fractional values",
            )
        return int(value)


def response_key(value: Content) -> str:
    """Return a string that is equal for equal texts and for equal conversations."""
    if isinstance(value, str):
        return "t" + value
    return "m" + json.dumps(value, sort_keys=True, ensure_ascii=False)


def shared_prompt_end(first: str, second: str) -> int:
    """Return where the prompt shared by two texts ends, or 0 if they share none.

    The cut follows a whitespace character inside the common prefix, so that
    no word is split, and leaves each text at least one character.
    """
    limit = min(len(first), len(second)) - 1
    common = 0
    while common < limit and first[common] == second[common]:
        common += 1
    for cut in range(common, 0, -1):
        if first[cut - 1].isspace():
            return cut
    return 0


def _json_or_none(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None

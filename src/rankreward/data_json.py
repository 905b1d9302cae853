"""Reading preference records from JSONL and JSON files.

Both are parsed with the standard ``json`` module, not ``datasets``, for two
reasons. Arrow's schema inference would reject a wrongly typed value without
naming its line. It would also turn the integer ranks of a whole column into
floats when one row has a float.

Each reader returns ``(where, record)`` pairs. ``where`` is ``FILE, line N``
(from 1) for JSONL and ``FILE, record N`` (from 0, the list index) for JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from rankreward.preference_errors import DataError

Located = Iterator[tuple[str, Mapping[str, Any]]]


def read_text(path: str, name: str) -> str:
    """Read a file as UTF-8 text; a DataError names the line of an invalid byte."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as error:
        raise DataError(f"{name}: cannot read the file: {error.strerror}") from error
    try:
        # utf-8-sig also accepts a byte-order mark, as editors on Windows write.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DataError(
            f"{name}, line {line}: the file is not UTF-8 text (byte "
            f"{raw[error.start]:#04x} at offset {error.start}); save it as UTF-8"
        ) from error


def jsonl_records(name: str, text: str) -> Located:
    # Split on "\n" only: str.splitlines would also split on U+2028, which
    # JSON allows unescaped inside strings.
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        where = f"{name}, line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(
                f"{where}: invalid JSON at column {error.colno}: {error.msg}; write "
                "one JSON object per line"
            ) from error
        except RecursionError as error:
            raise DataError(f"{where}: the JSON is nested too deeply") from error
        if not isinstance(record, dict):
            raise DataError(
                f"{where}: expected a JSON object, got {type(record).__name__}; "
                "write one object per line"
            )
        yield where, record


def json_records(path: str, name: str) -> tuple[str, Located]:
    text = read_text(path, name)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        first = text.lstrip().split("\n", 1)[0]
        if error.msg == "Extra data" and _is_json_object(first):
            # Line-delimited JSON under a .json name, as many hub data sets are.
            return "jsonl", jsonl_records(name, text)
        raise DataError(
            f"{name}, line {error.lineno}: invalid JSON at column {error.colno}: "
            f"{error.msg}; fix the file"
        ) from error
    except RecursionError as error:
        raise DataError(f"{name}: the JSON is nested too deeply") from error
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        found = (
            f"an object with the fields {', '.join(map(repr, data))}"
            if isinstance(data, dict)
            else type(data).__name__
        )
        raise DataError(
            f"{name}: expected a list of records or an object with a 'data' list, "
            f"got {found}; write [{{...}}, {{...}}]"
        )
    return "json", ((f"{name}, record {i}", r) for i, r in enumerate(data))


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (json.JSONDecodeError, RecursionError):
        return False

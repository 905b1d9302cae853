"""Reading preference data from JSONL, JSON, Parquet, CSV and saved data sets.

``read_preferences`` reads a file, checks every record (layouts in
``rankreward.preference_records``) and groups the records by prompt
(``rankreward.preference_data``). Errors name the record the way an editor
or ``datasets`` would find it. JSONL and CSV errors give ``line N``, counted
from 1. JSON errors give ``record N``, the list index. Parquet and saved data
set errors give ``row N``, as in ``dataset[N]``.

JSON and JSONL are parsed with the standard ``json`` module
(``rankreward.data_json`` says why), and CSV, Parquet and saved data sets
are read with ``datasets`` (``rankreward.data_tables``). Nothing is read from
a network.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from rankreward.data_json import json_records, jsonl_records, read_text
from rankreward.data_tables import csv_records, parquet_records, saved_records
from rankreward.preference_data import (
    PreferenceGroup,
    ReadReport,
    group_located_records,
)
from rankreward.preference_errors import DataError, printable_path

FORMATS = ("jsonl", "json", "parquet", "csv", "saved")
EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
}


def read_preferences(
    path: str | os.PathLike,
    *,
    format: str | None = None,
    columns: Mapping[str, str] | None = None,
    group_utilities: Mapping[str, str] | None = None,
    split: str | None = None,
) -> tuple[list[PreferenceGroup], ReadReport]:
    """Read a preference data file and return its prompts and a report.

    Args:
        path: a ``.jsonl``, ``.json``, ``.parquet`` or ``.csv`` file, or a
            folder written by ``Dataset.save_to_disk`` or
            ``DatasetDict.save_to_disk``.
        format: one of ``FORMATS``; by default the extension picks it.
        columns: field to column name, such as ``{"prompt": "question"}``,
            for files whose columns have other names.
        group_utilities: group name to utility spec, for prompt-aware
            training. Every record then needs a known group or its own
            ``utility`` field.
        split: the split of a saved ``DatasetDict``; it may be left out when
            the folder has one split.

    Raises ``DataError`` with one line naming the file, the record and the
    field. An invalid utility spec raises ``DataUtilityError``, which is
    also a ``UtilitySpecError``.
    """
    path = os.fspath(path)
    name = printable_path(path)
    format = _pick_format(path, name, format)
    if split is not None and format != "saved":
        raise DataError(
            f"{name}: a split ({split!r}) applies only to a saved data set folder; "
            f"drop it for a {format} file"
        )
    if not os.path.exists(path):
        raise DataError(f"{name}: file not found; check the path")
    if format != "saved" and os.path.isdir(path):
        raise DataError(
            f"{name}: is a folder, not a {format} file; give a file, or a folder "
            "written by save_to_disk with format 'saved'"
        )
    if format != "saved" and not os.path.isfile(path):
        # A device or a pipe (/dev/zero, say) could be read without end.
        raise DataError(f"{name}: is not a regular file; save the data to a file")
    if format == "jsonl":
        located = jsonl_records(name, read_text(path, name))
    elif format == "json":
        format, located = json_records(path, name)
    elif format == "csv":
        located = csv_records(path, name)
    elif format == "parquet":
        located = parquet_records(path, name)
    else:
        located = saved_records(path, name, split)
    return group_located_records(
        located,
        source=name,
        format=format,
        columns=columns,
        group_utilities=group_utilities,
        json_cells=format == "csv",
    )


def _pick_format(path: str, name: str, format: str | None) -> str:
    if format is not None:
        if format not in FORMATS:
            raise DataError(
                f"{name}: unknown format {format!r}; valid formats: "
                f"{', '.join(FORMATS)}"
            )
        return format
    extension = os.path.splitext(path)[1].lower()
    # A folder named like a file, such as Spark's "part.parquet" folders, gets
    # the file error below and not the saved data set one.
    if os.path.isdir(path) and extension not in EXTENSIONS:
        return "saved"
    if extension not in EXTENSIONS:
        raise DataError(
            f"{name}: unknown file extension {extension or '(none)'!r}; use "
            f"{', '.join(EXTENSIONS)} or a saved data set folder, or give the "
            f"format ({', '.join(FORMATS)})"
        )
    return EXTENSIONS[extension]

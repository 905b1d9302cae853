"""Reading preference records from CSV, Parquet and saved data sets with ``datasets``.

Each reader returns ``(where, row)`` pairs, where ``where`` names the file
and the line (CSV, from 1) or row (from 0, as in ``dataset[N]``) for error
messages. For CSV and Parquet, ``datasets`` builds its Arrow cache in a
temporary folder and the rows are then held in memory, so that reading leaves
nothing in the user's cache. A saved data set is memory-mapped from its
folder.
"""

from __future__ import annotations

import csv
import sys
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any

from rankreward.data_json import read_text
from rankreward.preference_errors import DataError

Located = Iterator[tuple[str, Mapping[str, Any]]]


def csv_records(path: str, name: str) -> Located:
    header, starts = _check_csv(path, name)
    if not starts:
        return iter(())
    from datasets import Dataset, Features, Value
    from datasets.exceptions import DatasetGenerationError

    features = Features({column: Value("string") for column in header})
    with tempfile.TemporaryDirectory(prefix="rankreward-csv-") as cache:
        try:
            # Every column as text, so that a response reading "NA" or "null"
            # stays text; only an empty cell is missing. index_col=False stops
            # pandas from taking the first column as an index.
            dataset = Dataset.from_csv(
                path,
                features=features,
                cache_dir=cache,
                keep_in_memory=True,
                index_col=False,
                keep_default_na=False,
                na_values=[""],
            )
        except (DatasetGenerationError, ValueError) as error:
            cause = error.__cause__ or error
            raise DataError(f"{name}: cannot read as CSV: {cause}") from error
    if len(dataset) != len(starts):
        raise DataError(
            f"{name}: pandas read {len(dataset)} rows where the csv module read "
            f"{len(starts)}; check the quoting of fields that contain line breaks"
        )
    return ((f"{name}, line {s}", row) for s, row in zip(starts, dataset, strict=True))


def _check_csv(path: str, name: str) -> tuple[list[str], list[int]]:
    """Return the header and the line where each data row starts."""
    read_text(path, name)  # raises a DataError unless the file is UTF-8
    starts: list[int] = []
    header: list[str] | None = None
    # Long responses and JSON conversations exceed the csv module's default
    # field limit of 128 KiB.
    previous_limit = csv.field_size_limit(sys.maxsize)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, strict=True)
            last_line = 0
            for fields in reader:
                start, last_line = last_line + 1, reader.line_num
                if not fields:
                    continue
                if header is None:
                    header = fields
                    _check_header(name, header)
                elif len(fields) != len(header):
                    raise DataError(
                        f"{name}, line {start}: found {len(fields)} fields where "
                        f"the header has {len(header)}; quote fields that contain "
                        "commas, and give every row every column"
                    )
                else:
                    starts.append(start)
    except csv.Error as error:
        raise DataError(
            f"{name}, line {reader.line_num}: invalid CSV: {error}; check the quoting"
        ) from error
    except OSError as error:
        raise DataError(f"{name}: cannot read the file: {error.strerror}") from error
    finally:
        csv.field_size_limit(previous_limit)
    return header or [], starts


def _check_header(name: str, header: list[str]) -> None:
    for position, column in enumerate(header):
        if not column.strip():
            raise DataError(
                f"{name}, line 1: column {position + 1} of the header has no name; "
                "name every column"
            )
        if header.index(column) != position:
            raise DataError(
                f"{name}, line 1: the header names column {column!r} twice; give "
                "each column its own name"
            )


def parquet_records(path: str, name: str) -> Located:
    import pyarrow.parquet
    from datasets import Dataset
    from datasets.exceptions import DatasetGenerationError

    # Reading the schema first gives a clear error for a file that is not
    # Parquet, where datasets would also log the error itself.
    try:
        names = pyarrow.parquet.read_schema(path).names
        rows = pyarrow.parquet.read_metadata(path).num_rows
    except (OSError, ValueError) as error:
        raise DataError(
            f"{name}: cannot read as Parquet: {_first_line(error)}"
        ) from error
    repeated = sorted({column for column in names if names.count(column) > 1})
    if repeated:
        raise DataError(
            f"{name}: column {repeated[0]!r} appears more than once; rename one"
        )
    if not names or rows == 0:
        raise DataError(f"{name}: the data set is empty; it has no rows to read")
    with tempfile.TemporaryDirectory(prefix="rankreward-parquet-") as cache:
        try:
            dataset = Dataset.from_parquet(path, cache_dir=cache, keep_in_memory=True)
        except (DatasetGenerationError, OSError, ValueError) as error:
            cause = error.__cause__ or error
            raise DataError(
                f"{name}: cannot read as Parquet: {_first_line(cause)}"
            ) from error
    return ((f"{name}, row {i}", row) for i, row in enumerate(dataset))


def saved_records(path: str, name: str, split: str | None) -> Located:
    import datasets

    try:
        loaded = datasets.load_from_disk(path)
    except FileNotFoundError as error:
        raise DataError(
            f"{name}: cannot load the saved data set: {_first_line(error)}; give "
            "a folder written by save_to_disk"
        ) from error
    except IndexError as error:
        # datasets (5.x) fails this way on a data set saved with no rows.
        raise DataError(
            f"{name}: the data set is empty; it has no rows to read"
        ) from error
    except (OSError, ValueError) as error:
        raise DataError(
            f"{name}: cannot load the saved data set: {_first_line(error)}"
        ) from error
    if isinstance(loaded, datasets.DatasetDict):
        splits = list(loaded)
        if split is None and len(splits) == 1:
            split = splits[0]
        if split not in loaded:
            problem = "no split was given" if split is None else f"{split!r} is not one"
            raise DataError(
                f"{name}: the data set has the splits {', '.join(map(repr, splits))} "
                f"and {problem}; give one of them as the split"
            )
        loaded, name = loaded[split], f"{name} (split {split!r})"
    elif split is not None:
        raise DataError(
            f"{name}: the folder contains one Dataset without splits, so the split "
            f"{split!r} does not apply; drop it"
        )
    return ((f"{name}, row {i}", row) for i, row in enumerate(loaded))


def _first_line(error: BaseException) -> str:
    # Arrow's messages can run to a schema dump; the first line names the problem.
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__

"""The ``validate`` command: read a preference data file and report what it holds."""

from __future__ import annotations

import argparse
import json
import os
import sys

from rankreward.data_files import FORMATS, read_preferences

# Locations listed per reason for dropped records; the rest are counted.
MAX_LISTED_DROPS = 5


def add_data_commands(commands, error_type) -> None:
    """Add ``validate`` to the CLI's subcommands."""
    validate = commands.add_parser(
        "validate",
        help="check a preference data file and print what training would read",
        description="Read a preference data file the way training does, check every "
        "record, group the records by prompt and print the counts: prompts, "
        "responses, edges, ties, groups, and the records dropped and why. Errors "
        "name the line (from 1) of a JSONL or CSV file, the record (from 0) of a "
        "JSON list, or the row (from 0) of a Parquet file or saved data set.",
    )
    validate.add_argument(
        "--data",
        required=True,
        metavar="PATH",
        help="a .jsonl, .json, .parquet or .csv file, or a folder written by "
        "save_to_disk",
    )
    validate.add_argument(
        "--format",
        choices=FORMATS,
        help="file format, where 'saved' is a save_to_disk folder (default: from "
        "the extension, and 'saved' for a folder)",
    )
    validate.add_argument(
        "--columns",
        metavar="FIELD=COLUMN,...",
        help="columns with other names than the fields, as FIELD=COLUMN pairs "
        "separated by commas, such as prompt=question,chosen=better",
    )
    validate.add_argument(
        "--group-field",
        metavar="COLUMN",
        help="column naming each prompt's group (default: group, else kind)",
    )
    validate.add_argument(
        "--group-utilities",
        metavar="GROUP=SPEC,...",
        help="utility spec per group, as GROUP=SPEC pairs separated by commas, "
        "such as open=inverse,closed=linear; every record then needs a mapped "
        "group or its own utility",
    )
    validate.add_argument(
        "--split",
        metavar="NAME",
        help="split of a saved DatasetDict (default: its only split)",
    )
    validate.add_argument("--json", action="store_true", help="print one JSON object")
    validate.set_defaults(handler=lambda args: _run_validate(args, error_type))


def _run_validate(args: argparse.Namespace, error_type) -> int:
    columns = _pairs("--columns", args.columns, "FIELD=COLUMN", error_type)
    if args.group_field is not None:
        if columns.get("group", args.group_field) != args.group_field:
            raise error_type(
                f"--group-field {args.group_field!r} and --columns "
                f"group={columns['group']} name different columns; give one of them"
            )
        columns["group"] = args.group_field
    group_utilities = _pairs(
        "--group-utilities", args.group_utilities, "GROUP=SPEC", error_type
    )
    _quiet_datasets()
    _, report = read_preferences(
        args.data,
        format=args.format,
        columns=columns,
        group_utilities=group_utilities or None,
        split=args.split,
    )
    if args.json:
        print(json.dumps(report.to_dict()))
        return 0
    for line in report_lines(report):
        print(line)
    return 0


def report_lines(report) -> list[str]:
    """Return the lines that ``validate`` prints for a ``ReadReport``."""
    layouts = ", ".join(f"{k} {v}" for k, v in report.layouts.items())
    lines = [
        f"source: {report.source}",
        f"format: {report.format}",
        f"records: {report.records} ({layouts})",
        f"prompts: {report.prompts}",
        f"responses: {report.responses}",
        f"edges: {report.edges}",
        f"comparisons (edges counted with their weights): {report.comparisons}",
        f"ties (response pairs scored or ranked equally): {report.ties}",
        f"duplicate edges (merged into weights): {report.duplicate_edges}",
        f"contradictions (response pairs given both ways): {report.contradictions}",
    ]
    lines += [
        f"group {name!r}: {_count(n, 'prompt')}" for name, n in report.groups.items()
    ]
    lines += [
        f"utility {spec!r}: {_count(n, 'prompt')}"
        for spec, n in report.utilities.items()
    ]
    prefix = f"{report.source}, "
    for reason, places in report.dropped.items():
        listed_places = [p.removeprefix(prefix) for p in places[:MAX_LISTED_DROPS]]
        rest = len(places) - len(listed_places)
        listed = "; ".join(listed_places) + (f"; and {rest} more" if rest else "")
        lines.append(f"dropped {_count(len(places), 'record')} ({reason}): {listed}")
    if report.ignored_fields:
        lines.append(f"ignored fields: {', '.join(report.ignored_fields)}")
    return lines


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _pairs(flag: str, text: str | None, shape: str, error_type) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, sep, value = (s.strip() for s in part.partition("="))
        if not sep or not key or not value:
            raise error_type(
                f"{flag}: expected {shape} pairs separated by commas, got {part!r}"
            )
        if key in pairs:
            raise error_type(f"{flag}: {key!r} is given twice; give it once")
        pairs[key] = value
    return pairs


def _quiet_datasets() -> None:
    # Progress bars would add lines to stderr, where an error must stay one
    # line. The environment variables take effect when datasets is imported.
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if "datasets" in sys.modules:
        sys.modules["datasets"].disable_progress_bars()

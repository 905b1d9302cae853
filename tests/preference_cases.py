"""Bad preference data files and the error each must raise, shared by two tests.

Each case is (id, file name, content, options, pattern). The content is text
or bytes to write, a function that writes the file at a path, or None for a
file that does not exist. The options are keyword arguments of
``read_preferences``. The pattern must match the error message, which must
also start with the file's path.
"""

import json
import math

RANKING = {"prompt": "p", "responses": ["a", "b"]}
PAIR = {"prompt": "p", "chosen": "a", "rejected": "b"}
GROUPS = {"open": "inverse", "closed": "linear"}


def jsonl(*records) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def ranking(**fields) -> str:
    return jsonl({**RANKING, **fields})


def pair(**fields) -> str:
    return jsonl({**PAIR, **fields})


def table(records):
    """Return the records as a Dataset with every column any record has.

    ``Dataset.from_list`` would keep only the first record's columns.
    """
    import datasets

    columns = dict.fromkeys(key for record in records for key in record)
    return datasets.Dataset.from_dict(
        {column: [record.get(column) for record in records] for column in columns}
    )


def write_parquet(records):
    def write(path):
        table(records).to_parquet(str(path))

    return write


def write_saved(splits):
    def write(path):
        import datasets

        datasets.disable_progress_bars()
        if isinstance(splits, dict):
            folder = datasets.DatasetDict({k: table(v) for k, v in splits.items()})
        else:
            folder = table(splits)
        folder.save_to_disk(str(path))

    return write


def make_folder(path):
    path.mkdir()


def write_case(path, content) -> None:
    if callable(content):
        content(path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")


def cli_arguments(path, options) -> list[str]:
    """Return the ``rankreward validate`` arguments that match the options."""
    argv = ["validate", "--data", str(path)]
    for option, value in options.items():
        if isinstance(value, dict):
            value = ",".join(f"{k}={v}" for k, v in value.items())
        argv += ["--" + option.replace("_", "-"), value]
    return argv


CASES = [
    # JSONL syntax.
    (
        "malformed-json",
        "data.jsonl",
        jsonl(RANKING) + '{"prompt": "p", "responses": ["a", "b"]\n',
        {},
        r"data\.jsonl, line 2: invalid JSON at column 40: Expecting ',' delimiter; "
        r"write one JSON object per line$",
    ),
    (
        "not-an-object",
        "data.jsonl",
        "[1, 2]\n",
        {},
        r"data\.jsonl, line 1: expected a JSON object, got list",
    ),
    (
        "nested-too-deeply",
        "data.jsonl",
        jsonl(RANKING) + "[" * 100_000 + "\n",
        {},
        r"data\.jsonl, line 2: the JSON is nested too deeply$",
    ),
    (
        "not-utf8",
        "data.jsonl",
        jsonl(RANKING).encode() + b'{"prompt": "\xff"}\n',
        {},
        r"data\.jsonl, line 2: the file is not UTF-8 text \(byte 0xff at offset 53\)",
    ),
    # Missing and misspelt fields.
    (
        "misspelt-prompt",
        "data.jsonl",
        jsonl({"promt": "p", "responses": ["a", "b"]}),
        {},
        r"data\.jsonl, line 1: field 'prompt' is missing; the record has 'promt': "
        r"rename it to 'prompt' or map it with --columns prompt=promt$",
    ),
    (
        "misspelt-responses",
        "data.jsonl",
        jsonl({"prompt": "p", "respones": ["a", "b"]}),
        {},
        r"data\.jsonl, line 1: field 'responses' \(a ranking\) or fields 'chosen' "
        r"and 'rejected' \(a preference pair\) are missing; the record's fields are "
        r"'prompt', 'respones'; rename 'respones' to 'responses'",
    ),
    (
        "misspelt-scores",
        "data.jsonl",
        ranking(score=[1, 2]),
        {},
        r"data\.jsonl, line 1: field 'score' is not a known field; did you mean "
        r"'scores'\?",
    ),
    (
        "missing-rejected",
        "data.jsonl",
        jsonl({"prompt": "p", "chosen": "a"}),
        {},
        r"data\.jsonl, line 1: field 'rejected' is missing; the record's fields are "
        r"'prompt', 'chosen'",
    ),
    (
        "misspelt-mapped-column",
        "data.jsonl",
        jsonl({"questoin": "p", "responses": ["a", "b"]}),
        {"columns": {"prompt": "question"}},
        r"data\.jsonl, line 1: field 'question' is missing; the record has "
        r"'questoin'",
    ),
    (
        "unknown-mapping-field",
        "data.jsonl",
        jsonl(RANKING),
        {"columns": {"promt": "question"}},
        r"data\.jsonl: unknown field 'promt' in the column mapping \(did you mean "
        r"'prompt'\?\)",
    ),
    # Wrong types and empty values.
    (
        "prompt-not-text",
        "data.jsonl",
        ranking(prompt=3),
        {},
        r"data\.jsonl, line 1: field 'prompt' must be text or a list of "
        r"\{'role', 'content'\} messages, got 3",
    ),
    (
        "responses-not-a-list",
        "data.jsonl",
        ranking(responses="a b"),
        {},
        r"data\.jsonl, line 1: field 'responses' must be a list, got 'a b'",
    ),
    (
        "one-response",
        "data.jsonl",
        ranking(responses=["a"]),
        {},
        r"data\.jsonl, line 1: field 'responses' must list at least 2 responses, "
        r"got \['a'\]",
    ),
    (
        "empty-prompt",
        "data.jsonl",
        ranking(prompt=""),
        {},
        r"data\.jsonl, line 1: field 'prompt' is empty, got ''",
    ),
    (
        "blank-response",
        "data.jsonl",
        ranking(responses=["a", " \t"]),
        {},
        r"data\.jsonl, line 1: field 'responses\[1\]' is empty, got ' \\t'",
    ),
    (
        "null-chosen",
        "data.jsonl",
        pair(chosen=None),
        {},
        r"data\.jsonl, line 1: field 'chosen' has no value, got None",
    ),
    (
        "message-without-content",
        "data.jsonl",
        jsonl({"prompt": [{"role": "user"}], "chosen": "a", "rejected": "b"}),
        {},
        r"data\.jsonl, line 1: field 'prompt\[0\]\.content' must be text, got None",
    ),
    (
        "text-and-conversation-mixed",
        "data.jsonl",
        ranking(responses=[[{"role": "assistant", "content": "a"}], "b"]),
        {},
        r"data\.jsonl, line 1: field 'responses\[0\]' must be text, like the prompt",
    ),
    # Scores and ranks.
    (
        "score-not-a-number",
        "data.jsonl",
        ranking(scores=[1, "high"]),
        {},
        r"data\.jsonl, line 1: field 'scores\[1\]' must be a number, got 'high'",
    ),
    (
        "score-nan",
        "data.jsonl",
        ranking(scores=[math.nan, 1]),
        {},
        r"data\.jsonl, line 1: field 'scores\[0\]' must be finite, got nan",
    ),
    (
        "score-infinite",
        "data.jsonl",
        ranking(scores=[1, -math.inf]),
        {},
        r"data\.jsonl, line 1: field 'scores\[1\]' must be finite, got -inf",
    ),
    (
        "score-boolean",
        "data.jsonl",
        ranking(scores=[True, 0]),
        {},
        r"data\.jsonl, line 1: field 'scores\[0\]' must be a number, got True",
    ),
    (
        "scores-too-few",
        "data.jsonl",
        ranking(scores=[1]),
        {},
        r"data\.jsonl, line 1: field 'scores' must list one value per response "
        r"\(2\), got \[1\]",
    ),
    (
        "rank-fraction",
        "data.jsonl",
        ranking(ranks=[1, 1.5]),
        {},
        r"data\.jsonl, line 1: field 'ranks\[1\]' must be an integer rank of at "
        r"least 1 \(1 is best\), got 1\.5",
    ),
    (
        "rank-zero",
        "data.jsonl",
        ranking(ranks=[0, 1]),
        {},
        r"data\.jsonl, line 1: field 'ranks\[0\]' must be an integer rank of at "
        r"least 1 \(1 is best\), got 0",
    ),
    (
        "rank-text",
        "data.jsonl",
        ranking(ranks=["1", "2"]),
        {},
        r"data\.jsonl, line 1: field 'ranks\[0\]' must be an integer rank of at "
        r"least 1 \(1 is best\), got '1'",
    ),
    (
        "scores-and-ranks",
        "data.jsonl",
        ranking(scores=[2, 1], ranks=[1, 2]),
        {},
        r"data\.jsonl, line 1: fields 'scores' and 'ranks' are both given; keep one",
    ),
    # Responses and pairs.
    (
        "repeated-response",
        "data.jsonl",
        ranking(responses=["a", "b", "a"]),
        {},
        r"data\.jsonl, line 1: field 'responses\[2\]' repeats responses\[0\], got 'a'",
    ),
    (
        "chosen-equals-rejected",
        "data.jsonl",
        jsonl(PAIR, {**PAIR, "chosen": "same", "rejected": "same"}),
        {},
        r"data\.jsonl, line 2: field 'rejected' is the same as 'chosen', got 'same'",
    ),
    (
        "no-assistant-turn",
        "data.jsonl",
        jsonl(
            {
                "chosen": [{"role": "user", "content": "hi"}],
                "rejected": [{"role": "user", "content": "ho"}],
            }
        ),
        {},
        r"data\.jsonl, line 1: field 'chosen' has no assistant turn after its first "
        r"message, so no prompt can be split off",
    ),
    (
        "no-shared-prompt",
        "data.jsonl",
        jsonl({"chosen": "yes", "rejected": "no"}),
        {},
        r"data\.jsonl, line 1: field 'rejected' shares no leading prompt text with "
        r"'chosen', got 'no'; add a 'prompt' field",
    ),
    # Utilities and groups.
    (
        "unknown-utility",
        "data.jsonl",
        ranking(utility="cubic"),
        {},
        r"data\.jsonl, line 1: field 'utility': unknown utility 'cubic'; valid "
        r"specs: linear, log",
    ),
    (
        "utility-parameter-out-of-range",
        "data.jsonl",
        ranking(utility="power:2"),
        {},
        r"data\.jsonl, line 1: field 'utility': invalid utility spec 'power:2': the "
        r"parameter of 'power' must satisfy 0 < G < 1, got 2",
    ),
    (
        "unmapped-group",
        "data.jsonl",
        ranking(kind="open") + ranking(prompt="q", kind="medium"),
        {"group_utilities": GROUPS},
        r"data\.jsonl, line 2: field 'kind' is 'medium', which has no utility in the "
        r"group mapping \(mapped groups: 'open', 'closed'\)",
    ),
    (
        "missing-group",
        "data.jsonl",
        ranking(),
        {"group_utilities": GROUPS},
        r"data\.jsonl, line 1: field 'group' is missing, and group utilities are "
        r"given",
    ),
    (
        "invalid-group-utility",
        "data.jsonl",
        ranking(group="open"),
        {"group_utilities": {"open": "bogus"}},
        r"data\.jsonl: group utilities: group 'open': unknown utility 'bogus'",
    ),
    (
        "group-differs-within-prompt",
        "data.jsonl",
        pair(group="a") + pair(chosen="c", group="b"),
        {},
        r"data\.jsonl, line 2: the group is 'b', but \S*data\.jsonl, line 1 gives "
        r"'a' for the same prompt",
    ),
    # Whole files.
    (
        "empty-data-set",
        "data.jsonl",
        "\n\n",
        {},
        r"data\.jsonl: no records found; the data set is empty$",
    ),
    (
        "all-records-tied",
        "data.jsonl",
        ranking(scores=[1, 1]) + ranking(prompt="q", ranks=[2, 2]),
        {},
        r"data\.jsonl: all 2 records were dropped \(2 because all responses tied",
    ),
    (
        "missing-file",
        "missing.jsonl",
        None,
        {},
        r"missing\.jsonl: file not found; check the path$",
    ),
    (
        "folder-not-file",
        "data.jsonl",
        make_folder,
        {},
        r"data\.jsonl: is a folder, not a jsonl file",
    ),
    (
        "unknown-extension",
        "data.txt",
        jsonl(RANKING),
        {},
        r"data\.txt: unknown file extension '\.txt'; use \.jsonl, \.ndjson, \.json",
    ),
    (
        "split-of-a-file",
        "data.jsonl",
        jsonl(RANKING),
        {"split": "train"},
        r"data\.jsonl: a split \('train'\) applies only to a saved data set folder",
    ),
    # JSON.
    (
        "json-malformed",
        "data.json",
        '[{"prompt": "p",\n  "responses": ["a" "b"]}]',
        {},
        r"data\.json, line 2: invalid JSON at column 21: Expecting ',' delimiter",
    ),
    (
        "json-top-level-object",
        "data.json",
        '{"rows": []}',
        {},
        r"data\.json: expected a list of records or an object with a 'data' list, "
        r"got an object with the fields 'rows'",
    ),
    (
        "json-record-blank-prompt",
        "data.json",
        json.dumps({"data": [RANKING, {**RANKING, "prompt": " "}]}),
        {},
        r"data\.json, record 1: field 'prompt' is empty, got ' '",
    ),
    (
        "json-record-not-object",
        "data.json",
        json.dumps([RANKING, "text"]),
        {},
        r"data\.json, record 1: expected a record with named fields, got str",
    ),
    # CSV.
    (
        "csv-ragged-row",
        "data.csv",
        "prompt,chosen,rejected\np,a,b\nq,a,b,c\n",
        {},
        r"data\.csv, line 3: found 4 fields where the header has 3",
    ),
    (
        "csv-unterminated-quote",
        "data.csv",
        'prompt,chosen,rejected\np,"a,b\n',
        {},
        r"data\.csv, line 2: invalid CSV: unexpected end of data",
    ),
    (
        "csv-responses-not-json",
        "data.csv",
        "prompt,responses\np,a; b\n",
        {},
        r"data\.csv, line 2: field 'responses' must be a JSON list in the CSV cell, "
        r"got 'a; b'",
    ),
    (
        "csv-empty-cell",
        "data.csv",
        "prompt,chosen,rejected\np,a,b\n\nq,a,\n",
        {},
        r"data\.csv, line 4: field 'rejected' has no value, got None",
    ),
    (
        "csv-repeated-column",
        "data.csv",
        "prompt,prompt,chosen\np,q,a\n",
        {},
        r"data\.csv, line 1: the header names column 'prompt' twice",
    ),
    # Parquet.
    (
        "parquet-not-parquet",
        "data.parquet",
        "prompt,chosen\n",
        {},
        r"data\.parquet: cannot read as Parquet: .*magic bytes",
    ),
    (
        "parquet-chosen-equals-rejected",
        "data.parquet",
        write_parquet([PAIR, {**PAIR, "chosen": "same", "rejected": "same"}]),
        {},
        r"data\.parquet, row 1: field 'rejected' is the same as 'chosen', got 'same'",
    ),
    (
        "parquet-score-text",
        "data.parquet",
        write_parquet([{**RANKING, "scores": ["1", "2"]}]),
        {},
        r"data\.parquet, row 0: field 'scores\[0\]' must be a number, got '1'",
    ),
    # Saved data sets.
    (
        "saved-not-a-data-set",
        "saved",
        make_folder,
        {},
        r"saved: cannot load the saved data set: .*give a folder written by "
        r"save_to_disk$",
    ),
    (
        "saved-split-missing",
        "saved",
        write_saved({"train": [RANKING], "test": [RANKING]}),
        {},
        r"saved: the data set has the splits 'train', 'test' and no split was given",
    ),
    (
        "saved-split-unknown",
        "saved",
        write_saved({"train": [RANKING], "test": [RANKING]}),
        {"split": "dev"},
        r"saved: the data set has the splits 'train', 'test' and 'dev' is not one",
    ),
    (
        "saved-split-of-a-dataset",
        "saved",
        write_saved([RANKING]),
        {"split": "train"},
        r"saved: the folder contains one Dataset without splits, so the split "
        r"'train' does not apply",
    ),
    (
        "saved-rank-fraction",
        "saved",
        write_saved({"train": [{**RANKING, "ranks": [1.5, 1.0]}]}),
        {"split": "train"},
        r"saved \(split 'train'\), row 0: field 'ranks\[0\]' must be an integer "
        r"rank of at least 1 \(1 is best\), got 1\.5",
    ),
]

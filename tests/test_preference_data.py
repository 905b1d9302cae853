import csv
import json
import re
import socket

import pytest

from preference_cases import CASES, cli_arguments, table, write_case
from rankreward.cli import main
from rankreward.collator import tokenize_ranking
from rankreward.data_files import read_preferences
from rankreward.preference_chat import render_chat
from rankreward.preference_data import PreferenceGroup, group_records
from rankreward.preference_errors import DataError, DataUtilityError
from rankreward.utilities import UtilitySpecError, parse_utility


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Fail any test here that opens a network connection."""

    def fail(*args, **kwargs):
        raise AssertionError(f"network connection attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", fail)
    monkeypatch.setattr(socket, "create_connection", fail)


@pytest.fixture(scope="module", autouse=True)
def quiet_datasets():
    import datasets

    datasets.disable_progress_bars()


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def labelled(group: PreferenceGroup) -> dict[tuple[str, str], float]:
    """Map (better text, worse text) to weight, independent of response order."""
    return {
        (group.responses[i], group.responses[j]): w
        for (i, j), w in zip(group.edges, group.weights, strict=True)
    }


# One record of each ranking layout. p2's scores tie x with z, and p3's ranks
# put v first, then u, then w.
RANKINGS = [
    {"prompt": "p1", "responses": ["a", "b", "c"]},
    {"prompt": "p2", "responses": ["x", "y", "z"], "scores": [0.5, 2.0, 0.5]},
    {"prompt": "p3", "responses": ["u", "v", "w"], "ranks": [2, 1, 3]},
]
EXPECTED = [
    PreferenceGroup("p1", ("a", "b", "c"), ((0, 1), (0, 2), (1, 2)), (1.0,) * 3),
    PreferenceGroup("p2", ("x", "y", "z"), ((1, 0), (1, 2)), (1.0, 1.0)),
    PreferenceGroup("p3", ("u", "v", "w"), ((0, 2), (1, 0), (1, 2)), (1.0,) * 3),
]


def write_rankings_jsonl(path):
    write_jsonl(path, RANKINGS)


def write_rankings_json(path):
    path.write_text(json.dumps(RANKINGS))


def write_rankings_json_data(path):
    path.write_text(json.dumps({"data": RANKINGS}))


def write_rankings_csv(path):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["prompt", "responses", "scores", "ranks"])
        for record in RANKINGS:
            cells = [record.get(k) for k in ("responses", "scores", "ranks")]
            cells = ["" if cell is None else json.dumps(cell) for cell in cells]
            writer.writerow([record["prompt"], *cells])


def write_rankings_parquet(path):
    table(RANKINGS).to_parquet(str(path))


def write_rankings_saved(path):
    table(RANKINGS).save_to_disk(str(path))


def write_rankings_saved_dict(path):
    import datasets

    splits = {"test": table(RANKINGS[:1]), "train": table(RANKINGS)}
    datasets.DatasetDict(splits).save_to_disk(str(path))


@pytest.mark.parametrize(
    "name, writer, options, format, first_source",
    [
        ("data.jsonl", write_rankings_jsonl, {}, "jsonl", "data.jsonl, line 1"),
        ("data.json", write_rankings_json, {}, "json", "data.json, record 0"),
        ("data.json", write_rankings_json_data, {}, "json", "data.json, record 0"),
        ("data.csv", write_rankings_csv, {}, "csv", "data.csv, line 2"),
        ("data.parquet", write_rankings_parquet, {}, "parquet", "data.parquet, row 0"),
        ("saved", write_rankings_saved, {}, "saved", "saved, row 0"),
        (
            "saved",
            write_rankings_saved_dict,
            {"split": "train"},
            "saved",
            "saved (split 'train'), row 0",
        ),
        ("rows.txt", write_rankings_jsonl, {"format": "jsonl"}, "jsonl", "line 1"),
    ],
    ids=["jsonl", "json", "json-data", "csv", "parquet", "saved", "saved-split", "txt"],
)
def test_every_format_reads_the_same_groups(
    tmp_path, name, writer, options, format, first_source
):
    path = tmp_path / name
    writer(path)
    groups, report = read_preferences(path, **options)
    assert [g.source.startswith(str(tmp_path)) for g in groups] == [True] * 3
    assert groups[0].source.endswith(first_source)
    stripped = [PreferenceGroup(**{**g.__dict__, "source": ""}) for g in groups]
    assert stripped == EXPECTED
    assert report.format == format
    assert report.layouts == {"ranking": 1, "scores": 1, "ranks": 1}
    assert report.records == 3
    assert report.prompts == 3
    assert report.responses == 9
    assert report.edges == 8
    assert report.ties == 1
    assert report.dropped == {}


def test_json_file_with_jsonl_lines(tmp_path):
    path = write_jsonl(tmp_path / "data.json", RANKINGS)
    groups, report = read_preferences(path)
    assert report.format == "jsonl"
    assert groups[2].source == f"{path}, line 3"


def test_pairwise_rows_give_the_ranking_edges(tmp_path):
    # The ranking d1 > d2 > d3 > d4 as its six pairs, out of order, with one
    # pair repeated: the same edges, and weight 2 on the repeated one.
    ranking = {"prompt": "q", "responses": ["d1", "d2", "d3", "d4"]}
    pairs = [("d3", "d4"), ("d1", "d2"), ("d2", "d4"), ("d1", "d3")]
    pairs += [("d2", "d3"), ("d1", "d4"), ("d1", "d2")]
    rows = [{"prompt": "q", "chosen": c, "rejected": r} for c, r in pairs]
    [from_ranking], _ = group_records([ranking])
    [from_pairs], report = group_records(rows)
    expected = labelled(from_ranking)
    expected[("d1", "d2")] = 2.0
    assert labelled(from_pairs) == expected
    assert sorted(from_pairs.responses) == ["d1", "d2", "d3", "d4"]
    assert report.layouts == {"pairwise": 7}
    assert report.prompts == 1
    assert report.edges == 6
    assert report.comparisons == 7
    assert report.duplicate_edges == 1
    assert report.contradictions == 0


def test_pairwise_rows_group_by_prompt():
    rows = [
        {"prompt": "p", "chosen": "a", "rejected": "b"},
        {"prompt": "q", "chosen": "x", "rejected": "y"},
        {"prompt": "p", "chosen": "b", "rejected": "c"},
    ]
    groups, report = group_records(rows, name="rows")
    assert groups == [
        PreferenceGroup("p", ("a", "b", "c"), ((0, 1), (1, 2)), (1.0, 1.0), None,
                        None, "rows[0]"),
        PreferenceGroup("q", ("x", "y"), ((0, 1),), (1.0,), None, None, "rows[1]"),
    ]  # fmt: skip
    assert report.responses == 5


def test_contradicting_pairs_are_kept_and_counted():
    rows = [
        {"prompt": "p", "chosen": "a", "rejected": "b"},
        {"prompt": "p", "chosen": "b", "rejected": "a"},
        {"prompt": "p", "chosen": "a", "rejected": "b"},
    ]
    [group], report = group_records(rows)
    assert group.edges == ((0, 1), (1, 0))
    assert group.weights == (2.0, 1.0)
    assert report.contradictions == 1
    assert report.duplicate_edges == 1


def test_repeated_ranking_adds_weight():
    record = {"prompt": "p", "responses": ["a", "b", "c"]}
    partial = {"prompt": "p", "responses": ["c", "d"]}
    [group], report = group_records([record, record, partial])
    assert group.responses == ("a", "b", "c", "d")
    assert group.edges == ((0, 1), (0, 2), (1, 2), (2, 3))
    assert group.weights == (2.0, 2.0, 2.0, 1.0)
    assert report.duplicate_edges == 3


def test_tied_records_are_dropped_and_counted():
    records = [
        {"prompt": "p", "responses": ["a", "b"], "scores": [1, 1]},
        {"prompt": "q", "responses": ["a", "b", "c"], "ranks": [1, 2, 2]},
        {"prompt": "r", "responses": ["a", "b"], "ranks": [3, 3]},
    ]
    [group], report = group_records(records, name="rows")
    assert group.prompt == "q"
    assert group.edges == ((0, 1), (0, 2))
    assert report.ties == 3
    assert report.records == 3
    assert report.dropped == {
        "all responses tied, so the record gives no edge": ("rows[0]", "rows[2]")
    }


def test_integral_float_ranks_are_accepted():
    record = {"prompt": "p", "responses": ["a", "b"], "ranks": [2.0, 1.0]}
    [group], _ = group_records([record])
    assert group.edges == ((1, 0),)


def test_null_scores_read_as_best_first():
    # Arrow-backed files give a best-first row null scores and ranks.
    record = {"prompt": "p", "responses": ["a", "b"], "scores": None, "ranks": None}
    [group], report = group_records([record])
    assert group.edges == ((0, 1),)
    assert report.layouts == {"ranking": 1}


USER = {"role": "user", "content": "Capital of New Zealand?"}
RIGHT = {"role": "assistant", "content": "Wellington."}
WRONG = {"role": "assistant", "content": "Auckland."}
CONVERSATION_PAIR = {"prompt": [USER], "chosen": [RIGHT], "rejected": [WRONG]}


def test_conversations_without_prompt_split_at_last_assistant_turn():
    earlier = [{"role": "system", "content": "Be brief."}, USER, RIGHT, USER]
    rows = [
        {"chosen": earlier + [RIGHT], "rejected": earlier + [WRONG]},
        {"chosen": [USER, RIGHT], "rejected": [USER, WRONG]},
    ]
    groups, report = group_records(rows)
    assert [g.prompt for g in groups] == [earlier, [USER]]
    assert groups[0].responses == ([RIGHT], [WRONG])
    assert groups[1].responses == ([RIGHT], [WRONG])
    assert report.prompts == 2


def test_conversations_with_prompt_keep_messages():
    [group], _ = group_records([CONVERSATION_PAIR])
    assert group == PreferenceGroup(
        [USER], ([RIGHT], [WRONG]), ((0, 1),), (1.0,), source="records[0]"
    )


def test_texts_without_prompt_split_at_shared_prefix():
    rows = [
        {
            "chosen": "Q: capital?\nA: Wellington",
            "rejected": "Q: capital?\nA: Auckland",
        },
        {"chosen": "Q: capital?\nA: Wellington", "rejected": "Q: capital?\nA: Sydney"},
    ]
    [group], _ = group_records(rows)
    assert group.prompt == "Q: capital?\nA: "
    assert group.responses == ("Wellington", "Auckland", "Sydney")
    assert group.edges == ((0, 1), (0, 2))


def test_shared_prefix_never_splits_a_word():
    row = {"chosen": "Rate it: good", "rejected": "Rate it: great"}
    [group], _ = group_records([row])
    assert group.prompt == "Rate it: "
    assert group.responses == ("good", "great")


def test_column_mapping_renames_fields():
    row = {"question": "p", "better": "a", "worse": "b", "id": 7}
    columns = {"prompt": "question", "chosen": "better", "rejected": "worse"}
    [group], report = group_records([row], columns=columns)
    assert group.prompt == "p"
    assert group.responses == ("a", "b")
    assert report.ignored_fields == ("id",)


def test_column_mapping_rejects_a_shared_column():
    with pytest.raises(DataError, match="reads fields 'prompt' and 'chosen' from"):
        group_records([], columns={"prompt": "chosen"})


def test_record_utility_is_canonical():
    record = {"prompt": "p", "responses": ["a", "b"], "utility": " Inverse-Power:1 "}
    [group], report = group_records([record])
    assert group.utility == parse_utility("inverse-power:1").spec
    assert report.utilities == {group.utility: 1}


def test_group_mapping_sets_utilities():
    records = [
        {"prompt": "p", "responses": ["a", "b"], "kind": "open"},
        {"prompt": "q", "responses": ["a", "b"], "kind": "closed"},
        {"prompt": "r", "responses": ["a", "b"], "kind": "closed", "utility": "log"},
    ]
    mapping = {"open": "inverse", "closed": "linear"}
    groups, report = group_records(records, group_utilities=mapping)
    assert [g.group for g in groups] == ["open", "closed", "closed"]
    assert [g.utility for g in groups] == ["inverse", "linear", "log"]
    assert report.groups == {"open": 1, "closed": 2}
    assert report.utilities == {"inverse": 1, "linear": 1, "log": 1}


def test_group_field_mapping_and_integer_groups():
    record = {"prompt": "p", "responses": ["a", "b"], "category": 1}
    [group], _ = group_records(
        [record], columns={"group": "category"}, group_utilities={"1": "log"}
    )
    assert group.group == "1"
    assert group.utility == "log"


def test_groups_without_mapping_are_labels():
    record = {"prompt": "p", "responses": ["a", "b"], "group": "anything"}
    [group], report = group_records([record])
    assert group.group == "anything"
    assert group.utility is None
    assert report.groups == {"anything": 1}


def test_utility_errors_are_utility_spec_errors():
    record = {"prompt": "p", "responses": ["a", "b"], "utility": "cubic"}
    with pytest.raises(UtilitySpecError, match=r"records\[0\]: field 'utility'"):
        group_records([record])
    with pytest.raises(DataUtilityError, match="group 'open'"):
        group_records([record], group_utilities={"open": "power:7"})


def test_unknown_format_is_rejected(tmp_path):
    path = write_jsonl(tmp_path / "data.jsonl", RANKINGS)
    with pytest.raises(DataError, match=r"data\.jsonl: unknown format 'xls'; valid"):
        read_preferences(path, format="xls")


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_bad_input_raises_one_line(tmp_path, case):
    _, name, content, options, pattern = case
    path = tmp_path / name
    write_case(path, content)
    with pytest.raises(DataError) as raised:
        read_preferences(path, **options)
    message = str(raised.value)
    assert message.startswith(str(path))
    assert re.search(pattern, message), message
    assert "\n" not in message


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_validate_bad_input_exits_2(tmp_path, capfd, case):
    _, name, content, options, pattern = case
    path = tmp_path / name
    write_case(path, content)
    capfd.readouterr()
    code = main(cli_arguments(path, options))
    out, err = capfd.readouterr()
    assert code == 2
    assert out == ""
    assert err.startswith(f"rankreward validate: error: {path}")
    assert re.search(pattern, err.rstrip("\n")), err
    assert err.count("\n") == 1


def test_validate_prints_the_counts(tmp_path, capsys):
    records = [
        {"prompt": "p", "responses": ["a", "b", "c"], "kind": "open", "id": 1},
        {"prompt": "q", "responses": ["x", "y"], "scores": [1, 1], "kind": "closed"},
        {"prompt": "r", "better": "u", "worse": "v", "kind": "closed"},
        {"prompt": "r", "better": "v", "worse": "u", "kind": "closed"},
    ]
    path = write_jsonl(tmp_path / "data.jsonl", records)
    code = main(
        ["validate", "--data", str(path), "--columns", "chosen=better,rejected=worse"]
        + ["--group-utilities", "open=inverse,closed=linear"]
    )
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out == [
        f"source: {path}",
        "format: jsonl",
        "records: 4 (ranking 1, scores 1, pairwise 2)",
        "prompts: 2",
        "responses: 5",
        "edges: 5",
        "comparisons (edges counted with their weights): 5",
        "ties (response pairs scored or ranked equally): 1",
        "duplicate edges (merged into weights): 0",
        "contradictions (response pairs given both ways): 1",
        "group 'open': 1 prompt",
        "group 'closed': 1 prompt",
        "utility 'inverse': 1 prompt",
        "utility 'linear': 1 prompt",
        "dropped 1 record (all responses tied, so the record gives no edge): line 2",
        "ignored fields: id",
    ]


def test_validate_json_output(tmp_path, capsys):
    path = write_jsonl(tmp_path / "data.jsonl", RANKINGS)
    code = main(["validate", "--data", str(path), "--group-field", "kind", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["prompts"] == 3
    assert report["edges"] == 8
    assert report["ties"] == 1
    assert report["layouts"] == {"ranking": 1, "scores": 1, "ranks": 1}
    assert report["dropped"] == {}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--columns", "prompt"], "--columns: expected FIELD=COLUMN pairs"),
        (["--group-utilities", "open=log,open=linear"], "'open' is given twice"),
        (["--columns", "group=a", "--group-field", "b"], "name different columns"),
    ],
)
def test_validate_bad_options_exit_2(tmp_path, capsys, argv, message):
    path = write_jsonl(tmp_path / "data.jsonl", RANKINGS)
    code = main(["validate", "--data", str(path), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.count("\n") == 1


# A chat template small enough to read: each message on its own line, and the
# assistant header as the generation prompt.
TEMPLATE = (
    "{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<assistant> {% endif %}"
)


@pytest.fixture(scope="module")
def chat_tokenizer():
    from transformers import AutoTokenizer

    from rankreward.model import default_model_path

    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    tokenizer.chat_template = TEMPLATE
    return tokenizer


def test_render_chat_cuts_responses_after_prompt(chat_tokenizer):
    [group] = group_records([CONVERSATION_PAIR])[0]
    rendered = render_chat(group, chat_tokenizer)
    assert rendered.prompt == "<user> Capital of New Zealand?\n<assistant> "
    assert rendered.responses == ("Wellington.\n", "Auckland.\n")
    assert rendered.edges == group.edges
    example = tokenize_ranking(
        chat_tokenizer, rendered.prompt, rendered.responses, rendered.edges, 0, 64
    )
    assert len(example["input_ids"]) == 2


def test_render_chat_leaves_text_alone(chat_tokenizer):
    [group] = group_records([{"prompt": "p", "responses": ["a", "b"]}])[0]
    assert render_chat(group, chat_tokenizer) is group


def test_render_chat_needs_a_template(chat_tokenizer, monkeypatch):
    monkeypatch.setattr(chat_tokenizer, "chat_template", None)
    [group] = group_records([CONVERSATION_PAIR])[0]
    with pytest.raises(ValueError, match="has no chat template"):
        render_chat(group, chat_tokenizer)


def test_render_chat_rejects_template_without_prefix(chat_tokenizer, monkeypatch):
    # Newest message first: the prompt's text is not where the whole
    # conversation's text starts.
    reverse = "{% for m in messages|reverse %}{{ m['content'] }}|{% endfor %}"
    monkeypatch.setattr(chat_tokenizer, "chat_template", reverse)
    [group] = group_records([CONVERSATION_PAIR])[0]
    with pytest.raises(DataError, match=r"records\[0\]: the chat template does not"):
        render_chat(group, chat_tokenizer)


def test_jsonl_accepts_bom_crlf_and_line_separators(tmp_path):
    # U+2028 may appear unescaped inside a JSON string, so it must not end a line.
    lines = [
        '{"prompt": "p\u2028q", "responses": ["a", "b"]}\r\n',
        '{"prompt": "r\u2028q", "responses": ["a", "b"]}\r\n',
    ]
    path = tmp_path / "data.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "".join(lines).encode())
    groups, report = read_preferences(path)
    assert [g.prompt for g in groups] == ["p\u2028q", "r\u2028q"]
    assert groups[1].source == f"{path}, line 2"
    assert report.records == 2


def test_huge_integer_scores_are_numbers():
    record = {"prompt": "p", "responses": ["a", "b"], "scores": [10**400, 1]}
    [group], _ = group_records([record])
    assert group.edges == ((0, 1),)


def test_unreadable_file_names_the_reason(tmp_path, monkeypatch):
    import rankreward.data_json

    def deny(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    path = write_jsonl(tmp_path / "data.jsonl", RANKINGS)
    monkeypatch.setattr(rankreward.data_json, "open", deny, raising=False)
    with pytest.raises(DataError) as raised:
        read_preferences(path)
    assert str(raised.value) == f"{path}: cannot read the file: Permission denied"


def test_group_column_is_not_read_twice():
    # "group" contains the utility here, so the group comes from "kind".
    record = {"prompt": "p", "responses": ["a", "b"], "group": "log", "kind": "open"}
    [group], _ = group_records([record], columns={"utility": "group"})
    assert group.utility == "log"
    assert group.group == "open"

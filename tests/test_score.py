"""``rankreward score``: records in, the same records with rewards out."""

import json
import os
import re
import shutil

import numpy as np
import pytest
from scipy.special import expit

from evaluate_models import (
    CHAT_TEMPLATE,
    length_model_score,
    save_length_model,
    save_two_label_model,
    tokenizer_path,
    write_jsonl,
)
from rankreward.cli import main

RECORDS = [
    {
        "id": "r1",
        "prompt": "Tell a story about a friend.",
        "responses": ["the cat sat on a mat", "the cat", "the cat sat"],
        "meta": {"source": "test", "tags": [1, 2]},
    },
    {"id": "r2", "prompt": "Say hello.", "response": "hello there my friend"},
    {"prompt": "One listed response.", "responses": ["only this one"], "n": None},
]


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tokenizer_path())


@pytest.fixture(scope="module")
def length_model(tmp_path_factory):
    return save_length_model(tmp_path_factory.mktemp("length-model"))


def run(argv, capfd):
    code = main(argv)
    captured = capfd.readouterr()
    return code, captured.out, captured.err


def score(capfd, model, data, out, *options):
    argv = ["score", "--model", model, "--data", str(data), "--out", str(out)]
    code, stdout, err = run(argv + list(options), capfd)
    assert code == 0, err
    return [json.loads(line) for line in out.read_text().splitlines()], stdout


def responses_of(record):
    return record["responses"] if "responses" in record else [record["response"]]


def test_records_round_trip_with_rewards(tmp_path, capfd, length_model, tokenizer):
    data = tmp_path / "in.jsonl"
    # A blank line between records is skipped, as JSONL readers do.
    lines = [json.dumps(r) for r in RECORDS]
    data.write_text(lines[0] + "\n\n" + "\n".join(lines[1:]) + "\n")
    out = tmp_path / "out.jsonl"
    scored, stdout = score(capfd, length_model, data, out)

    assert len(scored) == len(RECORDS)
    for original, record in zip(RECORDS, scored, strict=True):
        assert {
            k: v for k, v in record.items() if k not in ("reward", "raw_score")
        } == (original)
        expected = [
            length_model_score(tokenizer, original["prompt"], r)
            for r in responses_of(original)
        ]
        raw = record["raw_score"] if "responses" in original else [record["raw_score"]]
        np.testing.assert_allclose(raw, expected, atol=1e-5)
    # minmax (auto, as the model has no rankreward.json): best 1, worst 0.
    first = scored[0]
    raw = np.array(first["raw_score"])
    np.testing.assert_allclose(
        first["reward"], (raw - raw.min()) / (raw.max() - raw.min()), atol=1e-12
    )
    assert first["reward"][0] == 1.0
    assert first["reward"][1] == 0.0
    assert isinstance(scored[1]["reward"], float)
    assert isinstance(scored[1]["raw_score"], float)
    # One response has no spread to rescale, so minmax gives it 0.5.
    assert scored[1]["reward"] == 0.5
    assert scored[2]["reward"] == [0.5]
    assert stdout.startswith(
        f"scored 3 records (5 responses) to {out}; rewards: minmax"
    )


def test_sigmoid_map_and_batch_size(tmp_path, capfd, length_model):
    data = write_jsonl(tmp_path / "in.jsonl", RECORDS)
    unbatched, _ = score(
        capfd, length_model, data, tmp_path / "a.jsonl", "--batch-size", "1"
    )
    many, _ = score(
        capfd, length_model, data, tmp_path / "b.jsonl", "--reward-map", "sigmoid"
    )
    for single, batched in zip(unbatched, many, strict=True):
        np.testing.assert_allclose(single["raw_score"], batched["raw_score"], atol=1e-6)
        np.testing.assert_allclose(
            batched["reward"], expit(np.array(batched["raw_score"])), rtol=1e-12
        )


def test_model_settings_set_the_reward(tmp_path, capfd, length_model):
    folder = tmp_path / "trained"
    shutil.copytree(length_model, folder)
    settings = {"bounded": True, "logit_scale": 3.0, "utilities": ["linear"]}
    (folder / "rankreward.json").write_text(json.dumps(settings))
    data = write_jsonl(tmp_path / "in.jsonl", RECORDS[:2])
    scored, stdout = score(capfd, str(folder), data, tmp_path / "out.jsonl")
    assert "rewards: sigmoid (the model's own bounded reward" in stdout
    for record in scored:
        raw = np.array(record["raw_score"])
        np.testing.assert_allclose(record["reward"], expit(3.0 * raw), rtol=1e-12)


def test_existing_reward_field_is_replaced(tmp_path, capfd, length_model):
    data = write_jsonl(
        tmp_path / "in.jsonl", [{"prompt": "p", "response": "r", "reward": "old"}]
    )
    scored, _ = score(
        capfd, length_model, data, tmp_path / "out.jsonl", "--reward-map", "sigmoid"
    )
    assert isinstance(scored[0]["reward"], float)


def test_conversations_use_the_chat_template(tmp_path, capfd, tokenizer):
    model = save_length_model(tmp_path / "chat-model", chat_template=CHAT_TEMPLATE)
    answers = ["cats sleep a lot", "cats"]
    record = {
        "prompt": [{"role": "user", "content": "Tell me about cats."}],
        "responses": [[{"role": "assistant", "content": a}] for a in answers],
    }
    data = write_jsonl(tmp_path / "chat.jsonl", [record])
    scored, _ = score(capfd, model, data, tmp_path / "out.jsonl")
    prompt_text = "user: Tell me about cats.\nassistant: "
    expected = [length_model_score(tokenizer, prompt_text, f"{a}\n") for a in answers]
    np.testing.assert_allclose(scored[0]["raw_score"], expected, atol=1e-5)
    assert scored[0]["prompt"] == record["prompt"]


def test_output_is_replaced_whole(tmp_path, capfd, length_model):
    data = write_jsonl(tmp_path / "in.jsonl", RECORDS)
    out = tmp_path / "out.jsonl"
    out.write_text("previous contents\n")
    score(capfd, length_model, data, out)
    assert len(out.read_text().splitlines()) == 3
    assert sorted(os.listdir(tmp_path)) == ["in.jsonl", "out.jsonl"]

    # Bad input leaves the earlier output as it was.
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"prompt": "p"}])
    before = out.read_text()
    argv = ["score", "--model", length_model, "--data", bad, "--out", str(out)]
    code, _, _ = run(argv, capfd)
    assert code == 2
    assert out.read_text() == before
    assert sorted(os.listdir(tmp_path)) == ["bad.jsonl", "in.jsonl", "out.jsonl"]


def lines(*rows) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)


GOOD = {"prompt": "p", "response": "r"}

# (id, file content or None for no file, pattern after "FILE").
BAD_FILES = [
    ("missing-file", None, r": file not found; check the path$"),
    ("empty-file", "\n\n", r": no records found; the file is empty$"),
    (
        "invalid-json",
        lines(GOOD, '{"prompt": "p",'),
        r", line 2: invalid JSON at column 16: Expecting property name",
    ),
    (
        "not-an-object",
        lines(GOOD, "[1, 2]"),
        r", line 2: expected a JSON object, got list; write one object per line$",
    ),
    (
        "missing-prompt",
        lines({"response": "r"}),
        r", line 1: field 'prompt' is missing; give the prompt$",
    ),
    (
        "empty-prompt",
        lines({"prompt": "  ", "response": "r"}),
        r", line 1: field 'prompt' is empty, got '  '; give the text$",
    ),
    (
        "no-responses",
        lines(GOOD, GOOD, {"prompt": "p"}),
        r", line 3: field 'responses' \(a list\) or 'response' \(one response\) is "
        r"missing; give the responses to score$",
    ),
    (
        "both-fields",
        lines({"prompt": "p", "response": "r", "responses": ["a"]}),
        r", line 1: fields 'responses' and 'response' are both given; keep one$",
    ),
    (
        "responses-not-a-list",
        lines({"prompt": "p", "responses": "abc"}),
        r", line 1: field 'responses' must be a non-empty list, got 'abc'",
    ),
    (
        "responses-empty",
        lines({"prompt": "p", "responses": []}),
        r", line 1: field 'responses' must be a non-empty list, got \[\]",
    ),
    (
        "response-number",
        lines({"prompt": "p", "response": 3}),
        r", line 1: field 'response' must be text or a list of \{'role', 'content'\} "
        r"messages, got 3; fix its type$",
    ),
    (
        "responses-item-null",
        lines({"prompt": "p", "responses": ["a", None]}),
        r", line 1: field 'responses\[1\]' has no value, got None; give the text$",
    ),
    (
        "mixed-kinds",
        lines({"prompt": [{"role": "user", "content": "q"}], "response": "text"}),
        r", line 1: field 'response' must be a conversation, like the prompt",
    ),
    (
        "conversation-without-template",
        lines(
            {
                "prompt": [{"role": "user", "content": "q"}],
                "response": [{"role": "assistant", "content": "a"}],
            }
        ),
        r", line 1: the tokenizer has no chat template, so conversations cannot be "
        r"rendered",
    ),
]


@pytest.mark.parametrize(
    "content, pattern", [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES]
)
def test_bad_input_names_file_line_and_field(
    tmp_path, capfd, length_model, content, pattern
):
    data = tmp_path / "in.jsonl"
    if content is not None:
        data.write_text(content)
    out = tmp_path / "out.jsonl"
    argv = ["score", "--model", length_model, "--data", str(data), "--out", str(out)]
    code, stdout, err = run(argv, capfd)
    assert code == 2
    assert stdout == ""
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    assert err.startswith(f"rankreward score: error: {data}")
    assert re.search(pattern, err.rstrip("\n")), err
    assert not out.exists()


@pytest.fixture(scope="module")
def two_label_model(tmp_path_factory):
    return save_two_label_model(tmp_path_factory.mktemp("two-label") / "model")


BAD_OPTIONS = [
    (
        "missing-model",
        lambda t, m: ["--model", str(t / "absent")],
        r"model folder not found: '.*absent'$",
    ),
    (
        "model-is-a-file",
        lambda t, m: ["--model", str(t / "in.jsonl")],
        r"model path '.*in\.jsonl' is a file; give the model's folder$",
    ),
    (
        "out-is-a-folder",
        lambda t, m: ["--model", m, "--out", str(t)],
        r"--out .*: is a folder; give a file name$",
    ),
    (
        "out-folder-missing",
        lambda t, m: ["--model", m, "--out", str(t / "no" / "out.jsonl")],
        r"--out .*out\.jsonl: the folder .*no does not exist; create it first$",
    ),
    (
        "batch-size-zero",
        lambda t, m: ["--model", m, "--batch-size", "0"],
        r"--batch-size must be at least 1, got 0$",
    ),
    (
        "max-length-too-large",
        lambda t, m: ["--model", m, "--max-length", "4096"],
        r"--max-length 4096 exceeds the 128 tokens this model can encode; use "
        r"--max-length 128 or less$",
    ),
]


@pytest.mark.parametrize(
    "builder, pattern", [c[1:] for c in BAD_OPTIONS], ids=[c[0] for c in BAD_OPTIONS]
)
def test_bad_options_exit_2(tmp_path, capfd, length_model, builder, pattern):
    data = write_jsonl(tmp_path / "in.jsonl", [GOOD])
    argv = ["score", "--data", data, "--out", str(tmp_path / "out.jsonl")]
    # A later --out overrides the default one above.
    code, stdout, err = run(argv + builder(tmp_path, length_model), capfd)
    assert code == 2
    assert stdout == ""
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    assert re.search(pattern, err.rstrip("\n")), err


def test_two_label_model_exits_2(tmp_path, capfd, two_label_model):
    data = write_jsonl(tmp_path / "in.jsonl", [GOOD])
    argv = ["score", "--model", two_label_model, "--data", data]
    code, _, err = run(argv + ["--out", str(tmp_path / "out.jsonl")], capfd)
    assert code == 2
    assert err.count("\n") == 1, err
    assert re.search(r"has 2 labels \(LABEL_0, LABEL_1\)", err), err

"""``rankreward evaluate`` end to end, its numbers checked by hand computations."""

import json
import re
import shutil

import numpy as np
import pytest
from scipy import stats
from scipy.special import expit

from evaluate_models import (
    CHAT_TEMPLATE,
    length_model_score,
    save_base_model,
    save_length_model,
    save_two_label_model,
    tokenizer_path,
    write_jsonl,
)
from rankreward.cli import main

WORDS = "the cat sat on a mat and then ran far away".split()


def prefix(count: int) -> str:
    return " ".join(WORDS[:count])


# Longer prefixes are better, as in the reward-collapse experiment. Open
# prompts have evenly spread lengths and closed prompts two clusters.
OPEN_LENGTHS = (8, 6, 4, 2)
CLOSED_LENGTHS = (8, 7, 2, 1)
RANKINGS = [
    {"prompt": "Write a story about a friend.", "group": "open"},
    {"prompt": "Describe a walk in the rain.", "group": "open"},
    {"prompt": "What is the capital of New Zealand?", "group": "closed"},
    {"prompt": "How many legs does a spider have?", "group": "closed"},
]
for _record in RANKINGS:
    _lengths = OPEN_LENGTHS if _record["group"] == "open" else CLOSED_LENGTHS
    _record["responses"] = [prefix(n) for n in _lengths]


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


def evaluate(capfd, model, data, out, *options):
    argv = ["evaluate", "--model", model, "--data", data, "--out", str(out)]
    code, _, err = run(argv + list(options), capfd)
    assert code == 0, err
    return json.loads((out / "report.json").read_text())


def edge_credit(better: float, worse: float) -> float:
    """Credit of one edge: 1 when the better response scores higher, 1/2 on a tie."""
    if better > worse:
        return 1.0
    if better == worse:
        return 0.5
    return 0.0


def direct_scores(model_dir, prompt, responses):
    """Each response's logit, one unpadded pair at a time, without rankreward."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    with torch.no_grad():
        return np.array(
            [
                model(**tokenizer(prompt, r, return_tensors="pt")).logits.item()
                for r in responses
            ]
        )


def test_length_model_ranking_report(tmp_path, capfd, length_model, tokenizer):
    data = write_jsonl(tmp_path / "rankings.jsonl", RANKINGS)
    out = tmp_path / "report"
    report = evaluate(capfd, length_model, data, out, "--utility", "linear")

    assert report["reward_map"]["name"] == "minmax"
    assert report["reward_map"]["requested"] == "auto"
    assert report["summary"]["prompts"] == 4
    assert report["summary"]["edges"] == 4 * 6
    assert report["summary"]["rewards/accuracy"] == 1.0
    assert report["summary"]["rewards/kendall_tau"] == 1.0

    rewards_by_group = {"open": [], "closed": []}
    maes = {"open": [], "closed": []}
    for record, prompt in zip(RANKINGS, report["prompts"], strict=True):
        expected = np.array(
            [
                length_model_score(tokenizer, record["prompt"], r)
                for r in record["responses"]
            ]
        )
        np.testing.assert_allclose(prompt["raw_scores"], expected, atol=1e-5)
        minmax = (expected - expected.min()) / (expected.max() - expected.min())
        np.testing.assert_allclose(prompt["rewards"], minmax, atol=1e-4)
        assert prompt["rewards"][0] == 1.0
        assert prompt["rewards"][-1] == 0.0
        assert prompt["kendall_tau"] == 1.0
        assert prompt["tau_definition"] == "tau-b"
        assert prompt["accuracy"] == 1.0
        # The linear utility's optimum of a full ranking of 4: the better
        # half at 1, the worse half at 0.
        assert prompt["optimum"] == pytest.approx([1, 1, 0, 0], abs=1e-9)
        mae = np.mean(np.abs(np.sort(prompt["rewards"]) - [0, 0, 1, 1]))
        assert prompt["prediction_mae"] == pytest.approx(mae)
        rewards_by_group[record["group"]].append(np.sort(prompt["rewards"]))
        maes[record["group"]].append(mae)

    profiles = {(p["group"], p["responses"]): p for p in report["profiles"]}
    assert set(profiles) == {("closed", 4), ("open", 4)}
    for group, rows in rewards_by_group.items():
        profile = profiles[(group, 4)]
        assert profile["prompts"] == 2
        assert profile["mean"] == pytest.approx(np.mean(rows, axis=0))
        assert profile["p10"] == pytest.approx(np.percentile(rows, 10, axis=0))
        assert profile["p90"] == pytest.approx(np.percentile(rows, 90, axis=0))
        assert profile["prediction"] == pytest.approx([0, 0, 1, 1])

    w1 = stats.wasserstein_distance(
        np.concatenate(rewards_by_group["closed"]),
        np.concatenate(rewards_by_group["open"]),
    )
    assert w1 > 0.05
    by_size = report["between_group_w1"]["by_size"]
    assert by_size == [
        {"responses": 4, "groups": ["closed", "open"], "w1": pytest.approx(w1)}
    ]
    assert report["between_group_w1"]["pooled"][0]["w1"] == pytest.approx(w1)
    assert report["summary"]["collapse/w1"] == pytest.approx(w1)

    prediction = report["prediction"]
    assert prediction["utilities"] == {"linear": 4}
    for group, values in maes.items():
        assert prediction["by_group"][group]["mae"] == pytest.approx(np.mean(values))
    assert report["summary"]["solver/mae"] == pytest.approx(
        np.mean(maes["open"] + maes["closed"])
    )
    assert report["utility_sources"] == {"--utility": 4}


def test_report_files_are_complete(tmp_path, capfd, length_model):
    data = write_jsonl(tmp_path / "rankings.jsonl", RANKINGS)
    out = tmp_path / "report"
    code, stdout, _ = run(
        ["evaluate", "--model", length_model, "--data", data, "--out", str(out)],
        capfd,
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "profiles.png",
        "report.json",
        "report.md",
    ]
    assert (out / "profiles.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    markdown = (out / "report.md").read_text()
    assert "| pairwise accuracy | 1.0000 |" in markdown
    assert "minmax" in markdown
    assert "give --utility" in markdown
    assert "pairwise accuracy 1.0000" in stdout
    assert stdout.rstrip().endswith(f"report: {out / 'report.md'}")

    report = json.loads((out / "report.json").read_text())
    assert report["prediction"] is None
    assert report["summary"]["solver/mae"] is None
    assert report["plotted_sizes"] == [4]
    assert set(report["definitions"]) == {
        "pairwise_accuracy",
        "kendall_tau",
        "profiles",
        "between_group_w1",
        "prediction_mae",
    }


def test_equal_rewards_on_an_edge_count_half(tmp_path, capfd, length_model):
    # Both responses are one token, so the length model ties them exactly.
    rows = [
        {"prompt": "Name a colour.", "chosen": "red", "rejected": "big"},
        {"prompt": "Name an animal.", "chosen": "a black cat", "rejected": "cat"},
    ]
    data = write_jsonl(tmp_path / "pairs.jsonl", rows)
    report = evaluate(capfd, length_model, data, tmp_path / "out")

    tied, ordered = report["prompts"]
    assert tied["raw_scores"][0] == tied["raw_scores"][1]
    assert tied["accuracy"] == 0.5
    assert tied["rewards"] == [0.5, 0.5]
    # Kendall's tau-b is undefined on equal scores; the prompt counts as 0.
    assert tied["kendall_tau"] == 0.0
    assert ordered["accuracy"] == 1.0
    assert ordered["kendall_tau"] == 1.0
    assert report["pairwise_accuracy"]["value"] == 0.75
    assert report["pairwise_accuracy"]["tied_comparisons"] == 1.0
    assert report["summary"]["rewards/kendall_tau"] == 0.5


def test_scores_with_ties_use_tau_b(tmp_path, capfd, tiny_model_dir):
    records = [
        {
            "prompt": "Rate these answers.",
            "responses": ["first answer", "second one", "third", "fourth reply"],
            "scores": [3.0, 1.0, 1.0, 2.0],
        },
        {
            "prompt": "Another prompt here.",
            "responses": ["alpha", "beta gamma", "delta"],
            "scores": [2, 2, 1],
        },
    ]
    data = write_jsonl(tmp_path / "scores.jsonl", records)
    report = evaluate(capfd, tiny_model_dir, data, tmp_path / "out")

    assert report["data"]["ties"] == 2
    credit, weight = 0.0, 0
    for record, prompt in zip(records, report["prompts"], strict=True):
        raw = direct_scores(tiny_model_dir, record["prompt"], record["responses"])
        np.testing.assert_allclose(prompt["raw_scores"], raw, atol=1e-5)
        raw = np.array(prompt["raw_scores"])
        scores = record["scores"]
        expected_tau = stats.kendalltau(scores, raw).statistic
        assert prompt["tau_definition"] == "tau-b"
        assert prompt["kendall_tau"] == pytest.approx(expected_tau)
        n = len(scores)
        pairs = [(i, j) for i in range(n) for j in range(n) if scores[i] > scores[j]]
        assert sorted(map(tuple, prompt["edges"])) == sorted(pairs)
        agree = [edge_credit(raw[i], raw[j]) for i, j in pairs]
        assert prompt["accuracy"] == pytest.approx(np.mean(agree))
        credit += sum(agree)
        weight += len(pairs)
    assert report["summary"]["rewards/accuracy"] == pytest.approx(credit / weight)
    taus = [p["kendall_tau"] for p in report["prompts"]]
    assert report["kendall_tau"]["mean"] == pytest.approx(np.mean(taus))
    assert report["kendall_tau"]["quantiles"]["0.5"] == pytest.approx(np.median(taus))
    assert sum(report["kendall_tau"]["histogram"]["counts"]) == 2
    assert report["kendall_tau"]["definitions"] == {"tau-b": 2, "edges": 0}


def test_pairwise_rows_use_edge_tau(tmp_path, capfd, tiny_model_dir):
    # a > b twice and b > c once: no a-c edge, so not a ranking with ties.
    rows = [
        {"prompt": "Pick one.", "chosen": "answer a", "rejected": "answer b"},
        {"prompt": "Pick one.", "chosen": "answer b", "rejected": "answer c"},
        {"prompt": "Pick one.", "chosen": "answer a", "rejected": "answer b"},
        {"prompt": "Other prompt.", "chosen": "yes indeed", "rejected": "no"},
    ]
    data = write_jsonl(tmp_path / "pairs.jsonl", rows)
    report = evaluate(capfd, tiny_model_dir, data, tmp_path / "out")

    graph, single = report["prompts"]
    assert graph["edges"] == [[0, 1], [1, 2]]
    assert graph["weights"] == [2.0, 1.0]
    a, b, c = direct_scores(
        tiny_model_dir, "Pick one.", ["answer a", "answer b", "answer c"]
    )
    np.testing.assert_allclose(graph["raw_scores"], [a, b, c], atol=1e-5)
    a, b, c = graph["raw_scores"]

    assert graph["tau_definition"] == "edges"
    tau = (2 * np.sign(a - b) + np.sign(b - c)) / 3
    assert graph["kendall_tau"] == pytest.approx(tau)
    assert graph["accuracy"] == pytest.approx(
        (2 * edge_credit(a, b) + edge_credit(b, c)) / 3
    )
    yes, no = single["raw_scores"]
    assert single["tau_definition"] == "tau-b"
    assert single["kendall_tau"] == pytest.approx(float(np.sign(yes - no)))
    total = (2 * edge_credit(a, b) + edge_credit(b, c) + edge_credit(yes, no)) / 4
    assert report["summary"]["rewards/accuracy"] == pytest.approx(total)
    assert report["pairwise_accuracy"]["comparisons"] == 4.0
    assert report["data"]["duplicate_edges"] == 1


@pytest.fixture
def settings_model(tmp_path, tiny_model_dir):
    folder = tmp_path / "trained"
    shutil.copytree(tiny_model_dir, folder)
    settings = {
        "reward": "sigmoid(logit_scale * logit)",
        "bounded": True,
        "logit_scale": 2.0,
        "utilities": ["inverse"],
        "default_utility": "inverse",
        "group_field": "topic",
        "group_utilities": {},
        "max_length": 64,
    }
    (folder / "rankreward.json").write_text(json.dumps(settings))
    return str(folder)


TOPIC_RANKINGS = [
    {"prompt": "Tell a tale.", "responses": ["one two three", "one two", "one"],
     "topic": "stories"},
    {"prompt": "Add two numbers.", "responses": ["four", "five six", "seven"],
     "topic": "maths"},
]  # fmt: skip


def test_model_settings_give_map_group_and_utility(tmp_path, capfd, settings_model):
    data = write_jsonl(tmp_path / "topics.jsonl", TOPIC_RANKINGS)
    report = evaluate(capfd, settings_model, data, tmp_path / "out")

    assert report["reward_map"]["name"] == "sigmoid"
    assert report["reward_map"]["logit_scale"] == 2.0
    assert report["max_length"] == 64
    assert report["utility_sources"] == {"rankreward.json": 2}
    assert [p["group"] for p in report["prompts"]] == ["stories", "maths"]
    for prompt in report["prompts"]:
        raw = np.array(prompt["raw_scores"])
        np.testing.assert_allclose(prompt["rewards"], expit(2.0 * raw), rtol=1e-12)
        assert prompt["utility"] == "inverse"
        # A strictly concave utility's optimum of a full ranking of 3 is
        # symmetric: the middle response gets 1/2.
        assert prompt["optimum"] == pytest.approx([1.0, 0.5, 0.0], abs=1e-6)
        mae = np.mean(np.abs(np.sort(prompt["rewards"]) - [0.0, 0.5, 1.0]))
        assert prompt["prediction_mae"] == pytest.approx(mae, abs=1e-6)
    assert set(report["prediction"]["by_group"]) == {"maths", "stories"}


def test_reward_map_flags_override_auto(tmp_path, capfd, settings_model, length_model):
    data = write_jsonl(tmp_path / "topics.jsonl", TOPIC_RANKINGS)
    report = evaluate(
        capfd, settings_model, data, tmp_path / "a", "--reward-map", "minmax"
    )
    assert report["reward_map"]["name"] == "minmax"
    for prompt in report["prompts"]:
        assert max(prompt["rewards"]) == 1.0
        assert min(prompt["rewards"]) == 0.0

    # Without rankreward.json the sigmoid's scale is 1.
    report = evaluate(
        capfd, length_model, data, tmp_path / "b", "--reward-map", "sigmoid"
    )
    assert report["reward_map"]["logit_scale"] == 1.0
    for prompt in report["prompts"]:
        raw = np.array(prompt["raw_scores"])
        np.testing.assert_allclose(prompt["rewards"], expit(raw), rtol=1e-12)


def test_group_field_columns_and_group_utilities(tmp_path, capfd, length_model):
    records = [
        {"question": r["prompt"], "responses": r["responses"], "category": r["group"]}
        for r in RANKINGS
    ]
    data = write_jsonl(tmp_path / "renamed.jsonl", records)
    report = evaluate(
        capfd,
        length_model,
        data,
        tmp_path / "out",
        "--columns",
        "prompt=question",
        "--group-field",
        "category",
        "--utility",
        "open=inverse,closed=linear",
    )
    assert [p["group"] for p in report["prompts"]] == [r["group"] for r in RANKINGS]
    assert [p["utility"] for p in report["prompts"]] == [
        "inverse",
        "inverse",
        "linear",
        "linear",
    ]
    assert report["prediction"]["utilities"] == {"inverse": 2, "linear": 2}


def test_conversations_render_with_the_template(tmp_path, capfd, tokenizer):
    model = save_length_model(tmp_path / "chat-model", chat_template=CHAT_TEMPLATE)
    question = "Tell me about cats."
    answers = ["cats sleep a lot and purr", "cats sleep"]
    records = [
        {
            "prompt": [{"role": "user", "content": question}],
            "responses": [[{"role": "assistant", "content": a}] for a in answers],
        }
    ]
    data = write_jsonl(tmp_path / "chat.jsonl", records)
    report = evaluate(capfd, model, data, tmp_path / "out")

    prompt_text = f"user: {question}\nassistant: "
    expected = [length_model_score(tokenizer, prompt_text, f"{a}\n") for a in answers]
    np.testing.assert_allclose(report["prompts"][0]["raw_scores"], expected, atol=1e-5)
    assert report["prompts"][0]["prompt"] == question


@pytest.fixture(scope="module")
def bad_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad-models")
    return {
        "two-label": save_two_label_model(folder / "two-label"),
        "base": save_base_model(folder / "base"),
    }


# (id, how to build the arguments, pattern). Each builder gets the test's
# tmp_path, the length model, the bad models and a good data file.
BAD_INPUTS = [
    (
        "missing-model",
        lambda t, m, b, d: ["--model", str(t / "absent"), "--data", d],
        r"model folder not found: '.*absent'$",
    ),
    (
        "two-labels",
        lambda t, m, b, d: ["--model", b["two-label"], "--data", d],
        r"has 2 labels \(LABEL_0, LABEL_1\); a reward model has one label",
    ),
    (
        "base-model",
        lambda t, m, b, d: ["--model", b["base"], "--data", d],
        r"is a BertModel checkpoint without a sequence-classification head",
    ),
    (
        "missing-data",
        lambda t, m, b, d: ["--model", m, "--data", str(t / "absent.jsonl")],
        r"absent\.jsonl: file not found; check the path$",
    ),
    (
        "bad-record",
        lambda t, m, b, d: [
            "--model",
            m,
            "--data",
            write_jsonl(t / "bad.jsonl", [{"prompt": "p", "responses": "ab"}]),
        ],
        r"bad\.jsonl, line 1: field 'responses' must be a list",
    ),
    (
        "bad-utility",
        lambda t, m, b, d: ["--model", m, "--data", d, "--utility", "cubic"],
        r"--utility: unknown utility 'cubic'; valid specs: linear, log",
    ),
    (
        "bad-utility-pair",
        lambda t, m, b, d: ["--model", m, "--data", d, "--utility", "open=power:2"],
        r"--utility: invalid utility spec 'power:2': the parameter of 'power' "
        r"must satisfy 0 < G < 1, got 2$",
    ),
    (
        "unmapped-group",
        lambda t, m, b, d: ["--model", m, "--data", d, "--utility", "open=inverse"],
        r"line 3: the prompt has group 'closed', which --utility does not map "
        r"\(mapped groups: 'open'\)",
    ),
    (
        "max-length-too-large",
        lambda t, m, b, d: ["--model", m, "--data", d, "--max-length", "100000"],
        r"--max-length 100000 exceeds the 128 tokens this model can encode",
    ),
    (
        "max-length-too-small",
        lambda t, m, b, d: ["--model", m, "--data", d, "--max-length", "3"],
        r"--max-length must be at least 16 tokens, got 3$",
    ),
    (
        "batch-size-zero",
        lambda t, m, b, d: ["--model", m, "--data", d, "--batch-size", "0"],
        r"--batch-size must be at least 1, got 0$",
    ),
    (
        "conversations-without-template",
        lambda t, m, b, d: [
            "--model",
            m,
            "--data",
            write_jsonl(
                t / "chat.jsonl",
                [
                    {
                        "prompt": [{"role": "user", "content": "q"}],
                        "chosen": [{"role": "assistant", "content": "a"}],
                        "rejected": [{"role": "assistant", "content": "b"}],
                    }
                ],
            ),
        ],
        r"chat\.jsonl, line 1: the tokenizer has no chat template",
    ),
]


@pytest.mark.parametrize(
    "builder, pattern", [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_exits_2_with_one_line(
    tmp_path, capfd, length_model, bad_models, builder, pattern
):
    data = write_jsonl(tmp_path / "good.jsonl", RANKINGS)
    argv = builder(tmp_path, length_model, bad_models, data)
    code, out, err = run(["evaluate", *argv, "--out", str(tmp_path / "out")], capfd)
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    assert err.startswith("rankreward evaluate: error: ")
    assert re.search(pattern, err.rstrip("\n")), err


def test_unwritable_out_exits_2(tmp_path, capfd, length_model):
    data = write_jsonl(tmp_path / "good.jsonl", RANKINGS)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    argv = ["evaluate", "--model", length_model, "--data", data]
    code, _, err = run(argv + ["--out", str(blocker / "report")], capfd)
    assert code == 2
    assert err.count("\n") == 1, err
    assert re.search(r"--out .*file/report: cannot create or write the folder", err)


@pytest.mark.parametrize(
    "settings, pattern",
    [
        ({"logit_scale": -1}, r"'logit_scale' must be a positive number, got -1$"),
        ({"utilities": ["cubic"]}, r"'utilities\[0\]': unknown utility 'cubic'"),
        ({"bounded": "yes"}, r"'bounded' must be true or false, got 'yes'$"),
        ("{not json", r"rankreward\.json: cannot read the settings"),
    ],
    ids=["negative-scale", "unknown-utility", "bounded-text", "invalid-json"],
)
def test_invalid_settings_file_exits_2(
    tmp_path, capfd, tiny_model_dir, settings, pattern
):
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    text = settings if isinstance(settings, str) else json.dumps(settings)
    (folder / "rankreward.json").write_text(text)
    data = write_jsonl(tmp_path / "good.jsonl", RANKINGS)
    argv = ["evaluate", "--model", str(folder), "--data", data]
    code, _, err = run(argv + ["--out", str(tmp_path / "out")], capfd)
    assert code == 2
    assert err.count("\n") == 1, err
    assert re.search(pattern, err.rstrip("\n")), err


def test_weak_order_levels_recognise_rankings():
    from rankreward.evaluation_metrics import weak_order_levels

    # Scores [3, 1, 1, 2]: every pair with different scores is an edge.
    tied = np.array([(0, 1), (0, 2), (0, 3), (3, 1), (3, 2)])
    levels = weak_order_levels(4, tied)
    assert levels is not None
    assert levels[0] > levels[3] > levels[1]
    assert levels[1] == levels[2]
    # A chain without its a > c edge, and a contradiction, are not rankings.
    assert weak_order_levels(3, np.array([(0, 1), (1, 2)])) is None
    assert weak_order_levels(2, np.array([(0, 1), (1, 0)])) is None


def test_minmax_map_of_equal_scores_is_half():
    from rankreward.reward_settings import RewardMap

    minmax = RewardMap("minmax")
    assert minmax(np.array([0.3, 0.3, 0.3])).tolist() == [0.5, 0.5, 0.5]
    assert minmax(np.array([-2.0, 0.0, 2.0])).tolist() == [0.0, 0.5, 1.0]


def test_reproduce_settings_layout_maps_groups(tmp_path):
    from rankreward.reward_settings import read_model_settings

    settings = {
        "reward": "sigmoid(logit_scale * logit)",
        "logit_scale": 4,
        "utilities": {"open": "inverse", "closed": "linear"},
    }
    (tmp_path / "rankreward.json").write_text(json.dumps(settings))
    read = read_model_settings(tmp_path)
    assert read.bounded is True
    assert read.logit_scale == 4.0
    assert read.utility_for("open") == "inverse"
    assert read.utility_for("closed") == "linear"
    assert read.utility_for("other") is None
    assert read_model_settings(tmp_path / "absent") is None

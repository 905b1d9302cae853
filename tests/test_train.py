"""rankreward train on small data in every layout, with a tiny random model."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from rankreward.cli import main

RANKINGS = [
    {
        "prompt": f"question {i} about the harbour",
        "responses": [
            f"a long careful answer {i} with detail",
            f"short answer {i}",
            "no",
        ],
        "kind": "open" if i % 2 else "closed",
    }
    for i in range(6)
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def layouts(tmp_path):
    """One small data file per layout and format the readers take."""
    import datasets

    files = {"ranking.jsonl": write_jsonl(tmp_path / "ranking.jsonl", RANKINGS)}
    scores = [
        {"prompt": r["prompt"], "responses": r["responses"], "scores": [2, 1, 1]}
        for r in RANKINGS
    ]
    files["scores-with-ties.jsonl"] = write_jsonl(tmp_path / "scores.jsonl", scores)
    pairs = [
        {
            "prompt": r["prompt"],
            "chosen": r["responses"][0],
            "rejected": r["responses"][k],
        }
        for r in RANKINGS
        for k in (1, 2)
    ]
    files["pairwise.jsonl"] = write_jsonl(tmp_path / "pairs.jsonl", pairs)
    table = datasets.Dataset.from_dict(
        {key: [row[key] for row in pairs] for key in ("prompt", "chosen", "rejected")}
    )
    table.to_csv(tmp_path / "pairs.csv", index=False)
    files["pairwise.csv"] = str(tmp_path / "pairs.csv")
    table.to_parquet(tmp_path / "pairs.parquet")
    files["pairwise.parquet"] = str(tmp_path / "pairs.parquet")
    table.save_to_disk(tmp_path / "pairs-saved")
    files["pairwise-saved"] = str(tmp_path / "pairs-saved")
    (tmp_path / "pairs.json").write_text(json.dumps(pairs))
    files["pairwise.json"] = str(tmp_path / "pairs.json")
    return files


def train(argv):
    return main(["train", *argv, "--report-to", "none", "--disable-tqdm", "true"])


@pytest.fixture(scope="module")
def data_files(tmp_path_factory):
    return layouts(tmp_path_factory.mktemp("train-data"))


@pytest.mark.parametrize(
    "layout",
    [
        "ranking.jsonl",
        "scores-with-ties.jsonl",
        "pairwise.jsonl",
        "pairwise.csv",
        "pairwise.parquet",
        "pairwise-saved",
        "pairwise.json",
    ],
)
def test_every_layout_trains_and_saves(layout, data_files, tiny_model_dir, tmp_path):
    from transformers import AutoModelForSequenceClassification

    out = tmp_path / "model"
    code = train(
        [
            "--data",
            data_files[layout],
            "--model",
            tiny_model_dir,
            "--output-dir",
            str(out),
            "--max-steps",
            "2",
            "--per-device-train-batch-size",
            "4",
            "--utility",
            "log",
            "--learning-rate",
            "1e-3",
        ]
    )
    assert code == 0
    model = AutoModelForSequenceClassification.from_pretrained(out)
    assert model.config.num_labels == 1
    settings = json.loads((out / "rankreward.json").read_text())
    assert settings["utilities"] == ["log"]
    assert settings["bounded"] is True
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["data"]["prompts"] == 6
    assert np.isfinite(summary["metrics"]["train_loss"])
    trained = load_file(out / "model.safetensors")
    start = load_file(os.path.join(tiny_model_dir, "model.safetensors"))
    moved = max((trained[k] - start[k]).abs().max().item() for k in start)
    assert moved > 0, "two steps changed no weight"


def test_ties_give_no_edge(data_files, tiny_model_dir, tmp_path):
    # Scores 2, 1, 1: two edges per prompt, and one tied pair.
    code = train(
        [
            "--data",
            data_files["scores-with-ties.jsonl"],
            "--model",
            tiny_model_dir,
            "--output-dir",
            str(tmp_path),
            "--max-steps",
            "1",
        ]
    )
    summary = json.loads((tmp_path / "train_summary.json").read_text())
    assert code == 0
    assert summary["data"]["edges"] == 12
    assert summary["data"]["ties"] == 6


def test_prompt_aware_groups_get_their_utilities(data_files, tiny_model_dir, tmp_path):
    code = train(
        [
            "--data",
            data_files["ranking.jsonl"],
            "--model",
            tiny_model_dir,
            "--output-dir",
            str(tmp_path),
            "--max-steps",
            "1",
            "--group-field",
            "kind",
            "--group-utilities",
            "open=inverse,closed=linear",
        ]
    )
    settings = json.loads((tmp_path / "rankreward.json").read_text())
    assert code == 0
    assert settings["utilities"] == ["inverse", "linear"]
    assert settings["group_utilities"] == {"open": "inverse", "closed": "linear"}


def test_pairwise_rows_give_the_ranking_loss(tiny_model_dir, tmp_path):
    # Rows a > b, a > c and b > c of one prompt are the full ranking a > b > c,
    # so the loss of a model on either reading is the same number.
    from rankreward.collator import RankingCollator, tokenize_ranking
    from rankreward.data_files import read_preferences
    from rankreward.loss import RankingLoss
    from rankreward.model import RewardHead, load_reward_model

    prompt, responses = RANKINGS[0]["prompt"], RANKINGS[0]["responses"]
    ranking = write_jsonl(
        tmp_path / "one.jsonl", [{"prompt": prompt, "responses": responses}]
    )
    pairs = write_jsonl(
        tmp_path / "one-pairs.jsonl",
        [
            {"prompt": prompt, "chosen": responses[i], "rejected": responses[j]}
            for i, j in ((1, 2), (0, 2), (0, 1))
        ],
    )
    model, tokenizer = load_reward_model(tiny_model_dir)
    model.eval()
    losses = []
    for path in (ranking, pairs):
        (group,), _ = read_preferences(path)
        assert sorted(group.responses) == sorted(responses)
        assert len(group.edges) == 3
        example = tokenize_ranking(
            tokenizer,
            group.prompt,
            list(group.responses),
            group.edges,
            0,
            64,
            edge_weights=group.weights,
        )
        batch = RankingCollator(tokenizer.pad_token_id)([example])
        with torch.no_grad():
            logits = model(
                input_ids=batch["input_ids"],
                attention_mask=batch["attention_mask"],
                token_type_ids=batch["token_type_ids"],
            ).logits.squeeze(-1)
        loss = RankingLoss(["log"])(
            RewardHead(4.0)(logits),
            batch["edges"],
            batch["edge_prompt"],
            batch["edge_weight"],
            batch["prompt_utility"],
        ).loss
        losses.append(float(loss))
    assert losses[0] == pytest.approx(losses[1], rel=1e-6)


def test_yaml_config_and_flag_override(data_files, tiny_model_dir, tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text(
        f"data: {data_files['pairwise.jsonl']}\nmodel: {tiny_model_dir}\n"
        f"output_dir: {tmp_path / 'out'}\nmax_steps: 1\nutility: power:0.5\n"
        "learning_rate: 0.5\n"
    )
    code = train(["--config", str(config), "--utility", "inverse"])
    settings = json.loads((tmp_path / "out" / "rankreward.json").read_text())
    assert code == 0
    assert settings["utilities"] == ["inverse"]  # the flag wins over the file


def test_lora_saves_a_merged_model(data_files, tiny_model_dir, tmp_path):
    from transformers import AutoModelForSequenceClassification

    code = train(
        [
            "--data",
            data_files["pairwise.jsonl"],
            "--model",
            tiny_model_dir,
            "--output-dir",
            str(tmp_path),
            "--max-steps",
            "2",
            "--lora",
            "true",
            "--lora-target-modules",
            "query,value",
            "--learning-rate",
            "1e-2",
        ]
    )
    assert code == 0
    model = AutoModelForSequenceClassification.from_pretrained(tmp_path)
    names = [name for name, _ in model.named_parameters()]
    assert not any("lora" in name for name in names)


BAD_SETTINGS = [
    (["--utility", "cubic"], "--utility: unknown utility 'cubic'"),
    (["--rewards", "unbounded", "--utility", "log"], "needs logsigmoid utilities"),
    (["--rewards", "sideways"], "--rewards must be bounded or unbounded"),
    (["--columns", "prompt"], "--columns: 'prompt' is not NAME=VALUE"),
    (["--group-utilities", "open=inverse"], "--group-utilities needs --group-field"),
    (["--dropout", "1.5"], "--dropout must be in [0, 1)"),
    (["--logit-scale", "0"], "--logit-scale must be positive"),
    (["--max-length", "4"], "--max-length must be at least 8"),
    (["--lora", "true", "--lora-target-modules", "nosuch"], "--lora-target-modules"),
]


@pytest.mark.parametrize("extra, message", BAD_SETTINGS)
def test_bad_settings_exit_2_with_one_line(
    extra, message, data_files, tiny_model_dir, tmp_path, capsys
):
    code = train(
        [
            "--data",
            data_files["pairwise.jsonl"],
            "--model",
            tiny_model_dir,
            "--output-dir",
            str(tmp_path),
            "--max-steps",
            "1",
            *extra,
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err and err[-1].startswith("rankreward train: error: ")
    assert message in err[-1]
    assert not any("Traceback" in line for line in err)


def test_bad_files_exit_2(tiny_model_dir, tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("learning_rate: 0.1\nmax_stepz: 3\n")
    cases = [
        (
            ["--data", str(tmp_path / "none.jsonl"), "--model", tiny_model_dir],
            "not found",
        ),
        (
            ["--config", str(config), "--data", "x", "--model", "y"],
            "unknown setting 'max_stepz'; did you mean 'max_steps'?",
        ),
        (["--data", str(config), "--model", str(tmp_path / "no-model")], ""),
    ]
    for argv, message in cases:
        code = train([*argv, "--output-dir", str(tmp_path / "out")])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2
        assert message in err[-1]


def test_two_processes_match_one(data_files, tiny_model_dir, tmp_path):
    # torchrun with 2 CPU processes on gloo, 3 prompts each, against one
    # process with the same global batch of 6: with dropout 0 and plain SGD
    # the weights must agree to float32 rounding. Every step covers every
    # prompt, so the samplers' orders do not matter.
    common = [
        "train",
        "--data",
        data_files["ranking.jsonl"],
        "--model",
        tiny_model_dir,
        "--max-steps",
        "3",
        "--learning-rate",
        "0.5",
        "--optim",
        "sgd",
        "--dropout",
        "0",
        "--utility",
        "logsigmoid:4",
        "--seed",
        "0",
        "--report-to",
        "none",
        "--disable-tqdm",
        "true",
    ]
    assert (
        main(
            [
                *common,
                "--output-dir",
                str(tmp_path / "one"),
                "--per-device-train-batch-size",
                "6",
            ]
        )
        == 0
    )
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(
        [
            torchrun,
            "--nproc_per_node",
            "2",
            "--master_port",
            "29517",
            "-m",
            "rankreward",
            *common,
            "--output-dir",
            str(tmp_path / "two"),
            "--per-device-train-batch-size",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    one = load_file(tmp_path / "one" / "model.safetensors")
    two = load_file(tmp_path / "two" / "model.safetensors")
    start = load_file(os.path.join(tiny_model_dir, "model.safetensors"))
    moved = max((one[k] - start[k]).abs().max().item() for k in one)
    gap = max((one[k] - two[k]).abs().max().item() for k in one)
    assert moved > 1e-5
    assert gap <= 1e-6 + 1e-3 * moved


TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)


def test_conversations_render_with_the_chat_template(tiny_model_dir, tmp_path):
    from transformers import AutoTokenizer

    model_dir = tmp_path / "chat-model"
    shutil.copytree(tiny_model_dir, model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.chat_template = TEMPLATE
    tokenizer.save_pretrained(model_dir)
    rows = [
        {
            "prompt": [{"role": "user", "content": f"name a colour, case {i}"}],
            "chosen": [{"role": "assistant", "content": "blue, like the sea"}],
            "rejected": [{"role": "assistant", "content": "seven"}],
        }
        for i in range(4)
    ]
    data = write_jsonl(tmp_path / "chat.jsonl", rows)
    code = train(
        [
            "--data",
            data,
            "--model",
            str(model_dir),
            "--output-dir",
            str(tmp_path / "out"),
            "--max-steps",
            "1",
        ]
    )
    assert code == 0
    # Without a template the same data is one clear error.
    code = train(
        [
            "--data",
            data,
            "--model",
            tiny_model_dir,
            "--output-dir",
            str(tmp_path / "out2"),
            "--max-steps",
            "1",
        ]
    )
    assert code == 2


def test_held_out_loss_and_accuracy(data_files, tiny_model_dir, tmp_path):
    code = train(
        [
            "--data",
            data_files["ranking.jsonl"],
            "--eval-data",
            data_files["pairwise.jsonl"],
            "--model",
            tiny_model_dir,
            "--output-dir",
            str(tmp_path),
            "--max-steps",
            "2",
            "--eval-strategy",
            "steps",
            "--eval-steps",
            "1",
            "--per-device-eval-batch-size",
            "4",
            "--utility",
            "logsigmoid:4",
        ]
    )
    metrics = json.loads((tmp_path / "train_summary.json").read_text())["metrics"]
    assert code == 0
    assert np.isfinite(metrics["eval_loss"])
    # 6 prompts of 2 pairwise edges: accuracy is a multiple of 1/12.
    accuracy = metrics["eval_rewards/accuracy"]
    assert 0.0 <= accuracy <= 1.0
    assert abs(accuracy * 12 - round(accuracy * 12)) < 1e-3


@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGTERM", "SIGINT"])
def test_killed_run_resumes_to_the_same_model(
    signal_name, data_files, tiny_model_dir, tmp_path
):
    # Stop a run with a signal once its second checkpoint is whole, resume
    # it with --resume, and compare with a run that was never interrupted.
    import signal
    import time

    stop = getattr(signal, signal_name)

    common = [
        "train",
        "--data",
        data_files["ranking.jsonl"],
        "--model",
        tiny_model_dir,
        "--max-steps",
        "12",
        "--learning-rate",
        "1e-3",
        "--utility",
        "logsigmoid:4",
        "--seed",
        "0",
        "--per-device-train-batch-size",
        "2",
        "--dropout",
        "0.1",
        "--save-strategy",
        "steps",
        "--save-steps",
        "2",
        "--report-to",
        "none",
        "--disable-tqdm",
        "true",
    ]
    assert main([*common, "--output-dir", str(tmp_path / "full")]) == 0
    killed = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "rankreward", *common, "--output-dir", str(killed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240
        while not (killed / "checkpoint-4" / "trainer_state.json").exists():
            assert process.poll() is None, "the run ended before its checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.05)
        os.kill(process.pid, stop)
    finally:
        process.wait(timeout=60)
    # SIGINT ends as "interrupted" (130); the others kill the process.
    assert process.returncode in (-stop, 130)
    assert not (killed / "model.safetensors").exists()
    assert main([*common, "--output-dir", str(killed), "--resume", "true"]) == 0
    full = load_file(tmp_path / "full" / "model.safetensors")
    resumed = load_file(killed / "model.safetensors")
    gap = max((full[k] - resumed[k]).abs().max().item() for k in full)
    assert gap <= 1e-6


def test_nonfinite_loss_stops_with_a_checkpoint(
    data_files, tiny_model_dir, tmp_path, capsys
):
    # A model whose head outputs NaN: the first step's loss is NaN, so the
    # run stops there, names the step and the prompts, and saves the weights.
    from transformers import AutoModelForSequenceClassification

    broken = tmp_path / "broken"
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        model.classifier.bias.fill_(float("nan"))
    model.save_pretrained(broken)
    shutil.copy(os.path.join(tiny_model_dir, "tokenizer.json"), broken)
    shutil.copy(os.path.join(tiny_model_dir, "tokenizer_config.json"), broken)
    code = train(
        [
            "--data",
            data_files["ranking.jsonl"],
            "--model",
            str(broken),
            "--output-dir",
            str(tmp_path / "out"),
            "--max-steps",
            "3",
            "--per-device-train-batch-size",
            "2",
            "--utility",
            "log",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1].startswith("rankreward train: stopped: the loss was nan at step 1")
    assert "ranking.jsonl, line " in err[-1]  # the batch's prompts
    assert (tmp_path / "out" / "checkpoint-0" / "model.safetensors").exists()
    assert not (tmp_path / "out" / "model.safetensors").exists()


def test_identical_after_truncation_is_counted(tiny_model_dir, tmp_path):
    # With 12 tokens, a response keeps at most its first 3/4 of them, so two
    # responses that differ only at their end encode identically: their
    # edge is dropped and counted, and so is the prompt left without edges.
    start = "the same long start of both answers " * 3
    rows = [
        {"prompt": "please", "responses": [start + "a", start + "b"]},
        {"prompt": "short", "responses": ["yes", "no"]},
    ]
    data = write_jsonl(tmp_path / "cut.jsonl", rows)
    code = train(
        [
            "--data",
            data,
            "--model",
            tiny_model_dir,
            "--output-dir",
            str(tmp_path / "out"),
            "--max-steps",
            "1",
            "--max-length",
            "12",
        ]
    )
    summary = json.loads((tmp_path / "out" / "train_summary.json").read_text())
    assert code == 0
    assert summary["identical_after_truncation"]["train"] == {
        "edges_dropped": 1,
        "prompts_dropped": 1,
    }

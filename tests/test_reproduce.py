import json
import re

import numpy as np
import pytest

from rankreward.cli import main
from rankreward.reproduce import run_reproduce
from rankreward.reproduce_config import ReproduceConfig, config_from_preset


def tiny_config(model_dir, **overrides):
    settings = dict(
        model=model_dir,
        num_layers=None,
        num_train=16,
        num_eval=8,
        max_steps=3,
        prompts_per_step=4,
        max_length=96,
        runs=("linear", "prompt-aware"),
    )
    settings.update(overrides)
    return ReproduceConfig(**settings)


@pytest.fixture(scope="module")
def finished(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce")
    return out, run_reproduce(tiny_config(tiny_model_dir), out)


def test_writes_figure_and_reports(finished):
    out, _ = finished
    assert (out / "reward_profiles.png").stat().st_size > 10_000
    assert (out / "report.md").read_text().count("\n| ") == 3  # header and 2 runs
    data_lines = (out / "data" / "eval.jsonl").read_text().splitlines()
    assert len(data_lines) == 8


def test_report_layout(finished):
    out, report = finished
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk == report
    assert set(report["runs"]) == {"linear", "prompt-aware"}
    assert report["runs"]["prompt-aware"]["utility"] == {
        "open": "inverse",
        "closed": "linear",
    }
    assert report["runs"]["linear"]["utility"] == "linear"
    assert report["settings"]["max_steps"] == 3
    assert report["wall_seconds"] > 0
    for run in report["runs"].values():
        for block in run["kinds"].values():
            assert len(block["profile"]) == 8
            assert len(block["rewards"]) == block["num_prompts"]
            assert all(len(row) == 8 for row in block["rewards"])
            rewards = np.asarray(block["rewards"])
            np.testing.assert_allclose(
                block["profile"], rewards.mean(axis=0), atol=1e-4
            )
            assert ((rewards >= 0) & (rewards <= 1)).all()
        assert 0 <= run["pairwise_accuracy"] <= 1
        assert run["between_kind_w1"] >= 0
    counts = report["data"]["eval_kinds"]
    assert counts["open"] + counts["closed"] == 8


def test_prediction_is_the_solver_optimum(finished):
    _, report = finished
    aware = report["runs"]["prompt-aware"]["kinds"]
    assert aware["closed"]["prediction"] == [0, 0, 0, 0, 1, 1, 1, 1]
    inverse = aware["open"]["prediction"]
    assert inverse[0] == 0
    assert inverse[-1] == 1
    assert inverse == sorted(inverse)


def test_rerun_reuses_finished_runs(finished, tiny_model_dir):
    out, report = finished
    again = run_reproduce(tiny_config(tiny_model_dir, runs=("linear",)), out)
    assert again["runs"]["linear"] == report["runs"]["linear"]


def test_changed_settings_train_again(finished, tiny_model_dir):
    out, report = finished
    again = run_reproduce(
        tiny_config(tiny_model_dir, runs=("linear",), max_steps=4), out
    )
    assert again["settings"]["max_steps"] == 4
    assert (
        again["runs"]["linear"]["train_loss"] != report["runs"]["linear"]["train_loss"]
    )


def test_training_moves_rewards_apart(tiny_model_dir, tmp_path):
    # A few steps at a high learning rate must order the prefixes by length.
    config = tiny_config(
        tiny_model_dir, runs=("log",), num_train=64, max_steps=16, learning_rate=3e-3
    )
    report = run_reproduce(config, tmp_path)
    assert report["runs"]["log"]["pairwise_accuracy"] > 0.8


def test_cli_runs_end_to_end(tiny_model_dir, tmp_path, capsys):
    code = main(
        [
            "reproduce",
            "--out",
            str(tmp_path),
            "--model",
            tiny_model_dir,
            "--num-layers",
            "0",
            "--num-train",
            "8",
            "--num-eval",
            "4",
            "--max-steps",
            "2",
            "--prompts-per-step",
            "4",
            "--runs",
            "log",
        ]
    )
    assert code == 0
    assert "log " in capsys.readouterr().out
    assert (tmp_path / "report.json").is_file()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--runs", "cubic"], "unknown run 'cubic'; valid runs: linear, log"),
        (["--max-steps", "0"], "max_steps must be positive, got 0"),
        (["--num-eval", "1"], "num_eval must be at least 2, got 1"),
        (["--warmup-ratio", "1.5"], r"warmup_ratio must be in \[0, 1\), got 1.5"),
        (["--length-scale", "0.05"], "makes two prefix lengths equal"),
    ],
)
def test_cli_bad_settings_exit_2_with_one_line(argv, message, tmp_path, capsys):
    code = main(["reproduce", "--out", str(tmp_path), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("rankreward reproduce: error: ")
    assert re.search(message, err)
    assert "Traceback" not in err


def test_cli_missing_model_exit_2(tmp_path, capsys):
    missing = str(tmp_path / "no-such-model")
    code = main(["reproduce", "--out", str(tmp_path / "out"), "--model", missing])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert f"model folder not found: '{missing}'" in err


def test_paper_preset():
    config = config_from_preset("paper")
    assert config.model == "microsoft/deberta-v3-base"
    assert config.num_train == 8192
    assert config.max_steps == 1000
    assert config.learning_rate == 1e-5
    assert config_from_preset("paper", max_steps=5).max_steps == 5

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
            "LOG",
        ]
    )
    assert code == 0
    assert "log " in capsys.readouterr().out
    assert (tmp_path / "report.json").is_file()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--runs", "cubic"], "unknown run 'cubic'; valid runs: linear, log"),
        (["--runs", "log,log"], "run 'log' is listed twice"),
        (["--max-steps", "0"], "--max-steps must be positive and finite, got 0"),
        (["--learning-rate", "inf"], "--learning-rate must be positive and finite"),
        (["--logit-scale", "nan"], "--logit-scale must be positive and finite"),
        (["--num-eval", "1"], "--num-eval must be at least 2, got 1"),
        (["--seed", "-1"], r"--seed must be in \[0, 2\*\*32\), got -1"),
        (["--warmup-ratio", "1.5"], r"--warmup-ratio must be in \[0, 1\), got 1.5"),
        (["--length-scale", "0.05"], "makes two prefix lengths equal"),
        (["--length-scale", "3"], "prefixes of 240 words, longer than the shortest"),
        (["--num-train", "99999"], "the corpus gives .* passages of 40 words"),
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


def test_saved_model_loads_with_reward_settings(finished):
    from transformers import AutoModelForSequenceClassification

    out, report = finished
    folder = out / "runs" / "prompt-aware" / "model"
    assert report["runs"]["prompt-aware"]["model_dir"] == str(folder)
    assert (folder / "model.safetensors").is_file()
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    assert model.config.num_labels == 1
    settings = json.loads((folder / "rankreward.json").read_text())
    assert settings["logit_scale"] == 4.0
    assert settings["utilities"] == {"open": "inverse", "closed": "linear"}


def test_report_names_order_and_prompts(finished):
    out, report = finished
    assert report["reward_order"].startswith("worst to best")
    ids = [json.loads(line)["id"] for line in (out / "data" / "eval.jsonl").open()]
    kinds = report["runs"]["linear"]["kinds"]
    listed = kinds["open"]["prompt_ids"] + kinds["closed"]["prompt_ids"]
    assert sorted(listed) == sorted(ids)


def test_changed_settings_warn(tiny_model_dir, tmp_path, caplog):
    run_reproduce(tiny_config(tiny_model_dir, runs=("linear",)), tmp_path)
    with caplog.at_level("WARNING", logger="rankreward"):
        run_reproduce(tiny_config(tiny_model_dir, runs=("linear",), seed=1), tmp_path)
    assert "made with other settings (seed); training again" in caplog.text


def run_cli(argv, capsys):
    code = main(["reproduce", *argv])
    return code, capsys.readouterr().err


def test_cli_overlong_truncation_exit_2(tiny_model_dir, tmp_path, capsys):
    argv = [
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
        "--max-length",
        "12",
    ]
    code, err = run_cli(argv, capsys)
    assert code == 2
    assert (
        "identical after truncation to max_length=12 tokens; raise --max-length" in err
    )


def test_cli_max_length_beyond_positions_exit_2(tiny_model_dir, tmp_path, capsys):
    argv = [
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
        "--max-length",
        "1000",
    ]
    code, err = run_cli(argv, capsys)
    assert code == 2
    assert "exceeds the 256 positions this model can encode" in err


def test_cli_too_many_layers_exit_2(tiny_model_dir, tmp_path, capsys):
    argv = [
        "--out",
        str(tmp_path),
        "--model",
        tiny_model_dir,
        "--num-layers",
        "7",
        "--num-train",
        "8",
        "--num-eval",
        "4",
    ]
    code, err = run_cli(argv, capsys)
    assert code == 2
    assert "--num-layers must be between 1 and 2 for this model, got 7" in err


def test_cli_model_without_weights_exit_2(tiny_model_dir, tmp_path, capsys):
    import shutil

    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(f"{tiny_model_dir}/{name}", broken / name)
    argv = [
        "--out",
        str(tmp_path / "out"),
        "--model",
        str(broken),
        "--num-train",
        "8",
        "--num-eval",
        "4",
        "--num-layers",
        "0",
    ]
    code, err = run_cli(argv, capsys)
    assert code == 2
    assert f"could not load model '{broken}'" in err
    assert len(err.strip().splitlines()) == 1


def test_cli_unwritable_output_exit_2(tiny_model_dir, tmp_path, capsys):
    (tmp_path / "data").write_text("a file where a folder must go")
    argv = [
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
    ]
    code, err = run_cli(argv, capsys)
    assert code == 2
    assert "cannot write the results to" in err


def test_cli_debug_after_command_shows_traceback(tmp_path):
    from rankreward.cli import CommandError

    with pytest.raises(CommandError, match="--max-steps must be positive"):
        main(["reproduce", "--out", str(tmp_path), "--max-steps", "0", "--debug"])


def test_diverged_rewards_raise():
    from rankreward.reproduce_summary import TrainingDivergedError, summarise_run

    held_out = [{"id": "a", "kind": "open"}, {"id": "b", "kind": "closed"}]
    rewards = [np.full(8, np.nan), np.linspace(1, 0, 8)]
    with pytest.raises(TrainingDivergedError, match="lower --learning-rate"):
        summarise_run("log", {"open": "log", "closed": "log"}, rewards, held_out, None)

"""Every command meets bad input with one line and exit code 2, never a traceback.

The cases run in-process through ``main``, so an exception that escapes a
command fails the test with its traceback. The per-module tests check the
messages in detail; this table checks the contract across the commands.
"""

import re
from pathlib import Path

from rankreward.cli import main


def bad_files(root):
    files = {
        "malformed.jsonl": '{"prompt": "p", "responses": ["a", "b"]\n',
        "one-response.jsonl": '{"prompt": "p", "responses": ["a"]}\n',
        "nan-score.jsonl": (
            '{"prompt": "p", "responses": ["a", "b"], "scores": [1, NaN]}\n'
        ),
        "same-pair.jsonl": '{"prompt": "p", "chosen": "a", "rejected": "a"}\n',
        "bad-utility.jsonl": (
            '{"prompt": "p", "responses": ["a", "b"], "utility": "cubic"}\n'
        ),
        "empty.jsonl": "",
        "graph.json": '{"n": 3, "edges": [[0, 5]]}',
        "config.yaml": "learning_rate: [1, 2\n",
        "score-input.jsonl": '{"prompt": "p"}\n',
    }
    for name, text in files.items():
        (root / name).write_text(text)
    return {name: str(root / name) for name in files}


def cases(files, model, out):
    missing = str(out / "missing")
    return [
        ["solve", "--utility", "cubic", "--n", "4"],
        ["solve", "--utility", "log", "--n", "1"],
        ["solve", "--utility", "log", "--graph", files["graph.json"]],
        ["solve", "--utility", "log", "--graph", missing],
        ["limit", "--utility", "power:3"],
        ["validate", "--data", missing],
        ["validate", "--data", files["malformed.jsonl"]],
        ["validate", "--data", files["one-response.jsonl"]],
        ["validate", "--data", files["nan-score.jsonl"]],
        ["validate", "--data", files["same-pair.jsonl"]],
        ["validate", "--data", files["bad-utility.jsonl"]],
        ["validate", "--data", files["empty.jsonl"]],
        [
            "train",
            "--data",
            files["malformed.jsonl"],
            "--model",
            model,
            "--output-dir",
            str(out / "t1"),
        ],
        [
            "train",
            "--data",
            files["one-response.jsonl"],
            "--model",
            model,
            "--output-dir",
            str(out / "t2"),
            "--utility",
            "nope",
        ],
        [
            "train",
            "--config",
            files["config.yaml"],
            "--data",
            files["empty.jsonl"],
            "--model",
            model,
        ],
        [
            "train",
            "--data",
            files["nan-score.jsonl"],
            "--model",
            missing,
            "--output-dir",
            str(out / "t3"),
        ],
        [
            "evaluate",
            "--model",
            missing,
            "--data",
            files["malformed.jsonl"],
            "--out",
            str(out / "e1"),
        ],
        [
            "evaluate",
            "--model",
            model,
            "--data",
            files["same-pair.jsonl"],
            "--out",
            str(out / "e2"),
        ],
        [
            "evaluate",
            "--model",
            model,
            "--data",
            files["one-response.jsonl"],
            "--out",
            str(out / "e3"),
            "--utility",
            "cubic",
        ],
        [
            "score",
            "--model",
            missing,
            "--data",
            files["score-input.jsonl"],
            "--out",
            str(out / "s1.jsonl"),
        ],
        [
            "score",
            "--model",
            model,
            "--data",
            files["score-input.jsonl"],
            "--out",
            str(out / "s2.jsonl"),
        ],
        ["reproduce", "--out", str(out / "r"), "--num-train", "0"],
    ]


def test_bad_input_gives_one_line_and_exit_2(tiny_model_dir, tmp_path, capsys):
    files = bad_files(tmp_path)
    for argv in cases(files, tiny_model_dir, tmp_path):
        code = main(argv)
        err = capsys.readouterr().err.strip().splitlines()
        command = argv[0]
        assert code == 2, (argv, err)
        assert err, argv
        last = err[-1]
        assert re.match(rf"rankreward {command}: error: \S", last), (argv, err)
        assert not any("Traceback" in line for line in err), argv


def test_sources_never_unpickle():
    # Weights load through safetensors; nothing in the package calls pickle
    # or torch.load (Trainer's own resume loads its state with
    # weights_only=True).
    root = Path(__file__).resolve().parents[1] / "src" / "rankreward"
    for path in root.glob("*.py"):
        text = path.read_text()
        for pattern in ("import pickle", "pickle.load", "torch.load(", "dill"):
            assert pattern not in text, f"{path.name} uses {pattern}"
        assert "trust_remote_code=True" not in text, path.name

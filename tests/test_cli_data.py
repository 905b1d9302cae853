"""``rankreward validate`` run as a separate process on every bad input."""

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from preference_cases import CASES, RANKING, cli_arguments, write_case, write_parquet

SCRIPT = Path(sys.executable).with_name("rankreward")
# The package has no __main__ module, so without the console script the
# entry point is called the way the script calls it.
COMMAND = (
    [str(SCRIPT)]
    if SCRIPT.exists()
    else [sys.executable, "-c", "import sys; from rankreward.cli import main; "
          "sys.exit(main())"]
)  # fmt: skip
# Each process spends about 1.5 s of CPU importing torch (and datasets for
# the Arrow-backed formats), so the cases run side by side, and only one
# case per reader runs by default. The default tier also runs every case
# through the CLI in-process (test_preference_data.py).
WORKERS = os.cpu_count() or 2
QUICK_CASES = (
    "malformed-json",
    "unknown-utility",
    "missing-file",
    "csv-empty-cell",
    "parquet-not-parquet",
    "parquet-chosen-equals-rejected",
    "saved-rank-fraction",
)


def run_validate(argv):
    env = dict(os.environ)
    # The command must silence datasets' progress bars by itself.
    env.pop("HF_DATASETS_DISABLE_PROGRESS_BARS", None)
    return subprocess.run(
        COMMAND + argv, capture_output=True, text=True, env=env, timeout=300
    )


def run_cases(tmp_path_factory, cases):
    """Write each case to its own folder and run validate on all of them."""
    jobs = {}
    for case_id, name, content, options, _ in cases:
        path = tmp_path_factory.mktemp(case_id) / name
        write_case(path, content)
        jobs[case_id] = (path, cli_arguments(path, options))
    with ThreadPoolExecutor(WORKERS) as pool:
        done = {k: pool.submit(run_validate, argv) for k, (_, argv) in jobs.items()}
        return {k: (jobs[k][0], future.result()) for k, future in done.items()}


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    return run_cases(tmp_path_factory, [c for c in CASES if c[0] in QUICK_CASES])


@pytest.fixture(scope="module")
def all_results(tmp_path_factory):
    return run_cases(tmp_path_factory, CASES)


def check_one_line_exit_2(results, case):
    case_id, _, _, _, pattern = case
    path, process = results[case_id]
    assert process.returncode == 2, process.stderr
    assert process.stdout == ""
    assert "Traceback" not in process.stderr
    assert process.stderr.count("\n") == 1, process.stderr
    assert process.stderr.startswith(f"rankreward validate: error: {path}")
    assert re.search(pattern, process.stderr.rstrip("\n")), process.stderr


@pytest.mark.parametrize("case_id", QUICK_CASES)
def test_bad_input_exits_2_with_one_line(quick_results, case_id):
    [case] = [c for c in CASES if c[0] == case_id]
    check_one_line_exit_2(quick_results, case)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_every_bad_input_exits_2_with_one_line(all_results, case):
    check_one_line_exit_2(all_results, case)


def test_parquet_file_validates_quietly(tmp_path):
    path = tmp_path / "data.parquet"
    write_parquet([RANKING, {**RANKING, "prompt": "q", "scores": [1.0, 2.0]}])(path)
    process = run_validate(["validate", "--data", str(path)])
    assert process.returncode == 0, process.stderr
    assert process.stderr == ""
    assert "records: 2 (ranking 1, scores 1)" in process.stdout.splitlines()

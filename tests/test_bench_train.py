import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("trl", reason="the benchmark trains TRL's RewardTrainer too")


def test_train_benchmark_quick_runs():
    # Checks that the script runs and prints every contender and both ratios,
    # not the speeds, which depend on the machine and its load.
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "train_throughput.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    lines = completed.stdout.splitlines()
    # A table row has 12 fields: the contender, 9 numbers, the held-out
    # accuracy and the weight gap ("-" for rankreward itself).
    rows = {f[0]: f for f in (line.split() for line in lines) if len(f) == 12}
    for contender in ("rankreward", "trl", "floor"):
        assert contender in rows, completed.stdout
        assert 0.0 <= float(rows[contender][10]) <= 1.0, rows[contender]
    assert any(line.startswith("rankreward / trl: ") for line in lines)
    assert any(line.startswith("rankreward / floor: ") for line in lines)
    assert any(line.startswith("torch threads: ") for line in lines)

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_solver_benchmark_quick_runs():
    # Checks that the script still runs and prints both tables, not its
    # timings, which depend on the machine.
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "solver_speed.py"),
            "--quick",
            "--utilities",
            "log,linear",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    lines = completed.stdout.splitlines()
    assert any(line.startswith("log ") and "True" in line for line in lines)
    assert any("against scipy SLSQP at n = 50" in line for line in lines)

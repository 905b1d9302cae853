import importlib
import pkgutil

import rankreward


def test_every_module_imports():
    names = [m.name for m in pkgutil.walk_packages(rankreward.__path__, "rankreward.")]
    assert "rankreward.solver" in names
    for name in names:
        if name == "rankreward.__main__":
            continue  # it runs the command line when imported
        importlib.import_module(name)


def test_solver_loads_without_torch():
    import subprocess
    import sys

    code = (
        "import sys, rankreward.solver, rankreward.limits; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False"

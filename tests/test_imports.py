import importlib
import pkgutil

import rankreward


def test_every_module_imports():
    names = [m.name for m in pkgutil.walk_packages(rankreward.__path__, "rankreward.")]
    assert "rankreward.solver" in names
    for name in names:
        importlib.import_module(name)

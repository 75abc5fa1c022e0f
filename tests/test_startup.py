"""Start-up stays light: ``import csmri``/``learned`` and ``csmri --help`` load no torch or Numba.

Checked by the modules a fresh interpreter has loaded, never by timing.
"""

import importlib
import subprocess
import sys

import pytest

from cli.main import COMMANDS

HEAVY = ("torch", "numba", "scipy", "skimage")


def _loaded_after(code: str) -> set[str]:
    """Top-level packages loaded by a fresh interpreter that runs ``code``."""
    probe = f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(run.stdout.split())


def test_import_csmri_and_learned_loads_no_heavy_package():
    loaded = _loaded_after("import csmri, learned")
    assert {"csmri", "learned"} <= loaded
    assert loaded.isdisjoint(HEAVY), loaded & set(HEAVY)


def test_help_loads_no_heavy_package_and_lists_every_command():
    code = (
        "import sys\nfrom cli.main import main\nsys.argv = ['csmri', '--help']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert e.code in (0, None)"
    )
    loaded = _loaded_after(code)
    assert "click" in loaded and "cli" in loaded
    assert loaded.isdisjoint((*HEAVY, "numpy")), loaded & {*HEAVY, "numpy"}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_listed_short_help_matches_the_command(name):
    module, text = COMMANDS[name]
    command = getattr(importlib.import_module(module), name)
    assert command.name == name
    assert command.get_short_help_str(limit=len(text)) == text


def test_lazy_names_survive_importing_their_modules():
    code = (
        "import csmri, learned\n"
        "from csmri.app.reconstruct import DEFAULT_LAMBDA\n"
        "import learned.training.train\n"
        "assert csmri.reconstruct.__module__ == 'csmri.app.reconstruct'\n"
        "assert callable(learned.train) and learned.train.__name__ == 'train'\n"
        "assert 'reconstruct' in dir(csmri)"
    )
    assert "csmri" in _loaded_after(code)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        importlib.import_module("csmri").nothing  # noqa: B018


def test_solve_with_cs_does_not_import_torch(tmp_path):
    from click.testing import CliRunner

    from cli.main import csmri

    path = tmp_path / "k.h5"
    simulate = ["simulate", "-o", str(path), "--slices", "0:1"]
    CliRunner().invoke(csmri, simulate, catch_exceptions=False)
    code = (
        "import sys\nfrom cli.main import main\n"
        f"sys.argv = ['csmri', 'solve', {str(path)!r}, '-o', {str(tmp_path / 'r.npy')!r}, "
        "'--iters', '2']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code"
    )
    loaded = _loaded_after(code)
    assert "numba" in loaded and "torch" not in loaded
    assert (tmp_path / "r.npy").exists()


def test_compare_without_learned_methods_does_not_import_torch(tmp_path):
    import numpy as np

    from csmri.io.images import load_sample

    path = tmp_path / "one.npy"
    np.save(path, load_sample()[5, 60:124, 60:124])
    code = (
        "import sys\nfrom cli.main import main\n"
        f"sys.argv = ['csmri', 'compare', {str(path)!r}, '--methods', 'zero-filled', "
        "'--accel', '4', '--format', 'json']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code"
    )
    assert "torch" not in _loaded_after(code)


@pytest.mark.parametrize(("given", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_the_kernels_make_openmp_threads_sleep_unless_the_user_chose(given, expected):
    import os

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given is not None:
        env["OMP_WAIT_POLICY"] = given
    code = "import os, csmri.kernel; print(os.environ['OMP_WAIT_POLICY'])"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env)
    assert run.stdout.strip() == expected

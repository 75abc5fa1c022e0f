"""The wheel people install: code packages, sample data, shipped weights; no tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from csmri._version import __version__

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("csmri", "learned", "cli", "tests", "benchmarks", "scripts")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """Build the wheel from a copy of the tree (the build leaves nothing in the checkout).

    ``--no-isolation`` uses the installed setuptools instead of fetching one from PyPI.
    """
    tree = tmp_path_factory.mktemp("tree")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, tree / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, tree / name, ignore=ignore)
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out)],
        cwd=tree, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    # setuptools reports deprecated metadata (license tables, classifiers) as warnings.
    assert "Deprecat" not in done.stdout + done.stderr, done.stdout + done.stderr
    (path,) = out.glob("*.whl")
    assert path.name == f"csmri-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(path) as archive:
        yield archive


@pytest.mark.slow
def test_wheel_holds_the_code_packages_data_and_weights(wheel):
    names = set(wheel.namelist())
    tops = {name.split("/")[0] for name in names}
    assert tops == {"csmri", "learned", "cli", f"csmri-{__version__}.dist-info"}
    for package in ("csmri", "csmri/io", "csmri/mri", "csmri/linop", "csmri/regularizers",
                    "csmri/solvers", "csmri/app", "learned", "learned/models", "learned/data",
                    "learned/training", "learned/comparison", "cli"):
        assert f"{package}/__init__.py" in names, package
    assert "csmri/_version.py" in names and "csmri/extras.py" in names
    shipped = {p.relative_to(ROOT).as_posix() for p in [
        *(ROOT / "csmri" / "sample").glob("*.npz"),
        *(ROOT / "learned" / "weights").glob("*.safetensors"),
        *(ROOT / "learned" / "weights").glob("*.json"),
    ]}
    assert shipped and shipped <= names
    assert {n.rsplit(".", 1)[-1] for n in shipped} == {"npz", "safetensors", "json"}
    assert not any(n.startswith(("tests/", "benchmarks/", "scripts/", "docs/")) for n in names)


@pytest.mark.slow
def test_wheel_metadata_names_version_licence_extras_and_command(wheel):
    info = f"csmri-{__version__}.dist-info"
    metadata = wheel.read(f"{info}/METADATA").decode()
    assert f"\nVersion: {__version__}\n" in metadata
    assert "\nLicense-Expression: BSD-3-Clause\n" in metadata
    assert f"{info}/licenses/LICENSE" in wheel.namelist()
    extras = {line.split(": ", 1)[1] for line in metadata.splitlines()
              if line.startswith("Provides-Extra: ")}
    assert extras == {"dask", "mrd", "twix", "nufft", "images", "docs", "all", "dev"}
    requires = [line.split(": ", 1)[1] for line in metadata.splitlines()
                if line.startswith("Requires-Dist: ")]
    core = sorted(r.split(">")[0].split("=")[0] for r in requires if ";" not in r)
    assert core == sorted(["numpy", "scipy", "numba", "pywavelets", "torch", "matplotlib",
                           "click", "h5py", "safetensors", "tqdm"])
    assert "torch>=2.1" in requires
    # make demo and make test install .[dev]: it must pull every user extra and the docs.
    dev = [r for r in requires if r.endswith('extra == "dev"')]
    assert any(r.startswith("csmri[") and all(e in r.split("]")[0] for e in
                                                ("all", "docs")) for r in dev), dev
    all_extra = next(r for r in requires if r.endswith('extra == "all"'))
    for extra in ("dask", "mrd", "twix", "nufft", "images"):
        assert extra in all_extra.split("]")[0], all_extra
    assert "csmri = cli.main:main" in wheel.read(f"{info}/entry_points.txt").decode()

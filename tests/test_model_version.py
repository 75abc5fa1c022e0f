"""Model files record the csmri version that trained them; a newer one warns on loading."""

from __future__ import annotations

import warnings

import pytest

import csmri
from learned.data.manifest import NewerModelWarning, build_manifest, check_trained_by
from learned.infer import load_shipped_model
from learned.models.checkpoint import load_model, save_model
from learned.models.unet import NormUnet, UNetConfig

SOURCE = {"subject": "s1", "file": "s1.nii.gz", "sha256": "a" * 64,
          "train_slices": {"2": [[0, 3]]}, "val_slices": {}}


def _saved(tmp_path, csmri_version):
    manifest = build_manifest([SOURCE], {"flips": True}, ["b" * 16], "one subject")
    if csmri_version is None:
        del manifest["csmri_version"]
    else:
        manifest["csmri_version"] = csmri_version
    model = NormUnet(UNetConfig(chans=4, depth=2))
    return save_model(tmp_path / "m.safetensors", model, model.config, {"manifest": manifest})


def test_new_manifests_record_the_running_csmri_version():
    manifest = build_manifest([SOURCE], {}, ["b" * 16], "t")
    assert manifest["csmri_version"] == csmri.__version__


def test_one_version_in_one_place():
    from click.testing import CliRunner

    from cli.main import csmri as command
    from csmri._version import __version__

    assert csmri.__version__ == __version__
    result = CliRunner().invoke(command, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"csmri, version {__version__}"
    # The wheel's metadata carries the same version: tests/test_wheel.py.


def test_model_from_a_newer_csmri_warns_once_in_one_line(tmp_path):
    path = _saved(tmp_path, "99.0.0")
    with pytest.warns(NewerModelWarning) as caught:
        load_model(path)
    assert len(caught) == 1
    text = str(caught[0].message)
    assert "\n" not in text and "99.0.0" in text and csmri.__version__ in text


@pytest.mark.parametrize("trained", [None, csmri.__version__, "0.1.0", "not-a-version"])
def test_same_older_or_unversioned_models_load_silently(tmp_path, trained):
    path = _saved(tmp_path, trained)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_model(path)


@pytest.mark.parametrize(("trained", "running", "warns"), [
    ("0.2.1", "0.2.0", True), ("0.10.0", "0.9.3", True), ("1.0", "0.9.9", True),
    ("0.2.0", "0.2", False), ("0.2.0rc1", "0.2.0", False), ("0.1.9", "0.2.0", False),
])
def test_release_numbers_compare_numerically(trained, running, warns):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_trained_by({"csmri_version": trained}, "m.safetensors", running)
    assert [w.category for w in caught] == ([NewerModelWarning] if warns else [])


@pytest.mark.parametrize("kind", ["unet", "unrolled"])
def test_shipped_models_without_the_field_still_load(kind):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_shipped_model(kind=kind)

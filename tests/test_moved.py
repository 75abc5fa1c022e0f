"""0.1's module paths keep importing for one release, with a warning naming the new path."""

import importlib
import sys

import pytest

from csmri.moved import CSMRI_MOVES
from learned import LEARNED_MOVES


@pytest.mark.parametrize("old,new", sorted({**CSMRI_MOVES, **LEARNED_MOVES}.items()))
def test_old_module_path_warns_and_forwards_to_the_new_one(old, new, monkeypatch):
    monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {new}"):
        module = importlib.import_module(old)
    target = importlib.import_module(new)
    public = [name for name in dir(target) if not name.startswith("_")]
    assert public and all(getattr(module, name) is getattr(target, name) for name in public)


def test_every_new_path_exists_and_no_old_file_remains():
    for old, new in {**CSMRI_MOVES, **LEARNED_MOVES}.items():
        assert importlib.util.find_spec(new) is not None
        spec = importlib.machinery.PathFinder.find_spec(old.rpartition(".")[2],
                                                        importlib.import_module(
                                                            old.rpartition(".")[0]).__path__)
        assert spec is None, f"{old} still exists as a file"

"""Outputs appear whole or not at all: SIGINT mid-run, errors mid-write, BART pairs, modes."""

from __future__ import annotations

import hashlib
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from csmri.acquisition import single_coil
from csmri.errors import InputError, UsageError
from csmri.io import write_acquisition
from csmri.io.atomic import atomic_path, check_output_path
from csmri.io.cfl import read_cfl, write_cfl
from csmri.io.images import load_sample
from csmri.mri.simulate import simulate

CSMRI_SCRIPT = Path(sys.executable).with_name("csmri")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def sizeable_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 12-slice 217x181 sample, simulated at 4x: minutes of FISTA at 100000 iterations."""
    result = simulate(load_sample(), acceleration=4, center_fraction=0.08, seed=0)
    path = tmp_path_factory.mktemp("sigint") / "brain.h5"
    write_acquisition(path, single_coil(result.kspace, result.mask, result.target))
    return path


def _collect(stream: object, sink: bytearray) -> None:
    for chunk in iter(lambda: stream.read1(256), b""):  # type: ignore[attr-defined]
        sink.extend(chunk)


def _sigint_as_at_a_terminal() -> None:
    """Give the child SIGINT's default action, as a command typed at a terminal has.

    A shell starts background jobs with SIGINT ignored, and an ignored signal stays ignored
    across ``exec`` (Python then never raises KeyboardInterrupt), so a test run started with
    ``&`` would otherwise test nothing.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
@pytest.mark.parametrize("existing", [False, True], ids=["fresh-output", "overwrite"])
def test_sigint_mid_solve_leaves_no_output_and_no_temporary_file(
    sizeable_input: Path, tmp_path: Path, existing: bool
) -> None:
    out_folder = tmp_path / "results"
    out_folder.mkdir()
    output = out_folder / "recon.h5"
    if existing:
        output.write_bytes(b"an earlier, complete result")
    input_hash = digest(sizeable_input)
    args = [
        str(CSMRI_SCRIPT),
        "solve",
        str(sizeable_input),
        "-o",
        str(output),
        "--iters",
        "100000",
        "--reg",
        "tv",
    ]
    if existing:
        args.append("--overwrite")
    stderr = bytearray()
    with subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=_sigint_as_at_a_terminal,
    ) as process:
        reader = threading.Thread(target=_collect, args=(process.stderr, stderr), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 60
            while b"slice" not in stderr:  # tqdm's bar: the solver is running
                assert process.poll() is None, f"solve ended early: {stderr.decode()}"
                assert time.monotonic() < deadline, "solve never started"
                time.sleep(0.05)
            time.sleep(0.5)
            process.send_signal(signal.SIGINT)
            code = process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            reader.join(timeout=5)
    text = stderr.decode(errors="replace")
    assert code != 0
    assert code == 130, text
    assert "Traceback" not in text
    assert digest(sizeable_input) == input_hash
    expected = ["recon.h5"] if existing else []
    assert sorted(p.name for p in out_folder.iterdir()) == expected, "partial or temporary file"
    if existing:
        assert output.read_bytes() == b"an earlier, complete result"


def test_sigint_while_writing_removes_the_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "out.npy"
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with &
    try:
        with pytest.raises(KeyboardInterrupt), atomic_path(target) as temp:
            temp.write_bytes(b"half")
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)  # the handler raises KeyboardInterrupt here
    finally:
        signal.signal(signal.SIGINT, previous)
    assert list(tmp_path.iterdir()) == []


def test_error_while_writing_keeps_the_previous_output(tmp_path: Path) -> None:
    target = tmp_path / "out.npy"
    target.write_bytes(b"previous")
    with pytest.raises(OSError), atomic_path(target) as temp:
        temp.write_bytes(b"half")
        raise OSError(28, "No space left on device")
    assert [p.name for p in tmp_path.iterdir()] == ["out.npy"]
    assert target.read_bytes() == b"previous"


def test_successful_write_replaces_the_output_in_one_step(tmp_path: Path) -> None:
    target = tmp_path / "out.npy"
    with atomic_path(target) as temp:
        assert temp.parent == tmp_path and temp.name.startswith(".out.")
        assert not target.exists()
        np.save(temp, np.arange(3))
    np.testing.assert_array_equal(np.load(target), np.arange(3))
    assert [p.name for p in tmp_path.iterdir()] == ["out.npy"]


def test_output_gets_umask_permissions_not_private_ones(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "out.npy") as temp:
            np.save(temp, np.arange(3))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out.npy").stat().st_mode) == 0o644


def test_replaced_output_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.npy"
    target.write_bytes(b"old")
    target.chmod(0o640)
    with atomic_path(target) as temp:
        np.save(temp, np.arange(3))
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_bart_pair_is_written_whole(tmp_path: Path) -> None:
    data = np.ones((8, 8), dtype=np.complex64)
    with atomic_path(tmp_path / "out.cfl") as temp:
        write_cfl(temp, data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.cfl", "out.hdr"]
    np.testing.assert_array_equal(read_cfl(tmp_path / "out.cfl"), data)


def test_bart_pair_interrupted_before_the_header_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace

    def interrupted_replace(src: str | Path, dst: str | Path) -> None:
        if str(dst).endswith(".hdr"):
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", interrupted_replace)
    with pytest.raises(KeyboardInterrupt), atomic_path(tmp_path / "out.cfl") as temp:
        write_cfl(temp, np.ones((8, 8), dtype=np.complex64))
    assert list(tmp_path.iterdir()) == [], "half of a BART pair was left behind"


def test_unwritable_folder_is_one_clean_error(tmp_path: Path) -> None:
    with pytest.raises((InputError, UsageError)):
        with atomic_path(tmp_path / "missing" / "out.npy"):
            pass


@pytest.mark.parametrize(
    ("output", "inputs", "overwrite", "message"),
    [
        ("nosuch/out.h5", (), False, "does not exist"),
        ("in.h5", ("in.h5",), True, "same file"),
        ("in.cfl", ("in.hdr",), True, "same file"),
        ("link.h5", ("in.h5",), True, "same file"),
        ("in.h5", (), False, "--overwrite"),
        ("in.cfl", (), False, "--overwrite"),
        ("folder", (), True, "directory"),
    ],
)
def test_output_path_checks_refuse_before_any_work(
    tmp_path: Path, output: str, inputs: tuple[str, ...], overwrite: bool, message: str
) -> None:
    (tmp_path / "in.h5").write_bytes(b"input")
    (tmp_path / "in.hdr").write_text("# Dimensions\n1\n")
    (tmp_path / "in.cfl").write_bytes(b"\0" * 8)
    (tmp_path / "link.h5").symlink_to(tmp_path / "in.h5")
    (tmp_path / "folder").mkdir()
    with pytest.raises(UsageError, match=message):
        check_output_path(tmp_path / output, overwrite, tuple(tmp_path / i for i in inputs))


def test_new_output_beside_inputs_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "in.h5").write_bytes(b"input")
    assert check_output_path(tmp_path / "out.h5", False, (tmp_path / "in.h5",)) == (
        tmp_path / "out.h5"
    )


def test_dotted_bart_name_keeps_its_own_pair(tmp_path: Path) -> None:
    data = np.arange(64, dtype=np.complex64).reshape(8, 8)
    with atomic_path(tmp_path / "sub.01.cfl") as temp:
        write_cfl(temp, data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub.01.cfl", "sub.01.hdr"]
    np.testing.assert_array_equal(read_cfl(tmp_path / "sub.01.hdr"), data)

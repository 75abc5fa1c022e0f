"""``csmri solve`` over many inputs: serial, a Dask LocalCluster, a hand-started cluster."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import csmri

ROOT = Path(__file__).resolve().parents[1]
ITERS = "8"


def _cli(*args):
    return CliRunner().invoke(csmri, [str(a) for a in args])


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Four small k-space files of two slices each."""
    folder = tmp_path_factory.mktemp("batch_in")
    for i in range(4):
        result = _cli("simulate", "-o", folder / f"case{i}.h5", "--slices", f"{3 + i}:{5 + i}",
                      "--seed", i)
        assert result.exit_code == 0, result.output
    return folder


@pytest.fixture(scope="module")
def serial(inputs, tmp_path_factory):
    """Reference outputs: today's single-file ``csmri solve``, one file at a time."""
    folder = tmp_path_factory.mktemp("batch_serial")
    for source in sorted(inputs.glob("*.h5")):
        result = _cli("solve", source, "-o", folder / source.name, "--iters", ITERS)
        assert result.exit_code == 0, result.output
    return folder


def _images(path):
    with h5py.File(path, "r") as file:
        return file["reconstruction"][()]


def _assert_equal_outputs(folder, reference, names=None):
    names = names or sorted(p.name for p in reference.glob("*.h5"))
    assert [p.name for p in _outputs(folder)] == names
    for name in names:
        np.testing.assert_array_equal(_images(folder / name), _images(reference / name))


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serial_batch_equals_single_file_runs_and_resume_redoes_bad_outputs(
    inputs, serial, tmp_path
):
    out = tmp_path / "out"
    result = _cli("solve", inputs, "-o", out, "--scheduler", "serial", "--iters", ITERS)
    assert result.exit_code == 0, result.output
    assert "4 written (8 slices)" in result.stdout
    _assert_equal_outputs(out, serial)
    # --resume verifies: a truncated file and one made with other settings are redone
    (out / "case0.h5").write_bytes((out / "case0.h5").read_bytes()[:1000])
    shutil.copy(serial / "case1.h5", out / "case1.h5")
    with h5py.File(out / "case1.h5", "a") as file:
        file.attrs["settings"] = "other"
    result = _cli("solve", inputs, "-o", out, "--scheduler", "serial", "--iters", ITERS,
                  "--resume")
    assert result.exit_code == 0, result.output
    assert "2 written (4 slices), 2 already complete" in result.stdout
    _assert_equal_outputs(out, serial)


def test_split_volumes_give_the_same_bits(inputs, serial, tmp_path):
    big = tmp_path / "big.h5"
    assert _cli("simulate", "-o", big, "--slices", "2:11", "--seed", 5).exit_code == 0
    whole = tmp_path / "whole.h5"
    assert _cli("solve", big, "-o", whole, "--iters", "3").exit_code == 0
    result = _cli("solve", big, "-o", tmp_path / "split", "--scheduler", "serial",
                  "--iters", "3", "--slices-per-task", "4")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_images(tmp_path / "split" / "big.h5"), _images(whole))


def test_local_cluster_of_two_processes_equals_serial(inputs, serial, tmp_path):
    out = tmp_path / "out"
    result = _cli("solve", f"{inputs}/*.h5", "-o", out, "--scheduler", "local",
                  "--workers", "2", "--iters", ITERS)
    assert result.exit_code == 0, result.output
    assert "4 written (8 slices)" in result.stdout
    _assert_equal_outputs(out, serial)


def test_a_bad_input_fails_alone(inputs, serial, tmp_path):
    bad = tmp_path / "broken.h5"
    bad.write_bytes(b"not an hdf5 file")
    out = tmp_path / "out"
    result = _cli("solve", inputs / "case0.h5", bad, inputs / "case1.h5", "-o", out,
                  "--scheduler", "serial", "--iters", ITERS)
    assert result.exit_code == 1
    failures = [line for line in result.stderr.splitlines() if line.startswith("csmri: failed")]
    assert len(failures) == 1 and str(bad) in failures[0]
    assert "2 written (4 slices), 0 already complete, 1 failed" in result.stdout
    assert "1 of 3 inputs failed" in result.stderr
    _assert_equal_outputs(out, serial, ["case0.h5", "case1.h5"])


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda d, i: [f"{d}/*.nothing", "-o", d / "o"], "no file matches this pattern"),
        (lambda d, i: [i, "-o", d / "file"], "output folder is a file"),
        (lambda d, i: [i, "-o", d / "o", "--scheduler", f"tcp://127.0.0.1:{_free_port()}"],
         "cannot reach the Dask scheduler"),
        (lambda d, i: [i, "-o", d / "o", "--scheduler", "nowhere"], "scheduler must be"),
    ],
)
def test_bad_batch_input_is_one_line(inputs, tmp_path, make_args, message):
    (tmp_path / "file").write_text("I am a file")
    result = _cli("solve", *make_args(tmp_path, inputs), "--iters", "2")
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.rglob("*.h5"))


@pytest.fixture(scope="module")
def tcp_cluster():
    """``dask scheduler`` and one ``dask worker`` (with a nanny), on loopback."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_NUM_THREADS": "1"}
    dask = [sys.executable, "-m", "dask"]
    scheduler = subprocess.Popen(
        [*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
         "--dashboard-address", ":0"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    address = f"tcp://127.0.0.1:{port}"
    worker = subprocess.Popen(
        [*dask, "worker", address, "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        yield address
    finally:
        for process in (worker, scheduler):
            process.terminate()
            process.wait(timeout=30)


def _worker_pids(address):
    from distributed import Client

    with Client(address, timeout=30) as client:
        client.wait_for_workers(1, timeout=60)
        return list(client.run(os.getpid).values())


def _solve_process(inputs, out, address, *extra):
    command = [sys.executable, "-m", "cli.main", "solve", str(inputs), "-o", str(out),
               "--scheduler", address, "--iters", ITERS, *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT)


def _wait_for_outputs(folder, count, process, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if len(_outputs(folder)) >= count:
            return
        time.sleep(0.02)
    pytest.fail(f"no {count} outputs in {folder} (exit {process.poll()})")


def _outputs(folder):
    """Visible outputs (a writer's temporary file starts with a dot)."""
    return sorted(p for p in folder.glob("*.h5") if not p.name.startswith("."))


def _complete_or_absent(folder, reference):
    for path in _outputs(folder):
        np.testing.assert_array_equal(_images(path), _images(reference / path.name))


def test_tcp_cluster_survives_a_killed_worker(inputs, serial, tmp_path, tcp_cluster):
    [pid] = _worker_pids(tcp_cluster)
    out = tmp_path / "out"
    process = _solve_process(inputs, out, tcp_cluster)
    _wait_for_outputs(out, 1, process)
    os.kill(pid, signal.SIGKILL)  # the nanny starts a new worker; Dask reruns its tasks
    _complete_or_absent(out, serial)
    stdout, stderr = process.communicate(timeout=180)
    assert process.returncode == 0, stderr
    assert "4 written (8 slices)" in stdout
    _assert_equal_outputs(out, serial)


def test_killed_run_leaves_complete_or_absent_outputs_and_resume_finishes(
    inputs, serial, tmp_path, tcp_cluster
):
    _worker_pids(tcp_cluster)  # the cluster is up
    out = tmp_path / "out"
    process = _solve_process(inputs, out, tcp_cluster)
    _wait_for_outputs(out, 1, process)
    process.kill()
    process.communicate()
    time.sleep(1)  # a task already running may still finish and write its whole output
    _complete_or_absent(out, serial)
    assert _outputs(out)
    process = _solve_process(inputs, out, tcp_cluster, "--resume")
    stdout, stderr = process.communicate(timeout=180)
    assert process.returncode == 0, stderr
    found = re.search(r"(\d+) written .* (\d+) already complete", stdout)
    written, skipped = map(int, found.groups())
    assert skipped >= 1 and written + skipped == 4
    _assert_equal_outputs(out, serial)
    assert not list(out.glob(".*")), "--resume removes the temporary files of killed writers"


def test_split_volume_on_the_tcp_cluster_gives_the_same_bits(tmp_path, tcp_cluster):
    big = tmp_path / "big.h5"
    assert _cli("simulate", "-o", big, "--slices", "2:11", "--seed", 5).exit_code == 0
    whole = tmp_path / "whole.h5"
    assert _cli("solve", big, "-o", whole, "--iters", "3").exit_code == 0
    result = _cli("solve", big, "-o", tmp_path / "split", "--scheduler", tcp_cluster,
                  "--iters", "3", "--slices-per-task", "4")
    assert result.exit_code == 0, result.output
    assert "1 written (9 slices)" in result.stdout
    np.testing.assert_array_equal(_images(tmp_path / "split" / "big.h5"), _images(whole))

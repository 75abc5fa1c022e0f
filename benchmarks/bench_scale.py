"""Scale-out benchmark: batch reconstruction with Dask, training with torchrun (gloo).

Usage (from the repository root)::

    PYTHONPATH=. python benchmarks/bench_scale.py --rounds 2 --out benchmarks/scale.json

Batch part: 16 k-space files of 8 slices (217 x 181, TV-ADMM), reconstructed by
(a) a serial loop in this process, (b) ``--scheduler local`` with 2 single-thread
process workers (cluster start-up timed separately), (c) a hand-started cluster
(``dask scheduler`` + 2 ``dask worker --nthreads 1`` subprocesses on 127.0.0.1).
The modes alternate within each round, so a noisy shared machine disturbs them
alike.  Scheduler overhead per task: 400 no-op tasks on the hand-started cluster,
and the zero-filled "reconstruction" (I/O and Dask only) of the same 16 files.

Training part: ``csmri train`` for a few steps with 1 process and with
``torchrun --nproc_per_node 2`` (gloo, one thread per process), same global batch.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from csmri.app.batch import expand_inputs, plan_jobs  # noqa: E402
from csmri.app.cluster import connect, run_batch  # noqa: E402
from csmri.app.methods import CompressedSensing, ZeroFilled  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


def make_inputs(folder: Path, files: int, slices: int) -> None:
    from click.testing import CliRunner

    from cli.main import csmri

    for i in range(files):
        first = i % (12 - slices + 1)
        args = ["simulate", "-o", str(folder / f"vol{i:02d}.h5"), "--seed", str(i),
                "--slices", f"{first}:{first + slices}"]
        result = CliRunner().invoke(csmri, args)
        assert result.exit_code == 0, result.output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_cluster(workers: int) -> tuple[str, list[subprocess.Popen]]:
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m", "dask"]
    quiet = {"env": ENV, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = [*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                 "--no-dashboard", "--dashboard-address", ":0"]
    processes = [subprocess.Popen(scheduler, **quiet)]
    for _ in range(workers):
        processes.append(subprocess.Popen([*dask, "worker", address, "--nthreads", "1",
                                           "--no-dashboard", "--host", "127.0.0.1"], **quiet))
    from distributed import Client

    with Client(address, timeout=60) as client:
        client.wait_for_workers(workers, timeout=120)
    return address, processes


def timed_batch(inputs: Path, outdir: Path, method, scheduler: str, workers: int | None) -> float:
    jobs = plan_jobs(expand_inputs((inputs,)), outdir, overwrite=True, resume=False)
    start = time.perf_counter()
    report = run_batch(jobs, method, None, scheduler, workers, progress=False)
    seconds = time.perf_counter() - start
    assert not report.failed, report.failed[0].message
    return seconds


def noop_overhead(address: str, tasks: int) -> float:
    from distributed import Client

    with Client(address) as client:
        client.gather(client.map(int, range(20), pure=False))  # warm
        start = time.perf_counter()
        client.gather(client.map(int, range(tasks), pure=False))
        return (time.perf_counter() - start) / tasks


def bench_batch(args, folder: Path) -> dict:
    inputs = folder / "in"
    inputs.mkdir()
    make_inputs(inputs, args.files, args.slices)
    total = args.files * args.slices
    cs = CompressedSensing(reg="tv", solver="admm", lam=0.003, max_iter=args.iters)
    zf = ZeroFilled()
    address, processes = start_cluster(2)
    times: dict[str, list[float]] = {}
    try:
        # warm every path once (Numba cache loads, imports in the workers)
        timed_batch(inputs, folder / "warm", cs, "serial", None)
        timed_batch(inputs, folder / "warm", cs, address, None)
        for _ in range(args.rounds):
            for name, method, scheduler, workers in (
                ("serial", cs, "serial", None),
                ("local (2 workers, incl. start-up)", cs, "local", 2),
                ("hand-started (2 x 1 thread)", cs, address, None),
                ("zero-filled serial", zf, "serial", None),
                ("zero-filled hand-started", zf, address, None),
            ):
                seconds = timed_batch(inputs, folder / "out", method, scheduler, workers)
                times.setdefault(name, []).append(seconds)
            start = time.perf_counter()
            with connect("local", 2):
                pass
            times.setdefault("local cluster start + stop", []).append(time.perf_counter() - start)
            times.setdefault("no-op task (hand-started)", []).append(noop_overhead(address, 400))
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=30)
    result = {name: {"runs": values, "median": statistics.median(values)}
              for name, values in times.items()}
    for name in ("serial", "local (2 workers, incl. start-up)", "hand-started (2 x 1 thread)"):
        result[name]["slices_per_s"] = total / result[name]["median"]
    result["per_slice_s_serial"] = result["serial"]["median"] / total
    zf_gap = (result["zero-filled hand-started"]["median"] * 2
              - result["zero-filled serial"]["median"]) / args.files
    result["overhead_per_volume_task_s"] = max(zf_gap, 0.0)
    return result


def bench_train(args, folder: Path) -> dict:
    images = folder / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:128, 0:128] / 128
    for i in range(24):
        cy, cx = rng.uniform(0.35, 0.65, 2)
        np.save(images / f"im{i}.npy",
                ((yy - cy) ** 2 + (xx - cx) ** 2 < rng.uniform(0.04, 0.09)).astype(np.float32))
    common = ["train", "--data", str(images), "--epochs", "2", "--steps-per-epoch",
              str(args.train_steps), "--batch-size", "8", "--patch", "96", "--chans", "8",
              "--depth", "3", "--val-fraction", "0.1", "--device", "cpu"]
    launchers = {
        "1 process, 1 thread": ([sys.executable, "-m", "cli.main"], {"OMP_NUM_THREADS": "1"}),
        "1 process, 2 threads": ([sys.executable, "-m", "cli.main"], {"OMP_NUM_THREADS": "2"}),
        "2 gloo processes, 1 thread each": (
            [sys.executable, "-m", "torch.distributed.run", "--standalone",
             "--nproc_per_node", "2", "-m", "cli.main"], {"OMP_NUM_THREADS": "1"}),
    }
    from learned.models.checkpoint import load_model

    times: dict[str, list[float]] = {}
    failures: list[str] = []
    for round_ in range(args.rounds):
        for index, (name, (launcher, env)) in enumerate(launchers.items()):
            output = folder / f"model_r{round_}_l{index}.safetensors"
            done = subprocess.run([*launcher, *common, "-o", str(output)], env={**ENV, **env},
                                  capture_output=True, text=True, cwd=ROOT)
            if done.returncode:
                failures.append(f"{name}: exit {done.returncode}: {done.stderr[-500:]}")
                continue
            _, _, metadata = load_model(output.with_name(output.stem + ".last.safetensors"))
            second_epoch = metadata["history"][-1]["seconds"]  # the first one warms up
            times.setdefault(name, []).append(second_epoch / args.train_steps)
    if failures:
        times_out = {"failures": failures}
    else:
        times_out = {}
    return times_out | {name: {"runs": v, "median_s_per_step": statistics.median(v)}
                        for name, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--slices", type=int, default=8)
    parser.add_argument("--iters", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--train-steps", type=int, default=6)
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--skip-batch", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        result = {"settings": vars(args) | {"out": str(args.out)},
                  "cpu_count": os.cpu_count(), "load_before": os.getloadavg()}
        if not args.skip_batch:
            result["batch"] = bench_batch(args, folder)
            if args.out:  # keep what is measured even if the training part fails
                args.out.write_text(json.dumps(result, indent=2) + "\n")
        if not args.skip_train:
            result["train"] = bench_train(args, folder)
        result["load_after"] = os.getloadavg()
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()

"""3-D Cartesian SENSE-TV: csmri (plane by plane) against BART ``ecalib`` + ``pics`` on one volume.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_3d.py [--quick]

The volume: a Shepp-Logan phantom in ``(x, y)`` with a smooth profile along ``z``,
8 birdcage coils in the ``(y, z)`` plane, noise 0.002, a variable-density Poisson-disc
``(ky, kz)`` mask (acceleration 6, 24 x 24 calibration centre; 16 x 16 with ``--quick``).
Full size 256 x 256 x 64 (readout x ky x kz); ``--quick`` 64 x 128 x 32.

csmri: ESPIRiT maps per readout plane + 100 (``--quick``: 30) iterations of SENSE-TV over
``(y, z)`` (:func:`csmri.app.recon3d.reconstruct_3d`, FISTA, lambda 0.003).  BART:
``ecalib -m1`` on the 3-D k-space + ``pics -R T:6:0:0.003`` (TV over ``y, z`` only, the
same prior) with the same iterations.  Each tool runs in its own process: wall seconds,
CPU seconds and peak resident memory (``ru_maxrss``) of that process, and the PSNR of
both against the phantom.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CSMRI = r"""
import json, resource, sys, time
import numpy as np, torch
torch.set_num_threads(1)
sys.path.insert(0, {root!r})
from csmri.app.recon3d import reconstruct_3d
data = np.load({path!r})
data = {{"kspace": data["kspace"], "mask": data["mask"]}}
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
start, cpu = time.perf_counter(), time.process_time()
volume = reconstruct_3d(data["kspace"], data["mask"], lam=0.003, max_iter={iters},
                        solver="fista")
out = {{"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu,
       "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
       "base_mb": base}}
np.save({path!r} + ".csmri.npy", np.abs(volume.images))
print(json.dumps(out))
"""

BART = r"""
import json, resource, subprocess, sys, time
sys.path.insert(0, {root!r})
import numpy as np
from csmri.io.cfl import read_cfl, write_cfl
data = np.load({path!r})
k = data["kspace"]  # C, X, Y, Z -> BART x, y, z, coil
write_cfl({folder!r} + "/k", np.ascontiguousarray(k.transpose(1, 2, 3, 0)))
start = time.perf_counter()
for cmd in (["ecalib", "-m1", "k", "maps"],
            ["pics", "-S", "-i", "{iters}", "-R", "T:6:0:0.003", "k", "maps", "x"]):
    subprocess.run(["bart", *cmd], cwd={folder!r}, check=True, capture_output=True)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
out = {{"wall": time.perf_counter() - start, "cpu": usage.ru_utime + usage.ru_stime,
       "maxrss_mb": usage.ru_maxrss / 1024}}
np.save({path!r} + ".bart.npy", np.abs(np.asarray(read_cfl({folder!r} + "/x"))).squeeze())
print(json.dumps(out))
"""


def make_volume(shape: tuple[int, int, int], calib: int, path: Path) -> None:
    """Write the phantom's k-space, mask and magnitude to ``path`` (.npz)."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from csmri.io.images import shepp_logan
    from csmri.mri.coil_sim import birdcage_maps
    from csmri.mri.poisson import poisson_disc_mask

    x, y, z = shape
    rng = np.random.default_rng(0)
    phantom = shepp_logan(max(x, y))[:x, :y]
    truth = phantom[:, :, None] * np.cos(np.linspace(-1.2, 1.2, z))[None, None, :] ** 2
    maps = birdcage_maps((y, z), 8)[:, None].astype(np.complex64)
    coils = (maps * truth[None]).astype(np.complex64)
    axes = (1, 2, 3)
    kspace = np.fft.fftshift(
        np.fft.fftn(np.fft.ifftshift(coils, axes=axes), axes=axes, norm="ortho"), axes=axes
    ).astype(np.complex64)
    noise = rng.standard_normal(kspace.shape) + 1j * rng.standard_normal(kspace.shape)
    kspace += (0.002 * noise).astype(np.complex64)
    mask = poisson_disc_mask((y, z), 6, calib=calib, seed=0)
    np.savez(path, kspace=kspace * mask, mask=mask, truth=truth.astype(np.float32))


def run(script: str) -> dict:
    """Run a measuring child process; its JSON line."""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    """Build the volume, run both tools, print a table."""
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    shape, calib, iters = ((64, 128, 32), 16, 30) if args.quick else ((256, 256, 64), 24, 100)
    sys.path.insert(0, str(ROOT))
    from csmri.metrics import psnr

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "volume.npz")
        make_volume(shape, calib, Path(path))
        ours = run(CSMRI.format(root=str(ROOT), path=path, iters=iters))
        theirs = run(BART.format(root=str(ROOT), path=path, folder=tmp, iters=iters))
        truth = np.load(path)["truth"]
        for name, result in (("csmri", ours), ("bart", theirs)):
            image = np.load(f"{path}.{name}.npy").reshape(truth.shape)
            result["psnr"] = psnr(truth, image)
    print(f"volume {shape}, 8 coils, Poisson 6x, {iters} iterations")
    print("| tool | wall s | CPU s | peak RSS MB | PSNR dB |\n|---|---|---|---|---|")
    for name, r in (("csmri", ours), ("bart", theirs)):
        print(f"| {name} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['maxrss_mb']:.0f} | "
              f"{r['psnr']:.2f} |")
    print(f"csmri's process held {ours['base_mb']:.0f} MB after its imports and the data")


if __name__ == "__main__":
    main()

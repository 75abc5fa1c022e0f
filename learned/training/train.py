"""Train the reconstruction U-Net: ``train(TrainConfig(...)) -> TrainResult``.

Fresh masks every step (seeded by ``(seed, epoch, step)``), fixed validation examples,
PSNR/SSIM every epoch, best checkpoint kept, resumable without pickle, deterministic under
a seed.  The ``csmri train`` command is a thin wrapper around :func:`train`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from csmri.errors import UsageError
from learned.data.dataset import (
    SimulationConfig,
    load_slices,
    sha256_file,
    training_batch,
    validation_items,
)
from learned.data.manifest import build_manifest, index_ranges, slice_hash, split_subjects
from learned.data.synth import (
    MNI152_FILES,
    MNI152_SUBJECT,
    SYNTH_AUGMENTATIONS,
    Synthesizer,
    TissueMaps,
    mni152_path,
)
from learned.evaluate import evaluate_items
from learned.models.checkpoint import load_model, load_optimizer, save_model, save_optimizer
from learned.models.consistency import DC_MODES
from learned.models.unet import NormUnet, UNetConfig, count_parameters
from learned.models.unrolled import UnrolledConfig, UnrolledNet
from learned.training.distributed import Ranks, session
from learned.training.unrolled import evaluate_unrolled, kspace_batch, unrolled_loss

OPTIMIZERS: tuple[str, ...] = ("adam", "rmsprop", "sgd")
LOSSES: tuple[str, ...] = ("l1", "ssim")


@dataclass
class TrainConfig:
    """Everything :func:`train` needs (the ``csmri train`` options).

    Attributes
    ----------
    data : list of str
        NIfTI volumes, image files/folders (.png/.npy) or fastMRI .h5 files; NIfTI paths
        accept ``?axes=..&exclude=AXIS:FIRST-LAST`` (see :func:`learned.data.dataset.parse_source`).
    output : str
        Best model file (``.safetensors``); ``NAME.last.safetensors`` and
        ``NAME.state.safetensors`` (resume state) are written next to it.
    accelerations, center_fractions : tuple of float
        Paired mask settings, drawn at random per example.
    epochs, batch_size, steps_per_epoch : int
        Schedule (``steps_per_epoch=None``: one pass over the training slices).
    optimizer : {"adam", "rmsprop", "sgd"}
        Optimizer; ``momentum`` is used by RMSprop and SGD.
    lr, momentum, weight_decay : float
        Optimizer settings; the learning rate follows a cosine decay over all steps
        unless ``lr_schedule="constant"``.
    model : {"unet", "unrolled"}
        The one-shot U-Net or the unrolled network (:mod:`learned.models.unrolled`).
    norm, chans, depth, input : see :class:`learned.models.unet.UNetConfig`
        (``chans``, ``depth`` and ``norm`` size each cascade's U-Net for ``unrolled``)
    cascades : int
        Cascades of the unrolled network.
    data_consistency : {"auto", "none", "hard", "hard-lowres"}
        Stored default for inference; ``"auto"`` picks the best on validation.
    loss : {"l1", "ssim"}
        Training loss (L1 on instance-normalised images, or 1 - SSIM).
    patch : int
        Side of the square training patches cut from simulated full slices (0: full
        slices, which must then all have one shape).
    noise, phase : float, bool
        Simulation (training noise is uniform in ``[0, 2 * noise]``).
    seed : int
        Seeds initialisation, data order, masks, augmentation.
    val_fraction, max_val_slices : float, int
        Fraction of subjects held out for validation (split by subject, never by slice,
        see :func:`learned.data.manifest.split_subjects`; with a single subject, validation
        uses other slices of it and the manifest says so) and the cap on their slices.
    val_subjects : tuple of str
        Subjects to hold out instead of a random choice.
    synth : float
        Fraction of training examples synthesised from the MNI152 tissue maps
        (:mod:`learned.data.synth`) instead of read from ``data``.
    exclude_sample : bool
        Never train on Colin27 near the embedded sample (see
        :func:`learned.data.dataset.colin27_policy`).
    resume : bool or str
        Continue from ``NAME.state.safetensors`` (True) or from the given state file.
    device : {"auto", "cpu", "cuda"}
        Where to train.
    threads : int or None
        ``torch.set_num_threads`` for the run.
    progress : bool
        Show a tqdm bar.
    command : str or None
        The command line, recorded in the metadata.
    """

    data: list[str] = field(default_factory=list)
    output: str = "unet.safetensors"
    accelerations: tuple[float, ...] = (4.0, 8.0)
    center_fractions: tuple[float, ...] = (0.08, 0.04)
    epochs: int = 10
    batch_size: int = 8
    steps_per_epoch: int | None = None
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    lr_schedule: str = "cosine"
    model: str = "unet"
    cascades: int = 5
    norm: str = "group"
    chans: int = 8
    depth: int = 4
    input: str = "magnitude"
    data_consistency: str = "auto"
    loss: str = "l1"
    patch: int = 160
    noise: float = 0.005
    phase: bool = True
    seed: int = 0
    val_fraction: float = 0.1
    max_val_slices: int = 64
    val_subjects: tuple[str, ...] = ()
    synth: float = 0.0
    exclude_sample: bool = True
    resume: bool | str = False
    device: str = "auto"
    threads: int | None = None
    progress: bool = True
    command: str | None = None

    def validate(self) -> TrainConfig:
        """Check option values, raising :class:`csmri.errors.UsageError`.

        Returns
        -------
        TrainConfig
            ``self``.
        """
        if not self.data:
            raise UsageError("no training data given")
        if len(self.accelerations) != len(self.center_fractions):
            raise UsageError("give one center fraction per acceleration")
        if self.model not in ("unet", "unrolled"):
            raise UsageError("model must be unet or unrolled")
        if self.model == "unrolled" and not self.patch:
            raise UsageError("the unrolled network trains on patches: give --patch")
        if self.optimizer not in OPTIMIZERS:
            raise UsageError(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        if self.loss not in LOSSES:
            raise UsageError(f"loss must be one of {', '.join(LOSSES)}")
        if self.data_consistency not in ("auto", *DC_MODES):
            raise UsageError(f"data consistency must be auto or one of {', '.join(DC_MODES)}")
        if self.lr_schedule not in ("cosine", "constant"):
            raise UsageError("lr schedule must be cosine or constant")
        if self.device not in ("auto", "cpu", "cuda"):
            raise UsageError("device must be auto, cpu or cuda")
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise UsageError("epochs and batch size must be >= 1 and lr > 0")
        if not 0 <= self.val_fraction < 1:
            raise UsageError("val fraction must lie in [0, 1)")
        if not 0 <= self.synth <= 1:
            raise UsageError("synth fraction must lie in [0, 1]")
        if self.patch and self.patch % 2**self.depth:
            raise UsageError(f"patch {self.patch} must be a multiple of 2**depth = {2**self.depth}")
        try:
            self.model_config().validate()
        except ValueError as error:
            raise UsageError(str(error)) from None
        return self

    @classmethod
    def from_cli(
        cls,
        output: str | Path,
        resume: str | Path | None = None,
        accel: tuple[float, ...] = (4.0, 8.0),
        center_fraction: tuple[float, ...] = (0.08, 0.04),
        chans: int | None = None,
        depth: int | None = None,
        **options: object,
    ) -> TrainConfig:
        """Build a config from ``csmri train`` option names.

        Parameters
        ----------
        output : str or Path
            ``-o`` model file.
        resume : str or Path or None
            ``--resume``: a model, ``.last`` or ``.state`` file of an earlier run.
        accel, center_fraction : tuple of float
            ``--accel`` / ``--center-fraction``.
        chans, depth : int or None
            None keeps the defaults (the shipped model's architecture).
        **options
            Other fields of :class:`TrainConfig` by name (``data``, ``epochs``, ...).

        Returns
        -------
        TrainConfig
            The config (not yet validated).
        """
        import sys

        fields = {k: v for k, v in options.items() if v is not None}
        if "data" in fields:
            fields["data"] = [str(p) for p in fields["data"]]  # type: ignore[union-attr]
        if chans is not None:
            fields["chans"] = chans
        if depth is None and fields.get("model") == "unrolled":
            depth = 3  # the shipped unrolled network's U-Nets
        if depth is not None:
            fields["depth"] = depth
        fields.setdefault("command", " ".join(["csmri", *sys.argv[1:]]))
        return cls(
            output=str(output),
            resume=False if resume is None else str(resume),
            accelerations=tuple(float(a) for a in accel),
            center_fractions=tuple(float(c) for c in center_fraction),
            **fields,  # type: ignore[arg-type]
        )

    def unet_config(self) -> UNetConfig:
        """The architecture part.

        Returns
        -------
        UNetConfig
            Network settings (``data_consistency`` "auto" stored as "none" until chosen).
        """
        dc = "none" if self.data_consistency == "auto" else self.data_consistency
        return UNetConfig(self.chans, self.depth, self.norm, self.input, dc)

    def model_config(self) -> UNetConfig | UnrolledConfig:
        """The architecture of ``model``.

        Returns
        -------
        UNetConfig or UnrolledConfig
            Network settings.
        """
        if self.model == "unrolled":
            return UnrolledConfig(self.cascades, self.chans, self.depth, self.norm)
        return self.unet_config()


@dataclass
class TrainResult:
    """What :func:`train` produced.

    Attributes
    ----------
    model_path : Path
        Best model.
    best_epoch : int
        Epoch (1-based) of the best validation PSNR.
    best_metrics : dict
        Its validation metrics.
    history : list of dict
        Per-epoch loss and validation metrics.
    elapsed_s : float
        Wall time of this run (excluding earlier runs when resumed).
    metadata : dict
        Metadata stored with the model.
    main : bool
        False in the ranks other than 0 of a ``torchrun`` group (they print nothing).
    """

    model_path: Path
    best_epoch: int
    best_metrics: dict
    history: list[dict]
    elapsed_s: float
    metadata: dict
    main: bool = True

    def summary(self) -> str:
        """One line for the terminal.

        Returns
        -------
        str
            Where the model went and its best validation numbers.
        """
        text = f"wrote {self.model_path} (best epoch {self.best_epoch}"
        if self.best_metrics:
            text += (f", validation PSNR {self.best_metrics['psnr']:.2f} dB, SSIM "
                     f"{self.best_metrics['ssim']:.4f}, zero-filled "
                     f"{self.best_metrics['zero_filled_psnr']:.2f} dB")
            if "data_consistency_choice" in self.metadata:
                dc = self.metadata["data_consistency_choice"]["chosen"]
                text += f"; data consistency {dc}"
        split = self.metadata.get("manifest", {}).get("split", "")
        if split.startswith("one subject"):
            text += "; NOTE: one subject, so validation is not subject-disjoint"
        return text + f"; {self.elapsed_s / 60:.1f} min)"


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU (the rule of :func:`csmri.device.resolve_device`).

    Parameters
    ----------
    name : {"auto", "cpu", "cuda"}
        Requested device.

    Returns
    -------
    torch.device
        Device.
    """
    from csmri.device import resolve_device as resolve_solver_device

    return torch.device(resolve_solver_device(name) or "cpu")


def make_optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    """Adam, RMSprop or SGD with momentum.

    Parameters
    ----------
    config : TrainConfig
        Optimizer choice and settings.
    params : iterable
        Parameters.

    Returns
    -------
    torch.optim.Optimizer
        Optimizer.
    """
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(
            params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    return torch.optim.SGD(
        params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )


def ssim_loss(estimate: torch.Tensor, target: torch.Tensor, window: int = 7) -> torch.Tensor:
    """``1 - SSIM`` with a uniform 7x7 window and the per-image target maximum as range.

    Parameters
    ----------
    estimate, target : Tensor, shape (B, H, W)
        Images.
    window : int
        Window side.

    Returns
    -------
    Tensor
        Scalar loss.
    """
    x, y = estimate[:, None], target[:, None]
    peak = target.flatten(1).amax(dim=1).clamp_min(1e-12)[:, None, None, None]
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    n = window * window
    mean = lambda z: F.avg_pool2d(z, window, stride=1)  # noqa: E731
    ux, uy = mean(x), mean(y)
    vx = (mean(x * x) - ux * ux) * n / (n - 1)
    vy = (mean(y * y) - uy * uy) * n / (n - 1)
    vxy = (mean(x * y) - ux * uy) * n / (n - 1)
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    return 1 - s.mean()


def compute_loss(
    model: NormUnet, inputs: torch.Tensor, targets: torch.Tensor, kind: str
) -> torch.Tensor:
    """Training loss of one batch.

    Parameters
    ----------
    model : NormUnet
        Network.
    inputs : Tensor, shape (B, 2, H, W)
        Zero-filled images.
    targets : Tensor, shape (B, H, W)
        Clean magnitudes.
    kind : {"l1", "ssim"}
        L1 in the instance-normalised scale (absolute error over the input std), or 1 - SSIM.

    Returns
    -------
    Tensor
        Scalar loss.
    """
    output = model(inputs)
    if kind == "ssim":
        return ssim_loss(output, targets)
    _, _, std = getattr(model, "module", model).normalise(inputs)  # unwrap DDP
    return ((output - targets).abs() / std[:, 0]).mean()


@contextlib.contextmanager
def _deterministic(device: torch.device, threads: int | None):
    previous = torch.are_deterministic_algorithms_enabled()
    previous_threads = torch.get_num_threads()
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    # On CUDA a few kernels (e.g. reflection-pad backward) have no deterministic version:
    # warn there instead of failing; on the CPU everything used here is deterministic.
    torch.use_deterministic_algorithms(True, warn_only=device.type == "cuda")
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)
        torch.set_num_threads(previous_threads)


def _learning_rate(config: TrainConfig, step: int, total: int) -> float:
    if config.lr_schedule == "constant":
        return config.lr
    return config.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(step / total, 1.0))))


def _machine(device: torch.device) -> dict:
    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def _version() -> str:
    from csmri import __version__

    return __version__


def _paths(output: Path) -> tuple[Path, Path]:
    stem = output.name.removesuffix(".safetensors")
    last = output.with_name(f"{stem}.last.safetensors")
    return last, output.with_name(f"{stem}.state.safetensors")


def train(config: TrainConfig) -> TrainResult:
    """Train a U-Net reconstructor and write the best model to ``config.output``.

    Parameters
    ----------
    config : TrainConfig
        Data, model and optimisation settings.

    Returns
    -------
    TrainResult
        Paths, metrics and history.
    """
    config.validate()
    device = resolve_device(config.device)
    with session(device) as ranks:
        return _train(config, ranks, ranks.device(device))


def _train(config: TrainConfig, ranks: Ranks, device: torch.device) -> TrainResult:
    """:func:`train` in one process of a (possibly one-process) group."""
    start = time.perf_counter()
    ranks.check_batch(config.batch_size)
    output = Path(config.output)
    last_path, state_path = _paths(output)
    with _deterministic(device, config.threads):
        slices = load_slices(config.data, exclude_sample=config.exclude_sample)
        train_idx, val_idx, split = split_slices(slices, config)
        synth = Synthesizer(TissueMaps.from_mni152()) if config.synth > 0 else None
        if config.patch == 0 and len({slices.images[i].shape for i in train_idx}) > 1:
            raise UsageError("slices have several sizes: give a patch size (--patch)")
        sim = SimulationConfig(
            tuple(config.accelerations), tuple(config.center_fractions), config.noise, config.phase
        )
        val_items = validation_items([slices.images[i] for i in val_idx], sim, config.seed)

        torch.manual_seed(config.seed)
        unrolled = config.model == "unrolled"
        model_class = UnrolledNet if unrolled else NormUnet
        model = model_class(config.model_config()).to(device)
        optimizer = make_optimizer(config, model.parameters())
        net = ranks.wrap(model)  # DDP in a group: gradients averaged over the ranks
        steps = config.steps_per_epoch or max(1, math.ceil(len(train_idx) / config.batch_size))
        total_steps = steps * config.epochs
        first_epoch, history, best = 1, [], {"epoch": 0, "psnr": -math.inf, "metrics": {}}
        if config.resume:
            resume_path = state_path if config.resume is True else _state_of(Path(config.resume))
            weights = resume_path.with_name(resume_path.name.replace(".state.", ".last."))
            loaded, _, _ = load_model(weights, device, config.model)
            model.load_state_dict(loaded.state_dict())
            scalars = load_optimizer(resume_path, optimizer)
            first_epoch = int(scalars["epoch"]) + 1
            history, best = scalars["history"], scalars["best"]

        data_info = {
            "fingerprint_sha256": slices.fingerprint,
            "train_slices": len(train_idx),
            "val_slices": len(val_idx),
            "slices_per_file_axis": _count_origins(slices.origins),
            "exclude_sample": config.exclude_sample,
            "split": split,
        }
        manifest = training_manifest(slices, train_idx, val_idx, split, config)
        for epoch in range(first_epoch, config.epochs + 1):
            epoch_start = time.perf_counter()
            model.train()
            data_rng = np.random.default_rng([config.seed, epoch])
            passes = math.ceil(steps * config.batch_size / len(train_idx))
            picks = np.concatenate([data_rng.permutation(train_idx) for _ in range(passes)])
            losses = []
            bar = tqdm(range(steps), desc=f"epoch {epoch}/{config.epochs}",
                       disable=not (config.progress and ranks.main), leave=False)
            for step in bar:
                global_step = (epoch - 1) * steps + step
                for group in optimizer.param_groups:
                    group["lr"] = _learning_rate(config, global_step, total_steps)
                batch = picks[step * config.batch_size : (step + 1) * config.batch_size]
                batch, first = ranks.shard(batch)
                args = (slices.images, batch, sim, config.patch, config.seed, epoch, step,
                        synth, config.synth)
                if unrolled:
                    kspace, mask, targets = kspace_batch(*args, first=first)
                    loss = unrolled_loss(net, torch.from_numpy(kspace).to(device), mask,
                                         torch.from_numpy(targets).to(device), config.loss)
                else:
                    inputs, targets = training_batch(*args, first=first)
                    inputs_t = torch.from_numpy(inputs).to(device).contiguous(
                        memory_format=torch.channels_last)
                    targets_t = torch.from_numpy(targets).to(device)
                    loss = compute_loss(net, inputs_t, targets_t, config.loss)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses.append(ranks.mean(float(loss.detach()), device))
                rate = (step + 1) * config.batch_size / (time.perf_counter() - epoch_start)
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}", slices_s=f"{rate:.1f}")
            bar.close()
            record = {
                "epoch": epoch,
                "loss": float(np.mean(losses)),
                "seconds": time.perf_counter() - epoch_start,
            }
            if val_items:
                evaluate = evaluate_unrolled if unrolled else evaluate_items
                record["val"] = ranks.from_main(
                    evaluate(model, val_items, device) if ranks.main else None
                )
            history.append(record)
            score = record["val"]["psnr"] if val_items else -record["loss"]
            metadata = _metadata(config, data_info, history, device, start, manifest) | {
                "processes": ranks.world}
            improved = score > best["psnr"]
            if improved:
                best = {"epoch": epoch, "psnr": score, "metrics": record.get("val", {})}
            scalars = {"epoch": epoch, "history": history, "best": best}
            if ranks.main:  # one writer; the other ranks hold identical weights
                if improved:
                    save_model(output, model, model.config, metadata | {"best_epoch": epoch})
                save_model(last_path, model, model.config, metadata)
                save_optimizer(state_path, optimizer, scalars)
                if config.progress:
                    tqdm.write(_summary(record))
        if not ranks.main:
            ranks.barrier()  # until rank 0 has written the final model
            elapsed = time.perf_counter() - start
            return TrainResult(output, best["epoch"], best["metrics"], history, elapsed, {},
                               main=False)

        final, model_config, _ = load_model(output, device, config.model)
        elapsed = time.perf_counter() - start
        metadata = _metadata(config, data_info, history, device, start, manifest) | {
            "best_epoch": best["epoch"],
            "best_validation": best["metrics"],
            "parameters": count_parameters(final),
        }
        if not unrolled:
            chosen = model_config.data_consistency
            if config.data_consistency == "auto" and best["metrics"]:
                chosen = choose_data_consistency(best["metrics"])
            final.config.data_consistency = chosen
            metadata["data_consistency_choice"] = {
                "chosen": chosen,
                "rule": DC_RULE if config.data_consistency == "auto" else "given",
                "validation_by_mode": best["metrics"].get("by_mode", {}),
            }
        save_model(output, final, final.config, metadata)
        ranks.barrier()
    return TrainResult(output, best["epoch"], best["metrics"], history, elapsed, metadata)


DC_RULE = (
    "auto: the data-consistency mode with the highest validation PSNR among those that "
    "raise validation PSNR without lowering validation SSIM relative to no DC; else none"
)


def choose_data_consistency(metrics: dict) -> str:
    """Pick the default data-consistency mode from validation metrics (see ``DC_RULE``).

    Parameters
    ----------
    metrics : dict
        :func:`learned.evaluate.evaluate_items` output (``by_mode``: PSNR/SSIM per mode).

    Returns
    -------
    str
        The chosen mode.
    """
    by_mode = metrics["by_mode"]
    base = by_mode["none"]
    better = [
        mode
        for mode, score in by_mode.items()
        if score["psnr"] > base["psnr"] and score["ssim"] >= base["ssim"]
    ]
    return max(better, key=lambda mode: by_mode[mode]["psnr"]) if better else "none"


def _state_of(path: Path) -> Path:
    """Resume-state file of a run, given its model, ``.last`` or ``.state`` file."""
    name = path.name.removesuffix(".safetensors")
    for marker in (".state", ".last"):
        name = name.removesuffix(marker)
    return path.with_name(f"{name}.state.safetensors")


def split_slices(slices, config: TrainConfig) -> tuple[np.ndarray, np.ndarray, str]:
    """Training and validation slice indices, split by subject (see :class:`TrainConfig`).

    Parameters
    ----------
    slices : learned.data.dataset.SliceSet
        All slices with their subjects.
    config : TrainConfig
        ``val_fraction``, ``val_subjects``, ``max_val_slices``, ``seed``.

    Returns
    -------
    train_idx, val_idx : ndarray of int
        Sorted slice indices.
    split : str
        How they were split (recorded in the manifest).
    """
    subjects = np.asarray(slices.subjects)
    train_s, val_s = split_subjects(subjects, config.val_fraction, config.seed,
                                    config.val_subjects)
    rng = np.random.default_rng(config.seed)
    if val_s:
        val_all = np.flatnonzero(np.isin(subjects, sorted(val_s)))
        val_idx = np.sort(rng.permutation(val_all)[: config.max_val_slices])
        train_idx = np.flatnonzero(np.isin(subjects, sorted(train_s)))
        split = (f"by subject: training {', '.join(sorted(train_s))}; "
                 f"validation {', '.join(sorted(val_s))}")
        return train_idx, val_idx, split
    n = len(subjects)
    order = rng.permutation(n)
    n_val = min(round(config.val_fraction * n), config.max_val_slices, n - 1)
    split = ("one subject: validation uses other slices of the training subject "
             "(no subject-disjoint validation possible)")
    return np.sort(order[n_val:]), np.sort(order[:n_val]), split


def training_manifest(slices, train_idx: np.ndarray, val_idx: np.ndarray, split: str,
                      config: TrainConfig) -> dict:
    """The manifest stored with the model (see :mod:`learned.data.manifest`).

    Parameters
    ----------
    slices : learned.data.dataset.SliceSet
        All slices read.
    train_idx, val_idx : ndarray of int
        The split.
    split : str
        Its description.
    config : TrainConfig
        Simulation, augmentation and synthesis settings.

    Returns
    -------
    dict
        The manifest.
    """
    used: dict[str, dict[str, dict[str, list[int]]]] = {}
    for role, indices in (("train_slices", train_idx), ("val_slices", val_idx)):
        for i in indices:
            file, axis, index = slices.origins[i].rsplit(":", 2)
            entry = used.setdefault(file, {"train_slices": {}, "val_slices": {}})
            entry[role].setdefault(axis, []).append(int(index))
    sources = []
    for file, sha in slices.fingerprint.items():
        entry = used.get(file, {"train_slices": {}, "val_slices": {}})
        sources.append({
            "file": Path(file).name,
            "source": _describe_source(file),
            "subject": slices.files[file],
            "sha256": sha,
            **{role: {axis: index_ranges(v) for axis, v in entry[role].items()}
               for role in ("train_slices", "val_slices")},
        })
    augmentations = {
        "geometric": "random up-down and left-right flips, random 90-degree rotation",
        "intensity_scale": "log-uniform 0.5x to 2x",
        "kspace_noise": f"relative sd uniform in [0, {2 * config.noise:g}]",
        "random_smooth_phase": config.phase,
        "masks": {"accelerations": list(config.accelerations),
                  "center_fractions": list(config.center_fractions),
                  "kind": "fastMRI random column masks, fresh per example"},
        "patch": config.patch,
    }
    synthetic = None
    if config.synth > 0:
        synthetic = {
            "fraction": config.synth,
            "subject": MNI152_SUBJECT,
            "from": "MNI152 2009a symmetric GM and WM probability maps (nilearn)",
            "sha256": {k: sha256_file(mni152_path(k)) for k in ("gm", "wm")},
            "files": {k: MNI152_FILES[k] for k in ("gm", "wm")},
            **SYNTH_AUGMENTATIONS,
        }
    return build_manifest(sources, augmentations, (slice_hash(im) for im in slices.images),
                          split, synthetic)


def _describe_source(file: str) -> str:
    if Path(file).name == MNI152_FILES["t1"]:
        return "MNI152 2009a symmetric T1 template (nilearn package data)"
    return str(file)


def _count_origins(origins: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for origin in origins:
        file, axis, _ = origin.rsplit(":", 2)
        key = f"{Path(file).name}:{axis}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def _metadata(config: TrainConfig, data: dict, history: list, device: torch.device,
              start: float, manifest: dict) -> dict:
    settings = asdict(config)
    return {
        "manifest": manifest,
        "command": config.command or "learned.training.train.train(TrainConfig(**training_config))",
        "training_config": json.loads(json.dumps(settings, default=str)),
        "data": data,
        "history": history,
        "training_seconds_this_run": round(time.perf_counter() - start, 1),
        "machine": _machine(device),
        "csmri_version": _version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _summary(record: dict) -> str:
    text = f"epoch {record['epoch']}: loss {record['loss']:.4f} ({record['seconds']:.0f} s)"
    if "val" in record:
        val = record["val"]
        text += (f"; val PSNR {val['psnr']:.2f} dB SSIM {val['ssim']:.4f} "
                 f"(zero-filled {val['zero_filled_psnr']:.2f}")
        if "by_mode" in val:
            modes = ", ".join(f"{m} {v['psnr']:.2f}" for m, v in val["by_mode"].items())
            text += f"; DC: {modes}"
        text += ")"
    return text


train_model = train
"""Alias of :func:`train` (the name the ``csmri train`` command imports)."""

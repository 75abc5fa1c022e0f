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
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from csmri.errors import UsageError
from learned.data.dataset import (
    SimulationConfig,
    load_slices,
    training_batch,
    validation_items,
)
from learned.data.synth import (
    Synthesizer,
    TissueMaps,
)
from learned.evaluate import evaluate_items
from learned.models.checkpoint import load_model, load_optimizer, save_model, save_optimizer
from learned.models.unet import NormUnet, count_parameters
from learned.models.unrolled import UnrolledNet
from learned.training.config import TrainConfig, TrainResult
from learned.training.distributed import Ranks, session
from learned.training.losses import combined_loss
from learned.training.split import count_origins, split_slices, training_manifest
from learned.training.unrolled import (
    coil_validation_items,
    evaluate_unrolled,
    kspace_batch,
    unrolled_loss,
)


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
    kind : {"l1", "ssim", "ssim-l1"}
        Loss (:func:`learned.training.losses.combined_loss`; L1 in the instance-normalised
        scale, the absolute error over the input std).

    Returns
    -------
    Tensor
        Scalar loss.
    """
    output = model(inputs)
    _, _, std = getattr(model, "module", model).normalise(inputs)  # unwrap DDP
    return combined_loss(kind, output, targets, std[:, 0].flatten())


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
    from learned.training.raw import (  # the raw path pulls in ESPIRiT and the readers
        batch_loss,
        is_kspace_training,
        open_kspace_training,
        slice_hashes,
    )

    with _deterministic(device, config.threads):
        raw = is_kspace_training(config)  # the unrolled network on raw k-space
        if raw:
            slices, config = open_kspace_training(config)
        else:
            slices = load_slices(config.data, exclude_sample=config.exclude_sample)
        train_idx, val_idx, split = split_slices(slices, config)
        synth = Synthesizer(TissueMaps.from_mni152()) if config.synth > 0 else None
        if (not raw and config.patch == 0
                and len({slices.images[i].shape for i in train_idx}) > 1):
            raise UsageError("slices have several sizes: give a patch size (--patch)")
        sim = SimulationConfig(
            tuple(config.accelerations), tuple(config.center_fractions), config.noise, config.phase
        )
        val_images = [] if raw else [slices.images[i] for i in val_idx]
        if config.coils and not raw:
            val_items = coil_validation_items(val_images, sim, config.seed,
                                              tuple(config.coils), config.patch)
        else:
            val_items = validation_items(val_images, sim, config.seed)
        validate = len(val_idx) > 0 if raw else bool(val_items)

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
            "slices_per_file_axis": count_origins(slices.origins),
            "exclude_sample": config.exclude_sample,
            "split": split,
        }
        manifest = training_manifest(slices, train_idx, val_idx, split, config,
                                     slice_hashes(slices) if raw else None)
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
                args = (None if raw else slices.images, batch, sim, config.patch, config.seed,
                        epoch, step, synth, config.synth)
                if raw:
                    loss = batch_loss(net, slices, batch, config,
                                      (config.seed, epoch, step, first), device)
                elif unrolled:
                    kspace, mask, targets, maps = kspace_batch(*args, first=first,
                                                               coils=tuple(config.coils))
                    loss = unrolled_loss(net, torch.from_numpy(kspace).to(device), mask,
                                         torch.from_numpy(targets).to(device), config.loss,
                                         None if maps is None else
                                         torch.from_numpy(maps).to(device))
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
            if validate:
                record["val"] = ranks.from_main(
                    _evaluate(model, raw, slices, val_idx, val_items, config, device)
                    if ranks.main else None
                )
            history.append(record)
            score = record["val"]["psnr"] if validate else -record["loss"]
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


def _evaluate(model, raw: bool, slices, val_idx, val_items, config: TrainConfig,
              device: torch.device) -> dict:
    """Validation metrics of one epoch (raw k-space, unrolled or U-Net)."""
    if raw:
        from learned.training.raw import evaluate_raw

        return evaluate_raw(model, slices, val_idx, config, device)
    evaluate = evaluate_unrolled if config.model == "unrolled" else evaluate_items
    return evaluate(model, val_items, device)


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
    if "val" in record and "metric" in record["val"]:  # SSDU: no reference
        val = record["val"]
        text += (f"; val held-out k-space error {val['psnr']:.2f} dB "
                 f"(zero-filled {val['zero_filled_psnr']:.2f})")
    elif "val" in record:
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

"""Model files: safetensors weights with the JSON config and metadata in the header.

``save_model`` writes ``NAME.safetensors`` (tensors + ``__metadata__`` holding the
config and metadata as JSON strings) and a human-readable sidecar ``NAME.json`` with the
same config and metadata.  ``load_model`` only parses the safetensors header and raw
tensor bytes: nothing is ever unpickled, so loading cannot run code.  Resume state
(optimizer tensors) uses the same scheme: safetensors for tensors, JSON for scalars.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from csmri.errors import InputError
from csmri.io.atomic import atomic_path
from learned.data.manifest import check_manifest, check_trained_by
from learned.models.unet import NormUnet, UNetConfig
from learned.models.unrolled import UnrolledConfig, UnrolledNet

FORMAT = "csmri-unet"
FORMAT_VERSION = 1
KINDS = {
    "unet": (FORMAT, UNetConfig, NormUnet, "U-Net", "--method unet"),
    "unrolled": ("csmri-unrolled", UnrolledConfig, UnrolledNet, "unrolled network",
                 "--method unrolled"),
}
"""Model kind -> (header format, config class, module class, name, CLI option)."""
ADDED_FIELDS = {"unrolled": {"phase_ref": False}}
"""Config fields added after a kind's first files, with the value those older files mean."""
_ZIP_MAGIC = b"PK\x03\x04"  # torch.save archives (pickles inside a zip)


def _atomic_write(path: Path, write) -> None:
    """Create the folder if needed, then write through :func:`csmri.io.atomic.atomic_path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temp:
        write(temp)


def sidecar_path(path: str | Path) -> Path:
    """The JSON file written next to a ``.safetensors`` file.

    Parameters
    ----------
    path : str or Path
        Weights file.

    Returns
    -------
    Path
        Same name with the suffix ``.json``.
    """
    return Path(path).with_suffix(".json")


def write_json(path: str | Path, data: dict) -> None:
    """Write JSON atomically.

    Parameters
    ----------
    path : str or Path
        Destination.
    data : dict
        JSON-serialisable content.
    """
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    _atomic_write(Path(path), lambda tmp: Path(tmp).write_text(text))


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], header: dict) -> None:
    """Write tensors to safetensors atomically with a JSON-valued header.

    Parameters
    ----------
    path : str or Path
        Destination.
    tensors : dict of str to Tensor
        Tensors (moved to CPU, made contiguous).
    header : dict of str to JSON-serialisable
        Stored as ``__metadata__`` (each value JSON-encoded).
    """
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    meta = {k: json.dumps(v, sort_keys=True) for k, v in header.items()}
    _atomic_write(Path(path), lambda tmp: save_file(tensors, tmp, metadata=meta))


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:300]


def _looks_like_safetensors(path: Path) -> bool:
    """8-byte little-endian header length that fits the file, then a JSON object."""
    with open(path, "rb") as stream:
        head = stream.read(9)
    if len(head) < 9:
        return False
    length = int.from_bytes(head[:8], "little")
    return 2 <= length <= path.stat().st_size - 8 and head[8:9] == b"{"


def _looks_like_pickle(path: Path) -> bool:
    """Pickle protocol 2-5 header, a protocol 0/1 opcode stream, or a torch.save zip."""
    with open(path, "rb") as stream:
        head = stream.read(4)
    if head.startswith(_ZIP_MAGIC):
        return True
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return True
    return head[:1] in (b"c", b"(", b"}", b"]", b"I", b"S", b"V", b"N")


def load_tensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a safetensors file without unpickling anything.

    Parameters
    ----------
    path : str or Path
        File.

    Returns
    -------
    tensors : dict of str to Tensor
    header : dict
        The ``__metadata__`` values, JSON-decoded.

    Raises
    ------
    InputError
        Missing, pickled, truncated or otherwise unreadable files.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such model file", path)
    if not _looks_like_safetensors(path) and _looks_like_pickle(path):
        raise InputError(
            "is a pickle/torch.save file; refusing to load it (unpickling can run code), "
            "expected safetensors",
            path,
        )
    try:
        tensors = {}
        with safe_open(str(path), framework="pt", device="cpu") as archive:
            raw = archive.metadata() or {}
            for key in archive.keys():
                tensors[key] = archive.get_tensor(key)
        header = {k: json.loads(v) for k, v in raw.items()}
    except Exception as error:  # safetensors raises several types for corrupt files
        problem = f"not a readable safetensors file ({_one_line(error)})"
        raise InputError(problem, path) from None
    return tensors, header


def save_model(
    path: str | Path,
    model: NormUnet | UnrolledNet,
    config: UNetConfig | UnrolledConfig | dict,
    metadata: dict,
) -> Path:
    """Save weights, config and metadata (safetensors + sidecar JSON).

    Parameters
    ----------
    path : str or Path
        ``.safetensors`` destination; ``NAME.json`` is written next to it.
    model : NormUnet or UnrolledNet
        The network.
    config : UNetConfig, UnrolledConfig or dict
        Its architecture.
    metadata : dict
        JSON-serialisable provenance (command, data fingerprint, metrics, versions) with
        the training manifest under ``"manifest"``.

    Returns
    -------
    Path
        The weights file.
    """
    path = Path(path)
    kind = "unrolled" if isinstance(model, UnrolledNet) else "unet"
    config = dict(config) if isinstance(config, dict) else config.to_dict()
    header = {"format": KINDS[kind][0], "format_version": FORMAT_VERSION, "config": config,
              "metadata": metadata}
    save_tensors(path, model.state_dict(), header)
    write_json(sidecar_path(path), header)
    return path


def load_model(
    path: str | Path, device: str | torch.device = "cpu", kind: str = "unet",
    require_manifest: bool = True,
) -> tuple[NormUnet | UnrolledNet, UNetConfig | UnrolledConfig, dict]:
    """Load a model saved by :func:`save_model`; never runs code from the file.

    Parameters
    ----------
    path : str or Path
        ``.safetensors`` file.
    device : str or torch.device
        Where to put the model.
    kind : {"unet", "unrolled"}
        The model kind expected; a file of the other kind is refused.
    require_manifest : bool
        Refuse files without a well-formed training manifest
        (:func:`learned.data.manifest.check_manifest`).

    Returns
    -------
    model : NormUnet or UnrolledNet
        In eval mode.
    config : UNetConfig or UnrolledConfig
        Its architecture.
    metadata : dict
        Provenance.

    Raises
    ------
    InputError
        Pickles, corrupt files, files without a csmri config or manifest, models of the
        other kind, or weights whose shapes do not match the architecture in the config
        (one line naming the file).
    """
    tensors, header = load_tensors(path)
    expected_format, config_class, model_class, name, _ = KINDS[kind]
    found = header.get("format")
    for other, (other_format, _, _, other_name, other_option) in KINDS.items():
        if other != kind and found == other_format:
            raise InputError(f"holds {other_name} weights, not {name} weights; "
                             f"use it with {other_option}", path)
    if found != expected_format or "config" not in header:
        raise InputError(f"is not a csmri {name} file (no {expected_format} config in its "
                         "header)", path)
    try:
        config = config_class(**{**ADDED_FIELDS.get(kind, {}), **header["config"]}).validate()
    except (TypeError, ValueError) as error:
        raise InputError(f"has an invalid {name} config ({_one_line(error)})", path) from None
    metadata = header.get("metadata", {})
    if require_manifest:
        check_trained_by(check_manifest(metadata, path), path)
    model = model_class(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        what = f"missing {missing[0]}" if missing else f"unexpected {unexpected[0]}"
        raise InputError(
            f"weights do not match the architecture in its config ({what}, "
            f"{len(missing)} missing, {len(unexpected)} unexpected)",
            path,
        )
    for key, value in expected.items():
        if tensors[key].shape != value.shape:
            raise InputError(
                f"weights do not match the architecture in its config ({key}: "
                f"{tuple(tensors[key].shape)} in the file, {tuple(value.shape)} expected)",
                path,
            )
        if tensors[key].dtype != value.dtype:
            tensors[key] = tensors[key].to(value.dtype)
    model.load_state_dict(tensors, strict=True)
    return model.to(device).eval(), config, metadata


def save_optimizer(path: str | Path, optimizer: torch.optim.Optimizer, scalars: dict) -> None:
    """Save an optimizer's state without pickle (tensors: safetensors; the rest: JSON).

    Parameters
    ----------
    path : str or Path
        ``.safetensors`` destination.
    optimizer : torch.optim.Optimizer
        Optimizer.
    scalars : dict
        Extra JSON-serialisable training state (epoch, best metric, history, ...).
    """
    state = optimizer.state_dict()
    tensors, plain = {}, {}
    for index, entry in state["state"].items():
        for name, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{index}.{name}"] = value
            elif value is not None:
                plain[f"{index}.{name}"] = value
    header = {"param_groups": state["param_groups"], "plain_state": plain, "training": scalars}
    save_tensors(path, tensors, header)


def load_optimizer(path: str | Path, optimizer: torch.optim.Optimizer) -> dict:
    """Restore :func:`save_optimizer` state into ``optimizer``.

    Parameters
    ----------
    path : str or Path
        File written by :func:`save_optimizer`.
    optimizer : torch.optim.Optimizer
        Optimizer over the same parameters.

    Returns
    -------
    dict
        The extra training scalars.
    """
    tensors, header = load_tensors(path)
    if "param_groups" not in header:
        raise InputError("is not a csmri training-state file", path)
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = value
    for key, value in header.get("plain_state", {}).items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    try:
        optimizer.load_state_dict({"state": state, "param_groups": header["param_groups"]})
    except (ValueError, KeyError, RuntimeError) as error:
        raise InputError(f"optimizer state does not fit ({_one_line(error)})", path) from None
    return header.get("training", {})

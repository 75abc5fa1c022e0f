"""What a training run is told and what it returns: :class:`TrainConfig`, :class:`TrainResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from csmri.errors import UsageError
from learned.models.consistency import DC_MODES
from learned.models.unet import UNetConfig
from learned.models.unrolled import UnrolledConfig

OPTIMIZERS: tuple[str, ...] = ("adam", "rmsprop", "sgd")
LOSSES: tuple[str, ...] = ("l1", "ssim", "ssim-l1")
SUPERVISION: tuple[str, ...] = ("auto", "full", "ssdu")


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
    unrolled_dc, cg_iters : str, int
        The unrolled network's data consistency (``"gradient"`` or MoDL's ``"cg"``) and
        its CG iterations (:class:`learned.models.unrolled.UnrolledConfig`).
    coils : tuple of int
        Image data: simulate multi-coil examples with a coil count drawn from these per
        step (unrolled network; :mod:`learned.data.multicoil`); empty: single-coil
        simulation.  k-space data: one count, to which every file is compressed (needed
        when the files' coil counts differ).
    supervision : {"auto", "full", "ssdu"}
        k-space data (unrolled network): supervised on fully sampled data, or SSDU on
        undersampled data (:mod:`learned.training.raw`); auto picks by the data.
    ssdu_masks : int
        SSDU splits per example and step (the multi-mask variant).
    maps_cache : str or None
        Folder caching the ESPIRiT maps of k-space training slices (default: beside the
        output model, ``NAME.maps``).
    data_consistency : {"auto", "none", "hard", "hard-lowres"}
        Stored default for inference; ``"auto"`` picks the best on validation.
    loss : {"l1", "ssim", "ssim-l1"}
        Training loss: L1 on instance-normalised images, 1 - SSIM, or
        ``0.84 (1 - SSIM) + 0.16 L1`` (:func:`learned.training.losses.combined_loss`).
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
    unrolled_dc: str = "gradient"
    cg_iters: int = 6
    coils: tuple[int, ...] = ()
    supervision: str = "auto"
    ssdu_masks: int = 2
    maps_cache: str | None = None
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
        if self.coils and self.model != "unrolled":
            raise UsageError("multi-coil simulation (--coils) trains the unrolled network")
        if any(not 1 <= int(c) <= 64 for c in self.coils):
            raise UsageError(f"coil counts must lie in [1, 64], got {tuple(self.coils)}")
        if self.supervision not in SUPERVISION:
            raise UsageError(f"supervision must be one of {', '.join(SUPERVISION)}")
        if not 1 <= self.ssdu_masks <= 16:
            raise UsageError(f"ssdu masks must lie in [1, 16], got {self.ssdu_masks}")
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
        if "coils" in fields:
            fields["coils"] = tuple(int(c) for c in fields["coils"])  # type: ignore[union-attr]
        if fields.get("maps_cache") is not None:
            fields["maps_cache"] = str(fields["maps_cache"])
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
            return UnrolledConfig(self.cascades, self.chans, self.depth, self.norm,
                                  dc=self.unrolled_dc, cg_iters=self.cg_iters)
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

"""Comparison cases: one masked k-space stack per input and acceleration.

Each case splits its slices into *tuning* slices (used only to choose lambda)
and *scored* slices (used only for the reported metrics), so that automatic
tuning never sees the data it is judged on.  A stack too short to split (one
image, one slice) is tuned on an independent second simulation of the same
images instead (another mask, phase and noise); measured k-space that short
cannot be re-simulated, so it falls back to the calibrated default lambda.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from csmri.acquisition import Acquisition, Trajectory
from csmri.errors import InputError
from csmri.mri.coils import ensure_maps
from csmri.mri.simulate import simulate

MIN_CENTER_LINES = 10
"""Fewer fully sampled centre columns than this make a CS comparison meaningless: the image's
low frequencies are missing.  Measured at 8x on 4 slices of the 181-column sample (TV, best of
3 lambdas): 7 centre lines (fastMRI's 0.04) gained 0.30 dB over zero-filled, 11 lines (0.06)
0.77 dB.  A case with fewer lines carries a warning."""

FIXED_NOTE = "lambda as given (--lam), not tuned."


@dataclass
class Case:
    """Masked k-space with its target, and which slices tune and which score.

    Attributes
    ----------
    name : str
        Input label (file name or ``sample``).
    acceleration : float
        Nominal acceleration.
    kspace : ndarray of complex64, shape (S, H, W) or (S, C, H, W)
        Masked k-space (single-coil, or multi-coil with ``maps``); every method receives
        exactly these arrays.
    mask : ndarray of bool, shape (W,) or (H, W)
        Sampled columns (or locations).
    target : ndarray of float32, shape (S, h, w)
        Magnitude references.
    tuning : list of int
        Slices reserved for choosing lambda (never scored).
    scored : list of int
        Slices whose metrics are reported.
    attrs : dict
        Provenance (seed, center fraction, noise, realised acceleration, ...).
    tuning_case : Case or None
        An independent realisation of the same images that only tunes lambda (for stacks
        too short to spare tuning slices); its slices are all in its ``tuning`` list.
    lambda_note : str
        How lambda is chosen for this case, for the report.
    warnings : list of str
        Reasons the case's results may be meaningless (too few centre lines).
    maps : ndarray of complex64, shape (S, C, H, W), optional
        Coil maps of multi-coil k-space, estimated once from the undersampled data and
        given to every method.
    """

    name: str
    acceleration: float
    kspace: np.ndarray
    mask: np.ndarray
    target: np.ndarray
    tuning: list[int]
    scored: list[int]
    attrs: dict = field(default_factory=dict)
    tuning_case: Case | None = None
    lambda_note: str = FIXED_NOTE
    warnings: list[str] = field(default_factory=list)
    maps: np.ndarray | None = None

    def __post_init__(self) -> None:
        if isinstance(self.mask, Trajectory):  # radial/spiral: the centre is always dense
            return
        lines = center_lines(self.mask)
        if lines < MIN_CENTER_LINES and not self.warnings:
            self.warnings.append(
                f"{self.acceleration:g}x keeps only {lines} fully sampled centre lines "
                f"(< {MIN_CENTER_LINES}): the low frequencies are missing and CS cannot "
                "recover them; raise --center-fraction for a meaningful comparison"
            )

    @property
    def can_tune(self) -> bool:
        """Whether the case has data reserved for tuning lambda."""
        return bool(self.tuning) or self.tuning_case is not None

    def tuning_data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """``(kspace, mask, targets, maps)`` of the tuning data, never the scored slices."""
        source = self.tuning_case if self.tuning_case is not None else self
        if not source.tuning:
            raise ValueError(f"{self.name}: no data reserved for tuning lambda")
        return (source.kspace[source.tuning], source.mask, source.target[source.tuning],
                source.maps_of(source.tuning))

    def maps_of(self, indices: list[int]) -> np.ndarray | None:
        """The coil maps of some slices (None for single-coil cases)."""
        return None if self.maps is None else self.maps[indices]

    def fingerprint(self, indices: list[int]) -> str:
        """SHA-256 of the k-space and mask of the given slices (proves identical inputs)."""
        return kspace_digest(self.kspace[indices], self.mask)


def kspace_digest(kspace: np.ndarray, mask: np.ndarray | Trajectory) -> str:
    """SHA-256 (hex) of k-space bytes followed by mask (or trajectory coordinate) bytes."""
    digest = hashlib.sha256(np.ascontiguousarray(kspace).tobytes())
    sampling = mask.coords if isinstance(mask, Trajectory) else mask
    digest.update(np.ascontiguousarray(sampling).tobytes())
    return digest.hexdigest()


def center_lines(mask: np.ndarray) -> int:
    """Contiguous sampled columns around the centre column ``W // 2`` of a column mask.

    Parameters
    ----------
    mask : ndarray, shape (W,) or (H, W)
        Sampling mask (a 2-D mask counts columns sampled in every row).

    Returns
    -------
    int
        The width of the fully sampled centre band (0 when the centre is not sampled).
    """
    mask = np.asarray(mask) != 0
    columns = mask.all(axis=0) if mask.ndim == 2 else mask
    centre = columns.size // 2
    if not columns[centre]:
        return 0
    left = centre
    while left > 0 and columns[left - 1]:
        left -= 1
    right = centre
    while right < columns.size - 1 and columns[right + 1]:
        right += 1
    return right - left + 1


def tuning_seed(seed: int) -> int:
    """Seed of the independent tuning realisation: derived from ``seed``, never equal to it."""
    derived = int(np.random.SeedSequence([seed, 1]).generate_state(1)[0])
    return derived if derived != seed else derived + 1


def split_slices(num_slices: int, num_tuning: int) -> tuple[list[int], list[int]]:
    """Spread ``num_tuning`` tuning slices evenly through the stack; the rest are scored.

    Parameters
    ----------
    num_slices : int
        Slices in the stack.
    num_tuning : int
        Slices to reserve for tuning (0 when lambda is fixed).

    Returns
    -------
    tuple of list of int
        ``(tuning, scored)``, disjoint, together all slices.
    """
    if num_tuning == 0:
        return [], list(range(num_slices))
    if num_slices <= num_tuning:
        raise InputError(
            f"--lam auto needs more than {num_tuning} slices (tuning slices are never scored), "
            f"got {num_slices}; give a fixed --lam or more slices"
        )
    # evenly spaced, avoiding the first and last slice where anatomy is least typical
    positions = np.linspace(0, num_slices - 1, num_tuning + 2)[1:-1]
    tuning = sorted({round(float(p)) for p in positions})
    return tuning, [i for i in range(num_slices) if i not in tuning]


def cases_from_images(
    name: str,
    images: np.ndarray,
    accelerations: list[float],
    center_fractions: list[float],
    mask_type: str,
    seed: int,
    noise: float,
    num_tuning: int,
    trajectory: str | None = None,
) -> list[Case]:
    """Simulate one case per acceleration from magnitude images.

    Parameters
    ----------
    name : str
        Label of the input.
    images : ndarray, shape (S, H, W)
        Magnitude images.
    accelerations, center_fractions : list of float
        Paired mask parameters (fastMRI semantics).
    mask_type : {"random", "equispaced"}
        Mask family.
    seed : int
        Seeds mask, phase and noise (the same phase and noise for every acceleration).
    noise : float
        Relative noise level, as in :func:`csmri.mri.simulate.simulate`.
    num_tuning : int
        Tuning slices per case (0: lambda is fixed).  When the stack has no more slices
        than this, every slice is scored and lambda is tuned on an independent second
        simulation (seed :func:`tuning_seed` of ``seed``) of the same images.
    trajectory : {"radial", "golden", "tiny-golden", "spiral"}, optional
        Simulate non-Cartesian single-coil k-space instead of a column mask
        (:mod:`csmri.mri.noncartesian_sim`; the acceleration is relative to Nyquist and the
        centre fraction is unused).

    Returns
    -------
    list of Case
        One case per acceleration.
    """
    count = images.shape[0]
    independent = 0 < num_tuning and count <= num_tuning
    tuning, scored = split_slices(count, 0 if independent else num_tuning)
    other_seed = tuning_seed(seed)
    if independent:
        note = (
            f"{count} image(s), too few to spare for tuning: lambda tuned per method on an "
            f"independent simulation of the same image(s) (seed {other_seed}: another mask, "
            "phase and noise), which is never scored."
        )
    elif num_tuning:
        note = f"lambda tuned per method on {len(tuning)} slice(s) that are never scored."
    else:
        note = FIXED_NOTE
    if trajectory is not None:
        return _trajectory_cases(name, images, accelerations, trajectory, seed, noise, tuning,
                                 scored, other_seed if independent else None, note)
    cases = []
    for acceleration, fraction in zip(accelerations, center_fractions, strict=True):
        sim = simulate(images, acceleration, fraction, mask_type, seed, noise, phase=True)
        tuning_case = None
        if independent:
            other = simulate(images, acceleration, fraction, mask_type, other_seed, noise, True)
            tuning_case = Case(
                name,
                acceleration,
                other.kspace,
                other.mask,
                other.target,
                list(range(count)),
                [],
                other.attrs,
            )
        cases.append(
            Case(
                name,
                acceleration,
                sim.kspace,
                sim.mask,
                sim.target,
                tuning,
                scored,
                sim.attrs,
                tuning_case,
                note,
            )
        )
    return cases


def _trajectory_cases(
    name: str,
    images: np.ndarray,
    accelerations: list[float],
    trajectory: str,
    seed: int,
    noise: float,
    tuning: list[int],
    scored: list[int],
    other_seed: int | None,
    note: str,
) -> list[Case]:
    """:func:`cases_from_images` for a radial or spiral trajectory."""
    from csmri.mri.noncartesian_sim import simulate_noncartesian

    def case(acceleration: float, draw: int, tune: list[int], score: list[int]) -> Case:
        acq = simulate_noncartesian(images, trajectory, acceleration, draw, noise, True)
        kspace, sampling, _ = acq.solver_inputs()
        attrs = {**acq.attrs, "realised_acceleration": acq.acceleration}
        return Case(name, acceleration, kspace, sampling, acq.reference, tune, score, attrs)

    cases = []
    for acceleration in accelerations:
        other = None
        if other_seed is not None:
            other = case(acceleration, other_seed, list(range(len(images))), [])
        main = case(acceleration, seed, tuning, scored)
        main.tuning_case = other
        main.lambda_note = note.replace("another mask, phase and noise", "another phase and noise")
        cases.append(main)
    return cases


def cases_from_acquisition(
    name: str,
    acq: Acquisition,
    accelerations: list[float],
    center_fractions: list[float],
    mask_type: str,
    seed: int,
    num_tuning: int,
    maps: str = "espirit",
    device: str = "cpu",
) -> list[Case]:
    """Cases from measured k-space, single- or multi-coil: one code path for both.

    * **Fully sampled** data: each acceleration draws a fastMRI column mask (seeded) and
      the reference is the file's (``reconstruction_rss``/``_esc``) or else the RSS of the
      fully sampled coil images, centre-cropped to the recon matrix.
    * **Undersampled** data with a reference: one case at the file's own mask.

    Lambda is tuned on slices that are never scored; a stack too short to spare them is
    tuned on another mask of the same data (seed :func:`tuning_seed`), which is never
    scored either; undersampled data that short keep the calibrated default.  Multi-coil
    cases get coil maps estimated once from their undersampled k-space (the seconds are in
    ``attrs["maps_seconds"]``), shared by every method.

    Parameters
    ----------
    name : str
        Label (file name).
    acq : Acquisition
        The data.
    accelerations, center_fractions : list of float
        Paired mask parameters for fully sampled data.
    mask_type : {"random", "equispaced"}
        Mask family for fully sampled data.
    seed : int
        Seeds the masks.
    num_tuning : int
        Tuning slices per case (0: lambda fixed).
    maps : {"espirit", "lowres"}
        Coil-map estimator for multi-coil data.
    device : str
        Torch device for the maps.
    trajectory : str, optional
        Simulate images on this radial/spiral trajectory instead of column masks.

    Returns
    -------
    list of Case
        One per acceleration (fully sampled), or one.
    """
    from csmri.io import output_crop
    from csmri.metrics import center_crop
    from csmri.mri.baseline import rss_zero_filled
    from csmri.mri.masks import make_mask

    count = acq.num_slices
    short = 0 < num_tuning and count <= num_tuning
    tuning, scored = split_slices(count, 0 if short else num_tuning)
    if acq.is_cartesian and bool(acq.mask.all()):
        reference = acq.reference
        if reference is None:
            reference = rss_zero_filled(acq.kspace)
            crop = output_crop(acq, reference.shape[-2:])
            reference = reference if crop is None else center_crop(reference, crop)
        other_seed = tuning_seed(seed)
        cases = []
        for acceleration, fraction in zip(accelerations, center_fractions, strict=True):
            def sampled(draw_seed: int, fraction=fraction, acceleration=acceleration):
                columns = make_mask(mask_type, acq.kspace.shape[-1], fraction, acceleration,
                                    draw_seed).mask
                undersampled = acq.with_kspace(acq.kspace * columns, columns)
                undersampled.reference = reference
                return undersampled

            tuning_case = None
            if short:
                tuning_case = _case(name, acceleration, sampled(other_seed), list(range(count)),
                                    [], maps, device)
            note = (
                f"{count} slice(s), too few to spare for tuning: lambda tuned per method on "
                f"another mask of the same data (seed {other_seed}), which is never scored."
                if short else _tuning_note(num_tuning, tuning)
            )
            case = _case(name, acceleration, sampled(seed), tuning, scored, maps, device,
                         tuning_case)
            case.lambda_note = note
            case.attrs.update(seed=seed, center_fraction=fraction, mask_type=mask_type)
            cases.append(case)
        return cases
    if acq.reference is None:
        raise InputError(
            "undersampled k-space without a reference (reconstruction_rss/_esc): compare "
            "needs a fully sampled file or a reference; csmri solve reconstructs it",
            name,
        )
    acceleration = float(acq.attrs.get("acceleration", round(acq.acceleration, 2)))
    case = _case(name, acceleration, acq, tuning, scored, maps, device)
    case.lambda_note = (
        f"measured k-space with {count} slice(s), none to spare and nothing to re-simulate: "
        "lambda NOT tuned; each CS method uses the calibrated default lambda for its "
        f"regulariser at {acq.acceleration:.1f}x (csmri.app.autolambda)."
        if short else _tuning_note(num_tuning, tuning)
    )
    return [case]


def _tuning_note(num_tuning: int, tuning: list[int]) -> str:
    if num_tuning:
        return f"lambda tuned per method on {len(tuning)} slice(s) that are never scored."
    return FIXED_NOTE


def _case(
    name: str,
    acceleration: float,
    acq: Acquisition,
    tuning: list[int],
    scored: list[int],
    maps: str,
    device: str,
    tuning_case: Case | None = None,
) -> Case:
    """A case of an acquisition: its maps estimated once, its solver inputs fixed."""
    ensure_maps(acq, maps, device)
    kspace, mask, coil_maps = acq.solver_inputs()
    attrs = {**acq.attrs, "realised_acceleration": acq.acceleration, "coils": acq.num_coils}
    if acq.is_multicoil:
        attrs.update(maps_seconds=acq.maps_seconds, maps_source=acq.maps_source or "file")
    return Case(name, acceleration, kspace, mask, acq.reference, tuning, scored, attrs,
                tuning_case, maps=coil_maps)


def default_center_fraction(acceleration: float) -> float:
    """Centre fraction paired with an acceleration as fastMRI does: ``0.32 / R`` (0.08 at 4x).

    Parameters
    ----------
    acceleration : float
        Nominal acceleration.

    Returns
    -------
    float
        Fraction of columns in the fully sampled centre.
    """
    return round(0.32 / acceleration, 4)


def build_cases(
    inputs: list[Path],
    accelerations: list[float],
    center_fractions: list[float],
    mask_type: str,
    seed: int,
    noise: float,
    num_tuning: int,
    axis: int = 2,
    slices: str | None = None,
    maps: str = "espirit",
    device: str = "cpu",
    trajectory: str | None = None,
) -> list[Case]:
    """Cases from input files: images simulated, k-space files (any coil count) as measured.

    Fully sampled k-space is masked retrospectively per acceleration; undersampled
    k-space keeps its own mask (:func:`cases_from_acquisition`).

    Parameters
    ----------
    inputs : list of Path
        Image files (``.npy``, ``.png``, NIfTI, fastMRI targets) or k-space ``.h5`` files;
        empty for the embedded sample.
    accelerations, center_fractions : list of float
        Paired mask parameters for image inputs.
    mask_type : {"random", "equispaced"}
        Mask family for image inputs.
    seed : int
        Seeds masks, phase and noise.
    noise : float
        Relative noise level of the simulation.
    num_tuning : int
        Tuning slices per case (0 when lambda is fixed).
    axis : int
        NIfTI slice axis.
    slices : str, optional
        Slice range ``A:B`` of image inputs.
    maps : {"espirit", "lowres"}
        Coil-map estimator of multi-coil k-space.
    device : str
        Torch device for the maps.
    trajectory : str, optional
        Simulate images on this radial/spiral trajectory instead of column masks.

    Returns
    -------
    list of Case
        One per image input and acceleration, one per k-space file.
    """
    from csmri.io import read_acquisition
    from csmri.io.images import load_sample, parse_slices, read_images, select_slices

    selection = parse_slices(slices)
    plan = (accelerations, center_fractions, mask_type, seed, noise, num_tuning, trajectory)
    if not inputs:
        return cases_from_images("sample", select_slices(load_sample(), selection), *plan)
    cases: list[Case] = []
    for path in inputs:
        if _has_kspace(path):
            acq = read_acquisition(path)
            cases += cases_from_acquisition(path.name, acq, accelerations, center_fractions,
                                            mask_type, seed, num_tuning, maps, device)
        else:
            images = read_images(path, axis=axis, slices=selection)
            cases += cases_from_images(path.name, images, *plan)
    return cases


def _has_kspace(path: Path) -> bool:
    """k-space files: BART ``.cfl``/``.hdr``, and ``.h5`` with ``kspace`` or ISMRMRD data."""
    if path.suffix.lower() in (".cfl", ".hdr"):
        return True
    if path.suffix.lower() == ".npz":  # radial/spiral k-space with SigPy's coord
        import zipfile

        try:
            with zipfile.ZipFile(path) as archive:
                return "coord.npy" in archive.namelist()
        except (OSError, zipfile.BadZipFile):
            return False
    if path.suffix.lower() != ".h5":
        return False
    import h5py

    try:
        with h5py.File(path, "r") as file:
            return "kspace" in file or "dataset" in file
    except OSError:
        return False

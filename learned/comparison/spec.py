"""Method specifications of a comparison: ``"zero-filled,tv-admm,unet"`` -> method objects.

Learned methods are passed in as factories by the caller, so that a comparison of CS
methods alone never loads a model (nor torch).
"""

from __future__ import annotations

from collections.abc import Callable

from csmri.app.methods import SOLVERS, CompressedSensing, ReconMethod, SenseAdjoint, ZeroFilled
from csmri.defaults import REGULARIZERS
from csmri.errors import UsageError

MULTICOIL_EXTRA = "sense-adjoint,grappa"
"""Added after ``zero-filled`` to the default methods when an input is multi-coil: the SENSE
adjoint, and GRAPPA, the scanner's own reconstruction."""

DEFAULT_METHODS = (
    "zero-filled,tv-fista,tv-admm,tgv-admm,tv-reweighted-admm,tgv-reweighted-admm,wavelet-fista,"
    "wavelet-admm,unet,unrolled"
)


def parse_methods(
    spec: str,
    lam: float | None,
    iters: int,
    factories: dict[str, Callable[[], ReconMethod]] | None = None,
    default_lambda: Callable[[str], float] | None = None,
    device: str = "cpu",
) -> list[ReconMethod]:
    """Build the methods named in a comma-separated specification.

    Parameters
    ----------
    spec : str
        Names: ``zero-filled``, ``sense-adjoint`` and ``grappa`` (multi-coil), ``REG-SOLVER``
        (REG in :data:`csmri.defaults.REGULARIZERS`, SOLVER in
        :data:`csmri.app.methods.SOLVERS`) or a key of ``factories``.
    lam : float or None
        Fixed lambda for every CS method; None takes ``default_lambda(reg)`` (a starting
        value that tuning may replace).
    iters : int
        Iterations of the CS methods.
    factories : dict, optional
        Other method names -> a callable building the method (e.g. ``{"unet": load}``).
    default_lambda : callable, optional
        Regulariser name -> lambda; :data:`csmri.reconstruct.DEFAULT_LAMBDA` when omitted.
    device : {"cpu", "cuda", "auto"}
        Where the CS methods run: ``cpu`` on the NumPy backend, otherwise on torch.

    Returns
    -------
    list of ReconMethod
        In the order given.

    Raises
    ------
    UsageError
        For an unknown or repeated name, or an empty list.
    """
    factories = factories or {}
    if default_lambda is None:
        from csmri.app.reconstruct import DEFAULT_LAMBDA

        default_lambda = DEFAULT_LAMBDA.__getitem__
    names = [part.strip() for part in spec.split(",") if part.strip()]
    if not names:
        raise UsageError("--methods lists no method")
    if len(set(names)) != len(names):
        raise UsageError("--methods lists a method twice")
    methods: list[ReconMethod] = []
    for name in names:
        reg, _, solver = name.rpartition("-")
        if name == "zero-filled":
            methods.append(ZeroFilled())
        elif name == "sense-adjoint":
            methods.append(SenseAdjoint())
        elif name == "grappa":
            from csmri.app.grappa import Grappa

            methods.append(Grappa())
        elif name in factories:
            methods.append(factories[name]())
        elif reg in REGULARIZERS and solver in SOLVERS:
            value = default_lambda(reg) if lam is None else lam
            methods.append(CompressedSensing(
                    reg=reg, solver=solver, lam=value, max_iter=iters, device=device
                ))
        else:
            raise UsageError(f"unknown method {name!r}; see csmri compare --help")
    return methods

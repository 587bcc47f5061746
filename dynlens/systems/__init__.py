"""Ground-truth dynamical systems: exact fields, analytic Jacobians and fixed points.

``available()`` lists the built-in systems, ``get(name, **params)`` builds one and
``from_dysts(name)`` wraps any flow of the optional ``dysts`` package.

Examples
--------
>>> import dynlens.systems as systems
>>> systems.available()
['arneodo', 'bistable2d', 'chaotic_rnn', 'lorenz', 'rossler']
>>> sys = systems.get("Lorenz", rho=28.0)
>>> sys.name, sys.dim, sys.kind, sys.period, sys.pts_per_period
('lorenz', 3, 'continuous', 1.5008, 100)
>>> sys.trajectory(5).shape
(5, 3)
"""

from __future__ import annotations

from typing import Any

from ..errors import DynlensTypeError
from ..utils import check_choice
from .base import ATOL, RTOL, GroundTruthSystem, Stability
from .chaotic_rnn import ChaoticRNN
from .dysts_wrapper import DystsSystem, from_dysts
from .flows import Arneodo, Bistable2D, Lorenz, Rossler

__all__ = [
    "ATOL",
    "RTOL",
    "Arneodo",
    "Bistable2D",
    "ChaoticRNN",
    "DystsSystem",
    "GroundTruthSystem",
    "Lorenz",
    "Rossler",
    "Stability",
    "available",
    "from_dysts",
    "get",
]

_REGISTRY: dict[str, type[GroundTruthSystem]] = {
    cls.name: cls for cls in (Arneodo, Bistable2D, ChaoticRNN, Lorenz, Rossler)
}


def available() -> list[str]:
    """Names of the built-in systems, sorted.

    Examples
    --------
    >>> available()
    ['arneodo', 'bistable2d', 'chaotic_rnn', 'lorenz', 'rossler']
    """
    return sorted(_REGISTRY)


def get(name: str | GroundTruthSystem, **params: Any) -> GroundTruthSystem:
    """Build the built-in system ``name`` (case-insensitive) with ``params`` overriding defaults.

    A :class:`GroundTruthSystem` passed as ``name`` is returned as is (then ``params`` must
    be empty).

    Parameters
    ----------
    name : str or GroundTruthSystem
        One of :func:`available` (any case), or a system to return unchanged.
    **params : float
        Parameter values overriding the system's ``defaults``.

    Raises
    ------
    DynlensValueError
        Unknown name (close names are suggested) or unknown parameter names.
    DynlensTypeError
        ``name`` neither a string nor a system, or parameters given with a system instance.

    Examples
    --------
    >>> get("arneodo", a=-5.0).params
    {'a': -5.0, 'b': 4.5, 'c': 1.0, 'd': -1.0}
    >>> get("lorentz")
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensValueError: name: expected one of ..., found 'lorentz'; did you mean 'lorenz'?
    """  # noqa: E501
    if isinstance(name, GroundTruthSystem):
        if params:
            raise DynlensTypeError(
                f"params: a system instance was passed as name, so parameters cannot be set; "
                f"found {sorted(params)}"
            )
        return name
    if not isinstance(name, str):
        raise DynlensTypeError(
            f"name: expected a system name (one of {available()}) or a GroundTruthSystem, "
            f"found {type(name).__name__}"
        )
    key = check_choice(name.lower(), available(), "name")
    return _REGISTRY[key](**params)

"""Ground-truth dynamical systems: exact fields, analytic Jacobians and fixed points.

``available()`` lists the registered systems (the built-in ones and any a user registered
with ``register``), ``get(name, **params)`` builds one and ``from_dysts(name)`` wraps any flow
of the optional ``dysts`` package. Every part of dynlens (``simulate``, sweeps, the command
line) reads this one registry.

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

from ..errors import DynlensTypeError, DynlensValueError
from ..utils import check_choice
from .base import ATOL, RTOL, GroundTruthSystem, Stability
from .chaotic_rnn import ChaoticRNN
from .dysts_wrapper import DystsSystem, from_dysts
from .flows import Arneodo, Bistable2D, Lorenz, Rossler
from .observation import Observation, ObservationRecipe, SimulationRequest

__all__ = [
    "ATOL",
    "RTOL",
    "Arneodo",
    "Bistable2D",
    "ChaoticRNN",
    "DystsSystem",
    "GroundTruthSystem",
    "Lorenz",
    "Observation",
    "ObservationRecipe",
    "Rossler",
    "SimulationRequest",
    "Stability",
    "available",
    "from_dysts",
    "get",
    "register",
]

_REGISTRY: dict[str, type[GroundTruthSystem]] = {}


def register(cls: type[GroundTruthSystem]) -> type[GroundTruthSystem]:
    """Add a system class to the registry under its ``name`` (usable as a decorator).

    Afterwards ``get(cls.name, **params)``, ``simulate(cls.name, ...)``, sweeps and the command
    line (``--import MODULE``) find it. Registering a class again (or its re-imported copy: same
    module and qualified name) is harmless; a name taken by another class is refused, so that a
    user module cannot silently change what ``"lorenz"`` means.

    Parameters
    ----------
    cls : type
        A subclass of :class:`GroundTruthSystem` whose class attribute ``name`` is a non-empty
        lower-case string (names are looked up case-insensitively).

    Returns
    -------
    type
        ``cls`` itself.

    Raises
    ------
    DynlensTypeError
        ``cls`` is not a :class:`GroundTruthSystem` subclass, or has no usable ``name``.
    DynlensValueError
        ``name`` already belongs to another class.

    Examples
    --------
    A system is written as in :mod:`dynlens.systems.base`; ``@register`` above its class (or
    ``register(MySystem)`` after it) makes it known by name:

    >>> register(Lorenz) is Lorenz  # registered already: harmless
    True
    >>> class Impostor(Arneodo):
    ...     name = "lorenz"
    >>> register(Impostor)
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensValueError: cls: the system name 'lorenz' is taken by dynlens.systems.flows.Lorenz; give Impostor another name, found name='lorenz'
    >>> register(Impostor())
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensTypeError: cls: expected a subclass of dynlens.systems.GroundTruthSystem, found Impostor(a=-5.5, b=4.5, c=1, d=-1, dim=3, kind='continuous', dt=0.0904029)
    """  # noqa: E501
    if not (isinstance(cls, type) and issubclass(cls, GroundTruthSystem)):
        raise DynlensTypeError(
            f"cls: expected a subclass of dynlens.systems.GroundTruthSystem, found {cls!r}")
    name = cls.name
    if not isinstance(name, str) or not name or name != name.lower():
        raise DynlensTypeError(
            f"cls: expected a non-empty lower-case string name on {cls.__name__} (the registry "
            f"name), found {name!r}")
    taken = _REGISTRY.get(name)
    if taken is not None and _where(taken) != _where(cls):
        raise DynlensValueError(
            f"cls: the system name {name!r} is taken by {_where(taken)}; give {cls.__name__} "
            f"another name, found name={name!r}")
    _REGISTRY[name] = cls
    return cls


def _where(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


for _cls in (Arneodo, Bistable2D, ChaoticRNN, Lorenz, Rossler):
    register(_cls)


def available() -> list[str]:
    """Names of the registered systems (built-in and user-registered), sorted.

    Examples
    --------
    >>> available()
    ['arneodo', 'bistable2d', 'chaotic_rnn', 'lorenz', 'rossler']
    """
    return sorted(_REGISTRY)


def get(name: str | GroundTruthSystem, **params: Any) -> GroundTruthSystem:
    """Build the registered system ``name`` (case-insensitive) with ``params`` overriding defaults.

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

"""Grouped settings of :func:`~dynlens.analysis.find_fixed_points`.

:class:`SolverOptions` holds how long and how the search runs, :class:`Tolerances` when a
candidate counts as a fixed point, a duplicate, a slow point or a marginal direction. Both
are frozen and validate their fields when made, so one object can be shared between calls.
``find_fixed_points`` also takes every setting as a flat keyword (``max_iter=...``,
``tol_q=...``); a flat keyword overrides the grouped field, and giving one setting both ways
with different values is an error (:func:`dynlens.utils.merge_settings`).

Examples
--------
>>> SolverOptions(patience=8)
SolverOptions(max_iter=50, patience=8, adam_steps=0, adam_lr=None)
>>> Tolerances(q=1e-12).q
1e-12
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from ..utils import (
    check_fields,
    check_nonnegative_int,
    check_positive_float,
    check_positive_int,
    merge_settings,
)

__all__ = ["SolverOptions", "Tolerances"]


def _optional_positive_float(value: Any, name: str) -> float | None:
    return None if value is None else check_positive_float(value, name)


#: The check of each field (it returns the value in its canonical type).
_CHECKS = {
    "SolverOptions": {"max_iter": check_nonnegative_int, "patience": check_positive_int,
                      "adam_steps": check_nonnegative_int, "adam_lr": _optional_positive_float},
    "Tolerances": dict.fromkeys(("q", "unique", "slow", "marginal"), _optional_positive_float),
}


def _validate(options: Any) -> None:
    """Check every field of a frozen settings object, naming the field; store canonical types."""
    check_fields(options, _CHECKS[type(options).__name__])


@dataclass(frozen=True)
class SolverOptions:
    """How the fixed-point search runs.

    Parameters
    ----------
    max_iter : int
        Trust-region iterations at most (0: none, the starting states are described as
        they are).
    patience : int
        Iterations a candidate may go without a tenfold decrease of q before it stops (it is
        creeping along a slow manifold). Higher values find more of the isolated fixed points
        of large trained networks, in proportionally more time.
    adam_steps : int
        Joint Adam steps on q before the trust-region search (default 0: none).
    adam_lr : float, optional
        Adam learning rate; default 0.02 times the per-coordinate spread of the initial
        states.

    Examples
    --------
    >>> import dynlens as dl
    >>> lorenz = dl.systems.get("lorenz")
    >>> states = lorenz.trajectory(200)
    >>> found = dl.find_fixed_points(lorenz, states, n_inits=32, progress=False,
    ...                              solver=dl.analysis.SolverOptions(max_iter=50))
    >>> unsearched = dl.find_fixed_points(lorenz, states, n_inits=32, progress=False,
    ...                                   solver=dl.analysis.SolverOptions(max_iter=0))
    >>> len(found), len(unsearched)  # Lorenz's three fixed points; none without a search
    (3, 0)
    >>> SolverOptions(max_iter=20.5)
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensValueError: max_iter: expected a non-negative integer, found 20.5
    """

    max_iter: int = 50
    patience: int = 5
    adam_steps: int = 0
    adam_lr: float | None = None

    def __post_init__(self) -> None:
        _validate(self)


@dataclass(frozen=True)
class Tolerances:
    """When a candidate is a fixed point, a duplicate, a slow point; when a direction is
    marginal. ``None`` derives the tolerance from the dynamics' dtype and the scale of the
    initial states (see :func:`~dynlens.analysis.find_fixed_points`).

    Parameters
    ----------
    q : float, optional
        A candidate is a fixed point when ``q <= q`` (flat keyword ``tol_q``).
    unique : float, optional
        Deduplication distance (``tol_unique``).
    slow : float, optional
        Unconverged candidates with ``q`` at most this are slow points (``tol_slow``).
    marginal : float, optional
        Per-bin growth rate under which an eigen-direction is marginal (``marginal_tol``).

    Examples
    --------
    >>> Tolerances()  # every tolerance derived from the dtype and the states' scale
    Tolerances(q=None, unique=None, slow=None, marginal=None)
    >>> import dynlens as dl
    >>> lorenz = dl.systems.get("lorenz")
    >>> strict = dl.analysis.Tolerances(q=1e-10)
    >>> fps = dl.find_fixed_points(lorenz, lorenz.trajectory(200), n_inits=32,
    ...                            tolerances=strict, progress=False)
    >>> fps.info["tol_q"], bool(fps.q.max() <= 1e-10), len(fps)
    (1e-10, True, 3)
    >>> Tolerances(q=0)
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensValueError: q: expected a positive finite number, found 0
    """

    q: float | None = None
    unique: float | None = None
    slow: float | None = None
    marginal: float | None = None

    def __post_init__(self) -> None:
        _validate(self)


#: Flat keyword of find_fixed_points -> field of the grouped settings.
SOLVER_KEYWORDS = {"max_iter": "max_iter", "patience": "patience", "adam_steps": "adam_steps",
                   "adam_lr": "adam_lr"}
TOLERANCE_KEYWORDS = {"tol_q": "q", "tol_unique": "unique", "tol_slow": "slow",
                      "marginal_tol": "marginal"}

_Options = TypeVar("_Options", SolverOptions, Tolerances)


def _differs(value: Any, default: Any) -> bool:
    """Whether a setting was given: anything but its default (of the default's own type,
    so that e.g. ``max_iter=50.0`` is still given, and rejected, as it always was)."""
    if default is None:
        return value is not None
    return not (type(value) is type(default) and value == default)


def merge_options(cls: type[_Options], grouped: Any, argument: str, keywords: dict[str, str],
                  flat: dict[str, Any]) -> _Options:
    """``grouped`` (an instance of ``cls`` or None) with the flat keywords that were given.

    A flat keyword counts as given when it differs from its default; it is validated under
    its own name, then :func:`dynlens.utils.merge_settings` applies the one rule of option
    groups (the flat value overrides; given both ways with different values, an error).
    """
    default = cls()
    given = {keyword: _CHECKS[cls.__name__][field_name](flat[keyword], keyword)
             for keyword, field_name in keywords.items()
             if _differs(flat[keyword], getattr(default, field_name))}
    return merge_settings(cls, grouped, given, argument, names=keywords)

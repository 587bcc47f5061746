"""Linearize a Dynamics at given states and convert between vector fields and per-bin maps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg

from ..errors import DynlensValueError
from ..utils import as_numpy, check_positive_float
from ._prepare import Evaluator, as_states
from ._spectra import classify, default_marginal_tol, sorted_eig

__all__ = ["Linearization", "linearize"]


@dataclass(frozen=True)
class Linearization:
    """Jacobians of a Dynamics at some states, with their eigendecomposition.

    Attributes
    ----------
    x : ndarray [n, dim]
        The states.
    jacobians : ndarray [n, dim, dim]
        ``dF/dx`` (discrete map) or ``df/dx`` (vector field).
    eigenvalues : ndarray [n, dim], complex
        Sorted fastest-growing first: by ``|lambda|`` (discrete) or ``Re lambda``
        (continuous), descending.
    eigenvectors : ndarray [n, dim, dim], complex
        ``eigenvectors[i, :, k]`` belongs to ``eigenvalues[i, k]``.
    kind : {"continuous", "discrete"}
    dt : float or None
        One data bin in the system's time units.
    marginal_tol : float
        Per-bin growth rate below which a direction counts as marginal (see ``stability``).
    n_unstable, n_marginal : ndarray [n] of int
        Directions growing faster than ``marginal_tol`` per bin, and directions with
        ``|growth| <= marginal_tol`` (|lambda| ~ 1 or Re lambda ~ 0).
    stability : ndarray [n] of str
        "unstable" (any unstable direction), else "marginal" (any marginal one), else "stable".

    Examples
    --------
    >>> import numpy as np
    >>> lin = Linearization.from_jacobians(np.array([[[0.0, 1.0], [-1.0, -0.1]]]),
    ...                                    kind="continuous", dt=0.1)
    >>> lin.stability.tolist()
    ['stable']
    >>> lin
    Linearization(n=1, dim=2, kind='continuous', dt=0.1, stable=1, marginal=0, unstable=0)
    >>> np.round(np.abs(lin.to_discrete().eigenvalues), 4).tolist()
    [[0.995, 0.995]]
    """

    x: np.ndarray
    jacobians: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    kind: str
    dt: float | None
    marginal_tol: float
    n_unstable: np.ndarray = field(repr=False)
    n_marginal: np.ndarray = field(repr=False)
    stability: np.ndarray = field(repr=False)

    def __repr__(self) -> str:  # the arrays' shapes and the stability counts, not the arrays
        counts = {s: int(np.sum(self.stability == s)) for s in ("stable", "marginal", "unstable")}
        dt = "" if self.dt is None else f", dt={self.dt:g}"
        return (f"Linearization(n={len(self.x)}, dim={self.jacobians.shape[-1]}, "
                f"kind={self.kind!r}{dt}, {', '.join(f'{k}={v}' for k, v in counts.items())})")

    @classmethod
    def from_jacobians(cls, jacobians: Any, kind: str, dt: float | None = None,
                       x: Any = None, marginal_tol: float | None = None) -> Linearization:
        """Build a linearization from Jacobians ``[n, dim, dim]`` (or one ``[dim, dim]``)."""
        jac = as_numpy(jacobians, "jacobians")
        if jac.ndim == 2:
            jac = jac[None]
        if jac.ndim != 3 or jac.shape[1] != jac.shape[2]:
            raise DynlensValueError(
                f"jacobians: expected shape [n, dim, dim] or [dim, dim], found {jac.shape}"
            )
        if kind not in ("continuous", "discrete"):
            raise DynlensValueError(
                f"kind: expected 'continuous' or 'discrete', found {kind!r}"
            )
        real = not np.iscomplexobj(jac)
        jac = jac.astype(np.float64 if real else np.complex128)
        if not np.all(np.isfinite(jac)):
            raise DynlensValueError("jacobians: expected finite values, found NaN/inf")
        if marginal_tol is None:
            marginal_tol = default_marginal_tol(float(np.finfo(np.float64).eps))
        xs = np.full(jac.shape[:2], np.nan) if x is None else np.asarray(x, np.float64)
        vals, vecs = sorted_eig(jac, kind)
        n_unstable, n_marginal, labels = classify(vals, kind, dt, marginal_tol)
        return cls(xs, jac, vals, vecs, kind, None if dt is None else float(dt),
                   float(marginal_tol), n_unstable, n_marginal, labels)

    def __len__(self) -> int:
        return self.jacobians.shape[0]

    def _bin(self, dt: float | None) -> float:
        if dt is not None:
            return check_positive_float(dt, "dt")
        return 1.0 if self.dt is None else self.dt

    def to_discrete(self, dt: float | None = None) -> Linearization:
        """The per-bin map ``M = exp(dt J)`` of a continuous linearization.

        ``exp(dt J)`` is the exact flow of the linearized field over one bin (computed with
        ``scipy.linalg.expm``); ``I + dt J`` (used by Sedler et al. 2023) is its first-order
        approximation, accurate only when ``|dt lambda| << 1`` for every eigenvalue.
        A discrete linearization is returned unchanged.

        Parameters
        ----------
        dt : float, optional
            Bin width; default ``self.dt``, or 1 (time measured in bins) when that is None.
        """
        if self.kind == "discrete":
            return self
        step = self._bin(dt)
        maps = scipy.linalg.expm(step * self.jacobians)
        return Linearization.from_jacobians(maps, "discrete", step, self.x, self.marginal_tol)

    def to_continuous(self, dt: float | None = None) -> Linearization:
        """The generator ``J = logm(M) / dt`` of a per-bin map ``M`` (principal branch).

        The principal logarithm takes eigenvalue arguments in (-pi, pi]: rotations faster than
        half a turn per bin are aliased, and negative real eigenvalues give a complex ``J``
        (no real vector field has such a time-``dt`` map). The result is real whenever its
        imaginary part is negligible. A continuous linearization is returned unchanged.
        """
        if self.kind == "continuous":
            return self
        step = self._bin(dt)
        gen = scipy.linalg.logm(self.jacobians) / step
        if np.iscomplexobj(gen) and np.abs(gen.imag).max(initial=0.0) <= (
            1e-10 * max(1.0, np.abs(gen).max(initial=0.0))
        ):
            gen = gen.real
        return Linearization.from_jacobians(gen, "continuous", step, self.x, self.marginal_tol)


def linearize(dynamics: Any, x: Any, inputs: Any = None, *,
              marginal_tol: float | None = None) -> Linearization:
    """Jacobians and eigendecomposition of a Dynamics at the states ``x``.

    Parameters
    ----------
    dynamics : Dynamics or callable with ``dim`` and ``kind``
        Evaluated in its own dtype and device; an analytic ``jacobian(x)`` method is used
        when present, otherwise exact Jacobians from ``torch.func``. Parameters are never
        modified.
    x : array-like [n, dim], [trials, bins, dim] or [dim]
        States to linearize at.
    inputs : array-like [n_inputs], optional
        Constant input ``u``.
    marginal_tol : float, optional
        Per-bin growth rate counted as marginal; default ``2 sqrt(eps)`` of the dtype.

    Returns
    -------
    Linearization

    Examples
    --------
    >>> import torch
    >>> from dynlens import Dynamics
    >>> class Saddle(Dynamics):
    ...     def __init__(self):
    ...         super().__init__(dim=2, kind="continuous", dt=0.1)
    ...     def forward(self, x, u=None):
    ...         return torch.stack([x[..., 0], -2 * x[..., 1]], -1)
    >>> lin = linearize(Saddle(), [0.0, 0.0])
    >>> lin.eigenvalues.real.tolist(), lin.n_unstable.tolist()
    ([[1.0, -2.0]], [1])
    """
    ev = Evaluator(dynamics, inputs)
    states = as_states(x, "x", ev.dim)[0]
    jac = ev.jacobian(ev.tensor(states)).detach().cpu().numpy()
    tol = default_marginal_tol(ev.eps) if marginal_tol is None else check_positive_float(
        marginal_tol, "marginal_tol")
    return Linearization.from_jacobians(jac, ev.kind, ev.dt, states, tol)

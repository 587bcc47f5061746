"""Lyapunov spectra and the Kaplan-Yorke dimension of any Dynamics, learned or true.

The standard QR (Benettin) method: tangent vectors ``Y`` ride along a trajectory, ``Y`` grows
as the linearised dynamics say (a map: ``Y <- J(x) Y``; a field: ``dY/dt = J(x) Y``, the
variational equations, integrated together with ``x`` by the one
:func:`~dynlens.dynamics.rollout`), and every so often ``Y = Q R`` is re-orthonormalised; the
exponents are the average growth rates ``log |R_ii|``. Jacobians are the dynamics' own
(analytic for ground-truth systems and dynlens's GRU cells, exact automatic differentiation
otherwise). Several starting states run as one batch; their spread is the uncertainty.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from ..dynamics import Dynamics, eval_mode, rollout
from ..errors import DynlensValueError
from ..utils import check_nonnegative_int, check_positive_float, check_positive_int
from ._prepare import Evaluator, as_states

__all__ = ["LyapunovSpectrum", "kaplan_yorke_dimension", "lyapunov_spectrum"]

# Re-orthonormalise before the tangent vectors' growth ratio passes this (float32 keeps ~7
# digits): blocks of bins between QR steps shrink or grow to keep it between these bounds.
_MAX_LOG_RATIO = 12.0
_MIN_LOG_RATIO = 3.0


def kaplan_yorke_dimension(exponents: Any) -> float:
    """The Kaplan-Yorke (Lyapunov) dimension ``j + sum_{i<=j} l_i / |l_{j+1}|``.

    ``j`` is the largest number of leading exponents (sorted descending) with a non-negative
    sum. All sums positive: the dimension is the number of exponents; a negative first
    exponent: 0.

    Parameters
    ----------
    exponents : array-like
        Finite Lyapunov exponents, in any order (they are sorted here).

    Examples
    --------
    >>> round(kaplan_yorke_dimension([0.9056, 0.0, -14.5723]), 3)  # Lorenz
    2.062
    >>> kaplan_yorke_dimension([-0.5, -1.0])  # a stable fixed point
    0.0
    """
    lam = np.sort(np.asarray(exponents, dtype=np.float64).ravel())[::-1]
    if lam.size == 0 or not np.all(np.isfinite(lam)):
        raise DynlensValueError(
            f"exponents: expected finite Lyapunov exponents, found {lam.tolist()}")
    sums = np.cumsum(lam)
    j = int(np.sum(sums >= 0))
    if j == 0:
        return 0.0
    if j == lam.size:
        return float(lam.size)
    return float(j + sums[j - 1] / abs(lam[j]))


@dataclass(frozen=True, eq=False)
class LyapunovSpectrum:
    """The result of :func:`lyapunov_spectrum`.

    Attributes
    ----------
    exponents : ndarray [k]
        Mean over the starting states, descending; per unit of the system's own time for
        continuous dynamics (``dt`` is one bin), per step for maps.
    spread : ndarray [k]
        Standard deviation of each exponent over the starting states.
    per_start : ndarray [n_starts, k]
        Each starting state's estimate.
    trace_time : ndarray [m]
        Times (or steps) at which the running estimate was recorded.
    trace : ndarray [m, k]
        Running estimate (mean over starts) at those times: the convergence trace.
    kind : {"continuous", "discrete"}
    dt : float or None
        One bin of the dynamics, in its own time units.

    Examples
    --------
    The map ``x <- diag(0.5, 0.25) x`` has the exponents ``log 0.5`` and ``log 0.25`` per
    step:

    >>> import numpy as np, torch
    >>> import dynlens as dl
    >>> class Shrink(dl.Dynamics):
    ...     def __init__(self):
    ...         super().__init__(dim=2, kind="discrete")
    ...     def forward(self, x, u=None):
    ...         return x * torch.tensor([0.5, 0.25], dtype=x.dtype)
    >>> spec = dl.lyapunov_spectrum(Shrink(), [1.0, 1.0], n_steps=200, n_starts=4)
    >>> spec
    LyapunovSpectrum([-0.6931 +- 0.0000, -1.3863 +- 0.0000] per step; Kaplan-Yorke 0.000, 4 starts)
    >>> bool(np.allclose(spec.exponents, np.log([0.5, 0.25])))
    True
    >>> bool(np.isclose(spec.sum, np.log(0.5 * 0.25))), spec.per_start.shape
    (True, (4, 2))
    >>> (spec.per_time(0.5) / spec.exponents).tolist()  # per time unit when a bin lasts 0.5
    [2.0, 2.0]
    """

    exponents: np.ndarray
    spread: np.ndarray
    per_start: np.ndarray
    trace_time: np.ndarray
    trace: np.ndarray
    kind: str
    dt: float | None

    @property
    def kaplan_yorke(self) -> float:
        """Kaplan-Yorke dimension of the mean exponents (meaningful for a full spectrum)."""
        return kaplan_yorke_dimension(self.exponents)

    @property
    def sum(self) -> float:
        """Sum of the exponents: the mean divergence of the field (the mean log |det J| of a
        map) along the trajectory, for a full spectrum."""
        return float(self.exponents.sum())

    @property
    def per_bin(self) -> np.ndarray:
        """The exponents per bin (per step of a map; times ``dt`` for a field)."""
        return self.exponents * (self.dt if self.kind == "continuous" else 1.0)

    def per_time(self, bin_width: float) -> np.ndarray:
        """The exponents per unit of another clock in which one bin lasts ``bin_width``:
        e.g. a model of data binned at ``data.bin_width`` of the true system's time, in the
        true system's units, whatever the model's own time (a map's steps, a NODE's
        ``bin_dt``)."""
        return self.rescaled(bin_width).exponents

    def rescaled(self, bin_width: float) -> LyapunovSpectrum:
        """This spectrum (exponents, spreads, trace) per unit of a clock in which one bin
        lasts ``bin_width`` (see :meth:`per_time`)."""
        factor = (self.dt if self.kind == "continuous" else 1.0) / check_positive_float(
            bin_width, "bin_width")
        return replace(self, exponents=self.exponents * factor, spread=self.spread * factor,
                       per_start=self.per_start * factor, trace=self.trace * factor,
                       trace_time=self.trace_time / (self.dt if self.kind == "continuous"
                                                     else 1.0) * bin_width,
                       kind="continuous", dt=bin_width)

    def __repr__(self) -> str:
        unit = "per time unit" if self.kind == "continuous" else "per step"
        values = ", ".join(f"{v:.4f} +- {s:.4f}" for v, s in zip(self.exponents, self.spread))
        return (f"LyapunovSpectrum([{values}] {unit}; Kaplan-Yorke {self.kaplan_yorke:.3f}, "
                f"{len(self.per_start)} starts)")


class _Tangent(Dynamics):
    """The dynamics together with its tangent vectors: state ``[x, vec(Y)]``."""

    def __init__(self, ev: Evaluator, k: int) -> None:
        super().__init__(dim=ev.dim * (1 + k), kind=ev.kind, dt=ev.dt)
        self.ev, self.k = ev, k
        self.dtype, self.device = ev.dtype, ev.device  # what check_dynamics would probe for

    def forward(self, z: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        if self.k == 0:
            return self.ev(z)
        d = self.ev.dim
        x, y = z[:, :d], z[:, d:].reshape(-1, d, self.k)
        return torch.cat([self.ev(x), (self.ev.jacobian(x) @ y).reshape(-1, d * self.k)], 1)


def lyapunov_spectrum(dynamics: Any, x0: Any, n_steps: int | None = None,
                      dt: float | None = None, seed: int = 0, *, k: int | None = None,
                      n_starts: int = 64, transient: int | None = None,
                      substeps: int | None = None, inputs: Any = None) -> LyapunovSpectrum:
    """The Lyapunov spectrum (or its first ``k`` exponents) by the QR method.

    Parameters
    ----------
    dynamics : Dynamics or callable with ``dim`` and ``kind``
        A map or a vector field: a model's generator, a ground-truth system, your own module.
    x0 : array-like [dim] or [n, dim]
        One state (``n_starts`` starting states are then taken along its trajectory after
        the transient) or several (each used as a start).
    n_steps : int, optional
        Bins (steps of a map) measured per start after the transient. Default: 2000 for
        continuous dynamics, 5000 for maps.
    dt : float, optional
        One bin of a continuous field in its own time units (default ``dynamics.dt``, else
        1); integrated with ``substeps`` RK4 steps per bin. Ignored for maps.
    seed : int
        Seeds the initial tangent vectors (and nothing else: the method is deterministic).
    k : int, optional
        Number of exponents (default: all ``dim``).
    n_starts : int
        Starting states when ``x0`` is one state, taken ``max(50, transient)`` bins apart
        along its trajectory (they run as one batch, so many cost little more than one).
    transient : int, optional
        Bins discarded before measuring, by the trajectory and again by the tangent vectors
        (default ``n_steps // 10``).
    substeps : int, optional
        RK4 steps per bin for continuous dynamics; default: enough to keep the step times
        the largest |eigenvalue| of the Jacobian at the starting states under 0.25.
    inputs : array-like [n_inputs], optional
        A constant input to the dynamics.

    Returns
    -------
    LyapunovSpectrum

    Examples
    --------
    >>> import numpy as np, dynlens as dl
    >>> lorenz = dl.systems.get("lorenz")
    >>> spec = dl.lyapunov_spectrum(lorenz, lorenz.default_x0, n_steps=500, n_starts=32)
    >>> bool(abs(spec.sum + 13.6667) < 1e-3)  # the divergence -(sigma + 1 + beta)
    True
    >>> bool(abs(spec.exponents[0] - 0.906) < 0.15)  # textbook 0.9056 (a short run)
    True
    """
    ev = Evaluator(dynamics, inputs)
    k = ev.dim if k is None else check_positive_int(k, "k")
    if k > ev.dim:
        raise DynlensValueError(f"k: expected at most dim={ev.dim} exponents, found {k}")
    continuous = ev.kind == "continuous"
    n_steps = check_positive_int(n_steps if n_steps is not None
                                 else (2000 if continuous else 5000), "n_steps")
    transient = check_nonnegative_int(transient if transient is not None else n_steps // 10,
                                      "transient")
    bin_ = check_positive_float(dt if dt is not None else (ev.dt or 1.0), "dt")
    seed = check_nonnegative_int(seed, "seed")
    starts = as_states(x0, "x0", ev.dim, ndims=(1, 2))[0]
    n_starts = check_positive_int(n_starts, "n_starts")
    fixed = None if substeps is None else check_positive_int(substeps, "substeps")
    with torch.no_grad(), eval_mode(dynamics):
        x = ev.tensor(starts)
        if continuous and fixed is None:  # a first guess for the way onto the attractor
            fixed_guess = 2 * _default_substeps(ev, x, bin_)
            x = _starting_states(_Stepper(ev, bin_, fixed_guess), x, n_starts, transient)
            step = _Stepper(ev, bin_, _default_substeps(ev, x, bin_))  # measured on it
        else:
            step = _Stepper(ev, bin_ if continuous else None, fixed or 1)
            x = _starting_states(step, x, n_starts, transient)
        logs, trace_t, trace = _qr_run(step, x, k, n_steps, seed, warmup=transient)
    unit = bin_ if continuous else 1.0
    per_start = logs / (n_steps * unit)
    order = np.argsort(-per_start.mean(0))
    return LyapunovSpectrum(
        exponents=per_start.mean(0)[order], spread=per_start.std(0)[order],
        per_start=per_start[:, order], trace_time=trace_t * unit, trace=trace[:, order],
        kind=ev.kind, dt=bin_ if continuous else None)


def _default_substeps(ev: Evaluator, x: torch.Tensor, bin_: float) -> int:
    """RK4 steps per bin keeping ``h * rho(J) <= 0.25`` at the given states (``rho``: 1.5
    times the largest |eigenvalue| of the field's Jacobian there, a margin for the parts of
    the attractor they miss), for an accurate tangent integration."""
    with torch.no_grad():
        rho = 1.5 * float(torch.linalg.eigvals(ev.jacobian(x).double()).abs().max())
    return max(1, int(np.ceil(bin_ * rho / 0.25)))


class _Stepper:
    """Advances states, or states with tangents, by whole bins through :func:`rollout`."""

    def __init__(self, ev: Evaluator, bin_: float | None, substeps: int) -> None:
        self.ev, self.bin, self.substeps = ev, bin_, substeps

    def _with_dt(self, dynamics: Dynamics) -> Dynamics:
        if self.bin is not None:
            dynamics.dt = self.bin
        return dynamics

    def states(self, x: torch.Tensor, n_bins: int) -> torch.Tensor:
        """The states of ``n_bins`` further bins ``[n, n_bins, dim]`` (no tangents)."""
        field = self._with_dt(_Tangent(self.ev, 0))
        return rollout(field, x, n_bins + 1, solver="rk4", substeps=self.substeps)[:, 1:]

    def tangents(self, x: torch.Tensor, y: torch.Tensor,
                 n_bins: int) -> tuple[torch.Tensor, torch.Tensor]:
        """State and tangent vectors ``n_bins`` bins later."""
        d, k = x.shape[1], y.shape[2]
        field = self._with_dt(_Tangent(self.ev, k))
        z = rollout(field, torch.cat([x, y.reshape(-1, d * k)], 1), n_bins + 1,
                    solver="rk4", substeps=self.substeps)[:, -1]
        return z[:, :d], z[:, d:].reshape(-1, d, k)


def _starting_states(step: _Stepper, x: torch.Tensor, n_starts: int,
                     transient: int) -> torch.Tensor:
    """After ``transient`` bins: the states themselves (several given), or ``n_starts``
    states taken every 50 bins along the trajectory of one."""
    if transient:
        x = step.states(x, transient)[:, -1]
    if x.shape[0] > 1 or n_starts == 1:
        return x
    spacing = max(50, transient)
    return step.states(x, spacing * n_starts)[0, spacing - 1::spacing].contiguous()


def _qr_run(step: _Stepper, x: torch.Tensor, k: int, n_steps: int, seed: int,
            warmup: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Summed ``log |R_ii|`` per start over ``n_steps`` bins after ``warmup`` bins in which
    the tangent vectors turn towards the growing directions; and the running trace."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.linalg.qr(torch.randn(x.shape[0], x.shape[1], k, generator=gen,
                                    dtype=torch.float64))[0].to(x.dtype).to(x.device)
    logs = np.zeros((x.shape[0], k))
    trace_t, trace = [], []
    done, block = -warmup, 1
    while done < n_steps:
        block = min(block, n_steps - done if done >= 0 else -done)
        x, y = step.tangents(x, y, block)
        q, r = torch.linalg.qr(y)
        diag = r.diagonal(dim1=1, dim2=2)
        grow = torch.log(diag.abs()).double().cpu().numpy()
        if not np.all(np.isfinite(grow)):
            raise DynlensValueError(
                "dynamics: the trajectory or its tangent vectors left the finite numbers; "
                "start on the attractor or shorten dt")
        y = q * torch.sign(diag)[:, None, :]
        done += block
        if done > 0:  # past the tangent vectors' warm-up
            logs += grow
            trace_t.append(done)
            trace.append(logs.mean(0) / done)
        ratio = max(float(np.abs(grow).max()), float(np.max(grow.max(1) - grow.min(1))))
        if ratio < _MIN_LOG_RATIO:
            block *= 2
        elif ratio > _MAX_LOG_RATIO and block > 1:
            block //= 2
    return logs, np.asarray(trace_t, dtype=np.float64), np.asarray(trace)

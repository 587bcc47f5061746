"""Whole bins of a vector field and its tangent vectors by one of scipy's error-controlled
solvers: DOP853 (explicit, order 8) or BDF (implicit, for stiff fields).

A fixed-step explicit scheme (RK4) keeps its step under a limit set by the fastest direction
of the field's Jacobian, however slowly the trajectory itself moves: on a stiff field, many
steps per bin. BDF (variable order and step, Newton iterations on a sparse Jacobian) takes
the steps accuracy asks for instead; DOP853 shortens its steps only where the field changes
fast (a kink of a piecewise-linear field). All starts, with their tangent vectors and volume
growth (the variational equations of :mod:`dynlens.analysis.lyapunov`), are one system.
BDF's Jacobian for Newton is block-diagonal: the field's exact Jacobian ``J(x)`` for the
state and again for each tangent vector; the second-derivative coupling of the tangents to
the state is left out: it only slows Newton's convergence, not the solution, which the
error control holds to its tolerance.

What BDF cannot skip: a tangent vector along a fast contracting direction is renormalised
at every QR step and its decay must be resolved to measure its exponent, so on a full
spectrum the fast time scale comes back. BDF pays for the leading exponents of a stiff field
(measured in benchmarks/bench_lyapunov_dysts.md).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import sparse
from scipy.integrate import solve_ivp

from ._prepare import Evaluator

__all__ = ["SOLVERS", "ScipyStepper"]

SOLVERS = {"dop853": "DOP853", "bdf": "BDF"}  # dynlens's names -> scipy's
# Relative accuracy: at 1e-7 DOP853 holds the sum of AtmosphericRegime's exponents to 1e-6 of
# its divergence (RK4 at its default substeps: 7e-6); BDF at 1e-6 already misses by 8e-3.
_RTOL = {"dop853": 1e-7, "bdf": 1e-8}
_EPS_RTOL = 1e3  # ... but no finer than this many machine epsilons (float32 models)
_ATOL_FLOOR = 1e-3  # a state component's absolute scale: at least this share of the largest
# A tangent vector's absolute scale: between QR steps a column shrinks by up to ~e^-24 (twice
# lyapunov's _MAX_LOG_RATIO) and must stay resolved relative to itself, or the most
# contracting exponent (and the sum) comes out wrong; no finer than float32 can hold.
_TANGENT_SCALE = 1e-12
_EPS_SCALE = 1e2  # machine epsilons: the finest tangent scale a model's dtype allows


class ScipyStepper:
    """Advances states, or states with tangents, by whole bins with a scipy solver.

    The same interface as the RK4 stepper of :mod:`dynlens.analysis.lyapunov`: ``states``
    and ``tangents``; ``stats`` counts the field evaluations, Jacobians and LU
    factorisations over the bins advanced.

    Parameters
    ----------
    ev : Evaluator
        The vector field (continuous dynamics).
    bin_ : float
        One bin in the field's own time units.
    method : {"dop853", "bdf"}
        The solver (a key of :data:`SOLVERS`).
    """

    substeps = None

    def __init__(self, ev: Evaluator, bin_: float, method: str) -> None:
        self.ev, self.bin, self.method = ev, bin_, method
        self.rtol = max(_RTOL[method], _EPS_RTOL * ev.eps)
        self.tangent_scale = max(_TANGENT_SCALE, _EPS_SCALE * ev.eps)
        self.stats = {"bins": 0, "nfev": 0, "njev": 0, "nlu": 0}

    def states(self, x: torch.Tensor, n_bins: int) -> torch.Tensor:
        """The states of ``n_bins`` further bins ``[n, n_bins, dim]`` (no tangents)."""
        w, _ = self._solve(x[:, None, :], n_bins, volume=False, every_bin=True)
        return w[:, :, 0, :]

    def tangents(self, x: torch.Tensor, y: torch.Tensor,
                 n_bins: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """State, tangent vectors and summed volume growth ``n_bins`` bins later."""
        w, c = self._solve(torch.cat([x[:, None, :], y.transpose(1, 2)], 1), n_bins,
                           volume=True, every_bin=False)
        w = w[:, -1]
        return w[:, 0], w[:, 1:].transpose(1, 2), c

    def _solve(self, w0: torch.Tensor, n_bins: int, volume: bool,
               every_bin: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Columns ``w`` (the state, then the tangent vectors) ``[n, bins, m, dim]`` at every
        bin (or the last only) and the volume growth ``[n]``. A batch the solver cannot
        finish is solved start by start; the starts that fail alone, or begin outside the
        finite numbers, come back as NaN (the caller drops them)."""
        n = w0.shape[0]
        z0 = w0.double().cpu().numpy()
        times = self.bin * np.arange(1, n_bins + 1) if every_bin else np.array(
            [self.bin * n_bins])
        out = np.full((n, len(times), z0[0].size + volume), np.nan)
        live = np.flatnonzero(np.isfinite(z0.reshape(n, -1)).all(1))  # escaped: stay NaN
        batch = self._solve_batch(z0[live], times, volume) if len(live) else None
        if batch is not None:
            out[live] = batch
        elif len(live) > 1:  # a start escaped (or is stiffer than the solver allows) on the way
            for i in live:
                alone = self._solve_batch(z0[i:i + 1], times, volume)
                out[i] = np.nan if alone is None else alone[0]
        w = torch.as_tensor(out[..., : z0[0].size].reshape(n, len(times), *w0.shape[1:]),
                            dtype=w0.dtype, device=w0.device)
        c = torch.as_tensor(out[:, -1, -1] if volume else np.zeros(n), dtype=w0.dtype,
                            device=w0.device)
        self.stats["bins"] += n_bins
        return w, c

    def _solve_batch(self, z0: np.ndarray, times: np.ndarray,
                     volume: bool) -> np.ndarray | None:
        """The solution ``[n, len(times), m * dim (+ 1)]`` from columns ``z0`` ``[n, m, dim]``,
        or None when the solver stops short (a step size below its limit)."""
        n, m, d = z0.shape
        size = n * m * d
        fun, jac = self._system(n, m, d, volume)
        y0 = np.concatenate([z0.ravel(), np.zeros(n if volume else 0)])
        with np.errstate(all="ignore"):
            sol = solve_ivp(fun, (0.0, float(times[-1])), y0, method=SOLVERS[self.method],
                            t_eval=times, rtol=self.rtol, atol=self._atol(z0, volume),
                            **({"jac": jac} if self.method == "bdf" else {}))
        for key in ("nfev", "njev", "nlu"):
            self.stats[key] += int(getattr(sol, key))
        if sol.status != 0 or not np.all(np.isfinite(sol.y)):
            return None
        w = sol.y[:size].T.reshape(len(times), n, m * d).transpose(1, 0, 2)
        parts = [w] + ([sol.y[size:].T[:, :, None].transpose(1, 0, 2)] if volume else [])
        return np.concatenate(parts, axis=-1)

    def _atol(self, z0: np.ndarray, volume: bool) -> np.ndarray:
        """Absolute tolerances: the states' own scale per component (largest over starts,
        at least ``_ATOL_FLOOR`` of the largest component and ``tangent_scale``, for a
        state at 0), ``tangent_scale`` for the
        tangent vectors (orthonormal at the start), 1 for the volume."""
        n, m, d = z0.shape
        scale = np.abs(z0[:, 0]).max(0)
        scale = np.maximum(scale, max(_ATOL_FLOOR * scale.max(), self.tangent_scale))
        per = np.full((n, m, d), self.tangent_scale)
        per[:, 0] = scale
        return self.rtol * np.concatenate([per.ravel(), np.ones(n if volume else 0)])

    def _system(self, n: int, m: int, d: int, volume: bool):
        """The right-hand side of states, tangents (and volume), and its block-diagonal
        Jacobian for Newton (the field's Jacobian once per column)."""
        ev, size = self.ev, n * m * d
        blocks = np.arange(n * m)

        def columns(z: np.ndarray) -> torch.Tensor:
            return ev.tensor(z[:size].reshape(n, m, d))

        def fun(t: float, z: np.ndarray) -> np.ndarray:
            w = columns(z)
            x = w[:, 0]
            parts = [ev(x)[:, None, :]]
            if m > 1 or volume:
                jac_x = ev.jacobian(x)
                parts.append(w[:, 1:] @ jac_x.transpose(1, 2))  # each row: J y
            dw = torch.cat(parts, 1).double().cpu().numpy().ravel()
            if not volume:
                return dw
            trace = jac_x.diagonal(dim1=-2, dim2=-1).sum(-1).double().cpu().numpy()
            return np.concatenate([dw, trace])

        def jac(t: float, z: np.ndarray) -> sparse.spmatrix:
            jac_x = ev.jacobian(columns(z)[:, 0]).double().cpu().numpy()
            data = np.repeat(jac_x, m, axis=0)
            out = sparse.bsr_matrix((data, blocks, np.arange(n * m + 1)), shape=(size, size))
            return sparse.block_diag([out, sparse.csc_matrix((n, n))], format="csc") \
                if volume else out.tocsc()

        return fun, jac

"""Eigendecomposition, ordering and stability labels shared by linearizations and fixed points.

Stability is judged on the per-bin growth rate of each eigen-direction:
``log |lambda|`` for a map, ``Re(lambda) * dt`` for a vector field (``dt`` = one bin, or
1 when unknown). A direction is *unstable* when its growth rate exceeds ``marginal_tol``,
*marginal* when its magnitude is at most ``marginal_tol`` (|lambda| ~ 1, or Re lambda ~ 0),
and stable otherwise. A point is labelled "unstable" if it has any unstable direction,
else "marginal" if it has any marginal direction, else "stable".
"""

from __future__ import annotations

import numpy as np

__all__ = ["STABILITY_LABELS", "classify", "default_marginal_tol", "growth_rates", "sorted_eig"]

STABILITY_LABELS = ("stable", "unstable", "marginal")


def default_marginal_tol(eps: float) -> float:
    """Default marginal tolerance for a dtype with machine epsilon ``eps``: ``2 sqrt(eps)``.

    Eigenvalues of a nearly defective Jacobian (a cluster of |lambda| ~ 1, as in trained
    GRUs) carry errors of order ``sqrt(eps)``, so a tighter band would split one marginal
    cluster into spurious stable and unstable directions. float32: 6.9e-4, float64: 3.0e-8.
    """
    return 2.0 * float(np.sqrt(eps))


def sorted_eig(jacobians: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues ``[n, d]`` and eigenvectors ``[n, d, d]`` (columns), fastest-growing first.

    Discrete maps are sorted by ``|lambda|`` descending, vector fields by ``Re lambda``
    descending.
    """
    jac = np.asarray(jacobians)
    vals, vecs = np.linalg.eig(jac if np.iscomplexobj(jac) else jac.astype(np.float64))
    key = np.abs(vals) if kind == "discrete" else vals.real
    order = np.argsort(-key, axis=-1, kind="stable")
    vals = np.take_along_axis(vals, order, axis=-1)
    vecs = np.take_along_axis(vecs, order[..., None, :], axis=-1)
    return vals.astype(np.complex128), vecs.astype(np.complex128)


def growth_rates(eigenvalues: np.ndarray, kind: str, dt: float | None) -> np.ndarray:
    """Per-bin growth rate of each eigen-direction (see the module docstring)."""
    eigenvalues = np.asarray(eigenvalues)
    if kind == "discrete":
        tiny = np.finfo(np.float64).tiny
        return np.log(np.maximum(np.abs(eigenvalues), tiny))
    return eigenvalues.real * (1.0 if dt is None else float(dt))


def classify(eigenvalues: np.ndarray, kind: str, dt: float | None,
             marginal_tol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``n_unstable``, ``n_marginal`` (int arrays) and ``stability`` labels per point."""
    rate = growth_rates(eigenvalues, kind, dt)
    n_unstable = (rate > marginal_tol).sum(-1).astype(np.int64)
    n_marginal = (np.abs(rate) <= marginal_tol).sum(-1).astype(np.int64)
    labels = np.where(n_unstable > 0, "unstable", np.where(n_marginal > 0, "marginal", "stable"))
    return n_unstable, n_marginal, labels.astype("<U8")

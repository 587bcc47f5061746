"""Find the fixed points of any Dynamics and describe their local behaviour.

:func:`find_fixed_points` minimises ``q(x) = 0.5 ||F(x, u) - x||^2`` (maps) or
``q(x) = 0.5 ||f(x, u)||^2`` (vector fields) from many starting states at once:
batched dogleg trust-region steps towards Newton points (exact Jacobians, kept current by
Broyden updates; see ``_newton``), optionally after a joint Adam phase, each candidate with
its own trust radius and convergence test; candidates that fall into one point are merged
early, so only one of them goes on. The result,
:class:`FixedPoints`, holds positions, Jacobians, eigendecompositions and stability labels as
NumPy arrays.

The search reads as its steps: check the arguments (:func:`_check_flags` and the grouped
settings of :mod:`~dynlens.analysis.options`), measure the initial states
(:class:`_StateScale`), derive the default tolerances (:func:`_resolve`), draw the starting
states (:func:`_draw_starts`), search (:func:`_search`), sort the candidates into fixed
points, slow points and the rest (:func:`_screen`), and describe the kept points
(:func:`_describe`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.spatial import cKDTree

from ..errors import DynlensTypeError, DynlensValueError
from ..threads import ThreadPolicy, check_threads, model_work
from ..utils import check_nonnegative_int, check_positive_float, check_positive_int
from ._cluster import deduplicate, group_manifolds
from ._newton import SolveResult, solve
from ._prepare import Evaluator, as_states
from ._spectra import default_marginal_tol
from .linearize import Linearization
from .options import (
    SOLVER_KEYWORDS,
    TOLERANCE_KEYWORDS,
    SolverOptions,
    Tolerances,
    merge_options,
)

__all__ = ["FixedPoints", "find_fixed_points"]


@dataclass(frozen=True, eq=False)
class FixedPoints:
    """Fixed points of a Dynamics with their linearizations.

    Build one with :func:`find_fixed_points` or :meth:`FixedPoints.from_points`.

    Attributes
    ----------
    xstar : ndarray [k, dim]
        Positions.
    q : ndarray [k]
        ``0.5 ||F(x) - x||^2`` (maps) or ``0.5 ||f(x)||^2`` (vector fields) at each point.
    jacobians : ndarray [k, dim, dim]
        Jacobian of the dynamics itself (``dF/dx`` or ``df/dx``).
    eigenvalues : ndarray [k, dim], complex
        Fastest-growing first: sorted by ``|lambda|`` (discrete) or ``Re lambda``
        (continuous), descending.
    eigenvectors : ndarray [k, dim, dim], complex
        ``eigenvectors[i, :, j]`` belongs to ``eigenvalues[i, j]``.
    stability : ndarray [k] of str
        "stable", "unstable" (any direction grows by more than ``marginal_tol`` per bin) or
        "marginal" (no unstable direction, but some with ``| |lambda| - 1 |`` or
        ``|Re lambda| dt`` at most ``marginal_tol``: lines and sheets of fixed points).
    n_unstable, n_marginal : ndarray [k] of int
        Number of unstable and of marginal directions.
    manifold_id : ndarray [k] of int
        Points joined by a segment of fixed or slow states share an id (one line or sheet of
        fixed points, as trained GRUs have); isolated points have their own.
    data_distance : ndarray [k]
        Distance to the nearest initial (noise-free) state, in units of the initial states'
        RMS distance from their centroid (NaN when not found from data).
    kind : {"continuous", "discrete"}
    dt : float or None
        One data bin in the system's time units.
    marginal_tol : float
        Per-bin growth rate under which a direction counts as marginal.
    inputs : ndarray [n_inputs] or None
        The constant input the points were found for.
    slow_points : FixedPoints or None
        Slow points (see :func:`find_fixed_points`, ``keep_slow``).
    info : dict
        How the points were found: tolerances, counts, timings.

    Examples
    --------
    The pitchfork ``dx/dt = x - x^3``: stable points at -1 and 1 (slope -2), an unstable one
    at 0 (slope 1).

    >>> import numpy as np
    >>> import dynlens as dl
    >>> class Pitchfork(dl.Dynamics):
    ...     def __init__(self):
    ...         super().__init__(dim=1, kind="continuous", dt=0.1)
    ...     def forward(self, x, u=None):
    ...         return x - x ** 3
    >>> states = np.linspace(-1.5, 1.5, 31)[:, None]
    >>> fps = dl.find_fixed_points(Pitchfork(), states, n_inits=64, progress=False)
    >>> fps
    FixedPoints(3 points in 1-d, kind='continuous': 2 stable, 1 unstable, 0 marginal; 3 manifolds)
    >>> order = np.argsort(fps.xstar[:, 0])
    >>> (fps.xstar[order, 0].round(6) + 0.0).tolist(), fps.stability[order].tolist()
    ([-1.0, 0.0, 1.0], ['stable', 'unstable', 'stable'])
    >>> fps.eigenvalues[order, 0].real.round(6).tolist(), fps.n_unstable[order].tolist()
    ([-2.0, 1.0, -2.0], [0, 1, 0])
    """

    xstar: np.ndarray
    q: np.ndarray
    jacobians: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    stability: np.ndarray
    n_unstable: np.ndarray
    n_marginal: np.ndarray
    manifold_id: np.ndarray
    data_distance: np.ndarray
    kind: str
    dt: float | None
    marginal_tol: float
    inputs: np.ndarray | None = None
    slow_points: FixedPoints | None = field(default=None, repr=False)
    info: dict = field(default_factory=dict, repr=False)

    # -- construction ----------------------------------------------------------------
    @classmethod
    def _build(cls, xstar: np.ndarray, q: np.ndarray, jacobians: np.ndarray, kind: str,
               dt: float | None, marginal_tol: float, manifold_id: np.ndarray | None = None,
               data_distance: np.ndarray | None = None, inputs: np.ndarray | None = None,
               slow_points: FixedPoints | None = None, info: dict | None = None
               ) -> FixedPoints:
        k, dim = xstar.shape
        lin = Linearization.from_jacobians(np.asarray(jacobians).reshape(k, dim, dim), kind,
                                           dt, xstar, marginal_tol)
        return cls(
            xstar=xstar, q=np.asarray(q, np.float64), jacobians=lin.jacobians,
            eigenvalues=lin.eigenvalues, eigenvectors=lin.eigenvectors,
            stability=lin.stability, n_unstable=lin.n_unstable, n_marginal=lin.n_marginal,
            manifold_id=np.arange(k) if manifold_id is None else np.asarray(manifold_id),
            data_distance=np.full(k, np.nan) if data_distance is None else data_distance,
            kind=kind, dt=dt, marginal_tol=float(marginal_tol), inputs=inputs,
            slow_points=slow_points, info=dict(info or {}),
        )

    @classmethod
    def from_points(cls, dynamics: Any, xstar: Any, inputs: Any = None, *,
                    marginal_tol: float | None = None) -> FixedPoints:
        """Describe given points (e.g. a ground-truth system's analytic ``fixed_points()``).

        Jacobians come from the object's analytic ``jacobian(x)`` when it has one (and no
        input is given), else from ``torch.func``. Points keep the given order.

        Examples
        --------
        >>> import torch
        >>> from dynlens import Dynamics
        >>> class Pitchfork(Dynamics):
        ...     def __init__(self):
        ...         super().__init__(dim=1, kind="continuous", dt=0.1)
        ...     def forward(self, x, u=None):
        ...         return x - x ** 3
        >>> fps = FixedPoints.from_points(Pitchfork(), [[-1.0], [0.0], [1.0]])
        >>> fps.stability.tolist()
        ['stable', 'unstable', 'stable']
        """
        ev = Evaluator(dynamics, inputs)
        xs = as_states(xstar, "xstar", ev.dim, ndims=(1, 2))[0]
        xt = ev.tensor(xs)
        q = ev.q(xt).double().cpu().numpy()
        jac = ev.jacobian(xt).detach().double().cpu().numpy()
        tol = default_marginal_tol(ev.eps) if marginal_tol is None else check_positive_float(
            marginal_tol, "marginal_tol")
        u = None if ev.u is None else ev.u.double().cpu().numpy()
        return cls._build(xs, q, jac, ev.kind, ev.dt, tol, inputs=u,
                          info={"source": "from_points"})

    # -- container protocol ----------------------------------------------------------
    def __len__(self) -> int:
        return self.xstar.shape[0]

    @property
    def dim(self) -> int:
        """State dimension."""
        return self.xstar.shape[1]

    @property
    def n_manifolds(self) -> int:
        """Number of distinct manifolds (isolated points count as one each)."""
        return len(np.unique(self.manifold_id))

    def __getitem__(self, index: Any) -> FixedPoints:
        """Select points by int, slice, integer array or boolean mask; returns FixedPoints."""
        if isinstance(index, (int, np.integer)):
            n = len(self)
            if not -n <= index < n:
                raise DynlensValueError(
                    f"index: expected an integer in [{-n}, {n}), found {int(index)}")
            index = [int(index)]
        elif not isinstance(index, slice):
            index = np.asarray(index)
            if index.dtype == bool and index.shape != (len(self),):
                raise DynlensValueError(
                    f"index: expected a boolean mask of length {len(self)}, "
                    f"found shape {index.shape}")
            if index.dtype != bool and not np.issubdtype(index.dtype, np.integer):
                if index.size:
                    raise DynlensTypeError(
                        f"index: expected an int, slice, integer array or boolean mask, "
                        f"found an array of {index.dtype}")
                index = index.astype(np.int64)
        return replace(
            self, xstar=self.xstar[index], q=self.q[index], jacobians=self.jacobians[index],
            eigenvalues=self.eigenvalues[index], eigenvectors=self.eigenvectors[index],
            stability=self.stability[index], n_unstable=self.n_unstable[index],
            n_marginal=self.n_marginal[index], manifold_id=self.manifold_id[index],
            data_distance=self.data_distance[index], slow_points=None,
        )

    def __repr__(self) -> str:
        counts = ", ".join(f"{int((self.stability == s).sum())} {s}"
                           for s in ("stable", "unstable", "marginal"))
        slow = "" if self.slow_points is None else f", {len(self.slow_points)} slow points"
        why = f"; none kept: {self.info['why_none']}" if "why_none" in self.info and \
            not len(self) else ""
        return (f"FixedPoints({len(self)} points in {self.dim}-d, kind={self.kind!r}: "
                f"{counts}; {self.n_manifolds} manifolds{slow}{why})")

    # -- views -----------------------------------------------------------------------
    def linearization(self) -> Linearization:
        """The Jacobians as a :class:`Linearization` (for ``to_discrete`` etc.)."""
        return Linearization(self.xstar, self.jacobians, self.eigenvalues, self.eigenvectors,
                             self.kind, self.dt, self.marginal_tol, self.n_unstable,
                             self.n_marginal, self.stability)

    def representatives(self) -> FixedPoints:
        """One point per manifold: the one with the smallest q."""
        order = np.lexsort((self.q, self.manifold_id))
        keep = np.ones(len(order), dtype=bool)
        keep[1:] = self.manifold_id[order][1:] != self.manifold_id[order][:-1]
        return self[np.sort(order[keep])]

    def to_dataframe(self) -> pd.DataFrame:
        """One row per point: coordinates ``x0..x{dim-1}``, q, stability, counts, leading
        eigenvalue (largest ``|lambda|`` or ``Re lambda``), manifold id, data distance."""
        cols = {f"x{i}": self.xstar[:, i] for i in range(self.dim)}
        lead = (self.eigenvalues[:, 0] if self.dim else
                np.zeros(len(self), dtype=np.complex128))
        cols.update(q=self.q, stability=self.stability, n_unstable=self.n_unstable,
                    n_marginal=self.n_marginal, leading_eigenvalue=lead,
                    manifold_id=self.manifold_id, data_distance=self.data_distance)
        return pd.DataFrame(cols)

    def transform(self, alignment: Any) -> FixedPoints:
        """These points in another coordinate system, through an affine map ``y = A x + b``.

        ``alignment`` is a fitted :class:`~dynlens.analysis.AffineAlignment` (or anything
        with ``coef_`` [target_dim, dim] and ``intercept_`` [target_dim]). Jacobians are
        conjugated, ``A J A^+`` (``A^+`` the pseudo-inverse): exactly ``A J A^-1`` when ``A``
        is square and invertible. When ``A`` is injective (target_dim > dim) the eigenvalues
        are those of ``J`` plus ``target_dim - dim`` zeros (for a vector field those extra
        directions read as marginal; compare per-bin maps instead, as
        :func:`compare_fixed_points` does). When ``A`` loses dimensions
        (target_dim < dim) ``A J A^+`` is only the projection of the dynamics onto the
        target space. ``q`` is kept as measured in the original coordinates.
        """
        coef, intercept = _affine_parts(alignment, self.dim)
        xstar = self.xstar @ coef.T + intercept
        pinv = np.linalg.pinv(coef)
        jac = coef @ self.jacobians @ pinv
        slow = None if self.slow_points is None else self.slow_points.transform(alignment)
        info = dict(self.info, transformed_from_dim=self.dim)
        return FixedPoints._build(xstar, self.q, jac, self.kind, self.dt, self.marginal_tol,
                                  self.manifold_id, self.data_distance, self.inputs, slow, info)


def _affine_parts(alignment: Any, dim: int) -> tuple[np.ndarray, np.ndarray]:
    coef = getattr(alignment, "coef_", None)
    if coef is None:
        raise DynlensTypeError(
            "alignment: expected a fitted affine map with `coef_` and `intercept_` "
            f"(e.g. a fitted AffineAlignment), found {type(alignment).__name__} without coef_"
        )
    coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    intercept = np.asarray(getattr(alignment, "intercept_", np.zeros(coef.shape[0])),
                           dtype=np.float64).reshape(-1)
    if coef.shape[1] != dim or intercept.shape[0] != coef.shape[0]:
        raise DynlensValueError(
            f"alignment: expected a map from {dim} dimensions (coef_ of shape "
            f"[target_dim, {dim}]), found coef_ of shape {coef.shape} and intercept_ of "
            f"shape {intercept.shape}"
        )
    return coef, intercept


@dataclass(frozen=True)
class _StateScale:
    """Where the initial states lie and how far they spread (the scale of every default)."""

    center: np.ndarray  # [dim] centroid
    mean_dist: float    # mean distance from the centroid
    rms_radius: float   # RMS distance from the centroid
    spread: float       # per-coordinate RMS spread about the centroid
    unit: float         # spread, else RMS magnitude, else 1 (never 0)
    s: float            # the larger of the RMS magnitude and unit

    @classmethod
    def of(cls, states: np.ndarray) -> _StateScale:
        center = states.mean(0)
        dist = np.linalg.norm(states - center, axis=1)
        rms_radius = float(np.sqrt((dist ** 2).mean()))
        spread = rms_radius / np.sqrt(states.shape[1])
        size = float(np.sqrt((states ** 2).mean()))  # per-coordinate RMS magnitude
        unit = spread if spread > 0 else (size if size > 0 else 1.0)
        return cls(center=center, mean_dist=float(dist.mean()), rms_radius=rms_radius,
                   spread=spread, unit=unit, s=max(size, unit))


@dataclass(frozen=True)
class _Settings:
    """Every search setting with the defaults filled in."""

    tol_q: float
    tol_slow: float
    tol_unique: float
    marginal_tol: float
    noise: float
    solver: SolverOptions  # adam_lr filled in


def _check_flags(n_inits: Any, seed: Any, outlier_factor: Any, region: Any, threads: Any,
                 keep_slow: Any, progress: Any) -> tuple[int, int, float, float | None]:
    """Validate the plain arguments; return ``n_inits, seed, outlier_factor, region``."""
    n_inits = check_positive_int(n_inits, "n_inits")
    seed = check_nonnegative_int(seed, "seed")
    outlier_factor = check_positive_float(outlier_factor, "outlier_factor")
    if region is not None:
        region = check_positive_float(region, "region")
    check_threads(threads)
    for name, flag in (("keep_slow", keep_slow), ("progress", progress)):
        if not isinstance(flag, (bool, np.bool_)):
            raise DynlensTypeError(f"{name}: expected True or False, found {flag!r}")
    return n_inits, seed, outlier_factor, region


def _resolve(ev: Evaluator, scale: _StateScale, tols: Tolerances, solver: SolverOptions,
             noise: Any) -> _Settings:
    """Fill in the default tolerances, noise and Adam rate (documented in find_fixed_points)."""
    dim = ev.dim
    bin_ = ev.dt if (ev.kind == "continuous" and ev.dt) else 1.0
    tol_q = (0.5 * dim * (min(100 * ev.eps, 0.02) * scale.s) ** 2 / bin_ ** 2
             if tols.q is None else tols.q)
    tol_slow = (0.5 * dim * (1e-3 * scale.unit) ** 2 / bin_ ** 2 if tols.slow is None
                else tols.slow)
    tol_unique = (1e-3 * (scale.rms_radius if scale.rms_radius > 0 else scale.unit)
                  if tols.unique is None else tols.unique)
    marginal_tol = default_marginal_tol(ev.eps) if tols.marginal is None else tols.marginal
    if noise is None:
        noise = 0.1 * scale.spread
    elif isinstance(noise, bool) or not isinstance(noise, (int, float, np.integer, np.floating)) \
            or not np.isfinite(noise) or noise < 0:
        raise DynlensValueError(f"noise: expected a non-negative number, found {noise!r}")
    adam_lr = 0.02 * scale.unit if solver.adam_lr is None else solver.adam_lr
    return _Settings(tol_q=tol_q, tol_slow=max(tol_slow, tol_q), tol_unique=tol_unique,
                     marginal_tol=marginal_tol, noise=float(noise),
                     solver=replace(solver, adam_lr=adam_lr))


def _draw_starts(states: np.ndarray, n_inits: int, noise: float, seed: int) -> np.ndarray:
    """``n_inits`` initial states (with replacement only when there are fewer) plus noise."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(states), size=n_inits, replace=len(states) < n_inits)
    return states[pick] + noise * rng.standard_normal((n_inits, states.shape[1]))


def _search(ev: Evaluator, x0: np.ndarray, settings: _Settings, scale: _StateScale,
            radius: float, threads: int | str, progress: bool) -> SolveResult:
    """Run the batched trust-region search (``_newton.solve``) under the thread policy."""
    opts = settings.solver
    with ThreadPolicy(threads, work=model_work(ev.dynamics, len(x0), ev.dim)):
        return solve(ev, ev.tensor(x0), tol_q=settings.tol_q, max_iter=opts.max_iter,
                     adam_steps=opts.adam_steps, adam_lr=opts.adam_lr, patience=opts.patience,
                     center=torch.as_tensor(scale.center, dtype=torch.float64,
                                            device=ev.device),
                     radius=radius, merge_tol=settings.tol_unique, progress=bool(progress))


@dataclass(frozen=True)
class _Screened:
    """The search's candidates sorted into what is kept."""

    x: np.ndarray              # [n, dim] float64 positions
    q: np.ndarray              # [n] float64
    data_distance: np.ndarray  # [n] distance to the nearest initial state / RMS radius
    finite: np.ndarray         # [n] finite and not merged into another candidate
    inside: np.ndarray         # finite, within the outlier radius and the region
    outlier: np.ndarray        # finite, beyond the outlier radius from the centroid
    converged: np.ndarray      # inside and q <= tol_q
    slow: np.ndarray           # inside, not converged and q <= tol_slow


def _screen(result: SolveResult, states: np.ndarray, scale: _StateScale, settings: _Settings,
            radius: float, region: float | None, seed: int) -> _Screened:
    """Drop non-finite and merged candidates, outliers beyond ``radius`` from the centroid and
    points beyond ``region`` RMS radii of every initial state; split the rest by q."""
    x = result.x.detach().double().cpu().numpy()
    q = result.q.cpu().numpy()
    finite = np.isfinite(q) & np.all(np.isfinite(x), axis=1) & ~result.merged.cpu().numpy()
    inside = finite & (np.linalg.norm(np.where(finite[:, None], x, 0.0) - scale.center, axis=1)
                       <= radius)
    outlier = finite & ~inside
    tree_states = states if len(states) <= 20000 else states[
        np.random.default_rng(seed).choice(len(states), 20000, replace=False)]
    data_dist = np.full(len(x), np.inf)
    if inside.any():
        data_dist[inside] = cKDTree(tree_states).query(x[inside])[0] / (
            scale.rms_radius if scale.rms_radius > 0 else 1.0)
    if region is not None and scale.rms_radius > 0:
        inside &= data_dist <= region
    converged = inside & (q <= settings.tol_q)
    slow = inside & ~converged & (q <= settings.tol_slow)
    return _Screened(x=x, q=q, data_distance=data_dist, finite=finite, inside=inside,
                     outlier=outlier,
                     converged=converged, slow=slow)


def _describe(ev: Evaluator, found: _Screened, mask: np.ndarray, settings: _Settings,
              group: bool) -> FixedPoints:
    """The candidates in ``mask``, deduplicated and sorted lexicographically, with their
    linearizations (and, when ``group``, manifolds of fixed points)."""
    idx = np.flatnonzero(mask)
    idx = idx[deduplicate(found.x[idx], found.q[idx], settings.tol_unique)]
    xs = found.x[idx]
    order = np.lexsort(xs.T[::-1]) if len(xs) else np.zeros(0, dtype=np.int64)
    idx, xs = idx[order], xs[order]
    jac = (ev.jacobian(ev.tensor(xs)).detach().double().cpu().numpy() if len(xs)
           else np.zeros((0, ev.dim, ev.dim)))
    u = None if ev.u is None else ev.u.double().cpu().numpy()
    fp = FixedPoints._build(xs, found.q[idx], jac, ev.kind, ev.dt, settings.marginal_tol,
                            data_distance=found.data_distance[idx], inputs=u)
    if group and len(fp) > 1:
        def q_fn(points: np.ndarray) -> np.ndarray:
            return ev.q(ev.tensor(points)).double().cpu().numpy()

        ids = group_manifolds(xs, fp.n_marginal > 0, q_fn, settings.tol_slow)
        fp = replace(fp, manifold_id=ids)
    return fp


def _info(ev: Evaluator, n_inits: int, settings: _Settings, result: SolveResult,
          found: _Screened, t_start: float) -> dict:
    """What ``FixedPoints.info`` records about the search."""
    opts, n_merged = settings.solver, int(result.merged.sum())
    return {
        "n_inits": n_inits, "noise": settings.noise, "tol_q": settings.tol_q,
        "tol_slow": settings.tol_slow, "tol_unique": settings.tol_unique,
        "marginal_tol": settings.marginal_tol, "adam_steps": opts.adam_steps,
        "adam_lr": opts.adam_lr, "max_iter": opts.max_iter,
        "n_converged": int(found.converged.sum()), "n_slow": int(found.slow.sum()),
        "n_outside": int((found.finite & ~found.inside).sum()),
        "n_outliers": int(found.outlier.sum()),
        "n_outside_region": int((found.finite & ~found.inside & ~found.outlier).sum()),
        "n_merged": n_merged,
        "n_nonfinite": int((~found.finite).sum()) - n_merged,
        "mean_iterations": float(result.n_iter.double().mean()),
        "n_jacobians": result.n_jacobians, "seconds": time.perf_counter() - t_start,
        "dtype": str(ev.dtype).replace("torch.", ""), "device": str(ev.device),
    }


def find_fixed_points(
    dynamics: Any,
    initial_states: Any,
    n_inits: int = 1024,
    noise: float | None = None,
    inputs: Any = None,
    seed: int = 0,
    *,
    tol_q: float | None = None,
    tol_unique: float | None = None,
    tol_slow: float | None = None,
    marginal_tol: float | None = None,
    outlier_factor: float = 10.0,
    region: float | None = 2.0,
    keep_slow: bool = False,
    max_iter: int = 50,
    patience: int = 5,
    adam_steps: int = 0,
    adam_lr: float | None = None,
    progress: bool = True,
    threads: int | str = "auto",
    solver: SolverOptions | None = None,
    tolerances: Tolerances | None = None,
) -> FixedPoints:
    """Find the fixed points of a discrete map or a vector field near given states.

    Starting states are drawn (with ``seed``) from ``initial_states`` plus Gaussian noise,
    then all ``n_inits`` candidates are optimised at once on the dynamics' own device and
    dtype: up to ``max_iter`` dogleg trust-region steps towards Newton points from exact
    Jacobians kept current by Broyden updates (after ``adam_steps`` joint Adam steps on q
    when asked for; ``info["n_jacobians"]`` counts the exact Jacobians). A candidate that
    comes within ``tol_unique`` of one already converged, or of another candidate with
    smaller q, stops there as a duplicate (``info["n_merged"]`` counts them). Converged
    candidates (``q <= tol_q``) are deduplicated
    (points chained within ``tol_unique`` keep the one of smallest q), far outliers are
    dropped (farther from the initial states' centroid than ``outlier_factor`` times their
    mean distance from it, the published rule), and so are points outside the visited
    region (farther than ``region`` RMS radii from every initial state). Then Jacobians,
    eigendecompositions and stability labels are computed, and points lying on one line or
    sheet of fixed points are grouped (``manifold_id``).

    Parameters
    ----------
    dynamics : Dynamics or callable with ``dim`` and ``kind``
        Evaluated as it is (its dtype, device and parameters are never changed; modules
        are evaluated in eval mode and their ``training`` flags restored).
    initial_states : array-like [trials, bins, dim] or [n, dim]
        States to start from, typically the model's latent trajectories.
    n_inits : int
        Number of starting states (drawn with replacement only when there are fewer states).
    noise : float, optional
        Standard deviation of the Gaussian noise added to each starting state. Default: 0.1
        times the per-coordinate RMS spread of ``initial_states`` about their centroid.
    inputs : array-like [n_inputs], optional
        Constant input ``u``.
    seed : int
        Seed for the draw of starting states and noise.
    tol_q : float, optional
        A candidate is a fixed point when ``q <= tol_q``. Default
        ``0.5 dim (min(100 eps, 0.02) s)^2 / bin^2``: every coordinate of the residual
        within 100 rounding units (at most 2 %) of a state of size ``s`` (RMS coordinate of
        ``initial_states``), ``eps`` the dtype's machine epsilon and ``bin`` = ``dt`` for a
        vector field with a ``dt`` (so the residual is per bin), else 1. float32 states of
        size 1 in 64-d give 4.6e-9; Lorenz (float64) about 1e-21; the 2 % cap matters only
        for half precision (bfloat16's 100 rounding units are 78 %).
    tol_unique : float, optional
        Deduplication distance. Default 1e-3 times the RMS distance of ``initial_states``
        from their centroid (the published 1e-3, relative to the scale of the states).
    tol_slow : float, optional
        Slow-point tolerance: an unconverged candidate with ``q <= tol_slow`` is a slow
        point. Default ``0.5 dim (1e-3 spread)^2 / bin^2``: each coordinate moves by at
        most 1e-3 of the per-coordinate spread per bin. Also the tolerance for states
        between two fixed points to count as one manifold.
    marginal_tol : float, optional
        Per-bin growth rate under which an eigen-direction is marginal. Default
        ``2 sqrt(eps)`` (float32: 6.9e-4, float64: 3.0e-8).
    outlier_factor : float
        Published outlier rule (10): drop points farther from the centroid than this many
        mean distances of the initial states.
    region : float or None
        Keep only points within this many RMS radii of the nearest initial state (the region
        the trajectories visit); None keeps all. Default 2.
    keep_slow : bool
        Also return slow points (deduplicated, with Jacobians) as ``fps.slow_points``.
    max_iter, patience : int
        Trust-region iterations at most, and iterations a candidate may go without a
        tenfold decrease of q before it stops (it is creeping along a slow manifold).
        Raising ``patience`` finds more of the isolated fixed points of large trained
        networks (most of whose candidates creep along slow valleys), in proportionally more
        time; on low-dimensional fields it changes little.
    adam_steps : int
        Joint Adam steps before the trust-region search (default 0: none).
    adam_lr : float, optional
        Adam learning rate; default 0.02 times the per-coordinate spread.
    progress : bool
        Show a tqdm progress bar of the iterations (active and converged candidates); it is
        removed when the search ends.
    threads : "auto" or int
        torch's CPU threads during the search (restored afterwards; see
        :mod:`dynlens.threads`). ``"auto"`` uses one for small fields and the free cores
        for large ones.

    solver : SolverOptions, optional
        ``max_iter``, ``patience``, ``adam_steps`` and ``adam_lr`` as one object (see
        :class:`~dynlens.analysis.SolverOptions`).
    tolerances : Tolerances, optional
        ``tol_q``, ``tol_unique``, ``tol_slow`` and ``marginal_tol`` as one object (fields
        ``q``, ``unique``, ``slow``, ``marginal``; see :class:`~dynlens.analysis.Tolerances`).
        A flat keyword overrides the field of its object; a setting given both ways (a flat
        keyword other than its default and a field other than its default) raises a
        DynlensValueError.

    Returns
    -------
    FixedPoints
        Sorted lexicographically by coordinates. ``info`` records tolerances, counts
        (``n_converged``, ``n_outliers``, ``n_outside_region``, ...) and the wall time; when
        no point is kept, ``info["why_none"]`` says why (no candidate converged, or the
        converged ones lie outside the visited region or beyond the outlier radius), and so
        does the result's ``repr``.

    Examples
    --------
    >>> import torch
    >>> from dynlens import Dynamics
    >>> class DoubleWell(Dynamics):
    ...     def __init__(self):
    ...         super().__init__(dim=2, kind="continuous", dt=0.1)
    ...     def forward(self, x, u=None):
    ...         return torch.stack([x[..., 1], x[..., 0] - x[..., 0] ** 3 - 0.5 * x[..., 1]], -1)
    >>> states = torch.linspace(-1.5, 1.5, 50)[:, None] * torch.tensor([1.0, 0.2])
    >>> fps = find_fixed_points(DoubleWell(), states, n_inits=64)
    >>> fps.xstar.round(6).tolist()
    [[-1.0, 0.0], [0.0, 0.0], [1.0, 0.0]]
    >>> fps.stability.tolist(), fps.n_unstable.tolist()
    (['stable', 'unstable', 'stable'], [0, 1, 0])
    >>> same = find_fixed_points(DoubleWell(), states, n_inits=64,
    ...                          solver=SolverOptions(patience=8), tolerances=Tolerances(q=1e-20))
    >>> same.xstar.round(6).tolist(), same.info["tol_q"]
    ([[-1.0, 0.0], [0.0, 0.0], [1.0, 0.0]], 1e-20)
    """
    t_start = time.perf_counter()
    ev = Evaluator(dynamics, inputs)
    states = as_states(initial_states, "initial_states", ev.dim)[0]
    n_inits, seed, outlier_factor, region = _check_flags(
        n_inits, seed, outlier_factor, region, threads, keep_slow, progress)
    solver = merge_options(SolverOptions, solver, "solver", SOLVER_KEYWORDS, {
        "max_iter": max_iter, "patience": patience, "adam_steps": adam_steps,
        "adam_lr": adam_lr})
    tolerances = merge_options(Tolerances, tolerances, "tolerances", TOLERANCE_KEYWORDS, {
        "tol_q": tol_q, "tol_unique": tol_unique, "tol_slow": tol_slow,
        "marginal_tol": marginal_tol})

    scale = _StateScale.of(states)
    settings = _resolve(ev, scale, tolerances, solver, noise)
    x0 = _draw_starts(states, n_inits, settings.noise, seed)
    # Identical initial states give no scale for the outlier and region rules: skip them.
    radius = outlier_factor * scale.mean_dist if scale.mean_dist > 0 else np.inf
    result = _search(ev, x0, settings, scale, radius, threads, progress)
    found = _screen(result, states, scale, settings, radius, region, seed)

    slow_points = _describe(ev, found, found.slow, settings, group=False) if keep_slow else None
    fps = _describe(ev, found, found.converged, settings, group=True)
    info = _info(ev, n_inits, settings, result, found, t_start)
    if not len(fps):
        info["why_none"] = _why_none(found, settings.tol_q, region, outlier_factor)
    return replace(fps, slow_points=slow_points, info=info)


def _why_none(found: _Screened, tol_q: float, region: float | None,
              outlier_factor: float) -> str:
    """Why the search kept no fixed point, in one sentence (``info["why_none"]``)."""
    converged = found.finite & (found.q <= tol_q)
    n_region = int((converged & ~found.inside & ~found.outlier).sum())
    n_outlier = int(found.outlier.sum())
    parts = []
    if n_region:
        parts.append(f"{n_region} candidate(s) converged (q <= {tol_q:.3g}) outside the "
                     f"visited region (farther than {region:g} RMS radii from every initial "
                     f"state; region=None keeps them)")
    if n_outlier:
        parts.append(f"{n_outlier} candidate(s) went beyond the outlier radius "
                     f"({outlier_factor:g} x the initial states' mean distance from their "
                     f"centroid; a larger outlier_factor lets them go on)")
    if not parts:
        best = float(np.min(found.q[found.finite])) if found.finite.any() else float("nan")
        parts.append(f"no candidate converged (q <= {tol_q:.3g}; the smallest q found is "
                     f"{best:.3g}); {int(found.slow.sum())} slow point(s) inside the visited "
                     f"region (keep_slow=True keeps them)")
    return "; ".join(parts)

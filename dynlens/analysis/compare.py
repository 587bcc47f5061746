"""Match a model's fixed points to a ground-truth system's and put numbers on the agreement.

:func:`compare_fixed_points` reads as its steps: check the alignment, find the attractor's
size (:func:`_scale`) and the matching threshold, compute per-bin spectra on both sides
(:func:`_bin_spectra`), match points one-to-one (:func:`_match`), measure each pair's errors,
list the unmatched points (:func:`_spurious`) and sum up a score (:func:`_score`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from ..errors import DynlensTypeError, DynlensValueError
from ..utils import check_positive_float
from ._prepare import as_states
from ._spectra import sorted_eig
from .fixed_points import FixedPoints, _affine_parts

__all__ = ["FixedPointComparison", "compare_fixed_points"]


@dataclass(frozen=True, eq=False)
class FixedPointComparison:
    """How well a model's fixed points match the true ones (see :func:`compare_fixed_points`).

    Attributes
    ----------
    true_fps : FixedPoints
        The true fixed points (true coordinates).
    model_fps : FixedPoints
        The model's fixed points in its own latent coordinates.
    mapped_fps : FixedPoints
        The model's fixed points mapped into true coordinates by the alignment.
    matched : list of (int, int)
        ``(true_index, model_index)`` pairs.
    missing : list of int
        True points with no model point within the threshold.
    spurious : list of int
        Unmatched model points (one per line or sheet of fixed points, see ``manifold_id``;
        points of a manifold that contains a matched point are not spurious).
    location_error : ndarray
        Per matched pair: distance in true coordinates divided by ``scale``.
    eigenvalue_error : ndarray
        Per matched pair: mean ``|mu_true - mu_model|`` over optimally paired eigenvalues of
        the per-bin maps (see :func:`compare_fixed_points`).
    stability_agrees : ndarray of bool
        Per matched pair: equal numbers of unstable directions.
    true_bin_eigenvalues, model_bin_eigenvalues : ndarray
        Per-bin map eigenvalues of each true point and of each mapped model point
        ([n, true_dim], sorted by modulus, descending).
    scale : float
        Size of the true attractor (RMS distance of its states from their centroid).
    threshold : float
        Matching threshold, as a fraction of ``scale``.
    score : float
        Summary in [0, 1] (formula in :func:`compare_fixed_points`).

    Examples
    --------
    A model that found two of the pitchfork's three fixed points (the alignment is the
    identity: the model's latents are the true ones):

    >>> import numpy as np
    >>> import dynlens as dl
    >>> class Pitchfork(dl.Dynamics):
    ...     def __init__(self):
    ...         super().__init__(dim=1, kind="continuous", dt=0.1)
    ...     def forward(self, x, u=None):
    ...         return x - x ** 3
    >>> true = dl.analysis.FixedPoints.from_points(Pitchfork(), [[-1.0], [0.0], [1.0]])
    >>> found = dl.analysis.FixedPoints.from_points(Pitchfork(), [[-1.0], [1.0]])
    >>> x = np.linspace(-1, 1, 9)[:, None]
    >>> report = dl.analysis.compare_fixed_points(found, true,
    ...                                           dl.analysis.AffineAlignment().fit(x, x))
    >>> report
    FixedPointComparison(matched=2, missing=1, spurious=0, score=0.667)
    >>> report.matched, report.missing, report.recovered
    ([(0, 0), (2, 1)], [1], False)
    >>> report.table()["status"].tolist()
    ['matched', 'missing', 'matched']
    >>> {k: report.numbers()[k] for k in ("fp_true", "fp_model", "fp_stability_agree")}
    {'fp_true': 3, 'fp_model': 2, 'fp_stability_agree': 2}
    """

    true_fps: FixedPoints
    model_fps: FixedPoints
    mapped_fps: FixedPoints
    matched: list
    missing: list
    spurious: list
    location_error: np.ndarray
    eigenvalue_error: np.ndarray
    stability_agrees: np.ndarray
    true_bin_eigenvalues: np.ndarray = field(repr=False)
    model_bin_eigenvalues: np.ndarray = field(repr=False)
    scale: float = 1.0
    threshold: float = 0.25
    score: float = 0.0

    @property
    def recovered(self) -> bool:
        """Every true point matched with the right stability, and no spurious point."""
        return (not self.missing and not self.spurious and bool(np.all(self.stability_agrees)))

    def table(self) -> pd.DataFrame:
        """One row per true point (status "matched" or "missing"), then one per spurious
        model point (status "spurious"); positions in true coordinates."""
        dim = self.true_fps.dim
        pair = {t: (k, m) for k, (t, m) in enumerate(self.matched)}
        rows = []
        for t in range(len(self.true_fps)):
            row = {"status": "missing", "true_index": t, "model_index": pd.NA}
            row.update({f"true_x{i}": self.true_fps.xstar[t, i] for i in range(dim)})
            row.update(true_stability=self.true_fps.stability[t],
                       true_n_unstable=int(self.true_fps.n_unstable[t]))
            if t in pair:
                k, m = pair[t]
                row.update(status="matched", model_index=m)
                row.update(self._model_cols(m))
                row.update(location_error=self.location_error[k],
                           eigenvalue_error=self.eigenvalue_error[k],
                           stability_agrees=bool(self.stability_agrees[k]))
            rows.append(row)
        for m in self.spurious:
            row = {"status": "spurious", "true_index": pd.NA, "model_index": m}
            row.update(self._model_cols(m))
            rows.append(row)
        cols = (["status", "true_index", "model_index"]
                + [f"true_x{i}" for i in range(dim)] + ["true_stability", "true_n_unstable"]
                + [f"model_x{i}" for i in range(dim)]
                + ["model_stability", "model_n_unstable", "location_error",
                   "eigenvalue_error", "stability_agrees"])
        # nullable integers: indices and counts stay integers next to the missing values
        counts = ["true_index", "model_index", "true_n_unstable", "model_n_unstable"]
        return pd.DataFrame(rows, columns=cols).astype(dict.fromkeys(counts, "Int64"))

    def _model_cols(self, m: int) -> dict:
        cols = {f"model_x{i}": self.mapped_fps.xstar[m, i] for i in range(self.true_fps.dim)}
        cols.update(model_stability=self.model_fps.stability[m],
                    model_n_unstable=int(self.model_fps.n_unstable[m]))
        return cols

    def numbers(self) -> dict:
        """The comparison as flat numbers (one row of a results table): ``fp_true``,
        ``fp_model``, ``fp_matched``, ``fp_missing``, ``fp_spurious``,
        ``fp_stability_agree``, mean ``fp_location_error`` and ``fp_eigenvalue_error``
        over the matched points (NaN when none matched), ``fp_score``, ``fp_recovered``."""
        matched = len(self.matched)
        return {"fp_true": len(self.true_fps), "fp_model": len(self.model_fps),
                "fp_matched": matched, "fp_missing": len(self.missing),
                "fp_spurious": len(self.spurious),
                "fp_stability_agree": int(np.sum(self.stability_agrees)),
                "fp_location_error": float(np.mean(self.location_error)) if matched
                else float("nan"),
                "fp_eigenvalue_error": float(np.mean(self.eigenvalue_error)) if matched
                else float("nan"),
                "fp_score": float(self.score), "fp_recovered": bool(self.recovered)}

    def summary(self, reference: str = "the true") -> str:
        """One sentence saying whether the model recovered the true fixed points.

        ``reference`` names the other side when it is not a true system (``"GRU-25's"``
        when two models were compared)."""
        n_true, n_match = len(self.true_fps), len(self.matched)
        n_agree = int(np.sum(self.stability_agrees))
        verdict = ("recovered" if self.recovered else
                   "partly recovered" if n_match else "did not recover")
        detail = ""
        if n_match:
            detail = (f" ({n_agree} of {n_match} matched with the right number of unstable "
                      f"directions; mean location error {100 * np.mean(self.location_error):.1f}"
                      f"% of the attractor size, mean per-bin eigenvalue error "
                      f"{np.mean(self.eigenvalue_error):.3g})")
        return (f"The model {verdict} {reference} fixed points: {n_match} of {n_true} matched"
                f"{detail}, {len(self.missing)} missing, {len(self.spurious)} spurious; "
                f"score {self.score:.2f}.")

    def plot(self, **kwargs: Any):
        """Figure: true and mapped model points with their matches, and per-bin spectra.

        Keyword arguments (``title``) go to
        :func:`dynlens.plotting.analysis.fixed_point_comparison`.
        """
        # The one import from the analysis layer into the plotting layer, and deliberately
        # lazy: figures live in dynlens.plotting (which imports this module), and this
        # convenience method must not make analysis depend on matplotlib at import time.
        from ..plotting import fixed_point_comparison

        return fixed_point_comparison(self, **kwargs)

    def __repr__(self) -> str:
        return (f"FixedPointComparison(matched={len(self.matched)}, "
                f"missing={len(self.missing)}, spurious={len(self.spurious)}, "
                f"score={self.score:.3f})")


def _as_true(true_fps: Any) -> tuple[FixedPoints, Any]:
    if isinstance(true_fps, FixedPoints):
        return true_fps, None
    points = getattr(true_fps, "fixed_points", None)
    if callable(points):
        return FixedPoints.from_points(true_fps, points()), true_fps
    raise DynlensTypeError(
        "true_fps: expected a FixedPoints or a ground-truth system with fixed_points(), "
        f"found {type(true_fps).__name__}")


def _bin_maps(fps: FixedPoints) -> np.ndarray:
    """Per-bin maps: exp(dt J) for a vector field (its own dt, 1 if None), J for a map."""
    return fps.linearization().to_discrete().jacobians if len(fps) else fps.jacobians


def _eig_error(a: np.ndarray, b: np.ndarray) -> float:
    cost = np.abs(a[:, None] - b[None, :])
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def _default_threshold(true_points: np.ndarray, scale: float) -> float:
    """0.25 of the attractor size, or half the closest true pair's distance if smaller."""
    if len(true_points) < 2:
        return 0.25
    gaps = np.linalg.norm(true_points[:, None] - true_points[None], axis=-1)
    closest = float(gaps[np.triu_indices(len(true_points), k=1)].min())
    return min(0.25, 0.5 * closest / scale) if closest > 0 else 0.25


def _check_alignment(alignment: Any, model_dim: int, true_dim: int) -> np.ndarray:
    """The alignment's ``coef_`` [true_dim, model_dim] (it must map model -> true)."""
    coef, _ = _affine_parts(alignment, model_dim)
    if coef.shape[0] != true_dim:
        raise DynlensValueError(
            f"alignment: expected a map into the {true_dim}-d true coordinates (model -> "
            f"true), found one into {coef.shape[0]} dimensions")
    return coef


def _scale(truth: FixedPoints, system: Any, scale: float | None,
           true_trajectories: Any) -> float:
    """``scale`` checked, or the RMS distance from their centroid of the true states: the
    given trajectories, else a 5000-bin trajectory of the system, else the true points."""
    if scale is not None:
        return check_positive_float(scale, "scale")
    if true_trajectories is not None:
        states = as_states(true_trajectories, "true_trajectories", truth.dim)[0]
    elif system is not None and callable(getattr(system, "trajectory", None)):
        states = np.asarray(system.trajectory(5000), dtype=np.float64).reshape(-1, truth.dim)
    else:
        states = truth.xstar
    scale = float(np.sqrt(((states - states.mean(0)) ** 2).sum(1).mean())) if len(
        states) > 1 else 0.0
    if not np.isfinite(scale) or scale <= 0:
        raise DynlensValueError(
            "scale: could not derive the attractor size from a single true fixed point; "
            "pass scale= or true_trajectories=")
    return scale


def _bin_spectra(truth: FixedPoints, model_fps: FixedPoints,
                 coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin map eigenvalues of the true points and of the model points conjugated into
    true coordinates (``A M A^+``), each ``[n, true_dim]`` sorted by modulus."""
    true_maps = _bin_maps(truth)
    model_maps = coef @ _bin_maps(model_fps) @ np.linalg.pinv(coef) if len(model_fps) else \
        np.zeros((0, truth.dim, truth.dim))
    true_eig = sorted_eig(true_maps, "discrete")[0] if len(truth) else np.zeros((0, truth.dim))
    model_eig = (sorted_eig(model_maps, "discrete")[0] if len(model_fps)
                 else np.zeros((0, truth.dim)))
    return true_eig, model_eig


def _match(true_x: np.ndarray, mapped_x: np.ndarray, scale: float,
           threshold: float) -> list[tuple[int, int]]:
    """One-to-one pairs of least total distance, kept within ``threshold * scale``."""
    if not len(true_x) or not len(mapped_x):
        return []
    dist = np.linalg.norm(true_x[:, None] - mapped_x[None], axis=-1) / scale
    rows, cols = linear_sum_assignment(dist)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if dist[r, c] <= threshold]


def _spurious(manifold_id: np.ndarray, matched: list[tuple[int, int]]) -> list[int]:
    """Unmatched model points, one per manifold, none on a manifold with a matched point."""
    matched_models = {m for _, m in matched}
    seen = {int(manifold_id[m]) for m in matched_models}
    spurious = []
    for m in range(len(manifold_id)):
        mid = int(manifold_id[m])
        if m not in matched_models and mid not in seen:
            spurious.append(m)
            seen.add(mid)
    return spurious


def _score(loc: np.ndarray, eig: np.ndarray, agree: np.ndarray, threshold: float,
           denom: int, any_matched: bool) -> float:
    """The summary score of :func:`compare_fixed_points` (see its Notes), clipped to [0, 1]."""
    credit = (agree * (1 - loc / threshold) * np.clip(1 - eig, 0, None)) if any_matched else []
    score = float(np.sum(credit) / denom) if denom else 1.0
    return float(np.clip(score, 0.0, 1.0))


def compare_fixed_points(
    model_fps: FixedPoints,
    true_fps: Any,
    alignment: Any,
    *,
    scale: float | None = None,
    true_trajectories: Any = None,
    threshold: float | None = None,
) -> FixedPointComparison:
    """Match a model's fixed points to the true ones through an affine alignment.

    Parameters
    ----------
    model_fps : FixedPoints
        The model's fixed points in its latent coordinates.
    true_fps : FixedPoints or ground-truth system
        A system (anything with ``fixed_points()``, ``dim`` and ``kind``) is described with
        :meth:`FixedPoints.from_points`.
    alignment : fitted AffineAlignment
        Maps MODEL latents to TRUE coordinates (fit it with model latents as ``source`` and
        true latents as ``target``).
    scale : float, optional
        Size of the true attractor. Default: the RMS distance from their centroid of
        ``true_trajectories`` when given, else of a 5000-bin ``trajectory()`` of the system
        when ``true_fps`` is one, else of the true fixed points themselves.
    true_trajectories : array-like [trials, bins, dim] or [n, dim], optional
        True latent states, used for the default ``scale``.
    threshold : float, optional
        A model point may match a true point only within ``threshold * scale``. Default:
        0.25, lowered where needed to half the smallest distance between two true points
        (divided by ``scale``), so that no model point is ever within the threshold of two
        true points and every match is unambiguous.

    Returns
    -------
    FixedPointComparison

    Notes
    -----
    *Matching*: the model points are mapped into true coordinates, and
    ``scipy.optimize.linear_sum_assignment`` pairs true and model points one-to-one so as to
    minimise the total distance; pairs farther apart than the threshold are dropped.

    *Eigenvalues* are compared on the per-bin discrete map, so that GRUs (maps) and NODEs
    (vector fields) are on one scale: a vector field's Jacobian ``J`` becomes
    ``exp(dt J)`` with each side's own ``dt``; a map's Jacobian is used as it is. The
    model's per-bin map ``M`` is conjugated into true coordinates, ``A M A^+`` (``A`` the
    alignment's ``coef_``, ``A^+`` its pseudo-inverse), so both sides have ``true_dim``
    eigenvalues even when the latent dimensions differ: exactly the model's eigenvalues when
    ``A`` is square and invertible; when the model has more dimensions, those of its
    dynamics projected onto the true space. The error of a pair is the mean absolute
    difference of optimally paired eigenvalues.

    *Stability* agrees when the model point (in its own space) has as many unstable
    directions as the true point.

    *Score* = sum over matched pairs of ``agree * (1 - d / threshold) * max(0, 1 - e)``,
    divided by ``n_true + n_spurious``, where ``d`` is the location error (in units of
    ``scale``), ``e`` the eigenvalue error and ``agree`` 1 when stability agrees, else 0.
    It is 1 only for a perfect one-to-one recovery and falls with missing and spurious
    points, misplaced points, wrong spectra and wrong stability.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from dynlens import Dynamics
    >>> from dynlens.analysis import AffineAlignment
    >>> class Pitchfork(Dynamics):
    ...     def __init__(self, a=1.0, b=0.0):
    ...         super().__init__(dim=1, kind="continuous", dt=0.1)
    ...         self.a, self.b = a, b
    ...     def forward(self, x, u=None):  # z = (x - b) / a, the true system in model units
    ...         z = self.a * x + self.b
    ...         return (z - z ** 3) / self.a
    >>> true = FixedPoints.from_points(Pitchfork(), [[-1.0], [0.0], [1.0]])
    >>> model = FixedPoints.from_points(Pitchfork(2.0, 0.5), [[-0.75], [-0.25], [0.25]])
    >>> align = AffineAlignment().fit(np.linspace(-1, 1, 9)[:, None],
    ...                               2 * np.linspace(-1, 1, 9)[:, None] + 0.5)
    >>> report = compare_fixed_points(model, true, align)
    >>> report.matched, report.missing, report.spurious, round(report.score, 6)
    ([(0, 0), (1, 1), (2, 2)], [], [], 1.0)
    """
    if not isinstance(model_fps, FixedPoints):
        raise DynlensTypeError(
            f"model_fps: expected a FixedPoints, found {type(model_fps).__name__}")
    truth, system = _as_true(true_fps)
    coef = _check_alignment(alignment, model_fps.dim, truth.dim)
    if threshold is not None:
        threshold = check_positive_float(threshold, "threshold")
    scale = _scale(truth, system, scale, true_trajectories)
    if threshold is None:
        threshold = _default_threshold(truth.xstar, scale)

    mapped = model_fps.transform(alignment)
    true_eig, model_eig = _bin_spectra(truth, model_fps, coef)
    matched = _match(truth.xstar, mapped.xstar, scale, threshold)
    loc = np.array([np.linalg.norm(truth.xstar[t] - mapped.xstar[m]) / scale
                    for t, m in matched])
    eig = np.array([_eig_error(true_eig[t], model_eig[m]) for t, m in matched])
    agree = np.array([truth.n_unstable[t] == model_fps.n_unstable[m] for t, m in matched],
                     dtype=bool)
    missing = sorted(set(range(len(truth))) - {t for t, _ in matched})
    spurious = _spurious(model_fps.manifold_id, matched)
    score = _score(loc, eig, agree, threshold, len(truth) + len(spurious), bool(matched))
    return FixedPointComparison(
        true_fps=truth, model_fps=model_fps, mapped_fps=mapped, matched=matched,
        missing=missing, spurious=spurious, location_error=loc, eigenvalue_error=eig,
        stability_agrees=agree, true_bin_eigenvalues=true_eig,
        model_bin_eigenvalues=model_eig, scale=scale, threshold=threshold, score=score,
    )

"""Match a model's fixed points to a ground-truth system's and put numbers on the agreement.

:func:`compare_fixed_points` reads as its steps: check the alignment, find the attractor's
size (:func:`_scale`) and the matching threshold, compute per-bin spectra on both sides
(:func:`_bin_spectra`), match points one-to-one (:func:`_match`), measure each pair's errors,
sort the unmatched points into the categories of :data:`CATEGORIES` (:func:`_unmatched`) and
sum up a score (:func:`_score`). Every word a user reads about the comparison (the statuses
of :meth:`FixedPointComparison.table`, the counts of :meth:`FixedPointComparison.counts`,
``numbers()``, ``summary()``, the figure and the reports) comes from :data:`CATEGORIES`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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

__all__ = ["CATEGORIES", "FixedPointComparison", "compare_fixed_points", "count_words"]

#: Every category of a compared fixed point, in reading order, with its one-sentence
#: definition. Each true point is in exactly one of matched, mislocated and missing; each
#: model point in exactly one of matched, mislocated, spurious and duplicate (matched and
#: mislocated are one-to-one pairs, so their counts are the same on both sides).
CATEGORIES = {
    "matched": "a true point and a model point paired one-to-one (least total distance) "
               "within the matching threshold",
    "mislocated": "an unmatched true point paired one-to-one (least total distance) with an "
                  "unmatched model point of the same number of unstable directions that lies "
                  "beyond the threshold: the model has a fixed point of its kind, elsewhere",
    "missing": "a true point neither matched nor mislocated",
    "spurious": "a model point neither matched nor mislocated, counted once per line or sheet "
                "of fixed points (manifold) that holds no matched or mislocated point",
    "duplicate": "any further model point of a line or sheet of fixed points already counted "
                 "through another of its points",
}


def count_words(counts: Mapping[str, int], mislocated_at: Sequence[float] = ()) -> str:
    """A comparison's counts in the words of :data:`CATEGORIES`, as every report says them.

    Parameters
    ----------
    counts : mapping of category to int
        Counts of the categories (:meth:`FixedPointComparison.counts`, or a report summary
        holding them); ``duplicate`` is said only when there are any.
    mislocated_at : sequence of float
        Distances of the mislocated pairs in attractor sizes, said after their count.

    Returns
    -------
    str

    Examples
    --------
    >>> count_words({"matched": 1, "mislocated": 2, "missing": 0, "spurious": 1,
    ...              "duplicate": 0}, mislocated_at=[0.41, 0.62])
    '1 matched, 2 mislocated (0.41 and 0.62 attractor sizes away), 0 missing, 1 spurious'
    """
    words = []
    for name in CATEGORIES:
        n = int(counts.get(name, 0))
        if name == "duplicate" and not n:
            continue
        far = ""
        if name == "mislocated" and len(mislocated_at):
            shown = [f"{d:.2f}" for d in mislocated_at]
            listed = ", ".join(shown[:-1]) + " and " + shown[-1] if len(shown) > 1 else shown[0]
            far = f" ({listed} attractor sizes away)"
        words.append(f"{n} {name}{far}")
    return ", ".join(words)


@dataclass(frozen=True, eq=False)
class FixedPointComparison:
    """How well a model's fixed points match the true ones (see :func:`compare_fixed_points`).

    Every true point is in exactly one category and every model point in exactly one:

    - *matched*: a true point and a model point paired one-to-one (least total distance)
      within the matching threshold;
    - *mislocated*: an unmatched true point paired one-to-one with an unmatched model point
      of the same number of unstable directions beyond the threshold (the model has a fixed
      point of its kind, elsewhere);
    - *missing*: a true point neither matched nor mislocated;
    - *spurious*: a model point neither matched nor mislocated, one per line or sheet of
      fixed points (``manifold_id``) holding no matched or mislocated point;
    - *duplicate*: any further model point of a line or sheet already counted through
      another of its points.

    So ``n_true = matched + mislocated + missing`` and
    ``n_model = matched + mislocated + spurious + duplicate`` (:meth:`counts`).

    Attributes
    ----------
    true_fps : FixedPoints
        The true fixed points (true coordinates).
    model_fps : FixedPoints
        The model's fixed points in its own latent coordinates.
    mapped_fps : FixedPoints
        The model's fixed points mapped into true coordinates by the alignment.
    matched : list of (int, int)
        ``(true_index, model_index)`` pairs within the threshold.
    mislocated : list of (int, int)
        ``(true_index, model_index)`` pairs of the same number of unstable directions
        beyond the threshold.
    missing : list of int
        True points neither matched nor mislocated.
    spurious : list of int
        Model points neither matched nor mislocated (one per manifold).
    duplicate : list of int
        Further model points of manifolds counted through another of their points.
    location_error : ndarray
        Per matched pair: distance in true coordinates divided by ``scale``.
    eigenvalue_error : ndarray
        Per matched pair: mean ``|mu_true - mu_model|`` over optimally paired eigenvalues of
        the per-bin maps (see :func:`compare_fixed_points`).
    stability_agrees : ndarray of bool
        Per matched pair: equal numbers of unstable directions.
    mislocation : ndarray
        Per mislocated pair: distance in true coordinates divided by ``scale``.
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
    FixedPointComparison(matched=2, mislocated=0, missing=1, spurious=0, score=0.667)
    >>> report.matched, report.missing, report.recovered, report.matched_with_stability
    ([(0, 0), (2, 1)], [1], False, 2)
    >>> report.table()["status"].tolist()
    ['matched', 'missing', 'matched']
    >>> {k: report.numbers()[k] for k in ("fp_true", "fp_model", "fp_stability_agree")}
    {'fp_true': 3, 'fp_model': 2, 'fp_stability_agree': 2}
    """

    true_fps: FixedPoints
    model_fps: FixedPoints
    mapped_fps: FixedPoints
    matched: list
    mislocated: list
    missing: list
    spurious: list
    duplicate: list
    location_error: np.ndarray
    eigenvalue_error: np.ndarray
    stability_agrees: np.ndarray
    mislocation: np.ndarray
    true_bin_eigenvalues: np.ndarray = field(repr=False)
    model_bin_eigenvalues: np.ndarray = field(repr=False)
    scale: float = 1.0
    threshold: float = 0.25
    score: float = 0.0

    @property
    def recovered(self) -> bool:
        """Every true point matched with the right stability, and no spurious point."""
        return (len(self.matched) == len(self.true_fps) and not self.spurious
                and bool(np.all(self.stability_agrees)))

    @property
    def matched_with_stability(self) -> int:
        """How many matched pairs agree in their number of unstable directions (the
        ``fp_stability_agree`` of :meth:`numbers`, the ``matched_with_stability`` of the
        reports and of :func:`~dynlens.analysis.verdict`)."""
        return int(np.sum(self.stability_agrees))

    def counts(self) -> dict[str, int]:
        """How many points each category of :data:`CATEGORIES` holds (matched and mislocated
        count pairs), in reading order.

        Returns
        -------
        dict of str to int
        """
        return {name: len(getattr(self, name)) for name in CATEGORIES}

    def true_status(self) -> list[str]:
        """Each true point's category: "matched", "mislocated" or "missing"."""
        status = ["missing"] * len(self.true_fps)
        for name in ("matched", "mislocated"):
            for t, _ in getattr(self, name):
                status[t] = name
        return status

    def model_status(self) -> list[str]:
        """Each model point's category: "matched", "mislocated", "spurious" or "duplicate"."""
        status = ["duplicate"] * len(self.model_fps)
        for name in ("matched", "mislocated"):
            for _, m in getattr(self, name):
                status[m] = name
        for m in self.spurious:
            status[m] = "spurious"
        return status

    def table(self) -> pd.DataFrame:
        """One row per true point (status "matched", "mislocated" or "missing", the paired
        model point beside it), then one per spurious model point; positions in true
        coordinates. Duplicate model points are not listed (:meth:`counts` has their number).

        Returns
        -------
        pandas.DataFrame
        """
        dim = self.true_fps.dim
        pairs = {t: ("matched", k, m) for k, (t, m) in enumerate(self.matched)}
        pairs.update({t: ("mislocated", k, m) for k, (t, m) in enumerate(self.mislocated)})
        rows = []
        for t, status in enumerate(self.true_status()):
            row = {"status": status, "true_index": t, "model_index": pd.NA}
            row.update({f"true_x{i}": self.true_fps.xstar[t, i] for i in range(dim)})
            row.update(true_stability=self.true_fps.stability[t],
                       true_n_unstable=int(self.true_fps.n_unstable[t]))
            if status == "matched":
                _, k, m = pairs[t]
                row.update(model_index=m, **self._model_cols(m))
                row.update(location_error=self.location_error[k],
                           eigenvalue_error=self.eigenvalue_error[k],
                           stability_agrees=bool(self.stability_agrees[k]))
            elif status == "mislocated":
                _, k, m = pairs[t]
                row.update(model_index=m, **self._model_cols(m))
                row.update(location_error=self.mislocation[k], stability_agrees=True)
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
        ``fp_model``, one ``fp_<category>`` count per category of :data:`CATEGORIES`
        (``fp_matched``, ``fp_mislocated``, ``fp_missing``, ``fp_spurious``,
        ``fp_duplicate``), ``fp_stability_agree``, mean ``fp_location_error`` and
        ``fp_eigenvalue_error`` over the matched points (NaN when none matched),
        ``fp_score``, ``fp_recovered``.

        Returns
        -------
        dict
        """
        matched = len(self.matched)
        return {"fp_true": len(self.true_fps), "fp_model": len(self.model_fps),
                **{f"fp_{name}": n for name, n in self.counts().items()},
                "fp_stability_agree": self.matched_with_stability,
                "fp_location_error": float(np.mean(self.location_error)) if matched
                else float("nan"),
                "fp_eigenvalue_error": float(np.mean(self.eigenvalue_error)) if matched
                else float("nan"),
                "fp_score": float(self.score), "fp_recovered": bool(self.recovered)}

    def summary(self, reference: str = "the true") -> str:
        """One sentence saying whether the model recovered the true fixed points.

        Parameters
        ----------
        reference : str
            Names the other side when it is not a true system (``"GRU-25's"`` when two
            models were compared).

        Returns
        -------
        str
        """
        n_match = len(self.matched)
        n_agree = self.matched_with_stability
        verdict = ("recovered" if self.recovered else
                   "partly recovered" if n_match else "did not recover")
        detail = ""
        if n_match:
            detail = (f" ({n_agree} of {n_match} matched with the right number of unstable "
                      f"directions; mean location error {100 * np.mean(self.location_error):.1f}"
                      f"% of the attractor size, mean per-bin eigenvalue error "
                      f"{np.mean(self.eigenvalue_error):.3g})")
        return (f"The model {verdict} {reference} fixed points ({len(self.true_fps)}): "
                f"{count_words(self.counts(), self.mislocation)}{detail}; "
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
        counts = ", ".join(f"{name}={n}" for name, n in self.counts().items()
                           if name != "duplicate" or n)
        return f"FixedPointComparison({counts}, score={self.score:.3f})"


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


def _unmatched(truth: FixedPoints, model_fps: FixedPoints, mapped_x: np.ndarray,
               matched: list[tuple[int, int]], scale: float
               ) -> tuple[list[tuple[int, int]], np.ndarray, list[int], list[int], list[int]]:
    """The unmatched points sorted into categories: mislocated pairs and their distances (in
    units of ``scale``), missing true points, spurious and duplicate model points.

    Each manifold without a matched point offers one model point (its first): those of the
    same number of unstable directions as an unmatched true point are paired with them
    one-to-one by least total distance (mislocated); the others are spurious. Every other
    model point not matched is a duplicate of its manifold."""
    matched_true, matched_models = {t for t, _ in matched}, {m for _, m in matched}
    seen = {int(model_fps.manifold_id[m]) for m in matched_models}
    offered = []
    for m in range(len(model_fps)):
        mid = int(model_fps.manifold_id[m])
        if m not in matched_models and mid not in seen:
            offered.append(m)
            seen.add(mid)
    lost = [t for t in range(len(truth)) if t not in matched_true]
    mislocated: list[tuple[int, int]] = []
    if lost and offered:
        dist = np.linalg.norm(truth.xstar[lost][:, None] - mapped_x[offered][None],
                              axis=-1) / scale
        same = truth.n_unstable[lost][:, None] == model_fps.n_unstable[offered][None]
        # a large finite cost for pairs of unlike stability (inf could make it infeasible)
        rows, cols = linear_sum_assignment(np.where(same, dist, 1e9))
        mislocated = sorted((lost[r], offered[c]) for r, c in zip(rows, cols) if same[r, c])
    far = np.array([np.linalg.norm(truth.xstar[t] - mapped_x[m]) / scale
                    for t, m in mislocated])
    paired = {t for t, _ in mislocated}, {m for _, m in mislocated}
    missing = [t for t in lost if t not in paired[0]]
    spurious = [m for m in offered if m not in paired[1]]
    counted = matched_models | set(offered)
    duplicate = [m for m in range(len(model_fps)) if m not in counted]
    return mislocated, far, missing, spurious, duplicate


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

    *Categories*: the unmatched points are then sorted as :class:`FixedPointComparison`
    defines (mislocated, missing, spurious, duplicate), so that every point is in one.

    *Score* = sum over matched pairs of ``agree * (1 - d / threshold) * max(0, 1 - e)``,
    divided by ``n_true + n_spurious + n_mislocated`` (every true point, and every model
    manifold without a matched point), where ``d`` is the location error (in units of
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
    >>> report.counts()
    {'matched': 3, 'mislocated': 0, 'missing': 0, 'spurious': 0, 'duplicate': 0}
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
    mislocated, far, missing, spurious, duplicate = _unmatched(truth, model_fps, mapped.xstar,
                                                               matched, scale)
    score = _score(loc, eig, agree, threshold, len(truth) + len(spurious) + len(mislocated),
                   bool(matched))
    return FixedPointComparison(
        true_fps=truth, model_fps=model_fps, mapped_fps=mapped, matched=matched,
        mislocated=mislocated, missing=missing, spurious=spurious, duplicate=duplicate,
        location_error=loc, eigenvalue_error=eig, stability_agrees=agree, mislocation=far,
        true_bin_eigenvalues=true_eig, model_bin_eigenvalues=model_eig, scale=scale,
        threshold=threshold, score=score,
    )

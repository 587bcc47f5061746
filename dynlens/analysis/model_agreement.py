"""Agreement without a ground truth: models fitted to the same data, compared pair by pair.

On a recording there is no true system to compare a model with, but models trained on the
same data can be compared with each other: if their latents map affinely onto one another,
their fixed points land on each other's and their Lyapunov spectra coincide, the structure
they found does not depend on the seed, size or architecture. :func:`agreement` measures
this with the tools that compare a model with a true system (:class:`AffineAlignment`,
:func:`compare_fixed_points` and its categories, :func:`lyapunov_spectrum`,
:func:`dynamics_similarity`), one model of each pair standing in for the truth.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DynlensNoDynamicsError, DynlensTypeError, DynlensValueError
from ..threads import ThreadPolicy
from ..utils import check_positive_int
from .alignment import AffineAlignment
from .compare import CATEGORIES, FixedPointComparison, compare_fixed_points
from .fixed_points import FixedPoints, find_fixed_points
from .lyapunov import lyapunov_spectrum

__all__ = ["Agreement", "agreement"]


@dataclass
class _Fitted:
    """What one model contributes: its latents on train and on the scored split, and
    (when it has a generator) its fixed points and Lyapunov spectrum per bin."""

    label: str
    train: np.ndarray
    scored: np.ndarray
    fixed_points: FixedPoints | None = None
    lyapunov: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class Agreement:
    """How far models fitted to the same data agree (see :func:`agreement`).

    Attributes
    ----------
    labels : list of str
        The models' names, in the order given.
    pairs : pandas.DataFrame
        One row per unordered pair ``(a, b)``, ``a`` before ``b`` in ``labels``
        (:meth:`table`).
    comparisons : dict
        ``(reference, other) -> FixedPointComparison`` for both orders of every pair whose
        models both have dynamics: ``other``'s fixed points mapped into ``reference``'s
        coordinates and matched with ``reference``'s as if they were the true ones.
    models : pandas.DataFrame
        One row per model (indexed by label): ``latent_dim``, ``has_dynamics``,
        ``n_fixed_points``, ``lyapunov_max``; :meth:`summary` adds the pair means.
    score : float
        The mean of the pairs' ``score`` column (formula in :func:`agreement`).
    split : str
        The split the latent maps were scored on.

    Examples
    --------
    >>> import dynlens as dl
    >>> data = dl.simulate("arneodo", n_neurons=8, n_trials=30, n_bins=20, seed=0)
    >>> model = dl.models.SAE(n_neurons=8, latent_dim=3)
    >>> agree = dl.agreement({"a": model, "b": model}, data, fixed_points=False,
    ...                      lyapunov=False, progress=False)
    >>> agree  # a model agrees with itself
    Agreement(2 models, 1 pairs, score=1.000)
    >>> agree.summary()[["latent_dim", "mean_score"]].values.tolist()
    [[3.0, 1.0], [3.0, 1.0]]
    """

    labels: list
    pairs: pd.DataFrame
    comparisons: dict = field(repr=False)
    models: pd.DataFrame = field(repr=False)
    score: float = float("nan")
    split: str = "test"

    def table(self) -> pd.DataFrame:
        """One row per unordered pair of models (``a``, ``b``).

        Columns: ``latent_r2_ab`` (R2 of ``b``'s latents predicted affinely from ``a``'s,
        map fitted on train, scored on the split) and ``latent_r2_ba``; ``latent_r2`` their
        minimum; for each direction (``_ab``: ``b``'s fixed points in ``a``'s coordinates,
        ``a``'s points as the reference) the count of each category of
        :data:`~dynlens.analysis.compare.CATEGORIES` (``fp_matched_ab``, ...) and the
        comparison's score (``fp_score_ab``); ``fp_score`` the mean of both directions;
        ``lyapunov_diff`` the mean absolute difference of the leading
        ``min(dim_a, dim_b)`` exponents per bin, ``lyapunov_max_diff`` that of the largest;
        ``dsa`` the DSA distance of the latents on the split (NaN when not computed);
        ``score``. NaN wherever a model has no dynamics.

        Returns
        -------
        pandas.DataFrame
        """
        return self.pairs.copy()

    def summary(self) -> pd.DataFrame:
        """One row per model: ``latent_dim``, ``has_dynamics``, ``n_fixed_points``,
        ``lyapunov_max`` (its largest exponent per bin), and the means over its pairs of
        ``score``, ``latent_r2`` and ``fp_score``.

        Returns
        -------
        pandas.DataFrame
            Indexed by label.
        """
        out = self.models.copy()
        for column in ("score", "latent_r2", "fp_score"):
            # pandas' mean skips NaN and gives NaN (no warning) where a model's pairs have none
            out[f"mean_{column}"] = [
                float(self.pairs.loc[(self.pairs.a == label) | (self.pairs.b == label),
                                     column].mean()) for label in self.labels]
        return out

    def comparison(self, reference: str, other: str) -> FixedPointComparison:
        """``other``'s fixed points matched with ``reference``'s (see :attr:`comparisons`).

        Parameters
        ----------
        reference, other : str
            Two labels.

        Returns
        -------
        FixedPointComparison
        """
        key = (reference, other)
        if key not in self.comparisons:
            raise DynlensValueError(
                f"reference, other: expected two labels of models with dynamics among "
                f"{self.labels}, found {key!r}")
        return self.comparisons[key]

    def add_to(self, report: Any) -> None:
        """Append an "Agreement between models" section to a report: what was compared,
        the score, the pair table and the per-model summary.

        Parameters
        ----------
        report : dynlens.app.report.Report
            Anything with ``text(*paragraphs)`` and ``table(frame)``; what
            ``dynlens analyze`` with several models and no truth writes in place of a
            comparison with a true system.
        """
        report.text(
            "## Agreement between models",
            f"No true system: the {len(self.labels)} models were compared with each other "
            f"(latents mapped affinely both ways, fitted on train and scored on "
            f"{self.split}; fixed points of each mapped into the other's coordinates and "
            f"matched as with a true system). Overall agreement {self.score:.3f} (1: each "
            f"model's latents an invertible affine image of the other's, with the same fixed "
            f"points); a structure found by every model is one the data support.")
        columns = ["a", "b", "latent_r2_ab", "latent_r2_ba", "fp_score", "lyapunov_diff",
                   "score"]
        report.table(self.pairs[columns])
        report.table(self.summary().reset_index())

    def __repr__(self) -> str:
        return (f"Agreement({len(self.labels)} models, {len(self.pairs)} pairs, "
                f"score={self.score:.3f})")


def _labels(models: Any, labels: Sequence[str] | None) -> tuple[list, list]:
    if isinstance(models, Mapping):
        names, items = [str(k) for k in models], list(models.values())
    elif isinstance(models, Sequence) and not isinstance(models, str):
        items = list(models)
        names = [str(getattr(m, "label", type(m).__name__)) for m in items]
    else:
        raise DynlensTypeError(
            f"models: expected a list of trained models or a dict of name -> model, found "
            f"{type(models).__name__}")
    if labels is not None:
        names = [str(name) for name in labels]
        if len(names) != len(items):
            raise DynlensValueError(
                f"labels: expected one label per model ({len(items)}), found {len(names)}")
    if len(items) < 2:
        raise DynlensValueError(
            f"models: expected at least two models to compare, found {len(items)}")
    for i, model in enumerate(items):
        if not hasattr(model, "infer"):
            raise DynlensTypeError(
                f"models: expected trained dynlens models (with infer), found "
                f"{type(model).__name__} at position {i}")
    seen: dict[str, int] = {}
    unique = []
    for name in names:  # repeated names (two seeds of NODE-3) get their position appended
        unique.append(name if names.count(name) == 1 else f"{name}#{seen.get(name, 0)}")
        seen[name] = seen.get(name, 0) + 1
    return unique, items


def _dynamics64(model: Any) -> Any:
    """A float64 copy of the model's generator, or None for a model without one. Fixed
    points of two models are compared to far below float32 rounding, so that a model and an
    affinely re-coordinated copy of it agree to 1e-6 rather than to float32's 1e-4."""
    try:
        dynamics = model.dynamics
    except DynlensNoDynamicsError:
        return None
    dynamics = copy.deepcopy(dynamics)
    return dynamics.double() if hasattr(dynamics, "double") else dynamics


def _fit_one(label: str, model: Any, train: Any, scored: Any, *, fixed_points: bool,
             lyapunov: bool, n_inits: int, lyapunov_steps: int, seed: int,
             threads: int | str) -> _Fitted:
    lat_train = np.asarray(model.infer(train, threads=threads).latents, dtype=np.float64)
    lat_scored = np.asarray(model.infer(scored, threads=threads).latents, dtype=np.float64)
    fitted = _Fitted(label, lat_train, lat_scored)
    if not (fixed_points or lyapunov):
        return fitted  # the latent columns alone: no generator to copy
    dynamics = _dynamics64(model)
    if dynamics is None:
        return fitted
    if fixed_points:
        fitted.fixed_points = find_fixed_points(dynamics, lat_train, n_inits=n_inits, seed=seed,
                                                progress=False, threads=threads)
    if lyapunov:
        flat = lat_train.reshape(-1, lat_train.shape[-1])
        starts = flat[np.random.default_rng(seed).choice(len(flat), 16, replace=len(flat) < 16)]
        with ThreadPolicy(threads):
            spectrum = lyapunov_spectrum(dynamics, starts, n_steps=lyapunov_steps, seed=seed)
        fitted.lyapunov = np.asarray(spectrum.per_bin, dtype=np.float64)
    return fitted


def _latent_r2(a: _Fitted, b: _Fitted) -> float:
    """R2 of ``b``'s latents predicted from ``a``'s: map fitted on train, scored on the split."""
    return AffineAlignment().fit(a.train, b.train).score(a.scored, b.scored)


def _fp_columns(ref: _Fitted, other: _Fitted, suffix: str, comparisons: dict) -> dict:
    """``other``'s fixed points in ``ref``'s coordinates, ``ref``'s as the reference."""
    if ref.fixed_points is None or other.fixed_points is None:
        return {**{f"fp_{name}_{suffix}": float("nan") for name in CATEGORIES},
                f"fp_score_{suffix}": float("nan")}
    alignment = AffineAlignment().fit(other.train, ref.train)
    result = compare_fixed_points(other.fixed_points, ref.fixed_points, alignment,
                                  true_trajectories=ref.train)
    comparisons[(ref.label, other.label)] = result
    return {**{f"fp_{name}_{suffix}": n for name, n in result.counts().items()},
            f"fp_score_{suffix}": float(result.score)}


def _lyapunov_columns(a: _Fitted, b: _Fitted) -> dict:
    if a.lyapunov is None or b.lyapunov is None:
        return {"lyapunov_diff": float("nan"), "lyapunov_max_diff": float("nan")}
    k = min(len(a.lyapunov), len(b.lyapunov))
    diff = np.abs(a.lyapunov[:k] - b.lyapunov[:k])
    return {"lyapunov_diff": float(diff.mean()), "lyapunov_max_diff": float(diff[0])}


def _dsa(a: _Fitted, b: _Fitted) -> float:
    from .similarity import dynamics_similarity

    return dynamics_similarity(a.scored, b.scored)


def _pair_score(row: dict) -> float:
    parts = [min(max(row["latent_r2"], 0.0), 1.0)]
    if not np.isnan(row["fp_score"]):
        parts.append(row["fp_score"])
    return float(np.mean(parts))


def _pair_row(a: _Fitted, b: _Fitted, comparisons: dict, dsa: bool) -> dict:
    row = {"a": a.label, "b": b.label, "latent_r2_ab": _latent_r2(a, b),
           "latent_r2_ba": _latent_r2(b, a)}
    row["latent_r2"] = min(row["latent_r2_ab"], row["latent_r2_ba"])
    row.update(_fp_columns(a, b, "ab", comparisons))
    row.update(_fp_columns(b, a, "ba", comparisons))
    row["fp_score"] = float(np.mean([row["fp_score_ab"], row["fp_score_ba"]]))
    row.update(_lyapunov_columns(a, b))
    row["dsa"] = _dsa(a, b) if dsa else float("nan")
    row["score"] = _pair_score(row)
    return row


def _dsa_available() -> bool:
    try:
        import DSA  # noqa: F401 - only asking whether the optional package is there
    except ImportError:
        return False
    return True


def agreement(models: Sequence[Any] | Mapping[str, Any], data: Any, split: str = "test", *,
              labels: Sequence[str] | None = None, fixed_points: bool = True,
              lyapunov: bool = True, dsa: bool | None = False, n_inits: int = 256,
              lyapunov_steps: int = 300, seed: int = 0, progress: bool = True,
              threads: int | str = "auto") -> Agreement:
    """Compare models fitted to the same data with each other, pair by pair, with no truth.

    For every unordered pair ``(a, b)`` (``a`` before ``b`` in the order given):

    - *latents*: affine maps ``a -> b`` and ``b -> a`` (:class:`AffineAlignment`), fitted on
      the train split and scored (R2, uniform over target dimensions) on ``split``;
    - *fixed points* (both models with dynamics): each model's fixed points, searched from
      its train latents (:func:`find_fixed_points`, ``n_inits`` starts, on a float64 copy of
      its generator), are mapped into the other's coordinates by the train alignment and
      matched with :func:`compare_fixed_points`, the other's points as the reference and its
      train latents giving the attractor's size; both directions, with the same categories
      (matched, mislocated, missing, spurious, duplicate) and score as a comparison with a
      true system;
    - *Lyapunov spectra* (both with dynamics): ``lyapunov_steps`` bins from 16 train states
      per model, exponents per bin; the mean absolute difference of the leading
      ``min(dim_a, dim_b)`` exponents (a short, cheap estimate: its sampling error keeps it
      above 0 even for conjugate models, so it is reported and not scored);
    - *DSA* (``dsa=True``, or None to use it when the optional ``dsa-metric`` is installed):
      :func:`dynamics_similarity` of the latents on ``split``, also reported, not scored.

    The pair's ``score`` is the mean of ``clip(latent_r2, 0, 1)`` (the smaller R2 of the two
    directions) and ``fp_score`` (the mean of the two directions' fixed-point scores) when
    both models have dynamics, else ``clip(latent_r2, 0, 1)`` alone. The overall
    :attr:`Agreement.score` is the mean over pairs. Both are in [0, 1]; 1 means each model's
    latents are an invertible affine image of the other's and their fixed points coincide
    with the same local spectra and stability.

    Parameters
    ----------
    models : list of models or dict of name -> model
        At least two trained models (seeds, sizes or architectures) fitted to ``data``.
        Models without dynamics (the NDT) get the latent columns and NaN elsewhere.
    data : NeuralDataset
        The data they were fitted to, with a train split and ``split``.
    split : str
        The split the latent maps are scored on (the maps are fitted on ``"train"``).
    labels : list of str, optional
        Names (default: the dict's keys, or each model's ``label``; repeated names get
        ``#0``, ``#1``, ... appended).
    fixed_points, lyapunov : bool
        Compute the fixed-point and Lyapunov parts (each costs a search per model).
    dsa : bool or None
        Compute DSA distances (needs ``dsa-metric``); None: when installed.
    n_inits : int
        Starting states of each fixed-point search.
    lyapunov_steps : int
        Bins measured per start for each spectrum.
    seed : int
        Seeds the fixed-point starts and the spectra.
    progress : bool
        A progress bar over models and pairs.
    threads : "auto" or int
        torch's CPU threads throughout.

    Returns
    -------
    Agreement

    Examples
    --------
    Two untrained NODE models on the same data (the latent columns only, to keep it short):

    >>> import dynlens as dl
    >>> data = dl.simulate("arneodo", n_neurons=8, n_trials=30, n_bins=20, seed=0)
    >>> models = [dl.models.SAE(n_neurons=8, latent_dim=3) for _ in range(2)]
    >>> agree = dl.agreement(models, data, fixed_points=False, lyapunov=False, progress=False)
    >>> agree.table()[["a", "b"]].values.tolist()
    [['NODE-3#0', 'NODE-3#1']]
    >>> 0.0 <= agree.score <= 1.0
    True
    """
    names, items = _labels(models, labels)
    n_inits = check_positive_int(n_inits, "n_inits")
    lyapunov_steps = check_positive_int(lyapunov_steps, "lyapunov_steps")
    dsa = _dsa_available() if dsa is None else bool(dsa)
    train, scored = data.split("train"), data.split(split)
    from tqdm.auto import tqdm

    pairs = list(itertools.combinations(range(len(items)), 2))
    bar = tqdm(total=len(items) + len(pairs), desc="agreement", disable=not progress)
    fitted = []
    for name, model in zip(names, items):
        bar.set_postfix_str(name, refresh=False)
        fitted.append(_fit_one(name, model, train, scored, fixed_points=fixed_points,
                               lyapunov=lyapunov, n_inits=n_inits,
                               lyapunov_steps=lyapunov_steps, seed=seed, threads=threads))
        bar.update()
    comparisons: dict = {}
    rows = []
    for i, j in pairs:
        rows.append(_pair_row(fitted[i], fitted[j], comparisons, dsa))
        bar.update()
    bar.close()
    table = pd.DataFrame(rows)
    per_model = pd.DataFrame({
        "latent_dim": [f.train.shape[-1] for f in fitted],
        "has_dynamics": [_has_dynamics(m) for m in items],
        "n_fixed_points": [len(f.fixed_points) if f.fixed_points is not None else pd.NA
                           for f in fitted],
        "lyapunov_max": [float(f.lyapunov[0]) if f.lyapunov is not None else float("nan")
                         for f in fitted]}, index=pd.Index(names, name="model"))
    per_model["n_fixed_points"] = per_model["n_fixed_points"].astype("Int64")
    return Agreement(labels=names, pairs=table, comparisons=comparisons, models=per_model,
                     score=float(table["score"].mean()), split=split)


def _has_dynamics(model: Any) -> bool:
    return hasattr(model, "dynamics")  # False for the NDT: its error is an AttributeError

"""Choosing a model family and latent size from truth-free columns: ``dl.sweeps.select``.

The rule (checked against the truth in ``studies/truth_free_selection``):

1. *Likelihood*: the held-out likelihood of each cell, averaged over its seeds: ``co_bps``
   when the data have held-out neurons, else ``bps`` on the scored split, else the best
   validation loss (lower is better).
2. *Saturation*: within each family the smallest latent size whose likelihood is within
   ``tolerance`` of the family's best, ``tolerance`` a fraction of the spread between the
   family's worst and best sizes. Larger sizes fit the data a little better without
   describing it better; the size at which the likelihood stops climbing is the size of
   the dynamics the data need.
3. *Family*: a family whose best likelihood is not within the same tolerance (of the spread
   over all cells) of the best of all families is dropped. Among the others, the one whose
   chosen size agrees most across seeds (``agreement_mean`` from
   :func:`dynlens.sweeps.agreement`) wins, unless its lead is under ``agreement_margin``;
   then (and when there are no agreement columns) the smaller chosen size wins, then the
   higher likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import DynlensValueError
from ..utils import check_fraction

__all__ = ["LIKELIHOODS", "Selection", "select"]

#: Truth-free likelihood columns in order of preference, and whether higher is better.
LIKELIHOODS = {"co_bps": True, "bps": True, "best_valid_loss": False}


@dataclass(frozen=True)
class Selection:
    """A recommended family and latent size (see :func:`select`).

    Attributes
    ----------
    family : str
        The sweep's ``model`` name of the family (``"node"``, ``"gru"``, ...).
    latent_dim : int
    reasons : list of str
        The rule's steps in words, including what it could not use.
    table : pandas.DataFrame
        The per-cell table it ranked: ``model``, ``latent_dim``, ``n_seeds``, the
        likelihood's mean and standard deviation, ``agreement_mean`` when known,
        ``saturated`` (within the tolerance of the family's best), ``chosen_size`` (the
        family's pick) and ``rank`` (1: the recommendation; the other families' picks
        next; other cells unranked).
    likelihood : str
        The likelihood column used.

    Examples
    --------
    >>> import pandas as pd
    >>> import dynlens as dl
    >>> table = pd.DataFrame({"model": "node", "latent_dim": [2, 3, 5],
    ...                       "bps": [0.40, 0.69, 0.70]})
    >>> print(dl.sweeps.select(table).summary())  # doctest: +ELLIPSIS
    Recommended: NODE-3.
    - likelihood: bps (higher is better), ...: NODE-3 (0.690)
    - one family to choose from
    """

    family: str
    latent_dim: int
    reasons: list = field(default_factory=list)
    table: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    likelihood: str = ""

    def summary(self) -> str:
        """The recommendation and its reasons, one per line."""
        return "\n".join([f"Recommended: {self.family.upper()}-{self.latent_dim}.",
                          *(f"- {reason}" for reason in self.reasons)])


def _likelihood(table: pd.DataFrame) -> tuple[str, bool]:
    for column, higher in LIKELIHOODS.items():
        if column in table and table[column].notna().any():
            return column, higher
    raise DynlensValueError(
        f"table: expected a truth-free likelihood column (one of {list(LIKELIHOODS)}), "
        f"found columns {list(table.columns)}")


def _cells(table: pd.DataFrame, column: str) -> pd.DataFrame:
    done = table[table["status"] == "done"] if "status" in table else table
    groups = done.groupby(["model", "latent_dim"], sort=True)
    cells = groups[column].agg(["mean", "std", "count"]).rename(
        columns={"mean": column, "std": f"{column}_sd", "count": "n_seeds"})
    if "agreement_mean" in done and done["agreement_mean"].notna().any():
        cells["agreement_mean"] = groups["agreement_mean"].mean()
    return cells.reset_index()


def _within(values: pd.Series, higher: bool, tolerance: float,
            spread_of: pd.Series | None = None) -> pd.Series:
    """Which ``values`` are within ``tolerance`` x the spread of ``spread_of`` (default:
    of ``values``) of the best of both."""
    spread_of = values if spread_of is None else spread_of
    signed, reference = (values, spread_of) if higher else (-values, -spread_of)
    top = max(signed.max(), reference.max())
    return signed >= top - tolerance * (reference.max() - reference.min())


def select(table: pd.DataFrame, *, dataset: str | None = None, tolerance: float = 0.1,
           agreement_margin: float = 0.05) -> Selection:
    """Recommend a model family and latent size from truth-free columns only.

    The rule is in the module's docstring (:mod:`dynlens.sweeps.selection`); truth columns
    (state R2, rate R2, fixed-point counts) are never read.

    Parameters
    ----------
    table : pandas.DataFrame
        A sweep's per-run table (:func:`~dynlens.sweeps.load_results`, or
        :func:`~dynlens.sweeps.agreement` for the agreement columns).
    dataset : str, optional
        The dataset to choose for, when the table holds several.
    tolerance : float
        A size is saturated when its likelihood is within ``tolerance`` times the spread of
        its family's likelihoods of the family's best.
    agreement_margin : float
        The least lead in ``agreement_mean`` that decides between families.

    Returns
    -------
    Selection

    Examples
    --------
    The NODE's likelihood stops climbing at 3 and its seeds agree; the GRU needs 10 and its
    seeds do not:

    >>> import pandas as pd
    >>> import dynlens as dl
    >>> rows = [("node", 2, 0.43, 0.90), ("node", 3, 0.69, 0.97), ("node", 10, 0.71, 0.80),
    ...         ("gru", 2, 0.33, 0.70), ("gru", 3, 0.58, 0.50), ("gru", 10, 0.70, 0.60)]
    >>> table = pd.DataFrame(rows, columns=["model", "latent_dim", "bps", "agreement_mean"])
    >>> choice = dl.sweeps.select(table)
    >>> choice.family, choice.latent_dim
    ('node', 3)
    """
    tolerance = check_fraction(tolerance, "tolerance")
    agreement_margin = check_fraction(agreement_margin, "agreement_margin")
    missing = [c for c in ("model", "latent_dim") if c not in table]
    if missing:
        raise DynlensValueError(
            f"table: expected the columns model and latent_dim of a sweep's results, missing "
            f"{missing}")
    table = _one_dataset(table, dataset)
    column, higher = _likelihood(table)
    cells = _cells(table, column)
    cells["saturated"] = cells.groupby("model")[column].transform(
        lambda v: _within(v, higher, tolerance))
    picks = cells[cells["saturated"]].groupby("model").head(1)  # sorted: smallest size
    family_best = cells.groupby("model")[column].agg("max" if higher else "min")
    kept = _within(family_best, higher, tolerance, cells[column])
    kept = set(kept[kept].index)
    reasons = [_likelihood_reason(column, higher, tolerance, picks)]
    candidates = picks[picks["model"].isin(kept)]
    dropped = sorted(set(picks["model"]) - kept)
    if dropped:
        reasons.append(f"dropped {', '.join(dropped)}: best {column} not within the "
                       f"tolerance of the best family")
    winner, why = _family(candidates, column, higher, agreement_margin)
    reasons += why
    cells["chosen_size"] = cells.index.isin(picks.index)
    order = [winner.name] + [i for i in _ranked(candidates, column, higher) if i != winner.name]
    cells["rank"] = pd.array([order.index(i) + 1 if i in order else pd.NA
                              for i in cells.index], dtype="Int64")
    return Selection(family=str(winner["model"]), latent_dim=int(winner["latent_dim"]),
                     reasons=reasons, table=cells, likelihood=column)


def _one_dataset(table: pd.DataFrame, dataset: str | None) -> pd.DataFrame:
    names = list(dict.fromkeys(table["dataset"])) if "dataset" in table else []
    if dataset is not None:
        if dataset not in names:
            raise DynlensValueError(f"dataset: expected one of {names}, found {dataset!r}")
        return table[table["dataset"] == dataset]
    if len(names) > 1:
        raise DynlensValueError(
            f"dataset: the table holds several datasets {names}; expected dataset= naming one")
    return table


def _likelihood_reason(column: str, higher: bool, tolerance: float,
                       picks: pd.DataFrame) -> str:
    said = ", ".join(f"{row.model.upper()}-{row.latent_dim} ({getattr(row, column):.3f})"
                     for row in picks.itertuples())
    better = "higher" if higher else "lower"
    return (f"likelihood: {column} ({better} is better), mean over seeds; the smallest size "
            f"within {tolerance:g} of each family's spread of its best: {said}")


def _ranked(candidates: pd.DataFrame, column: str, higher: bool) -> list:
    """Candidates by smaller size, then better likelihood."""
    key = candidates[column] if not higher else -candidates[column]
    return list(candidates.assign(_key=key).sort_values(["latent_dim", "_key"]).index)


def _family(candidates: pd.DataFrame, column: str, higher: bool,
            margin: float) -> tuple[pd.Series, list]:
    by_size = _ranked(candidates, column, higher)
    if len(candidates) == 1:
        return candidates.loc[by_size[0]], ["one family to choose from"]
    if "agreement_mean" not in candidates or candidates["agreement_mean"].isna().all():
        return candidates.loc[by_size[0]], [
            ("cross-seed agreement: not available (run dl.sweeps.agreement on the sweep "
             "folder), so the family is chosen by the smaller saturated size alone; the "
             "likelihood by itself favours flexible models that may not recover the "
             "dynamics")]
    agree = candidates["agreement_mean"].fillna(-np.inf).sort_values(ascending=False)
    said = ", ".join(f"{candidates.loc[i, 'model'].upper()}-{candidates.loc[i, 'latent_dim']} "
                     f"{agree[i]:.3f}" for i in agree.index)
    if agree.iloc[0] - agree.iloc[1] >= margin:
        return candidates.loc[agree.index[0]], [
            (f"cross-seed agreement at the saturated sizes: {said}; the most reproducible "
             f"family wins (lead >= {margin:g})")]
    return candidates.loc[by_size[0]], [
        (f"cross-seed agreement at the saturated sizes: {said}; within {margin:g} of each "
         f"other, so the smaller size wins")]

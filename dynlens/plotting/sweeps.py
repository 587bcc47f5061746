"""Figures of sweep tables: metrics against latent size, and runs side by side per variant."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..analysis.compare import CATEGORIES
from ..errors import DynlensValueError
from ._style import new_figure

__all__ = ["runs", "sweep"]

_LABELS = {"rate_r2": "rate R2", "state_r2": "state R2 (true -> inferred)",
           "decode_r2": "decode R2 (inferred -> true)",
           "co_bps": "co-bps (held-out neurons)", "fp_bps": "fp-bps (forward bins)",
           "bps": "bits per spike", "fp_matched_fraction": "fixed points matched\n(fraction)",
           **{f"fp_{name}": f"{name} fixed points" for name in CATEGORIES},
           "fp_eigenvalue_error":
           "eigenvalue error\n(matched points)", "fp_score": "fixed-point score"}


_COUNTS = ("fp_true", "fp_model", *(f"fp_{name}" for name in CATEGORIES),
           "fp_stability_agree", "epochs")


def _prepare(table: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise DynlensValueError(
            f"table: expected the DataFrame of a sweep's results, found {type(table).__name__}")
    done = table[table["status"] == "done"].copy() if "status" in table else table.copy()
    if "fp_true" in done and "fp_matched" in done:
        done["fp_matched_fraction"] = done["fp_matched"] / done["fp_true"]
    absent = [m for m in metrics if m not in done.columns]
    if absent or done.empty:
        raise DynlensValueError(
            f"metrics: expected columns of finished runs, found no {absent or 'finished runs'}")
    return done


def sweep(table: pd.DataFrame, metrics: Sequence[str] = ("rate_r2", "state_r2",
                                                         "fp_matched_fraction"),
          *, x: str = "latent_dim", by: str = "dataset", hue: str = "model",
          reference: pd.DataFrame | None = None, reference_label: str = "reference",
          title: str | None = None) -> Figure:
    """Metrics against latent size: one column per dataset, one row per metric.

    Each model is a line through the mean over seeds with its runs as dots (the spread);
    the latent-size axis is logarithmic and ticks at the sizes swept; a dotted line marks
    the true system's dimension when the ``system`` column names a known one.

    Parameters
    ----------
    table : DataFrame
        A sweep's results (:func:`dynlens.sweeps.load_results`); only finished runs count.
    metrics : sequence of str
        Columns to plot; ``"fp_matched_fraction"`` is ``fp_matched / fp_true``.
    x, by, hue : str
        Columns for the horizontal axis, the panel columns and the lines.
    reference : DataFrame, optional
        Values to compare with (published means, say): rows with the ``by``, ``hue`` and
        ``x`` columns and any of the ``metrics``, drawn as dashed lines with crosses in each
        model's colour.
    reference_label : str
        The reference's legend entry.
    title : str, optional

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"dataset": "arneodo", "model": ["node", "node", "gru", "gru"],
    ...                       "latent_dim": [3, 10, 3, 10], "seed": 0, "status": "done",
    ...                       "rate_r2": [.95, .94, .6, .95], "state_r2": [.95, .5, .3, .4]})
    >>> fig = sweep(table, metrics=("rate_r2", "state_r2"))
    >>> len(fig.axes)
    2
    """
    done = _prepare(table, metrics)
    columns = list(dict.fromkeys(done[by]))
    fig, axes = new_figure(len(metrics), len(columns), squeeze=False, sharex=True,
                           figsize=(3.6 * len(columns) + 0.6, 2.4 * len(metrics) + 0.6))
    models = list(dict.fromkeys(done[hue]))
    sizes = sorted(done[x].unique())
    for j, column in enumerate(columns):
        true_dim = _true_dim(done[done[by] == column])
        for i, metric in enumerate(metrics):
            ax = axes[i][j]
            if true_dim is not None:
                ax.axvline(true_dim, color="0.5", ls=":", lw=1,
                           label="true dimension" if i == j == 0 else None)
            for k, model in enumerate(models):
                runs = done[(done[by] == column) & (done[hue] == model)]
                if runs.empty:
                    continue
                mean = runs.groupby(x)[metric].mean()
                ax.plot(mean.index, mean.values, "-o", color=f"C{k}", ms=4, label=str(model))
                ax.scatter(runs[x], runs[metric], color=f"C{k}", s=10, alpha=0.45, lw=0)
                _draw_reference(ax, reference, {by: column, hue: model}, x, metric, f"C{k}",
                                label=reference_label if i == j == 0 and k == 0 else None)
            ax.set_xscale("log")
            ax.set_xticks(sizes, [str(s) for s in sizes])
            ax.minorticks_off()
            ax.grid(alpha=0.3)
            if metric in _COUNTS:  # whole numbers of fixed points or epochs
                ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            if metric.endswith("r2") or metric == "fp_matched_fraction":
                low = min(0.0, float(np.nanmin(done[metric])))
                ax.set_ylim(max(low, -0.5) - 0.03, 1.03)
            if j == 0:
                ax.set_ylabel(_LABELS.get(metric, metric))
            if i == 0:
                ax.set_title(str(column))
            if i == len(metrics) - 1:
                ax.set_xlabel("latent size")
    axes[0][0].legend(title=hue, fontsize=8, loc="best")
    n_seeds = done.groupby([by, hue, x]).size()
    seeds = (f"{n_seeds.min()}" if n_seeds.min() == n_seeds.max()
             else f"{n_seeds.min()}-{n_seeds.max()}")
    fig.suptitle(title or f"lines: mean over {seeds} seed{'s' if n_seeds.max() > 1 else ''}; "
                          f"dots: each run", fontsize=9)
    return fig


def _reference_rows(reference: pd.DataFrame | None, where: dict, metric: str) -> pd.DataFrame:
    """The rows of ``reference`` with a value of ``metric`` that match ``where`` (column ->
    value; a column the reference lacks matches every row), or none."""
    if reference is None or metric not in reference:
        return pd.DataFrame(columns=[metric])
    rows = reference
    for column, value in where.items():
        if column in rows:
            rows = rows[rows[column] == value]
    return rows.dropna(subset=[metric])


def _draw_reference(ax, reference: pd.DataFrame | None, where: dict, x: str, metric: str,
                    color: str, label: str | None) -> None:
    rows = _reference_rows(reference, where, metric)
    if len(rows):
        rows = rows.sort_values(x)
        ax.plot(rows[x], rows[metric], "x--", color=color, lw=0.8, ms=5, alpha=0.8,
                label=label)


def _true_dim(runs: pd.DataFrame) -> int | None:
    """The state dimension of the (one) simulated system behind ``runs``, if known."""
    from ..systems import available, get

    names = set(runs["system"]) if "system" in runs else set()
    if len(names) != 1 or next(iter(names)) not in available():
        return None
    return get(next(iter(names))).dim


def runs(table: pd.DataFrame, metrics: Sequence[str] = ("rate_r2", "state_r2"), *,
         by: str = "model", rows: str | None = None, labels: dict | None = None,
         reference: pd.DataFrame | None = None, reference_label: str = "reference",
         title: str | None = None) -> Figure:
    """Each run as a dot and the mean over seeds as a bar, one category per ``by`` value.

    The figure for a handful of variants (architectures, training recipes) rather than a
    latent-size axis: one column per metric, one row per ``rows`` value (a dataset, say).

    Parameters
    ----------
    table : DataFrame
        Runs (a sweep's results, or any table with the ``by`` and metric columns); only
        finished runs count when there is a ``status`` column.
    metrics : sequence of str
        Columns to plot, one panel column each.
    by : str
        The column whose values are the categories, in order of first appearance.
    rows : str, optional
        A column whose values get a row of panels each.
    labels : dict, optional
        Tick labels for ``by`` values (default: the values).
    reference : DataFrame, optional
        Values to compare with (published means, say): rows with the ``by`` column (and the
        ``rows`` column) and any of the ``metrics``, drawn as red crosses.
    reference_label, title : str, optional
        The crosses' legend entry; the figure's title.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"model": ["node", "node", "rnn", "rnn"], "seed": [0, 1, 0, 1],
    ...                       "rate_r2": [.95, .94, .6, .7], "state_r2": [.95, .9, .3, .4]})
    >>> fig = runs(table, reference=pd.DataFrame({"model": ["node"], "state_r2": [.94]}))
    >>> len(fig.axes), [t.get_text() for t in fig.axes[0].get_xticklabels()]
    (2, ['node', 'rnn'])
    """
    done = _prepare(table, metrics)
    if by not in done or (rows is not None and rows not in done):
        raise DynlensValueError(
            f"by/rows: expected columns of the table, found none named "
            f"{by if by not in done else rows!r}")
    row_values = list(dict.fromkeys(done[rows])) if rows else [None]
    groups = list(dict.fromkeys(done[by]))
    labels = labels or {}
    fig, axes = new_figure(len(row_values), len(metrics), squeeze=False, sharey="col",
                           figsize=(max(3.5, 0.75 * len(groups) + 1.0) * len(metrics),
                                    2.9 * len(row_values) + 0.7))
    for i, row_value in enumerate(row_values):
        in_row = done if rows is None else done[done[rows] == row_value]
        for j, metric in enumerate(metrics):
            ax = axes[i][j]
            for k, group in enumerate(groups):
                values = in_row.loc[in_row[by] == group, metric].dropna()
                ax.scatter(np.full(len(values), k), values, color="C0", s=22, zorder=3,
                           label="each run")
                if len(values):
                    ax.plot([k - 0.3, k + 0.3], [values.mean()] * 2, color="C0", lw=2.5,
                            label="mean over runs")
                where = {by: group} if rows is None else {by: group, rows: row_value}
                _draw_reference_point(ax, reference, where, metric, k,
                                      label=reference_label)
            ax.set_xticks(range(len(groups)), [labels.get(g, str(g)) for g in groups],
                          fontsize=8)
            ax.set_xlim(-0.6, len(groups) - 0.4)
            if in_row[metric].isna().all():  # say so rather than leave a blank panel
                ax.text(0.5, 0.5, "not measured\nfor these data", transform=ax.transAxes,
                        ha="center", va="center", color="0.5", fontsize=9)
            ax.grid(axis="y", alpha=0.3)
            if metric.endswith("r2"):  # up to 1, down to the tenth below the lowest value
                shown = [done[metric]] + ([reference[metric]] if reference is not None
                                          and metric in reference else [])
                low = np.floor((float(np.nanmin(pd.concat(shown))) - 0.02) * 10) / 10
                ax.set_ylim(max(low, -0.5), 1.02)
            elif metric.endswith("bps"):  # bits per spike: 0 is the mean-rate model
                ax.set_ylim(min(0.0, float(np.nanmin(done[metric])) * 1.1),
                            max(0.0, float(np.nanmax(done[metric]))) * 1.1 + 1e-3)
            if i == 0:
                ax.set_title(_LABELS.get(metric, metric), fontsize=10)
            if j == 0 and rows is not None:
                ax.set_ylabel(str(row_value))
    unique = {name: handle for ax in fig.axes  # one legend entry per kind, wherever drawn
              for handle, name in zip(*ax.get_legend_handles_labels())}
    axes[0][-1].legend(unique.values(), unique.keys(), fontsize=8, loc="best")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _draw_reference_point(ax, reference: pd.DataFrame | None, where: dict, metric: str,
                          position: int, label: str | None) -> None:
    for value in _reference_rows(reference, where, metric)[metric]:
        ax.scatter([position], [value], marker="x", color="C3", s=50, zorder=4, label=label)

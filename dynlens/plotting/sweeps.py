"""The figure of an ablation sweep: metrics against latent size, per system and model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..errors import DynlensValueError
from ._style import new_figure

__all__ = ["sweep"]

_LABELS = {"rate_r2": "rate R2", "state_r2": "state R2 (true -> inferred)",
           "decode_r2": "decode R2 (inferred -> true)", "co_bps": "co-bps",
           "bps": "bits per spike", "fp_matched_fraction": "fixed points matched\n(fraction)",
           "fp_spurious": "spurious fixed points", "fp_eigenvalue_error":
           "eigenvalue error\n(matched points)", "fp_score": "fixed-point score"}


_COUNTS = ("fp_true", "fp_model", "fp_matched", "fp_missing", "fp_spurious",
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


def _draw_reference(ax, reference: pd.DataFrame | None, where: dict, x: str, metric: str,
                    color: str, label: str | None) -> None:
    if reference is None or metric not in reference:
        return
    rows = reference
    for column, value in where.items():
        rows = rows[rows[column] == value]
    rows = rows.dropna(subset=[metric]).sort_values(x)
    if len(rows):
        ax.plot(rows[x], rows[metric], "x--", color=color, lw=0.8, ms=5, alpha=0.8,
                label=label)


def _true_dim(runs: pd.DataFrame) -> int | None:
    """The state dimension of the (one) simulated system behind ``runs``, if known."""
    from ..systems import available, get

    names = set(runs["system"]) if "system" in runs else set()
    if len(names) != 1 or next(iter(names)) not in available():
        return None
    return get(next(iter(names))).dim

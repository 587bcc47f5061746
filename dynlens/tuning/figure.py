"""The figure of a search: the metric against epoch, one line per trial, coloured by a setting.

Ranges colour on a continuous scale (logarithmic for ``loguniform``) with a colour bar;
choices get one colour each and a legend. Trials that the scheduler stopped early end in a
cross; the best trial (lowest ``best_valid_loss``) is drawn thick. The y axis is
logarithmic: the first epochs' losses, before training settles and while trials are still
lengthening, are often many times the final ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LogNorm, Normalize
from matplotlib.lines import Line2D
from matplotlib.ticker import ScalarFormatter

from ..errors import DynlensValueError
from ..utils import check_choice

__all__ = ["draw_search"]


def _colours(result: Any, by: str) -> tuple[dict, Any]:
    """Each trial's colour, and a colour bar's mappable (None for choices)."""
    entry = result.spec["space"][by]
    values = {t["trial_id"]: t["config"].get(by) for t in result.trials}
    is_range = len(entry) == 3 and isinstance(entry[0], str) and entry[0] in (
        "loguniform", "uniform", "randint")
    if not is_range:
        palette = {repr(c): f"C{i % 10}" for i, c in enumerate(entry)}
        return {k: palette.get(repr(v), "0.5") for k, v in values.items()}, None
    norm = (LogNorm if entry[0] == "loguniform" else Normalize)(vmin=entry[1], vmax=entry[2])
    cmap = colormaps["viridis"]
    colours = {k: cmap(norm(v)) if v is not None else "0.5" for k, v in values.items()}
    return colours, ScalarMappable(norm=norm, cmap=cmap)


def draw_search(fig: Any, ax: Any, result: Any, by: str | None = None) -> None:
    """Draw ``result``'s trials on ``ax`` of ``fig`` (see the module docstring).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure (for the colour bar).
    ax : matplotlib.axes.Axes
        Where the lines go.
    result : TuneResult
        The search.
    by : str, optional
        The searched setting that colours the lines (default: the first).
    """
    by = result.searched[0] if by is None else check_choice(by, result.searched, "by")
    metric = result.metric
    trials = [t for t in result.trials if t["history"].get(metric)]
    if not trials:
        raise DynlensValueError(f"result: no trial of {result.folder} has reported yet")
    colours, mappable = _colours(result, by)
    best = result.best_trial_id
    longest = max(max(t["history"]["epoch"], default=0) for t in trials)
    for trial in trials:
        epochs = np.asarray(trial["history"]["epoch"], dtype=float)
        values = np.asarray(trial["history"][metric], dtype=float)
        keep = np.isfinite(values) & np.isfinite(epochs)
        is_best = trial["trial_id"] == best
        ax.plot(epochs[keep], values[keep], color=colours[trial["trial_id"]],
                lw=2.6 if is_best else 1.1, alpha=1.0 if is_best else 0.8, zorder=3 if is_best
                else 2)
        if keep.any() and epochs[keep][-1] < longest:  # stopped early by the scheduler
            ax.plot(epochs[keep][-1], values[keep][-1], "x", color=colours[trial["trial_id"]],
                    ms=6)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ScalarFormatter())  # 2.1, not 2.1 x 10^0
    ax.yaxis.set_minor_formatter(ScalarFormatter())
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{metric} (log scale)")
    ax.set_title(f"{result.spec['family']}: {len(result.trials)} trials, "
                 f"{result.spec['scheduler']}; colour: {by}", fontsize=10)
    marks = [Line2D([], [], color="0.3", lw=2.6, label="best trial"),
             Line2D([], [], color="0.3", marker="x", ls="", label="stopped early")]
    ax.add_artist(ax.legend(handles=marks, fontsize=8, loc="upper right"))
    if mappable is not None:
        fig.colorbar(mappable, ax=ax, label=by)
    else:  # a second legend: the first stays as an artist
        ax.legend(handles=[Line2D([], [], color=f"C{i % 10}", label=f"{by} = {c}")
                           for i, c in enumerate(result.spec["space"][by])],
                  fontsize=8, loc="upper center")

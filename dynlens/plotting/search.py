"""The figure of a settings search (:func:`dynlens.tune`): its metric against epoch."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..errors import DynlensValueError
from ..utils import check_choice
from ._style import log_loss_axis, new_figure

__all__ = ["search"]


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


def search(result: Any, by: str | None = None) -> Figure:
    """A search's metric against epoch, one line per trial, coloured by a setting.

    Ranges colour on a continuous scale (logarithmic for ``loguniform``) with a colour bar;
    choices get one colour each and a legend. Trials that the scheduler stopped early end in
    a cross; the best trial (lowest ``best_valid_loss``) is drawn thick. The y axis is
    logarithmic and shows the range the trials reach from the scheduler's first cut (a tenth
    of ``max_epochs``) on: the first epochs' losses, before training settles and while
    trials are still lengthening, can be a hundred times the final ones, and lines above the
    axis are cut (the title says so).

    Parameters
    ----------
    result : TuneResult
        The search (:func:`dynlens.tune`, :func:`dynlens.tuning.load_search`).
    by : str, optional
        The searched setting that colours the lines (default: the first).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    ``result.plot()`` draws it; here two trials as :func:`dynlens.tune` records them:

    >>> from dynlens.tuning import TuneResult
    >>> spec = {"family": "node", "space": {"lr": ["loguniform", 1e-4, 1e-2]}, "fixed": {},
    ...         "metric": "valid_loss", "scheduler": "asha"}
    >>> def trial(name, lr, losses):
    ...     return {"trial_id": name, "status": "done", "config": {"lr": lr},
    ...             "history": {"epoch": list(range(len(losses))), "valid_loss": losses,
    ...                         "best_valid_loss": losses},
    ...             "checkpoint": f"{name}/checkpoint", "error": None}
    >>> fig = search(TuneResult("s", spec, [trial("a", 1e-3, [30.0, 2.0, 1.5, 1.4]),
    ...                                     trial("b", 5e-3, [9.0, 1.9])]))
    >>> len(fig.axes[0].lines), bool(fig.axes[0].get_ylim()[1] < 9)  # 2 trials + a cross
    (3, True)
    """
    by = result.searched[0] if by is None else check_choice(by, result.searched, "by")
    metric = result.metric
    trials = [t for t in result.trials if t["history"].get(metric)]
    if not trials:
        raise DynlensValueError(f"result: no trial of {result.folder} has reported yet")
    colours, mappable = _colours(result, by)
    fig, ax = new_figure(figsize=(7.0, 4.0))
    best = result.best_trial_id
    longest = max(max(t["history"]["epoch"], default=0) for t in trials)
    # ASHA's first cut (dl.tune: a tenth of max_epochs); the values from there on are the
    # range the axis shows
    first_cut = max(1, result.spec.get("max_epochs", longest + 1) // 10)
    settled = []
    for trial in trials:
        epochs = np.asarray(trial["history"]["epoch"], dtype=float)
        values = np.asarray(trial["history"][metric], dtype=float)
        keep = np.isfinite(values) & np.isfinite(epochs)
        settled.extend(values[keep & (epochs >= first_cut)])
        is_best = trial["trial_id"] == best
        ax.plot(epochs[keep], values[keep], color=colours[trial["trial_id"]],
                lw=2.6 if is_best else 1.1, alpha=1.0 if is_best else 0.8, zorder=3 if is_best
                else 2)
        if keep.any() and epochs[keep][-1] < longest:  # stopped early by the scheduler
            ax.plot(epochs[keep][-1], values[keep][-1], "x", color=colours[trial["trial_id"]],
                    ms=6)
    log_loss_axis(ax)
    title = (f"{result.spec['family']}: {len(result.trials)} trials, "
             f"{result.spec['scheduler']}; colour: {by}")
    low, high = (min(settled), max(settled)) if settled else ax.get_ylim()
    if settled and ax.get_ylim()[1] > high * 1.1:  # the first epochs reach above the rest
        ax.set_ylim(low / 1.03, high * 1.1)
        first = "the first epoch's" if first_cut == 1 else f"the first {first_cut} epochs'"
        title += f"\n({first} higher losses are above the axis)"
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{metric} (log scale)")
    ax.set_title(title, fontsize=10)
    marks = [Line2D([], [], color="0.3", lw=2.6, label="best trial"),
             Line2D([], [], color="0.3", marker="x", ls="", label="stopped early")]
    ax.add_artist(ax.legend(handles=marks, fontsize=8, loc="upper right"))
    if mappable is not None:
        fig.colorbar(mappable, ax=ax, label=by)
    else:  # a second legend: the first stays as an artist
        ax.legend(handles=[Line2D([], [], color=f"C{i % 10}", label=f"{by} = {c}")
                           for i, c in enumerate(result.spec["space"][by])],
                  fontsize=8, loc="upper center")
    return fig

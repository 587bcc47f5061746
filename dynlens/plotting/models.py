"""Figures about trained models: learning curves and inferred vs true rates."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

from ..errors import DynlensValueError
from ..utils import as_numpy
from ._style import new_figure

__all__ = ["rates_vs_truth", "training_history"]


def training_history(histories: dict[str, pd.DataFrame] | pd.DataFrame) -> Figure:
    """Train and validation loss per epoch for one or several fits.

    Parameters
    ----------
    histories : DataFrame or dict of label -> DataFrame
        What :func:`dynlens.fit` returned; the y label is the models' ``loss_label``
        (from ``history.attrs``) when they agree.

    Examples
    --------
    >>> import pandas as pd
    >>> h = pd.DataFrame({"epoch": [0, 1], "train_loss": [2.0, 1.5], "valid_loss": [2.1, 1.6],
    ...                   "scored_bins": [10, 20]})
    >>> fig = training_history(h)
    """
    if isinstance(histories, pd.DataFrame):
        histories = {"model": histories}
    fig, ax = new_figure(figsize=(6.5, 3.6))
    for i, (label, hist) in enumerate(histories.items()):
        colour = f"C{i}"
        ax.plot(hist["epoch"], hist["train_loss"], color=colour, alpha=0.45, lw=1,
                label=f"{label} train (scored entries only)")
        ax.plot(hist["epoch"], hist["valid_loss"], color=colour, lw=1.8,
                label=f"{label} validation (full trials)")
        if "scored_bins" in hist and len(hist):
            full = hist["epoch"][hist["scored_bins"] == hist["scored_bins"].max()]
            if len(full) and full.iloc[0] > hist["epoch"].iloc[0]:
                ax.axvline(full.iloc[0], color=colour, ls=":", lw=1,
                           label=f"{label}: trials at full length from here")
    ax.set_yscale("log")  # early, unstable epochs would otherwise flatten the rest
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(ScalarFormatter())
    ax.set_xlabel("epoch")
    labels = {hist.attrs.get("loss_label", "loss") for hist in histories.values()}
    first, *rest = (labels.pop() if len(labels) == 1 else "loss, as each model defines it"
                    ).split("\n")
    ax.set_ylabel("\n".join([f"{first} (log scale)", *rest]), fontsize=9)
    ax.set_title("Learning curves")
    ax.legend(fontsize=8)
    return fig


def rates_vs_truth(true_rates, inferred: dict[str, np.ndarray] | np.ndarray, trial: int = 0,
                   neurons: Sequence[int] = (0, 1, 2), bin_width: float | None = None,
                   spikes=None) -> Figure:
    """Inferred rates of a few neurons over the true rates, for one trial.

    Parameters
    ----------
    true_rates : array [trials, bins, neurons]
        True expected counts per bin.
    inferred : array or dict of label -> array
        Model rates of the same shape.
    trial : int
        Which trial to show.
    neurons : sequence of int
        Which neurons, one panel each.
    bin_width : float, optional
        Bin width in system time units, for the time axis (bins otherwise).
    spikes : array, optional
        Spike counts to show as dots.

    Examples
    --------
    >>> import dynlens as dl
    >>> data = dl.simulate("arneodo", n_neurons=4, n_trials=10, n_bins=20, seed=0)
    >>> fig = rates_vs_truth(data.rates, {"truth again": data.rates}, neurons=(0, 1),
    ...                      bin_width=data.bin_width, spikes=data.spikes)
    >>> len(fig.axes)  # one panel per neuron
    2
    """
    truth = as_numpy(true_rates, "true_rates", dtype=float)
    if isinstance(inferred, np.ndarray):
        inferred = {"model": inferred}
    if truth.ndim != 3 or not 0 <= trial < truth.shape[0]:
        raise DynlensValueError(f"trial: expected an index below {truth.shape[0]}, found {trial}")
    neurons = list(neurons)
    if not neurons or min(neurons) < 0 or max(neurons) >= truth.shape[2]:
        raise DynlensValueError(
            f"neurons: expected indices below {truth.shape[2]}, found {neurons}"
        )
    n_bins = truth.shape[1]
    time = np.arange(n_bins) * (bin_width or 1.0)
    fig, axes = new_figure(len(neurons), 1, figsize=(7, 1.9 * len(neurons)), sharex=True,
                           squeeze=False)
    for ax, neuron in zip(axes[:, 0], neurons):
        if spikes is not None:
            ax.plot(time, np.asarray(spikes)[trial, :, neuron], ".", color="0.6", ms=3,
                    label="spike count")
        ax.plot(time, truth[trial, :, neuron], color="k", lw=2, label="true rate")
        for i, (label, rates) in enumerate(inferred.items()):
            ax.plot(time, np.asarray(rates)[trial, :, neuron], color=f"C{i}", lw=1.5, label=label)
        ax.set_ylabel(f"neuron {neuron}\ncounts / bin")
    # legend above the panels so that it never hides a peak
    axes[0, 0].legend(fontsize=8, ncol=2 + len(inferred), loc="lower center",
                      bbox_to_anchor=(0.5, 1.02), frameon=False)
    fig.suptitle(f"Inferred vs true rates, trial {trial}")
    axes[-1, 0].set_xlabel("time (system units)" if bin_width else "time (bins)")
    return fig

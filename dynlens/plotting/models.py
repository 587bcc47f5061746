"""Figures about trained models: learning curves, inferred vs true rates, inferred inputs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..analysis.metrics import input_recovery
from ..errors import DynlensValueError
from ..utils import as_numpy, check_positive_int
from ._style import log_loss_axis, new_figure

__all__ = ["inferred_pulses", "rates_vs_truth", "training_history"]


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
    full_from: dict[int, list] = {}  # epoch -> models at full trial length from there
    for i, (label, hist) in enumerate(histories.items()):
        colour = f"C{i}"
        ax.plot(hist["epoch"], hist["train_loss"], color=colour, alpha=0.45, lw=1,
                label=f"{label} train (scored entries only)")
        ax.plot(hist["epoch"], hist["valid_loss"], color=colour, lw=1.8,
                label=f"{label} validation (full trials)")
        if len(hist):  # the converged value, readable without the axis
            ax.annotate(f"{hist['valid_loss'].iloc[-1]:.3g}",
                        (hist["epoch"].iloc[-1], hist["valid_loss"].iloc[-1]), xytext=(3, 0),
                        textcoords="offset points", va="center", fontsize=7, color=colour)
        if "scored_bins" in hist and len(hist):
            full = hist["epoch"][hist["scored_bins"] == hist["scored_bins"].max()]
            if len(full) and full.iloc[0] > hist["epoch"].iloc[0]:
                full_from.setdefault(int(full.iloc[0]), []).append((label, colour))
    for epoch, models in full_from.items():  # one line per epoch: none hides another
        names = ", ".join(label for label, _ in models)
        ax.axvline(epoch, color=models[0][1] if len(models) == 1 else "0.3", ls=":", lw=1,
                   label=f"{names}: trials at full length from here")
    log_loss_axis(ax)
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
                   spikes=None, *, trial_name: str | None = None,
                   time_unit: str = "time units") -> Figure:
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
    trial_name : str, optional
        The trial as the reader should know it (``"test trial 0 (trial 3 of the data)"``);
        default ``"trial <trial>"``.
    time_unit : str
        The unit of ``bin_width`` (``"arneodo time units"``), on the time axis.

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
    fig.suptitle(f"Inferred vs true rates, {trial_name or f'trial {trial}'}")
    axes[-1, 0].set_xlabel(f"time ({time_unit})" if bin_width else "time (bins)")
    return fig


def _aligned(inputs: np.ndarray, pulse_bins: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``inputs[k, pulse_bins[k] + offsets]`` per trial ``[trials, window]``, NaN outside."""
    bins = pulse_bins[:, None] + offsets[None]
    inside = (bins >= 0) & (bins < inputs.shape[1])
    values = np.take_along_axis(inputs, np.clip(bins, 0, inputs.shape[1] - 1), axis=1)
    return np.where(inside, values, np.nan)


def inferred_pulses(true_inputs, inferred_inputs: dict[str, np.ndarray] | np.ndarray, *,
                    window: int = 10, max_trials: int = 60) -> Figure:
    """Inferred inputs around each trial's true input pulse, and their timing errors.

    For the input-pulse experiment (``simulate("chaotic_rnn", input_pulse=...)``, one pulse
    per trial). Each model's inferred input is matched to the true one as in
    :func:`dynlens.analysis.metrics.input_recovery` (the best-correlated channel, its sign
    flipped when negative: both are arbitrary) and z-scored over all bins, so models of any
    input scale share the left panel's axis. Left: the input averaged over trials, aligned on
    each trial's true pulse bin (bin 0: the bin whose true input is non-zero; with one model,
    also up to ``max_trials`` single trials in grey). Right: the signed timing error over
    trials, inferred pulse bin (the largest matched input) minus true pulse bin; negative is
    early.

    Parameters
    ----------
    true_inputs : array [trials, bins, k]
        The true inputs (``data.inputs``); the first channel's pulse is the one aligned on.
    inferred_inputs : array or dict of label -> array [trials, bins, co_dim]
        Inferred inputs (``Inference.inputs``) of one or several models.
    window : int
        Bins shown on either side of the true pulse.
    max_trials : int
        Single trials drawn when there is one model.

    Examples
    --------
    >>> import numpy as np
    >>> true = np.zeros((4, 30, 1))
    >>> true[np.arange(4), [10, 12, 15, 20], 0] = 20.0
    >>> early = np.roll(true, -2, axis=1) + 0.1  # two bins early
    >>> fig = inferred_pulses(true, {"early model": early}, window=5)
    >>> [ax.get_xlabel() for ax in fig.axes]
    ['bins from the true pulse', 'inferred pulse bin - true pulse bin (negative: early)']
    """
    if not isinstance(inferred_inputs, dict):
        inferred_inputs = {"model": inferred_inputs}
    window = check_positive_int(window, "window")
    max_trials = check_positive_int(max_trials, "max_trials")
    true = as_numpy(true_inputs, "true_inputs", dtype=float)
    offsets = np.arange(-window, window + 1)
    fig, (left, right) = new_figure(1, 2, figsize=(10, 4.2))
    errors = {}
    for i, (label, inferred) in enumerate(inferred_inputs.items()):
        inferred = as_numpy(inferred, "inferred_inputs", dtype=float)
        found = input_recovery(true[..., :1], inferred)
        signal = found["signs"][0] * inferred[..., found["dimensions"][0]]
        signal = (signal - signal.mean()) / (signal.std() or 1.0)
        aligned = _aligned(signal, found["true_pulse_bins"], offsets)
        if len(inferred_inputs) == 1:
            left.plot(offsets, aligned[:max_trials].T, color="0.8", lw=0.5)
        errors[label] = found["inferred_pulse_bins"] - found["true_pulse_bins"]
        left.plot(offsets, np.nanmean(aligned, axis=0), color=f"C{i}", lw=2,
                  label=f"{label}: mean over {len(aligned)} trials")
    _timing_histogram(right, errors, window)
    left.axvline(0, color="k", ls="--", lw=1, label="true pulse")
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_xlabel("bins from the true pulse")
    left.set_ylabel("inferred input (z-scored,\nsign matched to the truth)")
    left.set_title("Inferred input around the true pulse", fontsize=10)
    _legend_below(left)
    return fig


def _timing_histogram(ax, errors: dict[str, np.ndarray], window: int) -> None:
    """Step histograms of signed pulse-timing errors on shared bins that hold every error."""
    lowest = min([-window, *(int(e.min()) for e in errors.values())])
    highest = max([window, *(int(e.max()) for e in errors.values())])
    ax.axvspan(-2.5, 2.5, color="0.92", zorder=0, label="within 2 bins")
    for i, (label, error) in enumerate(errors.items()):
        ax.hist(error, bins=np.arange(lowest, highest + 2) - 0.5, histtype="step", lw=1.8,
                color=f"C{i}", label=f"{label}: {np.mean(np.abs(error) <= 2):.0%} within 2 bins")
    ax.set_xlabel("inferred pulse bin - true pulse bin (negative: early)")
    ax.set_ylabel("trials")
    ax.set_title("Timing of the largest inferred input", fontsize=10)
    _legend_below(ax)


def _legend_below(ax) -> None:
    """The legend under the panel, where it cannot hide a curve or a bar."""
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)

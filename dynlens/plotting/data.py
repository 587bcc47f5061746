"""Figures of a dataset: spike raster, true rates, true latent trajectory in 3-D.

Every function returns a :class:`matplotlib.figure.Figure` and never calls ``plt.show()``.

Examples
--------
>>> from dynlens.data import simulate
>>> from dynlens.plotting.data import spike_raster, rates, latent_trajectory_3d
>>> data = simulate("arneodo", n_neurons=6, n_trials=10, n_bins=35, seed=0)
>>> fig = spike_raster(data, trial=2)
>>> fig.axes[0].get_ylabel()
'neuron'
>>> len(rates(data, neurons=[0, 1]).axes), latent_trajectory_3d(data, n_trials=3).axes[0].name
(2, '3d')
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.colors import BoundaryNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import blended_transform_factory
from sklearn.decomposition import PCA

from ..data import NeuralDataset
from ..errors import DynlensTypeError, DynlensValueError
from ._style import NotebookFigure

__all__ = ["latent_trajectory_3d", "rates", "spike_raster", "time_unit"]

_MAX_DEFAULT_NEURONS = 8


def _check_data(data) -> NeuralDataset:
    if not isinstance(data, NeuralDataset):
        raise DynlensTypeError(f"data: expected a NeuralDataset, found {type(data).__name__}")
    return data


def _check_trial(data: NeuralDataset, trial) -> int:
    if isinstance(trial, bool) or not isinstance(trial, (int, np.integer)) or not (
            -data.n_trials <= trial < data.n_trials):
        raise DynlensValueError(
            f"trial: expected an integer in [0, {data.n_trials}), found {trial!r}"
        )
    return int(trial) % data.n_trials


def time_unit(data: NeuralDataset) -> str:
    """The unit of ``data.bin_width`` as every figure says it: the simulated system's time
    units by its name (``"arneodo time units"``), else the unit the metadata record.

    Parameters
    ----------
    data : NeuralDataset
        The dataset whose clock is meant.

    Returns
    -------
    str

    Examples
    --------
    >>> import dynlens as dl
    >>> time_unit(dl.simulate("arneodo", n_neurons=4, n_trials=4, n_bins=5, seed=0))
    'arneodo time units'
    """
    unit = data.metadata.get("time_unit", "time units")
    system = data.metadata.get("system")
    return f"{system} time units" if system and unit == "system time units" else unit


def _time_axis(data: NeuralDataset) -> tuple[np.ndarray, str]:
    """Bin centres in time units when the bin width is known, else bin indices."""
    if data.bin_width is None:
        return np.arange(data.n_bins), "time (bins)"
    return (np.arange(data.n_bins) + 0.5) * data.bin_width, f"time ({time_unit(data)})"


def _title(data: NeuralDataset, what: str) -> str:
    system = data.metadata.get("system")
    return f"{what}: {system}" if system else what


def spike_raster(data: NeuralDataset, trial: int = 0) -> Figure:
    """Spike counts of one trial as an image: neurons (rows) by time (columns).

    Held-out neurons are marked on the neuron axis.

    Parameters
    ----------
    data : NeuralDataset
    trial : int
        The trial to show.

    Examples
    --------
    >>> import dynlens as dl
    >>> data = dl.simulate("arneodo", n_neurons=4, n_trials=10, n_bins=20, seed=0)
    >>> fig = spike_raster(data, trial=0)
    >>> fig.axes[0].get_images()[0].get_array().shape  # neurons x bins
    (4, 20)
    """
    data = _check_data(data)
    trial = _check_trial(data, trial)
    counts = data.spikes[trial].T  # [neurons, bins]
    t, t_label = _time_axis(data)
    width = data.bin_width if data.bin_width is not None else 1.0
    left = t[0] - width / 2 if data.bin_width is not None else -0.5
    extent = (left, left + data.n_bins * width, data.n_neurons - 0.5, -0.5)
    fig = NotebookFigure(figsize=(7.5, 1.2 + 0.22 * min(data.n_neurons, 60)),
                         layout="constrained")
    ax = fig.add_subplot()
    vmax = max(int(counts.max()), 1)
    # One flat shade per count (up to 10), so that a reader can read counts off the bar.
    norm = BoundaryNorm(np.arange(-0.5, vmax + 1.5), 256) if vmax <= 10 else None
    image = ax.imshow(counts, aspect="auto", interpolation="nearest", cmap="Greys",
                      norm=norm, vmin=None if norm else 0, vmax=None if norm else vmax,
                      extent=extent)
    colorbar = fig.colorbar(image, ax=ax, pad=0.01)
    colorbar.set_label("spikes per bin")
    if norm is not None:
        colorbar.set_ticks(np.arange(vmax + 1))
    else:  # counts are whole numbers: no tick at 2.5 spikes
        colorbar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(t_label)
    ax.set_ylabel("neuron")
    if data.n_neurons <= 20:
        ax.set_yticks(np.arange(data.n_neurons))
        for label, neuron in zip(ax.get_yticklabels(), range(data.n_neurons)):
            if neuron in data.heldout_neurons:
                label.set_color("tab:orange")
    if data.heldout_neurons.size:
        # an orange square left of each held-out row (works for any number of neurons)
        ax.plot(np.full(data.heldout_neurons.size, -0.004), data.heldout_neurons, ls="",
                marker="s", ms=4, color="tab:orange", clip_on=False,
                transform=blended_transform_factory(ax.transAxes, ax.transData))
    note = f", {data.heldout_neurons.size} held-out neurons (orange)" if \
        data.heldout_neurons.size else ""
    ax.set_title(f"{_title(data, 'Spike counts')} (trial {trial}{note})")
    return fig


def rates(data: NeuralDataset, trial: int = 0, neurons: Sequence[int] | None = None) -> Figure:
    """True rates (expected counts per bin) of one trial, one panel per neuron.

    Each panel overlays the observed counts (grey bars) on the true rate (line), on the same
    scale: counts per bin.

    Parameters
    ----------
    data : NeuralDataset
        Must hold true rates (e.g. from :func:`dynlens.simulate`).
    trial : int
        The trial to show.
    neurons : sequence of int, optional
        Neurons to show (default: the first 8).

    Examples
    --------
    >>> import dynlens as dl
    >>> data = dl.simulate("arneodo", n_neurons=4, n_trials=10, n_bins=20, seed=0)
    >>> fig = rates(data, trial=0, neurons=[0, 2])
    >>> len(fig.axes)  # one panel per neuron
    2
    >>> fig.get_suptitle().endswith("(trial 0; 2 of 4 neurons shown)")  # says what is missing
    True
    """
    data = _check_data(data)
    if data.rates is None:
        raise DynlensValueError(
            "data: expected a dataset with true rates (data.rates), found none; only simulated "
            "data has them"
        )
    trial = _check_trial(data, trial)
    if neurons is None:
        neurons = np.arange(min(data.n_neurons, _MAX_DEFAULT_NEURONS))
    neurons = np.atleast_1d(np.asarray(neurons))
    if neurons.ndim != 1 or neurons.size == 0 or not np.issubdtype(neurons.dtype, np.integer) \
            or neurons.min() < 0 or neurons.max() >= data.n_neurons:
        raise DynlensValueError(
            f"neurons: expected a non-empty list of neuron indices in [0, {data.n_neurons}), "
            f"found {neurons.tolist()}"
        )
    t, t_label = _time_axis(data)
    width = data.bin_width if data.bin_width is not None else 1.0
    fig = NotebookFigure(figsize=(7.5, 0.6 + 1.05 * len(neurons)), layout="constrained")
    axes = fig.subplots(len(neurons), 1, sharex=True, squeeze=False)[:, 0]
    for ax, neuron in zip(axes, neurons):
        ax.bar(t, data.spikes[trial, :, neuron], width=width, color="0.82", label="spike count")
        ax.plot(t, data.rates[trial, :, neuron], color="tab:blue", lw=1.6, label="true rate")
        held = " (held out)" if neuron in data.heldout_neurons else ""
        ax.text(0.005, 0.95, f"neuron {neuron}{held}", transform=ax.transAxes, va="top",
                fontsize=8)
        ax.set_ylim(bottom=0)
        ax.tick_params(labelsize=8)
    axes[0].legend(loc="upper right", fontsize=8, ncols=2, frameon=False)
    axes[-1].set_xlabel(t_label)
    fig.supylabel("expected count per bin")
    shown = ("" if len(neurons) == data.n_neurons else
             f"; {len(neurons)} of {data.n_neurons} neurons shown")
    fig.suptitle(f"{_title(data, 'True rates')} (trial {trial}{shown})")
    return fig


def latent_trajectory_3d(data: NeuralDataset, n_trials: int = 10) -> Figure:
    """The true latent trajectories of the first ``n_trials`` trials in 3-D.

    Latents of more than three dimensions are projected on their first three principal
    components (fitted over the shown trials; axes give the explained variance). Each trial is
    one line coloured from its first bin (dark) to its last (light); a dot marks its start.

    Parameters
    ----------
    data : NeuralDataset
        Must hold true latents; 2-D latents are drawn in the plane.
    n_trials : int
        Number of trials drawn (from the first).

    Examples
    --------
    >>> import dynlens as dl
    >>> data = dl.simulate("lorenz", n_neurons=4, n_trials=10, n_bins=20, seed=0)
    >>> latent_trajectory_3d(data, n_trials=3).axes[0].name
    '3d'
    """
    data = _check_data(data)
    if data.latents is None:
        raise DynlensValueError(
            "data: expected a dataset with true latents (data.latents), found none; only "
            "simulated data has them"
        )
    if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        raise DynlensValueError(f"n_trials: expected a positive integer, found {n_trials!r}")
    shown = data.latents[:min(int(n_trials), data.n_trials)]
    dim = shown.shape[2]
    if dim < 2:
        raise DynlensValueError(
            f"data: expected latents of at least 2 dimensions for a trajectory plot, found {dim}"
        )
    if dim > 3:
        flat = shown.reshape(-1, dim)
        pca = PCA(n_components=3).fit(flat)
        shown = pca.transform(flat).reshape(shown.shape[0], shown.shape[1], 3)
        labels = [f"PC{i + 1} ({100 * v:.0f} % var.)"
                  for i, v in enumerate(pca.explained_variance_ratio_)]
        how = f"first 3 PCs of {dim}-D latents"
    else:
        labels = [f"{n} (state units)" for n in "xyz"[:dim]]
        how = f"{dim}-D latents"
    fig = NotebookFigure(figsize=(6.5, 5.5), layout="constrained")
    three_d = shown.shape[2] == 3
    ax = fig.add_subplot(projection="3d" if three_d else None)
    cmap = _cmap()
    frac = np.linspace(0.0, 0.85, shown.shape[1])
    for k, traj in enumerate(shown):
        if three_d:
            ax.plot(*traj.T, color="0.6", lw=0.5, alpha=0.6)
            ax.scatter(*traj.T, c=cmap(frac), s=3, depthshade=False)
            ax.scatter(*traj[0], color="k", s=14, label="trial start" if k == 0 else None)
        else:
            ax.plot(*traj.T[:2], color="0.6", lw=0.5)
            ax.scatter(*traj.T[:2], c=cmap(frac), s=4)
            ax.scatter(*traj[0, :2], color="k", s=14, label="trial start" if k == 0 else None)
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    if three_d:
        ax.set_zlabel(labels[2])
    ax.legend(loc="upper left", fontsize=8)
    span = (f"{data.n_bins} bins = {data.n_bins * data.bin_width:.3g} "
            f"{time_unit(data)}" if data.bin_width is not None
            else f"{data.n_bins} bins")
    ax.set_title(f"{_title(data, 'True latents')}\n{len(shown)} trials, {how}; colour: time "
                 f"within trial (dark = start, {span})", fontsize=9)
    return fig


def _cmap():
    from matplotlib import colormaps

    return colormaps["viridis"]

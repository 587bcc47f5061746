"""Read an NWB file's spike times and trials into a binned :class:`NeuralDataset`.

NWB (Neurodata Without Borders) keeps sorted spikes in the ``units`` table (one ragged
``spike_times`` column, seconds) and the task's trials in the ``trials`` table (``start_time``,
``stop_time`` and any event columns such as ``go_cue_time``). :func:`read_nwb` aligns every
trial to one event column, cuts a window around it and counts each unit's spikes per bin with
NumPy (``searchsorted`` on the sorted spike times; no loop over spikes). Needs the optional
``pynwb`` package (``pip install "dynlens[nwb]"``).

Bins are half-open: bin ``k`` of a trial counts the spikes ``t`` with
``event + window[0] + k * bin_width <= t < event + window[0] + (k + 1) * bin_width``, so a
spike exactly on an edge belongs to the later bin and one exactly at ``event + window[1]`` to
no bin. Edges are computed in float64 as ``event + window[0] + k * bin_width``; a spike time
within rounding (about 1e-16 s relative) of an edge may land on either side of it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import (
    DynlensFileFormatError,
    DynlensMissingDependencyError,
    DynlensTypeError,
    DynlensValueError,
)
from ..utils import as_numpy, check_choice, check_positive_float, check_readable_file, short_repr
from .dataset import NeuralDataset

__all__ = ["INVALID_TRIALS", "WITHIN", "read_nwb"]

#: What :func:`read_nwb` does with a trial whose event is NaN or whose window is out of bounds.
INVALID_TRIALS = ("raise", "drop")

#: What a trial's window must lie within: its own trial, or the span of all trials.
WITHIN = ("trial", "recording")

_WHOLE_BINS_RTOL = 1e-6  # window length / bin_width may differ from an integer by this much
_EDGE_TOL_S = 1e-9  # a window may overrun its bounds by this much (float rounding of edges)


def read_nwb(path: str | os.PathLike, bin_width: float, align_to: str = "start_time",
             window: Sequence[float] = (0.0, 1.0), *, units: Sequence[int] | None = None,
             heldout_neurons: Sequence[int] | None = None, invalid: str = "raise",
             within: str = "trial", seed: int = 0) -> NeuralDataset:
    """Bin the spikes of an NWB file's units around one event of each trial.

    Parameters
    ----------
    path : str or PathLike
        An NWB file (HDF5) with a ``units`` table holding ``spike_times`` and a ``trials``
        table.
    bin_width : float
        Bin width in seconds (the dataset's ``bin_width``).
    align_to : str
        The trials-table column (event times in seconds) each trial is aligned to, e.g.
        ``"start_time"`` (default) or ``"go_cue_time"``.
    window : (float, float)
        ``(start, stop)`` in seconds relative to the event; the trial's counts cover
        ``[event + start, event + stop)``. ``stop - start`` must be a whole number of bins.
    units : sequence of int, optional
        Ids (the units table's ``id`` column) of the units to keep, in the order given; the
        default keeps every unit in table order.
    heldout_neurons : sequence of int, optional
        Positions (among the kept units) of neurons held out of the encoder (co-smoothing).
    invalid : {"raise", "drop"}
        A trial is invalid when its event is NaN or its window leaves the bounds set by
        ``within``. ``"raise"`` (default) refuses the file naming the first such trials;
        ``"drop"`` leaves them out with a ``UserWarning`` and records their ids in
        ``metadata["dropped_trials"]``. Dropping every trial is always an error.
    within : {"trial", "recording"}
        ``"trial"`` (default): the window must lie within the trial's own ``start_time`` and
        ``stop_time``. ``"recording"``: within the span of the trials table (first
        ``start_time`` to last ``stop_time``), so windows may reach into neighbouring trials.
    seed : int
        Seed of the train/valid/test split drawn by :class:`NeuralDataset`.

    Returns
    -------
    NeuralDataset
        Counts ``[trials, bins, units]`` (int64) without truth; ``metadata`` records the
        source file, format, bin width, alignment, window, unit and trial ids and dropped
        trials.

    Raises
    ------
    DynlensMissingDependencyError
        When ``pynwb`` is not installed.
    DynlensFileNotFoundError, DynlensFileFormatError
        When ``path`` does not exist, is not an NWB file, or lacks a units table with spike
        times or a trials table.
    DynlensValueError, DynlensTypeError
        On a non-positive ``bin_width``, a reversed or fractional-bin ``window``, an
        ``align_to`` that is not a numeric trials column, unknown unit ids, invalid trials
        with ``invalid="raise"``, or no trial left.

    Examples
    --------
    >>> import datetime, tempfile, pathlib
    >>> from pynwb import NWBFile, NWBHDF5IO
    >>> from dynlens.data import read_nwb
    >>> start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    >>> nwb = NWBFile(session_description="demo", identifier="demo", session_start_time=start)
    >>> nwb.add_unit(spike_times=[0.05, 0.15, 0.16, 1.25])
    >>> nwb.add_trial(start_time=0.0, stop_time=1.0)
    >>> nwb.add_trial(start_time=1.0, stop_time=2.0)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "session.nwb"
    >>> with NWBHDF5IO(path, "w") as io:
    ...     io.write(nwb)
    >>> data = read_nwb(path, bin_width=0.1, window=(0.0, 0.4))
    >>> data.spikes[:, :, 0].tolist()
    [[1, 2, 0, 0], [0, 0, 1, 0]]
    """
    path = check_readable_file(Path(path) if isinstance(path, (str, os.PathLike)) else path)
    bin_width = check_positive_float(bin_width, "bin_width")
    start, n_bins = _check_window(window, bin_width)
    invalid = check_choice(invalid, INVALID_TRIALS, "invalid")
    within = check_choice(within, WITHIN, "within")
    tables = _read_tables(path, align_to)
    keep = _select_units(tables["unit_ids"], units)
    events = tables["events"]
    low, high = _bounds(tables["start"], tables["stop"], within)
    first = events + start
    last = events + start + n_bins * bin_width
    good = (np.isfinite(events) & (first >= low - _EDGE_TOL_S)
            & (last <= high + _EDGE_TOL_S))
    dropped = _handle_invalid(tables["trial_ids"], good, invalid, align_to, window, within)
    edges = first[good, None] + bin_width * np.arange(n_bins + 1)
    counts = np.stack([_bin_counts(tables["spikes"][u], edges) for u in keep], axis=-1)
    metadata = {"source": str(path), "format": "nwb", "bin_width_s": bin_width,
                "align_to": align_to, "window_s": [float(w) for w in window],
                "within": within, "unit_ids": tables["unit_ids"][keep].tolist(),
                "trial_ids": tables["trial_ids"][good].tolist(), "dropped_trials": dropped,
                "identifier": tables["identifier"]}
    return NeuralDataset.from_arrays(counts, bin_width=bin_width,
                                     heldout_neurons=heldout_neurons, metadata=metadata,
                                     seed=seed)


def _check_window(window: Any, bin_width: float) -> tuple[float, int]:
    """``window``'s start and its number of bins, after checking it is an increasing pair of
    finite numbers spanning a whole number of bins."""
    try:
        pair = np.asarray(window, dtype=np.float64)
    except (TypeError, ValueError):
        pair = None
    if pair is None or pair.shape != (2,) or not np.all(np.isfinite(pair)):
        raise DynlensValueError(
            f"window: expected (start, stop), two finite numbers of seconds relative to the "
            f"event, found {short_repr(window)}")
    if pair[1] <= pair[0]:
        raise DynlensValueError(
            f"window: expected start < stop, found start {pair[0]:g} s >= stop {pair[1]:g} s")
    bins = float(pair[1] - pair[0]) / bin_width
    n_bins = round(bins)
    if n_bins < 1 or abs(bins - n_bins) > _WHOLE_BINS_RTOL * max(1.0, bins):
        raise DynlensValueError(
            f"window: expected a length that is a whole number of bins of bin_width="
            f"{bin_width:g} s, found {pair[1] - pair[0]:g} s ({bins:g} bins)")
    return float(pair[0]), n_bins


def _open_nwb(path: Path):
    """``pynwb.NWBHDF5IO`` on ``path`` (read-only), or a clear error."""
    try:
        from pynwb import NWBHDF5IO
    except ImportError as err:
        raise DynlensMissingDependencyError(
            "read_nwb: needs the optional pynwb package; install it with "
            "pip install \"dynlens[nwb]\"") from err
    import h5py

    if not h5py.is_hdf5(path):
        raise DynlensFileFormatError(
            f"path: expected an NWB file (HDF5), found a file that is not HDF5: {str(path)!r}")
    try:
        return NWBHDF5IO(str(path), "r")
    except (OSError, TypeError, ValueError, KeyError) as err:
        raise DynlensFileFormatError(
            f"path: expected an NWB file, found one pynwb cannot open ({str(path)!r}: "
            f"{err})") from err


def _read_tables(path: Path, align_to: str) -> dict[str, Any]:
    """Unit ids and sorted spike times per unit, trial ids, start/stop times and events."""
    with _open_nwb(path) as io:
        try:
            nwb = io.read()
        except (OSError, TypeError, ValueError, KeyError) as err:
            raise DynlensFileFormatError(
                f"path: expected an NWB file, found one pynwb cannot read ({str(path)!r}: "
                f"{err})") from err
        units, trials = nwb.units, nwb.trials
        for table, what in ((units, "a units table (spike times)"), (trials, "a trials table")):
            if table is None or len(table) == 0:
                raise DynlensFileFormatError(
                    f"path: expected an NWB file with {what}, found none in {str(path)!r}")
        if "spike_times" not in units.colnames:
            raise DynlensFileFormatError(
                f"path: expected a spike_times column in the units table, found columns "
                f"{list(units.colnames)} in {str(path)!r}")
        align_to = check_choice(align_to, list(trials.colnames), "align_to")
        events = _numeric_column(trials[align_to].data[:], align_to)
        times = units["spike_times"]  # ragged: flat values plus the end index of each unit
        flat = np.asarray(times.target.data[:], dtype=np.float64)
        ends = np.asarray(times.data[:], dtype=np.int64)
        spikes = [np.sort(part) for part in np.split(flat, ends[:-1])]
        return {"unit_ids": np.asarray(units.id[:], dtype=np.int64), "spikes": spikes,
                "trial_ids": np.asarray(trials.id[:], dtype=np.int64), "events": events,
                "start": np.asarray(trials["start_time"].data[:], dtype=np.float64),
                "stop": np.asarray(trials["stop_time"].data[:], dtype=np.float64),
                "identifier": str(nwb.identifier)}


def _numeric_column(values: Any, name: str) -> np.ndarray:
    """A trials-table column as float64 seconds, or an error naming ``align_to``."""
    array = np.asarray(values)
    if array.ndim != 1 or not (np.issubdtype(array.dtype, np.number)
                               and not np.issubdtype(array.dtype, np.complexfloating)):
        raise DynlensTypeError(
            f"align_to: expected a column of event times (one number per trial), found "
            f"{name!r} with {array.dtype} values of shape {array.shape}")
    return array.astype(np.float64)


def _select_units(unit_ids: np.ndarray, units: Sequence[int] | None) -> np.ndarray:
    """Positions in the units table of the units to keep, in the order asked for."""
    if units is None:
        return np.arange(len(unit_ids))
    wanted = as_numpy(units, "units")
    if wanted.ndim != 1 or wanted.size == 0 or not np.issubdtype(wanted.dtype, np.integer):
        raise DynlensValueError(
            f"units: expected a non-empty sequence of unit ids (integers), found "
            f"{short_repr(units)}")
    position = {int(u): i for i, u in enumerate(unit_ids)}
    unknown = [int(u) for u in wanted if int(u) not in position]
    if unknown or len(set(wanted.tolist())) != wanted.size:
        raise DynlensValueError(
            f"units: expected distinct ids of the units table ({short_repr(unit_ids.tolist())}), "
            f"found {'unknown ids ' + short_repr(unknown) if unknown else 'repeated ids'}")
    return np.array([position[int(u)] for u in wanted], dtype=np.int64)


def _bounds(start: np.ndarray, stop: np.ndarray, within: str) -> tuple[Any, Any]:
    """Per-trial lower and upper limits that a trial's window must stay within."""
    if within == "trial":
        return start, stop
    return np.nanmin(start), np.nanmax(stop)


def _handle_invalid(trial_ids: np.ndarray, good: np.ndarray, invalid: str, align_to: str,
                    window: Sequence[float], within: str) -> list[int]:
    """Raise or warn about the trials that are not ``good``; return the dropped ids."""
    bad = trial_ids[~good].tolist()
    if not bad:
        return []
    reason = (f"{len(bad)} of {len(trial_ids)} trials (ids {short_repr(bad)}) have a NaN "
              f"{align_to!r} or a window {tuple(float(w) for w in window)} s that leaves the "
              f"{'trial' if within == 'trial' else 'recording'}")
    if good.sum() == 0:
        raise DynlensValueError(f"window: expected at least one trial to bin, found none: "
                                f"{reason}")
    if invalid == "raise":
        raise DynlensValueError(
            f"window: expected every trial's window within its "
            f"{'trial' if within == 'trial' else 'recording'}, found {reason}; pass "
            f"invalid='drop' to leave them out, or a shorter window")
    warnings.warn(f"read_nwb: dropped {reason}", UserWarning, stacklevel=3)
    return bad


def _bin_counts(spike_times: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Spikes per half-open bin ``[edges[:, k], edges[:, k + 1])`` of every trial (row)."""
    below = np.searchsorted(spike_times, edges.ravel(), side="left").reshape(edges.shape)
    return np.diff(below, axis=1).astype(np.int64)

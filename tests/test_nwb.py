"""dl.data.read_nwb on small NWB files written here with pynwb: counts, alignment, bin edges,
unit selection, invalid trials and bad input."""

from __future__ import annotations

import datetime

import h5py
import numpy as np
import pytest

from dynlens.data import read_nwb
from dynlens.errors import (
    DynlensFileFormatError,
    DynlensFileNotFoundError,
    DynlensMissingDependencyError,
    DynlensTypeError,
    DynlensValueError,
)

pynwb = pytest.importorskip("pynwb")

START = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)


def write_nwb(path, spike_times, trials, *, columns=(), units=True, ids=None):
    """An NWB file with one unit per list of ``spike_times`` and one trial per dict."""
    nwb = pynwb.NWBFile(session_description="test", identifier="test-session",
                        session_start_time=START)
    for column in columns:
        nwb.add_trial_column(name=column, description=column)
    for trial in trials:
        nwb.add_trial(**trial)
    if units:
        for i, times in enumerate(spike_times):
            nwb.add_unit(spike_times=times, **({} if ids is None else {"id": ids[i]}))
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


@pytest.fixture
def session(tmp_path):
    """3 trials of 1 s with go cues at 0.3, 1.5 and 2.2 s; two units with known spikes."""
    trials = [{"start_time": 0.0, "stop_time": 1.0, "go": 0.3},
              {"start_time": 1.0, "stop_time": 2.0, "go": 1.5},
              {"start_time": 2.0, "stop_time": 3.0, "go": 2.2}]
    spikes = [[0.05, 0.25, 0.3, 0.31, 0.7, 1.0, 1.45, 1.5, 2.19, 2.2, 2.95],
              [0.5, 1.6, 1.6, 2.0]]
    return write_nwb(tmp_path / "session.nwb", spikes, trials, columns=("go",))


def test_known_spike_times_give_known_counts(session):
    data = read_nwb(session, bin_width=0.25, window=(0.0, 1.0))
    assert data.spikes.shape == (3, 4, 2) and data.spikes.dtype == np.int64
    # unit 0, [0, .25) [.25, .5) [.5, .75) [.75, 1) from each start: the spike at 1.0 is in
    # trial 1's first bin, not trial 0's last (half-open bins)
    assert data.spikes[:, :, 0].tolist() == [[1, 3, 1, 0], [1, 1, 1, 0], [2, 0, 0, 1]]
    assert data.spikes[:, :, 1].tolist() == [[0, 0, 1, 0], [0, 0, 2, 0], [1, 0, 0, 0]]
    assert data.bin_width == 0.25 and data.heldout_neurons.size == 0
    meta = data.metadata
    assert meta["source"] == str(session) and meta["format"] == "nwb"
    assert meta["bin_width_s"] == 0.25 and meta["align_to"] == "start_time"
    assert meta["window_s"] == [0.0, 1.0] and meta["unit_ids"] == [0, 1]
    assert meta["trial_ids"] == [0, 1, 2] and meta["dropped_trials"] == []
    assert meta["identifier"] == "test-session"


def test_alignment_to_an_event_column(session):
    data = read_nwb(session, bin_width=0.1, align_to="go", window=(-0.1, 0.2))
    # unit 0 around go = .3, 1.5, 2.2: bins [-.1, 0) [0, .1) [.1, .2)
    assert data.spikes[:, :, 0].tolist() == [[1, 2, 0], [1, 1, 0], [1, 1, 0]]
    assert data.spikes[:, :, 1].tolist() == [[0, 0, 0], [0, 0, 2], [0, 0, 0]]


def test_bins_are_half_open(tmp_path):
    # binary fractions, so that every edge and spike time is exact in float64
    path = write_nwb(tmp_path / "edges.nwb", [[0.25, 0.5, 0.75, 1.0]],
                     [{"start_time": 0.0, "stop_time": 2.0, "go": 0.5}], columns=("go",))
    around = read_nwb(path, bin_width=0.25, align_to="go", window=(-0.25, 0.5))
    assert around.spikes[0, :, 0].tolist() == [1, 1, 1]  # 1.0 = event + window[1]: no bin
    after = read_nwb(path, bin_width=0.25, align_to="go", window=(0.0, 0.5))
    assert after.spikes[0, :, 0].tolist() == [1, 1]  # 0.5 = event + window[0]: first bin
    fine = read_nwb(path, bin_width=0.125, align_to="go", window=(-0.25, 0.5))
    assert fine.spikes[0, :, 0].tolist() == [1, 0, 1, 0, 1, 0]


def test_unit_selection_and_heldout_neurons(tmp_path):
    path = write_nwb(tmp_path / "ids.nwb", [[0.1], [0.2, 0.3], [0.4]],
                     [{"start_time": 0.0, "stop_time": 1.0}], ids=[10, 20, 30])
    data = read_nwb(path, bin_width=0.5, units=[30, 10], heldout_neurons=[1])
    assert data.spikes[0].tolist() == [[1, 1], [0, 0]]
    assert data.metadata["unit_ids"] == [30, 10] and data.heldout_neurons.tolist() == [1]
    with pytest.raises(DynlensValueError, match=r"units: .*unknown ids \[5\]"):
        read_nwb(path, bin_width=0.5, units=[5, 10])
    with pytest.raises(DynlensValueError, match="units: .*repeated"):
        read_nwb(path, bin_width=0.5, units=[10, 10])


def test_invalid_trials_are_refused_by_default_or_dropped_with_a_warning(tmp_path):
    trials = [{"start_time": 0.0, "stop_time": 1.0, "go": 0.2},
              {"start_time": 1.0, "stop_time": 2.0, "go": float("nan")},
              {"start_time": 2.0, "stop_time": 3.0, "go": 2.75},  # window leaves its trial
              {"start_time": 3.0, "stop_time": 4.0, "go": 3.875}]  # and the recording
    path = write_nwb(tmp_path / "bad.nwb", [[0.25, 2.95]], trials, columns=("go",))
    with pytest.raises(DynlensValueError, match=r"3 of 4 trials \(ids \[1, 2, 3\]\).*'drop'"):
        read_nwb(path, bin_width=0.1, align_to="go", window=(0.0, 0.5))
    with pytest.warns(UserWarning, match=r"dropped 3 of 4 trials"):
        data = read_nwb(path, bin_width=0.1, align_to="go", window=(0.0, 0.5), invalid="drop")
    assert data.n_trials == 1 and data.metadata["dropped_trials"] == [1, 2, 3]
    assert data.metadata["trial_ids"] == [0] and data.spikes[0, :, 0].tolist() == [1, 0, 0, 0, 0]
    # within the recording (0-4 s), only the NaN trial and the one running past 4 s are out
    with pytest.warns(UserWarning, match="dropped 2 of 4"):
        spans = read_nwb(path, bin_width=0.1, align_to="go", window=(0.0, 0.5),
                         invalid="drop", within="recording")
    assert spans.metadata["trial_ids"] == [0, 2] and spans.metadata["dropped_trials"] == [1, 3]
    assert spans.spikes[1, :, 0].tolist() == [0, 0, 1, 0, 0]
    # a window longer than every trial leaves none, whatever `invalid` says
    with pytest.raises(DynlensValueError, match="at least one trial"):
        read_nwb(path, bin_width=0.5, window=(0.0, 1.5), invalid="drop")


@pytest.mark.parametrize("kwargs, error, match", [
    ({"bin_width": 0.0}, DynlensValueError, "bin_width: expected a positive"),
    ({"bin_width": -0.1}, DynlensValueError, "bin_width: expected a positive"),
    ({"window": (0.5, 0.0)}, DynlensValueError, "window: expected start < stop"),
    ({"window": (0.0, 0.25)}, DynlensValueError, "window: .*whole number of bins"),
    ({"window": (0.0,)}, DynlensValueError, r"window: expected \(start, stop\)"),
    ({"align_to": "reward_time"}, DynlensValueError, "align_to: expected one of 'start_time'"),
    ({"invalid": "cut"}, DynlensValueError, "invalid: expected one of 'raise', 'drop'"),
    ({"within": "session"}, DynlensValueError, "within: expected one of"),
])
def test_bad_arguments_are_named(session, kwargs, error, match):
    with pytest.raises(error, match=match):
        read_nwb(session, **{"bin_width": 0.1, **kwargs})


def test_a_text_column_cannot_be_aligned_to(tmp_path):
    path = write_nwb(tmp_path / "text.nwb", [[0.1]],
                     [{"start_time": 0.0, "stop_time": 1.0, "label": "left"}],
                     columns=("label",))
    with pytest.raises(DynlensTypeError, match="align_to: expected a column of event times"):
        read_nwb(path, bin_width=0.1, align_to="label")


def test_files_that_are_not_nwb_or_lack_tables(tmp_path):
    with pytest.raises(DynlensFileNotFoundError, match="path: no such file"):
        read_nwb(tmp_path / "missing.nwb", bin_width=0.1)
    text = tmp_path / "notes.nwb"
    text.write_text("not an NWB file")
    with pytest.raises(DynlensFileFormatError, match="not HDF5"):
        read_nwb(text, bin_width=0.1)
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(DynlensFileFormatError, match="path: expected an NWB file"):
        read_nwb(plain, bin_width=0.1)
    no_units = write_nwb(tmp_path / "nounits.nwb", [], [{"start_time": 0.0, "stop_time": 1.0}],
                         units=False)
    with pytest.raises(DynlensFileFormatError, match="units table"):
        read_nwb(no_units, bin_width=0.1)
    no_trials = write_nwb(tmp_path / "notrials.nwb", [[0.1]], [])
    with pytest.raises(DynlensFileFormatError, match="trials table"):
        read_nwb(no_trials, bin_width=0.1)


def test_missing_pynwb_names_the_extra(session, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pynwb(name, *args, **kwargs):
        if name == "pynwb" or name.startswith("pynwb."):
            raise ImportError("No module named 'pynwb'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pynwb)
    with pytest.raises(DynlensMissingDependencyError, match=r'pip install "dynlens\[nwb\]"'):
        read_nwb(session, bin_width=0.1)

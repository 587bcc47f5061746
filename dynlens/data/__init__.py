"""Spiking data: simulation from ground-truth systems, `NeuralDataset`, and file formats.

- :func:`simulate`: Poisson spikes from a system, with the truth kept (published recipe).
- :class:`NeuralDataset`: spikes ``[trials, bins, neurons]`` plus optional truth, splits and
  metadata; ``from_arrays`` brings a user's own recordings in.
- :func:`load_dataset` / :meth:`NeuralDataset.save`: dynlens's own ``.h5`` and ``.npz`` files.
- :func:`read_lfads_h5` / :func:`write_lfads_h5`: the LFADS and lfads-torch HDF5 layouts;
  ``write_lfads_h5(..., inference=...)`` adds LFADS output keys, :func:`read_lfads_output`
  reads them.
- :func:`read_nwb`: an NWB file's units (spike times) and trials table, binned around one event
  of each trial (needs the optional ``pynwb``: ``pip install "dynlens[nwb]"``).
- :func:`read_nlb` / :func:`nlb_submission`: the Neural Latents Benchmark's tensors (held-in
  and held-out neurons, forward-prediction bins) and its submission layout.
"""

from .dataset import NeuralDataset
from .io import load_dataset
from .lfads_h5 import read_lfads_h5, read_lfads_output, write_lfads_h5
from .nlb import nlb_submission, read_nlb
from .nwb import read_nwb
from .simulate import simulate

__all__ = ["NeuralDataset", "load_dataset", "nlb_submission", "read_lfads_h5",
           "read_lfads_output", "read_nlb", "read_nwb", "simulate", "write_lfads_h5"]

"""Ablation sweeps: one specification of datasets x model families x sizes x seeds, run
locally or on a Ray cluster into one results table.

This package is where the sweep runner lives (``dl.Sweep``, executors, result tables); it may
import every layer above it. The committed results of studies run with it live in the
repository's top-level ``studies/`` folder, not here.

Examples
--------
>>> import dynlens as dl
>>> sweep = dl.Sweep(systems=["arneodo", "lorenz"], models=["node", "gru"],
...                  latent_dims=[3, 10], seeds=[0, 1, 2])
>>> len(sweep.runs())
24

``sweep.run("out", workers=2)``, the one entry point (:meth:`Sweep.run`), trains them (two
processes with one torch thread each on a 2-core machine) and returns the table
:func:`load_results` reads back; :class:`SweepFolder` names the folder's files.
"""

from .cross_seed import agreement
from .layout import SweepFolder
from .results import load_results, mean_sd, summarise, sweep_status
from .selection import Selection, select
from .spec import DatasetSpec, ModelSpec, RunSpec, Sweep

__all__ = ["DatasetSpec", "ModelSpec", "RunSpec", "Selection", "Sweep", "SweepFolder",
           "agreement", "load_results", "mean_sd", "select", "summarise", "sweep_status"]

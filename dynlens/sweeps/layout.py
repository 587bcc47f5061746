"""The layout of a sweep folder: every name in it, in one place.

::

    sweep.toml                the specification (a different one is refused)
    datasets/<name>.h5        each dataset, made once and shared by its runs
    runs/<run_id>/            one folder per run:
        model.pt                the trained model (dynlens.load_model; none with
                                keep_models=False)
        history.csv             dl.fit's history
        result.json             its row of the results table, written last
        running.json            while a process works on it: that process's id
        worker.log              the local executor's worker output
    results.csv               the results table, rewritten as runs finish
    agreement.csv             the cross-seed agreement (dl.sweeps.agreement), when asked

The runner, the executors and the readers (:func:`~dynlens.sweeps.load_results`, the
cross-seed agreement) find these paths here and nowhere else.

Examples
--------
>>> folder = SweepFolder("out")
>>> folder.spec.as_posix(), folder.dataset("arneodo").as_posix()
('out/sweep.toml', 'out/datasets/arneodo.h5')
>>> folder.run("arneodo-gru-d3-s0").as_posix(), (folder.run("x") / MODEL).as_posix()
('out/runs/arneodo-gru-d3-s0', 'out/runs/x/model.pt')
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DynlensFileNotFoundError
from .spec import Sweep

__all__ = ["HISTORY", "MODEL", "RESULT", "RUNNING", "WORKER_LOG", "SweepFolder"]

#: A run's files (in ``runs/<run_id>/``).
MODEL = "model.pt"
HISTORY = "history.csv"
RESULT = "result.json"  # written last: its presence marks a finished (done or failed) run
RUNNING = "running.json"  # pid of the process working on the run, while it works
WORKER_LOG = "worker.log"


class SweepFolder:
    """The paths of one sweep folder.

    Parameters
    ----------
    root : str or PathLike
        The sweep folder (``out_dir`` of :meth:`dynlens.Sweep.run`).

    Examples
    --------
    >>> folder = SweepFolder("out")
    >>> folder.results.name, folder.runs.name, folder.datasets.name
    ('results.csv', 'runs', 'datasets')
    >>> folder.read_spec()
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensFileNotFoundError: out_dir: expected a sweep folder holding sweep.toml, found none in out
    """  # noqa: E501

    SPEC = "sweep.toml"
    RESULTS = "results.csv"

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    @property
    def spec(self) -> Path:
        """The specification, ``sweep.toml``."""
        return self.root / self.SPEC

    @property
    def results(self) -> Path:
        """The results table, ``results.csv``."""
        return self.root / self.RESULTS

    @property
    def agreement(self) -> Path:
        """The results table with the cross-seed agreement columns, ``agreement.csv``."""
        return self.root / "agreement.csv"

    @property
    def datasets(self) -> Path:
        """The folder of the cached datasets."""
        return self.root / "datasets"

    def dataset(self, name: str) -> Path:
        """The cached dataset ``name`` (HDF5)."""
        return self.datasets / f"{name}.h5"

    @property
    def runs(self) -> Path:
        """The folder of the run folders."""
        return self.root / "runs"

    def run(self, run_id: str) -> Path:
        """The folder of run ``run_id`` (its files: :data:`MODEL`, :data:`RESULT`, ...)."""
        return self.runs / run_id

    def read_spec(self) -> Sweep:
        """The folder's :class:`~dynlens.Sweep`; a DynlensFileNotFoundError when it holds
        none."""
        if not self.spec.is_file():
            raise DynlensFileNotFoundError(
                f"out_dir: expected a sweep folder holding {self.SPEC}, found none in "
                f"{self.root}")
        return Sweep.from_toml(self.spec)

"""What a search found: one record per trial, read back from the search folder without Ray.

:func:`dynlens.tune` writes ``trials.json`` into its folder when the search stops (finished
or interrupted); :func:`load_search` reads it into a :class:`TuneResult`.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DynlensValueError
from ..utils import atomic_path, check_readable_file, json_default

__all__ = ["RESULTS_FILE", "SPEC_FILE", "TRIALS_FILE", "TuneResult", "load_search"]

SPEC_FILE = "tune.json"      # the search's specification, written before it starts
TRIALS_FILE = "trials.json"  # one record per trial, written when it stops
RESULTS_FILE = "results.jsonl"  # every reported epoch of every trial, appended as they come
#: History columns kept per epoch (dl.fit's row, plus the trial's best so far, and the trial
#: whose weights population-based training copied into this one before that epoch, or None).
HISTORY = ("epoch", "train_loss", "valid_loss", "best_valid_loss", "scored_bins", "lr",
           "seconds", "restored_from")


class TuneResult:
    """The trials of a search: their settings, metric histories and best checkpoints.

    Parameters
    ----------
    folder : path
        The search folder (``out`` of :func:`dynlens.tune`).
    spec : dict
        The search's specification (``tune.json``).
    trials : list of dict
        One record per trial: ``trial_id``, ``status``, ``config``, ``history`` (a dict of
        lists, one entry per reported epoch), ``checkpoint`` (relative to ``folder``) and
        ``error``.

    Attributes
    ----------
    metric : str
        The metric the search minimised.
    fixed : dict
        The settings every trial used.

    Examples
    --------
    Two trials, as :func:`dynlens.tune` records them (``trials.json``):

    >>> spec = {"family": "node", "space": {"lr": ["loguniform", 1e-4, 1e-2]}, "fixed": {},
    ...         "metric": "valid_loss", "scheduler": "asha"}
    >>> def trial(name, lr, losses):
    ...     return {"trial_id": name, "status": "done", "config": {"lr": lr},
    ...             "history": {"epoch": list(range(len(losses))), "valid_loss": losses,
    ...                         "best_valid_loss": losses},
    ...             "checkpoint": f"{name}/checkpoint_000001", "error": None}
    >>> result = TuneResult("search", spec, [trial("a", 1e-3, [2.0, 1.5]),
    ...                                      trial("b", 5e-3, [1.9])])
    >>> result.table()[["trial_id", "lr", "epochs", "best_valid_loss"]].values.tolist()
    [['a', 0.001, 2, 1.5], ['b', 0.005, 1, 1.9]]
    >>> result.best_config, result.best_trial_id
    ({'lr': 0.001}, 'a')
    """

    def __init__(self, folder: str | os.PathLike, spec: dict, trials: list[dict]) -> None:
        self.folder, self.spec, self.trials = Path(folder), spec, trials
        self.metric, self.fixed = spec["metric"], spec["fixed"]

    def __repr__(self) -> str:
        done = sum(t["status"] == "done" for t in self.trials)
        return (f"TuneResult({self.spec['family']!r}, {len(self.trials)} trials, {done} done, "
                f"folder={str(self.folder)!r})")

    @property
    def searched(self) -> list[str]:
        """The searched settings, in the space's order."""
        return list(self.spec["space"])

    def table(self) -> pd.DataFrame:
        """One row per trial: ``trial_id``, ``status``, the searched settings, ``epochs``,
        the final ``train_loss``, ``valid_loss`` and ``best_valid_loss`` (the lowest at full
        trial length: the weights of its ``best.pt``), ``seconds`` (training time), the
        metric's ``history`` (a list, one value per epoch) and ``error``."""
        rows = []
        for trial in self.trials:
            history = trial["history"]
            rows.append({"trial_id": trial["trial_id"], "status": trial["status"],
                         **{k: trial["config"].get(k) for k in self.searched},
                         "epochs": len(history.get("epoch", [])),
                         **{k: _final(trial, k) for k in ("train_loss", "valid_loss",
                                                          "best_valid_loss")},
                         "seconds": float(np.nansum(_column(trial, "seconds"))),
                         "history": _column(trial, self.metric).tolist(),
                         "error": trial.get("error")})
        return pd.DataFrame(rows)

    def _scored(self) -> list[dict]:
        """Trials with a checkpoint and a finite best full-length validation loss."""
        return [t for t in self.trials
                if t["checkpoint"] and math.isfinite(_final(t, "best_valid_loss"))]

    @property
    def best_trial_id(self) -> str | None:
        """The trial with the lowest ``best_valid_loss`` (None before any has one)."""
        scored = self._scored()
        return min(scored, key=lambda t: _final(t, "best_valid_loss"))["trial_id"] \
            if scored else None

    def _best(self) -> dict:
        scored = self._scored()
        if not scored:
            raise DynlensValueError(
                f"result: no trial of {self.folder} reached full trial length with a "
                f"checkpoint; give max_epochs room for dl.fit's trial lengthening")
        return min(scored, key=lambda t: _final(t, "best_valid_loss"))

    @property
    def best_config(self) -> dict:
        """The searched settings of the trial with the lowest ``best_valid_loss``."""
        return dict(self._best()["config"])

    @property
    def best_model(self) -> Any:
        """That trial's best weights, loaded with :func:`dynlens.load_model`."""
        from ..models import load_model

        return load_model(self.folder / self._best()["checkpoint"] / "best.pt")

    def plot(self, by: str | None = None) -> Any:
        """The search: the metric against epoch, one line per trial coloured by a setting.

        Parameters
        ----------
        by : str, optional
            The searched setting that colours the lines (default: the first).

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ..plotting import search  # a plot method may draw with the plotting layer

        return search(self, by)

    def save(self) -> None:
        """Write the trial records to the folder's ``trials.json`` (atomically)."""
        with atomic_path(self.folder / TRIALS_FILE) as tmp:
            tmp.write_text(json.dumps(self.trials, indent=1, default=json_default))


def _column(trial: dict, key: str) -> np.ndarray:
    """A history column as floats (a missing value, stored as null, is NaN)."""
    return np.asarray(trial["history"].get(key, []), dtype=float)


def _final(trial: dict, key: str) -> float:
    values = _column(trial, key)
    return float(values[-1]) if values.size else math.nan


def load_search(folder: str | os.PathLike) -> TuneResult:
    """Read a search folder written by :func:`dynlens.tune` (no Ray needed).

    Parameters
    ----------
    folder : path
        The search's ``out`` folder.

    Returns
    -------
    TuneResult

    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> spec = {"family": "node", "space": {"lr": [1e-3, 1e-2]}, "fixed": {},
    ...         "metric": "valid_loss", "scheduler": "asha"}
    >>> _ = (folder / SPEC_FILE).write_text(json.dumps(spec))
    >>> load_search(folder)  # a search that has not recorded a trial yet
    TuneResult('node', 0 trials, 0 done, folder=...)
    """
    folder = Path(folder)
    spec = json.loads(check_readable_file(folder / SPEC_FILE, "folder").read_text())
    trials_file = folder / TRIALS_FILE
    trials = json.loads(trials_file.read_text()) if trials_file.is_file() else []
    return TuneResult(folder, spec, trials)

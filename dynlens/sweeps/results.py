"""A sweep folder's results: one row per run, read back from the run folders (the folder's
layout: :mod:`dynlens.sweeps.layout`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from .layout import RESULT, RUNNING, SweepFolder

__all__ = ["load_results", "mean_sd", "run_status", "summarise", "sweep_status"]

_FIRST = ["run_id", "dataset", "system", "model", "family", "latent_dim", "seed", "status",
          "epochs", "wall_s", "threads", "device"]
_TEXT = ["run_id", "dataset", "system", "model", "family", "status", "device", "error"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def run_status(run_dir: Path) -> str:
    """``"done"``, ``"failed"``, ``"running"`` (a live process works on it) or ``"pending"``."""
    result = run_dir / RESULT
    if result.is_file():
        return json.loads(result.read_text()).get("status", "failed")
    marker = run_dir / RUNNING
    if marker.is_file():
        try:
            if _alive(int(json.loads(marker.read_text())["pid"])):
                return "running"
        except (ValueError, KeyError, json.JSONDecodeError):
            pass
    return "pending"


def load_results(out_dir: str | os.PathLike) -> pd.DataFrame:
    """The results table of a sweep folder: one row per run of its specification.

    Finished runs carry every metric; unfinished ones their configuration and a status of
    ``"pending"`` or ``"running"``. Columns: the run's configuration (``run_id``,
    ``dataset``, ``system``, ``model``, ``family``, ``latent_dim``, ``seed``), ``status``,
    ``epochs``, ``wall_s``, ``threads``, ``device``, the metrics of :func:`dynlens.evaluate`,
    the fixed-point comparison (``fp_*``, see
    :meth:`dynlens.FixedPointComparison.numbers`) and ``error`` for failed runs.

    Parameters
    ----------
    out_dir : str or PathLike
        The sweep folder (it holds ``sweep.toml``).

    Examples
    --------
    A folder whose runs have not started yet (:meth:`dynlens.Sweep.run` shows one
    with finished runs):

    >>> import pathlib, tempfile
    >>> import dynlens as dl
    >>> sweep = dl.Sweep(systems=["arneodo"], models=["node", "gru"], latent_dims=[3], seeds=[0])
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> sweep.to_toml(folder / "sweep.toml")
    >>> load_results(folder)[["run_id", "model", "status"]].values.tolist()
    [['arneodo-node-d3-s0', 'node', 'pending'], ['arneodo-gru-d3-s0', 'gru', 'pending']]
    """
    folder = SweepFolder(out_dir)
    rows = []
    for run in folder.read_spec().runs():
        run_dir = folder.run(run.run_id)
        status = run_status(run_dir)
        if status in ("done", "failed"):
            rows.append(json.loads((run_dir / RESULT).read_text()))
        else:
            rows.append({**run.columns(), "status": status})
    table = pd.DataFrame(rows)
    for column in table.columns.difference(_TEXT):  # JSON nulls (NaN metrics) back to NaN
        if table[column].map(lambda v: v is None or isinstance(v, (int, float))).all():
            table[column] = pd.to_numeric(table[column])
    first = [c for c in _FIRST if c in table.columns]
    last = ["error"] if "error" in table.columns else []
    return table[first + [c for c in table.columns if c not in first + last] + last]


def sweep_status(out_dir: str | os.PathLike) -> dict[str, int]:
    """How many runs of a sweep folder are done, failed, running and pending.

    Parameters
    ----------
    out_dir : str or PathLike
        The sweep folder (it holds ``sweep.toml``).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import dynlens as dl
    >>> sweep = dl.Sweep(systems=["arneodo"], models=["node", "gru"], latent_dims=[3], seeds=[0])
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> sweep.to_toml(folder / "sweep.toml")  # what Sweep.run writes first
    >>> sweep_status(folder)
    {'done': 0, 'failed': 0, 'running': 0, 'pending': 2}
    """
    folder = SweepFolder(out_dir)
    counts = dict.fromkeys(("done", "failed", "running", "pending"), 0)
    for run in folder.read_spec().runs():
        counts[run_status(folder.run(run.run_id))] += 1
    return counts


def summarise(table: pd.DataFrame, by: str | list[str], metrics: list[str],
              digits: int = 3) -> pd.DataFrame:
    """Mean, standard deviation and count over seeds of ``metrics`` per ``by`` group.

    Only finished runs count (when the table has a ``status`` column); groups keep their
    order of first appearance. Columns are ``<metric>_mean``, ``<metric>_std`` and
    ``<metric>_count``.

    Parameters
    ----------
    table : pandas.DataFrame
        A results table (:func:`load_results`).
    by : str or list of str
        The column(s) to group by: ``"model"``, ``["model", "latent_dim"]``.
    metrics : list of str
        The metric columns to summarise.
    digits : int
        Decimal places the numbers are rounded to.

    Examples
    --------
    >>> table = pd.DataFrame({"model": ["node", "node", "gru"], "status": "done",
    ...                       "rate_r2": [0.9, 0.8, 0.5]})
    >>> summarise(table, "model", ["rate_r2"]).loc["node"].tolist()
    [0.85, 0.071, 2.0]
    """
    done = table[table["status"] == "done"] if "status" in table else table
    summary = done.groupby(by, sort=False)[metrics].agg(["mean", "std", "count"]).round(digits)
    summary.columns = [f"{metric}_{stat}" for metric, stat in summary.columns]
    return summary


def mean_sd(values: pd.Series, digits: int = 3) -> str:
    """``"0.961 ± 0.002"``: mean and standard deviation over seeds, the value alone for one
    seed and an empty string for none (missing values are left out).

    Parameters
    ----------
    values : pandas.Series or sequence of float
        One value per seed.
    digits : int
        Decimal places shown.

    Examples
    --------
    >>> mean_sd(pd.Series([0.95, 0.97])), mean_sd(pd.Series([0.5, None])), mean_sd(pd.Series([]))
    ('0.960 ± 0.014', '0.500', '')
    """
    values = pd.Series(values, dtype=float).dropna()
    if values.empty:
        return ""
    if len(values) == 1:
        return f"{values.iloc[0]:.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"

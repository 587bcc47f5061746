"""Cross-seed agreement of a sweep's cells: ``dl.sweeps.agreement(out_dir)``.

A cell (one dataset, model and latent size) trained with several seeds is reproducible when
its seeds agree with each other (:func:`dynlens.agreement`): a column a user can compute on
their own recordings, and check here against the truth columns beside it. Each run of a sweep
keeps its trained model (``runs/<run_id>/model.pt``) unless the sweep says
``keep_models=False``, which is what this reads.
"""

from __future__ import annotations

import os

import pandas as pd

from ..errors import DynlensFileNotFoundError
from ..utils import atomic_path
from .layout import MODEL, SweepFolder
from .results import load_results

__all__ = ["AGREEMENT_COLUMNS", "CELL", "agreement"]

#: The columns that identify a cell of a sweep (its seeds vary within it).
CELL = ["dataset", "model", "latent_dim"]
#: The columns :func:`agreement` adds, per cell, over its pairs of seeds.
AGREEMENT_COLUMNS = ("agreement_mean", "agreement_min", "latent_r2_agreement_mean",
                     "latent_r2_agreement_min", "fp_agreement_mean", "n_seed_pairs")


def _cell_row(pairs: pd.DataFrame) -> dict:
    return {"agreement_mean": float(pairs["score"].mean()),
            "agreement_min": float(pairs["score"].min()),
            "latent_r2_agreement_mean": float(pairs["latent_r2"].mean()),
            "latent_r2_agreement_min": float(pairs["latent_r2"].min()),
            "fp_agreement_mean": float(pairs["fp_score"].mean()),
            "n_seed_pairs": len(pairs)}


def _check_models_kept(sweep, folder: SweepFolder, done: pd.DataFrame) -> None:
    """Refuse a sweep whose runs kept no trained model: there is nothing to compare."""
    why = None
    if not sweep.keep_models:
        why = "it was run with keep_models=False"
    elif len(done) and not any((folder.run(r) / MODEL).is_file() for r in done["run_id"]):
        why = f"none of its {len(done)} finished runs holds {MODEL} (an older sweep?)"
    if why:
        raise DynlensFileNotFoundError(
            f"out_dir: expected a sweep whose runs kept their trained models "
            f"(runs/<run_id>/{MODEL}), found {folder.root}: {why}; cross-seed agreement "
            f"compares the models, so rerun the sweep into a new folder with "
            f"keep_models=True")


def agreement(out_dir: str | os.PathLike, *, split: str | None = None, write: bool = True,
              fixed_points: bool = True, lyapunov: bool = False, n_inits: int = 256,
              progress: bool = True, threads: int | str = "auto") -> pd.DataFrame:
    """Add per-cell cross-seed agreement columns to a sweep's results table.

    For each cell (:data:`CELL`: dataset, model, latent size) with at least two finished
    seeds, :func:`dynlens.agreement` compares its seeds' models (``runs/<run_id>/model.pt``)
    on the sweep's cached dataset (read once for all its cells); the cell gets the mean and
    minimum over its seed pairs of the pair ``score`` and of ``latent_r2`` (the smaller R2
    of the two directions), and the mean ``fp_score`` (:data:`AGREEMENT_COLUMNS`). Cells
    with one finished seed, or fewer than two kept models, get NaN. A sweep run with
    ``keep_models=False``, or whose finished runs kept no model at all, is refused (a
    DynlensFileNotFoundError saying so).

    Parameters
    ----------
    out_dir : path
        A sweep folder (:meth:`dynlens.Sweep.run`).
    split : str, optional
        The split the latent maps are scored on; default the sweep's ``analysis.split``.
    write : bool
        Also write the table as ``agreement.csv`` beside ``results.csv``.
    fixed_points, lyapunov, n_inits, progress, threads
        Passed to :func:`dynlens.agreement` (the Lyapunov part is off by default: it is
        reported, never scored).

    Returns
    -------
    pandas.DataFrame
        The results table (:func:`~dynlens.sweeps.load_results`), one row per run, with the
        agreement columns of its cell.

    Examples
    --------
    Two seeds of one cell (not run as a doctest: it trains a sweep, which
    ``tests/test_cli.py``'s ``sweep --agreement`` test runs and checks number by number):

    >>> import pathlib, tempfile
    >>> import dynlens as dl
    >>> sweep = dl.Sweep(systems=["arneodo"], models=["gru"], latent_dims=[2], seeds=[0, 1],
    ...                  data={"n_neurons": 4, "n_trials": 20, "n_bins": 10},
    ...                  fit={"max_epochs": 1}, analysis={"fixed_points": False})
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "runs"
    >>> _ = sweep.run(folder, threads=1, progress=False)  # doctest: +SKIP
    >>> table = dl.sweeps.agreement(folder, fixed_points=False,
    ...                             progress=False, threads=1)  # doctest: +SKIP
    >>> table[["run_id", "n_seed_pairs"]].values.tolist()  # doctest: +SKIP
    [['arneodo-gru-d2-s0', 1], ['arneodo-gru-d2-s1', 1]]
    >>> (folder / "agreement.csv").is_file()  # doctest: +SKIP
    True
    """
    from ..analysis import agreement as agree
    from ..data import load_dataset
    from ..models import load_model

    folder = SweepFolder(out_dir)
    sweep = folder.read_spec()
    split = sweep.analysis["split"] if split is None else split
    table = load_results(folder.root)
    done = table[table["status"] == "done"]
    _check_models_kept(sweep, folder, done)
    rows = []
    for name, of_dataset in done.groupby("dataset", sort=False):
        data = None  # each dataset read once, for all its cells, and only if one has two seeds
        for cell, runs in of_dataset.groupby(CELL, sort=False):
            paths = [folder.run(run_id) / MODEL for run_id in runs["run_id"]]
            kept = [(run_id, path) for run_id, path in zip(runs["run_id"], paths)
                    if path.is_file()]
            if len(kept) < 2:
                continue
            data = load_dataset(folder.dataset(name)) if data is None else data
            result = agree({run_id: load_model(path) for run_id, path in kept}, data, split,
                           fixed_points=fixed_points, lyapunov=lyapunov, n_inits=n_inits,
                           progress=progress, threads=threads)
            rows.append({**dict(zip(CELL, cell)), **_cell_row(result.table())})
    cells = pd.DataFrame(rows, columns=[*CELL, *AGREEMENT_COLUMNS]).astype(
        {column: table[column].dtype for column in CELL})  # also when no cell had two seeds
    out = table.merge(cells, on=CELL, how="left")
    out["n_seed_pairs"] = out["n_seed_pairs"].fillna(0).astype(int)
    if write:
        with atomic_path(folder.agreement) as tmp:
            out.to_csv(tmp, index=False)
    return out

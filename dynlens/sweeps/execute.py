"""One run of a sweep: train, evaluate, compare fixed points, and the files that record it.

A run's files are produced in memory (:func:`execute_run`) and written by
:func:`write_run`, ``result.json`` last: a run folder without ``result.json`` is unfinished,
whatever else it holds, so a process killed at any moment leaves a run to redo, never a
half-written one that looks done. The local executor calls both in its worker process; the
Ray executor runs :func:`execute_run` on the cluster and writes the files on the driver.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from ..threads import ThreadPolicy
from ..utils import atomic_path, json_default, seed_everything
from .layout import HISTORY, MODEL, RESULT, RUNNING, SweepFolder
from .spec import RunSpec

__all__ = ["execute_run", "failure_files", "run_files", "write_run"]


def _train(run: RunSpec, data: Any, fit_options: dict, threads: int, device: str):
    from ..training import fit

    seed_everything(run.seed)
    model = run.model.build(data.n_neurons, run.latent_dim, data.heldout_neurons)
    started = time.perf_counter()
    history = fit(model, data, seed=run.seed, threads=threads, device=device, progress=False,
                  **fit_options)
    return model, history, time.perf_counter() - started


def _measure(model: Any, data: Any, analysis: dict, threads: int) -> dict:
    """Every metric :func:`dynlens.evaluate` gives, then the fixed-point comparison when
    the model has a generator and the data a known true system."""
    from ..analysis import evaluate, fixed_point_recovery, true_system

    row = {k: v for k, v in evaluate(model, data, split=analysis["split"],
                                     threads=threads).items() if k not in ("split", "n_trials")}
    if analysis["fixed_points"] and hasattr(model, "dynamics") and data.latents is not None and (
            true_system(data) is not None):
        comparison = fixed_point_recovery(model, data, split="train",
                                          n_inits=analysis["n_inits"], seed=0, threads=threads)
        row.update(comparison.numbers())
    return row  # (hasattr is False for NDT: its DynlensNoDynamicsError is an AttributeError)


def execute_run(run: RunSpec, data: Any, fit_options: dict, analysis: dict, threads: int,
                device: str = "cpu", keep_model: bool = True) -> dict[str, bytes]:
    """Train and measure one run; returns its files (name -> bytes), ``result.json`` among
    them, ``model.pt`` when ``keep_model``. Exceptions propagate (callers record them with
    :func:`failure_files`)."""
    model, history, wall = _train(run, data, fit_options, threads, device)
    row = {**run.columns(), "status": "done", "epochs": len(history),
           "wall_s": round(wall, 1), "threads": threads, "device": device,
           "best_valid_loss": float(history["valid_loss"].min())}
    row.update(_measure(model, data, analysis, threads))
    buffer = io.StringIO()
    history.to_csv(buffer, index=False)
    files = {HISTORY: buffer.getvalue().encode(), RESULT: _json(row)}
    if keep_model:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / MODEL
            model.save(path)
            files[MODEL] = path.read_bytes()
    return files


def failure_files(run: RunSpec, error: str) -> dict[str, bytes]:
    """The files of a run that failed: ``result.json`` with status "failed" and the error."""
    return {RESULT: _json({**run.columns(), "status": "failed", "error": error})}


def _json(row: dict) -> bytes:
    clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
    return json.dumps(clean, indent=1, default=json_default).encode()


def write_run(run_dir: Path, files: dict[str, bytes]) -> None:
    """Write a run's files atomically, ``result.json`` last, and drop its running marker."""
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in sorted(files, key=lambda n: n == RESULT):
        with atomic_path(run_dir / name) as tmp:
            tmp.write_bytes(files[name])
    (run_dir / RUNNING).unlink(missing_ok=True)


def run_in_worker(run: RunSpec, dataset_path: str, run_dir: str, fit_options: dict,
                  analysis: dict, threads: int, device: str, keep_model: bool = True) -> None:
    """The local executor's worker process: one run, its folder written, errors recorded."""
    from ..data import load_dataset

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(run_dir / RUNNING) as tmp:
        tmp.write_text(json.dumps({"pid": os.getpid(), "started": time.time()}))
    write_run(run_dir, run_files(run, lambda: load_dataset(dataset_path), fit_options,
                                 analysis, threads, device, keep_model))


def run_files(run: RunSpec, load: Any, fit_options: dict, analysis: dict, threads: int,
              device: str = "cpu", keep_model: bool = True) -> dict[str, bytes]:
    """What a worker of either executor does: ``threads`` torch threads (the thread policy,
    :mod:`dynlens.threads`), the data from ``load()``, :func:`execute_run`; a failure
    anywhere becomes the run's recorded failure (:func:`failure_files`) instead of stopping
    the sweep; ``keep_model``: :func:`execute_run`'s."""
    try:
        with ThreadPolicy(threads):
            return execute_run(run, load(), fit_options, analysis, threads, device,
                               keep_model)
    except Exception:  # noqa: BLE001 - recorded in result.json; the other runs go on
        return failure_files(run, traceback.format_exc(limit=8))


def run_from_folder(out_dir: str | os.PathLike, run_id: str, threads: int,
                    device: str = "cpu") -> None:
    """Do the run ``run_id`` of the sweep folder ``out_dir`` (its specification and cached
    data) in this process: what ``python -m dynlens.sweeps.execute`` does for the local
    executor, so worker processes never import the user's script or notebook."""
    folder = SweepFolder(out_dir)
    sweep = folder.read_spec()
    run = {r.run_id: r for r in sweep.runs()}[run_id]
    run_in_worker(run, str(folder.dataset(run.dataset.name)), str(folder.run(run_id)),
                  run.fit_options(sweep.fit), sweep.analysis, threads, device,
                  sweep.keep_models)


def main(argv: list[str] | None = None) -> None:
    """``python -m dynlens.sweeps.execute OUT_DIR RUN_ID --threads N [--device D]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m dynlens.sweeps.execute",
                                     description="Do one run of a sweep folder.")
    parser.add_argument("out_dir")
    parser.add_argument("run_id")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    run_from_folder(args.out_dir, args.run_id, args.threads, args.device)


if __name__ == "__main__":
    main()

"""Running a sweep: check, prepare the folder and datasets, run what is unfinished, tabulate.

Two executors run the same :func:`~dynlens.sweeps.execute.execute_run`:

- ``"local"``: one fresh Python process per run, at most ``workers`` at a time, each
  with its share of the torch threads, so ``workers`` processes never oversubscribe the
  cores (two jobs that each use every core slow down 10-40x on a small machine;
  :mod:`dynlens.threads`). A process that dies (killed, out of memory) loses only its own
  run, which is recorded as failed and redone on the next call.
- ``"ray"``: the runs as Ray tasks with ``num_cpus`` = threads per run (and
  ``gpus_per_run``), on a Ray instance started for the sweep or an existing cluster
  (``address="auto"`` or ``"ray://host:port"``). Datasets travel through Ray's object
  store and results come back to the driver, which writes the folder: the cluster's nodes
  need no shared file system.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import DynlensMissingDependencyError, DynlensValueError
from ..threads import auto_threads, check_threads
from ..utils import atomic_path, check_choice, check_positive_int
from .execute import failure_files, run_files, write_run
from .layout import WORKER_LOG, SweepFolder
from .results import load_results, run_status
from .spec import RunSpec, Sweep

__all__ = ["run_sweep"]

EXECUTORS = ("local", "ray")


def run_sweep(sweep: Sweep, out_dir: str | os.PathLike, *, executor: str, workers: int,
              address: str | None, threads: int | str, device: str, gpus_per_run: float,
              progress: bool, retry_failed: bool) -> pd.DataFrame:
    """What :meth:`dynlens.Sweep.run` does (its docstring has the parameters and the
    defaults): check, prepare the folder and datasets, run what is unfinished, tabulate."""
    check_choice(executor, EXECUTORS, "executor")
    workers = check_positive_int(workers, "workers")
    per_run = _threads_per_run(check_threads(threads), workers)
    if executor == "ray":
        _import_ray()
    _check_importable(sweep)
    folder = SweepFolder(out_dir)
    _check_folder(sweep, folder)
    datasets = _datasets(sweep, folder)
    sweep.check_buildable({name: data.n_neurons for name, data in datasets.items()})
    _write_spec(sweep, folder, datasets)
    todo = [run for run in sweep.runs() if _unfinished(folder.run(run.run_id), retry_failed)]
    # seed-major: a sweep stopped early covers the whole grid with its first seeds
    todo.sort(key=lambda run: sweep.seeds.index(run.seed))
    job = _Job(sweep, folder, per_run, device, progress, len(todo))
    if todo and executor == "local":
        _run_local(job, todo, workers)
    elif todo:
        _run_ray(job, todo, datasets, workers, address, gpus_per_run)
    job.close()
    return _tabulate(folder)


def _check_importable(sweep: Sweep) -> None:
    """Worker processes find a model family or generator by importing the module that
    registered it."""
    for model in sweep.model_specs:
        if model.module == "__main__":
            raise DynlensValueError(
                f"models: the family {model.family!r} or generator of {model.name!r} is "
                f"defined in the running script or notebook, which worker processes cannot "
                f"import; define it in a module and import that")


def _threads_per_run(threads: int | str, workers: int) -> int:
    if threads != "auto":
        return int(threads)
    return max(1, auto_threads() // workers)


def _unfinished(run_dir: Path, retry_failed: bool) -> bool:
    status = run_status(run_dir)
    return status == "pending" or (status == "failed" and retry_failed)


def _check_folder(sweep: Sweep, folder: SweepFolder) -> None:
    """Refuse a folder that holds another sweep or other files; writes nothing."""
    out_dir = folder.root
    if out_dir.exists() and not out_dir.is_dir():
        raise DynlensValueError(f"out_dir: expected a folder, found a file at {out_dir}")
    if folder.spec.is_file():
        if folder.read_spec() != sweep:
            raise DynlensValueError(
                f"out_dir: {out_dir} holds a different sweep ({folder.SPEC} differs from this "
                f"specification); use a new folder, or the same specification to resume")
    elif out_dir.is_dir() and any(out_dir.iterdir()):
        raise DynlensValueError(
            f"out_dir: expected a new or empty folder, or one written by this sweep; found "
            f"{out_dir} holding other files")


def _datasets(sweep: Sweep, folder: SweepFolder) -> dict:
    """Each dataset once: read from the folder's cache, else simulated or read (not yet
    written: nothing is written before every check has passed)."""
    from ..data import load_dataset

    loaded = {}
    for spec in sweep.datasets:
        cached = folder.dataset(spec.name)
        loaded[spec.name] = load_dataset(cached) if cached.is_file() else spec.load()
    return loaded


def _write_spec(sweep: Sweep, folder: SweepFolder, datasets: dict) -> None:
    folder.root.mkdir(parents=True, exist_ok=True)
    if not folder.spec.is_file():
        sweep.to_toml(folder.spec)
    for name, data in datasets.items():
        if not folder.dataset(name).is_file():
            data.save(folder.dataset(name))


def _tabulate(folder: SweepFolder) -> pd.DataFrame:
    table = load_results(folder.root)
    with atomic_path(folder.results) as tmp:
        table.to_csv(tmp, index=False)
    return table


class _Job:
    """What every run of one call shares, and the progress bar over them."""

    def __init__(self, sweep: Sweep, folder: SweepFolder, threads: int, device: str,
                 progress: bool, total: int) -> None:
        from tqdm.auto import tqdm

        self.sweep, self.folder, self.threads, self.device = sweep, folder, threads, device
        self.bar = tqdm(total=total, desc=f"sweep {sweep.name}", unit="run",
                        disable=not progress)
        self.failed = 0

    def run_dir(self, run: RunSpec) -> Path:
        return self.folder.run(run.run_id)

    def finished(self, run: RunSpec) -> None:
        if run_status(self.run_dir(run)) == "failed":
            self.failed += 1
        self.bar.set_postfix_str(f"{run.run_id}; {self.failed} failed", refresh=False)
        self.bar.update()
        _tabulate(self.folder)

    def close(self) -> None:
        self.bar.close()


def _worker_env(threads: int) -> dict:
    """The environment of a worker process: this one's, with its module path (so a family
    registered in a module this process imported is importable there too) and its threads."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def _start(job: _Job, run: RunSpec) -> subprocess.Popen:
    run_dir = job.run_dir(run)
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / WORKER_LOG, "wb") as log:  # the worker's own output, for failures
        return subprocess.Popen(
            # ``-c`` rather than ``-m dynlens.sweeps.execute``: the package has already imported
            # that module, and runpy warns about running it again into every worker.log
            [sys.executable, "-c", "from dynlens.sweeps.execute import main; main()",
             str(job.folder.root), run.run_id,
             "--threads", str(job.threads), "--device", job.device],
            stdout=log, stderr=subprocess.STDOUT, env=_worker_env(job.threads))


def _died(job: _Job, run: RunSpec, code: int) -> None:
    """Record a run whose worker ended without writing its result (killed, out of memory)."""
    log = job.run_dir(run) / WORKER_LOG
    tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
    write_run(job.run_dir(run), failure_files(
        run, f"the worker process exited with code {code} before finishing (killed, or out "
             f"of memory?)" + (f"; its last output:\n{tail}" if tail.strip() else "")))


def _run_local(job: _Job, todo: list[RunSpec], workers: int) -> None:
    """One fresh Python process per run (:func:`dynlens.sweeps.execute.main`), at most
    ``workers`` at a time."""
    pending, running = list(todo), {}
    try:
        while pending or running:
            while pending and len(running) < workers:
                run = pending.pop(0)
                running[run.run_id] = (_start(job, run), run)
            time.sleep(0.05)
            for run_id, (process, run) in list(running.items()):
                if process.poll() is None:
                    continue
                del running[run_id]
                if run_status(job.run_dir(run)) not in ("done", "failed"):
                    _died(job, run, process.returncode)
                job.finished(run)
    finally:  # interrupted: stop the workers; their runs stay unfinished and are redone
        for process, _ in running.values():
            process.terminate()


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise DynlensMissingDependencyError(
            "executor: 'ray' needs the optional Ray package; install it with "
            "pip install 'dynlens[ray]'") from err
    return ray


def _run_ray(job: _Job, todo: list[RunSpec], datasets: dict, workers: int,
             address: str | None, gpus_per_run: float) -> None:
    ray = _import_ray()
    started = not ray.is_initialized()
    if started:
        options = ({"address": address} if address else
                   {"num_cpus": workers * job.threads, "include_dashboard": False})
        ray.init(logging_level="ERROR", log_to_driver=False, **options)
    try:
        remote = ray.remote(_ray_task).options(num_cpus=job.threads, num_gpus=gpus_per_run,
                                               max_retries=0)
        refs = {name: ray.put(data) for name, data in datasets.items()}
        futures = {remote.remote(run, refs[run.dataset.name], run.fit_options(job.sweep.fit),
                                 job.sweep.analysis, job.threads, job.device,
                                 job.sweep.keep_models): run
                   for run in todo}
        _collect(futures, job, ray.wait, _ray_outcome(ray))
    finally:
        if started:
            ray.shutdown()


def _ray_outcome(ray) -> Callable:
    def outcome(future, run: RunSpec) -> dict[str, bytes]:
        try:
            return ray.get(future)
        except ray.exceptions.RayError as err:  # the task's worker died, or Ray failed
            return failure_files(run, f"Ray: {type(err).__name__}: {err}")
    return outcome


def _collect(futures: dict, job: _Job, ray_wait: Callable, outcome: Callable) -> None:
    while futures:
        done, _ = ray_wait(list(futures), num_returns=1)
        run = futures.pop(done[0])
        write_run(job.run_dir(run), outcome(done[0], run))
        job.finished(run)


def _ray_task(run: RunSpec, data: Any, fit_options: dict, analysis: dict, threads: int,
              device: str, keep_model: bool) -> dict[str, bytes]:
    """A Ray task: one run's files (a failure inside the run is recorded, not raised)."""
    return run_files(run, lambda: data, fit_options, analysis, threads, device, keep_model)

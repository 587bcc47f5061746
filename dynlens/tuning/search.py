"""``dl.tune``: search a model family's settings with Ray Tune, every trial through ``dl.fit``.

The steps: check everything (the space, the settings at every end of every range, the
folder) before Ray starts; start a local Ray instance (or join a cluster); run the trials
(:func:`~dynlens.tuning.trial.run_trial`) under ASHA or population-based training; write one
record per trial (``trials.json``) and return a :class:`~dynlens.tuning.result.TuneResult`.
A folder that holds this search already, stopped or finished, is resumed (``Tuner.restore``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import DynlensMissingDependencyError, DynlensTypeError, DynlensValueError
from ..threads import auto_threads, check_threads
from ..utils import atomic_path, check_choice, check_output_path, check_positive_int
from .result import HISTORY, RESULTS_FILE, SPEC_FILE, TuneResult
from .space import check_search, parse_space
from .trial import TrialJob, run_trial

__all__ = ["METRICS", "SCHEDULERS", "tune"]

SCHEDULERS = ("asha", "pbt")
METRICS = ("valid_loss", "train_loss")


def _import_tune() -> Any:
    try:
        from ray import tune
    except ImportError as err:
        raise DynlensMissingDependencyError(
            "dl.tune needs Ray Tune; install it with pip install 'dynlens[tune]'") from err
    return tune


def _check_data(data: Any) -> Any:
    from ..data import NeuralDataset

    if not isinstance(data, NeuralDataset):
        raise DynlensTypeError(f"data: expected a NeuralDataset, found {type(data).__name__}")
    return data


def _spec(family: str, data: Any, dims: dict, fixed: dict, **search: Any) -> dict:
    """The search as plain data: ``tune.json``, compared when a folder is resumed."""
    from ..models.trained_on import training_record

    spec = {"family": family, "space": {k: d.to_plain() for k, d in dims.items()},
            "fixed": fixed, **search, "data": training_record(data)}
    return json.loads(json.dumps(spec))  # tuples -> lists, as read back


def _check_folder(out: Path, spec: dict) -> bool:
    """True when ``out`` holds this search (to resume); refuses another search or files."""
    check_output_path(out, "out", folder=True)
    saved = out / SPEC_FILE
    if saved.is_file():
        before = json.loads(saved.read_text())
        changed = sorted(k for k in set(before) | set(spec) if before.get(k) != spec.get(k))
        if changed:
            raise DynlensValueError(
                f"out: {out} holds another search (its {SPEC_FILE} differs in {changed}); use "
                f"a new folder, or the same family, data, space and settings to resume")
        return True
    if out.is_dir() and any(out.iterdir()):
        raise DynlensValueError(f"out: expected a new or empty folder, or one written by this "
                                f"search; found {out} holding other files")
    return False


def _threads(threads: int | str, num_samples: int, address: str | None) -> tuple[int, int]:
    """(torch threads per trial, CPUs of a local Ray instance): the free cores shared out,
    one thread per trial when trials outnumber them."""
    if threads != "auto":
        return int(threads), max(int(threads), auto_threads())
    if address is not None:
        return 1, 0
    cores = auto_threads()
    return max(1, cores // min(num_samples, cores)), cores


def _interval(max_epochs: int) -> int:
    """Population-based training's epochs between perturbations: a tenth of the budget."""
    return max(1, max_epochs // 10)


def _scheduler(name: str, dims: dict, max_epochs: int) -> Any:
    from ray.tune.schedulers import ASHAScheduler, PopulationBasedTraining

    if name == "asha":  # first cut after a tenth of the epochs, keeping the best third
        return ASHAScheduler(max_t=max_epochs, grace_period=max(1, max_epochs // 10),
                             reduction_factor=3)
    return PopulationBasedTraining(  # exploit / explore every tenth of the epochs
        time_attr="training_iteration", perturbation_interval=_interval(max_epochs),
        hyperparam_mutations={k: d.to_ray() for k, d in dims.items()},
        custom_explore_fn=functools.partial(_within_space, dims))


def _within_space(dims: dict, config: dict) -> dict:
    """A perturbed trial config with every searched value moved back inside its range."""
    return {k: dims[k].clip(v) if k in dims else v for k, v in config.items()}


def tune(family: str, data: Any, space: dict, *, num_samples: int, out: str | os.PathLike,
         scheduler: str = "asha", metric: str = "valid_loss", max_epochs: int | None = None,
         threads: int | str = "auto", address: str | None = None, progress: bool = True,
         **fixed: Any) -> TuneResult:
    """Search ``family``'s settings on ``data`` with Ray Tune; each trial trains with ``dl.fit``.

    Parameters
    ----------
    family : str
        A registered model family (``"sae"``, ``"lfads"``, ``"ndt"``, your own) or an SAE
        generator's name (``"node"``, ``"gru"``, ...).
    data : NeuralDataset
        The data; trials train on its train split and are scored on its valid split.
    space : dict
        Setting name -> ``("loguniform", lo, hi)``, ``("uniform", lo, hi)``,
        ``("randint", lo, hi)`` or a list of choices. Settings are the family's options and
        ``dl.fit``'s (``lr``, ``batch_size``, ``bins_per_group``, ...). Checked before Ray
        starts: a bad range, or a name or value the family or ``dl.fit`` refuses, is one
        :class:`~dynlens.DynlensError` naming the key, and nothing is written.
    num_samples : int
        Trials (the population's size, for ``"pbt"``).
    out : path
        The search folder: Ray Tune's experiment (trials, checkpoints), ``tune.json`` and
        ``trials.json``. A folder that holds the same search is resumed: unfinished trials
        continue from their last checkpoint, finished ones are kept.
    scheduler : {"asha", "pbt"}
        ``"asha"`` stops the worse trials early (first cut after a tenth of ``max_epochs``,
        then every rung keeps the best third); ``"pbt"`` (population-based training) every
        tenth of ``max_epochs`` copies the weights of a top-quarter trial into a
        bottom-quarter one and perturbs its settings (x0.8 or x1.2, or resampled). Settings
        that change the model's shapes cannot be searched by ``"pbt"``.
    metric : {"valid_loss", "train_loss"}
        What the scheduler compares, every epoch (lower is better).
    max_epochs : int, optional
        ``dl.fit``'s ``max_epochs`` for every trial (default: the family's).
    threads : "auto" or int
        torch threads per trial; ``"auto"``: the free cores shared among the trials, one
        each when trials outnumber cores (one on a cluster).
    address : str, optional
        A Ray cluster (``"auto"``, ``"ray://host:port"``); default: a local Ray instance
        started for the search and stopped after it (an instance already running in this
        process is used as it is). On a cluster of several machines ``out`` must be a
        folder every machine sees.
    progress : bool
        Ray Tune's status table while it runs.
    **fixed
        Settings every trial uses (``seed``, ``hidden_size=64``, ``bins_per_group=0``, ...).

    Returns
    -------
    TuneResult
        ``.table()`` (one row per trial), ``.best_config``, ``.best_model``, ``.plot()``.

    Examples
    --------
    A bad space is refused before anything starts (a search itself takes Ray's start-up,
    about 10 s, plus the trials: see ``docs/tuning.md``):

    >>> import dynlens as dl
    >>> data = dl.simulate("arneodo", n_neurons=5, n_trials=20, n_bins=10, seed=0)
    >>> dl.tune("gru", data, {"lr": ("loguniform", 1e-2, 1e-4)}, num_samples=4, out="never")
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensValueError: space['lr']: expected finite bounds lo < hi, found 0.01, 0.0001
    """  # noqa: E501
    tune_api = _import_tune()
    num_samples = check_positive_int(num_samples, "num_samples")
    check_choice(metric, METRICS, "metric")
    check_choice(scheduler, SCHEDULERS, "scheduler")
    threads = check_threads(threads)
    data = _check_data(data)
    dims = parse_space(space)
    model = check_search(family, dims, fixed, data, same_shapes=scheduler == "pbt")
    if max_epochs is None:
        from ..training.fit import default_fit_config

        max_epochs = default_fit_config(model).max_epochs
    max_epochs = check_positive_int(max_epochs, "max_epochs")
    out = Path(out)
    spec = _spec(family, data, dims, fixed, num_samples=num_samples, scheduler=scheduler,
                 metric=metric, max_epochs=max_epochs)
    resume = _check_folder(out, spec)
    per_trial, cpus = _threads(threads, num_samples, address)
    pbt = scheduler == "pbt"
    # a population trains its whole budget (no early stop), checkpointed at each perturbation
    job = TrialJob(family=family, max_epochs=max_epochs, threads=per_trial,
                   fixed={"patience": max_epochs, **fixed} if pbt else dict(fixed),
                   checkpoint_every=_interval(max_epochs) if pbt else 1)
    return _run(tune_api, out, spec, dims, job, data, resume=resume, address=address,
                cpus=cpus, progress=progress)


def _run(tune_api: Any, out: Path, spec: dict, dims: dict, job: TrialJob, data: Any, *,
         resume: bool, address: str | None, cpus: int, progress: bool) -> TuneResult:
    """Start (or join) Ray, run or resume the search, record its trials."""
    import ray

    started = not ray.is_initialized()
    if started:
        options = ({"address": address} if address else
                   {"num_cpus": cpus, "include_dashboard": False})
        ray.init(logging_level="ERROR", log_to_driver=False, **options)
    try:
        trainable = tune_api.with_resources(
            tune_api.with_parameters(run_trial, data=data, job=job), {"cpu": job.threads})
        if resume and tune_api.Tuner.can_restore(str(out.resolve())):
            tuner = tune_api.Tuner.restore(str(out.resolve()), trainable,
                                           resume_unfinished=True, resume_errored=True)
        else:
            out.mkdir(parents=True, exist_ok=True)
            with atomic_path(out / SPEC_FILE) as tmp:
                tmp.write_text(json.dumps(spec, indent=1))
            tuner = _new_tuner(tune_api, trainable, out, spec, dims, progress)
        with _no_tensorboard_logger():
            tuner.fit()
        result = TuneResult(out, spec, _records(tune_api, out, spec["metric"]))
        result.save()
        return result
    finally:
        if started:
            ray.shutdown()


@contextlib.contextmanager
def _no_tensorboard_logger() -> Iterator[None]:
    """Tune without its automatic loggers: the TensorBoard one prints "NaN or Inf found in
    input tensor." for every epoch a trial reports an infinite ``best_valid_loss`` (before it
    reaches full length), hundreds of lines in a search. The CSV and JSON loggers are passed
    to the Tuner explicitly (each trial's ``progress.csv`` and ``result.json``)."""
    key = "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"
    before = os.environ.get(key)
    os.environ[key] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ[key]
        else:
            os.environ[key] = before


def _new_tuner(tune_api: Any, trainable: Any, out: Path, spec: dict, dims: dict,
               progress: bool) -> Any:
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

    return tune_api.Tuner(
        trainable, param_space={k: d.to_ray() for k, d in dims.items()},
        tune_config=tune_api.TuneConfig(
            metric=spec["metric"], mode="min", num_samples=spec["num_samples"],
            scheduler=_scheduler(spec["scheduler"], dims, spec["max_epochs"]),
            reuse_actors=True),  # a fresh worker per trial (imports) costs 2.5x the time
        run_config=tune_api.RunConfig(
            name=out.name, storage_path=str(out.resolve().parent), verbose=1 if progress else 0,
            # a trial ends with its last epoch's result, which the scheduler then never sees:
            # population-based training would copy weights into a trial with nothing to train
            stop={"training_iteration": spec["max_epochs"]},
            # PBT restores other trials' checkpoints: deleting old ones would lose them
            checkpoint_config=tune_api.CheckpointConfig(
                num_to_keep=None if spec["scheduler"] == "pbt" else 2),
            callbacks=[_recorder(tune_api, out.resolve() / RESULTS_FILE), CSVLoggerCallback(),
                       JsonLoggerCallback()]))


def _recorder(tune_api: Any, path: Path) -> Any:
    """A Tune callback on the driver that appends every result to ``path`` (JSON lines): each
    trial's whole history, whatever Ray keeps when population-based training restarts it."""

    class Recorder(tune_api.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
            row = {"trial_id": trial.trial_id, **{k: result.get(k) for k in HISTORY}}
            with open(path, "a") as log:  # append-only; a torn last line is skipped on reading
                log.write(json.dumps(row) + "\n")

    return Recorder()


_STATUS = {"TERMINATED": "done", "ERROR": "error"}  # else unfinished (pending, paused, running)


def _histories(path: Path) -> dict[str, dict[str, list]]:
    """Each trial's reported rows (the recorder's log), as lists per column. An epoch
    reported again (a resumed trial retraining epochs after its last checkpoint, or one that
    population-based training gave another trial's weights) replaces the rows from there on:
    a history follows the weights the trial ends with."""
    histories: dict[str, dict[str, list]] = {}
    lines = path.read_text().splitlines() if path.is_file() else []
    for line in lines:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # the last line of a killed driver
            continue
        history = histories.setdefault(row.pop("trial_id"), {k: [] for k in HISTORY})
        epoch = row.get("epoch")
        if epoch is not None and epoch in history["epoch"]:  # trained again from a checkpoint
            keep = history["epoch"].index(epoch)
            for values in history.values():
                del values[keep:]
        for key in HISTORY:
            value = row.get(key)
            nan = isinstance(value, float) and math.isnan(value)
            history[key].append(None if nan else value)
    return histories


def _records(tune_api: Any, out: Path, metric: str) -> list[dict]:
    """One record per trial, read from the experiment while Ray is up."""
    analysis = tune_api.ExperimentAnalysis(str(out.resolve()), default_metric=metric,
                                           default_mode="min")
    frames = analysis.trial_dataframes
    histories = _histories(out / RESULTS_FILE)
    records = []
    for trial in sorted(analysis.trials, key=lambda t: t.trial_id):
        frame = frames.get(trial.trial_id)
        history = histories.get(trial.trial_id, {})
        diverged = frame is not None and "diverged" in frame and bool(frame["diverged"].any())
        checkpoint = trial.checkpoint
        records.append({
            "trial_id": trial.trial_id,
            "status": "diverged" if diverged else _STATUS.get(trial.status, "unfinished"),
            "config": dict(trial.config), "history": history,
            "checkpoint": (os.path.relpath(checkpoint.path, out.resolve())
                           if checkpoint is not None else None),
            "error": trial.error_file and Path(trial.error_file).read_text()[-2000:]})
    return records

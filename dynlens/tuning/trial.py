"""One trial of a search, as Ray Tune runs it: build the model, train it with ``dl.fit``.

Every epoch reports ``dl.fit``'s history row (plus ``best_valid_loss``) with a Tune
checkpoint of ``dl.fit``'s own checkpoint folder (``last.pt``: everything to resume;
``best.pt``: the best weights so far, a loadable model). A trial that Tune restores (a
resumed search, or population-based training copying a better trial's checkpoint into this
one with perturbed settings) continues from that checkpoint through ``dl.fit``'s
``resume="adapt"``: the weights, optimiser moments and epoch carry over, the new settings
apply from there on. The first epoch after population-based training copied another trial's
checkpoint reports that trial's id (``restored_from``), read from the checkpoint itself.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DynlensDivergenceError
from .space import build_trial_model

__all__ = ["TrialJob", "run_trial"]

# the best full-length validation loss of the trial that wrote the checkpoint, and its id
_STATE = "trial.json"


@dataclass(frozen=True)
class TrialJob:
    """What every trial of a search shares.

    Attributes
    ----------
    family : str
        The model family (or SAE generator shorthand such as ``"node"``).
    fixed : dict
        Settings every trial uses (model options and ``dl.fit`` settings).
    max_epochs : int
        ``dl.fit``'s ``max_epochs`` for every trial.
    threads : int
        torch threads per trial.
    checkpoint_every : int
        Epochs between Tune checkpoints (and at the last epoch): 1 for ASHA; population-based
        training's perturbation interval, so that the checkpoints it copies stay on storage.
    """

    family: str
    fixed: dict
    max_epochs: int
    threads: int
    checkpoint_every: int = 1


def _restore(work: Path) -> bool:
    """Fill ``work`` from the checkpoint Tune hands this trial, if any; True when it did."""
    from ray import tune

    shutil.rmtree(work, ignore_errors=True)  # a previous run of this trial left its files
    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        work.mkdir(parents=True)
        return False
    with checkpoint.as_directory() as folder:
        shutil.copytree(folder, work)
    return (work / "last.pt").is_file()


def run_trial(config: dict, data: Any, job: TrialJob) -> None:
    """Train one trial with the settings ``config`` on top of ``job.fixed``; report each epoch.

    Parameters
    ----------
    config : dict
        The trial's searched settings (Ray Tune's trial config).
    data : NeuralDataset
        The data every trial trains on.
    job : TrialJob
        The search's shared settings.
    """
    from ray import tune

    from ..training import fit

    model, fit_options = build_trial_model(job.family, {**job.fixed, **config}, data)
    trial_id = tune.get_context().get_trial_id()
    # outside the trial's folder, which Ray copies to storage in the background
    work = Path(tempfile.mkdtemp(prefix="dynlens-trial-")) / "fit"
    resumed = _restore(work)
    state = json.loads((work / _STATE).read_text()) if (work / _STATE).is_file() else {}
    best = state.get("best_valid_loss", math.inf)
    # another trial's checkpoint (population-based training's exploit), not this one's own
    donor = state.get("trial_id") if state.get("trial_id") != trial_id else None

    def report(epoch: int, model: Any, row: dict) -> None:
        nonlocal best, donor
        if row["scored_bins"] == data.n_bins:  # dl.fit keeps the best full-length weights
            best = min(best, row["valid_loss"])
        metrics = {**row, "best_valid_loss": best, "diverged": False, "restored_from": donor}
        donor = None
        if (epoch + 1) % job.checkpoint_every and epoch != job.max_epochs - 1:
            tune.report(metrics)
            return
        (work / _STATE).write_text(json.dumps({"best_valid_loss": best, "trial_id": trial_id}))
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(str(work)))

    try:
        fit(model, data, threads=job.threads, progress=False, checkpoint_dir=work,
            resume="adapt" if resumed else False, checkpoint_every=1, callback=report,
            max_epochs=job.max_epochs, **fit_options)
    except DynlensDivergenceError:  # a setting that diverges loses; the search goes on
        tune.report({"valid_loss": math.inf, "train_loss": math.inf, "best_valid_loss": best,
                     "diverged": True})
    finally:  # the reported checkpoints hold these files; a trial stopped early may not get here
        shutil.rmtree(work.parent, ignore_errors=True)

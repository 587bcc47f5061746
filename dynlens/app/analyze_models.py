"""``dynlens analyze`` with several models: each one opened, then all compared with each other.

Each model gets the analysis of a single one (:func:`~dynlens.app.analyze.analysis_section`:
fixed points, spectra, graph, Lyapunov spectrum, and the comparison with the true system when
one is known), its files named after it; then :func:`dynlens.agreement` compares the models
pair by pair with no truth and writes the "Agreement between models" section. On a recording
(no true system, no true latents) the agreement section is what stands in for a comparison;
with a truth, both are written, and the agreement says whether the models found the same
structure as each other while each model's comparison says whether it found the true one.

Examples
--------
Two untrained NODE models at toy sizes (a few seconds, mostly drawing the figures):

>>> import json, pathlib, shutil, tempfile
>>> import dynlens as dl
>>> from dynlens.app.analyze_models import run_model_agreement
>>> data = dl.simulate("arneodo", n_neurons=6, n_trials=12, n_bins=10, seed=0)
>>> models = {name: dl.models.SAE(n_neurons=6, latent_dim=2, hidden_size=8, encoder_size=8)
...           for name in ("first", "second")}
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> path = run_model_agreement(models, data, out, n_inits=8, progress=False,
...                            lyapunov_steps=20)
>>> summary = json.loads((out / "summary.json").read_text())
>>> [s["model"] for s in summary["models"]], summary["agreement"]["split"]
(['first', 'second'], 'test')
>>> "## Agreement between models" in path.read_text()
True
>>> shutil.rmtree(out)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import DynlensValueError
from .analyze import AnalysisRun

__all__ = ["agreement_split", "run_model_agreement"]


def agreement_split(data: Any) -> str:
    """The split the models' latent maps are scored on: ``"test"``, else ``"valid"`` (LFADS
    files have no test split), else ``"train"`` (then the maps are scored where they were
    fitted, which flatters them).

    Parameters
    ----------
    data : NeuralDataset
        The data the models were fitted to.

    Returns
    -------
    str
        The name of the split.

    Examples
    --------
    >>> import dynlens as dl
    >>> recording = dl.simulate("arneodo", n_neurons=4, n_trials=10, n_bins=5)
    >>> agreement_split(recording)
    'test'
    """
    return next((name for name in ("test", "valid") if name in data.splits), "train")


def _prefix(name: str) -> str:
    """A file-name prefix for the model ``name`` ("NODE-3 (seed0)" -> "NODE-3_seed0_")."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", name).strip("_") + "_"


def _agreement_summary(agree: Any) -> dict:
    return {"score": agree.score, "split": agree.split,
            "pairs": agree.table().to_dict(orient="records"),
            "models": agree.summary().reset_index().to_dict(orient="records")}


def run_model_agreement(models: Mapping[str, Any], data: Any,
                        out: str | Path = "dynlens-analysis", *, system: Any = None,
                        split: str = "train", n_inits: int = 1024, seed: int = 0,
                        progress: bool = True, lyapunov_steps: int | None = None,
                        threads: int | str = "auto",
                        files: Mapping[str, str | Path] | None = None) -> Path:
    """Analyse several trained models of one dataset and compare them with each other; write
    ``report.md`` (and ``report.html``), figures, CSV tables and ``summary.json`` to ``out``.

    Each model's section is that of :func:`~dynlens.app.analyze.run_analysis` (its files
    prefixed by its name); then :func:`dynlens.agreement` on the split
    :func:`agreement_split` picks, whose pair table and per-model summary are written as
    ``agreement.csv`` and ``agreement_models.csv``. ``summary.json`` holds ``models`` (each
    model's numbers, as ``run_analysis`` writes them for one) and ``agreement`` (``score``,
    ``split``, ``pairs`` and ``models``, the two tables as lists of rows). A model trained
    on other data than ``data`` gets an "Other data." line naming it (and its file, when
    ``files`` gives it).

    Parameters
    ----------
    models : dict of name -> model
        At least two trained models with a ``dynamics`` generator, fitted to ``data``.
    data : NeuralDataset
        The data they were fitted to.
    out : path
        Report folder (created if needed; existing files are overwritten).
    system : str or system, optional
        True system to compare each model with; default the one recorded in
        ``data.metadata`` by :func:`dynlens.simulate`, if any.
    split : str
        Split whose inferred latents seed each model's fixed-point search and fit its
        alignment with the true latents.
    n_inits, seed : int
        Fixed-point search starts and seed, of each model's section and of the agreement.
    progress : bool
        Show progress bars.
    lyapunov_steps : int, optional
        Bins per start of the Lyapunov spectra (default: :func:`dynlens.lyapunov_spectrum`'s
        in each section, :func:`dynlens.agreement`'s in the comparison).
    threads : "auto" or int
        torch's CPU threads throughout (:class:`dynlens.threads.ThreadPolicy`).
    files : dict of name -> path, optional
        The models' checkpoint files, by name, for the report's "Other data." lines.

    Returns
    -------
    pathlib.Path
        The report's path.
    """
    from ..analysis import agreement

    if not isinstance(models, Mapping) or len(models) < 2:
        raise DynlensValueError(
            f"models: expected a dict of at least two named models, found "
            f"{len(models) if isinstance(models, Mapping) else type(models).__name__}")
    with AnalysisRun(out, data, models, system=system, split=split, n_inits=n_inits,
                     seed=seed, progress=progress, lyapunov_steps=lyapunov_steps,
                     threads=threads, files=files) as run:
        summaries = [run.section(model, name, prefix=_prefix(name))
                     for name, model in models.items()]
        steps = {} if lyapunov_steps is None else {"lyapunov_steps": lyapunov_steps}
        agree = agreement(dict(models), data, agreement_split(data), n_inits=run.n_inits,
                          seed=run.seed, progress=progress, threads=threads, **steps)
        agree.add_to(run.report)
        run.report.text(
            "Agreement is measured without the truth: near 1, the models found the same "
            "latent space and fixed points as each other (the data constrain them); near "
            "0, they did not, and no one of them should be believed alone. It measures "
            "reproducibility, not truth: models can agree on the same wrong structure "
            "(docs/agreement.md). The Lyapunov exponents of these tables are per bin.")
        run.report.write_file("agreement.csv", agree.table().to_csv(index=False))
        run.report.write_file("agreement_models.csv", agree.summary().to_csv())
        return run.finish(summaries, {"models": summaries,
                                      "agreement": _agreement_summary(agree)})

"""``dynlens demo``: simulated data, trained models, their analysis, as a small report.

The report is a folder with ``report.md``, a self-contained ``report.html`` and PNG figures.
The full demo follows the published Arneodo recipe (2000 trials x 70 bins x 10 neurons).
``model="sae"`` (default) trains a NODE and a GRU autoencoder with latent size 3 using
:func:`dynlens.fit`'s defaults and opens both; ``model="lfads"`` trains a small LFADS without
a controller and opens its generator the same way; ``model="ndt"`` trains a small Neural Data
Transformer, which has no dynamics to open, so its report has no fixed-point section.
``fast=True`` uses the smaller :data:`FAST` settings (1000 trials, fewer epochs), about 2 to
3.5 minutes on 2 CPU cores (:mod:`~dynlens.app.durations`), and the report says so.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .. import plotting
from ..analysis import AffineAlignment, evaluate
from ..data import NeuralDataset, simulate
from ..models import build
from ..systems import get as get_system
from ..threads import ThreadPolicy, describe
from ..training import fit
from ..utils import check_choice, check_output_path, seed_everything
from .analyze import add_interpretation, analysis_section
from .durations import DEMO_FULL
from .report import Report

__all__ = ["FAST", "FULL", "MODELS", "DemoSettings", "run_demo"]

#: The model families the demo can train.
MODELS = ("sae", "lfads", "ndt")

# Small enough to train on a CPU in about a minute, large enough to fit Arneodo (measured on
# 1000 trials, 2 busy cores, seed 0: LFADS 100 epochs at batch 64, test rate R2 .93 in 70 s;
# NDT 120 epochs at lr 3e-3, rate R2 .74 in 55 s, where the published NDT sizes reach .09).
_LFADS = {"ic_dim": 16, "n_factors": 16, "ic_enc_dim": 64, "gen_dim": 64, "co_dim": 0}
_NDT = {"d_model": 32, "n_layers": 2, "n_heads": 2, "ff_dim": 64, "dropout_embedding": 0.1,
        "dropout_attention": 0.1, "dropout_rates": 0.1}


@dataclass(frozen=True)
class DemoSettings:
    """The sizes of one demo run: data, training settings per family, fixed-point starts.

    ``fit`` holds the :func:`dynlens.fit` settings of each family (``{}``: the model's own
    defaults), ``config`` extra model keywords per family. :data:`FULL` and :data:`FAST` are
    the two the command line uses.
    """

    n_trials: int
    fit: dict[str, dict[str, Any]]
    config: dict[str, dict[str, Any]] = field(default_factory=lambda: {
        "lfads": _LFADS, "ndt": _NDT})
    n_bins: int = 70
    n_neurons: int = 10
    n_inits: int = 1024
    invariants: bool = True


#: The full demo: the published data size, ``dl.fit``'s defaults (NDT at lr 3e-3).
FULL = DemoSettings(n_trials=2000, fit={"sae": {}, "lfads": {}, "ndt": {"lr": 3e-3}})

#: ``--fast``. SAEs: fewer epochs, smaller batches so that each epoch still takes 10 steps.
#: Measured (NODE-3, seed 0): 90 epochs lengthened every 5 reach test rate/state R2 .89/.92
#: in about a minute; 60 epochs lengthened every 3 only .48/.70, 400 trials x 120 epochs
#: .55/.73.
FAST = DemoSettings(n_trials=1000, invariants=False, fit={
    "sae": {"max_epochs": 90, "batch_size": 64, "epochs_per_group": 5, "patience": 30},
    "lfads": {"max_epochs": 100, "batch_size": 64},
    "ndt": {"max_epochs": 120, "lr": 3e-3}})


def run_demo(out: str | Path = "dynlens-demo", *, model: str = "sae", fast: bool = False,
             seed: int = 0, device: str = "cpu", progress: bool = True,
             threads: int | str = "auto", settings: DemoSettings | None = None) -> Path:
    """Run the demo and write the report; returns the path of ``report.md``.

    Parameters
    ----------
    out : path
        Report folder (created if needed; existing figures are overwritten). ``report.html``
        is written beside ``report.md``.
    model : {"sae", "lfads", "ndt"}
        ``"sae"``: NODE-3 and GRU-3 autoencoders; ``"lfads"``: LFADS without a controller;
        ``"ndt"``: a Neural Data Transformer (no dynamics, so no fixed points).
    fast : bool
        The :data:`FAST` settings (about 2 to 3.5 minutes on 2 CPU cores); the report says so.
    seed : int
        Seeds the simulation, model initialisation and training.
    device : str
        Where to train (``"cpu"``, ``"cuda"``, ``"auto"``).
    progress : bool
        Show progress bars.
    threads : "auto" or int
        torch's CPU threads (see :mod:`dynlens.threads`); the first progress line says it.
    settings : DemoSettings, optional
        Other sizes than :data:`FULL` / :data:`FAST` (the report says they were used).

    Examples
    --------
    A toy demo (NODE-3 and GRU-3 trained for one epoch on 20 trials). It takes a few
    seconds, mostly drawing figures, so it is not run as a doctest; ``tests/test_report.py``
    runs the demo of every family at toy sizes.

    >>> import json, pathlib, shutil, tempfile
    >>> toy = DemoSettings(n_trials=20, n_bins=10, n_inits=16, invariants=False,
    ...                    fit={"sae": {"max_epochs": 1, "batch_size": 8}})
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> path = run_demo(out, settings=toy, progress=False, threads=1)  # doctest: +SKIP
    >>> path.name, (out / "report.html").is_file()  # doctest: +SKIP
    ('report.md', True)
    >>> json.loads((out / "settings.json").read_text())["n_trials"]  # doctest: +SKIP
    20
    >>> "Custom settings" in path.read_text()  # doctest: +SKIP
    True

    A mistake is refused before any work, and nothing is written:

    >>> run_demo(out / "demo", model="gru")
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensValueError: model: expected one of 'sae', 'lfads', 'ndt', found 'gru'
    >>> (out / "demo").exists()
    False
    >>> shutil.rmtree(out)
    """
    model = check_choice(model, MODELS, "model")
    check_output_path(out, "out", folder=True)  # before any work
    chosen = settings if settings is not None else FAST if fast else FULL
    with ThreadPolicy(threads):
        return _demo(Path(out), model, chosen, fast, seed, device, progress, threads)


def _demo(out: Path, family: str, settings: DemoSettings, fast: bool, seed: int, device: str,
          progress: bool, threads: int | str) -> Path:
    started = time.perf_counter()

    def say(message: str) -> None:
        if progress:
            print(f"[dynlens demo {time.perf_counter() - started:5.0f} s] {message}", flush=True)

    say(describe(threads))
    report = Report(out)
    data = _data_section(report, family, settings, fast, seed, say)
    models = _training_section(report, data, family, settings, seed, device, progress, say)
    if family == "ndt":
        _ndt_section(report, models, data)
    else:
        _opening_sections(report, models, data, settings, seed, progress, say)
    command = f"dynlens demo{' --fast' if fast else ''}" + (
        f" --model {family}" if family != "sae" else "")
    report.text("---", f"Generated by `{command}` in {time.perf_counter() - started:.0f} s "
                       f"(seed {seed}{'' if settings in (FULL, FAST) else ', custom settings'}"
                       f").")
    report.write_file("settings.json", json.dumps(
        {"model": family, "fast": fast, "seed": seed, "device": str(device),
         "threads": threads, "n_trials": settings.n_trials, "fit": settings.fit[family]},
        indent=2))
    return report.write()


def _opening_sections(report: Report, models: dict, data: NeuralDataset,
                      settings: DemoSettings, seed: int, progress: bool, say) -> None:
    """Open every model's generator (one section each), then sum up in words."""
    found = []
    for number, (label, model) in enumerate(models.items(), start=3):
        say(f"opening {label}: fixed points, graph, comparison with the true system")
        prefix = "" if number == 3 else f"{label.lower().replace('-', '')}_"
        found.append(analysis_section(
            report, model, data, label=label, heading=f"## {number}. Opening {label}",
            system=get_system("arneodo"), n_inits=settings.n_inits, seed=seed,
            progress=progress, prefix=prefix, invariants=settings.invariants))
    add_interpretation(report, f"## {len(models) + 3}. In short", found)


def _settings_note(family: str, settings: DemoSettings, fast: bool) -> str | None:
    """The report's note on smaller settings (None for the full demo)."""
    if settings == FULL:
        return None

    def training(fit_settings: dict) -> str:
        given = ", ".join(f"`{k}={v}`" for k, v in fit_settings.items())
        return f"{given}, otherwise `dl.fit`'s defaults" if given else "`dl.fit`'s defaults"

    what = "**Fast mode** (`dynlens demo --fast`)" if fast else "**Custom settings**"
    opened = family != "ndt"  # an NDT has no fixed points or spectra to skip
    return (f"> {what}: smaller settings than the full demo. {settings.n_trials} trials "
            f"instead of {FULL.n_trials}; training with {training(settings.fit[family])} "
            f"(the full demo: {training(FULL.fit[family])}, up to 300 epochs)"
            + (f"; {settings.n_inits} fixed-point starts" if opened else "")
            + ". Expect lower R2" + (" and a rougher fixed-point comparison" if opened else "")
            + f" than the full demo (`dynlens demo`, {DEMO_FULL})."
            + (" No Lyapunov spectra either." if opened and not settings.invariants else ""))


_TITLES = {"sae": "Sequential autoencoders", "lfads": "LFADS", "ndt": "A Neural Data Transformer"}


def _data_section(report: Report, family: str, settings: DemoSettings, fast: bool, seed: int,
                  say) -> NeuralDataset:
    """Simulate the Arneodo data set and describe it with figures."""
    shape = f"{settings.n_trials} trials x {settings.n_bins} bins x {settings.n_neurons} neurons"
    say(f"simulating Arneodo: {shape}")
    data = simulate("arneodo", n_neurons=settings.n_neurons, n_trials=settings.n_trials,
                    n_bins=settings.n_bins, seed=seed)
    report.text("# dynlens demo report",
                f"{_TITLES[family]} fitted to spikes simulated from the Arneodo system: did "
                f"{'it' if family != 'sae' else 'they'} recover the true dynamics?")
    note = _settings_note(family, settings, fast)
    if note:
        report.text(note)
    report.text("## 1. Simulated data", f"```\n{data!r}\n```",
                f"Recipe: {data.metadata.get('recipe', 'published (Sedler et al. 2023)')}; "
                f"one bin = {data.bin_width:.4f} {plotting.time_unit(data)}; mean rate "
                f"{data.rates.mean():.2f} expected counts per bin.")
    report.figure(plotting.spike_raster(data, trial=0), "data_raster", "Spike counts of trial 0")
    shown = min(data.n_neurons, 8)  # plotting.rates draws the first 8 by default
    report.figure(plotting.rates(data, trial=0, neurons=range(shown)), "data_rates",
                  f"True rates (expected counts per bin) of trial 0: neurons 0-{shown - 1} "
                  f"of {data.n_neurons}" if shown < data.n_neurons else
                  "True rates (expected counts per bin) of trial 0, every neuron")
    report.figure(plotting.latent_trajectory_3d(data), "data_latents",
                  "True latent trajectory (the Arneodo attractor)")
    return data


_DESCRIPTIONS = {
    "sae": "Both models: bidirectional-GRU encoder -> latent generator (latent size 3) -> "
           "linear readout, trained with `dl.fit`.",
    "lfads": "LFADS (Sussillo et al. 2016) without a controller, since Arneodo runs without "
             "inputs: a bidirectional-GRU encoder infers a posterior over the initial "
             "condition (with a KL penalty), a GRU generator runs from it, and the rates are "
             "read out from low-dimensional factors; trained with `dl.fit` and LFADS's own "
             "defaults (KL and L2 ramps, coordinated dropout).",
    "ndt": "NDT (Ye & Pandarinath 2021): a transformer over time bins trained by masked "
           "modelling (a quarter of the bins hidden, their counts predicted); no generator.",
}

_METRICS = ("Test-split metrics (affine maps fitted on the train split): `rate_r2` true vs "
            "inferred rates; `state_r2` affine true -> inferred latents (the published "
            "direction, penalising invented dimensions); `decode_r2` inferred -> true; `bps` "
            "bits per spike; `torch threads` the count `dl.fit`'s `threads=\"auto\"` chose "
            "(per epoch).")


#: What the demo says of cycle consistency: not shown for SAEs, where it proves nothing.
_CYCLE = {
    True: "Cycle consistency is not shown: an SAE's log-rates are a linear, injective readout "
          "of its latents, so it is 1.000 for every SAE, trained or not, and says nothing "
          "about how well it learned.",
    False: "`cycle_consistency`: how much of the latents' variance the log-rates keep (the "
           "CtDB benchmark's score; 1 when the latents can be read back from the rates).",
}


def _metric_keys(family: str) -> tuple[str, ...]:
    """The metrics of the demo's table: cycle consistency only where it can say something."""
    keys = ("rate_r2", "state_r2", "decode_r2", "bps")
    return keys if family == "sae" else (*keys, "cycle_consistency")


def _family_specs(family: str, settings: DemoSettings) -> list[tuple[str, dict]]:
    """``(registry name, keywords)`` of each model the demo trains for ``family``."""
    if family == "sae":
        return [("sae", {"latent_dim": 3, "generator": generator}) for generator in ("node", "gru")]
    return [(family, dict(settings.config.get(family, {})))]


def _training_section(report: Report, data: NeuralDataset, family: str,
                      settings: DemoSettings, seed: int, device: str, progress: bool,
                      say) -> dict[str, Any]:
    """Train the family's models, tabulate their test metrics, draw learning curves and
    rates; returns the models by label."""
    models, histories, rows = {}, {}, []
    for name, config in _family_specs(family, settings):
        seed_everything(seed)
        model = build(name, n_neurons=data.n_neurons, **config)
        say(f"training {model.label}")
        tic = time.perf_counter()
        history = fit(model, data, seed=seed, device=device, progress=progress,
                      **settings.fit[family])
        seconds = time.perf_counter() - tic
        models[model.label], histories[model.label] = model, history
        row = evaluate(model, data, split="test")
        used = history["threads"]
        rows.append({"model": model.label, "epochs": len(history),
                     "train time (s)": round(seconds),  # whole seconds: no false precision
                     "torch threads": (str(used.min()) if used.min() == used.max()
                                       else f"{used.min()}-{used.max()}"),
                     **{k: row.get(k, float("nan")) for k in _metric_keys(family)}})
    table = pd.DataFrame(rows)
    report.write_file("metrics.csv", table.to_csv(index=False))
    report.text("## 2. Trained models" if family == "sae" else "## 2. Trained model",
                f"{_DESCRIPTIONS[family]} {_METRICS} {_CYCLE[family == 'sae']}")
    report.table(table)
    if family == "sae":
        report.text("Published (Sedler et al. 2023, 3000 epochs on a GPU): NODE-3 .91/.94, "
                    "GRU-3 .51/.69 (rate/state R2).")
    report.figure(plotting.training_history(histories), "training_history", "Learning curves")
    test = data.split("test")
    inferred = {label: m.infer(test).rates for label, m in models.items()}
    shown = f"test trial 0 (trial {data.splits['test'][0]} of the data)"
    report.figure(plotting.rates_vs_truth(test.rates, inferred, trial=0, neurons=(0, 1, 2),
                                          bin_width=data.bin_width, spikes=test.spikes,
                                          trial_name=shown, time_unit=plotting.time_unit(data)),
                  "rates_vs_truth", f"Inferred vs true rates of three neurons on {shown}")
    return models


def _ndt_section(report: Report, models: dict, data: NeuralDataset) -> None:
    """What can be said of a model without dynamics: its latents against the truth."""
    (label, model), = models.items()
    train = data.split("train")
    latents = model.infer(train).latents
    alignment = AffineAlignment().fit(latents, train.latents)
    r2 = float(alignment.score(latents, train.latents))
    report.text("## 3. No dynamics to open",
                f"{label} has no dynamics: it is a transformer without a generator, so there "
                f"is no vector field or map whose fixed points could be found, and this "
                f"report has no fixed-point section. What can be checked is whether its "
                f"latents carry the true state: mapped affinely onto the true latents, they "
                f"reach R2 {r2:.2f} on the train split.")
    report.figure(plotting.latents_vs_truth(latents, train.latents, alignment=alignment,
                                            split="train", name=label),
                  "latents_vs_truth", f"{label} latents mapped affinely onto the true ones (map "
                                      f"fitted and scored on the train split, model -> true)")
    report.text("## 4. In short",
                f"{label}'s rates can be scored (table above) and its latents map onto the "
                f"true state with R2 {r2:.2f}, but a model without dynamics cannot answer "
                f"whether it learned the true dynamics: train an SAE or LFADS (`dynlens demo "
                f"--model sae` or `--model lfads`) to open a generator.")

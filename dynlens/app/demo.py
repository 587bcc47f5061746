"""``dynlens demo``: simulated data, trained models, their analysis, as a small report.

The report is a folder with ``report.md`` and PNG figures. The full demo follows the
published Arneodo recipe (2000 trials x 70 bins x 10 neurons) and trains a NODE and a GRU
autoencoder with latent size 3 using :func:`dynlens.fit`'s defaults; ``fast=True`` uses 1000
trials and 90 epochs so that it finishes in about two minutes, and says so.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from .. import plotting
from ..analysis import evaluate
from ..data import simulate
from ..models import SAE
from ..systems import get as get_system
from ..threads import ThreadPolicy, describe
from ..training import fit
from ..utils import seed_everything
from .analyze import analysis_section
from .report import Report, markdown_table

__all__ = ["run_demo"]


def run_demo(out: str | Path = "dynlens-demo", *, fast: bool = False, seed: int = 0,
             device: str = "cpu", progress: bool = True, threads: int | str = "auto") -> Path:
    """Run the demo and write the report; returns the path of ``report.md``.

    Parameters
    ----------
    out : path
        Report folder (created if needed; existing figures are overwritten).
    fast : bool
        Smaller data and shorter training (about two minutes on 2 CPU cores).
    seed : int
        Seeds the simulation, model initialisation and training.
    device : str
        Where to train (``"cpu"``, ``"cuda"``, ``"auto"``).
    progress : bool
        Show progress bars.
    threads : "auto" or int
        torch's CPU threads (see :mod:`dynlens.threads`); the first progress line says it.
    """
    with ThreadPolicy(threads):
        return _demo(Path(out), fast, seed, device, progress, threads)


def _demo(out: Path, fast: bool, seed: int, device: str, progress: bool,
          threads: int | str) -> Path:
    started = time.perf_counter()

    def say(message: str) -> None:
        if progress:
            print(f"[dynlens demo {time.perf_counter() - started:5.0f} s] {message}", flush=True)

    say(describe(threads))
    report = Report(out)
    n_trials = 1000 if fast else 2000
    say(f"simulating Arneodo: {n_trials} trials x 70 bins x 10 neurons")
    data = simulate("arneodo", n_neurons=10, n_trials=n_trials, n_bins=70, seed=seed)
    report.text(
        "# dynlens demo report",
        "Sequential autoencoders fitted to spikes simulated from the Arneodo system: did they "
        "recover the true dynamics?",
    )
    if fast:
        report.text(
            "> **Fast mode** (`dynlens demo --fast`): 1000 trials and 90 epochs (batch 64, "
            "trials lengthened every 5 epochs) per model instead of the published 2000 trials "
            "and `dl.fit`'s defaults (300 epochs, batch 128). Expect lower R2 and a rougher "
            "fixed-point comparison than the full demo (`dynlens demo`, about 7 minutes on 2 "
            "CPU cores)."
        )
    report.text("## 1. Simulated data", f"```\n{data!r}\n```",
                f"Recipe: {data.metadata.get('recipe', 'published (Sedler et al. 2023)')}; "
                f"one bin = {data.bin_width:.4f} system time units; mean rate "
                f"{data.rates.mean():.2f} expected counts per bin.")
    report.figure(plotting.spike_raster(data, trial=0), "data_raster", "Spike counts of trial 0")
    report.figure(plotting.rates(data, trial=0), "data_rates",
                  "True rates (expected counts per bin) of trial 0")
    report.figure(plotting.latent_trajectory_3d(data), "data_latents",
                  "True latent trajectory (the Arneodo attractor)")

    models, histories, rows = {}, {}, []
    # fast: fewer epochs, smaller batches so that each epoch still takes 10 steps. Measured
    # (NODE-3, seed 0): 90 epochs lengthened every 5 reach test rate/state R2 .89/.92 in about
    # a minute; 60 epochs lengthened every 3 only .48/.70, 400 trials x 120 epochs .55/.73.
    settings = ({"max_epochs": 90, "batch_size": 64, "epochs_per_group": 5, "patience": 30}
                if fast else {})
    for label, generator in (("NODE-3", "node"), ("GRU-3", "gru")):
        say(f"training {label}")
        seed_everything(seed)
        model = SAE(n_neurons=data.n_neurons, latent_dim=3, generator=generator)
        tic = time.perf_counter()
        histories[label] = fit(model, data, seed=seed, device=device, progress=progress, **settings)
        seconds = time.perf_counter() - tic
        models[label] = model
        row = evaluate(model, data, split="test")
        used = histories[label]["threads"]
        rows.append({"model": label, "epochs": len(histories[label]), "train time (s)": seconds,
                     "torch threads": (str(used.min()) if used.min() == used.max()
                                       else f"{used.min()}-{used.max()}"),
                     **{k: row[k] for k in ("rate_r2", "state_r2", "decode_r2", "bps",
                                            "cycle_consistency")}})
    table = pd.DataFrame(rows)
    report.write_file("metrics.csv", table.to_csv(index=False))
    report.text(
        "## 2. Trained models",
        "Both models: bidirectional-GRU encoder -> latent generator (latent size 3) -> linear "
        "readout, trained with `dl.fit`. Test-split metrics (affine maps fitted on the "
        "train split): `rate_r2` true vs inferred rates; `state_r2` affine true -> inferred "
        "latents (the published direction, penalising invented dimensions); `decode_r2` inferred "
        "-> true; `bps` bits per spike.",
        markdown_table(table),
        "Published (Sedler et al. 2023, 3000 epochs on a GPU): NODE-3 .91/.94, GRU-3 .51/.69 "
        "(rate/state R2).",
    )
    report.figure(plotting.training_history(histories), "training_history", "Learning curves")
    test = data.split("test")
    inferred = {label: m.infer(test).rates for label, m in models.items()}
    report.figure(plotting.rates_vs_truth(test.rates, inferred, trial=0, neurons=(0, 1, 2),
                                          bin_width=data.bin_width, spikes=test.spikes),
                  "rates_vs_truth", "Inferred vs true rates of three neurons on a test trial")

    found = {}
    for number, (label, prefix) in enumerate((("NODE-3", ""), ("GRU-3", "gru3_")), start=3):
        say(f"opening {label}: fixed points, graph, comparison with the true system")
        found[label] = analysis_section(
            report, models[label], data, label=label, heading=f"## {number}. Opening {label}",
            system=get_system("arneodo"), seed=seed, progress=progress, prefix=prefix)
    report.text("## 5. In short", _in_short(found))

    report.text("---", f"Generated by `dynlens demo{' --fast' if fast else ''}` in "
                      f"{time.perf_counter() - started:.0f} s (seed {seed}).")
    report.write_file("settings.json", json.dumps({"fast": fast, "seed": seed,
                                                    "device": str(device),
                                                    "threads": threads}, indent=2))
    return report.write()


def _in_short(found: dict[str, dict]) -> str:
    """One sentence per model from :func:`analysis_section`'s summaries: stability first,
    since a match by position alone can pair a saddle with a stable point."""
    return " ".join(
        f"{label}: {s['matched_with_stability']} of {s['matched'] + s['missing']} true fixed "
        f"points recovered with the right number of unstable directions ({s['matched']} "
        f"matched by position, {s['spurious']} spurious; score {s['score']:.2f})."
        for label, s in found.items())

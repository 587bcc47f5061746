"""Do models that match the rates and the fixed points also reproduce the chaos?

For NODE-3, GRU-3 and GRU-25 trained on the published Arneodo data (3 seeds) and on Lorenz
(seed 0), compare the largest Lyapunov exponent and the Kaplan-Yorke dimension of each trained
generator with the true system's, and measure the DSA distance of each model's latents to the
true latents.

    python3 studies/attractor_invariants/run.py --train-only   # train missing checkpoints
    python3 studies/attractor_invariants/run.py                # train missing, then analyse

Checkpoints go to ``checkpoints/`` (the Arneodo NODE-3 of seed 0 is the one committed by
``studies/node_vs_gru_arneodo``); every model is trained with ``dl.fit``'s defaults on two
threads, exactly as in that study.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

import dynlens as dl
from dynlens.plotting import new_figure, save_figure
from dynlens.utils import atomic_path, json_default, seed_everything

HERE = Path(__file__).resolve().parent
CHECKPOINTS = HERE / "checkpoints"
MODELS = [("node", 3), ("gru", 3), ("gru", 25)]
RUNS = ([("arneodo", g, d, s) for g, d in MODELS for s in (0, 1, 2)]
        + [("lorenz", g, d, 0) for g, d in MODELS])
SHARED = HERE.parent / "node_vs_gru_arneodo" / "node3_arneodo_seed0.pt"


def checkpoint(system: str, generator: str, latent_dim: int, seed: int) -> Path:
    return CHECKPOINTS / f"{generator}{latent_dim}_{system}_seed{seed}.pt"


def data_of(system: str, seed: int) -> dl.NeuralDataset:
    return dl.simulate(system, n_neurons=10, n_trials=2000, n_bins=70, seed=seed)


def train_missing() -> None:
    """Train every model whose checkpoint is missing (the published recipe, fit defaults)."""
    CHECKPOINTS.mkdir(exist_ok=True)
    for system, generator, latent_dim, seed in RUNS:
        path = checkpoint(system, generator, latent_dim, seed)
        if path.exists():
            continue
        if (system, generator, latent_dim, seed) == ("arneodo", "node", 3, 0):
            shutil.copyfile(SHARED, path)
            continue
        data = data_of(system, seed)
        seed_everything(seed)
        model = dl.models.SAE(n_neurons=10, latent_dim=latent_dim, generator=generator)
        dl.fit(model, data, seed=seed, progress=False, threads=2)
        model.save(path)
        print(f"trained {path.name}", flush=True)


def true_invariants(system: str) -> dict:
    """The true system's spectrum (its own time units) and the DSA floor: two stretches of
    its own latents."""
    truth = dl.systems.get(system)
    spec = dl.lyapunov_spectrum(truth, truth.default_x0, n_steps=4000, seed=0)
    test = data_of(system, 0).split("test").latents
    train = data_of(system, 0).split("train").latents
    return {"system": system, "model": "truth", "seed": np.nan,
            "lambda1": spec.exponents[0], "lambda1_spread": spec.spread[0],
            "lambda2": spec.exponents[1], "lambda3": spec.exponents[2],
            "kaplan_yorke": spec.kaplan_yorke, "sum": spec.sum,
            "dsa_to_truth": dl.dynamics_similarity(train[:len(test)], test)}


def model_invariants(system: str, generator: str, latent_dim: int, seed: int) -> dict:
    """A trained generator's spectrum in the true system's time units, its fit and its DSA
    distance to the true latents (test split)."""
    data = data_of(system, seed)
    model = dl.load_model(checkpoint(system, generator, latent_dim, seed))
    latents = model.infer(data.split("train")).latents
    starts = latents.reshape(-1, latent_dim)[np.random.default_rng(seed).choice(
        latents.shape[0] * latents.shape[1], 64, replace=False)]
    spec = dl.lyapunov_spectrum(model.dynamics, starts, seed=seed)
    lam = spec.per_time(data.bin_width)  # per unit of the true system's time
    to_true_time = (spec.dt if spec.kind == "continuous" else 1.0) / data.bin_width
    spread = spec.spread * to_true_time
    row = dl.evaluate(model, data, split="test")
    test = data.split("test")
    return {"system": system, "model": f"{generator.upper()}-{latent_dim}", "seed": seed,
            "lambda1": lam[0], "lambda1_spread": spread[0], "lambda2": lam[1],
            "lambda3": lam[2], "kaplan_yorke": dl.kaplan_yorke_dimension(lam),
            "sum": float(lam.sum()), "rate_r2": row["rate_r2"], "state_r2": row["state_r2"],
            "dsa_to_truth": dl.dynamics_similarity(model.infer(test).latents, test.latents)}


def plot(table: pd.DataFrame) -> None:
    systems = list(dict.fromkeys(table.system))
    fig, axes = new_figure(len(systems), 3, figsize=(11, 3.2 * len(systems)), squeeze=False)
    for row_axes, system in zip(axes, systems):
        part = table[table.system == system]
        truth = part[part.model == "truth"].iloc[0]
        models = [m for m in dict.fromkeys(part.model) if m != "truth"]
        for ax, column, title in zip(row_axes, ("lambda1", "kaplan_yorke", "dsa_to_truth"),
                                     ("largest Lyapunov exponent (per true time unit)",
                                      "Kaplan-Yorke dimension",
                                      "DSA distance to the true latents")):
            for i, name in enumerate(models):
                values = part[part.model == name][column].to_numpy()
                ax.plot(np.full(len(values), i), values, "o", color=f"C{i}", alpha=0.7)
                ax.errorbar(i + 0.15, values.mean(), yerr=values.std() if len(values) > 1
                            else 0, fmt="s", color="k", ms=4, capsize=3,
                            label="mean +- s.d. over seeds" if i == 0 else None)
            label = "truth" if column != "dsa_to_truth" else "truth vs itself"
            ax.axhline(truth[column], color="0.3", ls="--", lw=1, label=label)
            ax.set_xticks(range(len(models)), models)
            ax.set_title(f"{system}: {title}", fontsize=9)
            ax.legend(fontsize=7, loc="best")
            ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Trained generators vs the true system (dots: one seed each)", fontsize=10)
    save_figure(fig, HERE / "invariants.png")


def analyse() -> pd.DataFrame:
    rows = [true_invariants(system) for system in dict.fromkeys(r[0] for r in RUNS)]
    for run in RUNS:
        rows.append(model_invariants(*run))
        print({k: rows[-1][k] for k in ("system", "model", "seed", "lambda1", "kaplan_yorke",
                                         "dsa_to_truth")}, flush=True)
    table = pd.DataFrame(rows)
    with atomic_path(HERE / "results.csv") as tmp:
        table.to_csv(tmp, index=False, float_format="%.5f")
    summary = (table.groupby(["system", "model"], sort=False)
               [["lambda1", "kaplan_yorke", "dsa_to_truth", "rate_r2", "state_r2"]]
               .agg(["mean", "std"]))
    with atomic_path(HERE / "summary.json") as tmp:
        tmp.write_text(json.dumps({f"{s} {m}": {f"{c} {a}": v for (c, a), v in r.items()}
                                   for (s, m), r in summary.iterrows()},
                                  indent=2, default=json_default))
    plot(table)
    print(summary.round(3).to_string())
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-only", action="store_true")
    parser.add_argument("--plot", action="store_true", help="only redraw the figure")
    args = parser.parse_args()
    if args.plot:
        plot(pd.read_csv(HERE / "results.csv"))
        return
    train_missing()
    if not args.train_only:
        with dl.threads.ThreadPolicy(2):
            analyse()


if __name__ == "__main__":
    main()

"""NODE training cost: dynlens's default solver vs the published adaptive recipe.

    python3 benchmarks/bench_training.py [--threads 2] [--skip-fit]

``--skip-fit`` takes dynlens's wall time to the bar from the NODE-3 rows of
``studies/node_vs_gru_arneodo/results.csv`` instead of fitting again.

1. Time per training epoch of a NODE-3 SAE on the published Arneodo data, with dynlens's
   default (fixed-step rk4, one step per bin) and with the published adaptive solver
   (torchdiffeq dopri5, atol = rtol = 1e-3), same batch size, in one run. Both are timed on an
   untrained model and on a trained one (``studies/node_vs_gru_arneodo/node3_arneodo_seed0.pt``
   when present): an adaptive solver's cost depends on how stiff the learned field is.
2. Wall time to the quality bar: a full ``dl.fit`` with defaults (timed here, with its test
   rate/state R2) vs the published recipe's 3000 epochs (batch 650, dopri5, lengthening by
   5 bins per 150 epochs), whose cost is estimated from the measured time of one training
   step at several trial lengths with the trained field (running it whole would take hours).

Writes ``benchmarks/bench_training.md``.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch

import dynlens as dl
from dynlens._utils import atomic_path
from dynlens.training.losses import poisson_nll

HERE = Path(__file__).resolve().parent
CHECKPOINT = HERE.parent / "studies" / "node_vs_gru_arneodo" / "node3_arneodo_seed0.pt"
STUDY_RESULTS = HERE.parent / "studies" / "node_vs_gru_arneodo" / "results.csv"


def step_time(model, spikes: torch.Tensor, n_bins: int, repeats: int = 3) -> float:
    """Median seconds of one optimisation step (forward, backward, Adam) over ``n_bins`` bins."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-12)  # tiny lr: keep the field as is
    times = []
    for _ in range(repeats + 1):
        tic = time.perf_counter()
        loss = poisson_nll(model(spikes, n_bins=n_bins)["log_rates"], spikes[:, :n_bins])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - tic)
    return float(np.median(times[1:]))


def with_solver(model, solver: str):
    clone = dl.models.SAE(**{**model.config.to_dict(), "solver": solver})
    clone.load_state_dict(model.state_dict())
    return clone


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-fit", action="store_true", help="skip the full dl.fit timing")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = dl.simulate("arneodo", n_neurons=10, n_trials=2000, n_bins=70, seed=0)
    train = torch.as_tensor(data.split("train").spikes, dtype=torch.float32)
    n_train = train.shape[0]
    torch.manual_seed(0)
    models = {"untrained": dl.models.SAE(n_neurons=10, latent_dim=3, dynamics="node")}
    if CHECKPOINT.exists():
        models["trained"] = dl.load_model(CHECKPOINT)
    batch = dl.training.default_fit_config(models["untrained"]).batch_size

    lines = ["# NODE training cost: fixed-step rk4 (dynlens default) vs adaptive dopri5 (published)",
             "", (f"Machine: {platform.machine()}, torch {torch.__version__}, "
             f"{args.threads} threads. Arneodo, 10 neurons, {n_train} training trials x 70 bins."), "",
             ("## Time per training epoch (full 70-bin trials, same batch size "
             f"{batch}, {int(np.ceil(n_train / batch))} steps per epoch)"), "",
             "| field | rk4, 1 step/bin (s/epoch) | dopri5 atol=rtol=1e-3 (s/epoch) | dopri5 / rk4 |",
             "|---|---|---|---|"]
    for label, model in models.items():
        model.train()
        per_step = {s: step_time(with_solver(model, s), train[:batch], 70) for s in ("rk4", "dopri5")}
        steps = int(np.ceil(n_train / batch))
        lines.append(f"| {label} | {per_step['rk4'] * steps:.2f} | {per_step['dopri5'] * steps:.2f} | "
                     f"{per_step['dopri5'] / per_step['rk4']:.1f}x |")
        print(lines[-1], flush=True)

    lines += ["", "## Wall time to the quality bar", ""]
    field = models.get("trained", models["untrained"])
    published = with_solver(field, "dopri5")
    lengths = [5, 20, 35, 50, 70]
    per_length = [step_time(published, train[:650], n, repeats=2) for n in lengths]
    epochs = np.arange(3000)
    scored = np.minimum((epochs // 150 + 1) * 5, 70)
    measured = ", ".join(f"{n} bins: {t:.3f}" for n, t in zip(lengths, per_length))
    published_seconds = float(np.sum(2 * np.interp(scored, lengths, per_length)))
    lines.append("Published recipe (3000 epochs x 2 steps of 650 trials, dopri5, lengthening 5 bins "
                 f"per 150 epochs), estimated from measured step times {measured} "
                 f"s at each trial length with the {'trained' if 'trained' in models else 'untrained'} "
                 f"field: **{published_seconds / 60:.1f} min** on this CPU.")
    if args.skip_fit and STUDY_RESULTS.exists():
        import pandas as pd

        runs = pd.read_csv(STUDY_RESULTS)
        runs = runs[(runs.system == "arneodo") & (runs.dynamics == "node") & (runs.latent_dim == 3)]
        wall = float(runs.wall_s.median())
        lines += ["", (f"dynlens `dl.fit` defaults, from `studies/node_vs_gru_arneodo/results.csv` "
                  f"({len(runs)} seeds, {int(runs.epochs.median())} epochs, 2 threads; median wall "
                  f"time): **{wall / 60:.1f} min**; test rate R2 {runs.rate_r2.mean():.3f}, state R2 "
                  f"{runs.state_r2.mean():.3f} (mean over seeds; bar .91 / .94; per seed "
                  f"{', '.join(f'{r:.2f}/{q:.2f}' for r, q in zip(runs.rate_r2, runs.state_r2))})."),
                  "", (f"Compute ratio, published estimate / dynlens: **{published_seconds / wall:.1f}x** "
                  "(both timings on this CPU; the study runs shared the machine with other work, so "
                  "the dynlens time is if anything an overestimate).")]
    if not args.skip_fit:
        torch.manual_seed(0)
        model = dl.models.SAE(n_neurons=10, latent_dim=3, dynamics="node")
        tic = time.perf_counter()
        history = dl.fit(model, data, seed=0, progress=False)
        wall = time.perf_counter() - tic
        row = dl.evaluate(model, data)
        lines += ["", (f"dynlens `dl.fit` defaults ({len(history)} epochs, measured): **{wall / 60:.1f} min**, "
                  f"test rate R2 {row['rate_r2']:.3f}, state R2 {row['state_r2']:.3f} "
                  "(bar: .91 / .94)."), "",
                  f"Compute ratio, published estimate / dynlens: **{published_seconds / wall:.1f}x**."]
    with atomic_path(HERE / "bench_training.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

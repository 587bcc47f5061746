"""NODE vs GRU on the published Arneodo / Lorenz / Rossler data (issue 5's study).

Every run uses ``dl.simulate``'s published recipe (10 neurons, 2000 trials x 70 bins) and
``dl.fit``'s defaults; metrics come from ``dl.evaluate`` on the test split (affine maps fitted
on the train split). Results are appended to ``results.csv`` after each run, so the script
resumes where it stopped. ``--plot`` only redraws ``results.png`` from the CSV.

    python3 studies/node_vs_gru_arneodo/run.py            # all runs, then the figure
    python3 studies/node_vs_gru_arneodo/run.py --plot     # figure only
    python3 studies/node_vs_gru_arneodo/run.py --check    # rerun NODE-3 seed 0, compare

``--check`` retrains the NODE-3 of seed 0 without writing anything and reports how far its
weights and metrics are from the committed checkpoint and ``results.csv`` (the same code, the
same thread count and the same machine give bit-identical weights).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import pandas as pd
import torch

import dynlens as dl
from dynlens.plotting import save_figure
from dynlens.utils import atomic_path, seed_everything

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.csv"
# (system, generator, latent_dim, seeds)
RUNS = [
    ("arneodo", "node", 3, (0, 1, 2)),
    ("lorenz", "node", 3, (0, 1, 2)),
    ("rossler", "node", 3, (0,)),
    ("arneodo", "gru", 3, (0, 1, 2)),
    ("arneodo", "gru", 10, (0, 1, 2)),
    ("arneodo", "gru", 25, (0, 1, 2)),
]
# Sedler et al. 2023, 10 neurons, mean of 5 seeds (their results table): rate R2, state R2
PUBLISHED = {
    ("arneodo", "node", 3): (0.91, 0.94), ("arneodo", "gru", 3): (0.51, 0.69),
    ("arneodo", "gru", 10): (0.92, 0.67), ("arneodo", "gru", 25): (0.97, 0.62),
    ("lorenz", "node", 3): (0.84, 0.90), ("rossler", "node", 3): (0.88, 0.96),
}
KEEP_CHECKPOINT = ("arneodo", "node", 3, 0)  # used by the fixed-point comparison


def run_one(system: str, generator: str, latent_dim: int, seed: int,
            keep: bool = True) -> tuple[dict, dl.models.SAE]:
    data = dl.simulate(system, n_neurons=10, n_trials=2000, n_bins=70, seed=seed)
    seed_everything(seed)
    model = dl.models.SAE(n_neurons=10, latent_dim=latent_dim, generator=generator)
    tic = time.perf_counter()
    history = dl.fit(model, data, seed=seed, progress=False)
    wall = time.perf_counter() - tic
    row = dl.evaluate(model, data, split="test")
    if keep and (system, generator, latent_dim, seed) == KEEP_CHECKPOINT:
        model.save(HERE / f"{generator}{latent_dim}_{system}_seed{seed}.pt")
    return {"system": system, "dynamics": generator, "latent_dim": latent_dim, "seed": seed,
            "epochs": len(history), "wall_s": round(wall, 1), "threads": torch.get_num_threads(),
            "best_valid_loss": float(history.valid_loss.min()),
            **{k: v for k, v in row.items() if k not in ("split", "n_trials")}}, model


def plot(results: pd.DataFrame) -> None:
    results = results.assign(run=[f"{s}\n{g.upper()}-{d}" for s, g, d in
                                  zip(results.system, results.dynamics, results.latent_dim)])
    published = pd.DataFrame([{"run": f"{s}\n{g.upper()}-{d}", "rate_r2": r, "state_r2": t}
                              for (s, g, d), (r, t) in PUBLISHED.items()])
    fig = dl.plotting.runs(results, by="run", reference=published,
                           reference_label="published (Sedler et al. 2023)",
                           title="Test split; state R2 maps the true state to the inferred one")
    save_figure(fig, HERE / "results.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", action="store_true", help="only redraw the figure")
    parser.add_argument("--check", action="store_true",
                        help="retrain NODE-3 seed 0 and compare with the committed results")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = parser.parse_args()
    with dl.threads.ThreadPolicy(args.threads):  # every fit and evaluation inside uses it
        if args.check:
            check()
        else:
            run_all(args.plot)


def check() -> None:
    """Retrain the committed NODE-3 (seed 0) and print its distance from the committed one."""
    committed = dl.load_model(HERE / "{1}{2}_{0}_seed{3}.pt".format(*KEEP_CHECKPOINT))
    row, model = run_one(*KEEP_CHECKPOINT, keep=False)
    weights = max(float((a - b).abs().max()) for a, b in
                  zip(model.state_dict().values(), committed.state_dict().values()))
    results = pd.read_csv(RESULTS)
    system, generator, latent_dim, seed = KEEP_CHECKPOINT
    saved = results[(results.system == system) & (results.dynamics == generator)
                    & (results.latent_dim == latent_dim) & (results.seed == seed)].iloc[0]
    print(f"max |weight - committed weight|: {weights:.3g}")
    for key in ("epochs", "best_valid_loss", "rate_r2", "state_r2", "decode_r2", "bps"):
        print(f"{key}: now {row[key]:.6f}, committed {saved[key]:.4f} (CSV rounds to 4 digits)")


def run_all(plot_only: bool) -> None:
    results = pd.read_csv(RESULTS) if RESULTS.exists() else pd.DataFrame()
    if not plot_only:
        for system, generator, latent_dim, seeds in RUNS:
            for seed in seeds:
                done = not results.empty and ((results.system == system)
                                              & (results.dynamics == generator)
                                              & (results.latent_dim == latent_dim)
                                              & (results.seed == seed)).any()
                if done:
                    continue
                row, _ = run_one(system, generator, latent_dim, seed)
                row["machine"] = f"{platform.machine()}, {os.cpu_count()} cores"
                print(row, flush=True)
                results = pd.concat([results, pd.DataFrame([row])], ignore_index=True)
                with atomic_path(RESULTS) as tmp:
                    results.to_csv(tmp, index=False, float_format="%.4f")
    summary = (results.groupby(["system", "dynamics", "latent_dim"], sort=False)
               [["rate_r2", "state_r2", "decode_r2", "wall_s", "epochs"]]
               .agg(["mean", "std", "count"]))
    print(summary.round(3).to_string())
    plot(results)


if __name__ == "__main__":
    main()

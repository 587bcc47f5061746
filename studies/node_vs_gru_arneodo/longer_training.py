"""Does longer training close the Lorenz NODE-3 state-R2 gap? (a side question of run.py)

Lorenz seed 0 with ``dl.fit(max_epochs=600)`` (every other setting at its default), test-split
rate and state R2 evaluated every 25 epochs through ``fit``'s callback. Writes
``longer_training.csv`` (one row per evaluation; ``train_s`` = training time so far, without
the evaluations). About 10 minutes on 2 CPU cores.

    python3 studies/node_vs_gru_arneodo/longer_training.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import dynlens as dl
from dynlens.utils import atomic_path, seed_everything

HERE = Path(__file__).resolve().parent
EVERY = 25


def main() -> None:
    data = dl.simulate("lorenz", n_neurons=10, n_trials=2000, n_bins=70, seed=0)
    seed_everything(0)
    model = dl.models.SAE(n_neurons=10, latent_dim=3, generator="node")
    rows: list[dict] = []
    elapsed = [0.0]

    def evaluate_now(epoch, model, row):
        elapsed[0] += row["seconds"]
        if epoch % EVERY == EVERY - 1:
            metrics = dl.evaluate(model, data, split="test")
            rows.append({"epoch": epoch + 1, "train_s": round(elapsed[0], 1),
                         "valid_loss": row["valid_loss"], "rate_r2": metrics["rate_r2"],
                         "state_r2": metrics["state_r2"]})
            print(rows[-1], flush=True)

    dl.fit(model, data, seed=0, max_epochs=600, progress=False, callback=evaluate_now,
           threads=2)  # the committed numbers were measured on 2 threads
    final = dl.evaluate(model, data, split="test")
    rows.append({"epoch": "best", "train_s": round(elapsed[0], 1), "valid_loss": float("nan"),
                 "rate_r2": final["rate_r2"], "state_r2": final["state_r2"]})
    print(rows[-1])
    with atomic_path(HERE / "longer_training.csv") as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False, float_format="%.4f")


if __name__ == "__main__":
    main()

"""Lorenz NODE-3: the recipe variants of ``spec.toml`` next to the default recipe.

    dynlens sweep studies/lorenz_node3/spec.toml --out studies/lorenz_node3/sweep --workers 2
    dynlens sweep studies/lorenz_node3/check_batch64.toml \
        --out studies/lorenz_node3/sweep_other_systems --workers 2
    python3 studies/lorenz_node3/compare.py     # tables, results*.csv and results.png

The default recipe's runs are the capacity study's ``lorenz-node-d3-s*`` (the same data, the
same seeds, ``dl.fit`` defaults); they are read from that study's sweep folder rather than
trained twice.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import dynlens as dl
from dynlens.plotting import save_figure
from dynlens.utils import atomic_path

HERE = Path(__file__).resolve().parent
CAPACITY = HERE.parent / "capacity_vs_dimensionality" / "sweep"
PUBLISHED = {"rate_r2": 0.84, "state_r2": 0.90}  # Sedler et al. 2023, Lorenz NODE-3, 5 seeds
LABELS = {"node": "default recipe", "node_batch64": "batch 64\n(2x the steps)",
          "node_600epochs": "600 epochs", "node_substeps2": "2 rk4 steps\nper bin"}
COLUMNS = ["model", "seed", "rate_r2", "state_r2", "decode_r2", "fp_matched", "fp_missing",
           "fp_spurious", "fp_eigenvalue_error", "best_valid_loss", "epochs", "wall_s"]


def load(capacity: pd.DataFrame, folder: str, systems: list[str],
         seeds: list[int]) -> pd.DataFrame:
    """The default recipe's NODE-3 runs of ``systems`` and ``seeds`` from the capacity study's
    table next to the variants in ``folder``; finished runs only."""
    base = capacity[capacity.dataset.isin(systems) & (capacity.model == "node")
                    & (capacity.latent_dim == 3) & capacity.seed.isin(seeds)]
    table = pd.concat([base, dl.sweeps.load_results(HERE / folder)], ignore_index=True)
    table = table[table.status == "done"][["dataset", *COLUMNS]]
    return table.sort_values(["dataset", "model", "seed"], kind="stable")


def plot(table: pd.DataFrame) -> None:
    models = [m for m in LABELS if m in set(table.model)]
    table = table.set_index("model").loc[models].reset_index()  # the order of LABELS
    fig = dl.plotting.runs(table, labels=LABELS,
                           reference=pd.DataFrame([{"model": "node", **PUBLISHED}]),
                           reference_label="published mean (default recipe)",
                           title="Lorenz, 10 neurons, NODE with latent size 3: changes to the "
                                 "training recipe")
    save_figure(fig, HERE / "results.png")


def main() -> None:
    capacity = dl.sweeps.load_results(CAPACITY)
    for folder, systems, seeds, csv in (("sweep", ["lorenz"], [0, 1], "results.csv"),
                                        ("sweep_other_systems", ["arneodo", "rossler"], [0],
                                         "results_other_systems.csv")):
        table = load(capacity, folder, systems, seeds)
        with atomic_path(HERE / csv) as tmp:
            table.to_csv(tmp, index=False)
        if folder == "sweep":
            plot(table)
        groups = table.groupby(["dataset", "model"], sort=False)
        means = groups[COLUMNS[2:]].mean().round(3)
        means.insert(0, "seeds", groups.size())
        print(means.to_string(), end="\n\n")


if __name__ == "__main__":
    main()

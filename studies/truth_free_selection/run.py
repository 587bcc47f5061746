"""Truth-free selection checked where the truth is known (issue 28).

    python3 studies/truth_free_selection/run.py --spec spec_pilot.toml   # the pilot
    python3 studies/truth_free_selection/run.py --spec spec.toml         # the full study

Each run: the sweep of ``--spec`` into ``<spec name>/`` beside this file (resumable; failed
runs are redone), then :func:`dynlens.sweeps.agreement` (per-cell cross-seed agreement from
the runs' kept models), then per system :func:`dynlens.sweeps.select` on the truth-free
columns, compared with the truth's best cell (highest mean state R2), and the Spearman rank
correlation across cells of cross-seed agreement with the true state R2. Writes
``<name>/agreement.csv`` (per run), ``<name>_cells.csv`` (per cell), ``<name>_selection.csv``
(per system) and ``<name>.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import torch
from scipy.stats import spearmanr

import dynlens as dl
from dynlens.plotting import save_figure
from dynlens.utils import atomic_path

HERE = Path(__file__).resolve().parent
TRUTH = ["state_r2", "rate_r2", "fp_score"]
FREE = ["bps", "agreement_mean", "latent_r2_agreement_mean", "fp_agreement_mean"]


def _write(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def cells_of(table: pd.DataFrame) -> pd.DataFrame:
    done = table[table["status"] == "done"]
    cells = done.groupby(["dataset", "model", "latent_dim"], sort=True)
    return cells[[c for c in TRUTH + FREE if c in done]].mean().join(
        cells.size().rename("n_seeds")).reset_index()


def check(table: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for dataset, part in cells.groupby("dataset"):
        choice = dl.sweeps.select(table, dataset=dataset)
        best = part.loc[part["state_r2"].idxmax()]
        picked = part[(part.model == choice.family) & (part.latent_dim == choice.latent_dim)]
        rho, p = spearmanr(part["agreement_mean"], part["state_r2"], nan_policy="omit")
        rows.append({"dataset": dataset, "picked": f"{choice.family}-{choice.latent_dim}",
                     "picked_state_r2": float(picked["state_r2"].iloc[0]),
                     "truth_best": f"{best.model}-{int(best.latent_dim)}",
                     "truth_best_state_r2": float(best["state_r2"]),
                     "spearman_agreement_state_r2": float(rho), "spearman_p": float(p),
                     "n_cells": len(part), "reasons": " | ".join(choice.reasons)})
    return pd.DataFrame(rows)


def plot(cells: pd.DataFrame, result: pd.DataFrame, name: str) -> None:
    datasets = sorted(cells["dataset"].unique())
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.6 * len(datasets), 4.0),
                             squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        part = cells[cells["dataset"] == dataset]
        for model, marker in zip(sorted(part["model"].unique()), "os^"):
            sub = part[part["model"] == model]
            ax.scatter(sub["agreement_mean"], sub["state_r2"], marker=marker, s=40,
                       label=model.upper())
            for row in sub.itertuples():
                ax.annotate(str(row.latent_dim), (row.agreement_mean, row.state_r2),
                            textcoords="offset points", xytext=(4, 3), fontsize=8)
        family, size = result.set_index("dataset").loc[dataset, "picked"].split("-")
        pick = part[(part["model"] == family) & (part["latent_dim"] == int(size))]
        ax.scatter(pick["agreement_mean"], pick["state_r2"], s=220, facecolors="none",
                   edgecolors="k", label=f"picked without the truth ({family.upper()}-{size})")
        ax.set_xlabel("cross-seed agreement (mean over seed pairs)")
        ax.set_ylabel("true state R2 (mean over seeds)")
        most = int(part["n_seeds"].max())
        short = [f"{r.model.upper()}-{r.latent_dim}: {r.n_seeds}"
                 for r in part.itertuples() if r.n_seeds < most]
        seeds = f"{most} seeds" + (f"; {', '.join(short)}" if short else "")
        ax.set_title(f"{dataset}: one point per cell ({seeds}), label = latent size",
                     fontsize=9)
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    save_figure(fig, HERE / f"{name}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", default="spec_pilot.toml")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--finished-only", action="store_true",
                        help="train nothing: analyse the runs the folder holds (an interrupted "
                             "sweep; the cells' seed counts say what is missing)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    sweep = dl.Sweep.from_toml(HERE / args.spec)
    name = Path(args.spec).stem.replace("spec_", "").replace("spec", "full")
    folder = HERE / name
    if not args.finished_only:
        sweep.run(folder, workers=args.workers, threads=1)
    table = dl.sweeps.agreement(folder, n_inits=sweep.analysis["n_inits"], threads=1)
    table = table[table["status"] == "done"]
    cells = cells_of(table)
    _write(cells, HERE / f"{name}_cells.csv")
    result = check(table, cells)
    _write(result, HERE / f"{name}_selection.csv")
    plot(cells, result, name)
    print(cells.round(3).to_string(index=False))
    print(result.drop(columns="reasons").round(3).to_string(index=False))
    for row in result.itertuples():
        print(row.dataset, row.reasons)


if __name__ == "__main__":
    main()

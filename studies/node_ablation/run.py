"""The NODE architecture ablation: the table and figure of the sweep in ``spec.toml``.

    dynlens sweep studies/node_ablation/spec.toml --out studies/node_ablation/sweep \
        --workers 2                                     # run (resumable)
    python3 studies/node_ablation/run.py                # figure and summary.csv

The sweep folder ``sweep/`` holds each run's ``result.json`` and ``history.csv``
(checkpoints and the simulated data are not committed: they are remade bit for bit).
``summary.csv`` holds means and standard deviations over seeds, ``results.png`` every run
next to the published value of each variant.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import dynlens as dl
from dynlens.plotting import save_figure
from dynlens.utils import atomic_path

HERE = Path(__file__).resolve().parent
METRICS = ["rate_r2", "state_r2", "decode_r2", "fp_matched", "fp_spurious",
           "fp_eigenvalue_error", "epochs", "wall_s"]
# Sedler et al. 2023, Arneodo, 10 neurons, latent 3 (their ablation): rate R2, state R2
PUBLISHED = {"node_discrete": (0.904, 0.934), "node_discrete_nolength": (0.798, 0.876),
             "rnn_residual": (0.598, 0.762), "mlp_map": (0.598, 0.730), "rnn": (0.356, 0.586)}
LABELS = {"node": "NODE\n(continuous)", "node_discrete": "residual MLP",
          "node_discrete_nolength": "residual MLP,\nno lengthening",
          "rnn_residual": "residual\ntanh-RNN", "mlp_map": "next-state\nMLP",
          "rnn": "vanilla\nRNN"}


def summarise(table):
    summary = dl.sweeps.summarise(table, "model", METRICS)
    with atomic_path(HERE / "summary.csv") as tmp:
        summary.to_csv(tmp)
    return summary


def plot(table) -> None:
    published = pd.DataFrame([{"model": m, "rate_r2": r, "state_r2": s}
                              for m, (r, s) in PUBLISHED.items()])
    fig = dl.plotting.runs(table, labels=LABELS, reference=published,
                           reference_label="published mean",
                           title="Arneodo, 10 neurons, latent size 3: one learning-rate rule "
                                 "for every variant")
    save_figure(fig, HERE / "results.png")


def main() -> None:
    table = dl.sweeps.load_results(HERE / "sweep")
    plot(table)
    print(summarise(table)[["rate_r2_mean", "state_r2_mean", "fp_matched_mean",
                            "fp_spurious_mean", "rate_r2_count"]].to_string())


if __name__ == "__main__":
    main()

"""Capacity vs latent dimensionality: the table and figures of the sweep in ``spec.toml``.

    dynlens sweep studies/capacity_vs_dimensionality/spec.toml \
        --out studies/capacity_vs_dimensionality/sweep --workers 2   # run (resumable)
    python3 studies/capacity_vs_dimensionality/run.py          # figure and summary.csv
    python3 studies/capacity_vs_dimensionality/run.py --table  # the README's table

The sweep folder ``sweep/`` holds each run's ``result.json`` and ``history.csv`` (checkpoints
and the simulated datasets are not committed: ``dl.simulate`` with the spec's seed remakes
the data and every run retrains bit for bit with the same thread count). ``results.csv`` is
the sweep's table, ``summary.csv`` its means and standard deviations over seeds,
``results.png`` the figure.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

import dynlens as dl
from dynlens.plotting import save_figure
from dynlens.sweeps import mean_sd
from dynlens.utils import atomic_path

HERE = Path(__file__).resolve().parent
# Sedler et al. 2023, 10 neurons, mean of 5 seeds (their results table): rate R2 / state R2
# per latent size 2, 3, 5, 10, 25, 50, 100 for each system and generator.
_PUBLISHED = {
    ("arneodo", "gru"): ".25/.58 .51/.69 .75/.61 .92/.67 .97/.62 .98/.69 .98/.67",
    ("arneodo", "node"): ".41/.70 .91/.94 .92/.94 .97/.75 .97/.58 .96/.44 .95/.35",
    ("lorenz", "gru"): ".22/.38 .38/.32 .55/.29 .81/.41 .95/.49 .98/.59 .99/.63",
    ("lorenz", "node"): ".60/.76 .84/.90 .93/.72 .97/.55 .97/.39 .97/.34 .97/.31",
    ("rossler", "gru"): ".09/.04 .27/.16 .49/.26 .85/.50 .96/.57 .98/.69 .98/.73",
    ("rossler", "node"): ".56/.83 .88/.96 .90/.88 .91/.70 .91/.56 .90/.43 .90/.36",
}
PUBLISHED = pd.DataFrame(
    [{"dataset": system, "model": model, "latent_dim": dim, "rate_r2": float(pair[0]),
      "state_r2": float(pair[1])}
     for (system, model), row in _PUBLISHED.items()
     for dim, pair in zip((2, 3, 5, 10, 25, 50, 100), (c.split("/") for c in row.split()))])
METRICS = ["rate_r2", "state_r2", "decode_r2", "fp_matched", "fp_missing", "fp_spurious",
           "fp_stability_agree", "fp_eigenvalue_error", "fp_location_error", "wall_s"]


def summarise(table):
    summary = dl.sweeps.summarise(table, ["dataset", "model", "latent_dim"], METRICS)
    published = PUBLISHED.set_index(["dataset", "model", "latent_dim"]).add_prefix("published_")
    summary = summary.join(published, how="left")
    with atomic_path(HERE / "summary.csv") as tmp:
        summary.to_csv(tmp)
    return summary


def plot(table) -> None:
    fig = dl.plotting.sweep(table, metrics=("rate_r2", "state_r2", "fp_matched_fraction",
                                            "fp_spurious"),
                            reference=PUBLISHED[PUBLISHED.latent_dim.isin(table.latent_dim)],
                            reference_label="published mean",
                            title="Sedler et al. 2023 grid, 10 neurons: dynlens runs (dots, "
                                  "solid line: mean over seeds) vs published means (x, dashed)")
    save_figure(fig, HERE / "results.png")


def markdown_table(table) -> str:
    """The README's table: per cell, means ± standard deviations over the finished seeds,
    published means in brackets, fixed points as mean matched / missing / spurious and the
    number of seeds that recovered every true point (right stability, nothing spurious)."""
    done = table[table.status == "done"]
    published = PUBLISHED.set_index(["dataset", "model", "latent_dim"])
    header = ("| system | model | seeds | rate R2 | state R2 | decode R2 | fixed points | "
              "all recovered | eig. | min |")
    lines = [header, "|" + "---|" * 10]
    for (system, model, dim), cell in done.groupby(["dataset", "model", "latent_dim"],
                                                   sort=False):
        pub = published.loc[(system, model, dim)]
        fp = "/".join(f"{round(cell[c].mean(), 1):g}"
                      for c in ("fp_matched", "fp_missing", "fp_spurious"))
        eig = cell.fp_eigenvalue_error.dropna()
        lines.append(
            f"| {system} | {model.upper()}-{dim} | {len(cell)} | "
            f"{mean_sd(cell.rate_r2)} ({pub.rate_r2:.2f}) | "
            f"{mean_sd(cell.state_r2)} ({pub.state_r2:.2f}) | {mean_sd(cell.decode_r2)} | "
            f"{fp} | {int(cell.fp_recovered.astype(bool).sum())}/{len(cell)} | "
            f"{eig.mean():.3f} | {cell.wall_s.mean() / 60:.1f} |".replace("nan", ""))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", action="store_true",
                        help="only print the README's Markdown table from the results")
    args = parser.parse_args()
    table = dl.sweeps.load_results(HERE / "sweep")
    if args.table:
        print(markdown_table(table))
        return
    plot(table)
    print(summarise(table)[["rate_r2_mean", "published_rate_r2", "state_r2_mean",
                            "published_state_r2", "fp_matched_mean", "fp_spurious_mean",
                            "rate_r2_count"]].to_string())


if __name__ == "__main__":
    main()

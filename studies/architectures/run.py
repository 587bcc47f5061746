"""Architectures side by side: the tables and figures of the sweeps in this folder.

    dynlens sweep studies/architectures/chaotic_rnn.toml \\
        --out studies/architectures/sweep_chaotic_rnn --workers 2 --threads 1
    dynlens sweep studies/architectures/arneodo.toml \\
        --out studies/architectures/sweep_arneodo --workers 2 --threads 1
    python3 studies/architectures/run.py           # results.csv, results.png, pulses.png
    python3 studies/architectures/run.py --table   # the README's table
    python3 studies/architectures/run.py --variants  # the data-recipe variants' table
    python3 studies/architectures/run.py --pulses    # the pulse-data variants' table

Two variants of the chaotic-RNN data, seed 0 only (``chaotic_rnn_conditions.toml``: 100
conditions x 10 trials, as the paper repeated its conditions; ``chaotic_rnn_4000.toml``:
4000 trials instead of 1000), each in its own sweep folder, are set beside seed 0 of the
main sweep in ``variants.csv``, as is LFADS at the published sizes on the main data
(``chaotic_rnn_lfads_published.toml``) and, without a controller, on the 4000 trials
(``chaotic_rnn_4000_lfads_published.toml``). ``ceiling.py`` adds what the true network
itself infers. ``chaotic_rnn_pulses_tau.toml`` trains the controller LFADS on the pulse data
with a 1-bin (instead of 10-bin) initial time constant of its input prior and
``chaotic_rnn_pulses_causal.toml`` with a causal (forward-only) controller-input encoder
(``chaotic_rnn_pulses_causal_lag0.toml``: the same, reading the encoder's current bin), 3
seeds each, set beside the main sweep's in ``pulse_variants.csv``.

The GRU-25 and NODE-3 rows on Arneodo are the capacity study's runs of the same data, seeds
and ``dl.fit`` defaults (``../capacity_vs_dimensionality/sweep``), read rather than retrained.
``pulses.png`` needs the checkpoints of the controller LFADS on the pulse data (seed 0), which
the chaotic-RNN sweep and the causal variants leave in their run folders (checkpoints are not
committed).
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
SWEEPS = ("sweep_chaotic_rnn", "sweep_arneodo")
CAPACITY = HERE.parent / "capacity_vs_dimensionality" / "sweep"
FROM_CAPACITY = {"gru": 25, "node": 3}  # Arneodo rows read from the capacity study
LABELS = {"lfads": "LFADS\n(controller)", "lfads_noctrl": "LFADS\n(no controller)",
          "gru": "GRU SAE", "node": "NODE SAE", "ndt": "NDT"}
DATASETS = {"chaotic_rnn": "chaotic RNN", "chaotic_rnn_pulses": "chaotic RNN + pulses",
            "arneodo": "Arneodo"}
COLUMNS = ["dataset", "model", "latent_dim", "seed", "rate_r2", "co_bps", "fp_bps", "bps",
           "state_r2", "decode_r2", "input_within_2_bins", "input_median_bin_error",
           "input_correlation", "input_lag", "fp_true", "fp_matched", "fp_missing",
           "fp_spurious", "fp_eigenvalue_error", "fp_recovered", "epochs", "wall_s", "threads"]
VARIANTS = {"sweep_chaotic_rnn_conditions": "100 conditions x 10 trials",
            "sweep_chaotic_rnn_4000": "4000 trials",
            "sweep_chaotic_rnn_lfads_published": "published LFADS sizes",
            "sweep_chaotic_rnn_4000_lfads_published": "4000 trials, published LFADS sizes",
            }  # seed 0 beside the main sweep's
PULSE_VARIANTS = ("sweep_chaotic_rnn_pulses_tau",  # LFADS, input prior tau 1 bin
                  "sweep_chaotic_rnn_pulses_causal",  # LFADS, causal controller encoder
                  "sweep_chaotic_rnn_pulses_causal_lag0")  # the same, controller lag 0
PULSE_COLUMNS = ["model", "seed", "input_within_2_bins", "input_median_bin_error",
                 "input_correlation", "input_lag", "rate_r2", "co_bps", "epochs", "wall_s"]
PULSE_RUNS = {  # seed 0 of the controller LFADS on the pulse data, drawn in pulses.png
    "bidirectional encoder": ("sweep_chaotic_rnn", "chaotic_rnn_pulses-lfads-d64-s0"),
    "causal encoder": (PULSE_VARIANTS[1], "chaotic_rnn_pulses-lfads_causal-d64-s0"),
    "causal encoder, lag 0": (PULSE_VARIANTS[2], "chaotic_rnn_pulses-lfads_causal_lag0-d64-s0")}


RANK = {"dataset": list(DATASETS), "model": list(LABELS)}  # the tables' order


def in_order(table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``table`` sorted by ``columns``, datasets and models in the order of ``RANK``."""
    return table.sort_values(columns, kind="stable", key=lambda column: column.map(
        {v: i for i, v in enumerate(RANK[column.name])}) if column.name in RANK else column,
    ).reset_index(drop=True)


def finished(folder: Path) -> list[pd.DataFrame]:
    """The finished runs of the sweep in ``folder`` as a one-table list; empty when the sweep
    has not been run."""
    if not (folder / "sweep.toml").is_file():
        return []
    table = dl.sweeps.load_results(folder)
    return [table[table.status == "done"]]


def load() -> pd.DataFrame:
    """Finished runs of both sweeps and the capacity study's Arneodo GRU-25 / NODE-3 runs,
    datasets and models in a fixed order."""
    tables = [part for name in SWEEPS for part in finished(HERE / name)]
    capacity = finished(CAPACITY)[0]
    tables.append(pd.concat([capacity[(capacity.dataset == "arneodo") & (capacity.model == m)
                                      & (capacity.latent_dim == d)]
                             for m, d in FROM_CAPACITY.items()]))
    table = pd.concat(tables, ignore_index=True).reindex(columns=COLUMNS)
    return in_order(table, ["dataset", "model", "seed"])


def markdown_table(table: pd.DataFrame) -> str:
    """Per dataset and model: mean ± sd over seeds of each score, the pulse timing, the
    fixed points (matched / missing / spurious of the true ones) and minutes per run."""
    header = ("| data | model | seeds | rate R2 | co-bps | fp-bps | state R2 | pulse within 2 "
              "bins | fixed points | epochs | min per run |")
    lines = [header, "|" + "---|" * 11]
    for (dataset, model), cell in table.groupby(["dataset", "model"], sort=False):
        fp = ("/".join(f"{round(cell[c].mean(), 1):g}"
                       for c in ("fp_matched", "fp_missing", "fp_spurious"))
              if cell.fp_matched.notna().any() else "")
        label = LABELS[model].replace("\n", " ")
        lines.append(
            f"| {DATASETS[dataset]} | {label} | {len(cell)} | {mean_sd(cell.rate_r2)} | "
            f"{mean_sd(cell.co_bps)} | {mean_sd(cell.fp_bps)} | {mean_sd(cell.state_r2)} | "
            f"{mean_sd(cell.input_within_2_bins, 2)} | {fp} | {cell.epochs.mean():.0f} | "
            f"{cell.wall_s.mean() / 60:.1f} |")
    return "\n".join(lines)


def variants(table: pd.DataFrame) -> pd.DataFrame:
    """Seed 0 of the main chaotic-RNN recipe beside the variants' runs, one row per model
    and recipe."""
    main = table[(table.dataset == "chaotic_rnn") & (table.seed == 0)].assign(
        recipe="1000 trials (the study's)")
    parts = [main] + [part.assign(recipe=recipe) for name, recipe in VARIANTS.items()
                      for part in finished(HERE / name)]
    out = in_order(pd.concat(parts, ignore_index=True), ["model"])
    return out[["recipe", "model", "seed", "rate_r2", "co_bps", "fp_bps", "state_r2",
                "epochs", "wall_s"]]


def variants_table(table: pd.DataFrame) -> str:
    """Markdown: rate R2 (co-bps) per model under each recipe, seed 0."""
    recipes = list(dict.fromkeys(table.recipe))
    lines = ["| model | " + " | ".join(recipes) + " |", "|---|" + "---|" * len(recipes)]
    for model, rows in table.groupby("model", sort=False):
        cells = []
        for recipe in recipes:
            row = rows[rows.recipe == recipe]
            cells.append(f"{row.rate_r2.iloc[0]:.3f} ({row.co_bps.iloc[0]:.3f})" if len(row)
                         else "")
        lines.append(f"| {LABELS[model].replace(chr(10), ' ')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def pulse_variants(table: pd.DataFrame) -> pd.DataFrame:
    """The controller LFADS on the pulse data: the main sweep's (input prior tau 10 bins,
    bidirectional controller encoder) and the variants' (tau 1 bin; a causal encoder), one
    row per seed."""
    main = table[(table.dataset == "chaotic_rnn_pulses") & (table.model == "lfads")]
    variants = [run for folder in PULSE_VARIANTS for run in finished(HERE / folder)]
    return pd.concat([main, *variants], ignore_index=True)[PULSE_COLUMNS]


def pulse_table(table: pd.DataFrame) -> str:
    """Markdown: per model and seed, the pulse timing and the rates."""
    names = {"lfads": "LFADS, input prior tau 10 bins", "lfads_tau1": "LFADS, tau 1 bin",
             "lfads_causal": "LFADS, causal controller encoder",
             "lfads_causal_lag0": "LFADS, causal, controller lag 0"}
    lines = [("| model | seed | pulse within 2 bins | median error (bins) | correlation | "
              "rate R2 |"), "|---|---|---|---|---|---|"]
    for row in table.itertuples():
        lines.append(f"| {names[row.model]} | {row.seed} | {row.input_within_2_bins:.2f} | "
                     f"{row.input_median_bin_error:g} | {row.input_correlation:.2f} | "
                     f"{row.rate_r2:.3f} |")
    return "\n".join(lines)


def plot(table: pd.DataFrame) -> None:
    table = table.assign(dataset=table.dataset.map(DATASETS))
    fig = dl.plotting.runs(table, ("rate_r2", "co_bps", "state_r2"), rows="dataset",
                           labels=LABELS,
                           title="Test split; state R2 maps the true state to the model's "
                                 "latents (chaotic RNN: the 50 network units)")
    save_figure(fig, HERE / "results.png")


def plot_pulses() -> None:
    """Where the controller LFADS places its inferred input around each test trial's true
    pulse (seed 0): the main sweep's (bidirectional controller encoder) and the causal
    variants' (controller lag 1 and 0), those whose checkpoints are here."""
    inferred, test = {}, None
    for label, (folder, run_id) in PULSE_RUNS.items():
        checkpoint = HERE / folder / "runs" / run_id / "model.pt"
        if not checkpoint.is_file():
            print(f"pulses.png: no checkpoint {checkpoint.relative_to(HERE)}; {label} left out")
            continue
        test = dl.load_dataset(HERE / folder / "datasets" / "chaotic_rnn_pulses.h5").split("test")
        inferred[label] = dl.load_model(checkpoint).infer(test).inputs
    if not inferred:
        print("pulses.png not redrawn")
        return
    fig = dl.plotting.inferred_pulses(test.inputs, inferred)
    fig.suptitle("LFADS with a controller (seed 0) on the chaotic RNN with one input pulse per "
                 "trial; test trials, 10 ms bins", fontsize=10)
    save_figure(fig, HERE / "pulses.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", action="store_true",
                        help="only print the README's Markdown table")
    parser.add_argument("--variants", action="store_true",
                        help="only print the data-recipe variants' Markdown table")
    parser.add_argument("--pulses", action="store_true",
                        help="only print the pulse-data variants' Markdown table")
    args = parser.parse_args()
    table = load()
    tables = {"table": lambda: markdown_table(table),
              "variants": lambda: variants_table(variants(table)),
              "pulses": lambda: pulse_table(pulse_variants(table))}
    asked = [name for name in tables if getattr(args, name)]
    if asked:
        print(tables[asked[0]]())
        return
    with atomic_path(HERE / "results.csv") as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    with atomic_path(HERE / "variants.csv") as tmp:
        variants(table).to_csv(tmp, index=False, float_format="%.4f")
    with atomic_path(HERE / "pulse_variants.csv") as tmp:
        pulse_variants(table).to_csv(tmp, index=False, float_format="%.4f")
    plot(table)
    plot_pulses()
    print(markdown_table(table))


if __name__ == "__main__":
    main()

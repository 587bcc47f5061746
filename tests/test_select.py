"""dl.sweeps.select: a family and latent size from truth-free columns, with its reasons."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dynlens as dl
from dynlens.errors import DynlensValueError

CAPACITY = Path(__file__).resolve().parents[1] / "studies" / "capacity_vs_dimensionality"


def _table(rows, columns=("model", "latent_dim", "bps", "agreement_mean"), seeds=2):
    """Per-run rows: each cell's value repeated over ``seeds`` seeds, +-0.001 around it."""
    out = []
    for row in rows:
        for seed in range(seeds):
            jitter = 0.001 * (2 * seed - 1)
            out.append({**dict(zip(columns, row)), "seed": seed,
                        columns[2]: row[2] + jitter, "status": "done"})
    return pd.DataFrame(out)


NODE = [("node", 2, 0.40, 0.95), ("node", 3, 0.69, 0.96), ("node", 5, 0.70, 0.90),
        ("node", 10, 0.71, 0.70)]
GRU = [("gru", 2, 0.30, 0.60), ("gru", 3, 0.55, 0.50), ("gru", 5, 0.68, 0.55),
       ("gru", 10, 0.70, 0.60)]


def test_agreement_decides_between_families():
    choice = dl.sweeps.select(_table(NODE + GRU))
    assert (choice.family, choice.latent_dim, choice.likelihood) == ("node", 3, "bps")
    assert "most reproducible" in choice.reasons[-1]
    table = choice.table.set_index(["model", "latent_dim"])
    assert table["chosen_size"].sum() == 2  # one pick per family: NODE-3 and GRU-5
    assert table.loc[("gru", 5), "chosen_size"] and table.loc[("node", 3), "rank"] == 1
    assert table.loc[("gru", 5), "rank"] == 2 and pd.isna(table.loc[("node", 10), "rank"])
    assert table.loc[("node", 3), "n_seeds"] == 2
    assert choice.summary().startswith("Recommended: NODE-3.")


def test_more_agreeing_larger_family_wins():
    """The GRU's pick (size 5) agrees more across seeds: it wins although it is larger."""
    gru = [(m, d, b, 0.99 if d == 5 else a) for m, d, b, a in GRU]
    node = [(m, d, b, 0.80 if d == 3 else a) for m, d, b, a in NODE]
    choice = dl.sweeps.select(_table(node + gru))
    assert (choice.family, choice.latent_dim) == ("gru", 5)


def test_close_agreement_or_none_falls_back_to_the_smaller_size():
    gru = [(m, d, b, 0.94 if d == 5 else a) for m, d, b, a in GRU]
    choice = dl.sweeps.select(_table(NODE + gru), agreement_margin=0.05)
    assert (choice.family, choice.latent_dim) == ("node", 3)
    assert "smaller size wins" in choice.reasons[-1]
    plain = _table(NODE + GRU).drop(columns="agreement_mean")
    choice = dl.sweeps.select(plain)
    assert (choice.family, choice.latent_dim) == ("node", 3)
    assert "not available" in choice.reasons[-1]


def test_a_family_far_below_the_best_likelihood_is_dropped():
    weak = [(m, d, b - 0.3, 0.99) for m, d, b, _ in GRU]
    choice = dl.sweeps.select(_table(NODE + weak))
    assert choice.family == "node" and any("dropped gru" in r for r in choice.reasons)


def test_a_loss_lower_is_better():
    rows = [(m, d, 2.0 - b, a) for m, d, b, a in NODE]
    choice = dl.sweeps.select(_table(rows, ("model", "latent_dim", "best_valid_loss",
                                            "agreement_mean")))
    assert (choice.likelihood, choice.latent_dim) == ("best_valid_loss", 3)
    assert "lower is better" in choice.reasons[0]


def test_committed_capacity_study_without_agreement():
    """The committed capacity sweep (no agreement columns): the rule says what it could not
    use, never reads the truth columns, and picks the NODE on every system. Its sizes: 3 on
    Rossler; 5 on Lorenz and on Arneodo, where NODE-3's mean bps (0.687937) misses the
    tolerance line (0.716456 - 0.1 x 0.285114 = 0.687945) by 8e-6."""
    table = pd.read_csv(CAPACITY / "sweep" / "results.csv")
    picks = {d: dl.sweeps.select(table, dataset=d) for d in ("arneodo", "lorenz", "rossler")}
    assert {d: (c.family, c.latent_dim) for d, c in picks.items()} == {
        "arneodo": ("node", 5), "lorenz": ("node", 5), "rossler": ("node", 3)}
    assert all("not available" in " ".join(c.reasons) for c in picks.values())
    truth = [c for c in table if c.startswith(("state_r2", "rate_r2", "decode_r2", "fp_"))]
    shuffled = table.copy()
    shuffled[truth] = np.random.default_rng(0).permutation(shuffled[truth].to_numpy())
    again = dl.sweeps.select(shuffled, dataset="arneodo")
    assert (again.family, again.latent_dim) == ("node", 5)
    assert dl.sweeps.select(table, dataset="arneodo", tolerance=0.11).latent_dim == 3


def test_bad_input():
    table = _table(NODE)
    with pytest.raises(DynlensValueError, match="likelihood column"):
        dl.sweeps.select(table.drop(columns="bps"))
    with pytest.raises(DynlensValueError, match="missing"):
        dl.sweeps.select(table.drop(columns="latent_dim"))
    two = pd.concat([table.assign(dataset="a"), table.assign(dataset="b")])
    with pytest.raises(DynlensValueError, match="several datasets"):
        dl.sweeps.select(two)
    with pytest.raises(DynlensValueError, match="dataset: expected one of"):
        dl.sweeps.select(two, dataset="c")
    assert dl.sweeps.select(two, dataset="b").latent_dim == 3

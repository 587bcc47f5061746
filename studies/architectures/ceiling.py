"""What the spikes allow: rate R2 of the chaotic RNN's test trials inferred with the TRUE network.

    python3 studies/architectures/ceiling.py          # ceiling.csv, ceiling.png (~20 min)
    python3 studies/architectures/ceiling.py --plot   # ceiling.png from ceiling.csv

No model in this study reaches a test rate R2 of 0.9 on the chaotic RNN. Is that the models,
or the data? Here the dynamics are not learned: the true network (its weights, gain and time
constant) and the true rate recipe (tanh of the state, min-max normalised per trial and unit,
scaled) are given, and only each test trial's initial state is inferred, as the maximum a
posteriori estimate under the recipe's prior ``x0 ~ N(0, I)`` from the same spikes a model
reads (the held-in neurons on the observed bins; the held-out neurons and forward bins are
predicted). Two starts bracket what an optimiser finds:

- **from the prior**: the best of 8 starts drawn from ``N(0, I)`` per trial, as an inference
  network without the answer would have to;
- **from the truth**: started at the true initial state, so it ends at the optimum nearest the
  truth: an optimistic ceiling for any model whose dynamics are exactly right.

A third row asks whether the recipe's per-trial min-max scaling of the rates, which no
model's fixed readout can copy exactly, is what stops the models: one affine map per neuron
from ``tanh`` of the true state to the rates, fitted on the train split.

Rates are scored as ``dl.evaluate`` scores them (R2 per neuron over all bins, averaged). The
same data recipe as ``chaotic_rnn.toml`` (seed 0), at its mean rate of 0.4 expected spikes per
bin and at other mean rates, to show how many spikes a rate R2 of 0.9 takes.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.ticker import NullLocator
from run import LABELS  # this folder's run.py: the models' names in the tables
from sklearn.linear_model import LinearRegression

import dynlens as dl
from dynlens.dynamics import rollout
from dynlens.plotting import new_figure, save_figure
from dynlens.utils import atomic_path

HERE = Path(__file__).resolve().parent
DATA = {"n_neurons": 50, "n_trials": 1000, "n_bins": 50, "n_heldout": 10, "n_forward": 5,
        "seed": 0}  # chaotic_rnn.toml's [data] without the mean rate
MEAN_RATES = (0.2, 0.4, 0.8)  # expected spikes per bin; the study uses 0.4
STUDY_RATE = 0.4
N_STARTS = 8
STEPS = 500


def recipe_rates(data: dl.data.NeuralDataset) -> Callable[[torch.Tensor], torch.Tensor]:
    """The recipe's rates ``[..., bins, neurons]`` as a differentiable function of initial
    states ``[..., n]`` of the true network that simulated ``data``."""
    system = dl.systems.get("chaotic_rnn", **data.metadata["params"])
    scale = data.metadata["max_rate_hz"] * system.dt * data.metadata["rate_scale"]

    def rates(x0: torch.Tensor) -> torch.Tensor:
        states = rollout(system, x0.reshape(-1, system.dim), data.n_bins)
        activity = torch.tanh(states.reshape(*x0.shape[:-1], data.n_bins, system.dim)
                              [..., :data.n_neurons])
        low = activity.amin(-2, keepdim=True)
        span = activity.amax(-2, keepdim=True) - low
        return (activity - low) / span * scale

    return rates


def map_initial_states(data: dl.data.NeuralDataset, rates: Callable[[torch.Tensor], torch.Tensor],
                       starts: torch.Tensor) -> torch.Tensor:
    """MAP initial states ``[trials, n]`` of the test trials: Adam from each of ``starts``
    ``[S, trials, n]`` on the Poisson log-likelihood of the held-in neurons' observed bins
    under ``rates`` (:func:`recipe_rates`) plus the ``N(0, I)`` prior; the best start per
    trial."""
    held_in = torch.as_tensor(np.setdiff1d(np.arange(data.n_neurons), data.heldout_neurons))
    n_obs = data.n_bins - data.n_forward
    spikes = torch.as_tensor(data.split("test").spikes, dtype=torch.float64)[:, :n_obs, held_in]

    def objective(x0: torch.Tensor) -> torch.Tensor:  # per start and trial
        observed = rates(x0)[..., :n_obs, held_in]
        # a small floor: each unit's minimum bin has rate 0 by the recipe
        nll = (observed - spikes * torch.log(observed + 1e-6)).sum((-1, -2))
        return nll + 0.5 * (x0 ** 2).sum(-1)

    x0 = starts.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([x0], lr=0.05)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, STEPS)
    for _ in range(STEPS):
        optimizer.zero_grad()
        objective(x0).sum().backward()
        optimizer.step()
        schedule.step()
    with torch.no_grad():
        best = objective(x0).argmin(0)
        return x0.detach()[best, torch.arange(x0.shape[1])]


def readout_rates(data: dl.data.NeuralDataset) -> np.ndarray:
    """Test rates from one affine map per neuron of ``tanh`` of its true unit's state, fitted
    on the train split: the rates a fixed readout of the exact state gives."""
    train, test = data.split("train"), data.split("test")
    n = data.n_neurons
    x_train = np.tanh(train.latents[..., :n]).reshape(-1, n)
    x_test = np.tanh(test.latents[..., :n]).reshape(-1, n)
    y_train = train.rates.reshape(-1, n)
    pred = np.column_stack([
        LinearRegression().fit(x_train[:, [i]], y_train[:, i]).predict(x_test[:, [i]])
        for i in range(n)])
    return pred.reshape(test.rates.shape)


def ceiling(mean_rate: float) -> list[dict]:
    """Rate R2 of the test trials at one mean rate: the truth, both MAP starts and the affine
    readout of the true state."""
    data = dl.simulate("chaotic_rnn", mean_rate=mean_rate, **DATA)
    test = data.split("test")
    rates = recipe_rates(data)
    truth = torch.as_tensor(test.latents[:, 0])
    generator = torch.Generator().manual_seed(0)
    prior = torch.randn(N_STARTS, *truth.shape, generator=generator, dtype=torch.float64)
    rows = []
    for start, x0 in (("true state", truth),
                      ("MAP from the prior", map_initial_states(data, rates, prior)),
                      ("MAP from the truth", map_initial_states(data, rates, truth[None]))):
        with torch.no_grad():
            inferred = rates(x0).numpy()
        rows.append({"mean_rate": mean_rate, "estimate": start,
                     "rate_r2": dl.analysis.metrics.rate_r2(test.rates, inferred),
                     "spikes_per_trial": float(test.spikes.sum((1, 2)).mean())})
        print(rows[-1], flush=True)
    rows.append({**rows[0], "estimate": "true state, affine readout",
                 "rate_r2": dl.analysis.metrics.rate_r2(test.rates, readout_rates(data))})
    print(rows[-1], flush=True)
    return rows


def plot(table: pd.DataFrame, path: Path) -> None:
    """R2 against the mean rate (both MAP starts, the readout), with the study's learned models
    at its rate."""
    fig, ax = new_figure(figsize=(8.5, 4))
    for estimate, marker, label in (
            ("true state, affine readout", "^", "true state, a fixed affine readout"),
            ("MAP from the truth", "o", "true network, MAP from the truth"),
            ("MAP from the prior", "s", "true network, MAP from the prior")):
        part = table[table.estimate == estimate]
        ax.plot(part.mean_rate * 100, part.rate_r2, marker=marker, label=label,
                ls=":" if marker == "^" else "-")
    learned = pd.read_csv(HERE / "results.csv")
    learned = learned[learned.dataset == "chaotic_rnn"].groupby("model").rate_r2.mean()
    for k, (model, r2) in enumerate(learned.sort_values(ascending=False).items()):
        ax.plot(STUDY_RATE * 100, r2, ls="none", marker="_", ms=14, mew=2, color=f"C{k + 3}",
                label=f"learned: {LABELS[model].replace(chr(10), ' ')} ({r2:.3f}, 3 seeds)")
    ax.axhline(0.9, color="0.5", ls="--", lw=1, label="goal: rate R2 0.9")
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    rates = table.mean_rate.unique()
    ax.set_xticks(rates * 100, [f"{r * 100:g}" for r in rates])
    ax.set_xlabel("mean firing rate (spikes/s, 10 ms bins); the study's data: 40")
    ax.set_ylabel("test rate R2")
    ax.set_ylim(0.7, 1.0)
    ax.set_title("Chaotic RNN: rates inferred with the true dynamics vs learned models",
                 fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8)
    save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", action="store_true", help="only redraw from ceiling.csv")
    if parser.parse_args().plot:
        plot(pd.read_csv(HERE / "ceiling.csv"), HERE / "ceiling.png")
        return
    torch.set_num_threads(1)
    table = pd.DataFrame([row for rate in MEAN_RATES for row in ceiling(rate)])
    with atomic_path(HERE / "ceiling.csv") as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    plot(table, HERE / "ceiling.png")
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()

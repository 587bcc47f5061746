"""NODE training cost: dynlens's default solver vs the published adaptive recipe.

    python3 benchmarks/bench_training.py [--threads 2] [--seeds 0 1 2]

About 15 minutes on 2 CPU cores (three default fits).

1. Time per training epoch of a NODE-3 SAE on the published Arneodo data, with dynlens's
   default (fixed-step rk4, one step per bin) and with the published adaptive solver
   (torchdiffeq dopri5, atol = rtol = 1e-3), same batch size, in one run. Both are timed on an
   untrained model and on a trained one (``studies/node_vs_gru_arneodo/node3_arneodo_seed0.pt``
   when present): an adaptive solver's cost depends on how stiff the learned field is.
2. Wall time to the quality bar (test rate R2 >= .91 and state R2 >= .94): ``dl.fit`` with
   defaults for each seed, evaluated on the test split every 10 epochs through its
   ``callback`` (evaluation not timed), vs the published recipe's 3000 epochs (batch 650,
   dopri5, lengthening by
   5 bins per 150 epochs), whose cost is estimated from the measured time of one training
   step at several trial lengths with the trained field (running it whole would take hours).

Writes ``benchmarks/bench_training.md`` and ``benchmarks/bench_training.png``.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch

import dynlens as dl
from dynlens.plotting import new_figure, save_figure
from dynlens.utils import atomic_path, seed_everything

HERE = Path(__file__).resolve().parent
CHECKPOINT = HERE.parent / "studies" / "node_vs_gru_arneodo" / "node3_arneodo_seed0.pt"
BAR = (0.91, 0.94)  # test rate R2, state R2 of the published NODE-3 (Sedler et al. 2023)
EVERY = 10


def step_time(model, spikes: torch.Tensor, n_bins: int, repeats: int = 3) -> float:
    """Median seconds of one optimisation step (forward, backward, Adam) over ``n_bins`` bins."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-12)  # tiny lr: keep the field as is
    times = []
    for _ in range(repeats + 1):
        tic = time.perf_counter()
        loss = model.loss(spikes, n_bins=n_bins).total
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - tic)
    return float(np.median(times[1:]))


def with_solver(model, solver: str):
    clone = dl.models.SAE.from_config({**model.config.to_dict(), "solver": solver})
    clone.load_state_dict(model.state_dict())
    return clone


def fit_with_trace(data, seed: int) -> dict:
    """``dl.fit`` with defaults, evaluating the test split every ``EVERY`` epochs."""
    trace = []

    def evaluate_now(epoch, model, row):
        if epoch % EVERY == EVERY - 1:
            metrics = dl.evaluate(model, data, split="test")
            trace.append((epoch + 1, metrics["rate_r2"], metrics["state_r2"]))

    seed_everything(seed)
    model = dl.models.SAE(n_neurons=10, latent_dim=3, generator="node")
    history = dl.fit(model, data, seed=seed, progress=False, callback=evaluate_now)
    elapsed = history.seconds.cumsum().to_numpy()
    final = dl.evaluate(model, data, split="test")
    points = [(e, elapsed[e - 1], r, s) for e, r, s in trace]
    ok = [r >= BAR[0] and s >= BAR[1] for _, _, r, s in points]
    first = next(((e, t) for (e, t, *_), good in zip(points, ok) if good), None)
    held = next(((points[i][0], points[i][1]) for i in range(len(points)) if all(ok[i:])), None)
    print(f"seed {seed}: first {first}, held {held}, final {final['rate_r2']:.3f}/"
          f"{final['state_r2']:.3f}", flush=True)
    return {"seed": seed, "epochs": len(history), "seconds": float(elapsed[-1]),
            "rate": final["rate_r2"], "state": final["state_r2"], "points": points,
            "first": first, "held": held}


def cell(mark: tuple[int, float] | None) -> str:
    return "not reached" if mark is None else f"{mark[0]}, {mark[1] / 60:.2f}"


def plot(traces: list[dict], published_seconds: float) -> None:
    fig, axes = new_figure(1, 2, figsize=(11, 4), sharey=True)
    for ax, col, name, bar in ((axes[0], 2, "rate R2", BAR[0]), (axes[1], 3, "state R2", BAR[1])):
        for i, t in enumerate(traces):
            minutes = [p[1] / 60 for p in t["points"]]
            ax.plot(minutes, [p[col] for p in t["points"]], "-o", ms=3, color=f"C{i}",
                    label=f"dynlens defaults, seed {t['seed']}")
        ax.axhline(bar, color="k", ls="--", lw=1, label=f"bar ({bar:.2f}, published NODE-3)")
        ax.set_xlabel("training time on this CPU (min)")
        ax.set_title(f"Test {name} while training")
        ax.set_ylim(0.5, 1.0)
        ax.grid(alpha=0.3)
        ax.text(0.98, 0.04, f"published recipe: ~{published_seconds / 60:.0f} min (estimate)",
                transform=ax.transAxes, ha="right", fontsize=8)
    axes[0].set_ylabel("R2 (test split)")
    axes[0].legend(fontsize=8, loc="center right")
    save_figure(fig, HERE / "bench_training.png")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    with dl.threads.ThreadPolicy(args.threads):  # dl.fit inside keeps this count
        measure(args)


def measure(args: argparse.Namespace) -> None:
    data = dl.simulate("arneodo", n_neurons=10, n_trials=2000, n_bins=70, seed=0)
    train = torch.as_tensor(data.split("train").spikes, dtype=torch.float32)
    n_train = train.shape[0]
    torch.manual_seed(0)
    models = {"untrained": dl.models.SAE(n_neurons=10, latent_dim=3, generator="node")}
    if CHECKPOINT.exists():
        models["trained"] = dl.load_model(CHECKPOINT)
    batch = dl.training.default_fit_config(models["untrained"]).batch_size

    lines = [("# NODE training cost: fixed-step rk4 (dynlens default) vs adaptive dopri5 "
              "(published)"),
             "", (f"Machine: {platform.machine()}, torch {torch.__version__}, "
             f"{args.threads} threads. Arneodo, 10 neurons, {n_train} training trials "
             "x 70 bins."), "",
             ("## Time per training epoch (full 70-bin trials, same batch size "
             f"{batch}, {int(np.ceil(n_train / batch))} steps per epoch)"), "",
             ("| field | rk4, 1 step/bin (s/epoch) | dopri5 atol=rtol=1e-3 (s/epoch) "
              "| dopri5 / rk4 |"),
             "|---|---|---|---|"]
    for label, model in models.items():
        model.train()
        per_step = {s: step_time(with_solver(model, s), train[:batch], 70)
                    for s in ("rk4", "dopri5")}
        steps = int(np.ceil(n_train / batch))
        lines.append(f"| {label} | {per_step['rk4'] * steps:.2f} | "
                     f"{per_step['dopri5'] * steps:.2f} | "
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
    lines.append("Published recipe (3000 epochs x 2 steps of 650 trials, dopri5, lengthening "
                 "5 bins "
                 f"per 150 epochs), estimated from measured step times {measured} "
                 "s at each trial length with the "
                 f"{'trained' if 'trained' in models else 'untrained'} "
                 f"field: **{published_seconds / 60:.1f} min** on this CPU.")
    traces = [fit_with_trace(data, seed) for seed in args.seeds]
    lines += ["", (f"dynlens `dl.fit` defaults on the same data, {len(traces)} seeds; "
              "test-split rate and "
              f"state R2 evaluated every {EVERY} epochs (evaluation time not counted; "
              "training time "
              "is the sum of the history's per-epoch seconds, validation loss included):"), "",
              ("| seed | epochs | whole fit (min) | final rate / state R2 | "
              "bar first reached: epoch, "
              "min | bar held from: epoch, min | published / time to bar |"),
              "|---|---|---|---|---|---|---|"]
    for t in traces:
        first, held = t["first"], t["held"]
        lines.append(
            f"| {t['seed']} | {t['epochs']} | {t['seconds'] / 60:.1f} | {t['rate']:.3f} / "
            f"{t['state']:.3f} | {cell(first)} | {cell(held)} | "
            f"{published_seconds / first[1]:.1f}x |" if first else
            f"| {t['seed']} | {t['epochs']} | {t['seconds'] / 60:.1f} | {t['rate']:.3f} / "
            f"{t['state']:.3f} | not reached | not reached | - |")
    reached = [t for t in traces if t["first"]]
    whole = float(np.median([t["seconds"] for t in traces]))
    lines += [""]
    if reached:
        to_bar = float(np.median([t["first"][1] for t in reached]))
        lines.append(f"Compute ratio to the bar, published estimate / median dynlens time to "
                     "the bar "
                     f"({len(reached)} of {len(traces)} seeds reached it): "
                     f"**{published_seconds / to_bar:.1f}x** ({to_bar / 60:.1f} min).")
    lines.append(f"Whole default fit (median {whole / 60:.1f} min, which goes on past the bar "
                 f"to the end of its schedule): **{published_seconds / whole:.1f}x**.")
    plot(traces, published_seconds)
    with atomic_path(HERE / "bench_training.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

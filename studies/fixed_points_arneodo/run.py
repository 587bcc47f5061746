"""Does a NODE-3 trained on Arneodo spikes have the true system's fixed points? (issue 6)

Loads the NODE-3 checkpoint written by ``studies/node_vs_gru_arneodo/run.py`` (seed 0,
published Arneodo data), finds its fixed points, maps them into true coordinates with an
affine alignment fitted on the train split (model latents -> true latents), and compares them
with the three analytic fixed points of the Arneodo system.

    python3 studies/fixed_points_arneodo/run.py

Writes ``comparison.csv`` (one row per true point, plus spurious model points),
``summary.json`` and ``comparison.png`` / ``fixed_points.png`` next to this script.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import dynlens as dl
from dynlens.plotting import save_figure
from dynlens.utils import atomic_path

HERE = Path(__file__).resolve().parent
CHECKPOINT = HERE.parent / "node_vs_gru_arneodo" / "node3_arneodo_seed0.pt"


def _pairs(values: np.ndarray) -> list[list[str]]:
    return [[f"{v.real:.3f}{v.imag:+.3f}i" for v in row] for row in values]


def main() -> None:
    data = dl.simulate("arneodo", n_neurons=10, n_trials=2000, n_bins=70, seed=0)
    model = dl.load_model(CHECKPOINT)
    train = data.split("train")
    latents = model.infer(train).latents
    alignment = dl.AffineAlignment().fit(latents, train.latents)
    fps = dl.find_fixed_points(model.dynamics, latents, seed=0)
    truth = dl.systems.get("arneodo")
    comparison = dl.compare_fixed_points(fps, truth, alignment, true_trajectories=train.latents)
    table = comparison.table()
    with atomic_path(HERE / "comparison.csv") as tmp:
        table.to_csv(tmp, index=False, float_format="%.5f")
    summary = {
        "checkpoint": CHECKPOINT.name,
        "model_fixed_points": len(fps),
        "model_n_unstable": fps.n_unstable.tolist(),
        "true_n_unstable": truth.stability().n_unstable.tolist(),
        "matched": len(comparison.matched), "missing": len(comparison.missing),
        "spurious": len(comparison.spurious),
        "threshold_fraction_of_scale": comparison.threshold, "scale": comparison.scale,
        "location_error": comparison.location_error.tolist(),
        "eigenvalue_error_per_bin": comparison.eigenvalue_error.tolist(),
        "stability_agrees": comparison.stability_agrees.tolist(),
        "score": comparison.score,
        # per-bin eigenvalues mu turned back into continuous-time rates log(mu) / dt_true, so
        # they read on the scale of the published continuous-time lambda
        "true_eigenvalues_continuous": _pairs(np.log(comparison.true_bin_eigenvalues) / truth.dt),
        "model_eigenvalues_continuous": _pairs(
            np.log(comparison.model_bin_eigenvalues[[m for _, m in comparison.matched]])
            / truth.dt),
        "alignment_r2_train": float(alignment.score(latents, train.latents)),
        "summary": comparison.summary(),
    }
    with atomic_path(HERE / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    save_figure(comparison.plot(), HERE / "comparison.png")
    save_figure(dl.plotting.fixed_points(fps, trajectories=latents[:20]), HERE / "fixed_points.png")
    print(table.to_string())
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    with dl.threads.ThreadPolicy(1):  # the committed numbers were computed on one thread
        main()

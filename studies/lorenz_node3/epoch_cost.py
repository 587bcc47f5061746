"""Seconds per training epoch of the Lorenz NODE-3 at batch 64 vs dl.fit's 128, side by side.

    python3 studies/lorenz_node3/epoch_cost.py    # about 1 minute; writes epoch_cost.json

Full-length trials from the first epoch (no lengthening), one torch thread, 3 epochs per fit,
the two batch sizes alternated 3 times in one process so that load from other jobs hits both.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np

import dynlens as dl
from dynlens.utils import atomic_path

HERE = Path(__file__).resolve().parent


def main() -> None:
    data = dl.simulate("lorenz", n_neurons=10, n_trials=2000, n_bins=70, seed=0)
    seconds: dict[int, list[float]] = {128: [], 64: []}
    for _ in range(3):
        for batch_size, times in seconds.items():
            model = dl.models.SAE(10, latent_dim=3, generator="node")
            history = dl.fit(model, data, max_epochs=3, batch_size=batch_size,
                             bins_per_group=0, threads=1, progress=False)
            times.append(float(history.seconds.median()))
    result = {"machine": f"{platform.machine()}, {dl.threads.describe(1)}",
              "seconds_per_epoch": {str(k): v for k, v in seconds.items()},
              "ratio_64_to_128": float(np.median(seconds[64]) / np.median(seconds[128]))}
    with atomic_path(HERE / "epoch_cost.json") as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

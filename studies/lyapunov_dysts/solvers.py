"""The integrators of ``dl.lyapunov_spectrum`` on the flows that exceed the study's CPU bound.

    python3 studies/lyapunov_dysts/solvers.py              # about 15 CPU-minutes, 1 thread
    python3 studies/lyapunov_dysts/solvers.py --cnn-only   # the last two rows (5 CPU-minutes)

For each flow: a fixed run (``n_steps`` bins, 64 starts) with ``method`` "rk4", "dop853" and
"bdf", for the full spectrum and for the largest exponent alone (``k=1``), each under a CPU
bound; recorded: CPU seconds, field evaluations (with tangents) per bin, the exponents and
the gap between their sum and the mean divergence (a full spectrum). Then
CellularNeuralNetwork (a piecewise-linear field) at its defaults, converging, with "dop853"
and with RK4 at 4 substeps a bin instead of the 1 its Jacobian asks for, against the study's
RK4 row: is its flow exponent 0 when the steps shorten at the kinks? Writes solvers.csv here.
"""

from __future__ import annotations

import json
import signal
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
FLOWS = ["AtmosphericRegime", "BeerRNN", "BickleyJet", "CellCycle", "CoevolvingPredatorPrey",
         "MacArthur", "CellularNeuralNetwork"]
N_STEPS = 40
BOUND = 60.0  # CPU seconds per run


class TimeBound(Exception):
    pass


def _alarm(signum, frame):
    raise TimeBound


def measure(system, method: str, k: int | None, counter: list, converge: bool = False,
            **options) -> dict:
    import dynlens as dl

    counter.clear()
    signal.setitimer(signal.ITIMER_PROF, 3 * BOUND if converge else BOUND)
    cpu = time.process_time()
    try:
        spec = dl.lyapunov_spectrum(system, system.default_x0, k=k, method=method, **options)
    except TimeBound:
        spec = None
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
    row = {"method": method, "k": k or system.dim, "cpu_s": time.process_time() - cpu,
           "substeps_given": options.get("substeps"),
           "status": "time bound" if spec is None else (
               "converged" if spec.converged else "ran")}
    if spec is None:
        return row
    scipy_stats = [s.stats for s in counter]
    bins = sum(s["bins"] for s in scipy_stats)
    row.update(n_steps=spec.n_steps, ran=spec.method, substeps=spec.substeps,
               evals_per_bin=(4 * spec.substeps if spec.substeps else
                              sum(s["nfev"] for s in scipy_stats) / bins),
               exponents=json.dumps(spec.exponents.round(5).tolist()),
               errors=json.dumps(spec.error.round(5).tolist()),
               sum_minus_divergence=(spec.sum - spec.divergence
                                     if spec.checks["sum_is_divergence"] is not None else None),
               zero_exponent=None if spec.zero_index is None else spec.exponents[
                   spec.zero_index],
               zero_ok=spec.checks["zero_exponent"], sum_ok=spec.checks["sum_is_divergence"])
    return row


def main(cnn_only: bool) -> None:
    import torch

    import dynlens as dl
    from dynlens.analysis import _scipy_stepper

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    signal.signal(signal.SIGPROF, _alarm)
    counter: list = []
    original = _scipy_stepper.ScipyStepper.__init__

    def counted(self, *args):
        original(self, *args)
        counter.append(self)

    _scipy_stepper.ScipyStepper.__init__ = counted
    rows = []
    for name in [] if cnn_only else FLOWS:
        system = dl.systems.from_dysts(name)
        for k in (None, 1):
            for method in ("rk4", "dop853", "bdf"):
                row = {"flow": name, **measure(system, method, k, counter, n_steps=N_STEPS)}
                print(json.dumps(row, default=float), flush=True)
                rows.append(row)
    cnn = dl.systems.from_dysts("CellularNeuralNetwork")
    for method, options in (("dop853", {}), ("rk4", {"substeps": 4})):
        row = {"flow": "CellularNeuralNetwork", "run": "defaults, converging",
               **measure(cnn, method, None, counter, converge=True, **options)}
        print(json.dumps(row, default=float), flush=True)
        rows.append(row)
    table = pd.DataFrame(rows)
    if cnn_only:  # the fixed runs kept from the last full run
        kept = pd.read_csv(HERE / "solvers.csv")
        table = pd.concat([kept[kept["run"].isna()], table], ignore_index=True)
    from dynlens.utils import atomic_path

    with atomic_path(HERE / "solvers.csv") as tmp:
        table.to_csv(tmp, index=False)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main("--cnn-only" in sys.argv[1:])

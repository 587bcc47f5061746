"""The RK4 substeps ``lyapunov_spectrum`` picks for every autonomous dysts flow, before and
after the step-doubling check (no spectrum: the selection only).

    python3 studies/lyapunov_dysts/substeps_check.py    # about 1 CPU-minute a dozen flows

Before: the eigenvalue rule at the starting states (step times 1.5 x the largest |eigenvalue|
of the Jacobian under 0.5). After: that, doubled while the check of ``substeps`` (see
``dl.lyapunov_spectrum``) fails. Also written: the check's gap (RK4 at s against 2 s, relative
to the largest growth rate) at the rule's substeps. Writes substeps_check.csv here.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from run import autonomous_flows

import dynlens as dl
from dynlens.analysis import lyapunov as lyap
from dynlens.analysis._prepare import Evaluator

HERE = Path(__file__).resolve().parent


def selection(name: str) -> dict:
    system = dl.systems.from_dysts(name)
    ev = Evaluator(system, None)
    bin_ = float(system.dt or 1.0)
    x = ev.tensor(np.asarray(system.default_x0, dtype=np.float64)[None])
    with torch.no_grad():
        guess = lyap._default_substeps(ev, x, bin_)
        x, path = lyap._starting_states(lyap._Stepper(ev, bin_, 2 * guess), x, 64,
                                        lyap._ROUND_BINS["continuous"], 0, path=True)
        before = lyap._default_substeps(ev, x, bin_)
        points = path[:: max(1, len(path) // lyap._CHECK_POINTS)].contiguous()
        gap = lyap._check_gap(lyap._growth_rates(ev, points, bin_, before),
                              lyap._growth_rates(ev, points, bin_, 2 * before))
        wall = time.perf_counter()
        after = lyap._doubled_substeps(ev, path, bin_, before)
        check_s = time.perf_counter() - wall
    return {"flow": name, "dim": ev.dim, "substeps_before": before, "substeps_after": after,
            "gap_at_before": gap, "check_wall_s": check_s}


def main() -> None:
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    rows = []
    for name in autonomous_flows():
        try:
            rows.append(selection(name))
        except Exception as err:  # noqa: BLE001 - recorded, the others go on
            rows.append({"flow": name, "error": f"{type(err).__name__}: {err}"})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(HERE / "substeps_check.csv", index=False, float_format="%.4g")
    changed = table[table["substeps_after"] != table["substeps_before"]]
    print(f"{len(changed)} of {len(table)} flows change: {', '.join(changed['flow'])}")


if __name__ == "__main__":
    main()

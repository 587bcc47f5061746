"""Lyapunov spectra of every autonomous dysts flow: dynlens's against dysts's two estimates.

    python3 studies/lyapunov_dysts/run.py               # 1 worker process, 1 thread
    python3 studies/lyapunov_dysts/run.py --plot-only   # figure and table from results.csv

Each flow: ``dl.systems.from_dysts(name)``, then ``dl.lyapunov_spectrum(system,
system.default_x0)``: its defaults (converging, 64 starts, at most 10000 bins per start;
``--max-steps`` lowers that bound), with a bound on the CPU time per flow (``--time-bound``,
seconds; CPU, not wall, so that a shared machine does not cut a flow short). Recorded: the
spectrum with standard errors, whether it converged, its checks (the flow's exponent within
3 standard errors of 0, the sum within 3 standard errors of the mean divergence integrated
alongside), the Kaplan-Yorke dimension or why it is not given, the wall and CPU seconds;
and dysts's metadata: ``maximum_lyapunov_estimated``, ``lyapunov_spectrum_estimated`` and
``kaplan_yorke_dimension``. dysts is "inconsistent" on a
flow where its two estimates of the largest exponent differ by more than 20 %, or its
Kaplan-Yorke dimension exceeds the state dimension.

Writes results.csv, lyapunov_dysts.png (here) and ../../benchmarks/bench_lyapunov_dysts.md
(the time per flow).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import signal
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent.parent / "benchmarks" / "bench_lyapunov_dysts.md"
DISAGREE = 0.2  # dysts's two largest-exponent estimates differ by more than this fraction


class TimeBound(Exception):
    pass


def _alarm(signum, frame):
    raise TimeBound


def autonomous_flows() -> list[str]:
    import dysts.base
    import dysts.flows
    from dysts.systems import get_attractor_list

    names = []
    for name in get_attractor_list():
        proto = getattr(dysts.flows, name)()
        if not getattr(proto, "nonautonomous", False) and not isinstance(
                proto, dysts.base.DynSysDelay):
            names.append(name)
    return names


def dysts_metadata(system) -> dict:
    proto = system.dysts_system
    spectrum = getattr(proto, "lyapunov_spectrum_estimated", None)
    top = getattr(proto, "maximum_lyapunov_estimated", None)
    ky = getattr(proto, "kaplan_yorke_dimension", None)
    row = {"dysts_lambda1_meta": top, "dysts_ky_meta": ky,
           "dysts_spectrum_meta": None if spectrum is None else json.dumps(list(spectrum))}
    if spectrum is not None and top is not None:
        row["dysts_lambda1_spectrum"] = float(np.max(spectrum))
        row["dysts_disagreement"] = abs(top - np.max(spectrum)) / max(abs(top),
                                                                     abs(np.max(spectrum)))
        row["dysts_spectrum_sum"] = float(np.sum(spectrum))
    return row


def one_flow(args: tuple[str, float, int | None]) -> dict:
    name, bound, max_steps = args
    import torch

    import dynlens as dl

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    row: dict = {"flow": name}
    try:
        system = dl.systems.from_dysts(name)
    except Exception as err:  # noqa: BLE001 - recorded, the study goes on
        return {**row, "status": f"construction failed: {err}"}
    row.update(dim=system.dim, torch_native=system.torch_native,
               batch_layout=system.batch_layout, **dysts_metadata(system))
    signal.signal(signal.SIGPROF, _alarm)  # a bound on CPU time: fair on a shared machine
    signal.setitimer(signal.ITIMER_PROF, bound)
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        bound_steps = {} if max_steps is None else {"max_steps": max_steps}
        spec = dl.lyapunov_spectrum(system, system.default_x0, **bound_steps)
        status = "converged" if spec.converged else "max_steps reached"
    except TimeBound:
        spec, status = None, "time bound"
    except Exception as err:  # noqa: BLE001 - recorded, the study goes on
        spec, status = None, f"failed: {type(err).__name__}: {err}"
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
    row.update(status=status, wall_s=time.perf_counter() - wall,
               cpu_s=time.process_time() - cpu)
    if spec is not None:
        z = spec.zero_index
        row.update(
            n_steps=spec.n_steps, n_dropped=spec.n_dropped, method=spec.method,
            substeps=spec.substeps, lambda1=spec.exponents[0],
            lambda1_error=spec.error[0],
            exponents=json.dumps(spec.exponents.round(6).tolist()),
            errors=json.dumps(spec.error.round(6).tolist()),
            zero_index=z, zero_exponent=None if z is None else spec.exponents[z],
            zero_error=None if z is None else spec.error[z],
            zero_ok=spec.checks["zero_exponent"], sum=spec.sum, sum_error=spec.sum_error,
            divergence=spec.divergence, divergence_error=spec.divergence_error,
            sum_ok=spec.checks["sum_is_divergence"], kaplan_yorke=spec.kaplan_yorke,
            kaplan_yorke_error=spec.kaplan_yorke_error,
            kaplan_yorke_note=spec.kaplan_yorke_note)
    return row


def run(names: list[str], workers: int, bound: float, max_steps: int | None) -> pd.DataFrame:
    rows = []
    partial = HERE / "results.partial.jsonl"
    with multiprocessing.get_context("fork").Pool(workers) as pool, \
            partial.open("w") as log:
        for row in pool.imap_unordered(one_flow, [(n, bound, max_steps) for n in names]):
            rows.append(row)
            log.write(json.dumps(row, default=float) + "\n")
            log.flush()
            print(f"{len(rows)}/{len(names)} {row['flow']}: {row.get('status')} "
                  f"{row.get('wall_s', 0):.1f} s", flush=True)
    partial.unlink()
    return pd.DataFrame(rows).sort_values("flow").reset_index(drop=True)


def derived(table: pd.DataFrame) -> pd.DataFrame:
    table = table.copy()
    table["dysts_inconsistent"] = (table["dysts_disagreement"] > DISAGREE) | (
        table["dysts_ky_meta"] > table["dim"])
    table["lambda1_vs_dysts_meta"] = table["lambda1"] - table["dysts_lambda1_meta"]
    table["lambda1_vs_dysts_spectrum"] = table["lambda1"] - table["dysts_lambda1_spectrum"]
    table["dysts_sum_vs_divergence"] = table["dysts_spectrum_sum"] - table["divergence"]
    return table


def steps_words(max_steps: int | None) -> str:
    return "10000 bins (the default)" if max_steps is None else f"{max_steps} bins"


def plot(table: pd.DataFrame, bound: float, max_steps: int | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = table[table["lambda1"].notna()]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    ax = axes[0]
    lo = min(done["lambda1"].min(), done["dysts_lambda1_meta"].min(), 1e-3)
    hi = max(done["lambda1"].max(), done["dysts_lambda1_meta"].max())
    ax.plot([lo, hi], [lo, hi], color="0.6", lw=0.8, label="equal")
    ax.errorbar(done["lambda1"], done["dysts_lambda1_meta"], xerr=done["lambda1_error"],
                fmt="o", ms=3, color="C0", label="dysts maximum_lyapunov_estimated")
    ax.scatter(done["lambda1"], done["dysts_lambda1_spectrum"], s=10, marker="x", color="C3",
               label="dysts lyapunov_spectrum_estimated[0]")
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_yscale("symlog", linthresh=0.01)
    ax.set_xlabel("dynlens largest exponent (bars: 1 standard error)")
    ax.set_ylabel("dysts's estimates")
    ax.set_title("Largest exponent, per flow (symlog axes)", fontsize=10)
    ax.legend(fontsize=7)
    ax = axes[1]
    flows = done[done["zero_error"].notna()]
    gap = (flows["sum"] - flows["divergence"]).abs() / np.maximum(
        flows["divergence"].abs(), flows["lambda1"].abs())
    ax.scatter(flows["zero_exponent"] / flows["zero_error"], np.maximum(gap, 1e-12), s=10,
               color=np.where(flows["zero_ok"].astype(bool), "C2", "C3"))
    ax.axvspan(-3, 3, color="C2", alpha=0.08)
    ax.set_xlabel("flow's exponent / its standard error (0 expected; red: check failed)")
    ax.set_ylabel("|sum - mean divergence| / max(|divergence|, |l1|)")
    ax.set_yscale("log")
    ax.set_title("dynlens's known-answer checks (band: 3 standard errors; green beyond it:\n"
                 "within the allowance for RK4, 1e-3 of the largest |exponent|)", fontsize=10)
    ax = axes[2]
    ordered = table.sort_values("cpu_s")
    palette = {"converged": "C0", "max_steps reached": "C1", "time bound": "C3"}
    category = ordered["status"].where(ordered["status"].isin(palette), "failed")
    palette["failed"] = "0.3"
    ax.bar(np.arange(len(ordered)), ordered["cpu_s"], color=category.map(palette))
    ax.set_yscale("log")
    ax.set_xlabel("flows, fastest first")
    ax.set_ylabel("CPU seconds (1 thread)")
    shown = [c for c in palette if (category == c).any()]  # only categories that occur
    ax.legend([plt.Rectangle((0, 0), 1, 1, color=palette[c]) for c in shown],
              [f"{c} ({int((category == c).sum())})" for c in shown], fontsize=7)
    ax.set_title(f"CPU time per flow (at most {steps_words(max_steps)}, {bound:.0f} CPU s)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(HERE / "lyapunov_dysts.png", dpi=110)


def bench_table(table: pd.DataFrame, bound: float, workers: int,
                max_steps: int | None) -> None:
    from dynlens.utils import atomic_path

    lines = ["# Lyapunov spectra of every autonomous dysts flow: time per flow", "",
             (f"Machine: {platform.machine()}, 1 torch thread per flow, {workers} "
              f"flow{'s' if workers > 1 else ''} at a time on a 2-core machine (wall > CPU "
              f"when others ran), bound {bound:.0f} "
              "CPU s per flow (CPU time is what one idle core would take). "
              "`dl.lyapunov_spectrum(system, system.default_x0)`: its defaults (run until "
              f"converged, 64 starts) with at most {steps_words(max_steps)} per start. "
              "Written by `studies/lyapunov_dysts/run.py` (results and what they showed: "
              "that folder)."),
             "", "| flow | dim | status | bins | wall (s) | CPU (s) | largest exponent |",
             "|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        lam = (f"{r['lambda1']:.4f} +- {r['lambda1_error']:.4f}"
               if pd.notna(r.get("lambda1")) else "")
        steps = "" if pd.isna(r.get("n_steps")) else f"{int(r['n_steps'])}"
        lines.append(f"| {r['flow']} | {r.get('dim', '')} | {r['status']} | {steps} | "
                     f"{r.get('wall_s', np.nan):.1f} | {r.get('cpu_s', np.nan):.1f} | {lam} |")
    counts = table["status"].value_counts().to_dict()
    lines += ["", (f"Status counts: {counts}. Median CPU {table['cpu_s'].median():.1f} s, "
                   f"median wall {table['wall_s'].median():.1f} s.")]
    lines += solver_lines()
    with atomic_path(BENCH) as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def solver_lines() -> list[str]:
    """The table of ``solvers.py`` (the integrators on the flows beyond the bound), if run."""
    path = HERE / "solvers.csv"
    if not path.is_file():
        return []
    table = pd.read_csv(path)
    lines = ["", "## The integrators (`method`) on the flows beyond the bound", "",
             ("Written by `studies/lyapunov_dysts/solvers.py`: 40 bins, 64 starts, 60 CPU s "
              "per run; field evaluations (with tangents) per bin over all bins advanced "
              "(RK4: 4 per substep). The last two rows: CellularNeuralNetwork at its "
              "defaults, converging (180 CPU s), with DOP853 and with RK4 at 4 substeps a bin "
              "(its Jacobian asks for 1; results.csv has that run: -0.061 +- 0.006 for the "
              "flow's exponent, 21 CPU s)."), "",
             ("| flow | k | method | status | CPU (s) | evaluations / bin | exponents | "
              "sum - divergence |"), "|---|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        ran = pd.notna(r.get("evals_per_bin"))
        if pd.notna(r.get("substeps_given")):
            r["method"] = f"{r['method']} ({int(r['substeps_given'])} substeps)"
        gap = r.get("sum_minus_divergence")
        lines.append(
            f"| {r['flow']} | {r['k']} | {r['method']} | {r['status']} | {r['cpu_s']:.1f} | "
            f"{r['evals_per_bin']:.0f} | {r['exponents']} | "
            f"{'' if pd.isna(gap) else f'{gap:.1e}'} |" if ran else
            f"| {r['flow']} | {r['k']} | {r['method']} | {r['status']} | {r['cpu_s']:.1f} "
            "| | | |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--time-bound", type=float, default=120.0)
    parser.add_argument("--max-steps", type=int, default=None,
                        help="bins per start at most (default: lyapunov_spectrum's, 10000)")
    parser.add_argument("--flows", nargs="*", default=None,
                        help="run these flows only, replacing their rows of results.csv")
    parser.add_argument("--plot-only", action="store_true")
    parser.add_argument("--from-partial", action="store_true",
                        help="write the results of an interrupted run (results.partial.jsonl)"
                             "; the flows it had not reached are listed as 'not run'")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if args.plot_only:
        table = pd.read_csv(HERE / "results.csv")
        bench_table(table, args.time_bound, args.workers, args.max_steps)
        plot(table, args.time_bound, args.max_steps)
        return
    names = args.flows or autonomous_flows()
    if args.from_partial:
        rows = [json.loads(line) for line in (HERE / "results.partial.jsonl").open()]
        seen = {row["flow"] for row in rows}
        rows += [{"flow": n, "status": "not run"} for n in names if n not in seen]
        table = derived(pd.DataFrame(rows).sort_values("flow").reset_index(drop=True))
    else:
        table = derived(run(names, args.workers, args.time_bound, args.max_steps))
        if args.flows and (HERE / "results.csv").is_file():  # those rows replaced, others kept
            kept = pd.read_csv(HERE / "results.csv")
            table = pd.concat([kept[~kept["flow"].isin(names)], table]).sort_values(
                "flow").reset_index(drop=True)
    from dynlens.utils import atomic_path

    with atomic_path(HERE / "results.csv") as tmp:
        table.to_csv(tmp, index=False)
    bench_table(table, args.time_bound, args.workers, args.max_steps)
    plot(table, args.time_bound, args.max_steps)


if __name__ == "__main__":
    main()

"""Benchmark: dynlens.find_fixed_points vs the published FixedPointFinder recipe.

Run from the repository root (about 1.5 minutes on one CPU thread):

    python3 benchmarks/bench_fixed_points.py

It writes ``benchmarks/bench_fixed_points.md``. Both finders run in this one process on the
same dynamics from the same 1024 starting states, one after the other, on one CPU thread.

Systems
- ``gru64``: a 64-unit ``torch.nn.GRUCell`` (float32) trained here, seed 0, for 1500 Adam
  steps on the 3-bit flip-flop task (batches of 128 trials x 64 bins, pulse probability 0.05),
  and analysed with zero input, as in Golub & Sussillo 2018. Starting states: its hidden
  states on 64 task trials plus Gaussian noise, at the published example's noise (0.5) and at
  the dynlens default (0.1 x the per-coordinate spread of the states).
- ``node_mlp``: a NODE-style vector field (float32 MLP 3 -> 128 -> 3, tanh) fitted for 600
  Adam steps to the z-scored Lorenz field, dt = one Lorenz bin.
- ``lorenz``: the float64 ground-truth Lorenz field.

The published recipe (REFERENCE.md section 5), written from its description: all candidates
optimised jointly on mean q with Adam (lr 1.0) and ReduceLROnPlateau(factor 0.95, patience 2),
stop when every q < 1e-12 or |dq| < 1e-20 * lr or after 5000 iterations; then deduplicate
(2-norm < 1e-3, keep the smaller q), drop points farther than 10x the starting states' mean
distance from their centroid, and compute Jacobians and eigendecompositions.

Counts: "distinct" = fixed points with q < 1e-10 after that same deduplication (1e-3) and
outlier rule, for both finders (dynlens run with ``tol_unique=1e-3, region=None`` so that its
post-processing is the published one); "in region" = those within 2 RMS radii of the nearest
noise-free starting state (the region the trajectories visit).
"""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dynlens import systems
from dynlens._utils import atomic_path
from dynlens.analysis import find_fixed_points
from dynlens.analysis._cluster import deduplicate

OUT = Path(__file__).with_suffix(".md")
N_INITS = 1024


# -- the systems ----------------------------------------------------------------------------
def flipflop_batch(gen: torch.Generator, batch: int, bins: int, bits: int = 3, p: float = 0.05):
    pulses = (torch.rand(batch, bins, bits, generator=gen) < p).float()
    signs = torch.where(torch.rand(batch, bins, bits, generator=gen) < 0.5, -1.0, 1.0)
    target, last = torch.zeros(batch, bins, bits), torch.zeros(batch, bits)
    for t in range(bins):
        last = torch.where(pulses[:, t] > 0, signs[:, t], last)
        target[:, t] = last
    return pulses * signs, target


class GRUMap(nn.Module):
    """A GRU cell with zero input as a discrete map of its hidden state."""

    dim, kind, dt = 64, "discrete", None

    def __init__(self, cell: nn.GRUCell) -> None:
        super().__init__()
        self.cell = cell

    def forward(self, x, u=None):
        return self.cell(x.new_zeros(x.shape[0], self.cell.input_size), x)


def train_gru(steps: int = 1500) -> tuple[GRUMap, np.ndarray, float, float]:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    gru, readout = nn.GRU(3, 64, batch_first=True), nn.Linear(64, 3)
    opt = torch.optim.Adam([*gru.parameters(), *readout.parameters()], lr=5e-3)
    start = time.perf_counter()
    for _ in range(steps):
        u, y = flipflop_batch(gen, 128, 64)
        loss = ((readout(gru(u)[0]) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    cell = nn.GRUCell(3, 64)
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in gru.state_dict().items()})
    u, _ = flipflop_batch(gen, 64, 64)
    with torch.no_grad():
        states = gru(u)[0].numpy()
    return GRUMap(cell), states, float(loss.detach()), seconds


class MLPField(nn.Module):
    dim, kind = 3, "continuous"

    def __init__(self, dt: float) -> None:
        super().__init__()
        self.dt = dt
        self.net = nn.Sequential(nn.Linear(3, 128), nn.Tanh(), nn.Linear(128, 3))

    def forward(self, x, u=None):
        return self.net(x)


def train_node(lorenz, steps: int = 600) -> tuple[MLPField, np.ndarray]:
    traj = lorenz.trajectory(3000)
    mean, std = traj.mean(0), traj.std(0)
    field = lorenz(torch.as_tensor(traj)).numpy() / std  # d/dt of z-scored coordinates
    z = torch.as_tensor((traj - mean) / std, dtype=torch.float32)
    target = torch.as_tensor(field, dtype=torch.float32)
    torch.manual_seed(0)
    model = MLPField(lorenz.dt)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        loss = ((model(z) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, z.numpy().astype(np.float64)


# -- the published recipe -------------------------------------------------------------------
def published(dynamics, x0: np.ndarray, dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray, int]:
    """Adam lr 1.0 + ReduceLROnPlateau(0.95, 2) on mean q; stopping rules of REFERENCE.md 5."""
    for p in getattr(dynamics, "parameters", list)():
        p.requires_grad_(False)  # only the states are optimised (restored by the caller)
    x = torch.tensor(x0, dtype=dtype, requires_grad=True)
    opt = torch.optim.Adam([x], lr=1.0)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.95, patience=2)
    prev = None
    for it in range(5000):
        out = dynamics(x)
        q = 0.5 * ((out - x if dynamics.kind == "discrete" else out) ** 2).sum(-1)
        loss = q.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        value = float(loss)
        sched.step(value)
        if bool((q < 1e-12).all()):
            break
        if prev is not None and abs(prev - value) < 1e-20 * opt.param_groups[0]["lr"]:
            break
        prev = value
    with torch.no_grad():
        out = dynamics(x)
        q = 0.5 * ((out - x if dynamics.kind == "discrete" else out) ** 2).sum(-1)
    return x.detach().double().numpy(), q.double().numpy(), it + 1


def published_postprocess(dynamics, x, q, states, dtype):
    """Dedupe at 1e-3 (smaller q kept), 10x outlier rule, Jacobians and eigenvalues."""
    keep = deduplicate(x, q, 1e-3)
    x, q = x[keep], q[keep]
    center = states.mean(0)
    far = np.linalg.norm(x - center, axis=1) > 10 * np.linalg.norm(states - center, axis=1).mean()
    x, q = x[~far], q[~far]
    xt = torch.as_tensor(x, dtype=dtype)
    with torch.no_grad():
        jac = torch.func.vmap(torch.func.jacrev(lambda z: dynamics(z[None])[0]))(xt)
    np.linalg.eig(jac.double().numpy())
    return x, q


# -- measurement ----------------------------------------------------------------------------
def region_count(x: np.ndarray, states: np.ndarray) -> int:
    if not len(x):
        return 0
    radius = np.sqrt(((states - states.mean(0)) ** 2).sum(1).mean())
    return int((cKDTree(states).query(x)[0] <= 2 * radius).sum())


def timed(fn):
    """Result and wall time of ``fn()``; runs under 0.5 s are repeated and the fastest of 5
    kept (at tens of milliseconds one run is mostly noise). Deterministic, so the result of
    every repeat is the same."""
    start = time.perf_counter()
    out = fn()
    best = time.perf_counter() - start
    if best < 0.5:
        for _ in range(4):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
    return out, best


def compare(name: str, dynamics, states: np.ndarray, noise: float,
            dtype: torch.dtype) -> list[dict]:
    rng = np.random.default_rng(0)
    x0 = states[rng.choice(len(states), N_INITS, replace=False)]
    x0 = x0 + noise * rng.standard_normal(x0.shape)
    grads = [p.requires_grad for p in getattr(dynamics, "parameters", list)()]

    def run_published():
        x, q, iters = published(dynamics, x0, dtype)
        return (*published_postprocess(dynamics, x, q, states, dtype), iters)

    (xp, qp, iters), t_pub = timed(run_published)
    for p, flag in zip(getattr(dynamics, "parameters", list)(), grads):
        p.requires_grad_(flag)

    center = states.mean(0)
    limit = 10 * np.linalg.norm(states - center, axis=1).mean()

    def stats(xs, qs):
        good = qs < 1e-10
        return {"distinct": int(good.sum()), "region": region_count(xs[good], states),
                "median_q": float(np.median(qs)) if len(qs) else float("nan")}

    rows = [{"system": name, "noise": noise, "method": "published recipe",
             "iters": str(iters), "time": t_pub, **stats(xp, qp), "extra": ""}]
    for label, kwargs in (("dynlens", {}),
                          ("dynlens, patience=5", {"patience": 5}),
                          ("dynlens, max_iter=10, patience=5", {"max_iter": 10, "patience": 5}),
                          ("dynlens, adam_steps=100", {"adam_steps": 100})):
        # Exactly the rows of x0 (n_inits = all, no extra noise), with the published tolerance
        # and post-processing: dedupe at 1e-3 here, the outlier rule below.
        fps, t_ours = timed(lambda kwargs=kwargs: find_fixed_points(
            dynamics, x0, n_inits=N_INITS, noise=0.0, tol_q=1e-12, tol_unique=1e-3, region=None,
            outlier_factor=1e9, progress=False, **kwargs))
        inside = np.linalg.norm(fps.xstar - center, axis=1) <= limit
        labels = fps.stability[inside & (fps.q < 1e-10)]
        extra = (f"{int((labels == 'stable').sum())} stable, "
                 f"{int((labels == 'unstable').sum())} unstable, "
                 f"{int((labels == 'marginal').sum())} marginal; "
                 f"{len(np.unique(fps.manifold_id[inside]))} manifolds")
        rows.append({"system": name, "noise": noise, "method": label,
                     "iters": f"{fps.info['mean_iterations']:.0f} (mean)", "time": t_ours,
                     **stats(fps.xstar[inside], fps.q[inside]), "extra": extra})
    for r in rows:
        r["ratio"] = t_pub / r["time"]
    return rows


def main() -> None:
    torch.set_num_threads(1)
    lines = []
    gru, gru_states, loss, t_train = train_gru()
    states = gru_states.reshape(-1, 64).astype(np.float64)
    spread = float(np.sqrt(((states - states.mean(0)) ** 2).mean()))
    rows = [*compare("gru64 (flip-flop)", gru, states, 0.5, torch.float32),
            *compare("gru64 (flip-flop)", gru, states, round(0.1 * spread, 4), torch.float32)]
    lorenz = systems.get("lorenz")
    node, z = train_node(lorenz)
    rows += compare("node_mlp (Lorenz fit)", node, z, round(0.1 * float(z.std()), 4),
                    torch.float32)
    traj = lorenz.trajectory(3000)
    rows += compare("lorenz (float64)", lorenz, traj, round(0.1 * float(traj.std()), 4),
                    torch.float64)

    lines += [
        "# find_fixed_points vs the published FixedPointFinder recipe",
        "",
        ("Generated by `python3 benchmarks/bench_fixed_points.py` (see its docstring for the "
        "exact setup)."),
        (f"Machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        "1 CPU thread, both finders in one process on the same 1024 starting states."),
        (f"GRU: 64 units, flip-flop MSE {loss:.2e} after 1500 steps ({t_train:.0f} s of "
        "training)."),
        "",
        ("| system | start noise | method | time (s) | iterations | distinct q < 1e-10 "
        "| of them in region | median q | speed-up vs published | dynlens labels |"),
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['system']} | {r['noise']} | {r['method']} | {r['time']:.2f} | {r['iters']} "
            f"| {r['distinct']} | {r['region']} | {r['median_q']:.1e} | {r['ratio']:.1f}x "
            f"| {r['extra']} |")
    lines.append("")
    ours = [r for r in rows if r["method"] == "dynlens"]
    pub = [r for r in rows if r["method"] == "published recipe"]
    met = sum(o["ratio"] >= 10 and o["distinct"] >= p["distinct"] for o, p in zip(ours, pub))
    more = sum(o["distinct"] >= p["distinct"] for o, p in zip(ours, pub))
    lines += [
        "## Reading",
        "",
        (f"- Goal (>= 10x faster and at least as many distinct fixed points at q < 1e-10): met "
        f"in {met} of {len(ours)} comparisons with default settings. dynlens found at least as "
        f"many distinct points in {more} of {len(ours)}, with a lower median q wherever the "
        f"published recipe kept points; "
        f"speed-ups with defaults range "
        f"{min(o['ratio'] for o in ours):.1f}x to {max(o['ratio'] for o in ours):.1f}x."),
        ("- 64-unit GRU: not met. Each Levenberg-Marquardt iteration over about 1000 "
        "candidates needs their 64 x 64 Jacobians (one batched reverse pass per coordinate) and "
        "float64 Cholesky solves, about 80 published Adam steps' worth, and on this GRU most "
        "candidates creep along the nearly singular valleys that saturated gates create (mean "
        "29 iterations): the isolated fixed points themselves are slow to reach (one of the "
        "unstable points needs about 20 iterations from its best start, and at the default "
        "noise a second stable point appears only after 15 to 20). `patience=5` stops creeping "
        "candidates early and reaches the 10x at the default noise, but there it finds 1 of the "
        "2 stable points and none of the unstable ones, so the default stays thorough "
        "(`patience=20`). The published recipe (lr 1.0) never brings a candidate below "
        "q = 1e-10 in 5000 steps; dynlens brings many to the float32 rounding floor (most on the "
        "sheets of fixed points that saturated gates create, labelled marginal and grouped into "
        "manifolds)."),
        ("- 3-d systems (NODE field, Lorenz): the published recipe stops early on its "
        "|dq| rule, so it is fast, but on the NODE field it stops with most candidates "
        "unconverged (median q ~ 1); dynlens converges every candidate in a few Newton "
        "steps, duplicates merged as soon as they meet. On Lorenz both take tens of "
        "milliseconds; dynlens's default time there is set by about 30 candidates that never "
        "converge and run 10 to 18 iterations before they stop. The `adam_steps=100` row is the former "
        "default (100 joint Adam steps before Levenberg-Marquardt): slower everywhere, and on "
        "the GRU it finds fewer points."),
        ("- Timings are wall-clock on a shared CPU: runs under 0.5 s are the fastest of 5 "
        "repeats, longer ones single runs that vary by about 20 % between runs; the counts are "
        "deterministic."),
        "",
    ]
    text = "\n".join(lines)
    with atomic_path(OUT) as tmp:
        tmp.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

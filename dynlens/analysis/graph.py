"""The fixed-point graph: where the unstable manifolds of the fixed points lead.

:func:`fixed_point_graph` reads as its steps: check the arguments, add the fixed points as
nodes, launch runs along every unstable subspace (:func:`_launches`), run them
(:func:`_simulate`, through :func:`~dynlens.dynamics.rollout`), run on those that have not
yet left their source or reached a point (:func:`_run_on`), decide where each run ends
(:func:`_classify_ends`), and add one weighted edge per source and end (:func:`_add_edges`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import torch
from scipy.spatial import cKDTree

from ..dynamics import eval_mode, rollout
from ..errors import DynlensTypeError, DynlensValueError
from ..utils import check_nonnegative_int, check_positive_float, check_positive_int
from ._cluster import components, link_runs
from ._prepare import Evaluator
from .fixed_points import FixedPoints

__all__ = ["fixed_point_graph"]

_ROUNDS = 4  # extra stretches of n_steps for runs still next to their source or a point


def _unstable_basis(fps: FixedPoints, i: int) -> np.ndarray:
    """Orthonormal real basis [dim, k] of point i's unstable subspace (k = n_unstable)."""
    k = int(fps.n_unstable[i])
    vecs = fps.eigenvectors[i][:, :k]  # eigenvalues are sorted fastest-growing first
    span = np.concatenate([vecs.real, vecs.imag], axis=1)
    u, _s, _ = np.linalg.svd(span, full_matrices=False)
    return u[:, :k]


def _simulate(ev: Evaluator, x0: np.ndarray, n_steps: int, substeps: int,
              keep: int) -> tuple[np.ndarray, np.ndarray]:
    """Run launches for ``n_steps`` bins; return the last ``keep`` states and max norms.

    Maps are iterated and vector fields integrated with fixed-step RK4 at ``dt / substeps``
    (:func:`~dynlens.dynamics.rollout`), at the evaluator's constant input.
    """
    x = ev.tensor(x0)
    with torch.no_grad(), eval_mode(ev.dynamics):
        traj = rollout(ev.dynamics, x, n_steps + 1, ev.u, solver="rk4", substeps=substeps)
    peak = traj.norm(dim=-1).nan_to_num(float("inf")).amax(1)
    seg = traj[:, -keep:]
    return seg.double().cpu().numpy(), peak.double().cpu().numpy()


@dataclass
class _Launches:
    """Runs launched from the unstable fixed points and their final stretches."""

    xs: np.ndarray        # [k, dim] the fixed points
    owner: np.ndarray     # [n] source point of each run
    seg: np.ndarray       # [n, keep, dim] final stretch of each run
    peak: np.ndarray      # [n] largest norm along each run
    reach: float          # runs beyond 1e6 * max(1, reach) diverge

    def bounded(self) -> np.ndarray:
        finite = np.isfinite(self.seg).all(axis=(1, 2)) & np.isfinite(self.peak)
        return finite & (self.peak <= 1e6 * max(1.0, self.reach))

    def near_source(self, radius: float, tail: int) -> np.ndarray:
        """Runs whose last ``tail`` states all stay within ``radius`` of their own source."""
        return (np.linalg.norm(self.seg[:, -tail:] - self.xs[self.owner][:, None], axis=-1)
                <= radius).all(1)


def _scale(xs: np.ndarray) -> float:
    """RMS spread of the fixed points (of their magnitudes for one point), at least 1e-3."""
    if len(xs) > 1:
        scale = float(np.sqrt(((xs - xs.mean(0)) ** 2).sum(1).mean()))
    else:
        scale = float(np.sqrt((xs ** 2).sum(1).mean())) if len(xs) else 0.0
    return max(scale, 1e-3)


def _add_fixed_points(graph: nx.DiGraph, fps: FixedPoints) -> None:
    for i in range(len(fps)):
        graph.add_node(i, kind="fixed_point", position=fps.xstar[i],
                       stability=str(fps.stability[i]), n_unstable=int(fps.n_unstable[i]),
                       n_marginal=int(fps.n_marginal[i]), eigenvalues=fps.eigenvalues[i],
                       manifold_id=int(fps.manifold_id[i]), q=float(fps.q[i]))


def _launches(fps: FixedPoints, eps: float, n_random: int,
              seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Starting states ``eps`` away from each unstable point along its unstable subspace
    (basis directions and ``n_random`` random ones, each with both signs), and their owner."""
    rng = np.random.default_rng(seed)
    starts, owner = [], []
    for i in np.flatnonzero(fps.n_unstable > 0):
        basis = _unstable_basis(fps, i)
        dirs = [basis.T]
        if n_random:
            c = rng.standard_normal((n_random, basis.shape[1]))
            dirs.append((c / np.linalg.norm(c, axis=1, keepdims=True)) @ basis.T)
        d = np.concatenate(dirs)
        d = np.concatenate([d, -d])  # both signs: antithetic pairs
        starts.append(fps.xstar[i] + eps * d)
        owner += [i] * len(d)
    if not starts:
        return np.zeros((0, fps.dim)), np.zeros(0, dtype=np.int64)
    return np.concatenate(starts), np.asarray(owner)


def _default_radius(runs: _Launches, scale: float) -> float:
    """5 % of the scale of the fixed points and the runs' bounded final states."""
    pts = np.concatenate([runs.xs, runs.seg[runs.bounded(), -1]])
    extent = float(np.sqrt(((pts - pts.mean(0)) ** 2).sum(1).mean())) if len(pts) > 1 else 0
    return 0.05 * max(extent, scale)


def _run_on(ev: Evaluator, runs: _Launches, radius: float, tail: int, n_steps: int,
            substeps: int) -> None:
    """Run on (in place), for up to ``_ROUNDS`` more stretches of ``n_steps``, the runs still
    next to their own source (weakly unstable points need longer to leave) or closing in on a
    listed point without having reached it (weakly stable ones need longer to be reached)."""
    xs, keep = runs.xs, runs.seg.shape[1]
    for _ in range(_ROUNDS):
        home = runs.near_source(radius, tail)
        dist = np.linalg.norm(runs.seg[:, -tail:, None, :] - xs[None, None], axis=-1)
        at_point = (dist <= radius).all(1).any(1)
        start = np.linalg.norm(runs.seg[:, :1, None, :] - xs[None, None], axis=-1).min(-1)[:, 0]
        end = dist[:, -1].min(1)
        closing = (end < start) & (end <= 3 * radius)  # approaching a point, not there yet
        stay = runs.bounded() & (home | (closing & ~at_point))
        if not stay.any():
            break
        more, more_peak = _simulate(ev, runs.seg[stay, -1], n_steps, substeps, keep)
        runs.seg[stay], runs.peak[stay] = more, np.maximum(runs.peak[stay], more_peak)


def _ends_at(xs: np.ndarray, stretch: np.ndarray, last: int, radius: float) -> np.ndarray:
    """Index of the listed point each run's last ``last`` states stay near, else -1."""
    if not len(xs) or not len(stretch):
        return np.full(len(stretch), -1)
    d = np.linalg.norm(stretch[:, -last:, None, :] - xs[None, None], axis=-1)
    near = (d <= radius).all(axis=1)
    return np.where(near.any(axis=1), np.argmin(d[:, -1], axis=1), -1)


def _attractors(ev: Evaluator, graph: nx.DiGraph, runs: _Launches, moving: np.ndarray,
                target: np.ndarray, radius: float, n_steps: int, substeps: int) -> None:
    """Run the unsettled runs ``moving`` 4 n_steps further: they may still reach a listed
    point (after wandering past others); those that do not are on a limit cycle or chaotic
    set, and runs whose long runs come within 2 radius of each other share one attractor
    node. Sets ``target`` in place."""
    more = _simulate(ev, runs.seg[moving, -1], 4 * n_steps, substeps, 4 * n_steps)[0]
    blown = ~np.isfinite(more).all(axis=(1, 2))
    target[moving[blown]] = "diverges"
    late = np.where(blown, -1, _ends_at(runs.xs, np.nan_to_num(more),
                                        max(2, 4 * n_steps // 10), radius))
    for j, v in zip(moving, late):
        if v >= 0:
            target[j] = int(v)
    on_set = ~blown & (late < 0)
    members, sub = moving[on_set], more[on_set][:, :: max(1, more.shape[1] // 1000)]
    if not len(members):
        return
    # Runs sampled once per bin on one set can pass each other between samples: link them
    # within 2 radius or one typical sampling step, whichever is larger.
    step = float(np.median(np.linalg.norm(np.diff(sub, axis=1), axis=-1))) \
        if sub.shape[1] > 1 else 0.0
    labels = link_runs(sub, max(2 * radius, step))
    for lab in np.unique(labels):
        graph.add_node(f"attractor {int(lab)}", kind="attractor",
                       position=sub[labels == lab].mean(axis=(0, 1)),
                       n_launches=int((labels == lab).sum()))
        target[members[labels == lab]] = f"attractor {int(lab)}"


def _unlisted(graph: nx.DiGraph, final: np.ndarray, members: np.ndarray,
              target: np.ndarray, radius: float) -> None:
    """Settled runs that end near no listed point: one node per cluster within ``radius``."""
    if not len(members):
        return
    labels = components(len(members), cKDTree(final[members]).query_pairs(
        radius, output_type="ndarray"))
    for lab in np.unique(labels):
        graph.add_node(f"unlisted {int(lab)}", kind="unlisted_fixed_point",
                       position=final[members[labels == lab]].mean(0),
                       n_launches=int((labels == lab).sum()))
        target[members[labels == lab]] = f"unlisted {int(lab)}"


def _classify_ends(ev: Evaluator, graph: nx.DiGraph, runs: _Launches, radius: float,
                   tail: int, n_steps: int, substeps: int) -> np.ndarray:
    """Where each run ends: a fixed point's index, ``"attractor k"``, ``"unlisted k"`` or
    ``"diverges"`` (adding the nodes other than fixed points, except "diverges")."""
    bounded = runs.bounded()
    final = runs.seg[:, -1]
    target = np.full(len(runs.owner), None, dtype=object)
    target[~bounded] = "diverges"
    idx = np.flatnonzero(bounded)
    for j, v in zip(idx, _ends_at(runs.xs, runs.seg[idx], tail, radius)):
        if v >= 0:
            target[j] = int(v)
    rest = np.flatnonzero(bounded & np.array([t is None for t in target]))
    settled = np.linalg.norm(runs.seg[rest] - runs.seg[rest][:, -1:], axis=-1).max(1) <= radius
    moving = rest[~settled]
    if len(moving):
        _attractors(ev, graph, runs, moving, target, radius, n_steps, substeps)
    _unlisted(graph, final, rest[settled], target, radius)
    return target


def _add_edges(graph: nx.DiGraph, owner: np.ndarray, target: np.ndarray,
               stayed: np.ndarray) -> None:
    """One edge per source and end (weight: fraction of the source's runs), the
    "diverges" node, and each source's ``n_launches`` and ``n_stayed``."""
    if (target == "diverges").any():
        graph.add_node("diverges", kind="diverges", position=None,
                       n_launches=int((target == "diverges").sum()))
    for i in np.unique(owner):
        graph.nodes[int(i)]["n_launches"] = int((owner == i).sum())
        graph.nodes[int(i)]["n_stayed"] = int((stayed & (owner == i)).sum())
        mine = target[(owner == i) & ~stayed]
        names, counts = np.unique(np.array([str(t) for t in mine]), return_counts=True)
        for name, count in zip(names, counts):
            v = int(name) if name.isdigit() else str(name)
            graph.add_edge(int(i), v, weight=float(count / (owner == i).sum()), count=int(count))


def fixed_point_graph(
    dynamics: Any,
    fps: FixedPoints,
    *,
    n_random: int = 4,
    perturbation: float | None = None,
    n_steps: int = 1000,
    radius: float | None = None,
    substeps: int = 4,
    seed: int = 0,
) -> nx.DiGraph:
    """Which fixed points (or other attractors) each unstable fixed point's outflow reaches.

    From every fixed point with unstable directions, trajectories are launched a small step
    ``perturbation`` away along its unstable eigenvectors (each basis direction of the
    unstable subspace with both signs, plus ``n_random`` random directions in that subspace,
    each with both signs) and run for ``n_steps`` bins (maps are iterated; vector fields are
    integrated with fixed-step RK4 at ``dt / substeps``). A launch *ends at* a fixed point
    when the last tenth of its run stays within ``radius`` of it. Launches still next to
    their own source (weakly unstable points, such as Lorenz's C+-) or closing in on a
    listed point without having reached it (a weakly stable one) are run on for up to 4 more
    stretches of ``n_steps``; those that never leave their source add no edge (node
    attribute ``n_stayed``). The graph therefore traces the
    unstable manifolds: an edge ``u -> v`` is a heteroclinic connection (the unstable
    manifold of ``u`` falls onto ``v``), typically from a saddle to the attractors on either
    side of it; stable and marginal points have no outgoing edges.

    Launches that end elsewhere get their own nodes: a bounded launch that settles but not
    near a listed fixed point ends at an ``"unlisted_fixed_point"`` (e.g. another point of a
    line attractor); one that stays bounded but keeps moving ends on an ``"attractor"`` (a
    limit cycle or chaotic set; such launches are run ``4 n_steps`` further, and those still
    reaching no listed point whose runs come within ``2 radius`` (or one median sampling
    step of the runs, if larger) of each other share one node, placed at their mean);
    non-finite or far-escaping launches (beyond 1e6 times the largest fixed point's norm plus
    the scale, at least 1e6) go to ``"diverges"``.

    Parameters
    ----------
    dynamics : Dynamics or callable with ``dim`` and ``kind``
        The system ``fps`` was found for (its constant input ``fps.inputs`` is reused).
    fps : FixedPoints
    n_random : int
        Random unstable directions per point, in addition to the basis directions.
    perturbation : float, optional
        Launch distance; default 1e-3 times the scale (the RMS spread of the fixed points, or
        of their magnitudes when there is one, at least 1e-3).
    n_steps : int
        Bins to run each launch for.
    radius : float, optional
        "Near" distance; default 5 % of the scale computed over the fixed points and the
        launches' final stretches.
    substeps : int
        RK4 steps per bin (vector fields only).
    seed : int
        Seed of the random launch directions.

    Returns
    -------
    networkx.DiGraph
        Nodes ``0 .. len(fps) - 1`` are the fixed points, with attributes ``kind``
        ("fixed_point"), ``position``, ``stability``, ``n_unstable``, ``n_marginal``,
        ``eigenvalues``, ``manifold_id``, ``q``; other nodes are named ``"attractor 0"``,
        ``"unlisted 0"``, ``"diverges"`` with ``kind`` and ``position`` (mean final state).
        Edges carry ``weight`` (fraction of the source's launches) and ``count``; fixed
        points with unstable directions also have ``n_launches`` and ``n_stayed``.
        ``graph.graph`` records the settings.

    Examples
    --------
    >>> import torch
    >>> from dynlens import Dynamics
    >>> from dynlens.analysis import find_fixed_points
    >>> class DoubleWell(Dynamics):
    ...     def __init__(self):
    ...         super().__init__(dim=2, kind="continuous", dt=0.1)
    ...     def forward(self, x, u=None):
    ...         return torch.stack([x[..., 1], x[..., 0] - x[..., 0] ** 3 - 0.5 * x[..., 1]], -1)
    >>> f = DoubleWell()
    >>> fps = find_fixed_points(f, [[-1.0, 0.1], [0.1, 0.0], [1.0, -0.1]], n_inits=16)
    >>> g = fixed_point_graph(f, fps, n_steps=300)
    >>> sorted((u, v, round(w, 2)) for u, v, w in g.edges(data="weight"))
    [(1, 0, 0.5), (1, 2, 0.5)]
    """
    if not isinstance(fps, FixedPoints):
        raise DynlensTypeError(f"fps: expected a FixedPoints, found {type(fps).__name__}")
    ev = Evaluator(dynamics, fps.inputs)
    if ev.dim != fps.dim or ev.kind != fps.kind:
        raise DynlensValueError(
            f"fps: expected fixed points of this {ev.dim}-d {ev.kind} dynamics, found "
            f"{fps.dim}-d {fps.kind} fixed points")
    n_random = check_nonnegative_int(n_random, "n_random")
    n_steps = check_positive_int(n_steps, "n_steps")
    substeps = check_positive_int(substeps, "substeps")
    seed = check_nonnegative_int(seed, "seed")
    if radius is not None:
        radius = check_positive_float(radius, "radius")
    scale = _scale(fps.xstar)
    eps = 1e-3 * scale if perturbation is None else check_positive_float(perturbation,
                                                                           "perturbation")

    graph = nx.DiGraph()
    _add_fixed_points(graph, fps)
    x0, owner = _launches(fps, eps, n_random, seed)
    graph.graph.update(kind=fps.kind, dt=fps.dt, n_steps=n_steps, perturbation=eps,
                       n_random=n_random, seed=seed)
    if not len(x0):
        graph.graph["radius"] = radius
        return graph
    keep = min(n_steps, max(2, n_steps // 4))  # final stretch kept per launch
    seg, peak = _simulate(ev, x0, n_steps, substeps, keep)
    xs = fps.xstar
    runs = _Launches(xs, owner, seg, peak, float(np.sqrt((xs ** 2).sum(1)).max()) + scale)
    radius = _default_radius(runs, scale) if radius is None else radius
    graph.graph["radius"] = radius
    tail = max(2, keep * 2 // 5)  # last tenth of the run: must stay near a point to end there
    _run_on(ev, runs, radius, tail, n_steps, substeps)
    stayed = runs.bounded() & runs.near_source(radius, tail)
    target = _classify_ends(ev, graph, runs, radius, tail, n_steps, substeps)
    _add_edges(graph, owner, target, stayed)
    return graph

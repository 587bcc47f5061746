"""The fixed-point graph: where the unstable manifolds of the fixed points lead.

:func:`fixed_point_graph` reads as its steps: check the arguments, add the fixed points as
nodes, launch runs along every unstable subspace (:func:`_launches`), run them stretch by
stretch under one budget (:class:`_Runs`, through :func:`~dynlens.dynamics.rollout`), each
run stopping as soon as its end is known (a listed point, a settled unlisted state, or
escape), decide where the rest end (:func:`_classify_rest`), and add one weighted edge per
source and end (:func:`_add_edges`).
"""

from __future__ import annotations

import math
from typing import Any

import networkx as nx
import numpy as np
import torch
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist
from tqdm.auto import tqdm

from ..dynamics import eval_mode, rollout
from ..errors import DynlensTypeError, DynlensValueError
from ..threads import ThreadPolicy, check_threads, model_work
from ..utils import check_nonnegative_int, check_positive_float, check_positive_int
from ._cluster import components, link_runs
from ._prepare import Evaluator
from .fixed_points import FixedPoints

__all__ = ["fixed_point_graph"]

_STRETCHES = 5  # default budget: this many stretches of n_steps bins per launch
_CHUNKS = 10  # rollout calls per stretch (the progress bar moves once per call)
_KEEP_SAMPLES = 1000  # states kept per run for linking runs on one attractor
_STEP_SCALE = 0.5  # automatic substeps: |lambda| h at most this at every fixed point


def _unstable_basis(fps: FixedPoints, i: int) -> np.ndarray:
    """Orthonormal real basis [dim, k] of point i's unstable subspace (k = n_unstable)."""
    k = int(fps.n_unstable[i])
    vecs = fps.eigenvectors[i][:, :k]  # eigenvalues are sorted fastest-growing first
    span = np.concatenate([vecs.real, vecs.imag], axis=1)
    u, _s, _ = np.linalg.svd(span, full_matrices=False)
    return u[:, :k]


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


def _ends_at(xs: np.ndarray, stretch: np.ndarray, last: int, radius: float) -> np.ndarray:
    """Index of the listed point each run's last ``last`` states stay near, else -1."""
    if not len(xs) or not len(stretch):
        return np.full(len(stretch), -1)
    d = np.linalg.norm(stretch[:, -last:, None, :] - xs[None, None], axis=-1)
    near = (d <= radius).all(axis=1)
    return np.where(near.any(axis=1), np.argmin(d[:, -1], axis=1), -1)


def _auto_substeps(fps: FixedPoints) -> int:
    """RK4 steps per bin so that ``|lambda| h <= 0.5`` at every fixed point (at least 1)."""
    if fps.kind != "continuous" or not len(fps):
        return 1
    fastest = float(np.abs(fps.eigenvalues).max()) * (fps.dt or 1.0)
    return max(1, math.ceil(fastest / _STEP_SCALE))


class _Runs:
    """The launches, run stretch by stretch; a run stops as soon as its end is decided.

    ``target`` holds each decided end: a fixed point's index, ``"diverges"``, ``"unlisted"``
    (a settled state near no listed point, clustered later) or, for runs still going when the
    budget is spent, ``"home"``, ``"closing"`` or ``"moving"``.
    """

    def __init__(self, ev: Evaluator, x0: np.ndarray, owner: np.ndarray, xs: np.ndarray,
                 substeps: int, every: int) -> None:
        self.ev, self.owner, self.xs, self.substeps, self.every = ev, owner, xs, substeps, every
        reach = float(np.sqrt((xs ** 2).sum(1)).max()) + _scale(xs)
        self.limit = 1e6 * max(1.0, reach)  # beyond: diverged
        self.far = 10 * max(1.0, reach)  # beyond and still receding: escaping
        self.state = np.array(x0, dtype=np.float64)
        self.final = self.state.copy()
        self.target = np.full(len(owner), None, dtype=object)
        self.bins = np.zeros(len(owner), dtype=np.int64)
        self.samples: list[list[np.ndarray]] = [[] for _ in owner]  # after the first stretch
        self.stretch_start = np.zeros(len(owner), dtype=np.int64)  # this stretch's samples

    def going(self) -> np.ndarray:
        return np.flatnonzero(np.array([t is None for t in self.target], dtype=bool))

    def stretch(self, idx: np.ndarray, n_bins: int, keep: int,
                bar: Any) -> tuple[np.ndarray, np.ndarray]:
        """Run ``idx`` for ``n_bins`` bins (in ``_CHUNKS`` calls); their last ``keep`` states
        and whether they stayed finite and within the divergence limit."""
        ev, x = self.ev, self.ev.tensor(self.state[idx])
        kept, ok = np.zeros((len(idx), 0, self.xs.shape[1])), np.ones(len(idx), dtype=bool)
        step = max(1, math.ceil(n_bins / _CHUNKS))
        self.stretch_start[idx] = [len(self.samples[run]) for run in idx]
        with torch.no_grad(), eval_mode(ev.dynamics):
            for start in range(0, n_bins, step):
                n = min(step, n_bins - start)
                path = rollout(ev.dynamics, x, n + 1, ev.u, solver="rk4",
                               substeps=self.substeps)[:, 1:]
                x = path[:, -1]
                peak = path.norm(dim=-1).nan_to_num(float("inf")).amax(1)
                ok &= (peak <= self.limit).cpu().numpy()
                seg = path.double().cpu().numpy()
                kept = np.concatenate([kept, seg], axis=1)[:, -keep:]
                bins = self.bins[idx[0]] + start + np.arange(1, n + 1)
                if self.bins[idx[0]] > 0:  # the first stretch is the transient: not sampled
                    for j, run in enumerate(idx):
                        self.samples[run].append(seg[j, bins % self.every == 0])
                bar.update(n)
        self.bins[idx] += n_bins
        self.state[idx] = np.where(ok[:, None], kept[:, -1], self.state[idx])
        return kept, ok

    def decide(self, idx: np.ndarray, kept: np.ndarray, ok: np.ndarray, radius: float,
               tail: int) -> None:
        """Set the ends now known: diverged or escaping, at a listed point other than the
        source, or settled near none; the rest (still next to the source, closing in on a
        point, or moving) go on."""
        final = kept[:, -1]
        self.final[idx] = np.nan_to_num(final)
        home, closing = self._home_closing(idx, kept, radius, tail)
        at = _ends_at(self.xs, np.nan_to_num(kept), tail, radius)
        closing &= at < 0
        settled = (np.linalg.norm(kept - final[:, None], axis=-1) <= radius).all(1)
        for j, run in enumerate(idx):
            if not ok[j] or self._escaping(kept[j]):
                self.target[run] = "diverges"
            elif not home[j] and at[j] >= 0:
                self.target[run] = int(at[j])
            elif not home[j] and not closing[j] and settled[j]:
                self.target[run] = "unlisted"
            elif not home[j] and not closing[j] and self._recurrent(run, radius):
                self.target[run] = "moving"  # on a limit cycle or chaotic set

    def _home_closing(self, idx: np.ndarray, kept: np.ndarray, radius: float,
                      tail: int) -> tuple[np.ndarray, np.ndarray]:
        """Which runs stayed within ``radius`` of their own source over their last ``tail``
        states, and which end nearer a listed point than they began, within ``3 radius`` of
        it (closing in)."""
        home = (np.linalg.norm(kept[:, -tail:] - self.xs[self.owner[idx]][:, None], axis=-1)
                <= radius).all(1)
        start = np.linalg.norm(kept[:, :1] - self.xs[None], axis=-1).min(-1)
        end = np.linalg.norm(kept[:, -1, None] - self.xs[None], axis=-1).min(-1)
        return home, (end < start) & (end <= 3 * radius)

    def _recurrent(self, run: int, radius: float) -> bool:
        """Whether this stretch's path returns: some state is followed by one beyond
        ``4 radius`` of it and then by one within ``2 radius`` of it again (both widened to
        the run's median sampling step when that is larger), which a run drifting towards
        a point never does (the first stretch, not sampled, never counts)."""
        mine = self.samples[run][self.stretch_start[run]:]
        if not mine:
            return False
        path = np.concatenate(mine)
        step = float(np.median(np.linalg.norm(np.diff(path, axis=0), axis=-1))) if len(
            path) > 1 else 0.0
        near = max(2 * radius, step)
        d = cdist(path, path)
        later = np.triu(np.ones(d.shape, dtype=bool), 1)
        went = (d > 2 * near) & later
        first_away = np.where(went.any(1), went.argmax(1), len(path))
        back = (d <= near) & later
        last_back = np.where(back.any(1), len(path) - 1 - back[:, ::-1].argmax(1), -1)
        return bool((last_back > first_away).any())

    def _escaping(self, kept: np.ndarray) -> bool:
        """Beyond ``far`` and receding over the whole kept stretch (a field that saturates
        far away, as a tanh network does, lets runs escape only linearly)."""
        d = np.linalg.norm(kept, axis=-1)
        half = len(d) // 2
        return bool(half and d[-1] > self.far and d[half:].min() > d[:half].max())

    def spend(self, idx: np.ndarray, kept: np.ndarray, radius: float, tail: int) -> None:
        """The budget is spent: label the runs still going by where they are."""
        home, closing = self._home_closing(idx, kept, radius, tail)
        for j, run in enumerate(idx):
            self.target[run] = "home" if home[j] else (
                "closing" if closing[j] else "moving")
            if self.target[run] == "moving" and not self.samples[run]:
                self.samples[run].append(kept[j])  # a one-stretch budget: its last part


def _default_radius(xs: np.ndarray, final: np.ndarray, scale: float) -> float:
    """5 % of the scale of the fixed points and the bounded runs' final states."""
    pts = np.concatenate([xs, final])
    extent = float(np.sqrt(((pts - pts.mean(0)) ** 2).sum(1).mean())) if len(pts) > 1 else 0
    return 0.05 * max(extent, scale)


def _run(runs: _Runs, n_steps: int, max_bins: int, radius: float | None, scale: float,
         progress: bool) -> float:
    """Run every launch until its end is decided or it has run ``max_bins`` bins; return the
    radius (default: from the first stretch)."""
    stretch = min(n_steps, max_bins)
    keep = min(stretch, max(2, stretch // 4))  # final part of a stretch kept per launch
    tail = max(2, keep * 2 // 5)  # last tenth of a stretch: must stay near a point to end there
    bar = tqdm(total=max_bins, disable=not progress, desc="fixed-point graph", unit="bin",
               leave=False)
    try:
        while len(idx := runs.going()):
            n = min(stretch, max_bins - int(runs.bins[idx].max()))
            kept, ok = runs.stretch(idx, n, min(keep, n), bar)
            bar.set_postfix(running=len(idx))
            if radius is None:
                escaping = np.array([runs._escaping(k) for k in kept], dtype=bool)
                radius = _default_radius(runs.xs, kept[ok & ~escaping, -1], scale)
            runs.decide(idx, kept, ok, radius, min(tail, n))
            if runs.bins[idx].max() >= max_bins and len(left := runs.going()):
                where = np.searchsorted(idx, left)
                runs.spend(left, kept[where], radius, min(tail, n))
    finally:
        bar.close()
    return radius


def _attractors(graph: nx.DiGraph, runs: _Runs, members: np.ndarray, radius: float) -> None:
    """Runs still moving (recurrent, or when the budget is spent) are on a limit cycle or
    chaotic set: those whose sampled paths come within 2 radius of each other share one
    node."""
    if not len(members):
        return
    paths = [np.concatenate(runs.samples[r]) for r in members]  # lengths may differ
    # Runs sampled once per bin (or sparser) can pass each other between samples: link
    # them within 2 radius or one typical sampling step, whichever is larger.
    steps = np.concatenate([np.linalg.norm(np.diff(p, axis=0), axis=-1) for p in paths])
    labels = link_runs(paths, max(2 * radius, float(np.median(steps)) if len(steps) else 0.0))
    for lab in np.unique(labels):
        graph.add_node(f"attractor {int(lab)}", kind="attractor",
                       position=np.concatenate([p for p, k in zip(paths, labels) if k == lab])
                       .mean(0), n_launches=int((labels == lab).sum()))
        runs.target[members[labels == lab]] = f"attractor {int(lab)}"


def _cut_note(target: np.ndarray, max_bins: int) -> str:
    """What the budget cut short, in one sentence ("" when nothing)."""
    home, closing = int((target == "home").sum()), int((target == "closing").sum())
    parts = []
    if home:
        parts.append(f"{home} launch(es) still next to their source (counted in n_stayed)")
    if closing:
        parts.append(f"{closing} launch(es) still closing in on a fixed point (counted as "
                     f"ending at it)")
    if not parts:
        return ""
    return (f"max_bins={max_bins} reached with " + " and ".join(parts)
            + "; a larger max_bins follows them further")


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


def _resolve_ends(graph: nx.DiGraph, runs: _Runs, radius: float) -> np.ndarray:
    """Turn the runs' labels into node names (adding unlisted and attractor nodes); return
    which runs stayed next to their source."""
    target = runs.target
    stayed = target == "home"
    closing = np.flatnonzero(target == "closing")
    if len(closing):  # approaching a point when the budget ran out: they end there
        d = np.linalg.norm(runs.final[closing, None] - runs.xs[None], axis=-1)
        target[closing] = [int(v) for v in d.argmin(1)]
    _unlisted(graph, runs.final, np.flatnonzero(target == "unlisted"), target, radius)
    _attractors(graph, runs, np.flatnonzero(target == "moving"), radius)
    target[stayed] = runs.owner[stayed]
    return stayed


def fixed_point_graph(
    dynamics: Any,
    fps: FixedPoints,
    *,
    n_random: int = 4,
    perturbation: float | None = None,
    n_steps: int = 1000,
    max_bins: int | None = None,
    radius: float | None = None,
    substeps: int | None = None,
    seed: int = 0,
    progress: bool = True,
    threads: int | str = "auto",
) -> nx.DiGraph:
    """Which fixed points (or other attractors) each unstable fixed point's outflow reaches.

    From every fixed point with unstable directions, trajectories are launched a small step
    ``perturbation`` away along its unstable eigenvectors (each basis direction of the
    unstable subspace with both signs, plus ``n_random`` random directions in that subspace,
    each with both signs) and run in stretches of ``n_steps`` bins (maps are iterated; vector
    fields are integrated with fixed-step RK4 at ``dt / substeps``). After each stretch a
    launch stops once its end is known: it *ends at* a fixed point when the last tenth of the
    stretch stays within ``radius`` of it; it ends at an ``"unlisted_fixed_point"`` when it
    has settled (the last quarter of the stretch within ``radius`` of its final state) near
    no listed point (e.g. another point of a line attractor); it goes to ``"diverges"`` when
    it turns non-finite, goes beyond 1e6 times the reach of the fixed points (the largest
    norm plus their spread, at least 1), or escapes (beyond 10 times that reach and receding
    throughout the last quarter: a field that saturates far away, as a tanh network does,
    lets runs escape only linearly). Launches still next to their own source (weakly
    unstable points, such as Lorenz's C+-), closing in on a listed point (a weakly stable
    one) or moving go on, until every launch has run ``max_bins`` bins in all, except that a
    launch whose path in a stretch after its first returns within ``2 radius`` of its final
    state after going beyond ``4 radius`` is on an ``"attractor"`` at once.

    **The bound on the work**: each launch runs at most ``max_bins`` bins (default 5
    stretches, ``5 n_steps``), so the whole graph costs at most ``max_bins`` evaluations of
    a map, or ``4 substeps max_bins`` of a field, for every launch at once, one batch per
    step. Launches still going when the bound is reached are labelled by where they are:
    still next to their source, they add no edge (node attribute ``n_stayed``); closing in
    on a point, they end at it; moving, they are on an ``"attractor"`` (a limit cycle or
    chaotic set: launches whose sampled paths after their first stretch come within
    ``2 radius`` (or one median sampling step, if larger) of each other share one node,
    placed at their mean). ``graph.graph["note"]`` says what the bound cut short ("" when
    nothing). The graph traces the unstable manifolds: an edge ``u -> v`` is a heteroclinic
    connection (the unstable manifold of ``u`` falls onto ``v``), typically from a saddle to
    the attractors on either side of it; stable and marginal points have no outgoing edges.

    Parameters
    ----------
    dynamics : Dynamics or callable with ``dim`` and ``kind``
        The system ``fps`` was found for (its constant input ``fps.inputs`` is reused).
    fps : FixedPoints
        The fixed points to connect (from :func:`find_fixed_points` or
        :meth:`FixedPoints.from_points`).
    n_random : int
        Random unstable directions per point, in addition to the basis directions.
    perturbation : float, optional
        Launch distance; default 1e-3 times the scale (the RMS spread of the fixed points, or
        of their magnitudes when there is one, at least 1e-3).
    n_steps : int
        Bins per stretch: launches are checked (and stop when their end is known) after each.
    max_bins : int, optional
        The bound: bins each launch runs at most, all stretches together (default
        ``5 n_steps``).
    radius : float, optional
        "Near" distance; default 5 % of the scale computed over the fixed points and the
        final states of the first stretch's bounded launches.
    substeps : int, optional
        RK4 steps per bin (vector fields only); default the fewest with ``|lambda| h <= 0.5``
        for every eigenvalue at the fixed points (``h = dt / substeps``), at least 1.
    seed : int
        Seed of the random launch directions.
    progress : bool
        Show a tqdm progress bar of the bins run (and launches still running); it is removed
        when the graph is done.
    threads : "auto" or int
        torch's CPU threads while running the launches (restored afterwards; see
        :mod:`dynlens.threads`). ``"auto"`` uses one for small fields: every step is a small
        batch, and a second thread beside a busy process makes each step wait (on a busy
        2-core machine, 526 s instead of 12 s for a NODE-3).

    Returns
    -------
    networkx.DiGraph
        Nodes ``0 .. len(fps) - 1`` are the fixed points, with attributes ``kind``
        ("fixed_point"), ``position``, ``stability``, ``n_unstable``, ``n_marginal``,
        ``eigenvalues``, ``manifold_id``, ``q``; other nodes are named ``"attractor 0"``,
        ``"unlisted 0"``, ``"diverges"`` with ``kind`` and ``position`` (mean final state).
        Edges carry ``weight`` (fraction of the source's launches) and ``count``; fixed
        points with unstable directions also have ``n_launches`` and ``n_stayed``.
        ``graph.graph`` records the settings (``n_steps``, ``max_bins``, ``substeps``,
        ``radius``, ...), ``bins_run`` (the most bins any launch ran) and ``note``.

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
    >>> g = fixed_point_graph(f, fps, n_steps=300, progress=False)
    >>> sorted((u, v, round(w, 2)) for u, v, w in g.edges(data="weight"))
    [(1, 0, 0.5), (1, 2, 0.5)]
    >>> g.graph["bins_run"], g.graph["note"]  # every launch settled in its first stretch
    (300, '')
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
    max_bins = _STRETCHES * n_steps if max_bins is None else check_positive_int(max_bins,
                                                                                "max_bins")
    substeps = _auto_substeps(fps) if substeps is None else check_positive_int(substeps,
                                                                               "substeps")
    seed = check_nonnegative_int(seed, "seed")
    check_threads(threads)
    if not isinstance(progress, (bool, np.bool_)):
        raise DynlensTypeError(f"progress: expected True or False, found {progress!r}")
    if radius is not None:
        radius = check_positive_float(radius, "radius")
    scale = _scale(fps.xstar)
    eps = 1e-3 * scale if perturbation is None else check_positive_float(perturbation,
                                                                           "perturbation")

    graph = nx.DiGraph()
    _add_fixed_points(graph, fps)
    x0, owner = _launches(fps, eps, n_random, seed)
    graph.graph.update(kind=fps.kind, dt=fps.dt, n_steps=n_steps, max_bins=max_bins,
                       substeps=substeps, perturbation=eps, n_random=n_random, seed=seed,
                       radius=radius, bins_run=0, note="")
    if not len(x0):
        return graph
    runs = _Runs(ev, x0, owner, fps.xstar, substeps, max(1, math.ceil(max_bins /
                                                                       _KEEP_SAMPLES)))
    with ThreadPolicy(threads, work=model_work(ev.dynamics, len(x0), ev.dim)):
        radius = _run(runs, n_steps, max_bins, radius, scale, bool(progress))
    note = _cut_note(runs.target, max_bins)
    stayed = _resolve_ends(graph, runs, radius)
    _add_edges(graph, owner, runs.target, stayed)
    graph.graph.update(radius=radius, bins_run=int(runs.bins.max()), note=note)
    return graph

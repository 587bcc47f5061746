"""Figures of the analysis layer: fixed points, spectra, the fixed-point graph, alignment.

Every function returns a :class:`matplotlib.figure.Figure` and never calls ``plt.show()``.
Stability colours are the same everywhere: stable blue, unstable red, marginal green.

Examples
--------
>>> import numpy as np
>>> from dynlens.analysis import Linearization
>>> lin = Linearization.from_jacobians(np.array([[[0.9, 0.2], [-0.2, 0.9]]]), "discrete")
>>> eigenvalues(lin).axes[0].get_xlabel()
'Re $\\\\lambda$ (factor per bin)'
>>> field = Linearization.from_jacobians(np.array([[[-1.0, 0.0], [0.0, -2.0]]]), "continuous",
...                                      dt=0.1)
>>> eigenvalues(field).axes[0].get_xlabel()
'Re $\\\\lambda$ (per time unit; 1 bin = 0.1 time units)'
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from sklearn.decomposition import PCA

from ..analysis.alignment import AffineAlignment
from ..analysis.compare import FixedPointComparison, count_words
from ..analysis.fixed_points import FixedPoints
from ..analysis.linearize import Linearization
from ..errors import DynlensTypeError, DynlensValueError
from ..utils import check_positive_float
from ._draw import COLORS, MARKERS, Projection, axes_for, equal_scales, plot_points, view_across
from ._style import NotebookFigure, new_figure

__all__ = [
    "eigenvalues",
    "fixed_point_comparison",
    "fixed_point_graph",
    "fixed_points",
    "latents_vs_truth",
]

_KIND_COLORS = {"attractor": "tab:purple", "unlisted_fixed_point": "tab:olive",
                "diverges": "tab:gray"}


def _flat(array: Any, name: str, dim: int | None = None) -> np.ndarray:
    arr = np.asarray(array.detach().cpu().numpy() if hasattr(array, "detach") else array,
                     dtype=np.float64)
    if arr.ndim not in (2, 3) or (dim is not None and arr.shape[-1] != dim):
        want = f"[..., {dim}]" if dim is not None else "[trials, bins, dim] or [n, dim]"
        raise DynlensValueError(f"{name}: expected shape {want}, found {arr.shape}")
    return arr if arr.ndim == 3 else arr[None]


def _unstable_directions(fps: FixedPoints, i: int) -> np.ndarray:
    k = int(fps.n_unstable[i])
    vecs = fps.eigenvectors[i][:, :k]
    span = np.concatenate([vecs.real, vecs.imag], axis=1)
    u = np.linalg.svd(span, full_matrices=False)[0]
    return u[:, :k].T


def fixed_points(fps: FixedPoints, trajectories: Any = None, *, n_trajectories: int = 20,
                 direction_length: float | None = None, title: str | None = None,
                 name: str | None = None) -> Figure:
    """Fixed points over latent trajectories, in 3-D (PCA when the latent is wider).

    Stable points are blue circles, unstable red crosses, marginal green triangles; the
    unstable eigen-directions of each unstable point are drawn as short red lines.

    Parameters
    ----------
    fps : FixedPoints
    trajectories : array-like [trials, bins, dim] or [n, dim], optional
        Latent trajectories drawn in grey (the first ``n_trajectories`` trials); PCA is fitted
        on them when given, else on the fixed points.
    n_trajectories : int
        Number of trials drawn (from the first).
    direction_length : float, optional
        Half-length of the eigen-direction lines; default 8 % of the plotted extent.
    title : str, optional
        The axes' title instead of the default, which says what is shown.
    name : str, optional
        The model's name, said first in the default title.

    Examples
    --------
    >>> import dynlens as dl
    >>> lorenz = dl.systems.get("lorenz")
    >>> fps = dl.FixedPoints.from_points(lorenz, lorenz.fixed_points())
    >>> fig = fixed_points(fps, trajectories=lorenz.trajectory(500), name="Lorenz")
    >>> fig.axes[0].get_title()
    'Lorenz: 3 fixed points (continuous, 3-d)'
    >>> fig.axes[0].name  # a 3-D axis
    '3d'
    """
    if not isinstance(fps, FixedPoints):
        raise DynlensTypeError(f"fps: expected a FixedPoints, found {type(fps).__name__}")
    traj = None if trajectories is None else _flat(trajectories, "trajectories", fps.dim)
    fit_on = traj.reshape(-1, fps.dim) if traj is not None else fps.xstar
    proj = Projection(fit_on, fps.dim)
    fig = NotebookFigure(figsize=(6.4, 5.4), layout="constrained")
    ax = axes_for(fig, proj.n)
    handles = []
    if traj is not None:
        for trial in traj[:n_trajectories]:
            plot_points(ax, proj.points(trial), color="0.6", lw=0.7, alpha=0.6)
        handles.append(Line2D([], [], color="0.6", lw=1, label="latent trajectories"))
    pts = proj.points(fps.xstar)
    all_pts = np.concatenate([pts, proj.points(fit_on)]) if len(pts) else proj.points(fit_on)
    extent = float(np.ptp(all_pts, axis=0).max()) if len(all_pts) > 1 else 1.0
    length = direction_length if direction_length is not None else 0.08 * (extent or 1.0)
    for label in ("stable", "unstable", "marginal"):
        sel = fps.stability == label
        if sel.any():
            plot_points(ax, pts[sel], ls="none", marker=MARKERS[label], ms=8, color=COLORS[label],
                  markeredgecolor="k", markeredgewidth=0.5)
            handles.append(Line2D([], [], ls="none", marker=MARKERS[label], ms=8,
                                  color=COLORS[label], markeredgecolor="k",
                                  label=f"{label} ({int(sel.sum())})"))
    drew = False
    for i in np.flatnonzero(fps.n_unstable > 0):
        for v in _unstable_directions(fps, i):
            d = proj.vectors(v)
            norm = np.linalg.norm(d)
            if norm < 1e-12:
                continue
            d = d / norm * length
            plot_points(ax, np.stack([pts[i] - d, pts[i] + d]), color=COLORS["unstable"], lw=1.6)
            drew = True
    if drew:
        handles.append(Line2D([], [], color=COLORS["unstable"], lw=1.6,
                              label="unstable directions"))
    ax.set_xlabel(proj.labels[0])
    if proj.n >= 2:
        ax.set_ylabel(proj.labels[1])
    else:
        ax.set_yticks([])
    if proj.n == 3:
        ax.set_zlabel(proj.labels[2])
    ax.legend(handles=handles, loc="upper left", fontsize=8)
    view_across(ax, pts)
    noun = "fixed point" if len(fps) == 1 else "fixed points"
    ax.set_title(title or _named(name, f"{len(fps)} {noun} ({fps.kind}, {fps.dim}-d)"))
    return fig


def eigenvalues(obj: FixedPoints | Linearization, *, per_bin: bool = False,
                max_points: int = 12, title: str | None = None, name: str | None = None,
                time_unit: str = "time unit", bin_width: float | None = None) -> Figure:
    """Eigenvalue spectra in the complex plane: the unit circle for maps, the imaginary axis
    for vector fields (the stability boundaries).

    Parameters
    ----------
    obj : FixedPoints or Linearization
    per_bin : bool
        Plot the spectra of the per-bin maps ``exp(dt J)`` of a vector field instead (on
        the unit circle), the scale on which maps and fields compare.
    max_points : int
        Points drawn in their own colour and legend entry; the rest are drawn in grey.
    title : str, optional
        The axes' title instead of the default, which says what is shown.
    name : str, optional
        The model's name, said first in the default title.
    time_unit : str
        The clock of a vector field's eigenvalues (``"arneodo time unit"``), in the labels.
    bin_width : float, optional
        One data bin in ``time_unit``: a vector field's eigenvalues, rates per unit of its
        own clock (one bin = its ``dt``), are converted to rates per ``time_unit`` (times
        ``dt / bin_width``), so that a model's spectrum reads on its data's clock, as its
        Lyapunov exponents do. Stability does not change.

    When a map's eigenvalue lies near the unit circle (as per-bin maps of slow dynamics do),
    an inset shows each eigenvalue's modulus by its angle, magnified around 1, so that a
    reader sees on which side of the circle each lies.

    Examples
    --------
    >>> import dynlens as dl
    >>> lorenz = dl.systems.get("lorenz")
    >>> fps = dl.FixedPoints.from_points(lorenz, lorenz.fixed_points())
    >>> fig = eigenvalues(fps)  # the imaginary axis: Re > 0 is unstable
    >>> fig = eigenvalues(fps, per_bin=True)  # the per-bin maps, on the unit circle
    >>> len(fig.axes)
    1
    """
    if isinstance(obj, FixedPoints):
        lin = obj.linearization()
    elif isinstance(obj, Linearization):
        lin = obj
    else:
        raise DynlensTypeError(
            f"obj: expected a FixedPoints or a Linearization, found {type(obj).__name__}")
    if per_bin:
        lin = lin.to_discrete()
    elif bin_width is not None and lin.kind == "continuous" and lin.dt is not None:
        step = check_positive_float(bin_width, "bin_width")
        lin = Linearization.from_jacobians(lin.jacobians * (lin.dt / step), "continuous",
                                           dt=step, x=lin.x, marginal_tol=lin.marginal_tol)
    fig, ax = new_figure(figsize=(7.4, 5.0))
    if lin.kind == "discrete":
        t = np.linspace(0, 2 * np.pi, 400)
        ax.plot(np.cos(t), np.sin(t), color="k", lw=0.8, label="unit circle (|$\\lambda$| = 1)")
        ax.set_aspect("equal", adjustable="datalim")
    else:
        ax.axvline(0, color="k", lw=0.8, label="imaginary axis (Re $\\lambda$ = 0)")
    ax.axhline(0, color="0.8", lw=0.5, zorder=0)
    colors = [f"C{k % 10}" for k in range(max_points)]
    for i in range(len(lin)):
        ev = lin.eigenvalues[i]
        label = str(lin.stability[i])
        if i < max_points:
            ax.plot(ev.real, ev.imag, ls="none", marker=MARKERS[label], color=colors[i],
                    ms=7, alpha=0.85, markeredgecolor="k", markeredgewidth=0.4,
                    label=f"point {i}: {label}")
        else:
            ax.plot(ev.real, ev.imag, ls="none", marker=".", color="0.6", ms=4)
    if len(lin) > max_points:
        ax.plot([], [], ls="none", marker=".", color="0.6",
                label=f"{len(lin) - max_points} more points")
    unit = _eigenvalue_unit(lin, time_unit)
    ax.set_xlabel(f"Re $\\lambda$ ({unit})")
    ax.set_ylabel(f"Im $\\lambda$ ({unit})")
    what = "per-bin map" if per_bin or lin.kind == "discrete" else "vector field"
    ax.set_title(title or _named(name, f"Jacobian eigenvalues ({what})"))
    if lin.kind == "discrete" and len(lin):
        _zoom_on_circle(ax, np.concatenate(list(lin.eigenvalues[:max_points])))
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig


def _named(name: str | None, what: str) -> str:
    """A default title, naming the model first when its name is known."""
    return f"{name}: {what}" if name else what


def _eigenvalue_unit(lin: Linearization, time_unit: str = "time unit") -> str:
    """The unit of the eigenvalues: a map's are per bin (a factor); a vector field's are
    rates per time unit of its own clock, whose bin length is ``dt``."""
    if lin.kind == "discrete":
        return "factor per bin"
    if lin.dt is None:
        return f"per {time_unit}"
    return f"per {time_unit}; 1 bin = {lin.dt:.3g} {time_unit}s"


def _zoom_on_circle(ax, values: np.ndarray) -> None:
    """An inset of the modulus of each eigenvalue by its angle, the unit circle a horizontal
    line at 1, when any lies within 0.1 of the circle: there the main panel cannot show on
    which side it lies (a marker spans about 0.05), however the eigenvalues spread around the
    circle. Drawn on the side of the circle the eigenvalues leave empty."""
    modulus = np.abs(values)
    if not np.any(np.abs(modulus - 1.0) < 0.1):
        return
    inset = ax.inset_axes([0.08 if values.real.mean() > 0 else 0.52, 0.30, 0.40, 0.36])
    inset.axhline(1.0, color="k", lw=0.8)
    for line in ax.get_lines():  # the points as drawn (lines with a marker)
        if line.get_marker() not in (None, "None", ""):
            z = np.asarray(line.get_xdata(), float) + 1j * np.asarray(line.get_ydata(), float)
            inset.plot(np.degrees(np.angle(z)), np.abs(z), ls="none", marker=line.get_marker(),
                       color=line.get_color(), ms=5, alpha=0.85, markeredgecolor="k",
                       markeredgewidth=0.4)
    low, high = min(modulus.min(), 1.0), max(modulus.max(), 1.0)
    pad = max(0.15 * (high - low), 0.01)
    inset.set_ylim(low - pad, high + pad)
    inset.tick_params(labelsize=6)
    inset.set_xlabel("angle of $\\lambda$ (degrees)", fontsize=6, labelpad=1)
    inset.set_ylabel("|$\\lambda$|", fontsize=6, labelpad=1)
    inset.set_title("zoom: |$\\lambda$| above the line = unstable", fontsize=7)


def fixed_point_graph(graph: nx.DiGraph, *, title: str | None = None,
                      name: str | None = None) -> Figure:
    """Draw a fixed-point graph: nodes at their positions (first two principal components
    of the fixed points), coloured by stability or kind; arrows labelled with edge weights.

    Parameters
    ----------
    graph : networkx.DiGraph
        A graph of :func:`dynlens.fixed_point_graph`.
    title : str, optional
        The axes' title instead of the default, which says what is shown.
    name : str, optional
        The model's name, said first in the default title.

    Examples
    --------
    >>> import dynlens as dl
    >>> well = dl.systems.get("bistable2d")  # a saddle between two stable points
    >>> fps = dl.FixedPoints.from_points(well, well.fixed_points())
    >>> graph = dl.fixed_point_graph(well, fps)
    >>> graph.number_of_nodes(), graph.number_of_edges()  # the saddle leads to both wells
    (3, 2)
    >>> fig = fixed_point_graph(graph)
    """
    if not isinstance(graph, nx.DiGraph):
        raise DynlensTypeError(f"graph: expected a networkx.DiGraph, found {type(graph).__name__}")
    fixed = [n for n, k in graph.nodes(data="kind") if k == "fixed_point"]
    pos, names, moved = _graph_positions(graph, fixed)
    fig, ax = new_figure(figsize=(6.4, 5.2))
    size = 420 if graph.number_of_nodes() <= 10 else max(60, 4200 // graph.number_of_nodes())
    font = 8 if size >= 300 else 6
    colors = [COLORS.get(graph.nodes[n].get("stability"), _KIND_COLORS.get(
        graph.nodes[n].get("kind"), "0.5")) for n in graph.nodes]
    nx.draw_networkx_nodes(graph, pos, ax=ax, node_color=colors, node_size=size,
                           edgecolors="k", linewidths=0.6, alpha=0.9)
    nx.draw_networkx_labels(graph, pos, ax=ax, font_size=font,
                            labels={n: str(n) for n in fixed})
    for n in graph.nodes:
        if n not in fixed:  # long names go under their node
            ax.annotate(str(n), pos[n], xytext=(12, -12), textcoords="offset points",
                        ha="left", va="top", fontsize=8,
                        bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none",
                              "alpha": 0.85})
    weights = [w for _, _, w in graph.edges(data="weight")]
    nx.draw_networkx_edges(graph, pos, ax=ax, width=[0.8 + 3 * w for w in weights],
                           arrowsize=14, connectionstyle="arc3,rad=0.12", node_size=size,
                           edge_color="0.15")
    _edge_labels(ax, graph, pos, rad=0.12)
    kinds = {graph.nodes[n].get("stability") or graph.nodes[n].get("kind") for n in graph.nodes}
    handles = [Line2D([], [], ls="none", marker="o", ms=9, markeredgecolor="k",
                      color=COLORS.get(k, _KIND_COLORS.get(k, "0.5")),
                      label=k.replace("_", " ")) for k in
               ["stable", "unstable", "marginal", "attractor", "unlisted_fixed_point",
                "diverges"] if k in kinds]
    for n, actual in moved.items():  # drawn beside the node it would hide
        ax.plot(*np.transpose([pos[n], actual]), ls=":", color="0.4", lw=1.0, zorder=0)
    ax.legend(handles=handles, fontsize=8, loc="best", title="node", title_fontsize=8)
    n_nodes, n_edges = graph.number_of_nodes(), graph.number_of_edges()
    counted = (f"{n_nodes} node{'s' * (n_nodes != 1)}, {n_edges} edge{'s' * (n_edges != 1)}")
    ax.set_title(title or _named(name, f"Fixed-point graph: {counted}") + "\n(edge label: "
                 "fraction of launches along the unstable manifold that end there)", fontsize=9)
    _graph_axes(ax, graph, pos, names, moved)
    return fig


def _edge_labels(ax, graph: nx.DiGraph, pos: dict, rad: float) -> None:
    """Each edge's weight beside its arc, not on it: at the arc's middle (an ``arc3`` curve
    bulges by ``rad / 2`` of the chord there), moved 9 points further out of the bulge."""
    for u, v, w in graph.edges(data="weight"):
        if u == v:
            continue
        a, b = np.asarray(pos[u], float), np.asarray(pos[v], float)
        d = b - a
        normal = np.array([d[1], -d[0]])
        middle = (a + b) / 2 + 0.5 * rad * normal
        out = normal / (np.linalg.norm(normal) or 1.0)
        ax.annotate(f"{w:.2f}", middle, xytext=9 * out, textcoords="offset points",
                    ha="center", va="center", fontsize=7, color="0.15",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                          "alpha": 0.85})


def _graph_positions(graph: nx.DiGraph, fixed: list) -> tuple[dict, tuple, dict]:
    """Node positions in 2-d (the fixed points' first two principal components when wider),
    axis names, and the nodes drawn away from their own position because they would cover
    another node (an attractor whose mean state lies next to a fixed point): ``{node: its
    own position}``."""
    placed = [n for n, p in graph.nodes(data="position") if p is not None]
    pos: dict = {}
    names = ("x0", "x1")
    if placed:
        xs = np.array([np.asarray(graph.nodes[n]["position"], dtype=float) for n in placed])
        if xs.shape[1] > 2 and len(xs) >= 2:
            xy = PCA(2).fit(xs[: len(fixed)] if len(fixed) >= 2 else xs).transform(xs)
            names = ("PC1 of fixed points", "PC2 of fixed points")
        elif xs.shape[1] >= 2:
            xy = xs[:, :2]
        else:
            xy = np.concatenate([xs, np.zeros_like(xs)], 1)
        pos = {n: xy[k] for k, n in enumerate(placed)}
    span = (float(np.ptp(np.array(list(pos.values())), axis=0).max()) if len(pos) > 1
            else 0.0) or 1.0
    moved = {}
    for k, n in enumerate(n for n in graph.nodes if n not in fixed and n in pos):
        own = pos[n]
        others = [pos[m] for m in pos if m != n]
        if others and min(np.linalg.norm(own - o) for o in others) < 0.08 * span:
            pos[n] = own + np.array([0.0, (0.25 if k % 2 == 0 else -0.25) * span])
            moved[n] = own
    low = np.array(list(pos.values())).min(0) if pos else np.zeros(2)
    for k, n in enumerate(n for n in graph.nodes if n not in pos):  # "diverges"
        pos[n] = low + np.array([k * 0.3 * span, -0.3 * span])
    return pos, names, moved


def _graph_axes(ax, graph: nx.DiGraph, pos: dict, names: tuple, moved: dict) -> None:
    """Axis labels and limits; a graph of one point gets no axes (its coordinates are the
    only thing they could show), and a graph without edges says why."""
    if graph.number_of_nodes() <= 1:
        ax.set_xticks([])
        ax.set_yticks([])
        if pos:
            (x, y), = pos.values()
            ax.set_xlim(x - 1, x + 1)
            ax.set_ylim(y - 1, y + 1)
    else:
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        ax.tick_params(left=True, bottom=True, labelleft=True, labelbottom=True)
        # one scale on both axes: a second axis spanning a tiny range (PC2 of points that
        # lie nearly on a line) is not stretched to look as wide as the first
        ax.set_aspect("equal", adjustable="datalim")
    notes = []
    if not graph.number_of_edges():
        notes.append("no edges: no fixed point has an unstable direction to launch along"
                     if graph.number_of_nodes() else "no fixed points")
    if moved:
        notes.append("dotted: drawn beside its mean state, which lies on another node")
    if notes:
        ax.text(0.5, 0.03, "; ".join(notes), transform=ax.transAxes, ha="center",
                va="bottom", fontsize=8, color="0.3")


def latents_vs_truth(model_latents: Any, true_latents: Any,
                     alignment: AffineAlignment | None = None, *, n_trials: int = 10,
                     title: str | None = None, split: str | None = None,
                     name: str | None = None) -> Figure:
    """Model latents mapped into true coordinates (colour) over the true latents (black).

    ``alignment`` maps model latents to true ones; when None an
    :class:`~dynlens.analysis.AffineAlignment` is fitted on the given trials. The title
    reports its R2 on the given trials in the direction of ``decode_r2`` (true latents
    predicted from model latents, averaged uniformly over true dimensions) and says whether
    the map was fitted on them. It equals :func:`dynlens.evaluate`'s ``decode_r2`` only for
    a map fitted on the train split and test-split latents; ``state_r2`` is the other
    direction. ``split`` names the trials in the title. Wider true spaces are shown by their
    first 3 principal components.

    Parameters
    ----------
    model_latents : array-like [trials, bins, latent_dim] or [bins, latent_dim]
        The model's latents (a 2-D array is one trial).
    true_latents : array-like [trials, bins, dim] or [bins, dim]
        The true latents of the same trials and bins.
    alignment : AffineAlignment, optional
        A fitted map from model to true latents; by default one is fitted on these trials.
    n_trials : int
        Number of trials drawn (from the first).
    title : str, optional
        The axes' title instead of the default, which says what is shown.
    split : str, optional
        The split the trials come from (``"test"``), named in the default title.
    name : str, optional
        The model's name, said in the default title and the legend instead of "model".

    Examples
    --------
    >>> import dynlens as dl
    >>> truth = dl.simulate("arneodo", n_neurons=4, n_trials=10, n_bins=20, seed=0).latents
    >>> fig = latents_vs_truth(2.0 * truth + 1.0, truth, split="train")  # an affine copy
    >>> print(fig.axes[0].get_title())
    Model latents mapped affinely onto the true ones
    R2 = 1.000 (model -> true, fitted and scored on the train split)
    """
    model = _flat(model_latents, "model_latents")
    truth = _flat(true_latents, "true_latents")
    if model.shape[:2] != truth.shape[:2]:
        raise DynlensValueError(
            f"true_latents: expected the trials and bins of model_latents {model.shape[:2]}, "
            f"found {truth.shape[:2]}")
    fitted_here = alignment is None
    if alignment is None:
        alignment = AffineAlignment().fit(model, truth)
    mapped = alignment.transform(model)
    if mapped.shape[-1] != truth.shape[-1]:
        raise DynlensValueError(
            f"alignment: expected a map into {truth.shape[-1]} true dimensions, found one "
            f"into {mapped.shape[-1]}")
    r2 = alignment.score(model, truth)
    proj = Projection(truth.reshape(-1, truth.shape[-1]), truth.shape[-1])
    fig = NotebookFigure(figsize=(6.4, 5.4), layout="constrained")
    ax = axes_for(fig, proj.n)
    for k in range(min(n_trials, len(truth))):
        plot_points(ax, proj.points(truth[k]), color="k", lw=1.0, alpha=0.8)
        plot_points(ax, proj.points(mapped[k]), color="tab:orange", lw=1.0, alpha=0.8)
    ax.legend(handles=[Line2D([], [], color="k", label="true latents"),
                       Line2D([], [], color="tab:orange",
                              label=f"{name or 'model'} latents (aligned)")],
              loc="upper left", fontsize=8)
    ax.set_xlabel(proj.labels[0])
    if proj.n >= 2:
        ax.set_ylabel(proj.labels[1])
    if proj.n == 3:
        ax.set_zlabel(proj.labels[2])
    where = f"the {split} split" if split else "these trials"
    how = f"fitted and scored on {where}" if fitted_here else f"scored on {where}"
    ax.set_title(title or f"{name or 'Model'} latents mapped affinely onto the true ones\n"
                          f"R2 = {r2:.3f} (model -> true, {how})", fontsize=10)
    return fig


def fixed_point_comparison(report: FixedPointComparison, *, title: str | None = None,
                           name: str | None = None) -> Figure:
    """Two panels: true and mapped model fixed points with their matches (left), and the
    per-bin eigenvalues of each matched pair on the unit circle (right).

    ``FixedPointComparison.plot()`` draws this figure.

    Parameters
    ----------
    report : FixedPointComparison
        A comparison of :func:`dynlens.compare_fixed_points`.
    title : str, optional
        The figure's title instead of the default, which gives the comparison's score.
    name : str, optional
        The model's name, said first in the default title.

    Examples
    --------
    >>> import dynlens as dl
    >>> arneodo = dl.systems.get("arneodo")
    >>> states = arneodo.trajectory(500)
    >>> fps = dl.FixedPoints.from_points(arneodo, arneodo.fixed_points())
    >>> identity = dl.AffineAlignment().fit(states, states)
    >>> report = dl.compare_fixed_points(fps, arneodo, identity, true_trajectories=states)
    >>> report.numbers()["fp_matched"]  # the system compared with itself
    3
    >>> fig = fixed_point_comparison(report)
    >>> len(fig.axes)
    2
    """
    if not isinstance(report, FixedPointComparison):
        raise DynlensTypeError(
            f"report: expected a FixedPointComparison, found {type(report).__name__}")
    fig = NotebookFigure(figsize=(11, 5), layout="constrained")
    _comparison_points(fig, report)
    _comparison_spectra(fig, report)
    fig.suptitle(title or _named(name, f"Fixed points vs the true ones, score "
                                       f"{report.score:.2f}"), fontsize=11)
    return fig


def _comparison_points(fig: Figure, report: FixedPointComparison) -> None:
    """Left panel: true points (large circles) and mapped model points (crosses), coloured by
    stability, matched pairs joined by solid lines and mislocated pairs by dotted ones; the
    title counts the comparison's categories in its own words."""
    true, mapped = report.true_fps, report.mapped_fps
    pts_all = np.concatenate([true.xstar, mapped.xstar]) if len(mapped) else true.xstar
    proj = Projection(pts_all, true.dim)
    ax = fig.add_subplot(1, 2, 1, projection="3d") if proj.n == 3 else fig.add_subplot(1, 2, 1)
    tp, mp = proj.points(true.xstar), proj.points(mapped.xstar) if len(mapped) else None
    handles = [Line2D([], [], ls="none", marker="o", ms=10, color="0.75", markeredgecolor="k",
                      label="true point"),
               Line2D([], [], ls="none", marker="x", ms=8, markeredgewidth=2, color="0.3",
                      label="model point")]
    for label in ("stable", "unstable", "marginal"):
        sel_t = true.stability == label
        sel_m = mapped.stability == label if mp is not None else np.zeros(0, bool)
        if sel_t.any():
            plot_points(ax, tp[sel_t], ls="none", marker="o", ms=12, color=COLORS[label],
                        markeredgecolor="k", alpha=0.45)
        if sel_m.any():
            plot_points(ax, mp[sel_m], ls="none", marker="x", ms=8, markeredgewidth=2,
                        color=COLORS[label])
        if sel_t.any() or sel_m.any():
            handles.append(Patch(color=COLORS[label], label=label))
    for name, ls in (("matched", "-"), ("mislocated", ":")):
        for t, m in getattr(report, name):
            plot_points(ax, np.stack([tp[t], mp[m]]), color="k", lw=1.0, ls=ls)
        if getattr(report, name):
            handles.append(Line2D([], [], color="k", lw=1.0, ls=ls, label=f"{name} pair"))
    ax.set_xlabel(proj.labels[0])
    if proj.n >= 2:
        ax.set_ylabel(proj.labels[1])
    if proj.n == 3:
        ax.set_zlabel(proj.labels[2])
    shown = np.concatenate([tp, mp]) if mp is not None else tp
    equal_scales(ax, shown)
    view_across(ax, shown)
    if proj.n == 3:  # a smaller box keeps its axis labels inside the panel, off the legend
        ax.set_box_aspect((1, 1, 1), zoom=0.85)
    # below the panel, not over the points (a legend inside a 3-d box covers its corner)
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.02),
              ncols=min(4, len(handles)), frameon=False)
    ax.set_title(f"{count_words(report.counts())} (true coordinates)", fontsize=9)


def _comparison_spectra(fig: Figure, report: FixedPointComparison) -> None:
    """Right panel: per-bin eigenvalues of each matched pair, with the unit circle."""
    ax2 = fig.add_subplot(1, 2, 2)
    t = np.linspace(0, 2 * np.pi, 400)
    ax2.plot(np.cos(t), np.sin(t), color="k", lw=0.8)
    for k, (ti, mi) in enumerate(report.matched):
        c = f"C{k % 10}"
        a, b = report.true_bin_eigenvalues[ti], report.model_bin_eigenvalues[mi]
        # open rings, smaller for each pair: true points with the same eigenvalues (mirror
        # images, as Arneodo's outer two) show as concentric rings, not one hidden colour
        ax2.plot(a.real, a.imag, ls="none", marker="o", ms=max(5, 14 - 3 * k), color=c,
                 markerfacecolor="none", markeredgewidth=1.5, label=f"true point {ti}")
        ax2.plot(b.real, b.imag, ls="none", marker="x", ms=7, color=c,
                 label=f"model point {mi}")
    shown = [report.true_bin_eigenvalues[t] for t, _ in report.matched] + \
        [report.model_bin_eigenvalues[m] for _, m in report.matched]
    if shown:  # zoom on the eigenvalues: per-bin maps of slow dynamics crowd near mu = 1
        values = np.concatenate(shown)
        pad = 0.15 * max(np.ptp(values.real), np.ptp(values.imag), 0.05)
        ax2.set_xlim(values.real.min() - pad, values.real.max() + pad)
        ax2.set_ylim(values.imag.min() - pad, values.imag.max() + pad)
    ax2.set_aspect("equal", adjustable="box")
    ax2.set_xlabel("Re $\\mu$ (per-bin map; black: unit circle)")
    ax2.set_ylabel("Im $\\mu$")
    if report.matched:  # beside the panel, not over the eigenvalues
        ax2.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    ax2.set_title("Per-bin eigenvalues of matched pairs (o true, x model)", fontsize=9)


def lyapunov_spectra(spectra: dict, *, unit: str = "per time unit",
                     title: str | None = None) -> Figure:
    """Lyapunov spectra side by side: each exponent with its spread over starting states.

    Parameters
    ----------
    spectra : dict of label to LyapunovSpectrum (or to ``(exponents, spread)``)
        On one clock (see :meth:`~dynlens.analysis.LyapunovSpectrum.rescaled`).
    unit : str
        The y-axis unit.
    title : str, optional
        The axes' title instead of the default, which says what is shown.

    Examples
    --------
    >>> import numpy as np
    >>> fig = lyapunov_spectra({"true": (np.array([0.2, 0.0, -1.2]), np.zeros(3)),
    ...                         "model": (np.array([0.15, 0.0, -0.5]), np.full(3, 0.02))})
    >>> fig.axes[0].get_xlabel()
    'exponent (largest first)'
    """
    if not spectra:
        raise DynlensValueError("spectra: expected at least one spectrum, found none")
    fig, ax = new_figure(figsize=(6, 3.6))
    offsets = np.linspace(-0.15, 0.15, len(spectra)) if len(spectra) > 1 else [0.0]
    for i, ((label, spec), offset) in enumerate(zip(spectra.items(), offsets)):
        exponents, spread = ((spec.exponents, spec.spread) if hasattr(spec, "exponents")
                             else spec)
        index = np.arange(1, len(exponents) + 1) + offset
        ax.errorbar(index, exponents, yerr=spread, fmt="o", ms=4, capsize=3, color=f"C{i}",
                    label=label)
    ax.axhline(0.0, color="0.6", lw=0.8)
    n = max(len(s.exponents if hasattr(s, "exponents") else s[0]) for s in spectra.values())
    ax.set_xticks(range(1, n + 1))
    ax.set_xlabel("exponent (largest first)")
    ax.set_ylabel(f"Lyapunov exponent\n({unit})")
    ax.set_title(title or "Lyapunov spectra (bars: spread over starting states)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig

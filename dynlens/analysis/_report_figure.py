"""The figure of a fixed-point comparison, and drawing helpers the plotting layer reuses.

It lives in the analysis layer so that ``FixedPointComparison.plot()`` needs no import from
the plotting layer (layers import only layers above them); ``dynlens.plotting.analysis``
re-exports it as ``fixed_point_comparison``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from sklearn.decomposition import PCA

from ..errors import DynlensTypeError

if TYPE_CHECKING:
    from .compare import FixedPointComparison

__all__ = ["COLORS", "MARKERS", "Projection", "axes_for", "comparison_figure", "plot_points"]

COLORS = {"stable": "tab:blue", "unstable": "tab:red", "marginal": "tab:green"}
MARKERS = {"stable": "o", "unstable": "X", "marginal": "^"}


class Projection:
    """Identity for <= 3 dims, else the first 3 principal components of ``fit_on``."""

    def __init__(self, fit_on: np.ndarray, dim: int) -> None:
        self.pca = PCA(3).fit(fit_on) if dim > 3 and len(fit_on) >= 3 else None
        self.n = min(3, dim)
        if self.pca is not None:
            var = self.pca.explained_variance_ratio_
            self.labels = [f"PC{i + 1} ({100 * v:.0f}%)" for i, v in enumerate(var)]
        else:
            self.labels = [f"x{i}" for i in range(self.n)]

    def points(self, x: np.ndarray) -> np.ndarray:
        return self.pca.transform(x) if self.pca is not None else x[..., : self.n]

    def vectors(self, v: np.ndarray) -> np.ndarray:
        return v @ self.pca.components_.T if self.pca is not None else v[..., : self.n]


def axes_for(fig: Figure, n: int):
    return fig.add_subplot(projection="3d") if n == 3 else fig.add_subplot()


def equal_scales(ax, pts: np.ndarray) -> None:
    """One scale on every axis, so that distances read true (a short mismatch on one axis
    would otherwise be stretched to the panel's full width)."""
    if pts.shape[-1] < 2 or not len(pts):
        return
    lo, hi = pts.min(0), pts.max(0)
    center, half = (lo + hi) / 2, 0.55 * max(float((hi - lo).max()), 1e-12)
    if pts.shape[-1] == 3:
        ax.set_xlim(center[0] - half, center[0] + half)
        ax.set_ylim(center[1] - half, center[1] + half)
        ax.set_zlim(center[2] - half, center[2] + half)
        ax.set_box_aspect((1, 1, 1))
    else:
        ax.set_aspect("equal", adjustable="datalim")


def plot_points(ax, pts: np.ndarray, *args, **kwargs):
    if pts.shape[-1] == 1:
        pts = np.concatenate([pts, np.zeros_like(pts)], -1)
    return ax.plot(*pts.T, *args, **kwargs)


def comparison_figure(report: FixedPointComparison, *, title: str | None = None) -> Figure:
    """Two panels: true and mapped model fixed points with their matches (left), and the
    per-bin eigenvalues of each matched pair on the unit circle (right)."""
    from .compare import FixedPointComparison

    if not isinstance(report, FixedPointComparison):
        raise DynlensTypeError(
            f"report: expected a FixedPointComparison, found {type(report).__name__}")
    true, mapped = report.true_fps, report.mapped_fps
    pts_all = np.concatenate([true.xstar, mapped.xstar]) if len(mapped) else true.xstar
    proj = Projection(pts_all, true.dim)
    fig = Figure(figsize=(11, 5), layout="constrained")
    ax = fig.add_subplot(1, 2, 1, projection="3d") if proj.n == 3 else fig.add_subplot(1, 2, 1)
    tp, mp = proj.points(true.xstar), proj.points(mapped.xstar) if len(mapped) else None
    handles = []
    for label in ("stable", "unstable", "marginal"):
        sel = true.stability == label
        if sel.any():
            plot_points(ax, tp[sel], ls="none", marker=MARKERS[label], ms=11, color=COLORS[label],
                  markeredgecolor="k", alpha=0.45)
            handles.append(Line2D([], [], ls="none", marker=MARKERS[label], ms=10, alpha=0.45,
                                  color=COLORS[label], markeredgecolor="k",
                                  label=f"true {label}"))
        if mp is not None:
            sel = mapped.stability == label
            if sel.any():
                plot_points(ax, mp[sel], ls="none", marker=MARKERS[label], ms=6, color="none",
                      markeredgecolor=COLORS[label], markeredgewidth=1.5)
                handles.append(Line2D([], [], ls="none", marker=MARKERS[label], ms=6,
                                      color="none", markeredgecolor=COLORS[label],
                                      markeredgewidth=1.5, label=f"model {label}"))
    for t, m in report.matched:
        plot_points(ax, np.stack([tp[t], mp[m]]), color="k", lw=0.8, ls="--")
    if report.matched:
        handles.append(Line2D([], [], color="k", lw=0.8, ls="--", label="match"))
    ax.set_xlabel(proj.labels[0])
    if proj.n >= 2:
        ax.set_ylabel(proj.labels[1])
    if proj.n == 3:
        ax.set_zlabel(proj.labels[2])
    equal_scales(ax, np.concatenate([tp, mp]) if mp is not None else tp)
    ax.legend(handles=handles, fontsize=7, loc="upper left")
    ax.set_title(f"{len(report.matched)} matched, {len(report.missing)} missing, "
                 f"{len(report.spurious)} spurious (true coordinates)", fontsize=9)

    ax2 = fig.add_subplot(1, 2, 2)
    t = np.linspace(0, 2 * np.pi, 400)
    ax2.plot(np.cos(t), np.sin(t), color="k", lw=0.8)
    for k, (ti, mi) in enumerate(report.matched):
        c = f"C{k % 10}"
        a, b = report.true_bin_eigenvalues[ti], report.model_bin_eigenvalues[mi]
        ax2.plot(a.real, a.imag, ls="none", marker="o", ms=9, color=c, alpha=0.4,
                 label=f"true point {ti}")
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
    if report.matched:
        ax2.legend(fontsize=7, loc="best")
    ax2.set_title("Per-bin eigenvalues of matched pairs (o true, x model)", fontsize=9)
    fig.suptitle(title or f"Fixed-point comparison: score {report.score:.2f}", fontsize=11)
    return fig

"""Drawing helpers shared by the figures of the plotting layer: stability colours and markers,
the 3-D projection of wide latent spaces, and plotting of 1- to 3-d points.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from sklearn.decomposition import PCA

__all__ = ["COLORS", "MARKERS", "Projection", "axes_for", "equal_scales", "plot_points",
           "view_across"]

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
        """Coordinates ``[..., n]`` of the points ``x``."""
        return self.pca.transform(x) if self.pca is not None else x[..., : self.n]

    def vectors(self, v: np.ndarray) -> np.ndarray:
        """Coordinates ``[..., n]`` of the directions ``v`` (no centring)."""
        return v @ self.pca.components_.T if self.pca is not None else v[..., : self.n]


def axes_for(fig: Figure, n: int):
    """One panel filling ``fig``: 3-D axes for ``n == 3``, else 2-D."""
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
    """``ax.plot`` of points ``[..., n]`` (1-d points are drawn on the x axis)."""
    if pts.shape[-1] == 1:
        pts = np.concatenate([pts, np.zeros_like(pts)], -1)
    return ax.plot(*pts.T, *args, **kwargs)


def _eye(elev: float, azim: float) -> np.ndarray:
    """Unit vector from a 3-D panel's centre towards the viewer (matplotlib's angles)."""
    e, a = np.radians(elev), np.radians(azim)
    return np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])


def view_across(ax, pts: np.ndarray) -> None:
    """Turn a 3-D panel so that the direction along which ``pts`` spread most lies across the
    line of sight, not along it (matplotlib's default view can look straight down a row of
    fixed points and stack them into one spot). The default view (elevation 30, azimuth -60)
    stays when it sees the spread at 60 degrees or more from the line of sight (foreshortened
    to 0.87 at most), else the nearest view that does; call it after the axis limits are
    set."""
    if getattr(ax, "name", "") != "3d" or pts.shape[-1] != 3 or len(pts) < 2:
        return
    centred = pts - pts.mean(0)
    if not np.abs(centred).max() > 0:
        return
    direction = np.linalg.svd(centred, full_matrices=False)[2][0]
    ranges = np.ptp(np.array([ax.get_xlim(), ax.get_ylim(), ax.get_zlim()]), axis=1)
    on_screen = direction / ranges * np.asarray(ax.get_box_aspect())  # as the box draws it
    on_screen /= np.linalg.norm(on_screen)

    def cost(view: tuple[float, float]) -> tuple[float, float]:
        elev, azim = view
        turn = abs((azim + 60 + 180) % 360 - 180) / 60 + abs(elev - 30) / 10
        along = abs(float(_eye(elev, azim) @ on_screen))  # cos of the angle to the sight line
        return round(max(along - 0.5, 0.0), 1), turn

    elev, azim = min(((e, a) for e in (30, 20, 10) for a in range(-180, 180, 5)), key=cost)
    ax.view_init(elev=elev, azim=azim)

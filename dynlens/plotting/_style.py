"""Shared figure helpers: figures are built without pyplot so nothing global is touched.

A :class:`matplotlib.figure.Figure` made this way works headless (no backend needed to
save it), never pops up a window and is not kept alive by pyplot. Jupyter shows a plain
Figure only once pyplot's inline backend is on (``%matplotlib inline``), so dynlens's figures
are :class:`NotebookFigure` objects, which draw themselves as PNG when a notebook displays them.
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

from ..utils import atomic_path

__all__ = ["NotebookFigure", "log_loss_axis", "new_figure", "save_figure"]


class NotebookFigure(Figure):
    """A :class:`~matplotlib.figure.Figure` that Jupyter displays without pyplot.

    IPython asks an object for ``_repr_png_`` when no display function is registered for its
    type; with ``%matplotlib inline`` on, pyplot's own display function (registered for every
    Figure) is used instead, so a figure is never shown twice.

    Parameters
    ----------
    figsize, dpi : (float, float), float, optional
        Width and height in inches, and dots per inch (matplotlib's defaults when None).
    facecolor, edgecolor, linewidth, frameon : optional
        The background patch: its colours, its edge width and whether it is drawn.
    layout, constrained_layout, tight_layout : optional
        The layout engine (``"constrained"``, ``"tight"``, ...); the two flags are the older
        spelling of the same choice.
    subplotpars : matplotlib.figure.SubplotParams, optional
        Subplot spacing where no layout engine is used.
    **kwargs
        Further :class:`~matplotlib.figure.Figure` properties; every parameter is
        :class:`~matplotlib.figure.Figure`'s own.

    Examples
    --------
    >>> fig = NotebookFigure(figsize=(2, 2))
    >>> lines = fig.subplots().plot([0, 1], [1, 0])
    >>> fig._repr_png_()[1:4]
    b'PNG'
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        return buffer.getvalue()


def new_figure(nrows: int = 1, ncols: int = 1, **kwargs) -> tuple[Figure, object]:
    """Like ``plt.subplots`` (constrained layout) without pyplot: returns (figure, axes).

    ``subplot_kw`` and ``squeeze``/``sharex``/``sharey`` are passed to ``Figure.subplots``;
    everything else (``figsize``, ...) to :class:`~matplotlib.figure.Figure`.

    Parameters
    ----------
    nrows, ncols : int
        The grid of axes.
    **kwargs
        ``subplot_kw``, ``gridspec_kw``, ``squeeze``, ``sharex`` and ``sharey`` for
        ``Figure.subplots``; the rest for :class:`NotebookFigure`.

    Examples
    --------
    >>> fig, axes = new_figure(1, 2, figsize=(6, 3))
    >>> type(fig).__name__, len(axes)
    ('NotebookFigure', 2)
    """
    sub = {k: kwargs.pop(k) for k in ("subplot_kw", "squeeze", "sharex", "sharey", "gridspec_kw")
           if k in kwargs}
    kwargs.setdefault("layout", "constrained")
    fig = NotebookFigure(**kwargs)
    return fig, fig.subplots(nrows, ncols, **sub)


def log_loss_axis(ax) -> None:
    """Make ``ax``'s y axis logarithmic, labelled where losses converge.

    Early, unstable epochs would flatten a linear axis; a log axis spanning less than a
    decade labels no tick at all by default. Ticks are labelled at 1, 1.2, 1.5, 2, 3, 5 and 7
    of each decade, as plain numbers (2.1, not 2.1 x 10^0).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes whose y axis shows losses.

    Examples
    --------
    >>> fig, ax = new_figure()
    >>> lines = ax.plot([0, 1, 2], [30.0, 1.6, 1.4])
    >>> log_loss_axis(ax)
    >>> ax.get_yscale()
    'log'
    """
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 1.2, 1.5, 2.0, 3.0, 5.0, 7.0)))
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())


def save_figure(fig: Figure, path, dpi: int = 110) -> None:
    """Write ``fig`` to ``path`` atomically (format from the extension).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to save.
    path : str or PathLike
        The file to write; its extension (``.png``, ``.pdf``, ``.svg``, ...) sets the format.
    dpi : int
        Resolution of raster formats.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> fig, ax = new_figure()
    >>> lines = ax.plot([0, 1], [0, 1])
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "line.png"
    >>> save_figure(fig, path)
    >>> path.read_bytes()[1:4]
    b'PNG'
    """
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=str(path).rsplit(".", 1)[-1])

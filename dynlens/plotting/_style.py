"""Shared figure helpers: figures are built without pyplot so nothing global is touched.

A :class:`matplotlib.figure.Figure` made this way works headless (no backend needed to
save it), never pops up a window, is not kept alive by pyplot, and still displays inline
when returned in a notebook.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from ..utils import atomic_path

__all__ = ["new_figure", "save_figure"]


def new_figure(nrows: int = 1, ncols: int = 1, **kwargs) -> tuple[Figure, object]:
    """Like ``plt.subplots`` (constrained layout) without pyplot: returns (figure, axes).

    ``subplot_kw`` and ``squeeze``/``sharex``/``sharey`` are passed to ``Figure.subplots``;
    everything else (``figsize``, ...) to :class:`~matplotlib.figure.Figure`.

    Examples
    --------
    >>> fig, axes = new_figure(1, 2, figsize=(6, 3))
    >>> type(fig).__name__, len(axes)
    ('Figure', 2)
    """
    sub = {k: kwargs.pop(k) for k in ("subplot_kw", "squeeze", "sharex", "sharey", "gridspec_kw")
           if k in kwargs}
    kwargs.setdefault("layout", "constrained")
    fig = Figure(**kwargs)
    return fig, fig.subplots(nrows, ncols, **sub)


def save_figure(fig: Figure, path, dpi: int = 110) -> None:
    """Write ``fig`` to ``path`` atomically (format from the extension).

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

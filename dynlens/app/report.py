"""Markdown reports with figures, written atomically (used by ``dynlens demo`` and
``dynlens analyze``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..plotting import save_figure
from ..utils import atomic_path

__all__ = ["Report", "markdown_table"]


def markdown_table(frame: pd.DataFrame, floatfmt: str = "{:.3f}") -> str:
    """A GitHub-flavoured Markdown table (pandas' to_markdown needs the optional tabulate)."""
    def cell(value) -> str:
        if value is pd.NA:
            return "n/a"
        if isinstance(value, (float, np.floating)):
            return floatfmt.format(value) if np.isfinite(value) else "n/a"
        return str(value)

    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


class Report:
    """Collects Markdown sections and figures, then writes them atomically."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.lines: list[str] = []

    def _path(self, name: str) -> Path:
        """``out / name``, creating ``out`` with the first file (a refused run leaves none)."""
        self.out.mkdir(parents=True, exist_ok=True)
        return self.out / name

    def text(self, *paragraphs: str) -> None:
        """Append paragraphs (each may span lines), separated by blank lines."""
        for paragraph in paragraphs:
            self.lines.extend([paragraph, ""])

    def figure(self, fig, name: str, caption: str) -> None:
        save_figure(fig, self._path(f"{name}.png"))
        self.text(f"![{caption}]({name}.png)", f"*{caption}*")

    def write_file(self, name: str, text: str) -> Path:
        """Write a text file (a table, a summary) next to the report, atomically."""
        path = self._path(name)
        with atomic_path(path) as tmp:
            tmp.write_text(text)
        return path

    def write(self) -> Path:
        path = self._path("report.md")
        with atomic_path(path) as tmp:
            tmp.write_text("\n".join(self.lines))
        return path

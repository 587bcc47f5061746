"""Reports with figures and tables, written atomically as ``report.md`` and a self-contained
``report.html`` (used by ``dynlens demo`` and ``dynlens analyze``).

A :class:`Report` collects blocks in order: paragraphs of a small Markdown subset (headings,
fenced code, block quotes, ``---`` rules and paragraphs with inline code, bold, italics and
links), tables (pandas DataFrames) and figures (saved as PNG next to the report). ``write()``
renders them twice: ``report.md`` links the PNG files; ``report.html`` embeds each one as a
``data:image/png;base64`` URI and each table as an HTML ``<table>``, so the page needs no other
file, no script and no network.

Examples
--------
>>> import tempfile, pathlib, pandas as pd
>>> from dynlens.app.report import Report
>>> report = Report(pathlib.Path(tempfile.mkdtemp()))
>>> report.text("# Title", "Some `code` and **bold** text.")
>>> report.table(pd.DataFrame({"model": ["NODE-3"], "rate_r2": [0.912]}))
>>> path = report.write()
>>> print(path.read_text())
# Title
<BLANKLINE>
Some `code` and **bold** text.
<BLANKLINE>
| model | rate_r2 |
|---|---|
| NODE-3 | 0.912 |
<BLANKLINE>
>>> html = (path.parent / "report.html").read_text()
>>> "<td>0.912</td>" in html and "<strong>bold</strong>" in html
True
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..plotting import save_figure
from ..utils import atomic_path

__all__ = ["Report", "html_table", "markdown_table", "markdown_to_html"]

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; line-height: 1.5;
       color: #1b1b1b; background: #fff; margin: 0; }
main { max-width: 60rem; margin: 0 auto; padding: 1.5rem; }
h1, h2, h3 { line-height: 1.2; }
.wide { overflow-x: auto; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.92rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th { background: #f2f2f2; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 1.5rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-style: italic; color: #444; }
pre { background: #f6f6f6; padding: 0.75rem; overflow-x: auto; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
blockquote { border-left: 4px solid #d0a000; background: #fff8e0; margin: 1rem 0;
             padding: 0.25rem 1rem; }
"""


def _cell(value: Any, floatfmt: str) -> str:
    """One table cell as text: floats with ``floatfmt``, NaN and missing as ``n/a``."""
    if value is pd.NA or value is None:
        return "n/a"
    if isinstance(value, (float, np.floating)):
        return floatfmt.format(value) if np.isfinite(value) else "n/a"
    return str(value)


def markdown_table(frame: pd.DataFrame, floatfmt: str = "{:.3f}") -> str:
    """A GitHub-flavoured Markdown table (pandas' to_markdown needs the optional tabulate)."""
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(_cell(v, floatfmt) for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def html_table(frame: pd.DataFrame, floatfmt: str = "{:.3f}") -> str:
    """An HTML ``<table>`` with the cells of :func:`markdown_table` (escaped).

    >>> print(html_table(pd.DataFrame({"a <b>": [1.0, float("nan")]})))
    <table>
    <thead><tr><th>a &lt;b&gt;</th></tr></thead>
    <tbody>
    <tr><td>1.000</td></tr>
    <tr><td>n/a</td></tr>
    </tbody>
    </table>
    """
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = ["<tr>" + "".join(f"<td>{html.escape(_cell(v, floatfmt))}</td>" for v in row)
            + "</tr>" for row in frame.itertuples(index=False)]
    return "\n".join(["<table>", f"<thead><tr>{head}</tr></thead>", "<tbody>", *rows,
                      "</tbody>", "</table>"])


_INLINE = [
    (re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), r"<em>\1</em>"),
    (re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)"), r'<a href="\2">\1</a>'),
]


def _inline(text: str) -> str:
    """Escape ``text`` and turn inline code, bold, italics and links into HTML."""
    parts = text.split("`")
    out = []
    for i, part in enumerate(parts):
        escaped = html.escape(part, quote=False)
        if i % 2 and i < len(parts) - 1:  # between two backticks: code, nothing else
            out.append(f"<code>{escaped}</code>")
            continue
        for pattern, replacement in _INLINE:
            escaped = pattern.sub(replacement, escaped)
        out.append(escaped if i % 2 == 0 else "`" + escaped)
    return "".join(out)


def markdown_to_html(paragraph: str) -> str:
    """One Markdown paragraph of the subset dynlens reports use, as HTML.

    >>> markdown_to_html("## 2. Trained *models*")
    '<h2>2. Trained <em>models</em></h2>'
    >>> markdown_to_html("```\\nx < 1\\n```")
    '<pre><code>x &lt; 1</code></pre>'
    >>> markdown_to_html("> **Fast mode**: smaller")
    '<blockquote><p><strong>Fast mode</strong>: smaller</p></blockquote>'
    """
    text = paragraph.strip("\n")
    if text.startswith("```"):
        body = text.split("\n", 1)[1] if "\n" in text else ""
        body = body.removesuffix("```")
        return f"<pre><code>{html.escape(body.rstrip(chr(10)), quote=False)}</code></pre>"
    if text.strip() == "---":
        return "<hr>"
    heading = re.match(r"(#{1,6}) (.*)", text)
    if heading:
        level = len(heading.group(1))
        return f"<h{level}>{_inline(heading.group(2))}</h{level}>"
    if text.startswith(">"):
        inner = " ".join(line.lstrip(">").strip() for line in text.splitlines())
        return f"<blockquote><p>{_inline(inner)}</p></blockquote>"
    return f"<p>{_inline(text)}</p>"


class Report:
    """Collects paragraphs, tables and figures, then writes ``report.md`` and
    ``report.html`` atomically (see the module docstring)."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.blocks: list[tuple] = []

    def _path(self, name: str) -> Path:
        """``out / name``, creating ``out`` with the first file (a refused run leaves none)."""
        self.out.mkdir(parents=True, exist_ok=True)
        return self.out / name

    def text(self, *paragraphs: str) -> None:
        """Append paragraphs (Markdown; each may span lines)."""
        self.blocks.extend(("text", paragraph) for paragraph in paragraphs)

    def table(self, frame: pd.DataFrame, floatfmt: str = "{:.3f}") -> None:
        """Append a table (floats shown with ``floatfmt``, NaN as ``n/a``)."""
        self.blocks.append(("table", frame.copy(), floatfmt))

    def figure(self, fig, name: str, caption: str) -> None:
        """Save ``fig`` as ``name.png`` next to the report and append it with a caption."""
        save_figure(fig, self._path(f"{name}.png"))
        self.blocks.append(("figure", name, caption))

    def write_file(self, name: str, text: str) -> Path:
        """Write a text file (a table, a summary) next to the report, atomically."""
        path = self._path(name)
        with atomic_path(path) as tmp:
            tmp.write_text(text)
        return path

    def markdown(self) -> str:
        """The report as Markdown; figures link their PNG files."""
        lines: list[str] = []
        for kind, *rest in self.blocks:
            if kind == "text":
                lines.append(rest[0])
            elif kind == "table":
                lines.append(markdown_table(*rest))
            else:
                lines.extend([f"![{rest[1]}]({rest[0]}.png)", "", f"*{rest[1]}*"])
            lines.append("")
        return "\n".join(lines)

    def html(self) -> str:
        """The report as one self-contained HTML page (figures as base64 data URIs)."""
        body = []
        for kind, *rest in self.blocks:
            if kind == "text":
                body.append(markdown_to_html(rest[0]))
            elif kind == "table":
                body.append(f'<div class="wide">{html_table(*rest)}</div>')  # scrolls
            else:
                data = base64.b64encode(self._path(f"{rest[0]}.png").read_bytes()).decode()
                caption = html.escape(rest[1])
                body.append(f'<figure><img src="data:image/png;base64,{data}" alt="{caption}">'
                            f"<figcaption>{caption}</figcaption></figure>")
        title = next((re.sub(r"^#+ ", "", b[1]) for b in self.blocks
                      if b[0] == "text" and b[1].startswith("# ")), "dynlens report")
        return "\n".join([
            "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<link rel="icon" href="data:,">',  # no favicon request
            f"<title>{html.escape(title)}</title>", f"<style>{_STYLE}</style>", "</head>",
            "<body>", "<main>", *body, "</main>", "</body>", "</html>", ""])

    def write(self) -> Path:
        """Write ``report.html`` and ``report.md``; return the path of ``report.md``."""
        page = self.html()
        with atomic_path(self._path("report.html")) as tmp:
            tmp.write_text(page, encoding="utf-8")
        path = self._path("report.md")
        with atomic_path(path) as tmp:
            tmp.write_text(self.markdown(), encoding="utf-8")
        return path

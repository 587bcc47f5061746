"""The demo's durations are said one way: every place quoting them repeats dynlens/app/durations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dynlens.app import demo
from dynlens.app.cli import build_parser
from dynlens.app.durations import DEMO_FAST, DEMO_FULL

REPO = Path(__file__).resolve().parents[1]


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("page", ["README.md", "docs/guide.md"])
def test_pages_quote_both_durations_and_no_other(page):
    text = _flat((REPO / page).read_text())
    assert DEMO_FAST.replace(" on 2 CPU cores", "") in text and DEMO_FULL in text
    for stale in ("under two minutes", "under 2 minutes", "about two minutes",
                  "about 2 minutes", "several minutes on 2"):
        assert stale not in text, f"{page} still says {stale!r}"


def test_command_line_and_report_note_quote_them():
    commands = build_parser().commands
    assert DEMO_FAST in _flat(commands["demo"].format_help())  # example and --fast's help
    note = demo._settings_note("sae", demo.FAST, fast=True)
    assert note.endswith(f"than the full demo (`dynlens demo`, {DEMO_FULL}). No Lyapunov "
                         "spectra either.")
    assert _flat(DEMO_FAST.replace(" on 2 CPU cores", "")) in _flat(demo.__doc__)

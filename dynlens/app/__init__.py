"""Application code: the ``dynlens`` command, the demo, the analysis report.

Everything here is a thin layer over the public API; it may import every other layer, and
nothing in the library imports it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .analyze import run_analysis
    from .demo import run_demo

__all__ = ["run_analysis", "run_demo"]

_NAMES = {"run_analysis": "analyze", "run_demo": "demo"}


def __getattr__(name: str):
    """Import ``run_analysis`` / ``run_demo`` on first use, so that ``dynlens --help`` (which
    imports ``dynlens.app.cli``) does not import torch."""
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    globals()[name] = value
    return value

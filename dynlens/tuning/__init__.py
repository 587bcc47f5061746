"""Searching settings with Ray Tune: ``dl.tune`` (the optional extra ``dynlens[tune]``).

Any registered family's options and ``dl.fit``'s settings are searched alike; every trial
trains through :func:`dynlens.fit`, whose checkpoints let population-based training copy and
perturb weights and a stopped search resume from its folder. This package sits at the
sweeps' layer: it builds models the way a sweep does (:class:`dynlens.sweeps.ModelSpec`).
Its names are imported on first use, so that ``dynlens --help`` (which reads
:mod:`dynlens.tuning.command`) imports neither torch nor Ray.

Examples
--------
>>> from dynlens.tuning import parse_space
>>> space = parse_space({"lr": ("loguniform", 1e-4, 1e-2), "batch_size": [32, 64]})
>>> {name: dim.kind for name, dim in space.items()}
{'lr': 'loguniform', 'batch_size': 'choice'}

``dl.tune("lfads", data, space, num_samples=16, scheduler="pbt", out="search")`` runs a
search; ``load_search("search")`` reads one back without Ray.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .result import TuneResult, load_search
    from .search import tune
    from .space import Dimension, parse_space

_NAMES = {"TuneResult": "result", "load_search": "result", "tune": "search",
          "Dimension": "space", "parse_space": "space"}


def __getattr__(name: str):
    """Import a name the first time it is used (PEP 562)."""
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    globals()[name] = value
    return value


__all__ = ["Dimension", "TuneResult", "load_search", "parse_space", "tune"]

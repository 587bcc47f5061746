"""dynlens: are the dynamics your sequential autoencoder learned the real ones?

The public API is re-exported here (``docs/design.md`` describes the layers); everything
else is reachable through the subpackages ``dynlens.systems``, ``dynlens.data``,
``dynlens.models``, ``dynlens.training``, ``dynlens.analysis``, ``dynlens.plotting`` and the
foundation modules ``dynlens.dynamics``, ``dynlens.threads``, ``dynlens.utils`` and
``dynlens.errors``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the lazy loading below provides, for type checkers and editors
    from . import (
        analysis,
        data,
        dynamics,
        errors,
        models,
        plotting,
        sweeps,
        systems,
        threads,
        training,
        tuning,
        utils,
    )
    from .analysis import (
        AffineAlignment,
        FixedPointComparison,
        FixedPoints,
        Linearization,
        LyapunovSpectrum,
        SolverOptions,
        Tolerances,
        agreement,
        compare_dynamics,
        compare_fixed_points,
        dynamics_similarity,
        evaluate,
        find_fixed_points,
        fixed_point_graph,
        kaplan_yorke_dimension,
        linearize,
        lyapunov_spectrum,
        metrics,
    )
    from .data import NeuralDataset, load_dataset, simulate
    from .dynamics import Dynamics, check_dynamics, rollout
    from .errors import DynlensError
    from .models import Inference, load_model
    from .sweeps import Sweep
    from .training import fit
    from .tuning import tune

#: Subpackages and foundation modules, imported on first use: ``import dynlens`` alone does
#: not import torch, so that ``dynlens --help`` answers at once.
_MODULES = ("analysis", "data", "dynamics", "errors", "models", "plotting", "sweeps",
            "systems", "threads", "training", "tuning", "utils")
#: Re-exported names and the module each comes from, imported on first use.
_NAMES = {
    **dict.fromkeys(("AffineAlignment", "FixedPointComparison", "FixedPoints", "Linearization",
                     "LyapunovSpectrum", "SolverOptions", "Tolerances", "agreement",
                     "compare_dynamics",
                     "compare_fixed_points", "dynamics_similarity", "evaluate",
                     "find_fixed_points", "fixed_point_graph", "kaplan_yorke_dimension",
                     "linearize", "lyapunov_spectrum", "metrics"), "analysis"),
    **dict.fromkeys(("NeuralDataset", "load_dataset", "simulate"), "data"),
    **dict.fromkeys(("Dynamics", "check_dynamics", "rollout"), "dynamics"),
    "DynlensError": "errors", "Inference": "models", "load_model": "models", "Sweep": "sweeps",
    "fit": "training", "tune": "tuning",
}


def __getattr__(name: str):
    """Import a subpackage or a re-exported name the first time it is used (PEP 562)."""
    if name in _MODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    elif name in _NAMES:
        value = getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__version__ = "0.1.0"

__all__ = [
    "AffineAlignment",
    "Dynamics",
    "DynlensError",
    "FixedPointComparison",
    "FixedPoints",
    "Inference",
    "Linearization",
    "LyapunovSpectrum",
    "NeuralDataset",
    "SolverOptions",
    "Sweep",
    "Tolerances",
    "__version__",
    "agreement",
    "analysis",
    "check_dynamics",
    "compare_dynamics",
    "compare_fixed_points",
    "data",
    "dynamics",
    "dynamics_similarity",
    "errors",
    "evaluate",
    "find_fixed_points",
    "fit",
    "fixed_point_graph",
    "kaplan_yorke_dimension",
    "linearize",
    "load_dataset",
    "load_model",
    "lyapunov_spectrum",
    "metrics",
    "models",
    "plotting",
    "rollout",
    "simulate",
    "sweeps",
    "systems",
    "threads",
    "training",
    "tune",
    "tuning",
    "utils",
]

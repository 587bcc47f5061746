"""dynlens: are the dynamics your sequential autoencoder learned the real ones?

The public API (DESIGN.md) is re-exported here; everything else is reachable through the
subpackages ``dynlens.systems``, ``dynlens.data``, ``dynlens.models``, ``dynlens.training``,
``dynlens.analysis`` and ``dynlens.plotting``.
"""

from . import analysis, data, errors, models, plotting, systems, training
from .analysis import (
    AffineAlignment,
    FixedPointComparison,
    FixedPoints,
    Linearization,
    compare_fixed_points,
    evaluate,
    find_fixed_points,
    fixed_point_graph,
    linearize,
    metrics,
)
from .data import NeuralDataset, load_dataset, simulate
from .dynamics import Dynamics, check_dynamics
from .errors import DynlensError
from .models import Inference, load_model
from .training import fit

__version__ = "0.1.0"

__all__ = [
    "AffineAlignment",
    "Dynamics",
    "DynlensError",
    "FixedPointComparison",
    "FixedPoints",
    "Inference",
    "Linearization",
    "NeuralDataset",
    "__version__",
    "analysis",
    "check_dynamics",
    "compare_fixed_points",
    "data",
    "errors",
    "evaluate",
    "find_fixed_points",
    "fit",
    "fixed_point_graph",
    "linearize",
    "load_dataset",
    "load_model",
    "metrics",
    "models",
    "plotting",
    "simulate",
    "systems",
    "training",
]

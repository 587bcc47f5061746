"""dynlens: are the dynamics your sequential autoencoder learned the real ones?

The public API is re-exported here (``docs/design.md`` describes the layers); everything
else is reachable through the subpackages ``dynlens.systems``, ``dynlens.data``,
``dynlens.models``, ``dynlens.training``, ``dynlens.analysis``, ``dynlens.plotting`` and the
foundation modules ``dynlens.dynamics``, ``dynlens.threads``, ``dynlens.utils`` and
``dynlens.errors``.
"""

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
    "utils",
]

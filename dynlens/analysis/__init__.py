"""Opening a Dynamics: fixed points, linearization, the fixed-point graph, alignment, comparison."""

from ..errors import DynlensNotFittedError
from . import metrics
from ._cluster import deduplicate
from .alignment import AffineAlignment
from .compare import FixedPointComparison, compare_fixed_points
from .evaluate import evaluate
from .fixed_points import FixedPoints, find_fixed_points
from .graph import fixed_point_graph
from .invariants import compare_dynamics
from .linearize import Linearization, linearize
from .lyapunov import LyapunovSpectrum, kaplan_yorke_dimension, lyapunov_spectrum
from .model_agreement import Agreement, agreement
from .options import SolverOptions, Tolerances
from .recovery import fixed_point_recovery, true_system
from .similarity import dynamics_similarity
from .verdicts import Verdict, verdict

__all__ = [
    "AffineAlignment",
    "Agreement",
    "DynlensNotFittedError",
    "FixedPointComparison",
    "FixedPoints",
    "Linearization",
    "LyapunovSpectrum",
    "SolverOptions",
    "Tolerances",
    "Verdict",
    "agreement",
    "compare_dynamics",
    "compare_fixed_points",
    "deduplicate",
    "dynamics_similarity",
    "evaluate",
    "find_fixed_points",
    "fixed_point_graph",
    "fixed_point_recovery",
    "kaplan_yorke_dimension",
    "linearize",
    "lyapunov_spectrum",
    "metrics",
    "true_system",
    "verdict",
]

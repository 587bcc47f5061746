"""Opening a Dynamics: fixed points, linearization, the fixed-point graph, alignment, comparison."""

from ..errors import DynlensNotFittedError
from . import metrics
from ._cluster import deduplicate
from .alignment import AffineAlignment
from .compare import FixedPointComparison, compare_fixed_points
from .evaluate import evaluate
from .fixed_points import FixedPoints, find_fixed_points
from .graph import fixed_point_graph
from .linearize import Linearization, linearize
from .options import SolverOptions, Tolerances

__all__ = [
    "AffineAlignment",
    "DynlensNotFittedError",
    "FixedPointComparison",
    "FixedPoints",
    "Linearization",
    "SolverOptions",
    "Tolerances",
    "compare_fixed_points",
    "deduplicate",
    "evaluate",
    "find_fixed_points",
    "fixed_point_graph",
    "linearize",
    "metrics",
]

"""Opening a Dynamics: fixed points, linearization, the fixed-point graph, alignment, comparison."""

from .alignment import AffineAlignment, DynlensNotFittedError
from .fixed_points import FixedPoints, find_fixed_points
from .linearize import Linearization, linearize

__all__ = [
    "AffineAlignment",
    "DynlensNotFittedError",
    "FixedPoints",
    "Linearization",
    "find_fixed_points",
    "linearize",
]

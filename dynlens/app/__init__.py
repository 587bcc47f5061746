"""Application code: the ``dynlens`` command, the demo, the analysis report.

Everything here is a thin layer over the public API; it may import every other layer, and
nothing in the library imports it.
"""

from .analyze import run_analysis
from .demo import run_demo

__all__ = ["run_analysis", "run_demo"]

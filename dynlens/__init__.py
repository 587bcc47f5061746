"""dynlens: are the dynamics your sequential autoencoder learned the real ones?"""

from . import errors
from .dynamics import Dynamics, check_dynamics
from .errors import DynlensError

__version__ = "0.1.0"

__all__ = ["Dynamics", "DynlensError", "check_dynamics", "errors", "__version__"]

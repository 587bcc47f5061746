"""Training: the fit loop, losses and schedules."""

from .fit import FitConfig, default_fit_config, fit
from .losses import poisson_nll

__all__ = ["FitConfig", "default_fit_config", "fit", "poisson_nll"]

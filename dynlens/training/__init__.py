"""Training: the fit loop, losses and schedules."""

from ..models.losses import poisson_nll  # models own their losses; kept here for users
from .fit import FitConfig, default_fit_config, fit

__all__ = ["FitConfig", "default_fit_config", "fit", "poisson_nll"]

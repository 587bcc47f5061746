"""Matplotlib figures. Every function returns a Figure and never calls ``plt.show()``."""

from .data import latent_trajectory_3d, rates, spike_raster
from .models import rates_vs_truth, training_history

__all__ = ["latent_trajectory_3d", "rates", "rates_vs_truth", "spike_raster", "training_history"]

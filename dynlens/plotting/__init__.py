"""Matplotlib figures. Every function returns a Figure (built without pyplot) and never shows it."""

from ._style import NotebookFigure, log_loss_axis, new_figure, save_figure
from .analysis import (
    eigenvalues,
    fixed_point_comparison,
    fixed_point_graph,
    fixed_points,
    latents_vs_truth,
    lyapunov_spectra,
)
from .data import latent_trajectory_3d, rates, spike_raster, time_unit
from .models import inferred_pulses, rates_vs_truth, training_history
from .search import search
from .sweeps import runs, sweep

__all__ = [
    "NotebookFigure",
    "eigenvalues",
    "fixed_point_comparison",
    "fixed_point_graph",
    "fixed_points",
    "inferred_pulses",
    "latent_trajectory_3d",
    "latents_vs_truth",
    "log_loss_axis",
    "lyapunov_spectra",
    "new_figure",
    "rates",
    "rates_vs_truth",
    "runs",
    "save_figure",
    "search",
    "spike_raster",
    "sweep",
    "time_unit",
    "training_history",
]

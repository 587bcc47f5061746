"""What a model infers from spikes: :class:`Inference`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Inference"]


@dataclass
class Inference:
    """Model outputs for a set of trials, as NumPy arrays ``[trials, bins, features]``.

    Attributes
    ----------
    rates : ndarray
        Expected spike counts per bin for every neuron (held-in and held-out).
    log_rates : ndarray
        Natural log of ``rates``.
    latents : ndarray or None
        Latent states ``[trials, bins, latent_dim]`` (None for models without a latent state).
    initial_conditions : ndarray or None
        Generator initial states ``[trials, latent_dim]``.
    extras : dict
        Model-specific outputs (e.g. LFADS inferred inputs).
    """

    rates: np.ndarray
    log_rates: np.ndarray
    latents: np.ndarray | None = None
    initial_conditions: np.ndarray | None = None
    extras: dict = field(default_factory=dict)

    @property
    def n_trials(self) -> int:
        return self.rates.shape[0]

    def __repr__(self) -> str:
        latent = None if self.latents is None else self.latents.shape
        return f"Inference(rates={self.rates.shape}, latents={latent})"

"""Observation losses that models build their ``loss`` from."""

from __future__ import annotations

import torch
from torch.nn import functional as F

__all__ = ["poisson_nll"]


def poisson_nll(log_rates: torch.Tensor, spikes: torch.Tensor) -> torch.Tensor:
    """Mean Poisson negative log-likelihood of counts given log-rates, with the Stirling term.

    Examples
    --------
    >>> import torch
    >>> round(float(poisson_nll(torch.zeros(2, 3), torch.ones(2, 3))), 4)  # rate 1, count 1
    1.0
    """
    return F.poisson_nll_loss(log_rates, spikes, log_input=True, full=True, reduction="mean")

"""Encoders that map a trial's spikes to a generator's initial condition."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["BidirectionalGRUEncoder"]


class BidirectionalGRUEncoder(nn.Module):
    """Bidirectional GRU over all bins; final states concatenated -> dropout -> Linear -> IC.

    Parameters
    ----------
    n_inputs : int
        Number of input neurons (the held-in neurons).
    output_dim : int
        Size of the initial condition.
    hidden_size : int
        Units per direction (the paper uses 64).
    dropout : float
        Dropout on the concatenated final states.

    Examples
    --------
    >>> enc = BidirectionalGRUEncoder(n_inputs=10, output_dim=3, hidden_size=8)
    >>> tuple(enc(torch.zeros(4, 20, 10)).shape)
    (4, 3)
    """

    def __init__(
        self, n_inputs: int, output_dim: int, hidden_size: int = 64, dropout: float = 0.05
    ):
        super().__init__()
        self.gru = nn.GRU(n_inputs, hidden_size, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.to_ic = nn.Linear(2 * hidden_size, output_dim)

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        # log1p tames large counts without changing what the encoder can represent
        _, h_n = self.gru(torch.log1p(spikes))
        final = torch.cat([h_n[0], h_n[1]], dim=-1)
        return self.to_ic(self.dropout(final))

"""The pieces of LFADS: Gaussian KL terms, the AR(1) prior of inferred inputs, the generator.

Kept apart from :mod:`dynlens.models.lfads` (which wires them into a model) so that each can
be checked on its own against a hand computation.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .generators import GRUDynamics
from .gru_sequence import gru_states, wants_hand_backward

__all__ = ["AR1Prior", "LFADSGenerator", "gaussian_kl"]


def gaussian_kl(mean: torch.Tensor, var: torch.Tensor, prior_mean: torch.Tensor | float,
                prior_var: torch.Tensor | float) -> torch.Tensor:
    """``KL(N(mean, var) || N(prior_mean, prior_var))`` elementwise (diagonal Gaussians).

    Examples
    --------
    >>> import torch
    >>> float(gaussian_kl(torch.tensor(1.0), torch.tensor(1.0), 0.0, 1.0))  # 0.5 * mean^2
    0.5
    """
    prior_var = torch.as_tensor(prior_var, dtype=var.dtype, device=var.device)
    return 0.5 * (torch.log(prior_var / var) + (var + (mean - prior_mean) ** 2) / prior_var - 1)


class AR1Prior(nn.Module):
    """Autoregressive prior of inferred inputs, one independent AR(1) process per dimension.

    ``u_t = a u_{t-1} + e_t`` with ``a = exp(-1 / tau)`` and innovations ``e_t ~ N(0, nvar)``;
    the first input is drawn from the stationary law ``N(0, nvar / (1 - a^2))``. Both ``tau``
    (in bins) and ``nvar`` are learned (through their logarithms).

    The KL of the posterior ``q(u_t) = N(m_t, v_t)`` from this prior is taken along the
    sampled path: ``sum_t KL(q(u_t) || p(u_t | u_{t-1}))``, each term a Gaussian KL (so the
    sum is never negative), with the posterior means standing in for the samples at
    evaluation.

    Parameters
    ----------
    co_dim : int
        Dimensions of the inferred input, each with its own ``tau`` and ``nvar``.
    tau : float
        Initial autocorrelation time constant, in bins.
    nvar : float
        Initial variance of the innovations.

    Examples
    --------
    >>> import torch
    >>> prior = AR1Prior(co_dim=1, tau=10.0, nvar=0.1)
    >>> m = torch.zeros(2, 5, 1); v = torch.full((2, 5, 1), 0.1)
    >>> kl = prior.kl(m, v, m)
    >>> tuple(kl.shape), bool((kl >= 0).all())
    ((2,), True)
    """

    def __init__(self, co_dim: int, tau: float = 10.0, nvar: float = 0.1) -> None:
        super().__init__()
        self.log_tau = nn.Parameter(torch.full((co_dim,), math.log(tau)))
        self.log_nvar = nn.Parameter(torch.full((co_dim,), math.log(nvar)))

    def kl(self, mean: torch.Tensor, var: torch.Tensor, samples: torch.Tensor) -> torch.Tensor:
        """KL per trial, summed over time and dimensions; inputs ``[trials, bins, co_dim]``."""
        alpha = torch.exp(-1.0 / torch.exp(self.log_tau))
        nvar = torch.exp(self.log_nvar)
        stationary = nvar / (1 - alpha ** 2)
        first = gaussian_kl(mean[:, :1], var[:, :1], 0.0, stationary)
        rest = gaussian_kl(mean[:, 1:], var[:, 1:], alpha * samples[:, :-1], nvar)
        return first.sum((1, 2)) + rest.sum((1, 2))


class LFADSGenerator(GRUDynamics):
    """LFADS's generator: a GRU cell whose input is the inferred and external input (discrete).

    ``forward(x, u)`` is one step (``u`` zero when None) and ``jacobian`` its analytic
    Jacobian (both from :class:`~dynlens.models.GRUDynamics`); :meth:`run` takes many steps
    at once on the same weights: through torch's fused GRU, or when training on a CPU through
    :func:`~dynlens.models.gru_sequence.gru_states` (a hand-written backward). States stay
    within ``clip`` when they start there: a GRU's next state is a convex combination of its
    state and a ``tanh``, so clipping the initial state is LFADS's state clipping. The
    update gates start biased towards keeping the state (LFADS's forget bias of 1).

    Parameters
    ----------
    dim : int
        Generator state dimension (= hidden size of the GRU cell).
    n_inputs : int
        Input size of the cell: inferred plus external inputs.
    clip : float
        Bound on the absolute value of the initial state in :meth:`run`.

    Examples
    --------
    >>> import torch
    >>> gen = LFADSGenerator(dim=8, n_inputs=2)
    >>> x, u = torch.randn(4, 8), torch.randn(4, 2)
    >>> steps = gen.run(x, u[:, None].expand(4, 3, 2))
    >>> bool(torch.allclose(steps[:, 0], gen(x, u), atol=1e-6))
    True
    """

    def __init__(self, dim: int, n_inputs: int = 1, clip: float = 5.0) -> None:
        super().__init__(dim, n_inputs)
        self.clip = float(clip)
        with torch.no_grad():  # gate order: reset, update, candidate
            self.cell.bias_hh[self.dim:2 * self.dim] += 1.0
        # a parameter-free shape for torch's fused GRU, run on the cell's own weights
        self._fused = (nn.GRU(self.n_inputs, self.dim, batch_first=True),)

    def run(self, x0: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """States after each of ``inputs.shape[1]`` steps from ``x0`` (clipped) ``[b, t, dim]``."""
        h0 = x0.clamp(-self.clip, self.clip)
        if wants_hand_backward(h0, self.cell):
            cell = self.cell
            return gru_states(inputs.to(h0.dtype), h0, cell.weight_ih, cell.weight_hh,
                              cell.bias_ih, cell.bias_hh)
        weights = {"weight_ih_l0": self.cell.weight_ih, "weight_hh_l0": self.cell.weight_hh,
                   "bias_ih_l0": self.cell.bias_ih, "bias_hh_l0": self.cell.bias_hh}
        out, _ = torch.func.functional_call(self._fused[0], weights,
                                            (inputs.to(h0.dtype), h0[None].contiguous()))
        return out

"""Latent generators of sequential autoencoders, each a :class:`~dynlens.dynamics.Dynamics`.

A generator is what the analysis layer opens: ``model.dynamics`` of an SAE is one of these.

- :class:`GRUDynamics`: a GRU cell with zero input; the hidden state is the latent state, so
  capacity is tied to dimensionality (``3 d (d + 3)`` parameters with a 1-d input).
- :class:`RNNDynamics`: a vanilla tanh RNN cell with zero input.
- :class:`NODEDynamics`: a continuous vector field ``dx/dt = MLP(x)``, integrated by
  :func:`rollout` with torchdiffeq. ``dt`` is one bin in model time.
- :class:`DiscreteNODEDynamics`: ``x <- x + step * MLP(x)`` (the discrete NODE of the paper).
- :class:`LinearDynamics`: ``x <- A x + b``, the linear baseline.

Examples
--------
>>> import torch
>>> f = NODEDynamics(dim=3, hidden_size=16)
>>> traj = rollout(f, torch.zeros(5, 3), n_steps=7)
>>> tuple(traj.shape)
(5, 7, 3)
"""

from __future__ import annotations

import torch
from torch import nn
from torchdiffeq import odeint

from .._utils import check_positive_float, check_positive_int
from ..dynamics import Dynamics
from ..errors import DynlensValueError

__all__ = [
    "ADAPTIVE_SOLVERS",
    "FIXED_STEP_SOLVERS",
    "DiscreteNODEDynamics",
    "GRUDynamics",
    "LinearDynamics",
    "NODEDynamics",
    "RNNDynamics",
    "mlp",
    "rollout",
]

FIXED_STEP_SOLVERS = ("euler", "midpoint", "rk4", "explicit_adams", "implicit_adams")
ADAPTIVE_SOLVERS = ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun")


def mlp(in_dim: int, out_dim: int, hidden_size: int, n_layers: int, activation=nn.Tanh) -> nn.Sequential:
    """An MLP with ``n_layers`` hidden layers of ``hidden_size`` units (``n_layers=0``: linear)."""
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(n_layers):
        layers += [nn.Linear(width, hidden_size), activation()]
        width = hidden_size
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


def _flatten(x: torch.Tensor, dim: int, name: str = "x") -> tuple[torch.Tensor, torch.Size]:
    if x.shape[-1:] != (dim,):
        raise DynlensValueError(f"{name}: expected shape [..., {dim}], found {tuple(x.shape)}")
    return x.reshape(-1, dim), x.shape[:-1]


class _CellDynamics(Dynamics):
    """Shared batching for cells that take an input (zero when ``u`` is None)."""

    cell: nn.Module

    def __init__(self, dim: int, n_inputs: int) -> None:
        super().__init__(dim=dim, kind="discrete", dt=None)
        self.n_inputs = check_positive_int(n_inputs, "n_inputs")

    def _batch(self, x: torch.Tensor, u: torch.Tensor | None):
        flat, lead = _flatten(x, self.dim)
        if u is None:
            inp = flat.new_zeros(flat.shape[0], self.n_inputs)
        else:
            inp = torch.broadcast_to(u, (*lead, self.n_inputs)).reshape(-1, self.n_inputs)
        return flat, inp.to(flat.dtype), lead

    def forward(self, x: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        flat, inp, lead = self._batch(x, u)
        return self.cell(inp, flat).reshape(*lead, self.dim)


class GRUDynamics(_CellDynamics):
    """GRU cell with zero input; its hidden state is the latent state (``kind="discrete"``).

    Parameters
    ----------
    dim : int
        Latent dimension (= hidden size: capacity is tied to dimensionality).
    n_inputs : int
        Input size of the cell; the input is zero unless ``u`` is given. The paper uses 1.
    """

    def __init__(self, dim: int, n_inputs: int = 1) -> None:
        super().__init__(dim, n_inputs)
        self.cell = nn.GRUCell(self.n_inputs, self.dim)

    def jacobian(self, x: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        """Analytic Jacobian ``dF/dx`` ``[..., dim, dim]`` of one step (input ``u``, default 0).

        With ``a = W_h x + b_h`` split into reset, update and candidate parts (torch's
        ``GRUCell`` gate order): ``F = (1 - z) n + z x``, so
        ``dF/dx = diag(z) + diag((x - n) z (1 - z)) W_hz
        + diag((1 - z)(1 - n^2)) (diag(r) W_hn + diag(a_n r (1 - r)) W_hr)``.
        One pass over the three weight blocks instead of ``dim`` reverse passes: the
        fixed-point finder recomputes Jacobians of every candidate, and this is about 12x
        cheaper than ``torch.func.jacrev`` for a 64-unit cell.

        Examples
        --------
        >>> import torch
        >>> gru = GRUDynamics(dim=4)
        >>> x = torch.randn(2, 4)
        >>> auto = torch.func.vmap(torch.func.jacrev(lambda z: gru(z[None])[0]))(x)
        >>> bool(torch.allclose(gru.jacobian(x), auto, atol=1e-6))
        True
        """
        flat, inp, lead = self._batch(x, u)
        cell, d = self.cell, self.dim
        gi = inp @ cell.weight_ih.T
        gh = flat @ cell.weight_hh.T
        if cell.bias:
            gi, gh = gi + cell.bias_ih, gh + cell.bias_hh
        r = torch.sigmoid(gi[:, :d] + gh[:, :d])
        z = torch.sigmoid(gi[:, d:2 * d] + gh[:, d:2 * d])
        n = torch.tanh(gi[:, 2 * d:] + r * gh[:, 2 * d:])
        w_r, w_z, w_n = cell.weight_hh[:d], cell.weight_hh[d:2 * d], cell.weight_hh[2 * d:]
        dn = (1 - z) * (1 - n * n)
        jac = (((flat - n) * z * (1 - z))[:, :, None] * w_z + (dn * r)[:, :, None] * w_n
               + (dn * gh[:, 2 * d:] * r * (1 - r))[:, :, None] * w_r)
        jac.diagonal(dim1=1, dim2=2).add_(z)
        return jac.reshape(*lead, d, d)


class RNNDynamics(_CellDynamics):
    """Vanilla tanh RNN cell with zero input (``kind="discrete"``)."""

    def __init__(self, dim: int, n_inputs: int = 1) -> None:
        super().__init__(dim, n_inputs)
        self.cell = nn.RNNCell(self.n_inputs, self.dim, nonlinearity="tanh")

    def jacobian(self, x: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        """Analytic Jacobian ``diag(1 - F(x)^2) W_hh`` ``[..., dim, dim]`` of one step.

        Examples
        --------
        >>> import torch
        >>> rnn = RNNDynamics(dim=3)
        >>> x = torch.randn(2, 3)
        >>> auto = torch.func.vmap(torch.func.jacrev(lambda z: rnn(z[None])[0]))(x)
        >>> bool(torch.allclose(rnn.jacobian(x), auto, atol=1e-6))
        True
        """
        flat, inp, lead = self._batch(x, u)
        out = self.cell(inp, flat)
        jac = (1 - out * out)[:, :, None] * self.cell.weight_hh
        return jac.reshape(*lead, self.dim, self.dim)


class NODEDynamics(Dynamics):
    """Continuous vector field ``dx/dt = MLP(x)`` (``kind="continuous"``).

    Parameters
    ----------
    dim : int
        Latent dimension.
    hidden_size : int
        Width of the MLP (capacity, independent of ``dim``).
    n_layers : int
        Number of hidden layers.
    dt : float
        One data bin in model time units.
    """

    def __init__(self, dim: int, hidden_size: int = 128, n_layers: int = 1, dt: float = 0.1) -> None:
        super().__init__(dim=dim, kind="continuous", dt=check_positive_float(dt, "dt"))
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.n_layers = check_positive_int(n_layers, "n_layers")
        self.field = mlp(self.dim, self.dim, self.hidden_size, self.n_layers)

    def forward(self, x: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        if u is not None:
            raise DynlensValueError("u: NODEDynamics takes no input; expected None, found a tensor")
        return self.field(x)


class DiscreteNODEDynamics(Dynamics):
    """Residual map ``x <- x + step * MLP(x)`` (``kind="discrete"``); the paper's step is 0.1."""

    def __init__(self, dim: int, hidden_size: int = 128, n_layers: int = 1, step: float = 0.1) -> None:
        super().__init__(dim=dim, kind="discrete", dt=None)
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.n_layers = check_positive_int(n_layers, "n_layers")
        self.step = check_positive_float(step, "step")
        self.field = mlp(self.dim, self.dim, self.hidden_size, self.n_layers)

    def forward(self, x: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        if u is not None:
            raise DynlensValueError("u: DiscreteNODEDynamics takes no input; expected None, found a tensor")
        return x + self.step * self.field(x)


class LinearDynamics(Dynamics):
    """Linear map ``x <- A x + b`` (``kind="discrete"``), initialised near the identity."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim=dim, kind="discrete", dt=None)
        self.linear = nn.Linear(self.dim, self.dim)
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(self.dim) + 0.01 * torch.randn(self.dim, self.dim))
            self.linear.bias.zero_()

    def forward(self, x: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        if u is not None:
            raise DynlensValueError("u: LinearDynamics takes no input; expected None, found a tensor")
        return self.linear(x)


class _TimeInvariantField(nn.Module):
    """Adapts ``f(x)`` to torchdiffeq's ``f(t, x)``."""

    def __init__(self, dynamics: nn.Module) -> None:
        super().__init__()
        self.dynamics = dynamics

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.dynamics(x)


def rollout(
    dynamics: Dynamics,
    x0: torch.Tensor,
    n_steps: int,
    solver: str = "rk4",
    rtol: float = 1e-3,
    atol: float = 1e-3,
    substeps: int = 1,
) -> torch.Tensor:
    """Roll a generator forward from ``x0`` [batch, dim] for ``n_steps`` bins.

    Returns ``[batch, n_steps, dim]`` whose first bin is ``x0``. Discrete maps are iterated;
    continuous fields are integrated with torchdiffeq at the bin times ``k * dt``. Fixed-step
    solvers take ``substeps`` steps per bin; adaptive ones use ``rtol``/``atol``.
    """
    n_steps = check_positive_int(n_steps, "n_steps")
    if x0.ndim < 1 or x0.shape[-1] != dynamics.dim:
        raise DynlensValueError(f"x0: expected shape [batch, {dynamics.dim}], found {tuple(x0.shape)}")
    if dynamics.kind == "discrete":
        states = [x0]
        for _ in range(n_steps - 1):
            states.append(dynamics(states[-1]))
        return torch.stack(states, dim=1)
    if solver not in FIXED_STEP_SOLVERS + ADAPTIVE_SOLVERS:
        raise DynlensValueError(
            f"solver: expected one of {FIXED_STEP_SOLVERS + ADAPTIVE_SOLVERS}, found {solver!r}"
        )
    times = torch.arange(n_steps, dtype=x0.dtype, device=x0.device) * dynamics.dt
    options = {"step_size": dynamics.dt / substeps} if solver in FIXED_STEP_SOLVERS else None
    path = odeint(_TimeInvariantField(dynamics), x0, times, method=solver, rtol=rtol, atol=atol,
                  options=options)
    return path.transpose(0, 1)

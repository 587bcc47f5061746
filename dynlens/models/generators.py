"""Latent generators of sequential autoencoders, each a :class:`~dynlens.dynamics.Dynamics`.

A generator is what the analysis layer opens: ``model.dynamics`` of an SAE is one of these.

- :class:`GRUDynamics`: a GRU cell with zero input; the hidden state is the latent state, so
  capacity is tied to dimensionality (``3 d (d + 3)`` parameters with a 1-d input).
- :class:`RNNDynamics`: a vanilla tanh RNN cell with zero input.
- :class:`NODEDynamics`: a continuous vector field ``dx/dt = MLP(x)``, integrated by
  :func:`dynlens.dynamics.rollout` with torchdiffeq. ``dt`` is one bin in model time.
- :class:`DiscreteNODEDynamics`: ``x <- x + step * MLP(x)`` (the discrete NODE of the paper).
- :class:`LinearDynamics`: ``x <- A x + b``, the linear baseline.
- :class:`ResidualRNNDynamics`: ``x <- x + step * tanh(W x + b)``, a tanh RNN cell in place of
  the discrete NODE's MLP (an ablation of the paper).
- :class:`MLPMapDynamics`: ``x <- MLP(x)``, an MLP that predicts the next state instead of a
  step (an ablation of the paper).

Examples
--------
>>> import torch
>>> from dynlens.dynamics import rollout
>>> f = NODEDynamics(dim=3, hidden_size=16)
>>> traj = rollout(f, torch.zeros(5, 3), n_steps=7)
>>> tuple(traj.shape)
(5, 7, 3)
"""

from __future__ import annotations

import torch
from torch import nn

from ..dynamics import Dynamics
from ..errors import DynlensValueError
from ..utils import check_positive_float, check_positive_int
from .generator_registry import register_generator

__all__ = [
    "DiscreteNODEDynamics",
    "GRUDynamics",
    "LinearDynamics",
    "MLPMapDynamics",
    "NODEDynamics",
    "RNNDynamics",
    "ResidualRNNDynamics",
    "mlp",
]

def mlp(
    in_dim: int, out_dim: int, hidden_size: int, n_layers: int, activation=nn.Tanh
) -> nn.Sequential:
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


def _refuse_input(dynamics: Dynamics, u: torch.Tensor | None) -> None:
    """Raise naming ``u`` when a generator that takes no input is given one."""
    if u is not None:
        raise DynlensValueError(
            f"u: {type(dynamics).__name__} takes no input; expected None, found a tensor")


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

    Examples
    --------
    >>> import torch
    >>> f = GRUDynamics(dim=3)
    >>> f
    GRUDynamics(
      dim=3, kind='discrete', dt=None
      (cell): GRUCell(1, 3)
    )
    >>> sum(p.numel() for p in f.parameters()) == 3 * 3 * (3 + 3)  # 3 d (d + 3)
    True
    >>> x = torch.randn(4, 3)
    >>> bool(torch.equal(f(x), f.cell(torch.zeros(4, 1), x)))  # the cell with zero input
    True
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
        One pass over the three weight blocks instead of ``dim`` reverse passes (the
        fixed-point finder recomputes Jacobians of every candidate; the saving is measured in
        ``benchmarks/bench_fixed_points.md``).

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
    """Vanilla tanh RNN cell with zero input (``kind="discrete"``).

    Parameters
    ----------
    dim : int
        Latent dimension (= hidden size: capacity is tied to dimensionality).
    n_inputs : int
        Input size of the cell; the input is zero unless ``u`` is given.

    Examples
    --------
    >>> import torch
    >>> f = RNNDynamics(dim=2)
    >>> x = torch.randn(5, 2)
    >>> step = torch.tanh(x @ f.cell.weight_hh.T + f.cell.bias_hh + f.cell.bias_ih)
    >>> bool(torch.allclose(f(x), step, atol=1e-6))  # tanh(W_hh x + b), input zero
    True
    """

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

    Examples
    --------
    >>> import torch
    >>> f = NODEDynamics(dim=2, hidden_size=8, dt=0.05)
    >>> f.kind, f.dt
    ('continuous', 0.05)
    >>> x = torch.randn(4, 2)
    >>> bool(torch.equal(f(x), f.field(x)))  # the MLP is the velocity dx/dt
    True
    >>> f(x, u=torch.ones(1))
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensValueError: u: NODEDynamics takes no input; expected None, found a tensor
    """

    def __init__(
        self, dim: int, hidden_size: int = 128, n_layers: int = 1, dt: float = 0.1
    ) -> None:
        super().__init__(dim=dim, kind="continuous", dt=check_positive_float(dt, "dt"))
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.n_layers = check_positive_int(n_layers, "n_layers")
        self.field = mlp(self.dim, self.dim, self.hidden_size, self.n_layers)

    def forward(self, x: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        _refuse_input(self, u)
        return self.field(x)


class DiscreteNODEDynamics(Dynamics):
    """Residual map ``x <- x + step * MLP(x)`` (``kind="discrete"``); the paper's step is 0.1.

    Parameters
    ----------
    dim : int
        Latent dimension.
    hidden_size : int
        Width of the MLP (capacity, independent of ``dim``).
    n_layers : int
        Number of hidden layers.
    step : float
        Size of the residual step.

    Examples
    --------
    >>> import torch
    >>> f = DiscreteNODEDynamics(dim=2, hidden_size=8, step=0.5)
    >>> f.kind, f.dt
    ('discrete', None)
    >>> x = torch.randn(4, 2)
    >>> bool(torch.allclose(f(x), x + 0.5 * f.field(x)))
    True
    """

    def __init__(
        self, dim: int, hidden_size: int = 128, n_layers: int = 1, step: float = 0.1
    ) -> None:
        super().__init__(dim=dim, kind="discrete", dt=None)
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.n_layers = check_positive_int(n_layers, "n_layers")
        self.step = check_positive_float(step, "step")
        self.field = mlp(self.dim, self.dim, self.hidden_size, self.n_layers)

    def forward(self, x: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        _refuse_input(self, u)
        return x + self.step * self.field(x)


class LinearDynamics(Dynamics):
    """Linear map ``x <- A x + b`` (``kind="discrete"``), initialised near the identity.

    Parameters
    ----------
    dim : int
        Latent dimension.

    Examples
    --------
    >>> import torch
    >>> f = LinearDynamics(dim=3)
    >>> f(torch.zeros(2, 3)).tolist()  # b starts at zero
    [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    >>> bool(torch.allclose(f.linear.weight, torch.eye(3), atol=0.1))  # A starts near I
    True
    """

    def __init__(self, dim: int) -> None:
        super().__init__(dim=dim, kind="discrete", dt=None)
        self.linear = nn.Linear(self.dim, self.dim)
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(self.dim) + 0.01 * torch.randn(self.dim, self.dim))
            self.linear.bias.zero_()

    def forward(self, x: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        _refuse_input(self, u)
        return self.linear(x)


class ResidualRNNDynamics(Dynamics):
    """Residual tanh RNN ``x <- x + step * tanh(W x + b)`` (``kind="discrete"``).

    The discrete NODE with its MLP replaced by one tanh layer of width ``dim``: capacity
    tied to dimensionality again, as in a vanilla RNN, but a step that starts near the
    identity.

    Parameters
    ----------
    dim : int
        Latent dimension (= width of the tanh layer).
    step : float
        Size of the residual step.

    Examples
    --------
    >>> import torch
    >>> f = ResidualRNNDynamics(dim=3, step=0.2)
    >>> sum(p.numel() for p in f.parameters())  # d (d + 1): tied to the dimension
    12
    >>> x = torch.randn(4, 3)
    >>> bool(torch.allclose(f(x), x + 0.2 * torch.tanh(f.layer(x))))
    True
    """

    def __init__(self, dim: int, step: float = 0.1) -> None:
        super().__init__(dim=dim, kind="discrete", dt=None)
        self.step = check_positive_float(step, "step")
        self.layer = nn.Linear(self.dim, self.dim)

    def forward(self, x: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        _refuse_input(self, u)
        return x + self.step * torch.tanh(self.layer(x))

    def jacobian(self, x: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        """Analytic Jacobian ``I + step * diag(1 - tanh(W x + b)^2) W`` ``[..., dim, dim]``.

        Examples
        --------
        >>> import torch
        >>> f = ResidualRNNDynamics(dim=3)
        >>> x = torch.randn(2, 3)
        >>> auto = torch.func.vmap(torch.func.jacrev(f))(x)
        >>> bool(torch.allclose(f.jacobian(x), auto, atol=1e-6))
        True
        """
        _refuse_input(self, u)
        slope = 1 - torch.tanh(self.layer(x)) ** 2
        eye = torch.eye(self.dim, dtype=x.dtype, device=x.device)
        return eye + self.step * slope[..., :, None] * self.layer.weight


class MLPMapDynamics(Dynamics):
    """Next-state map ``x <- MLP(x)`` (``kind="discrete"``): no residual, no step size.

    Parameters
    ----------
    dim : int
        Latent dimension.
    hidden_size : int
        Width of the MLP (capacity, independent of ``dim``).
    n_layers : int
        Number of hidden layers.

    Examples
    --------
    >>> import torch
    >>> f = MLPMapDynamics(dim=3, hidden_size=16)
    >>> tuple(f(torch.zeros(4, 3)).shape)
    (4, 3)
    """

    def __init__(self, dim: int, hidden_size: int = 128, n_layers: int = 1) -> None:
        super().__init__(dim=dim, kind="discrete", dt=None)
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.n_layers = check_positive_int(n_layers, "n_layers")
        self.field = mlp(self.dim, self.dim, self.hidden_size, self.n_layers)

    def forward(self, x: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        _refuse_input(self, u)
        return self.field(x)


def _node(latent_dim: int, hidden_size: int = 128, n_layers: int = 1,
          bin_dt: float = 0.1) -> NODEDynamics:
    """The SAE's NODE: one bin is ``bin_dt`` in model time."""
    return NODEDynamics(latent_dim, hidden_size, n_layers, dt=bin_dt)


# The built-in generators, with the published learning rate and weight decay of each (Sedler
# et al. 2023 for the NODE and the GRU; the RNN follows the GRU, the linear baseline its own,
# the two ablations of the discrete NODE its recipe).
_NODE_RECIPE = {"lr": 5e-3, "weight_decay": 1e-5}
_GRU_RECIPE = {"lr": 1e-2, "weight_decay": 1e-4}
for _name, _factory, _recipe in (
    ("gru", GRUDynamics, _GRU_RECIPE),
    ("rnn", RNNDynamics, _GRU_RECIPE),
    ("node", _node, _NODE_RECIPE),
    ("node_discrete", DiscreteNODEDynamics, _NODE_RECIPE),
    ("lds", LinearDynamics, {"lr": 1e-2, "weight_decay": 1e-5}),
    ("rnn_residual", ResidualRNNDynamics, _NODE_RECIPE),
    ("mlp_map", MLPMapDynamics, _NODE_RECIPE),
):
    register_generator(_name, _factory, fit_defaults=_recipe)

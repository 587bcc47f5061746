"""torch's own recurrent networks as a discrete :class:`~dynlens.dynamics.Dynamics`.

:func:`from_rnn` opens a task-trained ``nn.RNN``, ``nn.GRU`` or ``nn.LSTM`` (any
``num_layers``, ``batch_first`` either way, an LSTM's ``proj_size`` included) or an
``nn.RNNCell``, ``nn.GRUCell`` or ``nn.LSTMCell`` for every analysis dynlens has. The step is
the module's own call on one time bin, so nothing is re-implemented and the Jacobians that
the analysis takes through autograd are those of the module itself.

The state is every layer's ``h`` in layer order, then, for an LSTM, every layer's ``c``:
``[h_0 .. h_{L-1}, c_0 .. c_{L-1}]``. The input ``u`` is the module's input (``input_size``
wide); ``u=None`` feeds zeros, the autonomous network.

Examples
--------
>>> import torch
>>> from torch import nn
>>> torch.manual_seed(0)  # doctest: +ELLIPSIS
<torch._C.Generator object at ...>
>>> lstm = nn.LSTM(input_size=3, hidden_size=4, num_layers=2, batch_first=True)
>>> dyn = from_rnn(lstm)
>>> dyn.dim, dyn.kind, dyn.n_inputs          # h_0, h_1, c_0, c_1
(16, 'discrete', 3)
>>> inputs = torch.randn(5, 7, 3)              # [trials, time, inputs]
>>> states = dyn.run(inputs)                   # [trials, time, dim], after each input
>>> output, (h_n, c_n) = lstm(inputs)
>>> bool(torch.allclose(states[..., 4:8], output, atol=1e-6))   # layer 1's h is the output
True
>>> h, c = dyn.to_hidden(states[:, -1])
>>> bool(torch.allclose(h, h_n, atol=1e-6)) and bool(torch.allclose(c, c_n, atol=1e-6))
True
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from .dynamics import Dynamics, eval_mode, rollout
from .errors import DynlensTypeError, DynlensValueError

__all__ = ["RNN_MODULES", "RNNDynamics", "from_rnn"]

#: The torch modules :func:`from_rnn` opens (subclasses included).
RNN_MODULES = (nn.RNN, nn.GRU, nn.LSTM, nn.RNNCell, nn.GRUCell, nn.LSTMCell)

Hidden = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class RNNDynamics(Dynamics):
    """A torch recurrent module's one-bin update as a discrete Dynamics.

    Built by :func:`from_rnn`, which documents the state layout. The module is held, not
    copied: training it further changes this Dynamics too. ``forward`` calls the module in
    whatever mode it is in; dynlens's analyses switch it to eval mode (no dropout between
    layers) for their own calls.

    Parameters
    ----------
    module : nn.RNN, nn.GRU, nn.LSTM, nn.RNNCell, nn.GRUCell or nn.LSTMCell
        The network; a bidirectional one is refused.

    Attributes
    ----------
    module : nn.Module
        The network itself.
    n_inputs : int
        The module's ``input_size``: the width of ``u``.
    n_layers : int
        Layers (1 for a cell).
    h_size : int
        Width of each layer's ``h`` (an LSTM's ``proj_size`` when it projects).
    c_size : int
        Width of each layer's ``c`` (0 without a cell state).
    is_cell : bool
        Whether the module is a one-step cell rather than a sequence module.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> cell = nn.GRUCell(2, 3)
    >>> dyn = RNNDynamics(cell)
    >>> dyn
    RNNDynamics(
      dim=3, kind='discrete', dt=None
      (module): GRUCell(2, 3)
    )
    >>> x, u = torch.randn(5, 3), torch.randn(5, 2)
    >>> bool(torch.equal(dyn(x, u), cell(u, x)))
    True
    """

    def __init__(self, module: nn.Module) -> None:
        _check_module(module)
        is_lstm = isinstance(module, (nn.LSTM, nn.LSTMCell))
        is_cell = isinstance(module, (nn.RNNCell, nn.GRUCell, nn.LSTMCell))
        n_layers = 1 if is_cell else int(module.num_layers)
        proj = 0 if is_cell or not is_lstm else int(module.proj_size)
        h_size = proj or int(module.hidden_size)
        c_size = int(module.hidden_size) if is_lstm else 0
        super().__init__(dim=n_layers * (h_size + c_size), kind="discrete")
        self.module = module
        self.n_inputs = int(module.input_size)
        self.n_layers, self.h_size, self.c_size, self.is_cell = n_layers, h_size, c_size, is_cell

    # -- the state and the module's own hidden format ----------------------------------
    @property
    def _reference(self) -> torch.Tensor:
        return next(self.module.parameters())

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``[..., dim]`` -> per-layer ``h [..., L, h_size]`` and ``c [..., L, c_size]``."""
        lead, cut = x.shape[:-1], self.n_layers * self.h_size
        h = x[..., :cut].reshape(*lead, self.n_layers, self.h_size)
        c = x[..., cut:].reshape(*lead, self.n_layers, self.c_size) if self.c_size else None
        return h, c

    def to_state(self, hidden: Hidden) -> torch.Tensor:
        """The module's own hidden state as a state ``[..., dim]`` of this Dynamics.

        Parameters
        ----------
        hidden : tensor or (tensor, tensor)
            What the module returns or takes as its hidden state: ``h_n`` ``[num_layers,
            ..., h_size]`` (an LSTM: ``(h_n, c_n)``) for a sequence module, ``h [..., h_size]``
            (an LSTMCell: ``(h, c)``) for a cell; any batch shape, none for one sample.

        Returns
        -------
        torch.Tensor [..., dim]

        Examples
        --------
        >>> import torch
        >>> from torch import nn
        >>> gru = nn.GRU(1, 3, num_layers=2)
        >>> dyn = from_rnn(gru)
        >>> _, h_n = gru(torch.randn(4, 5, 1))   # time first: 5 trials
        >>> h_n.shape, dyn.to_state(h_n).shape
        (torch.Size([2, 5, 3]), torch.Size([5, 6]))
        >>> bool(torch.equal(dyn.to_hidden(dyn.to_state(h_n)), h_n))
        True
        """
        parts = _hidden_parts(hidden, self.c_size > 0)
        widths = (self.h_size, self.c_size)
        flat = []
        for name, part, width in zip(("h", "c"), parts, widths):
            _check_hidden_part(part, name, width, self.n_layers, self.is_cell, parts[0])
            layers = part.unsqueeze(0) if self.is_cell else part
            flat.append(layers.movedim(0, -2).flatten(-2))   # [..., L * width], layer order
        return torch.cat(flat, dim=-1)

    def to_hidden(self, state: torch.Tensor) -> Hidden:
        """A state ``[..., dim]`` in the module's own hidden format (the inverse of
        :meth:`to_state`).

        Parameters
        ----------
        state : torch.Tensor [..., dim]
            States of this Dynamics.

        Returns
        -------
        torch.Tensor or (torch.Tensor, torch.Tensor)
            ``h [num_layers, ..., h_size]`` (an LSTM: ``(h, c)``) for a sequence module,
            ``h [..., h_size]`` (an LSTMCell: ``(h, c)``) for a cell, ready to pass to it.

        Examples
        --------
        >>> import torch
        >>> from torch import nn
        >>> dyn = from_rnn(nn.LSTMCell(2, 3))
        >>> h, c = dyn.to_hidden(torch.arange(6.0))
        >>> h.tolist(), c.tolist()
        ([0.0, 1.0, 2.0], [3.0, 4.0, 5.0])
        """
        state = self._check_state(state, "state", dtype=False)
        h, c = self._split(state)
        parts = [p[..., 0, :] if self.is_cell else p.movedim(-2, 0).contiguous()
                 for p in (h, c) if p is not None]
        return parts[0] if len(parts) == 1 else (parts[0], parts[1])

    # -- one step --------------------------------------------------------------------
    def forward(self, x: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        """The state after one bin: the module's own update of ``x`` under the input ``u``.

        Parameters
        ----------
        x : torch.Tensor [..., dim]
            States, in the module's dtype and on its device.
        u : torch.Tensor [..., n_inputs], optional
            Inputs, broadcast against ``x``'s leading shape (and converted to its dtype);
            None feeds zeros.

        Returns
        -------
        torch.Tensor [..., dim]
            Over the broadcast leading shape of ``x`` and ``u``.

        Examples
        --------
        >>> import torch
        >>> from torch import nn
        >>> rnn = nn.RNN(2, 3, batch_first=True)
        >>> dyn = from_rnn(rnn)
        >>> x, u = torch.randn(4, 3), torch.randn(4, 2)
        >>> _, h_n = rnn(u[:, None], x[None])   # one bin of the module itself
        >>> bool(torch.equal(dyn(x, u), h_n[0]))
        True
        """
        x = self._check_state(x, "x")
        lead = x.shape[:-1]
        if u is not None:
            u = self._check_input(u, x)
            try:
                lead = torch.broadcast_shapes(lead, u.shape[:-1])
            except RuntimeError as err:
                raise DynlensValueError(
                    f"u: expected a leading shape that broadcasts with x's {tuple(lead)}, "
                    f"found {tuple(u.shape[:-1])}") from err
            u = u.expand(*lead, self.n_inputs).reshape(-1, self.n_inputs)
        flat = x.expand(*lead, self.dim).reshape(-1, self.dim)
        if u is None:
            u = flat.new_zeros(flat.shape[0], self.n_inputs)
        if flat.shape[0] == 0:
            return flat.reshape(*lead, self.dim)
        with _plain_kernels():
            out = self._step(flat, u)
        return out.reshape(*lead, self.dim)

    def _step(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        hidden = self.to_hidden(x)
        if self.is_cell:
            return self.to_state(self.module(u, hidden))
        sequence = u[:, None] if self.module.batch_first else u[None]   # one time bin
        return self.to_state(self.module(sequence, hidden)[1])

    # -- a run over an input sequence ----------------------------------------------------
    def run(self, inputs: Any, x0: Any = None) -> torch.Tensor:
        """The states the module passes through over input sequences.

        Runs in eval mode and without gradients, one bin at a time through
        :func:`~dynlens.dynamics.rollout`, so that every layer's ``h`` (and ``c``) is kept,
        not only the top layer's output. Use the result as ``initial_states`` of
        :func:`~dynlens.analysis.find_fixed_points`.

        Parameters
        ----------
        inputs : tensor or array [trials, time, n_inputs]
            Input sequences, trials first whatever the module's ``batch_first`` (the dynlens
            convention); converted to the module's dtype and device.
        x0 : tensor or array [trials, dim], optional
            Starting states (use :meth:`to_state` for a module's ``h_0``); zeros by default,
            as for the module itself.

        Returns
        -------
        torch.Tensor [trials, time, dim]
            ``[:, t]`` is the state after input ``t`` (the bin the module's output ``t``
            reads).

        Examples
        --------
        >>> import torch
        >>> from torch import nn
        >>> gru = nn.GRU(2, 3)                              # time first
        >>> inputs = torch.randn(4, 6, 2)                  # [trials, time, inputs]
        >>> states = from_rnn(gru).run(inputs)
        >>> output, _ = gru(inputs.transpose(0, 1))
        >>> bool(torch.allclose(states, output.transpose(0, 1), atol=1e-6))
        True
        """
        ref = self._reference
        u = _as_tensor(inputs, "inputs", ref)
        if u.ndim != 3 or u.shape[-1] != self.n_inputs or u.shape[1] == 0:
            raise DynlensValueError(
                f"inputs: expected shape [trials, time, {self.n_inputs}] with time >= 1, "
                f"found {tuple(u.shape)}")
        if x0 is None:
            x0 = u.new_zeros(u.shape[0], self.dim)
        x0 = _as_tensor(x0, "x0", ref)
        if x0.shape != (u.shape[0], self.dim):
            raise DynlensValueError(
                f"x0: expected shape [{u.shape[0]}, {self.dim}] (one state per trial), found "
                f"{tuple(x0.shape)}")
        # rollout's bin 0 is x0 and its last input drives nothing: one bin more, then drop x0
        padded = torch.cat([u, u[:, -1:]], dim=1)
        with torch.no_grad(), eval_mode(self):
            return rollout(self, x0, u.shape[1] + 1, inputs=padded)[:, 1:]

    # -- checks ----------------------------------------------------------------------
    def _check_state(self, x: Any, name: str, *, dtype: bool = True) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise DynlensTypeError(
                f"{name}: expected a torch.Tensor of shape [..., {self.dim}], found "
                f"{type(x).__name__}")
        if x.ndim == 0 or x.shape[-1] != self.dim:
            raise DynlensValueError(
                f"{name}: expected shape [..., {self.dim}] ({self._layout()}), found "
                f"{tuple(x.shape)}")
        ref = self._reference
        if dtype and x.dtype != ref.dtype:
            raise DynlensTypeError(
                f"{name}: expected the module's dtype {ref.dtype}, found {x.dtype}; convert "
                f"the state, or the module (e.g. module.double()) before from_rnn")
        return x

    def _check_input(self, u: Any, x: torch.Tensor) -> torch.Tensor:
        u = torch.as_tensor(u, dtype=x.dtype, device=x.device)
        if u.ndim == 0 or u.shape[-1] != self.n_inputs:
            raise DynlensValueError(
                f"u: expected shape [..., {self.n_inputs}] (the module's input_size), found "
                f"{tuple(u.shape)}")
        return u

    def _layout(self) -> str:
        h = f"{self.n_layers} x h[{self.h_size}]"
        return h if not self.c_size else f"{h}, then {self.n_layers} x c[{self.c_size}]"


def from_rnn(module: nn.Module) -> RNNDynamics:
    """A torch recurrent network as a discrete Dynamics whose step is the module's own.

    ``nn.RNN``, ``nn.GRU`` and ``nn.LSTM`` (any ``num_layers``, ``batch_first`` either way,
    an LSTM's ``proj_size`` too, subclasses included) and ``nn.RNNCell``, ``nn.GRUCell`` and
    ``nn.LSTMCell`` are accepted. One step calls the module on one time bin, so the map and
    its autograd Jacobians are exactly the module's. The state is every layer's ``h`` in
    layer order, then, for an LSTM, every layer's ``c``, ``[h_0 .. h_{L-1}, c_0 ..
    c_{L-1}]`` (``dim = L (h_size + c_size)``, ``h_size`` an LSTM's ``proj_size`` when it
    projects). The input ``u`` is the module's input; ``u=None`` feeds zeros (the network
    with its input switched off). States are evaluated in the module's dtype and device.

    :meth:`RNNDynamics.to_state` and :meth:`RNNDynamics.to_hidden` convert the module's
    ``h_n`` / ``(h_n, c_n)`` to states and back; :meth:`RNNDynamics.run` runs it over input
    sequences ``[trials, time, n_inputs]`` and returns the states ``[trials, time, dim]``.

    Parameters
    ----------
    module : nn.Module
        One of :data:`RNN_MODULES`. A bidirectional network is refused: its backward
        direction runs from the end of the sequence, so it has no state that moves forward
        in time.

    Returns
    -------
    RNNDynamics

    Raises
    ------
    DynlensTypeError
        If ``module`` is not one of :data:`RNN_MODULES`.
    DynlensValueError
        If it is bidirectional.

    Examples
    --------
    The memories of a network are its stable fixed points; this untrained one-unit network
    ``h <- tanh(2 h)`` has two, at +-0.9575, and the unstable origin between them:

    >>> import numpy as np, torch, dynlens as dl
    >>> from torch import nn
    >>> rnn = nn.RNN(1, 1, bias=False)
    >>> with torch.no_grad():
    ...     _ = rnn.weight_hh_l0.fill_(2.0)
    >>> dyn = dl.dynamics.from_rnn(rnn)
    >>> fps = dl.find_fixed_points(dyn, np.linspace(-1, 1, 21)[:, None], n_inits=64,
    ...                            progress=False, threads=1)
    >>> np.round(np.sort(fps.xstar[:, 0]), 4).tolist()
    [-0.9575, 0.0, 0.9575]
    """
    return RNNDynamics(module)


# -- helpers --------------------------------------------------------------------------
@contextlib.contextmanager
def _plain_kernels() -> Iterator[None]:
    """torch's plain RNN kernels, neither cuDNN's nor oneDNN's, for the duration.

    One bin gains nothing from the fused kernels, and the analyses cannot use them:
    cuDNN's back-propagates only in training mode, and torch.func has no batching rule
    for oneDNN's (it falls back to a slow loop). Only the two ``enabled`` switches are
    touched (the ``flags`` context managers would also reset determinism and TF32).
    """
    cudnn, onednn = torch.backends.cudnn, torch.backends.mkldnn
    saved = cudnn.enabled, onednn.enabled
    cudnn.enabled = onednn.enabled = False
    try:
        yield
    finally:
        cudnn.enabled, onednn.enabled = saved


def _check_module(module: Any) -> None:
    if not isinstance(module, RNN_MODULES):
        names = ", ".join(f"nn.{cls.__name__}" for cls in RNN_MODULES)
        raise DynlensTypeError(
            f"module: expected one of {names}, found {type(module).__name__}; write a "
            f"Dynamics of your own for other networks (see dynlens.dynamics.Dynamics)")
    if getattr(module, "bidirectional", False):
        raise DynlensValueError(
            f"module: expected a one-directional network, found a bidirectional "
            f"{type(module).__name__}: its backward direction runs from the end of the "
            f"sequence, so it has no state that moves forward in time")


def _hidden_parts(hidden: Any, with_c: bool) -> tuple[torch.Tensor, ...]:
    want = "a tuple (h, c)" if with_c else "a tensor h"
    parts = tuple(hidden) if isinstance(hidden, (tuple, list)) else (hidden,)
    if len(parts) != 1 + with_c or not all(isinstance(p, torch.Tensor) for p in parts):
        found = (f"a {type(hidden).__name__} of {len(parts)}"
                 if isinstance(hidden, (tuple, list)) else type(hidden).__name__)
        raise DynlensTypeError(f"hidden: expected {want} (the module's own hidden state), "
                               f"found {found}")
    return parts


def _check_hidden_part(part: torch.Tensor, name: str, width: int, n_layers: int,
                       is_cell: bool, h: torch.Tensor) -> None:
    want = f"[..., {width}]" if is_cell else f"[{n_layers}, ..., {width}]"
    ok = part.ndim >= 1 and part.shape[-1] == width
    if not is_cell:
        ok = ok and part.ndim >= 2 and part.shape[0] == n_layers
    if not ok or part.shape[:-1] != h.shape[:-1]:
        raise DynlensValueError(
            f"hidden: expected {name} of shape {want}"
            + ("" if part is h else " with the leading shape of h")
            + f", found {tuple(part.shape)}")


def _as_tensor(value: Any, name: str, like: torch.Tensor) -> torch.Tensor:
    """``value`` as a tensor of ``like``'s dtype and device."""
    try:
        data = value if isinstance(value, torch.Tensor) else np.asarray(value, dtype=np.float64)
        return torch.as_tensor(data, dtype=like.dtype, device=like.device)
    except (TypeError, ValueError) as err:
        raise DynlensTypeError(
            f"{name}: expected a tensor or array of numbers, found {type(value).__name__}"
        ) from err

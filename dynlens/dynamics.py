"""The `Dynamics` contract shared by ground-truth systems and learned generators.

A *Dynamics* is anything with

- ``dim``: the state dimension,
- ``kind``: ``"continuous"`` (``forward`` returns dx/dt) or ``"discrete"`` (``forward``
  returns the next state),
- ``forward(x, u=None)`` (or ``__call__``) batched over any leading shape ``[..., dim]``,
- ``dt``: one data bin in the system's own time units (continuous systems; may be ``None``).

:class:`Dynamics` is a convenient ``torch.nn.Module`` base class, but the analysis layer
never requires it: any module or callable with ``dim`` and ``kind`` attributes works, and
:func:`check_dynamics` is the one place that validates such an object.

Examples
--------
>>> import torch
>>> class Decay(Dynamics):
...     def __init__(self):
...         super().__init__(dim=2, kind="continuous", dt=0.1)
...     def forward(self, x, u=None):
...         return -x
>>> f = Decay()
>>> f(torch.ones(4, 2)).shape
torch.Size([4, 2])
>>> check_dynamics(f).kind
'continuous'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from .errors import DynlensTypeError, DynlensValueError

__all__ = ["KINDS", "Dynamics", "DynamicsInfo", "check_dynamics"]

KINDS = ("continuous", "discrete")
Kind = Literal["continuous", "discrete"]


class Dynamics(nn.Module):
    """Base class for a dynamical system as a ``torch.nn.Module``.

    Parameters
    ----------
    dim : int
        State dimension.
    kind : {"continuous", "discrete"}
        Whether ``forward`` is a vector field or a map.
    dt : float or None
        Length of one data bin in the system's own time units.
    """

    def __init__(self, dim: int, kind: Kind, dt: float | None = None) -> None:
        super().__init__()
        if kind not in KINDS:
            raise DynlensValueError(f"kind: expected one of {KINDS}, found {kind!r}")
        if int(dim) != dim or dim < 1:
            raise DynlensValueError(f"dim: expected a positive integer, found {dim!r}")
        self.dim = int(dim)
        self.kind = kind
        self.dt = None if dt is None else float(dt)

    def forward(self, x: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"dim={self.dim}, kind={self.kind!r}, dt={self.dt}"


@dataclass(frozen=True)
class DynamicsInfo:
    """What the analysis layer needs to know about a dynamics object."""

    dim: int
    kind: Kind
    dt: float | None
    dtype: torch.dtype
    device: torch.device


def _first_tensor(module: Any) -> torch.Tensor | None:
    if isinstance(module, nn.Module):
        for tensor in module.parameters():
            return tensor
        for tensor in module.buffers():
            return tensor
    return None


def check_dynamics(dynamics: Any, name: str = "dynamics") -> DynamicsInfo:
    """Validate a dynamics object and report its dimension, kind, dtype and device.

    The dtype is the object's ``dtype`` attribute if it has one, else that of its first
    parameter or buffer, else float64; the device likewise (CPU by default).

    Raises
    ------
    DynlensTypeError
        If the object is not callable or lacks ``dim``/``kind``.
    DynlensValueError
        If ``dim`` or ``kind`` have invalid values.
    """
    if not callable(dynamics):
        raise DynlensTypeError(
            f"{name}: expected a callable Dynamics (an nn.Module or function with `dim` and "
            f"`kind` attributes), found {type(dynamics).__name__}"
        )
    missing = [attr for attr in ("dim", "kind") if not hasattr(dynamics, attr)]
    if missing:
        raise DynlensTypeError(
            f"{name}: expected an object with `dim` and `kind` attributes (the Dynamics "
            f"contract), found {type(dynamics).__name__} without {', '.join(missing)}"
        )
    dim, kind = dynamics.dim, dynamics.kind
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise DynlensValueError(f"{name}.dim: expected a positive integer, found {dim!r}")
    if kind not in KINDS:
        raise DynlensValueError(f"{name}.kind: expected one of {KINDS}, found {kind!r}")
    dt = getattr(dynamics, "dt", None)
    tensor = _first_tensor(dynamics)
    dtype = getattr(dynamics, "dtype", None)
    if not isinstance(dtype, torch.dtype):
        dtype = tensor.dtype if tensor is not None and tensor.is_floating_point() else torch.float64
    device = getattr(dynamics, "device", None)
    if not isinstance(device, torch.device):
        device = tensor.device if tensor is not None else torch.device("cpu")
    return DynamicsInfo(dim=dim, kind=kind, dt=None if dt is None else float(dt), dtype=dtype,
                        device=device)


def evaluate(dynamics: Callable, x: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
    """Call ``dynamics(x, u)``, or ``dynamics(x)`` when no input is given.

    Callables that take one argument are supported as long as ``u`` is ``None``.
    """
    if u is None:
        try:
            return dynamics(x, None)
        except TypeError:
            return dynamics(x)
    return dynamics(x, u)

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

:func:`rollout` runs any Dynamics forward (maps iterated, fields integrated with torchdiffeq),
:func:`call_dynamics` calls one with or without an input, and :func:`eval_mode` evaluates
one with dropout and the like switched off, restoring every module's mode afterwards.

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
>>> rollout(f, torch.ones(4, 2), n_steps=3).shape
torch.Size([4, 3, 2])
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch import nn
from torchdiffeq import odeint

from .errors import DynlensTypeError, DynlensValueError
from .utils import check_positive_float, check_positive_int, short_repr

if TYPE_CHECKING:  # defined on top of Dynamics; module __getattr__ at the end loads them
    from .rnn_dynamics import RNNDynamics, from_rnn

__all__ = [
    "ADAPTIVE_SOLVERS",
    "FIXED_STEP_SOLVERS",
    "KINDS",
    "Dynamics",
    "DynamicsInfo",
    "RNNDynamics",
    "call_dynamics",
    "check_dynamics",
    "eval_mode",
    "from_rnn",
    "rollout",
]

KINDS = ("continuous", "discrete")
Kind = Literal["continuous", "discrete"]
FIXED_STEP_SOLVERS = ("euler", "midpoint", "rk4", "explicit_adams", "implicit_adams")
ADAPTIVE_SOLVERS = ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun")
# Tried in this order when a Dynamics shows its dtype nowhere but in what it returns.
_PROBE_DTYPES = (torch.float64, torch.float32, torch.float16, torch.bfloat16)


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

    Examples
    --------
    A linear map ``x <- A x`` with a learnable ``A``:

    >>> import torch
    >>> class LinearMap(Dynamics):
    ...     def __init__(self, dim):
    ...         super().__init__(dim=dim, kind="discrete")
    ...         self.A = torch.nn.Parameter(0.9 * torch.eye(dim))
    ...     def forward(self, x, u=None):
    ...         return x @ self.A.T
    >>> step = LinearMap(2)
    >>> step
    LinearMap(dim=2, kind='discrete', dt=None)
    >>> step(torch.ones(5, 2)).shape  # batched over leading axes
    torch.Size([5, 2])
    >>> [round(v, 6) for v in rollout(step, torch.ones(1, 2), n_steps=3)[0, :, 0].tolist()]
    [1.0, 0.9, 0.81]
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

    def forward(self, x: torch.Tensor,
                u: torch.Tensor | None = None) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"dim={self.dim}, kind={self.kind!r}, dt={self.dt}"


@dataclass(frozen=True)
class DynamicsInfo:
    """What the analysis layer needs to know about a dynamics object.

    :func:`check_dynamics` returns one for any dynamics: a :class:`Dynamics`, a plain
    ``torch.nn.Module`` or a callable with ``dim`` and ``kind`` attributes.

    Attributes
    ----------
    dim : int
        State dimension.
    kind : {"continuous", "discrete"}
        Whether the object is a vector field or a map.
    dt : float or None
        Length of one data bin in the system's own time units.
    dtype : torch.dtype
        The floating-point dtype the object computes in.
    device : torch.device
        Where its tensors live (the CPU when it has none).

    Examples
    --------
    >>> import torch
    >>> class Halve(torch.nn.Module):  # no dynlens base class needed
    ...     dim, kind = 2, "discrete"
    ...     def forward(self, x, u=None):
    ...         return 0.5 * x
    >>> info = check_dynamics(Halve())
    >>> info.dim, info.kind, info.dt, info.device.type
    (2, 'discrete', None, 'cpu')
    """

    dim: int
    kind: Kind
    dt: float | None
    dtype: torch.dtype
    device: torch.device


def call_dynamics(dynamics: Callable, x: torch.Tensor,
                  u: torch.Tensor | None = None) -> torch.Tensor:
    """Call ``dynamics(x, u)``, or ``dynamics(x)`` when no input is given.

    Callables that take one argument are supported as long as ``u`` is ``None``.

    Parameters
    ----------
    dynamics : Dynamics or callable
        The vector field or map, ``f(x, u)`` or ``f(x)``.
    x : torch.Tensor [..., dim]
        States.
    u : torch.Tensor [..., n_inputs], optional
        Inputs, passed only when given.

    Examples
    --------
    >>> import torch
    >>> def halve(x):
    ...     return 0.5 * x
    >>> call_dynamics(halve, torch.ones(2)).tolist()
    [0.5, 0.5]
    >>> call_dynamics(lambda x, u: x + u, torch.ones(2), torch.ones(2)).tolist()
    [2.0, 2.0]
    """
    if u is None:
        try:
            return dynamics(x, None)
        except TypeError:
            if _takes_two_arguments(dynamics):
                raise  # a genuine error inside f(x, u), not a one-argument callable
            return dynamics(x)
    return dynamics(x, u)


def _takes_two_arguments(dynamics: Callable) -> bool:
    """Whether ``dynamics(x, u)`` matches the callable's signature (True when unknown)."""
    # a module's __call__ takes anything: its forward says what it accepts
    target = dynamics.forward if isinstance(dynamics, nn.Module) else dynamics
    try:
        inspect.signature(target).bind(None, None)
    except TypeError:
        return False
    except ValueError:  # no signature to read (some builtins)
        return True
    return True


@contextlib.contextmanager
def eval_mode(dynamics: Any) -> Iterator[None]:
    """Put every nn.Module in ``dynamics`` in eval mode; restore each ``training`` flag.

    Parameters
    ----------
    dynamics : object
        An ``nn.Module`` (it and all its submodules are switched); anything else is left
        as it is.

    Examples
    --------
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    >>> with eval_mode(net):
    ...     net[1].training
    False
    >>> net[1].training
    True
    """
    modules = list(dynamics.modules()) if isinstance(dynamics, nn.Module) else []
    flags = [m.training for m in modules]
    try:
        for m in modules:
            m.training = False
        yield
    finally:
        for m, flag in zip(modules, flags):
            m.training = flag


def _first_tensor(module: Any) -> torch.Tensor | None:
    if isinstance(module, nn.Module):
        for tensor in module.parameters():
            return tensor
        for tensor in module.buffers():
            return tensor
    return None


def _probe(dynamics: Any, dim: int, name: str, inputs: Any,
           device: torch.device | None) -> tuple[torch.dtype, torch.device]:
    """dtype and device of what ``dynamics`` returns for a zero state ``[1, dim]``.

    The state is tried in float64, float32, float16 and bfloat16 (on ``device``, else on the
    CPU and then, when there is one, the current GPU); the first call that does not raise
    decides. ``inputs`` (``[n_inputs]``) is passed as the input when given.
    """
    devices = [device] if device is not None else [torch.device("cpu")]
    if device is None and torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    tried = []
    for dev in devices:
        for dtype in _PROBE_DTYPES:
            try:
                x = torch.zeros(1, dim, dtype=dtype, device=dev)
                u = None if inputs is None else torch.as_tensor(
                    np.asarray(inputs), dtype=dtype, device=dev).reshape(1, -1)
                with torch.no_grad(), eval_mode(dynamics):
                    out = call_dynamics(dynamics, x, u)
            except Exception as err:  # noqa: BLE001 - any failure means "not in this dtype"
                first_line = (str(err).splitlines() or [""])[0][:80]
                tried.append(f"{str(dtype).replace('torch.', '')} on {dev} "
                             f"({type(err).__name__}: {first_line})")
                continue
            if isinstance(out, torch.Tensor) and out.is_floating_point():
                return out.dtype, out.device
            return dtype, dev
    raise DynlensTypeError(
        f"{name}: expected an object that can be called on a zero state of shape [1, {dim}] "
        f"to find its dtype (it has no parameters, buffers or `dtype` attribute), found that "
        f"every call failed: {'; '.join(tried)}. Give it `dtype` (and `device`) attributes"
    )


def check_dynamics(dynamics: Any, name: str = "dynamics", *, inputs: Any = None) -> DynamicsInfo:
    """Validate a dynamics object and report its dimension, kind, dtype and device.

    The dtype is the object's ``dtype`` attribute if it has one, else that of its first
    parameter or buffer (float64 if that is not floating-point); the device likewise. An
    object with none of these (a module holding its tensors as plain attributes, a function)
    is called once, without gradients and in eval mode, on a zero state ``[1, dim]`` in
    float64, then float32, float16 and bfloat16, and the dtype and device of the first result
    are taken (float64 for everything that works in float64, as before).

    Parameters
    ----------
    dynamics : Dynamics, nn.Module or callable with ``dim`` and ``kind``
    name : str
        Argument name used in error messages.
    inputs : array-like [n_inputs], optional
        An input to pass when the object has to be called to find its dtype (for objects
        that need one); not used otherwise.

    Raises
    ------
    DynlensTypeError
        If the object is not callable, lacks ``dim``/``kind``, or has to be called to find
        its dtype and fails in every dtype.
    DynlensValueError
        If ``dim`` or ``kind`` have invalid values.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> class Rotate(nn.Module):  # a float32 tensor held as a plain attribute
    ...     dim, kind = 2, "discrete"
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.r = torch.tensor([[0.0, -1.0], [1.0, 0.0]])
    ...     def forward(self, x, u=None):
    ...         return x @ self.r.T
    >>> check_dynamics(Rotate()).dtype
    torch.float32
    """
    if not callable(dynamics):
        raise DynlensTypeError(
            f"{name}: expected a callable Dynamics (an nn.Module or function with `dim` and "
            f"`kind` attributes), found {type(dynamics).__name__}"
        )
    missing = [attr for attr in ("dim", "kind") if not hasattr(dynamics, attr)]
    if missing and callable(getattr(dynamics, "no_dynamics_reason", None)):
        # a whole dynlens model: point to its generator, or say why it has none
        dynamics.dynamics  # noqa: B018 - raises DynlensNoDynamicsError when there is none
        raise DynlensTypeError(
            f"{name}: found a whole {type(dynamics).__name__} model; pass its generator, "
            f"model.dynamics")
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
    device = getattr(dynamics, "device", None)
    if not isinstance(device, torch.device):
        device = tensor.device if tensor is not None else None
    if not isinstance(dtype, torch.dtype):
        if tensor is None:
            dtype, probed = _probe(dynamics, dim, name, inputs, device)
            device = device if device is not None else probed
        else:
            dtype = tensor.dtype if tensor.is_floating_point() else torch.float64
    return DynamicsInfo(dim=dim, kind=kind, dt=None if dt is None else float(dt), dtype=dtype,
                        device=device if device is not None else torch.device("cpu"))


# -- rollout ------------------------------------------------------------------------------
class _Field(nn.Module):
    """Adapts a vector field ``f(x, u)`` with a held input to torchdiffeq's ``f(t, x)``."""

    def __init__(self, dynamics: Any, u: torch.Tensor | None = None) -> None:
        super().__init__()
        self.dynamics = dynamics
        self.u = u

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        u = None if self.u is None else self.u.expand(*x.shape[:-1], self.u.shape[-1])
        return call_dynamics(self.dynamics, x, u)


def _check_x0(x0: Any, info: DynamicsInfo) -> torch.Tensor:
    if not isinstance(x0, torch.Tensor):
        try:
            x0 = torch.as_tensor(np.asarray(x0, dtype=np.float64), dtype=info.dtype,
                                 device=info.device)
        except (TypeError, ValueError) as err:
            raise DynlensTypeError(
                f"x0: expected a tensor or array of shape [batch, {info.dim}], found "
                f"{type(x0).__name__}") from err
    if x0.ndim != 2 or x0.shape[-1] != info.dim:
        raise DynlensValueError(
            f"x0: expected shape [batch, {info.dim}], found {tuple(x0.shape)}")
    if not x0.is_floating_point():
        raise DynlensTypeError(f"x0: expected a floating-point tensor, found {x0.dtype}")
    return x0


def _check_inputs(inputs: Any, x0: torch.Tensor, n_steps: int, dynamics: Any) -> torch.Tensor:
    """``inputs`` as a tensor ``[n_inputs]``, ``[n_steps, n_inputs]`` or ``[batch, n_steps,
    n_inputs]`` in ``x0``'s dtype and device."""
    try:
        u = torch.as_tensor(inputs if isinstance(inputs, torch.Tensor) else np.asarray(
            inputs, dtype=np.float64), dtype=x0.dtype, device=x0.device)
    except (TypeError, ValueError) as err:
        raise DynlensTypeError(
            f"inputs: expected a tensor or array of numbers, found {type(inputs).__name__}"
        ) from err
    batch = x0.shape[0]
    n_inputs = getattr(dynamics, "n_inputs", None)
    ok = ((u.ndim == 1) or (u.ndim == 2 and u.shape[0] == n_steps)
          or (u.ndim == 3 and u.shape[:2] == (batch, n_steps)))
    if isinstance(n_inputs, int) and not isinstance(n_inputs, bool):
        ok = ok and u.shape[-1] == n_inputs
    if not ok or u.shape[-1] == 0:
        width = n_inputs if isinstance(n_inputs, int) else "n_inputs"
        raise DynlensValueError(
            f"inputs: expected shape [{batch}, {n_steps}, {width}], [{n_steps}, {width}] "
            f"(one input per bin) or [{width}] (held constant), found {tuple(u.shape)}")
    return u


def _input_at(u: torch.Tensor | None, k: int) -> torch.Tensor | None:
    """The input that drives the step from bin ``k`` to ``k + 1`` (``[n_inputs]`` or
    ``[batch, n_inputs]``), or None."""
    if u is None or u.ndim == 1:
        return u
    return u[k] if u.ndim == 2 else u[:, k]


def _iterate(dynamics: Any, x0: torch.Tensor, n_steps: int,
             u: torch.Tensor | None) -> torch.Tensor:
    states = [x0]
    for k in range(n_steps - 1):
        uk = _input_at(u, k)
        if uk is not None:
            uk = uk.expand(x0.shape[0], uk.shape[-1])
        states.append(call_dynamics(dynamics, states[-1], uk))
    return torch.stack(states, dim=1)


def _integrate(dynamics: Any, x0: torch.Tensor, n_steps: int, u: torch.Tensor | None,
               dt: float, solver: str, rtol: float, atol: float,
               substeps: int) -> torch.Tensor:
    options = {"step_size": dt / substeps} if solver in FIXED_STEP_SOLVERS else None
    if u is None or u.ndim == 1:  # one held input (or none): one call over every bin
        times = torch.arange(n_steps, dtype=x0.dtype, device=x0.device) * dt
        path = odeint(_Field(dynamics, u), x0, times, method=solver, rtol=rtol, atol=atol,
                      options=options)
        return path.transpose(0, 1)
    # Inputs change at every bin: integrate bin by bin, each with its own held input.
    times = torch.tensor([0.0, dt], dtype=x0.dtype, device=x0.device)
    states = [x0]
    for k in range(n_steps - 1):
        path = odeint(_Field(dynamics, _input_at(u, k)), states[-1], times, method=solver,
                      rtol=rtol, atol=atol, options=options)
        states.append(path[-1])
    return torch.stack(states, dim=1)


def rollout(
    dynamics: Any,
    x0: Any,
    n_steps: int,
    inputs: Any = None,
    *,
    solver: str = "rk4",
    rtol: float = 1e-3,
    atol: float = 1e-3,
    substeps: int = 1,
) -> torch.Tensor:
    """Run any Dynamics forward from ``x0`` for ``n_steps`` bins.

    Discrete maps are iterated. Continuous fields are integrated with torchdiffeq's
    ``odeint`` at the bin times ``k * dt`` (``dt`` = ``dynamics.dt``, or 1 when it is None):
    fixed-step solvers (:data:`FIXED_STEP_SOLVERS`) take ``substeps`` steps of
    ``dt / substeps`` per bin, adaptive ones (:data:`ADAPTIVE_SOLVERS`) keep to ``rtol`` and
    ``atol``. Gradients flow through the result (wrap the call in ``torch.no_grad()`` when
    none are needed); the dynamics is called as it is (its mode and parameters untouched).

    Parameters
    ----------
    dynamics : Dynamics or callable with ``dim`` and ``kind``
    x0 : tensor [batch, dim]
        Initial states (the first bin of the result). A tensor is used as it is; an array
        is converted to the dynamics' dtype and device.
    n_steps : int
        Bins in the result, the first included.
    inputs : tensor or array [batch, n_steps, n_inputs], [n_steps, n_inputs] or [n_inputs]
        Optional input, held constant within each bin: ``inputs[..., k, :]`` drives the step
        from bin ``k`` to bin ``k + 1`` (so the last bin's input is not used); a
        ``[n_inputs]`` input is held for the whole run. With time-varying inputs a vector
        field is integrated bin by bin.
    solver : str
        One of :data:`FIXED_STEP_SOLVERS` or :data:`ADAPTIVE_SOLVERS` (vector fields only).
    rtol, atol : float
        Tolerances of an adaptive solver.
    substeps : int
        Steps per bin of a fixed-step solver.

    Returns
    -------
    torch.Tensor [batch, n_steps, dim]

    Examples
    --------
    >>> import torch
    >>> class Decay(Dynamics):  # dx/dt = -x: bin k is exp(-k dt) x0
    ...     def __init__(self):
    ...         super().__init__(dim=1, kind="continuous", dt=0.5)
    ...     def forward(self, x, u=None):
    ...         return -x if u is None else -x + u
    >>> x0 = torch.ones(1, 1, dtype=torch.float64)
    >>> path = rollout(Decay(), x0, n_steps=3, solver="dopri5", rtol=1e-9, atol=1e-9)
    >>> [round(v, 6) for v in path[0, :, 0].tolist()]
    [1.0, 0.606531, 0.367879]
    >>> driven = rollout(Decay(), x0, 3, inputs=torch.ones(1), solver="dopri5")
    >>> driven[0, :, 0].tolist()  # x = 1 is the fixed point under the input 1
    [1.0, 1.0, 1.0]
    >>> class Double(Dynamics):
    ...     def __init__(self):
    ...         super().__init__(dim=1, kind="discrete")
    ...     def forward(self, x, u=None):
    ...         return 2 * x
    >>> rollout(Double(), torch.ones(2, 1), n_steps=4)[0, :, 0].tolist()
    [1.0, 2.0, 4.0, 8.0]
    """
    info = check_dynamics(dynamics, inputs=_probe_input(inputs))
    n_steps = check_positive_int(n_steps, "n_steps")
    x0 = _check_x0(x0, info)
    if solver not in FIXED_STEP_SOLVERS + ADAPTIVE_SOLVERS:
        raise DynlensValueError(
            f"solver: expected one of {FIXED_STEP_SOLVERS + ADAPTIVE_SOLVERS}, found {solver!r}"
        )
    rtol, atol = check_positive_float(rtol, "rtol"), check_positive_float(atol, "atol")
    substeps = check_positive_int(substeps, "substeps")
    u = None if inputs is None else _check_inputs(inputs, x0, n_steps, dynamics)
    if info.kind == "discrete":
        return _iterate(dynamics, x0, n_steps, u)
    dt = 1.0 if info.dt is None else info.dt
    if not np.isfinite(dt) or dt <= 0:
        raise DynlensValueError(
            f"dynamics.dt: expected a positive number (one bin) or None, found {short_repr(dt)}")
    return _integrate(dynamics, x0, n_steps, u, dt, solver, rtol, atol, substeps)


def _probe_input(inputs: Any) -> Any:
    """One bin's input of ``inputs`` (for :func:`check_dynamics`'s dtype probe), or None."""
    if inputs is None:
        return None
    try:
        arr = np.asarray(inputs.detach().cpu() if isinstance(inputs, torch.Tensor) else inputs,
                         dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return arr.reshape(-1, arr.shape[-1])[0] if arr.ndim >= 1 and arr.size else None


def __getattr__(name: str) -> Any:
    """``from_rnn`` and ``RNNDynamics``, defined in :mod:`dynlens.rnn_dynamics` on top of
    :class:`Dynamics` (imported on first use: an import at the top would be circular)."""
    if name in ("from_rnn", "RNNDynamics"):
        from . import rnn_dynamics

        return getattr(rnn_dynamics, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

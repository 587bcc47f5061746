"""Wrap any autonomous flow of the optional `dysts` package as a `GroundTruthSystem`.

dysts writes each right-hand side once as plain arithmetic on ``np``; dynlens re-binds that
function's ``np`` to torch, so the same equations run on tensors with autograd (the
Jacobian is then exact, by automatic differentiation). A system whose code does not run on
tensors (checked against dysts' own NumPy evaluation at construction) falls back to its
NumPy right-hand side; its Jacobian is then dysts' analytic one where dysts has one and it
agrees with finite differences, else central finite differences. Fixed points are found
numerically from states on the attractor.

dysts evaluates one state at a time. Whether its NumPy code also runs on a batch is checked
at construction, never assumed: a batch of random states evaluated at once, as ``[n, dim]``
rows or as ``[dim, n]`` components (some ``rhs`` index ``X[0]``, ``X[2:-1]``: components only
when the state comes first), must match dysts's own value state by state; otherwise the
states are evaluated one by one.

Examples
--------
>>> sys = from_dysts("Halvorsen")            # doctest: +SKIP
>>> sys.dim, sys.kind, sys.torch_native       # doctest: +SKIP
(3, 'continuous', True)
"""

from __future__ import annotations

import importlib
import types
import warnings
from typing import Any, ClassVar

import numpy as np
import torch
from scipy.optimize import root

from ..errors import DynlensError, DynlensTypeError, DynlensValueError
from ..utils import check_choice
from .base import GroundTruthSystem

__all__ = ["DystsSystem", "from_dysts"]

#: dysts does not store a sampling rate; its ``make_trajectory`` defaults to 100 per period.
DYSTS_PTS_PER_PERIOD = 100
_COMPLEX_STEP = 1e-30  # no cancellation in the complex step: any tiny step is exact


def _import_dysts():
    try:
        with warnings.catch_warnings():  # "Numba not installed": irrelevant here
            warnings.simplefilter("ignore")
            base = importlib.import_module("dysts.base")
            flows = importlib.import_module("dysts.flows")
    except ImportError as err:
        raise DynlensError(
            "from_dysts: the optional package `dysts` is not installed; install it with "
            "`pip install dynlens[dysts]` (or `pip install dysts`)"
        ) from err
    return base, flows


def _flow_names(base, flows) -> list[str]:
    return sorted(
        name for name, obj in vars(flows).items()
        if isinstance(obj, type) and issubclass(obj, base.DynSys) and obj is not base.DynSys
        and obj.__module__ == flows.__name__
    )


class _TorchAsNumpy:
    """Stands in for ``np`` inside a dysts right-hand side: math functions come from torch,
    constants (``pi``) and anything torch lacks from NumPy."""

    _renames: ClassVar[dict[str, str]] = {"arctan": "atan", "arcsin": "asin", "arccos": "acos",
                                          "arctan2": "atan2", "power": "pow"}

    def __getattr__(self, key: str):
        key_torch = self._renames.get(key, key)
        if key_torch in ("pi", "e", "inf", "nan"):
            return getattr(np, key)
        if hasattr(torch, key_torch):
            return getattr(torch, key_torch)
        return getattr(np, key)


def _rebind(func, np_module):
    """A copy of ``func`` whose global ``np`` is ``np_module``."""
    glb = dict(func.__globals__)
    glb["np"] = np_module
    return types.FunctionType(func.__code__, glb, func.__name__, func.__defaults__,
                              func.__closure__)


class DystsSystem(GroundTruthSystem):
    """A dysts flow as a :class:`GroundTruthSystem` (built by :func:`from_dysts`).

    Parameters
    ----------
    name : str
        The dysts flow's class name (any case), e.g. ``"Halvorsen"``.
    **params : float or array-like
        Parameter values overriding dysts' own.

    Attributes
    ----------
    dysts_system : dysts.base.DynSys
        The wrapped dysts object (with this system's parameters).
    torch_native : bool
        Whether the field runs natively on tensors (Jacobian by autograd) or through NumPy.
    batch_layout : {"rows", "components", "loop"}
        How the NumPy field takes a batch of states (checked at construction).
    complex_step : bool
        Whether the Jacobian of tensors comes from the complex step (checked against
        autograd at construction; faster) rather than autograd.

    Examples
    --------
    >>> try:  # needs the optional dysts package: pip install "dynlens[dysts]"
    ...     halvorsen = from_dysts("Halvorsen")
    ... except DynlensError:  # not installed: the message says how to install it
    ...     halvorsen = None
    >>> halvorsen is None or (isinstance(halvorsen, DystsSystem) and halvorsen.dim == 3)
    True
    """

    system_kind = "continuous"

    def __init__(self, name: str, **params: Any) -> None:
        base, flows = _import_dysts()
        names = _flow_names(base, flows)
        lower = {n.lower(): n for n in names}
        if not isinstance(name, str):
            raise DynlensTypeError(f"name: expected a dysts flow name, found {type(name).__name__}")
        cls_name = lower.get(name.lower()) or check_choice(name, names, "name")
        cls = getattr(flows, cls_name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            proto = cls()
        if getattr(proto, "nonautonomous", False) or isinstance(proto, base.DynSysDelay):
            raise DynlensValueError(
                f"name: expected an autonomous ODE flow of dysts, found {cls_name!r}, which is "
                + ("non-autonomous" if getattr(proto, "nonautonomous", False)
                   else "a delay equation")
            )
        # per-instance metadata, read by GroundTruthSystem.__init__
        self.name = cls_name
        self.defaults = {k: proto.params[k] for k in proto.params}
        self.state_dim = int(proto.dimension)
        self.period = None if proto.period is None else float(proto.period)
        self.pts_per_period = DYSTS_PTS_PER_PERIOD if self.period is not None else None
        self.default_dt = float(proto.dt) if self.period is None else None
        self.default_x0 = np.asarray(proto.ic, dtype=np.float64).reshape(-1)
        lyap = getattr(proto, "maximum_lyapunov_estimated", None)
        self.max_lyapunov = None if lyap is None else float(lyap)
        super().__init__(**params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.dysts_system = cls(parameters=dict(self._params))
        self._param_list = [self._params[k] for k in sorted(self._params)]
        self._fixed_points: np.ndarray | None = None
        self.batch_layout = self._batch_layout()
        self._analytic_jac_ok = self._check_analytic_jac()
        rhs_overridden = type(self.dysts_system).rhs is not base.DynSys.rhs
        self._torch_rhs = None if rhs_overridden else _rebind(cls._rhs, _TorchAsNumpy())
        self.torch_native = self._torch_rhs is not None and self._check_torch_rhs()
        self.complex_step = self._check_complex_step()

    def _check_param(self, key: str, value: Any):
        value = np.asarray(value, dtype=np.float64) if not np.isscalar(value) else value
        if np.ndim(value) == 0:
            return super()._check_param(key, value)
        if not np.all(np.isfinite(value)):
            raise DynlensValueError(f"{key}: expected finite numbers, found {value!r}")
        return value.copy()

    # ------------------------------------------------------------------ field evaluation
    def _probe_states(self, seed: int, n: int) -> np.ndarray:
        """``n`` random states near ``default_x0`` (seeded): what the construction checks
        evaluate on."""
        rng = np.random.default_rng(seed)
        return self.default_x0 + 0.1 * rng.standard_normal((n, self.dim)) * (
            1.0 + np.abs(self.default_x0))

    def _rows_rhs(self, flat: np.ndarray) -> np.ndarray:
        """dysts' ``rhs`` state by state: its own definition, the reference."""
        return np.array([np.asarray(self.dysts_system.rhs(row, 0.0), dtype=np.float64)
                         .reshape(self.dim) for row in flat]).reshape(flat.shape)

    def _batched_rhs(self, flat: np.ndarray, layout: str) -> np.ndarray:
        """dysts' ``rhs`` on the whole batch at once, laid out as ``"rows"`` (``[n, dim]``,
        what ``DynSys.rhs`` unpacks as ``*X.T``) or ``"components"`` (``[dim, n]``)."""
        state = flat if layout == "rows" else flat.T
        out = self.dysts_system.rhs(state, 0.0)
        if layout == "rows":  # a tuple of components, scalars broadcast (a constant one)
            return np.stack(np.broadcast_arrays(*out, flat[:, 0]), axis=-1)[..., :-1]
        return np.asarray(out, dtype=np.float64).T

    def _batch_layout(self) -> str:
        """How dysts' NumPy ``rhs`` takes a batch: ``"rows"``, ``"components"`` or
        ``"loop"`` (one state at a time), checked on random states against the loop."""
        flat = self._probe_states(1, self.dim + 3)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            ref = self._rows_rhs(flat)
            for layout in ("rows", "components"):
                try:
                    out = self._batched_rhs(flat, layout)
                except Exception:  # noqa: BLE001 - code that does not run on a batch
                    out = None
                if out is not None and out.shape == ref.shape and np.allclose(
                        out, ref, rtol=1e-12, atol=1e-12, equal_nan=True):
                    return layout
        return "loop"

    def _numpy_rhs(self, x: np.ndarray) -> np.ndarray:
        """dysts' own right-hand side on ``[..., dim]`` (batched where checked to be safe)."""
        flat = np.asarray(x, dtype=np.float64).reshape(-1, self.dim)
        if self.batch_layout == "loop" or len(flat) == 1:
            return self._rows_rhs(flat).reshape(np.shape(x))
        return self._batched_rhs(flat, self.batch_layout).reshape(np.shape(x))

    def _torch_field(self, x: torch.Tensor) -> torch.Tensor:
        params = [p if np.ndim(p) == 0 else torch.as_tensor(p, dtype=x.dtype, device=x.device)
                  for p in self._param_list]
        params = [float(p) if np.ndim(p) == 0 else p for p in params]
        cols = self._torch_rhs(*x.unbind(-1), 0.0, *params)
        zero = torch.zeros_like(x[..., 0])
        return torch.stack([torch.as_tensor(c, dtype=x.dtype, device=x.device) + zero
                            for c in cols], dim=-1)

    def _check_torch_rhs(self) -> bool:
        x = self._probe_states(0, 4)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ours = self._torch_field(torch.as_tensor(x)).numpy()
                ref = np.array([self._numpy_rhs(row) for row in x])
        except Exception:  # noqa: BLE001 - any failure means "not torch-native"
            return False
        return ours.shape == ref.shape and np.allclose(ours, ref, rtol=1e-10, atol=1e-12)

    def _field(self, x, xp):
        if xp is torch:
            if self.torch_native:
                return self._torch_field(x)
            out = self._numpy_rhs(x.detach().cpu().double().numpy())
            return torch.as_tensor(out, dtype=x.dtype, device=x.device)
        return self._numpy_rhs(x)

    def _scalar_field(self, t: float, y: np.ndarray):
        # dysts' own function on Python floats: the fast path of a single trajectory
        # (checked against the NumPy field once by ``_fast_field``)
        return self.dysts_system.rhs(np.asarray(y.tolist(), dtype=object), t)

    # ------------------------------------------------------------------------- Jacobian
    def _autograd_jac(self, x: torch.Tensor) -> torch.Tensor:
        # rows of the batch are independent, so the gradient of sum_batch f_i gives row i of
        # every point's Jacobian at once
        with torch.enable_grad():
            xg = x.detach().clone().requires_grad_(True)
            f = self._torch_field(xg)
            rows = [torch.autograd.grad(f[..., i].sum(), xg, retain_graph=i < self.dim - 1,
                                        allow_unused=True)[0] for i in range(self.dim)]
        rows = [torch.zeros_like(x) if r is None else r for r in rows]
        return torch.stack(rows, dim=-2)

    def _analytic_numpy_jac(self, flat: np.ndarray) -> np.ndarray:
        return np.array([np.array(self.dysts_system.jac(row, 0.0), dtype=np.float64)
                         .reshape(self.dim, self.dim) for row in flat])

    def _difference_jac(self, flat: np.ndarray) -> np.ndarray:
        """Central differences, step ~ cube root of machine epsilon."""
        out = np.empty((len(flat), self.dim, self.dim))
        for j in range(self.dim):
            h = 6e-6 * np.maximum(1.0, np.abs(flat[:, j]))
            step = np.zeros_like(flat)
            step[:, j] = h
            out[:, :, j] = (self._numpy_rhs(flat + step) - self._numpy_rhs(flat - step)) \
                / (2 * h)[:, None]
        return out

    def _check_analytic_jac(self) -> bool:
        """Whether dysts has an analytic Jacobian that agrees with finite differences."""
        if not self.dysts_system.has_jacobian():
            return False
        flat = self._probe_states(2, 3)
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                analytic, numeric = self._analytic_numpy_jac(flat), self._difference_jac(flat)
        except Exception:  # noqa: BLE001 - a jac that fails: use differences
            return False
        scale = 1.0 + np.abs(numeric).max()
        return bool(np.all(np.abs(analytic - numeric) <= 1e-5 * scale))

    def _complex_step_jac(self, x: torch.Tensor) -> torch.Tensor:
        """The Jacobian by the complex step ``Im f(x + i h e_j) / h``: exact to rounding for
        equations analytic in the state, all ``dim`` directions in one batched evaluation
        (several times cheaper than ``dim`` backward passes)."""
        flat = x.detach().reshape(-1, self.dim).to(torch.complex128)
        eye = torch.eye(self.dim, dtype=torch.complex128, device=x.device)
        probe = (flat[:, None, :] + 1j * _COMPLEX_STEP * eye).reshape(-1, self.dim)
        out = self._torch_field(probe).imag.reshape(-1, self.dim, self.dim) / _COMPLEX_STEP
        return out.transpose(-1, -2).reshape(*x.shape, self.dim).to(x.dtype)

    def _check_complex_step(self) -> bool:
        """Whether the complex step gives autograd's Jacobian here (equations with ``abs``,
        comparisons or branches do not, and fall back to autograd)."""
        if not self.torch_native:
            return False
        x = torch.as_tensor(self._probe_states(3, 4))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ours, ref = self._complex_step_jac(x), self._autograd_jac(x)
        except Exception:  # noqa: BLE001 - code that does not run on complex numbers
            return False
        return bool(torch.allclose(ours, ref, rtol=1e-9, atol=1e-9 * (1 + float(
            ref.abs().max()))))

    def _numpy_jac(self, x: np.ndarray) -> np.ndarray:
        flat = x.reshape(-1, self.dim)
        out = (self._analytic_numpy_jac(flat) if self._analytic_jac_ok
               else self._difference_jac(flat))
        return out.reshape(*x.shape, self.dim)

    def _jac(self, x, xp):
        if xp is torch:
            if self.complex_step:
                return self._complex_step_jac(x)
            if self.torch_native:
                return self._autograd_jac(x).to(x.dtype)
            out = self._numpy_jac(x.detach().cpu().double().numpy())
            return torch.as_tensor(out, dtype=x.dtype, device=x.device)
        if self.torch_native:
            return self._autograd_jac(torch.as_tensor(x, dtype=torch.float64)).numpy()
        return self._numpy_jac(x)

    # -------------------------------------------------------------------- fixed points
    def fixed_points(self, n_starts: int = 128) -> np.ndarray:
        """Fixed points found numerically (scipy ``root``, ``hybr``, analytic/autograd Jacobian).

        Starts: the origin and ``n_starts`` states on the attractor. Roots with
        ``|f(x)| < 1e-9 (1 + |x|)`` are kept and deduplicated (relative 1e-6); sorted by norm.
        Cached.
        """
        if self._fixed_points is not None:
            return self._fixed_points.copy()

        def f(x):
            return self._field(x, np)

        def jac(x):
            return self._jac(x[None], np)[0]

        try:
            starts = self.sample_on_attractor(n_starts, seed=0)
        except DynlensError:  # e.g. a flow that escapes from its default state
            starts = self.default_x0[None]
        starts = np.concatenate([np.zeros((1, self.dim)), starts])
        found: list[np.ndarray] = []
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            for x0 in starts:
                sol = root(f, x0, jac=jac, method="hybr")
                x = sol.x
                converged = np.all(np.isfinite(x)) and \
                    np.abs(f(x)).max() < 1e-9 * (1 + np.abs(x).max())
                if converged and all(np.abs(x - y).max() > 1e-6 * max(1.0, np.abs(y).max())
                                     for y in found):
                    found.append(x)
        found.sort(key=lambda v: (np.linalg.norm(v), *v))
        self._fixed_points = np.array(found).reshape(-1, self.dim)
        return self._fixed_points.copy()


def from_dysts(name: str, **params: Any) -> DystsSystem:
    """Wrap the dysts flow ``name`` (case-insensitive) with optional parameter overrides.

    Period, default initial condition and Lyapunov exponent come from dysts' metadata;
    ``pts_per_period`` is dysts' default of 100.

    Parameters
    ----------
    name : str
        The dysts flow's class name (any case), e.g. ``"Halvorsen"``.
    **params : float or array-like
        Parameter values overriding dysts' own.

    Raises
    ------
    DynlensError
        If ``dysts`` is not installed (``pip install dynlens[dysts]``).
    DynlensValueError
        Unknown flow (close names suggested), unknown parameters, or a non-autonomous or
        delay system.

    Examples
    --------
    >>> try:  # needs the optional dysts package: pip install "dynlens[dysts]"
    ...     halvorsen = from_dysts("halvorsen", a=1.5)
    ... except DynlensError:  # not installed: the message says how to install it
    ...     halvorsen = None
    >>> halvorsen is None or halvorsen.params == {"a": 1.5, "b": 4.0}
    True
    """
    return DystsSystem(name, **params)

"""`GroundTruthSystem`: a `Dynamics` whose field, Jacobian and fixed points are known exactly.

A concrete system is a tiny class (dysts style) that declares its parameters and metadata as
class attributes and writes its vector field (or map) and its Jacobian *once*, as
``_field(x, xp)`` and ``_jac(x, xp)`` with ``xp`` either :mod:`numpy` or :mod:`torch`. The
base class turns those into

- ``forward(x, u=None)`` (torch, batched over any leading shape, dtype kept),
- ``jacobian(x)`` (numpy in, numpy out; torch in, torch out),
- ``trajectory`` / ``trajectories`` (scipy's solvers, float64, tight tolerances),
- ``stability`` (eigenvalues of the analytic Jacobian at the fixed points),
- ``sample_on_attractor`` and
- ``observe``: how :func:`dynlens.simulate` turns it into rates (the default recipe of
  :mod:`dynlens.systems.observation`; a system may override any of its steps).

Examples
--------
>>> import numpy as np, torch
>>> class Decay(GroundTruthSystem):
...     name = "decay"
...     defaults = {"k": 1.0}
...     state_dim = 1
...     default_dt = 0.1
...     def _field(self, x, xp):
...         return -self._params["k"] * x
...     def _jac(self, x, xp):
...         return _matrix([[-self._params["k"]]], x, xp)
...     def fixed_points(self):
...         return np.zeros((1, 1))
>>> sys = Decay(k=2.0)
>>> sys(torch.ones(4, 1)).squeeze(-1).tolist()
[-2.0, -2.0, -2.0, -2.0]
>>> traj = sys.trajectory(3, dt=0.5, x0=[1.0])
>>> np.allclose(traj[:, 0], np.exp(-2.0 * np.array([0.0, 0.5, 1.0])))
True
>>> sys.stability().n_unstable.tolist()
[0]
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch
from scipy import sparse
from scipy.integrate import odeint, solve_ivp

from ..dynamics import Dynamics
from ..errors import DynlensError, DynlensTypeError, DynlensValueError
from ..utils import (
    as_numpy,
    check_choice,
    check_nonnegative_int,
    check_positive_float,
    check_positive_int,
)
from .observation import ObservationRecipe

__all__ = ["ATOL", "RTOL", "GroundTruthSystem", "Stability"]

#: Default tolerances of every trajectory integration (float64).
RTOL = 1e-10
ATOL = 1e-12

_METHODS = ("LSODA", "DOP853", "RK45", "Radau", "BDF")
_IMPLICIT = ("Radau", "BDF", "LSODA")  # methods that use the analytic Jacobian
_MAX_STEPS = 100_000  # per output interval (LSODA)


class Stability(NamedTuple):
    """Linear stability of a set of points.

    Attributes
    ----------
    eigenvalues : np.ndarray
        Complex ``[k, dim]``: continuous systems sorted by real part (descending), maps by
        modulus (descending); ties by imaginary part (descending).
    n_unstable : np.ndarray
        Integer ``[k]``: the number of eigenvalues with ``Re > 0`` (continuous) or
        ``|lambda| > 1`` (discrete).

    Examples
    --------
    >>> from dynlens.systems import get
    >>> stability = get("lorenz").stability()  # at its three fixed points
    >>> stability.n_unstable.tolist()
    [1, 2, 2]
    >>> stability.eigenvalues[0].real.round(3).tolist()  # the origin: one unstable direction
    [11.828, -2.667, -22.828]
    """

    eigenvalues: np.ndarray
    n_unstable: np.ndarray


def _matrix(rows: Sequence[Sequence[Any]], x, xp):
    """Stack a nested list of scalars / arrays into ``[..., n_rows, n_cols]`` like ``x[..., 0]``.

    Lets a Jacobian be written as plain rows (``[[0, 1], [-k, -c]]``) for numpy and torch.
    """
    zero = xp.zeros_like(x[..., 0])
    return xp.stack([xp.stack([entry + zero for entry in row], axis=-1) for row in rows], axis=-2)


class _Floats(list):
    """A state as a list of Python floats that also takes ``x[..., i]``.

    Evaluating a 3-D field on Python floats costs about 1 us against about 7 us on tiny NumPy
    arrays; a single long trajectory is dominated by that cost.
    """

    def __getitem__(self, key):
        return list.__getitem__(self, key[-1] if isinstance(key, tuple) else key)


class _PyMath:
    """``xp`` for :class:`_Floats`: ``stack`` returns the list, math functions from ``math``."""

    @staticmethod
    def stack(items, axis=-1):
        return items

    def __getattr__(self, key):
        return getattr(math, key)


_PY = _PyMath()


def _block_band(blocks: np.ndarray) -> np.ndarray:
    """Block-diagonal ``[n, d, d]`` in LSODA's banded layout (``ml = mu = d - 1``)."""
    n, d, _ = blocks.shape
    band = np.zeros((2 * d - 1, n * d))
    for i in range(d):
        for j in range(d):
            band[i - j + d - 1, j::d] = blocks[:, i, j]
    return band


class GroundTruthSystem(Dynamics, ObservationRecipe):
    """A dynamical system with an exact vector field (or map), Jacobian and fixed points.

    Subclasses set the class attributes below and implement ``_field(x, xp)``,
    ``_jac(x, xp)`` and ``fixed_points()``; constructor keywords override ``defaults``. How
    the system is observed in :func:`dynlens.simulate` comes from
    :class:`~dynlens.systems.observation.ObservationRecipe` (its ``recipe``,
    ``independent_trials`` and ``time_unit`` attributes and its steps, any of which a subclass
    may override).

    Attributes
    ----------
    name : str
        Registry name.
    params : dict
        A copy of the parameters of this instance (subclasses read ``_params``).
    dim : int
        State dimension.
    kind : {"continuous", "discrete"}
        Flows return dx/dt from ``forward``; maps return the next state.
    dt : float
        Default bin width: ``period / pts_per_period`` for flows with a period, one step for
        maps.
    dtype : torch.dtype
        ``torch.float64``: the precision of the exact system. ``forward`` keeps its input's
        dtype.
    period, pts_per_period : float or None, int or None
        Dominant period in the system's time units and the paper's default sampling.
    default_x0 : np.ndarray or None
        A default initial condition on the attractor.
    max_lyapunov : float or None
        Estimated largest Lyapunov exponent (per time unit).

    Notes
    -----
    ``forward(x, u)`` adds an input ``u`` (broadcastable to ``x``) to the vector field of a flow:
    ``dx/dt = f(x) + u``. Maps document how they take ``u`` (see ``_input_gain``).

    Examples
    --------
    A built-in system (the module docstring shows how to write one):

    >>> import numpy as np
    >>> from dynlens.systems import get
    >>> lorenz = get("lorenz")
    >>> isinstance(lorenz, GroundTruthSystem), lorenz.dim, lorenz.kind, lorenz.params["rho"]
    (True, 3, 'continuous', 28.0)
    >>> lorenz.fixed_points().round(3).tolist()
    [[0.0, 0.0, 0.0], [8.486, 8.486, 27.0], [-8.486, -8.486, 27.0]]
    >>> lorenz.jacobian(np.zeros(3))[0].tolist()  # analytic
    [-10.0, 10.0, 0.0]
    >>> lorenz.trajectory(100).shape  # 100 bins of lorenz.dt on the attractor
    (100, 3)
    """

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, float]] = {}
    state_dim: ClassVar[int] = 0
    system_kind: ClassVar[str] = "continuous"
    period: float | None = None
    pts_per_period: int | None = None
    default_dt: ClassVar[float | None] = None
    default_x0: np.ndarray | None = None
    max_lyapunov: float | None = None
    dtype = torch.float64
    #: multiplies ``u`` in ``forward`` (maps may scale their input by their step)
    _input_gain: float = 1.0

    def __init__(self, **params: Any) -> None:
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise DynlensValueError(
                f"params: unknown parameter{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(repr(k) for k in unknown)} for system {self.name!r}; "
                f"valid parameters are {', '.join(repr(k) for k in self.defaults) or 'none'}"
            )
        merged = {**self.defaults, **params}
        self._params = {k: self._check_param(k, v) for k, v in merged.items()}
        dim = self._dim_from_params()
        if self.period is not None and self.pts_per_period is not None:
            dt = self.period / self.pts_per_period
        else:
            dt = self.default_dt
        super().__init__(dim=dim, kind=self.system_kind, dt=dt)
        self.default_x0 = None if self.default_x0 is None else np.array(self.default_x0,
                                                                         dtype=np.float64)

    @property
    def params(self) -> dict[str, Any]:
        """A copy of the parameters (build a new system to change them)."""
        return dict(self._params)

    # ----------------------------------------------------------------- hooks for subclasses
    def _check_param(self, key: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not np.isfinite(value):
            raise DynlensValueError(
                f"{key}: expected a finite number (parameter of {self.name!r}), found {value!r}"
            )
        return float(value)

    def _dim_from_params(self) -> int:
        return self.state_dim

    def _field(self, x, xp):  # pragma: no cover - every subclass implements it
        raise NotImplementedError

    def _jac(self, x, xp):  # pragma: no cover - every subclass implements it
        raise NotImplementedError

    def _draw_x0(self, rng: np.random.Generator) -> np.ndarray:
        """A random initial condition for systems without ``default_x0``."""
        return rng.standard_normal(self.dim)

    def fixed_points(self) -> np.ndarray:  # pragma: no cover - every subclass implements it
        """Fixed points (flows: f(x) = 0; maps: F(x) = x) as float64 ``[k, dim]``."""
        raise NotImplementedError

    # ------------------------------------------------------------------------- torch side
    def _check_state(self, x, name: str = "x"):
        if x.ndim < 1 or x.shape[-1] != self.dim:
            raise DynlensValueError(
                f"{name}: expected shape [..., {self.dim}] (last axis = state dimension of "
                f"{self.name!r}), found shape {list(x.shape)}"
            )

    def forward(self, x: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        """Vector field (flows) or next state (maps) at ``x`` of shape ``[..., dim]``.

        ``u`` is an optional additive input of the same (or a broadcastable) shape; the
        output keeps ``x``'s dtype and device.
        """
        if not isinstance(x, torch.Tensor):
            raise DynlensTypeError(
                f"x: expected a torch.Tensor of shape [..., {self.dim}], found "
                f"{type(x).__name__} (use jacobian/trajectory for NumPy arrays)"
            )
        self._check_state(x)
        out = self._field(x, torch)
        if u is not None:
            if not isinstance(u, torch.Tensor):
                u = torch.as_tensor(u, dtype=x.dtype, device=x.device)
            try:
                shape = torch.broadcast_shapes(u.shape, x.shape)
            except RuntimeError:
                shape = None
            if shape != x.shape:
                raise DynlensValueError(
                    f"u: expected an input broadcastable to x's shape {list(x.shape)}, "
                    f"found shape {list(u.shape)}"
                )
            out = out + self._input_gain * u.to(out.dtype)
        return out

    # ------------------------------------------------------------------------- Jacobians
    def jacobian(self, x):
        """Analytic Jacobian ``[..., dim, dim]`` of ``forward`` with respect to the state.

        NumPy (or array-like) in gives float64 NumPy out; a tensor in gives a tensor out in
        its dtype.

        Examples
        --------
        >>> from dynlens.systems import get
        >>> get("bistable2d", gamma=0.5).jacobian([1.0, 0.0]).tolist()
        [[0.0, 1.0], [-2.0, -0.5]]
        """
        if isinstance(x, torch.Tensor):
            self._check_state(x)
            return self._jac(x, torch)
        x = as_numpy(x, "x", dtype=np.float64)
        self._check_state(x)
        return self._jac(x, np)

    def stability(self, points=None) -> Stability:
        """Eigenvalues of the analytic Jacobian at ``points`` (default: the fixed points).

        Eigenvalues within a relative 1e-10 of the stability boundary (rounding error) do
        not count as unstable.

        Returns
        -------
        Stability
            ``(eigenvalues [k, dim] complex, n_unstable [k] int)``.

        Examples
        --------
        >>> from dynlens.systems import get
        >>> eigenvalues, n_unstable = get("lorenz").stability()
        >>> eigenvalues[0].real.round(3).tolist(), n_unstable.tolist()
        ([11.828, -2.667, -22.828], [1, 2, 2])
        """
        pts = self.fixed_points() if points is None else as_numpy(points, "points",
                                                                  dtype=np.float64)
        pts = np.atleast_2d(pts)
        self._check_state(pts, "points")
        if len(pts) == 0:
            return Stability(np.zeros((0, self.dim), complex), np.zeros(0, int))
        eig = np.linalg.eigvals(self._jac(pts, np)).astype(complex)
        scale = 1e-10 * np.maximum(1.0, np.abs(eig).max(axis=-1, keepdims=True))
        if self.kind == "continuous":
            key = eig.real
            unstable = eig.real > scale
        else:
            key = np.abs(eig)
            unstable = np.abs(eig) > 1.0 + scale
        order = np.lexsort((-eig.imag, -key), axis=-1)
        eig = np.take_along_axis(eig, order, axis=-1)
        return Stability(eig, unstable.sum(axis=-1).astype(int))

    # ---------------------------------------------------------------------- trajectories
    def _check_dt(self, dt) -> float:
        if dt is None:
            if self.dt is None:
                raise DynlensValueError(f"dt: {self.name!r} has no default bin width; pass dt")
            return self.dt
        dt = check_positive_float(dt, "dt")
        if self.kind == "discrete" and not np.isclose(dt, self.dt, rtol=1e-12, atol=0):
            raise DynlensValueError(
                f"dt: a map advances by its own step ({self.dt}); found dt={dt}. Build the "
                f"system with another step instead (e.g. get({self.name!r}, dt={dt}))"
            )
        return dt

    def _initial_state(self, x0, seed: int) -> np.ndarray:
        if x0 is None:
            if self.default_x0 is not None:
                return self.default_x0.copy()
            seed = check_nonnegative_int(seed, "seed")
            return np.asarray(self._draw_x0(np.random.default_rng(seed)), dtype=np.float64)
        x0 = as_numpy(x0, "x0", dtype=np.float64)
        if x0.shape != (self.dim,):
            raise DynlensValueError(
                f"x0: expected shape [{self.dim}] for {self.name!r}, found {list(x0.shape)}"
            )
        if not np.all(np.isfinite(x0)):
            raise DynlensValueError("x0: expected finite values, found NaN or inf")
        return x0

    def _check_batch_x0(self, x0) -> np.ndarray:
        x0 = as_numpy(x0, "x0", dtype=np.float64)
        if x0.ndim != 2 or x0.shape[1] != self.dim or x0.shape[0] == 0:
            raise DynlensValueError(
                f"x0: expected shape [n, {self.dim}] with n >= 1, found {list(x0.shape)}"
            )
        if not np.all(np.isfinite(x0)):
            raise DynlensValueError("x0: expected finite values, found NaN or inf")
        return x0

    def _scalar_field(self, t: float, y: np.ndarray):
        """The field of one state on Python floats (fast path of a single trajectory)."""
        return self._field(_Floats(y.tolist()), _PY)

    def _fast_field(self) -> Callable | None:
        """``_scalar_field`` if it runs and agrees with the NumPy field here, else ``None``."""
        if not hasattr(self, "_fast_checked"):
            rng = np.random.default_rng(0)
            x = rng.standard_normal((3, self.dim)) * 2.0
            try:
                ok = all(np.allclose(np.asarray(self._scalar_field(0.0, row), dtype=float),
                                     self._field(row, np), rtol=1e-13, atol=1e-13) for row in x)
            except Exception:  # noqa: BLE001 - any failure: use the NumPy field
                ok = False
            self._fast_checked = ok
        return self._safe_scalar_field if self._fast_checked else None

    def _safe_scalar_field(self, t: float, y: np.ndarray):
        try:
            return self._scalar_field(t, y)
        except (OverflowError, ZeroDivisionError, ValueError):  # Python floats raise; NaN
            return [math.nan] * self.dim  # makes the solver stop and report the failure

    def _solve(self, x0: np.ndarray, times: np.ndarray, method: str = "LSODA",
               rtol: float = RTOL, atol: float = ATOL) -> np.ndarray:
        """Integrate a batch ``x0 [n, dim]`` of a flow; values at ``times`` -> ``[n, T, dim]``.

        The batch is integrated as one stacked system (one scipy call; LSODA controls the
        error of every component, so no trajectory hides behind the others); ``times[0]`` is
        the start time and the first output row is ``x0`` itself.
        """
        method = check_choice(method, _METHODS, "method")
        n, dim = x0.shape
        if len(times) == 1:
            return x0[:, None, :].copy()
        fast = self._fast_field() if n == 1 else None

        def fun(_t, y):
            return self._field(y.reshape(n, dim), np).reshape(-1)

        if method == "LSODA":  # scipy's odeint: the Fortran LSODA loop, no per-step Python
            kwargs: dict[str, Any] = {}
            if n == 1:
                kwargs["Dfun"] = lambda _t, y: self._jac(y, np)
            else:
                kwargs.update(ml=dim - 1, mu=dim - 1,
                              Dfun=lambda _t, y: _block_band(self._jac(y.reshape(n, dim), np)))
            with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
                warnings.simplefilter("ignore")
                y, info = odeint(fast or fun, x0.reshape(-1), times, tfirst=True, rtol=rtol,
                                 atol=atol, mxstep=_MAX_STEPS, full_output=True, **kwargs)
            ok, message = info["message"] == "Integration successful.", info["message"]
            y = y.T
        else:
            kwargs = {}
            if method in _IMPLICIT:
                if n == 1:
                    kwargs["jac"] = lambda _t, y: self._jac(y, np)
                else:
                    kwargs["jac"] = lambda _t, y: sparse.block_diag(
                        list(self._jac(y.reshape(n, dim), np)), "csc")
            with np.errstate(over="ignore", invalid="ignore"):
                sol = solve_ivp(fast or fun, (times[0], times[-1]), x0.reshape(-1),
                                method=method, t_eval=times, rtol=rtol, atol=atol, **kwargs)
            ok, message, y = sol.status == 0 and sol.y.shape[1] == len(times), sol.message, sol.y
        if not ok or not np.all(np.isfinite(y)):
            raise DynlensError(
                f"trajectory: integration of {self.name!r} failed ({message.strip()}); the "
                f"state may diverge from this initial condition"
            )
        return y.reshape(n, dim, len(times)).transpose(0, 2, 1)

    def _iterate(self, x0: np.ndarray, n_steps: int) -> np.ndarray:
        """Iterate a map for a batch ``x0 [n, dim]`` -> ``[n, n_steps, dim]``."""
        out = np.empty((x0.shape[0], n_steps, self.dim))
        out[:, 0] = x0
        for k in range(1, n_steps):
            out[:, k] = self._field(out[:, k - 1], np)
        return out

    def _skip(self, x0: np.ndarray, transient: float, **solver) -> np.ndarray:
        """Advance a batch ``x0 [n, dim]`` by ``transient`` time units."""
        if transient == 0:
            return x0
        if self.kind == "continuous":
            return self._solve(x0, np.array([0.0, transient]), **solver)[:, -1]
        steps = round(transient / self.dt)
        return self._iterate(x0, steps + 1)[:, -1]

    def trajectory(self, n_steps: int, dt: float | None = None, x0=None, seed: int = 0,
                   transient: float = 0.0, *, method: str = "LSODA", rtol: float = RTOL,
                   atol: float = ATOL) -> np.ndarray:
        """One trajectory sampled every ``dt``: float64 ``[n_steps, dim]``.

        Parameters
        ----------
        n_steps : int
            Number of samples; row 0 is the initial state.
        dt : float, optional
            Sampling interval in the system's time units (default ``self.dt``). Maps advance
            by their own step only.
        x0 : array-like [dim], optional
            Initial state; default ``default_x0``, or a random draw from ``seed`` for systems
            without one.
        seed : int
            Seed of that draw.
        transient : float
            Time to integrate before row 0 (maps: rounded to whole steps).
        method : {"LSODA", "DOP853", "RK45", "Radau", "BDF"}
            Flows only. ``"LSODA"`` is scipy's ``odeint`` (Fortran LSODA); the others go
            through ``scipy.integrate.solve_ivp``. Implicit methods get the analytic Jacobian.
        rtol, atol : float
            Tolerances (default 1e-10 and 1e-12).

        Examples
        --------
        >>> from dynlens.systems import get
        >>> get("bistable2d").trajectory(4, x0=[0.5, 0.0]).round(3).tolist()
        [[0.5, 0.0], [0.502, 0.037], [0.507, 0.071], [0.516, 0.105]]
        """
        n_steps = check_positive_int(n_steps, "n_steps")
        dt = self._check_dt(dt)
        transient = self._check_transient(transient)
        solver = self._check_solver(method, rtol, atol)
        x0 = self._skip(self._initial_state(x0, seed)[None], transient, **solver)
        return self._run(x0, n_steps, dt, **solver)[0]

    def trajectories(self, x0, n_steps: int, dt: float | None = None, *, method: str = "LSODA",
                     rtol: float = RTOL, atol: float = ATOL) -> np.ndarray:
        """Independent trajectories from each row of ``x0 [n, dim]``: ``[n, n_steps, dim]``.

        The whole batch is integrated as one stacked system in a single scipy call (options
        as in :meth:`trajectory`).

        Examples
        --------
        >>> from dynlens.systems import get
        >>> sys = get("rossler")
        >>> sys.trajectories(sys.sample_on_attractor(4, seed=0), 70).shape
        (4, 70, 3)
        """
        n_steps = check_positive_int(n_steps, "n_steps")
        dt = self._check_dt(dt)
        solver = self._check_solver(method, rtol, atol)
        return self._run(self._check_batch_x0(x0), n_steps, dt, **solver)

    @staticmethod
    def _check_solver(method: str, rtol: float, atol: float) -> dict[str, Any]:
        return {"method": check_choice(method, _METHODS, "method"),
                "rtol": check_positive_float(rtol, "rtol"),
                "atol": check_positive_float(atol, "atol")}

    def _run(self, x0: np.ndarray, n_steps: int, dt: float, **solver) -> np.ndarray:
        if self.kind == "continuous":
            return self._solve(x0, dt * np.arange(n_steps), **solver)
        return self._iterate(x0, n_steps)

    @staticmethod
    def _check_transient(transient) -> float:
        if transient == 0:
            return 0.0
        return check_positive_float(transient, "transient")

    def _attractor_times(self) -> tuple[float, float]:
        """(transient, span) used by ``sample_on_attractor``, in time units."""
        unit = self.period if self.period is not None else 100 * self.dt
        return 10 * unit, 100 * unit

    def sample_on_attractor(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` points on the attractor: ``[n, dim]`` float64.

        From one long trajectory (started at ``default_x0`` or a draw from ``seed``) after a
        transient, read at ``n`` random times drawn with ``seed``.

        Examples
        --------
        >>> from dynlens.systems import get
        >>> points = get("bistable2d").sample_on_attractor(3, seed=0)
        >>> abs(points).round(6).tolist()  # the two stable foci
        [[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]
        """
        n = check_positive_int(n, "n")
        seed = check_nonnegative_int(seed, "seed")
        rng = np.random.default_rng(seed)
        transient, span = self._attractor_times()
        x0 = self._skip(self._initial_state(None, seed)[None], transient)
        if self.kind == "continuous":
            times = rng.uniform(0.0, span, n)
            order = np.argsort(times)
            values = self._solve(x0, np.concatenate([[0.0], times[order]]))[0, 1:]
            out = np.empty_like(values)
            out[order] = values
            return out
        steps = round(span / self.dt)
        return self._iterate(x0, steps)[0, rng.integers(0, steps, n)]

    def extra_repr(self) -> str:
        params = ", ".join(f"{k}={v:g}" if np.ndim(v) == 0 else f"{k}={np.asarray(v)}"
                           for k, v in self._params.items())
        return f"{params}, dim={self.dim}, kind={self.kind!r}, dt={self.dt:g}"

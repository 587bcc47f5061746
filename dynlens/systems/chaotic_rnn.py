"""The chaotic RNN that generated the original LFADS synthetic data (Sussillo et al. 2016).

``x_t = (1 - dt/tau) x_{t-1} + (dt/tau) g W tanh(x_{t-1})`` with ``W ~ N(0, 1/n)`` drawn from
``seed``: a discrete map (one step = ``dt`` seconds). Its fixed points are found numerically.

Examples
--------
>>> import numpy as np, torch
>>> rnn = ChaoticRNN(n=20, seed=1)
>>> rnn.kind, rnn.dim, rnn.dt, rnn.alpha
('discrete', 20, 0.01, 0.4)
>>> x = torch.randn(5, 20, dtype=torch.float64)
>>> torch.allclose(rnn(x), 0.6 * x + 0.4 * 1.5 * torch.tanh(x) @ torch.from_numpy(rnn.weights).T)
True
>>> fps = rnn.fixed_points()
>>> float(np.abs(rnn.step(fps) - fps).max()) < 1e-10
True
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from scipy.optimize import root

from ..utils import check_nonnegative_int, check_positive_float, check_positive_int
from .base import GroundTruthSystem

__all__ = ["ChaoticRNN"]


class ChaoticRNN(GroundTruthSystem):
    """Random tanh network ``x <- (1 - a) x + a (g W tanh(x) + u)``, ``a = dt / tau``.

    Parameters
    ----------
    n : int
        Number of units (state dimension), default 50.
    g : float
        Gain; chaotic above about 1 (default 1.5).
    tau, dt : float
        Time constant and step, in seconds (defaults 0.025 and 0.01).
    seed : int
        Seed of the connectivity ``W ~ N(0, 1/n)``.

    Attributes
    ----------
    weights : np.ndarray
        The connectivity ``W`` ``[n, n]`` float64 (also the buffer ``W`` as a tensor).
    alpha : float
        ``dt / tau``.

    Notes
    -----
    ``forward(x, u)`` treats ``u`` as an input current added to the recurrent drive, so it
    enters the next state as ``alpha * u`` (the Euler step of ``tau x' = -x + g W tanh(x) + u``).

    Examples
    --------
    >>> import torch
    >>> rnn = ChaoticRNN(n=20, seed=0)
    >>> rnn.dim, rnn.kind, round(rnn.alpha, 6), rnn.weights.shape
    (20, 'discrete', 0.4, (20, 20))
    >>> origin = torch.zeros(1, 20, dtype=torch.float64)
    >>> bool(torch.equal(rnn(origin), origin))  # tanh(0) = 0: the origin is a fixed point
    True
    >>> rnn.trajectory(50).shape  # 50 steps of dt = 10 ms
    (50, 20)
    """

    name = "chaotic_rnn"
    defaults: ClassVar[dict[str, float]] = {"n": 50, "g": 1.5, "tau": 0.025, "dt": 0.01, "seed": 0}
    system_kind = "discrete"

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.dt = self._params["dt"]
        self.alpha = self._params["dt"] / self._params["tau"]
        self._input_gain = self.alpha
        rng = np.random.default_rng(self._params["seed"])
        n = self._params["n"]
        self.weights = rng.standard_normal((n, n)) / np.sqrt(n)
        self.register_buffer("W", torch.from_numpy(self.weights.copy()))
        self._fixed_points: np.ndarray | None = None

    def _check_param(self, key, value):
        if key == "n":
            return check_positive_int(value, key)
        if key == "seed":
            return check_nonnegative_int(value, key)
        return check_positive_float(value, key)

    def _dim_from_params(self) -> int:
        return self._params["n"]

    def _weights(self, x, xp):
        return self.weights if xp is np else self.W.to(dtype=x.dtype, device=x.device)

    def _field(self, x, xp):
        a, g = self.alpha, self._params["g"]
        return (1.0 - a) * x + (a * g) * (xp.tanh(x) @ self._weights(x, xp).T)

    def _jac(self, x, xp):
        a, g = self.alpha, self._params["g"]
        sech2 = 1.0 - xp.tanh(x) ** 2
        eye = xp.eye(self.dim, dtype=x.dtype) if xp is np else torch.eye(
            self.dim, dtype=x.dtype, device=x.device)
        # d/dx_j of sum_k W_ik tanh(x_k) = W_ij sech^2(x_j): scale the columns
        return (1.0 - a) * eye + (a * g) * self._weights(x, xp) * sech2[..., None, :]

    def step(self, x: np.ndarray) -> np.ndarray:
        """The map on NumPy arrays ``[..., n]`` (float64)."""
        return self._field(np.asarray(x, dtype=np.float64), np)

    def fixed_points(self, n_starts: int = 256) -> np.ndarray:
        """Fixed points ``F(x) = x``, found by Newton-type root finding (scipy ``hybr``).

        Starts: the origin (always a fixed point), states of the network's own trajectories
        and random states at several scales; converged roots (``|F(x) - x| < 1e-10``) are
        completed with their mirror images (``tanh`` is odd) and deduplicated. The result is
        cached; the origin comes first, then by norm.
        """
        if self._fixed_points is not None:
            return self._fixed_points.copy()
        n, g = self.dim, self._params["g"]
        w = self.weights
        rng = np.random.default_rng(self._params["seed"])

        def residual(x):
            return g * w @ np.tanh(x) - x

        def jac(x):
            return g * w * (1.0 - np.tanh(x) ** 2)[None, :] - np.eye(n)

        starts = np.concatenate([
            self.sample_on_attractor(n_starts // 2, seed=self._params["seed"]),
            rng.standard_normal((n_starts - n_starts // 2, n))
            * rng.choice([0.3, 1.0, 3.0], size=(n_starts - n_starts // 2, 1)),
        ])
        found = [np.zeros(n)]
        for x0 in starts:
            sol = root(residual, x0, jac=jac, method="hybr", options={"xtol": 1e-13})
            if np.abs(residual(sol.x)).max() < 1e-10:
                found += [sol.x, -sol.x]
        unique: list[np.ndarray] = []
        for x in found:
            if all(np.abs(x - y).max() > 1e-6 * max(1.0, np.abs(y).max()) for y in unique):
                unique.append(x)
        origin, rest = unique[0], sorted(unique[1:], key=lambda v: (np.linalg.norm(v), *v))
        self._fixed_points = np.array([origin, *rest])
        return self._fixed_points.copy()

    def _attractor_times(self) -> tuple[float, float]:
        # 1 s of transient, then 10 s of activity
        return 100 * self.dt, 1000 * self.dt

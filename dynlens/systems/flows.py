"""Chaotic flows of Sedler et al. 2023, with parameters and metadata exactly as in dysts.

Each field and Jacobian is written once for NumPy and torch (``xp``); fixed points are
closed-form.

Examples
--------
>>> import torch
>>> lorenz = Lorenz()
>>> lorenz.params
{'sigma': 10.0, 'rho': 28.0, 'beta': 2.667}
>>> lorenz(torch.zeros(3)).tolist()
[0.0, 0.0, 0.0]
>>> lorenz.stability().n_unstable.tolist()
[1, 2, 2]
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import GroundTruthSystem, _matrix

__all__ = ["Arneodo", "Bistable2D", "Lorenz", "Rossler"]


class Lorenz(GroundTruthSystem):
    """Lorenz (1963): x' = sigma (y - x), y' = x (rho - z) - y, z' = x y - beta z.

    ``beta`` is 2.667 as in dysts (not 8/3).

    Examples
    --------
    >>> Lorenz().fixed_points().round(4).tolist()
    [[0.0, 0.0, 0.0], [8.4858, 8.4858, 27.0], [-8.4858, -8.4858, 27.0]]
    """

    name = "lorenz"
    defaults: ClassVar[dict[str, float]] = {"sigma": 10.0, "rho": 28.0, "beta": 2.667}
    state_dim = 3
    period = 1.5008
    pts_per_period = 100
    default_x0 = (-9.7869288, -15.03852, 20.533978)
    max_lyapunov = 0.8917098035724058

    def _field(self, x, xp):
        p, (x1, x2, x3) = self._params, (x[..., 0], x[..., 1], x[..., 2])
        return xp.stack([p["sigma"] * (x2 - x1), x1 * (p["rho"] - x3) - x2,
                         x1 * x2 - p["beta"] * x3], axis=-1)

    def _jac(self, x, xp):
        p, (x1, x2, x3) = self._params, (x[..., 0], x[..., 1], x[..., 2])
        return _matrix([[-p["sigma"], p["sigma"], 0.0],
                        [p["rho"] - x3, -1.0, -x1],
                        [x2, x1, -p["beta"]]], x, xp)

    def fixed_points(self) -> np.ndarray:
        p = self._params
        points = [np.zeros(3)]
        q = p["beta"] * (p["rho"] - 1.0)
        if q > 0:
            r = np.sqrt(q)
            points += [np.array([r, r, p["rho"] - 1.0]), np.array([-r, -r, p["rho"] - 1.0])]
        return np.array(points)


class Arneodo(GroundTruthSystem):
    """Arneodo (1981): x' = y, y' = z, z' = -a x - b y - c z + d x^3.

    Examples
    --------
    >>> Arneodo().fixed_points().round(4).tolist()
    [[0.0, 0.0, 0.0], [2.3452, 0.0, 0.0], [-2.3452, 0.0, 0.0]]
    """

    name = "arneodo"
    defaults: ClassVar[dict[str, float]] = {"a": -5.5, "b": 4.5, "c": 1.0, "d": -1.0}
    state_dim = 3
    period = 3.1641
    pts_per_period = 35
    default_x0 = (-2.7515698, 0.19079818, 3.4703629)
    max_lyapunov = 0.23737468667051287

    def _field(self, x, xp):
        p, (x1, x2, x3) = self._params, (x[..., 0], x[..., 1], x[..., 2])
        return xp.stack([x2, x3, -p["a"] * x1 - p["b"] * x2 - p["c"] * x3 + p["d"] * x1**3],
                        axis=-1)

    def _jac(self, x, xp):
        p, x1 = self._params, x[..., 0]
        return _matrix([[0.0, 1.0, 0.0],
                        [0.0, 0.0, 1.0],
                        [-p["a"] + 3.0 * p["d"] * x1**2, -p["b"], -p["c"]]], x, xp)

    def fixed_points(self) -> np.ndarray:
        p = self._params
        points = [np.zeros(3)]
        if p["d"] != 0 and p["a"] / p["d"] > 0:
            r = np.sqrt(p["a"] / p["d"])
            points += [np.array([r, 0.0, 0.0]), np.array([-r, 0.0, 0.0])]
        return np.array(points)


class Rossler(GroundTruthSystem):
    """Rossler (1976): x' = -y - z, y' = x + a y, z' = b + z (x - c).

    Fixed points ``(a z, -z, z)`` with ``z = (c -+ sqrt(c^2 - 4ab)) / (2a)``: the inner one
    (near the origin, inside the attractor) first, then the outer one.

    Examples
    --------
    >>> Rossler().fixed_points().round(6).tolist()
    [[0.007026, -0.035131, 0.035131], [5.692974, -28.464869, 28.464869]]
    """

    name = "rossler"
    defaults: ClassVar[dict[str, float]] = {"a": 0.2, "b": 0.2, "c": 5.7}
    state_dim = 3
    period = 5.9086
    pts_per_period = 35
    default_x0 = (6.5134412, 0.4772013, 0.34164294)
    max_lyapunov = 0.15059688939547888

    def _field(self, x, xp):
        p, (x1, x2, x3) = self._params, (x[..., 0], x[..., 1], x[..., 2])
        return xp.stack([-x2 - x3, x1 + p["a"] * x2, p["b"] + x3 * (x1 - p["c"])], axis=-1)

    def _jac(self, x, xp):
        p, (x1, x3) = self._params, (x[..., 0], x[..., 2])
        return _matrix([[0.0, -1.0, -1.0],
                        [1.0, p["a"], 0.0],
                        [x3, 0.0, x1 - p["c"]]], x, xp)

    def fixed_points(self) -> np.ndarray:
        a, b, c = self._params["a"], self._params["b"], self._params["c"]
        if a == 0:  # y = -z, x = 0, b = c z
            zs = [b / c] if c != 0 else []
        else:
            disc = c * c - 4 * a * b
            if disc < 0:
                return np.zeros((0, 3))
            root = np.sqrt(disc)
            # the small root in a cancellation-free form: (c - root) / (2a) = 2b / (c + root)
            zs = [2 * b / (c + root) if c + root != 0 else (c - root) / (2 * a),
                  (c + root) / (2 * a)]
            zs = sorted(set(zs), key=abs)
        return np.array([[a * z, -z, z] for z in zs]).reshape(-1, 3)


class Bistable2D(GroundTruthSystem):
    """Damped double well: x' = y, y' = x - x^3 - gamma y.

    A saddle at the origin and two stable points at ``(+-1, 0)`` (foci for
    ``0 < gamma < 2 sqrt(2)``, nodes above). Every trajectory settles into one of the two wells.

    Examples
    --------
    >>> sys = Bistable2D()
    >>> sys.fixed_points().tolist()
    [[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0]]
    >>> sys.stability().n_unstable.tolist()
    [1, 0, 0]
    """

    name = "bistable2d"
    defaults: ClassVar[dict[str, float]] = {"gamma": 0.5}
    state_dim = 2
    default_dt = 0.1

    def _field(self, x, xp):
        x1, x2 = x[..., 0], x[..., 1]
        return xp.stack([x2, x1 - x1**3 - self._params["gamma"] * x2], axis=-1)

    def _jac(self, x, xp):
        x1 = x[..., 0]
        return _matrix([[0.0, 1.0], [1.0 - 3.0 * x1**2, -self._params["gamma"]]], x, xp)

    def _draw_x0(self, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(-2.0, 2.0, size=2)

    def fixed_points(self) -> np.ndarray:
        return np.array([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0]])

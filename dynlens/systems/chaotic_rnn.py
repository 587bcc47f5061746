"""The chaotic RNN that generated the original LFADS synthetic data (Sussillo et al. 2016).

``x_t = (1 - dt/tau) x_{t-1} + (dt/tau) g W tanh(x_{t-1})`` with ``W ~ N(0, 1/n)`` drawn from
``seed``: a discrete map (one step = ``dt`` seconds). Its fixed points are found numerically.

It is observed as in the original LFADS synthetic set: each trial starts from its own
``x0 ~ N(0, 1)``; the observed neurons are the network's first ``n_neurons`` units; their rates
``tanh(x)`` are min-max normalised to [0, 1] per trial and unit, times 30 Hz, times the bin
(so up to 0.3 expected counts per 10 ms bin). With ``input_pulse``, the paper's input-pulse
experiment: one pulse per trial at a random bin, entering every unit through one random input
vector (see :func:`dynlens.simulate`).

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

from typing import Any, ClassVar

import numpy as np
import torch
from scipy.optimize import root

from ..errors import DynlensValueError
from ..utils import check_nonnegative_int, check_positive_float, check_positive_int
from .base import GroundTruthSystem
from .observation import SimulationRequest

__all__ = ["RNN_MAX_RATE_HZ", "ChaoticRNN"]

#: Peak firing rate of the LFADS chaotic-RNN recipe, in Hz.
RNN_MAX_RATE_HZ = 30.0


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
    recipe = "lfads_chaotic_rnn"
    independent_trials = True
    time_unit = "s"

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

    # ------------------------------------------------------- observation (LFADS recipe)
    def check_request(self, request: SimulationRequest) -> None:
        """Refuse what the LFADS recipe cannot do (it observes the units' own rates).

        Parameters
        ----------
        request : SimulationRequest
            Checked: a linear embedding, at most ``n`` neurons, >= 4 bins for a pulse.
        """
        if request.embedding != "linear":
            raise DynlensValueError(
                f"embedding: the chaotic_rnn recipe observes the units' own rates, so only "
                f"'linear' applies; found {request.embedding!r}"
            )
        if request.n_neurons > self.dim:
            raise DynlensValueError(
                f"n_neurons: the chaotic_rnn recipe observes the network's units, so expected at "
                f"most {self.dim}, found {request.n_neurons}; pass system_params="
                f"{{'n': {request.n_neurons}}} for a larger network"
            )
        if request.input_pulse is not None and request.n_bins < 4:
            raise DynlensValueError(
                f"n_bins: an input pulse needs at least 4 bins, so that every pulse bin in "
                f"[n_bins/4, 3*n_bins/4) is followed by a bin that shows it; found "
                f"{request.n_bins}"
            )

    def sampling(self, request: SimulationRequest) -> tuple[float, dict[str, Any]]:
        """One bin per step of ``dt`` seconds; no period.

        Parameters
        ----------
        request : SimulationRequest
            ``pts_per_period`` must be unset and ``bin_width`` unset or ``dt``.
        """
        if request.pts_per_period is not None:
            raise DynlensValueError(
                f"pts_per_period: the chaotic_rnn has one bin per step ({self.dt} s) and no "
                f"period; found pts_per_period={request.pts_per_period}"
            )
        width = request.bin_width
        if width is not None and not np.isclose(width, self.dt, rtol=1e-12, atol=0):
            raise DynlensValueError(
                f"bin_width: the chaotic_rnn advances by its step dt={self.dt} s; found "
                f"bin_width={width} (build it with system_params={{'dt': {width}}} instead)"
            )
        return self.dt, {}

    def draw_trials(self, request: SimulationRequest, bin_width: float
                    ) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
        """Trajectories from ``x0 ~ N(0, 1)`` (one per condition), driven by any input pulses.

        With ``input_pulse``: one input vector ``b ~ N(0, 1)`` ``[n]`` and each trial's pulse
        bin, uniform over the whole bins in ``[n_bins / 4, 3 n_bins / 4)``, from the
        ``"inputs"`` stream; the pulse is the current ``b * magnitude`` of the step from its
        bin to the next (entering as ``alpha * u``). Inputs ``[trials, bins, 1]`` hold the
        pulse signal; metadata ``input_pulse``, ``input_vector`` and ``pulse_bins``.

        Parameters
        ----------
        request : SimulationRequest
            Sizes, trial layout, ``input_pulse`` and the ``"state"`` and ``"inputs"`` streams.
        bin_width : float
            ``dt`` (from :meth:`sampling`).
        """
        n_trials, n_steps, independent = (request.n_trials, request.n_steps,
                                          request.independent_trials)
        x0 = request.rng("state").standard_normal(
            (request.n_conditions, self.dim) if independent else self.dim)
        if independent:  # the trials of a condition start together
            x0 = np.repeat(x0, request.trials_per_condition, axis=0)
        if request.input_pulse is None:
            if independent:
                return self.trajectories(x0, n_steps), None, {}
            traj = self.trajectory(n_trials * n_steps, x0=x0)
            return traj.reshape(n_trials, n_steps, self.dim), None, {}
        vector, bins, signal = _draw_pulses(request.rng("inputs"), self.dim, n_trials, n_steps,
                                            request.input_pulse, request.n_bins)
        if independent:
            latents = self._driven(x0, signal, vector)
        else:
            latents = self._driven(x0[None], signal.reshape(1, -1), vector).reshape(
                n_trials, n_steps, self.dim)
        meta = {"input_pulse": request.input_pulse, "input_vector": vector.tolist(),
                "pulse_bins": bins.tolist()}
        return latents, signal[..., None], meta

    def rates_from_latents(self, latents: np.ndarray, request: SimulationRequest
                           ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """The first ``n_neurons`` units' ``tanh``, min-max normalised per trial, at 30 Hz peak.

        Parameters
        ----------
        latents : np.ndarray
            The network's states ``[trials, bins, n]``.
        request : SimulationRequest
            ``n_neurons`` and ``mean_rate`` (a rescaling of the rates).
        """
        n_neurons = request.n_neurons
        activity = np.tanh(latents[..., :n_neurons])
        low = activity.min(axis=1, keepdims=True)
        span = activity.max(axis=1, keepdims=True) - low
        # Min-max per trial and unit; a unit constant over a trial (e.g. one bin) gets rate 0.
        normalised = np.divide(activity - low, span, out=np.zeros_like(activity), where=span > 0)
        rates = normalised * (RNN_MAX_RATE_HZ * self.dt)
        scale = 1.0
        if request.mean_rate is not None:
            scale = request.mean_rate / float(rates.mean())
            rates = rates * scale
        with np.errstate(divide="ignore"):  # the minimum of every trial and unit is a zero rate
            log_rates = np.log(rates)
        meta = {"observed_units": list(range(n_neurons)), "max_rate_hz": RNN_MAX_RATE_HZ,
                "rate_scale": scale}
        return rates, log_rates, meta

    def _driven(self, x0: np.ndarray, signal: np.ndarray, vector: np.ndarray) -> np.ndarray:
        """Iterate from ``x0 [m, n]`` driven by the current ``signal[:, k] * vector``.

        The current of bin ``k`` drives the step from bin ``k`` to ``k + 1`` and enters as
        ``alpha * u``, like ``forward(x, u)``; a zero current leaves the step bit-identical to
        the undriven map.
        """
        m, n_steps = signal.shape
        out = np.empty((m, n_steps, self.dim))
        out[:, 0] = x0
        for k in range(1, n_steps):
            out[:, k] = self.step(out[:, k - 1]) + self.alpha * (signal[:, k - 1, None] * vector)
        return out


def _draw_pulses(rng: np.random.Generator, n: int, n_trials: int, n_bins: int,
                 magnitude: float, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The input vector ``b [n]``, each trial's pulse bin and the pulse signal ``[trials, bins]``.

    Pulse bins are uniform over the whole bins ``t`` with ``window/4 <= t < 3*window/4``
    (``window``: the bins before any forward-prediction bins).
    """
    vector = rng.standard_normal(n)
    low, high = -(-window // 4), -(-3 * window // 4)  # ceil(T/4), ceil(3T/4)
    bins = rng.integers(low, high, size=n_trials)
    signal = np.zeros((n_trials, n_bins))
    signal[np.arange(n_trials), bins] = magnitude
    return vector, bins, signal

"""How a ground-truth system is observed: its trials, its rates and anything else recorded.

:func:`dynlens.simulate` checks its arguments, puts them in a :class:`SimulationRequest`,
asks the system to :meth:`~ObservationRecipe.observe` it and draws Poisson spikes from the
rates it returns; it never asks which system it has. Every :class:`GroundTruthSystem`
inherits the default recipe below (the one the flows use); a system with its own way of being
observed (the LFADS chaotic RNN, a user's system) overrides one or more of its steps:

1. :meth:`~ObservationRecipe.check_request`: refuse what the recipe cannot do (the default
   refuses input pulses);
2. :meth:`~ObservationRecipe.sampling`: the bin width (and metadata saying how it was chosen);
3. :meth:`~ObservationRecipe.draw_trials`: the true latents ``[trials, bins, dim]``, any inputs
   ``[trials, bins, k]`` and metadata;
4. :meth:`~ObservationRecipe.rates_from_latents`: expected counts per bin and their logarithm.

The default recipe is that of Sedler, Versteeg & Pandarinath (2023): one long trajectory of
``n_trials * n_bins`` points from the system's default initial condition cut into consecutive
trials (or, with independent trials, one start per condition drawn on the attractor); a
readout ``W ~ U(-0.5, 0.5)`` ``[dim, n_neurons]`` without bias; activity ``latents @ W``
z-scored per neuron over all bins and trials; ``log_rates`` = that (or its saturating warp),
shifted to ``mean_rate`` when one is asked for.

Examples
--------
>>> from dynlens.systems import get
>>> lorenz = get("lorenz")
>>> request = SimulationRequest(n_neurons=4, n_trials=3, n_bins=5, seed=1)
>>> obs = lorenz.observe(request)
>>> obs.latents.shape, obs.rates.shape, obs.inputs, round(obs.bin_width, 6)
((3, 5, 3), (3, 5, 4), None, 0.015008)
>>> sorted(obs.metadata)[:4]
['independent_trials', 'pts_per_period', 'rate_scale', 'readout']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from ..errors import DynlensValueError

__all__ = ["EMBEDDINGS", "Observation", "ObservationRecipe", "SimulationRequest"]

#: How latents may become log-rates in the default recipe.
EMBEDDINGS = ("linear", "saturating")
#: The independent random streams of a simulation's seed, in spawn order.
STREAMS = ("state", "readout", "spikes", "inputs")


@dataclass(frozen=True)
class SimulationRequest:
    """What :func:`dynlens.simulate` asks a system for, its arguments already checked.

    Attributes
    ----------
    n_neurons, n_trials : int
        Neurons and trials.
    n_bins : int
        Bins per trial before any forward-prediction bins (inputs fall in these).
    n_forward : int
        Forward-prediction bins simulated after them.
    seed : int
        Seed of every random draw, through the streams of :meth:`rng`.
    independent_trials : bool
        Each condition starts from its own state (else: consecutive segments of one trajectory).
    trials_per_condition : int
        Consecutive trials sharing a condition's initial state (divides ``n_trials``).
    mean_rate : float or None
        Target mean expected count per bin, or ``None`` for the recipe's own scale.
    embedding : str
        One of :data:`EMBEDDINGS`.
    pts_per_period : int or None
        Requested bins per period.
    bin_width : float or None
        Requested bin width in the system's time units (not together with ``pts_per_period``).
    input_pulse : float or None
        Magnitude of one input pulse per trial, for recipes that have them.

    Examples
    --------
    >>> request = SimulationRequest(n_neurons=5, n_trials=6, n_bins=20, n_forward=4,
    ...                             trials_per_condition=3)
    >>> request.n_steps, request.n_conditions
    (24, 2)
    >>> request.rng("readout").uniform() == request.rng("readout").uniform()  # fresh each call
    True
    """

    n_neurons: int
    n_trials: int
    n_bins: int
    n_forward: int = 0
    seed: int = 0
    independent_trials: bool = False
    trials_per_condition: int = 1
    mean_rate: float | None = None
    embedding: str = "linear"
    pts_per_period: int | None = None
    bin_width: float | None = None
    input_pulse: float | None = None

    @property
    def n_steps(self) -> int:
        """Bins simulated per trial: ``n_bins + n_forward``."""
        return self.n_bins + self.n_forward

    @property
    def n_conditions(self) -> int:
        """Distinct initial states: ``n_trials / trials_per_condition``."""
        return self.n_trials // self.trials_per_condition

    def rng(self, stream: str) -> np.random.Generator:
        """A fresh generator for one named stream of ``seed`` (the same draws on every call).

        The streams (:data:`STREAMS`: ``"state"`` for initial conditions, ``"readout"``,
        ``"spikes"``, ``"inputs"``) are independent children of ``SeedSequence(seed)``, so that
        e.g. the readout does not change with ``n_trials``.

        Parameters
        ----------
        stream : {"state", "readout", "spikes", "inputs"}
            Which stream.
        """
        if stream not in STREAMS:
            raise DynlensValueError(f"stream: expected one of {list(STREAMS)}, found {stream!r}")
        child = np.random.SeedSequence(self.seed).spawn(len(STREAMS))[STREAMS.index(stream)]
        return np.random.default_rng(child)


class Observation(NamedTuple):
    """What a system's recipe returns to :func:`dynlens.simulate`.

    Attributes
    ----------
    latents : np.ndarray
        The true states ``[trials, bins, dim]``.
    rates, log_rates : np.ndarray
        Expected counts per bin ``[trials, bins, neurons]`` and their logarithm.
    inputs : np.ndarray or None
        Inputs that drove the system ``[trials, bins, k]``, if any.
    bin_width : float
        One bin in the system's time units.
    metadata : dict
        Everything needed to reproduce the observation (readout, scales, inputs' draws...).

    Examples
    --------
    >>> from dynlens.systems import get
    >>> obs = get("arneodo").observe(SimulationRequest(n_neurons=2, n_trials=1, n_bins=3))
    >>> obs.metadata["recipe"], bool(np.allclose(np.exp(obs.log_rates), obs.rates))
    ('sedler2023', True)
    """

    latents: np.ndarray
    rates: np.ndarray
    log_rates: np.ndarray
    inputs: np.ndarray | None
    bin_width: float
    metadata: dict[str, Any]


class ObservationRecipe:
    """The default recipe of a :class:`~dynlens.systems.GroundTruthSystem` (module docstring).

    A mixin: it reads the system's ``dim``, ``kind``, ``dt``, ``period``, ``pts_per_period``,
    ``name``, ``trajectory``, ``trajectories`` and ``sample_on_attractor``.

    Attributes
    ----------
    recipe : str
        Name recorded in ``metadata["recipe"]``.
    independent_trials : bool
        :func:`dynlens.simulate`'s default for ``independent_trials`` with this system.
    time_unit : str
        The unit of ``bin_width`` recorded in the metadata.

    Examples
    --------
    A recipe of one's own overrides a step, here the rates (two neurons per state variable,
    tuned up and down):

    >>> import numpy as np
    >>> from dynlens.systems import Bistable2D
    >>> class Tuned(Bistable2D):
    ...     recipe = "tuned"
    ...     def rates_from_latents(self, latents, request):
    ...         log_rates = np.concatenate([latents, -latents], axis=-1)
    ...         return np.exp(log_rates), log_rates, {"tuning": "+-x"}
    >>> obs = Tuned().observe(SimulationRequest(n_neurons=4, n_trials=2, n_bins=3))
    >>> obs.rates.shape, obs.metadata["recipe"], obs.metadata["tuning"]
    ((2, 3, 4), 'tuned', '+-x')
    """

    recipe: ClassVar[str] = "sedler2023"
    independent_trials: ClassVar[bool] = False
    time_unit: ClassVar[str] = "system time units"

    def observe(self, request: SimulationRequest) -> Observation:
        """Run the recipe's steps for ``request``.

        ``metadata`` gathers ``recipe``, ``independent_trials`` and each step's own entries.

        Parameters
        ----------
        request : SimulationRequest
            The checked arguments of :func:`dynlens.simulate`.

        Returns
        -------
        Observation
        """
        self.check_request(request)
        bin_width, sampling_meta = self.sampling(request)
        latents, inputs, trial_meta = self.draw_trials(request, bin_width)
        rates, log_rates, rate_meta = self.rates_from_latents(latents, request)
        metadata = {"recipe": self.recipe, "independent_trials": request.independent_trials,
                    **trial_meta, **rate_meta, **sampling_meta}
        return Observation(latents, rates, log_rates, inputs, bin_width, metadata)

    def check_request(self, request: SimulationRequest) -> None:
        """Refuse what this recipe cannot do: the default has no input pulses.

        Parameters
        ----------
        request : SimulationRequest
            The request to check.
        """
        if request.input_pulse is not None:
            raise DynlensValueError(
                f"input_pulse: expected None for {self._label()!r}, whose observation recipe "
                f"has no input pulses (the 'chaotic_rnn' recipe has them), found "
                f"input_pulse={request.input_pulse!r}"
            )

    def sampling(self, request: SimulationRequest) -> tuple[float, dict[str, Any]]:
        """The bin width, and ``{"pts_per_period": ...}`` (``None`` unless set by a period).

        Maps take one bin per step. Flows take ``request.bin_width`` if given, else
        ``period / pts_per_period`` (the request's, else the system's), else the system's
        ``dt``.

        Parameters
        ----------
        request : SimulationRequest
            Its ``pts_per_period`` and ``bin_width`` (at most one set).
        """
        pts_per_period, bin_width, name = request.pts_per_period, request.bin_width, self._label()
        if self.kind == "discrete":
            if bin_width is not None and not np.isclose(bin_width, self.dt, rtol=1e-12, atol=0):
                raise DynlensValueError(
                    f"bin_width: {name!r} is a map advancing by its own step {self.dt}; found "
                    f"bin_width={bin_width}"
                )
            if pts_per_period is not None:
                raise DynlensValueError(
                    f"pts_per_period: {name!r} is a map with one bin per step; found "
                    f"pts_per_period={pts_per_period}"
                )
            return float(self.dt), {"pts_per_period": None}
        if bin_width is not None:
            return bin_width, {"pts_per_period": None}
        if self.period is None:
            if pts_per_period is not None:
                raise DynlensValueError(
                    f"pts_per_period: {name!r} has no period; pass bin_width instead "
                    f"(found pts_per_period={pts_per_period})"
                )
            if self.dt is None:
                raise DynlensValueError(
                    f"bin_width: {name!r} has neither a period nor a default bin width; pass "
                    f"bin_width (in its time units)"
                )
            return float(self.dt), {"pts_per_period": None}
        pts = pts_per_period if pts_per_period is not None else self.pts_per_period
        if pts is None:
            raise DynlensValueError(
                f"pts_per_period: {name!r} has no default points per period; pass "
                f"pts_per_period or bin_width"
            )
        return self.period / pts, {"pts_per_period": int(pts)}

    def draw_trials(self, request: SimulationRequest,
                    bin_width: float) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
        """The true latents ``[trials, n_steps, dim]``, no inputs, and ``{"x0": ...}``.

        Consecutive trials: segments of one trajectory from the system's default initial
        condition (or the draw of ``seed``), whose first state is ``x0``. Independent trials:
        one start per condition on the attractor (:meth:`sample_on_attractor` with a seed
        from the ``"state"`` stream), repeated for the trials of a condition; ``x0`` is None.

        Parameters
        ----------
        request : SimulationRequest
            Sizes, seed and trial layout.
        bin_width : float
            The sampling interval from :meth:`sampling`.
        """
        n_trials, n_steps = request.n_trials, request.n_steps
        if request.independent_trials:
            starts = self.sample_on_attractor(
                request.n_conditions, seed=int(request.rng("state").integers(2**31)))
            latents = np.repeat(self.trajectories(starts, n_steps, dt=bin_width),
                                request.trials_per_condition, axis=0)
            return latents, None, {"x0": None}
        traj = self.trajectory(n_trials * n_steps, dt=bin_width, seed=request.seed)
        return traj.reshape(n_trials, n_steps, self.dim), None, {"x0": traj[0].tolist()}

    def rates_from_latents(self, latents: np.ndarray, request: SimulationRequest
                           ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """Rates and log-rates ``[trials, bins, n_neurons]`` through a random z-scored readout.

        Metadata: ``readout`` ``[dim, n_neurons]``, ``zscore_mean``, ``zscore_std``,
        ``rate_scale`` and, for the saturating embedding, the per-neuron ``saturation``, so that
        ``log_rates = warp((latents @ readout - mean) / std) + log(rate_scale)``.

        Parameters
        ----------
        latents : np.ndarray
            The true latents from :meth:`draw_trials`.
        request : SimulationRequest
            ``n_neurons``, ``embedding``, ``mean_rate`` and the ``"readout"`` stream.
        """
        rng = request.rng("readout")
        readout = rng.uniform(-0.5, 0.5, size=(latents.shape[-1], request.n_neurons))
        activity = latents @ readout
        mean = activity.mean(axis=(0, 1))
        std = activity.std(axis=(0, 1))
        std = np.where(std > 0, std, 1.0)  # a silent readout direction (constant latents) stays 0
        z = (activity - mean) / std
        meta: dict[str, Any] = {}
        if request.embedding == "saturating":
            saturation = rng.uniform(0.5, 1.5, size=request.n_neurons)
            z = saturation * np.tanh(z / saturation)
            meta["saturation"] = saturation.tolist()
        scale = 1.0
        if request.mean_rate is not None:  # shift the log-rates to the asked mean
            scale = request.mean_rate / float(np.exp(z).mean())
            z = z + np.log(scale)
        meta.update(readout=readout.tolist(), zscore_mean=mean.tolist(), zscore_std=std.tolist(),
                    rate_scale=scale)
        return np.exp(z), z, meta

    def _label(self) -> str:
        return getattr(self, "name", "") or type(self).__name__

"""Simulate spiking data from a ground-truth system, keeping the truth.

:func:`simulate` checks its arguments, asks the system to observe them (its
:meth:`~dynlens.systems.observation.ObservationRecipe.observe`: trials, inputs, rates) and
draws Poisson spikes from the rates. It never asks which system it has: a system brings its
own recipe. The built-in ones:

- **Flows** (``"arneodo"``, ``"lorenz"``, ``"rossler"``, any other continuous system, and
  maps without a recipe of their own): the recipe of Sedler, Versteeg & Pandarinath (2023).
  One long trajectory of ``n_trials * n_bins`` points from the system's default initial
  condition, one point every ``period / pts_per_period`` time units, cut into consecutive
  trials; a readout ``W ~ U(-0.5, 0.5)`` of shape ``[latent_dim, n_neurons]`` without bias;
  activity ``latents @ W`` z-scored per neuron over all bins and trials; ``rates = exp(z)``
  (expected counts per bin, about 1.6 on average); ``spikes ~ Poisson(rates)``
  (:mod:`dynlens.systems.observation`).
- **Chaotic RNN** (``"chaotic_rnn"``): the original LFADS synthetic set (Sussillo et al. 2016).
  Each trial starts from its own ``x0 ~ N(0, 1)``; the observed neurons are the network's first
  ``n_neurons`` units; their rates ``tanh(x)`` are min-max normalised to [0, 1] per trial and
  unit, times 30 Hz, times the 10 ms bin (so up to 0.3 expected counts per bin). With
  ``input_pulse``, the paper's input-pulse experiment: one pulse per trial at a random bin,
  entering every unit through one random input vector (see :func:`simulate` and
  :class:`~dynlens.systems.ChaoticRNN`).

Examples
--------
>>> from dynlens.data import simulate
>>> data = simulate("arneodo", n_neurons=5, n_trials=20, n_bins=10, seed=0)
>>> data
NeuralDataset(20 trials x 10 bins x 5 neurons; truth: latents[3], rates, log_rates; splits: train 13, valid 3, test 4; bin_width 0.0904; system 'arneodo')
>>> round(data.bin_width * 35, 4), data.metadata["recipe"]
(3.1641, 'sedler2023')
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import systems
from ..errors import DynlensTypeError, DynlensValueError
from ..systems import GroundTruthSystem, SimulationRequest
from ..systems.chaotic_rnn import RNN_MAX_RATE_HZ
from ..systems.observation import EMBEDDINGS
from ..utils import (
    check_choice,
    check_nonnegative_int,
    check_positive_float,
    check_positive_int,
)
from .dataset import NeuralDataset

__all__ = ["EMBEDDINGS", "RNN_MAX_RATE_HZ", "simulate"]


def simulate(system: str | GroundTruthSystem, n_neurons: int = 10, n_trials: int = 2000,
             n_bins: int = 70, pts_per_period: int | None = None, seed: int = 0, *,
             independent_trials: bool | None = None, mean_rate: float | None = None,
             embedding: str = "linear", n_heldout: int = 0,
             split_fractions: Sequence[float] = (0.2, 0.2), bin_width: float | None = None,
             system_params: Mapping[str, Any] | None = None,
             input_pulse: float | None = None, n_forward: int = 0,
             trials_per_condition: int = 1) -> NeuralDataset:
    """Simulate Poisson spike counts driven by a ground-truth system.

    The defaults reproduce the published recipe (module docstring): for ``"arneodo"``, 2000
    trials x 70 bins x 10 neurons at 35 points per period.

    Parameters
    ----------
    system : str or GroundTruthSystem
        A name from :func:`dynlens.systems.available` (case-insensitive) or a system instance.
    n_neurons : int
        Number of neurons. For ``"chaotic_rnn"`` at most the number of units (50 by default;
        pass ``system_params={"n": ...}`` for more).
    n_trials, n_bins : int
        Trials and bins per trial (bins before the forward-prediction bins, if any).
    pts_per_period : int, optional
        Bins per period of the system (default: the system's own, e.g. 35 for Arneodo); the bin
        width is ``period / pts_per_period``.
    seed : int
        Seeds everything random: the initial conditions, the readout, the Poisson draws and the
        split. The same seed gives identical arrays.
    independent_trials : bool, optional
        ``False``: trials are consecutive segments of one long trajectory (the recipe for
        flows). ``True``: each trial starts from its own point (flows: drawn on the attractor
        with ``system.sample_on_attractor``; chaotic RNN: ``x0 ~ N(0, 1)``). ``None`` (default):
        the system's recipe, ``system.independent_trials`` (``False`` for flows, ``True`` for
        ``"chaotic_rnn"``).
    mean_rate : float, optional
        Rescale the rates so that the mean expected count per bin over all neurons, bins and
        trials equals ``mean_rate``; the unit is **expected spikes per bin** (for a rate in Hz,
        pass ``hz * bin_width_in_seconds``). ``None`` keeps the recipe's rates.
    embedding : {"linear", "saturating"}
        How latents become log-rates (flows only). ``"linear"``: the z-scored readout ``z`` is
        the log-rate. ``"saturating"``: a per-neuron saturating warp
        ``log_rate = s * tanh(z / s)`` with ``s ~ U(0.5, 1.5)`` drawn per neuron, so each
        neuron's log-rate is nearly linear for small ``z`` and bounded by ``+-s``; the ``s``
        are kept in ``metadata["saturation"]``.
    n_heldout : int
        Number of held-out neurons for co-smoothing: the **last** ``n_heldout`` neurons (their
        readout columns are as random as any others). Must leave at least one held in.
    split_fractions : (float, float)
        ``(test, valid)`` fractions of the train/valid/test split (default 1280/320/400 for
        2000 trials); trials are shuffled with ``seed`` before splitting.
    bin_width : float, optional
        Bin width in system time units, overriding ``pts_per_period``; needed for a continuous
        system without a period or default bin width.
    system_params : dict, optional
        Parameters passed to :func:`dynlens.systems.get` when ``system`` is a name.
    input_pulse : float, optional
        ``"chaotic_rnn"`` (or another recipe with input pulses; the default recipe refuses
        them): the magnitude (>= 0) of one input pulse per trial, the input
        experiment of Sussillo et al. (2016), whose generator used magnitude 20 with the default
        gain g = 1.5 (and a second set at g = 2.5: ``system_params={"g": 2.5}``), 1 s trials
        (``n_bins=100``). Each trial gets the pulse for one bin at a bin ``p`` drawn uniformly
        from the whole bins in ``[n_bins / 4, 3 n_bins / 4)``; it enters through one input vector
        ``b ~ N(0, 1)`` of shape ``[n]`` for the whole data set, as the input current
        ``b * magnitude`` of the step from bin ``p`` to ``p + 1`` (the network's ``forward(x,
        u)`` convention: the next state gains ``alpha * u``), so bins up to ``p`` are those of
        the undriven network and bin ``p + 1`` is the first to show the pulse. ``b`` and the
        pulse bins come from their own random stream of ``seed``: the initial states are those
        of the same call without pulses. Needs ``n_bins >= 4``. ``None`` (default): no input.
    n_forward : int
        Forward-prediction bins, as the Neural Latents Benchmark defines them: every trial is
        simulated for ``n_bins + n_forward`` bins, and the last ``n_forward`` are marked
        (``data.n_forward``) as bins that models predict but never read (scored by fp-bps in
        :func:`dynlens.evaluate`). Input pulses fall in the first ``n_bins`` bins.
    trials_per_condition : int
        Repeats of each condition, as in an experiment with repeated trials (the LFADS paper's
        chaotic-RNN sets had 400 conditions x 10 trials). The ``n_trials / trials_per_condition``
        conditions each get their own initial state; the trials of a condition (consecutive in
        the arrays) share it, so their true latents and rates are identical and only the Poisson
        spikes (and any input pulse, drawn per trial) differ. ``metadata["conditions"]`` holds
        each trial's condition. The split shuffles trials, so a test trial's condition usually
        has trials in the train split too. Needs independent trials and ``n_trials`` divisible
        by it; default 1: every trial its own condition.

    Returns
    -------
    NeuralDataset
        ``spikes``, and truth ``latents`` (the system's state), ``log_rates``, ``rates``
        (expected counts per bin), ``bin_width``; ``metadata`` holds the system name and
        parameters, the seed, the sizes and whatever the system's recipe records (its
        ``observe``). The default recipe records the readout matrix (``"readout"``,
        ``[latent_dim, n_neurons]``), the z-scoring (``"zscore_mean"``, ``"zscore_std"``), the
        rate scale and the recipe's name, so that
        ``log_rates = warp((latents @ readout - mean) / std) + log(rate_scale)``.
        With ``input_pulse``, truth ``inputs`` ``[trials, bins, 1]`` holds the pulse signal
        (the magnitude at each trial's pulse bin, 0 elsewhere) and ``metadata`` adds
        ``"input_pulse"``, ``"input_vector"`` (``b``) and ``"pulse_bins"`` (one per trial).

    Raises
    ------
    DynlensValueError, DynlensTypeError
        On invalid arguments (non-positive sizes, unknown system names with close names
        suggested, ``n_heldout >= n_neurons``, ...); the message names the argument.

    Examples
    --------
    >>> data = simulate("lorenz", n_neurons=4, n_trials=10, n_bins=20, mean_rate=0.5,
    ...                 n_heldout=1, seed=3)
    >>> round(float(data.rates.mean()), 6), data.heldout_neurons.tolist()
    (0.5, [3])
    >>> pulsed = simulate("chaotic_rnn", n_neurons=5, n_trials=3, n_bins=20, input_pulse=20.0)
    >>> pulsed.inputs.shape, pulsed.metadata["pulse_bins"]
    ((3, 20, 1), [9, 12, 5])
    >>> [float(pulsed.inputs[k, p, 0]) for k, p in enumerate(pulsed.metadata["pulse_bins"])]
    [20.0, 20.0, 20.0]
    >>> simulate("lorenz", n_neurons=4, n_trials=10, n_bins=20, n_forward=5).spikes.shape
    (10, 25, 4)
    >>> repeated = simulate("chaotic_rnn", n_neurons=5, n_trials=6, n_bins=20,
    ...                     trials_per_condition=3)
    >>> repeated.metadata["conditions"], bool((repeated.rates[0] == repeated.rates[2]).all())
    ([0, 0, 0, 1, 1, 1], True)
    """
    n_neurons = check_positive_int(n_neurons, "n_neurons")
    n_trials = check_positive_int(n_trials, "n_trials")
    n_bins = check_positive_int(n_bins, "n_bins")
    seed = check_nonnegative_int(seed, "seed")
    n_heldout = check_nonnegative_int(n_heldout, "n_heldout")
    n_forward = check_nonnegative_int(n_forward, "n_forward")
    if n_heldout >= n_neurons:
        raise DynlensValueError(
            f"n_heldout: expected fewer than n_neurons={n_neurons} so that some neurons stay "
            f"held in, found {n_heldout}"
        )
    pts_per_period, bin_width, mean_rate = _check_sampling(pts_per_period, bin_width, mean_rate)
    embedding = check_choice(embedding, EMBEDDINGS, "embedding")
    if independent_trials is not None and not isinstance(independent_trials, (bool, np.bool_)):
        raise DynlensTypeError(
            f"independent_trials: expected True, False or None, found {independent_trials!r}"
        )
    sys = _resolve_system(system, system_params)
    input_pulse = _check_input_pulse(input_pulse)
    if independent_trials is None:
        independent_trials = sys.independent_trials  # the recipe's own default
    repeats = _check_trials_per_condition(trials_per_condition, n_trials,
                                          bool(independent_trials))
    request = SimulationRequest(
        n_neurons=n_neurons, n_trials=n_trials, n_bins=n_bins, n_forward=n_forward, seed=seed,
        independent_trials=bool(independent_trials), trials_per_condition=repeats,
        mean_rate=mean_rate, embedding=embedding, pts_per_period=pts_per_period,
        bin_width=bin_width, input_pulse=input_pulse)
    obs = sys.observe(request)
    spikes = request.rng("spikes").poisson(obs.rates)
    heldout = np.arange(n_neurons - n_heldout, n_neurons)
    metadata = {
        "system": getattr(sys, "name", type(sys).__name__),
        "params": dict(sys.params),
        "seed": seed,
        "n_trials": n_trials,
        "n_bins": n_bins,
        "n_forward": n_forward,
        "n_neurons": n_neurons,
        "bin_width": obs.bin_width,
        "time_unit": sys.time_unit,
        "mean_rate": mean_rate,
        "embedding": embedding,
        "trials_per_condition": repeats,
        "conditions": (np.arange(n_trials) // repeats).tolist(),
        **obs.metadata,
    }
    return NeuralDataset(spikes, latents=obs.latents, rates=obs.rates, log_rates=obs.log_rates,
                         inputs=obs.inputs, bin_width=obs.bin_width, heldout_neurons=heldout,
                         metadata=metadata, split_fractions=split_fractions, seed=seed,
                         n_forward=n_forward)


def _resolve_system(system, system_params) -> GroundTruthSystem:
    if system_params is not None and not isinstance(system_params, Mapping):
        raise DynlensTypeError(
            f"system_params: expected a dict of system parameters, found "
            f"{type(system_params).__name__}"
        )
    if isinstance(system, str):
        name = check_choice(system.lower(), systems.available(), "system")
        return systems.get(name, **dict(system_params or {}))
    if isinstance(system, GroundTruthSystem):
        if system_params:
            raise DynlensValueError(
                f"system_params: expected None when system is an instance (build it with its "
                f"parameters instead), found {dict(system_params)!r}"
            )
        return system
    raise DynlensTypeError(
        f"system: expected a system name ({', '.join(systems.available())}) or a "
        f"GroundTruthSystem, found {type(system).__name__}"
    )


def _check_input_pulse(input_pulse) -> float | None:
    """``input_pulse`` as a float (or None); whether the system's recipe takes one is its own
    check (``check_request``)."""
    if input_pulse is None:
        return None
    if isinstance(input_pulse, (bool, np.bool_)) or not isinstance(
            input_pulse, (int, float, np.integer, np.floating)):
        raise DynlensTypeError(
            f"input_pulse: expected a pulse magnitude (a number >= 0) or None, found "
            f"{type(input_pulse).__name__}"
        )
    if not np.isfinite(input_pulse) or input_pulse < 0:
        raise DynlensValueError(
            f"input_pulse: expected a finite pulse magnitude >= 0 (the paper used 20), found "
            f"{input_pulse!r}"
        )
    return float(input_pulse)


def _check_sampling(pts_per_period, bin_width, mean_rate) -> tuple:
    """``pts_per_period``, ``bin_width`` (at most one of them) and ``mean_rate``, checked."""
    if pts_per_period is not None:
        pts_per_period = check_positive_int(pts_per_period, "pts_per_period")
    if bin_width is not None:
        bin_width = check_positive_float(bin_width, "bin_width")
    if pts_per_period is not None and bin_width is not None:
        raise DynlensValueError(
            f"bin_width: expected either pts_per_period or bin_width, found both "
            f"(pts_per_period={pts_per_period}, bin_width={bin_width})"
        )
    if mean_rate is not None:
        mean_rate = check_positive_float(mean_rate, "mean_rate")
    return pts_per_period, bin_width, mean_rate


def _check_trials_per_condition(trials_per_condition, n_trials: int, independent: bool) -> int:
    """``trials_per_condition`` as an int dividing ``n_trials`` (repeats: independent trials)."""
    repeats = check_positive_int(trials_per_condition, "trials_per_condition")
    if n_trials % repeats:
        raise DynlensValueError(
            f"trials_per_condition: expected a divisor of n_trials={n_trials} (every condition "
            f"the same number of trials), found {repeats}"
        )
    if repeats > 1 and not independent:
        raise DynlensValueError(
            f"trials_per_condition: repeated conditions need independent trials (each condition "
            f"its own initial state); found trials_per_condition={repeats} with "
            f"independent_trials=False"
        )
    return repeats

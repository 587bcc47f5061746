"""simulate(): the published recipe, its options, the chaotic-RNN recipe, validation."""

from __future__ import annotations

import ast
import hashlib
import importlib
from pathlib import Path

import numpy as np
import pytest
import torch

from dynlens import systems
from dynlens.data import NeuralDataset, simulate
from dynlens.errors import DynlensError, DynlensTypeError, DynlensValueError


@pytest.fixture(scope="module")
def published() -> NeuralDataset:
    return simulate("arneodo", n_neurons=10, n_trials=2000, n_bins=70, seed=0)


def test_published_recipe_shape_rate_and_splits(published):
    data = published
    assert data.spikes.shape == (2000, 70, 10) and np.issubdtype(data.spikes.dtype, np.integer)
    assert data.latents.shape == (2000, 70, 3) and data.rates.shape == (2000, 70, 10)
    assert {k: v.size for k, v in data.splits.items()} == {"train": 1280, "valid": 320, "test": 400}
    assert data.bin_width == pytest.approx(3.1641 / 35)
    # exp of a standard normal has mean exp(1/2) = 1.65; the recipe quotes "about 1.6"
    assert 1.5 < data.rates.mean() < 1.8
    assert abs(data.spikes.mean() - data.rates.mean()) < 0.01  # Poisson: E[count] = rate
    assert data.heldout_neurons.size == 0
    meta = data.metadata
    assert (meta["system"] == "arneodo"
            and meta["params"] == {"a": -5.5, "b": 4.5, "c": 1.0, "d": -1.0})
    assert meta["recipe"] == "sedler2023" and meta["seed"] == 0 and meta["pts_per_period"] == 35
    assert np.allclose(meta["x0"], [-2.7515698, 0.19079818, 3.4703629])


def test_truth_is_consistent_with_the_recipe(published):
    data, meta = published, published.metadata
    # trials are consecutive segments of one trajectory
    assert np.allclose(data.latents[0, 0], meta["x0"])
    sys = systems.get("arneodo")
    start = sys.trajectory(3 * 70 + 1, dt=data.bin_width)
    assert np.allclose(data.latents[:3].reshape(-1, 3), start[:-1], rtol=1e-6, atol=1e-8)
    # readout U(-0.5, 0.5) of shape [3, 10], z-scored activity, rates = exp(z)
    readout = np.array(meta["readout"])
    assert readout.shape == (3, 10) and np.abs(readout).max() <= 0.5
    z = (data.latents @ readout - meta["zscore_mean"]) / meta["zscore_std"]
    assert np.allclose(data.log_rates, z)
    assert np.allclose(z.mean(axis=(0, 1)), 0, atol=1e-9) and np.allclose(z.std(axis=(0, 1)), 1)
    assert np.allclose(data.rates, np.exp(data.log_rates))


def test_same_seed_same_arrays_other_seed_different():
    a = simulate("rossler", n_neurons=4, n_trials=12, n_bins=15, seed=7)
    b = simulate("rossler", n_neurons=4, n_trials=12, n_bins=15, seed=7)
    c = simulate("rossler", n_neurons=4, n_trials=12, n_bins=15, seed=8)
    for name in ("spikes", "latents", "rates", "log_rates"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert all(np.array_equal(a.splits[k], b.splits[k]) for k in a.splits)
    assert a.metadata == b.metadata
    assert not np.array_equal(a.spikes, c.spikes)
    assert not np.array_equal(a.metadata["readout"], c.metadata["readout"])
    # the same trajectory (from the default x0) is observed through another readout
    assert np.array_equal(a.latents, c.latents)


def test_pts_per_period_and_bin_width_set_the_sampling():
    coarse = simulate("lorenz", n_neurons=3, n_trials=2, n_bins=10, pts_per_period=50)
    assert coarse.bin_width == pytest.approx(1.5008 / 50)
    assert coarse.metadata["pts_per_period"] == 50
    explicit = simulate("lorenz", n_neurons=3, n_trials=2, n_bins=10, bin_width=0.01)
    assert explicit.bin_width == 0.01 and explicit.metadata["pts_per_period"] is None
    assert (simulate("lorenz", n_neurons=3, n_trials=2, n_bins=4).bin_width
            == pytest.approx(0.015008))


def test_independent_trials_start_on_the_attractor():
    data = simulate("arneodo", n_neurons=5, n_trials=6, n_bins=20, independent_trials=True, seed=1)
    assert data.metadata["independent_trials"] is True and data.metadata["x0"] is None
    sys = systems.get("arneodo")
    again = sys.trajectories(data.latents[:, 0], 20, dt=data.bin_width)
    assert np.allclose(again, data.latents, rtol=1e-6, atol=1e-8)
    # trials are not consecutive: trial k+1 does not continue trial k
    step = np.linalg.norm(np.diff(data.latents, axis=1), axis=-1).max()
    jumps = np.linalg.norm(data.latents[1:, 0] - data.latents[:-1, -1], axis=-1)
    assert jumps.min() > step
    # the starts lie on the attractor's range
    assert np.abs(data.latents).max() < 15


def test_mean_rate_rescales_expected_counts_per_bin():
    data = simulate("arneodo", n_neurons=6, n_trials=20, n_bins=30, mean_rate=0.25, seed=2)
    assert data.rates.mean() == pytest.approx(0.25)
    base = simulate("arneodo", n_neurons=6, n_trials=20, n_bins=30, seed=2)
    ratio = data.rates / base.rates
    assert np.allclose(ratio, ratio.flat[0])  # one gain for all neurons and bins
    assert data.metadata["rate_scale"] == pytest.approx(ratio.flat[0])
    assert data.spikes.mean() < base.spikes.mean()


def test_saturating_embedding_bounds_each_neurons_log_rate():
    lin = simulate("lorenz", n_neurons=8, n_trials=20, n_bins=30, seed=3)
    sat = simulate("lorenz", n_neurons=8, n_trials=20, n_bins=30, seed=3, embedding="saturating")
    s = np.array(sat.metadata["saturation"])
    assert s.shape == (8,) and s.min() >= 0.5 and s.max() <= 1.5
    assert np.all(np.abs(sat.log_rates).max(axis=(0, 1)) <= s)
    assert np.allclose(sat.log_rates, s * np.tanh(lin.log_rates / s))
    assert sat.metadata["readout"] == lin.metadata["readout"]  # same readout, warped
    assert sat.rates.max() < lin.rates.max()


def test_heldout_neurons_are_the_last_ones():
    data = simulate("rossler", n_neurons=7, n_trials=5, n_bins=10, n_heldout=2)
    assert data.heldout_neurons.tolist() == [5, 6]
    assert data.heldin_neurons.tolist() == [0, 1, 2, 3, 4]


def test_split_fractions_are_passed_on():
    data = simulate("rossler", n_neurons=2, n_trials=50, n_bins=5, split_fractions=(0.1, 0.0))
    assert {k: v.size for k, v in data.splits.items()} == {"train": 45, "test": 5}


def test_chaotic_rnn_follows_the_lfads_recipe():
    data = simulate("chaotic_rnn", n_neurons=20, n_trials=30, n_bins=100, seed=4)
    assert data.spikes.shape == (30, 100, 20) and data.latents.shape == (30, 100, 50)
    assert data.bin_width == 0.01 and data.metadata["time_unit"] == "s"
    assert data.metadata["recipe"] == "lfads_chaotic_rnn"
    # rates: tanh of the observed units, min-max normalised per trial and unit, x 30 Hz x 10 ms
    act = np.tanh(data.latents[..., :20])
    lo, hi = act.min(axis=1, keepdims=True), act.max(axis=1, keepdims=True)
    assert np.allclose(data.rates, (act - lo) / (hi - lo) * 0.3)
    assert np.allclose(data.rates.min(axis=1), 0) and np.allclose(data.rates.max(axis=1), 0.3)
    assert np.all(data.log_rates[data.rates == 0] == -np.inf)
    # each trial starts from its own x0 ~ N(0, 1) and then follows the network
    x0 = data.latents[:, 0]
    assert abs(x0.mean()) < 0.1 and 0.85 < x0.std() < 1.15
    rnn = systems.get("chaotic_rnn")
    assert np.allclose(rnn.step(data.latents[:, :-1]), data.latents[:, 1:])
    assert data.metadata["observed_units"] == list(range(20))


def test_chaotic_rnn_units_limit_and_options():
    with pytest.raises(DynlensValueError,
                       match="n_neurons: .* expected at most 50, found 60; pass system_params"):
        simulate("chaotic_rnn", n_neurons=60, n_trials=2, n_bins=5)
    bigger = simulate("chaotic_rnn", n_neurons=60, n_trials=2, n_bins=5, system_params={"n": 64})
    assert bigger.latents.shape[2] == 64 and bigger.metadata["params"]["n"] == 64
    with pytest.raises(DynlensValueError, match="embedding: the chaotic_rnn recipe"):
        simulate("chaotic_rnn", n_trials=2, n_bins=5, embedding="saturating")
    with pytest.raises(DynlensValueError, match="pts_per_period: the chaotic_rnn"):
        simulate("chaotic_rnn", n_trials=2, n_bins=5, pts_per_period=10)
    with pytest.raises(DynlensValueError, match="bin_width: the chaotic_rnn advances by its step"):
        simulate("chaotic_rnn", n_trials=2, n_bins=5, bin_width=0.02)
    joined = simulate("chaotic_rnn", n_neurons=5, n_trials=3, n_bins=10, independent_trials=False)
    rnn = systems.get("chaotic_rnn")
    assert np.allclose(rnn.step(joined.latents[0, -1]), joined.latents[1, 0])


def test_accepts_a_system_instance_and_params():
    sys = systems.get("arneodo", a=-5.0)
    data = simulate(sys, n_neurons=3, n_trials=2, n_bins=5)
    assert data.metadata["params"]["a"] == -5.0
    named = simulate("Arneodo", n_neurons=3, n_trials=2, n_bins=5, system_params={"a": -5.0})
    assert np.array_equal(named.spikes, data.spikes)


def test_system_without_period_needs_no_pts_per_period():
    data = simulate("bistable2d", n_neurons=3, n_trials=4, n_bins=6, independent_trials=True)
    assert data.bin_width == systems.get("bistable2d").dt
    with pytest.raises(DynlensValueError,
                       match="pts_per_period: 'bistable2d' has no period; pass bin_width"):
        simulate("bistable2d", n_trials=2, n_bins=5, pts_per_period=10)
    assert simulate("bistable2d", n_neurons=2, n_trials=2, n_bins=5, bin_width=0.3).bin_width == 0.3


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"n_neurons": 0}, DynlensValueError, "n_neurons: expected a positive integer, found 0"),
        ({"n_neurons": -3}, DynlensValueError, "n_neurons: expected a positive integer, found -3"),
        ({"n_trials": 0}, DynlensValueError, "n_trials: expected a positive integer, found 0"),
        ({"n_bins": 2.5}, DynlensValueError, "n_bins: expected a positive integer, found 2.5"),
        ({"seed": -1}, DynlensValueError, "seed: expected a non-negative integer, found -1"),
        ({"pts_per_period": 0}, DynlensValueError, "pts_per_period: expected a positive integer"),
        ({"bin_width": -0.1}, DynlensValueError, "bin_width: expected a positive finite number"),
        ({"bin_width": 0.1, "pts_per_period": 10}, DynlensValueError,
         "bin_width: expected either pts_per_period or bin_width, found both"),
        ({"mean_rate": 0}, DynlensValueError,
         "mean_rate: expected a positive finite number, found 0"),
        ({"embedding": "relu"}, DynlensValueError,
         "embedding: expected one of 'linear', 'saturating', found 'relu'"),
        ({"n_heldout": 3}, DynlensValueError,
         "n_heldout: expected fewer than n_neurons=3 so that some neurons stay held in, found 3"),
        ({"n_heldout": -1}, DynlensValueError, "n_heldout: expected a non-negative integer"),
        ({"independent_trials": "yes"}, DynlensTypeError,
         "independent_trials: expected True, False or None"),
        ({"split_fractions": (0.2, 1.5)}, DynlensValueError, r"split_fractions\[1\] \(valid\)"),
        ({"system_params": {"e": 1.0}}, DynlensValueError, "params: unknown parameter 'e'"),
        ({"system_params": [1]}, DynlensTypeError, "system_params: expected a dict"),
    ],
)
def test_bad_arguments_raise_naming_them(kwargs, error, pattern):
    args = {"n_neurons": 3, "n_trials": 2, "n_bins": 5, **kwargs}
    with pytest.raises(error, match=pattern):
        simulate("arneodo", **args)


def test_unknown_or_wrong_systems():
    with pytest.raises(DynlensValueError,
                       match="system: expected one of .*found 'arnedo'; did you mean 'arneodo'"):
        simulate("arnedo", n_trials=2, n_bins=5)
    with pytest.raises(DynlensTypeError, match="system: expected a system name .* found int"):
        simulate(3, n_trials=2, n_bins=5)
    with pytest.raises(DynlensValueError,
                       match="system_params: expected None when system is an instance"):
        simulate(systems.get("lorenz"), n_trials=2, n_bins=5, system_params={"rho": 20.0})
    assert issubclass(DynlensValueError, DynlensError)


# ---------------------------------------------------------------- input pulses (chaotic RNN)


@pytest.fixture(scope="module")
def pulse_pair() -> tuple[NeuralDataset, NeuralDataset]:
    """The same chaotic-RNN call without and with an input pulse of 20."""
    kwargs = {"n_neurons": 10, "n_trials": 40, "n_bins": 30, "seed": 5}
    return simulate("chaotic_rnn", **kwargs), simulate("chaotic_rnn", input_pulse=20.0, **kwargs)


def test_one_pulse_per_trial_in_the_middle_half(pulse_pair):
    _, data = pulse_pair
    meta = data.metadata
    assert data.inputs.shape == (40, 30, 1)
    assert np.array_equal((data.inputs != 0).sum(axis=(1, 2)), np.ones(40))
    assert np.all(data.inputs[data.inputs != 0] == 20.0) and data.inputs.min() == 0
    bins = np.array(meta["pulse_bins"])
    assert np.array_equal(data.inputs[..., 0].argmax(axis=1), bins)
    assert np.all((30 / 4 <= bins) & (bins < 3 * 30 / 4)) and len(set(bins.tolist())) > 5
    assert meta["input_pulse"] == 20.0 and len(meta["input_vector"]) == 50
    assert 0.6 < np.std(meta["input_vector"]) < 1.5  # b ~ N(0, 1)
    assert data.split("train").inputs.shape == (data.splits["train"].size, 30, 1)


@pytest.mark.parametrize("n_bins, allowed", [(4, {1, 2}), (5, {2, 3}), (6, {2, 3, 4})])
def test_pulse_bins_are_the_whole_bins_in_a_quarter_to_three_quarters(n_bins, allowed):
    data = simulate("chaotic_rnn", n_neurons=3, n_trials=60, n_bins=n_bins, input_pulse=1.0)
    assert set(data.metadata["pulse_bins"]) == allowed


def test_the_pulse_moves_the_state_of_the_next_bin_and_not_before(pulse_pair):
    base, data = pulse_pair
    rnn = systems.get("chaotic_rnn")
    current = 20.0 * np.array(data.metadata["input_vector"])
    for k, p in enumerate(data.metadata["pulse_bins"]):
        assert np.array_equal(data.latents[k, :p + 1], base.latents[k, :p + 1])
        assert np.abs(data.latents[k, p + 1] - base.latents[k, p + 1]).min() > 0
        # the kick is the network's own input convention: forward(x, u) at the pulse bin
        kicked = rnn(torch.from_numpy(data.latents[k, p]), torch.from_numpy(current))
        assert np.allclose(data.latents[k, p + 1], kicked.numpy(), rtol=1e-12, atol=1e-12)
        # and from then on the network runs undriven again
        assert np.allclose(rnn.step(data.latents[k, p + 1:-1]), data.latents[k, p + 2:])
    assert not np.array_equal(data.spikes, base.spikes)


def test_pulses_on_one_long_trajectory():
    kwargs = {"n_neurons": 5, "n_trials": 4, "n_bins": 12, "independent_trials": False}
    base = simulate("chaotic_rnn", **kwargs)
    data = simulate("chaotic_rnn", input_pulse=20.0, **kwargs)
    first = data.metadata["pulse_bins"][0]
    assert np.array_equal(data.latents[0, :first + 1], base.latents[0, :first + 1])
    assert not np.allclose(data.latents[0, first + 1], base.latents[0, first + 1])
    rnn = systems.get("chaotic_rnn")
    assert np.allclose(rnn.step(data.latents[:-1, -1]), data.latents[1:, 0])  # trials continue


def test_default_call_is_unchanged_and_a_zero_pulse_only_adds_the_truth(pulse_pair):
    base, _ = pulse_pair
    again = simulate("chaotic_rnn", n_neurons=10, n_trials=40, n_bins=30, seed=5,
                     input_pulse=None)
    for name in ("spikes", "latents", "rates", "log_rates"):
        assert np.array_equal(getattr(base, name), getattr(again, name)), name
    assert base.inputs is None and base.metadata == again.metadata
    assert "input_pulse" not in base.metadata
    zero = simulate("chaotic_rnn", n_neurons=10, n_trials=40, n_bins=30, seed=5, input_pulse=0)
    assert np.array_equal(zero.latents, base.latents) and np.array_equal(zero.spikes, base.spikes)
    assert np.all(zero.inputs == 0) and zero.metadata["input_pulse"] == 0.0
    flow = simulate("lorenz", n_neurons=3, n_trials=2, n_bins=5, input_pulse=None)
    assert flow.inputs is None


@pytest.mark.parametrize(
    "system, kwargs, error, pattern",
    [
        ("chaotic_rnn", {"input_pulse": -1.0}, DynlensValueError,
         r"input_pulse: expected a finite pulse magnitude >= 0 .* found -1.0"),
        ("chaotic_rnn", {"input_pulse": np.nan}, DynlensValueError,
         "input_pulse: expected a finite pulse magnitude >= 0"),
        ("chaotic_rnn", {"input_pulse": np.inf}, DynlensValueError,
         "input_pulse: expected a finite pulse magnitude >= 0"),
        ("chaotic_rnn", {"input_pulse": "20"}, DynlensTypeError,
         "input_pulse: expected a pulse magnitude .* found str"),
        ("chaotic_rnn", {"input_pulse": True}, DynlensTypeError,
         "input_pulse: expected a pulse magnitude"),
        ("chaotic_rnn", {"input_pulse": 20.0, "n_bins": 3}, DynlensValueError,
         "n_bins: an input pulse needs at least 4 bins"),
        ("lorenz", {"input_pulse": 20.0}, DynlensValueError,
         "input_pulse: expected None for 'lorenz', whose observation recipe has no input pulses"),
        ("arneodo", {"input_pulse": 0.0}, DynlensValueError,
         "input_pulse: expected None for 'arneodo'"),
    ],
)
def test_bad_input_pulses_are_refused(system, kwargs, error, pattern):
    args = {"n_neurons": 3, "n_trials": 2, "n_bins": 8, **kwargs}
    with pytest.raises(error, match=pattern):
        simulate(system, **args)


# Repeated conditions ------------------------------------------------------------------------

@pytest.mark.parametrize("system", ["chaotic_rnn", "lorenz"])
def test_trials_of_a_condition_share_the_truth_and_not_the_spikes(system):
    data = simulate(system, n_neurons=6, n_trials=12, n_bins=15, trials_per_condition=4,
                    independent_trials=True, seed=1)
    assert data.metadata["conditions"] == [0] * 4 + [1] * 4 + [2] * 4
    assert data.metadata["trials_per_condition"] == 4
    for first in (0, 4, 8):
        block = slice(first, first + 4)
        np.testing.assert_array_equal(data.latents[block], data.latents[first][None].repeat(4, 0))
        np.testing.assert_array_equal(data.rates[block], data.rates[first][None].repeat(4, 0))
    assert not np.array_equal(data.spikes[0], data.spikes[1])  # own Poisson draws
    assert not np.allclose(data.latents[0], data.latents[4])  # own initial states


def test_one_trial_per_condition_is_the_default_call():
    default = simulate("chaotic_rnn", n_neurons=5, n_trials=8, n_bins=10, seed=2)
    explicit = simulate("chaotic_rnn", n_neurons=5, n_trials=8, n_bins=10, seed=2,
                        trials_per_condition=1)
    np.testing.assert_array_equal(default.spikes, explicit.spikes)
    assert default.metadata["conditions"] == list(range(8))


def test_repeated_conditions_keep_a_pulse_per_trial():
    data = simulate("chaotic_rnn", n_neurons=5, n_trials=6, n_bins=20, input_pulse=20.0,
                    trials_per_condition=3, seed=0)
    bins = data.metadata["pulse_bins"]
    assert len(bins) == 6 and len(set(bins[:3])) > 1  # drawn per trial, not per condition
    np.testing.assert_array_equal(data.latents[0, : min(bins[:3]) + 1],
                                  data.latents[1, : min(bins[:3]) + 1])  # same start


@pytest.mark.parametrize("kwargs, pattern", [
    ({"n_trials": 10, "trials_per_condition": 3}, "divisor of n_trials=10"),
    ({"n_trials": 10, "trials_per_condition": 0}, "trials_per_condition"),
    ({"n_trials": 10, "trials_per_condition": 2, "independent_trials": False},
     "independent trials"),
])
def test_bad_trials_per_condition_are_refused(kwargs, pattern):
    with pytest.raises(DynlensValueError, match=pattern):
        simulate("lorenz", n_neurons=3, n_bins=5, **kwargs)


# --------------------------------------------------------------- regression fingerprints
SMALL = {"n_neurons": 6, "n_trials": 12, "n_bins": 24, "seed": 5}
# One small simulation per built-in system, and two with every option, recorded when the
# recipes moved from simulate() into the systems (each bit-identical before and after). Spike
# counts are integers (their sha256 is exact); the float arrays enter through a fixed
# projection, compared to 1e-6 since ODE solutions may differ in the last digits across
# platforms. A numpy release that changes its random streams would need new values:
# print(_fingerprint(simulate(...))) for each case.
FINGERPRINTS = {
    "arneodo": ({}, "5db4bce89f83fc8b", (3.52606846, 87.2234863, 94.6188059)),
    "bistable2d": ({}, "e5fa5df8af89491d", (1.75543842, -91.200212, 17.8572983)),
    "lorenz": ({}, "97a162bb459dac57", (5.86060953, -286.19178, -14.8401957)),
    "rossler": ({}, "66fcd902550f219c", (1.19054542, -8.3691525, -18.525046)),
    "chaotic_rnn": ({}, "b1aee405e46e0bff", (10.7945256, -4.0820729, -13.2640171)),
    "arneodo options": (
        {"n_heldout": 2, "independent_trials": True, "trials_per_condition": 3,
         "embedding": "saturating", "mean_rate": 0.3, "n_forward": 4,
         "split_fractions": (0.25, 0.25)},
        "7a59fe90b94231f9", (-1.60720113, -6.57435312, -28.5430943)),
    "chaotic_rnn options": (
        {"n_heldout": 2, "trials_per_condition": 4, "input_pulse": 20.0, "n_forward": 3,
         "mean_rate": 0.1, "system_params": {"n": 30, "g": 2.5, "seed": 2}},
        "f16b148e62b153a7", (-61.2098715, 0.946168405, 13.6972838, -63.9293463)),
}


def _fingerprint(data: NeuralDataset) -> tuple[str, tuple[float, ...]]:
    spikes = np.ascontiguousarray(data.spikes, dtype="<i8").tobytes()
    floats = []
    for array in (data.latents, data.rates, data.log_rates, data.inputs):
        if array is not None:
            flat = np.where(np.isfinite(array), array, 0.0).ravel()  # log(0) = -inf
            floats.append(float(flat @ np.sin(np.arange(flat.size))))
    return hashlib.sha256(spikes).hexdigest()[:16], tuple(floats)


@pytest.mark.parametrize("case", list(FINGERPRINTS))
def test_simulations_match_their_recorded_fingerprints(case):
    options, spikes_hash, floats = FINGERPRINTS[case]
    data = simulate(case.split()[0], **SMALL, **options)
    found_hash, found_floats = _fingerprint(data)
    assert found_hash == spikes_hash
    np.testing.assert_allclose(found_floats, floats, rtol=1e-6, atol=1e-6)


def test_every_built_in_system_has_a_fingerprint():
    built_in = [name for name in systems.available()
                if type(systems.get(name)).__module__.startswith("dynlens.")]
    assert set(built_in) <= {case.split()[0] for case in FINGERPRINTS}


def test_the_data_layer_names_no_system_class():
    """simulate() and the rest of dynlens/data ask systems to observe themselves, never which
    class they are: no system class (GroundTruthSystem aside) is named there."""
    classes = {name for name in systems.__all__ if isinstance(getattr(systems, name), type)
               and issubclass(getattr(systems, name), systems.GroundTruthSystem)}
    classes.discard("GroundTruthSystem")
    assert {"ChaoticRNN", "Lorenz", "DystsSystem"} <= classes
    data_dir = Path(importlib.import_module(simulate.__module__).__file__).parent
    named = {(path.name, node.id if isinstance(node, ast.Name) else node.attr)
             for path in sorted(data_dir.glob("*.py"))
             for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, (ast.Name, ast.Attribute))
             and (node.id if isinstance(node, ast.Name) else node.attr) in classes}
    assert named == set()

"""Metrics against hand-computed values (the published definitions)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import gammaln
from scipy.stats import poisson

from dynlens.analysis.metrics import (
    bits_per_spike,
    co_bps,
    cycle_consistency,
    decode_r2,
    input_recovery,
    rate_r2,
    state_r2,
)
from dynlens.errors import DynlensError


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(0)


def _latents(rng, trials=40, bins=25, dim=3):
    """Correlated, non-degenerate latents [trials, bins, dim]."""
    mix = np.array([[1.0, 0.3, 0.0], [0.0, 0.8, -0.4], [0.2, 0.0, 1.2]])[:dim, :dim]
    return rng.normal(size=(trials, bins, dim)) @ mix + np.array([1.0, -2.0, 0.5])[:dim]


# ---------------------------------------------------------------- rate R2


def test_rate_r2_perfect_is_one_and_mean_is_zero(rng):
    rates = rng.uniform(0.2, 3.0, size=(10, 20, 4))
    assert rate_r2(rates, rates) == 1.0
    assert rate_r2(rates, rates, weighting="variance") == 1.0
    mean = np.broadcast_to(rates.mean(axis=(0, 1)), rates.shape)
    assert rate_r2(rates, mean) == pytest.approx(0.0, abs=1e-12)
    assert rate_r2(rates, mean, weighting="variance") == pytest.approx(0.0, abs=1e-12)


def test_rate_r2_uniform_and_variance_weighted_by_hand(rng):
    true = np.stack([rng.uniform(0, 10, 200), rng.uniform(1.0, 1.2, 200)], axis=-1)
    pred = true + np.stack([rng.normal(0, 1.0, 200), rng.normal(0, 0.05, 200)], axis=-1)
    ss_res = ((true - pred) ** 2).sum(axis=0)
    ss_tot = ((true - true.mean(axis=0)) ** 2).sum(axis=0)
    per_neuron = 1 - ss_res / ss_tot
    uniform = per_neuron.mean()
    weighted = np.sum(ss_tot * per_neuron) / ss_tot.sum()
    assert abs(uniform - weighted) > 0.1  # the example separates the two averages
    assert rate_r2(true, pred) == pytest.approx(uniform, rel=1e-12)
    assert rate_r2(true, pred, weighting="variance") == pytest.approx(weighted, rel=1e-12)
    # [trials, bins, neurons] is flattened over trials and bins; tensors are accepted
    assert rate_r2(true.reshape(10, 20, 2), torch.as_tensor(pred.reshape(10, 20, 2))) == \
        pytest.approx(uniform, rel=1e-12)


# ---------------------------------------------------------------- state and decode R2


def test_known_affine_map_is_recovered_in_both_directions(rng):
    true = _latents(rng)
    m = np.array([[0.5, -1.0, 0.2, 0.0, 1.0], [1.5, 0.3, 0.0, 0.7, -0.2],
                  [0.0, 0.4, -1.1, 0.3, 0.5]])  # injective 3 -> 5
    inferred = true @ m + np.array([3.0, -1.0, 0.0, 2.0, 0.5])
    assert state_r2(true, inferred) == pytest.approx(1.0, abs=1e-9)
    assert decode_r2(true, inferred) == pytest.approx(1.0, abs=1e-9)


def test_affine_maps_are_fitted_on_the_fit_arrays_and_scored_on_the_others(rng):
    m = np.array([[1.0, 0.5, 0.0], [-0.3, 1.0, 0.2], [0.0, 0.4, 0.9]])
    true_fit, true_eval = _latents(rng), _latents(rng, trials=10)
    assert state_r2(true_eval, true_eval @ m + 1.0, true_fit, true_fit @ m + 1.0) == \
        pytest.approx(1.0, abs=1e-9)
    assert decode_r2(true_eval, true_eval @ m + 1.0, true_fit, true_fit @ m + 1.0) == \
        pytest.approx(1.0, abs=1e-9)
    # a map learned on the fit arrays that does not hold on the scored ones scores badly,
    # while fitting on the scored arrays themselves would give 1
    other = -m
    assert state_r2(true_eval, true_eval @ other, true_fit, true_fit @ m) < 0
    assert decode_r2(true_eval, true_eval @ other, true_fit, true_fit @ m) < 0
    assert state_r2(true_eval, true_eval @ other) == pytest.approx(1.0, abs=1e-9)


def test_invented_dimension_lowers_state_r2_but_not_decode_r2(rng):
    true = _latents(rng)
    noise = rng.normal(size=true.shape[:2] + (1,))
    inferred = np.concatenate([true @ np.diag([2.0, -1.0, 0.5]), noise], axis=-1)
    # three inferred dimensions explained perfectly, one not at all: about 3/4
    assert state_r2(true, inferred) == pytest.approx(0.75, abs=0.02)
    assert decode_r2(true, inferred) == pytest.approx(1.0, abs=1e-9)


def test_missing_dimension_lowers_decode_r2_but_not_state_r2(rng):
    true = _latents(rng)
    inferred = true[..., :2] @ np.array([[1.0, 0.5], [0.2, -1.0]])
    assert state_r2(true, inferred) == pytest.approx(1.0, abs=1e-9)
    assert decode_r2(true, inferred) < 0.9


# ---------------------------------------------------------------- bits per spike


def _poisson_data(rng, shape=(30, 20, 5)):
    rates = np.exp(rng.normal(0.0, 0.7, size=shape))
    return rng.poisson(rates), rates


def test_bits_per_spike_by_hand_with_scipy(rng):
    spikes, rates = _poisson_data(rng)
    null = spikes.reshape(-1, spikes.shape[-1]).mean(axis=0)
    ll_model = poisson.logpmf(spikes, rates).sum()
    ll_null = poisson.logpmf(spikes, np.broadcast_to(null, spikes.shape)).sum()
    expected = (ll_model - ll_null) / (np.log(2) * spikes.sum())
    assert expected > 0.05  # true rates carry information beyond each neuron's mean
    assert bits_per_spike(spikes, rates) == pytest.approx(expected, rel=1e-10)
    assert bits_per_spike(spikes, rates, null_rates=null) == pytest.approx(expected, rel=1e-10)


def test_bits_per_spike_of_the_null_model_is_zero(rng):
    spikes, _ = _poisson_data(rng)
    null = np.broadcast_to(spikes.mean(axis=(0, 1)), spikes.shape)
    assert bits_per_spike(spikes, null) == pytest.approx(0.0, abs=1e-12)
    # a worse-than-null prediction is negative
    assert bits_per_spike(spikes, null * 3.0) < 0


def test_bits_per_spike_is_a_population_total_not_a_mean_over_neurons(rng):
    spikes, rates = _poisson_data(rng)
    spikes[..., 0] = rng.poisson(10 * rates[..., 0])  # one busy neuron
    rates = rates.copy()
    rates[..., 0] *= 10
    per_neuron = [bits_per_spike(spikes[..., [i]], rates[..., [i]]) * spikes[..., i].sum()
                  for i in range(spikes.shape[-1])]
    assert bits_per_spike(spikes, rates) == pytest.approx(sum(per_neuron) / spikes.sum(),
                                                          rel=1e-10)


def test_co_bps_uses_only_the_heldout_columns(rng):
    spikes, rates = _poisson_data(rng)
    held = [3, 4]
    value = co_bps(spikes, rates, held)
    assert value == pytest.approx(bits_per_spike(spikes[..., held], rates[..., held]), rel=1e-12)
    scrambled = rates.copy()
    scrambled[..., :3] = 100.0  # terrible held-in predictions do not matter
    assert co_bps(spikes, scrambled, held) == value
    bad_heldout = rates.copy()
    bad_heldout[..., 4] = 100.0
    assert co_bps(spikes, bad_heldout, held) < value


# ---------------------------------------------------------------- cycle consistency


def _readout(singular_values, n_neurons=12, seed=1):
    gen = np.random.default_rng(seed)
    u, _ = np.linalg.qr(gen.normal(size=(3, 3)))
    v, _ = np.linalg.qr(gen.normal(size=(n_neurons, 3)))
    return u @ np.diag(singular_values) @ v.T  # [latent 3, neurons]


def test_cycle_consistency_is_one_for_an_injective_readout(rng):
    latents = _latents(rng)
    log_rates = latents @ _readout([1.0, 0.8, 0.6]) + 0.3
    assert cycle_consistency(latents, log_rates) == pytest.approx(1.0, abs=1e-9)


def test_cycle_consistency_drops_when_a_latent_direction_never_reaches_the_rates(rng):
    latents = _latents(rng)
    readout = _readout([1.0, 0.8, 0.0])
    log_rates = latents @ readout + 0.3
    # the part of the latents along the readout's null direction cannot come back
    null_direction = np.linalg.svd(readout)[0][:, -1]
    flat = latents.reshape(-1, 3)
    lost = np.var(flat @ null_direction) / np.var(flat, axis=0).sum()
    assert lost > 0.1
    assert cycle_consistency(latents, log_rates) == pytest.approx(1 - lost, abs=0.01)


def _orthogonal_latents(gen, n_samples, scales):
    """Latents with zero mean and exactly orthogonal columns of variances ``scales``."""
    m = gen.normal(size=(n_samples, len(scales)))
    q = np.linalg.qr(m - m.mean(axis=0))[0] * np.sqrt(n_samples)
    return q * np.sqrt(scales)


def test_cycle_consistency_ctdb_protocol_fits_on_train_and_inverts_predicted_rates():
    gen = np.random.default_rng(5)
    readout = _readout([1.0, 1.0, 0.05], seed=2)  # injective; the 99 % cut drops the third
    weak = np.linalg.svd(readout)[0][:, -1]  # its latent direction
    basis = np.linalg.qr(np.column_stack([weak, gen.normal(size=(3, 2))]))[0]
    train = _orthogonal_latents(gen, 400, [1.0, 1.0, 1.0]) @ basis.T
    valid = _orthogonal_latents(gen, 300, [4.0, 1.0, 1.0]) @ basis.T  # 4 of 6 along `weak`
    fit = {"latents_fit": train, "log_rates_fit": train @ readout + 0.3}
    exact = valid @ readout + 0.3
    known = 1 - 4.0 / 6.0  # the scored latents' variance along the dropped direction is lost
    assert cycle_consistency(valid, exact, **fit, protocol="ctdb") == pytest.approx(known)
    # CtDB never reads the model's own log-rates: noise there changes nothing ...
    noisy = exact + gen.normal(size=exact.shape)
    assert cycle_consistency(valid, noisy, **fit, protocol="ctdb") == pytest.approx(known)
    # ... while the default protocol inverts them (and agrees when they are exact)
    assert cycle_consistency(valid, exact, **fit) == pytest.approx(known)
    assert cycle_consistency(valid, noisy, **fit) < known - 0.05
    # fitted on the scored data itself (train has equal variances): a third is lost
    assert cycle_consistency(train, train @ readout, protocol="ctdb") == pytest.approx(2 / 3)


# ---------------------------------------------------------------- input recovery


def _pulses(trials=30, bins=40, magnitude=20.0, seed=1):
    """One pulse per trial at a random bin in [bins/4, 3 bins/4): [trials, bins, 1]."""
    true = np.zeros((trials, bins, 1))
    at = np.random.default_rng(seed).integers(bins // 4, 3 * bins // 4, size=trials)
    true[np.arange(trials), at, 0] = magnitude
    return true, at


def _shift(x, lag):
    """``x`` delayed by ``lag`` bins (advanced if negative), zero-filled."""
    out = np.zeros_like(x)
    if lag >= 0:
        out[:, lag:] = x[:, :x.shape[1] - lag]
    else:
        out[:, :lag] = x[:, -lag:]
    return out


@pytest.mark.parametrize("lag", [0, 1, 3, -2])
def test_input_recovery_finds_a_known_shift_and_scale(lag):
    true, at = _pulses()
    result = input_recovery(true, 0.3 * _shift(true, lag))
    assert result["lag"] == lag
    assert result["correlation"] == pytest.approx(1.0, abs=1e-12)
    assert result["signs"] == [1] and result["dimensions"] == [0]
    assert result["pulse_bin_error"].tolist() == [abs(lag)] * 30
    assert result["median_pulse_bin_error"] == abs(lag)
    assert result["fraction_within_2_bins"] == (1.0 if abs(lag) <= 2 else 0.0)
    assert np.array_equal(result["true_pulse_bins"], at)
    assert np.array_equal(result["inferred_pulse_bins"], at + lag)


def test_input_recovery_reports_a_flipped_sign_with_full_correlation():
    true, _ = _pulses()
    result = input_recovery(true, -2.0 * true)
    assert result["signs"] == [-1] and result["lag"] == 0
    assert result["correlation"] == pytest.approx(1.0, abs=1e-12)
    assert result["channel_correlations"] == [pytest.approx(1.0, abs=1e-12)]
    assert result["median_pulse_bin_error"] == 0.0


def test_input_recovery_correlation_is_pearson_of_the_flattened_signals():
    true, _ = _pulses()
    noisy = true + np.random.default_rng(2).normal(0, 3.0, size=true.shape)
    result = input_recovery(true, noisy)
    expected = np.corrcoef(true.ravel(), noisy.ravel())[0, 1]
    assert 0.3 < expected < 0.95
    assert result["lag"] == 0 and result["correlation"] == pytest.approx(expected, rel=1e-12)
    # at a lag the overlapping bins alone count
    late = _shift(noisy, 2)
    lagged = input_recovery(true, late)
    expected = np.corrcoef(true[:, :-2].ravel(), late[:, 2:].ravel())[0, 1]
    assert lagged["lag"] == 2 and lagged["correlation"] == pytest.approx(expected, rel=1e-12)


def test_input_recovery_picks_the_best_inferred_channel():
    true, _ = _pulses()
    rng = np.random.default_rng(3)
    noise = rng.normal(size=(30, 40, 3))
    inferred = noise.copy()
    inferred[..., 2] = -0.1 * _shift(true, 1)[..., 0] + 0.01 * noise[..., 2]
    result = input_recovery(true, inferred)
    assert result["dimensions"] == [2] and result["signs"] == [-1] and result["lag"] == 1
    assert result["correlation"] > 0.99
    # the pulse error reads the matched channel, not the noisiest one
    assert result["pulse_bin_error"].tolist() == [1] * 30


def test_input_recovery_matches_each_true_channel():
    first, _ = _pulses(seed=4)
    second, _ = _pulses(seed=5, magnitude=5.0)
    true = np.concatenate([first, second], axis=-1)
    inferred = np.concatenate([second, -first, np.ones_like(first)], axis=-1)
    result = input_recovery(true, inferred)
    assert result["dimensions"] == [1, 0] and result["signs"] == [-1, 1]
    assert result["correlation"] == pytest.approx(1.0, abs=1e-12)
    # each matched channel is rescaled to its true channel, so the 20-pulses stay the largest
    assert result["pulse_bin_error"].tolist() == [0] * 30


def test_input_recovery_pulse_errors_per_trial():
    true, at = _pulses(trials=4, bins=20)
    inferred = _shift(true, 1)
    inferred[2] = 0.0
    inferred[2, 0, 0] = 25.0  # a wrong pulse at bin 0 in trial 2
    inferred[3] = _shift(true, 4)[3]
    result = input_recovery(true, inferred)
    assert result["pulse_bin_error"].tolist() == [1, 1, at[2], 4]
    assert result["fraction_within_2_bins"] == 0.5
    assert result["median_pulse_bin_error"] == np.median([1, 1, at[2], 4])


def test_input_recovery_searches_lags_up_to_max_lag():
    true, _ = _pulses(bins=40)  # default max_lag = 40 // 4 = 10
    late = _shift(true, 10)
    assert input_recovery(true, late)["lag"] == 10
    assert input_recovery(true, _shift(true, 11))["lag"] != 11
    assert input_recovery(true, late, max_lag=3)["lag"] in range(-3, 4)
    assert input_recovery(true, _shift(true, 12), max_lag=12)["lag"] == 12


# ---------------------------------------------------------------- bad input


_R = np.random.default_rng(5).uniform(0.5, 2.0, size=(5, 6, 3))
_NAN = _R.copy()
_NAN[0, 0, 0] = np.nan
_LAT = np.random.default_rng(6).normal(size=(5, 6, 3))
_ONES = np.ones((5, 6, 3))


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: rate_r2(_R, _R[..., :2]), "pred_rates"),
        (lambda: rate_r2(_NAN, _R), "true_rates"),
        (lambda: rate_r2(_R, _NAN), "pred_rates"),
        (lambda: rate_r2(_R, _R, weighting="neurons"), "weighting"),
        (lambda: rate_r2(_R[0, 0], _R[0, 0]), "true_rates"),
        (lambda: state_r2(_LAT, _LAT[:4]), "inferred_latents"),
        (lambda: decode_r2(_LAT[:4], _LAT), "true_latents"),
        (lambda: state_r2(_LAT, _LAT, true_fit=_LAT), "true_fit|inferred_fit"),
        (lambda: decode_r2(_LAT, _LAT, true_fit=_NAN, inferred_fit=_LAT), "true_fit"),
        (lambda: bits_per_spike(_ONES, _R[..., :2]), "rates"),
        (lambda: bits_per_spike(-_ONES, _R), "spikes"),
        (lambda: bits_per_spike(0 * _ONES, _R), "spikes"),
        (lambda: bits_per_spike(_ONES, _NAN), "rates"),
        (lambda: bits_per_spike(_ONES, _R, null_rates=[1.0, 2.0]), "null_rates"),
        (lambda: co_bps(_ONES, _R, []), "heldout_neurons"),
        (lambda: co_bps(_ONES, _R, [3]), "heldout_neurons"),
        (lambda: co_bps(_ONES, _R[..., :2], [2]), "rates"),
        (lambda: cycle_consistency(_LAT, _R[:4]), "log_rates"),
        (lambda: cycle_consistency(_LAT, np.log(_R), variance=1.5), "variance"),
        (lambda: input_recovery(_LAT, _LAT[:4]), "inferred_inputs"),
        (lambda: input_recovery(_LAT, _LAT[:, :5]), "inferred_inputs"),
        (lambda: input_recovery(_LAT[0], _LAT), "true_inputs"),
        (lambda: input_recovery(_NAN, _LAT), "true_inputs"),
        (lambda: input_recovery(_LAT, _NAN), "inferred_inputs"),
        (lambda: input_recovery(_LAT, _LAT[..., :0]), "inferred_inputs"),
        (lambda: input_recovery(_LAT, _LAT, max_lag=6), "max_lag"),
        (lambda: input_recovery(_LAT, _LAT, max_lag=-1), "max_lag"),
    ],
    ids=["rate_r2-shape", "rate_r2-nan-true", "rate_r2-nan-pred", "rate_r2-weighting",
         "rate_r2-1d", "state_r2-samples", "decode_r2-samples", "state_r2-half-fit",
         "decode_r2-nan-fit",
         "bps-shape", "bps-negative", "bps-no-spikes", "bps-nan", "bps-null-shape",
         "co_bps-empty", "co_bps-range", "co_bps-shape", "cycle-samples", "cycle-variance",
         "inputs-trials", "inputs-bins", "inputs-2d", "inputs-nan-true", "inputs-nan-inferred",
         "inputs-no-channel", "inputs-lag-too-long", "inputs-lag-negative"],
)
def test_bad_inputs_raise_errors_naming_the_argument(call, argument):
    with pytest.raises(DynlensError, match=rf"^({argument})[:,]"):
        call()


def test_bits_per_spike_follows_nlb_on_padding_and_zero_rates():
    rng = np.random.default_rng(3)
    spikes = rng.poisson(1.0, size=(6, 8, 4)).astype(float)
    rates = rng.uniform(0.2, 2.0, size=spikes.shape)
    rates[0, 0, 0] = 0.0  # counted as 1e-9, as NLB does
    spikes[1, 2:, :] = np.nan  # padding: left out everywhere
    keep = ~np.isnan(spikes)
    null = np.nanmean(spikes.reshape(-1, 4), axis=0)

    def nll(r):
        r = np.where(r == 0, 1e-9, r)
        s = spikes[keep]
        return np.sum(r[keep] - s * np.log(r[keep]) + gammaln(s + 1))

    expected = (nll(np.broadcast_to(null, spikes.shape)) - nll(rates)) / (
        np.log(2) * np.nansum(spikes))
    assert bits_per_spike(spikes, rates) == pytest.approx(expected, rel=1e-12)
    nlb = pytest.importorskip("nlb_tools.evaluation")
    assert bits_per_spike(spikes, rates) == pytest.approx(
        nlb.bits_per_spike(rates.copy(), spikes), rel=1e-12)


def test_bits_per_spike_refuses_negative_rates():
    with pytest.raises(DynlensError, match="rates: expected non-negative"):
        bits_per_spike(np.ones((2, 3, 2)), -np.ones((2, 3, 2)))


def test_cycle_consistency_of_an_injective_but_weak_readout_is_below_one():
    rng = np.random.default_rng(0)
    latents = rng.standard_normal((20, 50, 3))
    q = np.linalg.qr(rng.standard_normal((10, 3)))[0]
    assert cycle_consistency(latents, latents @ q.T) == pytest.approx(1.0)
    weak = q * np.array([1.0, 1.0, 0.05])  # still injective
    assert cycle_consistency(latents, latents @ weak.T) == pytest.approx(0.65, abs=0.02)


@pytest.mark.parametrize("kwargs, argument", [
    ({"protocol": "nlb"}, "protocol"),
    ({"latents_fit": _LAT}, "latents_fit, log_rates_fit"),
    ({"latents_fit": _LAT[..., :2], "log_rates_fit": np.log(_R)}, "latents_fit"),
    ({"latents_fit": _LAT, "log_rates_fit": np.log(_R)[..., :2]}, "log_rates_fit"),
])
def test_cycle_consistency_refuses_bad_protocol_arguments(kwargs, argument):
    with pytest.raises(DynlensError, match=rf"^{argument}:"):
        cycle_consistency(_LAT, np.log(_R), **kwargs)


def test_state_r2_weighting_uniform_versus_variance():
    rng = np.random.default_rng(1)
    true = rng.standard_normal((500, 2))
    # one inferred dimension follows the truth, a low-variance one is pure noise
    inferred = np.column_stack([true @ [1.0, 0.5], 0.1 * rng.standard_normal(500)])
    uniform = state_r2(true, inferred)
    weighted = state_r2(true, inferred, weighting="variance")
    assert uniform == pytest.approx(0.5, abs=0.02)  # (1 + 0) / 2
    assert weighted > 0.98  # the noise dimension carries 1 % of the variance
    with pytest.raises(DynlensError, match="weighting"):
        state_r2(true, inferred, weighting="median")

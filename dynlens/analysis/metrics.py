"""Metrics of how well a model's rates and latents match the truth (definitions as in
Sedler et al. 2023 and the Neural Latents Benchmark).

All arrays are ``[trials, bins, features]`` or already flattened ``[samples, features]``;
rates are expected counts per bin.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> rates = rng.uniform(0.5, 2.0, size=(20, 30, 4))
>>> rate_r2(rates, rates)
1.0
>>> round(rate_r2(rates, np.broadcast_to(rates.mean(axis=(0, 1)), rates.shape)), 6)
0.0
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln
from sklearn.decomposition import PCA
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score

from ..errors import DynlensValueError
from ..utils import as_numpy, check_choice, check_fraction, check_nonnegative_int
from .alignment import AffineAlignment

__all__ = [
    "CYCLE_PROTOCOLS",
    "bits_per_spike",
    "co_bps",
    "cycle_consistency",
    "decode_r2",
    "fp_bps",
    "input_recovery",
    "rate_r2",
    "state_r2",
]


def _flat(array, name: str, allow_nan: bool = False) -> np.ndarray:
    out = as_numpy(array, name, dtype=np.float64)
    if out.ndim == 3:
        out = out.reshape(-1, out.shape[-1])
    if out.ndim != 2 or out.shape[0] == 0:
        raise DynlensValueError(
            f"{name}: expected a non-empty array [trials, bins, features] or [samples, features], "
            f"found shape {out.shape}"
        )
    bad = np.isinf(out) if allow_nan else ~np.isfinite(out)
    if np.any(bad):
        raise DynlensValueError(f"{name}: expected finite values, found NaN or inf")
    return out


def _same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise DynlensValueError(
            f"{name_b}: expected the shape of {name_a} {a.shape}, found {b.shape}"
        )


def rate_r2(true_rates, pred_rates, weighting: str = "uniform") -> float:
    """Coefficient of determination of predicted rates, per neuron then averaged.

    Parameters
    ----------
    true_rates, pred_rates : array
        Expected counts per bin, same shape.
    weighting : {"uniform", "variance"}
        Average over neurons uniformly (the paper) or weighted by each neuron's variance
        (CtDB's ``rate_r2_vw``).
    """
    true = _flat(true_rates, "true_rates")
    pred = _flat(pred_rates, "pred_rates")
    _same_shape(true, pred, "true_rates", "pred_rates")
    return float(r2_score(true, pred, multioutput=_multioutput(weighting)))


def _multioutput(weighting: str) -> str:
    """scikit-learn's ``multioutput`` for a dynlens ``weighting``."""
    modes = {"uniform": "uniform_average", "variance": "variance_weighted"}
    if weighting not in modes:
        raise DynlensValueError(f"weighting: expected 'uniform' or 'variance', found {weighting!r}")
    return modes[weighting]


def _affine_r2(source, target, source_fit, target_fit, names: tuple[str, str],
               fit_names: tuple[str, str], weighting: str = "uniform") -> float:
    src, tgt = _flat(source, names[0]), _flat(target, names[1])
    if src.shape[0] != tgt.shape[0]:
        raise DynlensValueError(
            f"{names[1]}: expected {src.shape[0]} samples like {names[0]}, found {tgt.shape[0]}"
        )
    if (source_fit is None) != (target_fit is None):
        raise DynlensValueError(
            f"{fit_names[0]}, {fit_names[1]}: expected both arrays of the fitting split or "
            "neither, found one"
        )
    if source_fit is None:
        source_fit, target_fit = src, tgt
    multioutput = _multioutput(weighting)
    alignment = AffineAlignment().fit(
        _flat(source_fit, fit_names[0]), _flat(target_fit, fit_names[1])
    )
    return float(r2_score(tgt, alignment.transform(src), multioutput=multioutput))


def state_r2(true_latents, inferred_latents, true_fit=None, inferred_fit=None, *,
             weighting: str = "uniform") -> float:
    """R2 of an affine map from TRUE latents to INFERRED latents (the paper's direction).

    It penalises inferred dimensions that the truth cannot explain (invented dynamics). The
    map is fitted on ``(true_fit, inferred_fit)`` (e.g. the train split) and scored on the
    given arrays; without fit arrays it is fitted and scored on the same data, as the paper
    did. R2 is averaged over inferred dimensions uniformly (``weighting="uniform"``, the
    paper) or weighted by each dimension's variance (``"variance"``, as CtDB does); the two
    can differ a lot when some inferred dimensions carry little variance.
    """
    return _affine_r2(true_latents, inferred_latents, true_fit, inferred_fit,
                      ("true_latents", "inferred_latents"), ("true_fit", "inferred_fit"),
                      weighting)


def decode_r2(true_latents, inferred_latents, true_fit=None, inferred_fit=None, *,
              weighting: str = "uniform") -> float:
    """R2 of an affine map from INFERRED latents to TRUE latents: is the truth decodable?

    Fitting, scoring and ``weighting`` follow :func:`state_r2`, over the true dimensions.
    """
    return _affine_r2(inferred_latents, true_latents, inferred_fit, true_fit,
                      ("inferred_latents", "true_latents"), ("inferred_fit", "true_fit"),
                      weighting)


def _poisson_nll_sum(spikes: np.ndarray, rates: np.ndarray) -> float:
    """Summed Poisson NLL over the entries whose count is not NaN (NLB's padding); zero
    rates count as 1e-9, as NLB does."""
    keep = ~np.isnan(spikes)
    rates = np.where(rates == 0, 1e-9, rates)[keep]
    counts = spikes[keep]
    return float(np.sum(rates - counts * np.log(rates) + gammaln(counts + 1)))


def bits_per_spike(spikes, rates, null_rates=None) -> float:
    """Population bits per spike (NLB): information gained over a constant-rate null model.

    ``[NLL(null) - NLL(model)] / (ln 2 * total spikes)``, with the null model predicting
    each neuron's mean count over the evaluated data unless ``null_rates`` [neurons] is
    given. One total over all neurons, not a mean of per-neuron values. As the Neural Latents
    Benchmark computes it: NaN spike counts (padding) are left out everywhere, and zero
    predicted rates count as 1e-9.

    Examples
    --------
    >>> import numpy as np
    >>> spikes = np.random.default_rng(0).poisson(1.0, size=(10, 20, 3))
    >>> null = np.broadcast_to(spikes.mean(axis=(0, 1)), spikes.shape)
    >>> bits_per_spike(spikes, null)
    0.0
    """
    counts = _flat(spikes, "spikes", allow_nan=True)
    pred = _flat(rates, "rates")
    _same_shape(counts, pred, "spikes", "rates")
    if np.any(counts < 0):
        raise DynlensValueError("spikes: expected non-negative counts, found negative values")
    if np.any(pred < 0):
        raise DynlensValueError("rates: expected non-negative rates, found negative values")
    total = np.nansum(counts)
    if total == 0:
        raise DynlensValueError("spikes: expected at least one spike to normalise by, found none")
    null = (np.nanmean(counts, axis=0) if null_rates is None
            else as_numpy(null_rates, "null_rates", dtype=float))
    if null.shape != (counts.shape[-1],) or not np.all(np.isfinite(null)):
        raise DynlensValueError(
            f"null_rates: expected {counts.shape[-1]} finite rates, one per neuron, "
            f"found shape {null.shape}"
        )
    null = np.broadcast_to(null, counts.shape)
    return float(
        (_poisson_nll_sum(counts, null) - _poisson_nll_sum(counts, pred)) / (np.log(2) * total)
    )


def co_bps(spikes, rates, heldout_neurons) -> float:
    """Bits per spike on held-out neurons (co-smoothing): the model never saw their spikes."""
    counts = as_numpy(spikes, "spikes", dtype=float)
    pred = as_numpy(rates, "rates", dtype=float)
    if counts.shape != pred.shape:
        raise DynlensValueError(
            f"rates: expected the shape of spikes {counts.shape}, found {pred.shape}"
        )
    held = np.asarray(heldout_neurons, dtype=int).ravel()
    if held.size == 0:
        raise DynlensValueError(
            "heldout_neurons: expected at least one held-out neuron, found none"
        )
    if held.min() < 0 or held.max() >= counts.shape[-1]:
        raise DynlensValueError(
            f"heldout_neurons: expected indices in [0, {counts.shape[-1]}), found {held.tolist()}"
        )
    return bits_per_spike(counts[..., held], pred[..., held])


def fp_bps(spikes, rates, n_forward: int) -> float:
    """Bits per spike on the forward-prediction bins (NLB's fp-bps): the last ``n_forward``
    bins of every trial, all neurons (held in and held out), which the model never read.

    As the Neural Latents Benchmark computes it: :func:`bits_per_spike` of those bins, the
    null model being each neuron's mean count over them.

    Examples
    --------
    >>> import numpy as np
    >>> spikes = np.random.default_rng(0).poisson(1.0, size=(10, 20, 3))
    >>> rates = np.full(spikes.shape, 1.0)
    >>> fp_bps(spikes, rates, 5) == bits_per_spike(spikes[:, 15:], rates[:, 15:])
    True
    """
    counts = as_numpy(spikes, "spikes", dtype=float)
    pred = as_numpy(rates, "rates", dtype=float)
    if counts.ndim != 3 or counts.shape != pred.shape:
        raise DynlensValueError(
            f"rates: expected arrays [trials, bins, neurons] of the shape of spikes "
            f"{counts.shape}, found {pred.shape}")
    n_forward = check_nonnegative_int(n_forward, "n_forward")
    if not 0 < n_forward < counts.shape[1]:
        raise DynlensValueError(
            f"n_forward: expected at least one forward-prediction bin and fewer than the "
            f"{counts.shape[1]} bins, found {n_forward}")
    return bits_per_spike(counts[:, -n_forward:], pred[:, -n_forward:])


CYCLE_PROTOCOLS = ("dynlens", "ctdb")


def cycle_consistency(latents, log_rates, variance: float = 0.99, *, latents_fit=None,
                      log_rates_fit=None, protocol: str = "dynlens") -> float:
    """CtDB's cycle consistency: can the latents be recovered from the log-rates?

    PCA of latents and of log-rates; a linear map latents -> log-rates; its inverse via a
    pseudoinverse truncated to the singular values holding ``variance`` of the squared
    singular values; R2 (variance-weighted) of the latents' principal components
    reconstructed from log-rates. It is below 1 when latent directions do not reach the
    rates, and also when the readout is injective but weak in some direction: the
    truncation drops directions under the ``variance`` cut (an injective rank-3 readout with
    gains 1, 1 and 0.05 scores about 0.65, as CtDB's code also gives).

    Parameters
    ----------
    latents, log_rates : array [trials, bins, features] or [samples, features]
        The model's latents and log-rates on the data scored.
    variance : float
        Share of the squared singular values the truncated inverse keeps (CtDB: 0.99).
    latents_fit, log_rates_fit : array, optional
        Where the PCAs and the map are fitted (e.g. the train split), both or neither;
        without them they are fitted on ``latents`` and ``log_rates``.
    protocol : {"dynlens", "ctdb"}
        ``"dynlens"`` (default) inverts the model's own ``log_rates``; ``"ctdb"``, as the
        Computation-through-Dynamics Benchmark does, inverts the log-rates that the fitted
        map predicts from ``latents`` (``log_rates`` then only sets the shapes), so the score
        measures the readout alone. CtDB fits on the train split and scores the validation
        split: pass the train arrays as ``latents_fit``, ``log_rates_fit``.

    Examples
    --------
    A readout whose third direction is weak: the 99 % cut drops it, and the latents' share
    of variance along it is lost (here half of it, in the scored data):

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> readout = np.linalg.qr(rng.standard_normal((8, 3)))[0] * [1.0, 1.0, 0.05]
    >>> train, valid = rng.standard_normal((2000, 3)), rng.standard_normal((2000, 3))
    >>> valid[:, 2] *= np.sqrt(2.0)
    >>> score = cycle_consistency(valid, valid @ readout.T, latents_fit=train,
    ...                           log_rates_fit=train @ readout.T, protocol="ctdb")
    >>> round(score, 1)
    0.5
    """
    lat, logr = _cycle_pair(latents, log_rates, "latents", "log_rates")
    if (latents_fit is None) != (log_rates_fit is None):
        raise DynlensValueError(
            "latents_fit, log_rates_fit: expected both arrays of the fitting split or "
            "neither, found one")
    lat_fit, logr_fit = (lat, logr) if latents_fit is None else _cycle_pair(
        latents_fit, log_rates_fit, "latents_fit", "log_rates_fit")
    for fitted, scored, name in ((lat_fit, lat, "latents_fit"), (logr_fit, logr,
                                                                  "log_rates_fit")):
        if fitted.shape[1] != scored.shape[1]:
            raise DynlensValueError(
                f"{name}: expected {scored.shape[1]} features like the scored array, found "
                f"{fitted.shape[1]}")
    variance = check_fraction(variance, "variance", inclusive_high=True)
    check_choice(protocol, CYCLE_PROTOCOLS, "protocol")
    lat_pca, rate_pca = PCA().fit(lat_fit), PCA().fit(logr_fit)
    forward = LinearRegression().fit(lat_pca.transform(lat_fit), rate_pca.transform(logr_fit))
    lat_pc = lat_pca.transform(lat)
    rate_pc = forward.predict(lat_pc) if protocol == "ctdb" else rate_pca.transform(logr)
    reconstructed = (rate_pc - forward.intercept_) @ _truncated_inverse(forward.coef_, variance)
    return float(r2_score(lat_pc, reconstructed, multioutput="variance_weighted"))


def _cycle_pair(latents, log_rates, lat_name: str, rate_name: str):
    """Flattened latents and log-rates with as many samples each."""
    lat, logr = _flat(latents, lat_name), _flat(log_rates, rate_name)
    if lat.shape[0] != logr.shape[0]:
        raise DynlensValueError(
            f"{rate_name}: expected {lat.shape[0]} samples like {lat_name}, found "
            f"{logr.shape[0]}")
    return lat, logr


def _truncated_inverse(coef: np.ndarray, variance: float) -> np.ndarray:
    """``[rates, latents]`` pseudoinverse of the map ``coef`` ``[rates, latents]`` (as
    scikit-learn stores it), keeping the singular values that hold ``variance`` of the
    squared ones."""
    u, s, vt = np.linalg.svd(coef.T, full_matrices=False)  # coef.T: [latent, rate]
    keep = int(np.searchsorted(np.cumsum(s**2) / np.sum(s**2), variance) + 1)
    return (vt[:keep].T / s[:keep]) @ u[:, :keep].T


def _input_array(array, name: str) -> np.ndarray:
    out = as_numpy(array, name, dtype=np.float64)
    if out.ndim != 3 or 0 in out.shape:
        raise DynlensValueError(
            f"{name}: expected a non-empty array [trials, bins, inputs], found shape {out.shape}"
        )
    if not np.all(np.isfinite(out)):
        raise DynlensValueError(f"{name}: expected finite values, found NaN or inf")
    return out


def _overlap(true: np.ndarray, inferred: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Bins where ``true[:, t]`` meets ``inferred[:, t + lag]``, flattened to ``[samples, k]``."""
    n_bins = true.shape[1]
    t = true[:, max(0, -lag):n_bins - max(0, lag)]
    i = inferred[:, max(0, lag):n_bins - max(0, -lag)]
    return t.reshape(-1, t.shape[-1]), i.reshape(-1, i.shape[-1])


def _correlations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlations ``[k_a, k_b]`` between columns; 0 where a column is constant."""
    a, b = a - a.mean(axis=0), b - b.mean(axis=0)
    norm_a, norm_b = np.sqrt((a**2).sum(axis=0)), np.sqrt((b**2).sum(axis=0))
    scale = np.outer(norm_a, norm_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.where(scale > 0, (a.T @ b) / scale, 0.0)
    return np.clip(corr, -1.0, 1.0)


def _pulse_bins(signal: np.ndarray) -> np.ndarray:
    """Each trial's bin of the largest ``|signal|`` over its channels (the first if tied)."""
    return np.abs(signal).max(axis=-1).argmax(axis=1)


def input_recovery(true_inputs, inferred_inputs, *, max_lag: int | None = None) -> dict:
    """How well inferred inputs recover true ones: pulse timing, lag and correlation.

    Made for the input-pulse experiment of Sussillo et al. (2016) (one pulse per trial,
    ``simulate("chaotic_rnn", input_pulse=20.0)``), where a model infers inputs whose scale and
    sign are arbitrary. Each true channel is matched to the inferred channel whose absolute
    Pearson correlation with it is largest, at one lag shared by all channels: the lag in
    ``[-max_lag, max_lag]`` with the largest mean matched absolute correlation (ties go to the
    smallest ``|lag|``). A positive lag means the inferred input comes late:
    ``inferred[:, t + lag]`` pairs with ``true[:, t]``.

    Parameters
    ----------
    true_inputs : array [trials, bins, k_true]
        The true inputs.
    inferred_inputs : array [trials, bins, k_inferred]
        The inferred inputs (e.g. ``Inference.inputs``); same trials and bins, any number of
        channels.
    max_lag : int, optional
        The largest lag searched, in bins (default ``bins // 4``); less than ``bins``.

    Returns
    -------
    dict
        - ``pulse_bin_error``: int array [trials], per trial ``|argmax_t |true| - argmax_t
          |inferred||`` with the matched inferred channel, no lag correction. With several
          channels, the bin of the largest value over channels, each matched inferred channel
          rescaled to the standard deviation of its true channel.
        - ``median_pulse_bin_error`` (float) and ``fraction_within_2_bins`` (the fraction of
          trials with an error <= 2).
        - ``true_pulse_bins``, ``inferred_pulse_bins``: int arrays [trials].
        - ``lag`` (int): the best lag in bins.
        - ``correlation`` (float): the absolute Pearson correlation of the flattened true
          signal and the lag-shifted matched inferred signal (over the bins where they
          overlap), averaged over true channels.
        - ``channel_correlations``, ``dimensions``, ``signs``: lists, one entry per true
          channel: its absolute correlation, its matched inferred channel and the sign of the
          correlation (+1 or -1).

    Raises
    ------
    DynlensValueError
        If an array is not 3-D, empty or not finite, if the trials or bins differ, or if
        ``max_lag`` is not an integer in ``[0, bins)``; the message names the argument.

    Examples
    --------
    A pulse per trial, recovered one bin late, with flipped sign, in the second of two
    inferred channels:

    >>> import numpy as np
    >>> true = np.zeros((3, 8, 1))
    >>> true[[0, 1, 2], [2, 4, 5], 0] = 20.0
    >>> inferred = np.zeros((3, 8, 2))
    >>> inferred[:, 1:, 1] = -0.5 * true[:, :-1, 0]
    >>> inferred[:, :, 0] = np.random.default_rng(0).normal(size=(3, 8))
    >>> result = input_recovery(true, inferred)
    >>> result["lag"], round(result["correlation"], 6), result["dimensions"], result["signs"]
    (1, 1.0, [1], [-1])
    >>> result["pulse_bin_error"].tolist(), result["fraction_within_2_bins"]
    ([1, 1, 1], 1.0)
    """
    true = _input_array(true_inputs, "true_inputs")
    inferred = _input_array(inferred_inputs, "inferred_inputs")
    if inferred.shape[:2] != true.shape[:2]:
        raise DynlensValueError(
            f"inferred_inputs: expected the trials and bins of true_inputs {true.shape[:2]}, "
            f"found shape {inferred.shape}"
        )
    n_bins = true.shape[1]
    max_lag = n_bins // 4 if max_lag is None else check_nonnegative_int(max_lag, "max_lag")
    if max_lag >= n_bins:
        raise DynlensValueError(
            f"max_lag: expected fewer than the {n_bins} bins, so that the shifted signals "
            f"overlap, found {max_lag}"
        )
    lags = sorted(range(-max_lag, max_lag + 1), key=lambda lag: (abs(lag), lag))
    tables = [_correlations(*_overlap(true, inferred, lag)) for lag in lags]
    best = int(np.argmax([np.abs(table).max(axis=1).mean() for table in tables]))
    table = tables[best]
    dims = np.abs(table).argmax(axis=1)
    corr = table[np.arange(len(dims)), dims]
    matched = inferred[..., dims]
    spread = matched.reshape(-1, len(dims)).std(axis=0)
    matched = matched * (true.reshape(-1, len(dims)).std(axis=0) / np.where(spread > 0, spread, 1))
    true_bins, inferred_bins = _pulse_bins(true), _pulse_bins(matched)
    error = np.abs(true_bins - inferred_bins)
    return {
        "pulse_bin_error": error,
        "median_pulse_bin_error": float(np.median(error)),
        "fraction_within_2_bins": float(np.mean(error <= 2)),
        "true_pulse_bins": true_bins,
        "inferred_pulse_bins": inferred_bins,
        "lag": int(lags[best]),
        "correlation": float(np.abs(corr).mean()),
        "channel_correlations": np.abs(corr).tolist(),
        "dimensions": dims.tolist(),
        "signs": [1 if c >= 0 else -1 for c in corr],
    }

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
from ..utils import as_numpy, check_fraction
from .alignment import AffineAlignment

__all__ = [
    "bits_per_spike",
    "co_bps",
    "cycle_consistency",
    "decode_r2",
    "rate_r2",
    "state_r2",
]


def _flat(array, name: str) -> np.ndarray:
    out = as_numpy(array, name, dtype=np.float64)
    if out.ndim == 3:
        out = out.reshape(-1, out.shape[-1])
    if out.ndim != 2 or out.shape[0] == 0:
        raise DynlensValueError(
            f"{name}: expected a non-empty array [trials, bins, features] or [samples, features], "
            f"found shape {out.shape}"
        )
    if not np.all(np.isfinite(out)):
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
    modes = {"uniform": "uniform_average", "variance": "variance_weighted"}
    if weighting not in modes:
        raise DynlensValueError(f"weighting: expected 'uniform' or 'variance', found {weighting!r}")
    return float(r2_score(true, pred, multioutput=modes[weighting]))


def _affine_r2(source, target, source_fit, target_fit, names: tuple[str, str],
               fit_names: tuple[str, str]) -> float:
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
    alignment = AffineAlignment().fit(
        _flat(source_fit, fit_names[0]), _flat(target_fit, fit_names[1])
    )
    return float(alignment.score(src, tgt))


def state_r2(true_latents, inferred_latents, true_fit=None, inferred_fit=None) -> float:
    """R2 of an affine map from TRUE latents to INFERRED latents (the paper's direction).

    It penalises inferred dimensions that the truth cannot explain (invented dynamics). The
    map is fitted on ``(true_fit, inferred_fit)`` (e.g. the train split) and scored on the
    given arrays; without fit arrays it is fitted and scored on the same data, as the paper
    did. R2 is averaged uniformly over inferred dimensions.
    """
    return _affine_r2(true_latents, inferred_latents, true_fit, inferred_fit,
                      ("true_latents", "inferred_latents"), ("true_fit", "inferred_fit"))


def decode_r2(true_latents, inferred_latents, true_fit=None, inferred_fit=None) -> float:
    """R2 of an affine map from INFERRED latents to TRUE latents: is the truth decodable?

    Fitting and scoring follow :func:`state_r2`; R2 is averaged over true dimensions.
    """
    return _affine_r2(inferred_latents, true_latents, inferred_fit, true_fit,
                      ("inferred_latents", "true_latents"), ("inferred_fit", "true_fit"))


def _poisson_nll_sum(spikes: np.ndarray, rates: np.ndarray) -> float:
    rates = np.clip(rates, 1e-12, None)
    return float(np.sum(rates - spikes * np.log(rates) + gammaln(spikes + 1)))


def bits_per_spike(spikes, rates, null_rates=None) -> float:
    """Population bits per spike (NLB): information gained over a constant-rate null model.

    ``[NLL(null) - NLL(model)] / (ln 2 * total spikes)``, with the null model predicting
    each neuron's mean count over the evaluated data unless ``null_rates`` [neurons] is
    given. One total over all neurons, not a mean of per-neuron values.

    Examples
    --------
    >>> import numpy as np
    >>> spikes = np.random.default_rng(0).poisson(1.0, size=(10, 20, 3))
    >>> null = np.broadcast_to(spikes.mean(axis=(0, 1)), spikes.shape)
    >>> bits_per_spike(spikes, null)
    0.0
    """
    counts = _flat(spikes, "spikes")
    pred = _flat(rates, "rates")
    _same_shape(counts, pred, "spikes", "rates")
    if np.any(counts < 0):
        raise DynlensValueError("spikes: expected non-negative counts, found negative values")
    total = counts.sum()
    if total == 0:
        raise DynlensValueError("spikes: expected at least one spike to normalise by, found none")
    null = (counts.mean(axis=0) if null_rates is None
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


def cycle_consistency(latents, log_rates, variance: float = 0.99) -> float:
    """CtDB's cycle consistency: can the latents be recovered from the log-rates?

    PCA of latents and of log-rates; a linear map latents -> log-rates; its inverse via a
    pseudoinverse truncated to the singular values holding ``variance`` of the squared
    singular values; R2 of the latents reconstructed from the log-rates. It is 1.0 whenever
    the readout is injective and below 1 when latent directions do not reach the rates.
    """
    lat = _flat(latents, "latents")
    logr = _flat(log_rates, "log_rates")
    if lat.shape[0] != logr.shape[0]:
        raise DynlensValueError(
            f"log_rates: expected {lat.shape[0]} samples like latents, found {logr.shape[0]}"
        )
    variance = check_fraction(variance, "variance", inclusive_high=True)
    lat_pc = PCA().fit_transform(lat)
    rate_pc = PCA().fit_transform(logr)
    forward = LinearRegression().fit(lat_pc, rate_pc)
    u, s, vt = np.linalg.svd(forward.coef_.T, full_matrices=False)  # coef_.T: [latent, rate]
    keep = int(np.searchsorted(np.cumsum(s**2) / np.sum(s**2), variance) + 1)
    inverse = (vt[:keep].T / s[:keep]) @ u[:, :keep].T
    reconstructed = (rate_pc - forward.intercept_) @ inverse
    return float(r2_score(lat_pc, reconstructed, multioutput="variance_weighted"))

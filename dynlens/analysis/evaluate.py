"""``dl.evaluate``: every metric the data's truth allows, as one flat dict (a table row)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..errors import DynlensOtherDataWarning, DynlensTypeError, DynlensValueError
from ..models.base import check_model
from ..models.trained_on import other_data_message
from ..threads import ThreadPolicy, model_work
from . import metrics

__all__ = ["evaluate"]


def evaluate(model, data, split: str | None = None, *, batch_size: int = 512,
             threads: int | str = "auto") -> dict[str, Any]:
    """Evaluate a trained model on one split of a dataset.

    Affine maps (state R2 and decode R2) are fitted on the ``train`` split and scored on
    ``split``; every other metric is computed on ``split`` alone.

    ``split`` defaults to ``"test"``, or to ``"valid"`` when the data have no test split
    (LFADS HDF5 files hold only train and valid trials; the valid split is the one
    :func:`dynlens.fit` early-stops on, so its scores are slightly optimistic); the row's
    ``split`` says which split was scored.

    A model trained with :func:`dynlens.fit` remembers its data: given other data, this warns
    in one line (a :class:`~dynlens.errors.DynlensOtherDataWarning` with
    :func:`~dynlens.models.other_data_message`, e.g. "the model was trained on lorenz data,
    given rossler data") and scores them all the same.

    Parameters
    ----------
    model : Model
        A trained dynlens model (anything with ``infer``).
    data : NeuralDataset
        The dataset; its truth decides which metrics are computed.
    split : str, optional
        The split to score (see above); the ``train`` split is always used to fit the maps.
    batch_size : int
        Trials per batch while the model infers.
    threads : "auto" or int
        Torch's CPU threads while the model infers (see :mod:`dynlens.threads`).

    Returns
    -------
    dict
        One flat row; its keys, present when the data's truth allows them:

        - ``rate_r2``, ``rate_r2_vw``: R2 of inferred vs true rates, uniform and variance-weighted
          over neurons (needs true rates);
        - ``state_r2``: affine true -> inferred latents (the published direction; penalises
          invented dimensions), ``decode_r2``: inferred -> true (needs true latents); both averaged
          uniformly over dimensions (the paper), and ``state_r2_vw``, ``decode_r2_vw`` weighted by
          each dimension's variance (as CtDB reports them);
        - ``bps``: population bits per spike on held-in neurons; ``co_bps`` on held-out neurons
          (needs held-out neurons); both over the bins the model read, as the Neural Latents
          Benchmark computes them;
        - ``fp_bps``: bits per spike on the forward-prediction bins, all neurons (needs data with
          ``n_forward > 0``; NLB's fp-bps);
        - ``input_correlation``, ``input_lag``, ``input_within_2_bins``,
          ``input_median_bin_error``: how well the model's inferred inputs recover the data's
          inputs (needs data with inputs, e.g. ``simulate("chaotic_rnn", input_pulse=20.0)``, and a
          model that infers inputs without being given them, as LFADS with a controller and no
          external inputs); see :func:`~dynlens.analysis.metrics.input_recovery` (the pulse timing
          numbers assume one pulse per trial);
        - ``cycle_consistency`` of the inferred latents and log-rates (see
          :func:`~dynlens.analysis.metrics.cycle_consistency`; a model whose log-rates are a
          linear, injective readout of its latents, as an SAE's, scores 1 whether trained or not,
          so for it the number is no evidence of learning);
        - ``split``, ``n_trials``.

    Examples
    --------
    >>> import dynlens as dl
    >>> data = dl.simulate("arneodo", n_neurons=5, n_trials=30, n_bins=10, seed=0)
    >>> model = dl.models.SAE(n_neurons=5, latent_dim=3, hidden_size=16, encoder_size=8)
    >>> row = dl.evaluate(model, data)
    >>> sorted(row)  # doctest: +NORMALIZE_WHITESPACE
    ['bps', 'cycle_consistency', 'decode_r2', 'decode_r2_vw', 'n_trials', 'rate_r2',
     'rate_r2_vw', 'split', 'state_r2', 'state_r2_vw']
    """
    check_model(model, needs=["infer"])  # anything that infers can be scored
    if not hasattr(data, "split"):
        raise DynlensTypeError(f"data: expected a NeuralDataset, found {type(data).__name__}")
    split = _split_to_score(data, split)
    mismatch = other_data_message(model, data)
    if mismatch:
        warnings.warn(mismatch, DynlensOtherDataWarning, stacklevel=2)
    part = data.split(split)
    if len(part) == 0:
        raise DynlensValueError(f"split: expected a non-empty split, found 0 trials in {split!r}")
    with ThreadPolicy(threads, work=model_work(model, min(batch_size, len(part)))):
        return _score(model, data, part, split, batch_size)


def _split_to_score(data, split: str | None) -> str:
    """``split`` if the data have it; by default ``"test"``, else ``"valid"``."""
    names = list(getattr(data, "splits", {}))
    if split is None:
        split = next((name for name in ("test", "valid") if name in names), None)
        if split is None:
            raise DynlensValueError(
                f"split: the data have no 'test' or 'valid' split to score by default, only "
                f"{', '.join(map(repr, names)) or 'none'}; pass split='train' to score the "
                f"training trials")
    elif split not in names:
        raise DynlensValueError(
            f"split: expected one of the data's splits {', '.join(map(repr, names))}, found "
            f"{split!r}")
    return split


def _score(model, data, part, split: str, batch_size: int) -> dict[str, Any]:
    inferred = model.infer(part, batch_size=batch_size)
    row: dict[str, Any] = {"split": split, "n_trials": len(part)}
    if part.rates is not None:
        row["rate_r2"] = metrics.rate_r2(part.rates, inferred.rates)
        row["rate_r2_vw"] = metrics.rate_r2(part.rates, inferred.rates, weighting="variance")
    if part.latents is not None and inferred.latents is not None:
        train = data.split("train")
        fitted = model.infer(train, batch_size=batch_size).latents
        for name in ("state_r2", "decode_r2"):
            score = getattr(metrics, name)
            row[name] = score(part.latents, inferred.latents, train.latents, fitted)
            row[f"{name}_vw"] = score(part.latents, inferred.latents, train.latents, fitted,
                                      weighting="variance")
    row.update(_bits_per_spike(part, inferred.rates))
    row.update(_input_recovery(model, part, inferred))
    if inferred.latents is not None:
        row["cycle_consistency"] = metrics.cycle_consistency(inferred.latents, inferred.log_rates)
    return row


def _bits_per_spike(part, rates: np.ndarray) -> dict[str, float]:
    """``bps`` and ``co_bps`` over the bins the model read, ``fp_bps`` over the others."""
    held = np.asarray(part.heldout_neurons, dtype=int)
    heldin = np.setdiff1d(np.arange(part.n_neurons), held)
    n_forward = int(getattr(part, "n_forward", 0))
    seen = slice(0, part.n_bins - n_forward)
    spikes, seen_rates = part.spikes[:, seen], rates[:, seen]
    out = {"bps": metrics.bits_per_spike(spikes[..., heldin], seen_rates[..., heldin])}
    if held.size:
        out["co_bps"] = metrics.co_bps(spikes, seen_rates, held)
    if n_forward:
        out["fp_bps"] = metrics.fp_bps(part.spikes, rates, n_forward)
    return out


def _input_recovery(model, part, inferred) -> dict[str, float]:
    """Inferred against true inputs, when the model inferred them without being given them."""
    inputs = getattr(inferred, "inputs", None)
    if (part.inputs is None or inputs is None or inputs.shape[-1] == 0
            or getattr(model, "n_ext_inputs", 0)):
        return {}
    found = metrics.input_recovery(part.inputs, inputs)
    return {"input_correlation": found["correlation"], "input_lag": found["lag"],
            "input_within_2_bins": found["fraction_within_2_bins"],
            "input_median_bin_error": found["median_pulse_bin_error"]}

"""dl.evaluate: one flat row of every metric the data's truth allows."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dynlens.analysis import metrics
from dynlens.analysis.evaluate import evaluate
from dynlens.data import NeuralDataset, simulate
from dynlens.errors import DynlensTypeError, DynlensValueError
from dynlens.models import SAE, Inference
from dynlens.training import fit

TRUTH_KEYS = {"split", "n_trials", "rate_r2", "rate_r2_vw", "state_r2", "decode_r2",
              "state_r2_vw", "decode_r2_vw", "bps", "cycle_consistency"}


class _Oracle:
    """A 'model' whose inference is the data's own truth, optionally transformed per split."""

    def __init__(self, latent_map=None) -> None:
        self.latent_map = latent_map or (lambda latents, data: latents)

    def infer(self, data, batch_size: int = 512) -> Inference:
        latents = self.latent_map(data.latents, data)
        return Inference(rates=data.rates, log_rates=data.log_rates, latents=latents,
                         initial_conditions=latents[:, 0])


def _assert_finite_row(row) -> None:
    for key, value in row.items():
        if key != "split":
            assert isinstance(value, (int, float)) and math.isfinite(value), key


def _by_hand(model, data, split: str) -> dict:
    """Each metric computed directly from the model's inference: rates and bits per spike on
    ``split``, affine maps fitted on the train split's latents, variance-weighted twins."""
    part, train = data.split(split), data.split("train")
    inferred = model.infer(part)
    row = {}
    if part.rates is not None:
        row["rate_r2"] = metrics.rate_r2(part.rates, inferred.rates)
        row["rate_r2_vw"] = metrics.rate_r2(part.rates, inferred.rates, weighting="variance")
    if part.latents is not None:
        fitted = model.infer(train).latents
        for name in ("state_r2", "decode_r2"):
            score = getattr(metrics, name)
            row[name] = score(part.latents, inferred.latents, train.latents, fitted)
            row[f"{name}_vw"] = score(part.latents, inferred.latents, train.latents, fitted,
                                      weighting="variance")
    row["bps"] = metrics.bits_per_spike(part.spikes, inferred.rates)
    row["cycle_consistency"] = metrics.cycle_consistency(inferred.latents, inferred.log_rates)
    return row


def test_keys_without_heldout_neurons(make_sae, tiny_data):
    model = make_sae("node")
    row = evaluate(model, tiny_data)
    assert set(row) == TRUTH_KEYS
    assert row["split"] == "test" and row["n_trials"] == len(tiny_data.split("test"))
    _assert_finite_row(row)
    expected = _by_hand(model, tiny_data, "test")
    assert {k: row[k] for k in expected} == pytest.approx(expected, rel=1e-12, abs=1e-15)
    # an untrained model: the two weightings of each R2 differ, so each is its own number
    assert row["rate_r2"] != pytest.approx(row["rate_r2_vw"], rel=1e-3)
    assert row["state_r2"] != pytest.approx(row["state_r2_vw"], rel=1e-3)


def test_keys_with_heldout_neurons(make_sae, heldout_data):
    model = make_sae("gru", heldout_neurons=[4, 5])
    row = evaluate(model, heldout_data, split="valid")
    assert set(row) == TRUTH_KEYS | {"co_bps"}
    assert row["split"] == "valid" and row["n_trials"] == len(heldout_data.split("valid"))
    _assert_finite_row(row)
    # bps covers held-in neurons only, co_bps held-out ones only
    valid = heldout_data.split("valid")
    rates = model.infer(valid).rates
    assert row["bps"] == pytest.approx(
        metrics.bits_per_spike(valid.spikes[..., :4], rates[..., :4]), rel=1e-12)
    assert row["co_bps"] == pytest.approx(
        metrics.bits_per_spike(valid.spikes[..., 4:], rates[..., 4:]), rel=1e-12)


def test_keys_without_truth(make_sae, tiny_data):
    spikes_only = NeuralDataset.from_arrays(tiny_data.spikes, splits=tiny_data.splits)
    model = make_sae("gru")
    row = evaluate(model, spikes_only)
    assert set(row) == {"split", "n_trials", "bps", "cycle_consistency"}
    _assert_finite_row(row)
    expected = _by_hand(model, spikes_only, "test")
    assert {k: row[k] for k in expected} == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_a_model_that_infers_the_truth_scores_perfectly(tiny_data):
    row = evaluate(_Oracle(), tiny_data)
    assert row["rate_r2"] == 1.0 and row["rate_r2_vw"] == 1.0
    assert row["state_r2"] == pytest.approx(1.0, abs=1e-9)
    assert row["decode_r2"] == pytest.approx(1.0, abs=1e-9)
    # the simulated log-rates are an injective affine readout of the latents
    assert row["cycle_consistency"] == pytest.approx(1.0, abs=1e-6)
    test = tiny_data.split("test")
    assert row["bps"] == pytest.approx(metrics.bits_per_spike(test.spikes, test.rates), rel=1e-12)


def test_state_r2_is_any_affine_image_of_the_truth(tiny_data):
    mix = np.array([[0.5, -1.0, 0.2, 1.0], [1.5, 0.3, 0.0, -0.2], [0.0, 0.4, -1.1, 0.5]])
    row = evaluate(_Oracle(lambda z, data: z @ mix + 2.0), tiny_data)
    assert row["state_r2"] == pytest.approx(1.0, abs=1e-9)
    assert row["decode_r2"] == pytest.approx(1.0, abs=1e-9)


def test_affine_maps_are_fitted_on_train_and_scored_on_the_split(tiny_data):
    n_train = len(tiny_data.split("train"))
    flip = np.diag([-1.0, 1.0, 1.0])
    # train trials are mapped one way, every other split another: only a map fitted on train
    # and scored elsewhere can notice
    oracle = _Oracle(lambda z, data: z if len(data) == n_train else z @ flip)
    row = evaluate(oracle, tiny_data, split="test")
    assert row["state_r2"] < 0.8 and row["decode_r2"] < 0.8
    assert evaluate(oracle, tiny_data, split="train")["state_r2"] == pytest.approx(1.0, abs=1e-9)


def test_a_short_fit_improves_the_scores():
    data = simulate("arneodo", n_neurons=10, n_trials=40, n_bins=15, mean_rate=5.0, seed=0)
    torch.manual_seed(0)
    model = SAE(n_neurons=10, latent_dim=3, generator="gru", encoder_size=8)
    before = evaluate(model, data)
    fit(model, data, max_epochs=30, bins_per_group=0, warmup_epochs=0, batch_size=16,
        progress=False)
    after = evaluate(model, data)
    assert after["rate_r2"] > before["rate_r2"] + 0.3
    assert after["bps"] > before["bps"] + 0.5


def test_bad_arguments(make_sae, tiny_data):
    with pytest.raises(DynlensTypeError, match=r"^model:"):
        evaluate(object(), tiny_data)
    with pytest.raises(DynlensTypeError, match=r"^data:"):
        evaluate(make_sae("gru"), tiny_data.spikes)
    with pytest.raises(DynlensValueError, match="tset"):
        evaluate(make_sae("gru"), tiny_data, split="tset")
    with pytest.raises(DynlensValueError, match=r"^data:"):
        evaluate(make_sae("gru", n_neurons=5), tiny_data)


def test_default_split_is_test_else_valid_as_in_lfads_files(make_sae, tiny_data, tmp_path):
    from dynlens.data import read_lfads_h5, write_lfads_h5

    model = make_sae("gru")
    assert evaluate(model, tiny_data)["split"] == "test"
    path = tmp_path / "lfads.h5"
    write_lfads_h5(tiny_data, path)
    lfads = read_lfads_h5(path)
    lfads_splits = {name: idx for name, idx in lfads.splits.items() if name != "test"}
    lfads = NeuralDataset.from_arrays(lfads.spikes, rates=lfads.rates, latents=lfads.latents,
                                      splits=lfads_splits)  # as LFADS's own files: no test
    row = evaluate(model, lfads)
    assert row["split"] == "valid" and row["n_trials"] == len(lfads_splits["valid"])
    train_only = NeuralDataset.from_arrays(tiny_data.spikes, splits={"train": np.arange(24)})
    with pytest.raises(DynlensValueError, match=r"^split: the data have no 'test' or 'valid' "
                                                r"split .* only 'train'; pass split='train'"):
        evaluate(model, train_only)
    with pytest.raises(DynlensValueError, match=r"^split: expected one of the data's splits "
                                                r"'train', 'valid', found 'test'"):
        evaluate(model, lfads, split="test")

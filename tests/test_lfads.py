"""LFADS: shapes, its loss terms against hand computations, inference, training, checkpoints,
and its generator opened like any other Dynamics."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

import dynlens as dl
from dynlens.errors import DynlensError, DynlensUnsafeCheckpointError
from dynlens.models import LFADS, AR1Prior
from dynlens.models.lfads_parts import gaussian_kl

SMALL = {"ic_dim": 4, "n_factors": 3, "ic_enc_dim": 8, "gen_dim": 10, "ci_enc_dim": 6,
         "con_dim": 6}


def small_lfads(n_neurons: int = 6, seed: int = 0, **kwargs) -> LFADS:
    torch.manual_seed(seed)
    return LFADS(n_neurons, **{**SMALL, **kwargs})


@pytest.mark.parametrize("co_dim", [0, 2])
def test_shapes_of_every_output(co_dim):
    model = small_lfads(co_dim=co_dim)
    out = model(torch.poisson(torch.ones(3, 11, 6)))
    assert out["log_rates"].shape == (3, 11, 6)
    assert out["factors"].shape == (3, 11, 3) and out["states"].shape == (3, 11, 10)
    assert out["ic_mean"].shape == out["ic_var"].shape == (3, 4)
    assert ("inputs" in out) == bool(co_dim)
    if co_dim:
        assert out["inputs"].shape == out["co_mean"].shape == (3, 11, 2)
    assert model.dynamics.kind == "discrete" and model.dynamics.dim == 10


def test_factor_map_rows_have_unit_norm_and_no_bias():
    model = small_lfads().eval()
    states = torch.randn(5, 10)
    factors = model.factors_of(states)
    weight = model.factor_weight / model.factor_weight.norm(dim=1, keepdim=True)
    torch.testing.assert_close(factors, states @ weight.T)
    torch.testing.assert_close(model.factors_of(torch.zeros(1, 10)), torch.zeros(1, 3))


def test_without_a_controller_there_are_no_controller_parameters():
    names = [n for n, _ in small_lfads(co_dim=0).named_parameters()]
    assert not [n for n in names if n.split(".")[0] in ("ci_encoder", "controller", "to_co",
                                                          "co_prior")]
    assert any(n.startswith("controller.") for n, _ in small_lfads(co_dim=1).named_parameters())


def test_gaussian_kl_matches_the_closed_form():
    m, v, pm, pv = 0.3, 0.2, -0.1, 0.5
    expected = 0.5 * (math.log(pv / v) + (v + (m - pm) ** 2) / pv - 1)
    assert float(gaussian_kl(torch.tensor(m), torch.tensor(v), pm, pv)) == pytest.approx(expected)


def test_ar1_prior_kl_matches_a_hand_computation():
    prior = AR1Prior(co_dim=1, tau=4.0, nvar=0.2)
    mean = torch.tensor([[[0.5], [-0.2], [0.1]]])
    var = torch.tensor([[[0.3], [0.1], [0.05]]])
    samples = torch.tensor([[[0.4], [-0.3], [0.2]]])
    a, q = math.exp(-1 / 4.0), 0.2
    stationary = q / (1 - a * a)

    def kl(m, v, pm, pv):
        return 0.5 * (math.log(pv / v) + (v + (m - pm) ** 2) / pv - 1)

    expected = (kl(0.5, 0.3, 0.0, stationary) + kl(-0.2, 0.1, a * 0.4, q)
                + kl(0.1, 0.05, a * -0.3, q))
    assert prior.kl(mean, var, samples)[0].item() == pytest.approx(expected, rel=1e-6)


def test_kl_terms_are_non_negative_and_ramped_in_training_and_full_in_eval():
    model = small_lfads(co_dim=1, kl_ramp_epochs=4, l2_ramp_epochs=2).train()
    batch = torch.poisson(torch.ones(4, 9, 6))
    weights = [model.loss(batch, epoch=e).terms for e in (0, 2, 4, 9)]
    assert [w["kl_weight"] for w in weights] == [0.0, 0.5, 1.0, 1.0]
    assert [w["l2_weight"] for w in weights] == [0.0, 1.0, 1.0, 1.0]
    assert all(w["kl_ic"] >= 0 and w["kl_co"] >= 0 and w["l2"] > 0 for w in weights)
    model.eval()
    terms = model.loss(batch, epoch=0).terms
    assert terms["kl_weight"] == terms["l2_weight"] == 1.0
    total = model.loss(batch, epoch=0)
    expected = terms["recon"] + terms["kl_ic"] + terms["kl_co"] + terms["l2"]
    assert total.total.item() == pytest.approx(expected, rel=1e-5)


def _tiny_history(data, **kwargs):
    """A short seeded fit of a small LFADS with a controller (the KL at full weight from epoch
    2): its history, without the wall time."""
    model = small_lfads(co_dim=1, kl_ramp_epochs=2, **kwargs)
    history = dl.fit(model, data, max_epochs=4, progress=False, threads=1, seed=0)
    return history.drop(columns="seconds")


def test_kl_scales_of_one_train_exactly_as_without_them(tiny_data):
    # the scales multiply after the KL terms are formed: a scale of 1 is exact in floating
    # point, so the defaults train bit for bit as before the scales existed
    default = _tiny_history(tiny_data)
    explicit = _tiny_history(tiny_data, kl_ic_scale=1.0, kl_co_scale=1.0)
    pd.testing.assert_frame_equal(default, explicit, check_exact=True)
    assert not _tiny_history(tiny_data, kl_co_scale=1.5).equals(default)


@pytest.mark.parametrize("scale", [0.0, 2.0])
def test_the_kl_co_scale_weighs_the_controllers_kl_in_the_loss(tiny_data, scale):
    history = _tiny_history(tiny_data, kl_co_scale=scale)
    weight = history["train_kl_weight"]
    assert (history["train_kl_co"] > 0).all() and weight.iloc[-1] == 1
    # every epoch's loss is the mean of its batches' losses, and so are the terms
    kl = history["train_kl_ic"] + scale * history["train_kl_co"]
    expected = (history["train_recon"] + weight * kl
                + history["train_l2_weight"] * history["train_l2"])
    np.testing.assert_allclose(history["train_loss"], expected, rtol=1e-5)
    # and on one batch, the same weights: scale 0 leaves the AR(1) prior without a gradient
    batch = torch.poisson(torch.ones(4, 9, 6))
    totals = {}
    for s in (0.0, 1.0, scale):
        model = small_lfads(co_dim=1, kl_ramp_epochs=0, kl_co_scale=s).eval()
        out = model.loss(batch)
        out.total.backward()
        totals[s] = out.total.item()
        prior_moves = bool(model.co_prior.log_tau.grad.abs().sum() > 0)
        assert prior_moves == (s > 0)
    assert totals[scale] - totals[0.0] == pytest.approx(scale * out.terms["kl_co"], rel=1e-5)
    assert totals[1.0] - totals[0.0] == pytest.approx(out.terms["kl_co"], rel=1e-5)


def test_kl_scales_are_set_from_the_command_line(tiny_data, tmp_path):
    """`--set` reaches every LFADSConfig field (the CLI reads the family's own options)."""
    from dynlens.app.cli import main

    tiny_data.save(tmp_path / "data.h5")
    sizes = [f"--set={k}={v}" for k, v in SMALL.items()]
    assert main(["train", str(tmp_path / "data.h5"), "--out", str(tmp_path / "m.pt"),
                 "--model", "lfads", "--set", "kl_co_scale=0.25", "--set", "kl_ic_scale=0",
                 *sizes, "--max-epochs", "1", "--threads", "1", "--quiet"]) == 0
    config = dl.load_model(tmp_path / "m.pt").config
    assert (config.kl_co_scale, config.kl_ic_scale, config.gen_dim) == (0.25, 0.0, 10)


def test_coordinated_dropout_scores_only_the_hidden_entries_and_the_heldout_neurons():
    model = small_lfads(heldout_neurons=[5]).train()
    spikes = torch.poisson(torch.full((2, 4, 6), 2.0))
    log_rates = torch.randn(2, 4, 6, requires_grad=True)
    mask = torch.zeros(2, 4, 5, dtype=torch.bool)
    mask[0, 1, 2] = mask[1, 3, 0] = True
    model.reconstruction(log_rates, spikes, mask).backward()
    scored = log_rates.grad != 0
    expected = torch.zeros(2, 4, 6, dtype=torch.bool)
    expected[0, 1, 2] = expected[1, 3, 0] = True
    expected[..., 5] = True  # held-out neurons are always scored
    assert torch.equal(scored, expected)


def test_coordinated_dropout_hides_the_entries_from_the_encoders():
    model = small_lfads(co_dim=1, dropout=0.0, cd_rate=0.5).eval()
    spikes = torch.poisson(torch.full((1, 6, 6), 2.0))
    mask = torch.zeros(1, 6, 6, dtype=torch.bool)
    mask[0, 2, 3] = True
    changed = spikes.clone()
    changed[0, 2, 3] += 5  # a hidden entry: the encoders must not see it
    a = model(spikes, cd_mask=mask)["log_rates"]
    b = model(changed, cd_mask=mask)["log_rates"]
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize("causal", [False, True])
def test_a_causal_controller_infers_inputs_from_earlier_spikes_only(causal):
    model = small_lfads(co_dim=1, dropout=0.0, ci_lag=2, causal_controller=causal).eval()
    with torch.no_grad():  # an initial condition that reads no spikes: only the controller does
        model.ic_encoder.to_ic.weight.zero_()
    spikes = torch.poisson(torch.full((1, 12, 6), 2.0))
    changed = spikes.clone()
    changed[0, 7:] += 3  # bins 7 on: with lag 2, inputs up to bin 8 cannot see them
    a, b = (model(x)["inputs"][0, :, 0] for x in (spikes, changed))
    assert torch.equal(a[:9], b[:9]) == causal  # a bidirectional encoder sees them at once
    assert not torch.equal(a[9:], b[9:])
    assert model.ci_encoder.bidirectional != causal


def test_posterior_mean_inference_is_deterministic_and_sampling_is_not(tiny_data):
    model = small_lfads(co_dim=1)
    first, second = model.infer(tiny_data), model.infer(tiny_data)
    np.testing.assert_array_equal(first.rates, second.rates)
    np.testing.assert_array_equal(first.inputs, second.inputs)
    sampled = [model.infer(tiny_data, n_samples=2).rates for _ in range(2)]
    assert not np.array_equal(sampled[0], sampled[1])
    assert first.latents.shape == (24, 12, 10) and first.factors.shape == (24, 12, 3)
    assert first.initial_conditions.shape == first.extras["ic_std"].shape == (24, 4)
    assert first.inputs.shape == (24, 12, 1)
    assert model.training  # restored


def test_a_tiny_fit_lowers_the_validation_loss_and_records_the_terms(tiny_data):
    model = small_lfads(co_dim=1, kl_ramp_epochs=3)
    history = dl.fit(model, tiny_data, max_epochs=12, progress=False, threads=1)
    assert {"train_recon", "train_kl_ic", "train_kl_co", "train_l2", "train_kl_weight"} <= \
        set(history.columns)
    assert history["valid_loss"].min() < history["valid_loss"].iloc[0]
    assert history["train_kl_weight"].iloc[0] == 0 and history["train_kl_weight"].iloc[-1] == 1
    row = dl.evaluate(model, tiny_data)
    assert {"rate_r2", "state_r2", "bps"} <= set(row)


def test_checkpoint_round_trip_gives_the_same_outputs(tiny_data, tmp_path):
    model = small_lfads(co_dim=1, heldout_neurons=[5], cd_rate=0.2)
    model.save(tmp_path / "lfads.pt")
    loaded = dl.load_model(tmp_path / "lfads.pt")
    assert type(loaded) is LFADS and loaded.config == model.config
    np.testing.assert_array_equal(loaded.infer(tiny_data).rates, model.infer(tiny_data).rates)


def test_a_pickled_lfads_is_refused(tmp_path):
    torch.save({"format": "dynlens-checkpoint", "model": small_lfads()}, tmp_path / "x.pt")
    with pytest.raises(DynlensUnsafeCheckpointError):
        dl.load_model(tmp_path / "x.pt")


def test_generator_jacobian_is_exact_with_and_without_input():
    gen = small_lfads(co_dim=2).dynamics
    x, u = torch.randn(3, 10), torch.randn(3, 2)
    for inp in (None, u):
        auto = torch.func.vmap(torch.func.jacrev(
            lambda z, v: gen(z[None], None if v is None else v[None])[0]),
            in_dims=(0, None if inp is None else 0))(x, inp)
        torch.testing.assert_close(gen.jacobian(x, inp), auto, atol=1e-5, rtol=1e-5)


def test_fixed_points_of_a_trained_generator_with_and_without_a_constant_input(tiny_data):
    model = small_lfads(co_dim=1)
    dl.fit(model, tiny_data, max_epochs=5, progress=False, threads=1)
    latents = model.infer(tiny_data).latents
    free = dl.find_fixed_points(model.dynamics, latents, n_inits=64, progress=False)
    driven = dl.find_fixed_points(model.dynamics, latents, n_inits=64, inputs=[0.3],
                                  progress=False)
    assert len(free) >= 1 and len(driven) >= 1
    assert np.all(free.q <= free.info["tol_q"]) and np.all(driven.q <= driven.info["tol_q"])
    step = model.dynamics(torch.as_tensor(driven.xstar, dtype=torch.float32),
                          torch.full((len(driven), 1), 0.3))
    np.testing.assert_allclose(step.detach().numpy(), driven.xstar, atol=1e-3)
    assert not np.allclose(free.xstar[0], driven.xstar[0], atol=1e-3)


def test_external_inputs_are_required_from_the_data_and_used(tiny_data):
    inputs = np.zeros((tiny_data.n_trials, tiny_data.n_bins, 2), dtype=np.float32)
    inputs[:, 3] = 1.0
    with_inputs = dl.NeuralDataset.from_arrays(tiny_data.spikes, inputs=inputs,
                                               splits=tiny_data.splits)
    model = small_lfads(co_dim=0, ext_input_dim=2)
    with pytest.raises(DynlensError, match="data: the model takes 2 external input"):
        dl.fit(model, tiny_data, max_epochs=1, progress=False)
    with pytest.raises(DynlensError, match="data: the model takes 2 external input"):
        model.infer(tiny_data)
    dl.fit(model, with_inputs, max_epochs=2, progress=False, threads=1)
    driven = model.infer(with_inputs).rates
    inputs[:, 3] = 0.0
    still = model.infer(dl.NeuralDataset.from_arrays(tiny_data.spikes, inputs=inputs)).rates
    assert not np.allclose(driven[:, 4:], still[:, 4:])
    np.testing.assert_allclose(driven[:, :3], still[:, :3])


def test_evaluate_scores_inferred_inputs_only_where_the_model_infers_them():
    data = dl.simulate("chaotic_rnn", n_neurons=6, n_trials=20, n_bins=16, input_pulse=20.0)
    model = small_lfads(co_dim=1)
    row = dl.evaluate(model, data, threads=1)
    test = data.split("test")
    expected = dl.analysis.metrics.input_recovery(test.inputs, model.infer(test).inputs)
    assert row["input_correlation"] == pytest.approx(expected["correlation"])
    assert row["input_lag"] == expected["lag"]
    assert row["input_within_2_bins"] == expected["fraction_within_2_bins"]
    assert row["input_median_bin_error"] == expected["median_pulse_bin_error"]
    # no controller: nothing inferred; given the inputs: nothing to recover
    for other in (small_lfads(co_dim=0), small_lfads(co_dim=1, ext_input_dim=1)):
        assert not any(key.startswith("input_") for key in dl.evaluate(other, data, threads=1))


@pytest.mark.parametrize("kwargs, name", [
    ({"gen_dim": 0}, "gen_dim"), ({"n_factors": -1}, "n_factors"),
    ({"co_dim": -1}, "co_dim"), ({"cd_rate": 1.0}, "cd_rate"),
    ({"heldout_neurons": [6]}, "heldout_neurons"), ({"colour": 1}, "unexpected keyword"),
    ({"causal_controller": "yes"}, "causal_controller"),
    ({"kl_co_scale": -0.5}, "kl_co_scale: expected a finite number >= 0, found -0.5"),
    ({"kl_ic_scale": float("inf")}, "kl_ic_scale: expected a finite number >= 0"),
    ({"kl_ic_scale": "1"}, "kl_ic_scale: expected a number >= 0, found '1'"),
])
def test_bad_settings_are_refused_naming_the_argument(kwargs, name):
    with pytest.raises(DynlensError, match=name):
        small_lfads(**kwargs)


def test_bad_data_and_sample_counts_are_refused(tiny_data):
    model = small_lfads()
    with pytest.raises(DynlensError, match=r"data: expected spike counts of shape \[trials, "
                                           r"bins, 6\]"):
        model.infer(np.zeros((2, 5, 4)))
    with pytest.raises(DynlensError, match="n_samples"):
        model.infer(tiny_data, n_samples=0)
    with pytest.raises(DynlensError, match="spikes: expected shape"):
        model(torch.zeros(2, 5, 4))

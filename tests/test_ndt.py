"""The Neural Data Transformer: shapes, masked modelling, the attention band, training,
checkpoints, and a clear answer when asked for dynamics it does not have."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dynlens as dl
from dynlens.errors import DynlensError, DynlensNoDynamicsError
from dynlens.models import NDT

SMALL = {"n_layers": 2, "n_heads": 1, "ff_dim": 16}


def small_ndt(n_neurons: int = 6, seed: int = 0, **kwargs) -> NDT:
    torch.manual_seed(seed)
    return NDT(n_neurons, **{**SMALL, **kwargs})


@pytest.mark.parametrize("kwargs, latent", [({}, 6), ({"latent_dim": 3}, 3),
                                            ({"d_model": 8, "n_heads": 2}, 8)])
def test_shapes(kwargs, latent):
    out = small_ndt(**kwargs)(torch.poisson(torch.ones(2, 9, 6)))
    assert out["log_rates"].shape == (2, 9, 6) and out["latents"].shape == (2, 9, latent)


def test_the_mask_hides_the_requested_fraction_of_bins():
    model = small_ndt(mask_ratio=0.3)
    hidden = model.sample_mask(500, 40, torch.device("cpu"))
    assert (hidden.sum(1) == 12).all()  # 0.3 x 40 distinct bins in every trial
    spans = small_ndt(mask_ratio=0.3, mask_span=4).sample_mask(500, 40, torch.device("cpu"))
    assert abs(float(spans.float().mean()) - 0.3) < 0.08
    runs = (spans[:, 1:] & ~spans[:, :-1]).sum(1) + spans[:, 0]
    assert float(spans.sum(1).float().mean() / runs.float().mean()) > 1.5  # runs, not bins


def test_the_loss_scores_hidden_bins_and_heldout_neurons_only():
    model = small_ndt(heldout_neurons=[5], n_heads=5)
    spikes = torch.poisson(torch.full((2, 6, 6), 2.0))
    log_rates = torch.randn(2, 6, 6)
    hidden = torch.zeros(2, 6, dtype=torch.bool)
    hidden[0, 2] = hidden[1, 4] = True
    base = model.reconstruction(log_rates, spikes, hidden)
    for trial, t, neuron, scored in [(0, 3, 1, False), (0, 2, 1, True), (1, 0, 5, True)]:
        changed = spikes.clone()
        changed[trial, t, neuron] += 3
        moved = not torch.allclose(model.reconstruction(log_rates, changed, hidden), base)
        assert moved == scored, (trial, t, neuron)


def test_hidden_bins_are_not_seen_by_the_model():
    model = small_ndt().eval()
    spikes = torch.poisson(torch.full((1, 8, 6), 2.0))
    hidden = torch.zeros(1, 8, dtype=torch.bool)
    hidden[0, 3] = True
    changed = spikes.clone()
    changed[0, 3] += 4
    torch.testing.assert_close(model(spikes, hidden)["log_rates"],
                               model(changed, hidden)["log_rates"])


def test_a_bin_outside_the_attention_band_cannot_change_an_output():
    # two layers of +-1 bin: bin 5 can see bins 3..7, not 8
    model = small_ndt(context_backward=1, context_forward=1, positions="sinusoidal").eval()
    spikes = torch.poisson(torch.full((1, 12, 6), 2.0))
    base = model(spikes)["log_rates"][0, 5]
    far, near = spikes.clone(), spikes.clone()
    far[0, 8] += 5
    near[0, 7] += 5
    torch.testing.assert_close(model(far)["log_rates"][0, 5], base)
    assert not torch.allclose(model(near)["log_rates"][0, 5], base)


def test_validation_loss_is_reproducible_and_training_masks_vary():
    model = small_ndt()
    batch = torch.poisson(torch.ones(4, 10, 6))
    model.eval()
    assert model.loss(batch).total.item() == model.loss(batch).total.item()
    model.train()
    torch.manual_seed(1)
    first = model.sample_mask(4, 10, torch.device("cpu"))
    assert not torch.equal(first, model.sample_mask(4, 10, torch.device("cpu")))


def test_a_tiny_fit_lowers_the_loss_and_evaluates_on_bottleneck_latents(heldout_data, tmp_path):
    model = small_ndt(latent_dim=3, heldout_neurons=heldout_data.heldout_neurons, n_heads=2,
                      dropout_embedding=0.0, dropout_attention=0.0, dropout_rates=0.0)
    history = dl.fit(model, heldout_data, max_epochs=25, progress=False, threads=1, lr=1e-2)
    assert history["valid_loss"].min() < history["valid_loss"].iloc[0]
    assert "train_masked_fraction" in history.columns
    row = dl.evaluate(model, heldout_data)
    assert {"rate_r2", "state_r2", "decode_r2", "bps", "co_bps"} <= set(row)
    model.save(tmp_path / "ndt.pt")
    loaded = dl.load_model(tmp_path / "ndt.pt")
    assert type(loaded) is NDT and loaded.config == model.config
    np.testing.assert_array_equal(loaded.infer(heldout_data).rates,
                                  model.infer(heldout_data).rates)


def test_asking_an_ndt_for_dynamics_says_why_there_are_none():
    model = small_ndt()
    with pytest.raises(DynlensNoDynamicsError, match="transformer without a generator"):
        dl.find_fixed_points(model.dynamics, np.zeros((4, 6)))
    with pytest.raises(DynlensNoDynamicsError, match="transformer without a generator"):
        dl.find_fixed_points(model, np.zeros((4, 6)))
    with pytest.raises(DynlensError, match="pass its generator, model.dynamics"):
        dl.find_fixed_points(dl.models.SAE(n_neurons=4), np.zeros((4, 3)))


@pytest.mark.parametrize("kwargs, name", [
    ({"context_backward": -1}, "context_backward"), ({"context_forward": 1.5}, "context_forward"),
    ({"mask_ratio": 0.0}, "mask_ratio"), ({"mask_ratio": 1.0}, "mask_ratio"),
    ({"n_heads": 4}, "n_heads"), ({"d_model": 10, "n_heads": 3}, "n_heads"),
    ({"positions": "rotary"}, "positions"), ({"latent_layer": 2}, "latent_layer"),
    ({"depth": 3}, "unexpected keyword"),
])
def test_bad_settings_are_refused_naming_the_argument(kwargs, name):
    with pytest.raises(DynlensError, match=name):
        small_ndt(**kwargs)


def test_bad_data_is_refused(tiny_data):
    with pytest.raises(DynlensError, match=r"data: expected spike counts of shape"):
        small_ndt().infer(np.zeros((2, 5, 4)))
    with pytest.raises(DynlensError, match="max_bins"):
        small_ndt(max_bins=4)(torch.zeros(1, 5, 6))


# ---------------------------------------------------------------- the inference path
def test_the_band_mask_is_built_once_and_training_can_use_what_inference_built():
    model = small_ndt(n_heads=2, context_backward=2, context_forward=1)
    spikes = torch.poisson(torch.ones(3, 10, 6))
    model.infer(spikes.numpy(), threads=1)  # builds the mask inside torch.inference_mode
    mask = model.attention_mask(10, torch.device("cpu"))
    assert mask is model.attention_mask(10, torch.device("cpu"))  # cached, not rebuilt
    assert mask[5, 3] == 0 and mask[5, 6] == 0  # 2 back, 1 ahead: inside the band
    assert mask[5, 2] == float("-inf") and mask[5, 7] == float("-inf")
    model.train()
    model.loss(spikes).total.backward()  # an inference tensor here would raise
    assert model.readout.weight.grad is not None


def test_the_layers_give_the_same_outputs_with_and_without_the_fused_kernel():
    model = small_ndt(n_heads=2, context_backward=3, context_forward=3).eval()
    spikes = torch.poisson(torch.ones(4, 12, 6))
    with torch.inference_mode():
        ours = model(spikes)["log_rates"]
        model.cpu_fast_path = True
        fused = model(spikes)["log_rates"]
    torch.testing.assert_close(ours, fused, rtol=1e-5, atol=1e-5)
    assert torch.backends.mha.get_fastpath_enabled()  # the global switch is left as it was


def test_infer_restores_every_modules_own_mode():
    model = small_ndt()
    model.train()
    model.readout.eval()  # a mixed state: kept exactly
    model.infer(np.ones((2, 5, 6)), threads=1)
    assert model.training and model.layers[0].training and not model.readout.training
    model.eval()
    model.infer(np.ones((2, 5, 6)), threads=1)
    assert not any(m.training for m in model.modules())

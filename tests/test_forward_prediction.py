"""Forward-prediction bins as the Neural Latents Benchmark defines them: simulated, kept by
the dataset and its files, never read by a model, always in its loss, scored by fp-bps."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
from scipy.stats import poisson

import dynlens as dl
from dynlens.errors import DynlensError
from dynlens.models import LFADS, NDT, SAE, Inference

N_BINS, N_FORWARD = 10, 4
LFADS_SMALL = {"ic_dim": 4, "n_factors": 3, "ic_enc_dim": 8, "gen_dim": 10, "ci_enc_dim": 8,
               "con_dim": 8}
BUILDERS = {
    "sae-gru": lambda **kw: SAE(generator="gru", latent_dim=3, encoder_size=8, **kw),
    "sae-node": lambda **kw: SAE(generator="node", latent_dim=3, hidden_size=16,
                                 encoder_size=8, **kw),
    "lfads": lambda **kw: LFADS(co_dim=1, **LFADS_SMALL, **kw),
    "lfads-no-controller": lambda **kw: LFADS(co_dim=0, **LFADS_SMALL, **kw),
    "ndt": lambda **kw: NDT(n_layers=2, n_heads=1, ff_dim=16, **kw),
}


@pytest.fixture(scope="module")
def forward_data():
    """Arneodo, 6 neurons (2 held out), 24 trials x (10 + 4 forward) bins. Do not mutate."""
    return dl.simulate("arneodo", n_neurons=6, n_trials=24, n_bins=N_BINS, n_heldout=2,
                       n_forward=N_FORWARD, seed=0)


def build(name: str, seed: int = 0, **kwargs):
    torch.manual_seed(seed)
    kwargs.setdefault("n_neurons", 6)
    return BUILDERS[name](**kwargs)


# ---------------------------------------------------------------- data
def test_simulate_adds_the_forward_bins_after_the_requested_ones():
    data = dl.simulate("lorenz", n_neurons=4, n_trials=6, n_bins=N_BINS, n_forward=N_FORWARD,
                       seed=1)
    plain = dl.simulate("lorenz", n_neurons=4, n_trials=6, n_bins=N_BINS, seed=1)
    assert data.spikes.shape == (6, N_BINS + N_FORWARD, 4) and data.n_forward == N_FORWARD
    assert data.n_input_bins == N_BINS and plain.n_forward == 0
    assert data.metadata["n_bins"] == N_BINS and data.metadata["n_forward"] == N_FORWARD
    assert "forward 4" in repr(data) and "forward" not in repr(plain)


def test_no_forward_bins_simulates_exactly_what_it_did_before():
    # n_forward=0 must not move any random stream: the same arrays as a call without it
    a = dl.simulate("chaotic_rnn", n_neurons=5, n_trials=4, n_bins=20, input_pulse=20.0)
    b = dl.simulate("chaotic_rnn", n_neurons=5, n_trials=4, n_bins=20, input_pulse=20.0,
                    n_forward=0)
    np.testing.assert_array_equal(a.spikes, b.spikes)
    assert a.metadata["pulse_bins"] == b.metadata["pulse_bins"]


def test_input_pulses_fall_before_the_forward_bins():
    data = dl.simulate("chaotic_rnn", n_neurons=5, n_trials=200, n_bins=8, n_forward=12,
                       input_pulse=20.0, seed=2)
    bins = np.asarray(data.metadata["pulse_bins"])
    assert bins.min() >= 2 and bins.max() < 6  # [T/4, 3T/4) of the 8 input bins
    assert data.inputs.shape == (200, 20, 1)


def test_splits_indexing_and_from_arrays_keep_n_forward(forward_data):
    assert forward_data.split("train").n_forward == N_FORWARD
    assert forward_data[:3].n_forward == N_FORWARD
    made = dl.NeuralDataset.from_arrays(forward_data.spikes, n_forward=2)
    assert made.n_forward == 2 and made.n_input_bins == N_BINS + N_FORWARD - 2


@pytest.mark.parametrize("suffix", [".h5", ".npz"])
def test_files_keep_n_forward_and_mark_their_version(tmp_path, forward_data, suffix):
    path = tmp_path / f"data{suffix}"
    forward_data.save(path)
    back = dl.load_dataset(path)
    assert back.n_forward == N_FORWARD
    np.testing.assert_array_equal(back.spikes, forward_data.spikes)
    if suffix == ".h5":  # version 2: a reader without forward bins refuses the file
        with h5py.File(path, "r") as f:
            assert f.attrs["format_version"] == 2
    plain = dl.NeuralDataset.from_arrays(forward_data.spikes)
    plain.save(path)
    assert dl.load_dataset(path).n_forward == 0


@pytest.mark.parametrize("layout", ["lfads", "lfads_torch"])
def test_lfads_files_keep_the_forward_bins_out_of_the_encoder_input(tmp_path, forward_data,
                                                                   layout):
    path = tmp_path / "lfads.h5"
    dl.data.write_lfads_h5(forward_data, path, layout=layout)
    back = dl.data.read_lfads_h5(path)
    assert back.n_forward == N_FORWARD
    np.testing.assert_array_equal(back.spikes, forward_data.spikes)
    if layout == "lfads_torch":  # the encoder's data stop before the forward bins
        with h5py.File(path, "r") as f:
            assert f["train_encod_data"].shape[1] == N_BINS
            assert f["train_recon_data"].shape[1] == N_BINS + N_FORWARD


@pytest.mark.parametrize("bad", [-1, 14, 20, 1.5, True, "2"])
def test_bad_n_forward_is_refused_everywhere(forward_data, bad):
    with pytest.raises(DynlensError, match="^n_forward:"):
        dl.NeuralDataset.from_arrays(forward_data.spikes, n_forward=bad)
    if bad not in (14, 20):  # a model cannot know the trial length
        with pytest.raises(DynlensError, match="^n_forward:"):
            build("sae-gru", n_forward=bad)
        with pytest.raises(DynlensError, match="^n_forward:"):
            build("ndt", n_forward=bad)
        with pytest.raises(DynlensError, match="^n_forward:"):
            build("lfads", n_forward=bad)
        with pytest.raises(DynlensError, match="^n_forward:"):
            dl.simulate("lorenz", n_neurons=3, n_trials=4, n_bins=5, n_forward=bad)


def test_a_trial_no_longer_than_its_forward_bins_is_refused():
    model = build("ndt", n_forward=5).eval()
    with pytest.raises(DynlensError, match="^spikes: expected more bins than the 5"):
        model(torch.zeros(1, 5, 6))


# ---------------------------------------------------------------- models
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_forward_bins_spikes_never_change_a_models_outputs(name, forward_data):
    model = build(name, heldout_neurons=[4, 5], n_forward=N_FORWARD).eval()
    spikes = torch.as_tensor(forward_data.spikes[:3], dtype=torch.float32)
    changed = spikes.clone()
    changed[:, N_BINS:] = torch.poisson(torch.full_like(changed[:, N_BINS:], 5.0))
    out, out_changed = model(spikes), model(changed)
    assert out["log_rates"].shape == spikes.shape  # rates of every bin and neuron
    for key in out:  # rates, latents or states and factors, initial conditions, inputs
        torch.testing.assert_close(out[key], out_changed[key], rtol=0, atol=0)
    earlier = spikes.clone()
    earlier[:, N_BINS - 1] += 3  # the last input bin does reach the outputs
    assert not torch.allclose(model(earlier)["log_rates"], out["log_rates"])


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_infer_follows_the_datas_forward_bins(name, forward_data):
    model = build(name, heldout_neurons=[4, 5])  # n_forward unset: infer takes the data's
    part = forward_data[:3]
    changed = dl.NeuralDataset.from_arrays(part.spikes.copy(), heldout_neurons=[4, 5],
                                           n_forward=N_FORWARD)
    changed.spikes[:, N_BINS:] += 4
    a, b = model.infer(part, threads=1), model.infer(changed, threads=1)
    np.testing.assert_array_equal(a.rates, b.rates)
    assert a.rates.shape == part.spikes.shape


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_forward_bins_are_always_in_the_loss(name, forward_data):
    model = build(name, heldout_neurons=[4, 5], n_forward=N_FORWARD)
    spikes = torch.as_tensor(forward_data.spikes[:4], dtype=torch.float32)
    changed = spikes.clone()
    changed[:, -1, 0] += 5  # a held-in neuron in the last forward bin: a target, never input

    def loss(batch):
        torch.manual_seed(3)  # the same masks, dropout and posterior samples for both
        return model.loss(batch).total.item()

    for mode in (model.train, model.eval):
        mode()
        assert loss(changed) != loss(spikes)


def test_masks_and_coordinated_dropout_are_drawn_among_the_input_bins_only():
    ndt = build("ndt", n_forward=N_FORWARD, mask_ratio=0.5)
    spikes = torch.poisson(torch.ones(3, N_BINS + N_FORWARD, 6))
    torch.manual_seed(0)
    assert ndt.loss(spikes).terms["masked_fraction"] == pytest.approx(0.5)  # of 10 bins
    lfads = build("lfads", n_forward=N_FORWARD, cd_rate=0.5)
    lfads.train()
    assert lfads.loss(spikes).total.isfinite()


def test_lfads_runs_the_generator_on_without_inferred_inputs(forward_data):
    model = build("lfads", n_forward=N_FORWARD).eval()
    out = model(torch.as_tensor(forward_data.spikes[:2], dtype=torch.float32))
    assert out["inputs"].shape == (2, N_BINS + N_FORWARD, 1)
    assert torch.count_nonzero(out["inputs"][:, N_BINS:]) == 0
    assert out["co_mean"].shape[1] == N_BINS  # the controller's posterior: input bins only


# ---------------------------------------------------------------- fit, checkpoints, infer
def test_fit_takes_the_datas_forward_bins_and_checkpoints_keep_them(tmp_path, forward_data):
    model = build("sae-gru", heldout_neurons=[4, 5])
    assert model.config.n_forward is None
    history = dl.fit(model, forward_data, max_epochs=4, bins_per_group=5, epochs_per_group=1,
                     progress=False, threads=1)
    assert model.n_forward == N_FORWARD and model.config.n_forward == N_FORWARD
    assert history["scored_bins"].tolist() == [5, 10, 14, 14]  # lengthening reaches them
    model.save(tmp_path / "sae.pt")
    back = dl.load_model(tmp_path / "sae.pt")
    assert back.config.n_forward == N_FORWARD
    np.testing.assert_array_equal(back.infer(forward_data, threads=1).rates,
                                  model.infer(forward_data, threads=1).rates)


@pytest.mark.parametrize("name", ["lfads", "ndt"])
def test_other_families_fit_and_round_trip_n_forward(tmp_path, forward_data, name):
    model = build(name, heldout_neurons=[4, 5])
    dl.fit(model, forward_data, max_epochs=2, progress=False, threads=1)
    model.save(tmp_path / "m.pt")
    assert dl.load_model(tmp_path / "m.pt").config.n_forward == N_FORWARD


def test_a_model_set_to_other_forward_bins_is_refused(forward_data):
    model = build("ndt", heldout_neurons=[4, 5], n_forward=2)
    with pytest.raises(DynlensError, match="^data: the model predicts 2 forward-prediction"):
        dl.fit(model, forward_data, max_epochs=1, progress=False)
    with pytest.raises(DynlensError, match="^data: the model predicts 2 forward-prediction"):
        model.infer(forward_data)
    assert model.infer(forward_data.spikes, threads=1).rates.shape == forward_data.spikes.shape


def test_a_family_without_forward_bins_refuses_them():
    class Plain(dl.models.Model):
        model_type = "plain"

        def __init__(self):
            super().__init__()
            self.config = type("Config", (), {"n_neurons": 6})()

    with pytest.raises(DynlensError, match="^data: a Plain cannot predict forward bins"):
        Plain().adopt_forward(3)
    Plain().adopt_forward(0)


# ---------------------------------------------------------------- evaluation
class _Fixed:
    """A 'model' whose inferred rates are given: evaluate scores exactly these arrays."""

    def __init__(self, rates: np.ndarray) -> None:
        self.rates = rates

    def infer(self, data, batch_size=512):
        return Inference(rates=self.rates, log_rates=np.log(self.rates))


def _bps_by_hand(spikes, rates) -> float:
    """Population bits per spike from scipy's Poisson log-likelihood; the null model is each
    neuron's mean count over the given bins."""
    spikes, rates = spikes.reshape(-1, spikes.shape[-1]), rates.reshape(-1, rates.shape[-1])
    null = np.broadcast_to(spikes.mean(axis=0), spikes.shape)
    gain = poisson.logpmf(spikes, rates).sum() - poisson.logpmf(spikes, null).sum()
    return gain / (np.log(2) * spikes.sum())


def test_evaluate_scores_bps_co_bps_and_fp_bps_over_their_own_bins(forward_data):
    """By hand, without nlb_tools: bps held in and co-bps held out over the 10 input bins,
    fp-bps over the 4 forward bins and all 6 neurons."""
    part = forward_data.split("test")
    rates = np.random.default_rng(0).uniform(0.3, 3.0, size=part.spikes.shape)
    row = dl.evaluate(_Fixed(rates), forward_data)
    spikes = part.spikes.astype(float)
    heldin, heldout = [0, 1, 2, 3], [4, 5]
    assert row["bps"] == pytest.approx(
        _bps_by_hand(spikes[:, :N_BINS, heldin], rates[:, :N_BINS, heldin]), rel=1e-10)
    assert row["co_bps"] == pytest.approx(
        _bps_by_hand(spikes[:, :N_BINS, heldout], rates[:, :N_BINS, heldout]), rel=1e-10)
    assert row["fp_bps"] == pytest.approx(
        _bps_by_hand(spikes[:, N_BINS:], rates[:, N_BINS:]), rel=1e-10)


def test_evaluate_reports_co_bps_and_fp_bps_exactly_as_nlb_computes_them(forward_data):
    nlb = pytest.importorskip("nlb_tools.evaluation")
    part = forward_data.split("test")
    rates = np.random.default_rng(0).uniform(0.3, 3.0, size=part.spikes.shape)
    row = dl.evaluate(_Fixed(rates), forward_data)
    spikes = part.spikes.astype(float)
    heldin, heldout = [0, 1, 2, 3], [4, 5]
    # NLB's arrays: eval_*_heldout over the input bins; *_forward held-in and held-out dstacked
    co = nlb.bits_per_spike(rates[:, :N_BINS][..., heldout], spikes[:, :N_BINS][..., heldout])
    fp = nlb.bits_per_spike(
        np.dstack([rates[:, N_BINS:][..., heldin], rates[:, N_BINS:][..., heldout]]),
        np.dstack([spikes[:, N_BINS:][..., heldin], spikes[:, N_BINS:][..., heldout]]))
    assert row["co_bps"] == pytest.approx(co, rel=1e-12, abs=1e-15)
    assert row["fp_bps"] == pytest.approx(fp, rel=1e-12, abs=1e-15)
    assert row["bps"] == pytest.approx(nlb.bits_per_spike(
        rates[:, :N_BINS][..., heldin], spikes[:, :N_BINS][..., heldin]), rel=1e-12)


def test_evaluate_reports_fp_bps_only_for_data_with_forward_bins(forward_data, heldout_data):
    model = build("ndt", heldout_neurons=[4, 5])
    row = dl.evaluate(model, forward_data, threads=1)
    spikes = forward_data.split("test").spikes
    rates = model.infer(forward_data.split("test"), threads=1).rates
    assert row["fp_bps"] == pytest.approx(
        _bps_by_hand(spikes[:, N_BINS:], rates[:, N_BINS:]), rel=1e-10)
    assert row["bps"] == pytest.approx(
        _bps_by_hand(spikes[:, :N_BINS, :4], rates[:, :N_BINS, :4]), rel=1e-10)
    plain = dl.evaluate(model, heldout_data, threads=1)  # 12 bins, none of them forward
    assert "fp_bps" not in plain
    spikes = heldout_data.split("test").spikes
    rates = model.infer(heldout_data.split("test"), threads=1).rates
    assert plain["bps"] == pytest.approx(_bps_by_hand(spikes[..., :4], rates[..., :4]),
                                         rel=1e-10)


@pytest.mark.parametrize("bad", [0, 14, -1])
def test_fp_bps_refuses_a_bad_number_of_forward_bins(forward_data, bad):
    rates = np.ones(forward_data.spikes.shape)
    with pytest.raises(DynlensError, match="^n_forward:"):
        dl.metrics.fp_bps(forward_data.spikes, rates, bad)

"""The fit loop: loss goes down, reproducibility, lengthening, checkpoints, resume, divergence."""

from __future__ import annotations

import importlib
import math
import re

import numpy as np
import pandas as pd
import pytest
import torch

from dynlens.data import NeuralDataset
from dynlens.errors import DynlensDivergenceError, DynlensTypeError, DynlensValueError
from dynlens.models import load_model
from dynlens.models.checkpoint import read_checkpoint
from dynlens.training import FitConfig, default_fit_config, fit, poisson_nll

# the package re-exports the function `fit` under the submodule's name
sae_module = importlib.import_module("dynlens.models.sae")  # where the SAE's loss is computed
COLUMNS = ["epoch", "train_loss", "valid_loss", "scored_bins", "lr", "seconds", "threads"]
QUIET = {"progress": False}


def _valid_loss(model, data) -> float:
    spikes = torch.as_tensor(data.split("valid").spikes, dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        return float(poisson_nll(model(spikes)["log_rates"], spikes))


def _assert_same_weights(a, b) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def _same_history(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    # everything but the wall-clock column, bit for bit
    return a.drop(columns="seconds").equals(b.drop(columns="seconds"))


# ---------------------------------------------------------------- learning


@pytest.mark.parametrize("dynamics, epochs", [("gru", 15), ("node", 8)])
def test_a_tiny_fit_lowers_the_validation_loss(make_sae, tiny_data, dynamics, epochs):
    model = make_sae(dynamics)
    before = _valid_loss(model, tiny_data)
    history = fit(model, tiny_data, max_epochs=epochs, bins_per_group=0, warmup_epochs=0,
                  min_delta=0.0, **QUIET)
    after = _valid_loss(model, tiny_data)
    assert after < before - 0.01
    assert history["valid_loss"].iloc[-1] < history["valid_loss"].iloc[0]
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    # the best weights are restored: the model's loss is the history's best
    assert after == pytest.approx(history["valid_loss"].min(), rel=1e-5)
    assert not model.training


def test_history_columns_and_lengthening_rule(make_sae, tiny_data):
    history = fit(make_sae("gru"), tiny_data, max_epochs=12, bins_per_group=5, epochs_per_group=2,
                  patience=50, **QUIET)
    assert list(history.columns) == COLUMNS
    assert history["epoch"].tolist() == list(range(12))
    # the loss covers min((epoch // epochs_per_group + 1) * bins_per_group, n_bins) bins
    assert history["scored_bins"].tolist() == [5, 5, 10, 10] + [12] * 8
    assert np.all(np.isfinite(history[["train_loss", "valid_loss", "lr"]].to_numpy()))
    assert np.all(history["seconds"] > 0)


def test_lengthening_is_shortened_for_short_runs(make_sae, tiny_data):
    """Full length after half of max_epochs would leave too few whole-trial epochs: the
    schedule then reaches full length by a quarter of max_epochs instead."""
    history = fit(make_sae("gru"), tiny_data, max_epochs=12, bins_per_group=4, epochs_per_group=5,
                  patience=50, **QUIET)
    # 3 groups x 5 epochs = 15 > 12 // 2, so epochs_per_group becomes (12 // 4) // 3 = 1
    assert history["scored_bins"].tolist() == [4, 8] + [12] * 10


def test_lengthening_off_scores_every_bin(make_sae, tiny_data):
    history = fit(make_sae("gru"), tiny_data, max_epochs=3, bins_per_group=0, **QUIET)
    assert history["scored_bins"].tolist() == [12, 12, 12]


def test_generator_only_runs_over_the_scored_bins(make_sae, tiny_data, monkeypatch):
    seen = []

    def spy(log_rates, spikes):
        seen.append((log_rates.shape[1], spikes.shape[1], torch.is_grad_enabled()))
        return poisson_nll(log_rates, spikes)

    monkeypatch.setattr(sae_module, "poisson_nll", spy)
    fit(make_sae("gru"), tiny_data, max_epochs=3, bins_per_group=4, epochs_per_group=1, **QUIET)
    assert [s[:2] for s in seen if s[2]] == [(4, 4), (8, 8), (12, 12)]  # training steps
    assert {s[:2] for s in seen if not s[2]} == {(12, 12)}  # validation: the whole trial


def test_history_lr_is_the_rate_each_epoch_trained_with(make_sae, tiny_data, monkeypatch):
    used = []
    real_step = torch.optim.AdamW.step

    def spy(self, *args, **kwargs):
        used.append(self.param_groups[0]["lr"])
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", spy)
    history = fit(make_sae("gru"), tiny_data, max_epochs=6, warmup_epochs=2, batch_size=64,
                  lr=1e-2, **QUIET)
    assert len(used) == 6  # one step per epoch: 15 training trials fit in one batch
    np.testing.assert_allclose(history["lr"].to_numpy(), used, rtol=1e-12)
    # the schedule by hand: linear warm-up (1/3, 2/3 of lr), then a cosine from lr down
    # towards lr * min_lr_ratio (0.02), reached at epoch max_epochs (after the last epoch)
    cosine = [0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * p)) for p in (0, 1 / 4, 2 / 4, 3 / 4)]
    np.testing.assert_allclose(used, 1e-2 * np.array([1 / 3, 2 / 3, *cosine]), rtol=1e-12)


def test_default_fit_config_per_generator(make_sae):
    assert default_fit_config(make_sae("node")).lr == 5e-3
    assert default_fit_config(make_sae("gru")).weight_decay == 1e-4
    custom = default_fit_config(make_sae("node"), lr=1e-3, max_epochs=5)
    assert (custom.lr, custom.max_epochs, custom.weight_decay) == (1e-3, 5, 1e-5)
    assert isinstance(custom, FitConfig)


# ---------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("dynamics", ["gru", "node"])
def test_same_seed_gives_bit_identical_results(make_sae, tiny_data, dynamics):
    settings = dict(max_epochs=4, bins_per_group=5, epochs_per_group=1, seed=3, **QUIET)
    a, b = make_sae(dynamics, dropout=0.3), make_sae(dynamics, dropout=0.3)
    history_a = fit(a, tiny_data, **settings)
    history_b = fit(b, tiny_data, **settings)
    assert _same_history(history_a, history_b)
    _assert_same_weights(a, b)


def test_different_seed_gives_different_results(make_sae, tiny_data):
    settings = dict(max_epochs=3, bins_per_group=0, **QUIET)
    a, b = make_sae("gru", dropout=0.3), make_sae("gru", dropout=0.3)
    history_a = fit(a, tiny_data, seed=0, **settings)
    history_b = fit(b, tiny_data, seed=1, **settings)
    assert not _same_history(history_a, history_b)
    assert not torch.equal(a.readout.weight, b.readout.weight)



def test_callback_sees_every_epoch_and_evaluating_in_it_changes_nothing(make_sae, tiny_data):
    from dynlens.analysis import evaluate

    settings = dict(max_epochs=4, bins_per_group=5, epochs_per_group=1, seed=3, **QUIET)
    calls = []

    def callback(epoch, model, row):
        calls.append((epoch, dict(row), model.training))
        evaluate(model, tiny_data, split="valid")  # switches to eval mode and back

    a, b = make_sae("node", dropout=0.3), make_sae("node", dropout=0.3)
    history_a = fit(a, tiny_data, callback=callback, **settings)
    history_b = fit(b, tiny_data, **settings)
    assert [c[0] for c in calls] == list(range(4))
    assert all(training for *_, training in calls)
    assert pd.DataFrame([c[1] for c in calls]).drop(columns="seconds").equals(
        history_a.drop(columns="seconds"))
    assert _same_history(history_a, history_b)
    _assert_same_weights(a, b)


# ---------------------------------------------------------------- checkpoints and resume


def test_checkpoint_dir_writes_loadable_best_and_last(make_sae, tiny_data, tmp_path):
    model = make_sae("node")
    history = fit(model, tiny_data, max_epochs=4, bins_per_group=0, checkpoint_dir=tmp_path,
                  **QUIET)
    assert (tmp_path / "best.pt").is_file() and (tmp_path / "last.pt").is_file()
    best = load_model(tmp_path / "best.pt")
    _assert_same_weights(best, model)  # fit restored the best weights, which best.pt holds
    last = read_checkpoint(tmp_path / "last.pt")
    assert last["epoch"] == 3
    assert last["best_epoch"] == int(history["valid_loss"].idxmin())


class _Interrupt(Exception):
    pass


def test_resume_after_an_interruption_is_bit_identical(make_sae, tiny_data, tmp_path, monkeypatch):
    # last.pt is written every 10 epochs: interrupt in epoch 12, resume from epoch 10
    settings = dict(max_epochs=14, bins_per_group=5, epochs_per_group=3, batch_size=8, seed=2,
                    **QUIET)
    reference = make_sae("gru", dropout=0.2)
    reference_history = fit(reference, tiny_data, checkpoint_dir=tmp_path / "ref", **settings)

    calls = {"train": 0}

    def interrupting(log_rates, spikes):
        if torch.is_grad_enabled():
            calls["train"] += 1
            if calls["train"] > 12 * 2:  # 15 train trials / batch 8 = 2 steps per epoch
                raise _Interrupt
        return poisson_nll(log_rates, spikes)

    with monkeypatch.context() as patch:
        patch.setattr(sae_module, "poisson_nll", interrupting)
        with pytest.raises(_Interrupt):
            fit(make_sae("gru", dropout=0.2), tiny_data, checkpoint_dir=tmp_path / "run",
                **settings)
    assert read_checkpoint(tmp_path / "run" / "last.pt")["epoch"] == 9

    resumed = make_sae("gru", dropout=0.2, init_seed=99)  # its own init is overwritten
    resumed_history = fit(resumed, tiny_data, checkpoint_dir=tmp_path / "run", **settings)
    assert _same_history(resumed_history, reference_history)
    _assert_same_weights(resumed, reference)


def test_resume_false_starts_over(make_sae, tiny_data, tmp_path):
    settings = dict(max_epochs=3, bins_per_group=0, checkpoint_dir=tmp_path, **QUIET)
    fit(make_sae("gru"), tiny_data, **settings)
    again = make_sae("gru")
    history = fit(again, tiny_data, resume=False, **settings)
    fresh = make_sae("gru")
    fresh_history = fit(fresh, tiny_data, max_epochs=3, bins_per_group=0, **QUIET)
    assert _same_history(history, fresh_history)
    _assert_same_weights(again, fresh)


def test_refitting_a_finished_early_stopped_run_trains_no_further(make_sae, tiny_data, tmp_path):
    # min_delta=0.9 asks for a 90 % better loss: the run stops one epoch after the first
    settings = dict(max_epochs=20, bins_per_group=0, patience=1, min_delta=0.9,
                    checkpoint_dir=tmp_path, **QUIET)
    first = make_sae("gru")
    first_history = fit(first, tiny_data, **settings)
    assert len(first_history) == 2  # stopped early, well before max_epochs
    second = make_sae("gru")
    second_history = fit(second, tiny_data, **settings)  # e.g. a script run twice
    assert _same_history(second_history, first_history)
    _assert_same_weights(second, first)


# ---------------------------------------------------------------- bad input and divergence


def test_model_and_data_must_agree_on_neurons(make_sae, tiny_data, heldout_data):
    with pytest.raises(DynlensValueError, match=r"^data:.*5.*6"):
        fit(make_sae("gru", n_neurons=5), tiny_data, max_epochs=1, **QUIET)
    with pytest.raises(DynlensValueError, match=r"^data:.*held"):
        fit(make_sae("gru"), heldout_data, max_epochs=1, **QUIET)
    with pytest.raises(DynlensValueError, match=r"^data:.*held"):
        fit(make_sae("gru", heldout_neurons=[0]), tiny_data, max_epochs=1, **QUIET)
    # matching held-out sets train fine
    fit(make_sae("gru", heldout_neurons=[4, 5]), heldout_data, max_epochs=1, **QUIET)


def test_fit_rejects_unknown_keywords_and_bad_values(make_sae, tiny_data):
    model = make_sae("gru")
    with pytest.raises(DynlensTypeError, match="max_epoch"):
        fit(model, tiny_data, max_epoch=3, **QUIET)
    with pytest.raises(DynlensValueError, match=r"^max_epochs:"):
        fit(model, tiny_data, max_epochs=0, **QUIET)
    with pytest.raises(DynlensValueError, match=r"^lr:"):
        fit(model, tiny_data, lr=-1.0, **QUIET)
    with pytest.raises(DynlensValueError, match=r"^seed:"):
        fit(model, tiny_data, seed=-1, **QUIET)
    with pytest.raises(DynlensTypeError, match=r"^data:"):
        fit(model, tiny_data.spikes, **QUIET)


def test_fit_needs_train_and_valid_splits(make_sae, tiny_data):
    no_valid = NeuralDataset.from_arrays(tiny_data.spikes, splits={"train": np.arange(20),
                                                                   "test": np.arange(20, 24)})
    with pytest.raises(DynlensValueError, match="valid"):
        fit(make_sae("gru"), no_valid, max_epochs=1, **QUIET)


def _nan_after(n_train_calls: int, *, in_validation: bool = False):
    calls = {"train": 0}

    def loss(log_rates, spikes):
        value = poisson_nll(log_rates, spikes)
        if torch.is_grad_enabled():
            calls["train"] += 1
            if not in_validation and calls["train"] > n_train_calls:
                return value * math.nan
        elif in_validation and calls["train"] > n_train_calls:
            return value * math.nan
        return value

    return loss


@pytest.mark.parametrize("in_validation", [False, True])
def test_divergence_raises_and_restores_the_best_weights(make_sae, tiny_data, tmp_path,
                                                         monkeypatch, in_validation):
    # constant lr: the first 3 epochs do not depend on max_epochs
    settings = dict(bins_per_group=0, warmup_epochs=0, min_lr_ratio=1.0, batch_size=64,
                    lr=0.05, **QUIET)
    clean = make_sae("gru")
    clean_history = fit(clean, tiny_data, max_epochs=3, **settings)

    diverging = make_sae("gru")
    monkeypatch.setattr(sae_module, "poisson_nll", _nan_after(3, in_validation=in_validation))
    with pytest.raises(DynlensDivergenceError, match=r"^fit:.*NaN.*epoch 3") as info:
        fit(diverging, tiny_data, max_epochs=10, checkpoint_dir=tmp_path, **settings)
    best_epoch = int(clean_history["valid_loss"].idxmin())
    assert f"epoch {best_epoch}" in str(info.value)
    _assert_same_weights(diverging, clean)
    _assert_same_weights(load_model(tmp_path / "best.pt"), clean)


def test_progress_bar_only_when_asked(make_sae, tiny_data, capfd):
    fit(make_sae("gru"), tiny_data, max_epochs=2, progress=False)
    assert capfd.readouterr().err == ""
    fit(make_sae("gru"), tiny_data, max_epochs=2, progress=True)
    assert "valid=" in capfd.readouterr().err


def test_help_of_fit_shows_every_setting():
    import dataclasses
    import inspect
    import pydoc

    import dynlens as dl
    from dynlens.training.fit import FitConfig

    params = inspect.signature(dl.fit).parameters
    text = pydoc.render_doc(dl.fit, renderer=pydoc.plaintext)
    for f in dataclasses.fields(FitConfig):
        # None: not given (the model's own, else FitConfig's: the defaults live there alone)
        assert params[f.name].default is None and params[f.name].kind.name == "KEYWORD_ONLY"
        # a Parameters entry ("name : type" or "a, name : type") describes it
        assert re.search(rf"^ +(\w+, )*{f.name}(, \w+)* : ", dl.fit.__doc__, re.MULTILINE), f.name
        assert f"{f.name}: " in text, f.name  # help(dl.fit)'s signature line
    assert "**settings" not in str(inspect.signature(dl.fit))

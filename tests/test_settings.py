"""Settings one way: option groups are frozen dataclasses, taken as objects or as flat keywords
(or both), with their defaults in the dataclass alone; a setting given both ways with
different values is refused, naming it."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest
import torch

import dynlens as dl
from dynlens.analysis import SolverOptions, Tolerances
from dynlens.errors import DynlensTypeError, DynlensValueError
from dynlens.training import FitConfig, default_fit_config
from dynlens.utils import changed_fields, merge_settings

GROUPS = [FitConfig, SolverOptions, Tolerances]


@pytest.fixture(scope="module")
def data():
    return dl.simulate("arneodo", n_neurons=6, n_trials=16, n_bins=10, seed=0)


def _sae(generator="node"):
    torch.manual_seed(0)
    return dl.models.SAE(n_neurons=6, latent_dim=2, generator=generator, encoder_size=4,
                         **({"hidden_size": 8} if generator == "node" else {}))


@pytest.mark.parametrize("group", GROUPS)
def test_option_groups_are_frozen_with_defaults_for_every_field(group):
    options = group()
    assert dataclasses.is_dataclass(group) and group.__dataclass_params__.frozen
    field = dataclasses.fields(group)[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(options, field.name, getattr(options, field.name))
    assert changed_fields(options) == set()


def test_fit_takes_a_config_object_or_flat_keywords_bit_for_bit(data):
    flat = _sae()
    history_flat = dl.fit(flat, data, max_epochs=2, lr=2e-3, batch_size=8, progress=False,
                          threads=1)
    grouped = _sae()
    history_grouped = dl.fit(grouped, data, config=FitConfig(max_epochs=2, lr=2e-3,
                                                             batch_size=8),
                             progress=False, threads=1)
    both = _sae()  # the same value both ways is one setting
    history_both = dl.fit(both, data, config=FitConfig(max_epochs=2, lr=2e-3), lr=2e-3,
                          batch_size=8, progress=False, threads=1)
    columns = ["train_loss", "valid_loss", "lr", "scored_bins"]
    for history, model in [(history_grouped, grouped), (history_both, both)]:
        assert history[columns].equals(history_flat[columns])
        for (name, a), b in zip(flat.state_dict().items(), model.state_dict().values()):
            assert torch.equal(a, b), name


def test_fit_refuses_a_setting_given_both_ways_with_different_values(data):
    model = _sae()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(DynlensValueError, match=r"^lr: .*lr=0\.02.*config\.lr=0\.01"):
        dl.fit(model, data, config=FitConfig(lr=0.01), lr=0.02, progress=False, threads=1)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # untouched
    with pytest.raises(DynlensTypeError, match=r"^config: expected a FitConfig"):
        dl.fit(model, data, config={"lr": 0.01}, progress=False, threads=1)


def test_default_fit_config_precedence():
    lfads = dl.models.LFADS(n_neurons=4, gen_dim=8, ic_dim=2, n_factors=2, co_dim=0)
    own = lfads.fit_defaults()
    # not given: the model's own; the rest FitConfig's
    resolved = default_fit_config(lfads)
    assert resolved == dataclasses.replace(FitConfig(), **own)
    # a config field left at FitConfig's default is not given: the model's own still applies
    assert default_fit_config(lfads, FitConfig(max_epochs=7)) == dataclasses.replace(
        FitConfig(), max_epochs=7, **own)
    # changed fields and flat keywords beat the model's, flat None is not given
    chosen = default_fit_config(lfads, FitConfig(batch_size=16), lr=1e-3, weight_decay=None)
    assert (chosen.batch_size, chosen.lr, chosen.weight_decay) == (16, 1e-3,
                                                                   own["weight_decay"])
    with pytest.raises(DynlensTypeError, match=r"^fit: unexpected keyword\(s\) \['colour'\]"):
        default_fit_config(lfads, colour=1)


def test_fit_signature_shows_settings_as_not_given():
    params = inspect.signature(dl.fit).parameters
    assert params["config"].default is None
    assert all(params[f.name].default is None for f in dataclasses.fields(FitConfig))


@pytest.mark.parametrize("group, keyword, field, value", [
    (FitConfig, "batch_size", "batch_size", 0),
    (SolverOptions, "patience", "patience", 0),
    (Tolerances, "tol_q", "q", -1.0),
])
def test_merge_settings_validates_through_the_group(group, keyword, field, value):
    with pytest.raises(DynlensValueError, match=rf"^{field}:"):
        merge_settings(group, None, {keyword: value}, "options",
                       names={keyword: field})


def test_find_fixed_points_same_value_both_ways_is_one_setting():
    lorenz = dl.systems.get("lorenz")
    states = lorenz.trajectory(100)
    kwargs = {"n_inits": 16, "progress": False, "seed": 0}
    both = dl.find_fixed_points(lorenz, states, tol_q=1e-10, max_iter=30,
                                tolerances=Tolerances(q=1e-10),
                                solver=SolverOptions(max_iter=30), **kwargs)
    flat = dl.find_fixed_points(lorenz, states, tol_q=1e-10, max_iter=30, **kwargs)
    np.testing.assert_array_equal(both.xstar, flat.xstar)
    assert both.info["tol_q"] == flat.info["tol_q"] == 1e-10
    with pytest.raises(DynlensValueError, match=r"^max_iter: .*solver\.max_iter=30"):
        dl.find_fixed_points(lorenz, states, max_iter=20, solver=SolverOptions(max_iter=30),
                             **kwargs)


def test_sweep_fit_options_refuse_a_config_object():
    with pytest.raises(DynlensTypeError, match=r"unexpected keyword\(s\) \['config'\]"):
        dl.Sweep(systems=["arneodo"], models=["gru"], latent_dims=[2], seeds=[0],
                 fit={"config": FitConfig()})

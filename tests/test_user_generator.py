"""A generator of the user's own inside the SAE: by name and as an object, trained, saved,
loaded in a fresh process (only once its module is imported) and run in a sweep."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import dynlens as dl
from dynlens.errors import DynlensNotRegisteredError, DynlensTypeError, DynlensValueError
from dynlens.models import generator_registry

USER_MODULE = '''
import torch
from torch import nn

import dynlens as dl


class LowRankRNN(dl.Dynamics):
    """x <- x + 0.1 (-x + m n^T tanh(x) + b): a rank-``rank`` RNN (Mastrogiuseppe & Ostojic)."""

    def __init__(self, dim, rank=1):
        super().__init__(dim=dim, kind="discrete")
        self.m = nn.Parameter(torch.randn(dim, rank) / dim ** 0.5)
        self.n = nn.Parameter(torch.randn(dim, rank) / dim ** 0.5)
        self.b = nn.Parameter(torch.zeros(dim))

    def forward(self, x, u=None):
        return x + 0.1 * (-x + torch.tanh(x) @ self.n @ self.m.T + self.b)


class Leaky(dl.Dynamics):
    """x <- a x: never registered, rebuilt from its class's module:qualname."""

    def __init__(self, dim):
        super().__init__(dim=dim, kind="discrete")
        self.a = nn.Parameter(torch.full((dim,), 0.9))

    def forward(self, x, u=None):
        return self.a * x


dl.models.register_generator("lowrank", LowRankRNN, fit_defaults={"lr": 5e-3})
'''

FIT = {"max_epochs": 2, "batch_size": 8, "bins_per_group": 0, "seed": 0, "threads": 1,
       "progress": False}


@pytest.fixture
def user(tmp_path, monkeypatch):
    """The user's module, imported from a folder on sys.path, with the registry restored after."""
    (tmp_path / "user_lowrank.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(generator_registry, "_GENERATORS", dict(generator_registry._GENERATORS))
    monkeypatch.delitem(sys.modules, "user_lowrank", raising=False)
    return __import__("user_lowrank")


def _fresh_process(folder, script: str) -> dict:
    """Run ``script`` in a new Python (the user's folder on its path); its JSON on stdout."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), *sys.path]),
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_trains_by_name_saves_and_loads_in_a_fresh_process(user, tiny_data, tmp_path):
    assert "lowrank" in dl.models.available_generators()
    torch.manual_seed(0)
    model = dl.models.SAE(n_neurons=tiny_data.n_neurons, latent_dim=3, generator="lowrank")
    assert isinstance(model.dynamics, user.LowRankRNN) and model.label == "LOWRANK-3"
    assert model.config.generator_source == "user_lowrank:LowRankRNN"
    before = model.dynamics.m.detach().clone()
    history = dl.fit(model, tiny_data, **FIT)
    assert len(history) == 2 and np.isfinite(history["train_loss"]).all()
    assert history["lr"].max() <= 5e-3  # the generator's registered fit defaults
    assert not torch.equal(model.dynamics.m, before)  # the generator's own weights trained
    model.save(tmp_path / "lowrank.pt")
    rates = model.infer(tiny_data.spikes[:3]).rates
    np.save(tmp_path / "spikes.npy", tiny_data.spikes[:3])
    out = _fresh_process(tmp_path, f"""
        import json, numpy as np, dynlens as dl
        path = {str(tmp_path / "lowrank.pt")!r}
        try:
            dl.load_model(path)
        except dl.DynlensError as err:
            error = [type(err).__name__, str(err)]
        import user_lowrank  # registers "lowrank"
        model = dl.load_model(path)
        rates = model.infer(np.load({str(tmp_path / "spikes.npy")!r})).rates
        print(json.dumps({{"error": error, "rates": rates.tolist(),
                          "type": type(model.dynamics).__name__}}))
    """)
    kind, message = out["error"]
    assert kind == "DynlensNotRegisteredError" and "\n" not in message
    assert "'lowrank'" in message and "import the module 'user_lowrank'" in message
    assert out["type"] == "LowRankRNN"
    np.testing.assert_array_equal(np.asarray(out["rates"], dtype=rates.dtype), rates)


def test_an_instance_is_the_generator_and_checkpoints_rebuild_it(user, tiny_data, tmp_path):
    torch.manual_seed(1)
    mine = user.LowRankRNN(3)
    model = dl.models.SAE(n_neurons=tiny_data.n_neurons, latent_dim=3, generator=mine)
    assert model.dynamics is mine and model.config.generator == "lowrank"  # its class's name
    dl.fit(model, tiny_data, **FIT)
    model.save(tmp_path / "mine.pt")
    clone = dl.load_model(tmp_path / "mine.pt")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                 clone.state_dict().values()))
    # an unregistered class: recorded by module:qualname, rebuilt once its module is imported
    leaky = dl.models.SAE(n_neurons=tiny_data.n_neurons, latent_dim=3, generator=user.Leaky(3))
    assert leaky.config.generator == "user_lowrank:Leaky" and leaky.label == "LEAKY-3"
    assert leaky.fit_defaults() == {}
    leaky.save(tmp_path / "leaky.pt")
    assert isinstance(dl.load_model(tmp_path / "leaky.pt").dynamics, user.Leaky)
    sys.modules.pop("user_lowrank")
    with pytest.raises(DynlensNotRegisteredError, match="import 'user_lowrank'"):
        dl.load_model(tmp_path / "leaky.pt")


def test_a_generator_that_cannot_serve_is_refused_up_front(user):
    with pytest.raises(DynlensValueError, match=r"latent_dim=3, found dim=2"):
        dl.models.SAE(n_neurons=4, latent_dim=3, generator=user.LowRankRNN(2))
    # a rank-2 instance: the registered factory (rank 1) would not rebuild its parameters
    with pytest.raises(DynlensValueError, match="would rebuild this LowRankRNN"):
        dl.models.SAE(n_neurons=4, latent_dim=3, generator=user.LowRankRNN(3, rank=2))
    with pytest.raises(DynlensValueError, match="capacity is tied to its latent size"):
        dl.models.SAE(n_neurons=4, latent_dim=3, generator="lowrank", hidden_size=8)
    with pytest.raises(DynlensTypeError, match="expected a Dynamics nn.Module"):
        dl.models.SAE(n_neurons=4, latent_dim=3, generator=torch.tanh)
    with pytest.raises(DynlensValueError, match="did you mean 'lowrank'"):
        dl.models.SAE(n_neurons=4, latent_dim=3, generator="lowrnak")
    dl.models.register_generator("lowrank_w", lambda latent_dim, hidden_size=2:
                                 user.LowRankRNN(latent_dim, rank=hidden_size))
    model = dl.models.SAE(n_neurons=4, latent_dim=3, generator="lowrank_w", hidden_size=5)
    assert model.dynamics.m.shape == (3, 5)  # a factory that takes hidden_size is given it
    assert dl.models.SAE(n_neurons=4, latent_dim=3, generator="lowrank_w").dynamics.m.shape \
        == (3, 2)  # unset: the factory's own default


def test_runs_in_a_sweep_by_name(user, tmp_path):
    sweep = dl.Sweep(systems=["arneodo"], models=["lowrank"], latent_dims=[3], seeds=[0],
                     data={"n_neurons": 6, "n_trials": 20, "n_bins": 10},
                     fit={"max_epochs": 1, "batch_size": 8}, analysis={"fixed_points": False})
    spec = sweep.model_specs[0]
    assert (spec.family, spec.options, spec.module) == ("sae", {"generator": "lowrank"},
                                                        "user_lowrank")
    table = sweep.run(tmp_path / "out", threads=1, progress=False)  # a worker process
    assert table[["run_id", "status"]].values.tolist() == [["arneodo-lowrank-d3-s0", "done"]]
    assert 'module = "user_lowrank"' in (tmp_path / "out" / "sweep.toml").read_text()

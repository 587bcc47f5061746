"""The model contract: a family defined here, outside the package, trains, saves, loads and
evaluates through the public functions alone."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import dynlens as dl
from dynlens.errors import (
    DynlensError,
    DynlensNoDynamicsError,
    DynlensTypeError,
    DynlensValueError,
)
from dynlens.models import base


@dataclass
class ToyConfig:
    n_neurons: int
    latent_dim: int = 2
    l2: float = 1e-2
    heldout_neurons: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


class ToyFactorModel(dl.models.Model):
    """Per-bin linear factors of the held-in spikes -> log-rates; an L2 penalty ramped in."""

    model_type = "toy_factors"

    def __init__(self, n_neurons: int, latent_dim: int = 2, l2: float = 1e-2,
                 heldout_neurons: list[int] | None = None) -> None:
        super().__init__()
        self.config = ToyConfig(n_neurons, latent_dim, l2, list(heldout_neurons or []))
        held = set(self.config.heldout_neurons)
        self.heldin = [i for i in range(n_neurons) if i not in held]
        self.encode = nn.Linear(len(self.heldin), latent_dim)
        self.readout = nn.Linear(latent_dim, n_neurons)

    def forward(self, spikes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        latents = self.encode(torch.log1p(spikes[..., self.heldin]))
        return latents, self.readout(latents)

    def loss(self, batch, *, n_bins=None, epoch=0):
        _, log_rates = self(batch)
        n_bins = batch.shape[1] if n_bins is None else n_bins
        nll = dl.models.poisson_nll(log_rates[:, :n_bins], batch[:, :n_bins])
        ramp = min(1.0, epoch / 3)
        l2 = self.readout.weight.pow(2).sum()
        return dl.models.LossTerms(nll + ramp * self.config.l2 * l2,
                                   {"nll": nll.item(), "l2": l2.item(), "l2_weight": ramp})

    @torch.no_grad()
    def infer(self, data, batch_size=512, threads="auto"):
        spikes = torch.as_tensor(np.asarray(getattr(data, "spikes", data)), dtype=torch.float32)
        self.eval()
        latents, log_rates = self(spikes)
        return dl.Inference(rates=log_rates.exp().numpy(), log_rates=log_rates.numpy(),
                            latents=latents.numpy())

    def fit_defaults(self):
        return {"lr": 2e-2, "bins_per_group": 0}


@pytest.fixture
def toy_registered(monkeypatch):
    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))  # undone after the test
    dl.models.register(ToyFactorModel)
    return ToyFactorModel


def test_a_family_defined_outside_the_package_goes_through_every_public_function(
        toy_registered, tiny_data, tmp_path):
    assert "toy_factors" in dl.models.available()
    torch.manual_seed(0)
    model = dl.models.build("toy_factors", n_neurons=tiny_data.n_neurons, latent_dim=2)
    assert dl.training.default_fit_config(model).lr == 2e-2  # the model's own default
    history = dl.fit(model, tiny_data, max_epochs=40, progress=False, threads=1)
    assert {"train_nll", "train_l2", "train_l2_weight"} <= set(history.columns)
    assert history["train_l2_weight"].tolist()[:4] == pytest.approx([0, 1 / 3, 2 / 3, 1])
    assert history["valid_loss"].iloc[-1] < history["valid_loss"].iloc[0]
    assert (history["scored_bins"] == tiny_data.n_bins).all()  # its fit_defaults turned
    # lengthening off

    model.save(tmp_path / "toy.pt")
    loaded = dl.load_model(tmp_path / "toy.pt")
    assert type(loaded) is ToyFactorModel and loaded.config == model.config
    np.testing.assert_array_equal(loaded.infer(tiny_data).rates, model.infer(tiny_data).rates)

    row = dl.evaluate(loaded, tiny_data, split="test")
    assert {"rate_r2", "state_r2", "decode_r2", "bps"} <= set(row)
    assert np.isfinite(row["bps"])


def test_a_model_without_a_generator_says_why_when_asked_for_its_dynamics(toy_registered):
    model = ToyFactorModel(n_neurons=4)
    with pytest.raises(DynlensNoDynamicsError, match="model.dynamics: a ToyFactorModel model "
                                                     "has no generator"):
        model.dynamics  # noqa: B018 - the attribute access is the test
    assert isinstance(DynlensNoDynamicsError("x"), DynlensError)
    assert not hasattr(model, "dynamics")
    assert hasattr(dl.models.SAE(n_neurons=4), "dynamics")


def test_an_unregistered_family_cannot_be_saved_and_a_file_of_one_names_the_registry(
        tiny_data, tmp_path, monkeypatch):
    with pytest.raises(DynlensError, match="expected a registered dynlens model"):
        dl.models.save_model(ToyFactorModel(n_neurons=4), tmp_path / "x.pt")
    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))
    dl.models.register(ToyFactorModel)
    ToyFactorModel(n_neurons=4).save(tmp_path / "toy.pt")
    monkeypatch.setattr(base, "_REGISTRY", {k: v for k, v in base._REGISTRY.items()
                                            if k != "toy_factors"})
    with pytest.raises(DynlensError, match="register a model family"):
        dl.load_model(tmp_path / "toy.pt")


def test_register_refuses_what_is_not_a_model_family():
    with pytest.raises(DynlensError, match="expected a subclass of dynlens.models.Model"):
        dl.models.register(nn.Linear)

    class Nameless(dl.models.Model):
        pass

    with pytest.raises(DynlensError, match="non-empty string model_type"):
        dl.models.register(Nameless)


def test_build_names_the_close_family(toy_registered):
    with pytest.raises(DynlensError, match="did you mean 'sae'"):
        dl.models.build("saee", n_neurons=3)


def test_sae_dynamics_keyword_still_works_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="use SAE\\(generator=...\\)"):
        model = dl.models.SAE(n_neurons=4, latent_dim=2, dynamics="gru")
    assert model.config.generator == "gru"


def test_an_old_checkpoint_naming_the_generator_dynamics_loads(tmp_path):
    import json

    model = dl.models.SAE(n_neurons=4, latent_dim=2, generator="gru")
    config = model.config.to_dict()
    config["dynamics"] = config.pop("generator")
    dl.models.checkpoint.write_checkpoint(tmp_path / "old.pt", {
        "format": "dynlens-checkpoint", "version": 1, "model_type": "sae",
        "config": json.dumps(config), "state_dict": model.state_dict()})
    assert dl.load_model(tmp_path / "old.pt").config.generator == "gru"


# -- the one gate ---------------------------------------------------------------------------


def test_check_model_names_everything_a_torch_module_lacks_in_one_error(tiny_data, tmp_path):
    with pytest.raises(DynlensTypeError) as info:
        dl.models.check_model(nn.Linear(2, 2))
    message = str(info.value)
    assert "\n" not in message and message.startswith("model: a Linear is not a dynlens model")
    lacked = message.split("it lacks ")[1].split(", ")
    assert lacked == [m for m in dl.models.CONTRACT if m != "dynamics"]
    # fit, checkpoints and evaluate go through the same gate
    for call in (lambda: dl.fit(nn.Linear(2, 2), tiny_data, progress=False),
                 lambda: dl.models.save_model(nn.Linear(2, 2), tmp_path / "x.pt")):
        with pytest.raises(DynlensTypeError,
                           match="not a dynlens model .*it lacks model_type, config"):
            call()
    with pytest.raises(DynlensTypeError, match="it lacks infer$"):
        dl.evaluate(object(), tiny_data)
    assert not (tmp_path / "x.pt").exists()


def test_check_model_names_members_that_are_wrong_or_not_implemented():
    class Half(dl.models.Model):  # no config, no loss, no infer; a label that is no string
        model_type = ""
        label = 3

    with pytest.raises(DynlensTypeError) as info:
        dl.models.check_model(Half())
    lacked = str(info.value).split("it lacks ")[1]
    for part in ("model_type (a non-empty str, found '')", "config, ", "n_neurons, ",
                 "loss (not implemented)", "infer (not implemented", "label (a str, found 3)"):
        assert part in lacked
    for model in (dl.models.SAE(n_neurons=4), dl.models.build("lfads", n_neurons=4),
                  dl.models.build("ndt", n_neurons=4), ToyFactorModel(n_neurons=4)):
        assert dl.models.check_model(model) is model
    with pytest.raises(DynlensValueError, match=r"needs: expected members of CONTRACT"):
        dl.models.check_model(ToyFactorModel(n_neurons=4), needs=["infer", "speed"])


class BatchStepModel(dl.models.Model):
    """One learned log-rate per neuron and bin offset; it supplies only its batch step."""

    model_type = "batch_step"

    def __init__(self, n_neurons: int, heldout_neurons: list[int] | None = None) -> None:
        super().__init__()
        self.config = ToyConfig(n_neurons, heldout_neurons=list(heldout_neurons or []))
        self.weight = nn.Parameter(torch.linspace(-1.0, 1.0, n_neurons))

    def loss(self, batch, *, n_bins=None, epoch=0):
        return dl.models.LossTerms(dl.models.poisson_nll(self.weight.expand_as(batch), batch))

    def infer_batch(self, spikes, *, n_forward, inputs=None):
        seen = self.input_spikes(spikes, n_forward)  # held-in neurons of the input bins
        log_rates = self.weight.expand_as(spikes) + 0 * seen.sum()
        return {"log_rates": log_rates, "latents": seen.cumsum(1), "mean_count": spikes.mean(1)}


def test_infer_wiring_lives_in_the_base_class_and_neuron_indices_need_no_call(tiny_data):
    model = BatchStepModel(n_neurons=6, heldout_neurons=[5])  # never registers its indices
    assert model.heldin_index.tolist() == [0, 1, 2, 3, 4] and model.heldout_index.tolist() == [5]
    model.train()
    out = model.infer(tiny_data, batch_size=7, threads=1)  # batches of 7 of the 24 trials
    spikes = tiny_data.spikes.astype(np.float32)
    np.testing.assert_array_equal(out.log_rates[3, 2], model.weight.detach().numpy())
    np.testing.assert_array_equal(out.rates, np.exp(out.log_rates))
    np.testing.assert_array_equal(out.latents, np.cumsum(spikes[..., :5], axis=1))
    np.testing.assert_array_equal(out.extras["mean_count"], spikes.mean(1))
    assert model.training  # its mode restored
    with pytest.raises(DynlensValueError, match=r"data: expected spike counts of shape"):
        model.infer(np.zeros((2, 3, 4)))


def test_the_design_documents_contract_table_is_the_contract():
    text = (Path(__file__).parents[1] / "docs" / "design.md").read_text()
    table = text.split("## The model contract")[1].split("| member | meaning |\n|---|---|\n")[1]
    rows = table.split("\n\n")[0].splitlines()
    members = [re.match(r"\| `(\w+)` \|", row).group(1) for row in rows]
    assert members == list(dl.models.CONTRACT)
